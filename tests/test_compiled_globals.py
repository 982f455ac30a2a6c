"""Compiled derivatives follow the global values the primal reads now (issue 16, issue 14).

Numba freezes the globals compiled code reads, and the variant built for compiled code writes
global numbers as constants; a rebound global number or an array written in place must make
the compiled derivative compile again, never run with the old value."""

import math

import numpy as np
import pytest

import adgen

numba = pytest.importorskip("numba")

SCALE = 2.0
COEFFS = np.array([1.0, 0.5, 0.25])


def helper(x):
    return SCALE * math.sin(x)


def loop(x):
    s = 0.0
    for i in range(8):
        s = s + SCALE * math.sin(x * i) + helper(x)
    return s


def poly(x):
    s = 0.0
    for k in range(3):
        s = s + COEFFS[k] * x ** (k + 1)
    return s


@pytest.fixture(autouse=True)
def restore():
    yield
    globals().update(SCALE=2.0, COEFFS=np.array([1.0, 0.5, 0.25]))


@pytest.mark.parametrize("make", [
    lambda f: adgen.grad(f, compile="numba"),
    lambda f: (lambda x: adgen.value_and_grad(f, compile="numba")(x)[1]),
    lambda f: (lambda x: adgen.jvp(f, compile="numba")(x, 1.0)[1]),
])
def test_rebound_number_recompiles(make):
    g = make(loop)
    plain = adgen.grad(loop)
    assert g(0.3) == pytest.approx(plain(0.3), rel=1e-12)
    globals()["SCALE"] = 3.0
    assert g(0.3) == pytest.approx(plain(0.3), rel=1e-12)       # the held derivative
    assert make(loop)(0.3) == pytest.approx(plain(0.3), rel=1e-12)  # asked again
    e = 1e-6
    assert g(0.3) == pytest.approx((loop(0.3 + e) - loop(0.3 - e)) / (2 * e), rel=1e-6)


def test_global_array_written_in_place_recompiles():
    g = adgen.grad(poly, compile="numba")
    assert g(0.7) == pytest.approx(1.0 + 0.5 * 2 * 0.7 + 0.25 * 3 * 0.49, rel=1e-12)
    COEFFS[2] = 1.0
    assert g(0.7) == pytest.approx(1.0 + 0.5 * 2 * 0.7 + 1.0 * 3 * 0.49, rel=1e-12)
    globals()["COEFFS"] = np.array([2.0, 0.0, 0.0])
    assert g(0.7) == pytest.approx(2.0, rel=1e-12)


def test_unchanged_globals_keep_the_compiled_code():
    g = adgen.grad(loop, compile="numba")
    g(0.3)
    first = dict(g.entries)
    g(0.4)
    assert g.entries == first and all(g.entries[k] is v for k, v in first.items())
