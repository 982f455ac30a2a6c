"""Fill rule templates with the names of generated code.

A template (see `adgen.rules.registry`) is parsed once; filling it binds the call's atoms to
the template's parameters like Python binds arguments (positions, keywords, defaults), puts
tangents / the incoming adjoint in for the keyword-only parameters, and renames the globals the
template uses (`math`, `np`, `unbroadcast`) to names bound into the generated function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gast

from adgen.codegen.astutil import Transformer, clone
from adgen.frontend.parse import template_ast
from adgen.rules.registry import fold_for
from adgen.runtime import sum_to_scalar, unbroadcast


class TemplateError(Exception):
    """A call does not fit its rule's template (wrong arguments, a missing rule part)."""


@dataclass
class Bindings:
    """Objects generated code refers to by name, bound as closure variables of the factory."""

    avoid: Callable[[str, Any], bool]
    reserve: set[str]
    names: dict[str, Any] = field(default_factory=dict)
    _by_id: dict[int, str] = field(default_factory=dict)

    def bind(self, preferred: str, obj: Any) -> str:
        """The name under which `obj` is visible in generated code."""
        known = self._by_id.get(id(obj))
        if known is not None:
            return known
        candidate, n = preferred, 1
        while self.names.get(candidate, obj) is not obj or self.avoid(candidate, obj):
            n += 1
            candidate = f"{preferred}_{n}"
        self.names[candidate] = obj
        self.reserve.add(candidate)
        self._by_id[id(obj)] = candidate
        return candidate


_SIGNATURES: dict[Any, tuple[list[str], dict[str, gast.AST], list[str]]] = {}


def signature(template: Any) -> tuple[list[str], dict[str, gast.AST], list[str]]:
    """Positional parameter names (after `y`), their defaults, and keyword-only names (cached
    like the template's tree: asked at every call the derivative goes through; not to be
    changed by the caller)."""
    found = _SIGNATURES.get(template)
    if found is None:
        args = template_ast(template).args
        positional = [a.id for a in args.args]
        defaults = dict(zip(positional[len(positional) - len(args.defaults):], args.defaults,
                            strict=True))
        found = _SIGNATURES[template] = (positional[1:], defaults,
                                         [a.id for a in args.kwonlyargs])
    return found


def bind_call(template: Any, args: list[gast.AST], keywords: dict[str, gast.AST],
              what: str) -> dict[str, gast.AST]:
    """Map the template's primal parameters to the call's atoms (or the template defaults)."""
    params, defaults, _ = signature(template)
    if len(args) > len(params):
        raise TemplateError(f"the rule for {what} takes at most {len(params)} positional "
                            f"arguments, but the call passes {len(args)}")
    bound = dict(zip(params, args, strict=False))
    for key, value in keywords.items():
        if key not in params or key in bound:
            raise TemplateError(f"the rule for {what} has no parameter `{key}` (or it is given "
                                "twice)")
        bound[key] = value
    for p in params:
        if p not in bound:
            if p not in defaults:
                raise TemplateError(f"the call of {what} misses the argument `{p}`")
            bound[p] = clone(defaults[p])
    return bound


def fill(template: Any, values: dict[str, gast.AST], bindings: Bindings,
         keep_unbroadcast: Callable[[str], bool],
         shapes: dict[str, gast.AST] | None = None) -> gast.AST:
    """The template's return expression with every parameter and global replaced; where the
    template reads a parameter only for its shape (`unbroadcast(g, a)`), by `shapes[a]` when
    given (the operand itself, where `values` holds a guarded form of it)."""
    node = template_ast(template)
    ret = node.body[-1]
    if not isinstance(ret, gast.Return) or len(node.body) != 1:
        raise TemplateError(f"template {node.name} must be a single `return` statement")
    params = {a.id for a in node.args.args} | {a.id for a in node.args.kwonlyargs}
    glob = template.__globals__
    filler = _Filler(values, params, glob, bindings, keep_unbroadcast)
    filler.shapes = shapes or values
    return filler.visit(ret.value)


class _Filler(Transformer):
    """A filled copy of a template expression (the template itself is left as it is)."""

    def __init__(self, values, params, glob, bindings, keep_unbroadcast):
        self.values, self.params, self.glob = values, params, glob
        self.bindings, self.keep = bindings, keep_unbroadcast
        self.shapes = values

    def generic_visit(self, node: gast.AST) -> gast.AST:
        new = type(node).__new__(type(node))
        fields = new.__dict__
        for key, value in node.__dict__.items():
            if isinstance(value, list):
                value = [self.visit(v) if isinstance(v, gast.AST) else v for v in value]
            elif isinstance(value, gast.AST):
                value = self.visit(value)
            fields[key] = value
        return new

    def visit_Call(self, node: gast.Call) -> gast.AST:
        if (isinstance(node.func, gast.Name) and self.glob.get(node.func.id) is unbroadcast
                and len(node.args) == 2 and isinstance(node.args[1], gast.Name)
                and node.args[1].id in self.params):
            keep = self.keep(node.args[1].id)
            if not keep:
                return self.visit(node.args[0])
            if callable(keep):  # the shapes are known: the sum is written out
                return keep(self.visit(node.args[0]))
            if keep == "scalar":  # summing to a 0-d value needs no shape (nothing to save)
                total = gast.Name(id=self.bindings.bind("sum_to_scalar", sum_to_scalar),
                                  ctx=gast.Load(), annotation=None, type_comment=None)
                call = gast.Call(func=total, args=[self.visit(node.args[0])], keywords=[])
                call.adgen_sum_to_scalar = True  # a Python number is its own sum: folded
                return call
            if self.shapes is not self.values:  # the operand's shape, not its guarded form
                new = self.generic_visit(node)
                new.args[1] = clone(self.shapes[node.args[1].id])
                return new
        fold = fold_for(self.glob.get(node.func.id)) if isinstance(node.func, gast.Name) else None
        if fold is not None and not node.keywords:
            folded = fold(*[self.visit(a) for a in node.args])
            if folded is not None:
                return folded
        return self.generic_visit(node)

    def visit_Name(self, node: gast.Name) -> gast.AST:
        if node.id in self.params:
            return clone(self.values[node.id])
        new = self.generic_visit(node)
        if node.id in self.glob:
            new.id = self.bindings.bind(node.id, self.glob[node.id])
        return new


def differentiable_atoms(rule: Any, args: list[gast.AST],
                         keywords: dict[str, gast.AST]) -> list[gast.AST]:
    """The call's atoms that its rule differentiates (others are shapes, axes, flags)."""
    if rule.tangent is None:
        return list(args[:1]) if rule.linear else list(args) + list(keywords.values())
    params, _, kwonly = signature(rule.tangent)
    dotted = {k[: -len("_dot")] for k in kwonly if k.endswith("_dot")}
    try:
        bound = bind_call(rule.tangent, args, keywords, rule.name)
    except TemplateError:
        return list(args) + list(keywords.values())
    return [bound[p] for p in params if p in dotted]
