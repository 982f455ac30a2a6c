"""adgen: source-to-source automatic differentiation for Python and NumPy."""

from adgen.api import grad, hessian, hvp, jacobian, jvp, source, trace, value_and_grad, vjp
from adgen.errors import DifferentiationError, UnsupportedSyntax

__all__ = [
    "DifferentiationError",
    "UnsupportedSyntax",
    "grad",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "source",
    "trace",
    "value_and_grad",
    "vjp",
]
