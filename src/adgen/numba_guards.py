"""The values compiled code took as constants, checked before each call.

Numba freezes the globals a compiled function reads (numbers, tuples, arrays: their values at
compile time), and a variant built for compiled code writes the numbers the user's function
reads from its globals as constants (`variants`). Plain Python reads them when it runs, so
after `SCALE = 3.0` (or `COEFFS[0] = 2.0`) the primal computes with the new value while the
compiled derivative would keep the old: a silently wrong derivative. `Frozen` records every
such value when code is compiled (the globals of the generated code and of every Python
function compiled with it, and those of the user's own function and the functions it reaches
by global names), and `changed()` tells, before a call, whether one of them was rebound or an
array among them written into; the compiled derivative then drops its compiled code and
compiles again for the values the primal now sees.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np

_MISSING = object()


def _data(value: Any) -> bool:
    """Whether compiled code would take `value`, read from a global, as a constant."""
    if isinstance(value, (bool, int, float, complex, str, np.generic, np.ndarray)):
        return True
    return isinstance(value, tuple) and all(_data(v) for v in value)


class Frozen:
    """`(namespace, name, value, snapshot)` per global value compiled code depends on."""

    def __init__(self) -> None:
        self.values: list[tuple[dict[str, Any], str, Any, Any]] = []
        self._seen: set[tuple[int, str]] = set()
        self._functions: set[int] = set()

    def note(self, namespace: dict[str, Any], name: str) -> None:
        """Record `namespace[name]` if it holds a value compiled code freezes."""
        value = namespace.get(name, _MISSING)
        if value is _MISSING or not _data(value) or (id(namespace), name) in self._seen:
            return
        self._seen.add((id(namespace), name))
        snapshot = value.copy() if isinstance(value, np.ndarray) else None
        self.values.append((namespace, name, value, snapshot))

    def note_function(self, f: Any) -> None:
        """Record the global values `f` reads, and those of the Python functions it reads by
        global names (the user's helpers), transitively."""
        if not isinstance(f, types.FunctionType) or id(f) in self._functions:
            return
        self._functions.add(id(f))
        namespace = f.__globals__
        for name in _global_names(f.__code__):
            value = namespace.get(name, _MISSING)
            if isinstance(value, types.FunctionType):
                self.note_function(value)
            else:
                self.note(namespace, name)

    def changed(self) -> bool:
        """Whether a recorded global now holds another object, or a recorded array other
        values."""
        for namespace, name, value, snapshot in self.values:
            now = namespace.get(name, _MISSING)
            if now is not value or snapshot is not None and not (
                    now.shape == snapshot.shape and np.array_equal(
                        now, snapshot, equal_nan=snapshot.dtype.kind in "fc")):
                return True
        return False

    def clear(self) -> None:
        self.values.clear()
        self._seen.clear()
        self._functions.clear()


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names
