"""Derivatives of functions that take function values: specialised per object, at call time.

`adgen.grad(rk4, wrt=(1, 2))` where `rk4(rhs, y0, p)` calls `rhs` cannot know, when it is
asked for, which function `rhs` will be. The operator instead returns a function that looks
at the function values each call passes (`frontend.function_values.value_key`: a few ids),
takes the program view's copy of `rk4` specialised to them (`Program.specialise`), and calls
the operator's result for that copy, built once per specialisation (at most
`program.SPECIALISATIONS`, the oldest forgotten first). Inside it, `rhs(y, p)` is a call of
the object passed: a user function's own derivative, a NumPy or `math` function's rule, a
lambda read like a function, a `functools.partial`'s function with what it binds. The
parameter holding the function value is never differentiated.

Operators applied to such a function (`adgen.hessian(adgen.grad(rk4, wrt=1), wrt=1)`)
compose per specialisation in the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from adgen import pipeline
from adgen.errors import DifferentiationError
from adgen.program import SPECIALISATIONS

Operator = Callable[..., Any]


def by_function_value(op: Operator, f: Any, args: tuple, kwargs: dict) -> Any | None:
    """`op(f, *args, **kwargs)` specialised per call to the function values `f` is given;
    None when `f` takes none (then `op` applies to `f` itself)."""
    wrt = args[0] if args else kwargs.get("wrt", 0)
    items = list(wrt) if isinstance(wrt, (tuple, list)) else [wrt]
    inner = getattr(f, "adgen_by_function", None)
    if inner is not None:  # an operator over a specialising derivative: compose per copy
        original, make, called = inner[:3]
        return _specialising(lambda g: op(make(g), *args, **kwargs), f, original, called,
                             op.__name__, _arguments(op.__name__, items, original))
    called = pipeline.function_params(f)
    if not called:
        return None
    params = list(f.__code__.co_varnames[: f.__code__.co_argcount])
    for w in items:
        p = params[w] if isinstance(w, int) and -len(params) <= w < len(params) else w
        if p in called:
            raise DifferentiationError(
                f"wrt={wrt!r} names `{p}`, a function value of {f.__qualname__} (it is called "
                f"on line {called[p]}): adgen specialises the derivative to the function "
                "passed and does not differentiate with respect to it; name the numeric "
                "parameters in wrt (a parameter the function reads, e.g. through "
                "functools.partial, can be passed as an argument of its own instead)")
    return _specialising(lambda g: op(g, *args, **kwargs), f, f, called, op.__name__,
                         _arguments(op.__name__, items, f))


def _arguments(op: str, wrt: list[Any], f: Any) -> Callable[[tuple], tuple]:
    """The arguments of `f` among those a call of `op(f, wrt)` is given: what comes before
    the tangents (`jvp`, `hvp`) or the cotangent (`vjp`); for `hessp`, `(x, p, *args)`, the
    point put back at the position of its parameter."""
    trailing = {"jvp": len(wrt), "hvp": len(wrt), "vjp": 1}.get(op, 0)
    if op == "hessp":
        params = list(f.__code__.co_varnames[: f.__code__.co_argcount])
        w = wrt[0]
        position = params.index(w) if isinstance(w, str) else w % len(params)
        return lambda args: (*args[2:2 + position], args[0], *args[2 + position:])
    return lambda args: args[: len(args) - trailing] if trailing else args


def _specialising(make: Callable[[Any], Any], outer: Any, original: Any,
                  called: dict[str, int], label: str, arguments: Callable[[tuple], tuple]
                  ) -> Any:
    params = list(original.__code__.co_varnames[: original.__code__.co_argcount])
    defaults = dict(zip(params[len(params) - len(original.__defaults__ or ()):],
                        original.__defaults__ or (), strict=True))
    positions = [(p, params.index(p)) for p in params if p in called]
    built: dict[Any, Any] = {}
    # the objects last seen, by their ids, with what they were specialised to: the objects
    # are kept, so an id here is never another object's
    seen: dict[tuple[int, ...], tuple[tuple, Any]] = {}
    last = max(i for _, i in positions)

    def specialised(*args: Any, **kwargs: Any) -> Any:
        given = arguments(args)
        if len(given) > last:
            hit = seen.get(tuple([id(given[i]) for _, i in positions]))
            if hit is not None:
                specialised.adgen_last = hit[1]
                return hit[1](*args, **kwargs)
        fn = _lookup(given, kwargs)
        specialised.adgen_last = fn  # what `adgen.source` shows
        if len(given) > last:
            if len(seen) >= 4 * SPECIALISATIONS:
                seen.clear()
            objects = tuple(given[i] for _, i in positions)
            seen[tuple(id(o) for o in objects)] = (objects, fn)
        return fn(*args, **kwargs)

    def _lookup(given: tuple, kwargs: dict) -> Any:
        values = {}
        for p, i in positions:
            if i < len(given):
                value = given[i]
            elif p in kwargs:
                value = kwargs[p]
            elif p in defaults:
                value = defaults[p]
            else:
                raise TypeError(f"{original.__name__}() missing the argument `{p}`")
            if not callable(value):
                raise DifferentiationError(
                    f"{original.__qualname__} calls `{p}` (line {called[p]}), but it was given "
                    f"{type(value).__name__} {value!r:.60}, which is not a function")
            values[p] = value
        copy = pipeline.specialise(original, values)
        fn = built.get(copy)
        if fn is None:
            fn = built[copy] = make(copy)
            while len(built) > SPECIALISATIONS:
                built.pop(next(iter(built)))
        return fn

    functools.update_wrapper(specialised, outer, assigned=("__module__", "__doc__"),
                             updated=())
    base = getattr(outer, "__name__", "function")
    specialised.__name__ = specialised.__qualname__ = f"{base}_{label}"
    specialised.adgen_by_function = (original, make, called)
    specialised.adgen_last = None
    return specialised
