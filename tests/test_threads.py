"""Concurrency: derivatives called, and built, from 8 threads at once.

Generated code keeps its stack in a local list, so calls from many threads must not interfere;
the derivative cache is guarded by a lock, so threads building the same derivative at the same
moment must all get the one function. Each test starts its threads together behind a barrier,
and shortens the interpreter's switch interval so that threads interleave inside the calls.
"""

from __future__ import annotations

import math
import sys
import threading
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

import adgen

THREADS = 8


def loop(x, y):
    for k in range(6):
        x = math.sin(x) * 0.9 + 0.1 * y * k
    return x * y


def branches(x, y):
    if x > y:
        z = x * x - y
    else:
        z = math.exp(0.1 * x) * y
    while z < 5.0:
        z = z * 1.5 + 1.0
    return z


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def recursive(x, y):
    return power(x, 5) + power(y, 3) * x


def array_loss(w, v):
    h = np.tanh(w @ v)
    total = 0.0
    for i in range(h.shape[0]):
        total = total + h[i] * h[i]
    return total + np.sum(w * w)


FUNCTIONS = {"loop": loop, "branches": branches, "recursive": recursive}
POINTS = [(0.1 * k - 1.3, 0.05 * k + 0.2) for k in range(40)]


@contextmanager
def _interleaving() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _all_at_once(task: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """Run `task` on every item from THREADS threads; the first THREADS calls start together."""
    barrier = threading.Barrier(min(THREADS, len(items)))

    def start(numbered: tuple[int, Any]) -> Any:
        if numbered[0] < barrier.parties:
            barrier.wait(timeout=60)
        return task(numbered[1])

    with _interleaving(), ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(start, enumerate(items)))


def _fresh(f: Callable[..., Any]) -> Callable[..., Any]:
    """A new function object with f's code: adgen has never seen it, so it builds anew."""
    return types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__,
                              f.__closure__)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f", FUNCTIONS.values(), ids=FUNCTIONS.keys())
def test_gradients_from_threads_equal_serial_results(f: Any, mode: str) -> None:
    g = adgen.grad(f, wrt=(0, 1), mode=mode)
    serial = [g(*p) for p in POINTS]
    parallel = _all_at_once(lambda p: g(*p), POINTS * 4)
    assert parallel == serial * 4


def test_array_gradients_from_threads_equal_serial_results() -> None:
    rng = np.random.default_rng(1)
    inputs = [(rng.standard_normal((3, 4)), rng.standard_normal(4)) for _ in range(32)]
    g = adgen.grad(array_loss, wrt=(0, 1))
    serial = [g(*p) for p in inputs]
    for (dw, dv), (sw, sv) in zip(_all_at_once(lambda p: g(*p), inputs), serial, strict=True):
        assert np.array_equal(dw, sw) and np.array_equal(dv, sv)


def smooth(x, y):
    return math.sin(x * y) + x ** 3 * y


def test_mixed_operators_from_threads() -> None:
    """grad (both modes), jvp, vjp and hvp, interleaved."""
    ops = [adgen.grad(loop), adgen.grad(loop, mode="forward"), adgen.jvp(loop),
           adgen.vjp(loop), adgen.hvp(smooth)]
    calls = [(k % len(ops), p) for k, p in enumerate(POINTS)]

    def call(item: tuple[int, tuple]) -> Any:
        which, (x, y) = item
        return ops[which](x, y) if which < 2 else ops[which](x, y, 1.0)

    assert _all_at_once(call, calls * 2) == [call(c) for c in calls] * 2


@pytest.mark.parametrize("f", [*FUNCTIONS.values(), array_loss],
                         ids=[*FUNCTIONS, "array_loss"])
def test_building_from_threads_gives_one_derivative(f: Any) -> None:
    fresh = _fresh(f)
    point = (np.ones((3, 4)), np.ones(4)) if f is array_loss else (0.3, 0.7)

    def build(_: int) -> tuple[Any, str, Any]:
        g = adgen.grad(fresh, wrt=(0, 1))
        return g, adgen.source(g), g(*point)

    results = _all_at_once(build, list(range(THREADS)))
    assert len({id(g) for g, _, _ in results}) == 1, "threads got different derivatives"
    assert len({text for _, text, _ in results}) == 1
    expected = adgen.grad(f, wrt=(0, 1))(*point)
    for _, _, value in results:
        assert all(np.array_equal(a, b) for a, b in zip(value, expected, strict=True))


def test_building_different_functions_sharing_a_recursive_callee() -> None:
    """Eight new functions, each calling the same recursive helper, built at once."""
    copies = [_fresh(recursive) for _ in range(THREADS)]
    expected = adgen.grad(recursive, wrt=(0, 1))(0.3, 0.7)
    built = _all_at_once(lambda f: adgen.grad(f, wrt=(0, 1), mode="reverse")(0.3, 0.7), copies)
    assert built == [expected] * THREADS


def test_forward_and_reverse_built_at_once_agree() -> None:
    fresh = _fresh(branches)
    modes = ["reverse", "forward"] * (THREADS // 2)
    results = _all_at_once(lambda m: adgen.grad(fresh, wrt=(0, 1), mode=m)(0.4, 0.9), modes)
    for got in results:
        assert got == pytest.approx(results[0], rel=1e-12)
