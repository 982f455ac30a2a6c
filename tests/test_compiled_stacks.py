"""Compiled code's own forms: typed stacks, the call path, Numba's on-disk cache.

`adgen.numba_stacks` keeps the saves of numbers in NumPy arrays with room reserved before
`for` loops; the functions below put saves where a wrong count would overrun an array (a
loop whose inner trip count changes per iteration, a `while` inside a `for`, saves both in
a loop and in the loop nested in it, a loop over an array) and check the compiled gradient
against the uncompiled one to 1e-12 and against central differences. `adgen.compiled` hands
out a function with the derivative's parameters; `adgen.numba_cache` writes generated code
to files keyed by everything it depends on, so another process loads Numba's machine code.
"""

import inspect
import math
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import adgen
from adgen import compiled, numba_cache, numba_stacks, pipeline
from adgen.errors import CompileWarning

numba = pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _cache_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("ADGEN_CACHE_DIR", str(tmp_path))


def triangular(x):
    s = x
    for i in range(5):
        t = s * 0.5
        for j in range(i):
            t = math.sin(t) + 0.1 * j * x
        s = s + t * t
    return s


def while_in_for(x):
    s = 0.0
    for i in range(4):
        y = x + i
        while y > 0.3:
            y = y * 0.6
        s = s + y * y
    return s


def saves_at_two_depths(x, w):
    s = 0.0
    for i in range(w.shape[0]):
        s = s * 0.9 + w[i] * x
        for k in range(3):
            s = math.sin(s) + k * w[i]
    return s


def over_an_array(x, w):
    s = x
    for v in w:
        s = math.tanh(s * v) + s
    return s


LOG_2 = 0.6931471805599453


def reads_a_global(x, w):
    total = 0.0
    for i in range(w.shape[0]):
        a = w[i] * x - LOG_2
        total = total + math.exp(a) * a
    return total


CASES = [
    (triangular, (0.7,), (0,)),
    (while_in_for, (1.3,), (0,)),
    (saves_at_two_depths, (0.4, np.linspace(0.1, 0.9, 7)), (0, 1)),
    (over_an_array, (0.2, np.linspace(-1.0, 1.0, 20)), (0, 1)),
    (reads_a_global, (0.5, np.linspace(0.0, 2.0, 9)), (0, 1)),
]


def _central(f, args, i, h=1e-6):
    def at(d):
        moved = list(args)
        moved[i] = moved[i] + d
        return f(*moved)

    if isinstance(args[i], float):
        return (at(h) - at(-h)) / (2 * h)
    out = np.zeros_like(args[i])
    for k in range(args[i].size):
        e = np.zeros_like(args[i])
        e.flat[k] = h
        out.flat[k] = (at(e) - at(-e)) / (2 * h)
    return out


@pytest.mark.parametrize(("f", "args", "wrt"), CASES, ids=[c[0].__name__ for c in CASES])
def test_typed_stacks_agree_with_uncompiled_and_differences(f, args, wrt):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        got = adgen.grad(f, wrt=wrt, compile="numba")(*args)
    expected = adgen.grad(f, wrt=wrt)(*args)
    for i, g, e in zip(wrt, got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(g, _central(f, args, i), rtol=1e-5, atol=1e-7)


def _rewritten(f, wrt, args):
    fn = pipeline.derivative(f, wrt, "grad")
    return numba_stacks.typed_stacks(fn.__adgen__.info["frozen"](args))


def test_saves_of_numbers_are_arrays_with_room_reserved_outside_the_loops():
    source = _rewritten(saves_at_two_depths, (0, 1), (0.4, np.linspace(0.1, 0.9, 7))).source
    assert "_stack__s = _adgen_buffer(_adgen_np.float64)" in source
    assert ".append(" not in source and ".pop()" not in source
    # one reservation for both depths, before the outer loop, counted from the trip counts
    reservation = [s.strip() for s in source.splitlines() if "_adgen_reserve(_stack__s" in s]
    assert reservation == ["_stack__s = _adgen_reserve(_stack__s, _stack__s_top + "
                           "len(range(_t2)) * (1 + len(range(3)) * (1)))"]


def test_a_triangular_inner_loop_is_reserved_per_outer_iteration():
    source = _rewritten(triangular, (0,), (0.7,)).source
    lines = source.splitlines()
    inner = next(i for i, line in enumerate(lines) if line.strip() == "for j in range(i):")
    assert "_adgen_reserve(" in lines[inner - 1]
    # a save in a `while` grows its array when full, and a global number is typed too
    assert "_adgen_grown(" in _rewritten(while_in_for, (0,), (1.3,)).source
    assert "a = 0.0" in _rewritten(reads_a_global, (0, 1), (0.5, np.ones(3))).source


def test_a_save_in_a_while_loop_rebinds_its_array_only_when_it_grows():
    lines = [line.strip() for line in _rewritten(while_in_for, (0,), (1.3,)).source.splitlines()]
    at = lines.index("if _stack__y_top == _stack__y.shape[0]:")
    assert lines[at + 1:at + 3] == ["_stack__y = _adgen_grown(_stack__y)",
                                    "_stack__y[_stack__y_top] = y; _stack__y_top += 1"]
    # from 1e4 the loop runs 26 times in the first iteration: the array of 16 grows
    g = adgen.grad(while_in_for, compile="numba")
    for x in (1.3, 1e4, 1e9):
        assert math.isclose(g(x), adgen.grad(while_in_for)(x), rel_tol=1e-12)
    assert type(g.entries[float]).__name__ == "builtin_function_or_method"  # compiled


def test_the_function_handed_out_has_the_derivatives_parameters_and_calls_machine_code():
    g = adgen.grad(triangular, compile="numba")
    assert list(inspect.signature(g).parameters) == ["x"]
    assert math.isclose(g(0.7), adgen.grad(triangular)(0.7), rel_tol=1e-12)
    entry = g.entries[float]
    assert type(entry).__name__ == "builtin_function_or_method"  # no second dispatch
    assert math.isclose(g(np.float64(0.7)), g(0.7), rel_tol=1e-12)
    assert len(g.entries) == 2  # a NumPy float has an entry of its own


def test_the_cache_key_covers_global_numbers_and_refuses_callees(monkeypatch, tmp_path):
    args = (0.5, np.linspace(0.0, 2.0, 9))
    fn = pipeline.derivative(reads_a_global, (0, 1), "grad").__adgen__.info["frozen"](args)
    rewritten = numba_stacks.typed_stacks(fn)
    first = numba_cache.store(rewritten, fn, compiled._helper)
    assert first is not None and first.co_filename.startswith(str(tmp_path))
    assert numba_cache.store(rewritten, fn, compiled._helper).co_filename == first.co_filename
    monkeypatch.setitem(fn.__globals__, "LOG_2", 0.5)
    assert numba_cache.store(rewritten, fn, compiled._helper).co_filename != first.co_filename
    monkeypatch.setenv("ADGEN_CACHE_DIR", "")
    assert numba_cache.store(rewritten, fn, compiled._helper) is None


def _shrink(x):
    return x * 0.5


def calls_a_helper(x):
    for _ in range(3):
        x = _shrink(x) + math.sin(x)
    return x


def test_code_calling_the_users_functions_is_not_cached():
    fn = pipeline.derivative(calls_a_helper, 0, "grad").__adgen__.info["frozen"]((0.3,))
    assert numba_cache.store(numba_stacks.typed_stacks(fn), fn, compiled._helper) is None
    g = adgen.grad(calls_a_helper, compile="numba")
    assert math.isclose(g(0.3), adgen.grad(calls_a_helper)(0.3), rel_tol=1e-12)


def test_another_process_loads_the_machine_code_from_the_cache(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.path.dirname(os.path.dirname(__file__))!r})
        import adgen
        from tests.test_compiled_stacks import triangular
        g = adgen.grad(triangular, compile="numba")
        value = g(0.7)
        hits = sum(sum(d.stats.cache_hits.values()) for d in g.dispatchers.values())
        print(repr(value), hits)
    """)
    env = dict(os.environ, ADGEN_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, check=True).stdout.split() for _ in range(2)]
    assert runs[0][1] == "0" and runs[1][1] == "1"  # compiled, then loaded
    assert runs[0][0] == runs[1][0] == repr(adgen.grad(triangular)(0.7))
