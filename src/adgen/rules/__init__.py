"""Derivative rules, one module per library; importing this package registers them all."""

from adgen.rules import (  # noqa: F401
    batched,
    limits,
    numpy_rules,
    operators,
    pymath,
    runtime_rules,
    special,
)
from adgen.rules.registry import (
    Rule,
    adjoint,
    container_result,
    library_function,
    linear,
    lookup,
    multilinear,
    nondifferentiable,
    primitive_name,
    scalar_result,
    tangent,
)

try:  # optional dependency: SciPy's rules are registered only when SciPy is installed
    import scipy  # noqa: F401
except ImportError:
    pass
else:
    from adgen.rules import scipy_composites, scipy_rules  # noqa: F401

__all__ = [
    "Rule",
    "adjoint",
    "container_result",
    "library_function",
    "linear",
    "lookup",
    "multilinear",
    "nondifferentiable",
    "primitive_name",
    "scalar_result",
    "tangent",
]
