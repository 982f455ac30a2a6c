"""Records: named tuples and dataclass instances, containers whose items are named fields.

A record's *fields* are what its constructor takes, in order: a named tuple's `_fields`, a
dataclass's fields with `init=True` (a field computed after `__init__` is not one: adgen
cannot see how it follows from the others). Generated code reads a field of a
differentiated record as an item of a container (`p.w` is the item of `p` at the position
of `w`); adjoints of records are accumulated as lists of field adjoints and given the
record's type again by `rebuild` (`runtime.shaped_like`, `pytree.like`).

Imports nothing of adgen: the runtime and the parameter trees both build on it.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def is_dataclass(x: Any) -> bool:
    """Whether `x` is a dataclass instance (not a dataclass itself); cheap: adjoints of every
    type are asked, so the answer is kept per type."""
    kind = type(x)
    known = _DATACLASS_TYPES.get(kind)
    if known is None:
        known = _DATACLASS_TYPES[kind] = dataclasses.is_dataclass(kind)
    return known


_DATACLASS_TYPES: dict[type, bool] = {}


def is_record(x: Any) -> bool:
    return is_namedtuple(x) or is_dataclass(x)


def field_names(x: Any) -> list[str]:
    """The fields of the record `x`, in the order its constructor takes them (kept per type:
    generated code asks at every field read)."""
    kind = type(x)
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = (list(kind._fields) if is_namedtuple(x) else
                                      [f.name for f in dataclasses.fields(x) if f.init])
    return names


_FIELD_NAMES: dict[type, list[str]] = {}


def items(x: Any) -> list[Any]:
    """The values of the fields of the record `x`, in order."""
    if is_namedtuple(x):
        return list(x)
    return [getattr(x, n) for n in field_names(x)]


def rebuild(x: Any, values: list[Any]) -> Any:
    """A record of the type of `x` whose fields hold `values` (a dataclass through
    `dataclasses.replace`, so fields that `__init__` does not take keep their defaults)."""
    if is_namedtuple(x):
        return type(x)(*values)
    return dataclasses.replace(x, **dict(zip(field_names(x), values, strict=True)))
