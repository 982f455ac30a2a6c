"""Functions with keyword-only parameters, `*args` and `**kwargs`, in a plain calling form.

adgen differentiates a function of plain positional parameters. A function such as

    def f(x, *args, scale=1.0, **options): ...

is read in its *plain form*: the same body with one positional parameter per parameter of the
signature, in order, `f(x, args, scale, options)`, where `args` is the tuple `*args` collected
and `options` the dict `**options` collected. `plain_form(f)` is that function: a real
function (so calls that need no derivative run it) that calls `f` the way it was written,
whose source, for adgen, is `f`'s body. The public operators differentiate the plain form
and take calls in `f`'s own convention (`api`); a call of such a helper inside a
differentiated function is bound at lowering time (`plain_arguments`): the extra positional
arguments become a tuple display, unknown keywords a dict display, missing parameters their
defaults. A derivative with respect to `args` is then a tuple, one entry per positional
argument it collected; with respect to `options`, a dict.
"""

from __future__ import annotations

import copy
import threading
import types
from typing import Any

import gast

from adgen.frontend.parse import (
    NO_DEFAULT,
    Parsed,
    has_plain_parameters,
    parameter_kinds,
    parse_function,
    register_parsed,
)
from adgen.rules import library_function, lookup
from adgen.runtime_forms import missing_argument, other_items

_PLAIN: dict[Any, Any] = {}
_LOCK = threading.Lock()


def plain_form(fn: Any) -> Any:
    """`fn` itself when its parameters are plain (or it is not a user's Python function: a
    rule or a library's function); else its plain form (one per function and code object)."""
    if (not isinstance(fn, types.FunctionType) or has_plain_parameters(fn)
            or getattr(fn, "__adgen__", None) is not None or lookup(fn) is not None
            or library_function(fn) or (fn.__module__ or "").split(".")[0] == "adgen"):
        return fn
    key = (fn, fn.__code__)
    with _LOCK:
        made = _PLAIN.get(key)
        if made is None:
            made = _PLAIN[key] = _make(fn)
    return made


def _make(fn: Any) -> Any:
    kinds = parameter_kinds(fn)
    names = [n for n, _, _ in kinds]
    spelled = []
    for n, kind, _ in kinds:
        spelled.append({"args": f"*{n}", "kwargs": f"**{n}", "keyword": f"{n}={n}"}.get(
            kind, n))
    source = (f"def {fn.__name__}({', '.join(names)}):\n"
              f"    return _adgen_original({', '.join(spelled)})\n")
    scope: dict[str, Any] = {}
    exec(compile(source, f"<adgen plain form of {fn.__qualname__}>", "exec"),
         {"_adgen_original": fn}, scope)
    plain = scope[fn.__name__]
    plain.__qualname__ = fn.__qualname__
    plain.__doc__ = fn.__doc__
    plain.__module__ = fn.__module__
    plain.adgen_plain_of = fn
    parsed = parse_function(fn)
    node = copy.deepcopy(parsed.node)
    node.args = gast.arguments(
        args=[gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None)
              for n in names], posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[],
        kwarg=None, defaults=[])
    register_parsed(plain, Parsed(node, parsed.name, parsed.filename, parsed.lines,
                                  parsed.globals, parsed.closure, plain))
    return plain


def plain_arguments(fn: Any, call: gast.Call, error: Any, default_of: Any,
                    helper: Any) -> list[gast.AST]:
    """The arguments of `call`, a call of `fn` written in `fn`'s convention, as one
    expression per parameter of its plain form (source expressions, lowered by the caller;
    `default_of(p, value)` gives the expression of a default value, `helper(f)` a name for a
    runtime function). `**d` (a name) fills the parameters not given otherwise (`d["k"] if
    "k" in d else` the default) and leaves the rest of its items to `**kwargs`."""
    kinds = parameter_kinds(fn)
    double = [k.value for k in call.keywords if k.arg is None]
    if double and (len(double) > 1 or not isinstance(double[0], gast.Name)
                   or not any(kind == "kwargs" for _, kind, _ in kinds)):
        raise error(call, f"this `**` argument in a call of {fn.__qualname__}",
                    "pass one `**name`, to a function that takes `**kwargs`, or pass the "
                    "arguments by name")
    table = double[0] if double else None
    given = [p for (p, kind, _), _ in zip(kinds, [a for a in call.args
                                                  if not isinstance(a, gast.Starred)],
                                          strict=False) if kind == "positional"]
    given += [k.arg for k in call.keywords if k.arg is not None]
    named = [p for p, kind, _ in kinds if kind in ("positional", "keyword")]
    positional = list(call.args)
    star = next((i for i, a in enumerate(positional) if isinstance(a, gast.Starred)), None)
    plain = [p for p, kind, _ in kinds if kind == "positional"]
    if star is not None and (star < len(plain) or star != len(positional) - 1
                             or not any(kind == "args" for _, kind, _ in kinds)):
        raise error(call, f"a starred argument in a call of {fn.__qualname__} that does not "
                    "only fill its `*args`", "pass the arguments one by one")
    keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
    out: list[gast.AST] = []
    for p, kind, default in kinds:
        if kind == "positional" and positional and not isinstance(positional[0], gast.Starred):
            out.append(positional.pop(0))
        elif kind == "args":
            out.append(_collected(positional))
            positional = []
        elif kind == "kwargs":
            extra = [gast.keyword(arg=k, value=v) for k, v in keywords.items()]
            out.append(gast.Dict(keys=[_const(k) for k in keywords], values=list(
                keywords.values())) if table is None else gast.Call(
                func=helper(dict), args=[gast.Call(func=helper(other_items), args=[
                    table, _strings(given), _strings(named), _const(fn.__qualname__)],
                    keywords=[])], keywords=extra))
            keywords = {}
        elif p in keywords:
            out.append(keywords.pop(p))
        elif table is not None:  # from `**d`, else its default
            item = gast.Subscript(value=table, slice=_const(p), ctx=gast.Load())
            test = gast.Compare(left=_const(p), ops=[gast.In()], comparators=[table])
            fallback = default_of(p, default) if default is not NO_DEFAULT else gast.Call(
                func=helper(missing_argument), args=[_const(fn.__qualname__), _const(p)],
                keywords=[])
            out.append(gast.IfExp(test=test, body=item, orelse=fallback))
        elif default is not NO_DEFAULT:
            out.append(default_of(p, default))
        else:
            raise error(call, f"a call of {fn.__qualname__} that leaves `{p}` out", f"pass `{p}`")
    if positional or keywords:
        raise error(call, f"this call of {fn.__qualname__} (more arguments than it takes)",
                    "check the call")
    return out


def _const(value: Any) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def _strings(names: list[str]) -> gast.Tuple:
    return gast.Tuple(elts=[_const(n) for n in names], ctx=gast.Load())


def _collected(items: list[gast.AST]) -> gast.AST:
    """The tuple `*args` collects from the positional arguments left (`tuple(xs)` for one
    starred `*xs`)."""
    if len(items) == 1 and isinstance(items[0], gast.Starred):
        return gast.Call(func=gast.Name(id="tuple", ctx=gast.Load(), annotation=None,
                                        type_comment=None), args=[items[0].value], keywords=[])
    return gast.Tuple(elts=items, ctx=gast.Load())
