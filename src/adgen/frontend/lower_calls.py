"""Lowering of calls: `g(a, *xs, k=v, **d)` spread into one atom per parameter, `max(xs)` and
`min(xs)` as the loop Python runs, `adgen.grad(pot)(x)` inside a function, runtime checks.

A mixin of `adgen.lower_expr.ExpressionLowering` (which provides `atom`, `bind`, `resolve`,
`global_ref`, `is_global`, `sequence`, `emit`, `block`, `error`, `namer`, `line` and `p`).
"""

from __future__ import annotations

import ast
import functools
import math
import types
from typing import Any

import gast
import numpy as np

from adgen import runtime
from adgen.codegen.astutil import clone
from adgen.frontend.aliases import MUTATING
from adgen.frontend.effects import GLOBAL, bound_arguments
from adgen.frontend.ir import Method, Subexpressions, assign, const, name
from adgen.frontend.local_functions import LocalFunctions
from adgen.frontend.lower_builtins import is_einsum
from adgen.frontend.lower_values import ValueLowering
from adgen.frontend.mutators import (
    WriteChecks,
    in_place,
    method_out,
    overwriting,
    positional_out,
)
from adgen.frontend.signatures import plain_arguments, plain_form
from adgen.rules import library_function, lookup
from adgen.rules.numpy_composites import (
    INITIAL_FORMS,
    WHERE_FORMS,
    broadcast_list,
    unzipped,
)
from adgen.rules.registry import implementation


class CallLowering(ValueLowering, LocalFunctions, WriteChecks):
    """Call lowering for `ExpressionLowering`."""

    def expr_Call(self, e: gast.Call) -> gast.AST:
        if isinstance(e.func, gast.Name) and e.func.id in self.function_locals:
            return self.local_call(e)  # `g(x)` with `g = np.tanh if k else relu`, ...
        found, fn = self.resolve(e.func)
        written_by = overwriting(fn if found else None, e.keywords)
        if written_by is not None:
            raise self.error(e, f"`{written_by}=` here (it lets the call write into its "
                             "argument)", f"leave `{written_by}` to its default")
        missing = self.missing(e.func) if not found else None
        if missing is not None:  # `np.trapz(...)` where NumPy has no `trapz`: raises if run
            return self.missing_call(missing)
        written_as = implementation(fn) if found and lookup(fn) is None else None
        if found and fn is zip and len(e.args) == 1 and isinstance(e.args[0], gast.Starred) \
                and all(k.arg == "strict" for k in e.keywords):  # `zip(*rows)`: transposed
            written_as = unzipped
            e = gast.Call(func=e.func, args=[e.args[0].value], keywords=e.keywords)
        if found and any(k.arg == "where" for k in e.keywords):  # `np.sum(x, where=m)`
            written_as = _form(WHERE_FORMS, fn) or written_as
        if found and any(k.arg == "initial" for k in e.keywords):  # `np.max(x, initial=0)`
            written_as = _form(INITIAL_FORMS, fn) or written_as
        if found and fn is np.broadcast_arrays and not any(
                isinstance(a, gast.Starred) for a in e.args):  # its arrays as one list
            written_as = broadcast_list
            e = gast.Call(func=e.func, args=[gast.List(elts=list(e.args), ctx=gast.Load())],
                          keywords=e.keywords)
        if written_as is not None:  # `np.average(...)`: its form in functions with rules
            return self.expr_Call(gast.Call(func=self.helper(written_as), args=e.args,
                                            keywords=e.keywords))
        if found and isinstance(fn, types.FunctionType) and any(isinstance(
                a, gast.Lambda) for a in [*e.args, *(k.value for k in e.keywords)]):
            e = self.lambdas_made(e)  # `np.apply_along_axis(lambda r: r @ r, 1, m)`
        if found and isinstance(fn, types.FunctionType) and lookup(fn) is None and not \
                library_function(fn) and self.passes_locals(e):
            return self.passing_call(e, self.passes_locals(e))  # `rk4(g, y, p)`
        if found and isinstance(fn, functools.partial):
            return self.partial_call(e, fn)
        table = self.table(e.func)
        if table is not None:
            return self.table_call(e, table)
        if found and fn is map or found and fn is list and self.maps(e):
            mapped = self.mapped(e if fn is map else e.args[0])  # `list(map(...))` too
            if mapped is not None:
                return mapped
        if found and getattr(fn, "adgen_calling", None) is not None:
            raise self.error(e, "calling, inside a differentiated function, a derivative of a "
                             "function with keyword-only parameters, *args or **kwargs",
                             "call the function itself, or give it plain parameters")
        if found and isinstance(fn, types.FunctionType) and plain_form(fn) is not fn:
            # keyword-only parameters, `*args`, `**kwargs`: a call of the plain form
            args, checks = plain_arguments(fn, e, self.error, self.default, self.helper)
            for check in checks:
                self.emit(gast.Expr(value=self.rhs(check)))
            return self.expr_Call(gast.Call(func=self.helper(plain_form(fn)), args=args,
                                            keywords=[]))
        if any(k.arg == "out" for k in e.keywords) or found and positional_out(
                fn, e.args):
            raise self.error(e, "`out=` (it writes into an existing array in place)",
                             "assign the result to a name instead")
        if found and isinstance(fn, np.ufunc) and len(e.args) > fn.nin:  # `np.exp(x, None)`
            e = gast.Call(func=e.func, args=e.args[:fn.nin], keywords=e.keywords)
        if found and in_place(fn):
            raise self.error(e, f"{_label(fn, e.func)}, which writes into an object it is given "
                             "or bound to in place", "compute the new value with operations "
                             "that return it, in a local name (for `np.add.at(v, i, w)`: a loop "
                             "of `v[i[k]] += w[k]`)")
        if found and isinstance(fn, type | types.BuiltinFunctionType):
            form = self.builtin_form(e, fn)
            if form is not None:
                return form
        if found and is_einsum(fn):
            form = self.einsum_form(e)
            if form is not None:
                return form
        derivative = self.derivative_operator(e.func)
        if derivative is not None:
            return self.expr_Call(gast.Call(func=derivative, args=e.args, keywords=e.keywords))
        if (isinstance(e.func, gast.Attribute) and e.func.attr == "get" and not e.keywords
                and 1 <= len(e.args) <= 2 and isinstance(e.func.value, gast.Name)
                and e.func.value.id in self.locals):  # d.get(k, default) of a local dict
            table, key = e.func.value, self.atom(e.args[0])  # the key is evaluated once
            default = e.args[1] if len(e.args) == 2 else const(None)
            return self.expr_IfExp(gast.IfExp(
                test=gast.Compare(left=key, ops=[gast.In()], comparators=[table]),
                body=gast.Subscript(value=clone(table), slice=clone(key), ctx=gast.Load()),
                orelse=default))
        if isinstance(e.func, gast.Attribute) and not self.is_global(e.func):
            if e.func.attr in MUTATING:
                self.refuse_through_attribute(e.func.value, f"calling `.{e.func.attr}()` on")
            if method_out(e.func.attr, e.args):
                raise self.error(e, f"`.{e.func.attr}()` given an array to write into by "
                                 "position (`out`)", "assign the result to a name instead")
            if e.func.attr == "shuffle" and e.args:
                raise self.error(e, "`.shuffle()`, which reorders its argument in place",
                                 "use a new value: `xs = rng.permutation(xs)`")
            receiver = self.atom(e.func.value)
            func = gast.Attribute(value=receiver, attr=e.func.attr, ctx=gast.Load())
            fn, found = Method(e.func.attr), True
        elif isinstance(e.func, gast.Name):
            func = name(e.func.id)
        elif found:
            func = self.global_ref(e.func)
        else:
            func = self.atom(e.func)
        if any(isinstance(a, gast.Starred) for a in e.args) or any(
                k.arg is None for k in e.keywords):
            e = self.spread(e, fn if found else None)
        if found and fn in (max, min) and not e.keywords:
            if len(e.args) == 1:
                return self.extreme(e.args[0], fn)
            while len(e.args) > 2:  # max(a, b, c) is max(max(a, b), c): ties keep the first
                pair = gast.Call(func=e.func, args=e.args[:2], keywords=[])
                e = gast.Call(func=e.func, args=[pair, *e.args[2:]], keywords=[])
        args = [self.atom(a) for a in e.args]
        keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value)) for k in e.keywords]
        if isinstance(fn, Method) and fn.name in _SHAPE_VARARGS and len(args) > 1:
            # `x.reshape(2, 3)` is `x.reshape((2, 3))`, `x.transpose(1, 0)` is `x.transpose((1, 0))`
            args = [name(self.bind(gast.Tuple(elts=args, ctx=gast.Load())))]
        if found and fn is math.log and len(args) == 2 and not keywords:
            num = self.bind(gast.Call(func=func, args=args[:1], keywords=[]), fn=math.log)
            den = self.bind(gast.Call(func=func, args=args[1:], keywords=[]), fn=math.log)
            return self.expr_BinOp(gast.BinOp(left=name(num), op=gast.Div(), right=name(den)))
        if found and fn in (eval, exec, compile):
            raise self.error(e, f"`{fn.__name__}` (its code is not visible to adgen)",
                             "write the expression out in the function")
        effects = self.effects(fn) if found and isinstance(fn, types.FunctionType) else None
        if effects is not None and isinstance(e.func, gast.Name) and (
                e.func.id in self.p.static or e.func.id in self.value_names):
            raise self.error(e, f"calling the function value {fn.__qualname__}, which writes "
                             "into its arguments", "pass a function that returns new values")
        if effects is not None:
            return self.effectful(e, fn, effects, args, keywords)
        node = gast.Call(func=func, args=args, keywords=keywords)
        node.adgen_fn = fn if found else None
        return node

    def takes_lambdas(self, func: gast.AST) -> bool:
        """Whether a call of `func` may be given lambdas: a Python function of the user's, or
        a library function written in terms of functions with rules."""
        found, fn = self.resolve(func)
        if not found:
            return False
        if implementation(fn) is not None and lookup(fn) is None:
            return True
        return isinstance(fn, types.FunctionType) and lookup(fn) is None and not \
            library_function(fn)

    def lambdas_made(self, e: gast.Call) -> gast.Call:
        """A call of a Python function given lambdas: each made into a function (its value
        is then a function value the callee is specialised to)."""
        def made(a: gast.AST) -> gast.AST:
            if isinstance(a, gast.Lambda):
                return self.constant_name(self.made_lambda(a, "a lambda passed to a function"))
            return a

        return gast.Call(func=e.func, args=[made(a) for a in e.args],
                         keywords=[gast.keyword(arg=k.arg, value=made(k.value))
                                   for k in e.keywords])

    def missing(self, func: gast.AST) -> tuple[str, str] | None:
        """`(module, attr)` when `func` is `module.attr` of a module-level module that has no
        such attribute (code written for another version of a library), else None."""
        if not isinstance(func, gast.Attribute) or not self.is_global(func):
            return None
        found, base = self.resolve(func.value)
        if not found or not isinstance(base, types.ModuleType) or hasattr(base, func.attr):
            return None
        return base.__name__, func.attr

    def missing_call(self, missing: tuple[str, str]) -> gast.AST:
        """The call of a missing module attribute: it raises Python's AttributeError when it
        runs (its value, never reached, is None)."""
        call = gast.Call(func=self.helper(runtime.missing_attribute),
                         args=[const(missing[0]), const(missing[1])], keywords=[])
        call.adgen_fn = runtime.missing_attribute
        self.emit(gast.Expr(value=call))
        return const(None)

    def helper(self, fn: Any) -> gast.Name:
        """A name for a runtime helper, bound so that no user name can hide it."""
        for bound, value in self.p.closure.items():
            if value is fn:
                return name(bound)
        bound = self.namer.fresh(fn.__name__)
        self.p.closure[bound] = fn
        return name(bound)

    def effectful(self, e: gast.Call, fn: Any, effects: tuple[dict[str, bool], Any],
                  args: list[gast.AST], keywords: list[gast.keyword]) -> gast.AST:
        """A call of a user function that writes into arguments: its value form returns the
        written parameters too, and what was passed is assigned them (`frontend.effects`)."""
        written, variant = effects
        outside = sorted(k[len(GLOBAL):] for k in written if k.startswith(GLOBAL))
        if outside:
            raise self.error(e, f"calling {fn.__qualname__}, which writes into `{outside[0]}`, "
                             "a value not local to it (a global or a closed-over value)",
                             "pass it in and return the new value")
        passed = bound_arguments(fn, e, written)
        missing = sorted(set(written) - {p for p, _ in passed})
        if missing:
            raise self.error(e, f"calling {fn.__qualname__}, which writes into its default "
                             f"value of `{missing[0]}`", f"pass `{missing[0]}` explicitly")
        atoms = dict(zip([p.id for p in _params(fn)], args, strict=False))
        atoms.update((k.arg, k.value) for k in keywords)
        for p, given in passed:  # `p op= ...` into an object another name may share
            if id(given) in self.shared_arguments:
                at = self.place(e.lineno)
                self.check("numbers_only", [clone(atoms[p]), const(_text(given)), const(at)])
        vname = self.namer.fresh(variant.__name__)
        self.p.closure[vname] = variant
        call = gast.Call(func=name(vname), args=args, keywords=keywords)
        call.adgen_fn = variant
        result = self.namer.temp()
        self.emit(assign(result, call, self.line))
        order = [p.id for p in _params(variant) if p.id in written]
        for k, p in enumerate(order, start=1):
            target = dict(passed)[p]
            self.refuse_through_attribute(target, f"calling {fn.__qualname__}, which writes "
                                          f"into `{p}`, with")
            if not isinstance(target, (gast.Name, gast.Subscript)):
                continue  # a new value: nobody else sees what the callee did to it
            root = target
            while isinstance(root, gast.Subscript):
                root = root.value
            if not isinstance(root, gast.Name) or root.id not in self.locals:
                raise self.error(e, f"calling {fn.__qualname__}, which writes into `{p}`, "
                                 "given a value that is not local to the function",
                                 "pass a local copy and use what the call leaves in it")
            # an item of the result tuple, taken by a call: the name is the new value's only
            # holder (the tuple is a temporary), not a view another name may see
            value = name(self.bind(gast.Call(func=self.helper(runtime.item),
                                             args=[name(result), const(k)], keywords=[]),
                                   fn=runtime.item))
            if not written[p]:  # only `p op= ...`: in place for an array or a list only
                moved = self.bind(gast.Call(func=self.helper(runtime.changed_in_place),
                                            args=[clone(atoms[p])], keywords=[]),
                                  fn=runtime.changed_in_place)
                value = gast.Call(func=self.helper(runtime.pick),
                                  args=[name(moved), value, clone(atoms[p])], keywords=[])
                value.adgen_fn = runtime.pick
            self.assign_to(_as_store(target), value)
        return gast.Subscript(value=name(result), slice=const(0), ctx=gast.Load())

    def extreme(self, items: gast.AST, fn: Any) -> gast.AST:
        """`max(xs)` / `min(xs)` as the loop Python runs: the first item, replaced by each
        later one that is strictly larger (smaller), so a tie keeps the first."""
        seq = self.sequence(items)
        n = self.bind(gast.Call(func=name("len"), args=[seq], keywords=[]), fn=len)
        self.check("nonempty", [name(n), const(fn.__name__)])
        best = self.namer.temp()
        self.emit(assign(best, gast.Subscript(value=clone(seq), slice=const(0),
                                              ctx=gast.Load()), self.line))
        i, item = self.namer.temp("_i"), self.namer.temp()
        read = gast.Assign(targets=[name(item, gast.Store())], value=gast.Subscript(
            value=clone(seq), slice=name(i), ctx=gast.Load()), type_comment=None)
        better = gast.Compare(left=name(item), ops=[gast.Gt() if fn is max else gast.Lt()],
                              comparators=[name(best)])
        update = gast.If(test=better, body=[gast.Assign(
            targets=[name(best, gast.Store())], value=name(item), type_comment=None)],
            orelse=[])
        read.lineno = update.lineno = update.body[0].lineno = self.line
        rng = gast.Call(func=name("range"), args=[const(1), name(n)], keywords=[])
        rng.adgen_fn = range
        self.cse = Subexpressions()
        loop = gast.For(target=name(i, gast.Store()), iter=rng,
                        body=self.block([read, update]), orelse=[], type_comment=None)
        loop.lineno = self.line
        self.emit(loop)
        self.cse = Subexpressions()
        return name(best)

    def spread(self, e: gast.Call, fn: Any) -> gast.Call:
        """`g(a, *xs, b, *ys, k=v, **d)` as a call with one atom per parameter of `g`.

        Starred tuples and lists written out are spliced in. Otherwise `g` must be a Python
        function adgen can see: the positional arguments from the first star on fill the
        parameters after the plain ones in order (`xs[0]`, `xs[1]`, ..., then `b`, then
        `ys[0]`, ...: which one a parameter gets is chosen at run time by `if` on the
        lengths), `d` the parameters left (`d["name"]`), and a parameter that either may
        leave out takes its default (`if len(xs) > j` / `if "name" in d`). Runtime checks
        raise Python's own `TypeError` for too many or too few items and for unknown keys.
        """
        args: list[gast.AST] = []
        for a in e.args:
            if isinstance(a, gast.Starred) and isinstance(a.value, (gast.Tuple, gast.List)):
                args.extend(a.value.elts)
            else:
                args.append(a)
        first = next((i for i, a in enumerate(args) if isinstance(a, gast.Starred)), None)
        double = [k.value for k in e.keywords if k.arg is None]
        keywords = [k for k in e.keywords if k.arg is not None]
        if first is None and not double:
            return gast.Call(func=e.func, args=args, keywords=keywords)
        code = getattr(fn, "__code__", None)
        if code is None or code.co_flags & (0x04 | 0x08) or code.co_kwonlyargcount:
            callee = getattr(fn, "__qualname__", None) or "this function"
            raise self.error(e, f"starred `*`/`**` arguments in a call of {callee}",
                             "adgen unpacks them into the plain parameters of a Python "
                             "function it can read; pass the arguments one by one")
        if len(double) > 1:
            raise self.error(e, "several `**` arguments in one call", "merge the dicts first")
        params = list(code.co_varnames[: code.co_argcount])
        defaults = dict(zip(params[len(params) - len(fn.__defaults__ or ()):],
                            fn.__defaults__ or (), strict=True))
        given = {k.arg for k in keywords}
        star = _Star(self, args[first:]) if first is not None else None
        args = args[:first] if first is not None else args
        table = self.atom(double[0]) if double else None
        free = [p for p in params[len(args):] if p not in given]
        filled = params[len(args):]
        if star is not None:  # the star fills parameters up to the first one given by name
            filled = filled[: next((i for i, p in enumerate(filled) if p in given),
                                   len(filled))]
            required = [i for i, p in enumerate(filled) if p not in defaults]
            low = 0 if table is not None else (required[-1] + 1 if required else 0)
            self.check("star_count", [star.count, const(low), const(len(filled)),
                                      const(fn.__name__)])
        else:
            filled = []
        if table is not None:
            self.check("keyword_names", [table, gast.Tuple(
                elts=[const(p) for p in free], ctx=gast.Load()), const(fn.__name__)])
        new = list(keywords)
        for p in free:
            j = filled.index(p) if p in filled else None
            value = self.parameter(p, j, star, table, defaults, e, fn.__name__)
            new.append(gast.keyword(arg=p, value=value))
        return gast.Call(func=e.func, args=args, keywords=new)

    def parameter(self, p: str, j: int | None, star: _Star | None, table: gast.AST | None,
                  defaults: dict[str, Any], e: gast.AST, callee: str) -> gast.AST:
        """The atom for parameter `p`: positional item `j` from the first star on, else
        `table[p]`, else its default; a choice the call's arguments make at run time becomes
        an `if`."""
        fallback = None
        if table is not None:
            fallback = gast.Subscript(value=table, slice=const(p), ctx=gast.Load())
            if p in defaults:
                fallback = self.choice(gast.Compare(left=const(p), ops=[gast.In()],
                                                    comparators=[table]),
                                       fallback, self.default(p, defaults[p]))
        elif p in defaults:
            fallback = self.default(p, defaults[p])
        if j is None:
            if fallback is None:
                raise self.error(e, f"a call of {callee} that leaves `{p}` out",
                                 f"pass `{p}`")
            return fallback
        return star.item(j, fallback)

    def choice(self, test: gast.AST, body: gast.AST, orelse: gast.AST) -> gast.AST:
        """`body if test else orelse`, lowered as an `if` statement."""
        node = gast.IfExp(test=test, body=body, orelse=orelse)
        return self.atom(node)

    def default(self, p: str, value: Any) -> gast.AST:
        """A name for the default value of parameter `p`, bound into the generated code."""
        if isinstance(value, (int, float, str, bool)) or value is None:
            return const(value)
        bound = self.namer.fresh(f"{p}_default")
        self.p.closure[bound] = value
        return name(bound)

    def check(self, helper: str, args: list[gast.AST]) -> None:
        """Emit a call of a runtime check (it raises what Python raises for a bad call)."""
        call = gast.Call(func=name(helper), args=args, keywords=[])
        call.adgen_fn = getattr(runtime, helper)
        call.adgen_check = True
        self.emit(gast.Expr(value=call))

    def derivative_operator(self, func: gast.AST) -> gast.Name | None:
        """`adgen.grad(pot)(x)` inside the function: the gradient of a module-level `pot` is
        built now and called like any other function (so it is differentiated in turn)."""
        if not isinstance(func, gast.Call):
            return None
        found, operator = self.resolve(func.func)
        if not found or getattr(operator, "__module__", None) != "adgen.api":
            return None
        args, keywords = [], {}
        for a in func.args:
            ok, value = self.static_value(a)
            if not ok:
                return None
            args.append(value)
        for k in func.keywords:
            ok, value = self.static_value(k.value)
            if not ok or k.arg is None:
                return None
            keywords[k.arg] = value
        derived = operator(*args, **keywords)
        meta = getattr(derived, "__adgen__", None)
        if meta is not None and derived.__code__.co_flags & 0x04:  # `(*args)`: the wrapper
            # giving gradients their parameters' structure; the generated function it calls
            # returns records and tuples as such already, and has the parameters to bind
            derived = meta.bindings.get(derived.__name__, derived)
        bound = self.namer.fresh(f"_{getattr(operator, '__name__', 'derivative')}")
        self.p.closure[bound] = derived
        return name(bound)


_SHAPE_VARARGS = ("reshape", "transpose")  # array methods taking a shape as several arguments


def _form(forms: dict, fn: Any) -> Any:
    for f, form in forms.items():
        if fn is f:
            return form
    return None


def _text(node: gast.AST) -> str:
    return ast.unparse(gast.gast_to_ast(clone(node)))


def _as_store(target: gast.AST) -> gast.AST:
    if isinstance(target, gast.Name):
        return name(target.id, gast.Store())
    return gast.Subscript(value=target.value, slice=target.slice, ctx=gast.Store())


def _params(fn: Any) -> list[gast.Name]:
    return [name(p) for p in fn.__code__.co_varnames[: fn.__code__.co_argcount]]


def _label(fn: Any, func: gast.AST) -> str:
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, np.ufunc):
        return f"`numpy.{owner.__name__}.{fn.__name__}`"
    return f"`{_text(func)}`"


class _Star:
    """The positional arguments of a call from its first `*xs` on: plain atoms and starred
    sequences, their lengths taken once, in order."""

    def __init__(self, lowering: CallLowering, items: list[gast.AST]) -> None:
        self.parts: list[tuple[gast.AST, gast.AST | None]] = []  # (atom, length or None)
        for a in items:
            if isinstance(a, gast.Starred):
                seq = lowering.atom(a.value)
                length = lowering.bind(gast.Call(func=name("len"), args=[seq], keywords=[]),
                                       fn=len)
                self.parts.append((seq, name(length)))
            else:
                self.parts.append((lowering.atom(a), None))
        total: Any = 0
        for _, length in self.parts:
            total = _plus(total, length if length is not None else 1)
        self.count = lowering.atom(total) if not isinstance(total, int) else const(total)

    def item(self, j: int, fallback: gast.AST | None) -> gast.AST:
        """Item `j` as an expression: nested `if`s on the lengths where they decide it (the
        branches are lowered only where taken); `fallback` when there are fewer items."""
        return self._pick(j, 0, 0, fallback)

    def _pick(self, j: int, k: int, offset: Any, fallback: gast.AST | None) -> gast.AST:
        if k == len(self.parts):
            return fallback if fallback is not None else const(None)  # counted: unreachable
        atom, length = (clone(n) for n in self.parts[k])  # (one position per use)
        if length is None:
            if isinstance(offset, int):  # no star before it: its position is known
                return atom if offset == j else self._pick(j, k + 1, offset + 1, fallback)
            test = gast.Compare(left=clone(offset), ops=[gast.Eq()], comparators=[const(j)])
            return gast.IfExp(test=test, body=atom, orelse=self._pick(
                j, k + 1, _plus(offset, 1), fallback))
        index = const(j - offset) if isinstance(offset, int) else gast.BinOp(
            left=const(j), op=gast.Sub(), right=clone(offset))
        value = gast.Subscript(value=atom, slice=index, ctx=gast.Load())
        if k + 1 == len(self.parts) and fallback is None:
            return value  # counted: the item is there
        rest = self._pick(j, k + 1, _plus(offset, length), fallback)
        test = gast.Compare(left=clone(length), ops=[gast.Gt()], comparators=[clone(index)])
        return gast.IfExp(test=test, body=value, orelse=rest)


def _plus(a: Any, b: Any) -> Any:
    """`a + b` for ints and atoms, folded where both are ints."""
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    left = const(a) if isinstance(a, int) else clone(a)
    right = const(b) if isinstance(b, int) else clone(b)
    if isinstance(a, int) and a == 0:
        return right
    return gast.BinOp(left=left, op=gast.Add(), right=right)
