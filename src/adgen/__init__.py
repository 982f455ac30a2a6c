"""adgen: source-to-source automatic differentiation for Python and NumPy."""

from adgen.api import grad, hessian, hvp, jacobian, jvp, source, trace, value_and_grad, vjp
from adgen.custom import adjoint_rule, nondifferentiable, stop_gradient, tangent_rule
from adgen.errors import DifferentiationError, UnsupportedSyntax

__all__ = [
    "DifferentiationError",
    "UnsupportedSyntax",
    "adjoint_rule",
    "grad",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "nondifferentiable",
    "stop_gradient",
    "tangent_rule",
    "source",
    "trace",
    "value_and_grad",
    "vjp",
]
