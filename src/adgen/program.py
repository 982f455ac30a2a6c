"""The program view: what adgen knows about every function reached from the one differentiated.

One `Program` holds, for each user function it has met, the parsed source and evaluation
trace (`trace(f)`), facts computed over it (`facts`: e.g. whether a callee returns a 0-d
value for 0-d arguments), and the derivatives built from it (`derivative(f, wrt, kind)`),
plus how each name in the function was resolved when it was built (`Resolution`). It is the
one place that decides staleness: before a cached trace or derivative is handed out, the
names it resolved are looked up again (the function's code object, each global and closure
cell it called through, recursively for the callees it was built against); if any now names
another object, everything built from it is dropped and built again. A derivative therefore
never runs code other than what the primal runs now.

The stages receive the program (the derivation stages through their `Context`) and ask it
for callees' traces and derivatives; none imports the pipeline. The pipeline module creates
the one process-wide program with the function that builds a derivative (`Program(build)`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import gast

from adgen.codegen import astutil
from adgen.errors import DifferentiationError
from adgen.frontend.aliases import returned
from adgen.frontend.effects import Summary, bound_arguments, value_form
from adgen.frontend.effects import summary as effect_summary
from adgen.frontend.function_values import function_params, value_key
from adgen.frontend.ir import assigned
from adgen.frontend.lower import Trace, lower
from adgen.frontend.parse import Parsed, parse_function, reads_same, register_parsed, registered
from adgen.rules import lookup

Key = tuple[Any, Any, str, frozenset]


def derivative_key(f: Any, wrt: Any, kind: str, scalar_params: frozenset[str]) -> Key:
    return (f, tuple(wrt) if isinstance(wrt, (list, tuple)) else wrt, kind, scalar_params)


@dataclass
class Resolution:
    """How a function's source was bound when its trace was made: its code object and what
    each free name it calls or reads resolved to (globals and closure cells)."""

    code: Any
    names: dict[str, Any] = field(default_factory=dict)
    # module-level dicts and lists of functions the trace branches over (`T[key](x)`): the
    # functions they held
    tables: dict[str, tuple] = field(default_factory=dict)
    # the default values' tuple and dict: a caller's derivative binds the defaults it passes
    defaults: tuple = (None, None)

    def current(self, f: Any) -> bool:
        if getattr(f, "__code__", None) is not self.code or not _same_defaults(f, self.defaults):
            return False
        cells = _closure_values(f)
        namespace = getattr(f, "__globals__", {})
        for n, obj in self.names.items():
            now = cells[n] if n in cells else namespace.get(n, _MISSING)
            if now is not obj:
                return False
        for n, entries in self.tables.items():
            now = cells[n] if n in cells else namespace.get(n, _MISSING)
            held = _functions_held(now)
            if held is None or len(held) != len(entries) or any(
                    a is not b for a, b in zip(held, entries, strict=True)):
                return False
        return True


def _defaults(f: Any) -> tuple:
    return getattr(f, "__defaults__", None), getattr(f, "__kwdefaults__", None)


def _same_defaults(f: Any, defaults: tuple) -> bool:
    """Whether `f` has the default values it had (`f.__defaults__ = ...` rebinds them)."""
    return all(a is b for a, b in zip(_defaults(f), defaults, strict=True))


def _functions_held(table: Any) -> tuple | None:
    """The functions a dict, list or tuple holds, when it holds only functions."""
    if not isinstance(table, (dict, list, tuple)) or not table:
        return None
    values = tuple(table.values()) if isinstance(table, dict) else tuple(table)
    return values if all(callable(v) for v in values) else None


_MISSING = object()


class _Cell:
    """A closure cell read like a namespace (`get(name, default)`), for `Program.watch`."""

    def __init__(self, cell: Any) -> None:
        self.cell = cell

    def get(self, name: str, default: Any) -> Any:
        try:
            return self.cell.cell_contents
        except ValueError:  # an empty cell
            return default


def _closure_values(f: Any) -> dict[str, Any]:
    code = getattr(f, "__code__", None)
    cells = getattr(f, "__closure__", None) or ()
    if code is None:
        return {}
    out = {}
    for n, c in zip(code.co_freevars, cells, strict=False):
        try:
            out[n] = c.cell_contents
        except ValueError:  # an empty cell: the name is not bound yet
            out[n] = _MISSING
    return out


def _resolution(f: Any, trace: Trace) -> Resolution:
    """What the trace of `f` took from `f`'s globals and closure: every free name whose value is
    a function or a module (callees, `np`, `math`); data globals are read at run time anyway."""
    cells = _closure_values(f)
    namespace = getattr(f, "__globals__", {})
    names, tables = {}, {}
    for n in sorted(set().union(*astutil.names(trace.node)) - trace.locals):
        value = cells[n] if n in cells else namespace.get(n, _MISSING)
        held = _functions_held(value)
        if held is not None:
            tables[n] = held
        if n in cells:  # closure values are bound into generated code when it is built
            names[n] = cells[n]
        elif n in namespace and (callable(namespace[n]) or isinstance(namespace[n], ModuleType)):
            names[n] = namespace[n]
    return Resolution(getattr(f, "__code__", None), names, tables, defaults=_defaults(f))


def standing_for(f: Any) -> Any:
    """The function adgen reads for `f`: a held derivative's current one, the reverse-mode
    gradient for a forward-mode `grad` (`__adgen_stand_in__`), else `f` itself."""
    while getattr(f, "__adgen_stand_in__", None) is not None:
        f = f.__adgen_stand_in__()
    return f


class Deferred:
    """A callee's derivative that is still being built (recursion): resolved at call time.

    Its callers were generated before the callee's tape was known, so they always speak the
    tape protocol (`value, tape = fwd(...)`, `bwd(tape, cotangent)`); a callee whose tape is
    just some of its arguments gets them packed here. A reference that is `own` is to the
    derivative whose code is being generated right now: the caller calls its sibling
    functions by name instead, and is never handed this object at run time."""

    def __init__(self, program: Program, key: Key, part: str, own: bool = False) -> None:
        self.program, self.key, self.part, self.own = program, key, part, own

    def resolved(self) -> Any:
        fn = self.program.built[self.key]
        return fn.__adgen__.info["bwd"] if self.part == "bwd" else fn

    def __call__(self, *args: Any) -> Any:
        fn = self.program.built[self.key]
        info = fn.__adgen__.info
        positions = info.get("tape_positions")
        if positions is None:
            return self.resolved()(*args)
        if self.part == "bwd":
            tape, cotangent = args
            return info["bwd"](*tape, cotangent)
        return fn(*args), tuple(args[i] for i in positions)


SPECIALISATIONS = 16  # specialisations to function values kept per function

Builder = Callable[["Program", Any, Any, str, frozenset], Any]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while parsing or lowering, as during a build
    (`pipeline`): those make many small trees that live on, which it would walk again and
    again, freeing nothing."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class Program:
    """Traces, facts and derivatives of the user functions met so far, kept current."""

    def __init__(self, build: Builder) -> None:
        self._build = build
        self.lock = threading.RLock()
        self.traces: dict[Any, Trace] = {}
        self.resolutions: dict[Any, Resolution] = {}
        self.built: dict[Key, Any] = {}
        self.callees: dict[Any, set[Any]] = {}  # f -> user functions f's derivatives call
        self.facts: dict[Any, Any] = {}
        self.building: set[Key] = set()
        self._stack: list[Key] = []
        self._deferred: dict[Key, tuple[Deferred, Deferred]] = {}
        self._specialised: dict[Any, dict[Any, Any]] = {}  # f -> {values' key: copy of f}
        self._parses: dict[Any, tuple[Any, Parsed]] = {}  # f -> (its code, its parse), unused

    # ------------------------------------------------------------------ traces

    def trace(self, f: Any) -> Trace:
        """The evaluation trace of `f`, lowered once while `f` resolves its names the same way."""
        f = standing_for(f)
        with self.lock:
            trace = self.traces.get(f)
            if trace is not None and not self.resolutions[f].current(f):
                self.forget(f)
                trace = None
            if trace is None:
                with collector_paused():
                    trace = self.lower(self._parse(f))
                self.traces[f] = trace
                self.resolutions[f] = _resolution(f, trace)
            return trace

    def lower(self, parsed: Parsed) -> Trace:
        """A fresh trace of `parsed`, calls of the user's functions lowered by their effects."""
        return lower(parsed, self.effects, self.returns)

    def effects(self, fn: Any) -> tuple[Summary, Any] | None:
        """What the user function `fn` writes into, and its value form (`frontend.effects`);
        None when it writes into no argument (or is not a function adgen reads)."""
        key = (fn, "effects")
        if key in self.facts:
            return self.facts[key]
        self.facts[key] = None  # a recursive call being summarised writes nothing
        if getattr(fn, "__adgen__", None) is not None or lookup(fn) is not None:
            return None
        if hasattr(fn, "__adgen_checkpoint__"):  # a checkpointed loop's function writes only
            return None  # into the carried values, rebound from what it returns (its driver
            # works on copies of them)
        try:
            parsed = parse_function(fn)
        except (DifferentiationError, SyntaxError):
            return None

        def written(call: gast.Call) -> list[tuple[gast.AST, int]]:
            if not isinstance(call.func, gast.Name):
                return []
            found, callee = parsed.resolve(call.func.id)
            inner = self.effects(callee) if found and isinstance(
                callee, types.FunctionType) else None
            return [] if inner is None else [(a, inner[0][p]) for p, a in
                                             bound_arguments(callee, call, inner[0])]

        summary = effect_summary(parsed, written)
        result = (summary, value_form(fn, parsed, summary)) if summary else None
        self.facts[key] = result
        return result

    def returns(self, fn: Any) -> frozenset[str]:
        """The parameters of the user function `fn` whose objects its result may share
        (`aliases.returned`); recursion by fixed point from none."""
        key = (fn, "returns")
        if key in self.facts:
            return self.facts[key]
        self.facts[key] = frozenset()
        if getattr(fn, "__adgen__", None) is not None or lookup(fn) is not None:
            return frozenset()
        try:
            parsed = parse_function(fn)
        except (DifferentiationError, SyntaxError):
            return frozenset()

        def inner(call: gast.Call) -> list[gast.AST]:
            if not isinstance(call.func, gast.Name):
                return []
            found, callee = parsed.resolve(call.func.id)
            params = self.returns(callee) if found and isinstance(
                callee, types.FunctionType) else frozenset()
            if not params:
                return []
            return [a for _, a in bound_arguments(callee, call, dict.fromkeys(params, True))]

        names = {a.id for a in parsed.node.args.args} | assigned(parsed.node.body)
        while True:
            found = frozenset(returned(parsed.node, names, inner))
            if found == self.facts[key]:
                return found
            self.facts[key] = found

    def function_params(self, f: Any) -> dict[str, int]:
        """The parameters of the user function `f` that hold function values, each with the
        line first using it as one (`frontend.function_values`); {} for what adgen cannot
        read."""
        key = (f, "function_params")
        if key in self.facts:
            return self.facts[key]
        self.facts[key] = {}  # a recursive call being looked at passes no function values
        if not isinstance(f, types.FunctionType) or lookup(f) is not None:
            return {}
        try:
            with collector_paused():
                parsed = parse_function(f)
        except (DifferentiationError, SyntaxError):
            return {}
        found = self.facts[key] = function_params(parsed, self.function_params)
        self._parses[f] = (f.__code__, parsed)  # read only: `trace(f)` may take it
        return found

    def _parse(self, f: Any) -> Parsed:
        """`parse_function(f)`, or the parse `function_params(f)` made (parsing is a good part
        of a long function's build) when `f` still runs that code with those closure values."""
        code, parsed = self._parses.pop(f, (None, None))
        if parsed is not None and code is f.__code__ and reads_same(parsed, f):
            return parsed
        return parse_function(f)

    def specialise(self, f: Any, values: dict[str, Any]) -> Any:
        """A copy of the user function `f` whose parameters in `values` hold those function
        values: its trace resolves calls of them to these objects, and its derivatives are
        cached as those of a function of its own. One copy per `value_key`s; the oldest of
        more than `SPECIALISATIONS` for one `f` is forgotten with everything built on it."""
        key = tuple(sorted((p, value_key(v)) for p, v in values.items()))
        with self.lock:
            known = self._specialised.setdefault(f, {})
            copy = known.get(key)
            if copy is not None:
                return copy
            copy = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__,
                                      f.__closure__)
            copy.__qualname__, copy.__module__ = f.__qualname__, f.__module__
            copy.__kwdefaults__ = f.__kwdefaults__
            copy.adgen_static = dict(values)
            copy.adgen_specialises = f
            made = registered(f)  # a function adgen made (a lifted nested `def`)
            if made is not None:
                register_parsed(copy, dataclasses.replace(made, function=copy,
                                                          static=dict(values)))
            known[key] = copy
            while len(known) > SPECIALISATIONS:
                oldest = next(iter(known))
                self.forget(known.pop(oldest))
            return copy

    def current(self, f: Any, seen: set[Any] | None = None) -> bool:
        """Whether `f`, and every user function its derivatives were built against, still
        resolves its names as when it was traced."""
        seen = set() if seen is None else seen
        if f in seen:
            return True
        seen.add(f)
        resolution = self.resolutions.get(f)
        if resolution is not None and not resolution.current(f):
            return False
        return all(self.current(g, seen) for g in self.callees.get(f, ()))

    def watch(self, f: Any) -> Callable[[], bool]:
        """A cheap test, for a derivative the user holds, that `f` and every user function
        reached from it still resolve their names as when they were traced: the identities to
        compare are gathered once, here, into one flat list."""
        codes: list[tuple[Any, Any]] = []
        names: list[tuple[Callable[[str, Any], Any], str, Any]] = []
        todo, seen = [f], set()
        with self.lock:
            while todo:
                g = todo.pop()
                resolution = self.resolutions.get(g)
                if id(g) in seen or resolution is None:
                    continue
                seen.add(id(g))
                codes.append((g, resolution.code, resolution.defaults))
                cells = dict(zip(getattr(g.__code__, "co_freevars", ()), g.__closure__ or (),
                                 strict=False))
                for n, obj in resolution.names.items():
                    space = _Cell(cells[n]) if n in cells else g.__globals__
                    names.append((space.get, n, obj))
                    if isinstance(obj, types.FunctionType):
                        todo.append(obj)
                todo.extend(self.callees.get(g, ()))

        def fresh() -> bool:
            for g, code, defaults in codes:
                if g.__code__ is not code or not _same_defaults(g, defaults):
                    return False
            for get, n, obj in names:
                if get(n, _MISSING) is not obj:
                    return False
            return True

        return fresh

    def forget(self, f: Any) -> None:
        """Drop what was built from `f`, and the derivatives of every function calling it."""
        self.traces.pop(f, None)
        self.resolutions.pop(f, None)
        self.facts = {k: v for k, v in self.facts.items() if k[0] is not f}
        self._parses.pop(f, None)
        callers = [g for g, called in self.callees.items() if f in called]
        self._drop_derivatives(f)
        for g in callers:
            self._drop_derivatives(g)

    def _drop_derivatives(self, f: Any) -> None:
        for key in [k for k in self.built if k[0] is f]:
            del self.built[key]
        for key in [k for k in self._deferred if k[0] is f]:
            del self._deferred[key]
        self.callees.pop(f, None)

    def clear(self) -> None:
        """Forget everything (`adgen.clear_cache()`)."""
        with self.lock:
            self.traces.clear()
            self.resolutions.clear()
            self.built.clear()
            self.callees.clear()
            self.facts.clear()
            self._deferred.clear()
            self._specialised.clear()
            self._parses.clear()

    # ------------------------------------------------------------------ derivatives

    def derivative(self, f: Any, wrt: Any, kind: str,
                   scalar_params: frozenset[str] = frozenset()) -> Any:
        """The compiled derivative function of `f`: built once, rebuilt when stale."""
        f = standing_for(f)
        key = derivative_key(f, wrt, kind, scalar_params)
        with self.lock:
            fn = self.built.get(key)
            if fn is not None and not self._stack and not self.current(f):
                self._forget_stale(f, set())
                fn = None
            if self._stack:  # the derivative being built calls this one
                self.callees.setdefault(self._stack[-1][0], set()).add(f)
            if fn is None:
                self.building.add(key)
                self._stack.append(key)
                try:
                    fn = self.built[key] = self._build(self, f, wrt, kind, scalar_params)
                finally:
                    self.building.discard(key)
                    self._stack.pop()
            return fn

    def _forget_stale(self, f: Any, seen: set[Any]) -> None:
        """Drop what changed below `f`, and everything built on it."""
        if f in seen:
            return
        seen.add(f)
        for g in list(self.callees.get(f, ())):
            self._forget_stale(g, seen)
        resolution = self.resolutions.get(f)
        if resolution is not None and not resolution.current(f):
            self.forget(f)
        elif not self.current(f):
            self._drop_derivatives(f)

    def callee_derivative(self, f: Any, wrt: tuple[str, ...], kind: str,
                          scalar_params: frozenset[str]) -> tuple[Any, Any]:
        """The derivative function(s) a caller binds for a call to `f`: `(jvp, None)` for
        forward mode, `(fwd, bwd)` for reverse mode; deferred while `f` itself is being built
        (`own` when the call is in the very derivative being built: direct recursion)."""
        f = standing_for(f)
        key = derivative_key(f, wrt, kind, scalar_params)
        with self.lock:
            if key in self.building:
                self.callees.setdefault(self._stack[-1][0], set()).add(f)
                if key == self._stack[-1]:
                    return Deferred(self, key, "fwd", own=True), Deferred(self, key, "bwd",
                                                                           own=True)
                if key not in self._deferred:  # one name per callee in the caller's code
                    self._deferred[key] = (Deferred(self, key, "fwd"),
                                           Deferred(self, key, "bwd"))
                return self._deferred[key]
            fn = self.derivative(f, wrt, kind, scalar_params)
            return fn, fn.__adgen__.info.get("bwd")
