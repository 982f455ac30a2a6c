"""adgen: source-to-source automatic differentiation for Python and NumPy."""

from adgen.api import (
    clear_cache,
    grad,
    hessian,
    hvp,
    jacobian,
    jvp,
    source,
    trace,
    value_and_grad,
    vjp,
)
from adgen.custom import adjoint_rule, nondifferentiable, stop_gradient, tangent_rule
from adgen.errors import DifferentiationError, UnsupportedSyntax
from adgen.tools.graph import graph
from adgen.tools.hessian_approx import diagonal_hessian, outer_product_hessian

__all__ = [
    "DifferentiationError",
    "UnsupportedSyntax",
    "adjoint_rule",
    "clear_cache",
    "diagonal_hessian",
    "grad",
    "graph",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "nondifferentiable",
    "outer_product_hessian",
    "stop_gradient",
    "tangent_rule",
    "source",
    "trace",
    "value_and_grad",
    "vjp",
]
