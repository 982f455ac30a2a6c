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

    def __init__(self, body: list[gast.AST], measured: Measured) -> None:
        self.body, self.measured = body, measured
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
