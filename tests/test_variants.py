"""Derivatives specialised to their arguments (`adgen.variants`, `adgen.derive.shapes`).

Every case checks the variant a call runs against the general derivative and central
differences; the source of the variant has no shape helper where the shapes decide it."""

from __future__ import annotations

import numpy as np
import pytest

import adgen
from adgen.derive.shapes import signature
from adgen.testing import check_grads
from adgen.variants import LIMIT


def broadcast_rows(x, b):
    return np.sum(np.tanh(x + b) * x)


def broadcast_column(x, c):
    return np.sum((x * c) ** 2)


def reduce_keepdims(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.sum(np.exp(x - m)) + np.sum(np.mean(x, axis=0))


def scalar_times_array(s, x):
    return np.sum(s * x + np.sin(x) * s)


def matrix_chain(A, B, v):
    return np.sum((A @ B) @ v) + v @ v


def grows(x, n):
    y = x
    for _ in range(n):
        y = np.concatenate((y, y[-1:] * 0.5))
    return np.sum(y * y)


def sliced_by_shape(g, c):
    n = c.shape[0]
    return np.sum(c / (1.0 + np.exp(-g[0:n])) + np.tanh(g[n:2 * n]) * g[2 * n:])


def gates(x, w):
    n = x.shape[0]
    g = np.concatenate((x, x * 2.0, x)) * w
    return np.sum(np.tanh(g[0:n]) * g[n:2 * n] + g[2 * n:])


def pair(x, y):
    return np.sin(x) * y, np.cos(y)


def uses_pair(x, y):
    a, b = pair(x, y)
    c, _ = pair(a, b)
    return np.sum(a * b + c)


def rows_of(m, v):
    rows = [m[i] for i in range(m.shape[0])]
    total = 0.0
    for i in range(len(rows)):
        total = total + np.sum(np.tanh(rows[i] * v))
    return total


def stacked_rows(x, y):
    return np.sum(np.vstack((x, y * 2.0)) ** 2) + np.sum(np.hstack((x, y)) * 3.0)


RNG = np.random.default_rng(3)
CASES = [
    (broadcast_rows, (RNG.normal(size=(4, 3)), RNG.normal(size=3)), (0, 1)),
    (broadcast_column, (RNG.normal(size=(4, 3)), RNG.normal(size=(4, 1))), (0, 1)),
    (reduce_keepdims, (RNG.normal(size=(3, 5)),), 0),
    (scalar_times_array, (0.7, RNG.normal(size=(2, 3))), (0, 1)),
    (matrix_chain, (RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2)), RNG.normal(size=2)),
     (0, 1, 2)),
    (grows, (RNG.normal(size=3), 4), 0),
    (sliced_by_shape, (RNG.normal(size=9), RNG.normal(size=3)), (0, 1)),
    (gates, (RNG.normal(size=3), RNG.normal(size=9)), (0, 1)),
    (uses_pair, (RNG.normal(size=4), RNG.normal(size=4)), (0, 1)),
    (rows_of, (RNG.normal(size=(3, 4)), RNG.normal(size=4)), (0, 1)),
    (stacked_rows, (RNG.normal(size=3), RNG.normal(size=3)), (0, 1)),
]


@pytest.mark.parametrize(("f", "args", "wrt"), CASES, ids=[c[0].__name__ for c in CASES])
def test_variant_matches_general_and_differences(f, args, wrt):
    check_grads(f, args, wrt=wrt, order=1, modes=("reverse",))
    g = adgen.grad(f, wrt=wrt)
    general = g.__adgen__.info["any"](*args)
    special = g(*args)
    for a, b in zip(np.atleast_1d(general) if not isinstance(general, tuple) else general,
                    np.atleast_1d(special) if not isinstance(special, tuple) else special,
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("f", [broadcast_rows, broadcast_column, matrix_chain, reduce_keepdims])
def test_variant_source_has_no_shape_helper(f):
    args = next(c[1] for c in CASES if c[0] is f)
    text = adgen.source(adgen.grad(f), *args)
    for helper in ("unbroadcast", "expand_to", "matmul_adjoint", "zeros_like", "reduced_count",
                   "scalar_output"):
        assert helper not in text, text


def test_a_shape_decided_at_run_time_keeps_its_helper():
    """`grows` concatenates a data-dependent number of times: `y`'s shape is not a fact."""
    text = adgen.source(adgen.grad(grows), np.ones(3), 2)
    assert "unbroadcast" in text or "zeros_like" in text or "add_adjoints" in text


def test_one_variant_per_signature_and_at_most_limit_kept():
    g = adgen.grad(broadcast_rows)
    for n in range(1, LIMIT + 5):
        x, b = np.ones((2, n)), np.linspace(0.0, 1.0, n)
        np.testing.assert_allclose(g(x, b), g.__adgen__.info["any"](x, b), rtol=1e-13)
    assert adgen.source(g, np.ones((2, 3)), np.ones(3)) != adgen.source(g, np.ones((2, 4)),
                                                                         np.ones(4))
    assert "(2, 3)" in adgen.source(g, np.ones((2, 3)), np.ones(3))


def test_signature_is_dtype_and_shape_for_arrays_else_the_type():
    key = signature((1.0, 2, np.ones((2, 3), np.float32), [1.0], np.float64(1.0)))
    assert key == (float, int, (np.dtype(np.float32), (2, 3)), list, np.float64)


def test_arguments_with_nothing_to_specialise_to_run_the_general_function():
    def squares(xs):
        total = 0.0
        for v in xs:
            total = total + v * v
        return total

    g = adgen.grad(squares)
    assert g.__adgen__.info["variant"](([1.0, 2.0],)) is g.__adgen__.info["any"]
    assert g([1.0, 2.0]) == [2.0, 4.0]


def test_keywords_and_defaults_run_the_general_function():
    def f(x, scale=2.0):
        return np.sum(x * scale)

    g = adgen.grad(f)
    np.testing.assert_allclose(g(np.ones(3)), [2.0, 2.0, 2.0])
    np.testing.assert_allclose(g(np.ones(3), scale=3.0), [3.0, 3.0, 3.0])
    np.testing.assert_allclose(g(np.ones(3), 4.0), [4.0, 4.0, 4.0])


def test_float32_adjoints_keep_their_dtype():
    x = np.ones((3, 2), np.float32)
    b = np.ones(2, np.float32)
    grads = adgen.grad(broadcast_rows, wrt=(0, 1))(x, b)
    general = adgen.grad(broadcast_rows, wrt=(0, 1)).__adgen__.info["any"](x, b)
    for got, want in zip(grads, general, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-6)


def scalar_code(x, y):
    z = x * y
    for _ in range(3):
        z = np.sin(z) + 0.5 * x
    return z * y


def test_scalar_code_runs_its_float_variant_without_dispatch():
    """For parameters used only as numbers the function handed out is the float variant,
    checking its arguments' types itself; other arguments go to the dispatching function."""
    g = adgen.grad(scalar_code, wrt=(0, 1))
    general = g.__adgen__.info["any"]
    assert "def scalar_code_grad(" in adgen.source(g)
    assert g.__code__ is not general.__code__
    for args in [(0.3, 0.7), (np.float64(0.3), 0.7), (1, 2.0), (np.array(0.3), 0.7)]:
        np.testing.assert_allclose(np.array(g(*args), dtype=float),
                                   np.array(general(*args), dtype=float), rtol=1e-14)
    check_grads(scalar_code, (0.3, 0.7), wrt=(0, 1), order=2)


@pytest.mark.parametrize(("f", "absent"), [
    (gates, ("split_like", "add_at", "item(", "unbroadcast")),
    (uses_pair, ("add_at", "item(", "zeros_like")),
    (sliced_by_shape, ("add_at", "unbroadcast")),
])
def test_variant_scatters_and_splits_without_helpers(f, absent):
    """Indexed reads of arrays scatter in place (`g_bar[0:3] += ...`), a join's adjoint is
    sliced, a tuple's adjoint is a list display indexed directly."""
    args = next(c[1] for c in CASES if c[0] is f)
    text = adgen.source(adgen.grad(f, wrt=(0, 1)), *args)
    for helper in absent:
        assert helper not in text, text
    if f is not uses_pair:
        assert "] += " in text, text


def test_unpacking_gives_the_tuple_adjoint_as_one_display():
    """`a, b = pair(x, y)`: the adjoint of the pair is `[a_bar, b_bar]`, no zeros added into;
    an item with no adjoint is a zero of its shape."""
    args = next(c[1] for c in CASES if c[0] is uses_pair)
    text = adgen.source(adgen.grad(uses_pair, wrt=(0, 1)), *args)
    assert "[a_bar, b_bar]" in text, text
    assert "np.zeros((4,))]" in text, text  # `c, _ = pair(a, b)`: `_` has no adjoint


def test_the_least_recently_used_variant_is_dropped():
    g = adgen.grad(broadcast_rows)
    variant = g.__adgen__.info["variant"]
    cells = dict(zip(variant.__code__.co_freevars, variant.__closure__, strict=True))
    table = cells["table"].cell_contents

    def call(n):
        g(np.ones((2, n)), np.linspace(0.0, 1.0, n))

    def held():
        return sorted(key[1][1][0] for key in table)

    for n in range(1, LIMIT + 1):
        call(n)
    call(1)  # used again: now the most recent
    call(LIMIT + 1)
    assert held() == [1, *range(3, LIMIT + 2)]
    call(1)  # a hit: still held, no rebuild of the others
    assert held() == [1, *range(3, LIMIT + 2)]
