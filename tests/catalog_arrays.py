"""A catalog of NumPy functions run on arrays of other libraries (Dask, the `Duck` double).

Each function takes a 4x3 array and returns an array (`VECTOR`) or a number (`SCALAR`).
Between them they use elementwise functions, reductions over an axis, `max`/`min`/`prod`,
matrix products (`@`, `dot`, `einsum`, `outer`, `trace`), indexing (basic, and an integer
array that repeats a position), element writes, broadcasting, joins and splits
(`concatenate`, `stack`, `tile`, `repeat`, `diff`), scans, `where`/`clip`/`maximum`, norms,
variances, casts, builtin `sum` and loops. `data()` is the argument they are checked at;
`OPERATORS_VECTOR` and `OPERATORS_SCALAR` call every public operator on a function and its
arguments (`arguments(f)`).
"""

import numpy as np

import adgen


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


def concat(x):
    return np.concatenate([x[0], x[1] * 2.0, np.sin(x[2])])


def stacked(x):
    return np.stack([x[:, 0], x[:, 1] * x[:, 2]], axis=1)


def cums(x):
    return np.cumsum(x * x, axis=0)


def wherever(x):
    return np.where(x > 0.2, x ** 2, np.exp(x))


def clipped(x):
    return np.maximum(x, 0.1) + np.clip(x, -0.5, 0.5) * np.abs(x)


def norms(x):
    return np.linalg.norm(x, axis=1) + np.var(x, axis=1) + np.std(x, axis=1)


def dots(x):
    return np.dot(x.T, x[:, 0]) + np.einsum("ij,ij->j", x, x) + np.outer(x[0], x[1])[0]


def casts(x):
    return x.astype(np.float64) * np.float64(2.0) + np.sqrt(x * x + 1.0)


def softmaxed(x):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def prod_min(x):
    return np.prod(x + 2.0, axis=0) + np.min(x, axis=1)[:3] + np.mean(x)


def written(x):
    y = x.copy()
    y[1] = y[1] * 3.0
    y[:, 2] = np.sin(y[:, 0])
    return y


def squeezes(x):
    return np.squeeze(np.expand_dims(x, 0))[1:] * np.flip(x, axis=0)[1:]


def tiles(x):
    return np.tile(x[0], 2) + np.repeat(x[1], 2)


def diffs(x):
    return np.diff(x, axis=0) + np.trace(x[:3])


def builtin_sum(x):
    return sum(x) * 2.0


def logsumexp_like(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m), axis=0))


VECTOR = [elementwise, reductions, products, indexing, broadcasting, loop, concat, stacked,
          cums, wherever, clipped, norms, dots, casts, softmaxed, prod_min, written, squeezes,
          tiles, diffs, builtin_sum, logsumexp_like]


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


# every public operator, called on a catalog function and its arguments
OPERATORS_VECTOR = {
    "jvp": lambda f, x, v, w: adgen.jvp(f)(x, v),
    "vjp": lambda f, x, v, w: adgen.vjp(f)(x, w),
    "jacobian": lambda f, x, v, w: adgen.jacobian(f)(x),
    "jacobian-forward": lambda f, x, v, w: adgen.jacobian(f, mode="forward")(x),
    "jacobian-reverse": lambda f, x, v, w: adgen.jacobian(f, mode="reverse")(x),
}

OPERATORS_SCALAR = {
    "grad": lambda f, x, v: adgen.grad(f)(x),
    "value_and_grad": lambda f, x, v: adgen.value_and_grad(f)(x),
    "grad-forward": lambda f, x, v: adgen.grad(f, mode="forward")(x),
    "value_and_grad-unroll": lambda f, x, v: adgen.value_and_grad(f, control="unroll")(x),
    "hessian": lambda f, x, v: adgen.hessian(f)(x),
    "hvp": lambda f, x, v: adgen.hvp(f)(x, v),
}
