"""Derivative rules for `cumprod` and for the methods of differentiable ufuncs.

`cumprod(a, axis)` (and `np.multiply.accumulate`) is differentiated exactly when `a` has
zeros: no division. With `y = cumprod(a)` along the axis and `y_{-1} = 1`:

- tangent: `y_dot_i = y_dot_{i-1} a_i + y_{i-1} a_dot_i` (the product rule, a forward scan);
- adjoint: `r_i = g_i + a_{i+1} r_{i+1}`, `a_bar_i = y_{i-1} r_i` (a backward scan);
- second order: the derivative of either scan with respect to `a` applies the symmetric
  tensor `T_ijk = d2 y_i / da_j da_k`: `cumprod_mixed(a, t, s)_i = sum_jk T_ijk t_j s_k`
  (a scan with two tangents) and `cumprod_mixed_t(a, t, g)_k = sum_ij g_i t_j T_ijk` (its
  transpose in `s`). Third derivatives are refused (those two have no rules).

Ufunc methods are keyed by the bound method (`np.add.reduce`, as `np.logaddexp.reduce` in
`numpy_reductions`):

- `add.reduce`, `multiply.reduce`, `maximum.reduce`, `minimum.reduce` are `sum`, `prod`,
  `max`, `min` with `axis=0` by default (ties share equally, as for `max`);
  `multiply.reduce` takes the product of the other elements from two cumulative products,
  so it has second derivatives.
- `add.accumulate` is `cumsum`, `multiply.accumulate` is `cumprod`; `maximum.accumulate`
  and `minimum.accumulate` pass each element the derivative of the element that set the
  running extremum (on a tie the earlier one, as `np.maximum` favours its first argument).
- `add.outer`, `multiply.outer`, `maximum.outer`, `minimum.outer` of any ranks.
"""

import numpy as np

from adgen.arrays import as_array, size
from adgen.rules.batched import batch_axes
from adgen.rules.numpy_assembly import gather_back, positions, spread, spread_batched
from adgen.rules.numpy_products import is_zero
from adgen.rules.numpy_reductions import cumsum_adjoint, expand_to, max_share
from adgen.rules.registry import adjoint, batched, linear, nondifferentiable, tangent
from adgen.runtime import refusal, unbroadcast

# ---------------------------------------------------------------- scans along one axis


def _one_axis(axis):
    """Refuse a tuple of axes: products are differentiated along one axis (or all, None)."""
    if isinstance(axis, (tuple, list)):
        raise refusal("adgen differentiates cumulative and reduced products along one axis "
                      "or along all of them (axis=None), not along a tuple of axes")


def _rows(x, axis, lead=0):
    """`x` with the scanned axis first (flattened behind `lead` batch axes when None)."""
    _one_axis(axis)
    x = as_array(x, dtype=np.result_type(x, 1.0))
    if axis is None:
        return np.moveaxis(np.reshape(x, x.shape[:lead] + (-1,)), lead, 0)
    return np.moveaxis(x, axis + lead if axis >= 0 else axis, 0)


def _unrows(r, axis, lead=0):
    """The inverse of `_rows` (flat along the scan when `axis` is None, as `np.cumprod`)."""
    if axis is None:
        return np.moveaxis(r, 0, -1)
    return np.moveaxis(r, 0, axis + lead if axis >= 0 else axis)


def _exclusive(rows):
    """`y_{i-1}` for each row `i` of a product scan (1 before the first)."""
    return np.concatenate([np.ones_like(rows[:1]), np.cumprod(rows, axis=0)[:-1]])


def _scan_jvp(a, t):
    """The tangent scan on rows: `d_i = d_{i-1} a_i + y_{i-1} t_i`."""
    before = _exclusive(a)
    out = np.empty(np.broadcast_shapes(a.shape, t.shape), np.result_type(a, t))
    d = 0.0
    for i in range(a.shape[0]):
        d = d * a[i] + before[i] * t[i]
        out[i] = d
    return out


def _shifted(d):
    """`d_{i-1}` for each row `i` of a tangent scan (0 before the first)."""
    return np.concatenate([np.zeros_like(d[:1]), d[:-1]])


def cumprod_jvp(t, a, axis=None, lead=0):
    """`J t` for `y = np.cumprod(a, axis)` (batched with `lead` axes in front of `t`)."""
    if is_zero(t):
        return np.zeros(np.shape(np.cumprod(a, axis)))
    rows = _rows(a, axis)
    rows = np.reshape(rows, rows.shape[:1] + (1,) * lead + rows.shape[1:])
    return _unrows(_scan_jvp(rows, _rows(t, axis, lead)), axis, lead)


def cumprod_vjp(g, a, axis=None):
    """`J^T g` for `y = np.cumprod(a, axis)`, in the shape of `a`."""
    if is_zero(g):
        return np.zeros(np.shape(a))
    shape = np.shape(a)
    a, g = _rows(a, axis), _rows(g, axis)
    before = _exclusive(a)
    out = np.empty(np.broadcast_shapes(a.shape, g.shape), np.result_type(a, g))
    r = 0.0
    for i in reversed(range(a.shape[0])):
        r = g[i] + (a[i + 1] * r if i + 1 < a.shape[0] else 0.0)
        out[i] = before[i] * r
    return np.reshape(_unrows(out, axis), shape)


def cumprod_mixed(a, t, s, axis=None):
    """`sum_jk T_ijk t_j s_k`: the derivative of `cumprod_jvp(t, a)` along `s`."""
    if is_zero(t) or is_zero(s):
        return np.zeros(np.shape(np.cumprod(a, axis)))
    a, t, s = _rows(a, axis), _rows(t, axis), _rows(s, axis)
    d1, d2 = _shifted(_scan_jvp(a, t)), _shifted(_scan_jvp(a, s))
    out = np.empty(np.broadcast_shapes(a.shape, t.shape, s.shape))
    m = 0.0
    for i in range(a.shape[0]):
        m = m * a[i] + d1[i] * s[i] + d2[i] * t[i]
        out[i] = m
    return _unrows(out, axis)


def cumprod_mixed_t(a, t, g, axis=None):
    """`sum_ij g_i t_j T_ijk`: `cumprod_mixed(a, t, .)` transposed, applied to `g`."""
    if is_zero(t) or is_zero(g):
        return np.zeros(np.shape(a))
    shape = np.shape(a)
    a, t, g = _rows(a, axis), _rows(t, axis), _rows(g, axis)
    before, d1 = _exclusive(a), _shifted(_scan_jvp(a, t))
    out = np.empty(np.broadcast_shapes(a.shape, t.shape, g.shape))
    r12, r2 = 0.0, 0.0
    for i in reversed(range(a.shape[0])):
        nxt = i + 1 < a.shape[0]
        r2 = (t[i + 1] * r12 + a[i + 1] * r2) if nxt else 0.0
        r12 = g[i] + (a[i + 1] * r12 if nxt else 0.0)
        out[i] = d1[i] * r12 + before[i] * r2
    return np.reshape(_unrows(out, axis), shape)


@tangent(np.cumprod, "ndarray.cumprod", np.multiply.accumulate)
def cumprod_dot(y, a, axis=None, dtype=None, out=None, *, a_dot):
    return cumprod_jvp(a_dot, a, axis)


@adjoint(np.cumprod, "ndarray.cumprod", np.multiply.accumulate)
def cumprod_bar(y, a, axis=None, dtype=None, out=None, *, y_bar):
    return cumprod_vjp(y_bar, a, axis)


@batched(np.cumprod, "ndarray.cumprod", np.multiply.accumulate)
def cumprod_batched(y, a, axis=None, dtype=None, out=None, *, a_dot):
    return cumprod_jvp(a_dot, a, axis, 1)


@tangent(cumprod_jvp)
def cumprod_jvp_dot(y, t, a, axis=None, lead=0, *, t_dot, a_dot):
    return cumprod_jvp(t_dot, a, axis, lead) + cumprod_mixed(a, t, a_dot, axis)


@adjoint(cumprod_jvp)
def cumprod_jvp_bar(y, t, a, axis=None, lead=0, *, y_bar):
    return cumprod_vjp(y_bar, a, axis), cumprod_mixed_t(a, t, y_bar, axis)


@tangent(cumprod_vjp)
def cumprod_vjp_dot(y, g, a, axis=None, *, g_dot, a_dot):
    return cumprod_vjp(g_dot, a, axis) + cumprod_mixed_t(a, a_dot, g, axis)


@adjoint(cumprod_vjp)
def cumprod_vjp_bar(y, g, a, axis=None, *, y_bar):
    return cumprod_jvp(y_bar, a, axis), cumprod_mixed_t(a, y_bar, g, axis)


# ---------------------------------------------------------------- ufunc.reduce


def last_along(t, a, axis=0, keepdims=False, lead=0):
    """The last element along `axis` of `t`, the tangent of a cumulative product of `a` (the
    last of the flat scan when `axis` is None), kept as a length-1 axis with `keepdims`."""
    _one_axis(axis)
    if is_zero(t):
        return t
    if axis is None:
        last = t[..., -1]
        return np.reshape(last, np.shape(last) + (1,) * np.ndim(a)) if keepdims else last
    return np.take(t, [-1] if keepdims else -1, axis=axis + lead if axis >= 0 else axis)


def put_last(g, a, axis=0, keepdims=False):
    """The adjoint of `last_along`: `g` at the last place of a scan of `a`, zeros elsewhere."""
    _one_axis(axis)
    if axis is None:
        out = np.zeros(size(a), np.result_type(g, 1.0))
        out[-1] = np.reshape(g, ())
        return out
    out = np.zeros(np.shape(a), np.result_type(g, 1.0))
    index = [slice(None)] * np.ndim(a)
    index[axis] = slice(-1, None)
    out[tuple(index)] = g if keepdims else np.expand_dims(g, axis)
    return out


linear(last_along, put_last)


@adjoint(last_along)
def last_along_bar(y, t, a, axis=0, keepdims=False, lead=0, *, y_bar):
    return put_last(y_bar, a, axis, keepdims)


@adjoint(put_last)
def put_last_bar(y, g, a, axis=0, keepdims=False, *, y_bar):
    return last_along(y_bar, a, axis, keepdims)


@tangent(np.add.reduce)
def add_reduce_dot(y, a, axis=0, dtype=None, out=None, keepdims=False, *, a_dot):
    return np.add.reduce(a_dot, axis, keepdims=keepdims)


@adjoint(np.add.reduce)
def add_reduce_bar(y, a, axis=0, dtype=None, out=None, keepdims=False, *, y_bar):
    return expand_to(y_bar, a, axis, keepdims)


@batched(np.add.reduce)
def add_reduce_batched(y, a, axis=0, dtype=None, out=None, keepdims=False, *, a_dot):
    return np.sum(a_dot, axis=batch_axes(axis, a), keepdims=keepdims)


@tangent(np.multiply.reduce)
def multiply_reduce_dot(y, a, axis=0, dtype=None, out=None, keepdims=False, *, a_dot):
    return last_along(cumprod_jvp(a_dot, a, axis), a, axis, keepdims)


@adjoint(np.multiply.reduce)
def multiply_reduce_bar(y, a, axis=0, dtype=None, out=None, keepdims=False, *, y_bar):
    return cumprod_vjp(put_last(y_bar, a, axis, keepdims), a, axis)


@batched(np.multiply.reduce)
def multiply_reduce_batched(y, a, axis=0, dtype=None, out=None, keepdims=False, *, a_dot):
    return last_along(cumprod_jvp(a_dot, a, axis, 1), a, axis, keepdims, 1)


@tangent(np.maximum.reduce, np.minimum.reduce)
def maximum_reduce_dot(y, a, axis=0, dtype=None, out=None, keepdims=False, *, a_dot):
    return np.sum(a_dot * max_share(a, y, axis, keepdims), axis=axis, keepdims=keepdims)


@adjoint(np.maximum.reduce, np.minimum.reduce)
def maximum_reduce_bar(y, a, axis=0, dtype=None, out=None, keepdims=False, *, y_bar):
    return expand_to(y_bar, a, axis, keepdims) * max_share(a, y, axis, keepdims)


@batched(np.maximum.reduce, np.minimum.reduce)
def maximum_reduce_batched(y, a, axis=0, dtype=None, out=None, keepdims=False, *, a_dot):
    return np.sum(a_dot * max_share(a, y, axis, keepdims), axis=batch_axes(axis, a),
                  keepdims=keepdims)


# ---------------------------------------------------------------- ufunc.accumulate


def running_source(a, y, axis=0):
    """Positions (for `spread`) of the element that set the running extremum `y` of `a`
    (`maximum.accumulate` or `minimum.accumulate`) at each place: a later element takes over
    only where it changed the extremum, so on a tie the earlier one keeps it."""
    rows, ys = np.moveaxis(np.asarray(a), axis, 0), np.moveaxis(np.asarray(y), axis, 0)
    pos = np.moveaxis(positions(a), axis, 0)
    out = np.empty(pos.shape, pos.dtype)
    src = pos[0]
    for i in range(rows.shape[0]):
        src = np.where((rows[i] == ys[i]) & (ys[i] != ys[i - 1]), pos[i], src) if i else src
        out[i] = src
    return np.moveaxis(out, 0, axis)


nondifferentiable(running_source)


@tangent(np.add.accumulate)
def add_accumulate_dot(y, array, axis=0, dtype=None, out=None, *, array_dot):
    return np.add.accumulate(array_dot, axis)


@adjoint(np.add.accumulate)
def add_accumulate_bar(y, array, axis=0, dtype=None, out=None, *, y_bar):
    return cumsum_adjoint(y_bar, array, axis)


@batched(np.add.accumulate)
def add_accumulate_batched(y, array, axis=0, dtype=None, out=None, *, array_dot):
    return np.add.accumulate(array_dot, batch_axes(axis, array))


@tangent(np.maximum.accumulate, np.minimum.accumulate)
def maximum_accumulate_dot(y, array, axis=0, dtype=None, out=None, *, array_dot):
    return spread(array_dot, running_source(array, y, axis))


@adjoint(np.maximum.accumulate, np.minimum.accumulate)
def maximum_accumulate_bar(y, array, axis=0, dtype=None, out=None, *, y_bar):
    return gather_back(y_bar, running_source(array, y, axis), array)


@batched(np.maximum.accumulate, np.minimum.accumulate)
def maximum_accumulate_batched(y, array, axis=0, dtype=None, out=None, *, array_dot):
    return spread_batched(array_dot, running_source(array, y, axis))


# ---------------------------------------------------------------- ufunc.outer


def left_of(t, a, b, lead=0):
    """Tangent `t` of `a` shaped for `ufunc.outer(a, b)`: `b`'s axes added at the end (a
    batched zero of another shape becomes zeros)."""
    shape = np.shape(t)[:lead] + np.shape(a) + (1,) * np.ndim(b)
    return np.reshape(t, shape) if size(t) == np.prod(shape) else np.zeros(shape, _float(t))


def right_of(t, a, b, lead=0):
    """Tangent `t` of `b` shaped for `ufunc.outer(a, b)`: `a`'s axes added in front."""
    shape = np.shape(t)[:lead] + (1,) * np.ndim(a) + np.shape(b)
    return np.reshape(t, shape) if size(t) == np.prod(shape) else np.zeros(shape, _float(t))


def _float(t):
    return np.result_type(t, 1.0)


linear(left_of, right_of)


@adjoint(left_of)
def left_of_bar(y, t, a, b, lead=0, *, y_bar):
    return np.reshape(y_bar, np.shape(t))


@adjoint(right_of)
def right_of_bar(y, t, a, b, lead=0, *, y_bar):
    return np.reshape(y_bar, np.shape(t))


def outer_grid(t, y, lead=0):
    """`t` broadcast to the shape of `y` (behind `lead` batch axes)."""
    return np.broadcast_to(t, np.shape(t)[:lead] + np.shape(y)).copy()


linear(outer_grid)


@adjoint(outer_grid)
def outer_grid_bar(y, t, y0, lead=0, *, y_bar):
    return unbroadcast(y_bar, t)


@tangent(np.add.outer)
def add_outer_dot(y, A, B, *, A_dot, B_dot):
    return outer_grid(left_of(A_dot, A, B) + right_of(B_dot, A, B), y)


@adjoint(np.add.outer)
def add_outer_bar(y, A, B, *, y_bar):
    return (np.reshape(unbroadcast(y_bar, left_of(A, A, B)), np.shape(A)),
            np.reshape(unbroadcast(y_bar, right_of(B, A, B)), np.shape(B)))


@batched(np.add.outer)
def add_outer_batched(y, A, B, *, A_dot, B_dot):
    return outer_grid(left_of(A_dot, A, B, 1) + right_of(B_dot, A, B, 1), y, 1)


@tangent(np.multiply.outer)
def multiply_outer_dot(y, A, B, *, A_dot, B_dot):
    return left_of(A_dot, A, B) * right_of(B, A, B) + left_of(A, A, B) * right_of(B_dot, A, B)


@adjoint(np.multiply.outer)
def multiply_outer_bar(y, A, B, *, y_bar):
    return (np.reshape(unbroadcast(y_bar * right_of(B, A, B), left_of(A, A, B)), np.shape(A)),
            np.reshape(unbroadcast(y_bar * left_of(A, A, B), right_of(B, A, B)), np.shape(B)))


@batched(np.multiply.outer)
def multiply_outer_batched(y, A, B, *, A_dot, B_dot):
    return (left_of(A_dot, A, B, 1) * right_of(B, A, B)
            + left_of(A, A, B) * right_of(B_dot, A, B, 1))


def outer_pick(A, B, y):
    """1.0 where `y = maximum.outer(A, B)` (or `minimum.outer`) took its element from `A`
    (on a tie: `A`, the first argument), 0.0 where from `B`."""
    return (y == left_of(A, A, B)).astype(np.result_type(y, 1.0))


nondifferentiable(outer_pick)


@tangent(np.maximum.outer, np.minimum.outer)
def maximum_outer_dot(y, A, B, *, A_dot, B_dot):
    return (left_of(A_dot, A, B) * outer_pick(A, B, y)
            + right_of(B_dot, A, B) * (1.0 - outer_pick(A, B, y)))


@adjoint(np.maximum.outer, np.minimum.outer)
def maximum_outer_bar(y, A, B, *, y_bar):
    return (np.reshape(unbroadcast(y_bar * outer_pick(A, B, y), left_of(A, A, B)), np.shape(A)),
            np.reshape(unbroadcast(y_bar * (1.0 - outer_pick(A, B, y)), right_of(B, A, B)),
                       np.shape(B)))


@batched(np.maximum.outer, np.minimum.outer)
def maximum_outer_batched(y, A, B, *, A_dot, B_dot):
    return (left_of(A_dot, A, B, 1) * outer_pick(A, B, y)
            + right_of(B_dot, A, B, 1) * (1.0 - outer_pick(A, B, y)))
