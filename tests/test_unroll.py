"""Reverse mode by trace unrolling (`control="unroll"`): straight-line code per control path,
guarded, re-specialised when a call takes another path, bounded in size."""

import concurrent.futures
import warnings

import pytest

import adgen
from tests import unroll_functions as uf

CASES = [
    (uf.branchy, (1.3, 0.4)), (uf.branchy, (0.3, 0.4)),
    (uf.newton, (2.0,)), (uf.newton, (9.0,)),
    (uf.early_exit, (0.7, 20)), (uf.early_exit, (0.1, 5)), (uf.early_exit, (0.1, 0)),
]


@pytest.mark.parametrize(("f", "args"), CASES)
def test_unrolled_equals_stack_replay(f, args):
    unrolled = adgen.grad(f, control="unroll")(*args)
    assert unrolled == pytest.approx(adgen.grad(f)(*args), rel=1e-13, abs=1e-15)
    assert unrolled == pytest.approx(adgen.grad(f, mode="forward")(*args), rel=1e-10)


def test_one_gradient_follows_every_path():
    g = adgen.grad(uf.branchy, control="unroll")
    for args in [(1.3, 0.4), (0.3, 0.4), (1.3, 0.4), (2.0, 1.0), (-1.0, 0.0)]:
        assert g(*args) == pytest.approx(adgen.grad(uf.branchy)(*args), rel=1e-13)


def code(text):
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("#"))


def test_unrolled_code_is_straight_line_with_guards():
    g = adgen.grad(uf.early_exit, control="unroll")
    source = code(adgen.source(g.specialise((0.1, 3))))
    assert "for " not in source and "while " not in source
    assert "_stack" not in source
    assert source.count("raise PathChanged") >= 4


def test_value_and_grad_unrolled():
    value, grad = adgen.value_and_grad(uf.newton, control="unroll")(2.0)
    assert value == pytest.approx(2.0 ** 0.5)
    assert grad == pytest.approx(0.5 / 2.0 ** 0.5)


def test_long_loop_falls_back_to_stack_replay_and_says_so():
    g = adgen.grad(uf.long_loop, control="unroll", unroll_limit=1000)
    with pytest.warns(UserWarning, match="stack replay"):
        value = g(0.3)
    assert value == pytest.approx(adgen.grad(uf.long_loop)(0.3), rel=1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert g(0.4) == pytest.approx(adgen.grad(uf.long_loop)(0.4), rel=1e-13)


def test_trace_with_arguments_shows_the_unrolled_trace():
    text = adgen.trace(uf.early_exit, 0.1, 3)
    assert "for " not in code(text)
    assert text.count("# line 24: s = s + x * i") == 3  # one comment per unrolled iteration
    assert text.count("_range1[") == 3


def test_threads_taking_different_paths():
    g = adgen.grad(uf.branchy, control="unroll")
    inputs = [(0.1 * k, 0.5) for k in range(1, 40)]
    expected = [adgen.grad(uf.branchy)(*a) for a in inputs]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for _ in range(5):
            got = list(pool.map(lambda a: g(*a), inputs))
            assert got == pytest.approx(expected, rel=1e-13)


def test_unknown_control_is_rejected():
    with pytest.raises(ValueError, match="control"):
        adgen.grad(uf.branchy, control="tape")


def test_an_unrolled_derivative_is_named_and_differentiated_as_the_stack_derivative():
    """It chooses generated code per call: differentiated again, it is read as the
    stack-replay gradient of the same values (it was an internal StopIteration)."""
    g = adgen.grad(uf.branchy, control="unroll")
    assert g.__name__ == "branchy_grad" and g.__wrapped__ is uf.branchy
    stack = adgen.grad(uf.branchy)
    for x in (0.5, -0.7):
        got = adgen.jvp(g)(x, 1.0, 1.0)
        want = adgen.jvp(stack)(x, 1.0, 1.0)
        assert got == pytest.approx(want, rel=1e-12)
