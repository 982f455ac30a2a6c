"""`with` and `try` statements as marked `if`s, which every stage replays like branches.

Before anything else reads a function, its `with` and `try` statements are rewritten at the
source level into statements the pipeline knows, each marked with `adgen_block`:

    with M(a) as v:                 if M(a):                  ("with", "v")
        body                            body

    try:                            _ok = attempt()
        B                           _h = attempt()            (one flag per handler after
    except E1 as e:                 if True:                   the first)
        H1                  →           B                     ("try", handlers)
    except E2:                          if _ok: pass          ("handlers",)
        H2                              else:
    else:                                   if _h: H1 else: H2
        O                           if _ok:
    finally:                            O
        F                           F, between marks ("finally", k, "begin" / "mid" / "end")
                                    around all of the above

The lowering then puts each step of the body B that the handler may follow (a run of
temporaries ending in one assignment, write or call, or one compound statement; the statements
of a `with` inside B step by step) under a flag of its own, `if _done3: ...`, assigned
`attempt()` at the top of the region, so the trace says what the primal does: some steps of
the body, then perhaps a handler. Derivation treats these as the branches they are: the `with`
body always runs; the reverse sweep replays the handler when `_ok` was cleared and each step
of the body whose flag says it ran. `derive.blocks` turns the marked statements back into
`with`/`try` in the generated code (the manager around both sweeps of its body; the body's
steps setting their flags in a reverse-mode forward sweep, the handler in the `except`
clause).
"""

from __future__ import annotations

import copy
from typing import Any

import gast

from adgen import runtime_forms
from adgen.codegen import astutil
from adgen.frontend.parse import Parsed

ATTEMPT = "adgen_attempt"  # the name `runtime_forms.attempt` is bound to in the trace


def has_blocks(node: gast.AST) -> bool:
    return any(isinstance(n, (gast.With, gast.Try)) for n in astutil.walk(node))


def desugar(parsed: Parsed, error: Any) -> Parsed:
    """A copy of `parsed` whose `with` and `try` statements are marked `if`s (itself when it
    has none)."""
    if not has_blocks(parsed.node):
        return parsed
    node = copy.deepcopy(parsed.node)
    used = set().union(*astutil.names(node))
    rewriter = _Rewriter(used, error)
    node.body = rewriter.block(node.body)
    node.adgen_bound = rewriter.bound
    closure = {**parsed.closure, ATTEMPT: runtime_forms.attempt}
    return Parsed(node, parsed.name, parsed.filename, parsed.lines, parsed.globals, closure,
                  parsed.function)


def _mark(node: gast.AST, at: gast.AST, block: tuple) -> gast.AST:
    node.adgen_block = block
    return gast.copy_location(node, at)


class _Rewriter:
    def __init__(self, used: set[str], error: Any) -> None:
        self.used, self.error = used, error
        self.count = 0
        self.bound: set[str] = set()  # names `as` binds, which the generated code binds again

    def fresh(self, base: str) -> str:
        self.count += 1
        while f"{base}{self.count}" in self.used:
            self.count += 1
        self.used.add(f"{base}{self.count}")
        return f"{base}{self.count}"

    def block(self, stmts: list[gast.AST]) -> list[gast.AST]:
        out: list[gast.AST] = []
        for s in stmts:
            if isinstance(s, gast.With):
                out.append(self.with_(s, s.items))
            elif isinstance(s, gast.Try):
                out.extend(self.try_(s))
            else:
                for field in ("body", "orelse"):
                    if isinstance(getattr(s, field, None), list) and not isinstance(
                            s, (gast.FunctionDef, gast.ClassDef)):
                        setattr(s, field, self.block(getattr(s, field)))
                out.append(s)
        return out

    def with_(self, s: gast.With, items: list[gast.withitem]) -> gast.AST:
        item = items[0]
        target = item.optional_vars
        if target is not None and not isinstance(target, gast.Name):
            raise self.error(s, "`with ... as` a tuple or an attribute", "bind one name")
        if not isinstance(item.context_expr, gast.Call):
            raise self.error(s, "a `with` statement whose manager is not made by a call in it",
                             "write the call in the `with` statement (`with np.errstate("
                             "over='ignore'):`), so each sweep enters a manager of its own")
        if target is not None:
            self.bound.add(target.id)
        body = [self.with_(s, items[1:])] if len(items) > 1 else self.block(s.body)
        node = gast.If(test=item.context_expr, body=body, orelse=[])
        return _mark(node, s, ("with", target.id if target is not None else None))

    def try_(self, s: gast.Try) -> list[gast.AST]:
        if s.finalbody and any(isinstance(n, (gast.Return, gast.Break, gast.Continue))
                               for n in astutil.walk(s)):
            raise self.error(s, "`return`, `break` or `continue` in a `try` with `finally`",
                             "leave the `try` statement first, then return or jump")
        out: list[gast.AST] = []
        if s.handlers:
            out += self.handled(s)
        else:
            out += self.block(s.body)
        if s.finalbody:
            k = self.fresh("_finally")
            begin = _mark(gast.Pass(), s, ("finally", k, "begin"))
            mid = _mark(gast.Pass(), s.finalbody[0], ("finally", k, "mid"))
            end = _mark(gast.Pass(), s.finalbody[-1], ("finally", k, "end"))
            out = [begin, *out, mid, *self.block(s.finalbody), end]
        return out

    def handled(self, s: gast.Try) -> list[gast.AST]:
        flags = [self.fresh("_ok")] + [self.fresh("_h") for _ in s.handlers[1:]]
        out = [gast.copy_location(gast.Assign(
            targets=[gast.Name(id=f, ctx=gast.Store(), annotation=None, type_comment=None)],
            value=gast.Call(func=_load(ATTEMPT), args=[], keywords=[]), type_comment=None), s)
            for f in flags]
        handlers = []
        for i, h in enumerate(s.handlers):
            if h.type is not None and not _global_type(h.type):
                raise self.error(h, "an `except` clause whose exception type is not a name, "
                                 "an attribute or a tuple of them", "name the exception class")
            if h.name is not None:
                self.bound.add(h.name.id)
            cleared = [flags[0]] + flags[1:i + 1]  # `_ok` and the flags that select handler i
            handlers.append((h.type, h.name.id if h.name is not None else None, cleared))
        orelse = self.block(s.handlers[-1].body)
        for i in range(len(s.handlers) - 2, -1, -1):
            choice = gast.If(test=_load(flags[i + 1]), body=self.block(s.handlers[i].body),
                             orelse=orelse)
            orelse = [gast.copy_location(choice, s.handlers[i])]
        nothing = gast.copy_location(gast.Pass(), s.handlers[0])
        caught = _mark(gast.If(test=_load(flags[0]), body=[nothing], orelse=orelse),
                       s.handlers[0], ("handlers",))
        region = gast.If(test=gast.Constant(value=True, kind=None),
                         body=[*self.block(s.body), caught], orelse=[])
        out.append(_mark(region, s, ("try", tuple(handlers))))
        if s.orelse:
            out.append(gast.copy_location(gast.If(test=_load(flags[0]),
                                                  body=self.block(s.orelse), orelse=[]),
                                          s.orelse[0]))
        return out


def _load(var: str) -> gast.Name:
    return gast.Name(id=var, ctx=gast.Load(), annotation=None, type_comment=None)


def _global_type(node: gast.AST) -> bool:
    if isinstance(node, gast.Tuple):
        return all(_global_type(e) for e in node.elts)
    while isinstance(node, gast.Attribute):
        node = node.value
    return isinstance(node, gast.Name)
