"""What a function an operator returns says about itself, and the name that pickles it.

`adgen.grad(f)` (and every operator) returns a function with `functools.wraps`' metadata:
`__wrapped__` is `f`, `__doc__` is `f`'s docstring (a generated function has none of its
own), and `__name__` says what it computes (`f_grad`, the generated function's own name,
which tracebacks and `adgen.source` show). A Python function pickles by reference, as
`__module__` + `__qualname__`, so for an `f` that pickles by reference itself (a module-level
function, or a function in a class) those two name the derivative's recipe in
`adgen.derivatives`: `__module__` is `"adgen.derivatives"` and `__qualname__` reads
`grad.mymodule.f` (or `grad(wrt=1, mode='forward').mymodule.f`); unpickled in another
process, the name is resolved by importing `mymodule` and building `adgen.grad(mymodule.f,
wrt=1, ...)` again (see `adgen.derivatives`). Other functions (lambdas, nested functions)
keep `f`'s module and a `__qualname__` next to `f`'s (`outer.<locals>.f_grad`).

Pickling by reference needs the name to lead back to this very object while it lives, so
each live published function has a name of its own: `published` remembers them (weakly), a
function equal to a live one (the same code over the same values) is handed out as that
one, and a second, different derivative under the same recipe (rebuilt after `f` or a
helper changed) gets a numbered recipe, `grad~2.mymodule.f`.
"""

from __future__ import annotations

import functools
import threading
import weakref
from typing import Any

RESOLVER = "adgen.derivatives"
_SIMPLE = (str, int, float, bool, type(None))
_LIVE: dict[str, weakref.ref] = {}
_LOCK = threading.Lock()


def published(fn: Any, f: Any, op: str, options: dict[str, Any]) -> Any:
    """`fn`, which `adgen.<op>(f, **options)` returns, with its metadata (see above); or a
    live function equal to it, published before under the same recipe."""
    fn.__wrapped__ = f
    if fn.__doc__ is None and getattr(f, "__doc__", None):
        fn.__doc__ = f.__doc__
    module, qualname = getattr(f, "__module__", None), getattr(f, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return fn
    if "<" in qualname or not all(_literal(v) for v in options.values()):
        fn.__module__ = module  # not importable by name: a name beside f's, for people
        fn.__qualname__ = f"{qualname.rpartition('.')[0]}.{fn.__name__}".lstrip(".")
        return fn
    recipe = op + (f"({', '.join(f'{k}={v!r}' for k, v in options.items())})"
                   if options else "")
    with _LOCK:
        fn = _claim(fn, recipe, f"{module}.{qualname}")
    return fn


def _claim(fn: Any, recipe: str, target: str) -> Any:
    """Give `fn` the first name under `recipe` that no other live function holds, or hand
    out the live function equal to it."""
    number = 1
    while True:
        path = f"{recipe}{f'~{number}' if number > 1 else ''}.{target}"
        held = _LIVE.get(path)
        other = held() if held is not None else None
        if other is None or other is fn:
            fn.__module__ = RESOLVER
            fn.__qualname__ = path
            _LIVE[path] = weakref.ref(fn)
            return fn
        if _same(other, fn):
            return other
        number += 1


def live(path: str) -> Any:
    """The live published function named `path`, or None."""
    held = _LIVE.get(path)
    return held() if held is not None else None


def _same(a: Any, b: Any) -> bool:
    """Whether two functions run the same code over the same values (closures written by
    the operators, made again by a second call with the same arguments)."""
    code_a, code_b = getattr(a, "__code__", None), getattr(b, "__code__", None)
    if code_a is None or code_a is not code_b or a.__globals__ is not b.__globals__:
        return False
    if getattr(a, "__adgen__", None) is not getattr(b, "__adgen__", None):
        return False
    cells_a, cells_b = a.__closure__ or (), b.__closure__ or ()
    return len(cells_a) == len(cells_b) and all(
        _same_value(x.cell_contents, y.cell_contents) for x, y in zip(cells_a, cells_b,
                                                                    strict=True))


def _same_value(x: Any, y: Any) -> bool:
    if x is y:
        return True
    if type(x) is not type(y):
        return False
    if isinstance(x, (list, tuple)):
        return len(x) == len(y) and all(_same_value(a, b) for a, b in zip(x, y, strict=True))
    return isinstance(x, _SIMPLE) and x == y


def _literal(value: Any) -> bool:
    """Whether `repr(value)` is a literal without dots (it becomes part of a dotted name)."""
    if isinstance(value, (list, tuple)):
        return all(_literal(v) for v in value)
    return isinstance(value, (str, int, bool)) and "." not in repr(value)


def named(fn: Any, f: Any, kind: str, generated: Any = None) -> Any:
    """`fn`, a function the API wrote around `f`, named for what it computes (`f_hessp` for
    `kind="hessp"`; with no `kind`, the name of `generated`, whose code it runs and whose
    `__adgen__` it gets, for `adgen.source` and higher derivatives)."""
    functools.update_wrapper(fn, f, assigned=("__module__", "__doc__"), updated=())
    base = getattr(f, "__name__", "function")
    fn.__name__ = fn.__qualname__ = f"{base}_{kind}" if kind else generated.__name__
    if generated is not None:
        fn.__adgen__ = generated.__adgen__
    return fn
