"""Make jumps structured for reverse mode: `return`, `break` and `continue` become flags.

The reverse sweep replays a loop body a recorded number of times and each `if` by its
(restored) condition, so every statement a jump skips must sit under an `if` whose condition
says whether the jump happened. This pass rewrites, for the reverse generator only:

- `return v` (other than a final top-level one) → `_result = v; _returned = True`;
- `break` → `_skip = True; _brk = True`, `continue` → `_skip = True` (flags of the loop);
- the statements after a possible jump → `_go = not flag; if _go: ...`;
- a loop that may break ends its body with `if _brk: break` (forward only) and counts its
  iterations; `for ... else` becomes `if not _brk` after the loop.

A function whose only jump is a final `return` is left exactly as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import gast

from adgen.codegen import astutil
from adgen.frontend.lower import Trace, assign, const, name


@dataclass
class _Loop:
    skip: str
    brk: str
    uses_skip: bool = False
    uses_brk: bool = False


class _Structurer:
    def __init__(self, trace: Trace) -> None:
        self.namer = trace.namer
        self.result = self.namer.fresh("_result")
        self.returned = self.namer.fresh("_returned")
        self.line = trace.node.adgen_line

    def flag(self, var: str, value: bool) -> gast.Assign:
        return assign(var, const(value), self.line)

    def block(self, stmts: list[gast.AST], loop: _Loop | None) -> tuple[list[gast.AST], bool]:
        out: list[gast.AST] = []
        for i, s in enumerate(stmts):
            self.line = getattr(s, "adgen_line", self.line)
            new, jumps = self.stmt(s, loop)
            out += new
            if jumps:
                rest, _ = self.block(stmts[i + 1:], loop)
                if rest:
                    guard = self.namer.temp("_go")
                    if self.guards is not None:
                        self.guards.append(guard)
                    flag = loop.skip if loop else self.returned
                    test = gast.UnaryOp(op=gast.Not(), operand=name(flag))
                    out.append(assign(guard, test, self.line))
                    out.append(gast.If(test=name(guard), body=rest, orelse=[]))
                return out, True
        return out, False

    def stmt(self, s: gast.AST, loop: _Loop | None) -> tuple[list[gast.AST], bool]:
        if isinstance(s, gast.Return):
            self.returned_seen = True
            out = [assign(self.result, s.value, s.adgen_line), self.flag(self.returned, True)]
            if loop:
                out += self.jump(loop, brk=True)
            return out, True
        if isinstance(s, gast.Break):
            return self.jump(loop, brk=True), True
        if isinstance(s, gast.Continue):
            return self.jump(loop, brk=False), True
        if isinstance(s, gast.If) and getattr(s, "adgen_block", ("",))[0] == "try":
            return self.region(s, loop)
        if isinstance(s, gast.If):
            body, j1 = self.block(s.body, loop)
            orelse, j2 = self.block(s.orelse, loop)
            node = gast.If(test=s.test, body=body or [gast.Pass()], orelse=orelse)
            node.adgen_line = s.adgen_line
            if hasattr(s, "adgen_block"):  # a `with` or `try` (`frontend.blocks`)
                node.adgen_block = s.adgen_block
            return [node], j1 or j2
        if isinstance(s, (gast.For, gast.While)):
            return self.loop(s, loop)
        return [s], False

    def region(self, s: gast.If, loop: _Loop | None) -> tuple[list[gast.AST], bool]:
        """A `try` region (`frontend.lower_blocks`): the steps after a jump go under a guard,
        bound to False at the top (an exception may leave the body before the jump's step
        assigns it); the handlers' `if` stays outside it (it runs only after an exception,
        so never after a jump)."""
        flags = set(s.adgen_block[2])
        n = 0
        while n < len(s.body) and isinstance(s.body[n], gast.Assign) and isinstance(
                s.body[n].targets[0], gast.Name) and s.body[n].targets[0].id in flags:
            n += 1
        rest = s.body[n:]
        caught = rest[-1:] if rest and getattr(rest[-1], "adgen_block", ("",))[0] == \
            "handlers" else []
        saved, self.guards = self.guards, []
        steps, jumps = self.block(rest[: len(rest) - len(caught)], loop)
        guards, self.guards = self.guards, saved
        handled, caught_jumps = self.block(caught, loop) if caught else ([], False)
        line = getattr(s, "adgen_line", self.line)
        body = [*s.body[:n], *(assign(g, const(False), line) for g in guards), *steps, *handled]
        node = gast.If(test=s.test, body=body, orelse=[])
        node.adgen_line, node.adgen_block = line, s.adgen_block
        return [node], jumps or caught_jumps

    guards: list[str] | None = None  # the guards made in a `try` region's body

    def jump(self, loop: _Loop, brk: bool) -> list[gast.AST]:
        loop.uses_skip = True
        out = [self.flag(loop.skip, True)]
        if brk:
            loop.uses_brk = True
            out.append(self.flag(loop.brk, True))
        return out

    def loop(self, s: gast.AST, outer: _Loop | None) -> tuple[list[gast.AST], bool]:
        self.line = s.adgen_line
        inner = _Loop(self.namer.temp("_skip"), self.namer.temp("_brk"))
        before = self.returned_seen
        self.returned_seen = False
        body, _ = self.block(s.body, inner)
        returns = self.returned_seen
        self.returned_seen = before or returns
        node = _copy_loop(s, body)
        self.line = s.adgen_line
        out: list[gast.AST] = []
        if inner.uses_skip:
            node.body.insert(0, self.flag(inner.skip, False))
        if inner.uses_brk:
            out.append(self.flag(inner.brk, False))
            node.body.append(gast.If(test=name(inner.brk), body=[gast.Break()], orelse=[]))
            node.adgen_counted = True
        out.append(node)
        jumps = False
        if s.orelse:
            orelse, jumps = self.block(s.orelse, outer)
            if inner.uses_brk:
                guard = self.namer.temp("_go")
                test = gast.UnaryOp(op=gast.Not(), operand=name(inner.brk))
                out += [assign(guard, test, self.line),
                        gast.If(test=name(guard), body=orelse, orelse=[])]
            else:
                out += orelse
        if returns:
            if outer is not None:
                exit_outer = self.jump(outer, brk=True)
                out.append(gast.If(test=name(self.returned), body=exit_outer, orelse=[]))
            return out, True
        return out, jumps

    returned_seen = False


def _copy_loop(s: gast.AST, body: list[gast.AST]) -> gast.AST:
    if isinstance(s, gast.For):
        node = gast.For(target=s.target, iter=s.iter, body=body, orelse=[], type_comment=None)
    else:
        node = gast.While(test=s.test, body=body, orelse=[])
    node.adgen_line = s.adgen_line
    return node


def _simple(body: list[gast.AST]) -> bool:
    """Whether the only jump is a final top-level `return`."""
    for i, s in enumerate(body):
        for n in astutil.walk(s):
            if isinstance(n, (gast.Break, gast.Continue)):
                return False
            if isinstance(n, gast.Return) and not (n is s and i == len(body) - 1):
                return False
    return True


def structure(trace: Trace) -> tuple[list[gast.AST], gast.AST]:
    """The trace body with structured jumps, and the atom holding the function's result."""
    body = trace.node.body
    if _simple(body):
        if body and isinstance(body[-1], gast.Return):
            return body[:-1], body[-1].value
        return body, const(None)
    st = _Structurer(trace)
    st.returned_seen = False
    new, _ = st.block(body, None)
    line = trace.node.adgen_line
    init = [assign(st.result, const(None), line), assign(st.returned, const(False), line)]
    return init + new, name(st.result)
