"""Functions that take, look up or map function values (tests/test_function_values.py)."""

from __future__ import annotations

import functools
import math

import numpy as np

import adgen


def decay(y, p):
    return -p * y + 0.1 * np.sin(y)


def logistic(y, p):
    return p * y * (1.0 - y)


def rk4(rhs, y0, p):
    h = 0.1
    y = y0
    for _ in range(4):
        k1 = rhs(y, p)
        k2 = rhs(y + 0.5 * h * k1, p)
        k3 = rhs(y + 0.5 * h * k2, p)
        k4 = rhs(y + h * k3, p)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return np.sum(y * y)


def apply_sum(f, x):
    return np.sum(f(x) * x)


def apply_scalar(f, x):
    return f(x) * x + f(x * x)


def minimize_steps(loss, w):
    for _ in range(3):
        w = w - 0.05 * w * loss(w)
    return loss(w)


def quadratic(w):
    return np.sum(w * w) + np.sum(w)


def scaled(x, a=2.0, b=0.5):
    return a * np.sin(x) + b * x * x


def shifted(c, x):
    return np.tanh(x - c)


def square(z):
    return z * z


def softplus(z):
    return np.log1p(np.exp(z))


CUBE = lambda z: z ** 3  # noqa: E731  (a lambda value, as users write them)

ACT = {"tanh": np.tanh, "softplus": softplus, "cube": CUBE, "sin": np.sin}
ACTS = [np.tanh, square, np.cos]


def layer(z, name):
    h = ACT[name](z)
    return np.sum(h * h)


def layers(z, names):
    for k in names:
        z = ACT[k](z) + 0.5 * z
    return np.sum(z)


def by_position(z, i):
    return np.sum(ACTS[i](z) * z)


def mapped(x):
    return sum(map(math.sin, x)) + sum(map(square, x))


def mapped_value(f, xs):
    total = 0.0
    for v in map(f, xs):
        total = total + v * v
    return total


def mapped_lambda(xs, w):
    return sum(map(lambda v: v * w + v * v, xs))


def mapped_pairs(xs, ys):
    return sum(map(math.hypot, xs, ys))


def through_callee(y0, p):
    return rk4(decay, y0, p) + rk4(logistic, y0, p)


def passes_on(f, x):
    return apply_sum(f, x) + apply_sum(np.cos, x)


PARTIAL = functools.partial(scaled, a=3.0)


def global_partial(x):
    return np.sum(PARTIAL(x, b=0.25))


def integrate(y0, p, rhs=decay):
    return rk4(rhs, y0, p)


def nested_use(f, x):
    def inner(z):
        return f(z) * z

    return np.sum(inner(x))


def descend(step, w):
    for _ in range(2):
        w = w - 0.1 * step(w)
    return np.sum(w * w)


def cubic(w):
    return np.sum(w * w * w) + np.sum(np.sin(w))


def learn(loss, w):
    for _ in range(3):
        w = w - 0.1 * adgen.grad(loss)(w)
    return loss(w)


MIXED = {"half": functools.partial(scaled, a=0.5), "exp": math.exp, "sq": lambda z: z * z}
LAMBDAS = [lambda z: z * 3.0, lambda z: z ** 2]  # two lambdas on one line


def via_mixed(x, k):
    return MIXED[k](x) * x


def via_lambdas(x, i):
    return LAMBDAS[i](x) + x


def listed(xs):
    return np.sum(np.array(list(map(math.tanh, xs))) ** 2)
