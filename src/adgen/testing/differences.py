"""Finite differences and the small numeric helpers the gradient checks share.

`forward_difference` / `central_difference` differentiate a scalar function of one number;
`numerical_jvp` / `numerical_jacobian` difference any function of arrays, numbers and
containers of them along a direction. Nothing here knows about adgen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Wrt = int | str | Sequence[int | str] | None

# ---------------------------------------------------------------- finite differences


def forward_difference(
    f: Callable[..., Any], args: Sequence[Any], wrt: Wrt = 0, eps: float = 1e-6,
    tangents: Any = None,
) -> Any:
    """Forward difference (8.24): `J v` along `tangents`, or the whole derivative if None.

    With `tangents=None` the result is the Jacobian of each `wrt` argument (a tuple for a
    sequence `wrt`); otherwise the directional derivative, as `numerical_jvp` gives it.
    """
    return _difference(f, args, wrt, eps, tangents, "forward")


def central_difference(
    f: Callable[..., Any], args: Sequence[Any], wrt: Wrt = 0, eps: float = 1e-6,
    tangents: Any = None,
) -> Any:
    """Central difference (8.25): `J v` along `tangents`, or the whole derivative if None.

    With `tangents=None` the result is the Jacobian of each `wrt` argument (a tuple for a
    sequence `wrt`); otherwise the directional derivative, as `numerical_jvp` gives it.
    """
    return _difference(f, args, wrt, eps, tangents, "central")


def numerical_jvp(
    f: Callable[..., Any], args: Sequence[Any], wrt: Wrt, tangents: Any,
    eps: float = 1e-6, scheme: str = "central",
) -> Any:
    """The finite-difference directional derivative of `f` at `args` along `tangents`.

    `wrt` is an index or parameter name (then `tangents` is one tangent) or a sequence of them
    (then `tangents` is a sequence with one tangent per entry, each shaped like its argument).
    Returns an array of `f`'s output shape (float64), or a float for a scalar output.
    """
    indices, single = _resolve(f, tuple(args), wrt)
    seeds = (tangents,) if single else tuple(tangents)
    if len(seeds) != len(indices):
        raise ValueError(f"numerical_jvp: {len(indices)} wrt entries but {len(seeds)} tangents")
    derivative, _ = _directional(f, tuple(args), indices, seeds, eps, scheme)
    return _plain(derivative)


def numerical_jacobian(
    f: Callable[..., Any], args: Sequence[Any], wrt_index: int | str = 0,
    eps: float = 1e-6, scheme: str = "central",
) -> Any:
    """The finite-difference Jacobian of `f` with respect to one argument.

    Shaped `output.shape + argument.shape` (float64); a float when both are scalars.
    """
    args = tuple(args)
    (index,), _ = _resolve(f, args, wrt_index)
    arg = args[index]
    if isinstance(arg, np.ndarray) and arg.size == 0:  # no entries: an empty Jacobian
        return np.zeros(np.shape(f(*args)) + arg.shape)
    columns = []
    for position in range(max(1, int(np.size(arg)))):
        unit = _unit_like(arg, position)
        column, _ = _directional(f, args, (index,), (unit,), eps, scheme)
        columns.append(column)
    jacobian = np.stack(columns, axis=-1).reshape(columns[0].shape + np.shape(arg))
    return _plain(jacobian)


def _difference(
    f: Callable[..., Any], args: Sequence[Any], wrt: Wrt, eps: float, tangents: Any,
    scheme: str,
) -> Any:
    if tangents is not None:
        return numerical_jvp(f, args, wrt, tangents, eps, scheme)
    indices, single = _resolve(f, tuple(args), wrt)
    jacobians = tuple(numerical_jacobian(f, args, i, eps, scheme) for i in indices)
    return jacobians[0] if single else jacobians


def _directional(
    f: Callable[..., Any], args: tuple[Any, ...], indices: Sequence[int],
    tangents: Sequence[Any], eps: float, scheme: str,
) -> tuple[np.ndarray, float]:
    """`J v` by finite differences, and an estimate of its rounding noise."""
    if scheme not in ("central", "forward"):
        raise ValueError(f"unknown finite-difference scheme {scheme!r}: use 'central' or 'forward'")
    plus_raw = f(*_shifted(args, indices, tangents, eps))
    plus = _float_array(plus_raw)
    if scheme == "forward":
        minus_raw, step = f(*args), eps
    else:
        minus_raw, step = f(*_shifted(args, indices, tangents, -eps)), 2.0 * eps
    minus = _float_array(minus_raw)
    size = max(_max_abs(plus), _max_abs(minus))
    noise = 10.0 * max(_machine_eps(plus_raw), _machine_eps(minus_raw)) * size / step
    return (plus - minus) / step, noise


def _shifted(
    args: tuple[Any, ...], indices: Sequence[int], tangents: Sequence[Any], h: float,
) -> list[Any]:
    moved = list(args)
    for i, t in zip(indices, tangents, strict=True):
        moved[i] = _step(args[i], t, h)
    return moved


def _step(a: Any, t: Any, h: float) -> Any:
    """`a + h t`, keeping the type and dtype of `a`."""
    if isinstance(a, np.ndarray):
        return np.asarray(a + h * np.asarray(t), dtype=a.dtype)
    if isinstance(a, np.generic):
        return type(a)(a + h * t)
    return float(a + h * t)


def _unit_like(a: Any, position: int) -> Any:
    if isinstance(a, np.ndarray):
        unit = np.zeros(a.shape, dtype=a.dtype)
        unit.flat[position] = 1
        return unit
    return type(a)(1) if isinstance(a, np.generic) else 1.0


# ---------------------------------------------------------------- small numeric helpers


def _float_array(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _max_abs(x: Any) -> float:
    a = np.abs(_float_array(x))
    return float(np.max(a)) if a.size else 0.0


def _dot(a: Any, b: Any) -> float:
    return float(np.sum(_float_array(a) * _float_array(b)))


def _abs_dot(a: Any, b: Any) -> float:
    return float(np.sum(np.abs(_float_array(a) * _float_array(b))))


def _machine_eps(x: Any) -> float:
    dtype = np.result_type(x)
    return float(np.finfo(dtype).eps) if np.issubdtype(dtype, np.floating) else 2.0**-52


def _plain(x: np.ndarray) -> Any:
    return float(x) if x.ndim == 0 else x


def _is_float(a: Any) -> bool:
    if isinstance(a, (float, np.floating)):
        return True
    return isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)


def _random_like(rng: np.random.Generator, a: Any) -> Any:
    """A standard-normal sample with the shape and dtype of `a` (float for Python numbers)."""
    if isinstance(a, np.ndarray):
        dtype = a.dtype if np.issubdtype(a.dtype, np.floating) else np.float64
        return rng.standard_normal(a.shape).astype(dtype)
    if isinstance(a, np.floating):
        return type(a)(rng.standard_normal())
    return float(rng.standard_normal())


def _zero_like(a: Any) -> Any:
    if isinstance(a, np.ndarray):
        return np.zeros_like(a)
    return type(a)(0) if isinstance(a, np.generic) else 0.0


# ---------------------------------------------------------------- which arguments


def _param_names(f: Callable[..., Any]) -> tuple[str, ...]:
    while hasattr(f, "__wrapped__"):
        f = f.__wrapped__
    code = getattr(f, "__code__", None)
    return tuple(code.co_varnames[: code.co_argcount]) if code is not None else ()


def _resolve(
    f: Callable[..., Any], args: tuple[Any, ...], wrt: Wrt,
) -> tuple[tuple[int, ...], bool]:
    """The argument indices that `wrt` names, and whether `wrt` was a single entry."""
    if wrt is None:
        indices = tuple(i for i, a in enumerate(args) if _is_float(a))
        if not indices:
            raise ValueError("no float or float-array argument to differentiate; pass wrt=")
        return indices, len(indices) == 1
    single = not isinstance(wrt, (tuple, list))
    names = _param_names(f)
    indices = []
    for entry in (wrt,) if single else tuple(wrt):
        if isinstance(entry, str):
            if entry not in names:
                raise ValueError(f"wrt={entry!r} is not a parameter of {_name(f)}{names}")
            entry = names.index(entry)
        entry = int(entry)
        if not 0 <= entry < len(args):
            raise IndexError(f"wrt index {entry} out of range for {len(args)} arguments")
        indices.append(entry)
    return tuple(indices), single


def _name(f: Callable[..., Any]) -> str:
    return getattr(f, "__qualname__", None) or getattr(f, "__name__", repr(f))


def _label(f: Callable[..., Any], index: int) -> str:
    names = _param_names(f)
    return f"{names[index]} (argument {index})" if index < len(names) else f"argument {index}"
