"""A callee's tape without what its backward function computes again (`adgen.derive.remat`).

Each case checks the gradient (the variant a call runs, against the general derivative and
central differences) and what the callee's split derivative keeps on its tape."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def cell(weight, hidden, inp):
    joined = np.concatenate((inp, hidden, inp)) * weight
    n = hidden.shape[0]
    hidden = sigmoid(joined[0:n]) * np.tanh(joined[n:2 * n]) + joined[2 * n:]
    return hidden


def recurrent(weight, h, xs):
    for t in range(xs.shape[0]):
        h = cell(weight, h, xs[t])
    return np.sum(h * h)


def gated(x, w):
    s = sigmoid(x * w)
    return np.sum(s * x)


def written_after(a, w):
    c = a * 1.0
    joined = np.concatenate((c, a))
    y = joined * w
    c[0] = 5.0
    return np.sum(y * y) + np.sum(c * a)


def uses_written_after(a, w):
    total = 0.0
    for _ in range(2):
        total = total + written_after(a, w)
    return total


def shifted(x):
    e = np.exp(x)
    d = 2.0 - e
    return np.sum(d * e) + np.sum(-d / 3.0 * x)


def uses_shifted(x):
    return shifted(x) + shifted(x * 0.5)


def rebinds(parts, w):
    joined = np.concatenate(parts)
    parts = joined * w
    return np.sum(parts * joined)


def uses_rebinds(a, b, w):
    return rebinds((a, b), w) + rebinds((b, a), w)


def _split_of(g, args, callee):
    """The split pair `callee_fwd`, `callee_bwd` the variant for `args` calls."""
    variant = g.__adgen__.info["variant"](args)
    seen, todo = set(), [variant]
    while todo:
        fn = todo.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        found = [fn.__globals__.get(n) for n in fn.__code__.co_names]
        found += [c.cell_contents for c in fn.__closure__ or ()]
        for value in found:
            if getattr(value, "__name__", "") == f"{callee}_fwd":
                return value, fn.__globals__.get(f"{callee}_bwd") or next(
                    c.cell_contents for c in fn.__closure__
                    if getattr(c.cell_contents, "__name__", "") == f"{callee}_bwd")
            if hasattr(value, "__adgen__"):
                todo.append(value)
    raise AssertionError(f"no split derivative of {callee}")


RNG = np.random.default_rng(7)


def test_joined_input_is_computed_again_not_taped():
    weight, h, xs = RNG.standard_normal(12), RNG.standard_normal(4), RNG.standard_normal((3, 4))
    check_grads(recurrent, (weight, h, xs), wrt=(0, 1))
    g = adgen.grad(recurrent, wrt=(0, 1))
    fwd, bwd = _split_of(g, (weight, h, xs), "cell")
    inp = xs[0]
    _, tape = fwd(weight, h, inp)
    # the parts (in the tuple display the join read), not the joined array
    assert any(isinstance(v, tuple) and len(v) == 3 and all(
        a is b for a, b in zip(v, (inp, h, inp), strict=True)) for v in tape)
    assert not any(isinstance(v, np.ndarray) and v.shape == (12,) and v is not weight
                   for v in tape)
    assert "_t2 = np.concatenate(_t1)" in inspect.getsource(bwd)


def softish(x):
    e = np.exp(x)
    return 3.0 - 2.0 / (1.0 + e)


def uses_softish(x):
    return np.sum(softish(x) * x)


@pytest.mark.parametrize("case, callee", [(gated, "sigmoid"), (uses_softish, "softish")])
def test_the_tape_of_a_chain_that_can_be_undone_is_the_result(case, callee):
    args = (RNG.standard_normal(6), RNG.standard_normal(6))[:case.__code__.co_argcount]
    check_grads(case, args, wrt=tuple(range(len(args))))
    g = adgen.grad(case, wrt=tuple(range(len(args))))
    fwd, bwd = _split_of(g, args, callee)
    value, tape = fwd(args[0])
    assert tape is value
    assert "np.exp" not in _code(bwd)


def _code(fn):
    """The source of a generated function without its comments (which quote the user)."""
    return "\n".join(line for line in inspect.getsource(fn).splitlines()
                     if not line.strip().startswith("#"))


@pytest.mark.parametrize("scale", [20.0, 40.0, 800.0])
def test_sigmoid_far_out_agrees_with_the_general_derivative(scale):
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0]) * scale
    w = np.ones(5)
    g = adgen.grad(gated, wrt=(0, 1))
    with warnings.catch_warnings(), np.errstate(over="ignore", divide="ignore",
                                                invalid="ignore"):
        warnings.simplefilter("ignore")
        special = g(x, w)
        general = g.__adgen__.info["any"](x, w)
    # to the rounding of the sigmoid's value (the precision it keeps of exp(-x), that of a
    # hand-written s * (1 - s)), scaled by the factors the chain rule multiplies it with
    allowed = 4 * np.finfo(float).eps * np.max(np.abs(x)) ** 2
    for s, a in zip(special, general, strict=True):
        # where exp(-x) overflows the general derivative reads inf / inf (nan); the variant,
        # written in the sigmoid's value (0 there), gives the limit
        assert np.all(np.isfinite(s))
        finite = np.isfinite(a)
        np.testing.assert_allclose(s[finite], a[finite], rtol=1e-12, atol=allowed)


def test_a_write_after_the_join_keeps_it_on_the_tape():
    a, w = RNG.standard_normal(3), RNG.standard_normal(6)
    check_grads(uses_written_after, (a, w), wrt=(0, 1))


def test_values_undone_from_the_result_and_from_their_operands():
    check_grads(uses_shifted, (RNG.standard_normal(5),))


def test_an_operand_assigned_again_is_kept_by_a_copy():
    a, b, w = RNG.standard_normal(3), RNG.standard_normal(2), RNG.standard_normal(5)
    check_grads(uses_rebinds, (a, b, w), wrt=(0, 1, 2))


def test_a_product_of_undone_values_is_written_in_the_result():
    x, w = RNG.standard_normal(6), RNG.standard_normal(6)
    _, bwd = _split_of(adgen.grad(gated, wrt=(0, 1)), (x, w), "sigmoid")
    code = _code(bwd)
    assert "/" not in code and "* (1.0 - " in code  # g * s * (1.0 - s)
