"""Derivatives found by name, so that the functions the operators return pickle.

A function `adgen.grad(mymodule.f, wrt=1)` returned is named `grad(wrt=1).mymodule.f` in this
module (`adgen.published`). Pickle saves a function as its module and name, and finds it
again by importing the module and following the name's dotted parts as attributes: here the
first part is the recipe (the operator and its options), the others lead to `f` (importing
`mymodule`, then attributes down to `f`); the last step returns the derivative. In the
process that made it, that is the very function (pickle checks); in another process (a
`multiprocessing` worker, a Dask worker, after `adgen.clear_cache()`), it is built again
from `f` by the same operator. A function of that module that already is this derivative
(`@adgen.grad` on a module-level `def`, run again by the import) is returned itself.
"""

from __future__ import annotations

import ast
import importlib
import types
from typing import Any

from adgen import api
from adgen.published import RESOLVER, live

OPERATORS = {op.__name__: op for op in (api.grad, api.value_and_grad, api.jvp, api.vjp,
                                        api.jacobian, api.hessian, api.hvp, api.hessp)}


def __getattr__(part: str) -> Any:
    """The first part of a name: a recipe such as `grad` or `grad(wrt=1, mode='forward')`."""
    if part.startswith("__"):
        raise AttributeError(part)
    op, options = _recipe(part)
    return Path(part, op, options, None)


def resolve(path: str) -> Any:
    """The derivative named `path` (what pickle finds by following its parts)."""
    first, *rest = path.split(".")
    found = __getattr__(first)
    for part in rest:
        found = getattr(found, part)
    return found


class Path:
    """Part of the way to a derivative: its recipe and where the walk to `f` has reached
    (None before the first module, then modules and classes)."""

    def __init__(self, path: str, op: Any, options: dict[str, Any], reached: Any) -> None:
        self._path = path
        self._op = op
        self._options = options
        self._reached = reached

    def __getattr__(self, part: str) -> Any:
        if part.startswith("__"):
            raise AttributeError(part)
        path = f"{self._path}.{part}"
        own = live(path)
        if own is not None:  # in the process that published it: that very function
            return own
        reached = _step(self._reached, part)
        if reached is None:
            raise AttributeError(f"{RESOLVER}: {path} leads nowhere")
        if isinstance(reached, (types.ModuleType, type, Path)):
            return Path(path, self._op, self._options, reached)
        if getattr(reached, "__module__", None) == RESOLVER and reached.__qualname__ == path:
            return reached  # `@adgen.grad` on a module-level `def`: the module holds it
        return self._op(reached, **self._options)

    def __reduce__(self) -> tuple[Any, tuple[str]]:  # older pickle protocols save parents
        return resolve, (self._path,)


def _step(reached: Any, part: str) -> Any:
    """One step of the walk to `f`: a module to import, or an attribute."""
    if reached is None:
        return _module(part)
    found = getattr(reached, part, None)
    if found is None and isinstance(reached, types.ModuleType):
        found = _module(f"{reached.__name__}.{part}")
    return found


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _recipe(part: str) -> tuple[Any, dict[str, Any]]:
    """The operator and options a recipe names (`grad(wrt=1)~2` is a second live one)."""
    try:
        node = ast.parse(part.partition("~")[0], mode="eval").body
    except SyntaxError:
        node = None
    if isinstance(node, ast.Name):
        node = ast.Call(func=node, args=[], keywords=[])
    name = node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else ""
    if name not in OPERATORS or node.args:
        raise AttributeError(f"{RESOLVER} has no derivative recipe {part!r}")
    return OPERATORS[name], {k.arg: ast.literal_eval(k.value) for k in node.keywords}
