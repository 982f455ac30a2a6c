"""Batched tangent rules: many tangent directions pushed through one forward pass.

In a batched tangent function (`adgen.transform`, kind `"batched_jvp"`) every tangent carries
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
import string
import weakref

import numpy as np

from adgen.rules.numpy_linalg import norm_grad, solve_vector
from adgen.rules.numpy_products import contracted_axes, dot_axes, einsum_spec, inner_axes
from adgen.rules.numpy_reductions import centered, max_share, reduced_count
from adgen.rules.registry import Rule, batched
from adgen.runtime import as_sequence, owned_copy

# ---------------------------------------------------------------- helpers of generated code


def batch_size(*tangents):
    """The number of directions `k`: the leading axis of the first array among `tangents`."""
    for t in tangents:
        if isinstance(t, np.ndarray) and t.ndim:
            return t.shape[0]
        if isinstance(t, dict):
            t = list(t.values())
        if isinstance(t, (list, tuple)) and t:
            try:
                return batch_size(*t)
            except ValueError:
                continue
    raise ValueError("a batched tangent function needs at least one array of input tangents")


def batch_zeros(like, k):
    """The zero batched tangent of `like` (containers: one per element)."""
    if isinstance(like, (list, tuple)):
        return type(like)(batch_zeros(v, k) for v in like)
    if isinstance(like, dict):
        return {key: batch_zeros(v, k) for key, v in like.items()}
    dtype = like.dtype if isinstance(like, (np.ndarray, np.generic)) and (
        like.dtype.kind == "f") else float
    return np.zeros((k,) + np.shape(like), dtype)


def array_tangent(t):
    """The batched tangent of a list (or nest of lists) of values taken as one array."""
    if isinstance(t, (list, tuple)):
        return np.stack([array_tangent(e) for e in t], axis=1)
    return t


def lift(t, y):
    """Batched tangent `t` with singleton axes after the batch axis up to the rank of `y`
    (a list operand of an array result taken as an array first)."""
    if isinstance(t, (list, tuple)):
        if isinstance(y, (list, tuple)):  # `+` and `*` of lists: elements stay as they are
            return t
        t = array_tangent(t)
    extra = np.ndim(y) - (np.ndim(t) - 1)
    if extra <= 0 or not np.ndim(t):  # a plain number (a zero stored into an array) broadcasts
        return t
    return np.reshape(t, t.shape[:1] + (1,) * extra + t.shape[1:])


def broadcast_batched(t, y):
    """Batched tangent `t` broadcast to the shape of `y` (plus the batch axis)."""
    t = lift(t, y)
    shape = t.shape[:1] + np.shape(y)
    return t if t.shape == shape else np.broadcast_to(t, shape).copy()


def _index(index):
    return (slice(None),) + (index if isinstance(index, tuple) else (index,))


def take_batched(t, index):
    """`x[index]`'s tangent: the same index after the batch axis (containers as they are)."""
    if isinstance(t, np.ndarray):
        return t[_index(index)]
    return t[index]


def store_batched(t, x, index, v):
    """`x[index] = v`'s tangent: `v`'s tangent stored after the batch axis."""
    if isinstance(t, np.ndarray):
        t[_index(index)] = lift(v, np.asarray(x)[index])
    else:
        t[index] = v


def batch_axes(axis, a):
    """The axes of a batched tangent that `axis` of `a` names (all of `a`'s when None)."""
    if axis is None:
        return tuple(range(1, np.ndim(a) + 1))
    if isinstance(axis, (tuple, list)):
        return tuple(ax + 1 if ax >= 0 else ax for ax in axis)
    return axis + 1 if axis >= 0 else axis


def reshaped_like(t, y, order="C", a=None):
    """Batched tangent `t` reshaped to `y`'s shape (reshape, ravel, squeeze, expand_dims),
    reading and writing the elements in `order` as `np.reshape` does."""
    if order == "A":
        order = "F" if np.isfortran(a) else "C"
    if order == "F":  # the batch axis last: it is then the slowest in Fortran order
        moved = np.reshape(np.moveaxis(t, 0, -1), np.shape(y) + t.shape[:1], order="F")
        return np.moveaxis(moved, -1, 0)
    return np.reshape(t, t.shape[:1] + np.shape(y))


def transposed(t, a, axes=None):
    """Batched `np.transpose(a, axes)`."""
    nd = np.ndim(a)
    order = reversed(range(nd)) if axes is None else (int(i) % nd for i in axes)
    return np.transpose(t, (0,) + tuple(i + 1 for i in order))


_IDENTITIES: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def identity_seed(n, dtype=float):
    """The `n` unit directions of a vector as a batched tangent: the identity matrix, marked
    so that a product with it is a copy of the other factor instead of a matrix product."""
    seed = np.eye(n, dtype=dtype)
    _IDENTITIES[id(seed)] = seed
    return seed


def is_identity(t):
    return _IDENTITIES.get(id(t)) is t


def matmul_left(t, b):
    """Batched `a @ b` with the tangent `t` in place of `a` (`@` takes lists as arrays)."""
    t = array_tangent(t)
    a_nd, b_nd = t.ndim - 1, np.ndim(b)
    if a_nd == 1 and b_nd == 2 and is_identity(t):
        return np.array(b, dtype=np.result_type(t, b))
    if a_nd == 1 and b_nd <= 2:  # the directions are the rows of one matrix product
        return t @ b
    if a_nd == 1:  # a row vector against a stack: a matrix of one row, dropped again
        row = lift(t[:, None, :], np.empty((1,) * b_nd))
        return np.matmul(row, b)[..., 0, :]
    return np.matmul(lift(t, np.empty((1,) * max(a_nd, b_nd))), b)


def matmul_right(a, t):
    """Batched `a @ b` with the tangent `t` in place of `b` (`@` takes lists as arrays)."""
    t = array_tangent(t)
    a_nd, b_nd = np.ndim(a), t.ndim - 1
    if b_nd == 1 and a_nd == 2 and is_identity(t):
        return np.array(np.swapaxes(a, -1, -2), dtype=np.result_type(t, a))
    if b_nd == 1 and a_nd <= 2:  # the directions are the rows of one matrix product
        return t @ np.swapaxes(a, -1, -2) if a_nd == 2 else t @ a
    if b_nd == 1:  # a column vector against a stack: rows times the transposed stack
        row = lift(t[:, None, :], np.empty((1,) * a_nd))
        return np.matmul(row, np.swapaxes(a, -1, -2))[..., 0, :]
    return np.matmul(a, lift(t, np.empty((1,) * max(a_nd, b_nd))))


def contract_batched(t, other, axes, first):
    """Batched `np.tensordot(a, b, axes)` with the tangent `t` in place of `a` (`first`) or
    of `b`; `axes` counts the primal's axes, as `np.tensordot` does."""
    if np.ndim(other) == 2 and is_identity(t) and axes != 0:  # a vector against a matrix
        ia, ib = contracted_axes(axes, 1, 2) if first else contracted_axes(axes, 2, 1)
        matrix_axis = ib[0] if first else ia[0]
        return matmul_left(t, other) if matrix_axis == 0 else matmul_right(other, t)
    if first:
        ia, ib = contracted_axes(axes, t.ndim - 1, np.ndim(other))
        return np.tensordot(t, other, ([i + 1 for i in ia], ib))
    ia, ib = contracted_axes(axes, np.ndim(other), t.ndim - 1)
    out = np.tensordot(other, t, (ia, [j + 1 for j in ib]))
    return np.moveaxis(out, np.ndim(other) - len(ia), 0)


def einsum_batched(subscripts, k, t, a, b=None, c=None, d=None):
    """Batched `np.einsum` with the tangent `t` in place of operand `k`: a fresh letter for
    the batch axis leads that operand and the output."""
    operands = [op for op in (a, b, c, d) if op is not None]
    ins, out = einsum_spec(subscripts, operands)
    letter = next(ch for ch in string.ascii_letters if ch not in "".join(ins) + out)
    ins[k] = letter + ins[k]
    operands[k] = t
    return np.einsum(",".join(ins) + "->" + letter + out, *operands)


def solve_batched(a, t, b, y):
    """Batched `np.linalg.solve(a, b)` with the tangent `t` in place of `b`."""
    t = lift(t, y)
    if solve_vector(a, b):
        return np.linalg.solve(a, t[..., None])[..., 0]
    return np.linalg.solve(a, t)


def times_solution(t, y, a, b):
    """Batched `a @ y` with the tangent `t` in place of `a`, for `y = np.linalg.solve(a, b)`."""
    if solve_vector(a, b):
        return np.matmul(t, y[..., None])[..., 0]
    return np.matmul(t, y)


def cumsum_along(t, y, axis):
    """Batched `np.cumsum(a, axis)` (of the flattened `a` when `axis` is None)."""
    if axis is None:
        return np.cumsum(reshaped_like(t, y), axis=1)
    return np.cumsum(t, axis=batch_axes(axis, y))


def piece(t, x, k):
    """The batched tangent `t` of one piece `x` of a join, as an array `(k, *x.shape)`."""
    return np.broadcast_to(array_tangent(t), (k,) + np.shape(x))


def hstacked(ts, xs, y, k):
    """Batched `np.hstack(xs)`: along the first axis of 1-d pieces, else the second."""
    parts = [np.reshape(piece(t, x, k), (k,) + np.shape(np.atleast_1d(x)))
             for t, x in zip(ts, xs, strict=True)]
    return np.concatenate(parts, axis=1 if np.ndim(y) == 1 else 2)


def vstacked(ts, xs, k):
    """Batched `np.vstack(xs)`: 0-d and 1-d pieces become rows."""
    parts = [np.reshape(piece(t, x, k), (k,) + np.shape(np.atleast_2d(x)))
             for t, x in zip(ts, xs, strict=True)]
    return np.concatenate(parts, axis=1)


def outer_batched(t, u, first):
    """Batched `np.outer(a, b)` with `t` the tangent of the first (or second) operand."""
    t = np.reshape(t, (t.shape[0], -1))
    u = np.ravel(u)
    return t[:, :, None] * u[None, None, :] if first else u[None, :, None] * t[:, None, :]


def stacked(ts, xs, y, axis, k):
    """Batched `np.stack(xs, axis)`, `np.array(xs)` (axis 0, nested lists) from `ts`."""
    if isinstance(xs, np.ndarray):
        return ts
    leaves = _leaves(ts, xs)
    depth = np.ndim(y) - np.ndim(xs[0]) if not isinstance(xs[0], (list, tuple)) else None
    if depth == 1:
        parts = [piece(t, x, k) for t, x in zip(ts, xs, strict=True)]
        return np.stack(parts, axis=batch_axes(axis, y) if axis >= 0 else axis)
    flat = [np.broadcast_to(t, (k,) + t.shape[1:]) for t in leaves]
    return np.reshape(np.stack(flat, axis=1), (k,) + np.shape(y))


def _leaves(ts, xs):
    if isinstance(xs, (list, tuple)):
        return [leaf for t, x in zip(ts, xs, strict=True) for leaf in _leaves(t, x)]
    return [ts]


def concatenated(ts, xs, axis, k):
    """Batched `np.concatenate(xs, axis)`."""
    parts = [piece(t, x, k) for t, x in zip(ts, xs, strict=True)]
    if axis is None:
        return np.concatenate([np.reshape(p, (k, -1)) for p in parts], axis=1)
    return np.concatenate(parts, axis=batch_axes(axis, xs[0]))


def summed(ts, xs, k):
    """Batched builtin `sum(xs)`: over a list's elements or an array's first axis."""
    if isinstance(xs, np.ndarray):
        return np.sum(ts, axis=1)
    y = sum(xs)
    total = batch_zeros(y, k)
    for t in ts:
        total = total + lift(t, y)
    return total


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


def takes_lists(*templates) -> None:
    """Mark batched templates that take a list parameter's tangent as a list of batched
    tangents (as `np.stack`'s does) rather than as one array."""
    _TAKES_LISTS.update(templates)


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
    return (np.sum(a_dot * centered(a, axis), axis=batch_axes(axis, a), keepdims=keepdims)
            / ((reduced_count(a, axis) - ddof) * y))


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
def einsum_batched_dot(y, subscripts, a, b=None, c=None, d=None, *, a_dot, b_dot, c_dot,
                       d_dot):
    return (einsum_batched(subscripts, 0, a_dot, a, b, c, d)
            + einsum_batched(subscripts, 1, b_dot, a, b, c, d)
            + einsum_batched(subscripts, 2, c_dot, a, b, c, d)
            + einsum_batched(subscripts, 3, d_dot, a, b, c, d))


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
    return stacked(object_dot, object, y, 0, batch)


@batched(np.asarray)
def asarray_batched(y, a, dtype=None, order=None, *, a_dot, batch):
    return stacked(a_dot, a, y, 0, batch)


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
    return np.copy(a_dot)


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
