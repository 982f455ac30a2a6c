"""Issue 14, rules side: derivatives that came out silently wrong (constants that are not, casts
that pass or cut the derivative wrongly, edge values) or as internal errors.

Table-driven: each record is one function and its arguments, run through `check_grads` (central
differences, forward vs reverse, the dot-product test; `order=2` adds forward-over-reverse
second derivatives). Edge values, where finite differences straddle a kink or leave the
domain, are checked against explicit expected values in both modes.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads

W = np.array([[0.3, -1.2, 0.5], [1.1, 0.4, -0.7]])
V4 = np.array([0.3, -0.7, 1.1, 0.5])


@dataclass
class Case:
    f: Any
    args: tuple
    order: int = 1

    def __str__(self) -> str:
        return self.f.__name__


# ---------------------------------------------------------------- grids


def linspace_basic(a, b):
    return np.sum(np.sin(np.linspace(a, b, 5)) * np.arange(5.0))


def linspace_weighted(a, b):
    return np.sum(np.linspace(a, b, 5) * np.arange(5.0))


def linspace_open(a, b):
    return np.sum(np.linspace(start=a, stop=b, num=6, endpoint=False) ** 3)


def linspace_retstep(a, b):
    samples, step = np.linspace(a, b, 4, retstep=True)
    return np.sum(samples ** 2) + step * 3.0


def linspace_step_only(a, b):
    _, step = np.linspace(a, b, 4, endpoint=False, retstep=True)
    return step * step


def linspace_arrays_axis(a, b):
    return np.sum(np.linspace(a, b, 3, axis=1) ** 2 * 1.5)


def linspace_start_array(a):
    return np.sum(np.cos(np.linspace(a, 2.0, 4)))


def linspace_single(a, b):
    return np.sum(np.linspace(a, b, 1) ** 2)


def linspace_int(a, b):
    return np.sum(np.linspace(a, b, 5, dtype=int) * a)


def arange_start_step(x0, h):
    return np.sum(np.sin(np.arange(x0, 2.0, h)))


def arange_start(x0):
    return np.sum(np.arange(x0, 4.0) ** 2)


def arange_stop_only(s):
    return np.sum(np.arange(s) * s)


def arange_step_keyword(h):
    return np.sum(np.exp(np.arange(0.0, 1.0, step=h)))


def arange_int(x0):
    return np.sum(np.arange(x0, 3.5, 0.5, dtype=int) * x0)


GRIDS = [
    Case(linspace_basic, (0.3, 1.7), 2),
    Case(linspace_open, (0.3, 1.7), 2),
    Case(linspace_retstep, (0.3, 1.7), 2),
    Case(linspace_step_only, (0.3, 1.7), 2),
    Case(linspace_arrays_axis, (np.array([0.1, 0.5]), np.array([1.0, -2.0])), 2),
    Case(linspace_start_array, (np.array([0.2, 0.7]),), 2),
    Case(linspace_single, (0.3, 1.7), 2),
    Case(linspace_int, (0.3, 4.7)),
    Case(arange_start_step, (0.1, 0.3), 2),
    Case(arange_start, (0.2,), 2),
    Case(arange_stop_only, (3.5,), 2),
    Case(arange_step_keyword, (0.23,), 2),
    Case(arange_int, (0.3,)),
]


# ---------------------------------------------------------------- einsum, sublist form

M2 = np.arange(4.0).reshape(2, 2)
A2 = np.array([[1.0, 2.0], [3.0, 4.0]]) * 0.3
B23 = np.arange(6.0).reshape(2, 3) * 0.2 - 0.3


def einsum_sublist_transpose(a):
    return np.sum(np.einsum(a, [0, 1], [1, 0]) * M2)


def einsum_sublist_matmul(a, b):
    return np.sum(np.einsum(a, [0, 1], b, [1, 2], [0, 2]) ** 2)


def einsum_sublist_implicit(a, b):
    return np.sum(np.einsum(a, [0, 1], b, [1, 2]) ** 2)


def einsum_sublist_trace(a):
    return np.einsum(a, [0, 0]) * np.einsum(a, [1, 1])


def einsum_sublist_ellipsis(a, b):
    return np.sum(np.einsum(a, [Ellipsis, 0], b, [0], [Ellipsis]) ** 2)


def einsum_string_three(a, b, c):
    return np.sum(np.einsum("ij,jk,k->i", a, b, c) ** 2)


EINSUM = [
    Case(einsum_sublist_transpose, (A2,), 2),
    Case(einsum_sublist_matmul, (A2, B23), 2),
    Case(einsum_sublist_implicit, (A2, B23), 2),
    Case(einsum_sublist_trace, (A2,), 2),
    Case(einsum_sublist_ellipsis, (B23.T, np.array([0.3, -0.2])), 2),
    Case(einsum_string_three, (A2, B23, np.array([0.1, 0.2, 0.3])), 2),
]


# ---------------------------------------------------------------- np.r_, np.c_

V3 = np.array([0.3, -0.7, 1.1])


def r_two_arrays(x):
    return np.sum(np.r_[x, x * 2.0] ** 2 * np.arange(6.0))


def r_slices_and_numbers(x, s):
    return np.sum(np.r_[0:3, x, s, 4.0] ** 2 * np.arange(8.0))


def r_directive(x):
    return np.sum(np.r_["0,2", x, x ** 2] * np.arange(6.0).reshape(2, 3))


def r_complex_step(x):
    return np.sum(np.r_[x, 0:1:5j] ** 2)


def c_columns(x):
    return np.sum(np.c_[x, np.sin(x)] ** 2 * np.arange(6.0).reshape(3, 2))


def c_matrix_and_column(x):
    return np.sum(np.c_[np.outer(x, x), x] * np.arange(12.0).reshape(3, 4))


JOINS = [
    Case(r_two_arrays, (V3,), 2),
    Case(r_slices_and_numbers, (V3, 0.4), 2),
    Case(r_directive, (V3,), 2),
    Case(r_complex_step, (V3,), 2),
    Case(c_columns, (V3,), 2),
    Case(c_matrix_and_column, (V3,), 2),
]


# ---------------------------------------------------------------- casts


def astype_int64(x):
    return np.sum(x.astype(np.int64) * x)


def astype_int(x):
    return np.sum(x.astype(int) * x)


def astype_bool(x):
    return np.sum(x.astype(bool) * x)


def astype_float32(x):
    return np.sum(x.astype(np.float32) ** 2)


def astype_float(x):
    return np.sum(x.astype(float) ** 2)


def asarray_int(x):
    return np.sum(np.asarray(x, dtype=int) * x)


def asarray_float(x):
    return np.sum(np.asarray(x, dtype=float) ** 2)


def array_int(x):
    return np.sum(np.array(x, dtype=int) * x)


def array_bool(x):
    return np.sum(np.array(x, dtype=bool) * x)


def int64_scalar(x):
    return np.int64(x) * x


def array_of_float(x):
    return np.sum(np.array(x) ** 2)


CASTS = [
    Case(astype_int64, (V4 * 2.1,), 2),
    Case(astype_int, (V4 * 2.1,)),
    Case(astype_bool, (V4,)),
    Case(astype_float32, (V4,)),
    Case(astype_float, (V4,), 2),
    Case(asarray_int, (V4 * 2.1,), 2),
    Case(asarray_float, (V4,), 2),
    Case(array_int, (V4 * 2.1,)),
    Case(array_bool, (V4,)),
    Case(int64_scalar, (2.3,), 2),
    Case(array_of_float, (1.5,), 2),
]


# ---------------------------------------------------------------- abs of an array element


def abs_of_elements(x):
    return abs(x[1]) + np.abs(x[0]) + math.fabs(x[2]) * x[3]


ELEMENTS = [Case(abs_of_elements, (V4,), 2)]


# ---------------------------------------------------------------- powers, std, hypot


def pow_operator(x, y):
    return x ** y


def pow_numpy(x, y):
    return np.sum(np.power(x, y) * np.array([1.0, -2.0, 0.5]))


def pow_math(x, y):
    return math.pow(x, y) + math.pow(x, 3.0)


def pow_square(x):
    return np.sum(x ** 2)


def pow_base_constant(y):
    return 2.0 ** y + np.sum(np.power(3.0, np.array([y, 2.0 * y])))


def pow_root(x):
    return np.sum(x ** 0.5)


def std_axis(x):
    return np.sum(np.std(x, axis=0) * np.array([1.0, -2.0, 0.5]))


def hypot_both(x, y):
    return math.hypot(x, y) + np.sum(np.hypot(x, np.array([y, 2.0])))


POWERS = [
    Case(pow_operator, (1.3, 0.7), 2),
    Case(pow_numpy, (np.array([0.5, 1.5, 2.0]), np.array([2.0, 0.3, -1.5])), 2),
    Case(pow_math, (1.3, 0.7), 2),
    Case(pow_square, (V4,), 2),
    Case(pow_base_constant, (0.7,), 2),
    Case(pow_root, (np.array([0.5, 1.5, 2.0]),), 2),
    Case(std_axis, (W,), 2),
    Case(hypot_both, (0.3, -0.4), 2),
]


@pytest.mark.parametrize("case", GRIDS + EINSUM + JOINS + CASTS + ELEMENTS + POWERS, ids=str)
def test_derivatives_match_differences(case):
    check_grads(case.f, case.args, order=case.order)


# ---------------------------------------------------------------- explicit values


def einsum_sublist_many(a, b, c):
    axes = [0, 1]  # not a constant display: the sublists are not spelled as a string
    return np.sum(np.einsum(a, axes, b, [1, 2], c, [2], [0]))


def test_einsum_with_more_operands_than_the_rule_takes_is_refused():
    # (constant sublists of any number of operands are differentiated: test_python_forms.py)
    with pytest.raises(adgen.DifferentiationError, match="einsum"):
        adgen.grad(einsum_sublist_many)(A2, B23, np.ones(3))


def zero_power(x):
    return x ** 0.0


def zero_power_numpy(x):
    return np.sum(np.power(x, 0.0))


def zero_power_math(x):
    return math.pow(x, 0.0)


def power_of_zero(y):
    return 0.0 ** y


def power_of_zero_numpy(y):
    return np.sum(np.power(0.0, y))


def power_of_zero_math(y):
    return math.pow(0.0, y)


def std_length_one(x):
    return np.sum(np.std(x, axis=0))


def std_constant_row(x):
    return np.sum(np.std(x, axis=1) * np.array([1.0, 2.0]))


def hypot_origin(x, y):
    return math.hypot(x, y) + np.hypot(x, y)


def norm_origin(x):
    return np.linalg.norm(x)


def sqrt_of_square(x):
    return math.sqrt(x * x) + np.sqrt(x * x)


EDGES = [
    (zero_power, (0.0,), 0, 0.0),
    (zero_power_numpy, (np.zeros(3),), 0, np.zeros(3)),
    (zero_power_math, (0.0,), 0, 0.0),
    (power_of_zero, (1.5,), 0, 0.0),
    (power_of_zero_numpy, (np.array([0.5, 2.0]),), 0, np.zeros(2)),
    (power_of_zero_math, (1.5,), 0, 0.0),
    (std_length_one, (np.array([[0.3, 0.4]]),), 0, np.zeros((1, 2))),
    (std_constant_row, (np.array([[1.0, 1.0], [2.0, 3.0]]),), 0,
     np.array([[0.0, 0.0], [-1.0, 1.0]])),
    (hypot_origin, (0.0, 0.0), (0, 1), (0.0, 0.0)),
    (norm_origin, (np.zeros(3),), 0, np.zeros(3)),
]


@pytest.mark.parametrize("f, args, wrt, expected", EDGES,
                         ids=lambda v: getattr(v, "__name__", ""))
def test_edge_values_take_the_expected_limit(f, args, wrt, expected):
    for got in _both_modes(f, *args, wrt=wrt):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("f", [zero_power, zero_power_math, power_of_zero, power_of_zero_math])
def test_edge_values_at_second_order(f):
    x = 0.0 if "zero_power" in f.__name__ else 1.5
    assert adgen.hessian(f)(x) == 0.0


def test_root_at_zero_is_infinite_not_an_error():
    assert adgen.grad(pow_root)(np.zeros(2)).tolist() == [np.inf, np.inf]
    with np.errstate(divide="ignore"):
        assert adgen.grad(pow_root, mode="forward")(np.zeros(2)).tolist() == [np.inf, np.inf]


def test_sqrt_of_a_square_at_zero_is_nan_in_both_modes():
    # the derivative of |x| does not exist at 0; abs, hypot and norm take 0 there
    with np.errstate(divide="ignore", invalid="ignore"):
        for got in _both_modes(sqrt_of_square, 0.0):
            assert math.isnan(got)


# ---------------------------------------------------------------- complex values are refused

Z = np.array([1.0 + 1.0j, 2.0 - 1.0j])


def complex_abs(z):
    return np.sum(np.abs(z))


def complex_abs_builtin(z):
    return abs(z)


def complex_var(z):
    return np.var(z)


def complex_std(z):
    return np.sum(np.std(z, axis=0))


def complex_norm(z):
    return np.linalg.norm(z)


def complex_max(z):
    return np.sum(np.abs(np.max(z)))


def complex_valued(z):
    return np.sum(z * z)


COMPLEX = [(complex_abs, Z), (complex_abs_builtin, 1.0 + 2.0j), (complex_var, Z),
           (complex_std, Z), (complex_norm, Z), (complex_max, Z)]

OPERATORS = {
    "grad": lambda f, z: adgen.grad(f)(z),
    "grad forward": lambda f, z: adgen.grad(f, mode="forward")(z),
    "jvp": lambda f, z: adgen.jvp(f)(z, np.ones_like(z)),
    "vjp": lambda f, z: adgen.vjp(f)(z, 1.0),
}


@pytest.mark.parametrize("op", OPERATORS)
@pytest.mark.parametrize("f, z", COMPLEX, ids=lambda v: getattr(v, "__name__", ""))
def test_complex_values_are_refused(f, z, op):
    with pytest.raises(adgen.DifferentiationError, match="complex inputs are not supported"):
        OPERATORS[op](f, z)


@pytest.mark.parametrize("op", ["grad", "grad forward"])
def test_gradient_of_a_complex_valued_function_is_refused(op):
    with pytest.raises(adgen.DifferentiationError, match="complex inputs are not supported"):
        OPERATORS[op](complex_valued, Z)


def grid_of_varied_bound(a):
    return np.sum(np.mgrid[a:2.0:5j])


def range_of_varied_bound(a):
    return np.sum(np.r_[a:3.0])


def open_grid_of_varied_bound(a):
    return np.sum(np.ogrid[0.0:a:4j])


def grid_of_constant_bounds(a):
    return np.sum(np.mgrid[0:2.0:5j, 0:1:3j][0] * a)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("f", [grid_of_varied_bound, range_of_varied_bound,
                               open_grid_of_varied_bound])
def test_index_grids_with_varied_bounds_are_refused(f, mode):
    with pytest.raises(adgen.DifferentiationError, match="slice"):
        adgen.grad(f, mode=mode)(0.3)


def test_index_grid_with_constant_bounds_is_a_constant():
    assert _both_modes(grid_of_constant_bounds, 0.3) == [15.0, 15.0]


def _both_modes(f, *args, wrt=0):
    return [adgen.grad(f, wrt=wrt, mode=mode)(*args) for mode in ("forward", "reverse")]


EXPLICIT = [
    # linspace(a, b, 5)[i] = (1 - i/4) a + (i/4) b, weighted by i: sums 10 - 30/4 and 30/4
    (linspace_weighted, (0.3, 1.7), (0, 1), (2.5, 7.5)),
    (linspace_single, (0.3, 1.7), (0, 1), (0.6, 0.0)),
    (arange_start, (0.2,), 0, 2.0 * (0.2 + 1.2 + 2.2 + 3.2)),
    (arange_stop_only, (3.5,), 0, 6.0),
    (astype_int, (V4 * 2.1,), 0, np.trunc(V4 * 2.1)),
    (int64_scalar, (2.3,), 0, 2.0),
    (array_of_float, (1.5,), 0, 3.0),
    (abs_of_elements, (V4,), 0, np.array([1.0, -1.0, 0.5, 1.1])),
    (einsum_sublist_transpose, (A2,), 0, M2.T),
    (r_two_arrays, (V3,), 0, 2.0 * V3 * np.arange(3.0) + 8.0 * V3 * np.arange(3.0, 6.0)),
    (r_slices_and_numbers, (V3, 0.4), 1, 2.0 * 0.4 * 6.0),
]


@pytest.mark.parametrize("f, args, wrt, expected", EXPLICIT,
                         ids=lambda v: getattr(v, "__name__", ""))
def test_explicit_values(f, args, wrt, expected):
    for got in _both_modes(f, *args, wrt=wrt):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def holomorphic(z):
    return z * z * np.exp(z) + z / (2.0 + z ** 2) + np.sin(z)


def holomorphic_derivative(z):
    return (2.0 * z + z * z) * np.exp(z) + (2.0 - z ** 2) / (2.0 + z ** 2) ** 2 + np.cos(z)


def real_part(z):
    return np.sum(z.real)


def phase(z):
    return np.sum(np.angle(z))


def test_holomorphic_code_has_the_complex_linear_derivative():
    """The documented convention (README, "Complex numbers"): `jvp` gives f'(z) v, `vjp`
    gives u f'(z) without conjugation, as JAX does; both agree with central differences
    along a complex direction and with each other by the bilinear dot-product test."""
    z = np.array([0.3 + 0.4j, -0.5 + 0.2j, 1.1 - 0.7j])
    v = np.array([1.0 - 0.5j, 0.2 + 1.0j, -0.3 + 0.1j])
    u = np.array([0.7 + 0.2j, -1.0 + 0.3j, 0.4 - 0.9j])
    value, tangent = adgen.jvp(holomorphic)(z, v)
    np.testing.assert_allclose(value, holomorphic(z), rtol=1e-14)
    np.testing.assert_allclose(tangent, holomorphic_derivative(z) * v, rtol=1e-12)
    h = 1e-6
    central = (holomorphic(z + h * v) - holomorphic(z - h * v)) / (2 * h)
    np.testing.assert_allclose(tangent, central, rtol=1e-8)
    _, cotangent = adgen.vjp(holomorphic)(z, u)
    np.testing.assert_allclose(cotangent, u * holomorphic_derivative(z), rtol=1e-12)
    assert np.sum(u * tangent) == pytest.approx(np.sum(cotangent * v), rel=1e-12)
    _, square = adgen.vjp(complex_valued)(z, 1.0)
    np.testing.assert_allclose(square, 2.0 * z, rtol=1e-14)  # not 2 conj(z)


@pytest.mark.parametrize("f", [real_part, phase], ids=["real", "angle"])
def test_non_holomorphic_operations_of_complex_values_are_refused(f):
    for op in ("jvp", "vjp", "grad"):
        with pytest.raises(adgen.DifferentiationError):
            OPERATORS[op](f, Z)
