"""Forward mode: after each active trace step, its tangent statement (eqs. 8.58–8.64).

The tangent function takes the primal parameters followed by one tangent per `wrt` parameter
and returns `(value, value_dot)`. Control flow is kept as it is; a variable that is active gets
a tangent at every assignment (a zero when the assigned value is a constant), so its tangent is
defined wherever it is read.
"""

from __future__ import annotations

import copy

import gast

from adgen import simplify
from adgen.analysis import call_parts, differentiable
from adgen.astutil import clone
from adgen.generate import CallSite, Context, user_function
from adgen.lower import assign, name
from adgen.templates import TemplateError, bind_call, fill, is_zero, signature, zero


class Forward:
    """Builds the tangent function of a trace."""

    def __init__(self, ctx: Context, wrt: list[str]) -> None:
        self.ctx = ctx
        self.wrt = wrt

    def dot(self, atom: gast.AST) -> gast.AST:
        """The tangent of an atom, or the symbolic zero."""
        if self.ctx.is_active(atom):
            return name(self.ctx.namer.dot(atom.id))
        return zero()

    def function(self, fname: str) -> gast.FunctionDef:
        fn = self.ctx.trace.node
        params = list(fn.args.args) + [
            name(self.ctx.namer.dot(w), gast.Param()) for w in self.wrt
        ]
        args = gast.arguments(args=params, posonlyargs=[], vararg=None, kwonlyargs=[],
                              kw_defaults=[], kwarg=None, defaults=[])
        return gast.FunctionDef(name=fname, args=args, body=self.block(fn.body),
                                decorator_list=[], returns=None, type_comment=None,
                                type_params=[])

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
        node = gast.Return(value=gast.Tuple(elts=[s.value, value], ctx=gast.Load()))
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
        return simplify.fold_zeros(expr)

    def _keep(self, param: str) -> bool:
        return True


def _result_param(template: object) -> str:
    from adgen.parse import template_ast

    return template_ast(template).args.args[0].id
