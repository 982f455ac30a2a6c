"""Shape helpers replaced by plain NumPy where a variant's facts decide them.

The general derivative calls helpers that look at shapes at run time (`unbroadcast`,
`expand_to`, `reduced_count`, the `@` adjoints). In a variant specialised to its arguments'
shapes (`adgen.derive.shapes`) those decisions are constants: `unbroadcast(g, b)` with `b` of
the result's shape is `g`, with `b` of shape `(3,)` under a `(64, 3)` result it is
`np.sum(g, axis=0)`; `matmul_adjoint_a(g, W, h)` with `W` 2-d and `h` 1-d is
`np.outer(g, h)`. The adjoint of every value has that value's shape (the invariant the
general helpers keep), so the shape of `g` is the shape of the step's result.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import gast
import numpy as np

from adgen.codegen import astutil
from adgen.codegen.astutil import clone
from adgen.derive.shapes import Fact
from adgen.frontend.lower import const, name
from adgen.rules.numpy_products import matmul_adjoint_a, matmul_adjoint_b
from adgen.rules.numpy_reductions import expand_to, keep_dims, reduced_axes, reduced_count
from adgen.rules.numpy_shape import split_like
from adgen.runtime_forms import updated_item
from adgen.runtime_masks import inside, outside, unwritten

SPECIALISED_HELPERS = (matmul_adjoint_a, matmul_adjoint_b, expand_to, keep_dims, reduced_count,
                       split_like)
"""The rules' helpers a variant writes out in NumPy where the shapes are known."""


def _np(bindings: Any, attr: str) -> gast.AST:
    return gast.Attribute(value=name(bindings.bind("np", np)), attr=attr, ctx=gast.Load())


def _call(func: gast.AST, args: list[gast.AST], **keywords: gast.AST) -> gast.Call:
    return gast.Call(func=func, args=args,
                     keywords=[gast.keyword(arg=k, value=v) for k, v in keywords.items()])


def _tuple(values: tuple[int, ...]) -> gast.AST:
    return gast.Tuple(elts=[const(v) for v in values], ctx=gast.Load())


def _dtype(bindings: Any, fact: Fact) -> dict[str, gast.AST]:
    """The `dtype=` keyword a new adjoint array needs (none for float64)."""
    if fact.dtype is None or fact.dtype == np.float64 or fact.dtype.kind not in "fc":
        return {}
    return {"dtype": _np(bindings, fact.dtype.name)}


def shaped_zeros(bindings: Any, fact: Fact) -> gast.Call:
    """`np.zeros(shape)`: a new adjoint for an array of `fact`'s shape."""
    return _call(_np(bindings, "zeros"), [_tuple(fact.shape)], **_dtype(bindings, fact))


def summed_to(bindings: Any, g: gast.AST, result: tuple[int, ...],
              operand: tuple[int, ...]) -> gast.AST:
    """`g`, of the shape `result` broadcasting made, summed back to `operand`'s shape."""
    if result == operand:
        return g
    if not operand:
        return _call(_np(bindings, "sum"), [g])
    lead = len(result) - len(operand)
    ones = tuple(lead + i for i, n in enumerate(operand) if n == 1 and result[lead + i] != 1)
    axes = tuple(range(lead)) + ones
    axis = const(axes[0]) if len(axes) == 1 else _tuple(axes)
    total = _call(_np(bindings, "sum"), [g], axis=axis)
    if not ones:
        return total
    return _call(gast.Attribute(value=total, attr="reshape", ctx=gast.Load()),
                 [_tuple(operand)])


def _transposed(node: gast.AST) -> gast.AST:
    return gast.Attribute(value=node, attr="T", ctx=gast.Load())


def _matmul(a: gast.AST, b: gast.AST) -> gast.AST:
    return gast.BinOp(left=a, op=gast.MatMult(), right=b)


def _times(a: gast.AST, b: gast.AST) -> gast.AST:
    return gast.BinOp(left=a, op=gast.Mult(), right=b)


class Helpers:
    """Replaces helper calls in a filled template whose arguments' facts are known."""

    def __init__(self, bindings: Any, facts: Any, result: str | None = None) -> None:
        self.bindings, self.facts = bindings, facts
        self.result = result  # the step's target, whose adjoint the template reads

    def fact(self, node: gast.AST) -> Fact | None:
        f = self.facts.get(node.id) if isinstance(node, gast.Name) else None
        return f if f is not None and f.is_array else None

    def apply(self, expr: gast.AST) -> gast.AST:
        if not self.facts:
            return expr
        return _Rewriter(self).visit(expr)

    def replace(self, fn: Any, args: list[gast.AST]) -> gast.AST | None:
        if fn in (inside, outside, unwritten):
            return self._masked(fn, args)
        if fn is split_like and len(args) in (2, 3):
            return self._split(*args)
        if fn is matmul_adjoint_a and len(args) == 3:
            return self._matmul_a(*args)
        if fn is matmul_adjoint_b and len(args) == 3:
            return self._matmul_b(*args)
        if fn in (expand_to, keep_dims, reduced_count):
            x = self.fact(args[1] if fn is not reduced_count else args[0])
            rest = args[2:] if fn is not reduced_count else args[1:]
            if x is None or any(not _constant(a) for a in rest):
                return None
            axis = _value(rest[0]) if rest else None
            keepdims = _value(rest[1]) if len(rest) > 1 else False
            axes = reduced_axes(axis, len(x.shape))
            if fn is reduced_count:
                return const(math.prod(x.shape[i] for i in axes))
            g = args[0]
            if not keepdims and axis is not None:
                g = _call(_np(self.bindings, "expand_dims"), [g], axis=_tuple(tuple(axes)))
            if fn is keep_dims:
                return g
            if axis is None and not keepdims:
                return _call(_np(self.bindings, "full"), [_tuple(x.shape), g],
                             **_dtype(self.bindings, x))
            return _call(_np(self.bindings, "broadcast_to"), [g, _tuple(x.shape)])
        return None

    def _masked(self, fn: Any, args: list[gast.AST]) -> gast.AST | None:
        """`inside(c, x, 1.0)` is `np.where(c, x, 1.0)` where the facts show that `c` lines up
        with `x` (`outside`: `np.where(c, 1.0, x)`; `unwritten`: `c` of `x`'s shape)."""
        if len(args) != (4 if fn is unwritten else 3):
            return None
        mask, value = _shape_of(self, args[0]), _shape_of(self, args[1])
        if mask is None or value is None or not mask:
            return None
        if fn is unwritten:
            written = self.fact(args[3])
            if written is None or not mask == value == written.shape:
                return None
        elif np.broadcast_shapes(mask, value) != value:
            return None
        picked = [args[1], args[2]] if fn is inside else [args[2], args[1]]
        out = _call(_np(self.bindings, "where"), [args[0], *picked])
        out.adgen_shape = value
        return out

    def _split(self, g: gast.AST, xs: gast.AST, axis: gast.AST = None) -> gast.AST | None:
        """`split_like(g, xs, axis)`, the adjoint of a join of arrays of known shapes, as
        the list of `g`'s slices along the axis (views, as the pieces `split_like` cuts)."""
        joined = self.facts.get(xs.id) if isinstance(xs, gast.Name) else None
        axis_value = 0 if axis is None else axis.value if isinstance(axis, gast.Constant) else None
        if (not isinstance(g, gast.Name) or joined is None or joined.kind != "tuple_of"
                or type(axis_value) is not int or not joined.items):
            return None
        items = joined.items
        if not all(isinstance(f, Fact) and f.is_array and f.shape for f in items):
            return None
        rank = len(items[0].shape)
        if any(len(f.shape) != rank for f in items) or not -rank <= axis_value < rank:
            return None
        axis_value %= rank
        whole = self.fact(name(self.result)) if self.result is not None else None
        if whole is None or len(whole.shape) != rank or whole.shape[axis_value] != sum(
                f.shape[axis_value] for f in items):  # a join that adds axes (`vstack`)
            return None
        pieces, start = [], 0
        for f in items:
            stop = start + f.shape[axis_value]
            cut = gast.Slice(lower=const(start), upper=const(stop), step=None)
            index = cut if axis_value == 0 else gast.Tuple(
                elts=[gast.Slice(lower=None, upper=None, step=None)
                      for _ in range(axis_value)] + [cut],
                ctx=gast.Load())
            pieces.append(gast.Subscript(value=clone(g), slice=index, ctx=gast.Load()))
            start = stop
        return gast.List(elts=pieces, ctx=gast.Load())  # a list, as `split_like` gives

    def _matmul_a(self, g: gast.AST, a: gast.AST, b: gast.AST) -> gast.AST | None:
        fa, fb = self.fact(a), self.fact(b)
        if fa is None or fb is None:
            return None
        shapes = (len(fa.shape), len(fb.shape))
        if shapes == (2, 2):
            return _matmul(g, _transposed(clone(b)))
        if shapes == (2, 1):
            return _call(_np(self.bindings, "outer"), [g, clone(b)])
        if shapes == (1, 2):
            return _matmul(clone(b), g)
        if shapes == (1, 1):
            return _times(g, clone(b))
        return None

    def _matmul_b(self, g: gast.AST, a: gast.AST, b: gast.AST) -> gast.AST | None:
        fa, fb = self.fact(a), self.fact(b)
        if fa is None or fb is None:
            return None
        shapes = (len(fa.shape), len(fb.shape))
        if shapes in ((2, 2), (2, 1)):
            return _matmul(_transposed(clone(a)), g)
        if shapes == (1, 2):
            return _call(_np(self.bindings, "outer"), [clone(a), g])
        if shapes == (1, 1):
            return _times(g, clone(a))
        return None


def _shape_of(helpers: Helpers, node: gast.AST) -> tuple[int, ...] | None:
    """The shape of a name with an array fact, of a `np.where` `_masked` wrote, or of a
    comparison of such names (the condition `v == x` of a clip)."""
    shape = getattr(node, "adgen_shape", None)
    if shape is not None:
        return shape
    if isinstance(node, gast.Compare) and len(node.comparators) == 1:
        sides = [helpers.fact(n) for n in (node.left, node.comparators[0])
                 if not isinstance(n, gast.Constant)]
        if not sides or None in sides:
            return None
        try:
            return np.broadcast_shapes(*(f.shape for f in sides))
        except ValueError:
            return None
    fact = helpers.fact(node)
    return None if fact is None else fact.shape


def _constant(node: gast.AST) -> bool:
    if isinstance(node, gast.Constant):
        return True
    return isinstance(node, gast.Tuple) and all(_constant(e) for e in node.elts)


def _value(node: gast.AST) -> Any:
    if isinstance(node, gast.Tuple):
        return tuple(_value(e) for e in node.elts)
    return node.value


class _Rewriter(gast.NodeTransformer):
    def __init__(self, helpers: Helpers) -> None:
        self.helpers = helpers

    def visit_Call(self, node: gast.Call) -> gast.AST:
        self.generic_visit(node)
        if isinstance(node.func, gast.Name) and not node.keywords:
            fn = self.helpers.bindings.names.get(node.func.id)
            if fn is not None:
                new = self.helpers.replace(fn, list(node.args))
                if new is not None:
                    return new
        return node


def fold_fills(bindings: Any, facts: Any, body: list[gast.AST]) -> list[gast.AST]:
    """`t = np.full(shape, s)` read once, by an arithmetic operation whose other operand is a
    float64 array of that shape by the facts (`ynorm_bar = y * t`, the adjoint of a sum):
    the operation reads `s` instead (`y * s`, the same values, no array filled)."""
    loads: list[str] = []
    astutil.name_lists(body, loads, [])
    once = {n for n, k in Counter(loads).items() if k == 1}
    for block in _blocks(body):
        for k in reversed(range(len(block))):
            fill = _fill(bindings, block[k], once)
            if fill is not None and _fold_into(block, k, fill, facts):
                del block[k]
    return body


def drop_passing_checks(bindings: Any, facts: Any, body: list[gast.AST]) -> list[gast.AST]:
    """The run-time checks the facts show pass: `updated_item(c, ...)` of a `c` the variant
    knows to be an array (an array's element update is a write the trace follows; the check
    refuses only a list's or a dict's item changed in place). Run per step of a loop, it would
    cost as much as the update."""
    for block in _blocks(body):
        block[:] = [s for s in block if not _passing_check(bindings, facts, s)]
    return body


def _passing_check(bindings: Any, facts: Any, s: gast.AST) -> bool:
    if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call)
            and isinstance(s.value.func, gast.Name) and s.value.args
            and bindings.names.get(s.value.func.id) is updated_item
            and isinstance(s.value.args[0], gast.Name)):
        return False
    fact = facts.get(s.value.args[0].id)
    return isinstance(fact, Fact) and fact.is_array


def _blocks(body: list[gast.AST]) -> Iterator[list[gast.AST]]:
    """Every statement list in `body` (the body itself first)."""
    todo = [body]
    while todo:
        block = todo.pop()
        yield block
        for s in block:
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and inner and isinstance(s, gast.stmt):
                    todo.append(inner)
            for handler in getattr(s, "handlers", ()):
                todo.append(handler.body)


def _fill(bindings: Any, s: gast.AST, once: set[str]) -> tuple[str, tuple, gast.AST] | None:
    """`(t, shape, s)` of `t = np.full(shape, s)` with a constant shape, `t` read once."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1
            and isinstance(s.targets[0], gast.Name) and s.targets[0].id in once):
        return None
    call = s.value
    if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute)
            and call.func.attr == "full" and isinstance(call.func.value, gast.Name)
            and bindings.names.get(call.func.value.id) is np and len(call.args) == 2
            and not call.keywords and isinstance(call.args[0], gast.Tuple)
            and isinstance(call.args[1], (gast.Name, gast.Constant))
            and all(_constant(e) for e in call.args[0].elts)):
        return None
    shape = tuple(e.value for e in call.args[0].elts)
    return s.targets[0].id, shape, call.args[1]


def _fold_into(block: list[gast.AST], k: int, fill: tuple, facts: Any) -> bool:
    """Replace the one read of the filled array in a later statement of `block`, when it is
    an operand of `+ - * /` beside a float64 array of its shape and nothing between assigns
    the fill value's name."""
    target, shape, value = fill
    reads = {value.id} if isinstance(value, gast.Name) else set()
    for s in block[k + 1:]:
        simple = isinstance(s, (gast.Assign, gast.AugAssign, gast.Return, gast.Expr))
        for n in astutil.walk(s) if simple else ():
            if isinstance(n, gast.BinOp) and isinstance(n.op, (gast.Add, gast.Sub, gast.Mult,
                                                                gast.Div)):
                for mine, other in (("left", n.right), ("right", n.left)):
                    here = getattr(n, mine)
                    if isinstance(here, gast.Name) and here.id == target:
                        fact = facts.get(other.id) if isinstance(other, gast.Name) else None
                        if (fact is None or not fact.is_array or fact.shape != shape
                                or fact.dtype != np.float64):
                            return False
                        setattr(n, mine, clone(value))
                        return True
        if target in astutil.loads(s) or reads & astutil.statement_stores([s]):
            return False
    return False
