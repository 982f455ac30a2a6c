"""Batched tangent rules: many tangent directions pushed through one forward pass.

In a batched tangent function (`adgen.pipeline`, kind `"batched_jvp"`) every tangent carries
one extra *leading* axis, the batch: the tangent of a value of shape `s` has shape `(k, *s)`
and holds `k` directions at once (a Python float's tangent has shape `(k,)`). The Jacobian of
`f` at `x` is then one call with the identity as the batch of input tangents.

Invariant: a batched tangent is always a real array with the batch axis, never a bare `0.0`
(generated code makes zeros with `batch_zeros(like, k)`, where `k` is read once from the input
tangents by `batch_size`). With it, most rules need no batched form at all:

- Elementwise rules (ufuncs, `math`, operators, `abs`, `np.where`, ...) use their ordinary
  tangent template. A unary one keeps the shape; in one with several differentiable operands,
  each operand tangent is first `lift`ed to the rank of the result (singleton axes after the
  batch axis), so that broadcasting lines up exactly as in the primal.
- Every other rule needs a batched template, registered here with `@batched(primitive)` in the
  same template style as the ordinary ones (`y`, the primal parameters, keyword-only `*_dot`;
  a keyword-only `batch` receives `k`, for joins and sums that may have no tangent to read
  it from).
  Reductions and shape functions move their axes past the batch axis; products contract
  without touching it.

A function using a rule that has neither form cannot be batched; `adgen.jacobian` then pushes
one direction per pass instead.
"""

import operator

import numpy as np

from adgen.rules.batched_helpers import (  # noqa: F401  (templates and callers use them)
    _index,
    _leaves,
    array_tangent,
    batch_axes,
    batch_size,
    batch_zeros,
    broadcast_batched,
    cast_batched,
    concatenated,
    contract_batched,
    cumsum_along,
    einsum_batched,
    hstacked,
    identity_seed,
    is_identity,
    lift,
    matmul_left,
    matmul_right,
    outer_batched,
    piece,
    reshaped_like,
    solve_batched,
    stacked,
    store_batched,
    summed,
    take_batched,
    times_solution,
    transposed,
    vstacked,
)
from adgen.rules.limits import divide_or_zero
from adgen.rules.numpy_linalg import norm_grad
from adgen.rules.numpy_products import (
    dot_axes,
    inner_axes,
)
from adgen.rules.numpy_reductions import centered, max_share, reduced_count
from adgen.rules.registry import Rule, batched
from adgen.runtime import as_sequence, owned_copy

# ---------------------------------------------------------------- which rules need no batched form

_ELEMENTWISE_NAMES = {abs, max, min, pow, np.where, np.clip, "ndarray.clip"}
_NOT_ELEMENTWISE = {operator.matmul, operator.getitem, np.matmul}


def elementwise(rule: Rule) -> bool:
    """Whether the rule's ordinary tangent template is right for batched tangents once each
    operand tangent is lifted to the result's rank."""
    p = rule.primitive
    if p in _NOT_ELEMENTWISE:
        return False
    if isinstance(p, np.ufunc) or p in _ELEMENTWISE_NAMES:
        return True
    return getattr(p, "__module__", None) in ("math", "_operator", "operator")


def takes_arrays(rule: Rule, template) -> bool:
    """Whether the template reads its tangents as arrays (so a list operand's tangent, a list
    of batched tangents, is first made one array); `math`, operators and the list-taking
    templates take them as they are."""
    module = getattr(rule.primitive, "__module__", None)
    return module not in ("math", "_operator", "operator", "builtins") and (
        template not in _TAKES_LISTS)


def takes_lists(*templates):
    """Mark batched templates that take a list parameter's tangent as a list of batched
    tangents (as `np.stack`'s, or `cho_solve`'s `(c, lower)`) rather than as one array; with
    one template, usable as a decorator."""
    _TAKES_LISTS.update(templates)
    return templates[0] if len(templates) == 1 else None


# ---------------------------------------------------------------- batched templates


@batched(np.sum, "ndarray.sum")
def sum_batched(y, a, axis=None, dtype=None, out=None, keepdims=False, *, a_dot):
    return np.sum(a_dot, axis=batch_axes(axis, a), keepdims=keepdims)


@batched(np.mean, "ndarray.mean")
def mean_batched(y, a, axis=None, dtype=None, out=None, keepdims=False, *, a_dot):
    return np.mean(a_dot, axis=batch_axes(axis, a), keepdims=keepdims)


@batched(np.cumsum, "ndarray.cumsum")
def cumsum_batched(y, a, axis=None, dtype=None, out=None, *, a_dot):
    return cumsum_along(a_dot, y, axis)


@batched(np.max, np.amax, np.min, np.amin, "ndarray.max", "ndarray.min")
def max_batched(y, a, axis=None, out=None, keepdims=False, *, a_dot):
    return np.sum(a_dot * max_share(a, y, axis, keepdims), axis=batch_axes(axis, a),
                  keepdims=keepdims)


@batched(np.var, "ndarray.var")
def var_batched(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, a_dot):
    return (np.sum(a_dot * centered(a, axis), axis=batch_axes(axis, a), keepdims=keepdims)
            * (2.0 / (reduced_count(a, axis) - ddof)))


@batched(np.std, "ndarray.std")
def std_batched(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, a_dot):
    return divide_or_zero(np.sum(a_dot * centered(a, axis), axis=batch_axes(axis, a),
                                 keepdims=keepdims), (reduced_count(a, axis) - ddof) * y)


@batched(np.linalg.norm)
def norm_batched(y, x, ord=None, axis=None, keepdims=False, *, x_dot):
    return np.sum(x_dot * norm_grad(x, y, ord, axis, keepdims), axis=batch_axes(axis, x),
                  keepdims=keepdims)


@batched(np.linalg.det)
def det_batched(y, a, *, a_dot):
    return y * np.sum(np.swapaxes(np.linalg.inv(a), -1, -2) * a_dot, axis=(-2, -1))


@batched(np.linalg.inv)
def inv_batched(y, a, *, a_dot):
    return -(y @ a_dot @ y)


@batched(np.linalg.solve)
def solve_batched_dot(y, a, b, *, a_dot, b_dot):
    return solve_batched(a, b_dot, b, y) - solve_batched(a, times_solution(a_dot, y, a, b), b, y)


@batched(np.trace, "ndarray.trace")
def trace_batched(y, a, offset=0, axis1=0, axis2=1, dtype=None, out=None, *, a_dot):
    return np.trace(a_dot, offset, batch_axes(axis1, a), batch_axes(axis2, a))


@batched(operator.matmul, np.matmul)
def matmul_batched(y, a, b, *, a_dot, b_dot):
    return matmul_left(a_dot, b) + matmul_right(a, b_dot)


@batched(np.dot, "ndarray.dot")
def dot_batched(y, a, b, out=None, *, a_dot, b_dot):
    return (contract_batched(a_dot, b, dot_axes(a, b), True)
            + contract_batched(b_dot, a, dot_axes(a, b), False))


@batched(np.inner)
def inner_batched(y, a, b, *, a_dot, b_dot):
    return (contract_batched(a_dot, b, inner_axes(a, b), True)
            + contract_batched(b_dot, a, inner_axes(a, b), False))


@batched(np.tensordot)
def tensordot_batched(y, a, b, axes=2, *, a_dot, b_dot):
    return contract_batched(a_dot, b, axes, True) + contract_batched(b_dot, a, axes, False)


@batched(np.einsum)
def einsum_batched_dot(y, subscripts, a=None, b=None, c=None, d=None, *, subscripts_dot, a_dot,
                       b_dot, c_dot, d_dot):
    return (einsum_batched(subscripts, 0, subscripts_dot, a, b, c, d)
            + einsum_batched(subscripts, 1, a_dot, a, b, c, d)
            + einsum_batched(subscripts, 2, b_dot, a, b, c, d)
            + einsum_batched(subscripts, 3, c_dot, a, b, c, d)
            + einsum_batched(subscripts, 4, d_dot, a, b, c, d))


@batched(np.outer)
def outer_batched_dot(y, a, b, out=None, *, a_dot, b_dot):
    return outer_batched(a_dot, b, True) + outer_batched(b_dot, a, False)


@batched(np.reshape)
def reshape_batched(y, a, shape=None, order="C", newshape=None, *, a_dot):
    return reshaped_like(a_dot, y, order, a)


@batched("ndarray.reshape")
def ndarray_reshape_batched(y, a, shape=None, *, a_dot):
    return reshaped_like(a_dot, y)


@batched(np.ravel, "ndarray.ravel", "ndarray.flatten")
def ravel_batched(y, a, order="C", *, a_dot):
    return reshaped_like(a_dot, y, order, a)


@batched(np.squeeze, "ndarray.squeeze")
def squeeze_batched(y, a, axis=None, *, a_dot):
    return reshaped_like(a_dot, y)


@batched(np.expand_dims)
def expand_dims_batched(y, a, axis, *, a_dot):
    return reshaped_like(a_dot, y)


@batched(np.transpose, "ndarray.transpose")
def transpose_batched(y, a, axes=None, *, a_dot):
    return transposed(a_dot, a, axes)


@batched(np.swapaxes, "ndarray.swapaxes")
def swapaxes_batched(y, a, axis1, axis2, *, a_dot):
    return np.swapaxes(a_dot, batch_axes(axis1, a), batch_axes(axis2, a))


@batched(np.moveaxis)
def moveaxis_batched(y, a, source, destination, *, a_dot):
    return np.moveaxis(a_dot, batch_axes(source, a), batch_axes(destination, y))


@batched(np.broadcast_to)
def broadcast_to_batched(y, array, shape, subok=False, *, array_dot):
    return broadcast_batched(array_dot, y)


@batched(np.full)
def full_batched(y, shape, fill_value, dtype=None, order="C", *, fill_value_dot):
    return broadcast_batched(fill_value_dot, y)


@batched("ndarray.T")
def ndarray_t_batched(y, a, *, a_dot):
    return transposed(a_dot, a)


@batched(np.array)
def array_batched(y, object, dtype=None, *, object_dot, batch):
    return cast_batched(stacked(object_dot, object, y, 0, batch), y, batch)


@batched(np.asarray)
def asarray_batched(y, a, dtype=None, order=None, *, a_dot, batch):
    return cast_batched(stacked(a_dot, a, y, 0, batch), y, batch)


@batched(np.hstack)
def hstack_batched(y, tup, *, tup_dot, batch):
    return hstacked(tup_dot, tup, y, batch)


@batched(np.vstack)
def vstack_batched(y, tup, *, tup_dot, batch):
    return vstacked(tup_dot, tup, batch)


@batched(np.stack)
def stack_batched(y, arrays, axis=0, *, arrays_dot, batch):
    return stacked(arrays_dot, arrays, y, axis, batch)


@batched(np.concatenate)
def concatenate_batched(y, arrays, axis=0, *, arrays_dot, batch):
    return concatenated(arrays_dot, arrays, axis, batch)


@batched(np.copy, "ndarray.copy")
def copy_batched(y, a, order="K", subok=False, *, a_dot):
    return owned_copy(a_dot)


@batched(sum)
def sum_builtin_batched(y, xs, start=0, *, xs_dot, start_dot, batch):
    return summed(xs_dot, xs, batch) + start_dot


@batched(float)
def float_batched(y, x, *, x_dot):
    return x_dot


@batched(owned_copy)
def owned_copy_batched(y, acc, *, acc_dot):
    return owned_copy(acc_dot)


@batched(as_sequence)
def as_sequence_batched(y, xs, *, xs_dot):
    return as_sequence(xs_dot)


_TAKES_LISTS = {array_batched, asarray_batched, hstack_batched, vstack_batched, stack_batched,
                concatenate_batched, owned_copy_batched, as_sequence_batched}
