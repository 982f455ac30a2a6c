"""The public operators on functions with keyword-only parameters, `*args` and `**kwargs`.

Such a function is differentiated in its plain form (`frontend.signatures`): one positional
parameter per parameter of its signature, `*args` a tuple and `**kwargs` a dict. `wrt` names
those parameters (by name, or by index in the signature's order, `*args` and `**kwargs`
counting one each): `wrt="scale"` a keyword-only parameter, `wrt="args"` the tuple `*args`
collected (its gradient is a tuple, one entry per positional argument), `wrt="kwargs"` the
dict. The derivative the user gets is called like the function itself, `g(x, a, b, scale=2.0)`,
with the tangents (`jvp`, `hvp`) or the cotangent (`vjp`) last among the positional
arguments; a call is bound as Python binds it (defaults, `TypeError` for a bad call).
"""

from __future__ import annotations

from typing import Any

from adgen import pipeline
from adgen.errors import DifferentiationError
from adgen.frontend.parse import bind_plainly
from adgen.frontend.signatures import plain_form


def plain_of(f: Any) -> Any | None:
    """The plain form to differentiate instead of `f`, or None when `f` is plain already."""
    if getattr(f, "adgen_calling", None) is not None:
        return f.adgen_plain  # a derivative taking its function's own convention
    plain = plain_form(f)
    return None if plain is f else plain


def plain_arguments(f: Any, args: tuple) -> tuple:
    """Positional arguments of `f` as the arguments of its plain form."""
    return bind_plainly(getattr(f, "adgen_calling", f), args, {})


def check_operator(op: str, f: Any) -> None:
    """Refuse the operators that cannot take `f`'s convention (`hessp`'s SciPy order)."""
    if op == "hessp":
        owner = getattr(f, "adgen_calling", f)
        raise DifferentiationError(
            f"adgen.hessp takes (x, p, *args) and cannot pass keyword arguments on to "
            f"{getattr(owner, '__name__', owner)}, which has keyword-only parameters, *args or "
            "**kwargs: use adgen.hvp, which takes (*args, v, **kwargs)")


def in_own_convention(op: str, plain: Any, result: Any, f: Any, args: tuple,
                      kwargs: dict[str, Any]) -> Any:
    """`result`, the operator `op` applied to the plain form `plain` of `f`, taking calls in
    the convention of the function `f` stands for."""
    owner = getattr(f, "adgen_calling", f)
    trailing = 0
    if op in ("jvp", "hvp"):
        wrt = kwargs.get("wrt", args[0] if args else 0)
        trailing = len(pipeline.wrt_names(pipeline.get_trace(plain), wrt)[0])
    elif op == "vjp":
        trailing = 1

    def derivative(*given: Any, **named: Any) -> Any:
        cut = len(given) - trailing
        if cut < 0:
            raise TypeError(f"{derivative.__name__}() takes the arguments of "
                            f"{owner.__name__} and then {trailing} more")
        return result(*bind_plainly(owner, given[:cut], named), *given[cut:])

    derivative.__name__ = derivative.__qualname__ = getattr(result, "__name__", op)
    derivative.__doc__ = getattr(owner, "__doc__", None)
    derivative.__module__ = getattr(owner, "__module__", None)
    if getattr(result, "__adgen__", None) is not None:
        derivative.__adgen__ = result.__adgen__
    derivative.adgen_calling, derivative.adgen_plain = owner, result
    return derivative
