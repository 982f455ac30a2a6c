"""Facts per definition: the shape and dtype a name has at each statement of a variant.

`adgen.derive.shapes` says what one step gives for its operands' facts. This pass walks the
structured trace in program order with one environment (name → fact), so a name rebound to
values of different facts (`state`, an array rebound to a list of rows) has at each read the
join of the definitions that can reach it, not the join of all of them:

- an assignment replaces the name's fact (its definition kills the earlier ones);
- an `if` runs both branches from the same environment and joins what they changed (the
  changes are kept in an undo log, so an `if` costs what its branches assign, not the size of
  the environment);
- a loop runs its body until the facts at its head stop changing (the head joins what enters
  the loop with what one pass of the body leaves), then the statements after it see the head;
- inside a loop that may `break` or `continue`, assignments join into the name's fact instead
  of replacing it, so the head holds every fact a jump can carry out of the body.

A name not yet assigned on a path is no fact at all (bottom): reading it there raises, so it
adds nothing to a join. The result (`Facts`) maps each name to the join of all its
definitions, which holds everywhere it is read; for the few names whose definitions
disagree, `Facts.at(statement)` gives the fact at that statement (for a step, its operands'
facts before it runs and its target's after).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import gast

from adgen.codegen import astutil
from adgen.derive.analysis import primitive, statements
from adgen.derive.shapes import (
    CALLEE,
    TOP,
    Fact,
    atom_fact,
    constant_facts,
    from_value,
    join,
    step_fact,
)

_ABSENT = object()  # a name with no definition reaching this point
_ROUNDS = 20  # passes of a loop body before its assigned names are given up (no fact)


class Facts(Mapping):
    """The fact of every name whose definitions all agree (a mapping), and per statement
    the facts of the names whose definitions do not (`at`)."""

    def __init__(self, names: dict[str, Fact], points: dict[int, dict[str, Any]]) -> None:
        self.names, self.points = names, points

    def __getitem__(self, key: str) -> Fact:
        return self.names[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def at(self, s: gast.AST) -> Mapping:
        """The facts that hold at statement `s`."""
        here = self.points.get(id(s))
        return self if not here else _Here(self.names, here)


class _Here(Mapping):
    """The facts at one statement: its own where a name's definitions disagree."""

    def __init__(self, names: dict[str, Fact], here: dict[str, Any]) -> None:
        self.names, self.here = names, here

    def __getitem__(self, key: str) -> Fact:
        got = self.here.get(key, _ABSENT)
        if got is _ABSENT:
            return self.names[key]
        if isinstance(got, Fact):
            return got
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        yield from (k for k in self.names if k not in self.here)
        yield from (k for k, v in self.here.items() if isinstance(v, Fact))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return True


NONE = Facts({}, {})


def infer(body: list[gast.AST], params: dict[str, Fact | None], callee: Any = None,
          constants: Any = None) -> Facts:
    """The facts of the trace `body` for the parameters' facts; `callee(fn, facts)` gives the
    fact of what a call of the user's function `fn` returns for its parameters' facts (None:
    unknown). `constants(name)` gives `(found, value)` for a free name taken as fixed (code
    compiled with Numba, which freezes globals): a free name holding a number then has that
    number's type."""
    walk = _Walk(params, callee, body)
    if constants is not None:
        for n, fact in constant_facts(body, walk.local, constants).items():
            walk.env[n] = walk.defs[(0, n)] = fact
    walk.block(body)
    return walk.result()


class _Walk:
    def __init__(self, params: dict[str, Fact | None], callee: Any, body: list) -> None:
        self.env: dict[str, Any] = {p: (f if f is not None else TOP) for p, f in params.items()}
        self.env[CALLEE] = callee
        self.log: list[tuple[str, Any]] = []  # (name, value before), undone by `if`s
        self.weak = False
        self.defs: dict[tuple[int, str], Any] = {}  # (statement, name) -> fact it gives
        self.points: dict[int, dict[str, Any]] = {}
        self.assigned: dict[int, set[str]] = {}
        self.jumps: dict[int, bool] = {}
        self.local = _assigned(body, self) | set(params)
        for p, f in self.env.items():
            if p != CALLEE:
                self.defs[(0, p)] = f

    # ------------------------------------------------------------------ the environment

    def set(self, n: str, value: Any) -> None:
        self.log.append((n, self.env.get(n, _ABSENT)))
        if value is _ABSENT:
            self.env.pop(n, None)
        else:
            self.env[n] = value

    def define(self, s: gast.AST, n: str, fact: Any, record: dict[str, Any]) -> None:
        """`n` gets `fact` at `s` (joined with its fact so far inside a loop that jumps)."""
        if self.weak and n in self.env:
            fact = join(self.env[n], fact)
        self.set(n, fact)
        self.defs[(id(s), n)] = fact
        record[n] = fact

    def reads(self, node: gast.AST) -> dict[str, Any]:
        """The facts of the local names `node` reads, as they are here."""
        out = {}
        for n in astutil.loads(node):
            got = self.env.get(n, _ABSENT) if n in self.local else _ABSENT
            if got is not _ABSENT:
                out[n] = got
        return out

    # ------------------------------------------------------------------ statements

    def block(self, body: list[gast.AST]) -> None:
        for s in body:
            self.stmt(s)

    def stmt(self, s: gast.AST) -> None:
        if isinstance(s, gast.Assign):
            self.assign(s)
        elif isinstance(s, gast.If):
            self.branch(s)
        elif isinstance(s, (gast.For, gast.While)):
            self.loop(s)
        elif isinstance(s, gast.Expr):
            self.expression(s)
        elif isinstance(s, gast.Return) and s.value is not None:
            self.points[id(s)] = self.reads(s.value)
        elif isinstance(s, (gast.AugAssign, gast.AnnAssign)) and isinstance(s.target, gast.Name):
            self.define(s, s.target.id, TOP, self.points.setdefault(id(s), {}))

    def assign(self, s: gast.Assign) -> None:
        t = s.targets[0]
        record = self.reads(s)
        self.points[id(s)] = record
        if isinstance(t, gast.Name):
            self.define(s, t.id, step_fact(s.value, self.env), record)
        elif isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
            n = t.value.id  # a write keeps an array's shape; a list's item takes the value's
            before = self.env.get(n, _ABSENT)
            if before is _ABSENT:
                return
            if isinstance(before, Fact) and before.kind == "list":
                value = atom_fact(s.value, self.env)
                before = join(before, Fact("list", items=(value,))) if isinstance(
                    value, Fact) else TOP
            self.define(s, n, before, record)

    def expression(self, s: gast.Expr) -> None:
        call = s.value
        if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute)
                and isinstance(call.func.value, gast.Name)):
            return
        n = call.func.value.id  # `xs.append(v)` changes `xs`; other methods: no fact
        record = self.reads(s)
        self.points[id(s)] = record
        fact: Any = TOP
        if call.func.attr == "append" and len(call.args) == 1 and not call.keywords:
            before, item = self.env.get(n, TOP), atom_fact(call.args[0], self.env)
            if isinstance(before, Fact) and before.kind == "list" and isinstance(item, Fact):
                fact = join(before, Fact("list", items=(item,)))
        self.define(s, n, fact, record)

    def branch(self, s: gast.If) -> None:
        mark = len(self.log)
        self.block(s.body)
        changed = {n: self.env.get(n, _ABSENT) for n, _ in self.log[mark:]}
        self.undo(mark)
        mark = len(self.log)
        self.block(s.orelse)
        before = {}
        for n, old in self.log[mark:]:
            before.setdefault(n, old)
        for n in before.keys() | changed.keys():
            body = changed.get(n, before.get(n, self.env.get(n, _ABSENT)))
            self.set(n, _joined(body, self.env.get(n, _ABSENT)))

    def undo(self, mark: int) -> None:
        while len(self.log) > mark:
            n, old = self.log.pop()
            if old is _ABSENT:
                self.env.pop(n, None)
            else:
                self.env[n] = old

    def loop(self, s: gast.AST) -> None:
        if isinstance(s, gast.For):
            self.points[id(s)] = self.reads(s.iter)
            item = _item(s.iter, self.env)
        names = self.assigned[id(s)]
        weak, self.weak = self.weak, self.weak or self.jumps[id(s)]
        for _ in range(_ROUNDS):
            head = {n: self.env.get(n, _ABSENT) for n in names}
            if isinstance(s, gast.For) and isinstance(s.target, gast.Name):
                self.define(s, s.target.id, item, self.points[id(s)])
            self.block(s.body)
            moved = False
            for n in names:
                new = _joined(head[n], self.env.get(n, _ABSENT))
                moved = moved or not _same(new, head[n])
                self.set(n, new)
            if not moved:
                break
        else:  # no fixed point in sight: what the loop assigns has no fact
            for n in names:
                self.set(n, TOP)
            self.block(s.body)
            for n in names:
                self.set(n, TOP)
        self.weak = weak
        self.block(s.orelse)

    # ------------------------------------------------------------------ the result

    def result(self) -> Facts:
        joined: dict[str, Any] = {}
        for (_, n), fact in self.defs.items():
            joined[n] = fact if n not in joined else join(joined[n], fact)
        varying = {n for (_, n), fact in self.defs.items() if not _same(fact, joined[n])}
        names = {n: f for n, f in joined.items() if isinstance(f, Fact)}
        points = {}
        if varying:
            for sid, record in self.points.items():
                here = {n: f for n, f in record.items() if n in varying}
                if here:
                    points[sid] = here
        return Facts(names, points)


def _assigned(body: list[gast.AST], walk: _Walk) -> set[str]:
    """Every name `body` assigns; per loop (into `walk`), the names its body assigns and
    whether it may `break` or `continue`. One pass over the statements."""
    out: set[str] = set()
    _collect(body, walk, out)
    return out


def _collect(body: list[gast.AST], walk: _Walk, out: set[str]) -> bool:
    """Adds what `body` assigns to `out`; whether it jumps (`break`, `continue`)."""
    jumps = False
    for s in body:
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            if isinstance(t, gast.Name):
                out.add(t.id)
            elif isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                out.add(t.value.id)
        elif isinstance(s, (gast.AugAssign, gast.AnnAssign)) and isinstance(s.target, gast.Name):
            out.add(s.target.id)
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and isinstance(
                s.value.func, gast.Attribute) and isinstance(s.value.func.value, gast.Name):
            out.add(s.value.func.value.id)
        elif isinstance(s, (gast.Break, gast.Continue)):
            jumps = True
        elif isinstance(s, gast.If):
            jumps = _collect(s.body, walk, out) | _collect(s.orelse, walk, out) or jumps
        elif isinstance(s, (gast.For, gast.While)):
            inner: set[str] = set()
            if isinstance(s, gast.For) and isinstance(s.target, gast.Name):
                inner.add(s.target.id)
            walk.jumps[id(s)] = _collect(s.body, walk, inner)
            walk.assigned[id(s)] = inner
            out |= inner
            jumps = _collect(s.orelse, walk, out) or jumps
    return jumps


def _joined(a: Any, b: Any) -> Any:
    if a is _ABSENT:
        return b
    if b is _ABSENT:
        return a
    return join(a, b)


def _same(a: Any, b: Any) -> bool:
    return a is b or (a is not _ABSENT and b is not _ABSENT and a == b)


def returned(body: list[gast.AST], facts: Facts) -> Any:
    """The fact of what a function with this trace returns (None: not known)."""
    out: Any = None
    for s in statements(body):
        if isinstance(s, gast.Return):
            v = s.value
            got = (from_value(v.value) if isinstance(v, gast.Constant)
                   else facts.at(s).get(v.id, TOP) if isinstance(v, gast.Name) else TOP)
            out = got if out is None else join(out, got)
    return out if isinstance(out, Fact) else None


def _item(it: gast.AST, env: dict[str, Any]) -> Any:
    """The fact of a `for` loop's variable: an int over a `range`, a list's item, a row of
    an array."""
    if isinstance(it, gast.Call):
        return from_value(0) if primitive(it) is range else TOP
    got = atom_fact(it, env)
    if isinstance(got, Fact) and got.kind == "list" and isinstance(got.items[0], Fact):
        return got.items[0]
    if isinstance(got, Fact) and got.kind == "array" and got.shape:
        return Fact("array", got.shape[1:], got.dtype)
    return TOP
