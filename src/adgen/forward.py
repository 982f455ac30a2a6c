"""Forward mode: after each active trace step, its tangent statement (eqs. 8.58–8.64).

The tangent function takes the primal parameters followed by one tangent per `wrt` parameter
and returns `(value, value_dot)`. Control flow is kept as it is; a variable that is active gets
a tangent at every assignment (a zero when the assigned value is a constant), so its tangent is
defined wherever it is read.
"""

from __future__ import annotations

import copy

import gast

from adgen import astutil, runtime, simplify
from adgen.analysis import call_parts, differentiable
from adgen.astutil import clone
from adgen.generate import CallSite, Context, user_function
from adgen.lower import assign, name
from adgen.templates import (
    TemplateError,
    bind_call,
    fill,
    is_zero,
    signature,
    zero,
)


class Forward:
    """Builds the tangent function of a trace."""

    def __init__(self, ctx: Context, wrt: list[str], tangent_only: bool = False) -> None:
        self.ctx = ctx
        self.wrt = wrt
        self.tangent_only = tangent_only
        self.dot_names = {ctx.namer.dot(v) for v in ctx.active}
        self.written = {
            n.targets[0].value.id for n in gast.walk(ctx.trace.node)
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Subscript)}

    def dot(self, atom: gast.AST) -> gast.AST:
        """The tangent of an atom, or the symbolic zero."""
        if self.ctx.is_active(atom):
            return name(self.ctx.namer.dot(atom.id))
        return zero()

    def function(self, fname: str) -> gast.FunctionDef:
        fn = self.ctx.trace.node
        from adgen.assemble import function

        params = [a.id for a in fn.args.args] + [self.ctx.namer.dot(w) for w in self.wrt]
        body = self.block(fn.body)
        for p in sorted(self.written & set(params)):  # the caller's arrays stay as they were
            body.insert(0, assign(p, self.ctx.call("owned_copy", runtime.owned_copy, [name(p)]),
                                  fn.adgen_line))
            if p in self.wrt:
                dot = self.ctx.namer.dot(p)
                body.insert(1, assign(dot, self.ctx.call("owned_copy", runtime.owned_copy,
                                                         [name(dot)]), fn.adgen_line))
        for p in params[: len(fn.args.args)]:  # an active parameter not differentiated
            if p in self.ctx.active and p not in self.wrt:  # starts with a zero tangent
                body.insert(0, assign(self.ctx.namer.dot(p), self.ctx.zero_for(p),
                                      fn.adgen_line))
        tangents = frozenset(self.ctx.namer.dot(v) for v in self.ctx.active)
        return function(self.ctx, fname, params, body, set(), keep=tangents)

    def block(self, body: list[gast.AST]) -> list[gast.AST]:
        out: list[gast.AST] = []
        for s in body:
            out.extend(self.stmt(s))
        return out

    def stmt(self, s: gast.AST) -> list[gast.AST]:
        s = copy.copy(s)
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s.body = self.block(s.body) or [gast.Pass()]
            s.orelse = self.block(s.orelse)
            return [s]
        if isinstance(s, gast.Return):
            return [self.ret(s)]
        if isinstance(s, gast.Assign):
            fn = user_function(s.value)
            if fn is not None and s.targets[0].id in self.ctx.active:
                return self.user_call(s, fn)
            return [s, *self.assign(s)]
        if isinstance(s, gast.Expr):
            return [s, *self.mutate(s)]
        return [s]

    def user_call(self, s: gast.Assign, fn: object) -> list[gast.AST]:
        """`y, y_dot = g_jvp(args..., arg_dots...)`: the callee's own tangent function."""
        site = CallSite(self.ctx, s, fn, s.value)
        target = s.targets[0].id
        if not site.wrt:
            return [s, assign(self.ctx.namer.dot(target), self.ctx.zero_for(target),
                              s.adgen_line)]
        jvp_name, _ = site.derivative(self.ctx, "jvp")
        dots = [self.dot(site.bound[p]) for p in site.wrt]
        pair = gast.Tuple(elts=[name(target, gast.Store()),
                                name(self.ctx.namer.dot(target), gast.Store())],
                          ctx=gast.Store())
        node = gast.Assign(targets=[pair], value=site.call(jvp_name, dots), type_comment=None)
        node.adgen_line = s.adgen_line
        return [node]

    def ret(self, s: gast.Return) -> gast.Return:
        value = self.dot(s.value)
        if is_zero(value):
            value = self.ctx.zero_for(s.value.id) if isinstance(s.value, gast.Name) else (
                gast.Constant(value=0.0, kind=None))
        pair = gast.Tuple(elts=[s.value, value], ctx=gast.Load())
        node = gast.Return(value=value if self.tangent_only else pair)
        node.adgen_line = s.adgen_line
        return node

    def assign(self, s: gast.Assign) -> list[gast.AST]:
        target = s.targets[0]
        if isinstance(target, gast.Subscript):
            return self.write(s, target)
        if target.id not in self.ctx.active:
            return []
        tangent = self.tangent(s, target.id, s.value)
        if tangent is None:
            tangent = self.ctx.zero_for(target.id)
        elif (target.id in self.written and not isinstance(s.value, gast.Name)
              and isinstance(tangent, (gast.Name, gast.Call))):
            # the primal is a new object that is written into later: so must its tangent be
            tangent = self.ctx.call("owned_copy", runtime.owned_copy, [tangent])
        return [assign(self.ctx.namer.dot(target.id), tangent, s.adgen_line)]

    def write(self, s: gast.Assign, target: gast.Subscript) -> list[gast.AST]:
        container = target.value.id
        if container not in self.ctx.active:
            return []
        value = simplify.fold_zeros(self.dot(s.value))
        if value is None:
            value = gast.Constant(value=0.0, kind=None)
        stored = gast.Subscript(value=name(self.ctx.namer.dot(container)),
                                slice=clone(target.slice), ctx=gast.Store())
        node = gast.Assign(targets=[stored], value=value, type_comment=None)
        node.adgen_line = s.adgen_line
        return [node]

    def mutate(self, s: gast.Expr) -> list[gast.AST]:
        call = s.value
        if not isinstance(call.func, gast.Attribute) or not self.ctx.is_active(call.func.value):
            return []
        if call.func.attr not in ("append", "extend", "insert"):
            raise self.ctx.error(s, f"cannot differentiate the in-place method "
                                 f"`.{call.func.attr}()`; build a new value instead")
        args = [simplify.fold_zeros(self.dot(a)) or gast.Constant(value=0.0, kind=None)
                if self.ctx.is_active(a) or call.func.attr != "insert" else a for a in call.args]
        func = gast.Attribute(value=name(self.ctx.namer.dot(call.func.value.id)),
                              attr=call.func.attr, ctx=gast.Load())
        node = gast.Expr(value=gast.Call(func=func, args=args, keywords=[]))
        node.adgen_line = s.adgen_line
        return [node]

    def tangent(self, s: gast.Assign, target: str, rhs: gast.AST) -> gast.AST | None:
        """The tangent expression of `target = rhs`, None when it is zero."""
        if not differentiable(rhs):
            return None
        if isinstance(rhs, (gast.Name, gast.Constant)) or getattr(rhs, "adgen_global", False):
            return simplify.fold_zeros(self.dot(rhs))
        if (isinstance(rhs, gast.Call) and isinstance(rhs.func, gast.Attribute)
                and rhs.func.attr == "pop" and not rhs.args):
            if not self.ctx.is_active(rhs.func.value):
                return None
            method = gast.Attribute(value=self.dot(rhs.func.value), attr="pop", ctx=gast.Load())
            return gast.Call(func=method, args=[], keywords=[])
        if isinstance(rhs, gast.Subscript):
            if not self.ctx.is_active(rhs.value):
                return None
            return gast.Subscript(value=self.dot(rhs.value), slice=clone(rhs.slice),
                                  ctx=gast.Load())
        if isinstance(rhs, (gast.Tuple, gast.List)):
            elts = [simplify.fold_zeros(self.dot(e)) or gast.Constant(value=0.0, kind=None)
                    for e in rhs.elts]
            return type(rhs)(elts=elts, ctx=gast.Load())
        if isinstance(rhs, gast.Dict):
            values = [simplify.fold_zeros(self.dot(v)) or gast.Constant(value=0.0, kind=None)
                      for v in rhs.values]
            return gast.Dict(keys=clone(rhs.keys), values=values)
        return self.apply_rule(s, target, rhs)

    def apply_rule(self, s: gast.Assign, target: str, rhs: gast.AST) -> gast.AST | None:
        rule = self.ctx.rule(s, rhs)
        args, keywords = call_parts(rhs)
        if rule.linear:
            if not self.ctx.is_active(args[0]):
                return None
            call = clone(rhs)
            call.args[0] = self.dot(args[0])
            return call
        if rule.tangent is None:
            raise self.ctx.error(s, f"{rule.name} has no tangent rule (forward mode)")
        try:
            values = bind_call(rule.tangent, args, keywords, rule.name)
            _, _, kwonly = signature(rule.tangent)
            for k in kwonly:
                values[k] = self.dot(values.get(k[: -len("_dot")]))
            values[_result_param(rule.tangent)] = name(target)
            expr = fill(rule.tangent, values, self.ctx.bindings, self._keep)
        except TemplateError as exc:
            raise self.ctx.error(s, str(exc)) from None
        expr = simplify.fold_zeros(expr, self._zero_call)
        if expr is not None and self._may_broadcast(rule, target, args):
            expr = self.ctx.call("broadcast_like", runtime.broadcast_like, [expr, name(target)])
        return expr

    def _zero_call(self, call: gast.Call) -> bool:
        """A call inside a tangent expression is linear in the tangents it is given (that is
        what a tangent is), so it is zero when every tangent it is given is zero."""
        dots = self.dot_names
        carried = [a for a in list(call.args) + [k.value for k in call.keywords]
                   if is_zero(a) or astutil.loads(a) & dots]
        return bool(carried) and all(is_zero(a) for a in carried)

    def _may_broadcast(self, rule: object, target: str, args: list[gast.AST]) -> bool:
        """Whether an inactive operand may have widened the result beyond the active ones."""
        if target in self.ctx.scalar or not _broadcasts(rule):
            return False

        def certainly_scalar(atom: gast.AST) -> bool:
            if isinstance(atom, gast.Constant):
                return isinstance(atom.value, (int, float))
            return isinstance(atom, gast.Name) and atom.id in self.ctx.scalar

        return any(not self.ctx.is_active(a) and not certainly_scalar(a) for a in args)

    def _keep(self, param: str) -> bool:
        return True


def _broadcasts(rule: object) -> bool:
    """Rules whose adjoint undoes broadcasting are the broadcasting ones."""
    from adgen.parse import template_ast

    if rule.adjoint is None:
        return False
    return any(isinstance(n, gast.Name) and n.id == "unbroadcast"
               for n in gast.walk(template_ast(rule.adjoint)))


def _result_param(template: object) -> str:
    from adgen.parse import template_ast

    return template_ast(template).args.args[0].id
