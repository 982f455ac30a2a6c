"""What the forward and reverse generators share: the rule for a trace step, the active
atoms, zeros, and errors that point at the user's line."""

from __future__ import annotations

import types
from typing import Any

import gast

from adgen.analysis import primitive
from adgen.errors import DifferentiationError, where
from adgen.lower import Trace, name
from adgen.rules import Rule, lookup, primitive_name
from adgen.runtime import zeros_like
from adgen.templates import Bindings


class Context:
    """A trace with its activity and kind facts, and the names bound into generated code."""

    def __init__(self, trace: Trace, active: set[str], scalar: set[str]) -> None:
        self.trace = trace
        self.namer = trace.namer
        self.active = active
        self.scalar = scalar
        p = trace.parsed

        def avoid(n: str, obj: Any) -> bool:
            if n not in trace.namer.taken:
                return False
            found, value = p.resolve(n)
            return n in trace.locals or not (found and value is obj)

        self.bindings = Bindings(avoid=avoid, reserve=trace.namer.taken)

    def is_active(self, atom: gast.AST | None) -> bool:
        return isinstance(atom, gast.Name) and atom.id in self.active

    def error(self, stmt: gast.AST, message: str) -> DifferentiationError:
        line = getattr(stmt, "adgen_line", None)
        p = self.trace.parsed
        text = p.lines.get(line, "").strip() if line else ""
        shown = f": `{text}`" if text else ""
        return DifferentiationError(f"{where(p.filename, line)}{shown}: {message}")

    def rule(self, stmt: gast.AST, rhs: gast.AST) -> Rule:
        fn = primitive(rhs)
        if fn is None:
            raise self.error(stmt, "cannot tell which function is called here; call a "
                             "function by a module-level name so adgen can find its rule")
        rule = lookup(fn)
        if rule is None:
            if isinstance(fn, types.FunctionType):
                raise self.error(stmt, f"no derivative rule for {primitive_name(fn)}: calls to "
                                 "other Python functions are not differentiated yet; register "
                                 "a rule with adgen.tangent_rule/adjoint_rule or inline it")
            raise self.error(stmt, f"no derivative rule for {primitive_name(fn)}; register one "
                             "with adgen.tangent_rule and adgen.adjoint_rule")
        return rule

    def zero_for(self, var: str) -> gast.AST:
        """A zero shaped like `var` (a Python 0.0 when `var` is 0-d)."""
        if var in self.scalar:
            return gast.Constant(value=0.0, kind=None)
        return self.call("zeros_like", zeros_like, [name(var)])

    def call(self, preferred: str, obj: Any, args: list[gast.AST]) -> gast.Call:
        fn = name(self.bindings.bind(preferred, obj))
        return gast.Call(func=fn, args=args, keywords=[])
