"""Forward mode: after each active trace step, its tangent statement (eqs. 8.58–8.64).

The tangent function takes the primal parameters followed by one tangent per `wrt` parameter
and returns `(value, value_dot)`. Control flow is kept as it is; a variable that is active gets
a tangent at every assignment (a zero when the assigned value is a constant), so its tangent is
defined wherever it is read.

A *batched* tangent function (`Forward(..., batched=True)`) pushes many directions at once:
every tangent has a leading axis of directions (see `adgen.rules.batched` for the invariant and
the rules); indexing and stores skip that axis, zeros are made with it.
"""

from __future__ import annotations

import copy

import gast

from adgen import runtime, runtime_fields
from adgen.codegen import astutil, simplify
from adgen.codegen.astutil import clone
from adgen.codegen.simplify import is_zero, zero
from adgen.derive import blocks
from adgen.derive.analysis import call_parts, differentiable, field_read
from adgen.derive.assemble import function
from adgen.derive.generate import CallSite, Context, user_function
from adgen.derive.mask_guards import guard
from adgen.derive.masks import masks
from adgen.derive.templates import TemplateError, bind_call, fill, signature
from adgen.frontend.lower import assign, name
from adgen.frontend.parse import template_ast
from adgen.rules import batched as batching


class Forward:
    """Builds the tangent function of a trace."""

    def __init__(self, ctx: Context, wrt: list[str], tangent_only: bool = False,
                 batched: bool = False) -> None:
        self.ctx = ctx
        self.wrt = wrt
        self.tangent_only = tangent_only
        self.batched = batched
        self.batch = ctx.namer.fresh("batch") if batched else ""
        self.dot_names = {ctx.namer.dot(v) for v in ctx.active}
        self.written = _written(ctx.trace.node)
        self.mutated = {  # lists changed by a method: `xs.append(v)`, `v = xs.pop()`
            n.func.value.id for n in gast.walk(ctx.trace.node)
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute)
            and n.func.attr in ("append", "pop", "extend", "insert")
            and isinstance(n.func.value, gast.Name)}
        self.masks = masks(ctx.trace.node.body, ctx.trace.params, forward=True)
        self.items = {  # names holding an item of a container, whose tangent may be a plain 0.0
            n.targets[0].id for n in gast.walk(ctx.trace.node)
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name)
            and (isinstance(n.value, gast.Subscript) or field_read(n.value))}

    def dot(self, atom: gast.AST) -> gast.AST:
        """The tangent of an atom, or the symbolic zero."""
        if self.ctx.is_active(atom):
            return name(self.ctx.namer.dot(atom.id))
        return zero()

    def zero_for(self, var: str) -> gast.AST:
        """A zero tangent for the variable `var`."""
        return self.zero_like(name(var))

    def zero_like(self, atom: gast.AST) -> gast.AST:
        """A zero tangent for an atom: batched zeros carry the batch axis."""
        if self.batched:
            return self.ctx.call("batch_zeros", batching.batch_zeros,
                                 [clone(atom), name(self.batch)])
        if isinstance(atom, gast.Name):
            return self.ctx.zero_for(atom.id)
        return gast.Constant(value=0.0, kind=None)

    def element_dot(self, atom: gast.AST) -> gast.AST:
        """The tangent of an element of a tuple, list or dict built or appended to."""
        return simplify.fold_zeros(self.dot(atom)) or (
            self.zero_like(atom) if self.batched else gast.Constant(value=0.0, kind=None))

    def function(self, fname: str) -> gast.FunctionDef:
        fn = self.ctx.trace.node
        params = [a.id for a in fn.args.args] + [self.ctx.namer.dot(w) for w in self.wrt]
        body = self.ctx.float_params() + self.block(fn.body)
        for p in sorted(self.written & set(params)):  # the caller's arrays stay as they were
            body.insert(0, assign(p, self.ctx.call("owned_copy", runtime.owned_copy, [name(p)]),
                                  fn.adgen_line))
            if p in self.wrt:
                dot = self.ctx.namer.dot(p)
                body.insert(1, assign(dot, self.ctx.call("owned_copy", runtime.owned_copy,
                                                         [name(dot)]), fn.adgen_line))
        for p in params[: len(fn.args.args)]:  # an active parameter not differentiated
            if p in self.ctx.active and p not in self.wrt:  # starts with a zero tangent
                body.insert(0, assign(self.ctx.namer.dot(p), self.zero_for(p),
                                      fn.adgen_line))
        if self.batched and any(isinstance(n, gast.Name) and n.id == self.batch
                                for s in body for n in gast.walk(s)):
            seeds = [name(self.ctx.namer.dot(w)) for w in self.wrt]
            body.insert(0, assign(self.batch, self.ctx.call(
                "batch_size", batching.batch_size, seeds), fn.adgen_line))
        tangents = frozenset(self.ctx.namer.dot(v) for v in self.ctx.active)
        return function(self.ctx, fname, params, body, set(), keep=tangents)

    def block(self, body: list[gast.AST]) -> list[gast.AST]:
        out: list[gast.AST] = []
        for s in body:
            out.extend(self.stmt(s))
        return out

    def stmt(self, s: gast.AST) -> list[gast.AST]:
        s = copy.copy(s)
        if isinstance(s, (gast.If, gast.For, gast.While)):
            if isinstance(s, gast.If):
                blocks.check(self.ctx, s)
            s.body = self.block(s.body) or [gast.Pass()]
            s.orelse = self.block(s.orelse)
            if isinstance(s, gast.For) and s.target.id in self.ctx.active:
                # a loop counter a user function may write into later (activity does not
                # follow the order of statements): it still has no derivative of its own
                s.body.insert(0, assign(self.ctx.namer.dot(s.target.id),
                                        self.zero_for(s.target.id), s.adgen_line))
            return [s]
        if isinstance(s, gast.Return):
            return [self.ret(s)]
        if isinstance(s, gast.Assign):
            fn = user_function(s.value)
            if fn is not None and s.targets[0].id in self.ctx.active:
                return self.user_call(s, fn)
            return [s, *self.assign(s)]
        if isinstance(s, gast.Expr):
            return [s, *self.mutate(s)]
        return [s]

    def user_call(self, s: gast.Assign, fn: object) -> list[gast.AST]:
        """`y, y_dot = g_jvp(args..., arg_dots...)`: the callee's own tangent function."""
        site = CallSite(self.ctx, s, fn, s.value)
        target = s.targets[0].id
        if not site.wrt:
            return [s, assign(self.ctx.namer.dot(target), self.zero_for(target),
                              s.adgen_line)]
        jvp_name, _ = site.derivative(self.ctx, "batched_jvp" if self.batched else "jvp")
        dots = [self.dot(site.bound[p]) for p in site.wrt]
        pair = gast.Tuple(elts=[name(target, gast.Store()),
                                name(self.ctx.namer.dot(target), gast.Store())],
                          ctx=gast.Store())
        node = gast.Assign(targets=[pair], value=site.call(jvp_name, dots), type_comment=None)
        node.adgen_line = s.adgen_line
        return [node]

    def ret(self, s: gast.Return) -> gast.Return:
        value = self.dot(s.value)
        if is_zero(value):
            value = self.zero_like(s.value)
        pair = gast.Tuple(elts=[s.value, value], ctx=gast.Load())
        node = gast.Return(value=value if self.tangent_only else pair)
        node.adgen_line = s.adgen_line
        return node

    def assign(self, s: gast.Assign) -> list[gast.AST]:
        target = s.targets[0]
        if isinstance(target, gast.Subscript):
            return self.write(s, target)
        if target.id not in self.ctx.active:
            rhs = s.value
            if (isinstance(rhs, gast.Call) and isinstance(rhs.func, gast.Attribute)
                    and rhs.func.attr == "pop" and self.ctx.is_active(rhs.func.value)):
                # an item without derivative leaves an active list: its tangent leaves too
                node = gast.Expr(value=self.tangent(s, target.id, rhs))
                node.adgen_line = s.adgen_line
                return [node]
            return []
        tangent = self.tangent(s, target.id, s.value)
        if tangent is None:  # `t = np.arange(3)`, then `t[0] = x`: a float array?
            return [*self.ctx.float_check(s), assign(self.ctx.namer.dot(target.id),
                                                      self.zero_for(target.id), s.adgen_line)]
        else:
            item = isinstance(tangent, gast.Subscript)
            if item and (target.id in self.written or target.id in self.mutated):
                # an item of a tangent (of a tape) may be a plain zero: give it the item's shape
                tangent = self.ctx.call("materialised", runtime.materialised,
                                        [tangent, name(target.id)])
            if (target.id in self.written and not isinstance(s.value, gast.Name)
                    and (item or isinstance(tangent, (gast.Name, gast.Call)))):
                # the primal is a new object (or an item no other name sees again: the alias
                # check refuses the rest) that is written into later: so must its tangent be
                tangent = self.ctx.call("owned_copy", runtime.owned_copy, [tangent])
        return [assign(self.ctx.namer.dot(target.id), tangent, s.adgen_line)]

    def write(self, s: gast.Assign, target: gast.Subscript) -> list[gast.AST]:
        container = target.value.id
        if container not in self.ctx.active:
            return []
        value = simplify.fold_zeros(self.dot(s.value))
        if value is None:
            value = gast.Constant(value=0.0, kind=None)
        if self.batched:
            store = self.ctx.call("store_batched", batching.store_batched, [
                name(self.ctx.namer.dot(container)), name(container), index(self.ctx, target.slice),
                value])
            node = gast.Expr(value=store)
            node.adgen_line = s.adgen_line
            return [node]
        stored = gast.Subscript(value=name(self.ctx.namer.dot(container)),
                                slice=clone(target.slice), ctx=gast.Store())
        node = gast.Assign(targets=[stored], value=value, type_comment=None)
        node.adgen_line = s.adgen_line
        return [node]

    def mutate(self, s: gast.Expr) -> list[gast.AST]:
        call = s.value
        if not isinstance(call.func, gast.Attribute) or not self.ctx.is_active(call.func.value):
            return []
        if call.func.attr not in ("append", "extend", "insert"):
            raise self.ctx.error(s, f"cannot differentiate the in-place method "
                                 f"`.{call.func.attr}()`; build a new value instead")
        args = [self.element_dot(a) if self.ctx.is_active(a) or call.func.attr != "insert"
                else a for a in call.args]
        func = gast.Attribute(value=name(self.ctx.namer.dot(call.func.value.id)),
                              attr=call.func.attr, ctx=gast.Load())
        node = gast.Expr(value=gast.Call(func=func, args=args, keywords=[]))
        node.adgen_line = s.adgen_line
        return [node]

    def tangent(self, s: gast.Assign, target: str, rhs: gast.AST) -> gast.AST | None:
        """The tangent expression of `target = rhs`, None when it is zero."""
        if not differentiable(rhs):
            return None
        if isinstance(rhs, (gast.Name, gast.Constant)) or getattr(rhs, "adgen_global", False):
            return simplify.fold_zeros(self.dot(rhs))
        if (isinstance(rhs, gast.Call) and isinstance(rhs.func, gast.Attribute)
                and rhs.func.attr == "pop" and not rhs.args):
            if not self.ctx.is_active(rhs.func.value):
                return None
            method = gast.Attribute(value=self.dot(rhs.func.value), attr="pop", ctx=gast.Load())
            return gast.Call(func=method, args=[], keywords=[])
        if isinstance(rhs, gast.Subscript):
            if not self.ctx.is_active(rhs.value):
                return None
            if self.batched:
                return self.ctx.call("take_batched", batching.take_batched,
                                     [self.dot(rhs.value), index(self.ctx, rhs.slice)])
            if getattr(rhs.value, "id", None) in self.items:  # its tangent may be 0.0
                return self.ctx.call("item", runtime.item,
                                     [self.dot(rhs.value), index(self.ctx, rhs.slice)])
            return gast.Subscript(value=self.dot(rhs.value), slice=clone(rhs.slice),
                                  ctx=gast.Load())
        attr = field_read(rhs)
        if attr is not None:
            return self.field(s, rhs, attr)
        if isinstance(rhs, (gast.Tuple, gast.List)):
            elts = [self.element_dot(e) for e in rhs.elts]
            return type(rhs)(elts=elts, ctx=gast.Load())
        if isinstance(rhs, gast.Dict):
            values = [self.element_dot(v) for v in rhs.values]
            return gast.Dict(keys=clone(rhs.keys), values=values)
        return self.apply_rule(s, target, rhs)

    def field(self, s: gast.Assign, rhs: gast.Attribute, attr: str) -> gast.AST | None:
        """`y = p.w`, a field of a record: `y_dot = field(p_dot, p, 'w')` (which checks that
        `w` is a field of `p`'s type)."""
        if not self.ctx.is_active(rhs.value):
            return None
        if self.batched:  # a record's tangent has no axis of directions
            raise NotBatchable(self.ctx.error(s, f"the field read `.{attr}` has no batched "
                                                 "tangent"))
        return self.ctx.call("field", runtime_fields.field, [
            self.dot(rhs.value), clone(rhs.value), gast.Constant(value=attr, kind=None)])

    def apply_rule(self, s: gast.Assign, target: str, rhs: gast.AST) -> gast.AST | None:
        rule = self.ctx.rule(s, rhs)
        args, keywords = call_parts(rhs)
        if self.batched:
            return self.apply_batched(s, target, rule, args, keywords)
        if rule.linear:
            if not self.ctx.is_active(args[0]):
                return None
            call = clone(rhs)
            call.args[0] = self.dot(args[0])
            return call
        if rule.tangent is None:
            raise self.ctx.error(s, f"{rule.name} has no tangent rule (forward mode)")
        try:
            values = bind_call(rule.tangent, args, keywords, rule.name)
            _, _, kwonly = signature(rule.tangent)
            for k in kwonly:
                values[k] = self.dot(values.get(k[: -len("_dot")]))
            values[_result_param(rule.tangent)] = name(target)
            expr = fill(rule.tangent, self._guarded(s, rule, values), self.ctx.bindings,
                        self._keep, values)
        except TemplateError as exc:
            raise self.ctx.error(s, str(exc)) from None
        expr = simplify.fold_zeros(expr, self._zero_call)
        if expr is not None and self._may_broadcast(rule, target, args):
            expr = self.ctx.call("broadcast_like", runtime.broadcast_like, [expr, name(target)])
        return expr

    def apply_batched(self, s: gast.Assign, target: str, rule: object, args: list[gast.AST],
                      keywords: dict[str, gast.AST]) -> gast.AST | None:
        """The batched tangent: the rule's batched template, or its ordinary one with the
        operand tangents lifted to the result's rank when the rule is elementwise."""
        template = rule.extra.get("batched")
        lifted = False
        if template is None:
            if rule.linear or rule.tangent is None or not batching.elementwise(rule):
                raise NotBatchable(self.ctx.error(s, f"{rule.name} has no batched tangent rule"))
            template = rule.tangent
            lifted = len(signature(template)[2]) > 1 and target not in self.ctx.scalar
        as_array = not lifted and batching.takes_arrays(rule, template)
        try:
            values = bind_call(template, args, keywords, rule.name)
            for k in signature(template)[2]:
                if k == "batch":
                    values[k] = name(self.batch)
                    continue
                atom = values.get(k[: -len("_dot")])
                t = self.dot(atom)
                if lifted and not is_zero(t) and not _only_numbers_besides(atom, args):
                    t = self.ctx.call("lift", batching.lift, [t, name(target)])
                elif as_array and not is_zero(t) and atom.id not in self.ctx.numeric:
                    t = self.ctx.call("array_tangent", batching.array_tangent, [t])
                values[k] = t
            values[_result_param(template)] = name(target)
            expr = fill(template, self._guarded(s, rule, values), self.ctx.bindings, self._keep,
                        values)
        except TemplateError as exc:
            raise self.ctx.error(s, str(exc)) from None
        expr = simplify.fold_zeros(expr, self._zero_call, lambda _: self.zero_for(target))
        if expr is not None and template is rule.tangent and self._may_broadcast(
                rule, target, args):  # batched templates shape their results themselves
            expr = self.ctx.call("broadcast_batched", batching.broadcast_batched,
                                 [expr, name(target)])
        return expr

    def _guarded(self, s: gast.Assign, rule: object, values: dict) -> dict:
        """`values` with the operands the rule guards made safe outside the step's mask: the
        tangent's lanes there are discarded (`adgen.derive.masks`), so they need not be
        infinite or NaN, nor warn."""
        mask, guards = self.masks.guards(s, rule, values, self.ctx.is_active)
        if not guards or not mask:
            return values
        values = dict(values)
        for param, safe in guards.items():
            values[param] = guard(self.ctx.call, mask, values[param], safe)
        return values

    def _zero_call(self, call: gast.Call) -> bool:
        """A call inside a tangent expression is linear in the tangents it is given (that is
        what a tangent is), so it is zero when every tangent it is given is zero."""
        dots = self.dot_names
        carried = [a for a in list(call.args) + [k.value for k in call.keywords]
                   if is_zero(a) or astutil.loads(a) & dots]
        return bool(carried) and all(is_zero(a) for a in carried)

    def _may_broadcast(self, rule: object, target: str, args: list[gast.AST]) -> bool:
        """Whether an inactive operand may have widened the result beyond the active ones."""
        if target in self.ctx.scalar or not _broadcasts(rule):
            return False

        def certainly_scalar(atom: gast.AST) -> bool:
            if isinstance(atom, gast.Constant):
                return isinstance(atom.value, (int, float))
            return isinstance(atom, gast.Name) and atom.id in self.ctx.scalar

        return any(not self.ctx.is_active(a) and not certainly_scalar(a) for a in args)

    def _keep(self, param: str) -> bool:
        return True


class NotBatchable(Exception):
    """A function that uses a rule without a batched form (carries the error naming it)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))


def index(ctx: Context, node: gast.AST) -> gast.AST:
    """A subscript's index as an expression that can be passed to a function."""
    if isinstance(node, gast.Slice):
        parts = [clone(p) if p is not None else gast.Constant(value=None, kind=None)
                 for p in (node.lower, node.upper, node.step)]
        return ctx.call("slice", slice, parts)
    if isinstance(node, gast.Tuple):
        return gast.Tuple(elts=[index(ctx, e) for e in node.elts], ctx=gast.Load())
    return clone(node)


def _only_numbers_besides(atom: gast.AST, args: list[gast.AST]) -> bool:
    """Whether every operand but `atom` is a number written in the source (which cannot
    widen the result beyond `atom`'s shape)."""
    return all(isinstance(a, gast.Constant) and isinstance(a.value, (int, float))
               for a in args if a is not atom)


def _broadcasts(rule: object) -> bool:
    """Rules whose adjoint undoes broadcasting are the broadcasting ones."""
    if rule.adjoint is None:
        return False
    return any(isinstance(n, gast.Name) and n.id == "unbroadcast"
               for n in gast.walk(template_ast(rule.adjoint)))


def _result_param(template: object) -> str:
    return template_ast(template).args.args[0].id


def _written(fn: gast.FunctionDef) -> set[str]:
    """The names whose objects a subscript write changes, with every name whose object flows
    into one of them by a plain copy (`_t1 = s + 1.0; t = _t1; t[0] = ...`: `_t1`'s new object
    is written, so its tangent must be a new object too)."""
    written: set[str] = set()
    copies: dict[str, set[str]] = {}
    for n in gast.walk(fn):
        if not isinstance(n, gast.Assign):
            continue
        target = n.targets[0]
        if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
            written.add(target.value.id)
        elif isinstance(target, gast.Name) and isinstance(n.value, gast.Name):
            copies.setdefault(target.id, set()).add(n.value.id)
    todo = list(written)
    while todo:
        for source in copies.get(todo.pop(), ()):
            if source not in written:
                written.add(source)
                todo.append(source)
    return written
