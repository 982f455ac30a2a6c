"""What compiled derivatives need of Python and NumPy that Numba lacks, for `compile="numba"`.

The reverse sweep of a loop walks `reversed(range(...))`, and of a loop left early
`range(...)[:n]`; a checkpointed loop's block reads its steps as `steps[i]`; a flag saved
before its first assignment is read back as a value that may be None and tested in an `if`;
the tangent of `np.sum` spells out its defaults (`keepdims=False`). Numba has none of these,
so this module adds them with Python's meaning: `reversed` is reached under adgen's name
(`REPLACED`: compiled code binds the name to `reversed_sequence`, leaving Numba's own
builtins alone), the others are overloads that apply only to the types Numba rejects today (a
slice or an item of a range, the truth of an optional number, `np.sum` with `axis=None`,
`dtype=None`, `keepdims=False`).

`install(numba)` registers them once; the module imports Numba only through it.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

_types: Any = None  # numba.types, once install() ran


def install(numba: Any) -> None:
    """Register the overloads (once per process)."""
    global _types
    if _types is not None:
        return
    _types = numba.types
    overload = numba.extending.overload
    overload(reversed_sequence)(_reversed)
    overload(operator.getitem)(_range_slice)
    overload(bool)(_truth)
    overload(np.sum)(_np_sum)


def reversed_sequence(seq: Any) -> Any:
    """`reversed(seq)`, which compiled code calls under that name: Numba has no `reversed`."""
    return reversed(seq)


REPLACED = {reversed: reversed_sequence}
"""Builtins that compiled code calls through adgen's function of the same meaning."""


# ---------------------------------------------------------------- types


def is_array(t: Any) -> bool:
    return isinstance(t, _types.Array)


def is_number(t: Any) -> bool:
    return isinstance(t, (_types.Number, _types.Boolean)) and not isinstance(t, _types.Complex)


def is_none(t: Any) -> bool:
    return isinstance(t, (_types.NoneType, _types.Omitted)) or t is None


# ---------------------------------------------------------------- implementations and typers


def _backwards(seq: Any) -> Any:
    n = len(seq)
    return range(seq.start + (n - 1) * seq.step, seq.start - seq.step, -seq.step)


def _flipped(seq: Any) -> Any:
    return seq[::-1]


def _sliced(r: Any, part: Any) -> Any:
    start, stop, step = part.indices(len(r))
    return range(r.start + start * r.step, r.start + stop * r.step, r.step * step)


def _range_item(r: Any, part: Any) -> Any:
    n = len(r)
    j = part + n if part < 0 else part
    if j < 0 or j >= n:
        raise IndexError("range object index out of range")
    return r.start + j * r.step


def _optional_truth(x: Any) -> bool:
    if x is None:
        return False
    return x != 0


def _whole_sum(a: Any, axis: Any = None, dtype: Any = None, keepdims: Any = False) -> Any:
    return np.sum(a)


def _reversed(seq: Any) -> Any:
    if isinstance(seq, _types.RangeType):
        return _backwards
    if is_array(seq) and seq.ndim >= 1 or isinstance(seq, _types.List):
        return _flipped
    return None


def _range_slice(r: Any, part: Any) -> Any:
    """`range(...)[a:b]` (the reverse sweep of a loop left early) and `range(...)[i]` (a
    loop over the steps of a checkpointed loop's block): Numba has neither, so this adds
    them, with Python's meaning."""
    if isinstance(r, _types.RangeType) and isinstance(part, _types.SliceType):
        return _sliced
    if isinstance(r, _types.RangeType) and isinstance(part, _types.Integer):
        return _range_item
    return None


def _np_sum(a: Any, axis: Any = None, dtype: Any = None, keepdims: Any = False) -> Any:
    """`np.sum(a, axis=None, dtype=None, keepdims=False)`, the defaults spelled out as the
    tangent rule writes them: Numba's own `np.sum` takes no `keepdims`."""
    if is_array(a) and is_none(axis) and is_none(dtype) and (
            isinstance(keepdims, _types.Omitted) or getattr(keepdims, "literal_value", 1) is False):
        return _whole_sum
    return None


def _truth(x: Any) -> Any:
    """The truth of a value that may be None (a flag saved before its first assignment, read
    back from the stack): False for None, as in Python. Numba has none for optional values."""
    if isinstance(x, _types.Optional) and is_number(x.type):
        return _optional_truth
    return None
