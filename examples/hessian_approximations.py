"""Hessian approximations for a small network (Bishop & Bishop, §8.1.6, eqs. 8.38–8.41).

A 2-4-1 tanh network is trained by gradient descent (`adgen.grad`) on a synthetic regression
problem with the sum-of-squares error E(w) = ½ Σ_n (y_n(w) - t_n)^2 (8.38), written as a
function of one flat parameter vector w of 17 weights and biases. Before and after training
it compares three matrices:

* the exact Hessian H = ∇∇E, by `adgen.hessian` (forward over reverse);
* the diagonal approximation, `adgen.diagonal_hessian` (exact diagonal, off-diagonal set to 0);
* the outer-product (Levenberg–Marquardt) approximation (8.40), `adgen.outer_product_hessian`
  of the residual vector r(w) = y(w) - t: H ≈ Σ_n ∇y_n ∇y_n^T = J^T J.

By (8.39) the exact Hessian is J^T J + Σ_n r_n ∇∇y_n: the outer product drops the second sum,
which is small when the residuals r_n are small, i.e. near a minimum of a network that fits
the data. The example checks (8.39) term by term (with per-example Hessians of y_n), prints
the relative Frobenius error of each approximation and the top eigenvalues before and after
training, and asserts that the outer-product error after training is smaller than before
(and below 10%), that the diagonal approximation's diagonal is exact, and that both
approximations behave as the book says about the off-diagonal terms (the diagonal one stays
poor: the Hessian has significant off-diagonal terms).

The eigenvalues of the diagonal approximation are the Hessian's diagonal entries. Its largest,
40.0000 before and after training, is ∂²E/∂b2² for the output bias b2: every output is
y_n = ... + b2, so ∂y_n/∂b2 = 1 and ∂²E/∂b2² = Σ_n (∂y_n/∂b2)² = N, the number of examples
(40), whatever the other weights are. The example prints this explanation beside the value
and asserts it.

Run: `python examples/hessian_approximations.py`.
"""

import numpy as np

import adgen

N_WEIGHTS = 17


def outputs(w, X):
    """y_n for every row x_n of X; w holds W1 (4x2), b1 (4), W2 (4) and b2, in that order."""
    W1 = np.reshape(w[0:8], (4, 2))
    b1 = w[8:12]
    W2 = w[12:16]
    b2 = w[16]
    return np.tanh(X @ W1.T + b1) @ W2 + b2


def residuals(w, X, t):
    return outputs(w, X) - t


def error(w, X, t):
    r = residuals(w, X, t)
    return 0.5 * np.sum(r * r)


def output_n(w, x):
    """The network output for one input vector x (for the per-example Hessians of 8.39)."""
    W1 = np.reshape(w[0:8], (4, 2))
    b1 = w[8:12]
    W2 = w[12:16]
    b2 = w[16]
    return np.sum(np.tanh(W1 @ x + b1) * W2) + b2


def data(rng: np.random.Generator, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    X = rng.uniform(-1.5, 1.5, size=(n, 2))
    t = np.sin(2 * X[:, 0]) * 0.8 + 0.5 * X[:, 1] + 0.02 * rng.normal(size=n)
    return X, t


def train(w: np.ndarray, X: np.ndarray, t: np.ndarray, steps: int = 600) -> np.ndarray:
    """Gradient descent with momentum on E(w), gradients by adgen."""
    gradient = adgen.grad(error)
    velocity = np.zeros_like(w)
    rate = 0.2 / len(t)
    for _ in range(steps):
        velocity = 0.9 * velocity - rate * gradient(w, X, t)
        w = w + velocity
    return w


def relative(approx: np.ndarray, exact: np.ndarray) -> float:
    return float(np.linalg.norm(approx - exact) / np.linalg.norm(exact))


def compare(label: str, w: np.ndarray, X: np.ndarray, t: np.ndarray) -> dict[str, float]:
    exact = adgen.hessian(error)(w, X, t)
    diagonal = adgen.diagonal_hessian(error)(w, X, t)
    outer = adgen.outer_product_hessian(residuals)(w, X, t)
    r = residuals(w, X, t)
    second = sum(r_n * adgen.hessian(output_n)(w, x_n) for r_n, x_n in zip(r, X, strict=True))
    # (8.39): H = sum of outer products + sum of residual-weighted output Hessians.
    assert np.abs(outer + second - exact).max() <= 1e-10 * np.abs(exact).max()
    assert np.abs(diagonal - np.diag(exact)).max() <= 1e-10 * np.abs(exact).max()
    errors = {"outer": relative(outer, exact), "diagonal": relative(np.diag(diagonal), exact)}
    top = {name: np.linalg.eigvalsh(m)[::-1][:3]
           for name, m in (("exact", exact), ("outer product", outer),
                           ("diagonal", np.diag(diagonal)))}
    print(f"{label}: E = {error(w, X, t):.4f}, rms residual {np.sqrt(np.mean(r * r)):.4f}")
    print(f"  relative Frobenius error: outer product {errors['outer']:.4f}, "
          f"diagonal {errors['diagonal']:.4f}")
    for name, values in top.items():
        print(f"  top eigenvalues, {name:>13}: " + "  ".join(f"{v:9.4f}" for v in values))
    errors["top diagonal"] = float(top["diagonal"][0])
    errors["d2E/db2^2"] = float(diagonal[16])
    return errors


def main() -> None:
    rng = np.random.default_rng(1)
    X, t = data(rng)
    w = rng.normal(size=N_WEIGHTS)
    before = compare("before training", w, X, t)
    w = train(w, X, t)
    after = compare("after training ", w, X, t)
    assert after["outer"] < before["outer"], (before, after)
    assert after["outer"] < 0.1, after
    assert after["diagonal"] > after["outer"], after
    for errors in (before, after):  # d2E/db2^2 = sum_n 1 = N, whatever the weights
        assert abs(errors["d2E/db2^2"] - len(t)) < 1e-9, errors
        assert errors["top diagonal"] == errors["d2E/db2^2"], errors
    print(f"the diagonal approximation's eigenvalues are the Hessian's diagonal entries; its "
          f"top one, {after['top diagonal']:.4f}, is d2E/db2^2 of the output bias b2:\n"
          f"  y_n = ... + b2, so dy_n/db2 = 1 and d2E/db2^2 = sum_n (dy_n/db2)^2 = N = "
          f"{len(t)} examples, before and after training")
    print("the outer-product approximation improves near the minimum "
          f"({before['outer']:.3f} -> {after['outer']:.3f}); the diagonal one does not "
          f"({before['diagonal']:.3f} -> {after['diagonal']:.3f})")


if __name__ == "__main__":
    main()
