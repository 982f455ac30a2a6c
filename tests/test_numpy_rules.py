"""The NumPy rule templates, called directly as Python functions.

A template is an ordinary function: given the primal result `y`, the primal arguments and the
tangents (or `y_bar`), it returns the tangent (or the adjoint contributions). Each `Case`
below names a primitive, builds its arguments and keywords, and is checked four ways:

1. the tangent against central differences of the primitive itself (float64);
2. the adjoint against the tangent by the dot-product test <J v, w> = <v, J^T w>, with every
   contribution shaped like its argument;
3. in float32: tangents come out in the result's dtype (unless a Python-float argument has
   a Python-float tangent, which may promote) and contributions in the argument's dtype, and
   agree with the float64 numbers;
4. for 0-d results, a Python-float `y_bar` (the seed `grad` uses) does not upcast float32.

Arguments that are float arrays, floats, or lists of them are differentiated; the others
(None bounds, integer repeats, boolean conditions) get the zero tangent `0.0`. Value tests
at the end pin the documented conventions: ties, zeros in `prod`, kinks, lists.
"""

from __future__ import annotations

import inspect
import operator
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from adgen.rules import lookup
from adgen.rules import numpy_linalg as la
from adgen.rules import numpy_products as pr
from adgen.rules import numpy_reductions as red
from adgen.rules import numpy_shape as sh
from adgen.rules.numpy_products import einsum_spec
from adgen.rules.numpy_shape import fill_zeros

# ---------------------------------------------------------------- argument builders


def normal(*shape):
    return lambda rng: rng.standard_normal(shape)


def positive(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def unit(*shape):
    return lambda rng: rng.uniform(-0.9, 0.9, shape)


def above_one(*shape):
    return lambda rng: rng.uniform(1.2, 3.0, shape)


def away_from_zero(*shape):
    return lambda rng: rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)


def invertible(*shape):
    n = shape[-1]
    return lambda rng: rng.standard_normal(shape) + n * np.eye(n)


def const(value):
    return lambda rng: value


def mask(*shape):
    return lambda rng: rng.uniform(size=shape) > 0.5


def listed(*builders):
    return lambda rng: [b(rng) for b in builders]


@dataclass
class Case:
    """One primitive call: `prim(*args, **kwargs)`; `args` are builders taking an rng, or
    plain values (axes, shapes, orders) used as they are."""

    id: str
    prim: Any
    args: tuple[Callable, ...]
    kwargs: dict = field(default_factory=dict)

    def build(self) -> list:
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        return [make(rng) if callable(make) else make for make in self.args]


def c(id_, prim, *args, **kwargs):
    return Case(id_, prim, args, kwargs)


UNARY = [
    (np.exp, normal), (np.log, positive), (np.log1p, positive), (np.log2, positive),
    (np.log10, positive), (np.expm1, normal), (np.exp2, normal), (np.sqrt, positive),
    (np.cbrt, away_from_zero), (np.square, normal), (np.reciprocal, away_from_zero),
    (np.negative, normal), (np.positive, normal), (np.sin, normal), (np.cos, normal),
    (np.tan, unit), (np.arcsin, unit), (np.arccos, unit), (np.arctan, normal),
    (np.sinh, normal), (np.cosh, normal), (np.tanh, normal), (np.arcsinh, normal),
    (np.arccosh, above_one), (np.arctanh, unit), (np.absolute, away_from_zero),
    (np.fabs, away_from_zero),
]

ELEMENTWISE = [c(f"{f.__name__}", f, make(3, 4)) for f, make in UNARY] + [
    c("sin-0d", np.sin, normal()),
    c("exp-python-float", np.exp, const(0.3)),
    c("add-broadcast", np.add, normal(3, 4), normal(4)),
    c("subtract-broadcast", np.subtract, normal(2, 1, 4), normal(3, 1)),
    c("multiply-broadcast", np.multiply, normal(3, 4), normal(3, 1)),
    c("multiply-scalar", np.multiply, normal(3, 4), const(2.5)),
    c("divide-broadcast", np.divide, normal(3, 4), away_from_zero(4)),
    c("true_divide", np.true_divide, away_from_zero(4), away_from_zero(3, 4)),
    c("power-both", np.power, positive(3, 4), normal(4)),
    c("power-constant", np.power, positive(3, 4), const(3.0)),
    c("arctan2-broadcast", np.arctan2, normal(3, 4), normal(3, 1)),
    c("hypot", np.hypot, away_from_zero(3, 4), normal(4)),
    c("logaddexp", np.logaddexp, normal(3, 4), normal(4)),
    c("logaddexp2", np.logaddexp2, normal(3, 1), normal(4)),
    c("maximum", np.maximum, normal(3, 4), normal(4)),
    c("minimum", np.minimum, normal(3, 4), normal(3, 1)),
    c("fmax", np.fmax, normal(3, 4), normal(4)),
    c("fmin", np.fmin, normal(4), normal(3, 4)),
    c("where", np.where, mask(3, 4), normal(3, 4), normal(4)),
    c("where-constant", np.where, mask(3, 4), normal(3, 4), const(0.0)),
    c("clip-scalars", np.clip, normal(3, 4), const(-0.5), const(0.5)),
    c("clip-arrays", np.clip, normal(3, 4), unit(4), above_one(3, 1)),
    c("clip-upper-only", np.clip, normal(3, 4), const(None), const(0.3)),
    c("ndarray.clip", "ndarray.clip", normal(3, 4), const(-0.5), const(0.5)),
]

SHAPE = (2, 3, 4)
REDUCTION_KWARGS = [{}, {"axis": 0}, {"axis": -1, "keepdims": True}, {"axis": (0, 2)},
                    {"axis": None, "keepdims": True}]

REDUCTIONS = [
    c(f"{name}-{i}", prim, normal(*SHAPE), **kw)
    for name, prim in [("sum", np.sum), ("mean", np.mean), ("prod", np.prod),
                       ("max", np.max), ("min", np.min), ("amax", np.amax), ("amin", np.amin),
                       ("var", np.var), ("std", np.std), ("ndarray.sum", "ndarray.sum"),
                       ("ndarray.mean", "ndarray.mean"), ("ndarray.max", "ndarray.max"),
                       ("ndarray.min", "ndarray.min"), ("ndarray.prod", "ndarray.prod"),
                       ("ndarray.var", "ndarray.var"), ("ndarray.std", "ndarray.std")]
    for i, kw in enumerate(REDUCTION_KWARGS)
] + [
    c("var-ddof", np.var, normal(*SHAPE), axis=1, ddof=1),
    c("std-ddof", np.std, normal(*SHAPE), axis=(0, 1), ddof=1, keepdims=True),
    c("ndarray.std-ddof", "ndarray.std", normal(5), ddof=1),
    c("prod-one-zero", np.prod, const(np.array([[2.0, 0.0, 3.0], [1.5, -1.0, 0.5]])), axis=1),
    c("prod-two-zeros", np.prod, const(np.array([0.0, 2.0, 0.0, 3.0]))),
    c("cumsum-flat", np.cumsum, normal(3, 4)),
    c("cumsum-axis", np.cumsum, normal(3, 4), axis=0),
    c("ndarray.cumsum", "ndarray.cumsum", normal(2, 3, 4), axis=-1),
    c("logsumexp-0", np.logaddexp.reduce, normal(3, 4)),
    c("logsumexp-none", np.logaddexp.reduce, normal(3, 4), axis=None),
    c("logsumexp-keepdims", np.logaddexp.reduce, normal(*SHAPE), axis=(0, 2), keepdims=True),
    c("sum-0d", np.sum, normal()),
]

LINALG = [
    c("matmul-2d", np.matmul, normal(3, 4), normal(4, 5)),
    c("matmul-vec-mat", np.matmul, normal(4), normal(4, 5)),
    c("matmul-mat-vec", np.matmul, normal(3, 4), normal(4)),
    c("matmul-vec-vec", np.matmul, normal(4), normal(4)),
    c("matmul-batch", np.matmul, normal(2, 3, 4), normal(4, 5)),
    c("matmul-batch-broadcast", np.matmul, normal(2, 1, 3, 4), normal(5, 4, 2)),
    c("matmul-vec-batch", np.matmul, normal(4), normal(2, 4, 3)),
    c("matmul-batch-vec", np.matmul, normal(2, 3, 4), normal(4)),
    c("operator.matmul", operator.matmul, normal(3, 4), normal(2, 4, 5)),
    c("dot-2d", np.dot, normal(3, 4), normal(4, 5)),
    c("dot-vec", np.dot, normal(4), normal(4)),
    c("dot-mat-vec", np.dot, normal(3, 4), normal(4)),
    c("dot-nd", np.dot, normal(2, 3, 4), normal(5, 4, 2)),
    c("dot-scalar", np.dot, const(1.5), normal(3, 2)),
    c("ndarray.dot", "ndarray.dot", normal(3, 4), normal(4)),
    c("inner-vec", np.inner, normal(4), normal(4)),
    c("inner-nd", np.inner, normal(2, 3, 4), normal(5, 4)),
    c("outer", np.outer, normal(3), normal(4)),
    c("outer-flattens", np.outer, normal(2, 3), normal(4)),
    c("tensordot-2", np.tensordot, normal(2, 3, 4), normal(3, 4, 5)),
    c("tensordot-1", np.tensordot, normal(2, 3), normal(3, 4), 1),
    c("tensordot-pairs", np.tensordot, normal(3, 4, 5), normal(5, 3), ([0, 2], [1, 0])),
    c("tensordot-ints", np.tensordot, normal(3, 4), normal(4, 2), (1, 0)),
    c("tensordot-0", np.tensordot, normal(2), normal(3), 0),
    c("einsum-matmul", np.einsum, const("ij,jk->ik"), normal(3, 4), normal(4, 5)),
    c("einsum-diag", np.einsum, const("ii->i"), normal(3, 3)),
    c("einsum-trace", np.einsum, const("ii"), normal(3, 3)),
    c("einsum-sum", np.einsum, const("ij->"), normal(3, 4)),
    c("einsum-colsum", np.einsum, const("ij->j"), normal(3, 4)),
    c("einsum-dot", np.einsum, const("i,i->"), normal(4), normal(4)),
    c("einsum-outer", np.einsum, const("i,j->ij"), normal(3), normal(4)),
    c("einsum-batch", np.einsum, const("bij,bjk->bik"), normal(2, 3, 4), normal(2, 4, 5)),
    c("einsum-ellipsis", np.einsum, const("...ij,...jk->...ik"), normal(2, 3, 4), normal(4, 5)),
    c("einsum-ellipsis-broadcast", np.einsum, const("...i,...i->..."), normal(2, 1, 4),
      normal(3, 4)),
    c("einsum-implicit", np.einsum, const("ij,j"), normal(3, 4), normal(4)),
    c("einsum-three", np.einsum, const("ij,jk,kl->il"), normal(2, 3), normal(3, 4), normal(4, 2)),
    c("einsum-four", np.einsum, const("i,i,i,i->"), normal(3), normal(3), normal(3), normal(3)),
    c("trace", np.trace, normal(3, 3)),
    c("trace-offset", np.trace, normal(3, 4), 1),
    c("trace-axes", np.trace, normal(2, 3, 3), 0, 1, 2),
    c("ndarray.trace", "ndarray.trace", normal(4, 3), -1),
    c("norm", np.linalg.norm, normal(5)),
    c("norm-frobenius", np.linalg.norm, normal(3, 4)),
    c("norm-fro", np.linalg.norm, normal(3, 4), "fro"),
    c("norm-axis", np.linalg.norm, normal(3, 4), axis=1),
    c("norm-axes-keepdims", np.linalg.norm, normal(2, 3, 4), axis=(0, 2), keepdims=True),
    c("norm-1", np.linalg.norm, away_from_zero(5), 1),
    c("norm-inf", np.linalg.norm, normal(5), np.inf),
    c("norm-3", np.linalg.norm, away_from_zero(3, 4), 3, axis=0),
    c("det", np.linalg.det, invertible(3, 3)),
    c("det-batch", np.linalg.det, invertible(2, 3, 3)),
    c("inv", np.linalg.inv, invertible(3, 3)),
    c("inv-batch", np.linalg.inv, invertible(2, 3, 3)),
    c("solve-vec", np.linalg.solve, invertible(3, 3), normal(3)),
    c("solve-mat", np.linalg.solve, invertible(3, 3), normal(3, 2)),
    c("solve-batch", np.linalg.solve, invertible(2, 3, 3), normal(2, 3, 2)),
    c("solve-batch-vec", np.linalg.solve, invertible(2, 3, 3), normal(3)),
    c("solve-broadcast-a", np.linalg.solve, invertible(3, 3), normal(2, 3, 2)),
]

SHAPES = [
    c("reshape", np.reshape, normal(2, 3, 4), (6, 4)),
    c("reshape-minus-one", np.reshape, normal(2, 3, 4), (-1,)),
    c("reshape-order-F", np.reshape, normal(2, 3, 4), (4, 6), "F"),
    c("ndarray.reshape-tuple", "ndarray.reshape", normal(2, 3, 4), const((3, 8))),
    c("ndarray.reshape-minus-one", "ndarray.reshape", normal(2, 3, 4), const(-1)),
    c("transpose", np.transpose, normal(2, 3, 4)),
    c("transpose-axes", np.transpose, normal(2, 3, 4), (1, 2, 0)),
    c("transpose-negative-axes", np.transpose, normal(2, 3, 4), (-1, 0, 1)),
    c("ndarray.transpose", "ndarray.transpose", normal(2, 3, 4)),
    c("ndarray.transpose-tuple", "ndarray.transpose", normal(2, 3, 4), const((2, 0, 1))),
    c("ndarray.T", "ndarray.T", normal(3, 4)),
    c("swapaxes", np.swapaxes, normal(2, 3, 4), 0, -1),
    c("ndarray.swapaxes", "ndarray.swapaxes", normal(2, 3, 4), const(1), const(2)),
    c("moveaxis", np.moveaxis, normal(2, 3, 4), 0, -1),
    c("moveaxis-many", np.moveaxis, normal(2, 3, 4), (0, 1), (2, 0)),
    c("expand_dims", np.expand_dims, normal(3, 4), 1),
    c("expand_dims-many", np.expand_dims, normal(3, 4), (0, 3)),
    c("squeeze", np.squeeze, normal(1, 3, 1, 4)),
    c("squeeze-axis", np.squeeze, normal(1, 3, 1, 4), 2),
    c("ndarray.squeeze", "ndarray.squeeze", normal(1, 3, 1)),
    c("ravel", np.ravel, normal(2, 3, 4)),
    c("ravel-F", np.ravel, normal(2, 3), "F"),
    c("ndarray.ravel", "ndarray.ravel", normal(2, 3)),
    c("ndarray.flatten", "ndarray.flatten", normal(2, 3)),
    c("copy", np.copy, normal(2, 3)),
    c("ndarray.copy", "ndarray.copy", normal(2, 3)),
    c("flip", np.flip, normal(2, 3, 4)),
    c("flip-axis", np.flip, normal(2, 3, 4), 1),
    c("sort", np.sort, normal(3, 4)),
    c("sort-axis0", np.sort, normal(3, 4), 0),
    c("sort-flat", np.sort, normal(3, 4), None),
    c("broadcast_to", np.broadcast_to, normal(4), (3, 4)),
    c("broadcast_to-inner", np.broadcast_to, normal(3, 1), (2, 3, 4)),
    c("tile", np.tile, normal(3), 2),
    c("tile-promotes", np.tile, normal(2, 3), (2, 1, 3)),
    c("repeat-flat", np.repeat, normal(2, 3), 2),
    c("repeat-axis", np.repeat, normal(2, 3), 3, 1),
    c("repeat-array", np.repeat, normal(3, 2), np.array([2, 0, 1]), 0),
    c("ndarray.repeat", "ndarray.repeat", normal(2, 3), const(2), const(0)),
    c("full", np.full, const((3, 4)), normal()),
    c("full-broadcast", np.full, const((3, 4)), normal(4)),
    c("full_like", np.full_like, normal(3, 4), normal()),
    c("astype", "ndarray.astype", normal(3, 4), const(np.float64)),
    c("float64", np.float64, normal()),
    c("array-list", np.array, listed(normal(3), normal(3))),
    c("array-nested", np.array, listed(listed(normal(), normal()), listed(normal(), normal()))),
    c("array-of-array", np.array, normal(3, 2)),
    c("asarray", np.asarray, normal(3, 2)),
    c("concatenate", np.concatenate, listed(normal(2, 3), normal(4, 3))),
    c("concatenate-axis1", np.concatenate, listed(normal(2, 3), normal(2, 1), normal(2, 2)), 1),
    c("concatenate-flat", np.concatenate, listed(normal(2, 3), normal(4)), None),
    c("stack", np.stack, listed(normal(2, 3), normal(2, 3))),
    c("stack-last", np.stack, listed(normal(2, 3), normal(2, 3), normal(2, 3)), -1),
    c("hstack-1d", np.hstack, listed(normal(3), normal(2), normal())),
    c("hstack-2d", np.hstack, listed(normal(2, 3), normal(2, 1))),
    c("vstack", np.vstack, listed(normal(3), normal(2, 3))),
    c("split", np.split, normal(6, 4), 3),
    c("split-indices", np.split, normal(3, 6), [1, 4], 1),
    c("array_split", np.array_split, normal(7), 3),
]

# Helpers that generated code calls carry rules of their own (so that derivative code can be
# differentiated again); their arguments are (cotangent, primal values...).
HELPERS = [
    c("expand_to", red.expand_to, normal(2, 4), normal(2, 3, 4), 1),
    c("expand_to-keepdims", red.expand_to, normal(1, 3, 1), normal(2, 3, 4), (0, 2), True),
    c("keep_dims", red.keep_dims, normal(2, 4), normal(2, 3, 4), 1),
    c("centered", red.centered, normal(3, 4), 0),
    c("cumsum_adjoint-flat", red.cumsum_adjoint, normal(12), normal(3, 4)),
    c("cumsum_adjoint-axis", red.cumsum_adjoint, normal(3, 4), normal(3, 4), 1),
    c("matmul_adjoint_a", pr.matmul_adjoint_a, normal(2, 3, 5), normal(3, 4), normal(2, 4, 5)),
    c("matmul_adjoint_a-vec", pr.matmul_adjoint_a, normal(5), normal(4), normal(4, 5)),
    c("matmul_adjoint_b", pr.matmul_adjoint_b, normal(2, 3, 5), normal(3, 4), normal(2, 4, 5)),
    c("matmul_adjoint_b-vec", pr.matmul_adjoint_b, normal(3), normal(3, 4), normal(4)),
    c("tensordot_adjoint_a", pr.tensordot_adjoint_a, normal(4), normal(3, 4, 5), normal(5, 3),
      ([0, 2], [1, 0])),
    c("tensordot_adjoint_b", pr.tensordot_adjoint_b, normal(4), normal(3, 4, 5), normal(5, 3),
      ([0, 2], [1, 0])),
    c("contract", pr.contract, normal(2, 3), normal(3, 4), 1),
    c("einsum_term", pr.einsum_term, const("ij,jk->ik"), normal(3, 4), normal(4, 5)),
    c("einsum_adjoint-1", pr.einsum_adjoint, normal(3, 5), const("ij,jk->ik"), 1, normal(3, 4),
      normal(4, 5)),
    c("einsum_adjoint-2", pr.einsum_adjoint, normal(3), const("ij,j,k->i"), 2, normal(3, 4),
      normal(4), normal(2)),
    c("trace_adjoint", la.trace_adjoint, normal(2), normal(2, 3, 3), 0, 1, 2),
    c("solve_like", la.solve_like, normal(3, 2), invertible(3, 3), normal(3, 2)),
    c("solve_like-vec", la.solve_like, normal(2, 3), invertible(2, 3, 3), normal(3)),
    c("matmul_like", la.matmul_like, normal(3, 3), normal(3), normal(3)),
    c("matmul_like-mat", la.matmul_like, normal(2, 3, 3), normal(2, 3, 2), normal(3, 2)),
    c("outer_like", la.outer_like, normal(3), normal(3), normal(3, 3), normal(3)),
    c("outer_like-mat", la.outer_like, normal(3, 2), normal(3, 2), normal(3, 3), normal(3, 2)),
    c("cast_like", sh.cast_like, normal(3), normal(3)),
    c("tile_adjoint", sh.tile_adjoint, normal(2, 6), normal(3), (2, 2)),
    c("repeat_adjoint-flat", sh.repeat_adjoint, normal(12), normal(2, 3), 2),
    c("repeat_adjoint-axis", sh.repeat_adjoint, normal(2, 6), normal(2, 3), 2, 1),
    c("repeat_adjoint-array", sh.repeat_adjoint, normal(3, 2), normal(3, 2), np.array([2, 0, 1]),
      0),
    c("take_sorted", sh.take_sorted, normal(3, 4), normal(3, 4)),
    c("take_sorted-flat", sh.take_sorted, normal(3, 4), normal(3, 4), None),
    c("put_sorted", sh.put_sorted, normal(3, 4), normal(3, 4), 0),
]

CASES = ELEMENTWISE + REDUCTIONS + LINALG + SHAPES + HELPERS

# ---------------------------------------------------------------- the harness


def call(prim, args, kwargs):
    """Evaluate a primitive: a function, or a method/attribute given as "ndarray.<name>"."""
    if isinstance(prim, str):
        name = prim.split(".", 1)[1]
        if name == "T":
            return args[0].T
        return getattr(args[0], name)(*args[1:], **kwargs)
    return prim(*args, **kwargs)


def is_float(x):
    if isinstance(x, (list, tuple)):
        return bool(x) and all(is_float(v) for v in x)
    return isinstance(x, float) or (
        isinstance(x, (np.ndarray, np.floating)) and np.issubdtype(np.result_type(x), np.floating))


def tree_map(f, *xs):
    if isinstance(xs[0], (list, tuple)):
        return type(xs[0])(tree_map(f, *parts) for parts in zip(*xs, strict=True))
    return f(*xs)


def leaves(x):
    return [leaf for v in x for leaf in leaves(v)] if isinstance(x, (list, tuple)) else [x]


def inner(a, b):
    return sum(float(np.sum(np.asarray(u, np.float64) * np.asarray(v, np.float64)))
               for u, v in zip(leaves(a), leaves(b), strict=True))


def random_like(rng, x, dtype):
    def make(v):
        if isinstance(v, float):
            return float(rng.standard_normal())
        return np.asarray(rng.standard_normal(np.shape(v))).astype(dtype)[()]
    return tree_map(make, x)


def cast(x, dtype):
    def one(v):
        if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating):
            return v.astype(dtype)
        if isinstance(v, np.floating):
            return dtype(v)
        return v
    return tree_map(one, x) if isinstance(x, (list, tuple)) else one(x)


def bound_names(template, args, kwargs):
    """The template's names for the call's positional arguments and which are differentiable."""
    bound = inspect.signature(template).bind_partial(None, *args, **kwargs).arguments
    names = [n for n, p in inspect.signature(template).parameters.items()
             if p.kind == p.POSITIONAL_OR_KEYWORD][1:]
    return names, bound


def differentiable_params(rule, names):
    """The parameters a tangent template takes a `<param>_dot` for (the first, if linear)."""
    if rule.tangent is None:
        return [names[0]]
    return [n[: -len("_dot")] for n, p in inspect.signature(rule.tangent).parameters.items()
            if p.kind == p.KEYWORD_ONLY]


@dataclass
class Run:
    """One evaluation of a case's templates at a point, in one dtype."""

    y: Any
    tangent: Any
    contributions: dict[str, Any]
    v: dict[str, Any]
    w: Any


def run(case: Case, dtype=np.float64, python_seed=False) -> Run:
    args = [cast(a, dtype) for a in case.build()]
    rule = lookup(case.prim)
    assert rule is not None and rule.adjoint is not None, case.prim
    y = call(case.prim, args, case.kwargs)
    rng = np.random.default_rng(zlib.crc32(case.id.encode()) + 1)
    names, bound = bound_names(rule.adjoint, args, case.kwargs)
    differentiable = differentiable_params(rule, names)
    active = [n for n in names if n in bound and n in differentiable and is_float(bound[n])]
    v = {n: random_like(rng, bound[n], dtype) for n in active}
    if rule.tangent is not None:
        t = rule.tangent(y, *args, **case.kwargs,
                         **{f"{n}_dot": v.get(n, 0.0) for n in differentiable})
    else:
        t = call(case.prim, [v[names[0]], *args[1:]], case.kwargs)
    w = random_like(rng, y, dtype)
    if python_seed:
        w = float(w)
    out = rule.adjoint(y, *args, **case.kwargs, y_bar=w)
    out = out if isinstance(out, tuple) else (out,)
    contributions = {n: part for n, part in zip(names, out, strict=False) if n in active}
    return Run(y, t, contributions, v, w)


def central_difference(case: Case, v: dict[str, Any], h=1e-6):
    args = case.build()
    names, bound = bound_names(lookup(case.prim).adjoint, args, case.kwargs)

    def at(step):
        moved = list(args)
        for i, n in enumerate(names[: len(args)]):
            if n in v:
                moved[i] = tree_map(lambda x, d: x + step * d, args[i], v[n])
        return call(case.prim, moved, case.kwargs)

    return tree_map(lambda p, m: (np.asarray(p) - np.asarray(m)) / (2 * h), at(h), at(-h))


def assert_close(actual, expected, rtol, what):
    for a, e in zip(leaves(actual), leaves(expected), strict=True):
        scale = max(1.0, float(np.max(np.abs(e)))) if np.size(e) else 1.0
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(e, np.float64),
                                   rtol=rtol, atol=rtol * scale, err_msg=what)


def dtype_of(x):
    return np.result_type(x) if not isinstance(x, float) else np.dtype(np.float64)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_tangent_matches_central_differences(case):
    r = run(case)
    assert_close(r.tangent, central_difference(case, r.v), 1e-6, "tangent vs differences")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_adjoint_passes_the_dot_product_test(case):
    r = run(case)
    assert set(r.contributions) == set(r.v), "one contribution per differentiable argument"
    for n, part in r.contributions.items():
        for piece, arg in zip(leaves(part), leaves(r.v[n]), strict=True):
            assert np.shape(piece) == np.shape(arg), n
    lhs = inner(r.tangent, r.w)
    rhs = sum(inner(r.v[n], r.contributions[n]) for n in r.v)
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_float32_stays_float32(case):
    r64, r32 = run(case), run(case, np.float32)
    if not any(isinstance(t, float) for t in leaves(list(r32.v.values()))):
        for t, y in zip(leaves(r32.tangent), leaves(r32.y), strict=True):
            assert dtype_of(t) == dtype_of(y), "tangent dtype"
    for n, part in r32.contributions.items():
        args = case.build()
        names, bound = bound_names(lookup(case.prim).adjoint, args, case.kwargs)
        for piece, arg in zip(leaves(part), leaves(cast(bound[n], np.float32)), strict=True):
            if isinstance(arg, (np.ndarray, np.floating)):
                assert dtype_of(piece) == dtype_of(arg), f"contribution to {n}"
    assert_close(r32.tangent, r64.tangent, 2e-3, "float32 tangent")
    for n in r64.contributions:
        assert_close(r32.contributions[n], r64.contributions[n], 2e-3, f"float32 {n}")


def _scalar_result(case):
    y = call(case.prim, case.build(), case.kwargs)
    return not isinstance(y, list) and np.ndim(y) == 0


SCALAR_RESULTS = [case for case in CASES if _scalar_result(case)]


@pytest.mark.parametrize("case", SCALAR_RESULTS, ids=[case.id for case in SCALAR_RESULTS])
def test_python_float_seed_keeps_float32(case):
    r = run(case, np.float32, python_seed=True)
    args = [cast(a, np.float32) for a in case.build()]
    names, bound = bound_names(lookup(case.prim).adjoint, args, case.kwargs)
    for n, part in r.contributions.items():
        for piece, arg in zip(leaves(part), leaves(bound[n]), strict=True):
            if isinstance(arg, np.ndarray):
                assert dtype_of(piece) == np.float32, n


def test_catalog_covers_every_primitive_family():
    assert len(CASES) >= 200
    assert len({case.id for case in CASES}) == len(CASES)


# ---------------------------------------------------------------- conventions, by value


def adjoint_of(prim, *args, y_bar=1.0, **kwargs):
    return lookup(prim).adjoint(call(prim, list(args), kwargs), *args, y_bar=y_bar, **kwargs)


def test_max_ties_share_the_derivative_equally():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    np.testing.assert_allclose(adjoint_of(np.max, x, axis=1, y_bar=np.array([1.0, 3.0])),
                               [[0.0, 0.5, 0.5], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(adjoint_of(np.min, x), [[1.0, 0, 0], [0, 0, 0]])


def test_maximum_and_minimum_ties_go_to_the_first_argument():
    a, b = np.array([1.0, 2.0]), np.array([1.0, 3.0])
    ga, gb = adjoint_of(np.maximum, a, b, y_bar=np.ones(2))
    np.testing.assert_allclose(ga, [1.0, 0.0])
    np.testing.assert_allclose(gb, [0.0, 1.0])
    ga, gb = adjoint_of(np.minimum, a, b, y_bar=np.ones(2))
    np.testing.assert_allclose(ga, [1.0, 1.0])
    np.testing.assert_allclose(gb, [0.0, 0.0])


def test_fmax_gives_the_derivative_to_the_argument_that_is_not_nan():
    a, b = np.array([np.nan, 1.0]), np.array([2.0, np.nan])
    ga, gb = adjoint_of(np.fmax, a, b, y_bar=np.ones(2))
    np.testing.assert_allclose(ga, [0.0, 1.0])
    np.testing.assert_allclose(gb, [1.0, 0.0])


def test_prod_with_zeros_is_exact():
    np.testing.assert_allclose(adjoint_of(np.prod, np.array([2.0, 0.0, 3.0])), [0.0, 6.0, 0.0])
    np.testing.assert_allclose(adjoint_of(np.prod, np.array([0.0, 2.0, 0.0])), [0.0, 0.0, 0.0])


def test_kinks_take_derivative_zero_or_pass_through():
    assert adjoint_of(np.abs, np.array([0.0, -2.0]), y_bar=np.ones(2)).tolist() == [0.0, -1.0]
    np.testing.assert_allclose(adjoint_of(np.linalg.norm, np.zeros(3)), np.zeros(3))
    g, lo, hi = adjoint_of(np.clip, np.array([-1.0, 0.0, 1.0, 2.0]), -1.0, 1.0,
                           y_bar=np.ones(4))
    np.testing.assert_allclose(g, [1.0, 1.0, 1.0, 0.0])
    assert (lo, hi) == (0.0, 1.0)


def test_cast_to_float32_and_back():
    x = np.array([0.1, 0.2])
    y = np.float32(x)
    t = lookup(np.float32).tangent(y, x, x_dot=np.ones(2))
    g = lookup(np.float32).adjoint(y, x, y_bar=np.ones(2, np.float32))
    assert (t.dtype, g.dtype) == (np.float32, np.float64)
    np.testing.assert_allclose(g, 1.0)


def test_matrix_2_norm_adjoint_is_the_outer_product_of_the_top_singular_vectors():
    np.testing.assert_allclose(adjoint_of(np.linalg.norm, np.diag([1.0, 3.0]), 2),
                               [[0.0, 0.0], [0.0, 1.0]], atol=1e-15)


def test_list_tangents_fill_symbolic_zeros_in_the_tangents_dtype():
    xs = [np.ones(2, np.float32), np.ones((1, 2), np.float32), 3.0]
    filled = fill_zeros([None, np.full((1, 2), 2.0, np.float32), 0.0], xs)
    assert [np.shape(f) for f in filled] == [(2,), (1, 2), ()]
    assert all(np.result_type(f) == np.float32 for f in filled)
    np.testing.assert_allclose(filled[0], 0.0)


def test_split_adjoint_accepts_pieces_without_adjoint():
    x = np.arange(6.0)
    g = adjoint_of(np.split, x, 3, y_bar=[None, np.ones(2), 0.0])
    np.testing.assert_allclose(g, [0, 0, 1, 1, 0, 0])


def test_einsum_spec_spells_out_ellipses_and_implicit_outputs():
    ops = [np.ones((5, 2, 3)), np.ones(3)]
    assert einsum_spec("...ij,j", ops) == (["aij", "j"], "ai")
    assert einsum_spec("ba,ab", [np.ones((2, 2))] * 2) == (["ba", "ab"], "")
    assert einsum_spec("Ba", [np.ones((2, 3))]) == (["Ba"], "Ba")


REQUIRED = [
    np.exp, np.log, np.log1p, np.log2, np.log10, np.expm1, np.exp2, np.sqrt, np.cbrt,
    np.square, np.reciprocal, np.negative, np.positive, np.sin, np.cos, np.tan, np.arcsin,
    np.arccos, np.arctan, np.arctan2, np.sinh, np.cosh, np.tanh, np.arcsinh, np.arccosh,
    np.arctanh, np.power, np.abs, np.absolute, np.fabs, np.maximum, np.minimum, np.fmax,
    np.fmin, np.add, np.subtract, np.multiply, np.divide, np.true_divide, np.logaddexp,
    np.where, np.clip, np.hypot, operator.matmul, np.matmul, np.dot, np.inner, np.outer,
    np.tensordot, np.einsum, np.trace, np.linalg.norm, np.linalg.det, np.linalg.inv,
    np.linalg.solve, np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.var,
    np.std, np.cumsum, np.logaddexp.reduce, np.reshape, np.transpose, np.swapaxes,
    np.moveaxis, np.expand_dims, np.squeeze, np.concatenate, np.stack, np.hstack, np.vstack,
    np.split, np.tile, np.repeat, np.broadcast_to, np.flip, np.ravel, np.copy, np.sort,
    np.linspace, np.arange,
] + [f"ndarray.{m}" for m in ("sum mean max min prod var std reshape transpose T dot astype "
                               "copy flatten ravel squeeze cumsum clip").split()]

CONSTANT = [
    np.shape, np.ndim, np.size, np.zeros, np.ones, np.empty, np.zeros_like, np.ones_like,
    np.empty_like, np.eye, np.identity, np.int64, np.bool_, np.argmax, np.argmin,
    np.argsort, np.sign, np.floor, np.ceil, np.round, np.around, np.rint, np.trunc,
    np.heaviside, np.isnan, np.isinf, np.isfinite, np.greater, np.less, np.equal,
    np.not_equal, np.greater_equal, np.less_equal, np.logical_and, np.logical_or,
    np.logical_not, np.logical_xor, np.all, np.any, np.nonzero, np.count_nonzero,
    np.random.normal, np.random.rand, np.random.default_rng,
]


@pytest.mark.parametrize("prim", REQUIRED, ids=str)
def test_required_primitive_has_both_rules(prim):
    rule = lookup(prim)
    assert rule is not None and rule.adjoint is not None and not rule.nondifferentiable
    assert rule.tangent is not None or rule.linear


@pytest.mark.parametrize("prim", CONSTANT, ids=str)
def test_piecewise_constant_primitive_is_nondifferentiable(prim):
    rule = lookup(prim)
    assert rule is not None and rule.nondifferentiable and rule.adjoint is None
