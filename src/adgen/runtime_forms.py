"""What generated code calls for Python's own forms: `sorted`, `min`/`max` with `key`,
`tuple(...)`, `dict(...)`, `c[k] += v` of an item another name may hold (`updated_item`),
and the bookkeeping of `try` statements.

The orderings are nondifferentiable (an index or a permutation, piecewise constant in the
values); the items they pick are read by subscripts, whose derivatives the sweeps already
know. Imports nothing of adgen but `errors` and `runtime`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adgen.errors import DifferentiationError
from adgen.runtime import as_sequence, changed_in_place, is_array, zeros_like


def sort_order(xs: Any, key: Any = None, reverse: bool = False) -> list[int]:
    """The positions of `xs` in the order `sorted(xs, key=key, reverse=reverse)` puts its
    items (stable, as Python's sort is, also with `reverse=True`)."""
    seq = as_sequence(xs)
    if key is None:
        return sorted(range(len(seq)), key=seq.__getitem__, reverse=reverse)
    keys = [key(v) for v in seq]
    return sorted(range(len(seq)), key=keys.__getitem__, reverse=reverse)


def extreme_index(xs: Any, key: Any, largest: bool) -> int:
    """The position of the item `max(xs, key=key)` (`min` when not `largest`) returns: the
    first one whose key is largest (smallest), as Python's `max` and `min` choose."""
    seq = as_sequence(xs)
    if not len(seq):
        raise ValueError(f"{'max' if largest else 'min'}() iterable argument is empty")
    keys = [key(v) for v in seq]
    best = 0
    for i in range(1, len(keys)):
        if (keys[i] > keys[best]) if largest else (keys[i] < keys[best]):
            best = i
    return best


def as_tuple(xs: Any) -> tuple:
    """`tuple(xs)` of the list the lowering built from the items of `xs`."""
    return tuple(xs)


def list_like(g: Any, xs: Any) -> Any:
    """The adjoint of `as_tuple(xs)`: a list of the items' adjoints (zeros for a plain zero)."""
    if isinstance(g, (list, tuple)):
        return list(g)
    return zeros_like(list(xs))


def mapping_only(d: Any, where: str) -> None:
    """`dict(d)` is differentiated item by item for a mapping `d` only."""
    if not isinstance(d, Mapping):
        raise DifferentiationError(
            f"{where}: dict(...) of a {type(d).__name__} is not supported; adgen "
            "differentiates dict(mapping), dict(zip(keys, values)) and dict(k=v, ...): build "
            "the dict with a loop of d[k] = v")


class no_suppression:  # noqa: N801  (used like the manager it wraps: `with no_suppression(m):`)
    """A `with` manager as it is, except that an exception it would suppress is refused: the
    reverse sweep replays the whole body of a `with` statement, which a suppressed exception
    leaves half run."""

    def __init__(self, manager: Any, where: str) -> None:
        self.manager, self.where = manager, where

    def __enter__(self) -> Any:
        return self.manager.__enter__()

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> bool:
        if self.manager.__exit__(kind, value, traceback) and kind is not None:
            raise DifferentiationError(
                f"{self.where}: the `with` manager suppressed {kind.__name__} ({value}); reverse "
                "mode replays a `with` body as a whole: catch the exception with `try` inside "
                "the `with` statement instead") from value
        return False


def other_items(d: Any, given: tuple, named: tuple, callee: str, xs: Any = (),
                filled: tuple = ()) -> Any:
    """What `**d` leaves for a callee's `**kwargs`: the items whose keys name no parameter
    (`named`); Python's TypeError for a key also given by name or position (`given`, and the
    first `len(xs)` of `filled`, the parameters a `*xs` fills)."""
    if not isinstance(d, dict):
        return d  # a zero tangent or adjoint
    given = (*given, *filled[: len(xs)])
    for key in d:
        if key in given:
            raise TypeError(f"{callee}() got multiple values for argument {key!r}")
    return {k: v for k, v in d.items() if k not in named}


def items_like(g: Any, like: Any) -> Any:
    """The adjoint of `other_items(like, ...)`: `g`'s items for the keys of `like` it has,
    zeros for the others."""
    if not isinstance(like, dict):
        return g
    has = isinstance(g, dict)
    return {k: g[k] if has and k in g else zeros_like(v) for k, v in like.items()}


def star_fits(xs: Any, limit: int, callee: str) -> None:
    """Python's TypeError for a `*xs` with more items than parameters left for them."""
    if len(xs) > limit:
        raise TypeError(f"{callee}() takes {limit} more positional arguments than the call "
                        f"gives by name, but *{type(xs).__name__} has {len(xs)}")


def missing_argument(callee: str, name: str) -> Any:
    """Python's TypeError for a parameter that neither the call nor its `**d` gives."""
    raise TypeError(f"{callee}() missing 1 required argument: {name!r}")


def attempt() -> bool:
    """The flag a `try` statement's body clears when it is left by an exception."""
    return True


def truncate(stack: list, n: int) -> None:
    """Drop what a `try` body left by an exception pushed onto the stack after its length
    was `n` (the reverse sweep replays the handler, not the body)."""
    del stack[n:]


def caught_after_progress(where: str) -> None:
    """Refuse a caught exception raised inside a compound statement of a `try` body (a loop,
    an `if`, a nested `try`) after it may have run part of it: reverse mode replays the body's
    steps that completed, and cannot tell what such a statement did before it raised."""
    raise DifferentiationError(
        f"{where}: an exception was caught that was raised inside a loop, an `if` or a nested "
        "`try` of the `try` body; reverse mode replays the steps of the body that completed, "
        "then the handler, and cannot replay part of such a statement: put the statement "
        "that may raise in a `try` of its own inside the loop (or `if`)")


def updated_item(container: Any, item: Any, update: str, where: str) -> None:
    """Before `update`, a `c[k] += v` where another name may hold the item `c[k]`: fine for a
    number (a new value) and for an element of an array (a write the trace follows); an array
    or a list held by a list or a dict is changed in place, which that other name would see."""
    if not is_array(container) and changed_in_place(item):
        raise DifferentiationError(
            f"{where}: `{update}` changes in place a {type(item).__name__} another name may "
            "hold: adgen follows values, not shared memory; assign a new value (`c[k] = c[k] "
            "+ ...`) or copy it where the names meet")
