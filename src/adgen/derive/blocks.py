"""`with` and `try` statements back in generated code (see `frontend.blocks` for the marks).

`check` refuses what cannot be replayed: a `with` manager made from a differentiated value,
and a differentiated operation on a name bound by `with ... as` or `except ... as`.
`restore` turns the marked statements of a generated function into `with` and `try`:

- a `with` mark becomes `with M(...) [as v]:` around its block; in the reverse sweep the same
  call makes a second manager around the body's adjoints (its `else`, the zero adjoints of a
  path never taken, is dropped: the body always runs). In reverse mode a manager other than
  `np.errstate`, `warnings.catch_warnings` and `np.printoptions` is wrapped in
  `no_suppression`, which refuses an exception the manager would suppress (a half-run body);
- a `try` mark becomes `try: body except E: <clear the flags>; handler`; in reverse mode the
  handler first checks the progress mark (an exception after the body's first statement is
  refused) and drops what the body pushed onto the stack;
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
    forward sweep (whose handlers check the progress mark)."""
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
                out.extend(self.try_(s, block[1]))
            elif block[0] == "finally" and block[2] == "end":
                out = self.finally_(out, block[1], s)
            elif block[0] == "finally" or block[0] == "progress":
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

    def try_(self, s: gast.If, handlers: tuple) -> list[gast.AST]:
        line = getattr(s, "adgen_line", None)
        before: list[gast.AST] = []
        clean = None
        body = s.body
        marks = [i for i, t in enumerate(body) if _is(t, "progress")]
        if marks and self.reverse:
            clean = self.ctx.namer.fresh("_clean")
            before.append(assign(clean, const(True), line))
            body[marks[0]] = assign(clean, const(False), line)
        body = [t for t in body if not _is(t, "progress")] or [gast.Pass()]
        pushes = self.stack is not None and any(
            isinstance(n, gast.Attribute) and n.attr == "append" and isinstance(
                n.value, gast.Name) and n.value.id == self.stack for n in astutil.walk(body))
        size = None
        if pushes:
            size = self.ctx.namer.fresh("_depth")
            before.append(assign(size, gast.Call(func=name("len"), args=[name(self.stack)],
                                                 keywords=[]), line))
        chosen = self.chosen(s.orelse, len(handlers))
        out = []
        for (kind, bound, cleared), handler in zip(handlers, chosen, strict=True):
            first = [assign(f, const(False), line) for f in cleared]
            if clean is not None:
                at = where(os.path.basename(self.ctx.trace.parsed.filename), line)
                refuse = gast.Expr(value=self.ctx.call(
                    "caught_after_progress", runtime_forms.caught_after_progress, [const(at)]))
                first.append(gast.If(test=gast.UnaryOp(op=gast.Not(), operand=name(clean)),
                                     body=[refuse], orelse=[]))
            if size is not None:
                longer = gast.Compare(left=gast.Call(func=name("len"), args=[
                    name(self.stack)], keywords=[]), ops=[gast.Gt()], comparators=[name(size)])
                pop = gast.Expr(value=gast.Call(func=gast.Attribute(
                    value=name(self.stack), attr="pop", ctx=gast.Load()), args=[], keywords=[]))
                first.append(gast.While(test=longer, body=[pop], orelse=[]))
            self.bind_roots(kind)
            out.append(gast.ExceptHandler(
                type=clone(kind) if kind is not None else None,
                name=name(bound, gast.Store()) if bound else None,
                body=first + (handler or [])))
        node = gast.Try(body=body, handlers=out, orelse=[], finalbody=[])
        node.adgen_line = line
        return [*before, node]

    def chosen(self, orelse: list[gast.AST], n: int) -> list[list[gast.AST]]:
        """The handlers' blocks from the `if _h: H1 else: H2` chain the marks made."""
        out = []
        for _ in range(n - 1):
            if len(orelse) == 1 and isinstance(orelse[0], gast.If):
                out.append(orelse[0].body)
                orelse = orelse[0].orelse
            else:  # the chain was dropped: no handler has code left
                out.append([])
        return [*out, orelse]

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


def _is(s: gast.AST, *block: Any) -> bool:
    mark = getattr(s, "adgen_block", None)
    return isinstance(s, gast.Pass) and mark is not None and tuple(mark[:len(block)]) == block
