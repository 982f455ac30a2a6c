"""Catalog of the `math` special functions and the SciPy rules (issue 17).

One record per rule: a function using it, arguments inside its domain. Each is checked by
`check_grads` (central differences, forward vs reverse, dot-product test), at second order on
a scalar made of it, and by comparing `jacobian(mode="forward")` and the batched tangent with
`jacobian(mode="reverse")` (`rule_cases.check_case`). SciPy cases are skipped when SciPy is
not installed.
"""

import math

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads
from tests.rule_cases import check_case, check_float32

try:  # the SciPy cases skip themselves (pytest.importorskip) when SciPy is not installed
    import scipy.linalg as sl
    import scipy.special as sp
except ImportError:
    sl = sp = None


def _a(*shape, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed + sum(shape)).uniform(low, high, shape)


# ---------------------------------------------------------------- math (scalars)


def math_erf(x, y):
    return math.erf(x) * y + math.erfc(x * y)


def math_lgamma(x):
    return math.lgamma(x) + math.lgamma(x + 3.5) * x


def math_gamma(x):
    return math.gamma(x) * math.gamma(0.5 * x + 1.0)


def math_fmod(x, y):
    return math.fmod(x * 3.0, y) + math.fmod(-x * 5.0, y)


def math_copysign(x, y):
    return math.copysign(x, y) * y + math.copysign(x * x, -1.0)


MATH_CASES = [
    (math_erf, (0.4, 0.9)),
    (math_lgamma, (2.3,)),
    (math_lgamma, (0.3,)),
    (math_gamma, (1.7,)),
    (math_fmod, (0.7, 0.45)),
    (math_copysign, (-0.8, 1.3)),
]


@pytest.mark.parametrize(("f", "args"), MATH_CASES, ids=[f.__name__ for f, _ in MATH_CASES])
def test_math_case(f, args):
    check_grads(f, args, order=2)


def math_all(v):
    x, y = v[0], v[1]
    return np.array([math.erf(x) * y, math.erfc(y), math.lgamma(x + 2.0), math.gamma(y),
                     math.fmod(3.0 * x, y), math.copysign(x, y - 2.0)])


def test_math_rules_jacobians_and_batched_pass():
    check_case(math_all, (np.array([0.7, 1.3]),))


def math_lgamma_third(x):
    return adgen.grad(adgen.grad(math_lgamma_inner))(x)


def math_lgamma_inner(x):
    return math.lgamma(x)


_EULER = 0.5772156649015329
_ZETA3 = 1.2020569031595943
POLYGAMMA_VALUES = [  # x, ψ(x), ψ'(x), ψ''(x)
    (1.0, -_EULER, math.pi ** 2 / 6.0, -2.0 * _ZETA3),
    (0.5, -_EULER - 2.0 * math.log(2.0), math.pi ** 2 / 2.0, -14.0 * _ZETA3),
    (3.0, 1.5 - _EULER, math.pi ** 2 / 6.0 - 1.25, -2.0 * _ZETA3 + 2.25),
    (-1.5, -_EULER - 2.0 * math.log(2.0) + 2.0 + 2.0 / 3.0, math.pi ** 2 / 2.0 + 4.0 + 4.0 / 9.0,
     -14.0 * _ZETA3 + 16.0 + 16.0 / 27.0),
]


@pytest.mark.parametrize(("x", "psi", "psi1", "psi2"), POLYGAMMA_VALUES)
def test_lgamma_derivatives_are_polygamma(x, psi, psi1, psi2):
    assert adgen.grad(math_lgamma_inner)(x) == pytest.approx(psi, rel=1e-13)
    assert math_lgamma_third(x) == pytest.approx(psi1, rel=1e-13)
    third = adgen.grad(adgen.grad(adgen.grad(math_lgamma_inner)))(x)
    assert third == pytest.approx(psi2, rel=1e-12)


def test_copysign_is_differentiable_in_its_first_argument():
    assert adgen.grad(math_copysign, wrt=0)(-0.8, 1.3) == pytest.approx(-1.3 + 1.6)


# ---------------------------------------------------------------- scipy.special (arrays)


def expit_logit(x):
    return sp.expit(x) * sp.logit(sp.expit(0.5 * x))


def erf_erfc(x):
    return sp.erf(x) + sp.erfc(x * x)


def gammaln_digamma(x):
    return sp.gammaln(x + 1.5) * sp.digamma(x + 2.0)


def polygamma_orders(x):
    return sp.polygamma(1, x + 1.0) + sp.polygamma(2, x + 2.0)


def xlogy_broadcast(x, y):
    return sp.xlogy(x, y[:, None] + 2.0) + sp.xlog1py(y[:, None], x * x)


def normal_cdfs(x):
    return sp.ndtr(x) + sp.log_ndtr(2.0 * x) + sp.ndtri(sp.ndtr(x) * 0.5 + 0.25)


def logsumexp_axis(x):
    return sp.logsumexp(x, axis=1) + sp.logsumexp(x)


def logsumexp_weights(x, w):
    return sp.logsumexp(x, axis=0, b=w, keepdims=True) * x


def logsumexp_broadcast_weights(x, w):
    return sp.logsumexp(x, axis=1, b=w)


def logsumexp_axes_keepdims(x):
    return sp.logsumexp(x, axis=(0, 2), keepdims=True) * x


def softmax_axes(x):
    return sp.softmax(x, axis=(0, 2)) + sp.log_softmax(x, axis=(1, 2))


def softmax_axis(x):
    return sp.softmax(x, axis=1) * x + sp.softmax(x)


def log_softmax_axis(x):
    return sp.log_softmax(x, axis=0) * sp.log_softmax(x)


_P = np.array([0.2, 0.9, 1.7, 3.1])
_M = _a(3, 4)
SPECIAL_CASES = [
    (expit_logit, (_a(5),)),
    (erf_erfc, (_a(5),)),
    (gammaln_digamma, (_P,)),
    (polygamma_orders, (_P,)),
    (xlogy_broadcast, (_P, np.array([0.3, 0.6, 0.1]))),
    (normal_cdfs, (_a(5),)),
    (logsumexp_axis, (_M,)),
    (logsumexp_weights, (_M, _a(3, 4, seed=1, low=0.5, high=2.0))),
    (logsumexp_broadcast_weights, (_M, _a(4, seed=2, low=0.5, high=2.0))),
    (logsumexp_axes_keepdims, (_a(2, 3, 4),)),
    (softmax_axes, (_a(2, 3, 4),)),
    (softmax_axis, (_M,)),
    (log_softmax_axis, (_M,)),
]
_IDS = [f.__name__ for f, _ in SPECIAL_CASES]


@pytest.mark.parametrize(("f", "args"), SPECIAL_CASES, ids=_IDS)
def test_special_case(f, args):
    pytest.importorskip("scipy")
    check_case(f, args)


# scipy.special.polygamma itself returns float64 for float32 arguments
_FLOAT32 = [(f, args) for f, args in SPECIAL_CASES if f is not polygamma_orders]


@pytest.mark.parametrize(("f", "args"), _FLOAT32, ids=[f.__name__ for f, _ in _FLOAT32])
def test_special_case_keeps_float32(f, args):
    pytest.importorskip("scipy")
    check_float32(f, args)


# ---------------------------------------------------------------- scipy.linalg


def solve_lower(a, b):
    return sl.solve_triangular(a, b, lower=True)


def solve_upper_transposed_unit(a, b):
    return sl.solve_triangular(a, b, trans=1, unit_diagonal=True)


def solve_lower_transposed(a, b):
    return sl.solve_triangular(a, b, trans="T", lower=True)


def cho_solve_lower(c, b):
    return sl.cho_solve((c, True), b)


def cho_solve_upper(c, b):
    return sl.cho_solve((c, False), b)


def expm_scaled(a):
    return sl.expm(0.5 * a)


_T = _a(3, 3) + 3.0 * np.eye(3)
_L = np.linalg.cholesky(_T @ _T.T)
LINALG_CASES = [
    (solve_lower, (_T, _a(3, seed=1)), True),
    (solve_lower, (_T, _a(3, 2, seed=1)), True),
    (solve_upper_transposed_unit, (_T, _a(3, 2, seed=2)), True),
    (solve_lower_transposed, (_T, _a(3, seed=3)), True),
    (cho_solve_lower, (_L, _a(3, seed=4)), True),
    (cho_solve_upper, (_L.T.copy(), _a(3, 2, seed=5)), True),
    (expm_scaled, (_a(3, 3, seed=6),), True),
]


@pytest.mark.parametrize(("f", "args", "batched"), LINALG_CASES,
                         ids=[f.__name__ + str(np.ndim(args[-1])) for f, args, _ in LINALG_CASES])
def test_scipy_linalg_case(f, args, batched):
    pytest.importorskip("scipy")
    check_case(f, args, batched)
    check_float32(f, args)


def test_triangular_solves_differentiate_only_the_triangle_they_read():
    pytest.importorskip("scipy")
    ga = adgen.jacobian(solve_lower, wrt=0, mode="reverse")(_T, _a(3, seed=1))
    assert np.all(ga[:, np.triu_indices(3, 1)[0], np.triu_indices(3, 1)[1]] == 0)
    gu = adgen.jacobian(solve_upper_transposed_unit, wrt=0, mode="reverse")(_T, _a(3, seed=1))
    lower_and_diagonal = np.tril_indices(3)
    assert np.all(gu[:, lower_and_diagonal[0], lower_and_diagonal[1]] == 0)


def logsumexp_pair(x):
    value, sign = sp.logsumexp(x, return_sign=True)
    return value * sign


def uses_jv(x):
    return np.sum(sp.jv(1.5, x))


def uses_ellipk(x):
    return np.sum(sp.ellipk(x * 0.1))


def uses_sqrtm(x):
    return np.sum(sl.sqrtm(np.outer(x, x) + np.eye(4)))


def uses_zeta(x):
    return np.sum(sp.zeta(x + 2.0, 1.0))


@pytest.mark.parametrize(("f", "name"), [(uses_jv, "scipy.special.jv"),
                                         (uses_ellipk, "scipy.special.ellipk"),
                                         (uses_sqrtm, "scipy.linalg.sqrtm"),
                                         (uses_zeta, "scipy.special.zeta"),
                                         (logsumexp_pair, "return_sign")])
def test_scipy_without_rule_is_refused_under_its_public_name(f, name):
    pytest.importorskip("scipy")
    with pytest.raises(adgen.DifferentiationError) as info:
        adgen.grad(f)(_P)
    message = str(info.value)
    assert name in message
    assert "numpy." + name.split(".")[-1] not in message
    assert "site-packages" not in message
    if name.startswith("scipy."):  # refused while building: at the user's line
        assert "test_rules_math_scipy.py:" in message
