"""Writes through a second name for the same object, which adgen refuses.

The trace follows values: `w = v` makes `w` a variable of its own, with its own tangent and
adjoint. Python shares the object, so after `w = v; w[0] = y` (or a NumPy view such as
`w = v[1:]`, `w = v.reshape(2, 2)`, `w = v.T`), `v` has changed too, and a derivative that
follows values would silently miss it. So a function that writes into (element assignment,
`.append`, `.pop`, ...) a name that may share its object with another name is refused at the
write, with the line where the two names met:

* `w = v` (both local names or parameters): a write into either;
* `w = v[...]`, `w = v.T`, `w = v.reshape(...)` and the other NumPy view methods, `w =
  np.reshape(v, ...)` and the other view functions, `for w in v`: a write into `w` (a write
  into `v` is allowed: an element read of a number, `x = xs[i]`, then `xs[i] = ...`, is
  ordinary code).

`w += x` where `w` may share its object is checked at run time instead: an array or a list
there is refused, a number is a new value as usual.

The walk is in program order: any new value (`w = np.zeros(3)`, `v.copy()`, `list(v)`,
arithmetic, displays) ends what a name shared, so a write before the names meet, or after
one of them is rebound, is fine; branches merge, and loop bodies are walked until nothing
new is shared.
"""

from __future__ import annotations

from typing import Any

import gast

_VIEW_METHODS = {"reshape", "view", "ravel", "squeeze", "transpose", "swapaxes", "T",
                 "real", "imag", "diagonal"}
_VIEW_FUNCTIONS = {"reshape", "ravel", "squeeze", "transpose", "swapaxes", "asarray",
                   "atleast_1d", "atleast_2d", "atleast_3d", "expand_dims", "moveaxis",
                   "diagonal", "broadcast_to"}
_MUTATING = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
             "update", "setdefault", "popitem", "fill", "resize", "put", "itemset"}
_FIX = ("adgen follows values, not shared memory; make a copy where the two meet "
        "(`{written} = {other}.copy()` for an array, `list({other})` for a list) or write "
        "into one name only")

Pairs = frozenset  # of (name, other, where, both): `name` may share its object with `other`


def check(fn: gast.FunctionDef, names: set[str], error: Any) -> set[int]:
    """Raise `error(node, what, fix)` at the first write through a possible alias. Returns
    the ids of the `w += ...` statements whose `w` may share its object: for numbers that is
    a new value, for an array or a list it changes the shared object, which only the values
    at run time tell (the lowering checks them there)."""
    walk = _Walk(names, error)
    walk.block(fn.body, frozenset())
    return walk.shared_updates


class _Walk:
    """Which names may share an object, in program order."""

    def __init__(self, names: set[str], error: Any) -> None:
        self.names, self.error = names, error
        self.shared_updates: set[int] = set()

    def block(self, body: list[gast.AST], pairs: Pairs) -> Pairs:
        for s in body:
            pairs = self.stmt(s, pairs)
        return pairs

    def stmt(self, s: gast.AST, pairs: Pairs) -> Pairs:
        if isinstance(s, gast.If):
            return self.block(s.body, pairs) | self.block(s.orelse, pairs)
        if isinstance(s, (gast.For, gast.While)):
            return self.loop(s, pairs)
        written = _written(s)
        if written is not None:
            self.refuse_write(s, written, pairs)
        if isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Name) and any(
                s.target.id in (p[0], p[1]) for p in pairs):
            self.shared_updates.add(id(s))
        if isinstance(s, gast.Assign):
            for t in s.targets:
                for n in gast.walk(t):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                        pairs = _rebind(pairs, n.id)
            if len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
                source = _source(s.value, self.names)
                if source is not None and source[0] != s.targets[0].id:
                    pairs = pairs | {(s.targets[0].id, source[0], s, source[1])}
        return pairs

    def loop(self, s: gast.AST, pairs: Pairs) -> Pairs:
        seen = pairs
        while True:
            entry = seen
            if isinstance(s, gast.For) and isinstance(s.target, gast.Name):
                entry = _rebind(entry, s.target.id)
                if isinstance(s.iter, gast.Name) and s.iter.id in self.names:
                    entry = entry | {(s.target.id, s.iter.id, s, False)}  # an item of it
            after = seen | self.block(s.body, entry)
            if after == seen:
                return self.block(s.orelse, seen)
            seen = after

    def refuse_write(self, s: gast.AST, written: str, pairs: Pairs) -> None:
        for one, other, where, both in pairs:
            if one == written or (both and other == written):
                partner = other if one == written else one
                raise self.error(s, f"writing into `{written}`, which may share its object "
                                 f"with `{partner}` (line {getattr(where, 'lineno', '?')})",
                                 _FIX.format(written=written, other=partner))


def _rebind(pairs: Pairs, name: str) -> Pairs:
    """`name` now holds a new object: it shares nothing any more."""
    return frozenset(p for p in pairs if name not in (p[0], p[1]))


def _source(value: gast.AST, names: set[str]) -> tuple[str, bool] | None:
    """(the local name `value` may share its object with, whether it is that name itself)."""
    if isinstance(value, gast.Name):
        return (value.id, True) if value.id in names else None
    inner = None
    if isinstance(value, gast.Subscript):
        inner = value.value
    elif isinstance(value, gast.Attribute) and value.attr in _VIEW_METHODS:
        inner = value.value
    elif isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute):
        receiver = value.func.value
        if isinstance(receiver, gast.Name) and receiver.id in names:
            inner = receiver if value.func.attr in _VIEW_METHODS else None
        elif value.func.attr in _VIEW_FUNCTIONS and value.args:
            inner = value.args[0]
    if isinstance(inner, gast.Name) and inner.id in names:
        return inner.id, False
    return None


def _written(s: gast.AST) -> str | None:
    """The name whose object `s` changes in place, if any."""
    targets = s.targets if isinstance(s, gast.Assign) else (
        [s.target] if isinstance(s, gast.AugAssign) else [])
    for t in targets:
        if isinstance(t, gast.Subscript):
            while isinstance(t, gast.Subscript):
                t = t.value
            if isinstance(t, gast.Name):
                return t.id
    if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
        func = s.value.func
        if isinstance(func, gast.Attribute) and func.attr in _MUTATING and isinstance(
                func.value, gast.Name):
            return func.value.id
    return None
