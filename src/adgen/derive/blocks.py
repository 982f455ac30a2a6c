"""`with` and `try` statements back in generated code (see `frontend.blocks` for the marks).

`check` refuses what cannot be replayed: a `with` manager made from a differentiated value,
and a differentiated operation on a name bound by `with ... as` or `except ... as`.
`restore` turns the marked statements of a generated function into `with` and `try`:

- a `with` mark becomes `with M(...) [as v]:` around its block; in the reverse sweep the same
  call makes a second manager around the body's adjoints (its `else`, the zero adjoints of a
  path never taken, is dropped: the body always runs). In reverse mode a manager other than
  `np.errstate`, `warnings.catch_warnings` and `np.printoptions` is wrapped in
  `no_suppression`, which refuses an exception the manager would suppress (a half-run body);
- a `try` region becomes `try: steps except E: <clear the flags>; handler`: in a reverse-mode
  forward sweep each step's flag starts False and is set when the step completes, the stack's
  depth is noted after a step that pushes (the handler drops what a half-run step pushed),
  and an exception raised inside a compound step is refused; in the reverse sweep the region
  is its statements (the handler's adjoints under `_ok`, each step's under its flag);
- `finally` marks become `try: ... finally: ...` around the statements between them.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import gast
import numpy as np

from adgen import runtime_forms
from adgen.codegen import astutil
from adgen.codegen.astutil import clone
from adgen.derive.analysis import statements
from adgen.errors import where
from adgen.frontend.lower import assign, const, name


def check(ctx: Any, s: gast.If) -> None:
    """Refuse a marked `with` or `try` that derivatives cannot pass through."""
    block = getattr(s, "adgen_block", None)
    if block is None:
        return
    if block[0] == "with":
        used = sorted(astutil.loads(s.test) & ctx.active)
        if used:
            raise ctx.error(s, f"the `with` manager uses `{used[0]}`, a value that is "
                            "differentiated; a manager is entered around both sweeps and "
                            "is not differentiated: compute it from constants")
        bound = [block[1]] if block[1] else []
    elif block[0] == "try":
        bound = [h[1] for h in block[1] if h[1]]
    else:
        return
    for var in bound:
        _not_differentiated_through(ctx, s, var)


def _not_differentiated_through(ctx: Any, s: gast.If, var: str) -> None:
    """Refuse when a differentiated statement reads `var` itself: its derivative would need
    `var` in the reverse sweep, where the name no longer holds this statement's value (the
    primal binds it outside the trace; `except ... as e` even unbinds it). Values computed
    from `var` are ordinary trace values, saved and restored like any other."""
    for stmt in statements(s.body + s.orelse):
        if (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)
                and stmt.targets[0].id in ctx.active and var in astutil.loads(stmt.value)):
            raise ctx.error(stmt, f"this statement differentiates through `{var}`, which `as` "
                            "binds; a value bound by `with ... as` or `except ... as` is not "
                            f"differentiated: assign what you need of it first (`c = float("
                            f"{var}...)`) and use that")


def restore(ctx: Any, body: list[gast.AST], stack: str | None = None,
            reverse: bool = False) -> list[gast.AST]:
    """`body` with its marked statements turned back into `with` and `try` statements;
    `stack` names the forward sweep's stack and `reverse` says the function is a reverse-mode
    forward sweep (whose steps set their flags)."""
    return _Restorer(ctx, stack, reverse).block(body)


class _Restorer:
    def __init__(self, ctx: Any, stack: str | None, reverse: bool) -> None:
        self.ctx, self.stack, self.reverse = ctx, stack, reverse

    def block(self, body: list[gast.AST]) -> list[gast.AST]:
        out: list[gast.AST] = []
        for s in body:
            for field in ("body", "orelse"):
                if isinstance(getattr(s, field, None), list):
                    setattr(s, field, self.block(getattr(s, field)))
            block = getattr(s, "adgen_block", None)
            if block is None or not isinstance(s, (gast.If, gast.Pass)):
                out.append(s)
            elif block[0] == "with":
                out.append(self.with_(s, block[1]))
            elif block[0] == "try":
                out.extend(self.try_(s, block))
            elif block[0] == "finally" and block[2] == "end":
                out = self.finally_(out, block[1], s)
            elif block[0] == "finally" or block[0] in ("step", "handlers"):
                out.append(s)  # kept until its `try` (or `finally` end) is built
        return out

    def with_(self, s: gast.If, bound: str | None) -> gast.AST:
        target = name(bound, gast.Store()) if bound and not getattr(
            s, "adgen_reverse", False) else None
        manager = s.test
        if self.reverse and not any(getattr(manager, "adgen_fn", None) is m
                                    for m in _NEVER_SUPPRESS):
            at = where(os.path.basename(self.ctx.trace.parsed.filename),
                       getattr(s, "adgen_line", None))
            manager = self.ctx.call("no_suppression", runtime_forms.no_suppression,
                                    [manager, const(at)])
        node = gast.With(items=[gast.withitem(context_expr=manager, optional_vars=target)],
                         body=s.body or [gast.Pass()], type_comment=None)
        node.adgen_line = getattr(s, "adgen_line", None)
        return node

    def try_(self, s: gast.If, block: tuple) -> list[gast.AST]:
        """A `try` region: its steps unwrapped into a `try` body (a reverse-mode forward
        sweep sets each step's flag when the step completes), the handlers' code in the
        `except` clauses. In the reverse sweep the region is its statements as they are."""
        if getattr(s, "adgen_reverse", False):
            return [t for t in s.body if not isinstance(t, gast.Pass)]
        handlers, flags = block[1], set(block[2])
        line = getattr(s, "adgen_line", None)
        before: list[gast.AST] = []
        body = list(s.body)
        while body and not isinstance(body[0], (gast.If, gast.For, gast.While, gast.With,
                                                 gast.Try)):  # flags, guards, their saves
            t = body.pop(0)
            if isinstance(t, gast.Assign) and isinstance(t.targets[0], gast.Name) and \
                    t.targets[0].id in flags:  # `_done1 = attempt()`: not done until it is
                if not self.reverse:
                    continue  # forward mode replays no step: the flags are not needed
                t = assign(t.targets[0].id, const(False), line)
            before.append(t)
        kept = {t.targets[0].id for t in before if isinstance(t, gast.Assign)}
        body, caught = _take_caught(body)
        if caught is not None:  # a body of one step: the branch the handlers' `if` takes
            body += [t for t in caught.body if not isinstance(t, gast.Pass)]
        self.inside = self.depth = None
        body = self.unwrap(body, kept) or [gast.Pass()]
        if self.depth is None and self.stack is not None and _pushes(body, self.stack):
            self.depth = self.ctx.namer.fresh("_depth")  # a body of one step, which pushes
        if self.inside is not None:
            before.append(assign(self.inside, const(False), line))
        if self.depth is not None:
            before.append(assign(self.depth, gast.Call(func=name("len"), args=[
                name(self.stack)], keywords=[]), line))
        chosen = _chosen(caught.orelse if caught is not None else [], len(handlers))
        out = []
        for (kind, bound, cleared), handler in zip(handlers, chosen, strict=True):
            first = [assign(f, const(False), line) for f in cleared]
            if self.inside is not None:
                at = where(os.path.basename(self.ctx.trace.parsed.filename), line)
                refuse = gast.Expr(value=self.ctx.call(
                    "caught_after_progress", runtime_forms.caught_after_progress, [const(at)]))
                first.append(gast.If(test=name(self.inside), body=[refuse], orelse=[]))
            if self.depth is not None:
                longer = gast.Compare(left=gast.Call(func=name("len"), args=[
                    name(self.stack)], keywords=[]), ops=[gast.Gt()], comparators=[
                    name(self.depth)])
                pop = gast.Expr(value=gast.Call(func=gast.Attribute(
                    value=name(self.stack), attr="pop", ctx=gast.Load()), args=[], keywords=[]))
                first.append(gast.While(test=longer, body=[pop], orelse=[]))
            self.bind_roots(kind)
            out.append(gast.ExceptHandler(
                type=clone(kind) if kind is not None else None,
                name=name(bound, gast.Store()) if bound else None,
                body=first + [t for t in handler if not isinstance(t, gast.Pass)]
                or [gast.Pass()]))
        node = gast.Try(body=body, handlers=out, orelse=[], finalbody=[])
        node.adgen_line = line
        return [*before, node]

    def unwrap(self, stmts: list[gast.AST], kept: set[str]) -> list[gast.AST]:
        """The steps of a `try` body as plain statements, each followed, in a reverse-mode
        forward sweep, by setting its flag (when the sweeps read it) and noting the stack's
        depth (when it pushed); a compound step runs with `_inside` set, so that the handler
        refuses an exception raised inside it."""
        out: list[gast.AST] = []
        for t in stmts:
            mark = getattr(t, "adgen_block", None)
            if not (isinstance(t, gast.If) and mark is not None and mark[0] == "step"):
                for field in ("body", "orelse", "finalbody"):
                    inner = getattr(t, field, None)
                    if isinstance(inner, list) and isinstance(t, (gast.If, gast.With,
                                                                  gast.Try)):
                        setattr(t, field, self.unwrap(inner, kept) or (
                            [gast.Pass()] if field == "body" else []))
                out.append(t)
                continue
            inner = [u for u in self.unwrap(t.body, kept) if not isinstance(u, gast.Pass)]
            line = getattr(t, "adgen_line", None)
            if not self.reverse:
                out += inner
                continue
            if mark[1]:
                self.inside = self.inside or self.ctx.namer.fresh("_inside")
                out += [assign(self.inside, const(True), line), *inner,
                        assign(self.inside, const(False), line)]
            else:
                out += inner
            if isinstance(t.test, gast.Name) and t.test.id in kept:
                out.append(assign(t.test.id, const(True), line))
            if self.stack is not None and _pushes(inner, self.stack):
                self.depth = self.depth or self.ctx.namer.fresh("_depth")
                out.append(assign(self.depth, gast.Call(func=name("len"), args=[
                    name(self.stack)], keywords=[]), line))
        return out

    def bind_roots(self, kind: gast.AST | None) -> None:
        """Bind the closure values an `except` clause names (its globals resolve by
        themselves)."""
        closure = self.ctx.trace.parsed.closure
        for n in astutil.walk(kind) if kind is not None else ():
            if isinstance(n, gast.Name) and n.id in closure:
                self.ctx.bindings.names[n.id] = closure[n.id]

    def finally_(self, out: list[gast.AST], k: str, end: gast.AST) -> list[gast.AST]:
        begin = next(i for i, t in enumerate(out) if _is(t, "finally", k, "begin"))
        mid = next(i for i, t in enumerate(out) if _is(t, "finally", k, "mid"))
        node = gast.Try(body=out[begin + 1: mid] or [gast.Pass()], handlers=[], orelse=[],
                        finalbody=out[mid + 1:] or [gast.Pass()])
        node.adgen_line = getattr(out[begin], "adgen_line", None)
        return [*out[:begin], node]


# managers that never suppress an exception, written as they are in reverse mode (any other
# is wrapped in `runtime_forms.no_suppression`, which refuses a suppressed exception)
_NEVER_SUPPRESS = (np.errstate, warnings.catch_warnings, np.printoptions)


def plain_try(s: gast.If) -> list[gast.AST]:
    """A `try` region of the trace as the plain `try` statement it stands for, with its
    `with` statements and nested `try` statements (the recorder of trace unrolling runs it);
    `finally` marks are dropped (the statements run in order when nothing raises)."""
    handlers = s.adgen_block[1]
    body, caught = _take_caught(list(s.body))
    if caught is not None:
        body += caught.body
    chosen = _chosen(caught.orelse if caught is not None else [], len(handlers))
    out = [gast.ExceptHandler(type=clone(kind) if kind is not None else None,
                              name=name(bound, gast.Store()) if bound else None,
                              body=[assign(f, const(False), None) for f in cleared] + _plain(
                                  handler) or [gast.Pass()])
           for (kind, bound, cleared), handler in zip(handlers, chosen, strict=True)]
    return [gast.Try(body=_plain(body) or [gast.Pass()], handlers=out, orelse=[],
                     finalbody=[])]


def _plain(stmts: list[gast.AST]) -> list[gast.AST]:
    out: list[gast.AST] = []
    for t in stmts:
        mark = getattr(t, "adgen_block", None)
        if isinstance(t, gast.Pass):
            continue
        if isinstance(t, gast.If) and mark is not None and mark[0] == "step":
            out += _plain(t.body)
        elif isinstance(t, gast.If) and mark is not None and mark[0] == "try":
            out += plain_try(t)
        elif isinstance(t, gast.If) and mark is not None and mark[0] == "with":
            target = name(mark[1], gast.Store()) if mark[1] else None
            out.append(gast.With(items=[gast.withitem(context_expr=t.test,
                                                      optional_vars=target)],
                                 body=_plain(t.body) or [gast.Pass()], type_comment=None))
        else:
            for field in ("body", "orelse"):
                if isinstance(getattr(t, field, None), list):
                    setattr(t, field, _plain(getattr(t, field)) or (
                        [gast.Pass()] if field == "body" else []))
            out.append(t)
    return out


def _chosen(orelse: list[gast.AST], n: int) -> list[list[gast.AST]]:
    """The handlers' blocks from the `if _h: H1 else: H2` chain the marks made."""
    out = []
    for _ in range(n - 1):
        if len(orelse) == 1 and isinstance(orelse[0], gast.If):
            out.append(orelse[0].body)
            orelse = orelse[0].orelse
        else:  # the chain was dropped: no handler has code left
            out.append([])
    return [*out, orelse]


def _take_caught(stmts: list[gast.AST]) -> tuple[list[gast.AST], gast.If | None]:
    """The region's statements without its handlers' `if`, and that `if`: the last
    statement, or the last one of the `if` a jump in the body put the rest of it under."""
    if not stmts:
        return stmts, None
    last = stmts[-1]
    mark = getattr(last, "adgen_block", None)
    if isinstance(last, gast.If) and mark is not None and mark[0] == "handlers":
        return stmts[:-1], last
    if isinstance(last, gast.If) and mark is None and not last.orelse:
        inner, caught = _take_caught(last.body)
        if caught is not None:
            last.body = inner or [gast.Pass()]
        return stmts, caught
    return stmts, None


def _pushes(stmts: list[gast.AST], stack: str) -> bool:
    return any(isinstance(n, gast.Attribute) and n.attr == "append" and isinstance(
        n.value, gast.Name) and n.value.id == stack for n in astutil.walk(stmts))


def _is(s: gast.AST, *block: Any) -> bool:
    mark = getattr(s, "adgen_block", None)
    return isinstance(s, gast.Pass) and mark is not None and tuple(mark[:len(block)]) == block
