"""`try` statements whose handler runs after the body has run part of itself (issue 17, call
forms 6): reverse mode replays the steps of the body that completed, then the handler, as the
primal ran them. Each case is checked on both paths against central differences in both modes
and to second order, and forward against reverse."""

from __future__ import annotations

import math

import numpy as np
import pytest

import adgen
from adgen.errors import DifferentiationError
from adgen.testing import check_grads


def two_steps(x):
    try:
        y = x * 2.0
        z = math.log(y) * y
    except ValueError:
        z = y * x
    return z


def steps_in_a_loop(x):
    s = 0.0
    for i in range(len(x)):
        try:
            a = x[i] * 3.0 - 0.5
            b = a * x[i]
            v = math.sqrt(a) * b
        except ValueError:
            v = a * b + x[i]
        s = s + v * x[i]
    return s


def with_inside(x):
    total = x[0]
    try:
        with np.errstate(divide="raise", invalid="raise"):
            y = x * x
            total = total + np.sum(y)
            z = np.log(x) * y
    except FloatingPointError:
        z = y * total
    return np.sum(z) + total


def unpacks(x):
    try:
        a, b = x[0] * 2.0, x[1] * 3.0
        c = math.log(a) + b
    except ValueError:
        c = a * b
    return c * x[0]


def returns_after_progress(x):
    try:
        y = x * x
        return math.log(y - 1.0) * y
    except ValueError:
        return y * 3.0


def else_and_finally(x):
    t = x * 1.0
    try:
        u = t * t
        t = t + u
        w = math.sqrt(t - 1.0)
    except ValueError:
        w = u * t
    else:
        w = w * 2.0
    finally:
        t = t * 0.5
    return w * t


def writes_then_raises(x):
    y = np.zeros(3)
    out = []
    try:
        y[0] = x[0] * x[1]
        out.append(y[0] * 2.0)
        y[1] = math.log(x[1])
        out.append(y[1])
    except ValueError:
        y[2] = x[2] * x[2]
    return np.sum(y * x) + sum(out)


def nested(x):
    try:
        a = x * 3.0
        try:
            b = a * a
            c = math.log(b - 1.0)
        except ValueError:
            c = b * 0.5
        d = math.sqrt(c - 0.25) * a
    except ValueError:
        d = a + x
    return d


POSITIVE = np.array([0.7, 1.3, 0.9])
MIXED = np.array([0.7, 0.1, 1.3, 0.05])

CASES = [
    ("two steps, body completes", two_steps, (1.5,)),
    ("two steps, second raises", two_steps, (-1.5,)),
    ("steps in a loop, some raise", steps_in_a_loop, (MIXED,)),
    ("steps in a loop, none raise", steps_in_a_loop, (np.array([0.7, 1.3]),)),
    ("a with in the body, completes", with_inside, (POSITIVE,)),
    ("a with in the body, its last statement raises", with_inside, (-POSITIVE,)),
    ("tuple unpacking, then a raise", unpacks, (np.array([-0.6, 0.8]),)),
    ("tuple unpacking, completes", unpacks, (np.array([0.6, 0.8]),)),
    ("a return after progress: completes", returns_after_progress, (1.7,)),
    ("a return after progress: raises", returns_after_progress, (0.6,)),
    ("else and finally: completes", else_and_finally, (1.2,)),
    ("else and finally: raises", else_and_finally, (0.3,)),
    ("writes and appends, then a raise", writes_then_raises, (np.array([0.5, -0.7, 1.1]),)),
    ("writes and appends, completes", writes_then_raises, (np.array([0.5, 0.7, 1.1]),)),
    ("nested, the inner handler, then the outer one", nested, (0.2,)),
    ("nested, both complete", nested, (0.9,)),
    ("nested, the inner handler after progress", nested, (0.25,)),
]


@pytest.mark.parametrize("label, f, args", CASES, ids=[c[0] for c in CASES])
def test_against_central_differences_to_second_order(label, f, args):
    check_grads(f, args, order=2)
    grad = adgen.grad(f)(*args)
    assert adgen.grad(f, mode="forward")(*args) == pytest.approx(grad, rel=1e-12)


def test_the_replayed_steps_give_the_handlers_value():
    x = -1.5  # y = 2x, log(y) raises: z = y * x = 2x^2
    assert adgen.grad(two_steps)(x) == pytest.approx(4 * x, rel=1e-13)
    x = 0.6  # y = x^2, log(y - 1) raises: 3 x^2
    assert adgen.grad(returns_after_progress)(x) == pytest.approx(6 * x, rel=1e-13)


def test_each_step_sets_its_flag_and_the_reverse_sweep_tests_it():
    text = adgen.source(adgen.grad(two_steps))
    assert "_done1 = False" in text and "_done1 = True" in text
    assert "if _done1:" in text and "if _done2:" in text
    assert "_done1 = adgen_attempt()" not in text  # no step is done before it runs
    forward = adgen.source(adgen.grad(two_steps, mode="forward"))
    assert "_done" not in forward  # forward mode replays no step


def test_a_body_of_one_statement_needs_no_flag():
    def one(x):
        try:
            y = math.log(x) * x
        except ValueError:
            y = x * x
        return y

    text = adgen.source(adgen.grad(one))
    assert "_done" not in text and "if _ok1:" in text


def raises_in_a_branch(x, k):
    y = x
    try:
        if k:
            y = y * 2.0
            y = math.log(-y)
    except ValueError:
        y = y + x
    return y


def test_an_exception_inside_an_if_of_the_body_is_refused_in_reverse_mode():
    assert adgen.grad(raises_in_a_branch, mode="forward")(1.0, True) == pytest.approx(3.0)
    with pytest.raises(DifferentiationError, match="inside a loop, an `if`"):
        adgen.grad(raises_in_a_branch)(1.0, True)
    assert adgen.grad(raises_in_a_branch)(-1.0, True) == pytest.approx(1.0 / -1.0)


def errstate_loop(x):
    s = 0.0
    for k in range(3):
        with np.errstate(over="ignore"):
            s = s + np.sum(np.exp(x * k) * x)
    return s


UNROLLED = [(f, args) for _, f, args in CASES] + [(errstate_loop, (POSITIVE,))]


@pytest.mark.parametrize("f, args", UNROLLED, ids=[f"{f.__name__}-{i}" for i, (f, _) in
                                                   enumerate(UNROLLED)])
def test_trace_unrolling_follows_with_and_try(f, args):
    expected = adgen.grad(f)(*args)
    assert adgen.grad(f, control="unroll")(*args) == pytest.approx(expected, rel=1e-12)


def test_the_unrolled_trace_keeps_the_with_and_the_try():
    text = adgen.trace(errstate_loop, POSITIVE)
    assert text.count("if np.errstate(over='ignore'):") == 3 and "_range1[2]" in text
    text = adgen.trace(steps_in_a_loop, MIXED)
    assert "_range1[3]" in text and text.count("if _done1:") == 4


def test_a_jump_out_of_a_try_falls_back_to_stack_replay():
    with pytest.raises(DifferentiationError, match="leaves a `try` statement"):
        adgen.trace(returns_after_progress, 0.6)
    assert adgen.grad(returns_after_progress, control="unroll")(0.6) == pytest.approx(3.6)
