"""Catalog of the elementwise, sequence, scan and statistics rules added for issue 17
(`rules/numpy_pointwise.py`, `numpy_sequences.py`, `numpy_scans.py`, `numpy_statistics.py`).

Each record is one array-valued function, its arguments, and whether it has a batched
forward form. Every record is checked with `check_grads` (jvp and vjp against central
differences, the dot-product test), forward Jacobian against reverse Jacobian and finite
differences, and second order through a nonlinear scalar loss (`check_grads(order=2)`).
Arguments keep away from kinks, jumps and ties.
"""

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads
from tests.rules_checks import as_float32, check_hessians, check_jacobians, loss_of

RNG = np.random.default_rng(1717)
V = np.array([0.3, -1.2, 0.8, 2.5, -0.4])
W = np.array([1.1, 0.2, -0.7, 0.5, 1.9])
M = RNG.normal(size=(3, 4))
ZEROS = np.array([0.5, 0.0, -1.3, 2.0, 0.0, 0.7])
KNOTS = np.array([-1.0, 0.0, 0.5, 2.0])
QUERIES = np.array([-1.5, -0.3, 0.2, 1.1, 2.6])


# ---------------------------------------------------------------- pointwise


def remainders(x, y):
    return np.remainder(x, y) + np.mod(x, 2.5) + x % y + np.fmod(x, y) * np.fmod(-x, 0.7)


def angles(x):
    return np.deg2rad(x * 50.0) * np.radians(x) + np.rad2deg(x) - np.degrees(x * x)


def sinc(x):
    return np.sinc(x) * 2.0 + np.sinc(x * 1e-3)


def nan_to_num(x, c):
    return np.nan_to_num(np.where(x > 0.0, x * x, np.nan), nan=c[0])


def real_imag_conj(x):
    return np.real(x) * x.real + np.imag(x) + np.conj(x) * x.conj() + np.conjugate(x)


# ---------------------------------------------------------------- sequences


def diff_axis(m):
    return np.diff(m, axis=0) * np.diff(m, n=2)[:2, :1]


def diff_prepend_append(v, w):
    return np.concatenate([np.diff(v, prepend=w[0], append=w[1:3]) * v[0],
                           np.diff(v, n=2, prepend=w[:1])])


def gradient_spacings(v):
    return (np.gradient(v) + np.gradient(v, 0.5) + np.gradient(v, np.cumsum(V * V) + 0.1)
            + np.gradient(v * v, edge_order=2))


def gradient_matrix(m):
    gx, gy = np.gradient(m, 0.5, 2.0)
    return gx * gy + np.gradient(m, axis=1)


def cumprod_with_zeros(v):
    return np.cumprod(v) + v.cumprod() * 0.5


def cumprod_axis(m):
    return np.cumprod(m, axis=1) + np.cumprod(m, axis=0) + np.multiply.accumulate(m, axis=1)


def cumprod_flat(m):
    return np.cumprod(m)


def interp_queries_and_values(x, fp):
    return np.interp(x, KNOTS, fp) + np.interp(x * 0.5, KNOTS, fp, left=fp[1] * 2.0,
                                               right=fp[2])


def interp_scalar_query(fp):
    return np.interp(0.7, KNOTS, fp) * fp


# ---------------------------------------------------------------- statistics


def median(m):
    return np.median(m, axis=1) * np.median(m) + np.median(m[:, :3], axis=0, keepdims=True)[0]


def nan_sums(m):
    z = np.where(m > 1.0, np.nan, m)
    return np.nansum(z, axis=1) + np.nanmean(z) + np.nanmean(z, axis=0, keepdims=True)[0, :3]


def cov_rows(m):
    return np.cov(m)


def cov_columns_biased(m, v):
    return np.cov(m, rowvar=False, bias=True) + np.cov(m[0], v[:4], ddof=0)[0, 1]


def corrcoef_rows(m):
    return np.corrcoef(m)


def corrcoef_pair_and_columns(m, v):
    return np.corrcoef(m[0], v[:4]) + np.corrcoef(m.T, rowvar=False)[:2, :2]


# ---------------------------------------------------------------- ufunc methods


def reduces(m):
    return (np.add.reduce(m) + np.multiply.reduce(m, axis=1)[0]
            + np.maximum.reduce(m, axis=0) * np.minimum.reduce(m, axis=None))


def multiply_reduce_keepdims(m):
    return np.multiply.reduce(m, axis=0, keepdims=True) * np.multiply.reduce(m, axis=None)


def accumulates(v):
    return np.add.accumulate(v) + np.maximum.accumulate(v) * np.minimum.accumulate(v)


def outers(v, w):
    return (np.add.outer(v, w[:3]) * np.multiply.outer(v, w[:3])
            + np.maximum.outer(v, w[:3]) - np.minimum.outer(w[:3], v).T)


def outer_of_matrix(m, v):
    return np.multiply.outer(m, v[:2]) + np.transpose(np.add.outer(v[:2], m), (1, 2, 0))


CASES = [
    (remainders, (V + 3.0, W * 0.5 + 1.5), True), (angles, (V,), True), (sinc, (V,), True),
    (nan_to_num, (V, W), True), (real_imag_conj, (V,), True),
    (diff_axis, (M,), True), (diff_prepend_append, (V, W), True),
    (gradient_spacings, (V,), True), (gradient_matrix, (M,), True),
    (cumprod_with_zeros, (ZEROS,), True), (cumprod_axis, (M,), True),
    (cumprod_flat, (M,), True),
    (interp_queries_and_values, (QUERIES, np.array([0.3, -1.0, 2.0, 0.5])), True),
    (interp_scalar_query, (np.array([0.3, -1.0, 2.0, 0.5]),), True),
    (median, (M,), True), (nan_sums, (M,), True),
    (cov_rows, (M,), False), (cov_columns_biased, (M, V), False),
    (corrcoef_rows, (M,), False), (corrcoef_pair_and_columns, (M, V), False),
    (reduces, (M,), True), (multiply_reduce_keepdims, (M,), True),
    (accumulates, (V,), True), (outers, (V, W), True), (outer_of_matrix, (M, V), True),
]
IDS = [f.__name__ for f, _, _ in CASES]


@pytest.mark.parametrize(("f", "args", "has_batched"), CASES, ids=IDS)
def test_check_grads(f, args, has_batched):
    check_grads(f, args)


@pytest.mark.parametrize(("f", "args", "has_batched"), CASES, ids=IDS)
def test_jacobian_forward_matches_reverse_and_differences(f, args, has_batched):
    check_jacobians(f, args, has_batched)


@pytest.mark.parametrize(("f", "args", "has_batched"), CASES, ids=IDS)
def test_second_order(f, args, has_batched):
    check_grads(loss_of(f, len(args)), args, order=2)


@pytest.mark.parametrize(("f", "args", "has_batched"), CASES, ids=IDS)
def test_hessian_three_ways(f, args, has_batched):
    check_hessians(f, args)


# float32 derivatives in float32: `median` has two elements closer than the float32 step of
# the differences; `np.interp` of a number is a float64 scalar, which makes `y * fp` float64.
NOT_IN_FLOAT32 = {"median", "interp_scalar_query"}
FLOAT32_CASES = [case for case in CASES if case[0].__name__ not in NOT_IN_FLOAT32]


@pytest.mark.parametrize(("f", "args", "has_batched"), FLOAT32_CASES,
                         ids=[f.__name__ for f, _, _ in FLOAT32_CASES])
def test_float32_in_float32_out(f, args, has_batched):
    check_grads(f, as_float32(args))


# ---------------------------------------------------------------- values and refusals


def running_max_total(v):
    return np.sum(np.maximum.accumulate(v))


def running_min_total(v):
    return np.sum(np.minimum.accumulate(v))


def outer_max_total(v):
    return np.sum(np.maximum.outer(v, v[::-1]))


def median_total(v):
    return np.median(v)


def nan_replacement_total(c):
    return np.sum(np.nan_to_num(np.array([1.0, np.nan, 2.0, np.nan]), nan=c))


def remainder_total(v):
    return np.sum(np.remainder(v, 2.0) + np.fmod(v, 2.0))


# (function, argument, exact gradient): the conventions at ties, as documented
GRADIENTS = [
    (running_max_total, np.array([1.0, 3.0, 3.0, 2.0]), [1.0, 3.0, 0.0, 0.0]),
    (running_min_total, np.array([2.0, 1.0, 1.0, 4.0]), [1.0, 3.0, 0.0, 0.0]),
    (outer_max_total, np.array([1.0, 2.0, 1.0]), [2.0, 5.0, 2.0]),  # ties go to the first
    (median_total, np.array([4.0, 1.0, 3.0, 2.0]), [0.0, 0.0, 0.5, 0.5]),
    (median_total, np.array([3.0, 1.0, 2.0]), [0.0, 0.0, 1.0]),
    (nan_replacement_total, 0.5, 2.0),
    (remainder_total, np.array([-3.5, 1.5, 4.5]), [2.0, 2.0, 2.0]),
]


@pytest.mark.parametrize(("f", "x", "want"), GRADIENTS, ids=[g[0].__name__ for g in GRADIENTS])
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_exact_gradients(f, x, want, mode):
    np.testing.assert_array_equal(adgen.grad(f, mode=mode)(x), want)



def cumprod_total(v):
    return np.sum(np.cumprod(v))


def test_cumprod_gradient_with_two_zeros_is_exact():
    v = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    # d/dv_j of sum_i prod_{l<=i} v_l: only products with at most one zero factor survive
    want = np.array([1.0, 2.0 + 2.0 * 3.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(adgen.grad(cumprod_total)(v), want)
    hessian = adgen.hessian(cumprod_total)(v)
    # the terms i = 3, 4 have both zeros: v0 v2 and v0 v2 v4 remain
    assert hessian[1, 3] == 2.0 * 3.0 + 2.0 * 3.0 * 5.0
    np.testing.assert_allclose(hessian, hessian.T)


def test_sinc_slope_at_and_near_zero():
    g = adgen.grad(sinc_total)(np.array([0.0, 1e-9, 0.5]))
    np.testing.assert_allclose(g[:2], [0.0, -np.pi ** 2 / 3.0 * 1e-9], atol=1e-15)
    np.testing.assert_allclose(g[2], (np.cos(np.pi / 2) - np.sinc(0.5)) / 0.5)


def sinc_total(x):
    return np.sum(np.sinc(x))


def gradient_of_spacing(v, h):
    return np.sum(np.gradient(v, h))


def interp_of_knots(x, xp):
    return np.sum(np.interp(x, xp, np.array([1.0, 2.0, 0.5, 3.0])))


def real_of(x):
    return np.sum(np.real(x))


def product_over_two_axes(m):
    return np.multiply.reduce(m, axis=(0, 1))


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_what_is_not_differentiated_is_refused(mode):
    with pytest.raises(adgen.DifferentiationError,
                       match=r"line \d+: .*np.gradient\(v, h\).*spacing"):
        adgen.grad(gradient_of_spacing, wrt=1, mode=mode)(V, 0.5)
    with pytest.raises(adgen.DifferentiationError, match=r"line \d+: .*knots"):
        adgen.grad(interp_of_knots, wrt=1, mode=mode)(QUERIES, KNOTS)
    with pytest.raises(adgen.DifferentiationError,
                       match=r"line \d+: .*real numbers|complex inputs are not supported"):
        adgen.grad(real_of, mode=mode)(V + 1j)
    with pytest.raises(adgen.DifferentiationError, match=r"line \d+: .*tuple of axes"):
        adgen.grad(product_over_two_axes, mode=mode)(M)
