"""Functions for the trace-unrolling tests (control flow that depends on the arguments)."""

import math


def branchy(x, y):
    if x > y:
        z = x * y
    else:
        z = math.sin(x) + y
    return z * x


def newton(a):
    x = a
    while abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x


def early_exit(x, n):
    s = 0.0
    for i in range(n):
        s = s + x * i
        if s > 10.0:
            return s * s
        s = s * 1.1
    return s


def long_loop(x):
    for _ in range(5000):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x
