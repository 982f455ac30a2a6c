"""Regressions from a hunt for wrong derivatives in functions written the way users write them.

Each test is one class of defect that was found (an internal exception, a hang, a stale value
or a wrong number), checked against central differences or closed forms, and forward mode
against reverse mode.
"""

import math
import warnings

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads, numerical_jacobian

# ---------------------------------------------------------------- unroll of a jump out of try


def guarded_log(x):
    try:
        return x * x * x
    except ValueError:
        return 0.0


def quiet_log(x):
    for _ in range(2):
        try:
            y = np.log(x)
            break
        except ValueError:
            continue
    return np.sum(y * x)


@pytest.mark.parametrize("then", ["hessian", "grad_of_grad", "grad"])
def test_unroll_of_a_function_with_blocks_leaves_other_operators_working(then):
    """`control="unroll"` of a function whose `return` leaves a `try` is the stack-replay
    gradient itself; marking that shared derivative as standing for itself made the next
    `hessian` (or any operator reading it) loop forever."""
    adgen.clear_cache()
    assert adgen.grad(guarded_log, control="unroll")(0.7) == pytest.approx(3 * 0.7 ** 2)
    assert adgen.value_and_grad(guarded_log, control="unroll")(0.7) == pytest.approx(
        (0.7 ** 3, 3 * 0.7 ** 2))
    op = {"hessian": adgen.hessian(guarded_log),
          "grad_of_grad": adgen.grad(adgen.grad(guarded_log, control="unroll")),
          "grad": adgen.grad(guarded_log)}[then]
    expected = 3 * 0.7 ** 2 if then == "grad" else 6 * 0.7
    assert float(op(0.7)) == pytest.approx(expected)


def test_unroll_then_check_grads_order_two_with_a_break_out_of_try():
    adgen.clear_cache()
    x = np.array([0.5, 1.5, 2.0])
    adgen.grad(quiet_log, control="unroll")(x)
    check_grads(quiet_log, (x,), order=2)


# ---------------------------------------------------------------- batched meshgrid


def grid_xy(x, y):
    X, Y = np.meshgrid(x, y)
    return np.sum(X * Y ** 2)


def grid_ij(x, y):
    X, Y = np.meshgrid(x, y, indexing="ij")
    return np.sum(np.sin(X) * Y)


def grid_three(x, y, z):
    X, Y, Z = np.meshgrid(x, y, z)
    return np.sum(X * Y * Z ** 2)


@pytest.mark.parametrize("f,n", [(grid_xy, 2), (grid_ij, 2), (grid_three, 3)])
def test_forward_meshgrid_with_an_inactive_input(f, n):
    """Forward `grad` (batched tangents) gave an inactive input of `np.meshgrid` zeros shaped
    like the outputs: `ValueError: cannot reshape`."""
    rng = np.random.default_rng(0)
    args = tuple(rng.normal(size=k) for k in (3, 2, 4)[:n])
    for wrt in range(n):
        forward = adgen.grad(f, wrt=wrt, mode="forward")(*args)
        reverse = adgen.grad(f, wrt=wrt)(*args)
        np.testing.assert_allclose(forward, reverse, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(adgen.jacobian(f, wrt=wrt, mode="forward")(*args),
                                   numerical_jacobian(f, args, wrt), rtol=1e-6, atol=1e-8)
        check_grads(f, args, wrt=wrt, order=2)


# ---------------------------------------------------------------- np.prod at second order


def prod_sum(x):
    return np.prod(x) + np.prod(x[:2])


def prod_axes(X):
    return np.sum(np.prod(X, axis=0) ** 2) + np.sum(np.prod(X, axis=1, keepdims=True) * X)


def test_hessian_of_prod():
    """The second derivative reads `arrays.chunked_like` (a `getattr` inside): it was refused
    with "no derivative rule for getattr" at a line inside adgen before it had a rule."""
    x = np.array([1.0, 2.0, 3.0, 4.0])
    expected = np.array([[0.0, 13.0, 8.0, 6.0], [13.0, 0.0, 4.0, 3.0],
                         [8.0, 4.0, 0.0, 2.0], [6.0, 3.0, 2.0, 0.0]])
    np.testing.assert_allclose(adgen.hessian(prod_sum)(x), expected, rtol=1e-12)
    rng = np.random.default_rng(1)
    check_grads(prod_sum, (rng.normal(size=4),), order=2)
    check_grads(prod_axes, (rng.normal(size=(3, 2)),), order=2)


# ---------------------------------------------------------------- rebound default values


def scaled_square(x, k=2.0):
    return k * x ** 2


def calls_with_default(x):
    return scaled_square(x) + x


@pytest.fixture
def restore_defaults():
    saved = scaled_square.__defaults__
    yield
    scaled_square.__defaults__ = saved


def test_a_callee_default_rebound_rebuilds_every_derivative(restore_defaults):
    """The caller's derivative binds the callee's default value; rebinding `__defaults__`
    kept the old value in every mode (a wrong number, 2k x + 1 with the old k)."""
    adgen.clear_cache()
    held = [adgen.grad(calls_with_default), adgen.grad(calls_with_default, mode="forward"),
            adgen.hessian(calls_with_default)]
    assert [float(g(1.0)) for g in held] == pytest.approx([5.0, 5.0, 4.0])
    scaled_square.__defaults__ = (7.0,)
    assert calls_with_default(1.0) == 8.0
    assert adgen.grad(calls_with_default)(1.0) == pytest.approx(15.0)
    assert adgen.grad(calls_with_default, mode="forward")(1.0) == pytest.approx(15.0)
    assert held[0](1.0) == pytest.approx(15.0) and held[1](1.0) == pytest.approx(15.0)
    assert float(held[2](1.0)) == pytest.approx(14.0)
    assert adgen.jvp(calls_with_default)(1.0, 1.0) == pytest.approx((8.0, 15.0))


# ---------------------------------------------------------------- edges of asin, acos, atan2


def m_asin(x):
    return math.asin(x)


def m_acos(x):
    return math.acos(x)


def m_atan2(x):
    return math.atan2(x, 0.0)


def n_atan2(x):
    return np.arctan2(0.0, x)


@pytest.mark.parametrize("f,x,expected", [(m_asin, 1.0, math.inf), (m_acos, -1.0, -math.inf),
                                          (m_atan2, 0.0, math.nan), (n_atan2, 0.0, math.nan)])
def test_edge_values_divide_like_numpy(f, x, expected):
    """At the edges of their domain (asin, acos) or at the origin (atan2) these raised
    `ZeroDivisionError` from inside the derivative for Python floats, where `np.arcsin` gives
    `inf`; now both modes give NumPy's `inf` or `nan`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for g in (adgen.grad(f), adgen.grad(f, mode="forward")):
            got = float(g(x))
            assert (math.isnan(got) if math.isnan(expected) else got == expected)


@pytest.mark.parametrize("f,x", [(m_asin, 0.3), (m_acos, -0.4), (m_atan2, 0.5), (n_atan2, 0.5)])
def test_inside_the_edges_unchanged(f, x):
    check_grads(f, (x,), order=2)


# ---------------------------------------------------------------- check_grads of a tuple


def two_outputs(x):
    return x * 2.0, np.sum(x ** 2)


def test_check_grads_names_a_tuple_output():
    """A function returning a tuple failed inside the checker with NumPy's "Cannot construct
    a dtype from an array"; now the checker says what it checks."""
    with pytest.raises(TypeError, match="returns a tuple"):
        check_grads(two_outputs, (np.array([0.5, 1.5]),))
    J = adgen.jacobian(two_outputs, mode="reverse")(np.array([0.5, 1.5]))
    np.testing.assert_allclose(J[0], 2.0 * np.eye(2))
    np.testing.assert_allclose(J[1], [1.0, 3.0])


# ---------------------------------------------------------------- nonlocal in a nested def


def accumulates_nonlocal(x):
    total = 0.0

    def add(v):
        nonlocal total
        total += v

    add(x ** 2)
    return total


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_nonlocal_in_a_nested_function_is_refused_at_its_line(mode):
    """Lifting the nested function compiled it without its enclosing scope: Python's own
    `SyntaxError: no binding for nonlocal` escaped from inside adgen."""
    with pytest.raises(adgen.UnsupportedSyntax, match="nonlocal") as info:
        adgen.grad(accumulates_nonlocal, mode=mode)(0.7)
    assert info.value.lineno == accumulates_nonlocal.__code__.co_firstlineno + 4


# ---------------------------------------------------------------- unroll: fewer trips later


def sum_over_int_range(x):
    n = int(x)
    s = 0.0
    for i in range(n):
        s = s + x * i * i
    return s


def first_positive_run(x):
    s = 0.0
    for v in x:
        if v < 0:
            break
        s = s + v ** 2
    return s


def test_unrolled_gradient_called_with_fewer_loop_items():
    """The unrolled path read `_range1[2]` before its length guard: a later call with a
    shorter range raised `IndexError` from the generated code instead of re-specialising."""
    g = adgen.grad(sum_over_int_range, control="unroll")
    for x in (3.7, 0.4, 1.5, 5.2, 2.5, 3.7):
        n = int(x)
        assert g(x) == pytest.approx(sum(i * i for i in range(n)))
        assert adgen.grad(sum_over_int_range)(x) == pytest.approx(g(x))
    h = adgen.grad(first_positive_run, control="unroll")
    for x in ([0.5, 1.2, 0.3, 2.0], [0.5, 1.2], [0.5], [], [0.5, -1.0, 2.0], [0.5, 1.2, 0.3]):
        x = np.array(x)
        np.testing.assert_allclose(h(x), adgen.grad(first_positive_run, mode="forward")(x))
        np.testing.assert_allclose(h(x), numerical_jacobian(first_positive_run, (x,), 0),
                                   atol=1e-6)


# ---------------------------------------------------------------- float32 through float64 work


def scatter_into_float64(x):
    y = np.zeros(3)
    idx = [0, 2, 2, 1, 0]
    for k in range(5):
        y[idx[k]] += x[k] ** 2
    return np.sum(y ** 2)


def test_forward_grad_of_a_float32_argument_is_float32():
    """Forward `grad` returned the float64 of the work array for a float32 argument, where
    reverse mode (and `check_grads`' dtype check) give float32."""
    x = np.array([1.3, -0.35, 0.17, 0.85, 0.66], dtype=np.float32)
    forward = adgen.grad(scatter_into_float64, mode="forward")(x)
    reverse = adgen.grad(scatter_into_float64)(x)
    assert forward.dtype == reverse.dtype == np.float32
    np.testing.assert_allclose(forward, reverse, rtol=1e-6)
    check_grads(scatter_into_float64, (x,), order=2)
    check_grads(scatter_into_float64, (x.astype(np.float64),), order=2)


# ---------------------------------------------------------------- division by a tiny number


def quotient(a, b):
    return a / b


def reciprocal(b):
    return 1.0 / b


def test_division_adjoint_does_not_square_a_tiny_divisor():
    """The adjoint `-g * a / (b * b)` underflowed `b * b` to 0 for |b| < 1e-154: reverse mode
    raised ZeroDivisionError for Python floats where forward mode gave the derivative."""
    for mode in ("reverse", "forward"):
        assert adgen.grad(quotient, wrt=1, mode=mode)(1e-100, 1e-200) == pytest.approx(-1e300)
        assert adgen.grad(reciprocal, mode=mode)(1e-170) == -math.inf
    check_grads(quotient, (0.7, -1.3), order=2)
    check_grads(quotient, (np.array([0.7, 2.0]), np.array([-1.3, 0.4])))
