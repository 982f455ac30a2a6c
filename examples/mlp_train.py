"""Training the two-layer tanh network of Bishop & Bishop §8.1.3 with adgen's gradients.

The network (8.18)-(8.20), with the biases as separate parameters and rows as data points:

    a1 = X W1 + b1,    z = tanh(a1),    y = z W2 + b2

is trained by plain full-batch gradient descent, every gradient coming from
`adgen.value_and_grad(loss, wrt=(0, 1, 2, 3))` — the backpropagation of §8.1.3 written by adgen
rather than by hand. Two losses:

(a) regression: the sum-of-squares error (8.17), `0.5 * sum((y - T)**2)`, fitting a noisy
    sine curve with a 1 → 16 → 1 network;
(b) classification: softmax cross-entropy over 10 classes, the log-sum-exp taken stably by
    subtracting each row's maximum, on scikit-learn's bundled handwritten digits (8×8 images,
    no download) when scikit-learn is installed, else on a seeded synthetic 10-class problem
    (Gaussian blobs in 64 dimensions).

It prints the loss every few epochs and the final train/test error or accuracy, and asserts
that training worked: the final loss is below half the initial one and the classifier's test
accuracy is above 0.8 (chance is 0.1). It runs in a few seconds.

Run: `python examples/mlp_train.py`.
"""

import time

import numpy as np

import adgen


def sum_of_squares_loss(W1, b1, W2, b2, X, T):
    a1 = X @ W1 + b1
    z = np.tanh(a1)
    y = z @ W2 + b2
    return 0.5 * np.sum((y - T) ** 2)


def cross_entropy_loss(W1, b1, W2, b2, X, T):
    a1 = X @ W1 + b1
    z = np.tanh(a1)
    y = z @ W2 + b2
    n = X.shape[0]
    m = np.max(y, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(y - m), axis=1, keepdims=True))
    return -np.sum(T * (y - lse)) / n


def network(W1, b1, W2, b2, X):
    """The network's outputs y (8.20) for the rows of X."""
    return np.tanh(X @ W1 + b1) @ W2 + b2


def init_params(rng: np.random.Generator, n_in: int, n_hidden: int, n_out: int) -> list:
    """Weights scaled by 1/sqrt(fan-in) so that tanh starts out of saturation; zero biases."""
    return [rng.normal(size=(n_in, n_hidden)) / np.sqrt(n_in), np.zeros(n_hidden),
            rng.normal(size=(n_hidden, n_out)) / np.sqrt(n_hidden), np.zeros(n_out)]


def train(loss, params: list, X, T, rate: float, epochs: int, every: int) -> tuple:
    """Gradient descent `w <- w - rate * dE/dw`; returns the first and the last loss."""
    value_and_grad = adgen.value_and_grad(loss, wrt=(0, 1, 2, 3))
    first = last = None
    for epoch in range(epochs + 1):
        last, grads = value_and_grad(*params, X, T)
        if first is None:
            first = last
        if epoch % every == 0:
            print(f"  epoch {epoch:4d}   loss {last:.6f}")
        if epoch < epochs:
            for p, g in zip(params, grads, strict=True):
                p -= rate * g
    return first, last


def split(rng: np.random.Generator, X, labels, test_fraction: float = 0.25) -> tuple:
    order = rng.permutation(len(X))
    n_test = int(len(X) * test_fraction)
    test, tr = order[:n_test], order[n_test:]
    return X[tr], labels[tr], X[test], labels[test]


def regression(rng: np.random.Generator) -> None:
    """(a) Sum-of-squares error: fit t = sin(2 pi x) + noise with a 1 -> 16 -> 1 network."""
    x = rng.uniform(0.0, 1.0, size=(200, 1))
    t = np.sin(2 * np.pi * x) + 0.1 * rng.normal(size=x.shape)
    X = 2.0 * x - 1.0
    X_train, T_train, X_test, T_test = split(rng, X, t)
    params = init_params(rng, 1, 16, 1)
    print(f"(a) regression, sum-of-squares error, {len(X_train)} points, 1 -> 16 -> 1")
    # the error is a sum over points, so the step is scaled by 1/N
    first, last = train(sum_of_squares_loss, params, X_train, T_train,
                        rate=0.3 / len(X_train), epochs=1000, every=200)
    rms_train = np.sqrt(2.0 * last / len(X_train))
    rms_test = np.sqrt(np.mean((network(*params, X_test) - T_test) ** 2))
    print(f"  RMS error: train {rms_train:.3f}, test {rms_test:.3f}  (noise level 0.100)")
    assert last < 0.5 * first, (first, last)
    assert rms_test < 0.2, rms_test


def digits() -> tuple:
    """`(X, labels, name)`: sklearn's bundled digits if importable, else synthetic blobs."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return synthetic_blobs(np.random.default_rng(1)) + ("synthetic blobs",)
    data = load_digits()
    return data.data / 16.0, data.target, "scikit-learn digits"


def synthetic_blobs(rng: np.random.Generator, n: int = 1800, dim: int = 64,
                    classes: int = 10) -> tuple:
    """`classes` Gaussian blobs in `dim` dimensions, unit noise, centres ~ N(0, 0.5^2 I).

    Neighbouring centres are about 4.5 noise standard deviations apart, so the classes
    overlap a little: a good classifier gets roughly 0.95, chance is 1/classes.
    """
    centres = 0.5 * rng.normal(size=(classes, dim))
    labels = rng.integers(0, classes, size=n)
    return centres[labels] + rng.normal(size=(n, dim)), labels


def accuracy(params: list, X, labels) -> float:
    return float(np.mean(np.argmax(network(*params, X), axis=1) == labels))


def classification(rng: np.random.Generator) -> None:
    """(b) Softmax cross-entropy on 10 classes, 64 -> 32 -> 10."""
    X, labels, name = digits()
    X_train, l_train, X_test, l_test = split(rng, X, labels)
    T_train = np.eye(10)[l_train]
    params = init_params(rng, X.shape[1], 32, 10)
    print(f"(b) classification, softmax cross-entropy, {name}: "
          f"{len(X_train)} train / {len(X_test)} test, {X.shape[1]} -> 32 -> 10")
    first, last = train(cross_entropy_loss, params, X_train, T_train,
                        rate=0.5, epochs=150, every=25)
    train_acc = accuracy(params, X_train, l_train)
    test_acc = accuracy(params, X_test, l_test)
    print(f"  accuracy: train {train_acc:.3f}, test {test_acc:.3f}  (chance 0.100)")
    assert last < 0.5 * first, (first, last)
    assert test_acc > 0.8, test_acc


def main() -> None:
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    regression(rng)
    classification(rng)
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
