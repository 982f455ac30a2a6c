"""A callee's backward function adding into the caller's adjoints (`adgen.derive.accumulators`).

Each case checks the gradient (the variant a call runs, against the general derivative and
central differences) and whether the caller hands its adjoint to the callee."""

from __future__ import annotations

import inspect

import numpy as np

import adgen
from adgen.testing import check_grads


def layers(W, x):
    for i in range(W.shape[0]):
        x = np.tanh(W[i] * x)
    return x


def stacked(W, xs):
    total = 0.0
    for t in range(xs.shape[0]):
        total = total + np.sum(layers(W, xs[t]))
    return total


def two_rows(A, B, x):
    return np.sum(A[0] * B[1] * x)


def twice(W, xs):
    total = 0.0
    for t in range(xs.shape[0]):
        total = total + two_rows(W, W, xs[t])
    return total


def rows_and_whole(W, x):
    return np.sum(W[0] * x) + np.sum(W * W)


def mixed(W, xs):
    total = 0.0
    for t in range(xs.shape[0]):
        total = total + rows_and_whole(W, xs[t]) * 0.5
    return total


RNG = np.random.default_rng(3)


def _functions(g, args):
    """The variant `g(*args)` runs and the functions it binds, by name."""
    variant = g.__adgen__.info["variant"](args)
    out, todo = {}, [variant]
    while todo:
        fn = todo.pop()
        if not hasattr(fn, "__code__") or any(fn is f for f in out.values()):
            continue
        out[fn.__name__] = fn
        todo += [fn.__globals__.get(n) for n in fn.__code__.co_names]
        todo += [c.cell_contents for c in fn.__closure__ or ()]
    return out


def _sources(g, args):
    """The source of the variant `g(*args)` runs and of the callees it binds."""
    return "\n".join(inspect.getsource(fn) for fn in _functions(g, args).values())


def test_the_callee_adds_rows_into_the_callers_adjoint():
    W, xs = RNG.standard_normal((3, 4)), RNG.standard_normal((5, 4))
    check_grads(stacked, (W, xs))
    source = _sources(adgen.grad(stacked), (W, xs))
    assert "def layers_bwd(_tape, x_bar, W_bar=None):" in source
    assert "W_bar = layers_bwd(_tape1, _t4_bar, W_bar=W_bar)" in source
    assert "W_bar += " not in source.split("def layers_fwd")[0]  # (the caller's)


def test_an_adjoint_bound_to_two_parameters_is_not_handed_over():
    W, xs = RNG.standard_normal((2, 4)), RNG.standard_normal((3, 4))
    check_grads(twice, (W, xs))
    assert "=W_bar" not in _sources(adgen.grad(twice), (W, xs))


def test_a_parameter_read_whole_and_by_rows():
    W, xs = RNG.standard_normal((2, 4)), RNG.standard_normal((3, 4))
    check_grads(mixed, (W, xs))


def test_the_backward_function_alone_makes_its_zeros():
    W, xs = RNG.standard_normal((3, 4)), RNG.standard_normal((2, 4))
    g = adgen.grad(stacked)
    bound = _functions(g, (W, xs))
    fwd, bwd = bound["layers_fwd"], bound["layers_bwd"]
    _, tape = fwd(W, xs[0])
    alone = bwd(tape, np.ones(4))
    before = RNG.standard_normal((3, 4))
    added = bwd(tape, np.ones(4), W_bar=before.copy())
    np.testing.assert_allclose(added, before + alone, rtol=1e-12)
    np.testing.assert_allclose(g(W, xs), g.__adgen__.info["any"](W, xs), rtol=1e-12)


def weighted_sum(y, x):
    return np.sum(y * np.tanh(x))


def float32_weighted(y, x):
    return np.sum(y * np.tanh(x))


def test_a_filled_adjoint_read_once_is_its_fill_value():
    y, x = RNG.standard_normal(5), RNG.standard_normal(5)
    check_grads(weighted_sum, (y, x), wrt=1)
    source = adgen.source(adgen.grad(weighted_sum, wrt=1), y, x)
    assert "np.full" not in source
    both = adgen.source(adgen.grad(weighted_sum, wrt=(0, 1)), y, x)
    assert "_t2_bar = np.full((5,), 1.0)" in both  # read twice: kept


def test_a_fill_is_kept_beside_a_float32_array():
    y, x = RNG.standard_normal(5).astype(np.float32), RNG.standard_normal(5)
    g = adgen.grad(float32_weighted, wrt=(0, 1))
    assert "np.full" in adgen.source(g, y, x)
    special = g(y, x)
    general = g.__adgen__.info["any"](y, x)
    for s, a in zip(special, general, strict=True):
        assert s.dtype == a.dtype
        np.testing.assert_allclose(s, a, rtol=1e-6)
