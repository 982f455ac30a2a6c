"""Guarded operands of steps under masks (`adgen.derive.masks` finds the masks): which
template parameters a step's tangent or adjoint reads at a safe value outside its mask, and the
expressions that do it (`inside(c, x, 1.0)`, nested for each literal). `docs/architecture.md`,
"Masked adjoints"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gast
import numpy as np

from adgen import runtime_masks
from adgen.codegen import astutil
from adgen.derive.templates import signature
from adgen.rules.batched import elementwise

BRANCHES = {np.where: (0, 1, 2), runtime_masks.inside: (0, 1, None),
            runtime_masks.outside: (0, None, 1)}
"""Functions with branches: the positions of their condition, first and second branch."""
SAFE = 0.5
"""The safe value of an operand the rule does not name: inside the domain of the common
functions and away from their singular points (0 for `log`, 1 for `arctanh`)."""
_COMPARE = {"==": gast.Eq, ">=": gast.GtE, "<": gast.Lt, "<=": gast.LtE, ">": gast.Gt}


@dataclass
class Masks:
    """`at`: for each name whose adjoint is zero outside a mask (assigned by one step), the
    literals of that mask usable at that step; `chain`: the names whose adjoint is zero outside a
    mask (their values may be infinite or NaN where the mask discards them)."""

    at: dict[str, frozenset] = field(default_factory=dict)
    chain: set[str] = field(default_factory=set)
    # a step's target -> its operands whose derivative is zero outside a literal (the result
    # of `np.clip`, `np.maximum`, ... or of `np.where` with a constant branch), each with the
    # literal, the atoms that must be inactive for it to hold and the numbers the operand is
    # cut to
    sources: dict[str, dict[str, list[tuple]]] = field(default_factory=dict)

    def mask(self, s: gast.AST) -> frozenset | None:
        """The usable literals of step `s`'s mask, None when it has none."""
        t = s.targets[0] if isinstance(s, gast.Assign) else None
        return self.at.get(t.id) if isinstance(t, gast.Name) else None

    def operands(self, s: gast.Assign, rule: Any, values: dict) -> dict:
        """The parameters of the step's template to guard, each with its safe value: those the
        rule names (`guarded`), and any other operand or result of an elementwise step that is
        itself under a mask (it may be NaN there) with `SAFE`."""
        if self.mask(s) is None or not elementwise(rule) or is_one_of(rule.primitive, BRANCHES):
            return {}
        safe = rule.extra.get("guarded", {})
        return {p: safe.get(p, SAFE) for p, v in values.items()
                if isinstance(v, gast.Name) and (p in safe or v.id in self.chain)}

    def guards(self, s: gast.Assign, rule: Any, values: dict, active: Any) -> tuple:
        """The literals and the parameters (with safe values) to guard in step `s`'s template
        (`operands`, `upstream`); nothing for a function without masks."""
        if not (self.at or self.sources):
            return frozenset(), {}
        mask, guards = self.mask(s) or frozenset(), self.operands(s, rule, values)
        extra, more = self.upstream(s, rule, values, active)
        return mask | extra, {**more, **guards}

    def upstream(self, s: gast.Assign, rule: Any, values: dict, active: Any) -> tuple:
        """Literals outside which the only active operand of a guarded step has a zero
        derivative (`np.sqrt(np.clip(x, 0.0, None))`: zero where the clip cut `x`), with the
        parameters to guard: there the step's partial only meets that zero (a tangent, or an
        adjoint the clip's adjoint then drops), so it may be taken at a safe operand."""
        t = s.targets[0] if isinstance(s, gast.Assign) else None
        sources = self.sources.get(t.id) if isinstance(t, gast.Name) else None
        safe = rule.extra.get("guarded")
        if not sources or not safe or rule.tangent is None:
            return frozenset(), {}
        dotted = [k[:-4] for k in signature(rule.tangent)[2] if k.endswith("_dot")]
        operands = {values[p].id for p in dotted
                    if isinstance(values.get(p), gast.Name) and active(values[p])}
        if len(operands) != 1:
            return frozenset(), {}
        singular = rule.extra.get("singular")
        literals = frozenset(
            lit for lit, inactive, numbers in sources.get(operands.pop(), ())
            if not any(active(load(n)) for n in inactive) and (
                singular is None or len(numbers) < len(inactive) + len(numbers)
                or any(float(n) in singular for n in numbers)))
        if not literals:
            return frozenset(), {}
        return literals, {p: v for p, v in safe.items() if isinstance(values.get(p), gast.Name)}


def guard(call: Any, mask: frozenset, atom: gast.AST, safe: float) -> gast.AST:
    """`atom` made `safe` outside `mask`: `inside(c, x, 1.0)`, nested for each literal."""
    expr = astutil.clone(atom)
    for cond, holds, written in sorted(mask, key=lambda lit: (str(lit[0]), lit[1],
                                                               lit[2] or "")):
        args = [_condition(cond), expr, gast.Constant(value=safe, kind=None)]
        if written is not None:
            helper = runtime_masks.unwritten
            args.append(load(written))
        else:
            helper = runtime_masks.inside if holds else runtime_masks.outside
        expr = call(helper.__name__, helper, args)
    return expr


def _condition(cond: Any) -> gast.AST:
    """A literal's condition: a name, or a comparison `(op, left, right)` of names and
    numbers."""
    if isinstance(cond, str):
        return load(cond)
    op, left, right = cond
    return gast.Compare(left=_atom(left), ops=[_COMPARE[op]()], comparators=[_atom(right)])


def _atom(part: Any) -> gast.AST:
    return load(part) if isinstance(part, str) else gast.Constant(value=part, kind=None)


def load(var: str) -> gast.Name:
    """A name read."""
    return gast.Name(id=var, ctx=gast.Load(), annotation=None, type_comment=None)


def is_one_of(fn: Any, table: Any) -> bool:
    """Whether `fn` is one of `table`'s functions (by identity: some are unhashable)."""
    return any(fn is k for k in table)
