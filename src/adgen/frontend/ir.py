"""The evaluation trace's building blocks: node constructors, operator tables, `Trace`.

The grammar of the lowered form is stated in `adgen.frontend.lower`'s docstring.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import gast

from adgen.codegen import astutil
from adgen.codegen.naming import Namer
from adgen.frontend.parse import Parsed

BINOPS = {
    gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
    gast.Div: operator.truediv, gast.Pow: operator.pow, gast.Mod: operator.mod,
    gast.FloorDiv: operator.floordiv, gast.MatMult: operator.matmul,
    gast.BitAnd: operator.and_, gast.BitOr: operator.or_, gast.BitXor: operator.xor,
    gast.LShift: operator.lshift, gast.RShift: operator.rshift,
}
UNARYOPS = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_,
            gast.Invert: operator.invert}


@dataclass(frozen=True)
class Method:
    """A method called on a local value, e.g. `x.sum(axis=0)`; its rules live under
    `ndarray.<name>`."""

    name: str

    @property
    def key(self) -> str:
        return f"ndarray.{self.name}"


@dataclass
class Trace:
    """The lowered function and what the later stages need to know about it."""

    node: gast.FunctionDef
    parsed: Parsed
    params: list[str]
    namer: Namer
    locals: set[str]


class Subexpressions(dict):
    """The common subexpressions of a block: key (`lower_expr._cse_key`) -> the variable that
    holds its value. `forget(var)` drops the entries that read `var` or are held in it at the
    cost of those entries alone: each name keeps the keys it is in."""

    def __init__(self) -> None:
        super().__init__()
        self.uses: dict[str, list[tuple]] = {}

    def __setitem__(self, key: tuple, var: str) -> None:
        super().__setitem__(key, var)
        for n in [var, *(p[1] for p in key if type(p) is tuple and len(p) == 2
                         and p[0] == "name")]:
            self.uses.setdefault(n, []).append(key)

    def forget(self, var: str) -> None:
        for key in self.uses.pop(var, ()):
            held = self.get(key)
            if held is not None and (held == var or ("name", var) in key):
                del self[key]


_LOAD = gast.Load()  # one for every loaded name made here (no pass changes a context node)


def name(id_: str, ctx: Any = None) -> gast.Name:
    return gast.Name(id=id_, ctx=ctx or _LOAD, annotation=None, type_comment=None)


def const(value: Any) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def assign(target: str, value: gast.AST, line: int | None) -> gast.Assign:
    node = gast.Assign(targets=[name(target, gast.Store())], value=value, type_comment=None)
    node.adgen_line = line
    return node


def is_atom(node: gast.AST) -> bool:
    return isinstance(node, (gast.Name, gast.Constant)) or (
        isinstance(node, gast.Attribute) and getattr(node, "adgen_global", False)
    )


def atom_names(node: gast.AST) -> set[str]:
    """The local names an rhs reads."""
    return astutil.loads(node)


def located(node: gast.AST, s: gast.AST) -> gast.AST:
    """`node`, given the source line of `s`."""
    node.lineno = s.lineno
    return node


def assigned(stmts: list[gast.AST]) -> set[str]:
    """Every name stored anywhere in `stmts`."""
    out: set[str] = set()
    for s in stmts:
        for n in astutil.walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                out.add(n.id)
    return out


def written_into(fn: gast.FunctionDef) -> set[str]:
    """The names the function writes into by subscript (`D[i] = ...`, `D[i][j] += ...`)."""
    out = set()
    for n in astutil.walk_in_order(fn):
        targets = n.targets if isinstance(n, gast.Assign) else (
            [n.target] if isinstance(n, gast.AugAssign) else [])
        for t in targets:
            if isinstance(t, gast.Subscript):
                while isinstance(t, gast.Subscript):
                    t = t.value
                if isinstance(t, gast.Name):
                    out.add(t.id)
    return out


def mark_shared(stmts: list[gast.AST], names: set[str]) -> None:
    """Mark the element writes of `stmts` with the names that may share what they write
    (`adgen_shared`): the reverse sweep restores the element when it reads one of them."""
    for s in stmts:
        if isinstance(s, gast.If):
            mark_shared(s.body + s.orelse, names)
        elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript):
            s.adgen_shared = frozenset(names)
