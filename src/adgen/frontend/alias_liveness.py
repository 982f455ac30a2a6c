"""Backward liveness for the alias check (`frontend/aliases.py`): whether a name may be read
after a statement before it is assigned again, not counting the arguments of calls that only
measure them (shape, type, structure) nor the saves of generated code whose popped values are
dead."""

from __future__ import annotations

from collections.abc import Callable

import gast

from adgen.codegen import astutil

# The positions of a call's arguments read only for their shape, type and structure.
Measured = Callable[[gast.Call], "tuple[int, ...]"]


class Liveness:
    """Whether a name may be read after a statement before it is assigned again: backward
    liveness over the structured statements (loop bodies to a fixed point; at a `break` or
    `continue` every name the function reads counts as live), computed on the first
    question. A value is not read by a call that reads only its shape (`measured`),
    nor by `xs.append(v)` when every value `xs` gives back to `v` (`v = xs.pop()`) is itself
    only measured: a save of generated code."""

    def __init__(self, body: list[gast.AST], measured: Measured,
                 barrier: Callable[[gast.AST], bool] | None = None) -> None:
        self.body, self.measured = body, measured
        self.barrier = barrier  # statements after which nothing counts as read (`PutBacks`)
        self.after: dict[int, set[str]] | None = None
        self.skipped: set[int] = set()
        self.everything: set[str] = set()

    def read_after(self, name: str, s: gast.AST) -> bool:
        if self.after is None:
            self.settle()
        live = self.after.get(id(s))
        return live is None or name in live

    def settle(self) -> None:
        """Liveness with the measured loads skipped, and the pushes of names whose popped
        values are not live after their pops (until no push is taken back)."""
        measured = _measured_loads(self.body, self.measured)
        pushes, pops = _saves(self.body) if measured else ({}, [])
        while True:
            self.after, self.skipped = {}, measured | set(pushes)
            self.everything = set(self.loads(self.body))
            self.block(self.body, set())
            read = {(p.value.func.value.id, p.targets[0].id) for p in pops
                    if p.targets[0].id in self.after.get(id(p), ())}
            kept = {k: v for k, v in pushes.items() if v not in read}
            if len(kept) == len(pushes):
                return
            pushes = kept

    def loads(self, nodes: list[gast.AST]) -> list[str]:
        return [n.id for node in nodes for n in astutil.walk_in_order(node)
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
                and id(n) not in self.skipped]

    def block(self, body: list[gast.AST], live: set[str]) -> set[str]:
        for s in reversed(body):
            self.after.setdefault(id(s), set()).update(live)
            live = self.before(s, live)
        return live

    def before(self, s: gast.AST, live: set[str]) -> set[str]:
        if self.barrier is not None and self.barrier(s):
            return set(self.loads([s]))
        if isinstance(s, gast.Return):
            return set(self.loads([s]))
        if isinstance(s, (gast.Break, gast.Continue)):
            return set(self.everything)
        if isinstance(s, gast.If):
            return self.block(s.body, set(live)) | self.block(s.orelse, set(live)) | set(
                self.loads([s.test]))
        if isinstance(s, (gast.For, gast.While)):
            out = self.block(s.orelse, set(live))
            head = set(out)
            targets = {n.id for n in astutil.walk_in_order(s.target) if isinstance(
                n, gast.Name)} if isinstance(s, gast.For) else set()
            test = set(self.loads([s.iter if isinstance(s, gast.For) else s.test]))
            while True:
                new = out | (self.block(s.body, set(head)) - targets) | (
                    test if isinstance(s, gast.While) else set())
                if new == head:
                    break
                head = new
            if self.barrier is not None and any(self.barrier(t) for t in s.body):
                # the reverse loop of a loop that wrote: it runs as often as that loop did,
                # so once at least when there is a write to undo
                return (self.block(s.body, set(head)) - targets) | test
            return head | test
        if isinstance(s, gast.Assign):
            killed = {t.id for t in s.targets if isinstance(t, gast.Name)}
            value = [s.value] + [t for t in s.targets if not isinstance(t, gast.Name)]
            return (live - killed) | set(self.loads(value))
        return live | set(self.loads([s]))


def _measured_loads(body: list[gast.AST], measured: Measured) -> set[int]:
    """The ids of the name loads that are arguments a call only measures."""
    skipped: set[int] = set()
    for s in body:
        for n in astutil.walk_in_order(s):
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Name):
                for i in measured(n):
                    if i < len(n.args) and isinstance(n.args[i], gast.Name):
                        skipped.add(id(n.args[i]))
    return skipped


def _saves(body: list[gast.AST]) -> tuple[dict[int, tuple[str, str]], list[gast.Assign]]:
    """The pushes `xs.append(v)` of a name (id of `v` -> (xs, v)) for which some `v =
    xs.pop()` gives a value back to `v`, and those pops."""
    pushes: dict[int, tuple[str, str]] = {}
    pops: list[gast.Assign] = []
    for s in body:
        for n in astutil.walk_in_order(s):
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and isinstance(
                    n.func.value, gast.Name) and n.func.attr == "append" and len(
                    n.args) == 1 and isinstance(n.args[0], gast.Name):
                pushes[id(n.args[0])] = (n.func.value.id, n.args[0].id)
            elif isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name) and \
                    isinstance(n.value, gast.Call) and isinstance(n.value.func, gast.Attribute) \
                    and n.value.func.attr == "pop" and isinstance(n.value.func.value, gast.Name):
                pops.append(n)
    popped = {(p.value.func.value.id, p.targets[0].id) for p in pops}
    return {k: v for k, v in pushes.items() if v in popped}, pops


class PutBacks:
    """The element restores of adgen's own reverse sweeps (`v[i] = v_1` of a `v_1 = take(v,
    i)`, `v[i] = _stack.pop()`), and per name, whether another name is read after a write into
    it before the write is undone by one of them. A first-order derivative writes into an
    object other names share only where the user's function did, reads those names in its
    reverse sweep only after the restore (its own invariant: a name the reverse sweep reads
    holds the value it had where it was assigned), and the restore itself returns the object
    to what those names were read from."""

    def __init__(self, body: list[gast.AST], measured: Measured) -> None:
        self.body, self.measured = body, measured
        self.taken = {s.targets[0].id: s.value.args[0].id for s in _assignments(body)
                      if isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Call)
                      and isinstance(s.value.func, gast.Name) and s.value.func.id == "take"
                      and s.value.args and isinstance(s.value.args[0], gast.Name)}
        self.liveness: dict[str, Liveness] = {}

    def restores(self, s: gast.AST, var: str) -> bool:
        """Whether `s` puts an element of `var` back."""
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript)
                and isinstance(s.targets[0].value, gast.Name) and s.targets[0].value.id == var):
            return False
        value = s.value
        if isinstance(value, gast.Name):
            return self.taken.get(value.id) == var
        return isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and (
            value.func.attr == "pop" and not value.args)

    def read_after(self, name: str, s: gast.AST, written: str) -> bool:
        """Whether `name` may be read after `s`, a write into `written`, before a restore."""
        if written not in self.liveness:
            self.liveness[written] = Liveness(self.body, self.measured,
                                              lambda t: self.restores(t, written))
        return self.liveness[written].read_after(name, s)


def _assignments(body: list[gast.AST]) -> list[gast.Assign]:
    return [n for s in body for n in astutil.walk_in_order(s) if isinstance(n, gast.Assign)]
