"""Lift functions defined inside the differentiated function to functions of their own.

`def inner(y): ...` (or `inner = lambda y: ...`) at the top level of a function body becomes a
separate function whose free variables taken from the enclosing function are extra
parameters; each call `inner(a)` becomes `f_inner(a, c1, c2)`. The lifted function is then
differentiated like any other callee, so derivatives flow through the captured values too.
A nested function used other than by calling it directly is refused.
"""

from __future__ import annotations

import copy
from typing import Any

import gast

from adgen.errors import UnsupportedSyntax
from adgen.frontend.parse import Parsed, register_parsed


def _nested(s: gast.AST) -> tuple[str, gast.FunctionDef] | None:
    if isinstance(s, gast.FunctionDef) and not s.decorator_list:
        return s.name, s
    if (isinstance(s, gast.Assign) and len(s.targets) == 1
            and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Lambda)):
        lam = s.value
        ret = gast.copy_location(gast.Return(value=lam.body), lam.body)
        node = gast.FunctionDef(name=s.targets[0].id, args=lam.args, body=[ret],
                                decorator_list=[], returns=None, type_comment=None,
                                type_params=[])
        return s.targets[0].id, gast.copy_location(node, s)
    return None


def _locals_of(fn: gast.FunctionDef) -> set[str]:
    out = {a.id for a in fn.args.args}
    for n in gast.walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            out.add(n.id)
    return out


def lift(parsed: Parsed, outer_locals: set[str], error: Any) -> tuple[Parsed, dict[str, Any]]:
    """A copy of `parsed` without its nested functions, and the lifted functions by name."""
    if not any(_nested(s) for s in parsed.node.body):
        return parsed, {}
    node = copy.deepcopy(parsed.node)
    lifted: dict[str, Any] = {}
    body = []
    for s in node.body:
        found = _nested(s)
        if found is None:
            body.append(s)
            continue
        inner_name, inner = found
        if lifted:  # calls of the nested functions lifted before it (`g = lambda z: f(z)`)
            _rewrite_calls(inner, lifted, error)
        known = {info["name"]: info["function"] for info in lifted.values()}
        lifted[inner_name] = _make(parsed, inner, outer_locals - {inner_name} - set(lifted),
                                   error, known)
    if not lifted:
        return parsed, {}
    node.body = body
    _rewrite_calls(node, lifted, error)
    functions = {info["name"]: info["function"] for info in lifted.values()}
    new = Parsed(node, parsed.name, parsed.filename, parsed.lines, parsed.globals,
                 {**parsed.closure, **functions}, parsed.function, parsed.static)
    return new, functions


def _make(parsed: Parsed, inner: gast.FunctionDef, outer_locals: set[str],
          error: Any, known: dict[str, Any]) -> dict[str, Any]:
    a = inner.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.defaults:
        raise error(inner, "nested functions with defaults, `*args` or `**kwargs`",
                    "define it at module level")
    for n in gast.walk(inner):
        if isinstance(n, gast.Nonlocal):  # the lifted function has no enclosing scope to bind
            raise error(n, "`nonlocal` statements", "pass the value in and return the new one")
    own = _locals_of(inner)
    captured = sorted({
        n.id for n in gast.walk(inner)
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id not in own
        and n.id in outer_locals
    })
    lifted_name = f"{parsed.name}_{inner.name}"
    params = [p.id for p in a.args] + captured
    node = gast.FunctionDef(
        name=lifted_name,
        args=gast.arguments(args=[gast.Name(id=p, ctx=gast.Param(), annotation=None,
                                            type_comment=None) for p in params],
                            posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[],
                            kwarg=None, defaults=[]),
        body=inner.body, decorator_list=[], returns=None, type_comment=None, type_params=[])
    gast.copy_location(node, inner)
    closure = {**parsed.closure, **known}  # the functions lifted before it, which it calls
    function = _compile(node, {**parsed.globals, **closure})
    register_parsed(function, Parsed(node, lifted_name, parsed.filename, parsed.lines,
                                     parsed.globals, closure))
    return {"name": lifted_name, "function": function, "captured": captured}


def _compile(node: gast.FunctionDef, namespace: dict[str, Any]) -> Any:
    """The lifted function as a real function (calls that need no derivative run it)."""
    import ast

    module = gast.gast_to_ast(gast.Module(body=[copy.deepcopy(node)], type_ignores=[]))
    ast.fix_missing_locations(module)
    scope: dict[str, Any] = {}
    exec(compile(module, "<adgen lifted>", "exec"), namespace, scope)
    return scope[node.name]


def _rewrite_calls(node: gast.FunctionDef, lifted: dict[str, dict], error: Any) -> None:
    calls = set()
    for n in gast.walk(node):
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in lifted:
            info = lifted[n.func.id]
            calls.add(id(n.func))
            n.func = gast.Name(id=info["name"], ctx=gast.Load(), annotation=None,
                               type_comment=None)
            calls.add(id(n.func))
            n.args = list(n.args) + [gast.Name(id=c, ctx=gast.Load(), annotation=None,
                                               type_comment=None) for c in info["captured"]]
    for n in gast.walk(node):
        if isinstance(n, gast.Name) and n.id in lifted and id(n) not in calls:
            raise error(n, f"using the nested function `{n.id}` other than by calling it",
                        "call it directly, or define it at module level")


__all__ = ["UnsupportedSyntax", "lift"]
