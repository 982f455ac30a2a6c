"""A split derivative's tape, made smaller: values the backward function computes again.

A callee's forward function returns its tape, the values of its forward sweep that its
backward function reads, and the caller keeps that tape for every call (one per loop step).
Some of those values are cheap to compute again from others the caller keeps anyway:

* *From the operands* (`rematerialise`): the joined input `np.concatenate((inp, hidden))` of a
  cell, whose parts are its arguments, or `1.0 + e` beside `e`. A value assigned once, at the
  forward function's top level, by a join (`CHEAP`, or a tuple display) or one arithmetic
  operation of one value and a constant, leaves the tape when every operand still holds, at
  the end of the forward function, the object it held there: nothing after it writes into an
  object that may be an operand (an element write or a call statement anywhere, a mutating
  method of an operand), and an operand assigned again later is kept by a copy of its name
  (`hidden_1 = hidden`) right after the statement. A join may put on the tape operands that
  were not on it (parameters, and the names in a tuple display: never more than the whole);
  an arithmetic operation only reads values the tape holds or that are computed again, so
  that it never adds to the tape.
* *From the result* (`from_result`): the caller keeps what a callee returns when its own
  adjoint reads it (a sigmoid's `s`), so values that a chain of operations which can be undone
  leads from to the result (`r = 1.0 / d`, `d = 1.0 + e`: `d = 1.0 / r`, `e = d - 1.0`) cost
  the tape nothing. Only values a variant's facts know to be floats. Where the backward
  function reads them only as factors of products, the products are written in the result
  (`folded`: `g / d / d * e` is `g * r * (1.0 - r)`).

A value known to be a number stays on the tape (it costs less than computing it again). The
backward function computes each value just before it first reads it (`place`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import gast
import numpy as np

from adgen.codegen import astutil
from adgen.codegen.astutil import clone
from adgen.derive.analysis import primitive
from adgen.frontend.lower import assign, name

CHEAP = (np.concatenate, np.stack, np.hstack, np.vstack)
_MUTATING = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "sort",
                       "reverse", "fill", "put", "resize", "itemset", "update", "setdefault",
                       "popitem", "setfield", "partition", "__setitem__", "__iadd__"})


class _Forward:
    """What the checks ask of the forward function's top-level statements, found in one
    pass: how often each name is assigned, the last statement assigning it and the last
    one calling a mutating method of it, and from which statement on anything may write
    into any object (an element write, a call statement, a method of no plain name)."""

    def __init__(self, stmts: list[gast.AST]) -> None:
        self.count: dict[str, int] = {}
        self.last_store: dict[str, int] = {}
        self.last_method: dict[str, int] = {}
        self.any_write = -1  # the last statement that may write into any object
        for i, s in enumerate(stmts):
            for n in astutil.walk(s):
                if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
                    self.count[n.id] = self.count.get(n.id, 0) + 1
                    self.last_store[n.id] = i
                elif _writes_anything(n):
                    self.any_write = i
                elif _mutating_method(n):
                    self.last_method[n.func.value.id] = i

    def single(self, var: str) -> bool:
        return self.count.get(var, 0) == 1

    def unchanged_after(self, i: int, names: Iterable[str]) -> bool:
        """Whether no statement after `i` may write into an object these names hold."""
        return self.any_write <= i and all(self.last_method.get(v, -1) <= i for v in names)


def _writes_anything(n: gast.AST) -> bool:
    if isinstance(n, gast.Subscript) and not isinstance(n.ctx, gast.Load):
        return True
    if not isinstance(n, gast.Expr) or not isinstance(n.value, gast.Call):
        return isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and (
            n.func.attr in _MUTATING and not isinstance(n.func.value, gast.Name))
    func = n.value.func  # a call statement: only a method of a plain name says what it writes
    return not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name))


def _mutating_method(n: gast.AST) -> bool:
    return (isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute)
            and isinstance(n.func.value, gast.Name) and n.func.attr in _MUTATING)


def rematerialise(forward: list[gast.AST], tape: set[str], params: list[str],
                  fresh: Callable[[str], str], stack: str, number: Callable[[str], bool],
                  undone: list[gast.AST]) -> tuple[list[gast.AST], list[gast.AST], set[str]]:
    """`(forward, recomputed, tape)`: the forward function's statements (with the copies of
    operands assigned again later), the statements the backward function runs to compute
    values again from their operands, and the tape without those values. `stack`: the
    derivative's own stack (it stays on the tape); `number(v)`: whether `v`
    is known to be a number; `undone`: what `from_result` computes (its operands stay)."""
    index = _Forward(forward)
    recomputed: list[gast.AST] = []
    copies: dict[int, list[gast.AST]] = {}
    tape = set(tape)
    available = tape | astutil.statement_stores(undone)
    pinned = astutil.loads(undone) | {stack}
    displays: dict[str, set[str]] = {}  # tuple displays assigned so far: the names they hold
    for i, s in enumerate(forward):
        var = _target(s)
        if var is None:
            continue
        operands = _operands(s.value)
        if (var in tape and var not in pinned and index.single(var) and not number(var)
                and operands is not None and _cheap_enough(s.value, operands, available,
                                                           params, displays)):
            held = operands.union(*(displays.get(v, ()) for v in operands))
            if index.unchanged_after(i, held):
                rebound = {v for v in operands if index.last_store.get(v, -1) > i}
                renamed = {v: fresh(v) for v in sorted(rebound)}
                statement = clone(s)
                astutil.map_loads(statement.value, lambda n, r=renamed: name(r[n.id])
                                  if n.id in r else None)
                copies[i] = [assign(renamed[v], name(v), None) for v in sorted(renamed)]
                recomputed.append(statement)
                tape.discard(var)
                tape |= (operands - rebound) | set(renamed.values())
                available |= operands | {var}
        displays.pop(var, None)
        if isinstance(s.value, gast.Tuple) and operands is not None:
            displays[var] = operands
    if not recomputed:
        return forward, [], tape
    out: list[gast.AST] = []
    for i, s in enumerate(forward):
        out.append(s)
        out.extend(copies.get(i, []))
    return out, recomputed, tape


def _cheap_enough(rhs: gast.AST, operands: set[str], available: set[str], params: list[str],
                  displays: dict[str, set[str]]) -> bool:
    """An operation of values the backward function has; or a join, whose parts may also be
    parameters or tuple displays of such (the caller keeps them, or they are not larger)."""
    if operands <= available:
        return True
    if not _is_join(rhs):
        return False
    kept = available.union(params)
    return all(v in kept or v in displays and displays[v] <= kept for v in operands)


def from_result(forward: list[gast.AST], tape: set[str], result: str | None,
                floats: Callable[[str], bool], number: Callable[[str], bool]
                ) -> tuple[list[gast.AST], set[str]]:
    """`(undone, tape)`: the statements that compute tape values back from the result (each
    undoing one operation, to the rounding of the one it undoes: `e = d - 1.0` gives `e` to
    within a unit in the last place of `d`, the precision the result itself keeps of `e`, as
    a hand-written `s * (1 - s)` does) and the tape holding the result instead of them. Only
    float values (known by a variant's facts) assigned once at the top level, not numbers."""
    index = _Forward(forward)
    defs = {_target(s): i for i, s in enumerate(forward)
            if _target(s) is not None and index.single(_target(s))}
    if result not in defs or not floats(result) or number(result):
        return [], tape
    chain: list[gast.AST] = []
    first, y = len(forward), result
    while y in defs:
        s = forward[defs[y]]
        undone = _undo(s.value, y)
        if undone is None or undone[0] not in defs or not floats(undone[0]):
            break
        chain.append(assign(undone[0], undone[1], getattr(s, "adgen_line", None)))
        first, y = min(first, defs[y]), undone[0]
    members = [_target(c) for c in chain]
    deepest = max((k for k, v in enumerate(members) if v in tape), default=-1)
    if deepest < 0 or not index.unchanged_after(first - 1, {result, *members}):
        return [], tape
    return chain[:deepest + 1], (tape - set(members[:deepest + 1])) | {result}


def _undo(rhs: gast.AST, y: str) -> tuple[str, gast.AST] | None:
    """`(t, expression of y)` for `y = rhs`, one arithmetic operation of a name `t` and a
    finite, nonzero numeric constant, which the expression undoes; None for any other."""
    if isinstance(rhs, gast.UnaryOp) and isinstance(rhs.op, gast.USub) and isinstance(
            rhs.operand, gast.Name):
        return rhs.operand.id, gast.UnaryOp(op=gast.USub(), operand=name(y))
    if not isinstance(rhs, gast.BinOp):
        return None
    if isinstance(rhs.left, gast.Name) and _constant(rhs.right):
        t, c, constant_first = rhs.left.id, rhs.right.value, False
    elif isinstance(rhs.right, gast.Name) and _constant(rhs.left):
        t, c, constant_first = rhs.right.id, rhs.left.value, True
    else:
        return None
    inverse = _INVERSES.get((type(rhs.op), constant_first))
    if inverse is None:
        return None
    op, constant_first = inverse
    c_node = gast.Constant(value=c, kind=None)
    left, right = (c_node, name(y)) if constant_first else (name(y), c_node)
    return t, gast.BinOp(left=left, op=op(), right=right)


# (operation, constant first) of `y = t op c` / `y = c op t` -> the same of `t = ...(y)`
_INVERSES = {
    (gast.Add, False): (gast.Sub, False), (gast.Add, True): (gast.Sub, False),
    (gast.Sub, False): (gast.Add, False), (gast.Sub, True): (gast.Sub, True),
    (gast.Mult, False): (gast.Div, False), (gast.Mult, True): (gast.Div, False),
    (gast.Div, False): (gast.Mult, False), (gast.Div, True): (gast.Div, True),
}


def _constant(node: gast.AST) -> bool:
    return (isinstance(node, gast.Constant) and type(node.value) in (int, float)
            and math.isfinite(node.value) and node.value != 0)


def place(recomputed: list[gast.AST], body: list[gast.AST]) -> list[gast.AST]:
    """The backward function's statements with each computed value's statement just before
    the first statement that reads the value or assigns a name the statement reads or
    writes (and before the statements computing other values from it)."""
    if not recomputed:
        return body
    end = len(body)
    read: dict[str, int] = {}  # the first statement reading / assigning each name
    assigned: dict[str, int] = {}
    for k in reversed(range(end)):
        read.update(dict.fromkeys(astutil.loads(body[k]), k))
        assigned.update(dict.fromkeys(astutil.statement_stores([body[k]]), k))
    at: list[int] = [end] * len(recomputed)
    for j in reversed(range(len(recomputed))):
        var = _target(recomputed[j])
        operands = astutil.loads(recomputed[j].value)
        at[j] = min([read.get(var, end), *(assigned.get(v, end) for v in operands | {var})])
        for v in operands:  # computed before what reads it
            read[v] = min(read.get(v, end), at[j])
    out: list[gast.AST] = []
    order = sorted(range(len(recomputed)), key=lambda j: (at[j], j))
    pending = iter(order)
    nxt = next(pending, None)
    for k in range(end + 1):
        while nxt is not None and at[nxt] == k:
            out.append(recomputed[nxt])
            nxt = next(pending, None)
        if k < end:
            out.append(body[k])
    return out


def _target(s: gast.AST) -> str | None:
    if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(
            s.targets[0], gast.Name):
        return s.targets[0].id
    return None


def _operands(rhs: gast.AST) -> set[str] | None:
    """The names a cheap right-hand side reads, None for any other."""
    if isinstance(rhs, gast.Tuple):
        parts = rhs.elts
    elif isinstance(rhs, gast.BinOp) and isinstance(rhs.op, (gast.Add, gast.Sub, gast.Mult,
                                                                gast.Div)):
        parts = [rhs.left, rhs.right]
        if not any(isinstance(p, gast.Constant) for p in parts):
            return None  # of two values: costs a pass over the value, as saving it does not
    elif isinstance(rhs, gast.UnaryOp) and isinstance(rhs.op, gast.USub):
        parts = [rhs.operand]
    elif _is_join(rhs):
        parts = [*rhs.args, *(k.value for k in rhs.keywords)]
    else:
        return None
    if not all(isinstance(p, (gast.Name, gast.Constant)) for p in parts):
        return None
    return {p.id for p in parts if isinstance(p, gast.Name)}


def _is_join(rhs: gast.AST) -> bool:
    return isinstance(rhs, gast.Tuple) or isinstance(rhs, gast.Call) and any(
        primitive(rhs) is f for f in CHEAP)


def folded(undone: list[gast.AST], result: str | None, body: list[gast.AST]
           ) -> tuple[list[gast.AST], list[gast.AST]]:
    """`(undone, body)` with the undone values written out where the backward function
    multiplies by them: each undone value is a polynomial in the result `r` and `1 / r`
    (`d = 1.0 / r`, `e = d - 1.0 = 1/r - 1`), so a product of them (`g / d / d * e`) is one
    polynomial (`r - r*r`), written as a power of `r` times a polynomial with a constant term
    (`g * r * (1.0 - r)`). When every read of an undone value is such a product, the undoing
    statements go; otherwise nothing changes."""
    polys: dict[str, dict[int, float]] = {result: {1: 1.0}} if result else {}
    for s in undone:
        poly = _polynomial(s.value, polys)
        if poly is None:
            return undone, body
        polys[_target(s)] = poly
    names = set(polys) - {result}
    new = clone(body)
    rewrite = _Products(polys, result)
    new = [rewrite.statement(s) for s in new]
    if not rewrite.changed or any(isinstance(n, gast.Name) and n.id in names
                                  for n in astutil.walk(new)):
        return undone, body
    return [], new


def _polynomial(rhs: gast.AST, polys: dict[str, dict[int, float]]) -> dict[int, float] | None:
    """The polynomial (power of r -> coefficient) an undoing statement computes."""
    if isinstance(rhs, gast.UnaryOp) and isinstance(rhs.operand, gast.Name):
        p = polys.get(rhs.operand.id)
        return None if p is None else {k: -c for k, c in p.items()}
    if not isinstance(rhs, gast.BinOp):
        return None
    if isinstance(rhs.left, gast.Name) and isinstance(rhs.right, gast.Constant):
        p, c, first = polys.get(rhs.left.id), float(rhs.right.value), False
    elif isinstance(rhs.right, gast.Name) and isinstance(rhs.left, gast.Constant):
        p, c, first = polys.get(rhs.right.id), float(rhs.left.value), True
    else:
        return None
    if p is None:
        return None
    if isinstance(rhs.op, (gast.Add, gast.Sub)):
        sign = -1.0 if isinstance(rhs.op, gast.Sub) and first else 1.0
        out = {k: sign * v for k, v in p.items()}
        shift = c if not isinstance(rhs.op, gast.Sub) or first else -c
        out[0] = out.get(0, 0.0) + shift
        return {k: v for k, v in out.items() if v != 0.0}
    if isinstance(rhs.op, gast.Mult) or isinstance(rhs.op, gast.Div) and not first:
        scale = c if isinstance(rhs.op, gast.Mult) else 1.0 / c
        return {k: v * scale for k, v in p.items()}
    if isinstance(rhs.op, gast.Div) and len(p) == 1:  # c / (a r^k) = (c / a) r^-k
        (k, a), = p.items()
        return {-k: c / a}
    return None


class _Products:
    """Rewrites chains `a * b / c * ...` in which undone values are factors."""

    def __init__(self, polys: dict[str, dict[int, float]], result: str | None) -> None:
        self.polys, self.result, self.changed = polys, result, False

    def statement(self, s: gast.AST) -> gast.AST:
        for field in ("value", "test", "iter"):
            node = getattr(s, field, None)
            if isinstance(node, gast.AST):
                setattr(s, field, self.expression(node))
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and isinstance(s, gast.stmt):
                setattr(s, field, [self.statement(t) for t in inner])
        return s

    def expression(self, node: gast.AST) -> gast.AST:
        if isinstance(node, gast.BinOp) and isinstance(node.op, (gast.Mult, gast.Div)):
            factors: list[tuple[bool, gast.AST]] = []  # (divides, factor)
            head = node
            while isinstance(head, gast.BinOp) and isinstance(head.op, (gast.Mult, gast.Div)):
                factors.append((isinstance(head.op, gast.Div), head.right))
                head = head.left
            factors.append((False, head))
            factors.reverse()
            folded = self._fold(factors)
            if folded is not None:
                self.changed = True
                return folded
            for i, (divides, f) in enumerate(factors):
                factors[i] = (divides, self.expression(f))
            return _chain(factors)
        for key, value in list(node.__dict__.items()):
            if isinstance(value, gast.AST) and not isinstance(value, gast.expr_context):
                setattr(node, key, self.expression(value))
            elif isinstance(value, list):
                setattr(node, key, [self.expression(v) if isinstance(v, gast.AST) else v
                                    for v in value])
        return node

    def _fold(self, factors: list[tuple[bool, gast.AST]]) -> gast.AST | None:
        poly: dict[int, float] = {0: 1.0}
        rest: list[tuple[bool, gast.AST]] = []
        undone = False
        for divides, f in factors:
            p = self.polys.get(f.id) if isinstance(f, gast.Name) else None
            if p is None:
                rest.append((divides, self.expression(f)))
                continue
            undone |= f.id != self.result
            if divides:
                if len(p) != 1:
                    return None
                (k, a), = p.items()
                p = {-k: 1.0 / a}
            poly = _times(poly, p)
        if not undone or not poly or not rest or rest[0][0]:
            return None
        low = min(poly)
        shifted = {k - low: v for k, v in poly.items()}
        r = name(self.result)
        out = list(rest) + [(low < 0, r)] * abs(low)
        if shifted != {0: 1.0}:
            out.append((False, _horner(shifted, self.result)))
        return _chain(out)


def _times(p: dict[int, float], q: dict[int, float]) -> dict[int, float]:
    out: dict[int, float] = {}
    for i, a in p.items():
        for j, b in q.items():
            out[i + j] = out.get(i + j, 0.0) + a * b
    return {k: v for k, v in out.items() if v != 0.0}


def _horner(p: dict[int, float], r: str) -> gast.AST:
    """`c0 + r * (c1 + r * (...))` for a polynomial with a constant term (`1.0 - r`)."""
    top = max(p)
    expr: gast.AST = gast.Constant(value=p.get(top, 0.0), kind=None)
    for k in reversed(range(top)):
        term = expr if isinstance(expr, gast.Constant) and expr.value == 1.0 else None
        product = name(r) if term is not None else gast.BinOp(left=name(r), op=gast.Mult(),
                                                               right=expr)
        if isinstance(expr, gast.Constant) and expr.value == -1.0:
            product, negate = name(r), True
        else:
            negate = False
        c = p.get(k, 0.0)
        if c == 0.0:
            expr = gast.UnaryOp(op=gast.USub(), operand=product) if negate else product
        else:
            expr = gast.BinOp(left=gast.Constant(value=c, kind=None),
                              op=gast.Sub() if negate else gast.Add(), right=product)
    return expr


def _chain(factors: list[tuple[bool, gast.AST]]) -> gast.AST:
    expr = factors[0][1]
    for divides, f in factors[1:]:
        expr = gast.BinOp(left=expr, op=gast.Div() if divides else gast.Mult(), right=f)
    return expr
