"""SciPy functions written in terms of functions that have rules (see `numpy_composites`),
registered only when SciPy is installed, and a few more elementwise rules of
`scipy.special`.

Rules (elementwise, side by side): `gamma` (Γ′ = Γ ψ), `erfinv` and `erfcinv`
(`√π/2 · exp(y²)`, negated for `erfcinv`), `i0` (`i1`), `i1` (`i0 − i1/x`, with the limit
1/2 at 0), `i0e` and `i1e` (the same, scaled).

Written in terms of others: `scipy.special` `betaln`, `beta`, `log_expit`, `entr`,
`rel_entr`, `kl_div`, `softplus` (where SciPy has it); `scipy.linalg` `solve` (`assume_a`
and `lower` only choose SciPy's algorithm; `transposed` is honoured), `inv`, `det`,
`cholesky` (upper by default, as SciPy), `norm`.
"""

import math

import numpy as np
import scipy.linalg as sl
import scipy.special as sp

from adgen.rules.registry import adjoint, implemented, tangent

# ---------------------------------------------------------------- elementwise rules


@tangent(sp.gamma)
def gamma_dot(y, x, *, x_dot):
    return x_dot * y * sp.digamma(x)


@adjoint(sp.gamma)
def gamma_bar(y, x, *, y_bar):
    return y_bar * y * sp.digamma(x)


@tangent(sp.erfinv)
def erfinv_dot(y, x, *, x_dot):
    return x_dot * (math.sqrt(math.pi) / 2) * np.exp(y * y)


@adjoint(sp.erfinv)
def erfinv_bar(y, x, *, y_bar):
    return y_bar * (math.sqrt(math.pi) / 2) * np.exp(y * y)


@tangent(sp.erfcinv)
def erfcinv_dot(y, x, *, x_dot):
    return -x_dot * (math.sqrt(math.pi) / 2) * np.exp(y * y)


@adjoint(sp.erfcinv)
def erfcinv_bar(y, x, *, y_bar):
    return -y_bar * (math.sqrt(math.pi) / 2) * np.exp(y * y)


def i1_slope(x, y):
    """d i1 / dx = i0(x) - i1(x) / x, which is 1/2 at 0."""
    safe = np.where(x == 0, 1.0, x)
    return np.where(x == 0, 0.5, sp.i0(x) - y / safe)


def i1e_slope(x, y):
    """d i1e / dx = i0e(x) - i1e(x) (sign(x) + 1/x), which is 1/2 at 0."""
    safe = np.where(x == 0, 1.0, x)
    return np.where(x == 0, 0.5, sp.i0e(x) - y * (np.sign(x) + 1.0 / safe))


@tangent(sp.i0)
def i0_dot(y, x, *, x_dot):
    return x_dot * sp.i1(x)


@adjoint(sp.i0)
def i0_bar(y, x, *, y_bar):
    return y_bar * sp.i1(x)


@tangent(sp.i1)
def i1_dot(y, x, *, x_dot):
    return x_dot * i1_slope(x, y)


@adjoint(sp.i1)
def i1_bar(y, x, *, y_bar):
    return y_bar * i1_slope(x, y)


@tangent(sp.i0e)
def i0e_dot(y, x, *, x_dot):
    return x_dot * (sp.i1e(x) - np.sign(x) * y)


@adjoint(sp.i0e)
def i0e_bar(y, x, *, y_bar):
    return y_bar * (sp.i1e(x) - np.sign(x) * y)


@tangent(sp.i1e)
def i1e_dot(y, x, *, x_dot):
    return x_dot * i1e_slope(x, y)


@adjoint(sp.i1e)
def i1e_bar(y, x, *, y_bar):
    return y_bar * i1e_slope(x, y)


# ---------------------------------------------------------------- written in terms of others


@implemented(sp.betaln)
def betaln(a, b):
    return sp.gammaln(a) + sp.gammaln(b) - sp.gammaln(a + b)


@implemented(sp.beta)
def beta(a, b):
    return sp.gamma(a) * sp.gamma(b) / sp.gamma(a + b)


@implemented(getattr(sp, "log_expit", None))
def log_expit(x):
    return -np.logaddexp(0.0, -x)


@implemented(getattr(sp, "softplus", None))
def softplus(x):
    return np.logaddexp(0.0, x)


@implemented(sp.entr)
def entr(x):
    positive = x > 0
    inside = -x * np.log(np.where(positive, x, 1.0))
    return np.where(positive, inside, np.where(x == 0, 0.0, -np.inf))


@implemented(sp.rel_entr)
def rel_entr(x, y):
    both = (x > 0) & (y > 0)
    inside = x * np.log(np.where(both, x, 1.0) / np.where(both, y, 1.0))
    return np.where(both, inside, np.where((x == 0) & (y >= 0), 0.0, np.inf))


@implemented(sp.kl_div)
def kl_div(x, y):
    both = (x > 0) & (y > 0)
    inside = x * np.log(np.where(both, x, 1.0) / np.where(both, y, 1.0)) - x + y
    return np.where(both, inside, np.where((x == 0) & (y >= 0), y, np.inf))


@implemented(sl.solve)
def solve(a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True,
          assume_a=None, transposed=False):
    if transposed:
        return np.linalg.solve(np.swapaxes(a, -1, -2), b)
    return np.linalg.solve(a, b)


@implemented(sl.inv)
def inv(a, overwrite_a=False, check_finite=True):
    return np.linalg.inv(a)


@implemented(sl.det)
def det(a, overwrite_a=False, check_finite=True):
    return np.linalg.det(a)


@implemented(sl.cholesky)
def cholesky(a, lower=False, overwrite_a=False, check_finite=True):
    factor = np.linalg.cholesky(a)
    if lower:
        return factor
    return np.swapaxes(factor, -1, -2)


@implemented(sl.norm)
def norm(a, ord=None, axis=None, keepdims=False, check_finite=True):
    return np.linalg.norm(a, ord, axis, keepdims)
