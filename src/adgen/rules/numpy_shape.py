"""Derivative rules for NumPy's shape and data-movement functions.

Every function here is linear, so each tangent applies the function itself to the tangent and
each adjoint applies its transpose: `reshape`/`ravel`/`squeeze`/`expand_dims`/`flatten`
reshape back, `transpose`/`swapaxes`/`moveaxis`/`flip` permute back, `broadcast_to`
unbroadcasts, `tile` and `repeat` sum the copies, `sort` scatters back through the sorting
permutation, joins split and splits join.

Conventions:

- Lists of arrays. `concatenate`, `stack`, `hstack`, `vstack`, `np.array([...])` take a list
  (or tuple) atom as one parameter. Its tangent (`arrays_dot`) is the list of the elements'
  tangents, where inactive elements may be `None` or `0.0`; `fill_zeros` makes them real zeros
  of the element's shape and the tangents' dtype. The adjoint's contribution to a list
  parameter is a *list* with one contribution per element, in order (nested lists for nested
  `np.array` arguments). `split` and `array_split` return a list: their `y_bar` is a list with
  `None`/`0.0` for pieces that got no adjoint.
- Method forms are keyed `"ndarray.<name>"` with the receiver as the first parameter `a`.
  `x.reshape` and `x.transpose` take their shape or axes as *one* argument:
  `x.reshape((2, 3))`, `x.reshape(-1)`, `x.transpose()`, `x.transpose((1, 0, 2))`. The star
  spellings `x.reshape(2, 3)` and `x.transpose(1, 0, 2)` need a star parameter in the
  template, which the template binder does not take yet, so they are refused with an error
  naming the call. The reshape rules read the shapes from `a` and `y`, never from the
  arguments. `order=` works with `np.reshape` and `np.ravel`, not with `x.reshape`. `x.T` is
  the attribute key `"ndarray.T"`.
- Casts: `astype`, `np.array(x, dtype=...)`, `np.asarray(x, dtype=...)`, `np.float16/32/64(x)`
  cast the tangent to the result's dtype and the adjoint back to the argument's (`cast_like`).
  A cast whose result holds integers or bools (`x.astype(int)`, `np.asarray(x, dtype=bool)`)
  is piecewise constant: `cast_through` gives it a zero derivative, decided at run time from
  the result's dtype (`dtype=` may be a variable). The NumPy integer and bool scalar types
  (`np.int64(x)`, `np.bool_(x)`) are nondifferentiable, like `int(x)`.
- `sort` uses a stable argsort in both tangent and adjoint, so tied elements keep one
  consistent assignment.
"""

import numpy as np

from adgen.arrays import as_array, cut, is_array, size
from adgen.rules.numpy_products import is_zero
from adgen.rules.registry import adjoint, linear, nondifferentiable, tangent
from adgen.runtime import broadcast_like, owned_copy, unbroadcast, zeros_like

# ---------------------------------------------------------------- helpers


def inverse_axes(axes, ndim):
    """The permutation that undoes `np.transpose(_, axes)` (None undoes None)."""
    if axes is None:
        return None
    return tuple(int(i) for i in np.argsort([int(i) % ndim for i in axes]))


def fill_zeros(ts, xs):
    """The list `ts` of tangents (or adjoints) of `xs`, with `None`/`0.0` made real zeros."""
    real = [t for t in _leaves(ts) if t is not None and not is_zero(t)]
    dtype = np.result_type(*real) if real else float
    return _fill(ts, xs, dtype)


def _leaves(ts):
    if isinstance(ts, (list, tuple)):
        return [leaf for t in ts for leaf in _leaves(t)]
    return [ts]


def _fill(t, x, dtype):
    if isinstance(x, (list, tuple)):
        ts = [None] * len(x) if t is None or is_zero(t) else t
        return [_fill(ti, xi, dtype) for ti, xi in zip(ts, x, strict=True)]
    if t is None or is_zero(t):
        return np.zeros(np.shape(x), dtype)
    return t


def split_like(g, xs, axis=0):
    """Cut `g`, a join of `xs` along `axis` (flattened when None), into pieces shaped like `xs`.

    An element of `xs` with fewer dimensions than `g` counts as having leading axes of
    length 1 (as `hstack` and `vstack` promote them).
    """
    if axis is None:
        g, axis, nd = np.ravel(g), 0, 1
        sizes = [size(x) for x in xs]
    else:
        nd = np.ndim(g)
        sizes = [((1,) * (nd - np.ndim(x)) + np.shape(x))[axis % nd] for x in xs]
    pieces = cut(g, sizes, axis % nd)
    return [np.reshape(p, np.shape(x)) for p, x in zip(pieces, xs, strict=True)]


def unstack_like(g, xs, axis=0):
    """Cut `g = np.stack(xs, axis)` back into its elements."""
    if not np.ndim(g):  # an adjoint that is still a plain zero
        return [zeros_like(x) for x in xs]
    return [np.reshape(p, np.shape(x)) for p, x in zip(np.moveaxis(g, axis, 0), xs, strict=True)]


def unpack_like(g, x):
    """The adjoint `g` of `np.array(x)` given back in the structure and dtype of `x`."""
    if isinstance(x, (list, tuple)) and not np.ndim(g):  # a plain zero adjoint
        return zeros_like(x)
    if isinstance(x, (list, tuple)):
        return [unpack_like(g[i], xi) for i, xi in enumerate(x)]
    return cast_like(np.reshape(g, np.shape(x)), x)


def stack_like(ts, g, xs, axis=0):
    """The adjoint of `unstack_like(g, xs, axis)`: the pieces `ts` stacked back along `axis`."""
    if is_zero(ts) or not np.ndim(g):
        return zeros_like(g)  # nothing came back, or g was a plain zero that gave zeros
    return np.reshape(np.stack(fill_zeros(ts, xs), axis), np.shape(g))


def pack_like(ts, g, x):
    """The adjoint of `unpack_like(g, x)`: the pieces `ts`, in the structure of `x`, joined
    into an array shaped like `g`."""
    if is_zero(ts) or isinstance(x, (list, tuple)) and not np.ndim(g):
        return zeros_like(g)  # nothing came back, or g was a plain zero that gave zeros
    if isinstance(x, (list, tuple)):
        ts = np.array(fill_zeros(ts, x))
    return cast_like(np.reshape(ts, np.shape(g)), g)


def cast_like(g, x):
    """`g` in the dtype of `x` (a NumPy scalar when `g` is not an array)."""
    dtype = np.result_type(x)
    return g.astype(dtype) if is_array(g) else dtype.type(g)


def cast_through(g, result, like):
    """`g`, a tangent or adjoint carried across a cast to `result`, in the dtype of `like`;
    zeros shaped like `like` when `result` holds integers or bools (such a cast is piecewise
    constant, so it cuts the derivative, as `int(x)` does)."""
    if np.issubdtype(np.result_type(result), np.inexact):
        return cast_like(g, like)
    dtype = np.result_type(like, 1.0)
    if is_array(like) and like.ndim:
        return np.zeros_like(like, dtype=dtype)  # in `like`'s own library
    return np.zeros(np.shape(like), dtype) if np.ndim(like) else dtype.type(0)


def tile_adjoint(g, a, reps):
    """The adjoint of `np.tile(a, reps)`: the sum of the tiles."""
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    shape = np.shape(a)
    d = max(len(shape), len(reps))
    pairs = zip((1,) * (d - len(reps)) + reps, (1,) * (d - len(shape)) + shape, strict=True)
    blocks = np.reshape(g, [n for pair in pairs for n in pair])
    return np.reshape(np.sum(blocks, axis=tuple(range(0, 2 * d, 2))), shape)


def repeat_adjoint(g, a, repeats, axis=None):
    """The adjoint of `np.repeat(a, repeats, axis)`: the sum of each element's copies."""
    g = as_array(g)
    src = (size(a),) if axis is None else np.shape(a)
    ax = 0 if axis is None else axis % len(src)
    n = src[ax]
    if size(repeats) == 1:
        r = int(np.ravel(repeats)[0])
        out = np.sum(np.reshape(g, src[:ax] + (n, r) + src[ax + 1:]), axis=ax + 1)
    else:
        moved = np.moveaxis(g, ax, 0)
        out = np.zeros((n,) + moved.shape[1:], moved.dtype)
        np.add.at(out, np.repeat(np.arange(n), repeats), moved)
        out = np.moveaxis(out, 0, ax)
    return np.reshape(out, np.shape(a))


def sort_order(a, axis=-1):
    """The stable sorting permutation of `a` along `axis` (of the flattened `a` when None)."""
    return np.argsort(a, axis=axis, kind="stable")


def take_sorted(t, a, axis=-1):
    """`t` permuted as `np.sort(a, axis)` permutes `a`."""
    if axis is None:
        return np.ravel(t)[sort_order(a, None)]
    return np.take_along_axis(t, sort_order(a, axis), axis)


def put_sorted(g, a, axis=-1):
    """The adjoint of `take_sorted`: `g` scattered back to the unsorted positions of `a`."""
    out = np.zeros(np.shape(a), np.result_type(g))
    if axis is None:
        out.reshape(-1)[sort_order(a, None)] = g
    else:
        np.put_along_axis(out, sort_order(a, axis), g, axis)
    return out


nondifferentiable(inverse_axes, sort_order)
linear(fill_zeros, split_like, unstack_like, stack_like, unpack_like, pack_like, cast_like,
       cast_through,
       tile_adjoint,
       repeat_adjoint, take_sorted, put_sorted)


@adjoint(cast_like)
def cast_like_bar(y, g, x, *, y_bar):
    return cast_like(y_bar, g)


@adjoint(unstack_like)
def unstack_like_bar(y, g, xs, axis=0, *, y_bar):
    return stack_like(y_bar, g, xs, axis)


@adjoint(stack_like)
def stack_like_bar(y, ts, g, xs, axis=0, *, y_bar):
    return unstack_like(y_bar, xs, axis)


@adjoint(unpack_like)
def unpack_like_bar(y, g, x, *, y_bar):
    return pack_like(y_bar, g, x)


@adjoint(pack_like)
def pack_like_bar(y, ts, g, x, *, y_bar):
    return unpack_like(y_bar, x)


@adjoint(cast_through)
def cast_through_bar(y, g, result, like, *, y_bar):
    return cast_through(y_bar, result, g)


@adjoint(tile_adjoint)
def tile_adjoint_bar(y, g, a, reps, *, y_bar):
    return np.tile(y_bar, reps)


@adjoint(repeat_adjoint)
def repeat_adjoint_bar(y, g, a, repeats, axis=None, *, y_bar):
    return np.repeat(y_bar, repeats, axis)


@adjoint(take_sorted)
def take_sorted_bar(y, t, a, axis=-1, *, y_bar):
    return put_sorted(y_bar, a, axis)


@adjoint(put_sorted)
def put_sorted_bar(y, g, a, axis=-1, *, y_bar):
    return take_sorted(y_bar, a, axis)


# ---------------------------------------------------------------- reshaping


@tangent(np.reshape)  # a plain zero tangent (an inactive item of a tape) is shaped first
def reshape_dot(y, a, shape=None, order="C", newshape=None, *, a_dot):
    return np.reshape(broadcast_like(a_dot, a), np.shape(y), order=order)


@adjoint(np.reshape)
def reshape_bar(y, a, shape=None, order="C", newshape=None, *, y_bar):
    return np.reshape(y_bar, np.shape(a), order=order)


@tangent("ndarray.reshape")
def ndarray_reshape_dot(y, a, shape=None, *, a_dot):
    return np.reshape(broadcast_like(a_dot, a), np.shape(y))


@adjoint("ndarray.reshape")
def ndarray_reshape_bar(y, a, shape=None, *, y_bar):
    return np.reshape(y_bar, np.shape(a))


@tangent(np.ravel, "ndarray.ravel", "ndarray.flatten")
def ravel_dot(y, a, order="C", *, a_dot):
    return np.ravel(broadcast_like(a_dot, a), order=order)


@adjoint(np.ravel, "ndarray.ravel", "ndarray.flatten")
def ravel_bar(y, a, order="C", *, y_bar):
    return np.reshape(y_bar, np.shape(a), order=order)


@tangent(np.squeeze, "ndarray.squeeze")
def squeeze_dot(y, a, axis=None, *, a_dot):
    return np.squeeze(a_dot, axis)


@adjoint(np.squeeze, "ndarray.squeeze")
def squeeze_bar(y, a, axis=None, *, y_bar):
    return np.reshape(y_bar, np.shape(a))


@tangent(np.expand_dims)
def expand_dims_dot(y, a, axis, *, a_dot):
    return np.expand_dims(a_dot, axis)


@adjoint(np.expand_dims)
def expand_dims_bar(y, a, axis, *, y_bar):
    return np.reshape(y_bar, np.shape(a))


@tangent(np.copy, "ndarray.copy")
def copy_dot(y, a, order="K", subok=False, *, a_dot):
    return owned_copy(a_dot)


@adjoint(np.copy, "ndarray.copy")
def copy_bar(y, a, order="K", subok=False, *, y_bar):
    return y_bar


# ---------------------------------------------------------------- permuting axes


@tangent(np.transpose)
def transpose_dot(y, a, axes=None, *, a_dot):
    return np.transpose(a_dot, axes)


@adjoint(np.transpose)
def transpose_bar(y, a, axes=None, *, y_bar):
    return np.transpose(y_bar, inverse_axes(axes, np.ndim(a)))


@tangent("ndarray.transpose")
def ndarray_transpose_dot(y, a, axes=None, *, a_dot):
    return np.transpose(a_dot, axes)


@adjoint("ndarray.transpose")
def ndarray_transpose_bar(y, a, axes=None, *, y_bar):
    return np.transpose(y_bar, inverse_axes(axes, np.ndim(a)))


@tangent("ndarray.T")
def ndarray_t_dot(y, a, *, a_dot):
    return np.transpose(a_dot)


@adjoint("ndarray.T")
def ndarray_t_bar(y, a, *, y_bar):
    return np.transpose(y_bar)


@tangent(np.swapaxes, "ndarray.swapaxes")
def swapaxes_dot(y, a, axis1, axis2, *, a_dot):
    return np.swapaxes(a_dot, axis1, axis2)


@adjoint(np.swapaxes, "ndarray.swapaxes")
def swapaxes_bar(y, a, axis1, axis2, *, y_bar):
    return np.swapaxes(y_bar, axis1, axis2)


@tangent(np.moveaxis)
def moveaxis_dot(y, a, source, destination, *, a_dot):
    return np.moveaxis(a_dot, source, destination)


@adjoint(np.moveaxis)
def moveaxis_bar(y, a, source, destination, *, y_bar):
    return np.moveaxis(y_bar, destination, source)


@tangent(np.flip)
def flip_dot(y, m, axis=None, *, m_dot):
    return np.flip(m_dot, axis)


@adjoint(np.flip)
def flip_bar(y, m, axis=None, *, y_bar):
    return np.flip(y_bar, axis)


@tangent(np.sort)
def sort_dot(y, a, axis=-1, kind=None, order=None, *, a_dot):
    return take_sorted(a_dot, a, axis)


@adjoint(np.sort)
def sort_bar(y, a, axis=-1, kind=None, order=None, *, y_bar):
    return put_sorted(y_bar, a, axis)


# ---------------------------------------------------------------- copying


@tangent(np.broadcast_to)
def broadcast_to_dot(y, array, shape, subok=False, *, array_dot):
    return np.broadcast_to(array_dot, shape)


@adjoint(np.broadcast_to)
def broadcast_to_bar(y, array, shape, subok=False, *, y_bar):
    return unbroadcast(y_bar, array)


@tangent(np.tile)
def tile_dot(y, A, reps, *, A_dot):
    return np.tile(A_dot, reps)


@adjoint(np.tile)
def tile_bar(y, A, reps, *, y_bar):
    return tile_adjoint(y_bar, A, reps)


@tangent(np.repeat, "ndarray.repeat")
def repeat_dot(y, a, repeats, axis=None, *, a_dot):
    return np.repeat(a_dot, repeats, axis)


@adjoint(np.repeat, "ndarray.repeat")
def repeat_bar(y, a, repeats, axis=None, *, y_bar):
    return repeat_adjoint(y_bar, a, repeats, axis)


@tangent(np.full)
def full_dot(y, shape, fill_value, dtype=None, order="C", *, fill_value_dot):
    return np.full(shape, fill_value_dot, dtype)


@adjoint(np.full)
def full_bar(y, shape, fill_value, dtype=None, order="C", *, y_bar):
    return None, unbroadcast(y_bar, fill_value)


@tangent(np.full_like)
def full_like_dot(y, a, fill_value, dtype=None, order="K", subok=True, shape=None, *,
                  fill_value_dot):
    return np.full_like(y, fill_value_dot)


@adjoint(np.full_like)
def full_like_bar(y, a, fill_value, dtype=None, order="K", subok=True, shape=None, *, y_bar):
    return None, unbroadcast(y_bar, fill_value)


# ---------------------------------------------------------------- casting and packing


@tangent("ndarray.astype")
def astype_dot(y, a, dtype, order="K", casting="unsafe", subok=True, copy=True, *, a_dot):
    return cast_through(a_dot, y, y)


@adjoint("ndarray.astype")
def astype_bar(y, a, dtype, order="K", casting="unsafe", subok=True, copy=True, *, y_bar):
    return cast_through(y_bar, y, a)


@tangent(np.float64, np.float32, np.float16)
def float_cast_dot(y, x, *, x_dot):
    return cast_like(x_dot, y)


@adjoint(np.float64, np.float32, np.float16)
def float_cast_bar(y, x, *, y_bar):
    return cast_like(y_bar, x)


nondifferentiable(np.bool_, *(t for kind in ("int", "uint") for n in (8, 16, 32, 64)
                              for t in [getattr(np, f"{kind}{n}")]))


@tangent(np.array)
def array_dot(y, object, dtype=None, *, object_dot):
    return cast_through(np.array(fill_zeros(object_dot, object)), y, y)


@adjoint(np.array)
def array_bar(y, object, dtype=None, *, y_bar):
    return unpack_like(cast_through(y_bar, y, y), object)


@tangent(np.asarray)
def asarray_dot(y, a, dtype=None, order=None, *, a_dot):
    return cast_through(np.asarray(fill_zeros(a_dot, a)), y, y)


@adjoint(np.asarray)
def asarray_bar(y, a, dtype=None, order=None, *, y_bar):
    return unpack_like(cast_through(y_bar, y, y), a)


# ---------------------------------------------------------------- joining and splitting


@tangent(np.concatenate)
def concatenate_dot(y, arrays, axis=0, *, arrays_dot):
    return np.concatenate(fill_zeros(arrays_dot, arrays), axis)


@adjoint(np.concatenate)
def concatenate_bar(y, arrays, axis=0, *, y_bar):
    return split_like(y_bar, arrays, axis)


@tangent(np.stack)
def stack_dot(y, arrays, axis=0, *, arrays_dot):
    return np.stack(fill_zeros(arrays_dot, arrays), axis)


@adjoint(np.stack)
def stack_bar(y, arrays, axis=0, *, y_bar):
    return unstack_like(y_bar, arrays, axis)


@tangent(np.hstack)
def hstack_dot(y, tup, *, tup_dot):
    return np.hstack(fill_zeros(tup_dot, tup))


@adjoint(np.hstack)
def hstack_bar(y, tup, *, y_bar):
    return split_like(y_bar, tup, 0 if np.ndim(y) == 1 else 1)


@tangent(np.vstack)
def vstack_dot(y, tup, *, tup_dot):
    return np.vstack(fill_zeros(tup_dot, tup))


@adjoint(np.vstack)
def vstack_bar(y, tup, *, y_bar):
    return split_like(y_bar, tup, 0)


@tangent(np.split)
def split_dot(y, ary, indices_or_sections, axis=0, *, ary_dot):
    return np.split(ary_dot, indices_or_sections, axis)


@tangent(np.array_split)
def array_split_dot(y, ary, indices_or_sections, axis=0, *, ary_dot):
    return np.array_split(ary_dot, indices_or_sections, axis)


@adjoint(np.split, np.array_split)
def split_bar(y, ary, indices_or_sections, axis=0, *, y_bar):
    return np.concatenate(fill_zeros(y_bar, y), axis)

