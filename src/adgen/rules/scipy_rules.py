"""Derivative rules for SciPy, registered only when SciPy is installed (an optional dependency:
`adgen.rules` imports this module inside a guard).

`scipy.special`:

- Elementwise functions (ufuncs, so batched forward mode needs no extra form): `expit`,
  `logit`, `erf`, `erfc`, `gammaln` (ψ), `digamma` (ψ′ = `polygamma(1, x)`; `polygamma(n, x)`
  has its own rule in `x`, so any order works), `xlogy`, `xlog1py`, `ndtr`, `log_ndtr`,
  `ndtri`. Two-argument functions undo broadcasting in their adjoints. `xlogy(x, y)` takes
  the derivative in `x` as `log(y)` and in `y` as `x / y`.
- `logsumexp(a, axis, b, keepdims)`: the derivative in `a` is `b·exp(a − y)`, in `b`
  `exp(a − y)`. `return_sign=True` (a pair) is refused at run time with `DifferentiationError`.
- `softmax(x, axis)`, `log_softmax(x, axis)`: `axis=None` normalises over every element, as
  SciPy does.

`scipy.linalg` (single matrices):

- `solve_triangular(a, b, trans, lower, unit_diagonal)` reads only the named triangle of `a`
  (without the diagonal when `unit_diagonal`), so its derivative in `a` lives on that triangle
  too; `trans` 0/'N' or 1/'T'/2/'C' (the same for real matrices).
- `cho_solve((c, lower), b)` likewise reads one triangle of the factor `c`: with `A = LLᵀ`
  (`UᵀU`), `x̄`'s pull-back `Ā = −A⁻¹x̄ xᵀ` becomes `(Ā + Āᵀ)L` on the lower triangle
  (`U(Ā + Āᵀ)` on the upper). The adjoint of the pair `(c, lower)` is the list `[c̄, None]`.
- `expm(a)`: the tangent is the upper-right block of `expm([[a, ȧ], [0, a]])` and the adjoint
  the upper-right block of `expm([[aᵀ, ȳ], [0, aᵀ]])`.

Batched forms: the ufuncs need none; the others have one (the triangular solves take the
directions as extra columns of one right-hand side).

A SciPy function without a rule is refused at the user's line under its public name
(`scipy.special.i0`), never by reading SciPy's own source.
"""

import math

import numpy as np
import scipy.linalg as sl
import scipy.special as sp

from adgen.errors import DifferentiationError
from adgen.rules.batched import batch_axes, lift, takes_lists
from adgen.rules.numpy_decompositions import mT, tri_mask
from adgen.rules.numpy_products import is_zero
from adgen.rules.numpy_reductions import expand_to, keep_dims
from adgen.rules.registry import adjoint, batched, nondifferentiable, tangent
from adgen.runtime import unbroadcast

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_TWO_PI = math.sqrt(2.0 * math.pi)


# ---------------------------------------------------------------- elementwise functions


@tangent(sp.expit)
def expit_dot(y, x, *, x_dot):
    return x_dot * y * (1.0 - y)


@adjoint(sp.expit)
def expit_bar(y, x, *, y_bar):
    return y_bar * y * (1.0 - y)


@tangent(sp.logit)
def logit_dot(y, x, *, x_dot):
    return x_dot / (x * (1.0 - x))


@adjoint(sp.logit)
def logit_bar(y, x, *, y_bar):
    return y_bar / (x * (1.0 - x))


@tangent(sp.erf)
def erf_dot(y, x, *, x_dot):
    return x_dot * _TWO_OVER_SQRT_PI * np.exp(-x * x)


@adjoint(sp.erf)
def erf_bar(y, x, *, y_bar):
    return y_bar * _TWO_OVER_SQRT_PI * np.exp(-x * x)


@tangent(sp.erfc)
def erfc_dot(y, x, *, x_dot):
    return -x_dot * _TWO_OVER_SQRT_PI * np.exp(-x * x)


@adjoint(sp.erfc)
def erfc_bar(y, x, *, y_bar):
    return -y_bar * _TWO_OVER_SQRT_PI * np.exp(-x * x)


@tangent(sp.gammaln)
def gammaln_dot(y, x, *, x_dot):
    return x_dot * sp.digamma(x)


@adjoint(sp.gammaln)
def gammaln_bar(y, x, *, y_bar):
    return y_bar * sp.digamma(x)


def polygamma_like(n, x):
    """`scipy.special.polygamma(n, x)` in the float32 of a float32 `x` (SciPy computes it in
    float64), so that the derivatives of `digamma` keep its dtype."""
    out = sp.polygamma(n, x)
    if np.result_type(x) == np.float32:
        return np.asarray(out, dtype=np.float32)[()]
    return out


@tangent(sp.digamma)
def digamma_dot(y, x, *, x_dot):
    return x_dot * polygamma_like(1, x)


@adjoint(sp.digamma)
def digamma_bar(y, x, *, y_bar):
    return y_bar * polygamma_like(1, x)


@tangent(polygamma_like)
@batched(polygamma_like)
def polygamma_like_dot(y, n, x, *, x_dot):
    return x_dot * polygamma_like(n + 1, x)


@adjoint(polygamma_like)
def polygamma_like_bar(y, n, x, *, y_bar):
    return None, y_bar * polygamma_like(n + 1, x)


@tangent(sp.polygamma)
@batched(sp.polygamma)
def polygamma_dot(y, n, x, *, x_dot):
    return x_dot * sp.polygamma(n + 1, x)


@adjoint(sp.polygamma)
def polygamma_bar(y, n, x, *, y_bar):
    return None, y_bar * sp.polygamma(n + 1, x)


@tangent(sp.xlogy)
def xlogy_dot(y, x, z, *, x_dot, z_dot):
    return x_dot * np.log(z) + z_dot * x / z


@adjoint(sp.xlogy)
def xlogy_bar(y, x, z, *, y_bar):
    return unbroadcast(y_bar * np.log(z), x), unbroadcast(y_bar * x / z, z)


@tangent(sp.xlog1py)
def xlog1py_dot(y, x, z, *, x_dot, z_dot):
    return x_dot * np.log1p(z) + z_dot * x / (1.0 + z)


@adjoint(sp.xlog1py)
def xlog1py_bar(y, x, z, *, y_bar):
    return unbroadcast(y_bar * np.log1p(z), x), unbroadcast(y_bar * x / (1.0 + z), z)


@tangent(sp.ndtr)
def ndtr_dot(y, x, *, x_dot):
    return x_dot * np.exp(-0.5 * x * x) / _SQRT_TWO_PI


@adjoint(sp.ndtr)
def ndtr_bar(y, x, *, y_bar):
    return y_bar * np.exp(-0.5 * x * x) / _SQRT_TWO_PI


@tangent(sp.log_ndtr)
def log_ndtr_dot(y, x, *, x_dot):
    return x_dot * np.exp(-0.5 * x * x - y) / _SQRT_TWO_PI


@adjoint(sp.log_ndtr)
def log_ndtr_bar(y, x, *, y_bar):
    return y_bar * np.exp(-0.5 * x * x - y) / _SQRT_TWO_PI


@tangent(sp.ndtri)
def ndtri_dot(y, x, *, x_dot):
    return x_dot * _SQRT_TWO_PI * np.exp(0.5 * y * y)


@adjoint(sp.ndtri)
def ndtri_bar(y, x, *, y_bar):
    return y_bar * _SQRT_TWO_PI * np.exp(0.5 * y * y)


# ---------------------------------------------------------------- logsumexp, softmax


def lse_share(a, y, axis=None, b=None, keepdims=False, return_sign=False):
    """`exp(a - y)` for `y = logsumexp(a, axis, b, keepdims)`: the derivative of `y` in `b`
    (times `b`, the derivative in `a`)."""
    if return_sign:
        raise DifferentiationError(
            "adgen has no derivative of scipy.special.logsumexp with return_sign=True; "
            "call it without return_sign")
    return np.exp(a - keep_dims(y, a, axis, keepdims))


def weighted(share, b=None):
    """`share * b`, or `share` when there are no weights."""
    if b is None:
        return share
    return share * b


@tangent(sp.logsumexp)
def logsumexp_dot(y, a, axis=None, b=None, keepdims=False, return_sign=False, *, a_dot, b_dot):
    return (np.sum(a_dot * weighted(lse_share(a, y, axis, b, keepdims, return_sign), b),
                   axis=axis, keepdims=keepdims)
            + np.sum(b_dot * lse_share(a, y, axis, b, keepdims, return_sign), axis=axis,
                     keepdims=keepdims))


@adjoint(sp.logsumexp)
def logsumexp_bar(y, a, axis=None, b=None, keepdims=False, return_sign=False, *, y_bar):
    return (unbroadcast(weighted(lse_share(a, y, axis, b, keepdims, return_sign), b)
                        * expand_to(y_bar, a, axis, keepdims), a),
            None,
            unbroadcast(lse_share(a, y, axis, b, keepdims, return_sign)
                        * expand_to(y_bar, a, axis, keepdims), b))


@batched(sp.logsumexp)
def logsumexp_batched(y, a, axis=None, b=None, keepdims=False, return_sign=False, *, a_dot,
                      b_dot):
    return (np.sum(a_dot * weighted(lse_share(a, y, axis, b, keepdims, return_sign), b),
                   axis=batch_axes(axis, a), keepdims=keepdims)
            + np.sum(lift(b_dot, a) * lse_share(a, y, axis, b, keepdims, return_sign),
                     axis=batch_axes(axis, a), keepdims=keepdims))


@tangent(sp.softmax)
def softmax_dot(y, x, axis=None, *, x_dot):
    return y * (x_dot - np.sum(y * x_dot, axis=axis, keepdims=True))


@adjoint(sp.softmax)
def softmax_bar(y, x, axis=None, *, y_bar):
    return y * (y_bar - np.sum(y * y_bar, axis=axis, keepdims=True))


@batched(sp.softmax)
def softmax_batched(y, x, axis=None, *, x_dot):
    return y * (x_dot - np.sum(y * x_dot, axis=batch_axes(axis, x), keepdims=True))


@tangent(sp.log_softmax)
def log_softmax_dot(y, x, axis=None, *, x_dot):
    return x_dot - np.sum(np.exp(y) * x_dot, axis=axis, keepdims=True)


@adjoint(sp.log_softmax)
def log_softmax_bar(y, x, axis=None, *, y_bar):
    return y_bar - np.exp(y) * np.sum(y_bar, axis=axis, keepdims=True)


@batched(sp.log_softmax)
def log_softmax_batched(y, x, axis=None, *, x_dot):
    return x_dot - np.sum(np.exp(y) * x_dot, axis=batch_axes(axis, x), keepdims=True)


# ---------------------------------------------------------------- scipy.linalg


def is_transposed(trans):
    """Whether `solve_triangular`'s `trans` solves with the transposed matrix."""
    return trans in (1, 2, "T", "C")


def flipped(trans):
    return 0 if is_transposed(trans) else 1


nondifferentiable(is_transposed, flipped)


def triangular_part(m, lower, unit_diagonal=False):
    """The triangle of `m` that `solve_triangular` reads."""
    return m * tri_mask(m, -1 if unit_diagonal else 0, lower)


def outer_of(u, v):
    """`u vᵀ` for vectors, `u @ vᵀ` for matrices (right-hand sides and solutions)."""
    if np.ndim(u) == 1:
        return u[:, None] * v[None, :]
    return u @ mT(v)


def solve_triangular_tangent_a(y, a, a_dot, trans=0, lower=False, unit_diagonal=False):
    t = triangular_part(a_dot, lower, unit_diagonal)
    if is_transposed(trans):
        t = mT(t)
    return -sl.solve_triangular(a, t @ y, trans, lower, unit_diagonal)


def solve_triangular_adjoint_a(y, a, g, trans=0, lower=False, unit_diagonal=False):
    b_bar = sl.solve_triangular(a, g, flipped(trans), lower, unit_diagonal)
    t_bar = outer_of(y, b_bar) if is_transposed(trans) else outer_of(b_bar, y)
    return -triangular_part(t_bar, lower, unit_diagonal)


@tangent(sl.solve_triangular)
def solve_triangular_dot(y, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                         check_finite=True, *, a_dot, b_dot):
    return (solve_triangular_tangent_a(y, a, a_dot, trans, lower, unit_diagonal)
            + sl.solve_triangular(a, b_dot, trans, lower, unit_diagonal))


@adjoint(sl.solve_triangular)
def solve_triangular_bar(y, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                         check_finite=True, *, y_bar):
    return (solve_triangular_adjoint_a(y, a, y_bar, trans, lower, unit_diagonal),
            sl.solve_triangular(a, y_bar, flipped(trans), lower, unit_diagonal))


def directions_as_columns(t):
    """A batched tangent `t` of a right-hand side (vector or matrix) as one matrix: the
    directions side by side as extra columns."""
    return np.reshape(np.moveaxis(t, 0, -1), (np.shape(t)[1], -1))


def directions_from_columns(x, t):
    """The solution `x` for `directions_as_columns(t)` shaped like `t` again."""
    return np.moveaxis(np.reshape(x, np.shape(t)[1:] + np.shape(t)[:1]), -1, 0)


def solve_columns(a, t, trans=0, lower=False, unit_diagonal=False):
    """Batched `solve_triangular(a, b)` with the tangent `t` of `b`."""
    x = sl.solve_triangular(a, directions_as_columns(t), trans, lower, unit_diagonal)
    return directions_from_columns(x, t)


def solve_triangular_batched_a(y, a, a_dot, trans=0, lower=False, unit_diagonal=False):
    t = triangular_part(a_dot, lower, unit_diagonal)
    if is_transposed(trans):
        t = mT(t)
    return -solve_columns(a, t @ y, trans, lower, unit_diagonal)


@batched(sl.solve_triangular)
def solve_triangular_batched(y, a, b, trans=0, lower=False, unit_diagonal=False,
                             overwrite_b=False, check_finite=True, *, a_dot, b_dot):
    return (solve_triangular_batched_a(y, a, a_dot, trans, lower, unit_diagonal)
            + solve_columns(a, b_dot, trans, lower, unit_diagonal))


def cho_factor_tangent(c_and_lower, c_and_lower_dot, y):
    """`-dA x` for `A = LLᵀ` (or `UᵀU`) with the factor's tangent from `c_and_lower_dot`."""
    c, lower = c_and_lower[0], c_and_lower[1]
    dc = c_and_lower_dot[0]
    if is_zero(dc) or dc is None:
        return 0.0
    t = triangular_part(c, lower)
    dt = triangular_part(dc, lower)
    da = dt @ mT(t) + t @ mT(dt) if lower else mT(dt) @ t + mT(t) @ dt
    return -(da @ y)


def cho_factor_adjoint(c_and_lower, y, g):
    """The adjoint of `cho_solve`'s factor, as a list like `(c, lower)`."""
    c, lower = c_and_lower[0], c_and_lower[1]
    t = triangular_part(c, lower)
    a_bar = -outer_of(sl.cho_solve(c_and_lower, g), y)
    sym = a_bar + mT(a_bar)
    return [triangular_part(sym @ t if lower else t @ sym, lower), None]


@tangent(sl.cho_solve)
def cho_solve_dot(y, c_and_lower, b, overwrite_b=False, check_finite=True, *, c_and_lower_dot,
                  b_dot):
    return sl.cho_solve(c_and_lower, b_dot + cho_factor_tangent(c_and_lower, c_and_lower_dot, y))


def cho_solve_columns(c_and_lower, t):
    """Batched `cho_solve(c_and_lower, b)` with the tangent `t` of `b`."""
    return directions_from_columns(sl.cho_solve(c_and_lower, directions_as_columns(t)), t)


@batched(sl.cho_solve)
@takes_lists
def cho_solve_batched(y, c_and_lower, b, overwrite_b=False, check_finite=True, *,
                      c_and_lower_dot, b_dot):
    return cho_solve_columns(c_and_lower, b_dot + cho_factor_tangent(c_and_lower,
                                                                     c_and_lower_dot, y))


@adjoint(sl.cho_solve)
def cho_solve_bar(y, c_and_lower, b, overwrite_b=False, check_finite=True, *, y_bar):
    return cho_factor_adjoint(c_and_lower, y, y_bar), sl.cho_solve(c_and_lower, y_bar)


def expm_frechet_block(a, e):
    """The derivative of `expm` at `a` in the direction `e`: the upper-right block of
    `expm([[a, e], [0, a]])` (`e` may carry a leading batch axis)."""
    n = np.shape(a)[-1]
    a = np.broadcast_to(a, np.shape(e))
    top = np.concatenate([a, e], axis=-1)
    bottom = np.concatenate([np.zeros_like(a), a], axis=-1)
    return sl.expm(np.concatenate([top, bottom], axis=-2))[..., :n, n:]


@tangent(sl.expm)
@batched(sl.expm)
def expm_dot(y, A, *, A_dot):
    return expm_frechet_block(A, A_dot)


@adjoint(sl.expm)
def expm_bar(y, A, *, y_bar):
    return expm_frechet_block(mT(A), y_bar)
