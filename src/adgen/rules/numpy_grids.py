"""Derivative rules for NumPy's grids: `np.linspace` and `np.arange`.

Both are linear in the numbers that place their points, and piecewise constant in how many
points there are:

- `y = np.linspace(start, stop, num, endpoint, retstep, dtype, axis)` is
  `y_i = (1 - t_i) * start + t_i * stop` with `t_i = i / div` (`div = num - 1`, or `num`
  without the endpoint), along `axis` of the result; `start`/`stop` may be arrays
  (broadcast). With `retstep=True` the result is the pair `(samples, step)`, `step =
  (stop - start) / div`, and so are its tangent and its cotangent (a missing part of the
  cotangent is `None` or `0.0`). The tangent is `linspace_part`, linspace itself applied to the
  tangents of the endpoints (zeros of the endpoint's shape for an inactive one); the adjoint
  is `linspace_adjoint`, one endpoint at a time (`which` 0 for `start`, 1 for `stop`).
- `y = np.arange(start, stop, step)` is `y_i = start + i * step`; its length
  `ceil((stop - start) / step)` is piecewise constant, so `stop` gets no derivative, nor does
  the single argument of `np.arange(stop)` (the points `0, 1, ...` do not move).
  `arange_part(h, like, ...)` spreads a tangent `h` of `start` (`which=0`) or of `step`
  (`which=1`) over the points; `arange_adjoint` is its transpose.

A `dtype` that holds integers or bools makes the grid piecewise constant: zero derivatives.
Each helper is linear in its first argument and has the other as its adjoint, so derivative
code can be differentiated again at any order. There are no batched forms (forward Jacobians
of these functions push one direction per pass).
"""

import numpy as np

from adgen.rules.numpy_products import is_zero
from adgen.rules.registry import adjoint, linear, tangent
from adgen.runtime import unbroadcast


def _cuts(dtype):
    """Whether a grid of this dtype is piecewise constant (integers, bools)."""
    return dtype is not None and not np.issubdtype(np.dtype(dtype), np.inexact)


# ---------------------------------------------------------------- linspace


def _divisions(num, endpoint):
    return num - 1 if endpoint else num


def linspace_part(a, b, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """`np.linspace(a, b, ...)` for tangents `a`, `b` of `start`, `stop` (a `0.0` stands for
    zeros of that endpoint's shape); zeros for an integer `dtype`."""
    a = np.zeros(np.shape(start)) if is_zero(a) else a
    b = np.zeros(np.shape(stop)) if is_zero(b) else b
    out = np.linspace(a, b, num, endpoint, retstep, None if _cuts(dtype) else dtype, axis)
    if _cuts(dtype):
        return (np.zeros_like(out[0]), 0.0 * out[1]) if retstep else np.zeros_like(out)
    return out


def linspace_adjoint(g, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0,
                     which=0):
    """The adjoint of `start` (`which=0`) or `stop` (`which=1`) in
    `g`'s primal `np.linspace(start, stop, ...)`."""
    x = stop if which else start
    samples, step = g if retstep else (g, None)
    div = _divisions(num, endpoint)
    total = 0.0
    if _cuts(dtype):
        return unbroadcast(total, x)
    if samples is not None and not is_zero(samples):
        t = np.arange(num) / div if div > 0 else np.zeros(num)
        weights = t if which else 1.0 - t
        moved = np.moveaxis(np.asarray(samples), axis, 0)
        total = np.tensordot(weights.astype(moved.dtype), moved, axes=(0, 0))
    if step is not None and not is_zero(step) and div > 0:
        total = total + (step / div if which else -step / div)
    return unbroadcast(total, x)


def linspace_for(h, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0,
                 which=0):
    """`linspace_part` with the tangent `h` of one endpoint (`which`) and none of the other."""
    if which:
        return linspace_part(0.0, h, start, stop, num, endpoint, retstep, dtype, axis)
    return linspace_part(h, 0.0, start, stop, num, endpoint, retstep, dtype, axis)


linear(linspace_adjoint, linspace_for)


@tangent(np.linspace)
def linspace_dot(y, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
                 start_dot, stop_dot):
    return linspace_part(start_dot, stop_dot, start, stop, num, endpoint, retstep, dtype, axis)


@adjoint(np.linspace)
def linspace_bar(y, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
                 y_bar):
    return (linspace_adjoint(y_bar, start, stop, num, endpoint, retstep, dtype, axis, 0),
            linspace_adjoint(y_bar, start, stop, num, endpoint, retstep, dtype, axis, 1))


@tangent(linspace_part)
def linspace_part_dot(y, a, b, start, stop, num=50, endpoint=True, retstep=False, dtype=None,
                      axis=0, *, a_dot, b_dot):
    return linspace_part(a_dot, b_dot, start, stop, num, endpoint, retstep, dtype, axis)


@adjoint(linspace_part)
def linspace_part_bar(y, a, b, start, stop, num=50, endpoint=True, retstep=False, dtype=None,
                      axis=0, *, y_bar):
    return (linspace_adjoint(y_bar, start, stop, num, endpoint, retstep, dtype, axis, 0),
            linspace_adjoint(y_bar, start, stop, num, endpoint, retstep, dtype, axis, 1))


@adjoint(linspace_adjoint)
def linspace_adjoint_bar(y, g, start, stop, num=50, endpoint=True, retstep=False, dtype=None,
                         axis=0, which=0, *, y_bar):
    return linspace_for(y_bar, start, stop, num, endpoint, retstep, dtype, axis, which)


@adjoint(linspace_for)
def linspace_for_bar(y, h, start, stop, num=50, endpoint=True, retstep=False, dtype=None,
                     axis=0, which=0, *, y_bar):
    return linspace_adjoint(y_bar, start, stop, num, endpoint, retstep, dtype, axis, which)


# ---------------------------------------------------------------- arange


def _moves(like, stop, which):
    """Whether `like = np.arange(...)` moves with its argument `which`: `start` only when
    `stop` is given too (`np.arange(stop)` has fixed points); never when `like` holds
    integers (an integer `dtype`)."""
    return np.issubdtype(np.result_type(like), np.inexact) and (which == 1 or stop is not None)


def arange_part(h, like, stop=None, which=0):
    """The tangent of `like = np.arange(start, stop, step)` from a tangent `h` of `start`
    (`which=0`: every point moves by `h`) or of `step` (`which=1`: point `i` by `i * h`)."""
    dtype = np.result_type(like, 1.0)
    if is_zero(h) or not _moves(like, stop, which):
        return np.zeros(np.shape(like), dtype)
    spread = np.arange(len(like), dtype=dtype) if which else np.ones(len(like), dtype)
    return spread * h


def arange_adjoint(g, like, stop=None, which=0):
    """The adjoint of `start` (`which=0`) or `step` (`which=1`) in `like = np.arange(...)`."""
    if is_zero(g) or not _moves(like, stop, which):
        return 0.0
    g = np.asarray(g)
    return np.sum(g * np.arange(len(like), dtype=g.dtype)) if which else np.sum(g)


linear(arange_part, arange_adjoint)


@tangent(np.arange)
def arange_dot(y, start, stop=None, step=None, dtype=None, *, start_dot, step_dot):
    return arange_part(start_dot, y, stop, 0) + arange_part(step_dot, y, stop, 1)


@adjoint(np.arange)
def arange_bar(y, start, stop=None, step=None, dtype=None, *, y_bar):
    return arange_adjoint(y_bar, y, stop, 0), None, arange_adjoint(y_bar, y, stop, 1)


@adjoint(arange_part)
def arange_part_bar(y, h, like, stop=None, which=0, *, y_bar):
    return arange_adjoint(y_bar, like, stop, which)


@adjoint(arange_adjoint)
def arange_adjoint_bar(y, g, like, stop=None, which=0, *, y_bar):
    return arange_part(y_bar, like, stop, which)
