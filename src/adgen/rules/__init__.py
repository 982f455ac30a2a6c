"""Derivative rules, one module per library; importing this package registers them all."""

from adgen.rules import numpy_rules, operators, pymath, runtime_rules  # noqa: F401
from adgen.rules.registry import (
    Rule,
    adjoint,
    linear,
    lookup,
    multilinear,
    nondifferentiable,
    primitive_name,
    scalar_result,
    tangent,
)

__all__ = [
    "Rule",
    "adjoint",
    "linear",
    "lookup",
    "multilinear",
    "nondifferentiable",
    "primitive_name",
    "scalar_result",
    "tangent",
]
