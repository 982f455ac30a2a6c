"""Derivative rules for NumPy functions that move, copy or drop the elements of one array.

`diag`, `diagonal` (function and method), `tril`, `triu`, `roll`, `rollaxis`, `flipud`,
`fliplr`, `rot90`, `atleast_1d/2d/3d`, `pad`, `partition` and `append` are linear: each
element of the result is one element of the input, or a constant. One mechanism serves them
all. `moved(f, a, ...)` runs `f` on an array of *positions* (1, 2, ... in the shape of `a`),
so each element of the result says which element of `a` it copies (0: none, a constant).
Then

- the tangent is `f(a_dot, ...)` itself, or `spread(a_dot, where)` (the tangent's elements
  put where the positions say) when `f` would also fill constants (`pad`) or does not depend
  on `a` alone (`partition`);
- the adjoint is `gather_back(y_bar, where, a)`: every element of `y_bar` added to the element
  of `a` it copies (sums where an element was copied more than once: `pad` in `edge` mode);
- the batched form is `spread_batched(a_dot, where)`, the same positions behind the batch axis.

`spread` and `gather_back` are each other's adjoints and are registered `linear`, so
derivative code is differentiated again (second order) without anything new.

Conventions:

- `pad` supports the modes that copy elements: `constant` (with a scalar `constant_values`,
  which is differentiable too), `edge`, `reflect`, `symmetric` and `wrap`; other modes and
  per-side constants with an active value are refused (`DifferentiationError`).
- `partition(a, kth, axis)` gives each element of the result the derivative of the element of
  `a` with the same value (ties: in stable sorted order, as `sort`), whatever order NumPy's
  selection left the unsorted parts in.
- `append(arr, values, axis)` differentiates both arguments; `values` is broadcast by NumPy
  only when `axis` is None (then both are flattened).
- `atleast_*` take one array (several arguments are refused at the call).
"""

import numpy as np

from adgen.rules.numpy_products import is_zero
from adgen.rules.numpy_shape import put_sorted, take_sorted
from adgen.rules.registry import adjoint, batched, linear, nondifferentiable, tangent
from adgen.runtime import refusal

# ---------------------------------------------------------------- positions


def positions(a):
    """The 1-based flat position of every element of `a`, in the shape of `a`."""
    return np.arange(1, np.size(a) + 1).reshape(np.shape(a))


def moved(fn, a, *args):
    """Where `fn(a, *args)` takes each of its elements from: positions into `a` (0: a constant)."""
    return np.asarray(fn(positions(a), *args))


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def pad_map(array, pad_width, mode="constant"):
    """`moved` for `np.pad`: the padding of a constant mode is position 0."""
    if not isinstance(mode, str) or mode not in _PAD_MODES:
        raise refusal(
            f"adgen differentiates numpy.pad in the modes {', '.join(_PAD_MODES)}, not in mode "
            f"{mode!r}; build the padding with np.concatenate")
    return np.asarray(np.pad(positions(array), pad_width, mode))


def partition_map(a, y, axis=-1):
    """`moved` for `np.partition(a, kth, axis)` giving `y`: the element of `a` behind each
    element of `y`, matched by value in stable sorted order (the flattened `a` when None)."""
    src = positions(a) if axis is not None else np.ravel(positions(a))
    flat = a if axis is not None else np.ravel(a)
    ax = -1 if axis is None else axis
    in_order = take_sorted(src, flat, ax)  # the positions of `a` in sorted order
    return put_sorted(in_order, y, ax)  # given back in the order of `y`


def spread(t, where):
    """The elements of `t` put where `where` says (zeros at position 0), in its shape."""
    if is_zero(t):  # a tangent that is still a plain zero
        return np.zeros(np.shape(where))
    t = np.asarray(t)
    flat = np.concatenate([np.zeros(1, t.dtype), np.ravel(t)])
    return flat[where]


def gather_back(g, where, a):
    """The adjoint of `spread(., where)` for a tangent shaped like `a`: each element of `g`
    added to the position it came from."""
    g = np.asarray(g)
    weights = np.ravel(np.broadcast_to(g, np.shape(where)))
    total = np.bincount(np.ravel(where), weights=weights, minlength=np.size(a) + 1)[1:]
    out = np.reshape(total.astype(np.result_type(g, 1.0)), np.shape(a))
    return out if np.ndim(a) else out[()]


def spread_batched(t, where):
    """Batched `spread`: the same positions behind the leading batch axis."""
    k = t.shape[0]
    flat = np.concatenate([np.zeros((k, 1), t.dtype), np.reshape(t, (k, -1))], axis=1)
    return flat[:, where]


def gather_back_batched(t, where, a):
    """Batched `gather_back`."""
    k, n = t.shape[0], np.size(a) + 1
    index = np.ravel(where)[None, :] + n * np.arange(k)[:, None]
    weights = np.ravel(np.broadcast_to(t, (k,) + np.shape(where)))
    total = np.bincount(np.ravel(index), weights=weights, minlength=k * n)
    return np.reshape(total.reshape(k, n)[:, 1:].astype(t.dtype), (k,) + np.shape(a))


def pad_fill(t, where):
    """Tangent of the result of `np.pad` from a scalar `constant_values` tangent `t`."""
    return one_constant(t) * (where == 0)


def one_constant(c):
    """`c`, the constant (or its tangent or adjoint) of `np.pad`, refused unless a number."""
    if np.ndim(c):
        raise refusal(
            "adgen differentiates numpy.pad with respect to constant_values only when it is "
            "one number; pad with a constant array and add the values with np.concatenate")
    return c


def pad_fill_batched(t, where):
    """Batched `pad_fill`: `t` holds one number per direction."""
    if np.ndim(t) > 1:
        return pad_fill(t, where)  # refused as in `pad_fill`
    return np.reshape(t, (-1,) + (1,) * np.ndim(where)) * (where == 0)


def pad_fill_bar(g, where, c=0.0):
    """The adjoint of `pad_fill` (for the constant `c`): the sum of `g` over the padding."""
    return np.sum(g * (where == 0)) + 0.0 * one_constant(c)


nondifferentiable(positions, moved, pad_map, partition_map, one_constant)
linear(spread, gather_back, spread_batched, gather_back_batched, pad_fill, pad_fill_batched,
       pad_fill_bar)


@adjoint(spread)
def spread_bar(y, t, where, *, y_bar):
    return gather_back(y_bar, where, t)


@adjoint(gather_back)
def gather_back_bar(y, g, where, a, *, y_bar):
    return spread(y_bar, where)


@batched(spread)
def spread_batched_dot(y, t, where, *, t_dot):
    return spread_batched(t_dot, where)


@batched(gather_back)
def gather_back_batched_dot(y, g, where, a, *, g_dot):
    return gather_back_batched(g_dot, where, a)


@adjoint(pad_fill)
def pad_fill_adjoint(y, t, where, *, y_bar):
    return pad_fill_bar(y_bar, where)


@adjoint(pad_fill_bar)
def pad_fill_bar_adjoint(y, g, where, c=0.0, *, y_bar):
    return y_bar * (where == 0)


# ---------------------------------------------------------------- diagonals and triangles

linear(np.diag, np.diagonal, np.tril, np.triu)


@tangent("ndarray.diagonal")  # a method: its receiver is no positional argument of the call
def ndarray_diagonal_dot(y, a, offset=0, axis1=0, axis2=1, *, a_dot):
    return np.diagonal(a_dot, offset, axis1, axis2)


@adjoint(np.diag)
def diag_bar(y, v, k=0, *, y_bar):
    return gather_back(y_bar, moved(np.diag, v, k), v)


@batched(np.diag)
def diag_batched(y, v, k=0, *, v_dot):
    return spread_batched(v_dot, moved(np.diag, v, k))


@adjoint(np.diagonal, "ndarray.diagonal")
def diagonal_bar(y, a, offset=0, axis1=0, axis2=1, *, y_bar):
    return gather_back(y_bar, moved(np.diagonal, a, offset, axis1, axis2), a)


@batched(np.diagonal, "ndarray.diagonal")
def diagonal_batched(y, a, offset=0, axis1=0, axis2=1, *, a_dot):
    return spread_batched(a_dot, moved(np.diagonal, a, offset, axis1, axis2))


@adjoint(np.tril)
def tril_bar(y, m, k=0, *, y_bar):
    return np.tril(y_bar, k)


@batched(np.tril)
def tril_batched(y, m, k=0, *, m_dot):
    return spread_batched(m_dot, moved(np.tril, m, k))


@adjoint(np.triu)
def triu_bar(y, m, k=0, *, y_bar):
    return np.triu(y_bar, k)


@batched(np.triu)
def triu_batched(y, m, k=0, *, m_dot):
    return spread_batched(m_dot, moved(np.triu, m, k))


# ---------------------------------------------------------------- rolling, flipping, rotating

linear(np.roll, np.rollaxis, np.flipud, np.fliplr, np.rot90)


@adjoint(np.roll)
def roll_bar(y, a, shift, axis=None, *, y_bar):
    return gather_back(y_bar, moved(np.roll, a, shift, axis), a)


@batched(np.roll)
def roll_batched(y, a, shift, axis=None, *, a_dot):
    return spread_batched(a_dot, moved(np.roll, a, shift, axis))


@adjoint(np.rollaxis)
def rollaxis_bar(y, a, axis, start=0, *, y_bar):
    return gather_back(y_bar, moved(np.rollaxis, a, axis, start), a)


@batched(np.rollaxis)
def rollaxis_batched(y, a, axis, start=0, *, a_dot):
    return spread_batched(a_dot, moved(np.rollaxis, a, axis, start))


@adjoint(np.flipud)
def flipud_bar(y, m, *, y_bar):
    return np.flipud(y_bar)


@batched(np.flipud)
def flipud_batched(y, m, *, m_dot):
    return spread_batched(m_dot, moved(np.flipud, m))


@adjoint(np.fliplr)
def fliplr_bar(y, m, *, y_bar):
    return np.fliplr(y_bar)


@batched(np.fliplr)
def fliplr_batched(y, m, *, m_dot):
    return spread_batched(m_dot, moved(np.fliplr, m))


@adjoint(np.rot90)
def rot90_bar(y, m, k=1, axes=(0, 1), *, y_bar):
    return gather_back(y_bar, moved(np.rot90, m, k, axes), m)


@batched(np.rot90)
def rot90_batched(y, m, k=1, axes=(0, 1), *, m_dot):
    return spread_batched(m_dot, moved(np.rot90, m, k, axes))


# ---------------------------------------------------------------- promoting to higher rank

linear(np.atleast_1d, np.atleast_2d, np.atleast_3d)


@adjoint(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast_bar(y, ary, *, y_bar):
    return np.reshape(y_bar, np.shape(ary))


@batched(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast_batched(y, ary, *, ary_dot):
    return np.reshape(ary_dot, ary_dot.shape[:1] + np.shape(y))


# ---------------------------------------------------------------- padding


@tangent(np.pad)
def pad_dot(y, array, pad_width, mode="constant", constant_values=0, *, array_dot,
            constant_values_dot):
    return (spread(array_dot, pad_map(array, pad_width, mode))
            + pad_fill(constant_values_dot, pad_map(array, pad_width, mode)))


@adjoint(np.pad)
def pad_bar(y, array, pad_width, mode="constant", constant_values=0, *, y_bar):
    return (gather_back(y_bar, pad_map(array, pad_width, mode), array), None, None,
            pad_fill_bar(y_bar, pad_map(array, pad_width, mode), constant_values))


@batched(np.pad)
def pad_batched(y, array, pad_width, mode="constant", constant_values=0, *, array_dot,
                constant_values_dot):
    return (spread_batched(array_dot, pad_map(array, pad_width, mode))
            + pad_fill_batched(constant_values_dot, pad_map(array, pad_width, mode)))


# ---------------------------------------------------------------- partition (like sort)


@tangent(np.partition)
def partition_dot(y, a, kth, axis=-1, kind="introselect", order=None, *, a_dot):
    return spread(a_dot, partition_map(a, y, axis))


@adjoint(np.partition)
def partition_bar(y, a, kth, axis=-1, kind="introselect", order=None, *, y_bar):
    return gather_back(y_bar, partition_map(a, y, axis), a)


@batched(np.partition)
def partition_batched(y, a, kth, axis=-1, kind="introselect", order=None, *, a_dot):
    return spread_batched(a_dot, partition_map(a, y, axis))


# ---------------------------------------------------------------- append


def appended(arr, values, axis=None):
    """`np.append(arr, values, axis)` on positions: the result's elements taken from `arr`
    (positive) and from `values` (negative)."""
    return np.append(positions(arr), -positions(np.broadcast_to(values, np.shape(values))),
                     axis)


def from_first(where):
    """The positions of `arr` in an `appended` map."""
    return np.maximum(where, 0)


def from_second(where):
    """The positions of `values` in an `appended` map."""
    return np.maximum(-where, 0)


nondifferentiable(appended, from_first, from_second)


@tangent(np.append)
def append_dot(y, arr, values, axis=None, *, arr_dot, values_dot):
    return (spread(arr_dot, from_first(appended(arr, values, axis)))
            + spread(values_dot, from_second(appended(arr, values, axis))))


@adjoint(np.append)
def append_bar(y, arr, values, axis=None, *, y_bar):
    return (gather_back(y_bar, from_first(appended(arr, values, axis)), arr),
            gather_back(y_bar, from_second(appended(arr, values, axis)), values))


@batched(np.append)
def append_batched(y, arr, values, axis=None, *, arr_dot, values_dot):
    return (spread_batched(arr_dot, from_first(appended(arr, values, axis)))
            + spread_batched(values_dot, from_second(appended(arr, values, axis))))
