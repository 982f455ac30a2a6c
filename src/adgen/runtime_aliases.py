"""Run-time checks of writes through names that may share an object, where only the values
tell (`frontend/aliases.py` decides where): `numbers_only` (`w += x` on a shared name),
`unshared` (an element write into an array a live view was read from), `number_item` (an item
`v[i]` put into a container that a later write and read would see through both names),
`own_items` (a write into a shallow copy's shared items)."""

from __future__ import annotations

from typing import Any

import numpy as np

from adgen.arrays import basic_index, is_array
from adgen.errors import DifferentiationError


def numbers_only(value: Any, var: str, where: str) -> None:
    """`var += ...` where another name may share `var`'s object: fine for a number (a new
    value), refused for an array or a list, which Python changes in place."""
    if isinstance(value, (list, dict)) or is_array(value) and value.ndim:
        raise DifferentiationError(
            f"{where}: `{var} += ...` changes the {type(value).__name__} `{var}` in place, and "
            f"another name may share it: adgen follows values, not shared memory; write "
            f"`{var} = {var} + ...` or copy it where the names meet")


def number_item(value: Any, container: str, text: str, whole: str, conflict: str,
                where: str) -> None:
    """`value` (the item `text` of `whole`) goes into `container`, and `conflict` writes into
    one of them while the other is read later: fine for a number (a value of its own),
    refused for an array, a list or a dict, which both would share."""
    if _mutable(value):
        raise DifferentiationError(
            f"{where}: `{container}` holds `{text}`, {_kind(value)} that shares its "
            f"object with `{whole}`, and {conflict}: adgen follows values, not shared memory; "
            f"put a copy into `{container}` (`{text}.copy()` for an array, `list({text})` for "
            f"a list) or write into one name only")


def _kind(value: Any) -> str:
    return "an array" if is_array(value) else f"a {type(value).__name__}"


def _mutable(value: Any) -> bool:
    if isinstance(value, tuple):
        return any(_mutable(v) for v in value)
    return isinstance(value, (list, dict, set, bytearray)) or is_array(value) and not (
        isinstance(value, np.generic))


def unshared(view: Any, value: Any, view_name: str, value_name: str, where: str,
             index: Any = None) -> None:
    """Before `value[index] = ...` where `view` was read out of `value`: refused when `view` is
    an array that sees the memory written (a view of it), since the write changes it too. A
    write elsewhere (row `i` while `view` is row `i - 1`) leaves `view` as it was."""
    if not (isinstance(view, np.ndarray) and view.ndim):
        return
    written = value
    if index is not None and isinstance(value, np.ndarray) and basic_index(index):
        parts = index if isinstance(index, tuple) else (index,)
        if not any(p is Ellipsis for p in parts):
            written = value[(*parts, Ellipsis)]  # a view, also of a single element
    if np.may_share_memory(view, written):
        # NumPy's views; Dask arrays are values, and other libraries have no shared test
        raise DifferentiationError(
            f"{where}: writing into `{value_name}` changes `{view_name}`, a NumPy view of it: "
            f"adgen follows values, not shared memory; take a copy "
            f"(`{view_name} = {value_name}[...].copy()`) or write into one name only")


def own_items(value: Any, other: Any, deep: bool, names: str, where: str) -> None:
    """Before a write into `value` (`deep`: into one of its items) where `value` or `other` is
    a shallow copy of the other (`list(v)`, `v.copy()`, `dict(v)`): refused when they share what
    is written, an item (a list's `copy`) or a row (`list(a)` of an array `a`)."""
    def numeric(a: Any) -> bool:
        return is_array(a) and getattr(a.dtype, "kind", "O") != "O"

    items = other.values() if isinstance(other, dict) else other
    if not (numeric(value) and numeric(other)) and (deep or numeric(value) and any(
            isinstance(i, np.ndarray) and np.may_share_memory(i, value) for i in items)):
        raise DifferentiationError(f"{where}: writing into {names} changes both: one holds the "
                                   "other's items (a shallow copy); adgen follows values, not "
                                   "shared memory; copy the items too (`copy.deepcopy`, "
                                   "`[r.copy() for r in rows]`)")
