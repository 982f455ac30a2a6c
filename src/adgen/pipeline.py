"""The pipeline from a user function to a compiled derivative function.

parse → lower → analyse → forward or reverse → simplify → emit → compile. The one
process-wide `Program` (`adgen.program`) caches what is built: each distinct (function, wrt,
kind, scalar parameters) is transformed once, and again only when a name it resolved changed.
"""

from __future__ import annotations

import copy
import gc
import sys
from typing import Any

import gast

from adgen import runtime
from adgen.codegen import astutil, emit
from adgen.codegen.astutil import clone
from adgen.derive.assemble import build_reverse
from adgen.derive.checkpoint import build_split, checkpointed_loop
from adgen.derive.forward import Forward
from adgen.derive.generate import context
from adgen.derive.unroll import unrolled_derivative
from adgen.errors import DifferentiationError
from adgen.frontend.lower import Trace, name
from adgen.program import Program


def _build_guarded(program: Program, f: Any, wrt: Any, kind: str,
                  scalar_params: frozenset[str]) -> Any:
    """Build one derivative. A build allocates many small trees that mostly live until it
    ends, so the cyclic collector, left on, walks them again and again and frees nothing (an
    eighth of the time of a large build): it is off while the outermost build runs, then one
    collection of the youngest generation, which holds everything the build allocated."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))  # deeply nested user code (long elifs)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build(program, f, wrt, kind, scalar_params)
    finally:
        sys.setrecursionlimit(limit)
        if collecting:
            gc.enable()
            gc.collect(0)


PROGRAM = Program(_build_guarded)


def get_trace(f: Any) -> Trace:
    """The (cached) evaluation trace of `f`."""
    return PROGRAM.trace(f)


def derivative(f: Any, wrt: Any, kind: str, scalar_params: frozenset[str] = frozenset()) -> Any:
    """The compiled derivative function of `f` (cached in the program view)."""
    return PROGRAM.derivative(f, wrt, kind, scalar_params)


def clear_cache() -> None:
    """Forget every trace and derivative built so far."""
    PROGRAM.clear()


def wrt_names(trace: Trace, wrt: Any) -> tuple[list[str], bool]:
    """Parameter names for a `wrt` given as index, name or tuple; and whether it was single."""
    single = not isinstance(wrt, (tuple, list))
    items = [wrt] if single else list(wrt)
    params = trace.params
    names = []
    for w in items:
        if isinstance(w, int) and not isinstance(w, bool) and -len(params) <= w < len(params):
            names.append(params[w])
        elif isinstance(w, str) and w in params:
            names.append(w)
        else:
            raise DifferentiationError(
                f"wrt={w!r} names no parameter of {trace.parsed.name}"
                f"({', '.join(params)}): give a parameter index (0 to {len(params) - 1}) or name"
            )
    if len(set(names)) != len(names):
        raise DifferentiationError(f"wrt={wrt!r} names a parameter twice")
    return names, single


def _build(program: Program, f: Any, wrt: Any, kind: str, scalar_params: frozenset[str]) -> Any:
    parsed = program.trace(f).parsed
    names, single = wrt_names(program.trace(f), wrt)
    loop = checkpointed_loop(f)
    if loop is not None and kind == "split":
        return build_split(program, f, loop, names, scalar_params)
    if kind in ("jvp", "tangent", "batched_jvp", "split"):
        trace = program.lower(parsed)
        if kind != "split":
            ctx = context(program, trace, names, set(scalar_params), kind)
            forward = Forward(ctx, names, tangent_only=kind == "tangent",
                              batched=kind == "batched_jvp")
            functions = [forward.function(ctx.defines[kind])]
        else:
            functions, ctx = build_reverse(program, trace, names, single, kind, scalar_params)
        bindings = ctx.bindings.names
    else:
        functions, bindings = _reverse_variants(program, parsed, names, single, kind)
    source = emit.to_source(functions, parsed.lines)
    main = functions[0].name if kind == "split" else functions[-1].name
    fn = emit.compile_functions(source, main, bindings, parsed.globals, parsed.name, kind)
    fn.__adgen__.original = f
    fn.__adgen__.info.update(wrt=names, single=single, general=functions[0].name)
    if kind == "split":
        fn.__adgen__.info["bwd"] = fn.__adgen__.bindings[functions[1].name]
        fn.__adgen__.info["reentrant"] = getattr(ctx, "reentrant", False)
        fn.__adgen__.info["tape_positions"] = getattr(ctx, "tape_positions", None)
    return fn


def _reverse_variants(program: Program, parsed: Any, names: list[str], single: bool, kind: str,
                      make_trace: Any = None) -> tuple[list[Any], dict[str, Any]]:
    """The reverse function, plus a version specialised to float arguments when that makes
    a difference (no `unbroadcast` calls on 0-d values), chosen by a type guard."""
    if make_trace is None:  # copies of the cached trace: lowering again would cost more
        cached = program.traces.get(parsed.function)
        make_trace = (lambda: _copy_trace(cached)) if cached is not None and (
            cached.parsed is parsed) else (lambda: program.lower(parsed))
    general, gctx = build_reverse(program, make_trace(), names, single, kind, frozenset())
    params = [a.id for a in parsed.node.args.args]
    scalar = [p for p in params if p not in _containers(parsed.node)]
    if not scalar or not _uses_shape_helpers(general, gctx.bindings.names):
        return general, gctx.bindings.names
    special, sctx = build_reverse(program, make_trace(), names, single, kind, frozenset(scalar),
                                  reserved=gctx.bindings.names)
    bindings = dict(gctx.bindings.names)
    clash = any(k in bindings and bindings[k] is not v for k, v in sctx.bindings.names.items())
    if clash:
        return general, gctx.bindings.names
    bindings.update(sctx.bindings.names)
    general[0].name = sctx.namer.fresh(f"{special[0].name}_any")
    type_name = sctx.bindings.bind("type", type)
    float_name = sctx.bindings.bind("float", float)
    bindings.update(sctx.bindings.names)
    int_name = sctx.bindings.bind("int", int)
    bindings.update(sctx.bindings.names)

    def check(p: str) -> gast.AST:
        kind = gast.Call(func=name(type_name), args=[name(p)], keywords=[])
        if p in names:
            return gast.Compare(left=kind, ops=[gast.IsNot()], comparators=[name(float_name)])
        types = gast.Tuple(elts=[name(float_name), name(int_name)], ctx=gast.Load())
        return gast.Compare(left=kind, ops=[gast.NotIn()], comparators=[types])

    checks = [check(p) for p in scalar]
    test = checks[0] if len(checks) == 1 else gast.BoolOp(op=gast.Or(), values=checks)
    call = gast.Call(func=name(general[0].name),
                     args=[name(a.id) for a in special[0].args.args], keywords=[])
    special[0].body.insert(0, gast.If(test=test, body=[gast.Return(value=call)], orelse=[]))
    return general + special, bindings


def _uses_shape_helpers(functions: list[Any], bindings: dict[str, Any]) -> bool:
    """Whether general code calls what 0-d arguments make unnecessary."""
    helpers = (runtime.unbroadcast, runtime.scalar_output, runtime.shaped_like,
               runtime.zeros_like)
    names = {k for k, v in bindings.items() if any(v is h for h in helpers)}
    return any(isinstance(n, gast.Name) and n.id in names
               for fn in functions for n in astutil.walk(fn))


def _containers(node: gast.AST) -> set[str]:
    """Names the function indexes, iterates over or takes attributes of: not numbers."""
    out = set()
    for n in astutil.walk(node):
        if isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.value, gast.Name):
            out.add(n.value.id)
        elif isinstance(n, gast.For) and isinstance(n.iter, gast.Name):
            out.add(n.iter.id)
    return out


def trace_source(f: Any) -> str:
    """The evaluation trace of `f` as source."""
    trace = get_trace(f)
    return emit.to_source([trace.node], trace.parsed.lines)


def unrolled(f: Any, wrt: Any, kind: str, limit: int) -> Any:
    """A reverse-mode derivative by trace unrolling (see `adgen.derive.unroll`)."""
    parsed = get_trace(f).parsed
    names, single = wrt_names(get_trace(f), wrt)

    def build(trace: Trace) -> Any:
        functions, bindings = _reverse_variants(PROGRAM, trace.parsed, names, single, kind,
                                                make_trace=lambda: _copy_trace(trace))
        source = emit.to_source(functions, parsed.lines)
        fn = emit.compile_functions(source, functions[-1].name, bindings, parsed.globals,
                                    parsed.name, f"{kind} unrolled")
        fn.__adgen__.original = f
        fn.__adgen__.info.update(wrt=names, single=single, general=functions[0].name)
        return fn

    return unrolled_derivative(PROGRAM, parsed, limit, build, lambda: derivative(f, wrt, kind))


def _copy_trace(trace: Trace) -> Trace:
    """A copy of a trace the generators can change without touching the original."""
    new = copy.copy(trace)
    new.node = clone(trace.node)
    new.namer = copy.deepcopy(trace.namer)
    return new
