"""Derivative rules for more of NumPy's elementwise functions.

`remainder` (also spelled `mod`; `%` on arrays is `operator.mod`), `fmod`,
`deg2rad`/`radians`/`rad2deg`/`degrees`, `sinc`, `nan_to_num`, and `real`/`imag`/`conj` of
real values (function, method and attribute spellings).

Conventions:

- `remainder(a, b) = a - b * floor(a / b)` and `fmod(a, b) = a - b * trunc(a / b)`: the
  derivative is taken on the piece the point lies in (at a jump, the piece to the right).
- `sinc(x) = sin(pi x) / (pi x)`: its slope and curvature use short Taylor series near 0, so
  they are exact to rounding there; `sinc` has first and second derivatives (a third is
  refused: `sinc_curvature` has no rule).
- `nan_to_num`: the derivative is 1 where `x` is finite and 0 where it was replaced; the
  replacement values `nan=`, `posinf=`, `neginf=` are differentiable too.
- `real`, `imag`, `conj`: adgen differentiates real numbers only, so complex arguments are
  refused at run time (`DifferentiationError`); on real ones they are `x`, 0 and `x`.
"""

import math

import numpy as np

from adgen.arrays import as_array
from adgen.rules.batched import lift
from adgen.rules.operators import mod_bar, mod_dot
from adgen.rules.registry import adjoint, batched, linear, nondifferentiable, tangent
from adgen.runtime import refusal, unbroadcast

# ---------------------------------------------------------------- remainders

tangent(np.remainder)(mod_dot)
adjoint(np.remainder)(mod_bar)


@tangent(np.fmod)
def fmod_dot(y, a, b, *, a_dot, b_dot):
    return a_dot - b_dot * np.trunc(a / b)


@adjoint(np.fmod)
def fmod_bar(y, a, b, *, y_bar):
    return unbroadcast(y_bar, a), unbroadcast(-y_bar * np.trunc(a / b), b)


# ---------------------------------------------------------------- angles


@tangent(np.deg2rad, np.radians)
def deg2rad_dot(y, x, *, x_dot):
    return x_dot * (math.pi / 180.0)


@adjoint(np.deg2rad, np.radians)
def deg2rad_bar(y, x, *, y_bar):
    return y_bar * (math.pi / 180.0)


@tangent(np.rad2deg, np.degrees)
def rad2deg_dot(y, x, *, x_dot):
    return x_dot * (180.0 / math.pi)


@adjoint(np.rad2deg, np.degrees)
def rad2deg_bar(y, x, *, y_bar):
    return y_bar * (180.0 / math.pi)


# ---------------------------------------------------------------- sinc

_NEAR_ZERO = 1e-2  # below it the series (three terms) are exact to rounding


def sinc_slope(x):
    """The derivative of `np.sinc` at `x`: `(cos(pi x) - sinc(x)) / x`, 0 at 0."""
    x = as_array(x, dtype=np.result_type(x, 1.0))
    small = np.abs(x) < _NEAR_ZERO
    safe = np.where(small, 1.0, x)
    p2 = math.pi ** 2
    series = x * (-p2 / 3.0 + x * x * (p2 * p2 / 30.0 - x * x * p2 ** 3 / 840.0))
    out = np.where(small, series, (np.cos(math.pi * safe) - np.sinc(safe)) / safe)
    return out if out.ndim else out[()]


def sinc_curvature(x):
    """The second derivative of `np.sinc` at `x`: `-pi^2 sinc(x) - 2 sinc'(x) / x`."""
    x = as_array(x, dtype=np.result_type(x, 1.0))
    small = np.abs(x) < _NEAR_ZERO
    safe = np.where(small, 1.0, x)
    p2 = math.pi ** 2
    series = -p2 / 3.0 + x * x * (p2 * p2 / 10.0 - x * x * p2 ** 3 / 168.0)
    out = np.where(small, series, -p2 * np.sinc(safe) - 2.0 * sinc_slope(safe) / safe)
    return out if out.ndim else out[()]


@batched(np.sinc)
@tangent(np.sinc)
def sinc_dot(y, x, *, x_dot):
    return x_dot * sinc_slope(x)


@adjoint(np.sinc)
def sinc_bar(y, x, *, y_bar):
    return unbroadcast(y_bar * sinc_slope(x), x)


@batched(sinc_slope)
@tangent(sinc_slope)
def sinc_slope_dot(y, x, *, x_dot):
    return x_dot * sinc_curvature(x)


@adjoint(sinc_slope)
def sinc_slope_bar(y, x, *, y_bar):
    return unbroadcast(y_bar * sinc_curvature(x), x)


# ---------------------------------------------------------------- nan_to_num


def replaced(x, kind):
    """Where `np.nan_to_num` replaced `x` by its `nan`, `posinf` or `neginf` value (1.0), or
    kept it (`kind` "finite")."""
    test = {"finite": np.isfinite, "nan": np.isnan, "posinf": np.isposinf,
            "neginf": np.isneginf}[kind]
    return test(x).astype(np.result_type(x, 1.0))


nondifferentiable(replaced)


@tangent(np.nan_to_num)
def nan_to_num_dot(y, x, copy=True, nan=0.0, posinf=None, neginf=None, *, x_dot, nan_dot,
                   posinf_dot, neginf_dot):
    return (x_dot * replaced(x, "finite") + nan_dot * replaced(x, "nan")
            + posinf_dot * replaced(x, "posinf") + neginf_dot * replaced(x, "neginf"))


@batched(np.nan_to_num)
def nan_to_num_batched(y, x, copy=True, nan=0.0, posinf=None, neginf=None, *, x_dot, nan_dot,
                       posinf_dot, neginf_dot):
    return (x_dot * replaced(x, "finite") + lift(nan_dot, y) * replaced(x, "nan")
            + lift(posinf_dot, y) * replaced(x, "posinf")
            + lift(neginf_dot, y) * replaced(x, "neginf"))


@adjoint(np.nan_to_num)
def nan_to_num_bar(y, x, copy=True, nan=0.0, posinf=None, neginf=None, *, y_bar):
    return (unbroadcast(y_bar * replaced(x, "finite"), x), None,
            unbroadcast(y_bar * replaced(x, "nan"), nan),
            unbroadcast(y_bar * replaced(x, "posinf"), posinf),
            unbroadcast(y_bar * replaced(x, "neginf"), neginf))


# ---------------------------------------------------------------- real, imag, conj


def real_input(t, x, name="numpy.real"):
    """`t`, the tangent or adjoint of `x`; refused when `x` is complex."""
    if np.iscomplexobj(x):
        raise refusal(
            f"adgen differentiates {name} of real numbers only, and got a complex "
            f"{type(x).__name__}; split complex values into real and imaginary parts")
    return t


linear(real_input)


@adjoint(real_input)
def real_input_bar(y, t, x, name="numpy.real", *, y_bar):
    return real_input(y_bar, x, name)


@batched(np.real, "ndarray.real")
@tangent(np.real, "ndarray.real")
def real_dot(y, val, *, val_dot):
    return real_input(val_dot, val)


@adjoint(np.real, "ndarray.real")
def real_bar(y, val, *, y_bar):
    return real_input(y_bar, val)


@batched(np.imag, "ndarray.imag")
@tangent(np.imag, "ndarray.imag")
def imag_dot(y, val, *, val_dot):
    return np.zeros_like(real_input(val_dot, val, "numpy.imag"))


@adjoint(np.imag, "ndarray.imag")
def imag_bar(y, val, *, y_bar):
    return np.zeros_like(real_input(y_bar, val, "numpy.imag"))


@tangent(np.conjugate, "ndarray.conj", "ndarray.conjugate")
def conj_dot(y, x, *, x_dot):
    return real_input(x_dot, x, "numpy.conj")


@adjoint(np.conjugate, "ndarray.conj", "ndarray.conjugate")
def conj_bar(y, x, *, y_bar):
    return real_input(y_bar, x, "numpy.conj")


batched("ndarray.conj", "ndarray.conjugate")(conj_dot)
