"""A callee's backward function adds into its caller's adjoints, instead of zeros of its own.

A split callee that reads rows of an array parameter (`main[i]` in a loop over layers) makes
its adjoint as zeros (`main_bar = np.zeros((4, 1024))`), adds each row's adjoint into it and
returns it; a caller calling it in a loop then adds that whole array into its own adjoint,
which it owns (`main_bar += _g[0]`). In a variant the backward function instead takes the
caller's adjoint as a keyword (`lstm_predict_bwd(_tape, y_bar, main_bar=main_bar)`), makes
zeros only when it is not given (`if main_bar is None: main_bar = np.zeros(...)`), and
returns the sum; the caller binds its adjoint to what is returned (`main_bar = _g[0]`).

`offered` decides which parameters take one: a float array by the variant's facts, never
assigned in the callee, whose adjoint the backward function makes as zeros at its top level
and after that only adds into (`+=`, `p_bar = p_bar + g`, `add_at(p_bar, ...)`), reads
nowhere else, and returns as it is. Starting from the caller's adjoint then gives the
caller's adjoint plus the callee's contributions, whichever of those forms adds them. The
caller passes its adjoint (`Reverse.reverse_call`) when it owns it, it is an array of the
parameter's fact, and no other parameter of the call is bound to the same name.
"""

from __future__ import annotations

from typing import Any

import gast
import numpy as np

from adgen import runtime
from adgen.codegen import astutil
from adgen.frontend.lower import const, name


def offered(ctx: Any, body: list[gast.AST], wrt: list[str], params: list[str],
            assigned: set[str]) -> dict[str, str]:
    """Which parameters' adjoints the backward function `body` can take from its caller
    (parameter -> keyword); the zeros it makes for them become `if p_bar is None:`."""
    ret = body[-1] if body else None
    if not isinstance(ret, gast.Return) or ret.value is None:
        return {}
    values = ret.value.elts if len(wrt) > 1 and isinstance(ret.value, gast.Tuple) else [
        ret.value]
    out: dict[str, str] = {}
    for p, value in zip(wrt, values, strict=False):
        bar = ctx.namer.bar(p)
        fact = ctx.table.get(p)
        if (p not in params or p in assigned or not isinstance(value, gast.Name)
                or value.id != bar or fact is None or not fact.is_array or not fact.shape
                or fact.dtype is None or fact.dtype.kind != "f"):
            continue
        k = _zeros_at(ctx, body, bar)
        if k is None or not _only_added(ctx, body[k + 1:], bar, value):
            continue
        test = gast.Compare(left=name(bar), ops=[gast.Is()], comparators=[const(None)])
        body[k] = gast.If(test=test, body=[body[k]], orelse=[])
        for mark in ("adgen_line", "adgen_adjoint"):  # (its comment: the zeros')
            setattr(body[k], mark, getattr(body[k].body[0], mark, None))
        out[p] = bar
    return out


def take(fn: gast.FunctionDef, keywords: dict[str, str]) -> None:
    """The backward function's keyword parameters, None by default."""
    for bar in keywords.values():
        fn.args.args.append(name(bar, gast.Param()))
        fn.args.defaults.append(const(None))


def _zeros_at(ctx: Any, body: list[gast.AST], bar: str) -> int | None:
    """The top-level statement `bar = np.zeros(shape)` that first assigns `bar`."""
    for k, s in enumerate(body):
        if bar not in astutil.statement_stores([s]):
            continue
        value = s.value if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(
            s.targets[0], gast.Name) else None
        func = getattr(value, "func", None)
        if (isinstance(func, gast.Attribute) and func.attr == "zeros"
                and isinstance(func.value, gast.Name)
                and ctx.bindings.names.get(func.value.id) is np):
            return k
        return None
    return None


def _only_added(ctx: Any, stmts: list[gast.AST], bar: str, returned: gast.Name) -> bool:
    """Whether every use of `bar` in `stmts` adds into it, or is the returned name."""
    accounted = {id(returned)}
    for n in astutil.walk(stmts):
        if isinstance(n, gast.AugAssign) and isinstance(n.op, gast.Add):
            target = n.target.value if isinstance(n.target, gast.Subscript) else n.target
            if _is(target, bar) and not _reads(n.value, bar) and not (
                    isinstance(n.target, gast.Subscript) and _reads(n.target.slice, bar)):
                accounted.add(id(target))
        elif isinstance(n, gast.Assign) and len(n.targets) == 1 and _is(n.targets[0], bar):
            first = _added_to(ctx, n.value)
            if first is not None and _is(first, bar):
                rest = [a for a in astutil.walk(n.value) if a is not first]
                if not any(_is(a, bar) for a in rest):
                    accounted.update((id(n.targets[0]), id(first)))
    return all(id(n) in accounted for n in astutil.walk(stmts) if _is(n, bar))


def _added_to(ctx: Any, value: gast.AST) -> gast.AST | None:
    """The first operand of `a + g` or of `add_at(a, x, index, g)`."""
    if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add):
        return value.left
    if (isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.args
            and ctx.bindings.names.get(value.func.id) is runtime.add_at):
        return value.args[0]
    return None


def _is(node: Any, bar: str) -> bool:
    return isinstance(node, gast.Name) and node.id == bar


def _reads(node: gast.AST, bar: str) -> bool:
    return bar in astutil.loads(node)
