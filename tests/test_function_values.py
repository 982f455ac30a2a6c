"""Functions as values (issue 17, call forms 2): a parameter the function calls, a module-level
dict or list of functions, `functools.partial`, lambdas, `map(f, xs)`. The derivative is
specialised to the function passed; every case is checked against central differences in
both modes, forward against reverse, and to second order (`check_grads(order=2)`)."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

import adgen
from adgen import pipeline
from adgen.errors import DifferentiationError
from adgen.testing import check_grads
from tests.function_values_cases import (
    ACT,
    CUBE,
    apply_scalar,
    apply_sum,
    by_position,
    cubic,
    decay,
    descend,
    global_partial,
    integrate,
    layer,
    layers,
    learn,
    listed,
    logistic,
    mapped,
    mapped_lambda,
    mapped_pairs,
    mapped_value,
    minimize_steps,
    nested_use,
    passes_on,
    quadratic,
    rk4,
    scaled,
    shifted,
    softplus,
    square,
    through_callee,
    via_lambdas,
    via_mixed,
)

X = np.array([0.3, -0.4, 0.8])
PAIR = np.array([0.3, 0.5])

CASES = [
    ("rk4 of a user function", rk4, (decay, X, 0.7), (1, 2)),
    ("rk4 of another", rk4, (logistic, X, 0.7), (1, 2)),
    ("a NumPy ufunc", apply_sum, (np.tanh, X), 1),
    ("a math function", apply_scalar, (math.sin, 0.4), 1),
    ("a module-level lambda", apply_sum, (CUBE, X), 1),
    ("a lambda written in the call", apply_sum, (lambda z: np.exp(-z) * z, X), 1),
    ("a partial binding a keyword", apply_sum, (functools.partial(scaled, a=3.0), X), 1),
    ("a partial binding a position", apply_sum, (functools.partial(shifted, 0.2), X), 1),
    ("a loss in an optimiser loop", minimize_steps, (quadratic, X), 1),
    ("a dict entry: user function", layer, (X, "softplus"), 0),
    ("a dict entry: lambda", layer, (X, "cube"), 0),
    ("a dict entry: ufunc", layer, (X, "tanh"), 0),
    ("dict entries in a loop", layers, (X, ["tanh", "cube", "sin", "softplus"]), 0),
    ("a list entry", by_position, (X, 1), 0),
    ("a list entry, negative index", by_position, (X, -1), 0),
    ("map of known functions", mapped, (PAIR,), 0),
    ("map of a function value", mapped_value, (np.tanh, PAIR), 1),
    ("map of a lambda", mapped_lambda, (PAIR, 1.5), (0, 1)),
    ("map over two iterables", mapped_pairs, (PAIR, np.array([1.0, 2.0])), (0, 1)),
    ("a callee given module-level functions", through_callee, (X, 0.7), (0, 1)),
    ("a function value passed on to a callee", passes_on, (np.sin, X), 1),
    ("a module-level partial", global_partial, (X,), 0),
    ("a function value left to its default", integrate, (X, 0.7), (0, 1)),
    ("a function value given for a default", integrate, (X, 0.7, logistic), (0, 1)),
    ("a function value called in a nested def", nested_use, (np.sin, X), 1),
    ("a derivative passed as the value", descend, (adgen.grad(quadratic), X), 1),
    ("the gradient of a function value inside", learn, (cubic, X), 1),
    ("a dict entry: partial", via_mixed, (0.4, "half"), 0),
    ("a dict entry: math", via_mixed, (0.4, "exp"), 0),
    ("a dict entry: lambda", via_mixed, (0.4, "sq"), 0),
    ("one of two lambdas on a line", via_lambdas, (0.4, 0), 0),
    ("the other lambda on the line", via_lambdas, (0.4, 1), 0),
    ("list(map(f, xs))", listed, (PAIR,), 0),
]


def makes_partial(x):
    h = functools.partial(scaled, a=2.0)
    return np.sum(h(x))


CASES.append(("a partial made in the function", makes_partial, (X,), 0))


@pytest.mark.parametrize("label, f, args, wrt", CASES, ids=[c[0] for c in CASES])
def test_against_central_differences_to_second_order(label, f, args, wrt):
    check_grads(f, args, wrt=wrt, order=2)


def test_values_are_what_the_functions_give():
    assert adgen.grad(apply_sum, wrt=1)(np.tanh, X) == pytest.approx(
        np.tanh(X) + X * (1 - np.tanh(X) ** 2), rel=1e-13)
    assert adgen.grad(apply_sum, wrt=1)(functools.partial(scaled, a=3.0), X) == pytest.approx(
        3.0 * np.sin(X) + 0.5 * X * X + X * (3.0 * np.cos(X) + X), rel=1e-13)
    assert adgen.grad(layer)(X, "tanh") == pytest.approx(
        2 * np.tanh(X) * (1 - np.tanh(X) ** 2), rel=1e-13)
    assert adgen.grad(mapped)(PAIR) == pytest.approx(np.cos(PAIR) + 2 * PAIR, rel=1e-13)


def test_each_call_dispatches_on_the_object_it_passes():
    g = adgen.grad(rk4, wrt=1)
    first = g(decay, X, 0.7)
    other = g(logistic, X, 0.7)
    assert not np.allclose(first, other)
    assert g(decay, X, 0.7) == pytest.approx(first, rel=0, abs=0)
    assert g(rhs=logistic, y0=X, p=0.7) == pytest.approx(other, rel=0, abs=0)
    for rhs in (decay, logistic):  # each against the derivative of a function of its own
        def fixed(y0, rhs=rhs):
            return rk4(rhs, y0, 0.7)
        assert g(rhs, X, 0.7) == pytest.approx(adgen.grad(fixed)(X), rel=1e-13)


def test_partials_of_one_function_share_a_specialisation():
    adgen.clear_cache()
    g = adgen.grad(apply_sum, wrt=1)
    for a in (1.0, 2.0, 3.0):  # the bound values are read at run time, not built in
        assert g(functools.partial(scaled, a=a), X) == pytest.approx(
            a * np.sin(X) + 0.5 * X * X + X * (a * np.cos(X) + X), rel=1e-13)
    for _ in range(3):  # a lambda made again with the same code and closure values
        g(lambda z: z * z, X)
    assert len(pipeline.PROGRAM._specialised[apply_sum]) == 2


def test_forward_and_reverse_agree_and_second_order_operators():
    y0 = X
    grad = adgen.grad(rk4, wrt=1)(decay, y0, 0.7)
    value, tangent = adgen.jvp(rk4, wrt=1)(decay, y0, 0.7, np.ones(3))
    assert tangent == pytest.approx(np.sum(grad), rel=1e-12)
    assert adgen.vjp(rk4, wrt=1)(decay, y0, 0.7, 1.0)[1] == pytest.approx(grad, rel=1e-12)
    assert adgen.grad(rk4, wrt=1, mode="forward")(decay, y0, 0.7) == pytest.approx(
        grad, rel=1e-12)
    assert adgen.grad(rk4, wrt=1, control="unroll")(decay, y0, 0.7) == pytest.approx(
        grad, rel=1e-12)
    h = adgen.hessian(rk4, wrt=1)(decay, y0, 0.7)
    assert adgen.hvp(rk4, wrt=1)(decay, y0, 0.7, np.ones(3)) == pytest.approx(
        h @ np.ones(3), rel=1e-12)
    composed = adgen.jacobian(adgen.grad(rk4, wrt=1), wrt=1)(decay, y0, 0.7)
    assert composed == pytest.approx(h, rel=1e-12)


SECOND_ORDER = [
    ("rk4", rk4, (decay, X, 0.7), 1),
    ("table", layer, (X, "softplus"), 0),
    ("partial", apply_sum, (functools.partial(scaled, a=3.0), X), 1),
    ("map", mapped_value, (np.tanh, X), 1),
]


@pytest.mark.parametrize("label, f, args, wrt", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_reverse_over_reverse_and_batched_forward_agree(label, f, args, wrt):
    h = adgen.hessian(f, wrt=wrt)(*args)
    for mode in ("forward", "reverse"):
        assert adgen.jacobian(adgen.grad(f, wrt=wrt), wrt=wrt, mode=mode)(*args) == (
            pytest.approx(h, rel=1e-12, abs=1e-14))
    grad = adgen.grad(f, wrt=wrt)(*args)
    tangents = adgen.jvp(f, wrt=wrt, batched=True)(*args, np.eye(3))[1]
    assert tangents == pytest.approx(grad, rel=1e-12)


def duplicates(z, i):
    return np.sum(TWICE[i](z))


TWICE = (np.sin, square, np.sin)


def test_a_function_held_twice_in_a_table_is_one_branch():
    for i in (0, 1, 2, -1, -3):
        check_grads(duplicates, (X, i), wrt=0, order=2)
    text = adgen.source(adgen.grad(duplicates))
    assert text.count("np.cos(z)") == text.count("def ")  # once per generated variant


def test_operators_find_the_function_values_among_their_arguments():
    h = adgen.hessian(rk4, wrt=1)(decay, X, 0.7)
    v = np.array([1.0, -2.0, 0.5])
    assert adgen.hessp(rk4, wrt=1)(X, v, decay, 0.7) == pytest.approx(h @ v, rel=1e-12)
    assert adgen.hessp(integrate, wrt=0)(X, v, 0.7) == pytest.approx(h @ v, rel=1e-12)
    assert adgen.hvp(integrate, wrt=0)(X, 0.7, v) == pytest.approx(h @ v, rel=1e-12)
    grad = adgen.grad(integrate)(X, 0.7)
    assert adgen.vjp(integrate)(X, 0.7, 1.0)[1] == pytest.approx(grad, rel=1e-12)
    assert adgen.jvp(integrate)(X, 0.7, v)[1] == pytest.approx(grad @ v, rel=1e-12)
    assert adgen.jacobian(integrate)(X, 0.7) == pytest.approx(grad, rel=1e-12)


def test_source_shows_the_last_specialisation():
    g = adgen.grad(rk4, wrt=1)
    with pytest.raises(DifferentiationError, match="call it once"):
        adgen.source(g)
    g(logistic, X, 0.7)
    assert "logistic_bwd" in adgen.source(g)
    g(decay, X, 0.7)
    assert "decay_bwd" in adgen.source(g)


def test_a_table_is_a_branch_over_its_entries():
    text = adgen.source(adgen.grad(layer))
    assert "table_entry(ACT, name, ACT_entries)" in text
    assert "softplus_bwd" in text


def test_a_changed_table_is_refused_then_rebuilt():
    g = adgen.grad(layer)
    g(X, "cube")
    ACT["cube"] = np.exp
    try:
        with pytest.raises(DifferentiationError, match="did not hold"):
            g(X, "cube")
        assert adgen.grad(layer)(X, "cube") == pytest.approx(2 * np.exp(2 * X), rel=1e-13)
    finally:
        ACT["cube"] = CUBE
    assert adgen.grad(layer)(X, "cube") == pytest.approx(6 * X ** 5, rel=1e-13)


def test_a_missing_key_raises_what_python_raises():
    with pytest.raises(KeyError):
        adgen.grad(layer)(X, "relu")
    with pytest.raises(IndexError):
        adgen.grad(by_position)(X, 7)


def test_a_function_value_in_wrt_is_refused():
    with pytest.raises(DifferentiationError, match="`rhs`, a function value of rk4"):
        adgen.grad(rk4)(decay, X, 0.7)
    with pytest.raises(DifferentiationError, match="`rhs`, a function value"):
        adgen.jvp(rk4, wrt=("rhs", "p"))


def test_a_value_that_is_not_a_function_is_refused():
    with pytest.raises(DifferentiationError, match="not a function"):
        adgen.grad(rk4, wrt=1)(3.0, X, 0.7)


def differentiated_partial(x):
    return apply_sum(functools.partial(scaled, a=x[0]), x)


def chosen_inside(x, name):
    return apply_sum(ACT[name], x)


def writes(v):
    v[0] = 2.0 * v[0]
    return v


def calls_writer(f, x):
    y = x * 1.0
    f(y)
    return np.sum(y)


def mapped_defaults(xs):
    return sum(map(lambda v, w=2.0: v * w, xs))


@pytest.mark.parametrize("f, args, message", [
    (differentiated_partial, (X,), "cannot tell which function this call passes"),
    (chosen_inside, (X, "tanh"), "cannot tell which function this call passes"),
    (mapped_defaults, (PAIR,), "lambda in `map`"),
], ids=["partial of a differentiated value", "table entry passed on",
        "lambda with defaults in map"])
def test_function_values_made_inside_are_refused(f, args, message):
    with pytest.raises((DifferentiationError, SyntaxError), match=message) as info:
        adgen.grad(f)(*args)
    assert "test_function_values.py" in str(info.value) or getattr(
        info.value, "filename", "").endswith("test_function_values.py")


def test_a_function_value_writing_into_its_argument_is_refused():
    with pytest.raises(SyntaxError, match="writes into its arguments"):
        adgen.grad(calls_writer, wrt=1)(writes, X)


def test_softplus_entry_is_the_users_function():
    assert ACT["softplus"] is softplus


class Doubler:
    def __call__(self, z):
        return 2.0 * z


def test_a_callable_object_is_refused_by_its_class():
    with pytest.raises(DifferentiationError, match="an object of class .*Doubler"):
        adgen.grad(apply_sum, wrt=1)(Doubler(), X)
