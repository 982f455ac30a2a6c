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
from adgen.derive.checkpoint import build_split, build_tangent, checkpointed_loop, checkpointed_part
from adgen.derive.forward import Forward
from adgen.derive.generate import context
from adgen.derive.shapes import fact_of
from adgen.derive.specialise import SPECIALISED_HELPERS
from adgen.derive.unroll import unrolled_derivative
from adgen.errors import DifferentiationError
from adgen.frontend.lower import Trace, name
from adgen.frontend.signatures import plain_form
from adgen.program import Program, collector_paused
from adgen.variants import dispatching


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
    """The (cached) evaluation trace of `f` (of its plain form, when it has keyword-only
    parameters, `*args` or `**kwargs`: `frontend.signatures`)."""
    return PROGRAM.trace(plain_form(f))


def derivative(f: Any, wrt: Any, kind: str, scalar_params: frozenset[str] = frozenset()) -> Any:
    """The compiled derivative function of `f` (cached in the program view)."""
    return PROGRAM.derivative(f, wrt, kind, scalar_params)


def function_params(f: Any) -> dict[str, int]:
    """The parameters of `f` holding function values, with the line first calling each."""
    return PROGRAM.function_params(f)


def specialise(f: Any, values: dict[str, Any]) -> Any:
    """`f` specialised to the function values its parameters hold (`Program.specialise`)."""
    return PROGRAM.specialise(f, values)


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
    held = [n for n in names if n in trace.parsed.static]
    if held:
        raise DifferentiationError(
            f"wrt={wrt!r} names `{held[0]}`, which holds a function value that "
            f"{trace.parsed.name} calls: adgen does not differentiate with respect to a "
            "function; name the numeric parameters in wrt")
    return names, single


def _build(program: Program, f: Any, wrt: Any, kind: str, scalar_params: frozenset[str]) -> Any:
    if checkpointed_part(f) is not None:  # a checkpointed loop's pair, differentiated again
        return build_tangent(program, f, wrt, kind)
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
        functions, bindings, variant = _reverse(program, f, parsed, names, single, kind)
    source = emit.to_source(functions, parsed.lines)
    main = functions[0].name if kind == "split" else functions[-1].name
    fn = emit.compile_functions(source, main, bindings, parsed.globals, parsed.name, kind)
    fn.__adgen__.original = f
    fn.__adgen__.info.update(wrt=names, single=single, general=functions[0].name,
                             static=parsed.static)
    if kind == "split":
        fn.__adgen__.info["bwd"] = fn.__adgen__.bindings[functions[1].name]
        fn.__adgen__.info["reentrant"] = getattr(ctx, "reentrant", False)
        fn.__adgen__.info["tape_positions"] = getattr(ctx, "tape_positions", None)
        fn.__adgen__.info["accumulators"] = getattr(ctx, "accumulators", {})
        fn.__adgen__.info["facts"] = ctx.facts
    if kind in _SPECIALISED and variant is not None:
        chosen = dispatching(fn, [a.id for a in parsed.node.args.args], variant)
        return _floats_first(chosen, parsed, variant)
    return fn


_SPECIALISED = ("grad", "value_and_grad", "vjp")


def _reverse(program: Program, f: Any, parsed: Any, names: list[str], single: bool,
             kind: str) -> tuple[list[Any], dict[str, Any], Any]:
    """The general reverse function, its bindings, and how to build a variant of it for the
    facts of a call's arguments (None when variants would not differ from it)."""
    cached = program.traces.get(parsed.function)
    # the cached trace itself, which nothing changes: each build works on a copy of it
    base = cached if cached is not None and cached.parsed is parsed else None
    shared: dict[str, Any] = {}  # what the variants' builds reuse of the general one
    general, ctx = build_reverse(program, _copy_trace(base) if base else program.lower(parsed),
                                 names, single, kind, frozenset(), shared=shared)
    bindings = ctx.bindings.names
    if base is None or ctx.recursive or not _uses_shape_helpers(general, bindings):
        return general, bindings, None

    def variant(arguments: dict[str, Any], otherwise: Any = None, frozen: bool = False) -> Any:
        """The variant for `arguments`; `frozen`: for Numba, which freezes the values of
        globals, so the numbers they hold are taken as constants of the variant."""
        with program.lock, collector_paused():  # as in `_build_guarded`
            functions, vctx = build_reverse(program, _copy_trace(base), names, single, kind,
                                            frozenset(), arguments=arguments,
                                            constants=parsed.resolve if frozen else None,
                                            shared=shared)
        if otherwise is not None:
            _guard(vctx, functions[-1], otherwise)
        with collector_paused():
            source = emit.to_source(functions, parsed.lines)
            fn = emit.compile_functions(source, functions[-1].name, vctx.bindings.names,
                                        parsed.globals, parsed.name, f"{kind} specialised")
        fn.__adgen__.original = f
        fn.__adgen__.info.update(wrt=names, single=single, general=functions[0].name,
                                 facts=vctx.facts)
        return fn

    return general, bindings, variant


def _guard(ctx: Any, fn: gast.FunctionDef, otherwise: Any) -> None:
    """Start `fn`, a variant for float arguments, with the check that they are floats; other
    arguments go to `otherwise` (the dispatching function)."""
    params = [a.id for a in fn.args.args]
    kind, real = name(ctx.bindings.bind("type", type)), name(ctx.bindings.bind("float", float))
    checks = [gast.Compare(left=gast.Call(func=clone(kind), args=[name(p)], keywords=[]),
                           ops=[gast.IsNot()], comparators=[clone(real)])
              for p in params[:len(ctx.trace.params)]]
    test = checks[0] if len(checks) == 1 else gast.BoolOp(op=gast.Or(), values=checks)
    call = gast.Call(func=name(ctx.bindings.bind("dispatch", otherwise)),
                     args=[name(p) for p in params], keywords=[])
    fn.body.insert(0, gast.If(test=test, body=[gast.Return(value=call)], orelse=[]))


def _floats_first(chosen: Any, parsed: Any, variant: Any) -> Any:
    """For a function whose parameters are all used as numbers, the function handed out is
    the variant for float arguments, built now, starting with a check of their types (others
    go to `chosen`, the dispatching function): a gradient of scalar code then costs no
    dispatch. It presents the general derivative (`__adgen__`)."""
    params = [a.id for a in parsed.node.args.args]
    if not params or set(params) & _containers(parsed.node):
        return chosen
    try:
        first = variant({p: FLOAT for p in params}, otherwise=chosen)
    except Exception:  # a variant is only faster: the general function is right
        return chosen
    first.__adgen__ = chosen.__adgen__
    first.__doc__ = chosen.__doc__
    return first


FLOAT = fact_of(0.5)


def _containers(node: gast.AST) -> set[str]:
    """Names the function indexes, iterates over or takes attributes of: not numbers."""
    out = set()
    for n in astutil.walk(node):
        if isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.value, gast.Name):
            out.add(n.value.id)
        elif isinstance(n, gast.For) and isinstance(n.iter, gast.Name):
            out.add(n.iter.id)
    return out


def _uses_shape_helpers(functions: list[Any], bindings: dict[str, Any]) -> bool:
    """Whether general code calls what 0-d arguments make unnecessary."""
    helpers = (runtime.unbroadcast, runtime.scalar_output, runtime.shaped_like,
               runtime.zeros_like, runtime.add_adjoints, runtime.sum_to_scalar,
               runtime.numbers_only,
               *SPECIALISED_HELPERS)
    names = {k for k, v in bindings.items() if any(v is h for h in helpers)}
    return any(isinstance(n, gast.Name) and n.id in names
               for fn in functions for n in astutil.walk(fn))


def trace_source(f: Any) -> str:
    """The evaluation trace of `f` as source."""
    trace = get_trace(f)
    return emit.to_source([trace.node], trace.parsed.lines)


def unrolled(f: Any, wrt: Any, kind: str, limit: int) -> Any:
    """A reverse-mode derivative by trace unrolling (see `adgen.derive.unroll`); None when `f`
    is replayed from the stack as a whole (`with`, `try`): use `derivative` itself."""
    parsed = get_trace(f).parsed
    names, single = wrt_names(get_trace(f), wrt)

    def build(trace: Trace) -> Any:
        functions, ctx = build_reverse(PROGRAM, _copy_trace(trace), names, single, kind,
                                       frozenset())
        bindings = ctx.bindings.names
        source = emit.to_source(functions, parsed.lines)
        fn = emit.compile_functions(source, functions[-1].name, bindings, parsed.globals,
                                    parsed.name, f"{kind} unrolled")
        fn.__adgen__.original = f
        fn.__adgen__.info.update(wrt=names, single=single, general=functions[0].name,
                                 static=parsed.static)
        return fn

    fn = unrolled_derivative(PROGRAM, parsed, limit, build, lambda: derivative(f, wrt, kind))
    if fn is None:
        return None
    fn.__name__ = f"{parsed.name}_{kind}"
    return fn


def _copy_trace(trace: Trace) -> Trace:
    """A copy of a trace the generators can change without touching the original."""
    new = copy.copy(trace)
    new.node = clone(trace.node)
    new.namer = copy.deepcopy(trace.namer)
    return new
