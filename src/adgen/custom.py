"""User-facing rule registration and gradient control.

`tangent_rule(fn)` and `adjoint_rule(fn)` register templates for a function of the user's, in
exactly the style of the built-in rules (see `adgen.rules.registry`): a call of `fn` is then a
primitive, never transformed itself. `nondifferentiable(fn)` makes its result a constant.
`stop_gradient(x)` returns `x` and blocks every derivative through it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adgen.rules import registry


def tangent_rule(fn: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the template is the tangent rule of `fn` (forward mode)."""
    return registry.tangent(fn)


def adjoint_rule(fn: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the template is the adjoint rule of `fn` (reverse mode)."""
    return registry.adjoint(fn)


def nondifferentiable(*fns: Callable[..., Any]) -> None:
    """Treat the results of `fns` as constants (zero derivative)."""
    registry.nondifferentiable(*fns)


def stop_gradient(x: Any) -> Any:
    """`x` itself; no derivative flows through it."""
    return x


registry.nondifferentiable(stop_gradient)
