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
    """Decorator: the template is the tangent rule of `fn` (forward mode).

    A template is a function whose body is one `return` of an expression, which adgen fills
    in and writes into the derivative source. Its first parameter is `fn`'s result, the other
    positional ones mirror `fn`'s signature (same names and defaults), and the keyword-only
    `<param>_dot` are the tangents of the parameters that carry derivatives::

        @adgen.tangent_rule(np.hypot)
        def hypot_dot(y, a, b, *, a_dot, b_dot):
            return (a_dot * a + b_dot * b) / y

    Write the adjoint with `adjoint_rule`; a call of `fn` is then a primitive. Make the
    expression of functions adgen differentiates to get second derivatives. `docs/rules.md`
    has the whole convention (flags, the batched form, a worked example)."""
    return registry.tangent(fn)


def adjoint_rule(fn: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the template is the adjoint rule of `fn` (reverse mode).

    The template's first parameter is `fn`'s result, the other positional ones mirror `fn`'s
    signature, and the keyword-only `y_bar` is the result's cotangent. It returns the
    contribution to each positional parameter after the result, in order (a tuple, `None` for
    one that is not differentiable, or one expression for the first)::

        @adgen.adjoint_rule(np.hypot)
        def hypot_bar(y, a, b, *, y_bar):
            return unbroadcast(y_bar * a / y, a), unbroadcast(y_bar * b / y, b)

    `unbroadcast(g, a)` (from `adgen.runtime`) sums `g` back to `a`'s shape; names the
    template uses are looked up in its module. Check a new rule with
    `adgen.testing.check_grads(f, args, order=2)`. `docs/rules.md` has the whole convention
    (`linear`/`nondifferentiable` flags, the batched form, a worked example)."""
    return registry.adjoint(fn)


def nondifferentiable(*fns: Callable[..., Any]) -> None:
    """Treat the results of `fns` as constants (zero derivative)."""
    registry.nondifferentiable(*fns)


def stop_gradient(x: Any) -> Any:
    """`x` itself; no derivative flows through it."""
    return x


registry.nondifferentiable(stop_gradient)
