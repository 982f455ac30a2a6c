"""Lift a loop marked `adgen.checkpointed(range(n), snapshots=s)` (or a marked `while` loop)
into functions of its own.

The marker is found by what the loop's iterable resolves to (`runtime_checkpoint.checkpointed`),
never by its spelling. The loop's body becomes the step function

    def f_step(t, c1, ..., ck, i1, ..., im):
        <body>
        return c1, ..., ck          (`return c1` when k == 1)

where `c1..ck` are the carried state (names the body assigns that it reads before writing, or
that code after the loop reads) and `i1..im` the read-only inputs (the enclosing function's
names the body reads and never assigns); and the loop itself becomes the loop function

    def f_loop(_steps, _snapshots, c1, ..., ck, i1, ..., im):
        for t in _steps:
            c1, ..., ck = f_step(t, c1, ..., ck, i1, ..., im)
        return c1, ..., ck

called in the loop's place: `c1, ..., ck = f_loop(range(n), s, c1, ..., ck, i1, ..., im)`.
A third, `f_advance(_steps, c1, ..., ck, i1, ..., im)`, is the loop with the body inline: the
schedule runs it to recompute forward, and its stack-replay derivative to reverse a block of
steps. All three are ordinary user functions to the rest of adgen (forward mode differentiates
the loop function's loop), except that the loop function carries `__adgen_checkpoint__`
(`CheckpointedLoop`), by which reverse mode gives its call a binomial schedule instead.

A marked `while` loop, `while checkpointed(cond, snapshots=s):`, has no step function (its
body may `break` and `continue`); its loop function is the loop itself,

    def f_loop(_snapshots, c1, ..., ck, i1, ..., im):
        while cond:
            <body>
        return c1, ..., ck

`f_advance(_steps, ...)` runs the body once per item of `_steps` without testing `cond` (a
`break` can only come in the last step the primal ran), and `f_trips(_limit, c1, ..., ck, i1,
..., im)` is the loop counting its trips, stopping after `_limit` of them, `return _trips,
finished, (c1, ..., ck)`, which the driver runs to learn the trip count. The carried state
is found as for `for` loops, with the condition's names read before every step.
`memory=budget` in place of `snapshots=` passes `('memory', budget)` as the snapshots
argument (`runtime_checkpoint.snapshots_for`).

A marked `for` loop may `break` and `continue` too: then its loop function is the loop itself
(no step function), and where it may `break` an `f_trips(_steps, _limit, c1, ..., ck, i1, ...,
im)` counts its trips as for a `while` loop.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import gast

from adgen.codegen import astutil
from adgen.frontend.ir import assigned
from adgen.frontend.lift import _compile
from adgen.frontend.loop_state import loop_state
from adgen.frontend.parse import Parsed, register_parsed, registered
from adgen.runtime_checkpoint import checkpointed


@dataclass(frozen=True)
class CheckpointedLoop:
    """What the reverse derivative of a loop function needs to know (see the module doc)."""

    advance: Any  # `advance(steps, *carried, *inputs)`: the loop itself, over `steps`
    carried: tuple[str, ...]
    inputs: tuple[str, ...]
    trips: Any = None  # `trips([steps,] limit, *carried, *inputs) -> (count, finished,
    # carried)`, when the
    # trip count is learned as the loop runs (a `while` loop, a `for` loop that may `break`)
    over_steps: bool = True  # whether the loop function's first parameter is the steps


def _name(n: str, ctx: Any = None) -> gast.Name:
    return gast.Name(id=n, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


def _resolves_to(parsed: Parsed, func: gast.AST, obj: Any, local: set[str]) -> bool:
    if isinstance(func, gast.Name) and func.id not in local:
        found, value = parsed.resolve(func.id)
        return found and value is obj
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and (
            func.value.id not in local):
        found, module = parsed.resolve(func.value.id)
        return found and getattr(module, func.attr, None) is obj
    return False


def _is_marked(parsed: Parsed, s: gast.AST, local: set[str]) -> bool:
    head = s.iter if isinstance(s, gast.For) else s.test if isinstance(s, gast.While) else None
    return isinstance(head, gast.Call) and _resolves_to(parsed, head.func, checkpointed, local)


def lift_checkpointed(parsed: Parsed, error: Any, local: set[str] | None = None) -> Parsed:
    """A copy of `parsed` whose marked loops call their loop functions (module doc); `local`:
    its parameters and assigned names, when the caller has them."""
    fn = parsed.node
    if local is None:
        local = {a.id for a in fn.args.args} | assigned(fn.body)
    top = [i for i, s in enumerate(fn.body) if _is_marked(parsed, s, local)]
    for n in astutil.walk_in_order(fn):
        if _is_marked(parsed, n, local) and not any(n is fn.body[i] for i in top):
            raise error(n, "a checkpointed loop inside another statement",
                        "mark a loop at the top level of the function body")
    if not top:
        return parsed
    node = copy.copy(fn)
    body = list(fn.body)
    functions: dict[str, Any] = {}
    for i in top:
        call, made = _lift_loop(parsed, body, i, local, error)
        body[i] = call
        functions.update(made)
    node.body = body
    return Parsed(node, parsed.name, parsed.filename, parsed.lines, parsed.globals,
                  {**parsed.closure, **functions}, parsed.function, parsed.static)


def _marker_arguments(parsed: Parsed, loop: gast.AST, local: set[str],
                      error: Any) -> tuple[gast.AST, gast.AST]:
    """(the range of a `for` loop or the condition of a `while` loop, the `_snapshots`
    argument: the snapshots expression, or `('memory', budget)` for `memory=`)."""
    call = loop.iter if isinstance(loop, gast.For) else loop.test
    args = list(call.args)
    snapshots: gast.AST = gast.Constant(value=None, kind=None)
    given = {k.arg: k.value for k in call.keywords}
    for k in given:
        if k not in ("snapshots", "memory"):
            raise error(call, f"`checkpointed(..., {k}=...)`", "give `snapshots=` or `memory=`")
    if len(given) == 2 or (given and len(args) == 2):
        raise error(call, "both a snapshot count and a memory budget",
                    "give `snapshots=` or `memory=`, not both")
    if len(args) == 2:
        snapshots = args.pop()
    elif "snapshots" in given:
        snapshots = given["snapshots"]
    elif "memory" in given:
        snapshots = gast.Tuple(elts=[gast.Constant(value="memory", kind=None), given["memory"]],
                               ctx=gast.Load())
    if isinstance(loop, gast.While):
        if len(args) != 1:
            raise error(call, "a checkpointed `while` loop without one condition",
                        "write `while adgen.checkpointed(condition, snapshots=s):`")
        return args[0], snapshots
    if len(args) != 1 or not (isinstance(args[0], gast.Call) and _resolves_to(
            parsed, args[0].func, range, local)):
        raise error(call, "a checkpointed loop over anything but `range(...)`",
                    "write `for t in adgen.checkpointed(range(n), snapshots=s):`")
    return args[0], snapshots


def _check_body(loop: gast.For | gast.While, error: Any) -> None:
    """Refuses what the lifted functions cannot say: `return` in the body, `else`, a tuple
    target, an assignment in a `while` loop's condition. (`break` and `continue` are fine: a
    loop that may `break` has its trip count learned as it runs.)"""
    kind = "for" if isinstance(loop, gast.For) else "while"
    if loop.orelse:
        raise error(loop, f"`{kind} ... else` on a checkpointed loop",
                    "move the `else` code after it")
    if kind == "for" and not isinstance(loop.target, gast.Name):
        raise error(loop.target, "a checkpointed loop with a tuple target", "use one name")
    if kind == "while" and any(isinstance(n, gast.NamedExpr) for n in gast.walk(loop.test)):
        raise error(loop.test, "an assignment (`:=`) in a checkpointed loop's condition",
                    "assign before the loop and at the end of its body")
    for s in loop.body:
        for n in gast.walk(s):
            if isinstance(n, (gast.Return, gast.Yield, gast.YieldFrom)):
                what = type(n).__name__.lower()
                raise error(n, f"`{what}` in the body of a checkpointed loop",
                            "use an `if` around the rest of the body (or `break`), or remove "
                            "the marker")


def _jumps(body: list[gast.AST]) -> set[type]:
    """The kinds of jump (`gast.Break`, `gast.Continue`) that leave or restart this loop: in
    its body, not inside an inner loop's body (an inner loop's `else` is this loop's)."""
    out: set[type] = set()
    stack = list(body)
    while stack:
        n = stack.pop()
        if isinstance(n, (gast.Break, gast.Continue)):
            out.add(type(n))
        elif isinstance(n, (gast.For, gast.While)):
            stack.extend(n.orelse)
        elif isinstance(n, gast.stmt):
            stack.extend(c for c in gast.iter_child_nodes(n) if isinstance(c, gast.stmt))
    return out


def _fresh(base: str, used: set[str]) -> str:
    """`base`, or `base` numbered, not in `used` (which takes it)."""
    name, k = base, 1
    while name in used:
        name, k = f"{base}{k}", k + 1
    used.add(name)
    return name


class _Lifting:
    """Defines the functions one marked loop is lifted into (module doc)."""

    def __init__(self, parsed: Parsed, loop: gast.AST, carried: list[str],
                 inputs: list[str]) -> None:
        self.parsed, self.loop, self.carried, self.inputs = parsed, loop, carried, inputs
        self.namespace = {**parsed.globals, **parsed.closure}
        self.made: dict[str, Any] = {}
        self.used = {n.id for n in gast.walk(loop) if isinstance(n, gast.Name)}

    def fresh(self, base: str) -> str:
        return _fresh(base, self.used)

    def out(self, ctx: Any = None) -> gast.AST:
        if len(self.carried) == 1:
            return _name(self.carried[0], ctx)
        return gast.Tuple(elts=[_name(c, ctx) for c in self.carried], ctx=ctx or gast.Load())

    def define(self, fname: str, params: list[str], stmts: list[gast.AST]) -> Any:
        node = gast.FunctionDef(
            name=fname, args=gast.arguments(
                args=[_name(p, gast.Param()) for p in params], posonlyargs=[], vararg=None,
                kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
            body=stmts, decorator_list=[], returns=None, type_comment=None, type_params=[])
        _locate(node, self.loop)
        function = _compile(node, self.namespace)
        p = self.parsed
        register_parsed(function, Parsed(node, fname, p.filename, p.lines, p.globals,
                                         {**p.closure, **self.made}, function))
        self.made[fname] = function
        self.namespace[fname] = function
        return function

    def advance(self, base: str, target: str, inputs: list[str]) -> Any:
        """`advance(_steps, *carried, *inputs)`: the body run once per item of `_steps`."""
        steps = self.fresh("_steps")
        plain = gast.For(target=_name(target, gast.Store()), iter=_name(steps),
                         body=copy.deepcopy(self.loop.body), orelse=[], type_comment=None)
        return self.define(f"{base}_advance", [steps, *self.carried, *inputs],
                           [plain, gast.Return(value=self.out())])


def _lift_loop(parsed: Parsed, body: list[gast.AST], i: int, local: set[str],
               error: Any) -> tuple[gast.AST, dict[str, Any]]:
    loop = body[i]
    _check_body(loop, error)
    head, snapshots = _marker_arguments(parsed, loop, local, error)
    carried, inputs = loop_state(parsed.node, i, loop, local, error)
    base = f"{parsed.name}_line{loop.lineno}"
    lifting = _Lifting(parsed, loop, carried, inputs)
    if isinstance(loop, gast.While):
        loop_fn, info = _lift_while(lifting, base, head, inputs)
        args = [snapshots]
    else:
        loop_fn, info = _lift_for(lifting, base, inputs)
        args = [head, snapshots]
    loop_fn.__adgen_checkpoint__ = info
    call = gast.Call(func=_name(loop_fn.__name__),
                     args=[*args, *(_name(a) for a in [*carried, *inputs])], keywords=[])
    replaced = gast.Assign(targets=[lifting.out(gast.Store())], value=call, type_comment=None)
    _locate(replaced, loop)
    return replaced, lifting.made


def _lift_for(lifting: _Lifting, base: str, inputs: list[str]) -> tuple[Any, CheckpointedLoop]:
    """`f_loop(_steps, _snapshots, ...)` and `f_advance` of a marked `for` loop, with `f_step`
    (the body, one step) where the body neither `break`s nor `continue`s, and `f_trips` where
    it may `break`."""
    loop, carried, out = lifting.loop, lifting.carried, lifting.out
    target = loop.target.id
    jumps = _jumps(loop.body)
    if jumps:  # the loop itself
        inner = gast.For(target=_name(target, gast.Store()), iter=_name("_steps"),
                         body=copy.deepcopy(loop.body), orelse=[], type_comment=None)
    else:
        step = lifting.define(f"{base}_step", [target, *carried, *inputs],
                              copy.deepcopy(loop.body) + [gast.Return(value=out())])
        step_call = gast.Call(func=_name(step.__name__),
                              args=[_name(a) for a in [target, *carried, *inputs]], keywords=[])
        inner = gast.For(target=_name(target, gast.Store()), iter=_name("_steps"),
                         body=[gast.Assign(targets=[out(gast.Store())], value=step_call,
                                           type_comment=None)], orelse=[], type_comment=None)
    loop_fn = lifting.define(f"{base}_loop", ["_steps", "_snapshots", *carried, *inputs],
                             [inner, gast.Return(value=out())])
    advance = lifting.advance(base, target, inputs)
    trips = None
    if gast.Break in jumps:
        steps = lifting.fresh("_steps")
        trips = _counting(lifting, base, [steps], lambda body: gast.For(
            target=_name(target, gast.Store()), iter=_name(steps), body=body, orelse=[],
            type_comment=None))
    return loop_fn, CheckpointedLoop(advance, tuple(carried), tuple(inputs), trips)


def _lift_while(lifting: _Lifting, base: str, cond: gast.AST,
                inputs: list[str]) -> tuple[Any, CheckpointedLoop]:
    """`f_loop(_snapshots, ...)` (the loop itself), `f_trips` (the loop counting its trips,
    which the schedule runs to learn their number) and `f_advance` of a marked `while` loop."""
    loop, carried, out = lifting.loop, lifting.carried, lifting.out
    snapshots = lifting.fresh("_snapshots")
    inner = gast.While(test=copy.deepcopy(cond), body=copy.deepcopy(loop.body), orelse=[])
    loop_fn = lifting.define(f"{base}_loop", [snapshots, *carried, *inputs],
                             [inner, gast.Return(value=out())])
    counter = _counting(lifting, base, [], lambda body: gast.While(
        test=copy.deepcopy(cond), body=body, orelse=[]))
    advance = lifting.advance(base, lifting.fresh("_trip"), inputs)
    return loop_fn, CheckpointedLoop(advance, tuple(carried), tuple(inputs), counter, False)


def _counting(lifting: _Lifting, base: str, head: list[str], loop: Any) -> Any:
    """`f_trips(*head, _limit, *carried, *inputs)`: the loop `loop(body)` counting its trips,
    stopping before trip `_limit + 1` (None: no limit) and returning `(trips, finished,
    carried)`; the count goes before the body, so a `break` counts its trip."""
    trips, limit = lifting.fresh("_trips"), lifting.fresh("_limit")

    def result(finished: bool) -> gast.Return:
        return gast.Return(value=gast.Tuple(elts=[
            _name(trips), gast.Constant(value=finished, kind=None), lifting.out()],
            ctx=gast.Load()))

    stop = gast.If(test=gast.Compare(left=_name(trips), ops=[gast.Eq()],
                                     comparators=[_name(limit)]),
                   body=[result(False)], orelse=[])
    count = gast.Assign(targets=[_name(trips, gast.Store())], value=gast.BinOp(
        left=_name(trips), op=gast.Add(), right=gast.Constant(value=1, kind=None)),
        type_comment=None)
    start = gast.Assign(targets=[_name(trips, gast.Store())],
                        value=gast.Constant(value=0, kind=None), type_comment=None)
    counting = loop([stop, count, *copy.deepcopy(lifting.loop.body)])
    return lifting.define(f"{base}_trips", [*head, limit, *lifting.carried, *lifting.inputs],
                          [start, counting, result(True)])


def tangent_advance(loop: CheckpointedLoop, jvp: Any, active: list[str]) -> Any:
    """`f_advance_tangent(_steps, c1.., c1_dot.., i1.., a1_dot..)`: the loop's forward-mode
    derivative `jvp` (with respect to the carried values and the inputs `active`, whose
    tangents are the `a_dot`) as a loop of its own, over the carried values and their
    tangents. Reversing it by the schedule gives the tangent of the loop's reverse sweep
    (second derivatives: `derive.checkpoint.build_tangent`)."""
    parsed = registered(loop.advance)
    used = set(loop.carried) | set(loop.inputs)
    steps, out, out_dot = (_fresh(n, used) for n in ("_steps", "_out", "_out_dot"))
    c_dot = [_fresh(f"{c}_dot", used) for c in loop.carried]
    a_dot = [_fresh(f"{a}_dot", used) for a in active]
    call = gast.Call(func=_name(jvp.__name__), args=[_name(a) for a in [
        steps, *loop.carried, *loop.inputs, *c_dot, *a_dot]], keywords=[])
    unpack = gast.Assign(targets=[gast.Tuple(elts=[_name(out, gast.Store()),
                                                   _name(out_dot, gast.Store())],
                                             ctx=gast.Store())], value=call, type_comment=None)
    k = len(loop.carried)
    parts = [_name(out), _name(out_dot)] if k == 1 else [
        gast.Subscript(value=_name(v), slice=gast.Constant(value=j, kind=None), ctx=gast.Load())
        for v in (out, out_dot) for j in range(k)]
    fname = f"{loop.advance.__name__}_tangent"
    node = gast.FunctionDef(
        name=fname, args=gast.arguments(
            args=[_name(p, gast.Param()) for p in [steps, *loop.carried, *c_dot, *loop.inputs,
                                                     *a_dot]],
            posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
            defaults=[]),
        body=[unpack, gast.Return(value=gast.Tuple(elts=parts, ctx=gast.Load()))],
        decorator_list=[], returns=None, type_comment=None, type_params=[])
    _locate(node, parsed.node)
    function = _compile(node, {**parsed.globals, jvp.__name__: jvp})
    register_parsed(function, Parsed(node, fname, parsed.filename, parsed.lines, parsed.globals,
                                     {**parsed.closure, jvp.__name__: jvp}, function))
    return function


def _locate(node: gast.AST, at: gast.AST) -> None:
    """Every node without a position takes the loop's line (errors, `# line N:`)."""
    for n in gast.walk(node):
        if hasattr(n, "lineno") or isinstance(n, (gast.expr, gast.stmt)):
            if getattr(n, "lineno", None) is None:
                n.lineno, n.col_offset = at.lineno, at.col_offset
                n.end_lineno, n.end_col_offset = at.lineno, at.col_offset


__all__ = ["CheckpointedLoop", "lift_checkpointed", "tangent_advance"]
