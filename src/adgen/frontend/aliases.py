"""Writes through a second name for the same object, which adgen refuses.

The trace follows values: `w = v` makes `w` a variable of its own, with its own tangent and
adjoint. Python shares the object, so after `w = v; w[0] = y` (or a NumPy view such as
`w = v[1:]`, `w = v.reshape(2, 2)`, `w = v.T`), `v` has changed too, and a derivative that
follows values would silently miss it. The walk below keeps, in program order, which names
may share an object, as pairs `(one, other, where, kind)`:

* `same` — `one` and `other` may be the same object: `w = v`, `m = v = np.zeros(3)`,
  `a, b = z, z`, `a = b = []`. A write into either is refused, unless the other name is
  never read after it (then nothing reads the changed object under the other name).
* `part` — `one` may be an item or a view of `other`: `w = v[...]`, `w = v.T`,
  `w = v.reshape(...)` and the other view methods and functions, `for w in v`, a field
  `w = v.layer.w` (any attribute but `shape`, `ndim`, `size`, `dtype`), `for w in v.items`.
  A write into `one` is refused; so is a write two subscripts deep into `other`
  (`v[i][j] = ...` changes the row `w` may be). A plain element write into `other`
  (`x = xs[i]`, then `xs[i] = ...`) is ordinary code; it is checked at run time
  (`runtime.unshared`) that `w` is not an array sharing `v`'s memory, which only the
  values tell.
* `holds<d>` — the container `one` holds `other`, `d` subscripts deep: `[z, z]`, `(x, y)`,
  `{"w": x}`, `xs.append(z)`, `d[k] = z` (1), `[[z]]`, `D[i][j] = z` (2). A write into
  `other` is refused (the container's element is that object), and so is a write more than
  `d` subscripts deep into `one` (`pair[0][0] = ...` changes `other`); replacing the element
  (`pair[0] = y`) is fine.
  A list repeated by `*` whose items are not numbers (`[[0.0] * n] * n`) holds the same row
  many times: a write two subscripts deep into it is refused.

`w += x` where `w` may share its object is checked at run time instead: an array or a list
there is refused, a number is a new value as usual.

Calls of the user's functions that write into their arguments (`effects`) count as writes
into the names passed, and make the same refusals.

Any new value (`w = np.zeros(3)`, `v.copy()`, `list(v)`, arithmetic, comprehensions) ends
what a name shared, so a write before the names meet, or after one of them is rebound, is
fine; branches merge, and loop bodies are walked until nothing new is shared.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gast

from adgen.codegen import astutil

_VIEW_METHODS = {"reshape", "view", "ravel", "squeeze", "transpose", "swapaxes", "T",
                 "real", "imag", "diagonal"}
_VIEW_FUNCTIONS = {"reshape", "ravel", "squeeze", "transpose", "swapaxes", "asarray",
                   "atleast_1d", "atleast_2d", "atleast_3d", "expand_dims", "moveaxis",
                   "diagonal", "broadcast_to"}
MUTATING = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
             "update", "setdefault", "popitem", "fill", "resize", "put", "itemset"}
_METADATA = {"shape", "ndim", "size", "dtype"}  # attributes that are new values, never parts
_HOLDING = {"append", "insert", "setdefault"}  # methods whose arguments become elements
_FIX = ("adgen follows values, not shared memory; make a copy where the two meet "
        "(`{written} = {other}.copy()` for an array, `list({other})` for a list) or write "
        "into one name only")

SAME, PART, REPEATS = "same", "part", "repeats"


def holds(depth: int) -> str:
    """The kind of a pair whose container holds the other name `depth` subscripts deep."""
    return f"holds{depth}"


def _held_at(kind: str) -> int:
    return int(kind[5:]) if kind.startswith("holds") else 0
Pairs = frozenset  # of (one, other, where, kind)

# The arguments a call writes into (a call of a user function that changes its arguments),
# each with whether the write certainly changes the object (`False`: only `p op= ...`).
Effects = Callable[[gast.Call], "list[tuple[gast.AST, bool]]"]


class Checks:
    """What the lowering must check at run time: `w += x` statements whose `w` may share its
    object (`updates`), and element writes into a name an array may be a view of (`views`:
    statement id -> the names that may be views of the written one), and arguments a callee
    may change with `p op= ...` that may share their object (`arguments`: checked like
    `w += x`)."""

    def __init__(self) -> None:
        self.updates: set[int] = set()
        self.views: dict[int, list[str]] = {}
        self.arguments: set[int] = set()  # ids of arguments a callee may update with `op=`


def check(fn: gast.FunctionDef, names: set[str], error: Any,
          effects: Effects | None = None) -> Checks:
    """Raise `error(node, what, fix)` at the first write through a possible alias; return
    what must be checked at run time."""
    walk = _Walk(names, error, effects or (lambda call: []), _Liveness(fn.body))
    walk.params = {a.id for a in fn.args.args}
    walk.block(fn.body, frozenset())
    return walk.checks


class _Liveness:
    """Whether a name is read after a statement: later in program order, or anywhere in the
    outermost loop around the statement (a later iteration)."""

    def __init__(self, body: list[gast.AST]) -> None:
        self.position: dict[int, int] = {}
        self.loop: dict[int, tuple[int, int]] = {}  # statement -> its outermost loop's span
        self.reads: dict[str, list[int]] = {}
        self.count = 0
        self._number(body, [])

    def _number(self, body: list[gast.AST], inside: list[int]) -> None:
        for s in body:
            here = self.count
            self.count += 1
            self.position[id(s)] = here
            if isinstance(s, (gast.For, gast.While, gast.If)):
                self._read([s.iter if isinstance(s, gast.For) else s.test], here)
                nested = inside + [id(s)] if isinstance(s, (gast.For, gast.While)) else inside
                self._number(s.body + s.orelse, nested)
                if isinstance(s, (gast.For, gast.While)) and not inside:
                    span = (here, self.count)
                    for key, pos in self.position.items():
                        if here <= pos < self.count:
                            self.loop[key] = span
            else:
                self._read([s], here)

    def _read(self, nodes: list[gast.AST], position: int) -> None:
        loaded: list[str] = []
        astutil.name_lists(nodes, loaded, [])  # once per read, as every read is here
        for n in loaded:
            self.reads.setdefault(n, []).append(position)

    def read_after(self, name: str, s: gast.AST) -> bool:
        here = self.position.get(id(s))
        if here is None:
            return True
        start, end = self.loop.get(id(s), (here, here))
        return any(p > here or start <= p < end for p in self.reads.get(name, ()))


class _Walk:
    """Which names may share an object, in program order."""

    def __init__(self, names: set[str], error: Any, effects: Effects,
                 liveness: _Liveness) -> None:
        self.names, self.error, self.effects = names, error, effects
        self.liveness = liveness
        self.checks = Checks()
        self.params: set[str] = set()

    def block(self, body: list[gast.AST], pairs: Pairs) -> Pairs:
        for s in body:
            pairs = self.stmt(s, pairs)
        return pairs

    def stmt(self, s: gast.AST, pairs: Pairs) -> Pairs:
        if isinstance(s, gast.If):
            return self.block(s.body, pairs) | self.block(s.orelse, pairs)
        if isinstance(s, (gast.For, gast.While)):
            return self.loop(s, pairs)
        for written, depth, certain, node in self.writes(s):
            if certain:
                self.refuse_write(s, written, depth, pairs)
                continue
            try:  # a number is a new value: only the object at run time tells
                self.refuse_write(s, written, depth, pairs)
            except SyntaxError:
                self.checks.arguments.add(id(node))
        if isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Name) and any(
                s.target.id in (p[0], p[1]) for p in pairs):
            self.checks.updates.add(id(s))
        if isinstance(s, gast.Assign):
            pairs = self.assign(s, pairs)
            pairs = _replaced(pairs, s)
        pairs = pairs | self.held(s)
        return pairs

    def assign(self, s: gast.Assign, pairs: Pairs) -> Pairs:
        for t in s.targets:
            for n in astutil.walk_in_order(t):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                    pairs = _rebind(pairs, n.id)
        names = [t.id for t in s.targets if isinstance(t, gast.Name)]
        new: set[tuple] = set()
        if len(names) > 1 and not _number(s.value):  # `m = v = np.zeros(3)`
            new |= {(a, b, s, SAME) for a in names for b in names if a < b}
        for target in names:
            new |= {(target, other, s, kind) for other, kind in self.sources(s.value)
                    if other != target}
        for t in s.targets:  # `a, b = z, z`
            if isinstance(t, (gast.Tuple, gast.List)) and isinstance(
                    s.value, (gast.Tuple, gast.List)) and len(t.elts) == len(s.value.elts):
                for e, v in zip(t.elts, s.value.elts, strict=True):
                    if isinstance(e, gast.Name):
                        new |= {(e.id, other, s, kind) for other, kind in self.sources(v)
                                if other != e.id}
        return pairs | new

    def sources(self, value: gast.AST) -> list[tuple[str, str]]:
        """(name, kind) for each local name the value of `value` may share an object with."""
        if isinstance(value, gast.Name):
            return [(value.id, SAME)] if value.id in self.names else []
        if isinstance(value, (gast.List, gast.Tuple, gast.Set)):
            return self.elements(value.elts)
        if isinstance(value, gast.Dict):
            return self.elements(value.values)
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Mult):
            for seq in (value.left, value.right):
                if isinstance(seq, gast.List) and not all(_number(e) for e in seq.elts):
                    return self.elements(seq.elts) + [("*", REPEATS)]
            return []
        if isinstance(value, gast.IfExp):
            return self.sources(value.body) + self.sources(value.orelse)
        inner = _viewed(value, self.names)
        return [(inner, PART)] if inner is not None else []

    def elements(self, elts: list[gast.AST], depth: int = 1) -> list[tuple[str, str]]:
        """(name, holds(d)) for the names a display of `elts` holds, `d` deep."""
        out = []
        for e in elts:
            for n, kind in self.sources(e):
                if kind == SAME:
                    out.append((n, holds(depth)))
                elif _held_at(kind):
                    out.append((n, holds(depth + _held_at(kind))))
        return out

    def held(self, s: gast.AST) -> Pairs:
        """Pairs made by storing a name into a container: `xs.append(z)`, `d[k] = z`."""
        out = set()
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            func = s.value.func
            if isinstance(func, gast.Attribute) and func.attr in _HOLDING and isinstance(
                    func.value, gast.Name):
                out |= {(func.value.id, n, s, kind)
                        for n, kind in self.elements(s.value.args)}
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript):
            root, depth = _root(s.targets[0])
            if root is not None:
                out |= {(root, n, s, kind) for n, kind in self.elements([s.value], depth)}
        return frozenset(p for p in out if p[0] != p[1])

    def loop(self, s: gast.AST, pairs: Pairs) -> Pairs:
        seen = pairs
        while True:
            entry = seen
            if isinstance(s, gast.For) and isinstance(s.target, gast.Name):
                entry = _rebind(entry, s.target.id)
                it = s.iter if isinstance(s.iter, gast.Name) else _fields_of(s.iter)
                if isinstance(it, gast.Name) and it.id in self.names:
                    entry = entry | {(s.target.id, it.id, s, PART)}  # an item of it
            after = seen | self.block(s.body, entry)
            if after == seen:
                return self.block(s.orelse, seen)
            seen = after

    def writes(self, s: gast.AST) -> list[tuple[str, int, bool, gast.AST]]:
        """(name, depth, certain, node) for each name whose object `s` changes in place:
        depth 1 for `v[i] = ...`, `v.append(...)` and writes by a callee, 2 or more for
        `v[i][j] = ...`; not certain for a callee's `p op= ...`."""
        out = []
        targets = s.targets if isinstance(s, gast.Assign) else (
            [s.target] if isinstance(s, gast.AugAssign) else [])
        for t in targets:
            root, depth = _root(t)
            if root is not None and depth:
                out.append((root, depth, True, t))
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            func = s.value.func
            if isinstance(func, gast.Attribute) and func.attr in MUTATING:
                root, depth = _root(func.value)
                if root is not None:
                    out.append((root, depth + 1, True, func))
        for call in (n for n in astutil.walk_in_order(s) if isinstance(n, gast.Call)):
            for arg, certain in self.effects(call):
                root, depth = _root(arg)
                if root is not None:
                    out.append((root, depth + 1, certain, arg))
        return out

    def refuse_write(self, s: gast.AST, written: str, depth: int, pairs: Pairs) -> None:
        views = []
        group, grown = {written}, True  # every name that may be `written`'s object
        while grown:
            grown = False
            for one, other, _, kind in pairs:
                if kind == SAME and (one in group) != (other in group):
                    group |= {one, other}
                    grown = True
        unseen = not (group & self.params or group - self.names) and not any(
            self.liveness.read_after(n, s) for n in group - {written})  # (an argument's
        # object is seen by the caller; a global's by everyone)
        for one, other, where, kind in pairs:
            if kind == SAME and written in (one, other) and unseen:
                continue  # no other name of the object is read again: nobody sees the write
            if kind == SAME and written in (one, other) or (
                    kind == PART and (one == written or other == written and depth > 1)) or (
                    _held_at(kind) and (other == written or one == written
                                        and depth > _held_at(kind))) or (
                    kind == REPEATS and one == written and depth > 1):
                partner = other if one == written else one
                line = getattr(where, "lineno", "?")
                if kind == REPEATS:
                    raise self.error(s, f"writing into a row of `{written}`, a list that holds "
                                     f"the same row many times (line {line})",
                                     "build the rows separately: `[[0.0] * n for _ in "
                                     "range(m)]`")
                raise self.error(s, f"writing into `{written}`, which may share its object "
                                 f"with `{partner}` (line {line})",
                                 _FIX.format(written=written, other=partner))
            if kind == PART and other == written and self.liveness.read_after(one, s):
                views.append(one)
        if views and isinstance(s, gast.Assign):
            self.checks.views[id(s)] = sorted(set(views))


def _replaced(pairs: Pairs, s: gast.Assign) -> Pairs:
    """`v[k] = ...` replaces what an earlier `v[k] = z` stored: `v` no longer holds `z`."""
    target = s.targets[0]
    if not (isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name)):
        return pairs
    key = gast.dump(target.slice)
    return frozenset(p for p in pairs if not (
        p[0] == target.value.id and p[3] == holds(1) and isinstance(p[2], gast.Assign)
        and isinstance(p[2].targets[0], gast.Subscript)
        and gast.dump(p[2].targets[0].slice) == key))


def _rebind(pairs: Pairs, name: str) -> Pairs:
    """`name` now holds a new object: it shares nothing any more."""
    return frozenset(p for p in pairs if name not in (p[0], p[1]))


def _number(value: gast.AST) -> bool:
    return isinstance(value, gast.Constant) or isinstance(value, gast.UnaryOp) and isinstance(
        value.operand, gast.Constant)


def _root(target: gast.AST) -> tuple[str | None, int]:
    """The name under a chain of subscripts, and how many subscripts deep it is."""
    depth = 0
    while isinstance(target, gast.Subscript):
        target, depth = target.value, depth + 1
    return (target.id, depth) if isinstance(target, gast.Name) else (None, 0)


def _viewed(value: gast.AST, names: set[str]) -> str | None:
    """The local name `value` may be an item or a view of."""
    inner = None
    if isinstance(value, gast.Subscript):
        inner, _ = _root(value)
        return inner if inner in names else None
    if isinstance(value, gast.Attribute) and value.attr in _VIEW_METHODS:
        inner = value.value
    elif isinstance(value, gast.Attribute) and value.attr not in _METADATA:
        inner = _fields_of(value)  # a field of a record, or an attribute of an object
    elif isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute):
        receiver = value.func.value
        if isinstance(receiver, gast.Name) and receiver.id in names:
            inner = receiver if value.func.attr in _VIEW_METHODS else None
        elif value.func.attr in _VIEW_FUNCTIONS and value.args:
            inner = value.args[0]
    if isinstance(inner, gast.Name) and inner.id in names:
        return inner.id
    return None


def _fields_of(value: gast.AST) -> gast.AST | None:
    """The name at the root of an attribute chain `v.layer.w` (None for anything else)."""
    while isinstance(value, gast.Attribute):
        value = value.value
    return value if isinstance(value, gast.Name) else None
