"""Derivative rules, one module per library; importing this package registers them all."""

from adgen.rules import (  # noqa: F401
    batched,
    limits,
    numpy_rules,
    operators,
    pymath,
    runtime_rules,
)
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
