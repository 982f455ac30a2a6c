"""adgen's derivatives handed to SciPy's optimisers, in the calling orders SciPy uses."""

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads

optimize = pytest.importorskip("scipy.optimize")


def least_squares_loss(w, a, b):
    r = a @ w - b
    return 0.5 * np.sum(r * r) + 0.05 * np.sum(w ** 4)


def residuals(w, t, y):
    return w[0] * np.exp(-w[1] * t) - y


RNG = np.random.default_rng(18)
A = RNG.normal(size=(7, 3))
B = RNG.normal(size=7)
W0 = np.array([0.3, -0.2, 0.5])


def exact_hessian(w, a):
    return a.T @ a + np.diag(0.6 * w ** 2)


def test_the_loss_gradients_are_right():
    check_grads(least_squares_loss, (W0, A, B), wrt=0)


def test_hessp_takes_scipys_order_x_p_then_args():
    p = np.array([1.0, -2.0, 0.5])
    hessp = adgen.hessp(least_squares_loss)
    np.testing.assert_allclose(hessp(W0, p, A, B), exact_hessian(W0, A) @ p, rtol=1e-12)
    # hvp takes every argument first, the direction last: the same product
    np.testing.assert_allclose(adgen.hvp(least_squares_loss)(W0, A, B, p),
                               hessp(W0, p, A, B), rtol=1e-12)


def test_hessp_puts_x_where_wrt_says():
    def loss(a, w, b):
        return least_squares_loss(w, a, b)

    p = np.array([0.5, 1.0, -1.0])
    np.testing.assert_allclose(adgen.hessp(loss, wrt="w")(W0, p, A, B),
                               exact_hessian(W0, A) @ p, rtol=1e-12)


def test_hessp_takes_one_parameter():
    with pytest.raises(adgen.DifferentiationError, match="one parameter"):
        adgen.hessp(least_squares_loss, wrt=(0, 1))


def test_newton_cg_with_an_array_in_args_finds_the_minimum():
    result = optimize.minimize(least_squares_loss, W0, args=(A, B), method="Newton-CG",
                               jac=adgen.grad(least_squares_loss),
                               hessp=adgen.hessp(least_squares_loss),
                               options={"xtol": 1e-12})
    assert result.success, result.message
    np.testing.assert_allclose(adgen.grad(least_squares_loss)(result.x, A, B), 0.0, atol=1e-9)
    reference = optimize.minimize(least_squares_loss, W0, args=(A, B), method="BFGS",
                                  jac=adgen.grad(least_squares_loss), options={"gtol": 1e-11})
    np.testing.assert_allclose(result.x, reference.x, atol=1e-7)
    assert result.fun < least_squares_loss(W0, A, B)


def test_least_squares_with_the_jacobian_recovers_the_parameters():
    t = np.linspace(0.0, 3.0, 20)
    truth = np.array([2.5, 1.3])
    y = truth[0] * np.exp(-truth[1] * t)
    jac = adgen.jacobian(residuals)
    check_grads(residuals, (np.array([1.0, 0.5]), t, y), wrt=0)
    assert jac(np.array([1.0, 0.5]), t, y).shape == (20, 2)
    result = optimize.least_squares(residuals, np.array([1.0, 0.5]), jac=jac, args=(t, y),
                                    xtol=1e-14, ftol=1e-14, gtol=1e-14)
    assert result.success, result.message
    np.testing.assert_allclose(result.x, truth, rtol=1e-9)
    assert result.nfev < 50


def test_ravel_feeds_a_parameter_tree_to_minimize():
    params = {"w": np.array([0.3, -0.2]), "b": 0.1}
    x = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0], [-1.0, 1.0]])
    y = x @ np.array([1.5, -0.5]) + 0.25

    def loss(p, x, y):
        r = x @ p["w"] + p["b"] - y
        return np.sum(r * r)

    vector, unravel = adgen.ravel(params)
    grad = adgen.grad(loss)

    def flat_loss(v):
        return loss(unravel(v), x, y)

    def flat_grad(v):
        return adgen.ravel(grad(unravel(v), x, y))[0]

    result = optimize.minimize(flat_loss, vector, jac=flat_grad, method="BFGS",
                               options={"gtol": 1e-10})
    fitted = unravel(result.x)
    np.testing.assert_allclose(fitted["w"], [1.5, -0.5], atol=1e-7)
    assert fitted["b"] == pytest.approx(0.25, abs=1e-7)
    assert isinstance(fitted["b"], float)
