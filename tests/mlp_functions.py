"""The two-layer tanh network of Bishop & Bishop §8.1.3, for test_mlp.py.

The network (8.18)-(8.20) with biases as separate parameters, rows of `X` and `T` being data
points: `a1 = X W1 + b1`, `z = tanh(a1)`, `y = z W2 + b2`. `mlp_loss` is its sum-of-squares
error (8.17); `mlp_cross_entropy` its softmax cross-entropy averaged over points, with a stable
log-sum-exp. tests/golden/mlp_reverse.py.txt pins the source adgen generates for `mlp_loss`,
and its comments quote this file's line numbers: keep them stable (append, never insert above).
"""

import numpy as np


def mlp_loss(W1, b1, W2, b2, X, T):
    a1 = X @ W1 + b1
    z = np.tanh(a1)
    y = z @ W2 + b2
    return 0.5 * np.sum((y - T) ** 2)


def mlp_cross_entropy(W1, b1, W2, b2, X, T):
    a1 = X @ W1 + b1
    z = np.tanh(a1)
    y = z @ W2 + b2
    n = X.shape[0]
    m = np.max(y, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(y - m), axis=1, keepdims=True))
    return -np.sum(T * (y - lse)) / n


def rnn_loss(W, U, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t])
    return np.sum(h * h)
