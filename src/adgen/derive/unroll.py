"""Trace unrolling: reverse mode specialised to the control path one call takes.

A recorder (the lowered primal, instrumented) runs once and returns the path: `True`/`False`
for each `if` taken, and the loop's number at the start of each iteration. The trace is then
unrolled along that path into straight-line code — loops repeated, branches resolved — with a
guard at every decision, and differentiated like any straight-line function (no stack: every
overwritten value lives in a named variable). A call that takes another path fails a guard,
and the gradient re-specialises (a few paths are cached) — or, past `limit` unrolled steps,
falls back to stack replay and says so once with a warning.

`with` bodies are recorded and unrolled inside their marked `if` (the recorder enters the
manager); a `try` region (`frontend.lower_blocks`) is kept whole, as one step of the path,
and differentiated as in stack replay, by its flags (the recorder runs it as a plain `try`).
A `return`, `break` or `continue` inside a region sends the function to stack replay.
"""

from __future__ import annotations

import copy
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import gast

from adgen.codegen import astutil, emit
from adgen.codegen.astutil import clone
from adgen.derive import blocks
from adgen.derive.analysis import statements
from adgen.derive.generate import lowering_helpers
from adgen.errors import DifferentiationError
from adgen.frontend.lower import Trace, assign, const, name
from adgen.program import Program


class PathChanged(Exception):
    """An unrolled derivative was called with arguments that take another control path."""


class TooLong(Exception):
    """The unrolled trace would pass the size bound."""


# ---------------------------------------------------------------------- recording


def loop_numbers(body: list[gast.AST]) -> dict[int, int]:
    """Each loop statement's number, in program order (the same for every lowering)."""
    loops = [s for s in statements(body) if isinstance(s, (gast.For, gast.While))]
    return {id(s): k for k, s in enumerate(loops)}


def _instrument(body: list[gast.AST], path: str, loops: dict[int, int],
                printing: Callable[[gast.AST], bool]) -> list[gast.AST]:
    """The primal's statements, appending each branch taken and loop entered to `path`;
    `print(...)` calls are left out (the derivative that follows prints)."""
    out: list[gast.AST] = []
    for s in body:
        block = getattr(s, "adgen_block", None)
        if isinstance(s, gast.If) and block is not None and block[0] == "with":
            target = name(block[1], gast.Store()) if block[1] else None
            out.append(gast.With(items=[gast.withitem(context_expr=clone(s.test),
                                                      optional_vars=target)],
                                 body=_instrument(s.body, path, loops, printing) or [
                                     gast.Pass()], type_comment=None))
        elif isinstance(s, gast.If) and block is not None and block[0] == "try":
            out.extend(blocks.plain_try(clone(s)))  # one step of the path: not recorded inside
        elif isinstance(s, gast.Pass):
            continue  # a mark of `finally`: without an exception, the statements in order
        elif isinstance(s, gast.If):
            node = clone(s)
            node.body = [_append(path, const(True))] + _instrument(s.body, path, loops, printing)
            node.orelse = [_append(path, const(False))] + _instrument(s.orelse, path, loops,
                                                                      printing)
            out.append(node)
        elif isinstance(s, (gast.For, gast.While)):
            node = clone(s)
            node.body = [_append(path, const(loops[id(s)]))] + _instrument(s.body, path, loops,
                                                                           printing)
            node.orelse = _instrument(s.orelse, path, loops, printing)
            out.append(node)
        elif printing(s):
            continue
        elif isinstance(s, gast.Return):
            packed = gast.Tuple(elts=[s.value, gast.Call(func=name("tuple"), args=[name(path)],
                                                         keywords=[])], ctx=gast.Load())
            out.append(gast.Return(value=packed))
        else:
            out.append(s)
    return out


def _append(path: str, item: gast.AST) -> gast.Expr:
    call = gast.Call(func=gast.Attribute(value=name(path), attr="append", ctx=gast.Load()),
                     args=[item], keywords=[])
    return gast.Expr(value=call)


def recorder(trace: Trace) -> Callable[..., Any]:
    """`f_record(*args) -> (value, path)`: the primal that also returns its control path."""
    path = trace.namer.fresh("_path")
    node = clone(trace.node)
    node.name = f"{trace.parsed.name.rstrip('_')}_record"
    def printing(s: gast.AST) -> bool:
        return (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call)
                and isinstance(s.value.func, gast.Name)
                and trace.parsed.resolve(s.value.func.id) == (True, print))

    node.body = [assign(path, gast.List(elts=[], ctx=gast.Load()), None)] + _instrument(
        trace.node.body, path, loop_numbers(trace.node.body), printing)
    bindings = {**trace.parsed.closure, **lowering_helpers(trace), "tuple": tuple}
    defaults = getattr(trace.parsed.function, "__defaults__", None) or ()
    node.args.defaults = []
    for p, value in zip(trace.params[len(trace.params) - len(defaults):], defaults,
                        strict=True):
        bindings[f"{p}_default"] = value
        node.args.defaults.append(name(f"{p}_default"))
    source = emit.to_source([node], trace.parsed.lines)
    return emit.compile_functions(source, node.name, bindings, trace.parsed.globals,
                                  trace.parsed.name, "record")


# ---------------------------------------------------------------------- unrolling


class _Unroller:
    def __init__(self, trace: Trace, path: tuple, limit: int, failure: str) -> None:
        self.trace, self.path, self.limit = trace, path, limit
        self.at = 0
        self.size = 0
        self.out: list[gast.AST] = []
        self.loops = loop_numbers(trace.node.body)
        self.result: gast.AST = const(None)
        self.failure = failure

    def emit(self, s: gast.AST) -> None:
        self.out.append(s)
        self.size += 1
        if self.size > self.limit:
            raise TooLong

    def guard(self, test: gast.AST, expected: bool, line: Any) -> None:
        fail = [gast.Raise(exc=name(self.failure), cause=None)]
        test = clone(test)
        if expected:
            test = gast.UnaryOp(op=gast.Not(), operand=test)
        node = gast.If(test=test, body=fail, orelse=[])
        node.adgen_line = line
        self.emit(node)

    def block(self, body: list[gast.AST]) -> str | None:
        for s in body:
            signal = self.stmt(s)
            if signal:
                return signal
        return None

    def stmt(self, s: gast.AST) -> str | None:
        block = getattr(s, "adgen_block", None)
        if isinstance(s, gast.If) and block is not None and block[0] == "with":
            saved, self.out = self.out, []  # the body always runs: unrolled inside it
            signal = self.block(s.body)
            node = copy.copy(s)
            node.body, self.out = self.out or [gast.Pass()], saved
            self.emit(node)
            return signal
        if isinstance(s, gast.If) and block is not None and block[0] == "try":
            self.emit(clone(s))  # replayed by its flags, as in stack replay
            return None
        if isinstance(s, gast.Pass):
            return None  # a mark of `finally`: the unrolled path raised nothing
        if isinstance(s, gast.If):
            taken = self.path[self.at]
            self.at += 1
            self.guard(s.test, taken, s.adgen_line)
            return self.block(s.body if taken else s.orelse)
        if isinstance(s, (gast.For, gast.While)):
            return self.loop(s)
        if isinstance(s, gast.Break):
            return "break"
        if isinstance(s, gast.Continue):
            return "continue"
        if isinstance(s, gast.Return):
            self.result = s.value
            return "return"
        self.emit(clone(s))
        return None

    def loop(self, s: gast.AST) -> str | None:
        number = self.loops[id(s)]
        sequence = None
        if isinstance(s, gast.For):
            sequence = self.trace.namer.temp("_range")
            rng = clone(s.iter)
            rng.adgen_fn = range
            self.emit(assign(sequence, rng, s.adgen_line))
        count = 0
        start = len(self.out)
        while self.at < len(self.path) and self.path[self.at] == number and (
                type(self.path[self.at]) is int):
            self.at += 1
            if isinstance(s, gast.While):
                self.guard(s.test, True, s.adgen_line)
            else:
                item = gast.Subscript(value=name(sequence), slice=const(count), ctx=gast.Load())
                self.emit(assign(s.target.id, item, s.adgen_line))
            count += 1
            signal = self.block(s.body)
            if signal in ("break", "return"):
                self.enough_items(s, sequence, start, count)
                return signal if signal == "return" else None
        self.enough_items(s, sequence, start, count)
        if isinstance(s, gast.While):
            self.guard(s.test, False, s.adgen_line)
        else:
            length = gast.Call(func=name("len"), args=[name(sequence)], keywords=[])
            done = self.trace.namer.temp("_t")
            self.emit(assign(done, gast.Compare(left=length, ops=[gast.Eq()],
                                                comparators=[const(count)]), s.adgen_line))
            self.guard(name(done), True, s.adgen_line)
        return self.block(s.orelse)


    def enough_items(self, s: gast.AST, sequence: str | None, start: int, count: int) -> None:
        """Before the unrolled items of a `for` loop are read (`x = _range1[2]`): a guard that
        the sequence has that many, so a shorter one fails the path, not the indexing."""
        if sequence is None or not count:
            return
        length = gast.Call(func=name("len"), args=[name(sequence)], keywords=[])
        test = gast.Compare(left=length, ops=[gast.GtE()], comparators=[const(count)])
        saved, self.out = self.out, []
        self.guard(test, True, s.adgen_line)
        saved[start:start] = self.out
        self.out = saved


def unrolled_trace(trace: Trace, path: tuple, limit: int) -> Trace:
    """`trace` (a fresh lowering, modified in place) unrolled along `path`."""
    failure = trace.namer.fresh("PathChanged")
    u = _Unroller(trace, path, limit, failure)
    u.block(trace.node.body)
    ret = gast.Return(value=u.result)
    ret.adgen_line = trace.node.adgen_line
    trace.node.body = u.out + [ret]
    trace.parsed.closure = {**trace.parsed.closure, failure: PathChanged}
    return trace


# ---------------------------------------------------------------------- the dispatcher


def unrolled_derivative(program: Program, parsed: Any, limit: int, build: Callable[[Trace], Any],
                        fallback: Callable[[], Any]) -> Any:
    """A derivative of the function `parsed` came from that specialises to each call's control
    path (a few paths cached); None when a jump out of a `try` makes the whole function replay
    from the stack (the caller hands out the stack-replay derivative itself)."""
    lowered = program.lower(parsed)
    if _jumps_out_of_a_try(lowered.node):
        return None
    record = recorder(lowered)
    cache: OrderedDict[tuple, Any] = OrderedDict()
    lock = threading.Lock()
    state: dict[str, Any] = {"last": None, "warned": False}

    def specialise(args: tuple) -> Any:
        _, path = record(*args)
        with lock:
            fn = cache.get(path)
            if fn is None:
                try:
                    fn = build(unrolled_trace(program.lower(_fresh(parsed)), path, limit))
                except TooLong:
                    if not state["warned"]:
                        state["warned"] = True
                        warnings.warn(
                            f"adgen: the unrolled trace of {parsed.name} passes {limit} steps "
                            "for these arguments; using stack replay instead", stacklevel=3)
                    fn = fallback()
                cache[path] = fn
                if len(cache) > 8:
                    cache.popitem(last=False)
            state["last"] = fn
        return fn

    def derivative(*args: Any) -> Any:
        fn = state["last"]
        if fn is not None:
            try:
                return fn(*args)
            except PathChanged:
                pass
        try:
            return specialise(args)(*args)
        except PathChanged:  # the path depends on more than the arguments: replay a stack
            return fallback()(*args)

    derivative.__adgen__ = record.__adgen__
    derivative.specialise = specialise
    return derivative


def _fresh(parsed: Any) -> Any:
    new = copy.copy(parsed)
    new.closure = dict(parsed.closure)
    return new


def trace_for(program: Program, parsed: Any, args: tuple, limit: int = 100_000) -> str:
    """The evaluation trace the function `parsed` came from runs for `args`, unrolled, as
    source."""
    if _jumps_out_of_a_try(program.lower(parsed).node):
        raise DifferentiationError(f"adgen.trace does not unroll {parsed.name}: a `return`, "
                                   "`break` or `continue` leaves a `try` statement; "
                                   "adgen.source shows its derivative")
    _, path = recorder(program.lower(parsed))(*args)
    trace = unrolled_trace(program.lower(_fresh(parsed)), path, limit)
    return emit.to_source([trace.node], parsed.lines)


def _jumps_out_of_a_try(node: gast.AST) -> bool:
    """Whether a `return`, `break` or `continue` is inside a `try` region (`frontend.blocks`),
    which the unrolled trace keeps whole (its path is not recorded inside): such functions
    are replayed from the stack."""
    for n in astutil.walk(node):
        block = getattr(n, "adgen_block", None)
        if isinstance(n, gast.If) and block is not None and block[0] == "try" and any(
                isinstance(m, (gast.Return, gast.Break, gast.Continue))
                for m in astutil.walk(n.body)):
            return True
    return False
