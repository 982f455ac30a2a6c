"""Functions that hold functions in local names (tests/test_local_functions.py): an alias of a
parameter, a table entry, a partial made in the function, a choice by `a if c else b` or by an
`if` statement, then a call through the name or a call passing it on."""

from __future__ import annotations

import functools
import math

import numpy as np

from tests.function_values_cases import ACT, decay, logistic, rk4, scaled, softplus


def relu(z):
    return np.maximum(z, 0.0)


def alias_of_parameter(rhs, x):
    g = rhs
    return np.sum(g(x) * x)


def table_local(x, name):
    f = ACT[name]
    return np.sum(f(x) ** 2)


def partial_keyword(x, a):
    step = functools.partial(scaled, a=a)
    return np.sum(step(x))


def partial_position(x, w):
    step = functools.partial(logistic, w[0])  # binds the value w[0] has now
    w = w * 3.0
    return np.sum(step(x)) + np.sum(w)


def partial_of_partial(x, c):
    s = functools.partial(scaled, a=c)
    t = functools.partial(s, b=2.0 * c)
    return np.sum(t(x)) + np.sum(s(x, a=0.5))  # the call's own keyword wins


def chosen_by_ifexp(x, k):
    act = np.tanh if k else relu
    return np.sum(act(x) * x)


def chosen_by_if(x, k):
    if k > 0:
        act = softplus
    elif k < 0:
        act = np.sin
    else:
        act = ACT["cube"]
    return np.sum(act(x))


def alias_rebound(x, k):
    a = np.tanh if k > 0 else np.cos
    b = a
    if k > 1:
        b = np.sin
    return np.sum(b(x) + a(x) * x)


def table_in_loop(x, names):
    for n in names:
        act = ACT[n]
        x = act(x) * 0.9 + 0.1 * x
    return np.sum(x)


def passed_on(y, p, k):
    rhs = decay if k else logistic
    return rk4(rhs, y, p)


def parameter_passed_on(rhs, y, p):
    f = rhs
    return rk4(f, y, p) + rk4(decay, y, p)


def mapped_local(x, k):
    g = math.sin if k else math.cos
    return sum(map(g, [x[0], x[1] * x[0]]))


def scalar_choice(t, k):
    g = math.sin if k else math.cos
    return g(t) * g(2.0 * t)


def parameter_or_global(rhs, x, k):
    act = rhs if k else np.tanh
    return np.sum(act(x) * x)


def partial_in_loop(x, c):
    total = 0.0
    for j in range(3):
        step = functools.partial(scaled, b=c * j)
        total = total + np.sum(step(x))
    return total


def partial_passed_on(x, a):
    step = functools.partial(scaled, a=a)
    return rk4(step, x, a)


def partial_stored(x, a):
    step = functools.partial(scaled, a=a)
    steps = [step]
    return np.sum(steps[0](x))
