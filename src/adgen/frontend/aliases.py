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
* `item` — `one` was bound to an item of the container `other` by unpacking or as a loop
  target: `a, b = rows`, `r0, r1 = M`, `for i, r in enumerate(rows)`, `for r, c in
  zip(rows, cs)`, `for k, v in d.items()`, `for r in reversed(rows)`, the pieces of
  `np.split(M, ...)`. A write into `one` is refused if `other` is read later or shares its
  object or items with a third name; otherwise the item is `one`'s own (the tangent is copied
  before the write, so it is too). Otherwise as `part`.
* `holds<d>` — the container `one` holds `other`, `d` subscripts deep: `[z, z]`, `(x, y)`,
  `{"w": x}`, `xs.append(z)`, `d[k] = z` (1), `[[z]]`, `D[i][j] = z` (2). A write into
  `other` is refused (the container's element is that object), and so is a write more than
  `d` subscripts deep into `one` (`pair[0][0] = ...` changes `other`); replacing the element
  (`pair[0] = y`) is fine.
  A list repeated by `*` whose items are not numbers (`[[0.0] * n] * n`) holds the same row
  many times: a write two subscripts deep into it is refused.
* `holds<d>?` — as `holds<d>`, but what the container holds is an item `v[i]` or a user
  function's result, a number or an object shared with `other` (a row of a 2-d array):
  `rows.append(M[i])`, `[A[i] for i in ...]`, `r = M[i]; rows.append(r)` after `r` is
  rebound. Where `holds<d>` would be refused, the expressions that put the items there are
  marked for a run-time check instead (`refuse_item`): `xs.append(x[i])` of a 1-d `x`, then
  `x[i] = ...` with `xs` read, is ordinary code.

In adgen's own code (`generated`) its element restores are no writes, and a name read after
a write only once a restore has undone it is not read after it (`alias_liveness.PutBacks`).

* `shallow` — `one` is a new container holding `other`'s items: `list(v)`, `tuple(v)`,
  `dict(v)`, `sorted(v)`, `v.copy()`, `[*v]`, `{**v}`. Replacing an item of either is fine; a
  write into an item (`w[0][1] = ...`, `w[0].append(...)`) changes the other's too, and a
  write into an array `v` changes the rows `list(v)` holds. Which of these a write does only
  the values tell (`v.copy()` of an array is a deep copy), so while the other name is read
  later or is a parameter, such a write is checked at run time (`runtime.own_items`).

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
from adgen.frontend.alias_calls import shallow_copy
from adgen.frontend.alias_exprs import an_item as _an_item
from adgen.frontend.alias_exprs import fields_of as _fields_of
from adgen.frontend.alias_exprs import number as _number
from adgen.frontend.alias_exprs import root as _root
from adgen.frontend.alias_exprs import stored as _stored
from adgen.frontend.alias_exprs import viewed as _viewed
from adgen.frontend.alias_liveness import Liveness as _Liveness
from adgen.frontend.alias_liveness import Measured, PutBacks
from adgen.frontend.alias_pairs import (
    ITEM,
    PART,
    REPEATS,
    SAME,
    SHALLOW,
    Pairs,
    held_at,
    holds,
    order,
    possibly,
    rebind,
    renamed,
)
from adgen.frontend.alias_refusals import FIX as _FIX
from adgen.frontend.alias_refusals import Refusals

MUTATING = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
             "update", "setdefault", "popitem", "fill", "resize", "put", "itemset"}
_ITEM_KEEPING = {"reversed", "sorted", "list", "tuple", "iter"}  # their items are the argument's
_SPLITS = {"split", "array_split", "hsplit", "vsplit", "dsplit", "unstack"}  # views, as a list
_HOLDING = {"append", "insert", "setdefault"}  # methods whose arguments become elements





# The arguments a call writes into (a call of a user function that changes its arguments),
# each with how (`effects.Summary`: 0 only `p op= ...`, 1 its elements, 2 objects it holds).
Effects = Callable[[gast.Call], "list[tuple[gast.AST, int]]"]


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
        self.shared: dict[int, set[str]] = {}  # writes no other name sees: statement -> names
        # writes into a name a shallow copy was made from or is: statement -> (written,
        # other, whether into an item) for `runtime.own_items`
        self.copies: dict[int, list[tuple[str, str, bool]]] = {}


# The arguments of a call of a user function that its result may share an object with
# (`returned` of the callee, mapped to the call's arguments).
Returns = Callable[[gast.Call], "list[gast.AST]"]


def check(fn: gast.FunctionDef, names: set[str], error: Any,
          effects: Effects | None = None, returns: Returns | None = None,
          measured: Measured | None = None, generated: bool = False) -> Checks:
    """Raise `error(node, what, fix)` at the first write through a possible alias; return
    what must be checked at run time. `returns(call)` gives the arguments a call's result may
    share an object with; `measured(call)` the positions of a call's arguments it reads only
    for their shape, type and structure, which a write into their elements leaves as they
    were (the helpers of generated code: `add_at`, `zeros_like`). `generated`: `fn` is adgen's
    own code (see `alias_pairs.rebind`)."""
    liveness = _Liveness(fn.body, measured or (lambda call: ()))
    walk = _Walk(names, error, effects or (lambda call: []), liveness,
                 returns or (lambda call: []))
    walk.params = {a.id for a in fn.args.args if isinstance(a, gast.Name)}
    walk.join = not generated
    if generated:
        walk.put_backs = PutBacks(fn.body, measured or (lambda call: ()))
    walk.block(fn.body, frozenset())
    return walk.checks


def returned(fn: gast.FunctionDef, names: set[str], returns: Returns | None = None) -> set[str]:
    """The parameters of `fn` whose objects its result may be, hold or be a view of
    (`def ident(v): return v`, `return M[i]`, `return [v, w]`, `return v.reshape(-1)`):
    a caller writing into the result changes its argument. A parameter rebound to a new
    object before the return (`v = v * 2.0`) is not returned."""
    walk = _Returns(names, returns or (lambda call: []), _Liveness(fn.body, lambda call: ()))
    params = [a.id for a in fn.args.args]
    walk.block(fn.body, frozenset((p, _CALLERS + p, fn, SAME) for p in params))
    return walk.found


class _Walk(Refusals):
    """Which names may share an object, in program order."""

    def __init__(self, names: set[str], error: Any, effects: Effects,
                 liveness: _Liveness, returns: Returns) -> None:
        self.names, self.error, self.effects = names, error, effects
        self.liveness, self.returns = liveness, returns
        self.checks = Checks()
        self.params: set[str] = set()
        self.join = True  # user code: see `alias_pairs.rebind` and `assign`
        self.put_backs: PutBacks | None = None  # adgen's own code: its element restores
        self.here: gast.AST | None = None  # the statement walked
        # (statement id, name) -> the expressions by which the statement puts the name, or an
        # item of it, into a container (`rows.append(M[i])`, `[M[0], M[1]]`, `rows.append(r)`)
        self.held_nodes: dict[tuple[int, str], list[gast.AST]] = {}

    def block(self, body: list[gast.AST], pairs: Pairs) -> Pairs:
        for s in body:
            pairs = self.stmt(s, pairs)
        return pairs

    def stmt(self, s: gast.AST, pairs: Pairs) -> Pairs:
        if isinstance(s, gast.If):
            return self.block(s.body, pairs) | self.block(s.orelse, pairs)
        if isinstance(s, (gast.For, gast.While)):
            return self.loop(s, pairs)
        self.here = s
        for written, depth, certain, node in self.writes(s):
            if certain:
                self.refuse_write(s, written, depth, pairs)
                continue
            try:  # a number is a new value: only the object at run time tells
                self.refuse_write(s, written, depth, pairs)
            except SyntaxError:
                self.checks.arguments.add(id(node))
        if isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Name) and any(
                s.target.id in (p[0], p[1]) and p[3] != SHALLOW for p in pairs):
            self.checks.updates.add(id(s))
        if isinstance(s, gast.Assign):
            pairs = self.assign(s, pairs)
            pairs = _replaced(pairs, s)
        pairs = pairs | self.held(s)
        return pairs

    def assign(self, s: gast.Assign, pairs: Pairs) -> Pairs:
        before = pairs
        for t in s.targets:
            for n in astutil.walk_in_order(t):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                    pairs = self.rebind(pairs, n.id)
        names = [t.id for t in s.targets if isinstance(t, gast.Name)]
        new: set[tuple] = set()
        if len(names) > 1 and not _number(s.value):  # `m = v = np.zeros(3)`
            new |= {(a, b, s, SAME) for a in names for b in names if a < b}
        for target in names:
            new |= {(target, other, s, kind) for other, kind in self.sources(s.value)
                    if other != target}
        for t in s.targets:
            if not isinstance(t, (gast.Tuple, gast.List)):
                continue
            if isinstance(s.value, (gast.Tuple, gast.List)) and len(t.elts) == len(
                    s.value.elts):  # `a, b = z, z`
                stored = set(_stored(t))
                for e, v in zip(t.elts, s.value.elts, strict=True):
                    if not isinstance(e, gast.Name):
                        continue
                    for other, kind in self.sources(v):
                        if other not in stored:
                            new |= {(e.id, other, s, kind)} if other != e.id else set()
                        elif kind == SAME:  # `a, b = b, a`: `e` takes `other`'s old object
                            new |= renamed(before, other, e.id, stored)
                        else:
                            new.add((e.id, other, s, kind))
            elif self.join:  # `a, b = rows`: each name is an item of `rows` (adgen's own
                # code unpacks only its tapes, each once)
                new |= {(n, c, s, ITEM) for n, c in self.items(t, s.value) if n != c}
        return pairs | new

    def rebind(self, pairs: Pairs, name: str) -> Pairs:
        """`alias_pairs.rebind`; a container that held `name`, an item of another name, now
        holds an item of that name, put there by the same expressions."""
        out = rebind(pairs, name, self.join)
        for _, other, where, kind in out - pairs:
            if possibly(kind):
                found = self.held_nodes.get((id(where), name), [])
                self.held_nodes.setdefault((id(where), other), []).extend(
                    n for n in found if n not in self.held_nodes[(id(where), other)])
        return out

    def items(self, target: gast.AST, iterable: gast.AST) -> list[tuple[str, str]]:
        """(name, container) for each name `target` binds to an item of `iterable` (in
        `for target in iterable` or `target = iterable` unpacked), with the local names whose
        objects those items may be part of: `for a, b in zip(xs, ys)` binds `a` to an item of
        `xs`; `for i, row in enumerate(M)` binds `row` to a row of `M` (and `i` to nothing)."""
        bound = _stored(target)
        if isinstance(iterable, gast.Call):
            func, args = iterable.func, iterable.args
            name = func.id if isinstance(func, gast.Name) else (
                func.attr if isinstance(func, gast.Attribute) else None)
            tuple_target = isinstance(target, (gast.Tuple, gast.List))
            if name == "enumerate" and args and tuple_target and len(target.elts) == 2:
                return self.items(target.elts[1], args[0])
            if name == "zip" and tuple_target and len(target.elts) == len(args):
                return [p for e, a in zip(target.elts, args, strict=True)
                        for p in self.items(e, a)]
            if name in _ITEM_KEEPING and args and isinstance(func, gast.Name):
                return self.items(target, args[0])
            if name in ("values", "items") and isinstance(func, gast.Attribute):
                root, _ = _root(_fields_of(func.value) or func.value)
                values = target.elts[1] if name == "items" and tuple_target and len(
                    target.elts) == 2 else target
                return [(n, root) for n in _stored(values)] if root in self.names else []
            if name in ("zip", "enumerate") or name in _SPLITS and args:
                inside = args if name in ("zip", "enumerate") else args[:1]
                return [(n, c) for a in inside for n in bound for c in self._containers(a)]
            return []
        return [(n, c) for n in bound for c in self._containers(iterable)]

    def _containers(self, value: gast.AST) -> list[str]:
        return sorted({n for n, _ in self.sources(value)} - {"*"})

    def sources(self, value: gast.AST) -> list[tuple[str, str]]:
        """(name, kind) for each local name the value of `value` may share an object with."""
        if isinstance(value, gast.Name):
            return [(value.id, SAME)] if value.id in self.names else []
        if isinstance(value, (gast.List, gast.Tuple, gast.Set)):
            return self.elements(value.elts)
        if isinstance(value, gast.Dict):
            return self.elements(value.values) + [
                (n, SHALLOW) for k, v in zip(value.keys, value.values, strict=True) if k is None
                for n, kind in self.sources(v) if kind == SAME]  # `{**d}`
        if isinstance(value, gast.Call) and shallow_copy(value, self.names):
            source = value.args[0] if value.args else value.func.value
            return [(n, SHALLOW) for n, kind in self.sources(source) if kind == SAME]
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Mult):
            for seq in (value.left, value.right):
                if isinstance(seq, gast.List) and not all(_number(e) for e in seq.elts):
                    return self.elements(seq.elts) + [("*", REPEATS)]
            return []
        if isinstance(value, gast.IfExp):
            return self.sources(value.body) + self.sources(value.orelse)
        if isinstance(value, (gast.ListComp, gast.SetComp, gast.GeneratorExp, gast.DictComp)):
            return self.comprehension(value)
        inner = _viewed(value, self.names)
        if inner is not None:
            return [(inner, PART)]
        if isinstance(value, gast.Call):  # a user function returning (a part of) an argument
            return [(n, PART) for a in self.returns(value) for n, _ in self.sources(a)]
        return []

    def comprehension(self, value: gast.AST) -> list[tuple[str, str]]:
        """What a comprehension's result holds: what its element holds, a loop variable
        standing for the items of its iterable (`[r for r in rows]`, `[r[0] for r in rows]`:
        items that may be numbers); `[A[i] for i in ...]` holds items of `A`."""
        bound: dict[str, set[str]] = {}
        for g in value.generators:
            for n, c in self.items(g.target, g.iter):
                bound.setdefault(n, set()).add(c)
            bound.update({n: bound.get(n, set()) for n in _stored(g.target)})
        names, self.names = self.names, self.names | set(bound)
        try:
            held = self.elements([value.value if isinstance(value, gast.DictComp)
                                  else value.elt])
        finally:
            self.names = names
        out = []
        for n, kind in held:
            if n not in bound:
                out.append((n, kind))
            for c in sorted(bound.get(n, ())):
                out.append((c, holds(held_at(kind), maybe=True)))
                self.record(c, self.held_nodes.get((id(self.here), n), []))
        return out

    def elements(self, elts: list[gast.AST], depth: int = 1) -> list[tuple[str, str]]:
        """(name, holds(d)) for the names a display of `elts` holds, `d` deep (or holds a
        part of: `[p["w"], v[1:]]` holds parts of `p` and `v`). An item `v[i]` may be a
        number or a row: held as `holds<d>?` (see `refuse_item`)."""
        out = []
        for e in elts:
            if isinstance(e, gast.Starred):  # `[*v]`: `v`'s items
                out += [(n, SHALLOW) for n, kind in self.sources(e.value) if kind == SAME]
                continue
            for n, kind in self.sources(e):
                if kind == SAME or kind in (PART, ITEM) and not _an_item(e, self.names):
                    out.append((n, holds(depth)))
                    self.record(n, [e])
                elif kind in (PART, ITEM):
                    out.append((n, holds(depth, maybe=True)))
                    self.record(n, [e])
                elif held_at(kind):
                    out.append((n, holds(depth + held_at(kind), possibly(kind))))
        return out

    def record(self, n: str, nodes: list[gast.AST]) -> None:
        """Remember the expressions by which the statement walked puts `n` into a container."""
        found = self.held_nodes.setdefault((id(self.here), n), [])
        found.extend(e for e in nodes if all(e is not f for f in found))

    def held(self, s: gast.AST) -> Pairs:
        """Pairs made by storing a name into a container: `xs.append(z)`, `d[k] = z`."""
        out = set()
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            func = s.value.func
            if isinstance(func, gast.Attribute) and func.attr in _HOLDING and isinstance(
                    func.value, gast.Name):
                out |= {(func.value.id, n, s, kind)
                        for n, kind in self.elements(s.value.args)}
            elif isinstance(func, gast.Attribute) and func.attr == "extend" and isinstance(
                    func.value, gast.Name) and len(s.value.args) == 1:  # the items it holds
                out |= {(func.value.id, n, s, kind) for n, kind in self.sources(
                    s.value.args[0]) if held_at(kind)}
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript):
            root, depth = _root(s.targets[0])
            if root is not None:
                out |= {(root, n, s, kind) for n, kind in self.elements([s.value], depth)}
        return frozenset(p for p in out if p[0] != p[1])

    def loop(self, s: gast.AST, pairs: Pairs) -> Pairs:
        seen = pairs
        while True:
            entry = seen
            if isinstance(s, gast.For):
                for n in _stored(s.target):
                    entry = self.rebind(entry, n)
                entry = entry | {(n, c, s, ITEM) for n, c in self.items(s.target, s.iter)
                                 if n != c}  # an item of it
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
            if root is not None and depth and isinstance(s, gast.AugAssign):
                out.append((root, depth + 1, False, t))  # `c[k] += v`: in place on `c[k]`
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            func = s.value.func
            if isinstance(func, gast.Attribute) and func.attr in MUTATING:
                root, depth = _root(func.value)
                if root is not None:
                    out.append((root, depth + 1, True, func))
        for call in (n for n in astutil.walk_in_order(s) if isinstance(n, gast.Call)):
            for arg, level in self.effects(call):  # (`effects.Summary`: how deep)
                root, depth = _root(arg)
                if root is not None:
                    out.append((root, depth + max(1, level), bool(level), arg))
        return out

    def refuse_write(self, s: gast.AST, written: str, depth: int, pairs: Pairs) -> None:
        if self.put_backs is not None and self.put_backs.restores(s, written):
            return  # the object is as it was before the write the restore undoes
        views = []
        for one, other, where, kind in sorted(pairs, key=order):
            if kind == SHALLOW:
                self.shallow(s, written, depth, (one, other, where))
                continue
            if possibly(kind):
                self.refuse_item(s, written, depth, (one, other, where, kind), pairs)
                continue
            if kind == ITEM and one == written and not self.shared(other, s, where, pairs):
                continue  # the container is never seen again: its item is the name's own
            if kind == SAME and written in (one, other) or (
                    kind in (PART, ITEM) and (one == written or other == written
                                              and depth > 1)) or (
                    held_at(kind) and (other == written or one == written
                                        and depth > held_at(kind))) or (
                    kind == REPEATS and one == written and depth > 1):
                partner = other if one == written else one
                if self.unseen(s, written, one, kind, pairs if depth > 1 else frozenset(
                        p for p in pairs if p[3] != SHALLOW)):  # copies' own elements
                    continue
                line = getattr(where, "lineno", "?")
                if kind == REPEATS:
                    raise self.error(s, f"writing into a row of `{written}`, a list that holds "
                                     f"the same row many times (line {line})",
                                     "build the rows separately: `[[0.0] * n for _ in "
                                     "range(m)]`")
                raise self.error(s, f"writing into `{written}`, which may share its object "
                                 f"with `{partner}` (line {line})",
                                 _FIX.format(written=written, other=partner))
            if kind in (PART, ITEM) and other == written and self.read_later(one, s, written):
                views.append(one)
        if views and isinstance(s, (gast.Assign, gast.AugAssign)):
            self.checks.views[id(s)] = sorted(set(views))


_CALLERS = "@"  # `@v`: the object the caller passed as `v`


class _Returns(_Walk):
    """The walk of `returned`: no refusals (the function's own check makes them), the
    callers' objects reachable from each `return`'s value collected in `found`."""

    def __init__(self, names: set[str], returns: Returns, liveness: _Liveness) -> None:
        super().__init__(names, None, lambda call: [], liveness, returns)
        self.found: set[str] = set()

    def stmt(self, s: gast.AST, pairs: Pairs) -> Pairs:
        if isinstance(s, gast.Return) and s.value is not None:
            reached = {n for n, _ in self.sources(s.value)}
            todo = list(reached)
            while todo:
                here = todo.pop()
                for one, other, _, _ in pairs:
                    for a, b in ((one, other), (other, one)):
                        if a == here and b not in reached:
                            reached.add(b)
                            todo.append(b)
            self.found |= {n[len(_CALLERS):] for n in reached if n.startswith(_CALLERS)}
        return super().stmt(s, pairs)

    def refuse_write(self, s: gast.AST, written: str, depth: int, pairs: Pairs) -> None:
        return None


def _replaced(pairs: Pairs, s: gast.Assign) -> Pairs:
    """`v[k] = ...` replaces what an earlier `v[k] = z` stored: `v` no longer holds `z`."""
    target = s.targets[0]
    if not (isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name)):
        return pairs
    key = gast.dump(target.slice)
    return frozenset(p for p in pairs if not (
        p[0] == target.value.id and held_at(p[3]) == 1 and isinstance(p[2], gast.Assign)
        and isinstance(p[2].targets[0], gast.Subscript)
        and gast.dump(p[2].targets[0].slice) == key))
