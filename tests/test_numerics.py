"""Numerics: nan and inf, integer and low-precision arguments, and arguments left untouched.

* nan and inf flow through a derivative the way IEEE arithmetic carries them through the
  derivative's formula: the gradient of `x*x` at nan is nan, of `np.exp(x)` where the value
  overflows to inf is inf; where the primal itself raises (`math.exp` overflow, `math.sin(inf)`,
  `1.0 / 0.0`) the derivative raises the same exception instead of returning a number.
* Integer arguments (Python ints, NumPy integers, integer arrays) give float gradients.
* float32 (and float16) arguments give gradients of the same dtype.
* A derivative never writes into the arrays passed to it, even when the function writes into
  its own argument (`a[0] = a[0] * 2`).

Every check runs in both modes of `grad`; cases the engine gets wrong are strict xfails.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adgen

NAN, INF = float("nan"), float("inf")
MODES = ("reverse", "forward")


def square(x):
    return x * x


def numpy_exp(x):
    return np.exp(x)


def math_exp(x):
    return math.exp(x)


def math_sin(x):
    return math.sin(x)


def numpy_sin(x):
    return np.sin(x)


def numpy_sqrt(x):
    return np.sqrt(x)


def numpy_log(x):
    return np.log(x)


def ratio(x, y):
    return x / y


def sum_of_squares(x):
    return np.sum(x * x)


def branch(x):
    if x > 0.0:
        return x * x
    return 3.0 * x


def repeated_square(x):
    for _ in range(3):
        x = x * x
    return x


def cubic(x):
    return 3 * x ** 3 + 2 * x


def tanh_sum(x):
    return np.sum(np.tanh(x))


def layer(w, v):
    return np.sum(np.tanh(w @ v))


def doubles_first(a):
    a[0] = a[0] * 2.0
    return np.sum(a * a)


def squares_in_place(a):
    for i in range(3):
        a[i] = a[i] * a[i]
    return np.sum(a)


def _grad(f: Callable[..., Any], mode: str, *args: Any, wrt: Any = 0) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow / divide warnings
        return adgen.grad(f, wrt=wrt, mode=mode)(*args)


def _same(got: Any, expected: Any) -> bool:
    """Equal, with nan equal to nan and infinities of the same sign equal."""
    return bool(np.array_equal(np.asarray(got, float), np.asarray(expected, float),
                               equal_nan=True))


# ---------------------------------------------------------------- nan and inf

SPECIAL = {
    "x*x at nan": (square, (NAN,), NAN),
    "x*x at inf": (square, (INF,), INF),
    "x*x at -inf": (square, (-INF,), -INF),
    "np.exp overflowing": (numpy_exp, (1000.0,), INF),
    "np.exp of -inf": (numpy_exp, (-INF,), 0.0),
    "np.sin at inf": (numpy_sin, (INF,), NAN),
    "np.sqrt at 0": (numpy_sqrt, (0.0,), INF),
    "np.sqrt at nan": (numpy_sqrt, (NAN,), NAN),
    "branch at nan takes the else branch": (branch, (NAN,), 3.0),
    "loop at nan": (repeated_square, (NAN,), NAN),
    "loop overflowing": (repeated_square, (1e120,), INF),
    "math.exp near overflow": (math_exp, (709.0,), math.exp(709.0)),
    "np.log at 0": (numpy_log, (0.0,), INF),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f, args, expected", SPECIAL.values(), ids=SPECIAL.keys())
def test_nan_and_inf_propagate(f: Any, args: tuple, expected: float, mode: str) -> None:
    got = _grad(f, mode, *args)
    assert _same(got, expected), f"grad {mode} of {f.__name__}{args} = {got!r}, not {expected}"


def test_primal_value_is_inf_where_the_gradient_is() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value, gradient = adgen.value_and_grad(numpy_exp)(1000.0)
    assert value == INF and gradient == INF


RAISING = {
    "math.exp overflow": (math_exp, (1000.0,), OverflowError),
    "math.sin at inf": (math_sin, (INF,), ValueError),
    "x / 0.0": (ratio, (1.0, 0.0), ZeroDivisionError),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f, args, error", RAISING.values(), ids=RAISING.keys())
def test_derivative_raises_where_the_primal_raises(f: Any, args: tuple, error: type,
                                                   mode: str) -> None:
    with pytest.raises(error):
        f(*args)
    with pytest.raises(error):
        _grad(f, mode, *args)


def test_nan_entry_stays_in_its_entry_in_reverse_mode() -> None:
    got = _grad(sum_of_squares, "reverse", np.array([1.0, NAN, 2.0]))
    assert _same(got, [2.0, NAN, 4.0])


def test_nan_entry_gradient_is_nan_in_forward_mode() -> None:
    """Forward mode pushes tangent 0 through the nan too (0 * nan = nan), so the other entries
    may be nan as well; the nan entry must be."""
    got = _grad(sum_of_squares, "forward", np.array([1.0, NAN, 2.0]))
    assert np.isnan(got[1])


def test_nan_and_inf_through_a_quotient_in_reverse_mode() -> None:
    assert _grad(ratio, "reverse", 1.0, INF, wrt=(0, 1)) == (0.0, 0.0)
    dx, dy = _grad(ratio, "reverse", NAN, 2.0, wrt=(0, 1))
    assert dx == 0.5 and math.isnan(dy)


def test_nan_numerator_makes_both_forward_mode_partials_nan() -> None:
    """The tangent of x / y is x_dot / y - y_dot * (x / y) / y: with y_dot = 0 and x = nan
    the second term is 0 * nan = nan, as in any forward-mode AD."""
    dx, dy = _grad(ratio, "forward", NAN, 2.0, wrt=(0, 1))
    assert math.isnan(dx) and math.isnan(dy)


# ---------------------------------------------------------------- integer arguments

INTEGER = {
    "x*x at 3": (square, (3,), 6.0),
    "3x^3 + 2x at 2": (cubic, (2,), 38.0),
    "branch at 3": (branch, (3,), 6.0),
    "loop at 2": (repeated_square, (2,), 1024.0),
    "x*x at np.int64(3)": (square, (np.int64(3),), 6.0),
    "x*x at True": (square, (True,), 2.0),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f, args, expected", INTEGER.values(), ids=INTEGER.keys())
def test_integer_argument_gives_float_gradient(f: Any, args: tuple, expected: float,
                                               mode: str) -> None:
    got = _grad(f, mode, *args)
    assert got == expected
    assert isinstance(got, (float, np.floating)), f"{type(got).__name__}: {got!r}"


def rounded_products(x: Any, y: Any) -> Any:
    return round(x) * y + int(y) * x + len([x, y]) * x


@pytest.mark.parametrize("mode", MODES)
def test_factors_that_are_ints_still_give_float_gradients(mode: str) -> None:
    """`int(y) * x`: the gradient for x is int(y) as a float (an adjoint seed of 1.0 times an
    int is not folded away)."""
    got = adgen.grad(rounded_products, wrt=(0, 1), mode=mode)(1.3, 2.6)
    assert got == (2.0 + 2.0, 1.0)  # int(y) + len([x, y]), round(x)
    assert all(isinstance(g, (float, np.floating)) for g in got), [type(g) for g in got]


@pytest.mark.parametrize("mode", MODES)
def test_integer_array_gives_float_array(mode: str) -> None:
    got = _grad(sum_of_squares, mode, np.array([1, 2, 3]))
    assert got.dtype == np.float64
    assert got.tolist() == [2.0, 4.0, 6.0]


def test_integer_arguments_to_jvp_vjp_and_hessian() -> None:
    value, tangent = adgen.jvp(square)(3, 1.0)
    assert (value, tangent) == (9, 6.0) and isinstance(tangent, float)
    value, gradient = adgen.vjp(square)(3, 1.0)
    assert (value, gradient) == (9, 6.0) and isinstance(gradient, float)
    assert adgen.hessian(cubic)(2) == pytest.approx(36.0)


# ---------------------------------------------------------------- low precision


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("f", [sum_of_squares, tanh_sum], ids=lambda f: f.__name__)
def test_low_precision_array_keeps_its_dtype(f: Any, dtype: Any, mode: str) -> None:
    x = np.array([0.5, -1.0, 2.0], dtype=dtype)
    got = _grad(f, mode, x)
    assert got.dtype == dtype
    expected = 2.0 * x if f is sum_of_squares else 1.0 - np.tanh(x) ** 2
    assert np.allclose(got, expected, rtol=1e-2 if dtype == np.float16 else 1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_float32_matmul_keeps_float32(mode: str) -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((2, 3)).astype(np.float32)
    v = rng.standard_normal(3).astype(np.float32)
    dw, dv = _grad(layer, mode, w, v, wrt=(0, 1))
    assert dw.dtype == np.float32 and dv.dtype == np.float32
    s = 1.0 - np.tanh(w.astype(float) @ v) ** 2
    assert np.allclose(dw, np.outer(s, v), rtol=1e-5)
    assert np.allclose(dv, s @ w, rtol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_float32_scalar_keeps_float32(mode: str) -> None:
    got = _grad(numpy_exp, mode, np.float32(2.0))
    assert isinstance(got, np.float32)
    assert got == pytest.approx(math.exp(2.0), rel=1e-6)


# ---------------------------------------------------------------- arguments untouched


def _keeps(op: Callable[[Any, np.ndarray], Any], f: Any) -> None:
    a = np.array([1.0, 2.0, 3.0])
    tangent, cotangent = np.ones(3), np.array(1.0)
    op(f, a, tangent, cotangent)
    assert a.tolist() == [1.0, 2.0, 3.0], f"the argument was changed to {a}"
    assert tangent.tolist() == [1.0, 1.0, 1.0] and cotangent == 1.0


OPERATORS = {
    "grad": lambda f, a, t, c: adgen.grad(f)(a),
    "grad-forward": lambda f, a, t, c: adgen.grad(f, mode="forward")(a),
    "value_and_grad": lambda f, a, t, c: adgen.value_and_grad(f)(a),
    "value_and_grad-forward": lambda f, a, t, c: adgen.value_and_grad(f, mode="forward")(a),
    "vjp": lambda f, a, t, c: adgen.vjp(f)(a, c),
    "hessian": lambda f, a, t, c: adgen.hessian(f)(a),
    "hvp": lambda f, a, t, c: adgen.hvp(f)(a, t),
}
MUTATING = {
    "jvp": lambda f, a, t, c: adgen.jvp(f)(a, t),
    "jacobian": lambda f, a, t, c: adgen.jacobian(f)(a),
    "jacobian-reverse": lambda f, a, t, c: adgen.jacobian(f, mode="reverse")(a),
}


@pytest.mark.parametrize("op", [
    *OPERATORS.values(),
    *MUTATING.values(),
], ids=[*OPERATORS, *MUTATING])
def test_derivative_leaves_an_argument_that_f_writes_into(op: Any) -> None:
    _keeps(op, doubles_first)


@pytest.mark.parametrize("op", [*OPERATORS.values(), *MUTATING.values()],
                         ids=[*OPERATORS, *MUTATING])
def test_derivative_leaves_arguments_of_a_pure_function(op: Any) -> None:
    _keeps(op, sum_of_squares)


@pytest.mark.parametrize("mode", MODES)
def test_loop_writing_into_the_argument_leaves_it_and_is_right(mode: str) -> None:
    a = np.array([1.0, 2.0, 3.0])
    assert _grad(squares_in_place, mode, a).tolist() == [2.0, 4.0, 6.0]
    assert a.tolist() == [1.0, 2.0, 3.0]
    assert _grad(doubles_first, mode, a).tolist() == [8.0, 4.0, 6.0]
    assert a.tolist() == [1.0, 2.0, 3.0]


def test_hessian_of_loop_writing_into_the_argument() -> None:
    a = np.array([1.0, 2.0, 3.0])
    assert np.array_equal(adgen.hessian(squares_in_place)(a), 2.0 * np.eye(3))
    assert a.tolist() == [1.0, 2.0, 3.0]


def copies_then_writes(x, y):
    w = y * 1.0
    w[0] = x
    return np.sum(w * w)


def test_jvp_leaves_the_tangent_of_an_argument_that_f_copies() -> None:
    y, tangent = np.array([1.0, 2.0, 3.0]), np.ones(3)
    value, derivative = adgen.jvp(copies_then_writes, wrt=1)(5.0, y, tangent)
    assert (value, derivative) == (38.0, 10.0)
    assert tangent.tolist() == [1.0, 1.0, 1.0] and y.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("mode", MODES)
def test_gradient_of_a_function_that_copies_then_writes(mode: str) -> None:
    y = np.array([1.0, 2.0, 3.0])
    dx, dy = _grad(copies_then_writes, mode, 5.0, y, wrt=(0, 1))
    assert dx == 10.0 and dy.tolist() == [0.0, 4.0, 6.0]
    assert y.tolist() == [1.0, 2.0, 3.0]
