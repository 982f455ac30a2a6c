"""Lift a loop marked `adgen.checkpointed(range(n), snapshots=s)` into functions of its own.

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
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import gast

from adgen.codegen import astutil
from adgen.frontend.aliases import MUTATING
from adgen.frontend.ir import assigned
from adgen.frontend.lift import _compile
from adgen.frontend.parse import Parsed, register_parsed
from adgen.runtime_checkpoint import checkpointed


@dataclass(frozen=True)
class CheckpointedLoop:
    """What the reverse derivative of a loop function needs to know (see the module doc)."""

    advance: Any  # `advance(steps, *carried, *inputs)`: the loop itself, over `steps`
    carried: tuple[str, ...]
    inputs: tuple[str, ...]


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
    return (isinstance(s, gast.For) and isinstance(s.iter, gast.Call)
            and _resolves_to(parsed, s.iter.func, checkpointed, local))


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


def _marker_arguments(parsed: Parsed, loop: gast.For, local: set[str],
                      error: Any) -> tuple[gast.AST, gast.AST]:
    call = loop.iter
    args = list(call.args)
    snapshots: gast.AST = gast.Constant(value=None, kind=None)
    for k in call.keywords:
        if k.arg != "snapshots":
            raise error(call, f"`checkpointed(..., {k.arg}=...)`", "give `snapshots=` only")
        snapshots = k.value
    if len(args) == 2 and not call.keywords:
        snapshots = args.pop()
    if len(args) != 1 or not (isinstance(args[0], gast.Call) and _resolves_to(
            parsed, args[0].func, range, local)):
        raise error(call, "a checkpointed loop over anything but `range(...)`",
                    "write `for t in adgen.checkpointed(range(n), snapshots=s):`")
    return args[0], snapshots


def _check_body(loop: gast.For, error: Any) -> None:
    if loop.orelse:
        raise error(loop, "`for ... else` on a checkpointed loop", "move the `else` code after it")
    if not isinstance(loop.target, gast.Name):
        raise error(loop.target, "a checkpointed loop with a tuple target", "use one name")
    stack: list[tuple[gast.AST, bool]] = [(s, False) for s in loop.body]
    while stack:
        n, inner = stack.pop()
        if isinstance(n, (gast.Return, gast.Yield, gast.YieldFrom)) or (
                isinstance(n, (gast.Break, gast.Continue)) and not inner):
            what = type(n).__name__.lower()
            raise error(n, f"`{what}` in the body of a checkpointed loop",
                        "use an `if` around the rest of the body, or remove the marker")
        nested = inner or isinstance(n, (gast.For, gast.While))
        stack.extend((c, nested and c not in getattr(n, "orelse", ()))
                     for c in gast.iter_child_nodes(n))


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


def _state(fn: gast.FunctionDef, i: int, loop: gast.For, local: set[str],
           error: Any) -> tuple[list[str], list[str]]:
    target = loop.target.id
    after: set[str] = set().union(*(_loads(s) for s in fn.body[i + 1:])) if (
        i + 1 < len(fn.body)) else set()
    exposed = _exposed(loop.body, {target})[0]
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


def _lift_loop(parsed: Parsed, body: list[gast.AST], i: int, local: set[str],
               error: Any) -> tuple[gast.AST, dict[str, Any]]:
    loop = body[i]
    _check_body(loop, error)
    steps, snapshots = _marker_arguments(parsed, loop, local, error)
    carried, inputs = _state(parsed.node, i, loop, local, error)
    target = loop.target.id
    base = f"{parsed.name}_line{loop.lineno}"
    namespace = {**parsed.globals, **parsed.closure}

    def out(ctx: Any = None) -> gast.AST:
        if len(carried) == 1:
            return _name(carried[0], ctx)
        return gast.Tuple(elts=[_name(c, ctx) for c in carried], ctx=ctx or gast.Load())

    def define(fname: str, params: list[str], stmts: list[gast.AST]) -> Any:
        node = gast.FunctionDef(
            name=fname, args=gast.arguments(
                args=[_name(p, gast.Param()) for p in params], posonlyargs=[], vararg=None,
                kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
            body=stmts, decorator_list=[], returns=None, type_comment=None, type_params=[])
        _locate(node, loop)
        function = _compile(node, namespace)
        register_parsed(function, Parsed(node, fname, parsed.filename, parsed.lines,
                                         parsed.globals, {**parsed.closure, **made}))
        made[fname] = function
        return function

    made: dict[str, Any] = {}
    step = define(f"{base}_step", [target, *carried, *inputs],
                  copy.deepcopy(loop.body) + [gast.Return(value=out())])
    namespace[step.__name__] = step
    step_call = gast.Call(func=_name(step.__name__),
                          args=[_name(a) for a in [target, *carried, *inputs]], keywords=[])
    inner = gast.For(target=_name(target, gast.Store()), iter=_name("_steps"),
                     body=[gast.Assign(targets=[out(gast.Store())], value=step_call,
                                       type_comment=None)], orelse=[], type_comment=None)
    loop_fn = define(f"{base}_loop", ["_steps", "_snapshots", *carried, *inputs],
                     [inner, gast.Return(value=out())])
    plain = gast.For(target=_name(target, gast.Store()), iter=_name("_steps"),
                     body=copy.deepcopy(loop.body), orelse=[], type_comment=None)
    advance = define(f"{base}_advance", ["_steps", *carried, *inputs],
                     [plain, gast.Return(value=out())])
    loop_fn.__adgen_checkpoint__ = CheckpointedLoop(advance, tuple(carried), tuple(inputs))
    call = gast.Call(func=_name(loop_fn.__name__),
                     args=[steps, snapshots, *(_name(a) for a in [*carried, *inputs])],
                     keywords=[])
    replaced = gast.Assign(targets=[out(gast.Store())], value=call, type_comment=None)
    _locate(replaced, loop)
    return replaced, made


def _locate(node: gast.AST, at: gast.AST) -> None:
    """Every node without a position takes the loop's line (errors, `# line N:`)."""
    for n in gast.walk(node):
        if hasattr(n, "lineno") or isinstance(n, (gast.expr, gast.stmt)):
            if getattr(n, "lineno", None) is None:
                n.lineno, n.col_offset = at.lineno, at.col_offset
                n.end_lineno, n.end_col_offset = at.lineno, at.col_offset


__all__ = ["CheckpointedLoop", "lift_checkpointed"]
