"""Functions whose generated source the golden files pin (keep their line numbers stable)."""

import math


def f(x1, x2):
    return x1 * x2 + math.exp(x1 * x2) - math.sin(x2)


def overwrite(x):
    y = x * 2.0
    y = math.sin(y)
    y = y * x
    return y


def doubled(c):
    return c * 2.0


def reassigned_from_inactive_call(x, c):
    y = x * 1.0
    y = doubled(c)
    return y + x
