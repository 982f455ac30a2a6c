"""Assemble a reverse-mode function: forward sweep, seed, reverse sweep, gradients.

Also decides the saves the sweeps need (only values the reverse sweep reads and the primal
overwrote), creates the per-call stack when a loop saves anything, and cleans up: copies and
constants are propagated and dead statements dropped.
"""

from __future__ import annotations

import os
from typing import Any

import gast

from adgen import runtime
from adgen.codegen import astutil, liveness, simplify
from adgen.codegen.astutil import clone
from adgen.derive import accumulators, blocks, remat, specialise
from adgen.derive.analysis import argument_parts, primitive, sharing
from adgen.derive.generate import Context, context
from adgen.derive.reverse import LoopInit, Reverse, Save
from adgen.derive.structure import structure
from adgen.errors import where
from adgen.frontend.lower import Trace, assign, const, name
from adgen.program import Program
from adgen.rules import lookup

_PURE_HELPERS = (runtime.unbroadcast, runtime.zeros_like, runtime.add_at, runtime.owned_copy,
                 runtime.detached,
                 runtime.shaped_like, runtime.sign, runtime.take, runtime.written,
                 runtime.last_only, runtime.zero_at, runtime.fill_like, runtime.add_adjoints,
                 runtime.sum_to_scalar, runtime.item, runtime.broadcast_like, reversed, range)


def build_reverse(program: Program, trace: Trace, wrt: list[str], single: bool, kind: str,
                  scalar_params: frozenset[str], reserved: dict[str, Any] | None = None,
                  arguments: dict[str, Any] | None = None, constants: Any = None,
                  shared: dict[str, Any] | None = None,
                  ) -> tuple[list[gast.FunctionDef], Context]:
    """The reverse-mode function(s) of a trace: `grad`, `value_and_grad`, `vjp` or `split`;
    specialised to the parameters' facts in `arguments` when given (and to the types of
    the numbers free names hold, with `constants`: see `facts.infer`; `shared`: what a build
    of the same trace found that the facts do not change, `generate.context`)."""
    body, result = structure(trace)
    trace.node.body = body
    returned = (result.id,) if isinstance(result, gast.Name) else ()
    facts = dict(p for p in scalar_params if isinstance(p, tuple))  # a caller's facts
    if facts:
        arguments = {p: facts.get(p) for p in trace.params}
    scalar = {p for p in scalar_params if isinstance(p, str)}
    ctx = context(program, trace, wrt, scalar, kind, returned, reserved, arguments, constants,
                  shared)
    closure = trace.parsed.closure
    if returned and returned[0] in closure and returned[0] not in trace.locals:
        ctx.bindings.names[returned[0]] = closure[returned[0]]  # `return c` of a closed value
    rev = Reverse(ctx)
    return assemble(rev, trace, wrt, single, kind, result), ctx


def assemble(rev: Reverse, trace: Trace, wrt: list[str], single: bool, kind: str,
             result: gast.AST) -> list[gast.FunctionDef]:
    """`grad`, `value_and_grad` and `vjp` are one function; `split` is a forward function
    returning `(value, *saved)` and a backward function taking that tape and the cotangent,
    which is how a caller's derivative calls a callee's."""
    ctx = rev.ctx
    body = trace.node.body
    forward = rev.ctx.float_params() + rev.forward(body)
    r_active = ctx.is_active(result)
    cotangent = ctx.namer.bar(result.id) if r_active else ctx.namer.fresh("cotangent")
    seed: list[gast.AST] = []
    if r_active:
        rev.state.add(result.id)
        if kind in ("grad", "value_and_grad"):
            seed.append(assign(cotangent, const(1.0), None))
    reverse = rev.reverse(body)
    grads = [_gradient(rev, w) for w in wrt]
    reads = _reads(reverse + grads) & rev.primal
    needs_stack = _decide_saves(rev, reads)
    rev.order_loops()
    forward = [assign(v, const(None), None) for v in sorted(rev.bound_early - set(trace.params))
               ] + forward
    stack = [assign(rev.stack, gast.List(elts=[], ctx=gast.Load()), None)] if needs_stack else []
    out_grads = grads[0] if single else gast.Tuple(elts=grads, ctx=gast.Load())
    if kind == "split":
        return _split(rev, trace, stack + forward, seed + reverse, result, cotangent, out_grads,
                      wrt)
    value = result
    tail: list[gast.AST] = []
    if kind != "vjp" and not _certainly_scalar(ctx, result):
        check = ctx.call("scalar_output", runtime.scalar_output, [
            result, const(trace.parsed.name), const(where(os.path.basename(
                trace.parsed.filename), trace.node.adgen_line))])
        tail.append(gast.Expr(value=check))
    if kind != "grad" and isinstance(result, gast.Name) and _puts_back(rev):
        value = name(ctx.namer.fresh("value"))  # the reverse sweep changes the result's parts
        tail.append(assign(value.id, ctx.call("detached", runtime.detached, [result]), None))
    elif kind != "grad" and isinstance(result, gast.Name) and any(
            s.var == result.id and s.rev for s in rev.saves.values()):
        value = name(ctx.namer.fresh("value"))
        tail.append(assign(value.id, result, None))
    returned = out_grads if kind == "grad" else gast.Tuple(elts=[value, out_grads],
                                                           ctx=gast.Load())
    params = list(trace.params) + ([cotangent] if kind == "vjp" else [])
    full = _flatten(stack + forward + tail + seed + reverse) + [gast.Return(value=returned)]
    protect = {value.id} if isinstance(value, gast.Name) else set()
    fn = function(ctx, ctx.defines[kind], params, full, protect, stack=rev.stack, reverse=True)
    if kind != "vjp":
        fn.args.defaults = _defaults(ctx, trace)
    return [fn]


def _defaults(ctx: Any, trace: Trace) -> list[gast.AST]:
    """The user's default values, so the gradient is called like the function."""
    values = getattr(trace.parsed.function, "__defaults__", None) or ()
    params = trace.params[len(trace.params) - len(values):]
    return [name(ctx.bindings.bind(f"{p}_default", v)) for p, v in zip(params, values,
                                                                        strict=True)]


def _split(rev: Reverse, trace: Trace, forward: list, reverse: list, result: gast.AST,
           cotangent: str, out_grads: gast.AST, wrt: list[str]) -> list[gast.FunctionDef]:
    """`g_fwd(*args) -> (value, tape)` and `g_bwd(tape, cotangent) -> gradient(s)`; the tape is
    what the cleaned-up backward function reads of the forward sweep's variables: one value
    itself, or a tuple of them. When that is only parameters the function never writes,
    there is no tape: `g_fwd(*args) -> value`, and `g_bwd(p, ..., cotangent)` takes those
    parameters again from the caller. A recursive function always has a tape: its own calls
    were generated speaking the tape protocol. In a variant, `g_bwd` may take some of the
    caller's adjoints as keywords to add into (`derive.accumulators`)."""
    ctx = rev.ctx
    fwd_name, bwd_name = ctx.defines["fwd"], ctx.defines["bwd"]
    ctx.reentrant = not any(r.index is not None and r.rev for r in rev.saves.values())
    if isinstance(out_grads, gast.Tuple) and len(out_grads.elts) == 1:
        out_grads = out_grads.elts[0]
    bwd_body = clean(ctx, _flatten(reverse) + [gast.Return(value=out_grads)], set())
    bwd_restored = blocks.restore(ctx, bwd_body, reverse=True)
    saved_names = _reads(bwd_body) & (rev.primal | rev.save_temps | {rev.stack})
    forward = _flatten(forward)
    returned = result.id if isinstance(result, gast.Name) else None
    number = lambda v: _number(ctx, v)  # noqa: E731
    undone, saved_names = remat.from_result(forward, saved_names, returned,
                                            lambda v: _float_valued(ctx, v), number)
    undone, bwd_restored = remat.folded(undone, returned, bwd_restored)
    forward, recomputed, saved_names = remat.rematerialise(
        forward, saved_names, list(trace.params), ctx.namer.saved, rev.stack, number, undone)
    bwd_restored = remat.place(undone + recomputed, bwd_restored)
    ctx.accumulators = {} if ctx.recursive or not ctx.table else accumulators.offered(
        ctx, bwd_restored, wrt, list(trace.params), astutil.statement_stores(trace.node.body))
    saved = sorted(saved_names)
    ctx.tape_positions = None if ctx.recursive else _argument_tape(rev, trace, saved)
    if ctx.tape_positions is not None:
        fwd_body = _flatten(forward) + [gast.Return(value=result)]
        taped = [trace.params[i] for i in ctx.tape_positions]
        bwd = _def(bwd_name, [*taped, cotangent], bwd_restored)
        accumulators.take(bwd, ctx.accumulators)
        return [function(ctx, fwd_name, list(trace.params), fwd_body, set(), stack=rev.stack,
                         reverse=True), bwd]
    tape = ctx.namer.fresh("_tape")
    unset = [assign(v, const(None), None) for v in saved
             if v not in trace.params and v != rev.stack]
    if not saved:
        packed: gast.AST = const(None)
    elif len(saved) == 1:
        packed = name(saved[0])
    else:
        packed = gast.Tuple(elts=[name(v) for v in saved], ctx=gast.Load())
    if _puts_back(rev):  # the caller keeps the value while `bwd` restores the tape's objects
        result = ctx.call("detached", runtime.detached, [result])
    fwd_body = unset + _flatten(forward) + [
        gast.Return(value=gast.Tuple(elts=[result, packed], ctx=gast.Load()))]
    fwd = function(ctx, fwd_name, list(trace.params), fwd_body, set(saved), stack=rev.stack,
                   reverse=True)
    unpack: list[gast.AST] = []
    if len(saved) == 1:
        unpack = [assign(saved[0], name(tape), None)]
    elif saved:
        target = gast.Tuple(elts=[name(v, gast.Store()) for v in saved], ctx=gast.Store())
        unpack = [gast.Assign(targets=[target], value=name(tape), type_comment=None)]
    # the lists the backward function pops from or appends back to are its own copies: the
    # tape's stay as the forward function left them (a second derivative reads them again)
    for var in sorted(_popped_lists(rev) & set(saved)):
        unpack.append(assign(var, ctx.call("owned_copy", runtime.owned_copy, [name(var)]),
                             None))
    bwd = _def(bwd_name, [tape, cotangent], unpack + bwd_restored)
    accumulators.take(bwd, ctx.accumulators)
    return [fwd, bwd]


def _popped_lists(rev: Reverse) -> set[str]:
    """The stack the reverse sweep pops, the lists it pops appended items from or appends
    popped items back to."""
    return {rev.stack} | {r.var for r in rev.saves.values() if r.rev and r.append} | {
        r.var for r in rev.pops.values() if r.rev}


def _puts_back(rev: Reverse) -> bool:
    """Whether the reverse sweep changes objects in place: puts back an element it saved,
    pops what the forward sweep appended, or appends back what it popped."""
    return bool(_popped_lists(rev) - {rev.stack}) or any(
        r.rev and r.index is not None for r in rev.saves.values())


def _argument_tape(rev: Reverse, trace: Trace, saved: list[str]) -> tuple[int, ...] | None:
    """The positions of the parameters that make up the whole tape, when the backward
    function reads nothing else and no step writes, appends to or pops from them (so they
    still are the caller's arguments); None when a tape is needed."""
    params = set(trace.params)
    written = {r.var for r in rev.saves.values()} | {r.var for r in rev.pops.values()}
    if not params.issuperset(saved) or written & set(saved):
        return None
    return tuple(i for i, p in enumerate(trace.params) if p in saved)


def function(ctx: Any, fname: str, params: list[str], body: list[gast.AST],
             protect: set[str], keep: frozenset[str] = frozenset(), stack: str | None = None,
             reverse: bool = False) -> gast.FunctionDef:
    """The cleaned-up function, its `with`/`try` statements restored (`derive.blocks`; a
    reverse-mode forward sweep has a `stack`); names in `keep` are never folded into their
    use."""
    return _def(fname, params, blocks.restore(ctx, clean(ctx, body, protect, keep), stack,
                                               reverse))


def clean(ctx: Any, body: list[gast.AST], protect: set[str],
          keep: frozenset[str] = frozenset()) -> list[gast.AST]:
    """Copies and constants propagated, dead stores dropped, single uses folded."""
    pure = lambda rhs: _pure(ctx, rhs)  # noqa: E731
    body = simplify.propagate(body, protect=protect)
    body = liveness.drop_dead_stores(body, pure, set())
    body = simplify.inline_single_use(body, pure, keep)
    if not ctx.table:
        return body
    body = specialise.drop_passing_checks(ctx.bindings, ctx.table, body)
    return specialise.fold_fills(ctx.bindings, ctx.table, body)


def _def(fname: str, params: list[str], body: list[gast.AST]) -> gast.FunctionDef:
    args = gast.arguments(args=[name(p, gast.Param()) for p in params], posonlyargs=[],
                          vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
    return gast.FunctionDef(name=fname, args=args, body=body, decorator_list=[], returns=None,
                            type_comment=None, type_params=[])


def _float_valued(ctx: Any, var: str) -> bool:
    """Whether a variant's facts say `var` holds floats (a float array or number)."""
    fact = ctx.table.get(var)
    return fact is not None and fact.kind in ("array", "float", "scalar") and (
        fact.dtype is not None and fact.dtype.kind == "f")


def _number(ctx: Any, var: str) -> bool:
    """Whether `var` is known to be 0-d (always, or by a variant's facts)."""
    fact = ctx.table.get(var)
    return var in ctx.scalar or fact is not None and fact.is_number


def _certainly_scalar(ctx: Any, atom: gast.AST) -> bool:
    if isinstance(atom, gast.Constant):
        return isinstance(atom.value, (int, float))
    return isinstance(atom, gast.Name) and atom.id in ctx.scalar


def _gradient(rev: Reverse, w: str) -> gast.AST:
    ctx = rev.ctx
    if w not in rev.state:
        return ctx.zero_for(w)
    g = name(ctx.namer.bar(w))
    if w not in ctx.scalar and ctx.array(name(w)) is None and (
            w in rev.filled or w in rev.scattered) and not _list_of_arrays(rev, w):
        return ctx.call("shaped_like", runtime.shaped_like, [g, name(w)])
    return g


def _list_of_arrays(rev: Reverse, w: str) -> bool:
    """Whether the facts show the adjoint of the parameter `w` is already a list of arrays
    of its items' shapes: a list of float arrays, never rebound, whose adjoint no pop gives
    a plain zero item (zeros are `zeros_like(w)`, a parameter being always assigned)."""
    fact = rev.ctx.table.get(w)
    item = fact.items[0] if fact is not None and fact.kind == "list" else None
    return (item is not None and item.is_array and item.dtype.kind in "fc"
            and w in rev.ctx.trace.params and all(r.var != w for r in rev.pops.values()))


def _reads(stmts: list[Any]) -> set[str]:
    return astutil.loads(stmts)


def _decide_saves(rev: Reverse, reads: set[str]) -> bool:
    """Fill in the save placeholders the reverse sweep needs; True when a stack is used.

    A pop is undone (`xs.append(x)`) when the reverse sweep reads the list or a name that may
    share its object (`analysis.sharing`), or when the list may be, or be inside, an
    argument: the caller sees the list as it was (a backward function differentiated again
    pops from the stack in its tape, and the caller's reverse sweep reads that tape
    afterwards). The undo reads the popped value and the list there."""
    body = rev.ctx.trace.node.body
    outside = argument_parts(body, rev.ctx.trace.params)
    unread = {r.var for r in rev.pops.values()} - reads - outside
    shared = sharing(body, unread) if unread else {}
    undone = [r for r in rev.pops.values() if r.var in reads or r.var in outside
              or not shared[r.var].isdisjoint(reads)]
    reads = reads | {r.var for r in undone} | {r.popped_into for r in undone}
    needs_stack = False
    for record in rev.saves.values():
        wanted = record.var in reads or (record.index is not None and (
            record.var in rev.ctx.trace.params or not record.shared.isdisjoint(reads)))
        if not wanted or not record.defined:
            continue
        if not record.certain and not record.in_loop:  # assigned on one path only so far
            rev.bound_early.add(record.var)
        _fill_save(rev, record)
        needs_stack |= record.in_loop
    for record in undone:
        append = gast.Call(func=gast.Attribute(value=name(record.var), attr="append",
                                               ctx=gast.Load()),
                           args=[name(record.popped_into)], keywords=[])
        record.rev.append(gast.Expr(value=append))
    outermost: dict[int, int] = {}  # each save is bound to None before its outermost loop only
    for init, saves in rev.loop_inits:
        for record in saves:
            outermost[id(record)] = min(outermost.get(id(record), init.depth), init.depth)
    covered = set()
    for init, saves in rev.loop_inits:
        init.names = sorted({s.var for s in saves if s.fwd and s.var not in init.defined
                             and outermost[id(s)] == init.depth})
        covered |= {id(s) for s in saves if s.var in init.names}
    for record in rev.saves.values():  # saved where it may not be assigned yet (after an
        if record.fwd and not record.certain and id(record) not in covered:  # `if` or a `try`)
            rev.bound_early.add(record.var)
    return needs_stack


def _fill_save(rev: Reverse, record: Save) -> None:
    var = record.var
    if record.append:
        pop = gast.Call(func=gast.Attribute(value=name(var), attr="pop", ctx=gast.Load()),
                        args=[], keywords=[])
        record.rev.append(gast.Expr(value=pop))
        return
    if record.index is not None:
        _fill_element_save(rev, record)
        return
    if record.in_loop:
        push = gast.Call(func=gast.Attribute(value=name(rev.stack), attr="append",
                                             ctx=gast.Load()), args=[name(var)], keywords=[])
        pop: gast.AST = gast.Call(func=gast.Attribute(value=name(rev.stack), attr="pop",
                                                      ctx=gast.Load()), args=[], keywords=[])
        record.fwd.append(gast.Expr(value=push))
        record.rev.append(assign(var, pop, None))
        if var in _changed_lists(rev):  # the reverse sweep pops from (or appends to) the
            # list it restores: a copy, so the tape stays whole for the next pull (`jacobian`);
            # a statement of its own, so that the restore stays a plain pop
            record.rev.append(assign(var, rev.ctx.call("owned_copy", runtime.owned_copy,
                                                       [name(var)]), None))
    else:
        saved = rev.namer.saved(var)
        rev.save_temps.add(saved)
        record.fwd.append(assign(saved, name(var), None))
        record.rev.append(assign(var, name(saved), None))


def _changed_lists(rev: Reverse) -> set[str]:
    """The lists whose appends or pops the reverse sweep undoes (in place)."""
    return {r.var for r in rev.saves.values() if r.append} | {
        r.var for r in rev.pops.values()}


def _fill_element_save(rev: Reverse, record: Save) -> None:
    var, index = record.var, record.index
    old = rev.ctx.call("take", runtime.take, [name(var), astutil.index_value(index)])
    if record.in_loop:
        push = gast.Call(func=gast.Attribute(value=name(rev.stack), attr="append",
                                             ctx=gast.Load()), args=[old], keywords=[])
        saved: gast.AST = gast.Call(func=gast.Attribute(value=name(rev.stack), attr="pop",
                                                        ctx=gast.Load()), args=[], keywords=[])
        record.fwd.append(gast.Expr(value=push))
    else:
        keep = rev.namer.saved(var)
        rev.save_temps.add(keep)
        record.fwd.append(assign(keep, old, None))
        saved = name(keep)
    target = gast.Subscript(value=name(var), slice=clone(index), ctx=gast.Store())
    record.rev.append(gast.Assign(targets=[target], value=saved, type_comment=None))


def _flatten(stmts: list[Any]) -> list[gast.AST]:
    out: list[gast.AST] = []
    for s in stmts:
        if isinstance(s, list):
            out.extend(_flatten(s))
        elif isinstance(s, LoopInit):
            out.extend(assign(v, const(None), None) for v in s.names)
        else:
            if isinstance(s, (gast.If, gast.For, gast.While)):
                body, orelse = _flatten(s.body), _flatten(s.orelse)
                if getattr(s, "adgen_reverse", False) and not body and not orelse:
                    continue  # a replayed block that turned out to need nothing
                s.body, s.orelse = body or [gast.Pass()], orelse
            out.append(s)
    return out


def _pure(ctx: Any, rhs: gast.AST) -> bool:
    if isinstance(rhs, gast.Call):
        fn = primitive(rhs)
        if fn is None and isinstance(rhs.func, gast.Name):
            fn = ctx.bindings.names.get(rhs.func.id)
        if fn is runtime.numbers_only:  # a check that cannot fail on a certain number
            return isinstance(rhs.args[0], gast.Name) and rhs.args[0].id in ctx.scalar
        if fn is None or isinstance(fn, str) and lookup(fn) is None:
            return False
        return any(fn is h for h in _PURE_HELPERS) or (not isinstance(fn, str)
                                                       and lookup(fn) is not None) or (
            isinstance(fn, str) and lookup(fn) is not None)
    return not isinstance(rhs, gast.JoinedStr)
