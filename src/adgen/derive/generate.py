"""What the forward and reverse generators share: the rule for a trace step, the active
atoms, zeros, and errors that point at the user's line."""

from __future__ import annotations

import os
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import gast
import numpy as np

from adgen.codegen import astutil
from adgen.codegen.astutil import clone
from adgen.derive import facts as flow
from adgen.derive.analysis import (
    active_names,
    differentiable,
    numeric_names,
    primitive,
    scalar_names,
)
from adgen.derive.shapes import Fact
from adgen.derive.specialise import shaped_zeros
from adgen.derive.templates import Bindings
from adgen.errors import DifferentiationError, where
from adgen.frontend.lower import Trace, name
from adgen.program import Deferred, Program
from adgen.rules import Rule, library_function, lookup, primitive_name
from adgen.runtime import zeros_like
from adgen.runtime_tables import float_target


def context(program: Program, trace: Trace, wrt: list[str], scalar_params: set[str],
            kind: str, returned: tuple[str, ...] = (),
            reserved: dict[str, Any] | None = None,
            arguments: dict[str, Fact | None] | None = None,
            constants: Any = None, shared: dict[str, Any] | None = None) -> Context:
    """The facts both modes need about `trace` differentiated w.r.t. `wrt` into a derivative
    of `kind`, whose functions' names are claimed here, before anything is bound. With
    `arguments` (the parameters' facts of a specialised variant), every name the arguments
    decide has its shape and dtype in `Context.facts` (and the free names holding numbers,
    with `constants`: see `facts.infer`). `shared` keeps what does not depend on them
    (activity, which names are numbers, the names the trace reads, the lowering's helpers):
    the general build fills it, the variants of the same trace read it."""
    body = trace.node.body
    base = trace.parsed.name.rstrip("_")
    defines = {part: trace.namer.fresh(f"{base}_{part}") for part in parts(kind)}
    facts = (flow.infer(body, arguments, _returns(program), constants) if arguments
             else flow.NONE)
    zero_d = {n for n, f in facts.items() if f.is_number}
    numbers = {p for p, f in (arguments or {}).items() if f is not None and f.is_number}
    scalar = scalar_names(body, trace.params, set(scalar_params) | numbers, program) | zero_d
    shared = {} if shared is None else shared
    if "active" not in shared:
        shared["active"] = active_names(body, wrt, returned)
    ctx = Context(program, trace, shared["active"], scalar, defines, reserved, shared)
    ctx.facts = ctx.table = facts
    return ctx


def _returns(program: Program) -> Any:
    """`callee(fn, facts)` for `facts.infer`: the fact of what the user's function `fn`
    returns when its parameters have `facts`, kept in the program view."""

    def callee(fn: Any, facts: tuple) -> Any:
        key = (fn, "returns", facts)
        if key in program.facts:
            return program.facts[key]
        program.facts[key] = None  # a recursive call being analysed is not known
        try:
            trace = program.trace(fn)
        except (DifferentiationError, SyntaxError):
            return None
        arguments = dict(facts)
        inner = flow.infer(trace.node.body, arguments, callee)
        program.facts[key] = got = flow.returned(trace.node.body, inner)
        return got

    return callee


def parts(kind: str) -> tuple[str, ...]:
    """The functions one derivative of `kind` defines: `g_fwd`/`g_bwd` for a split, else one."""
    return ("fwd", "bwd") if kind == "split" else (kind,)


class Context:
    """A trace with its activity and kind facts, and the names bound into generated code.

    `defines` names the functions the derivative defines (`{"fwd": "g_fwd", "bwd": "g_bwd"}`
    for a split); no bound object may take one of those names, since the definition would
    hide it. A call of the derivative being built (recursion) calls them by name and sets
    `recursive`."""

    def __init__(self, program: Program, trace: Trace, active: set[str], scalar: set[str],
                 defines: dict[str, str], reserved: dict[str, Any] | None = None,
                 shared: dict[str, Any] | None = None) -> None:
        shared = {} if shared is None else shared  # (see `context`)
        if "numeric" not in shared:
            shared["numeric"] = numeric_names(trace.node.body)
            shared["free"] = set().union(*astutil.names(trace.node)) - trace.locals
            shared["helpers"] = lowering_helpers(trace)
        self.program = program
        self.trace = trace
        self.namer = trace.namer
        self.active = active
        self.scalar = scalar
        self.numeric = shared["numeric"] | scalar
        self.defines = defines
        self.recursive = False
        self.element_written: set[str] | None = None  # see `float_check`
        # the facts of a variant: `table` for the whole function, `facts` where the
        # generator is (`facts_at`: a step's own where a name's definitions disagree)
        self.table: flow.Facts = flow.NONE
        self.facts: Mapping[str, Fact] = flow.NONE
        p = trace.parsed

        reserved = reserved or {}
        defined = set(defines.values())

        def avoid(n: str, obj: Any) -> bool:
            if n in defined or n in reserved and reserved[n] is not obj:
                return True
            if n not in trace.namer.taken:
                return False
            found, value = p.resolve(n)
            return n in trace.locals or not (found and value is obj)

        self.bindings = Bindings(avoid=avoid, reserve=trace.namer.taken)
        for var in sorted(shared["free"] & set(p.closure)):
            self.bindings.names[var] = p.closure[var]
        self.bindings.names.update(shared["helpers"])

    def is_active(self, atom: gast.AST | None) -> bool:
        return isinstance(atom, gast.Name) and atom.id in self.active

    def float_check(self, s: gast.AST) -> list[gast.AST]:
        """`float_target(t, ...)` after `t = rhs` when `t` is active and written into element
        by element but `rhs` carries no derivative (`t = np.arange(3)`, then `t[0] = x`):
        NumPy truncates a float stored into an array of integers, which the derivative would
        not follow."""
        t = s.targets[0] if isinstance(s, gast.Assign) else None
        if not isinstance(t, gast.Name) or _surely_floats(s.value) or differentiable(
                s.value) and any(isinstance(n, gast.Name) and n.id in self.active
                                 for n in gast.walk(s.value)):
            return []
        return self._float_target(t.id, getattr(s, "adgen_line", None))

    def float_params(self) -> list[gast.AST]:
        """`float_target(p, ...)` for each parameter that differentiated values are written
        into (`def f(x, k): k[0] = x[1]` given an array of integers as `k`, or as `x`)."""
        return [c for p in self.trace.params
                for c in self._float_target(p, self.trace.node.adgen_line)]

    def _float_target(self, var: str, line: int | None) -> list[gast.AST]:
        if self.element_written is None:
            self.element_written = {w.targets[0].value.id for w in astutil.walk(self.trace.node)
                                    if isinstance(w, gast.Assign) and isinstance(
                                        w.targets[0], gast.Subscript)
                                    and isinstance(w.targets[0].value, gast.Name)}
        fact = self.facts.get(var)
        if var not in self.active or var not in self.element_written or fact is not None and (
                fact.is_array and getattr(fact.dtype, "kind", None) in ("f", "c")):
            return []  # (a variant knows a float array)
        at = where(os.path.basename(self.trace.parsed.filename), line)
        check = gast.Expr(value=self.call("float_target", float_target, [
            name(var), gast.Constant(value=var, kind=None), gast.Constant(value=at, kind=None)]))
        check.adgen_line = line
        return [check]

    def error(self, stmt: gast.AST, message: str) -> DifferentiationError:
        line = getattr(stmt, "adgen_line", None)
        p = self.trace.parsed
        text = p.lines.get(line, "").strip() if line else ""
        shown = f": `{text}`" if text else ""
        return DifferentiationError(f"{where(p.filename, line)}{shown}: {message}")

    def rule(self, stmt: gast.AST, rhs: gast.AST) -> Rule:
        fn = primitive(rhs)
        func = getattr(rhs, "func", None)
        if fn is None and isinstance(func, gast.Name) and func.id in self.trace.params:
            raise self.error(stmt, f"`{func.id}` holds a function value: adgen specialises the "
                             "derivative to the function passed when it is called through "
                             "adgen.grad, adgen.jvp, ... (a derivative made without the "
                             "arguments, e.g. by `adgen show`, cannot know it)")
        if fn is None:
            raise self.error(stmt, "cannot tell which function is called here; call a "
                             "function by a module-level name so adgen can find its rule "
                             "(adgen also resolves a parameter the function calls, to the "
                             "function passed, a module-level dict or list of functions indexed "
                             "by a key, a functools.partial, and a local name every "
                             "assignment of which is one of these or `a if c else b` of them; "
                             "not a function stored in a container or returned by a call)")
        rule = lookup(fn)
        if rule is None and _callable_object(fn):
            raise self.error(stmt, f"cannot differentiate the call of an object of class "
                             f"{type(fn).__qualname__}: adgen differentiates functions; pass a "
                             "function (a def, a lambda, functools.partial) instead")
        if rule is None and isinstance(fn, types.MethodType):
            raise self.error(stmt, f"cannot differentiate the call of the method "
                             f"{fn.__qualname__}: methods of objects are not supported; call a "
                             "plain function and pass the parameters explicitly")
        if rule is None and isinstance(fn, str) and fn.startswith("ndarray."):
            raise self.error(stmt, f"no derivative rule for the method `.{fn[8:]}()` ({fn}): "
                             "adgen differentiates the NumPy array methods it has rules for "
                             "and list `.append()`/`.pop()`; for a dict read `d[key]` and loop "
                             "`for key in d`, else call a function instead")
        if rule is None:
            if isinstance(fn, types.FunctionType):
                raise self.error(stmt, f"no derivative rule for {primitive_name(fn)}; register "
                                 "one with adgen.tangent_rule and adgen.adjoint_rule")
            raise self.error(stmt, f"no derivative rule for {primitive_name(fn)}; register one "
                             "with adgen.tangent_rule and adgen.adjoint_rule")
        return rule

    @contextmanager
    def facts_at(self, s: gast.AST) -> Iterator[None]:
        """`facts` are those at the step `s` while the generator writes its code."""
        outer, self.facts = self.facts, self.table.at(s)
        try:
            yield
        finally:
            self.facts = outer

    def zero_for(self, var: str) -> gast.AST:
        """A zero shaped like `var` (a Python 0.0 when `var` is 0-d)."""
        if var in self.scalar:
            return gast.Constant(value=0.0, kind=None)
        fact = self.facts.get(var)
        if fact is not None and fact.is_array:
            return shaped_zeros(self.bindings, fact)
        return self.call("zeros_like", zeros_like, [name(var)])

    def array(self, atom: gast.AST) -> Fact | None:
        """The fact of an atom known to be an array (None when not known)."""
        fact = self.facts.get(atom.id) if isinstance(atom, gast.Name) else None
        return fact if fact is not None and fact.is_array else None

    def call(self, preferred: str, obj: Any, args: list[gast.AST]) -> gast.Call:
        fn = name(self.bindings.bind(preferred, obj))
        return gast.Call(func=fn, args=args, keywords=[])


def _surely_floats(rhs: gast.AST) -> bool:
    """Whether `rhs` makes a list, a dict, or a NumPy array of floats (`np.zeros(n)`)."""
    if isinstance(rhs, (gast.List, gast.Dict, gast.ListComp, gast.DictComp)) or isinstance(
            rhs, gast.BinOp) and gast.List in (type(rhs.left), type(rhs.right)):
        return True
    fn = primitive(rhs) if isinstance(rhs, gast.Call) else None
    return any(fn is f for f in (np.zeros, np.ones, np.empty)) and len(
        rhs.args) == 1 and not rhs.keywords


def _callable_object(fn: Any) -> bool:
    """Whether `fn` is an instance of a user's class with `__call__` (not a function, a
    class, or a library's callable such as a NumPy ufunc)."""
    kind = type(fn)
    return (callable(fn) and "__call__" in kind.__dict__ and not isinstance(fn, type)
            and kind.__module__.split(".")[0] not in ("numpy", "scipy", "builtins", "functools",
                                                      "adgen"))


def lowering_helpers(trace: Trace) -> dict[str, Any]:
    """Functions the lowering itself calls (`as_sequence`), which generated code must bind."""
    out = {}
    for n in astutil.walk(trace.node):
        if (isinstance(n, gast.Call) and isinstance(n.func, gast.Name)
                and n.func.id not in trace.locals and not trace.parsed.resolve(n.func.id)[0]
                and getattr(n, "adgen_fn", None) is not None):
            out[n.func.id] = n.adgen_fn
    return out


def user_function(rhs: gast.AST) -> Any:
    """The Python function a trace step calls, when it has no rule of its own."""
    if not isinstance(rhs, gast.Call):
        return None
    fn = primitive(rhs)
    if isinstance(fn, Deferred):  # a derivative that was still being built when bound
        fn = fn.resolved()
    while getattr(fn, "__adgen_stand_in__", None) is not None:
        fn = fn.__adgen_stand_in__()  # a held derivative, or forward-mode `grad` (read as the
        # reverse-mode gradient of the same values)
    if isinstance(fn, types.FunctionType) and lookup(fn) is None and not library_function(fn):
        return fn
    return None


def _function_value(ctx: Context, stmt: gast.AST, fn: Any, param: str, atom: gast.AST) -> Any:
    """The function a call passes for the parameter `param` of `fn`, which `fn` calls: it must
    be known when the derivative is made (a module-level name, a function value the caller
    was specialised to, a function bound into the trace)."""
    p = ctx.trace.parsed
    chain = []
    while isinstance(atom, gast.Attribute) and getattr(atom, "adgen_global", False):
        chain.append(atom.attr)
        atom = atom.value
    found, value = False, None
    if isinstance(atom, gast.Name) and atom.id in p.static:
        found, value = True, p.static[atom.id]
    elif isinstance(atom, gast.Name) and atom.id not in ctx.trace.locals:
        found, value = p.resolve(atom.id)
    for attr in reversed(chain):
        found, value = found and hasattr(value, attr), getattr(value, attr, None)
    if not found or not callable(value):
        raise ctx.error(stmt, f"{fn.__qualname__} calls its parameter `{param}`, and adgen "
                        "cannot tell which function this call passes for it: pass a function "
                        "by a module-level name (or a function value the caller was given), "
                        "not one computed in the function")
    return value


class CallSite:
    """A call to a user function, with its arguments bound to the callee's parameters."""

    def __init__(self, ctx: Context, stmt: gast.AST, fn: Any, rhs: gast.Call) -> None:
        code = fn.__code__
        if code.co_flags & (0x04 | 0x08) or code.co_kwonlyargcount:
            raise ctx.error(stmt, f"cannot differentiate the call of {fn.__qualname__}: it takes "
                            "*args, **kwargs or keyword-only parameters")
        params = list(code.co_varnames[: code.co_argcount])
        defaults = fn.__defaults__ or ()
        bound: dict[str, gast.AST] = dict(zip(params, rhs.args, strict=False))
        if len(rhs.args) > len(params):
            raise ctx.error(stmt, f"{fn.__qualname__} takes {len(params)} arguments")
        for k in rhs.keywords:
            if k.arg not in params or k.arg in bound:
                raise ctx.error(stmt, f"{fn.__qualname__} has no parameter `{k.arg}` (or it "
                                "is given twice)")
            bound[k.arg] = k.value
        called = ctx.program.function_params(fn)
        values = {}
        for i, p in enumerate(params):
            if p not in bound:
                j = i - (len(params) - len(defaults))
                if j < 0:
                    raise ctx.error(stmt, f"the call of {fn.__qualname__} misses `{p}`")
                bound[p] = name(ctx.bindings.bind(f"{p}_default", defaults[j]))
                values[p] = defaults[j]
            elif p in called:
                values[p] = _function_value(ctx, stmt, fn, p, bound[p])
        if called:  # the callee's derivative, specialised to the functions this call passes
            fn = ctx.program.specialise(fn, {p: values[p] for p in called})
        self.fn = fn
        self.params = params
        self.bound = bound
        # set by `derivative(ctx, "split")`: the parameters the callee's backward function
        # takes in place of a tape (None: it takes the tape its forward function returns)
        self.tape_params: list[str] | None = None
        # and the parameters whose adjoints it adds into when the caller passes them, by the
        # keyword that passes each (`derive.accumulators`)
        self.accumulators: dict[str, str] = {}
        self.wrt = tuple(p for p in params if ctx.is_active(bound[p]))
        self.scalar = frozenset(
            p for p in params
            if isinstance(bound[p], gast.Name) and bound[p].id in ctx.scalar
            or isinstance(bound[p], gast.Constant) and isinstance(bound[p].value, (int, float)))
        # the facts of a specialised caller hold at the call: the callee's reverse
        # derivative is specialised to them too (pairs beside the names of 0-d parameters)
        self.facts = frozenset(
            (p, ctx.facts[bound[p].id]) for p in params
            if isinstance(bound[p], gast.Name) and bound[p].id in ctx.facts)

    def derivative(self, ctx: Context, kind: str) -> tuple[str, str | None]:
        """The names the call's derivative function(s) go by in generated code: the callee's
        bound derivatives, or, when the call is of the derivative being built, its own
        functions (which then speak the tape protocol: `ctx.recursive`)."""
        assumed = self.scalar | self.facts if kind == "split" else self.scalar
        first, second = ctx.program.callee_derivative(self.fn, self.wrt, kind, assumed)
        if isinstance(first, Deferred) and first.own:
            ctx.recursive = True
            own = [ctx.defines[part] for part in parts(kind)]
            return own[0], own[1] if len(own) > 1 else None
        base = self.fn.__name__.replace("<lambda>", "lambda")
        one = ctx.bindings.bind(f"{base}_{'fwd' if kind == 'split' else kind}", first)
        two = None if second is None else ctx.bindings.bind(f"{base}_bwd", second)
        meta = getattr(first, "__adgen__", None)  # a Deferred (recursion) has none yet
        positions = None if meta is None else meta.info.get("tape_positions")
        self.tape_params = None if positions is None else [self.params[i] for i in positions]
        self.accumulators = {} if meta is None else meta.info.get("accumulators") or {}
        return one, two

    def call(self, func: str, extra: list[gast.AST] = ()) -> gast.Call:
        args = [clone(self.bound[p]) for p in self.params] + list(extra)
        return gast.Call(func=name(func), args=args, keywords=[])
