"""Dead stores: pure assignments whose value is not live afterwards are removed.

Backward liveness over the structured statements: loop bodies iterate to a fixed point, and
`break`, `continue` and `return` take the liveness of where they jump. The live set is one
set changed in place with a log of its changes: a branch or a loop body is walked on the set
itself and its net change read back from the log and undone, so the cost of a statement is
its own size, never the size of the live set (which holds most of a long function's names).
"""

from __future__ import annotations

from typing import Any

import gast

from adgen.codegen import astutil


def drop_dead_stores(body: list[gast.AST], pure: Any, live_out: set[str]) -> list[gast.AST]:
    """`body` without the pure assignments (and runtime checks) whose value is not live
    afterwards; `pure(rhs)` says whether an expression may be dropped, `live_out` is what is
    live after `body`."""
    return _Liveness().block(body, _Live(live_out), None, pure)


class _Live:
    """A set of names with a log of its changes (each entry one name whose membership
    flipped), so that the changes since a mark can be undone and read back."""

    def __init__(self, names: set[str]) -> None:
        self.names = set(names)
        self.log: list[str] = []

    def add(self, name: str) -> None:
        if name not in self.names:
            self.names.add(name)
            self.log.append(name)

    def discard(self, name: str) -> None:
        if name in self.names:
            self.names.remove(name)
            self.log.append(name)

    def replace(self, names: Any) -> None:
        """The set becomes `names` (what a jump does): costs the size of the set."""
        names = set(names)
        for n in [n for n in self.names if n not in names]:
            self.discard(n)
        for n in names:
            self.add(n)

    def mark(self) -> int:
        return len(self.log)

    def undo(self, mark: int) -> tuple[set[str], set[str]]:
        """Undo the changes made since `mark`: (names they added, names they removed)."""
        flipped = self.log[mark:]
        del self.log[mark:]
        now = {n for n in flipped if n in self.names}
        for n in flipped:
            if n in self.names:
                self.names.remove(n)
            else:
                self.names.add(n)
        return now - self.names, (set(flipped) - now) & self.names


_Jumps = tuple[frozenset[str], frozenset[str]] | None  # live at a loop's `continue`, `break`


class _Liveness:
    """Backward liveness, dropping dead pure assignments. The names an expression reads are
    remembered: loop bodies are walked until a fixed point."""

    def __init__(self) -> None:
        self.memo: dict[int, tuple[gast.AST, frozenset[str]]] = {}

    def reads(self, node: gast.AST) -> frozenset[str]:
        found = self.memo.get(id(node))
        if found is None or found[0] is not node:  # the node is kept: its id stays its own
            found = self.memo[id(node)] = (node, frozenset(astutil.loads(node)))
        return found[1]

    def block(self, body: list[gast.AST], live: _Live, loop: _Jumps, pure: Any) -> list:
        """`body` without its dead stores; `live` (live after it) becomes live before it."""
        out: list[gast.AST] = []
        for s in reversed(body):
            s = self.stmt(s, live, loop, pure)
            if s is not None:
                out.append(s)
        out.reverse()
        return out

    def stmt(self, s: gast.AST, live: _Live, loop: _Jumps, pure: Any) -> gast.AST | None:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            t = s.targets[0].id
            if t not in live.names and pure(s.value):
                return None
            live.discard(t)
            for n in self.reads(s.value):
                live.add(n)
            return s
        if isinstance(s, gast.Expr) and getattr(s.value, "adgen_check", False) and pure(
                s.value):  # a runtime check the facts at hand show cannot fail
            return None
        if isinstance(s, (gast.Break, gast.Continue)) and loop is not None:
            live.replace(loop[1] if isinstance(s, gast.Break) else loop[0])
        elif isinstance(s, gast.AugAssign):  # `a += g` reads `a` (`a[i] += g`: `a`, `i`)
            if isinstance(s.target, gast.Name):
                live.add(s.target.id)
            for n in self.reads(s.target):
                live.add(n)
            for n in self.reads(s.value):
                live.add(n)
        elif isinstance(s, gast.Return):
            live.replace(self.reads(s.value) if s.value is not None else ())
        elif isinstance(s, gast.If):
            return self.branch(s, live, loop, pure)
        elif isinstance(s, (gast.For, gast.While)):
            return self.loop(s, live, loop, pure)
        else:
            for n in self.reads(s):
                live.add(n)
        return s

    def branch(self, s: gast.If, live: _Live, loop: _Jumps, pure: Any) -> gast.AST | None:
        mark = live.mark()
        if getattr(s, "adgen_block", ("",))[0] == "try":  # a `try` body: a statement that
            pure = _keep  # may raise decides which path runs, so every one of them stays
        body = self.block(s.body, live, loop, pure)
        added, removed = live.undo(mark)
        orelse = self.block(s.orelse, live, loop, pure)
        added_else, removed_else = live.undo(mark)
        if not _code(body) and not _code(orelse) and pure(s.test):
            return None
        s.body, s.orelse = body or [gast.Pass()], orelse
        for n in removed & removed_else:  # live before: what either branch needs
            live.discard(n)
        for n in added | added_else | self.reads(s.test):
            live.add(n)
        return s

    def loop(self, s: gast.For | gast.While, live: _Live, outer: _Jumps,
             pure: Any) -> gast.AST:
        header = self.reads(s.iter if isinstance(s, gast.For) else s.test)
        target = {s.target.id} if isinstance(s, gast.For) else set()
        jumps = _jumps(s.body)
        start = live.mark()
        after_loop = frozenset(live.names) if jumps else frozenset()  # live at a `break`
        if s.orelse:
            self.block(list(s.orelse), live, outer, _keep)
        for n in header:
            live.add(n)
        while True:  # live at the loop's entry: a fixed point
            mark = live.mark()
            self.block(s.body, live, (frozenset(live.names), after_loop) if jumps else None,
                       _keep)
            added = live.undo(mark)[0] - target
            if not added:
                break
            for n in added:
                live.add(n)
        mark = live.mark()
        entry = (frozenset(live.names), after_loop) if jumps else None
        s.body = self.block(s.body, live, entry, pure) or [gast.Pass()]
        live.undo(mark)
        if s.orelse:
            added, removed = live.undo(start)
            mark = live.mark()
            s.orelse = self.block(s.orelse, live, outer, pure)
            live.undo(mark)
            for n in removed:
                live.discard(n)
            for n in added:
                live.add(n)
        return s


def _jumps(body: list[gast.AST]) -> bool:
    """Whether a `break` or `continue` of the loop with this body is in it."""
    stack = list(body)
    while stack:
        s = stack.pop()
        if isinstance(s, (gast.Break, gast.Continue)):
            return True
        if isinstance(s, gast.If):
            stack.extend(s.body)
        if isinstance(s, (gast.If, gast.For, gast.While)):
            stack.extend(s.orelse)  # a nested loop's `else` jumps out of this loop
    return False


def _code(body: list[gast.AST]) -> bool:
    return any(not isinstance(s, gast.Pass) for s in body)


def _keep(rhs: gast.AST) -> bool:
    """Purity for the fixed-point walks: nothing is dropped while liveness is not final."""
    return False
