"""Masked adjoints (issue 14): a value whose partial derivative is infinite or NaN, computed and
then discarded by a mask (`np.where`, `np.select`, a masked write), must not make the gradient
NaN. Reverse mode multiplied the mask's zero by the infinite partial (`0 * inf`); it now
evaluates such partials at safe operands where the mask discards the lane
(`adgen.derive.masks`, `adgen.runtime_masks`).

Each case is checked at points with lanes in the masked region (negatives and exactly 0):
the reverse gradient, the forward gradient and `vjp` agree with the central differences of the
smooth piece the point lies on (the function with its conditions frozen at the point), with no
NaN, and the reverse gradient shows no floating-point warning the function itself does not
show. Second order: `hvp` (forward over reverse) and reverse over reverse against central
differences of the piece's gradient. Code without masks gets the derivative source it got
before.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import adgen
from adgen.derive import forward as forward_module
from adgen.derive import masks as masks_module
from adgen.derive import reverse as reverse_module
from adgen.testing import numerical_jacobian
from tests import catalog_straight, golden_functions

X = np.array([-1.5, -0.25, 0.0, 0.5, 2.0, 3.0])  # masked lanes: negatives and exactly 0
W = np.array([0.7, -1.1, 0.4, 1.3, -0.6, 0.9])


# ---------------------------------------------------------------- the functions


def sqrt_where(x):
    return np.sum(np.where(x > 0, np.sqrt(x), 0.0))


def log_where(x):
    return np.sum(np.where(x > 0, np.log(x), x))


def reciprocal_where(d):
    return np.sum(np.where(d != 0, 1.0 / d, 0.0))


def masked_write(x):
    y = np.log(x)
    y[x <= 0] = 0.0
    return y.sum()


def masked_write_logic(x):
    y = np.sqrt(x) * 3.0
    m = (x <= 0) | (x > 2.5)
    y[m] = 1.0
    return np.sum(y * y)


def select_pieces(x):
    return np.sum(np.select([x > 1, x > 0], [np.log(x), np.sqrt(x)], x * x))


def nested_where(x):
    return np.sum(np.where(x > 0, np.where(x > 1, np.log(x), np.sqrt(x)), x * x))


def power_half(x):
    return np.sum(np.where(x > 0, x ** 0.5, 0.0))


def power_negative(x):
    return np.sum(np.where(x > 0, np.power(x, -1.5), 1.0))


def clip_guard(x):
    return np.sum(np.where(x > 0, np.sqrt(np.clip(x, 0.0, None)), 0.0))


def chain_of_temporaries(x):
    s = np.sqrt(x)
    t = 2.0 * s + 1.0
    return np.sum(np.where(x > 0, t * np.sin(s), x))


def arcsin_inside(x):
    return np.sum(np.where(np.abs(x) < 1.0, np.arcsin(x), 0.0))


def log1p_edge(x):
    return np.sum(np.where(x > -0.25, np.log1p(4.0 * x), 0.0))


def arccosh_above(x):
    return np.sum(np.where(x > 1.0, np.arccosh(x), x))


def sinc(x):
    return np.sum(np.where(x != 0, np.sin(x) / x, 1.0))


def exp_overflow(x):
    return np.sum(np.where(x < 1.0, np.exp(400.0 * x), 0.0))


def same_condition_twice(x):
    s = np.sqrt(x)
    return np.sum(np.where(x > 0, s, 0.0) + np.where(x > 0, s * s, 0.0))


def where_in_loop(x):
    total = 0.0
    for i in range(3):
        c = x > i - 1.0
        r = np.where(c, np.sqrt(x - (i - 1.0)), 0.0)
        total = total + np.sum(r)
    return total


def rows_written(x):
    y = np.log(x)
    y[x[:, 0] <= 0] = 0.0
    return np.sum(y)


def clip_guard_sqrt(x):
    return np.sum(np.sqrt(np.clip(x, 0.0, None)) * x)


def relu_guard_sqrt(x):
    return np.sum(np.sqrt(np.maximum(0.0, x)))


def where_guard_arcsin(x):
    return np.sum(np.arcsin(np.where(x < 1.0, x, 1.0)) * 0.5)


def arcsin_of_clipped(x):
    return np.sum(np.arcsin(np.clip(x, -1.0, 1.0)))


def log_of_floor(p):
    return -np.sum(np.log(np.maximum(p, 1e-12)))


def condition_argument(x, c):
    return np.sum(np.where(c, np.log(x), 0.0))


# ---------------------------------------------------------------- the smooth pieces


@dataclass
class Case:
    f: Any
    piece: Any  # (z, x0) -> the function with its conditions evaluated at x0
    x: np.ndarray | None = None  # (X when None)
    forward_quiet: bool = True  # forward mode shows no warning the primal does not

    def __post_init__(self) -> None:
        self.x = X if self.x is None else self.x

    def __str__(self) -> str:
        return self.f.__name__


def _sqrt_piece(z, x0):
    return np.sum(np.where(x0 > 0, np.sqrt(z), 0.0))


CASES = [
    Case(sqrt_where, _sqrt_piece),
    Case(log_where, lambda z, x0: np.sum(np.where(x0 > 0, np.log(z), z))),
    Case(reciprocal_where, lambda z, x0: np.sum(np.where(x0 != 0, 1.0 / z, 0.0))),
    Case(masked_write, lambda z, x0: np.sum(np.where(x0 <= 0, 0.0, np.log(z))),
         forward_quiet=False),  # (the mask is computed after the log: forward cannot see it)
    Case(masked_write_logic,
         lambda z, x0: np.sum(np.where((x0 <= 0) | (x0 > 2.5), 1.0, 9.0 * z)),
         forward_quiet=False),
    Case(select_pieces, lambda z, x0: np.sum(np.select(
        [x0 > 1, x0 > 0], [np.log(z), np.sqrt(z)], z * z))),
    Case(nested_where, lambda z, x0: np.sum(np.where(
        x0 > 0, np.where(x0 > 1, np.log(z), np.sqrt(z)), z * z))),
    Case(power_half, _sqrt_piece),
    Case(power_negative, lambda z, x0: np.sum(np.where(x0 > 0, np.power(z, -1.5), 1.0))),
    Case(clip_guard, _sqrt_piece),
    Case(chain_of_temporaries, lambda z, x0: np.sum(np.where(
        x0 > 0, (2.0 * np.sqrt(z) + 1.0) * np.sin(np.sqrt(z)), z)),
         forward_quiet=False),  # (the condition comes after the square root)
    Case(arcsin_inside, lambda z, x0: np.sum(np.where(np.abs(x0) < 1.0, np.arcsin(z), 0.0))),
    Case(log1p_edge, lambda z, x0: np.sum(np.where(x0 > -0.25, np.log1p(4.0 * z), 0.0))),
    Case(arccosh_above, lambda z, x0: np.sum(np.where(x0 > 1.0, np.arccosh(z), z))),
    Case(sinc, lambda z, x0: np.sum(np.where(x0 != 0, np.sin(z) / z, 1.0))),
    Case(exp_overflow, lambda z, x0: np.sum(np.where(x0 < 1.0, np.exp(400.0 * z), 0.0)),
         x=np.array([-1.0, 0.0, 0.01, 2.0, 5.0])),
    Case(same_condition_twice, lambda z, x0: np.sum(np.where(x0 > 0, np.sqrt(z) + z, 0.0)),
         forward_quiet=False),
    Case(where_in_loop, lambda z, x0: sum(
        np.sum(np.where(x0 > i - 1.0, np.sqrt(z - (i - 1.0)), 0.0)) for i in range(3)),
         x=np.array([-1.5, -1.0, 0.0, 0.5, 1.0, 2.5])),
    Case(clip_guard_sqrt, lambda z, x0: np.sum(np.sqrt(np.where(x0 > 0, z, 0.0)) * z),
         x=np.array([-1.5, -0.25, 0.5, 2.0, 3.0])),  # (at 0 the clip passes x: infinite)
    Case(relu_guard_sqrt, lambda z, x0: np.sum(np.sqrt(np.where(x0 > 0, z, 0.0)))),
    Case(where_guard_arcsin, lambda z, x0: np.sum(np.arcsin(np.where(x0 < 1.0, z, 1.0)) * 0.5),
         x=np.array([-0.5, 0.0, 0.5, 1.0, 2.0])),
    Case(arcsin_of_clipped, lambda z, x0: np.sum(np.arcsin(np.where(np.abs(x0) < 1, z, 0.0))),
         x=np.array([-3.0, -0.5, 0.0, 0.5, 1.5])),
    Case(rows_written, lambda z, x0: np.sum(np.where(x0[:, :1] <= 0, 0.0, np.log(z))),
         x=np.array([[-1.0, 2.0], [0.5, 1.0], [0.0, 3.0]]), forward_quiet=False),
]


def _quiet(fn, *args):
    with np.errstate(all="ignore"):
        return fn(*args)


def _piece_gradient(case, x0):
    return numerical_jacobian(lambda z: _quiet(case.piece, z, x0), (x0.copy(),))


def _messages(fn, *args):
    """The value of `fn(*args)` and the floating-point warnings it showed, counted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = fn(*args)
    return value, Counter(str(w.message) for w in caught if w.category is RuntimeWarning)


def _close(got, expected, what):
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6, err_msg=what)


# ---------------------------------------------------------------- first order


@pytest.mark.parametrize("case", CASES, ids=str)
def test_reverse_matches_the_smooth_piece_without_nan(case):
    x0 = case.x
    _, primal = _messages(case.f, x0.copy())
    g, shown = _messages(adgen.grad(case.f), x0.copy())
    assert np.all(np.isfinite(g)), g
    _close(g, _piece_gradient(case, x0), "reverse vs central differences of the piece")
    assert not shown - primal, f"the reverse gradient warned {shown}, the function {primal}"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_forward_and_vjp_agree_with_reverse(case):
    x0 = case.x
    _, primal = _messages(case.f, x0.copy())
    g = _quiet(adgen.grad(case.f), x0.copy())
    gf, shown = _messages(adgen.grad(case.f, mode="forward"), x0.copy())
    np.testing.assert_allclose(gf, g, rtol=1e-12, atol=1e-12)
    value, pulled = _quiet(adgen.vjp(case.f), x0.copy(), 1.0)
    np.testing.assert_allclose(pulled, g, rtol=1e-12, atol=1e-12)
    assert value == pytest.approx(_quiet(case.f, x0.copy()))
    if case.forward_quiet:
        assert set(shown) <= set(primal), f"forward warned {shown}, the function {primal}"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_general_derivative_agrees_with_the_variant(case):
    """The variant writes `inside(c, x, 1.0)` as `np.where(c, x, 1.0)` where the shapes line
    up; the general derivative decides it at run time."""
    g = adgen.grad(case.f)
    variant = _quiet(g, case.x.copy())
    general = _quiet(g.__adgen__.info["any"], case.x.copy())
    np.testing.assert_allclose(general, variant, rtol=1e-12, atol=1e-12)


def test_a_condition_passed_as_an_argument():
    g = adgen.grad(condition_argument)(X, X > 0)
    expected = np.where(X > 0, 1.0 / np.where(X > 0, X, 1.0), 0.0)
    np.testing.assert_allclose(g, expected, rtol=1e-12)


def test_scalar_branches_never_ran_the_other_side():
    """Python `if` and ternaries only run the branch taken: nothing to mask."""

    for t, expected in ((0.0, 0.0), (-2.0, 0.0), (4.0, 0.25)):
        assert adgen.grad(scalar_ternary)(t) == pytest.approx(expected)
        assert adgen.grad(scalar_ternary, mode="forward")(t) == pytest.approx(expected)
    for t, expected in ((0.0, 1.0), (-1.0, 1.0), (2.0, 0.5)):
        assert adgen.grad(scalar_if)(t) == pytest.approx(expected)
        assert adgen.grad(scalar_if, mode="forward")(t) == pytest.approx(expected)


def scalar_ternary(t):
    return math.sqrt(t) if t > 0 else 0.0


def scalar_if(t):
    if t > 0:
        return math.log(t)
    return t


def where_of_numbers(t):
    return np.sum(np.where(t > 0.0, np.sqrt(t) * np.log(t), 0.0))


@pytest.mark.parametrize("t", [-1.0, 0.0, 2.0])
def test_numbers_take_the_branch_of_their_condition(t):
    """0-d conditions: `inside(c, x, 1.0)` is `x` or `1.0`, no array made."""
    expected = (math.log(t) + 2.0) / (2.0 * math.sqrt(t)) if t > 0 else 0.0
    for mode in ("reverse", "forward"):
        g, shown = _messages(adgen.grad(where_of_numbers, mode=mode), t)
        assert g == pytest.approx(expected, rel=1e-12, abs=1e-15)
        assert not shown - _messages(where_of_numbers, t)[1]


def test_a_clip_guard_reads_like_the_math():
    x = np.array([-1.0, 0.5, 2.0])
    source = adgen.source(adgen.grad(relu_guard_sqrt), x)
    assert "np.where(0.0 < x, np.sqrt(np.maximum(0.0, x)), 1.0)" in source


@pytest.mark.parametrize("f", [sqrt_where, masked_write, select_pieces, clip_guard_sqrt],
                         ids=lambda f: f.__name__)
def test_compiled_with_numba_agrees(f):
    pytest.importorskip("numba")
    x = np.array([-1.5, -0.25, 0.5, 2.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            got = adgen.grad(f, compile="numba")(x.copy())
            expected = adgen.grad(f)(x.copy())
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_a_floor_where_the_partial_is_finite_needs_no_guard():
    """`np.log(np.maximum(p, 1e-12))` is finite everywhere: its derivative source stays as it
    was (the guard is for bounds where the rule's partial is infinite: `singular=`)."""
    source = adgen.source(adgen.grad(log_of_floor))
    assert "inside" not in source and "outside" not in source


def test_float32_stays_float32():
    x = X.astype(np.float32)
    g = _quiet(adgen.grad(sqrt_where), x)
    assert g.dtype == np.float32 and np.all(np.isfinite(g))


# ---------------------------------------------------------------- what the masks do not cover


def where_broadcast_wider(x):
    c = np.stack([x > 0, x > 1])
    return np.sum(np.where(c, np.sqrt(x), 0.0))


def condition_after_the_log_in_a_loop(x):
    total = 0.0
    for i in range(2):
        s = np.log(x + i)
        c = x + i > 0
        total = total + np.sum(np.where(c, s, 0.0))
    return total


@pytest.mark.parametrize("f", [where_broadcast_wider, condition_after_the_log_in_a_loop],
                         ids=lambda f: f.__name__)
def test_masks_not_proved_keep_nan_never_a_wrong_number(f):
    """A mask broadcast to more axes than the operand, or a condition computed after the step
    inside a loop (its value at the step's adjoint is the previous pass's), are not used: the
    lanes they would have fixed stay NaN, as before; no lane gets a different finite number."""
    g = _quiet(adgen.grad(f), X.copy())
    expected = _quiet(adgen.grad(f, mode="forward"), X.copy())
    finite = np.isfinite(g)
    assert not finite.all()
    np.testing.assert_allclose(g[finite], expected[finite], rtol=1e-12)


# ---------------------------------------------------------------- second order

SECOND = [case for case in CASES if case.f in (
    sqrt_where, log_where, reciprocal_where, masked_write, select_pieces, nested_where,
    power_half, chain_of_temporaries, sinc, arcsin_inside, clip_guard_sqrt, relu_guard_sqrt)]


@pytest.mark.parametrize("case", SECOND, ids=str)
def test_hvp_matches_the_smooth_piece(case):
    x0 = case.x
    v = W[: x0.size]
    h = _quiet(adgen.hvp(case.f), x0.copy(), v)
    assert np.all(np.isfinite(h)), h
    expected = _hessian_times(case, x0, v)
    np.testing.assert_allclose(h, expected, rtol=1e-4, atol=1e-4)


def _hessian_times(case, x0, v):
    """The piece's Hessian times `v`: every case is a sum over lanes, so the Hessian is
    diagonal; its diagonal by second central differences of the piece, lane by lane."""
    h, diagonal = 1e-4, np.zeros_like(x0)
    centre = _quiet(case.piece, x0, x0)
    for i in range(x0.size):
        step = np.zeros_like(x0)
        step.flat[i] = h
        up, down = _quiet(case.piece, x0 + step, x0), _quiet(case.piece, x0 - step, x0)
        diagonal.flat[i] = (up - 2.0 * centre + down) / (h * h)
    return diagonal * v


def sqrt_where_grad_dot(x, w):
    return np.sum(adgen.grad(sqrt_where)(x) * w)


def log_where_grad_dot(x, w):
    return np.sum(adgen.grad(log_where)(x) * w)


def reciprocal_where_grad_dot(x, w):
    return np.sum(adgen.grad(reciprocal_where)(x) * w)


def masked_write_grad_dot(x, w):
    return np.sum(adgen.grad(masked_write)(x) * w)


def select_pieces_grad_dot(x, w):
    return np.sum(adgen.grad(select_pieces)(x) * w)


def chain_grad_dot(x, w):
    return np.sum(adgen.grad(chain_of_temporaries)(x) * w)


@pytest.mark.parametrize(("f", "of"), [
    (sqrt_where_grad_dot, sqrt_where), (log_where_grad_dot, log_where),
    (reciprocal_where_grad_dot, reciprocal_where), (masked_write_grad_dot, masked_write),
    (select_pieces_grad_dot, select_pieces), (chain_grad_dot, chain_of_temporaries),
], ids=lambda f: getattr(f, "__name__", ""))
def test_reverse_over_reverse_matches_hvp(f, of):
    hh, shown = _messages(adgen.grad(f), X.copy(), W)
    assert np.all(np.isfinite(hh)), hh
    np.testing.assert_allclose(hh, _quiet(adgen.hvp(of), X.copy(), W), rtol=1e-10, atol=1e-12)
    forward = _quiet(adgen.grad(f, mode="forward"), X.copy(), W)
    np.testing.assert_allclose(hh, forward, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- code without masks


def _sources(f, args):
    g = adgen.grad(f) if np.ndim(_quiet(f, *args)) == 0 else adgen.vjp(f)
    return adgen.source(g), adgen.source(adgen.jvp(f))


def _no_masks(*_args, **_kwargs):
    return masks_module.Masks()


UNMASKED = [(f, args) for f, args in catalog_straight.CASES[::3]] + [
    (golden_functions.sin_loop, (0.3,)), (golden_functions.newton_sqrt, (2.0,)),
    (golden_functions.branch, (0.3, 0.5))]


def test_code_without_masks_gets_the_source_it_got_before(monkeypatch):
    """With the mask analysis switched off, every function without `np.where`, `np.select`
    or a masked write gets byte-identical derivative source (the goldens pin the rest)."""
    with_masks = {}
    for f, args in UNMASKED:
        with_masks[f] = _sources(f, args)
    adgen.clear_cache()
    monkeypatch.setattr(reverse_module, "masks", _no_masks)
    monkeypatch.setattr(forward_module, "masks", _no_masks)
    try:
        for f, args in UNMASKED:
            assert _sources(f, args) == with_masks[f], f.__name__
    finally:
        adgen.clear_cache()


def test_masked_code_reads_like_the_math():
    g = adgen.grad(log_where)
    assert "_t2), inside(_t1, x, 1.0))" in adgen.source(g)
    assert "np.divide(_t2_bar, np.where(_t1, x, 1.0))" in adgen.source(g, X)
    write = adgen.source(adgen.grad(masked_write), X)
    assert "np.divide(y_bar, np.where(_t1, 1.0, x))" in write
