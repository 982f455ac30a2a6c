"""Functions whose generated gradient source is pinned by golden files (tests/golden/calls_*).

A caller and its callee, and a recursive function. Generated code quotes its source lines (by
number), so these functions live in a file of their own whose contents must not change without
regenerating the golden files: see `test_golden_calls.py` for how.
"""

import math


def softplus(t):
    return math.log(1.0 + math.exp(t))


def caller(x, y):
    z = softplus(x * y)
    return z * z + softplus(y)


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def damped(x, a):
    return math.sin(x) * 0.9 + a * x


def damped_loop(x, a):
    for _ in range(100):
        x = damped(x, a)
    return x
