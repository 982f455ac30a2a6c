"""Typed registries of derivative rules, filled by decorators.

A rule is a pair of *template functions* for one primitive (an operator, a `math` or NumPy
function, a runtime helper), written side by side in the module of its library. A template is
plain, lint-clean Python whose parameters are the placeholders that the transformation fills
with the names of the generated code; its body is a single `return` of an expression.

Tangent template (forward mode), for `y = f(a, b, k=...)`::

    @tangent(f)
    def f_dot(y, a, b, k=None, *, a_dot, b_dot):
        return a_dot * b + a * b_dot

Its positional parameters mirror the primitive's signature (same names, same defaults, so that
keywords at the call site bind); `y` is the primal result. Keyword-only parameters named
`<param>_dot` are the tangents of the differentiable parameters; a parameter without one is not
differentiable. An inactive argument's tangent is a symbolic zero that the transformation folds
away (`a_dot * b + a * 0` becomes `a_dot * b`).

Adjoint template (reverse mode)::

    @adjoint(f)
    def f_bar(y, a, b, k=None, *, y_bar):
        return unbroadcast(y_bar * b, a), unbroadcast(a * y_bar, b)

It returns the contribution to each primal parameter's adjoint, in signature order: a tuple
(shorter than the parameter list, or with `None`, where the rest are not differentiable), or a
single expression for the first parameter. Contributions of inactive arguments are never
generated. `unbroadcast(g, a)` sums `g` back to `a`'s shape; the transformation drops the call
where it can prove the shapes already agree (scalar code pays nothing for it).

Names a template uses besides its parameters (`math`, `np`, `unbroadcast`) are looked up in the
template function's module globals and bound into the generated code.

Flags instead of numbered variants: `linear(f)` registers a primitive that is linear in its
first argument (the tangent is `f(x_dot, ...)` with the other arguments unchanged);
`multilinear(f)` one linear in each differentiable argument separately (a product: a zero
tangent in one argument zeroes the term); `nondifferentiable(f, g, ...)` marks primitives whose
output has zero derivative (their outputs are constants to adgen); `guarded(f, x=1.0)` one
whose partials may be infinite at some `x` (the value put in where a mask discards the lane).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TemplateFn = Callable[..., Any]


@dataclass
class Rule:
    """Everything adgen knows about differentiating one primitive."""

    primitive: Any
    name: str
    tangent: TemplateFn | None = None
    adjoint: TemplateFn | None = None
    linear: bool = False
    multilinear: bool = False
    nondifferentiable: bool = False
    scalar_result: bool = False
    container_result: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


_RULES: dict[Any, Rule] = {}


def _key(primitive: Any) -> Any:
    try:
        hash(primitive)
    except TypeError:
        return ("id", id(primitive))
    return primitive


def primitive_name(primitive: Any) -> str:
    """A readable dotted name for a primitive (`math.sin`, `numpy.sum`, `ndarray.sum`,
    `numpy.add.reduce`)."""
    if isinstance(primitive, str):
        return primitive
    owner = getattr(primitive, "__self__", None)
    if type(owner).__name__ == "ufunc":  # a ufunc method: numpy.add.reduce
        return f"numpy.{owner.__name__}.{primitive.__name__}"
    module = getattr(primitive, "__module__", None) or ""
    if type(primitive).__name__ == "ufunc":
        module = _ufunc_module(primitive)
    name = getattr(primitive, "__qualname__", None) or getattr(primitive, "__name__", None)
    name = name or repr(primitive)
    if module in ("builtins", "_operator", "operator"):
        return f"operator.{name}" if module != "builtins" else name
    if module.startswith("numpy"):  # public names: numpy.fft.fft, numpy.linalg.eigh
        public = [part for part in module.split(".") if not part.startswith("_")]
        module = ".".join(public[:2]) if len(public) > 1 and public[1] in (
            "fft", "linalg", "random", "polynomial") else "numpy"
    if module.startswith("scipy."):  # public names: scipy.special.gammaln, scipy.linalg.expm
        module = ".".join(part for part in module.split(".") if not part.startswith("_"))
    return f"{module}.{name}" if module else name


def _ufunc_module(ufunc: Any) -> str:
    """The public module a ufunc comes from: NumPy's or `scipy.special` (ufuncs carry none)."""
    name = getattr(ufunc, "__name__", "")
    special = sys.modules.get("scipy.special")
    if getattr(sys.modules["numpy"], name, None) is not ufunc and (
            getattr(special, name, None) is ufunc):
        return "scipy.special"
    return "numpy"


def library_function(fn: Any) -> bool:
    """Whether `fn` is a Python function of NumPy or SciPy: adgen differentiates those by their
    rules only, never by reading the library's source."""
    module = getattr(fn, "__module__", None) or ""
    return module.split(".")[0] in ("numpy", "scipy")


def _entry(primitive: Any) -> Rule:
    key = _key(primitive)
    rule = _RULES.get(key)
    if rule is None:
        rule = _RULES[key] = Rule(primitive, primitive_name(primitive))
    return rule


def tangent(*primitives: Any) -> Callable[[TemplateFn], TemplateFn]:
    """Register the decorated template as the tangent rule of each primitive."""

    def register(template: TemplateFn) -> TemplateFn:
        for p in primitives:
            _entry(p).tangent = template
        return template

    return register


def adjoint(*primitives: Any) -> Callable[[TemplateFn], TemplateFn]:
    """Register the decorated template as the adjoint rule of each primitive."""

    def register(template: TemplateFn) -> TemplateFn:
        for p in primitives:
            _entry(p).adjoint = template
        return template

    return register


def batched(*primitives: Any) -> Callable[[TemplateFn], TemplateFn]:
    """Register the decorated template as the batched tangent rule of each primitive (see
    `adgen.rules.batched`): tangents carry a leading axis of directions."""

    def register(template: TemplateFn) -> TemplateFn:
        for p in primitives:
            _entry(p).extra["batched"] = template
        return template

    return register


_FOLDS: dict[Any, Callable[..., Any]] = {}


def folds(helper: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register how a call of `helper` in a filled template simplifies when its arguments say
    more than its general form needs (`scaled_power(c, a, 2)` is `c * a ** 2`): the function
    gets the filled argument trees and returns a tree, or None to keep the call."""
    def register(fold: Callable[..., Any]) -> Callable[..., Any]:
        _FOLDS[helper] = fold
        return fold
    return register


def fold_for(helper: Any) -> Callable[..., Any] | None:
    """The fold registered for `helper` (None for most)."""
    try:
        return _FOLDS.get(helper)
    except TypeError:  # an unhashable global
        return None


def linear(*primitives: Any) -> None:
    """Mark primitives linear in their first argument: tangent `y_dot = f(x_dot, ...)`."""
    for p in primitives:
        _entry(p).linear = True


def multilinear(*primitives: Any) -> None:
    """Mark primitives linear in each differentiable argument separately (products,
    contractions): a zero tangent in any of those arguments makes the whole term zero."""
    for p in primitives:
        _entry(p).multilinear = True


def nondifferentiable(*primitives: Any) -> None:
    """Mark primitives whose result is piecewise constant: it gets no tangent and no adjoint."""
    for p in primitives:
        _entry(p).nondifferentiable = True


def guarded(*primitives: Any, singular: tuple[float, ...] | None = None, **safe: float) -> None:
    """Mark primitives whose partial derivatives may be infinite or NaN at some operands:
    where a step's adjoint is zero outside a mask (`adgen.derive.masks`), each named template
    parameter is replaced by its safe value outside the mask before the adjoint reads it
    (`guarded(np.log, x=1.0)`: `np.divide(y_bar, inside(c, x, 1.0))`). `singular`: the
    operand values where a partial is infinite (a clip to another bound needs no guard)."""
    for p in primitives:
        _entry(p).extra["guarded"] = dict(safe)
        if singular is not None:
            _entry(p).extra["singular"] = tuple(float(v) for v in singular)


def scalar_result(*primitives: Any) -> None:
    """Mark primitives that always return a 0-d value (Python float, NumPy scalar)."""
    for p in primitives:
        _entry(p).scalar_result = True


def container_result(*primitives: Any) -> None:
    """Mark primitives that may return a list (an adjoint given back in the structure of a
    list operand): adjoints of their results add item by item, never with `+`."""
    for p in primitives:
        _entry(p).container_result = True


_IMPLEMENTED: dict[Any, Callable[..., Any]] = {}


def implemented(*primitives: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the implementation of each primitive in terms of
    functions that have rules: a call of the primitive is lowered to a call of it, which adgen
    differentiates from its source like a user function (both modes, any order)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        for p in primitives:
            if p is not None:
                _IMPLEMENTED[_key(p)] = fn
                _implemented_primitives.append(p)
        return fn

    return register


def implementation(primitive: Any) -> Callable[..., Any] | None:
    """The implementation registered for `primitive` with `implemented`, or None."""
    try:
        return _IMPLEMENTED.get(_key(primitive))
    except TypeError:  # unhashable
        return None


def implemented_names() -> list[str]:
    """The public names of the functions that have an implementation."""
    return sorted({primitive_name(p) for p in _implemented_primitives})


_implemented_primitives: list[Any] = []


def all_rules() -> list[Rule]:
    """Every registered rule, in registration order (importing this module imports the
    `adgen.rules` package first, which registers every rule module)."""
    return list(_RULES.values())


def lookup(primitive: Any) -> Rule | None:
    """The rule registered for `primitive`, or None (importing this module imports the
    `adgen.rules` package first, which registers every rule module)."""
    return _RULES.get(_key(primitive))
