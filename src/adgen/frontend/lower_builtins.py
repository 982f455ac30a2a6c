"""Lowering of Python builtins that build or reorder sequences: `list(xs)`, `tuple(xs)`,
`dict(...)`, `reversed(xs)` as a value, `sorted(xs, key=..., reverse=...)` and `max`/`min`
with `key=`.

Each becomes what the rest of the trace already differentiates: a list built by an index loop
over the items (`[v for v in xs]`), subscripts at positions that a nondifferentiable helper
computes (`runtime_forms.sort_order`, `extreme_index`: an ordering is piecewise constant in
the values, so the key function is only called, never differentiated), dict displays and item
stores. A mixin of `lower_expr.ExpressionLowering`.

`np.einsum` in the sublist form (`np.einsum(a, [0, 1], b, [1, 2], [0, 2])`) with constant
sublists is spelled as the subscripts string, and an einsum of more than four operands is a
chain of einsums of at most four: each contracts the first operands into one, keeping the
letters the rest or the output still need (the rules take at most four operands).
"""

from __future__ import annotations

import ast
import copy
import os
import string
from typing import Any

import gast
import numpy as np

from adgen import runtime_forms
from adgen.errors import where
from adgen.frontend.ir import Subexpressions, assign, const, name


class BuiltinLowering:
    """Builtin forms for `ExpressionLowering`."""

    def builtin_form(self, e: gast.Call, fn: Any) -> gast.AST | None:
        """The lowered value of a call of one of the builtins above, or None for any other
        call (and for forms left to the general call lowering)."""
        if any(isinstance(a, gast.Starred) for a in e.args) or any(
                k.arg is None for k in e.keywords):
            return None
        if fn is list and not e.keywords and len(e.args) <= 1:
            return self.listed(e.args[0]) if e.args else gast.List(elts=[], ctx=gast.Load())
        if fn is tuple and not e.keywords and len(e.args) <= 1:
            if not e.args:
                return gast.Tuple(elts=[], ctx=gast.Load())
            if isinstance(e.args[0], (gast.List, gast.Tuple)):
                return self.expr_Tuple(gast.Tuple(elts=e.args[0].elts, ctx=gast.Load()))
            return self.form_call(runtime_forms.as_tuple, [self.listed(e.args[0])])
        if fn is dict:
            return self.dict_of(e)
        if fn is reversed and len(e.args) == 1 and not e.keywords:
            item = self.namer.fresh("_item")
            return self.listed(e.args[0], reverse=True, item=item)
        if fn is sorted:
            return self.sorted_of(e)
        if fn in (max, min) and any(k.arg == "key" for k in e.keywords):
            return self.extreme_by_key(e, fn)
        return None

    def einsum_form(self, e: gast.Call) -> gast.AST | None:
        """`np.einsum` with constant sublists or more than four operands as einsums of the
        subscripts string over at most four operands (None: the call as it is)."""
        if any(isinstance(a, gast.Starred) for a in e.args) or not e.args:
            return None
        first = e.args[0]
        if isinstance(first, gast.Constant) and isinstance(first.value, str):
            spec, operands = first.value.replace(" ", ""), list(e.args[1:])
            if len(operands) <= 4:
                return None
        else:
            sublists = [_constant_list(a) for a in e.args[1::2]]
            if any(s is None for s in sublists) or (len(e.args) % 2 and _constant_list(
                    e.args[-1]) is None):
                return None
            operands = list(e.args[0::2])
            out = None
            if len(e.args) % 2:
                operands.pop()
                out = _letters(_constant_list(e.args[-1]))
            spec = ",".join(_letters(sub) for sub in sublists[: len(operands)])
            if out is not None:
                spec += "->" + out
        ins, out = spec.split("->") if "->" in spec else (spec, _implicit_output(spec))
        ins = ins.split(",")
        if len(ins) != len(operands):
            return None  # NumPy's own error, when the call runs
        while len(operands) > 4:
            group, rest = ins[:4], ins[4:]
            later = "".join(rest) + out
            kept = "".join(dict.fromkeys(c for c in "".join(group).replace("...", "")
                                         if c in later))
            kept = ("..." if any("..." in g for g in group) else "") + kept
            part = gast.Call(func=e.func, args=[const(",".join(group) + "->" + kept),
                                                *operands[:4]], keywords=e.keywords)
            operands = [self.atom(part), *operands[4:]]
            ins = [kept, *rest]
        return self.expr_Call(gast.Call(func=e.func, args=[
            const(",".join(ins) + "->" + out), *operands], keywords=e.keywords))

    def form_call(self, fn: Any, args: list[gast.AST]) -> gast.Call:
        call = gast.Call(func=self.helper(fn), args=args, keywords=[])
        call.adgen_fn = fn
        return call

    def listed(self, items: gast.AST, reverse: bool = False, item: str | None = None
               ) -> gast.AST:
        """`[v for v in items]` (over `reversed(items)` with `reverse`): a list the trace
        builds by an index loop, so each item's derivative is a subscript's."""
        if isinstance(items, (gast.ListComp, gast.GeneratorExp)) and not reverse:
            return self.expr_ListComp(items)
        item = item or self.namer.fresh("_item")
        source = items
        if reverse:
            source = gast.Call(func=self.helper(reversed), args=[items], keywords=[])
        comp = gast.ListComp(elt=name(item), generators=[gast.comprehension(
            target=name(item, gast.Store()), iter=source, ifs=[], is_async=0)])
        comp.col_offset = getattr(items, "col_offset", 0)
        return self.expr_ListComp(comp)

    def sorted_of(self, e: gast.Call) -> gast.AST:
        """`sorted(xs, key=k, reverse=r)` → `[seq[i] for i in sort_order(seq, k, r)]`."""
        options = {k.arg: k.value for k in e.keywords}
        if len(e.args) != 1 or set(options) - {"key", "reverse"}:
            raise self.error(e, "this call of `sorted`",
                             "call sorted(xs) with at most key= and reverse=")
        seq = self.sequence(e.args[0])
        order = self.bind(self.form_call(runtime_forms.sort_order, [
            seq, self.key_atom(options.get("key", const(None))),
            self.atom(options.get("reverse", const(False)))]), fn=runtime_forms.sort_order)
        position = self.namer.fresh("_i")
        comp = gast.ListComp(
            elt=gast.Subscript(value=seq, slice=name(position), ctx=gast.Load()),
            generators=[gast.comprehension(target=name(position, gast.Store()),
                                           iter=name(order), ifs=[], is_async=0)])
        comp.col_offset = e.col_offset
        return self.expr_ListComp(comp)

    def key_atom(self, node: gast.AST) -> gast.AST:
        """A `key=` function, which is only called, never differentiated: a lambda that reads
        only its parameters and module-level names is made into a function here, once."""
        if not isinstance(node, gast.Lambda):
            return self.atom(node)
        return self.helper(self.made_lambda(node, "a `key=` lambda", "key"))

    def made_lambda(self, node: gast.Lambda, what: str, label: str = "") -> Any:
        """The function a lambda written in a call stands for, made once here: it may read
        only its parameters and module-level names (adgen reads its source like any lambda
        when it differentiates it)."""
        a = node.args
        own = {p.id for p in a.args}
        free = {n.id for n in gast.walk(node.body)
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)} - own
        if a.vararg or a.kwarg or a.kwonlyargs or a.defaults or free & self.locals:
            raise self.error(node, f"{what} reading the function's own variables (or with "
                             "defaults or starred parameters)",
                             "define the function at module level, or pass the values it "
                             "reads as arguments")
        tree = ast.fix_missing_locations(gast.gast_to_ast(gast.Expression(
            body=copy.deepcopy(node))))
        scope = {**self.p.globals, **self.p.closure}
        made = eval(compile(tree, self.p.filename, "eval"), scope)  # noqa: S307 (user's code)
        if label:
            made.__name__ = label
        return made

    def extreme_by_key(self, e: gast.Call, fn: Any) -> gast.AST:
        """`max(xs, key=k)` → `seq[extreme_index(seq, k, True)]` (several arguments are a
        tuple of them); the first item with the largest key, as Python chooses."""
        options = {k.arg: k.value for k in e.keywords}
        if set(options) != {"key"} or not e.args:
            raise self.error(e, f"`{fn.__name__}` with `default=`",
                             f"test for an empty sequence before calling {fn.__name__}")
        items = e.args[0] if len(e.args) == 1 else gast.Tuple(elts=e.args, ctx=gast.Load())
        seq = self.sequence(items) if len(e.args) == 1 else self.atom(items)
        index = self.bind(self.form_call(runtime_forms.extreme_index, [
            seq, self.key_atom(options["key"]), const(fn is max)]),
            fn=runtime_forms.extreme_index)
        return gast.Subscript(value=seq, slice=name(index), ctx=gast.Load())

    def dict_of(self, e: gast.Call) -> gast.AST:
        """`dict(k=v)`, `dict([(k, v), ...], k=v)` as a display; `dict(zip(ks, vs))` and
        `dict(mapping)` as a loop of item stores into a new dict."""
        if len(e.args) > 1:
            raise self.error(e, "`dict` with several positional arguments", "pass one")
        keys: list[gast.AST] = []
        values: list[gast.AST] = []
        source = e.args[0] if e.args else None
        if isinstance(source, (gast.List, gast.Tuple)) and all(
                isinstance(p, (gast.List, gast.Tuple)) and len(p.elts) == 2
                for p in source.elts):
            keys, values = [p.elts[0] for p in source.elts], [p.elts[1] for p in source.elts]
            source = None
        keys += [const(k.arg) for k in e.keywords]
        values += [k.value for k in e.keywords]
        display = gast.Dict(keys=keys, values=values)
        if source is None:
            return self.expr_Dict(display)
        result = self.namer.temp("_d")
        self.locals.add(result)
        pairs = self.dict_pairs(source)
        self.emit(assign(result, gast.Dict(keys=[], values=[]), self.line))
        key, value = self.namer.fresh("_key"), self.namer.fresh("_value")
        self.locals.update((key, value))
        store = gast.Assign(targets=[gast.Subscript(value=name(result), slice=name(key),
                                                    ctx=gast.Store())],
                            value=name(value), type_comment=None)
        target = gast.Tuple(elts=[name(key, gast.Store()), name(value, gast.Store())],
                            ctx=gast.Store())
        loop = gast.For(target=target, iter=pairs, body=[store], orelse=[], type_comment=None)
        for n in gast.walk(loop):
            if isinstance(n, gast.stmt):
                n.lineno, n.col_offset = self.line, getattr(e, "col_offset", 0)
        self.cse = Subexpressions()
        self.stmt(loop)
        for k, v in zip(keys, values, strict=True):
            self.assign_to(gast.Subscript(value=name(result), slice=k, ctx=gast.Store()), v)
        return name(result)

    def dict_pairs(self, source: gast.AST) -> gast.AST:
        """The `(key, value)` pairs of `dict(source)` as something a `for` iterates."""
        if isinstance(source, gast.Call):
            found, fn = self.resolve(source.func)
            if found and fn is zip and len(source.args) == 2 and all(
                    k.arg == "strict" for k in source.keywords):
                return source
        table = self.atom(source)
        at = where(os.path.basename(self.p.filename), self.line)
        check = self.form_call(runtime_forms.mapping_only, [table, const(at)])
        check.adgen_check = True
        self.emit(gast.Expr(value=check))
        if not isinstance(table, gast.Name) or table.id not in self.locals:
            table = name(self.bind(table))
            self.locals.add(table.id)  # iterated as a local dict: `for k, v in d.items()`
        return gast.Call(func=gast.Attribute(value=table, attr="items", ctx=gast.Load()),
                         args=[], keywords=[])


def _constant_list(node: gast.AST) -> list | None:
    """The items of a list or tuple display of int and `...` constants, else None."""
    if not isinstance(node, (gast.List, gast.Tuple)):
        return None
    items = [n.value if isinstance(n, gast.Constant) else None for n in node.elts]
    if any(i is not Ellipsis and (type(i) is not int or not 0 <= i < 52) for i in items):
        return None
    return items


def _letters(sublist: list) -> str:
    return "".join("..." if s is Ellipsis else string.ascii_letters[s] for s in sublist)


def _implicit_output(spec: str) -> str:
    """The output letters NumPy gives an einsum without `->`: the letters that appear once,
    in alphabetical order, after the broadcast axes."""
    letters = spec.replace("...", "").replace(",", "")
    once = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return ("..." if "..." in spec else "") + once


def is_einsum(fn: Any) -> bool:
    return fn is np.einsum
