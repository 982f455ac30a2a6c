"""Catalog of functions written in terms of functions with rules (`rules/numpy_composites.py`,
`rules/scipy_composites.py`), the elementwise SciPy rules added with them, `prod` at second
order, and calls of module functions the installed version does not have.

Each record runs through `check_grads` (both modes against central differences, the
dot-product test, the value against NumPy's or SciPy's own), forward Jacobians against reverse
ones and finite differences (one batched pass where every step has a batched form), second
order (`check_grads(order=2)` of a nonlinear loss) and the Hessian three ways."""

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.special as sp

import adgen
from adgen.testing import check_grads
from tests.rules_checks import check_hessians, check_jacobians, loss_of

V = np.array([0.3, -0.7, 1.1, 0.5])
W = np.array([1.0, 2.0, 0.5, 3.0])
M = np.array([[1.5, 0.2, -0.3], [0.1, 1.2, 0.4], [-0.2, 0.3, 1.8]])
NAN_AT = np.array([False, True, False, False])


def averages(v, w):
    a, total = np.average(v * v, weights=w, returned=True)
    return np.stack([a, total, np.average(v), np.average(v, weights=w * w)])


def average_axis(m):
    return (np.average(m, axis=0, weights=np.array([1.0, 2.0, 3.0]))
            + np.average(m, axis=1, keepdims=True)[:, 0] + np.average(m * m, axis=1, weights=m))


def polynomial(c, x):
    return np.polyval(c, x) + np.polyval(c[:2], 2.0)


def trapezoids(y, x):
    return np.stack([np.trapezoid(y * y, dx=0.5), np.trapezoid(y, x=np.cumsum(x)),
                     np.trapezoid(np.outer(y, x), axis=0).sum()])


def ranges_and_dots(v, w):
    return np.stack([np.ptp(v * w), np.vdot(v, w), np.ptp(np.outer(v, w), axis=1).sum()])


def chain(m):
    return np.linalg.multi_dot([m, m.T, m]) + np.linalg.multi_dot([m, m])


def nan_reductions(v):
    y = np.where(NAN_AT, np.nan, v)
    return np.stack([np.nanmax(y), np.nanmin(y), np.nanvar(y), np.nanstd(y, ddof=1),
                     np.nanprod(y + 2.0)])


def cumulatives(v):
    return np.concatenate([np.cumulative_sum(v), np.cumulative_prod(v + 2.0),
                           np.cumulative_sum(v, include_initial=True)])


def vector_products(m, v):
    return np.vecdot(m, v) + np.matvec(m, v) + np.vecmat(v, m) + np.linalg.vecdot(m, v)


def powers(v):
    return np.float_power(np.abs(v) + 1.0, 1.5) + np.float_power(2.0, v)


def convolutions(v, w):
    k = w[:3]
    return np.concatenate([np.convolve(v, k), np.convolve(v, k, mode="same"),
                           np.convolve(k, v, "valid"), np.correlate(v, k),
                           np.correlate(v, k, "full"), np.correlate(k, v, "same")])


def gathers(m):
    order = np.argsort(m, axis=1)
    return np.concatenate([np.take(m, [2, 0]), np.take(m, np.array([1, 1]), axis=1).ravel(),
                           np.take_along_axis(m, order, axis=1).ravel(),
                           np.take_along_axis(m, order[:1], axis=0).ravel()])


def blocks(m):
    return np.block([[m, 2.0 * m], [m.T, m * m]]) + 0.0


def quantiles(v):
    return np.stack([np.percentile(v, 50), np.quantile(v, 0.25), np.quantile(v, 0.9),
                     *np.percentile(v, [10.0, 75.0])])


def quantiles_axis(m):
    return np.quantile(m, 0.3, axis=0) + np.percentile(m, 60, axis=1)


def condition(m):
    return np.linalg.cond(m) + np.linalg.cond(m, 1)


def products(m):
    return np.prod(m, axis=0) + m.prod(axis=1, keepdims=True)[:, 0] + np.prod(m[:2, :2])


def special_functions(v):
    x = np.abs(v) + 0.5
    return (sp.gamma(x) + sp.erfinv(v * 0.5) + sp.erfcinv(v * 0.5 + 1.0) + sp.i0(v)
            + sp.i1(v) + sp.i0e(v) + sp.i1e(v) + sp.log_expit(v) + sp.entr(x))


def special_pairs(v, w):
    a, b = np.abs(v) + 0.5, np.abs(w) + 0.5
    return sp.betaln(a, b) + sp.beta(a, b) + sp.rel_entr(a, b) + sp.kl_div(a, b)


def scipy_linalg(m, v):
    spd = m @ m.T + np.eye(3)
    return np.concatenate([sl.solve(m, v[:3]), sl.solve(m, v[:3], transposed=True),
                           sl.inv(m).ravel(), [sl.det(m), sl.norm(m), sl.norm(v)],
                           sl.cholesky(spd).ravel(), sl.cholesky(spd, lower=True).ravel()])


def row_norm(r):
    return np.sqrt(np.sum(r * r)) * r[0]


def masked_and_along_axis(m):
    return np.concatenate([np.apply_along_axis(row_norm, 1, m),
                           np.apply_along_axis(np.cumsum, 0, m).ravel(),
                           [np.sum(m * m, where=m > 0.25), np.mean(m, where=m < 1.0),
                            np.sum(m, axis=0, where=m > 0.0)[1]]])


def broadcasts_and_initials(v, w):
    x, y = np.broadcast_arrays(v[:, None], w[None, :3])
    return np.concatenate([(x * y).ravel(), [np.max(v, initial=0.5), np.min(w * w, initial=0.1),
                                             np.amax(v, initial=-9.0)]])


def version_switch(y):
    trap = np.trapezoid if hasattr(np, "trapezoid") else np.trapz
    return trap(y * y) + (np.trapz(y) if hasattr(np, "trapz") else np.trapezoid(y))


CASES = [
    (averages, (V, W), True), (average_axis, (M,), True), (polynomial, (V[:3], V), True),
    (trapezoids, (V, W), True), (ranges_and_dots, (V, W), True), (chain, (M,), True),
    (nan_reductions, (V,), False), (cumulatives, (V,), True),
    (vector_products, (M, V[:3]), True), (powers, (V,), True), (convolutions, (V, W), True),
    (gathers, (M,), True), (blocks, (M,), True), (quantiles, (V,), False),
    (quantiles_axis, (M,), False), (condition, (M,), True), (products, (M,), False),
    (special_functions, (V,), True), (special_pairs, (V, W), True),
    (scipy_linalg, (M, V), True), (version_switch, (V,), True),
    (masked_and_along_axis, (M,), True), (broadcasts_and_initials, (V, W), False),
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


def test_prod_with_zeros_has_exact_second_derivatives():
    def p(v):
        return np.prod(v)

    v = np.array([0.0, 2.0, 3.0, 0.5])
    h = adgen.hessian(p)(v)
    want = np.zeros((4, 4))  # d2/dvi dvj prod = prod of the others but i, j
    for i in range(4):
        for j in range(4):
            if i != j:
                want[i, j] = np.prod(np.delete(v, [i, j]))
    np.testing.assert_allclose(h, want, rtol=1e-13)


def test_a_missing_module_function_raises_only_when_it_is_called():
    def old_api(y, new):
        if new:
            return np.trapezoid(y)
        return np.no_such_function(y)  # this NumPy has no such function

    assert adgen.grad(old_api)(V, True) == pytest.approx([0.5, 1.0, 1.0, 0.5])
    with pytest.raises(AttributeError, match="has no attribute 'no_such_function'"):
        adgen.grad(old_api)(V, False)


def test_arguments_not_honoured_are_refused():
    def wrapped(v):
        return np.sum(np.take(v, [0, 9], mode="wrap"))

    with pytest.raises(ValueError, match="mode='raise'"):
        adgen.grad(wrapped)(V)


def test_the_composites_are_listed_in_the_rules_document():
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "rules.md").read_text()
    for name in ("numpy.average", "numpy.convolve", "numpy.polyval", "scipy.linalg.solve",
                 "scipy.special.betaln"):
        assert f"`{name}`" in text


def numbers_joined_with_an_array(m):
    return np.concatenate([np.ravel(m), [np.sum(m), np.linalg.det(m)]])


def test_a_list_of_numbers_joined_with_an_array_has_second_derivatives():
    check_hessians(numbers_joined_with_an_array, (M,))  # the list's adjoint meets an array's


def test_a_rule_of_your_own_takes_precedence_over_a_form():
    from adgen.rules import registry

    def trap(y):
        return np.trapezoid(y * y)

    text = adgen.source(adgen.grad(trap))
    assert "trapezoid" in text
    assert registry.implementation(np.trapezoid) is not None
