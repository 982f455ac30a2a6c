"""`adgen.diagonal_hessian` and `adgen.outer_product_hessian` (Bishop & Bishop, 8.38–8.41)."""

import numpy as np
import pytest

import adgen

RNG = np.random.default_rng(7)
X = RNG.normal(size=(12, 3))
T = RNG.normal(size=12)
A = RNG.normal(size=(4, 4))
A = A @ A.T + np.eye(4)  # symmetric
B = RNG.normal(size=4)


def linear_residuals(w, X, t):
    return X @ w - t


def linear_error(w, X, t):
    r = X @ w - t
    return 0.5 * np.sum(r * r)


def quadratic(w):
    return 0.5 * (w @ (A @ w)) + B @ w


def tanh_residuals(w, X, t):
    W1 = np.reshape(w[0:6], (2, 3))
    b1 = w[6:8]
    W2 = w[8:10]
    return np.tanh(X @ W1.T + b1) @ W2 + w[10] - t


def tanh_error(w, X, t):
    r = tanh_residuals(w, X, t)
    return 0.5 * np.sum(r * r)


def tanh_output(w, x):
    W1 = np.reshape(w[0:6], (2, 3))
    b1 = w[6:8]
    W2 = w[8:10]
    return np.sum(np.tanh(W1 @ x + b1) * W2) + w[10]


def matrix_error(W, x, t):
    r = np.tanh(W @ x) - t
    return 0.5 * np.sum(r * r)


def matrix_residuals(W, x, t):
    return np.tanh(W @ x) - t


def quartic(x, c):
    return c * x ** 4


def close(a, b, tol: float = 1e-10) -> bool:
    return np.abs(np.asarray(a) - np.asarray(b)).max() <= tol * max(1.0, np.abs(b).max())


def test_outer_product_is_exact_for_linear_residuals() -> None:
    w = RNG.normal(size=3)
    outer = adgen.outer_product_hessian(linear_residuals)(w, X, T)
    assert outer.shape == (3, 3)
    assert close(outer, X.T @ X, 1e-12)
    assert close(outer, adgen.hessian(linear_error)(w, X, T), 1e-12)
    for mode in ("forward", "reverse"):
        assert close(adgen.outer_product_hessian(linear_residuals, mode=mode)(w, X, T),
                     X.T @ X, 1e-12)


def test_diagonal_of_a_quadratic_is_the_diagonal_of_its_matrix() -> None:
    w = RNG.normal(size=4)
    diagonal = adgen.diagonal_hessian(quadratic)(w)
    assert diagonal.shape == (4,)
    assert close(diagonal, np.diag(A), 1e-12)
    assert close(diagonal, np.diag(adgen.hessian(quadratic)(w)), 1e-12)


def test_tanh_network_against_the_exact_hessian() -> None:
    w = RNG.normal(size=11)
    exact = adgen.hessian(tanh_error)(w, X, T)
    diagonal = adgen.diagonal_hessian(tanh_error)(w, X, T)
    outer = adgen.outer_product_hessian(tanh_residuals)(w, X, T)
    assert close(diagonal, np.diag(exact))
    # (8.39): the exact Hessian is the outer products plus the residual-weighted Hessians of
    # the outputs; the approximation (8.40) leaves out exactly that second sum.
    r = tanh_residuals(w, X, T)
    second = sum(r_n * adgen.hessian(tanh_output)(w, x_n) for r_n, x_n in zip(r, X, strict=True))
    assert close(outer + second, exact)
    assert not close(outer, exact, 1e-3)  # the residuals are not small: the term matters
    assert np.linalg.eigvalsh(outer).min() > -1e-10  # J^T J is positive semi-definite


def test_matrix_shaped_parameters_keep_their_shape() -> None:
    W = RNG.normal(size=(2, 3))
    x, t = RNG.normal(size=3), RNG.normal(size=2)
    exact = adgen.hessian(matrix_error)(W, x, t)
    assert exact.shape == (2, 3, 2, 3)
    diagonal = adgen.diagonal_hessian(matrix_error)(W, x, t)
    assert diagonal.shape == (2, 3)
    assert close(diagonal, np.diag(exact.reshape(6, 6)).reshape(2, 3))
    outer = adgen.outer_product_hessian(matrix_residuals, wrt="W")(W, x, t)
    assert outer.shape == (2, 3, 2, 3)
    J = adgen.jacobian(matrix_residuals)(W, x, t).reshape(2, 6)
    assert close(outer.reshape(6, 6), J.T @ J)


def test_scalar_parameter() -> None:
    assert adgen.diagonal_hessian(quartic)(1.5, 2.0) == pytest.approx(24 * 1.5 ** 2, rel=1e-12)
    assert adgen.diagonal_hessian(quartic, wrt="c")(1.5, 2.0) == 0.0
    outer = adgen.outer_product_hessian(quartic)(1.5, 2.0)
    assert float(outer) == pytest.approx((8 * 1.5 ** 3) ** 2, rel=1e-12)


def test_one_parameter_only() -> None:
    with pytest.raises(ValueError, match="one parameter"):
        adgen.diagonal_hessian(quartic, wrt=(0, 1))
    with pytest.raises(adgen.DifferentiationError, match="names no parameter"):
        adgen.outer_product_hessian(quartic, wrt="nope")
