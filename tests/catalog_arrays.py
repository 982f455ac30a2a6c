"""A catalog of NumPy functions run on arrays of other libraries (Dask, the `Duck` double).

Each function takes a 4x3 array and returns an array (`VECTOR`) or a number (`SCALAR`).
Between them they use elementwise functions, reductions over an axis, `max`, matrix
products, indexing (basic, and an integer array that repeats a position), broadcasting and a
loop. `data()` is the argument they are checked at.
"""

import numpy as np


def elementwise(x):
    return np.tanh(x) * np.exp(-x) + x ** 2 / (1.0 + x * x)


def reductions(x):
    return np.sum(x * x, axis=0) * np.mean(np.sin(x), axis=1)[:3] + np.max(x, axis=0)


def products(x):
    return (x @ x.T) @ np.cos(x[:, 0])


def indexing(x):
    return x[1:, ::2] * x[0, 1] + x[[0, 2, 0], 1:3] ** 2


def broadcasting(x):
    return (x - np.mean(x, axis=0)) / (1.0 + x[:, :1] ** 2)


def loop(x):
    y = x[0]
    for i in range(1, 4):
        y = np.sin(y) * x[i] + 0.5 * y
    return y


VECTOR = [elementwise, reductions, products, indexing, broadcasting, loop]


def total(x):
    return np.sum(np.log1p(x * x)) + np.max(x) * x[2, 1]


def scalar_loop(x):
    s = 0.0
    for i in range(3):
        s = s + np.sum(np.tanh(x[i] + s) ** 2)
    return s


def least_squares(x):
    r = 0.5 * x[:, 0] - 1.5 * x[:, 1] - x[:, 2]
    return np.mean(r ** 2) + 0.1 * np.sum(x[[0, 0, 3]] ** 2)


SCALAR = [total, scalar_loop, least_squares]


def data():
    """The 4x3 argument, away from kinks and ties (`max` has a single winner)."""
    return np.linspace(-1.0, 1.3, 12).reshape(4, 3) + 0.1 * np.sin(np.arange(12.0)).reshape(4, 3)


def direction():
    """A tangent or second-order direction for `data()`."""
    return np.cos(np.arange(12.0)).reshape(4, 3)


def arguments(f):
    """`(x, v, w)` for `f`: the point, a tangent direction, a cotangent shaped like `f(x)`."""
    x = data()
    y = f(x)
    return x, direction(), np.cos(np.arange(np.size(y)) + 0.3).reshape(np.shape(y))
