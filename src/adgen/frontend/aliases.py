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
from adgen.frontend.alias_calls import shallow_copy, uncopied
from adgen.frontend.alias_liveness import Liveness as _Liveness
from adgen.frontend.alias_liveness import Measured
from adgen.frontend.alias_pairs import (
    ITEM,
    PART,
    REPEATS,
    SAME,
    SHALLOW,
    Pairs,
    connected,
    held_at,
    holds,
    order,
    rebind,
    renamed,
)

_VIEW_METHODS = {"reshape", "view", "ravel", "squeeze", "transpose", "swapaxes", "T",
                 "real", "imag", "diagonal", "mT"}
_VIEW_FUNCTIONS = {"reshape", "ravel", "squeeze", "transpose", "swapaxes", "asarray",
                   "atleast_1d", "atleast_2d", "atleast_3d", "expand_dims", "moveaxis",
                   "diagonal", "broadcast_to", "flip", "fliplr", "flipud", "rot90", "rollaxis",
                   "asanyarray", "ascontiguousarray", "asfortranarray", "asarray_chkfinite",
                   "require", "real", "imag", "permute_dims", "matrix_transpose", "as_strided",
                   "split", "array_split", "hsplit", "vsplit", "dsplit", "unstack"}
MUTATING = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
             "update", "setdefault", "popitem", "fill", "resize", "put", "itemset"}
_METADATA = {"shape", "ndim", "size", "dtype"}  # attributes that are new values, never parts
_ITEM_KEEPING = {"reversed", "sorted", "list", "tuple", "iter"}  # their items are the argument's
_SPLITS = {"split", "array_split", "hsplit", "vsplit", "dsplit", "unstack"}  # views, as a list
_HOLDING = {"append", "insert", "setdefault"}  # methods whose arguments become elements
_FIX = ("adgen follows values, not shared memory; make a copy where the two meet "
        "(`{written} = {other}.copy()` for an array, `list({other})` for a list) or write "
        "into one name only")





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


class _Walk:
    """Which names may share an object, in program order."""

    def __init__(self, names: set[str], error: Any, effects: Effects,
                 liveness: _Liveness, returns: Returns) -> None:
        self.names, self.error, self.effects = names, error, effects
        self.liveness, self.returns = liveness, returns
        self.checks = Checks()
        self.params: set[str] = set()
        self.join = True  # user code: see `alias_pairs.rebind` and `assign`

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
                    pairs = rebind(pairs, n.id, self.join)
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
            source = value.func.value if isinstance(value.func, gast.Attribute) else value.args[0]
            return [(n, SHALLOW) for n, kind in self.sources(source) if kind == SAME]
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Mult):
            for seq in (value.left, value.right):
                if isinstance(seq, gast.List) and not all(_number(e) for e in seq.elts):
                    return self.elements(seq.elts) + [("*", REPEATS)]
            return []
        if isinstance(value, gast.IfExp):
            return self.sources(value.body) + self.sources(value.orelse)
        inner = _viewed(value, self.names)
        if inner is not None:
            return [(inner, PART)]
        if isinstance(value, gast.Call):  # a user function returning (a part of) an argument
            return [(n, PART) for a in self.returns(value) for n, _ in self.sources(a)]
        return []

    def elements(self, elts: list[gast.AST], depth: int = 1) -> list[tuple[str, str]]:
        """(name, holds(d)) for the names a display of `elts` holds, `d` deep (or holds a
        part of: `[p["w"], v[1:]]` holds parts of `p` and `v`)."""
        out = []
        for e in elts:
            if isinstance(e, gast.Starred):  # `[*v]`: `v`'s items
                out += [(n, SHALLOW) for n, kind in self.sources(e.value) if kind == SAME]
                continue
            for n, kind in self.sources(e):
                if kind == SAME or kind in (PART, ITEM) and _surely_a_part(e):
                    out.append((n, holds(depth)))
                elif held_at(kind):
                    out.append((n, holds(depth + held_at(kind))))
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
            if isinstance(s, gast.For):
                for n in _stored(s.target):
                    entry = rebind(entry, n, self.join)
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
        views = []
        for one, other, where, kind in sorted(pairs, key=order):
            if kind == SHALLOW:
                self.shallow(s, written, depth, (one, other, where))
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
            if kind in (PART, ITEM) and other == written and self.liveness.read_after(one, s):
                views.append(one)
        if views and isinstance(s, (gast.Assign, gast.AugAssign)):
            self.checks.views[id(s)] = sorted(set(views))

    def shallow(self, s: gast.AST, written: str, depth: int, pair: tuple) -> None:
        """A write into one of a shallow copy and its source while the other is read later
        or is a parameter: an update of an item (`c[k] += v`) is checked like one of an item
        another name holds (raised here, caught by `stmt`), a write into an item by
        `runtime.own_items`, and so is an element write into the source of `list(a)`, whose
        items may be rows of an array `a` (a copy's elements, and `v.copy()`'s, are its own)."""
        one, other, made = pair
        if written not in (one, other):
            return
        partner = other if one == written else one
        if partner not in self.params and not self.liveness.read_after(partner, s):
            return
        if isinstance(s, gast.AugAssign) and depth > _root(s.target)[1]:
            raise self.error(s, "an update of an item the copies share", "")  # checked
        copied = isinstance(made, gast.Assign) and isinstance(made.value, gast.Call) and \
            isinstance(made.value.func, gast.Attribute)  # `v.copy()`
        if depth > 1 or written == other and not copied:
            self.checks.copies.setdefault(id(s), []).append((written, partner, depth > 1))

    def unseen(self, s: gast.AST, written: str, one: str, kind: str, pairs: Pairs) -> bool:
        """Whether a write into `written` is never seen through another name: no name that
        may share its object (transitively) is a parameter or read after `s`. Then the
        program reads the object only as `written`, which the trace follows by value, and the
        reverse sweep restores the element whenever it reads one of those names
        (`Checks.shared`). A write through a container into an item it holds (`pair[0][0] =
        ...`) stays refused: the container may hold that item twice."""
        if kind == REPEATS or held_at(kind) and one == written:
            return False
        sharing = connected(written, pairs) - {written}
        if not sharing or sharing & self.params or any(
                n not in self.names or self.liveness.read_after(n, s) for n in sharing):
            return False
        self.checks.shared.setdefault(id(s), set()).update(sharing)
        return True

    def shared(self, container: str, s: gast.AST, unpacked: gast.AST, pairs: Pairs) -> bool:
        """Whether a write at `s` into an item `unpacked` took from `container` can be seen
        through another name: `container` is read later, or shares its object or items with
        a name other than those `unpacked` bound."""
        return self.liveness.read_after(container, s) or any(
            container in (p[0], p[1]) and not (p[3] == ITEM and p[2] is unpacked)
            for p in pairs)


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


def _surely_a_part(value: gast.AST) -> bool:
    """Whether `value`, a part of a name, is an object of its own rather than perhaps a number:
    a slice or a view, an entry under a string key (`p["w"]`). `v[i]` may be a number (an
    element of a 1-d array), so a container holding it is not taken to hold `v`."""
    if not isinstance(value, gast.Subscript):
        return True
    index = value.slice
    return isinstance(index, gast.Slice) or isinstance(index, gast.Constant) and isinstance(
        index.value, str) or isinstance(index, gast.Tuple) and any(
        isinstance(i, gast.Slice) for i in index.elts)


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


def _stored(target: gast.AST) -> list[str]:
    """The names a binding target (`a`, `a, (b, *c)`) stores."""
    return [n.id for n in astutil.walk_in_order(target)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)]


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
            inner = receiver if value.func.attr in _VIEW_METHODS or uncopied(value) else None
        elif (value.func.attr in _VIEW_FUNCTIONS or uncopied(value)) and value.args:
            inner = value.args[0]
    elif isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.args and (
            value.func.id in _VIEW_FUNCTIONS or uncopied(value)) and value.func.id not in names:
        inner = value.args[0]  # `from numpy import flip`
    if isinstance(inner, gast.Name) and inner.id in names:
        return inner.id
    return None


def _fields_of(value: gast.AST) -> gast.AST | None:
    """The name at the root of an attribute chain `v.layer.w` (None for anything else)."""
    while isinstance(value, gast.Attribute):
        value = value.value
    return value if isinstance(value, gast.Name) else None
