"""Calls whose result shares objects with an argument, for the alias walk (`aliases.py`):
`np.array(v, copy=False)` and `v.astype(t, copy=False)` may be `v` itself or a view of it
(`uncopied`); `list(v)`, `v.copy()` and the like make a new container holding `v`'s items
(`shallow_copy`)."""

from __future__ import annotations

import gast

_UNCOPIED = {"array", "astype"}  # views or the same object given `copy=False` (or None)


def shallow_copy(call: gast.Call, names: set[str]) -> bool:
    """`v.copy()`, `list(v)`, `tuple(v)`, `dict(v)`, `sorted(v)`, `copy.copy(v)`: a new
    container (for a list or a dict) holding `v`'s items."""
    func = call.func
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and (
            func.value.id == "copy" and func.value.id not in names):  # `copy.copy(v)`
        return func.attr == "copy" and len(call.args) == 1 and isinstance(
            call.args[0], gast.Name) and not call.keywords
    if isinstance(func, gast.Attribute):
        return func.attr == "copy" and not call.args and not call.keywords and isinstance(
            func.value, gast.Name)
    return isinstance(func, gast.Name) and func.id in ("list", "tuple", "dict", "sorted") and \
        func.id not in names and len(call.args) == 1 and isinstance(call.args[0], gast.Name)


def uncopied(call: gast.Call) -> bool:
    """`np.array(v, copy=False)`, `v.astype(t, copy=None)`: `v` itself or a view of it."""
    func = call.func
    called = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", None)
    return called in _UNCOPIED and any(
        k.arg == "copy" and isinstance(k.value, gast.Constant) and k.value.value in (False, None)
        for k in call.keywords)
