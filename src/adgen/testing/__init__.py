"""Gradient checking: finite differences, the dot-product test, forward/reverse agreement.

Finite differences (Bishop & Bishop, §8.1.3) are the reference that needs no AD at all:

* the forward difference (8.24), `(f(x + eps v) - f(x)) / eps`, is first-order accurate;
* the central difference (8.25), `(f(x + eps v) - f(x - eps v)) / (2 eps)`, is second-order.

`numerical_jvp` gives the directional derivative `J v` of `f` along one tangent per
differentiated argument; `numerical_jacobian` the whole derivative with respect to one
argument, shaped `output.shape + argument.shape`. Both work for Python floats, NumPy scalars
and float arrays, in and out, and return a float for a 0-d result.

`check_grads(f, args)` runs adgen on `f` and checks, with seeded random directions `v` (one per
differentiated argument, same shape and dtype) and a random output cotangent `w`:

(a) forward mode: the output tangent of `jvp(f)` along `v` matches the central difference,
    one argument at a time and all together;
(b) reverse mode: `<vjp(f)(w), v>` matches `<w, central difference along v>`;
(c) the dot-product test `<J v, w> = <v, J^T w>` between jvp and vjp, to ~1e-10 relative;
(d) for scalar `f`: `grad(f)` in each mode matches the central difference, and the forward and
    reverse gradients agree to ~1e-12 relative; every gradient has its argument's shape and
    dtype (float32 in, float32 out);
(e) the value that jvp and vjp return equals `f(*args)`.

Finite-difference tolerances: `atol + rtol * max|expected|`, plus an estimate of the rounding
noise of the difference quotient (`10 * machine-eps * max|f| / eps`). For float32 (or lower)
arguments or outputs the step defaults to `eps = machine-eps ** (1/3)` and `rtol` is raised to
at least `10 * sqrt(machine-eps)`; the exact checks (c), (d), (e) loosen to `1e3 * machine-eps`.

`order=2` (scalar `f` only) also checks the forward-over-reverse second derivative: for each
differentiated argument `i`, `jvp(grad(f, wrt=i))` along `v` must match the central difference
of `grad(f, wrt=i)`; then a Taylor test: the remainder `|f(x+hv) - f(x) - h<g,v>|` must shrink
at rate ~2 as `h` halves, and `|... - h^2/2 v^T H v|` at rate ~3, judged at the smallest
steps whose remainders stay above the rounding floor `100 * machine-eps * max|f|` (a function
exact to that order has no such steps and passes; in float32 few steps do). It needs adgen to
differentiate its own output; if the engine cannot, its exception propagates unchanged.

Any failed check raises one `AssertionError` that lists every failure: which check, which
argument, expected and got, the max absolute and relative error and the allowed error. A
check named "A vs B" reports A as "got" and B as "expected". The exact checks (c), (d), (e)
have an absolute floor of `tolerance * 1e-2 * (1 + max|f(x)|)`, so that derivatives that cancel
to zero in exact arithmetic are not failed for rounding.
Exceptions raised by adgen itself (unsupported syntax, missing rule) propagate unchanged.
Nothing here keeps state between calls; the same seed gives the same directions.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import adgen
from adgen.derive.shapes import fact_of
from adgen.testing.differences import (  # noqa: F401  (the public differences are re-exported)
    Wrt,
    _abs_dot,
    _directional,
    _dot,
    _float_array,
    _is_float,
    _label,
    _machine_eps,
    _max_abs,
    _name,
    _random_like,
    _resolve,
    _shifted,
    _zero_like,
    central_difference,
    forward_difference,
    numerical_jacobian,
    numerical_jvp,
)

_CHECKS = ("forward", "reverse")


# ---------------------------------------------------------------- the problem under test


@dataclass(frozen=True)
class _Tolerance:
    eps: float  # finite-difference step
    rtol: float  # finite-difference checks
    atol: float
    exact: float  # dot-product test (relative)
    agree: float  # forward vs reverse, returned values (relative)


def _tolerance(machine: float, eps: float | None, rtol: float, atol: float) -> _Tolerance:
    double = machine <= 1e-15
    return _Tolerance(
        eps=eps if eps is not None else (1e-6 if double else machine ** (1.0 / 3.0)),
        rtol=rtol if double else max(rtol, 10.0 * math.sqrt(machine)),
        atol=atol,
        exact=max(1e-10, 1e3 * machine),
        agree=max(1e-12, 1e3 * machine),
    )


@dataclass(frozen=True)
class _Problem:
    f: Callable[..., Any]
    args: tuple[Any, ...]
    indices: tuple[int, ...]
    labels: tuple[str, ...]
    spec: Any  # wrt as handed to adgen
    single: bool
    value: Any  # f(*args)
    directions: tuple[Any, ...]  # v, one per differentiated argument
    cotangent: Any  # w, shaped like the value
    fd: tuple[np.ndarray, ...]  # central difference along each v alone
    noise: tuple[float, ...]  # rounding noise estimate of each fd
    tol: _Tolerance
    seed: int


def _prepare(
    f: Callable[..., Any], args: Sequence[Any], wrt: Wrt, eps: float | None, rtol: float,
    atol: float, seed: int,
) -> _Problem:
    args = tuple(args)
    indices, single = _resolve(f, args, wrt)
    for i in indices:
        if not _is_float(args[i]):
            raise TypeError(f"check_grads: {_label(f, i)} is {type(args[i]).__name__}, not float")
    if wrt is None:
        spec: Any = indices[0] if single else indices
    else:
        spec = wrt if single else tuple(wrt)
    rng = np.random.default_rng(seed)
    directions = tuple(_random_like(rng, args[i]) for i in indices)
    value = f(*args)
    if isinstance(value, (tuple, list, dict)):
        raise TypeError(f"check_grads: {_name(f)} returns a {type(value).__name__}; it checks "
                        "functions returning one float or array: check each output alone")
    cotangent = _random_like(rng, value)
    machine = max(_machine_eps(value), *(_machine_eps(args[i]) for i in indices))
    tol = _tolerance(machine, eps, rtol, atol)
    diffs = [_directional(f, args, (i,), (v,), tol.eps, "central")
             for i, v in zip(indices, directions, strict=True)]
    return _Problem(
        f, args, indices, tuple(_label(f, i) for i in indices), spec, single, value,
        directions, cotangent, tuple(d for d, _ in diffs), tuple(n for _, n in diffs), tol, seed,
    )


def _as_tuple(result: Any, single: bool) -> tuple[Any, ...]:
    return (result,) if single else tuple(result)


# ---------------------------------------------------------------- failures and the report


@dataclass(frozen=True)
class _Failure:
    check: str
    argument: str
    detail: str


def _show(x: Any) -> str:
    if isinstance(x, np.ndarray) and x.ndim > 0:
        return np.array2string(x, precision=8, threshold=12, max_line_width=90)
    return repr(x)


def _mismatch(check: str, argument: str, expected: Any, got: Any, allowed: float) -> list[_Failure]:
    """[] if `got` is within `allowed` (max abs error) of `expected`, else one failure."""
    try:
        g = _float_array(got)
    except (TypeError, ValueError):
        return [_Failure(check, argument, f"expected {_show(expected)}\ngot non-numeric {got!r}")]
    e = _float_array(expected)
    if g.shape != e.shape:
        return [_Failure(check, argument, f"expected shape {e.shape}, got shape {g.shape}: "
                                          f"{_show(got)}")]
    err = np.abs(g - e)
    abs_err = float(np.max(err)) if err.size else 0.0
    if abs_err <= allowed:
        return []
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(err == 0, 0.0, err / np.abs(e))
    rel_err = float(np.max(rel)) if rel.size else 0.0
    detail = (f"expected {_show(expected)}\ngot      {_show(got)}\n"
              f"max abs error {abs_err:.3e}, max rel error {rel_err:.3e} "
              f"(allowed abs error {allowed:.3e})")
    return [_Failure(check, argument, detail)]


def _like(check: str, argument: str, got: Any, reference: Any) -> list[_Failure]:
    """[] if `got` has the shape and dtype of `reference`, else one failure."""
    want = (np.shape(reference), np.result_type(reference))
    try:
        have = (np.shape(got), np.result_type(got))
    except (TypeError, ValueError):
        have = ("?", type(got).__name__)
    if have == want:
        return []
    detail = (f"expected shape {want[0]} dtype {want[1]}, got shape {have[0]} dtype {have[1]}: "
              f"{_show(got)}")
    return [_Failure(check + " (shape/dtype)", argument, detail)]


def _fd_allowed(p: _Problem, expected: Any, noise: float) -> float:
    return p.tol.atol + p.tol.rtol * _max_abs(expected) + noise


def _floor(p: _Problem) -> float:
    """Absolute scale below which exact checks see rounding only (results that cancel to 0)."""
    return 1e-2 * (1.0 + _max_abs(p.value))


def _agree_allowed(p: _Problem, expected: Any, got: Any) -> float:
    try:
        scale = max(_max_abs(expected), _max_abs(got))
    except (TypeError, ValueError):
        scale = _max_abs(expected)
    return p.tol.agree * (scale + _floor(p))


def _report(p: _Problem, failures: list[_Failure]) -> str:
    args = ", ".join(_show(a) for a in p.args)
    lines = [
        f"check_grads({_name(p.f)}) failed {len(failures)} check(s)",
        f"  at args ({args}); wrt {', '.join(p.labels)}; eps={p.tol.eps:g}, seed={p.seed}",
    ]
    for n, failure in enumerate(failures, 1):
        lines.append(f"  {n}. {failure.check}: {failure.argument}")
        lines.extend("       " + line for line in failure.detail.splitlines())
    return "\n".join(lines)


# ---------------------------------------------------------------- the checks


def _check_forward(p: _Problem) -> tuple[list[_Failure], list[Any]]:
    """(a) and (e): jvp along each v alone, and along all of them together."""
    jvp = adgen.jvp(p.f, wrt=p.spec)
    check = "forward mode: jvp output tangent vs central difference"
    failures: list[_Failure] = []
    tangents = []
    for k, label in enumerate(p.labels):
        seeds = [v if j == k else _zero_like(v) for j, v in enumerate(p.directions)]
        value, tangent = jvp(*p.args, *seeds)
        if k == 0:
            failures += _mismatch("forward mode: value returned by jvp vs f(*args)", "-",
                                  p.value, value, _agree_allowed(p, p.value, value))
        shape_failures = _like("forward mode: jvp output tangent", label, tangent, p.value)
        failures += shape_failures or _mismatch(check, label, p.fd[k], tangent,
                                                _fd_allowed(p, p.fd[k], p.noise[k]))
        tangents.append(tangent)
    if len(p.labels) > 1:
        _, tangent = jvp(*p.args, *p.directions)
        expected = sum(p.fd)
        failures += _mismatch(check + " (all arguments together)", ", ".join(p.labels),
                              expected, tangent, _fd_allowed(p, expected, sum(p.noise)))
    return failures, tangents


def _check_reverse(p: _Problem) -> tuple[list[_Failure], tuple[Any, ...]]:
    """(b) and (e): <vjp(w), v> against <w, central difference along v>."""
    value, grads = adgen.vjp(p.f, wrt=p.spec)(*p.args, p.cotangent)
    grads = _as_tuple(grads, p.single)
    failures = _mismatch("reverse mode: value returned by vjp vs f(*args)", "-", p.value, value,
                         _agree_allowed(p, p.value, value))
    check = "reverse mode: <vjp gradient, v> vs <w, central difference along v>"
    for k, label in enumerate(p.labels):
        shape_failures = _like("reverse mode: vjp gradient", label, grads[k], p.args[p.indices[k]])
        failures += shape_failures
        if shape_failures:
            continue
        expected = _dot(p.cotangent, p.fd[k])
        got = _dot(grads[k], p.directions[k])
        noise = p.noise[k] * float(np.sum(np.abs(_float_array(p.cotangent))))
        scale = _abs_dot(p.cotangent, p.fd[k])
        failures += _mismatch(check, label, expected, got, p.tol.atol + p.tol.rtol * scale + noise)
    return failures, grads


def _check_dot_product(p: _Problem, tangents: list[Any], grads: tuple[Any, ...]) -> list[_Failure]:
    """(c): <J v, w> = <v, J^T w> between jvp and vjp, per argument."""
    failures: list[_Failure] = []
    for k, label in enumerate(p.labels):
        try:
            lhs = _dot(tangents[k], p.cotangent)
            rhs = _dot(p.directions[k], grads[k])
            scale = max(_abs_dot(tangents[k], p.cotangent), _abs_dot(p.directions[k], grads[k]))
        except (TypeError, ValueError):
            continue  # a shape or type failure already reported by (a) or (b)
        failures += _mismatch("dot-product test: <J v, w> (jvp) vs <v, J^T w> (vjp)", label,
                              rhs, lhs, p.tol.exact * (scale + _floor(p)))
    return failures


def _check_grad_modes(p: _Problem, modes: Sequence[str]) -> tuple[list[_Failure], dict]:
    """(d): grad in each mode against central differences, then against each other."""
    failures: list[_Failure] = []
    results: dict[str, tuple[Any, ...]] = {}
    for mode in modes:
        g = adgen.grad(p.f, wrt=p.spec, mode=mode)
        grads = _as_tuple(g(*p.args), p.single)
        if mode == "reverse":
            failures += _check_specialised(p, g, grads)
        shapes_ok = True
        for k, label in enumerate(p.labels):
            shape_failures = _like(f"{mode} mode: grad", label, grads[k], p.args[p.indices[k]])
            failures += shape_failures
            shapes_ok = shapes_ok and not shape_failures
            if not shape_failures:
                failures += _mismatch(f"{mode} mode: <grad, v> vs central difference along v",
                                      label, p.fd[k], _dot(grads[k], p.directions[k]),
                                      _fd_allowed(p, p.fd[k], p.noise[k]))
        if shapes_ok:
            results[mode] = grads
    if len(results) == 2:
        check = "forward vs reverse: grad(mode='forward') vs grad(mode='reverse')"
        for k, label in enumerate(p.labels):
            fwd, rev = results["forward"][k], results["reverse"][k]
            failures += _mismatch(check, label, rev, fwd, _agree_allowed(p, rev, fwd))
    return failures, results


def _check_specialised(p: _Problem, g: Any, grads: tuple[Any, ...]) -> list[_Failure]:
    """The variant specialised to the arguments' shapes (built here, so that a failure to
    build it is seen) against the general derivative."""
    g = getattr(g, "adgen_last", None) or g  # the specialisation to the function values
    info = getattr(getattr(g, "__adgen__", None), "info", {})
    if "build" not in info:
        return []
    full = tuple(p.args)
    params = list(inspect.signature(p.f).parameters)
    if len(params) != len(full):
        return []
    variant = info["build"]({k: fact_of(a) for k, a in zip(params, full, strict=True)})
    general = _as_tuple(info["any"](*full), p.single)
    special = _as_tuple(variant(*full), p.single)
    failures: list[_Failure] = []
    for k, label in enumerate(p.labels):
        failures += _mismatch("specialised vs general: grad", label, general[k], special[k],
                              _agree_allowed(p, general[k], special[k]))
    return failures


# ---------------------------------------------------------------- second order


def _check_hessian(p: _Problem) -> tuple[list[_Failure], float]:
    """jvp(grad(f, wrt=i)) along v against central differences of grad(f, wrt=i); and v^T H v."""
    failures: list[_Failure] = []
    spec = p.indices[0] if p.single else p.indices
    vhv = 0.0
    for k, (index, label) in enumerate(zip(p.indices, p.labels, strict=True)):
        grad_i = adgen.grad(p.f, wrt=index)
        expected, noise = _directional(grad_i, p.args, p.indices, p.directions, p.tol.eps,
                                       "central")
        _, got = adgen.jvp(grad_i, wrt=spec)(*p.args, *p.directions)
        failures += _mismatch("second order: jvp(grad(f)) vs central difference of grad(f)",
                              label, expected, got, _fd_allowed(p, expected, noise))
        vhv += _dot(p.directions[k], got)
    return failures, vhv


def _observed_rate(steps: list[float], remainders: list[float], floor: float) -> float | None:
    """log2 of the remainder ratio at the smallest pair of steps above the rounding floor."""
    rate = None
    for k in range(1, len(steps)):
        if remainders[k] > floor and remainders[k - 1] > floor:
            rate = math.log(remainders[k - 1] / remainders[k]) / math.log(steps[k - 1] / steps[k])
    return rate


def _check_taylor(p: _Problem, grads: tuple[Any, ...], vhv: float) -> list[_Failure]:
    """Taylor remainders of first and second order shrink at rates 2 and 3."""
    machine = max(_machine_eps(p.value), *(_machine_eps(p.args[i]) for i in p.indices))
    steps = [(1e-2 if machine <= 1e-15 else 1e-1) * 0.5**k for k in range(7)]
    f0 = float(p.value)
    gv = sum(_dot(g, v) for g, v in zip(grads, p.directions, strict=True))
    values = [float(p.f(*_shifted(p.args, p.indices, p.directions, h))) for h in steps]
    floor = 100.0 * machine * max(abs(f0), *(abs(v) for v in values))
    first = [abs(fh - f0 - h * gv) for h, fh in zip(steps, values, strict=True)]
    second = [abs(fh - f0 - h * gv - 0.5 * h * h * vhv)
              for h, fh in zip(steps, values, strict=True)]
    failures = []
    for name, remainders, want in (("first", first, 2.0), ("second", second, 3.0)):
        rate = _observed_rate(steps, remainders, floor)
        if rate is not None and rate < want - 0.4:
            detail = (f"expected the {name}-order remainder to shrink at rate ~{want:g} as h "
                      f"halves, got rate {rate:.2f}\nsteps h      {_show(np.array(steps))}\n"
                      f"remainders   {_show(np.array(remainders))}")
            failures.append(_Failure(f"Taylor test ({name} order)", ", ".join(p.labels), detail))
    return failures


# ---------------------------------------------------------------- the entry point


def _validate(modes: Sequence[str], order: int) -> None:
    if not modes or set(modes) - set(_CHECKS):
        raise ValueError(f"modes must be a non-empty subset of {_CHECKS}, got {tuple(modes)}")
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order}")


def check_grads(
    f: Callable[..., Any],
    args: Sequence[Any],
    wrt: Wrt = None,
    modes: Sequence[str] = ("forward", "reverse"),
    order: int = 1,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    eps: float | None = None,
    seed: int = 0,
) -> None:
    """Check adgen's derivatives of `f` at `args`; raise AssertionError listing every failure.

    `wrt` is an index, a parameter name or a sequence of them; None means every argument that
    is a float or a float array. `modes` selects the forward checks (jvp, grad) and/or the
    reverse ones (vjp, grad); with both, the dot-product test and the forward-vs-reverse
    agreement run too. `order=2` adds the second-derivative and Taylor checks (scalar `f`).
    `eps` is the finite-difference step (default 1e-6 for float64, larger for lower precision).
    """
    _validate(modes, order)
    p = _prepare(f, args, wrt, eps, rtol, atol, seed)
    scalar = np.ndim(p.value) == 0
    if order == 2 and not scalar:
        raise ValueError("check_grads(order=2) needs a scalar-valued function")
    failures: list[_Failure] = []
    tangents: list[Any] = []
    grads: tuple[Any, ...] = ()
    if "forward" in modes:
        found, tangents = _check_forward(p)
        failures += found
    if "reverse" in modes:
        found, grads = _check_reverse(p)
        failures += found
    if tangents and grads:
        failures += _check_dot_product(p, tangents, grads)
    if scalar:
        found, by_mode = _check_grad_modes(p, [m for m in _CHECKS if m in modes])
        failures += found
        if order == 2:
            found, vhv = _check_hessian(p)
            failures += found
            gradient = by_mode.get("reverse", by_mode.get("forward"))
            if gradient is not None:  # else its shape failure is already reported
                failures += _check_taylor(p, gradient, vhv)
    if failures:
        raise AssertionError(_report(p, failures))
