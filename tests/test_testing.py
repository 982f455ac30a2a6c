"""Tests of the gradient checker itself (`adgen.testing`).

The finite-difference helpers are checked against known derivatives and their orders of
accuracy (8.24 is first order, 8.25 second order). `check_grads` must pass on correct
functions and fail, with a readable report, when a derivative rule is deliberately wrong:
a wrong tangent and adjoint together, a wrong adjoint alone (caught by the dot-product test and
the forward-vs-reverse agreement), and a wrong second derivative under `order=2`.
"""

import math

import numpy as np
import pytest

from adgen.rules import adjoint, tangent
from adgen.testing import (
    central_difference,
    check_grads,
    forward_difference,
    numerical_jacobian,
    numerical_jvp,
)

# ---------------------------------------------------------------- finite differences


def wave(x):
    return math.exp(x) * math.sin(x)


def wave_prime(x):
    return math.exp(x) * (math.sin(x) + math.cos(x))


def _errors(scheme, steps, x=0.7):
    return [abs(numerical_jvp(wave, (x,), 0, 1.0, eps=h, scheme=scheme) - wave_prime(x))
            for h in steps]


def test_central_difference_is_second_order():
    errors = _errors("central", [1e-2, 5e-3, 2.5e-3])
    for coarse, fine in zip(errors, errors[1:], strict=False):
        assert coarse / fine == pytest.approx(4.0, rel=0.02)


def test_forward_difference_is_first_order():
    errors = _errors("forward", [1e-2, 5e-3, 2.5e-3])
    for coarse, fine in zip(errors, errors[1:], strict=False):
        assert coarse / fine == pytest.approx(2.0, rel=0.02)


def test_central_difference_beats_forward_difference():
    assert _errors("central", [1e-4])[0] < 1e-3 * _errors("forward", [1e-4])[0]


def test_numerical_jvp_of_scalar_function_is_a_float():
    d = numerical_jvp(wave, (0.7,), 0, 2.0)
    assert isinstance(d, float)
    assert d == pytest.approx(2.0 * wave_prime(0.7), rel=1e-9)


def field(x, y):
    return np.sin(x) * y + y**2


def test_numerical_jvp_with_several_arguments_by_index_and_name():
    x, y = np.array([0.1, 0.4]), np.array([1.5, -0.5])
    tx, ty = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    expected = np.cos(x) * tx * y + (np.sin(x) + 2 * y) * ty
    np.testing.assert_allclose(numerical_jvp(field, (x, y), (0, 1), (tx, ty)), expected,
                               rtol=1e-9)
    np.testing.assert_allclose(numerical_jvp(field, (x, y), ("x", "y"), (tx, ty)), expected,
                               rtol=1e-9)


def test_numerical_jacobian_shape_is_output_then_input():
    x, y = np.array([0.1, 0.4, 0.8]), np.array([1.5, -0.5, 2.0])
    jac = numerical_jacobian(field, (x, y), "x")
    assert jac.shape == (3, 3)
    np.testing.assert_allclose(jac, np.diag(np.cos(x) * y), atol=1e-9)
    jac = numerical_jacobian(lambda a: np.sum(a**2), (x,), 0)
    assert jac.shape == (3,)
    np.testing.assert_allclose(jac, 2 * x, rtol=1e-9)
    jac = numerical_jacobian(lambda t: np.array([t, t**2]), (3.0,), 0)
    np.testing.assert_allclose(jac, [1.0, 6.0], rtol=1e-9)


def test_difference_helpers_give_full_derivative_or_directional_derivative():
    x, y = np.array([0.1, 0.4]), np.array([1.5, -0.5])
    jx, jy = central_difference(field, (x, y), (0, 1))
    np.testing.assert_allclose(jx, np.diag(np.cos(x) * y), atol=1e-9)
    np.testing.assert_allclose(jy, np.diag(np.sin(x) + 2 * y), atol=1e-9)
    jx = forward_difference(field, (x, y), 0, eps=1e-7)
    np.testing.assert_allclose(jx, np.diag(np.cos(x) * y), atol=1e-6)
    d = central_difference(wave, (0.7,), 0, 1e-5, tangents=1.0)
    assert d == pytest.approx(wave_prime(0.7), rel=1e-9)


def test_float32_arguments_keep_their_dtype_when_perturbed():
    seen = []

    def spy(x):
        seen.append(x.dtype)
        return np.sum(x * x)

    x = np.array([0.5, 1.5], dtype=np.float32)
    d = numerical_jvp(spy, (x,), 0, np.ones(2, np.float32), eps=1e-2)
    assert seen == [np.float32, np.float32]
    assert d == pytest.approx(4.0, rel=1e-3)


def test_unknown_scheme_is_rejected():
    with pytest.raises(ValueError, match="scheme"):
        numerical_jvp(wave, (0.7,), 0, 1.0, scheme="backward")


# ---------------------------------------------------------------- check_grads on right functions


def sin_times(x):
    return math.sin(x) * x


def loss(w, x):
    return np.sum(np.tanh(w * x) ** 2) / 2.0


def wave_vector(x):
    return np.sin(x) * np.exp(0.5 * x)


def scaled(x, n):
    return x * n + x * x


def test_check_grads_passes_on_scalar_function():
    assert check_grads(sin_times, (0.7,)) is None


def test_check_grads_passes_on_array_arguments():
    check_grads(loss, (np.array([0.3, -0.2, 0.5]), np.array([1.0, 2.0, -1.0])))


def test_check_grads_passes_on_array_output():
    check_grads(wave_vector, (np.array([0.3, -0.2, 0.5]),))


def test_check_grads_passes_on_float32():
    x = np.array([0.3, -0.2, 0.5], dtype=np.float32)
    check_grads(loss, (x, x * 2), modes=("reverse",))
    check_grads(loss, (x, x * 2))


def test_check_grads_wrt_by_name_and_skips_non_float_arguments():
    check_grads(loss, (np.array([0.3, -0.2]), np.array([1.0, 2.0])), wrt="x")
    check_grads(loss, (np.array([0.3, -0.2]), np.array([1.0, 2.0])), wrt=("w", 1))
    check_grads(scaled, (1.3, 4))


def test_check_grads_rejects_bad_options():
    with pytest.raises(ValueError, match="modes"):
        check_grads(sin_times, (0.7,), modes=("sideways",))
    with pytest.raises(ValueError, match="order"):
        check_grads(sin_times, (0.7,), order=3)
    with pytest.raises(TypeError, match="not float"):
        check_grads(scaled, (1.3, 4), wrt=1)
    with pytest.raises(ValueError, match="no float"):
        check_grads(scaled, (1, 4))


def test_check_grads_second_order_passes_on_right_function():
    check_grads(sin_times, (0.7,), order=2)
    check_grads(loss, (np.array([0.3, -0.2]), np.array([1.0, 2.0])), order=2)


# ---------------------------------------------------------------- deliberately wrong rules


def cube(x):
    return x * x * x


@tangent(cube)
def cube_dot(y, x, *, x_dot):
    return x_dot * 2.0 * x * x  # wrong: the derivative of x**3 is 3 x**2


@adjoint(cube)
def cube_bar(y, x, *, y_bar):
    return y_bar * 2.0 * x * x  # wrong in the same way


def uses_cube(x):
    return cube(x) + x


def test_wrong_rule_is_caught():
    with pytest.raises(AssertionError) as info:
        check_grads(uses_cube, (1.3,))
    report = str(info.value)
    assert "check_grads(uses_cube) failed" in report
    assert "forward mode: jvp output tangent vs central difference: x (argument 0)" in report
    assert "reverse mode: <vjp gradient, v>" in report
    assert "max abs error" in report
    assert "dot-product test" not in report  # tangent and adjoint are wrong consistently


def test_wrong_rule_is_caught_in_each_mode_alone():
    for mode in ("forward", "reverse"):
        with pytest.raises(AssertionError, match=f"{mode} mode"):
            check_grads(uses_cube, (1.3,), modes=(mode,))


def test_wrong_rule_report_is_deterministic():
    reports = []
    for _ in range(2):
        with pytest.raises(AssertionError) as info:
            check_grads(uses_cube, (np.array([1.3, -0.4]),))
        reports.append(str(info.value))
    assert reports[0] == reports[1]


def quartic(x):
    return x * x * x * x


@tangent(quartic)
def quartic_dot(y, x, *, x_dot):
    return x_dot * 4.0 * x * x * x  # right


@adjoint(quartic)
def quartic_bar(y, x, *, y_bar):
    return y_bar * 4.0 * x * x + y_bar  # wrong: should be y_bar * 4 x**3


def uses_quartic(x):
    return quartic(x) * 0.5


def test_wrong_adjoint_alone_fails_dot_product_and_mode_agreement():
    with pytest.raises(AssertionError) as info:
        check_grads(uses_quartic, (1.3,))
    report = str(info.value)
    assert "dot-product test" in report
    assert "forward vs reverse" in report
    assert "forward mode: jvp" not in report  # the tangent rule is right
    check_grads(uses_quartic, (1.3,), modes=("forward",))


def bump_prime(x):
    return 3.0 * x * x


@tangent(bump_prime)
def bump_prime_dot(y, x, *, x_dot):
    return x_dot * 5.0 * x  # wrong: should be 6 x


@adjoint(bump_prime)
def bump_prime_bar(y, x, *, y_bar):
    return y_bar * 5.0 * x  # wrong in the same way


def bump(x):
    return x * x * x


@tangent(bump)
def bump_dot(y, x, *, x_dot):
    return x_dot * bump_prime(x)  # right at first order


@adjoint(bump)
def bump_bar(y, x, *, y_bar):
    return y_bar * bump_prime(x)


def uses_bump(x):
    return bump(x) + math.sin(x)


def test_wrong_second_derivative_passes_order_one_and_fails_order_two():
    check_grads(uses_bump, (1.3,))
    with pytest.raises(AssertionError) as info:
        check_grads(uses_bump, (1.3,), order=2)
    report = str(info.value)
    assert "second order: jvp(grad(f)) vs central difference of grad(f)" in report
    assert "Taylor test (second order)" in report
    assert "Taylor test (first order)" not in report
