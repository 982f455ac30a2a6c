"""Effects of the user's functions on their arguments, and the value form of such a callee.

A user function may change an argument in place: `u[0] = u[1]` (a boundary condition),
`h.append(v)`, `v *= 2.0`, or a call of another such function. Python's caller sees the
change; the trace follows values, so a caller lowered as if the call were pure would miss it.

`summary(parsed, callee)` is what a function writes into: for each parameter, 1 when the
write certainly changes the argument's object (an element write, a mutating method, an
attribute store, a callee that does), 2 when it changes objects the argument holds
(`p[i][j] = ...`, `p[i] += ...`, `p[i].append(...)`), 0 when only `p op= ...` does (in place for
an array or a list, a new value for a number); and `GLOBAL + name` for each global or
closed-over name it writes into, which the caller refuses. `callee(call)` gives the
arguments a call of a user function writes into (the program view computes each function's
summary once; a recursive call being summarised counts as writing nothing).

`value_form(fn, parsed, written)` is the callee in value form: the same body, returning
`(result, p1, p2, ...)`, the values of the written parameters when it returns. The caller's
lowering calls it and rebinds the names it passed (`runtime.pick(changed_in_place(w), new,
w)` where only `p op= ...` wrote), so the trace follows the write and both modes
differentiate through it.
"""

from __future__ import annotations

import ast
import copy
import types
from collections.abc import Callable
from typing import Any

import gast

from adgen.frontend.aliases import MUTATING
from adgen.frontend.parse import Parsed, register_parsed
from adgen.runtime import owned_copy

_COPY = "_adgen_owned_copy"

# parameter -> how its argument is changed: 0 (falsy) only by `p op= ...` (in place for an
# array or a list, a new value for a number), 1 its elements (`p[i] = ...`, `p.append(v)`), 2
# objects it holds (`p[i][j] = ...`, `p[i] += ...` on an array held in a list, `p[i].append`);
# and `GLOBAL + name` for a name not local to the function that it writes into
Summary = dict[str, int]
GLOBAL = "global "


def summary(parsed: Parsed,
            callee: Callable[[gast.Call], list[tuple[gast.AST, int]]]) -> Summary:
    """The parameters `parsed`'s function writes into (see the module docstring)."""
    params = [a.id for a in parsed.node.args.args]
    rebound = _rebound(parsed.node, set(params))
    local = set(params) | {n.id for n in gast.walk(parsed.node)
                           if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    out: Summary = {}

    def note(target: gast.AST, level: int) -> None:
        """A write `level` deep below `target` (0: only `op=`)."""
        root, depth = _written_name(target)
        if root in params and root not in rebound:
            out[root] = max(out.get(root, 0), min(level and depth + level, 2))
        elif root is not None and root not in local and not isinstance(
                parsed.resolve(root)[1], (types.ModuleType, type)):  # not `np.append(...)`
            out[GLOBAL + root] = 1  # `BUFFER[0] = v`, `LOG.append(v)` of a module's value

    for s in gast.walk(parsed.node):
        if isinstance(s, (gast.Assign, gast.AugAssign)):
            for t in _stores(s.targets if isinstance(s, gast.Assign) else [s.target]):
                if isinstance(t, (gast.Subscript, gast.Attribute)):  # `p[i] = ...`, `p.w = ...`
                    note(t.value, 1 + isinstance(s, gast.AugAssign))  # `p[i] += v`: `p[i]`
                elif isinstance(s, gast.AugAssign):
                    note(t, 0)
        elif isinstance(s, gast.Call):
            func = s.func
            if isinstance(func, gast.Attribute) and func.attr in MUTATING:
                note(func.value, 1)
            for arg, level in callee(s):
                note(arg, level)
    return out


def _stores(targets: list[gast.AST]) -> list[gast.AST]:
    """The single targets of an assignment's targets (`a, p[0] = ...` unpacked)."""
    out: list[gast.AST] = []
    todo = list(targets)
    while todo:
        t = todo.pop()
        if isinstance(t, (gast.Tuple, gast.List)):
            todo.extend(t.elts)
        else:
            out.append(t.value if isinstance(t, gast.Starred) else t)
    return out


def _written_name(target: gast.AST) -> tuple[str | None, int]:
    """The name whose object a write into `target` changes, and how deep below it: `p` at 0
    for `p`, at 1 for `p[i]` or `p.w`."""
    depth = 0
    while isinstance(target, (gast.Subscript, gast.Attribute)):
        target, depth = target.value, depth + 1
    return (target.id, depth) if isinstance(target, gast.Name) else (None, 0)


def _rebound(fn: gast.FunctionDef, params: set[str]) -> set[str]:
    """Parameters the function assigns a new object to (`v = v * 2.0`) anywhere: a write
    after that may not reach the caller's object, so such parameters are not summarised as
    written; a write before the rebinding is refused by the caller's lowering instead."""
    return {n.id for s in gast.walk(fn) if isinstance(s, gast.Assign)
            for t in s.targets for n in gast.walk(t)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and n.id in params}


def bound_arguments(fn: Any, call: gast.Call, written: Summary) -> list[tuple[str, gast.AST]]:
    """(parameter, argument) for each written parameter `call` passes to `fn`."""
    params = list(fn.__code__.co_varnames[: fn.__code__.co_argcount])
    out = [(p, a) for p, a in zip(params, call.args, strict=False) if p in written]
    out += [(k.arg, k.value) for k in call.keywords if k.arg in written]
    return out


def value_form(fn: Any, parsed: Parsed, written: Summary) -> Any:
    """`fn` returning `(result, *written parameters)`, compiled and registered to parse as
    its own tree (errors and comments still name the user's lines)."""
    node = copy.deepcopy(parsed.node)
    node.name = f"{parsed.name}_effects"
    node.decorator_list = []
    params = [p for p in (a.id for a in node.args.args) if p in written]

    def packed(value: gast.AST | None) -> gast.Tuple:
        first = value if value is not None else gast.Constant(value=None, kind=None)
        return gast.Tuple(elts=[first] + [gast.Name(id=p, ctx=gast.Load(), annotation=None,
                                                    type_comment=None) for p in params],
                          ctx=gast.Load())

    for n in gast.walk(node):
        if isinstance(n, gast.Return):
            n.value = gast.copy_location(packed(n.value), n)
    end = gast.Return(value=packed(None))
    last = node.body[-1]
    gast.copy_location(end, last)
    end.end_lineno, end.end_col_offset = last.end_lineno, last.end_col_offset
    gast.copy_location(end.value, end)
    # the written parameters are the function's own copies (the caller takes them back), so
    # an object the caller passed is never changed behind a value the derivative kept
    copies = [gast.copy_location(gast.Assign(
        targets=[gast.Name(id=p, ctx=gast.Store(), annotation=None, type_comment=None)],
        value=gast.Call(func=gast.Name(id=_COPY, ctx=gast.Load(), annotation=None,
                                       type_comment=None),
                        args=[gast.Name(id=p, ctx=gast.Load(), annotation=None,
                                        type_comment=None)], keywords=[]),
        type_comment=None), node) for p in params]
    node.body = copies + node.body + [end]
    closure = {**parsed.closure, _COPY: owned_copy}
    function = _compile(node, parsed.globals, closure, parsed.filename)
    register_parsed(function, Parsed(node, node.name, parsed.filename, parsed.lines,
                                     parsed.globals, closure))
    function.adgen_value_form = True
    return function


def _compile(node: gast.FunctionDef, namespace: dict[str, Any], closure: dict[str, Any],
             filename: str) -> Any:
    """The function `node` defines, reading the module's own globals (a name redefined later
    is seen as in the original) and `closure`'s values as cells."""
    names = sorted(closure)
    maker = gast.FunctionDef(
        name="_adgen_make", args=gast.arguments(
            args=[gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None)
                  for n in names], posonlyargs=[], vararg=None, kwonlyargs=[],
            kw_defaults=[], kwarg=None, defaults=[]),
        body=[copy.deepcopy(node), gast.Return(value=gast.Name(
            id=node.name, ctx=gast.Load(), annotation=None, type_comment=None))],
        decorator_list=[], returns=None, type_comment=None, type_params=[])
    module = gast.gast_to_ast(gast.Module(body=[maker], type_ignores=[]))
    ast.fix_missing_locations(module)
    scope: dict[str, Any] = {}
    exec(compile(module, filename, "exec"), namespace, scope)  # defines the function only
    return scope["_adgen_make"](*(closure[n] for n in names))
