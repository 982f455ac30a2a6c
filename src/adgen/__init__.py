"""adgen: source-to-source automatic differentiation for Python and NumPy."""

from importlib.metadata import PackageNotFoundError, version

from adgen import derivatives  # noqa: F401  (imported, derivatives pickle by reference)
from adgen.api import (
    clear_cache,
    grad,
    hessian,
    hessp,
    hvp,
    jacobian,
    jvp,
    source,
    trace,
    value_and_grad,
    vjp,
)
from adgen.custom import adjoint_rule, nondifferentiable, stop_gradient, tangent_rule
from adgen.errors import CompileWarning, DifferentiationError, UnsupportedSyntax
from adgen.pytree import ravel
from adgen.runtime_checkpoint import checkpointed
from adgen.tools.graph import graph
from adgen.tools.hessian_approx import diagonal_hessian, outer_product_hessian

try:
    __version__: str = version("adgen")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "CompileWarning",
    "DifferentiationError",
    "UnsupportedSyntax",
    "__version__",
    "adjoint_rule",
    "checkpointed",
    "clear_cache",
    "diagonal_hessian",
    "grad",
    "graph",
    "hessian",
    "hessp",
    "hvp",
    "jacobian",
    "jvp",
    "nondifferentiable",
    "outer_product_hessian",
    "ravel",
    "stop_gradient",
    "tangent_rule",
    "source",
    "trace",
    "value_and_grad",
    "vjp",
]
