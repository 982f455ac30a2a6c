"""Derivative rules for NumPy statistics: `nansum`, `nanmean`, `median`, `cov`, `corrcoef`.

- `nansum`/`nanmean` skip NaNs in the derivative as in the value (a NaN element gets 0).
- `median(a, axis, keepdims)` is the mean of the one or two middle elements of each sorted
  slice; the derivative goes to those elements (`median_weights`: 1, or 1/2 each), chosen by
  a stable sort, so ties resolve as for `sort`.
- `cov(m, y, rowvar, bias, ddof)` is `Xc Xc^T / (N - ddof)` for the centred data rows `Xc`
  (`cov_rows` arranges `m` and `y` as NumPy does; it is linear in both and carries rules),
  so its derivative is written with `matmul` and `centered`, and has second derivatives.
  `fweights`/`aweights` are not supported (the call is refused).
- `corrcoef(x, y, rowvar)` is `C / sqrt(d d^T)` for `C = cov(...)` and `d` its diagonal.
  Its tangent and adjoint are the functions `corrcoef_jvp` and `corrcoef_vjp`, plain NumPy
  made of operations with rules and without rules of their own: for second derivatives adgen
  differentiates their source. Neither `cov` nor `corrcoef` has a batched form (forward
  Jacobians take one pass per direction).
"""

import numpy as np

from adgen.rules.batched import batch_axes
from adgen.rules.numpy_products import is_zero
from adgen.rules.numpy_reductions import centered, expand_to, reduced_axes
from adgen.rules.registry import adjoint, batched, linear, nondifferentiable, tangent

# ---------------------------------------------------------------- nansum, nanmean


def nan_count(a, axis=None, keepdims=False):
    """How many elements of `a` that are not NaN each output of a reduction combines."""
    return np.sum(~np.isnan(a), axis=axis, keepdims=keepdims).astype(np.result_type(a, 1.0))


def not_nan(a):
    """1.0 where `a` is a number, 0.0 where it is NaN."""
    return (~np.isnan(a)).astype(np.result_type(a, 1.0))


nondifferentiable(nan_count, not_nan)


@tangent(np.nansum)
def nansum_dot(y, a, axis=None, dtype=None, out=None, keepdims=False, *, a_dot):
    return np.sum(np.where(np.isnan(a), 0.0, a_dot), axis=axis, keepdims=keepdims)


@adjoint(np.nansum)
def nansum_bar(y, a, axis=None, dtype=None, out=None, keepdims=False, *, y_bar):
    return expand_to(y_bar, a, axis, keepdims) * not_nan(a)


@batched(np.nansum)
def nansum_batched(y, a, axis=None, dtype=None, out=None, keepdims=False, *, a_dot):
    return np.sum(np.where(np.isnan(a), 0.0, a_dot), axis=batch_axes(axis, a), keepdims=keepdims)


@tangent(np.nanmean)
def nanmean_dot(y, a, axis=None, dtype=None, out=None, keepdims=False, *, a_dot):
    return (np.sum(np.where(np.isnan(a), 0.0, a_dot), axis=axis, keepdims=keepdims)
            / nan_count(a, axis, keepdims))


@adjoint(np.nanmean)
def nanmean_bar(y, a, axis=None, dtype=None, out=None, keepdims=False, *, y_bar):
    return expand_to(y_bar / nan_count(a, axis, keepdims), a, axis, keepdims) * not_nan(a)


@batched(np.nanmean)
def nanmean_batched(y, a, axis=None, dtype=None, out=None, keepdims=False, *, a_dot):
    return (np.sum(np.where(np.isnan(a), 0.0, a_dot), axis=batch_axes(axis, a),
                   keepdims=keepdims) / nan_count(a, axis, keepdims))


# ---------------------------------------------------------------- median


def median_weights(a, axis=None):
    """The weight of each element of `a` in its slice's median: 1 for the middle element of
    an odd count, 1/2 for each of the two middle ones of an even count, else 0."""
    a = np.asarray(a)
    axes = reduced_axes(axis, a.ndim)
    ends = tuple(range(a.ndim - len(axes), a.ndim))
    moved = np.moveaxis(a, axes, ends)
    rows = moved.reshape(moved.shape[:a.ndim - len(axes)] + (-1,))
    n = rows.shape[-1]
    rank = np.argsort(np.argsort(rows, axis=-1, kind="stable"), axis=-1, kind="stable")
    w = (rank == n // 2) * 1.0 if n % 2 else ((rank == n // 2) + (rank == n // 2 - 1)) * 0.5
    return np.moveaxis(w.reshape(moved.shape), ends, axes).astype(np.result_type(a, 1.0))


nondifferentiable(median_weights)


@tangent(np.median)
def median_dot(y, a, axis=None, out=None, overwrite_input=False, keepdims=False, *, a_dot):
    return np.sum(a_dot * median_weights(a, axis), axis=axis, keepdims=keepdims)


@adjoint(np.median)
def median_bar(y, a, axis=None, out=None, overwrite_input=False, keepdims=False, *, y_bar):
    return expand_to(y_bar, a, axis, keepdims) * median_weights(a, axis)


@batched(np.median)
def median_batched(y, a, axis=None, out=None, overwrite_input=False, keepdims=False, *, a_dot):
    return np.sum(a_dot * median_weights(a, axis), axis=batch_axes(axis, a), keepdims=keepdims)


# ---------------------------------------------------------------- cov


def _data_rows(v, rowvar):
    v = np.atleast_2d(np.asarray(v, dtype=np.result_type(v, np.float64)))  # as np.cov
    return v.T if not rowvar and v.shape[0] != 1 else v


def cov_rows(tm, ty, m, y=None, rowvar=True):
    """The data matrix `np.cov(m, y, rowvar)` works on (one variable a row), from `tm` and
    `ty` in the places of `m` and `y` (a zero 0.0 for either)."""
    parts = [np.zeros(np.shape(_data_rows(m, rowvar))) if is_zero(tm) else _data_rows(tm, rowvar)]
    if y is not None:
        parts.append(np.zeros(np.shape(_data_rows(y, rowvar))) if is_zero(ty)
                     else _data_rows(ty, rowvar))
    return np.concatenate(parts, axis=0)


def cov_part(g, m, y=None, rowvar=True, which=0):
    """The adjoint of `m` (`which` 0) or `y` (1) from `g`, an adjoint of the data matrix."""
    if is_zero(g):
        return g
    rows = np.shape(_data_rows(m, rowvar))[0]
    piece = g[:rows] if which == 0 else g[rows:]
    own = m if which == 0 else y
    if not rowvar and np.shape(np.atleast_2d(own))[0] != 1:
        piece = piece.T
    return np.reshape(piece, np.shape(own)).astype(np.result_type(own, 1.0))


def cov_scale(m, y=None, rowvar=True, bias=False, ddof=None):
    """`1 / (N - ddof)`, with NumPy's default `ddof` (1, or 0 when `bias`)."""
    n = np.shape(cov_rows(0.0, 0.0, m, y, rowvar))[1]
    return 1.0 / (n - (ddof if ddof is not None else (0 if bias else 1)))


def cov_square(g, m, y=None, rowvar=True):
    """`g`, an adjoint of `np.cov`'s squeezed result, as the full square matrix."""
    if is_zero(g):
        return g
    p = np.shape(cov_rows(0.0, 0.0, m, y, rowvar))[0]
    return np.reshape(g, (p, p))


nondifferentiable(cov_scale)
linear(cov_part, cov_square)


@tangent(cov_rows)
def cov_rows_dot(z, tm, ty, m, y=None, rowvar=True, *, tm_dot, ty_dot):
    return cov_rows(tm_dot, ty_dot, m, y, rowvar)


@adjoint(cov_rows)
def cov_rows_bar(z, tm, ty, m, y=None, rowvar=True, *, y_bar):
    return cov_part(y_bar, m, y, rowvar, 0), cov_part(y_bar, m, y, rowvar, 1)


@adjoint(cov_part)
def cov_part_bar(z, g, m, y=None, rowvar=True, which=0, *, y_bar):
    return cov_rows(y_bar if which == 0 else 0.0, y_bar if which == 1 else 0.0, m, y, rowvar)


@adjoint(cov_square)
def cov_square_bar(z, g, m, y=None, rowvar=True, *, y_bar):
    return np.reshape(y_bar, np.shape(g))


@tangent(np.cov)
def cov_dot(c, m, y=None, rowvar=True, bias=False, ddof=None, *, m_dot, y_dot):
    return np.reshape(
        (centered(cov_rows(m_dot, y_dot, m, y, rowvar), 1)
         @ np.transpose(centered(cov_rows(m, y, m, y, rowvar), 1))
         + centered(cov_rows(m, y, m, y, rowvar), 1)
         @ np.transpose(centered(cov_rows(m_dot, y_dot, m, y, rowvar), 1)))
        * cov_scale(m, y, rowvar, bias, ddof), np.shape(c))


@adjoint(np.cov)
def cov_bar(c, m, y=None, rowvar=True, bias=False, ddof=None, *, y_bar):
    return (cov_part(centered((cov_square(y_bar, m, y, rowvar)
                               + np.transpose(cov_square(y_bar, m, y, rowvar)))
                              @ centered(cov_rows(m, y, m, y, rowvar), 1), 1), m, y, rowvar, 0)
            * cov_scale(m, y, rowvar, bias, ddof),
            cov_part(centered((cov_square(y_bar, m, y, rowvar)
                               + np.transpose(cov_square(y_bar, m, y, rowvar)))
                              @ centered(cov_rows(m, y, m, y, rowvar), 1), 1), m, y, rowvar, 1)
            * cov_scale(m, y, rowvar, bias, ddof))


# ---------------------------------------------------------------- corrcoef


def corrcoef_jvp(x_dot, y_dot, x, y=None, rowvar=True):
    """The tangent of `np.corrcoef(x, y, rowvar)` (a full matrix, as `np.atleast_2d`).

    Plain NumPy made of operations adgen differentiates, so that adgen differentiates this
    function's source for second derivatives.
    """
    xc = centered(cov_rows(x, y, x, y, rowvar), 1)
    tc = centered(cov_rows(x_dot, y_dot, x, y, rowvar), 1)
    c = xc @ np.transpose(xc)
    c_dot = tc @ np.transpose(xc) + xc @ np.transpose(tc)
    d = np.diag(c)
    d_dot = np.diag(c_dot)
    r = c / np.sqrt(np.outer(d, d))
    return c_dot / np.sqrt(np.outer(d, d)) - 0.5 * r * np.add.outer(d_dot / d, d_dot / d)


def corrcoef_vjp(g, x, y=None, rowvar=True, which=0):
    """The adjoint of `x` (`which` 0) or `y` (1) in `np.corrcoef(x, y, rowvar)` from `g`.

    Plain NumPy made of operations adgen differentiates (see `corrcoef_jvp`).
    """
    xc = centered(cov_rows(x, y, x, y, rowvar), 1)
    c = xc @ np.transpose(xc)
    d = np.diag(c)
    s = np.sqrt(np.outer(d, d))
    gm = cov_square(g, x, y, rowvar)
    gr = gm * (c / s)
    c_bar = gm / s - np.diag(0.5 * (np.sum(gr, axis=1) + np.sum(gr, axis=0)) / d)
    return cov_part(centered((c_bar + np.transpose(c_bar)) @ xc, 1), x, y, rowvar, which)


@tangent(np.corrcoef)
def corrcoef_dot(r, x, y=None, rowvar=True, *, x_dot, y_dot):
    return np.reshape(corrcoef_jvp(x_dot, y_dot, x, y, rowvar), np.shape(r))


@adjoint(np.corrcoef)
def corrcoef_bar(r, x, y=None, rowvar=True, *, y_bar):
    return corrcoef_vjp(y_bar, x, y, rowvar, 0), corrcoef_vjp(y_bar, x, y, rowvar, 1)
