"""Functions whose generated gradient source is pinned by golden files (tests/golden/).

Generated code quotes its source lines (and, in messages, this file's name), so these
functions live in a file of their own whose path and contents must not change without
regenerating the golden files: see `test_golden_control.py` for how.
"""

import math


def sin_loop(x):
    for _ in range(1000):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x


def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x


def branch(x, y):
    if x > y:
        z = x * y
    else:
        z = math.exp(x) - y
    return z
