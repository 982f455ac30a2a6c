"""Special functions that derivative rules call at run time, computed with NumPy alone.

`polygamma(n, x)` is the n-th derivative of the digamma function ψ = (log Γ)′ (`n = 0` is ψ
itself, `n = 1` the trigamma function). It is what `math.lgamma` and `math.gamma` need for
their derivatives, and it carries its own rule (`d/dx polygamma(n, x) = polygamma(n + 1, x)`),
so derivatives of any order work. SciPy is never imported here.

Method: the recurrence ψ⁽ⁿ⁾(x) = ψ⁽ⁿ⁾(x + 1) − (−1)ⁿ n! / x^(n+1) moves every argument up to
`x ≥ 16 + n`, where the asymptotic (Stirling) series with Bernoulli numbers B₂ … B₁₆ is
accurate to about machine precision. Negative non-integer arguments take the same recurrence
(more steps); at the poles 0, −1, −2, … the result is `nan` for ψ (as NumPy-free code has no
better answer) and `inf`/`nan` as the terms give for higher n. A Python number gives a Python
float; an array gives an array of the same shape.
"""

import math

import numpy as np

from adgen.rules.registry import adjoint, batched, nondifferentiable, tangent

# B_2, B_4, ..., B_16
_BERNOULLI = (1.0 / 6.0, -1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0, 5.0 / 66.0, -691.0 / 2730.0,
              7.0 / 6.0, -3617.0 / 510.0)


def _asymptotic(n, x):
    """The Stirling series of ψ⁽ⁿ⁾ at large `x`."""
    if n == 0:
        total = np.log(x) - 0.5 / x
        for k, b in enumerate(_BERNOULLI, start=1):
            total = total - b / (2 * k * x ** (2 * k))
        return total
    total = math.factorial(n - 1) / x ** n + math.factorial(n) / (2.0 * x ** (n + 1))
    for k, b in enumerate(_BERNOULLI, start=1):
        total = total + b * math.factorial(2 * k + n - 1) / (
            math.factorial(2 * k) * x ** (2 * k + n))
    return total if n % 2 else -total


def polygamma(n, x):
    """ψ⁽ⁿ⁾(x), the n-th derivative of the digamma function, for an integer `n ≥ 0`."""
    n = int(n)
    if n < 0:
        raise ValueError(f"polygamma needs an order n >= 0, got {n}")
    scalar = np.ndim(x) == 0 and not isinstance(x, np.ndarray)
    xs = np.array(x, dtype=float)
    pole = (xs <= 0) & (xs == np.floor(xs))
    xs = np.where(pole, 1.0, xs)
    low = 16.0 + n
    steps = int(np.ceil(max(low - float(np.min(xs, initial=low)), 0.0)))
    shift = np.zeros_like(xs)
    sign = -1.0 if n % 2 else 1.0
    for _ in range(steps):
        below = xs < low
        if not below.any():
            break
        shift = shift - np.where(below, sign * math.factorial(n) / xs ** (n + 1), 0.0)
        xs = np.where(below, xs + 1.0, xs)
    out = np.where(pole, np.nan, _asymptotic(n, xs) + shift)
    return float(out) if scalar else out


def digamma(x):
    """ψ(x) = d/dx log Γ(x)."""
    return polygamma(0, x)


nondifferentiable(_asymptotic)


@tangent(polygamma)
@batched(polygamma)
def polygamma_dot(y, n, x, *, x_dot):
    return x_dot * polygamma(n + 1, x)


@adjoint(polygamma)
def polygamma_bar(y, n, x, *, y_bar):
    return None, y_bar * polygamma(n + 1, x)


@tangent(digamma)
@batched(digamma)
def digamma_dot(y, x, *, x_dot):
    return x_dot * polygamma(1, x)


@adjoint(digamma)
def digamma_bar(y, x, *, y_bar):
    return y_bar * polygamma(1, x)
