"""Helpers that batched tangent code calls: batch sizes and zeros, lifting a tangent to a
result's rank, indexing and storing past the batch axis, and the batched forms of products,
solves, stacking and casts (see `rules/batched.py`)."""

import string
import weakref

import numpy as np

from adgen.arrays import as_array, is_array
from adgen.rules.numpy_linalg import solve_vector
from adgen.rules.numpy_products import (
    contracted_axes,
    einsum_parts,
    einsum_spec,
)


class BatchSize(int):
    """The number of directions, remembering an input tangent it was read from: zeros made
    for numbers are then arrays of that tangent's library (`batch_zeros`)."""

    tangent = None


def batch_size(*tangents):
    """The number of directions `k`: the leading axis of the first array among `tangents`."""
    for t in tangents:
        if is_array(t) and t.ndim:
            if isinstance(t, np.ndarray):
                return t.shape[0]
            k = BatchSize(t.shape[0])
            k.tangent = t
            return k
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
    dtype = like.dtype if (is_array(like) or isinstance(like, np.generic)) and (
        like.dtype.kind == "f") else float
    library = like if is_array(like) else getattr(k, "tangent", None)
    if library is not None and not isinstance(library, np.ndarray):  # in its own library
        return np.zeros((k,) + np.shape(like), dtype, like=library)
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
    """`x[index]`'s tangent: the same index after the batch axis (containers as they are).
    An element of `x` is a number of its own, so its tangent (the batch axis only) is a copy,
    not a view a later write into `x`'s tangent would change (`a[0], a[1] = a[1], a[0]`)."""
    if is_array(t):
        item = t[_index(index)]
        return item.copy() if np.ndim(item) == 1 and np.ndim(t) > 1 else item
    return t[index]


def store_batched(t, x, index, v):
    """`x[index] = v`'s tangent: `v`'s tangent stored after the batch axis."""
    if is_array(t):
        t[_index(index)] = lift(v, as_array(x)[index])
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


def einsum_batched(subscripts, k, t, a=None, b=None, c=None, d=None):
    """Batched `np.einsum` with the tangent `t` in place of the operand at position `k` of
    `(subscripts, a, b, c, d)`: a fresh letter for the batch axis leads that operand and the
    output."""
    spec, operands, positions = einsum_parts(subscripts, a, b, c, d)
    k = positions.index(k)
    ins, out = einsum_spec(spec, operands)
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
    if not isinstance(xs, (list, tuple)):  # an array or a number: its tangent already is
        return ts
    leaves = _leaves(ts, xs)
    depth = np.ndim(y) - np.ndim(xs[0]) if not isinstance(xs[0], (list, tuple)) else None
    if depth == 1:
        parts = [piece(t, x, k) for t, x in zip(ts, xs, strict=True)]
        return np.stack(parts, axis=batch_axes(axis, y) if axis >= 0 else axis)
    flat = [np.broadcast_to(t, (k,) + t.shape[1:]) for t in leaves]
    return np.reshape(np.stack(flat, axis=1), (k,) + np.shape(y))


def cast_batched(t, y, k):
    """A batched tangent `t` of a cast to `y` (`np.array(x, dtype=...)`): zeros when `y` holds
    integers or bools, which cut the derivative."""
    if np.issubdtype(np.result_type(y), np.inexact):
        return t
    if is_array(t) and not isinstance(t, np.ndarray):  # in `t`'s own library
        return np.zeros((k,) + np.shape(y), np.result_type(t, 1.0), like=t)
    return np.zeros((k,) + np.shape(y), np.result_type(t, 1.0))


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
    if is_array(xs):
        return np.sum(ts, axis=1)
    y = sum(xs)
    total = batch_zeros(y, k)
    for t in ts:
        total = total + lift(t, y)
    return total
