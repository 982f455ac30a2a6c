"""Functions held in local names (issue 17, call forms 2): `g = rhs; g(x)`, `f = ACT[name]`,
`step = functools.partial(g, a=w)`, `act = np.tanh if k else relu` and the same chosen by an
`if`, called or passed on. Which function the name holds is resolved at run time and
recorded; each call is a branch over the functions it may hold. Every case is checked against
central differences in both modes and to second order, forward against reverse."""

from __future__ import annotations

import math

import numpy as np
import pytest

import adgen
from adgen.errors import DifferentiationError
from adgen.testing import check_grads
from tests.function_values_cases import logistic
from tests.local_functions_cases import (
    alias_of_parameter,
    alias_rebound,
    chosen_by_if,
    chosen_by_ifexp,
    mapped_local,
    parameter_or_global,
    parameter_passed_on,
    partial_in_loop,
    partial_keyword,
    partial_of_partial,
    partial_passed_on,
    partial_position,
    partial_stored,
    passed_on,
    relu,
    scalar_choice,
    table_in_loop,
    table_local,
)

X = np.array([0.3, -0.4, 0.8])
W = np.array([0.7, 0.2])

CASES = [
    ("alias of a parameter: ufunc", alias_of_parameter, (np.tanh, X), 1),
    ("alias of a parameter: user function", alias_of_parameter, (relu, X), 1),
    ("alias of a parameter: lambda", alias_of_parameter, (lambda z: z * z * z, X), 1),
    ("table entry in a local", table_local, (X, "softplus"), 0),
    ("table entry in a local: lambda", table_local, (X, "cube"), 0),
    ("partial made in the function: keyword", partial_keyword, (X, 1.5), (0, 1)),
    ("partial made in the function: position", partial_position, (X, W), (0, 1)),
    ("partial of a partial, keyword overridden", partial_of_partial, (X, 1.3), (0, 1)),
    ("a if c else b: first", chosen_by_ifexp, (X, True), 0),
    ("a if c else b: second", chosen_by_ifexp, (X, False), 0),
    ("chosen by if: first", chosen_by_if, (X, 1), 0),
    ("chosen by if: elif", chosen_by_if, (X, -1), 0),
    ("chosen by if: else, a table entry", chosen_by_if, (X, 0), 0),
    ("alias rebound: 0", alias_rebound, (X, 0), 0),
    ("alias rebound: 1", alias_rebound, (X, 1), 0),
    ("alias rebound: 2", alias_rebound, (X, 2), 0),
    ("table entries in a loop", table_in_loop, (X, ["tanh", "sin", "softplus", "tanh"]), 0),
    ("passed on: first", passed_on, (X, 0.7, True), (0, 1)),
    ("passed on: second", passed_on, (X, 0.7, False), (0, 1)),
    ("alias of a parameter passed on", parameter_passed_on, (logistic, X, 0.7), (1, 2)),
    ("map over a local", mapped_local, (X, True), 0),
    ("map over a local: other", mapped_local, (X, False), 0),
    ("math functions of floats", scalar_choice, (0.4, False), 0),
    ("a parameter or a global: parameter", parameter_or_global, (np.sin, X, True), 1),
    ("a parameter or a global: global", parameter_or_global, (np.sin, X, False), 1),
    ("a partial made in a loop", partial_in_loop, (X, 0.6), (0, 1)),
]


@pytest.mark.parametrize("label, f, args, wrt", CASES, ids=[c[0] for c in CASES])
def test_against_central_differences_to_second_order(label, f, args, wrt):
    check_grads(f, args, wrt=wrt, order=2)


def test_values_are_what_the_functions_give():
    assert adgen.grad(chosen_by_ifexp)(X, True) == pytest.approx(
        np.tanh(X) + X * (1 - np.tanh(X) ** 2), rel=1e-13)
    assert adgen.grad(chosen_by_ifexp)(X, False) == pytest.approx(
        np.where(X > 0, 2 * X, 0.0), rel=1e-13)
    a = 1.5  # scaled(x, a, b=0.5) = a sin x + b x^2
    assert adgen.grad(partial_keyword, wrt=1)(X, a) == pytest.approx(np.sum(np.sin(X)),
                                                                    rel=1e-13)
    g = adgen.grad(partial_position, wrt=1)(X, W)  # logistic(w[0], x): w[0] as it was
    assert g == pytest.approx([np.sum(X) * (1 - 2 * W[0]) + 3.0, 3.0], rel=1e-13)


def test_each_mode_and_operator_agree():
    args = (X, 0.7, False)
    grad = adgen.grad(passed_on, wrt=0)(*args)
    assert adgen.grad(passed_on, wrt=0, mode="forward")(*args) == pytest.approx(grad, rel=1e-12)
    assert adgen.grad(passed_on, wrt=0, control="unroll")(*args) == pytest.approx(
        grad, rel=1e-12)
    h = adgen.hessian(passed_on, wrt=0)(*args)
    for mode in ("forward", "reverse"):
        assert adgen.jacobian(adgen.grad(passed_on, wrt=0), wrt=0, mode=mode)(*args) == (
            pytest.approx(h, rel=1e-12, abs=1e-14))
    tangents = adgen.jvp(passed_on, wrt=0, batched=True)(*args, np.eye(3))[1]
    assert tangents == pytest.approx(grad, rel=1e-12)


def test_the_choice_is_recorded_and_each_call_is_a_branch():
    text = adgen.source(adgen.grad(chosen_by_ifexp))
    assert "_act_which = 0" in text and "_act_which = 1" in text
    assert "relu_bwd" in text and "tanh" in text
    text = adgen.source(adgen.grad(partial_keyword, wrt=(0, 1)))
    assert "functools" not in text  # no partial object: a call of its function
    assert "scaled_fwd" in text or "scaled_bwd" in text


def test_a_function_parameter_seen_through_an_alias_is_a_function_value():
    g = adgen.grad(alias_of_parameter, wrt=1)
    first, other = g(np.sin, X), g(np.cos, X)
    assert first == pytest.approx(np.sin(X) + X * np.cos(X), rel=1e-13)
    assert other == pytest.approx(np.cos(X) - X * np.sin(X), rel=1e-13)
    with pytest.raises(DifferentiationError, match="`rhs`, a function value"):
        adgen.grad(alias_of_parameter, wrt=0)


def test_a_partial_made_in_the_function_and_passed_on_is_refused():
    with pytest.raises(DifferentiationError, match="cannot tell which function this call") as info:
        adgen.grad(partial_passed_on)(X, 1.5)
    assert "local_functions_cases.py:111" in str(info.value)


def test_a_partial_made_in_the_function_and_stored_is_refused():
    with pytest.raises(DifferentiationError, match="cannot tell which function is called"):
        adgen.grad(partial_stored)(X, 1.5)


def test_math_choice_is_exact():
    t = 0.4
    assert adgen.grad(scalar_choice)(t, True) == pytest.approx(
        math.cos(t) * math.sin(2 * t) + 2 * math.sin(t) * math.cos(2 * t), rel=1e-13)


def test_the_general_trace_keeps_the_parameter_alias():
    assert "g = rhs" in adgen.trace(alias_of_parameter, np.sin, X)
