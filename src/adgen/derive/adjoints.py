"""Adjoints of single trace steps, for `adgen.reverse.Reverse` (a mixin).

Each step's adjoint comes from its rule's template (`rule_contributions`), or is data
movement: a copy passes its adjoint on, a subscript read scatters into the container's adjoint
(`add_at`, in place when the sweep owns that adjoint), a write `a[i] = v` hands `a_bar[i]` to `v`
and zeroes it, `xs.append(v)` hands the last item of `xs_bar` to `v`. A contribution creates an
adjoint (`v_bar = c`) or accumulates into it (`v_bar = v_bar + c`, item by item for lists).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gast

from adgen import runtime, runtime_fields
from adgen.codegen import astutil, simplify
from adgen.codegen.astutil import clone
from adgen.derive import mask_guards, shapes
from adgen.derive.analysis import call_parts, data_reads, differentiable, field_read
from adgen.derive.shapes import Fact
from adgen.derive.specialise import Helpers, shaped_zeros, summed_to
from adgen.derive.templates import TemplateError, bind_call, fill, signature
from adgen.frontend.lower import assign, const, name
from adgen.frontend.parse import template_ast


class StepAdjoints:
    """The adjoint statements of one trace step (needs `ctx`, `namer`, `state`, `owned`,
    `containers`, `own_requests`, `scattered`, `masks` and `bar` from `Reverse`)."""

    def contribute(self, var: str, expr: gast.AST, line: Any, numpy: bool = False) -> gast.AST:
        """`var_bar = expr`, or `expr` added into `var_bar` (`numpy`: `expr` is known to be
        a NumPy value, as the facts would show of the names it reads)."""
        bar = self.bar(var)
        if var in self.state:
            if var in self.owned and self.ctx.array(name(var)) is not None and (
                    numpy or self._numpy(expr)):
                node = gast.AugAssign(target=name(bar, gast.Store()), op=gast.Add(), value=expr)
                node.adgen_line = line  # an array this sweep made: added to in place
                return node
            if var in self.ctx.numeric or self.ctx.array(name(var)) is not None:
                expr = gast.BinOp(left=name(bar), op=gast.Add(), right=expr)
            else:  # the value may be a list, tuple or dict: add item by item
                expr = self.ctx.call("add_adjoints", runtime.add_adjoints, [name(bar), expr])
            self.owned.add(var)
        else:
            self.state.add(var)
            if self._fresh(expr):
                self.owned.add(var)
            else:
                self.owned.discard(var)
            if isinstance(expr, (gast.Tuple, gast.List)):
                self.displayed.add(var)  # (a tuple's adjoint: indexed without `item`)
            else:
                self.displayed.discard(var)
        return assign(bar, expr, line)

    def _numpy(self, expr: gast.AST) -> bool:
        """Whether every value `expr` reads is a NumPy array or number by the variant's facts
        (a primal with a fact, or its adjoint): then `+=` into a NumPy adjoint keeps the
        meaning of `+` (another array library's value is not added into a NumPy array)."""
        facts = self.ctx.facts

        def known(n: str) -> bool:
            if n in facts or n in self.ctx.bindings.names:
                return True
            base = n[:n.rfind("_bar")] if "_bar" in n else None
            return base in facts and self.namer.is_derived(n, base, "bar")

        return all(known(n.id) for n in astutil.walk(expr) if isinstance(n, gast.Name))

    def _fresh(self, expr: gast.AST) -> bool:
        """Whether `expr` certainly builds a new container (so it may be updated in place)."""
        if not (isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name)):
            return False
        fn = self.ctx.bindings.names.get(expr.func.id)
        return any(fn is f for f in (runtime.fill_like, runtime.zeros_like, runtime.add_at,
                                      runtime_fields.add_field))

    def own(self, var: str, copy: Any = runtime.owned_copy) -> list[gast.AST]:
        """Make `var`'s adjoint safe to update in place (copy it once if it may be shared)."""
        if var in self.owned:
            return []
        self.own_requests.add(var)
        self.owned.add(var)
        bar = self.bar(var)
        return [assign(bar, self.ctx.call(copy.__name__, copy, [name(bar)]), None)]

    def reverse_append(self, s: gast.Expr) -> list[gast.AST]:
        """`xs.append(v)`: `v` takes the last item of `xs_bar`, which is removed."""
        xs = s.value.func.value.id
        if xs not in self.ctx.active or xs not in self.state:
            return []
        self.popped_adjoints.add(xs)  # a NumPy function may have given an array (np.sum(xs))
        out = self.own(xs, runtime.owned_items)
        last = gast.Call(func=gast.Attribute(value=name(self.bar(xs)), attr="pop",
                                             ctx=gast.Load()), args=[], keywords=[])
        value = s.value.args[0]
        if self.ctx.is_active(value):
            item = self.ctx.namer.temp()
            out.append(assign(item, last, s.adgen_line))
            out.append(self.contribute(value.id, name(item), s.adgen_line))
        else:
            out.append(gast.Expr(value=last))
        return out

    def push(self, var: str, value: gast.AST, line: Any) -> list[gast.AST]:
        bar = self.bar(var)
        out = []
        if var in self.state:
            out += self.own(var)
        else:  # zeros for the items still in the list, then the popped item's
            out.append(assign(bar, self.ctx.call("zeros_like", runtime.zeros_like,
                                                 [name(var)]), line))
        self.state.add(var)
        self.owned.add(var)
        method = gast.Attribute(value=name(bar), attr="append", ctx=gast.Load())
        node = gast.Expr(value=gast.Call(func=method, args=[value], keywords=[]))
        node.adgen_line = line
        out.append(node)
        return out

    def write(self, s: gast.Assign, target: gast.Subscript) -> list[gast.AST]:
        """`a[i] = v`: `v` takes `a_bar[i]`, then `a_bar[i]` is zero (that value is gone)."""
        var = target.value.id
        if var not in self.ctx.active or var not in self.state:
            return []
        out = []
        if self.ctx.is_active(s.value):
            part = self.ctx.call("written", runtime.written, [
                name(self.bar(var)), astutil.index_value(target.slice)])
            part = self.ctx.call("unbroadcast", runtime.unbroadcast, [part, s.value])
            out.append(self.contribute(s.value.id, part, s.adgen_line))
        out += self.own(var)
        cleared = self.ctx.call("zero_at", runtime.zero_at, [name(self.bar(var)),
                                                             astutil.index_value(target.slice)])
        out.append(assign(self.bar(var), cleared, s.adgen_line))
        return out

    def adjoint(self, s: gast.Assign) -> list[gast.AST]:
        target = s.targets[0]
        if isinstance(target, gast.Subscript):
            return self.write(s, target)
        var = target.id
        popped = popped_list(s)
        if popped is not None and popped in self.ctx.active:
            # the adjoint list mirrors the list item for item: push a zero for a popped item
            # that carries no derivative, shaped like it (a row of a table is a list: a
            # plain 0.0 there is not indexable by the next derivative's item reads)
            live = var in self.ctx.active and var in self.state
            pushed = name(self.bar(var)) if live else self.ctx.zero_for(var)
            out = self.push(popped, pushed, s.adgen_line)
            self.state.discard(var)
            self.owned.discard(var)
            return out
        run = self.runs.get(id(s))
        if run is not None:  # the last step of an unpacking (each pass over a loop again)
            self.unpacked.difference_update(id(step) for step in run)
            display = self._unpacked_display(run)
            if display is not None:
                return [display]
        if id(s) in self.unpacked:  # its adjoint went into the display of its run
            self.state.discard(var)
            self.owned.discard(var)
            self.displayed.discard(var)
            return []
        if var not in self.ctx.active:
            return []
        if var not in self.state:
            return []
        y_bar = name(self.bar(var))
        contributions = self.contributions(s, var, s.value, y_bar)
        self.state.discard(var)
        self.owned.discard(var)
        self.displayed.discard(var)
        out: list[gast.AST] = []
        for atom_var, expr in contributions:
            if expr is None:
                continue
            if isinstance(expr, _Scatter):
                out.extend(self.scatter(atom_var, expr, s.adgen_line))

            else:
                out.append(self.contribute(atom_var, expr, s.adgen_line))
        return out

    def scatter(self, var: str, sc: _Scatter, line: Any) -> list[gast.AST]:
        bar = self.bar(var)
        items = self._scattered_item(var, sc)
        if items is not None:  # `x_bar = [zeros, g]`, `x_bar[0] = x_bar[0] + g` for a tuple
            self.state.add(var)
            self.owned.add(var)
            self.scattered.add(var)
            return [assign(bar, items, line)] if isinstance(items, gast.List) else [items]
        fact = self._scattered_array(var, sc)
        if fact is not None:  # `x_bar[i] += g` into an array this sweep made
            out = []
            if var not in self.state:
                out.append(assign(bar, shaped_zeros(self.ctx.bindings, fact), line))
            index = self._constant_ints(clone(sc.index))  # (as `_scattered_array` saw it)
            target = gast.Subscript(value=name(bar), slice=index, ctx=gast.Store())
            out.append(gast.AugAssign(target=target, op=gast.Add(), value=sc.value))
            out[-1].adgen_line = line
            self.state.add(var)
            self.owned.add(var)
            self.scattered.add(var)
            return out
        if self._in_place(var, sc):  # an array this sweep made, an index naming one place
            target = gast.Subscript(value=name(bar), slice=clone(sc.index), ctx=gast.Store())
            node = gast.AugAssign(target=target, op=gast.Add(), value=sc.value)
            node.adgen_line = line
            self.scattered.add(var)
            return [node]
        acc: gast.AST = name(bar) if var in self.state else const(0.0)
        if var in self.state and var not in self.owned:
            acc = self.ctx.call("owned_copy", runtime.owned_copy, [acc])
        if sc.field is not None:  # `p.w`: into the field's place in the record's adjoint
            call = self.ctx.call("add_field", runtime_fields.add_field,
                                 [acc, name(var), const(sc.field), sc.value])
        else:
            call = self.ctx.call("add_at", runtime.add_at,
                                 [acc, name(var), astutil.index_value(sc.index), sc.value])
        self.state.add(var)
        self.owned.add(var)
        self.scattered.add(var)
        return [assign(bar, call, line)]

    def _scattered_array(self, var: str, sc: _Scatter) -> Fact | None:
        """The fact of `var` when the facts show that `var_bar[index] += value` is what
        `add_at` would do: a float array of the same shape wherever `var` is assigned, whose
        adjoint, when the sweep has one, is an array it made; a basic index (ints and
        slices); a value that is a NumPy value."""
        fact, everywhere = self.ctx.array(name(var)), self.ctx.table.get(var)
        if (fact is None or fact != everywhere or not fact.shape or sc.field is not None
                or fact.dtype.kind not in "fc"
                or not self._basic(self._constant_ints(clone(sc.index)))
                or var in self.state and var not in self.owned
                or not self._numpy(sc.value)):
            return None
        return fact

    def _scattered_item(self, var: str, sc: _Scatter) -> gast.AST | None:
        """For a read `v = x[k]` of a tuple of known facts: the adjoint of `x` as a list
        display when the sweep has none yet (zeros of the other items' shapes), or the
        update of item `k` of the list this block made."""
        fact = self.ctx.facts.get(var)
        k = sc.index.value if isinstance(sc.index, gast.Constant) else None
        if (fact is None or fact.kind != "tuple_of" or type(k) is not int or sc.field is not None
                or not -len(fact.items) <= k < len(fact.items) or not self._numpy(sc.value)):
            return None
        if var not in self.state:
            elts = []
            for i, f in enumerate(fact.items):
                zero = None if i == k % len(fact.items) else self._zero_item(f)
                if i != k % len(fact.items) and zero is None:
                    return None
                elts.append(sc.value if zero is None else zero)
            self.displayed.add(var)
            self.listed.add(var)
            return gast.List(elts=elts, ctx=gast.Load())
        item = fact.items[k]
        if var not in self.listed or not isinstance(item, Fact) or not (
                item.is_array or item.is_number):
            return None
        bar = self.bar(var)
        total = gast.BinOp(left=gast.Subscript(value=name(bar), slice=const(k), ctx=gast.Load()),
                           op=gast.Add(), right=sc.value)
        node = gast.Assign(targets=[gast.Subscript(value=name(bar), slice=const(k),
                                                   ctx=gast.Store())], value=total)
        node.adgen_line = None
        return node

    def _unpacked_display(self, run: list[gast.Assign]) -> gast.AST | None:
        """`a = t[0]; b = t[1]` (an unpacking, met last first): when the sweep has no
        adjoint of the tuple `t` yet, `t_bar = [a_bar, b_bar]` at once, zeros of their facts
        for items without one (no zeros added into); the other steps of the run then only
        drop their targets' adjoints."""
        last = run[-1]
        tuple_var = last.value.value.id
        fact = self.ctx.facts.get(tuple_var)
        if (tuple_var not in self.ctx.active or tuple_var in self.state or fact is None
                or fact.kind != "tuple_of"):
            return None
        items: list[Any] = [None] * len(fact.items)
        for step in run:
            k = step.value.slice.value
            if not -len(items) <= k < len(items) or items[k % len(items)] is not None:
                return None
            var = step.targets[0].id
            if var in self.ctx.active and var in self.state:
                if not self._numpy(name(self.bar(var))):
                    return None
                items[k % len(items)] = name(self.bar(var))
        if all(item is None for item in items):
            return None
        for i, f in enumerate(fact.items):
            if items[i] is None:
                items[i] = self._zero_item(f)
                if items[i] is None:
                    return None
        for step in run:
            var = step.targets[0].id
            self.state.discard(var)
            self.owned.discard(var)
            self.displayed.discard(var)
            self.unpacked.add(id(step))
        self.state.add(tuple_var)
        self.owned.add(tuple_var)
        self.scattered.add(tuple_var)
        self.displayed.add(tuple_var)
        self.listed.add(tuple_var)
        return assign(self.bar(tuple_var), gast.List(elts=items, ctx=gast.Load()),
                      last.adgen_line)

    def _zero_item(self, fact: Any) -> gast.AST | None:
        if isinstance(fact, Fact) and fact.is_array and fact.shape and fact.dtype.kind in "fc":
            return shaped_zeros(self.ctx.bindings, fact)
        if isinstance(fact, Fact) and fact.kind in ("float", "scalar") and fact.dtype.kind == "f":
            return const(0.0)
        return None

    def _constant_ints(self, index: gast.AST) -> gast.AST:
        """An index with the ints the variant knows (read from shapes) written as constants,
        so the reverse sweep does not read them."""
        def known(part: Any) -> Any:
            fact = self.ctx.facts.get(part.id) if isinstance(part, gast.Name) else None
            if fact is not None and fact.kind == "int" and type(fact.value) is int:
                return const(fact.value)
            return part

        if isinstance(index, gast.Tuple):
            index.elts = [self._constant_ints(e) for e in index.elts]
            return index
        if isinstance(index, gast.Slice):
            index.lower, index.upper, index.step = (
                None if p is None else known(p) for p in (index.lower, index.upper, index.step))
            return index
        return known(index)

    def _basic(self, index: gast.AST) -> bool:
        """Whether an index is constant ints and slices (no array, no repeats)."""
        if isinstance(index, gast.Tuple):
            return all(self._basic(e) for e in index.elts)
        if isinstance(index, gast.Slice):
            return all(p is None or self._basic(p) for p in (index.lower, index.upper,
                                                              index.step))
        # constants only here (names: `_in_place`, into an adjoint the sweep owns)
        return isinstance(index, gast.Constant) and type(index.value) is int

    def _in_place(self, var: str, sc: _Scatter) -> bool:
        """Whether `add_at` into `var`'s adjoint is `x_bar[i] += g` by a variant's facts: the
        adjoint is a NumPy array this sweep made (so of `var`'s shape, not shared), the index
        is integers by the facts (one place, as `add_at` takes it), and `g` is NumPy's."""
        if sc.field is not None or var not in self.state or var not in self.owned:
            return False
        if self.ctx.array(name(var)) is None or not self._numpy(sc.value):
            return False
        index = sc.index.elts if isinstance(sc.index, gast.Tuple) else [sc.index]
        return all(self._integer(i) for i in index)

    def _integer(self, node: gast.AST) -> bool:
        if isinstance(node, gast.Constant):
            return type(node.value) is int
        fact = self.ctx.facts.get(node.id) if isinstance(node, gast.Name) else None
        return fact is not None and not fact.shape and fact.kind in ("int", "scalar") and (
            fact.dtype is not None and fact.dtype.kind in "iu")

    def contributions(self, s: gast.Assign, var: str, rhs: gast.AST,
                      y_bar: gast.AST) -> list[tuple[str, Any]]:
        active = self.ctx.is_active
        if not differentiable(rhs) or not set(data_reads(rhs)) & self.ctx.active:
            return []
        if isinstance(rhs, gast.Name):
            return [(rhs.id, y_bar)] if active(rhs) else []
        if isinstance(rhs, gast.Constant) or getattr(rhs, "adgen_global", False):
            return []
        if isinstance(rhs, gast.Subscript):
            if not active(rhs.value):
                return []
            return [(rhs.value.id, _Scatter(rhs.slice, y_bar))]
        attr = field_read(rhs)
        if attr is not None:
            return [(rhs.value.id, _Scatter(None, y_bar, attr))] if active(rhs.value) else []
        def part(index: gast.AST) -> gast.AST:
            if var in self.displayed:  # a tuple or list this block made: no plain zero
                return gast.Subscript(value=y_bar, slice=index, ctx=gast.Load())
            return self.ctx.call("item", runtime.item, [y_bar, index])

        if isinstance(rhs, (gast.Tuple, gast.List)):
            return [(e.id, part(const(i))) for i, e in enumerate(rhs.elts) if active(e)]
        if isinstance(rhs, gast.Dict):
            return [(v.id, part(clone(k)))
                    for k, v in zip(rhs.keys, rhs.values, strict=True) if active(v)]
        return self.rule_contributions(s, var, rhs, y_bar)

    def rule_contributions(self, s: gast.Assign, var: str, rhs: gast.AST,
                           y_bar: gast.AST) -> list[tuple[str, Any]]:
        rule = self.ctx.rule(s, rhs)
        if rule.adjoint is None:
            raise self.ctx.error(s, f"{rule.name} has no adjoint rule (reverse mode)")
        args, keywords = call_parts(rhs)
        try:
            values = bind_call(rule.adjoint, args, keywords, rule.name)
            params, _, _ = signature(rule.adjoint)
            values["y_bar"] = y_bar
            values[_first_param(rule.adjoint)] = name(var)
            keep = self._keep_unbroadcast(var, params, values)
            expr = fill(rule.adjoint, self._guarded(s, rule, values), self.ctx.bindings, keep,
                        values)
            expr = Helpers(self.ctx.bindings, self.ctx.facts, var).apply(expr)
        except TemplateError as exc:
            raise self.ctx.error(s, str(exc)) from None
        parts = expr.elts if isinstance(expr, gast.Tuple) else [expr]
        out = []
        for param, part in zip(params, parts, strict=False):
            atom = values[param]
            if self.ctx.is_active(atom) and not _is_none(part):
                out.append((atom.id, simplify.fold(part)))
        return out

    def _guarded(self, s: gast.Assign, rule: Any, values: dict) -> dict:
        """`values` with the operands the rule guards made safe outside the step's mask
        (`adgen.derive.masks`); as they are for a step without one."""
        mask, guards = self.masks.guards(s, rule, values, self.ctx.is_active)
        if not guards or not mask:
            return values
        values = dict(values)
        for param, safe in guards.items():
            values[param] = mask_guards.guard(self.ctx.call, mask, values[param], safe)
        return values

    def _keep_unbroadcast(self, var: str, params: list[str], values: dict) -> Any:
        scalar = self.ctx.scalar

        def certainly_scalar(atom: gast.AST) -> bool:
            if isinstance(atom, gast.Constant):
                return isinstance(atom.value, (int, float))
            return isinstance(atom, gast.Name) and atom.id in scalar

        facts = self.ctx.facts

        def keep(param: str) -> Any:
            if var in scalar:
                return False
            result, operand = facts.get(var), values[param]
            known = facts.get(operand.id) if isinstance(operand, gast.Name) else None
            if isinstance(operand, gast.Constant) and isinstance(operand.value, (int, float)):
                known = shapes.fact_of(float(operand.value))
            if result is not None and result.is_array and known is not None and (
                    known.is_array or not known.shape):
                shape = result.shape
                return lambda g: summed_to(self.ctx.bindings, g, shape, known.shape)
            others = [values[p] for p in params if p != param]
            if all(certainly_scalar(a) for a in others) and certainly_numeric(values[param]):
                return False  # (a list times an int repeats: its adjoint is no copy)
            return "scalar" if certainly_scalar(values[param]) else True

        def certainly_numeric(atom: gast.AST) -> bool:
            return not isinstance(atom, gast.Name) or atom.id in self.ctx.numeric

        return keep


@dataclass
class _Scatter:
    """An indexed contribution: `x_bar[index] += value`, or, for a record, into the place of
    the field `field`."""

    index: gast.AST | None
    value: gast.AST
    field: str | None = None


def _first_param(template: Any) -> str:
    return template_ast(template).args.args[0].id


def _is_none(node: gast.AST) -> bool:
    return isinstance(node, gast.Constant) and node.value is None


def popped_list(s: gast.Assign) -> str | None:
    """`xs` for a step `x = xs.pop()` on a local list."""
    rhs = s.value
    if (isinstance(rhs, gast.Call) and isinstance(rhs.func, gast.Attribute)
            and rhs.func.attr == "pop" and not rhs.args and isinstance(rhs.func.value, gast.Name)
            and isinstance(s.targets[0], gast.Name)):
        return rhs.func.value.id
    return None
