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
from adgen.runtime_forms import missing_argument, other_items, star_fits

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
    source = (f"def plain({', '.join(names)}):\n"
              f"    return _adgen_original({', '.join(spelled)})\n")
    scope: dict[str, Any] = {}
    exec(compile(source, f"<adgen plain form of {fn.__qualname__}>", "exec"),
         {"_adgen_original": fn}, scope)
    plain = scope["plain"]
    plain.__name__, plain.__qualname__ = fn.__name__, fn.__qualname__
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
                    helper: Any) -> tuple[list[gast.AST], list[gast.AST]]:
    """The arguments of `call`, a call of `fn` written in `fn`'s convention, as one
    expression per parameter of its plain form, and checks to run before (calls that raise
    Python's TypeError). Source expressions, lowered by the caller; `default_of(p, value)`
    gives the expression of a default value, `helper(f)` a name for a runtime function.

    A final `*xs` (a name) fills the positional parameters left, `xs[j] if len(xs) > j else`
    what a keyword, `**d` or the default gives, and `*args` with `tuple(xs[m:])`. `**d` (a
    name, to a function taking `**kwargs`) fills the parameters not given otherwise
    (`d["k"] if "k" in d else` the default) and leaves the rest of its items to `**kwargs`."""
    kinds = parameter_kinds(fn)
    callee = _const(fn.__qualname__)
    double = [k.value for k in call.keywords if k.arg is None]
    if double and (len(double) > 1 or not isinstance(double[0], gast.Name)
                   or not any(kind == "kwargs" for _, kind, _ in kinds)):
        raise error(call, f"this `**` argument in a call of {fn.__qualname__}",
                    "pass one `**name`, to a function that takes `**kwargs`, or pass the "
                    "arguments by name")
    table = double[0] if double else None
    positional = list(call.args)
    stars = [i for i, a in enumerate(positional) if isinstance(a, gast.Starred)]
    if stars and (stars != [len(positional) - 1] or not isinstance(positional[-1].value,
                                                                   gast.Name)):
        raise error(call, f"this starred argument in a call of {fn.__qualname__}",
                    "pass one `*name`, after the other positional arguments")
    star = positional.pop().value if stars else None
    keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
    plain = [p for p, kind, _ in kinds if kind == "positional"]
    if len(positional) > len(plain) and not any(kind == "args" for _, kind, _ in kinds):
        raise error(call, f"this call of {fn.__qualname__} (more arguments than it takes)",
                    "check the call")
    given = plain[: len(positional)] + list(keywords)
    named = [p for p, kind, _ in kinds if kind in ("positional", "keyword")]
    left = [p for p in plain[len(positional):]]
    open_ = left[: next((i for i, p in enumerate(left) if p in keywords), len(left))]
    checks = []
    varargs = any(kind == "args" for _, kind, _ in kinds)
    if star is not None and len(positional) > len(plain):
        raise error(call, f"a starred argument after more positional arguments than "
                    f"{fn.__qualname__} has parameters", "put those arguments in the starred "
                    "sequence too")
    if star is not None and not (varargs and len(open_) == len(left)):
        checks.append(gast.Call(func=helper(star_fits), args=[  # Python's TypeError beyond
            star, _const(len(open_)), callee], keywords=[]))

    def fallback(p: str, default: Any) -> gast.AST:
        if p in keywords:
            return keywords.pop(p)
        missing = default_of(p, default) if default is not NO_DEFAULT else None
        if table is not None:  # from `**d`, else its default
            item = gast.Subscript(value=table, slice=_const(p), ctx=gast.Load())
            test = gast.Compare(left=_const(p), ops=[gast.In()], comparators=[table])
            missing = missing or gast.Call(func=helper(missing_argument),
                                           args=[callee, _const(p)], keywords=[])
            return gast.IfExp(test=test, body=item, orelse=missing)
        if missing is None and star is not None and p in open_:
            return gast.Call(func=helper(missing_argument), args=[callee, _const(p)],
                             keywords=[])
        if missing is None:
            raise error(call, f"a call of {fn.__qualname__} that leaves `{p}` out",
                        f"pass `{p}`")
        return missing

    out: list[gast.AST] = []
    for p, kind, default in kinds:
        if kind == "positional" and positional:
            out.append(positional.pop(0))
        elif kind == "positional" and star is not None and p in open_:
            j = _const(open_.index(p))
            count = gast.Call(func=helper(len), args=[star], keywords=[])
            out.append(gast.IfExp(
                test=gast.Compare(left=count, ops=[gast.Gt()], comparators=[j]),
                body=gast.Subscript(value=star, slice=j, ctx=gast.Load()),
                orelse=fallback(p, default)))
        elif kind == "args":
            rest = positional
            if star is not None:
                tail = gast.Subscript(value=star, slice=gast.Slice(
                    lower=_const(len(open_)), upper=None, step=None), ctx=gast.Load())
                rest = [*positional, gast.Starred(value=tail, ctx=gast.Load())]
            out.append(_collected(rest, helper))
            positional = []
        elif kind == "kwargs":
            extra = [gast.keyword(arg=k, value=v) for k, v in keywords.items()]
            out.append(gast.Dict(keys=[_const(k) for k in keywords], values=list(
                keywords.values())) if table is None else gast.Call(
                func=helper(dict), args=[gast.Call(func=helper(other_items), args=[
                    table, _strings(given), _strings(named), callee,
                    star if star is not None else _const(()), _strings(open_)], keywords=[])],
                keywords=extra))
            keywords = {}
        else:
            out.append(fallback(p, default))
    if keywords:
        raise error(call, f"this call of {fn.__qualname__} (a keyword it does not take: "
                    f"`{next(iter(keywords))}`)", "check the call")
    return out, checks


def _const(value: Any) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def _strings(names: list[str]) -> gast.Tuple:
    return gast.Tuple(elts=[_const(n) for n in names], ctx=gast.Load())


def _collected(items: list[gast.AST], helper: Any) -> gast.AST:
    """The tuple `*args` collects from the positional arguments left (`tuple(xs[m:])` for a
    final starred `*xs`, after the plain ones)."""
    if items and isinstance(items[-1], gast.Starred):  # the only item (see the caller)
        return gast.Call(func=helper(tuple), args=[items[-1].value], keywords=[])
    return gast.Tuple(elts=items, ctx=gast.Load())
