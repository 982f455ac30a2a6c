"""Numba implementations of the run-time helpers generated code calls, for `compile="numba"`.

Each helper of `adgen.runtime` (and the reduction helper `expand_to`) that a derivative of
numbers and NumPy arrays calls gets an `overload`: Numba picks the implementation from the
argument types when it compiles, so the branches the Python helper takes at run time
(`isinstance`, `np.ndim`) cost nothing. Only numbers, arrays and None are covered: for a list, a
dict or a complex value no implementation matches, Numba's typing fails, and
`adgen.compiled` runs the uncompiled derivative with a warning naming the call. An
implementation computes what the Python helper computes for those types, with one exception
documented at `scalar_output`: the message of a refusal.

`install(numba)` registers them once; the module imports Numba only through it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adgen import numba_python, runtime
from adgen.errors import DifferentiationError
from adgen.rules.limits import divide_or_zero, scaled_log, scaled_power
from adgen.rules.numpy_reductions import expand_to
from adgen.runtime_tables import float_target

_types: Any = None  # numba.types, once install() ran
_reduce_compiled: Any = None  # `_reduce_to` compiled, once install() ran


def install(numba: Any) -> None:
    """Register the Numba implementations (once per process)."""
    global _types, _reduce_compiled
    if _types is not None:
        return
    numba_python.install(numba)
    _types = numba.types
    _reduce_compiled = numba.njit(_reduce_to)
    overload = numba.extending.overload
    for helper, typer in _TYPERS.items():
        overload(helper)(typer)


def copied(v: Any) -> Any:
    """A copy of an array, a number itself (for `take` in compiled code)."""
    return v.copy() if isinstance(v, np.ndarray) else v


_array, _number, _none = numba_python.is_array, numba_python.is_number, numba_python.is_none


def _scalar_like(t: Any) -> bool:
    """A shape reference with no axes: a number, None, or a number that may be None (a value
    saved before its first assignment); the Python helpers see the shape `()` in all three."""
    return _number(t) or _none(t) or isinstance(t, _types.Optional) and _number(t.type)


def _basic(index: Any) -> bool:
    """An index that names each position once: integers and slices (no integer arrays)."""
    if isinstance(index, _types.BaseTuple):
        return all(_basic(i) for i in index.types)
    return isinstance(index, (_types.Integer, _types.SliceType))


# ---------------------------------------------------------------- implementations


def _first(g: Any, x: Any) -> Any:
    return g


def _total(g: Any, x: Any) -> Any:
    return np.sum(g)


def _zero(x: Any) -> float:
    return 0.0


def _zeros(x: Any) -> Any:
    return np.zeros_like(x)


def _add(a: Any, b: Any) -> Any:
    return a + b


def _reduce_to(g: Any, x: Any) -> Any:
    """`g` summed over the axes broadcasting added to `x` (leading ones, and length-1 axes of
    `x` that `g` has longer), by a walk over `g`'s entries in C order."""
    gshape = g.shape
    xshape = x.shape
    lead = len(gshape) - len(xshape)
    for axis in range(len(xshape)):
        if xshape[axis] != 1 and xshape[axis] != gshape[axis + lead]:
            raise ValueError("compiled unbroadcast: an adjoint narrower than its operand")
    out = np.zeros(x.shape, dtype=g.dtype)
    flat = out.reshape(out.size)
    values = np.ascontiguousarray(g).reshape(g.size)
    for k in range(g.size):
        rest = k
        at = 0
        stride = 1
        for axis in range(len(gshape) - 1, lead - 1, -1):
            coord = rest % gshape[axis]
            rest //= gshape[axis]
            n = xshape[axis - lead]
            if n != 1:
                at += coord * stride
            stride *= n
        flat[at] += values[k]
    return out


def _reduce_equal_rank(g: Any, x: Any) -> Any:
    if g.shape == x.shape:
        return g
    return _reduce_compiled(g, x)


def _reduce_lead(g: Any, x: Any) -> Any:
    return _reduce_compiled(g, x)


def _widen(g: Any, x: Any) -> Any:
    if g.shape == x.shape:
        return g
    return np.zeros_like(x) + g


def _filled(g: Any, x: Any) -> Any:
    return np.zeros_like(x) + g


def _zero32(x: Any) -> Any:
    return np.float32(0.0)


def _sign(x: Any) -> float:
    return 1.0 if x > 0 else -1.0 if x < 0 else 0.0


def _signs(x: Any) -> Any:
    return np.sign(x)


def _as_is(g: Any, like: Any) -> Any:
    return g


def _broadcast(g: Any, like: Any) -> Any:
    return np.broadcast_to(g, like.shape).copy()


def _same_or_broadcast(g: Any, like: Any) -> Any:
    if g.shape == like.shape:
        return g.copy()
    return np.broadcast_to(g, like.shape).copy()


def _ones_times(g: Any, x: Any, axis: Any = None, keepdims: Any = False) -> Any:
    return g * np.ones_like(x)


def _equal_lengths(*lengths: Any) -> None:
    for n in lengths:
        if n != lengths[0]:
            raise ValueError("zip() arguments have different lengths")


def _same(xs: Any) -> Any:
    return xs


def _copy(v: Any) -> Any:
    return v.copy()


def _as_is_v(v: Any) -> Any:
    return v


def _entry(g: Any, index: Any) -> Any:
    return g[index]


def _whole(g: Any, index: Any) -> Any:
    return g


def _take_item(x: Any, index: Any) -> Any:
    return copied(x[index])


def _take_whole(x: Any, index: Any) -> Any:
    return x


def _add_at_zero(acc: Any, x: Any, index: Any, g: Any) -> Any:
    out = np.zeros_like(x)
    out[index] += g
    return out


def _add_at_array(acc: Any, x: Any, index: Any, g: Any) -> Any:
    if acc.shape != x.shape:
        acc = np.zeros_like(x) + acc
    acc[index] += g
    return acc


def _add_at_item(acc: Any, x: Any, index: Any, g: Any) -> Any:
    acc[index] += g
    return acc


def _zeros_of_items(x: Any) -> Any:
    return np.zeros(len(x))


def _written_item(g: Any, index: Any) -> Any:
    return copied(g[index])


def _zero_item(acc: Any, index: Any) -> Any:
    acc[index] = 0
    return acc


def _unchanged(acc: Any, index: Any) -> Any:
    return acc


def _scaled_power(c: Any, a: Any, e: Any) -> Any:
    if c == 0:
        return 0.0
    if a == 0 and e < 0:
        return c * math.inf
    if a < 0 and e != math.floor(e):
        raise ValueError("a negative number to a fractional power is complex: adgen "
                         "differentiates real-valued code")
    return c * float(a) ** e  # an integer base to a negative integer power: a float


def _scaled_log(s: Any, a: Any) -> Any:
    if s == 0:
        return 0.0
    return s * (math.log(a) if a > 0 else -math.inf if a == 0 else math.nan)


def _divide_or_zero(n: Any, d: Any) -> Any:
    return n / d if d != 0 else 0.0


def _value(value: Any, name: Any, where: Any) -> Any:
    return value


def _value_or_refusal(value: Any, name: Any, where: Any) -> Any:
    if value is None:
        raise DifferentiationError("grad needs a scalar-valued function (a number), but it "
                                   "returned None; use adgen.vjp for other outputs")
    return value


def _itself(g: Any) -> Any:
    return g


def _sum(g: Any) -> Any:
    return np.sum(g)


def _real(x: Any, what: Any) -> Any:
    return x


# ---------------------------------------------------------------- typers
#
# Numba matches an implementation to its typer by parameter names and annotations: both are
# written alike, `name: Any`.


def _scalar_output(value: Any, name: Any, where: Any) -> Any:
    """A number or a 0-d array passes; other values have no implementation, so compilation
    fails and the uncompiled derivative runs, whose `scalar_output` raises adgen's error."""
    if _number(value) or _array(value) and value.ndim == 0:
        return _value
    if isinstance(value, _types.Optional) and _number(value.type):
        return _value_or_refusal  # a function whose every path may not return a number
    return None


def _sum_to_scalar(g: Any) -> Any:
    if _number(g):
        return _itself
    if _array(g):
        return _sum
    return None


def _unbroadcast(g: Any, x: Any) -> Any:
    if _number(g) and (_scalar_like(x) or _array(x)):
        return _first
    if _array(g) and _scalar_like(x):
        return _total
    if _array(g) and _array(x):
        if g.ndim < x.ndim:
            return _first
        return _reduce_equal_rank if g.ndim == x.ndim else _reduce_lead
    return None


def _zeros_like(x: Any) -> Any:
    """A zero like `x`; for a tuple of float64 numbers (the adjoint of a tuple the function
    builds and reads item by item), an array of zeros, which `add_at` and `item` read and
    write as the Python helpers do their list (`shaped_like` takes no such adjoint for a tuple,
    so none is handed out in place of a tuple)."""
    if isinstance(x, _types.Float) and x.bitwidth == 32:
        return _zero32  # a NumPy float32 keeps its type
    if _scalar_like(x):
        return _zero
    if _array(x):
        return _zeros
    if _float_items(x):
        return _zeros_of_items
    return None


def _float_items(x: Any) -> bool:
    return isinstance(x, _types.UniTuple) and x.dtype == _types.float64


def _written(g: Any, index: Any) -> Any:
    """`written(g, i)`: where the index names each position once (integers, slices), the
    item itself; integer-array indices have no implementation here, and run uncompiled."""
    if _array(g) and g.ndim >= 1 and _basic(index):
        return _written_item
    if _number(g):
        return _whole  # the item of an adjoint that is still a plain zero
    return None


def _zero_at(acc: Any, index: Any) -> Any:
    if _array(acc) and acc.ndim >= 1 and _basic(index):
        return _zero_item
    if _number(acc):
        return _unchanged  # a zero not made an array yet
    return None


def _shaped_like(g: Any, x: Any) -> Any:
    if _array(x) and _array(g) and g.ndim == x.ndim and g.dtype == x.dtype:
        return _widen
    if _array(x) and (_number(g) or _array(g)):
        return _filled
    if _scalar_like(x) and (_number(g) or _array(g)):
        return _first
    return None


def _add_adjoints(a: Any, b: Any) -> Any:
    if (_number(a) or _array(a)) and (_number(b) or _array(b)):
        return _add
    return None


def _broadcast_like(g: Any, like: Any) -> Any:
    if _scalar_like(like):
        return _as_is if _number(g) else None
    if not _array(like):
        return None
    if _number(g):
        return _broadcast
    if _array(g) and g.ndim <= like.ndim:
        return _same_or_broadcast
    return None


def _sign_typer(x: Any) -> Any:
    if _number(x):
        return _sign
    if _array(x):
        return _signs
    return None


def _real_only(x: Any, what: Any) -> Any:
    if _number(x) or _array(x) and not isinstance(x.dtype, _types.Complex):
        return _real
    return None


def _expand_to(g: Any, x: Any, axis: Any = None, keepdims: Any = False) -> Any:
    """Only the reduction of every axis (`np.sum(x)`): a reduction over some axes has no
    implementation here, and runs uncompiled."""
    if _number(g) and _array(x) and _none(axis):
        return _ones_times
    return None


def _same_lengths(*lengths: Any) -> Any:
    return _equal_lengths if all(isinstance(n, _types.Integer) for n in lengths) else None


def _float_target(value: Any, var: Any, where: Any) -> Any:
    """A float array passes; an array of integers has no implementation (the uncompiled
    derivative runs, whose `float_target` raises adgen's error)."""
    return _checked if _array(value) and isinstance(value.dtype, _types.Float) else None


def _checked(value: Any, var: Any, where: Any) -> Any:
    return None


def _as_sequence(xs: Any) -> Any:
    if _array(xs) or isinstance(xs, (_types.BaseTuple, _types.List, _types.RangeType)):
        return _same
    return None


def _copied(v: Any) -> Any:
    if _array(v):
        return _copy
    if _number(v):
        return _as_is_v
    return None


def _take(x: Any, index: Any) -> Any:
    if _array(x) and x.ndim >= 1:
        return _take_item
    if _number(x) or _array(x):
        return _take_whole
    return None


def _item(g: Any, index: Any) -> Any:
    """An item of an adjoint: of an array, a list or a tuple of one type; a plain zero (a
    number) is its own item."""
    if (_array(g) and g.ndim >= 1 or isinstance(g, (_types.UniTuple, _types.List))) and \
            isinstance(index, _types.Integer):
        return _entry
    if _number(g):
        return _whole
    return None


def _add_at(acc: Any, x: Any, index: Any, g: Any) -> Any:
    """Only for indices that name each position once (`np.add.at` is what repeated positions
    need: integer-array indices have no implementation here, and run uncompiled)."""
    if _float_items(x) and _array(acc) and acc.ndim == 1 and isinstance(
            index, _types.Integer) and _number(g):
        return _add_at_item  # an item of a tuple's adjoint (`_zeros_like`)
    if not (_array(x) and _basic(index) and (_number(g) or _array(g))):
        return None
    if _number(acc):
        return _add_at_zero
    if _array(acc) and acc.ndim == x.ndim:
        return _add_at_array
    return None


def _numbers(*ts: Any) -> bool:
    return all(_number(t) for t in ts)


def _scaled_power_typer(c: Any, a: Any, e: Any) -> Any:
    return _scaled_power if _numbers(c, a, e) else None


def _scaled_log_typer(s: Any, a: Any) -> Any:
    return _scaled_log if _numbers(s, a) else None


def _divide_or_zero_typer(n: Any, d: Any) -> Any:
    return _divide_or_zero if _numbers(n, d) else None


_TYPERS = {
    copied: _copied,
    runtime.as_sequence: _as_sequence,
    runtime.same_lengths: _same_lengths,
    float_target: _float_target,
    runtime.take: _take,
    runtime.item: _item,
    runtime.add_at: _add_at,
    runtime.written: _written,
    runtime.zero_at: _zero_at,
    scaled_power: _scaled_power_typer,
    scaled_log: _scaled_log_typer,
    divide_or_zero: _divide_or_zero_typer,
    runtime.scalar_output: _scalar_output,
    runtime.sum_to_scalar: _sum_to_scalar,
    runtime.unbroadcast: _unbroadcast,
    runtime.zeros_like: _zeros_like,
    runtime.shaped_like: _shaped_like,
    runtime.add_adjoints: _add_adjoints,
    runtime.broadcast_like: _broadcast_like,
    runtime.sign: _sign_typer,
    runtime.real_only: _real_only,
    expand_to: _expand_to,
}
