"""The state of a loop lifted into functions of its own (`frontend.checkpoint`).

`loop_state(fn, i, loop, local, error)` gives the loop's carried names — those its body
assigns or writes into (`u[0] = ...`, `u.append(...)`, `u += ...`) that it reads before
certainly writing them (or that a `while` loop's condition reads), or that code after the loop
reads — and its read-only inputs: the function's names the body (or condition) reads and never
assigns. It refuses, at the loop, a carried name without a value before the loop, a loop that
changes nothing read later, and reading a `for` loop's variable after the loop.
"""

from __future__ import annotations

from typing import Any

import gast

from adgen.frontend.aliases import MUTATING
from adgen.frontend.ir import assigned


def _loads(node: gast.AST) -> set[str]:
    """Names a simple statement reads (an augmented target too), minus comprehension names."""
    out = {n.id for n in gast.walk(node) if isinstance(n, gast.Name)
           and isinstance(n.ctx, gast.Load)}
    if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
        out.add(node.target.id)
    inner = {n.id for c in gast.walk(node) if isinstance(c, gast.comprehension)
             for n in gast.walk(c.target) if isinstance(n, gast.Name)}
    return out - inner


def _exposed(stmts: list[gast.AST], defined: set[str]) -> tuple[set[str], set[str]]:
    """(names read before this code certainly assigns them, names it certainly assigns)."""
    out: set[str] = set()
    defined = set(defined)
    for s in stmts:
        if isinstance(s, gast.If):
            out |= _loads(s.test) - defined
            e1, d1 = _exposed(s.body, defined)
            e2, d2 = _exposed(s.orelse, defined)
            out |= e1 | e2
            defined |= d1 & d2
        elif isinstance(s, (gast.For, gast.While)):
            head = s.iter if isinstance(s, gast.For) else s.test
            out |= _loads(head) - defined
            inside = defined | (assigned([s.target]) if isinstance(s, gast.For) else set())
            out |= _exposed(s.body, inside)[0] | _exposed(s.orelse, defined)[0]
        else:
            out |= _loads(s) - defined
            defined |= assigned([s])
    return out, defined


def _roots(stmts: list[gast.AST]) -> set[str]:
    """Names the code assigns or writes into (`u[0] = ...`, `u.append(...)`, `u += ...`)."""
    out = assigned(stmts)
    for s in stmts:
        for n in gast.walk(s):
            target = None
            if isinstance(n, (gast.Assign, gast.AugAssign)):
                for t in n.targets if isinstance(n, gast.Assign) else [n.target]:
                    while isinstance(t, (gast.Subscript, gast.Attribute)):
                        t = t.value
                    if isinstance(t, gast.Name):
                        out.add(t.id)
            elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and (
                    n.func.attr in MUTATING):
                target = n.func.value
                if isinstance(target, gast.Name):
                    out.add(target.id)
    return out


def loop_state(fn: gast.FunctionDef, i: int, loop: gast.For | gast.While, local: set[str],
           error: Any) -> tuple[list[str], list[str]]:
    """(the carried names, the read-only inputs) of the marked loop `fn.body[i]`."""
    target = loop.target.id if isinstance(loop, gast.For) else None
    after: set[str] = set().union(*(_loads(s) for s in fn.body[i + 1:])) if (
        i + 1 < len(fn.body)) else set()
    exposed = _exposed(loop.body, {target} - {None})[0]
    if target is None:  # the condition reads the state before every step
        exposed |= _loads(loop.test.args[0])
    written = _roots(loop.body) - {target}
    carried = sorted(written & (exposed | after))
    if target in after:
        raise error(loop, f"reading the loop variable `{target}` after a checkpointed loop",
                    "keep your own counter")
    before = {a.id for a in fn.args.args} | assigned(fn.body[:i])
    for c in carried:
        if c not in before:
            raise error(loop, f"`{c}`, assigned in a checkpointed loop and read after it "
                        "or before it is assigned, without a value before the loop",
                        f"give `{c}` a value before the loop")
    if not carried:
        raise error(loop, "a checkpointed loop whose body changes nothing read later",
                    "remove the loop or the marker")
    inputs = sorted((exposed - written - {target}) & local)
    return carried, inputs


__all__ = ["loop_state"]
