"""Function values: the parameters a function calls, and what a specialisation is keyed by.

A parameter the function calls (`rhs(y, p)`), maps (`map(f, xs)`), passes as `key=`, binds
with `functools.partial(f, ...)`, or passes to a user function that calls it, is a *function
value*. It is never differentiated; the derivative is specialised to the object passed: the
program view makes a copy of the function (`Program.specialise`) whose parsed record says what
those parameters hold (`Parsed.static`), so that the lowering resolves `rhs(y, p)` to that
object exactly as it resolves a module-level name. The API picks the specialisation per call
from the arguments (`value_key`: identity, or for a function made by `def`/`lambda` its code,
globals, defaults and closure values; for a `functools.partial` its function and the names of
what it binds, whose values are read at run time).
"""

from __future__ import annotations

import builtins
import functools
import types
from collections.abc import Callable
from typing import Any

import gast

from adgen.codegen import astutil
from adgen.frontend.parse import Parsed

# user function -> {parameter: line} of its function values (the program view caches it)
ParamsOf = Callable[[Any], dict[str, int]]


def function_params(parsed: Parsed, params_of: ParamsOf) -> dict[str, int]:
    """The parameters of `parsed`'s function that are function values, each with the first
    line that uses it as one; parameters already specialised (`parsed.static`) are not."""
    params = [a.id for a in parsed.node.args.args if a.id not in parsed.static]
    found: dict[str, int] = {}
    held = _local_sources(parsed.node, set(params))

    def note(e: gast.AST, line: int, seen: frozenset[str] = frozenset()) -> None:
        if isinstance(e, gast.IfExp):
            note(e.body, line, seen)
            note(e.orelse, line, seen)
        elif isinstance(e, gast.Call) and e.args and isinstance(e.func, (
                gast.Name, gast.Attribute)) and _resolved(parsed, e.func) is functools.partial:
            note(e.args[0], line, seen)
        elif isinstance(e, gast.Name) and e.id in held and e.id not in seen:
            for source in held[e.id]:  # `g = rhs` (or `rhs if k else relu`), then `g(x)`
                note(source, line, seen | {e.id})
        elif isinstance(e, gast.Name) and e.id in params and e.id not in found:
            found[e.id] = line

    for n in astutil.walk_in_order(parsed.node):
        if not isinstance(n, gast.Call):
            continue
        line = getattr(n, "lineno", None) or parsed.node.lineno
        note(n.func, line)
        for k in n.keywords:
            if k.arg == "key":
                note(k.value, line)
        if not isinstance(n.func, gast.Name) or n.func.id in params:
            continue
        ok, callee = parsed.resolve(n.func.id)
        if not ok:
            continue
        if callee in (builtins.map, functools.partial) and n.args:
            note(n.args[0], line)
        elif isinstance(callee, types.FunctionType):
            inner = params_of(callee)
            names = list(callee.__code__.co_varnames[: callee.__code__.co_argcount])
            for p, a in zip(names, n.args, strict=False):
                if p in inner:
                    note(a, line)
            for k in n.keywords:
                if k.arg in inner:
                    note(k.value, line)
    return found


def _local_sources(fn: gast.FunctionDef, params: set[str]) -> dict[str, list[gast.AST]]:
    """The values assigned to each local name by plain `name = value` statements (a name
    that holds a function is called through what these may be)."""
    out: dict[str, list[gast.AST]] = {}
    for n in astutil.walk(fn.body):
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(
                n.targets[0], gast.Name) and n.targets[0].id not in params:
            out.setdefault(n.targets[0].id, []).append(n.value)
    return out


def _resolved(parsed: Parsed, e: gast.AST) -> Any:
    if isinstance(e, gast.Attribute):
        base = _resolved(parsed, e.value)
        return getattr(base, e.attr, None)
    ok, value = parsed.resolve(e.id)
    return value if ok else None


def value_key(value: Any) -> Any:
    """What a specialisation to the function value `value` is cached by. Two values with the
    same key run the same code: a `def` or lambda made again with the same code, globals,
    defaults and closure values (ids are sound: the cached specialisation keeps the first
    value, and with it every object its key names, alive); a `functools.partial` of the same
    function binding the same number of positional arguments and the same keywords."""
    if isinstance(value, functools.partial):
        return ("partial", value_key(value.func), len(value.args), tuple(sorted(value.keywords)))
    if isinstance(value, types.FunctionType) and getattr(value, "__adgen__", None) is None:
        cells = tuple(id(_cell(c)) for c in value.__closure__ or ())
        defaults = tuple(id(d) for d in value.__defaults__ or ())
        kw = tuple(sorted((k, id(v)) for k, v in (value.__kwdefaults__ or {}).items()))
        return ("function", value.__code__, id(value.__globals__), defaults, kw, cells)
    try:
        hash(value)
    except TypeError:
        return ("object", id(value))
    return ("object", value)


def _cell(c: Any) -> Any:
    try:
        return c.cell_contents
    except ValueError:  # an empty cell
        return None


def describe(value: Any) -> str:
    """A short name for a function value in messages."""
    if isinstance(value, functools.partial):
        return f"functools.partial({describe(value.func)}, ...)"
    return getattr(value, "__qualname__", None) or getattr(value, "__name__", None) or repr(
        value)
