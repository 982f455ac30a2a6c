"""Derivatives the user holds: `g = adgen.grad(f)`, kept, and called after a helper changed.

A derivative is built against the functions `f` reached when it was built. When `f` calls
other user functions, the operator's result is handed out inside a `Held` function: each call
first compares, cheaply, the identities that were resolved (`Program.watch`: each function's
code object, each global and closure value it called through, for `f` and every function
reached from it); if one changed (a notebook cell defining the helper again, a rebound name),
the operator is applied again, which rebuilds what is stale, and the call runs the new
derivative. A module edited on disk and not reloaded is refused then, as by a fresh
`adgen.grad`. A derivative of a function calling no other user function is handed out itself
(its own code cannot change without `f` becoming another object).

A held function carries the derivative's `__adgen__` (for `adgen.source`), `__wrapped__` (for
`inspect.getsource`) and, for higher derivatives, `__adgen_stand_in__`: adgen reads the
current derivative in its place.
"""

from __future__ import annotations

import threading
import types
import weakref
from collections.abc import Callable
from typing import Any

from adgen import pipeline
from adgen.rules import library_function, lookup

_HELD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def held(f: Any, built: Any, again: Callable[[], Any]) -> Any:
    """`built` (what an operator returned for `f`), or, when `f` calls other user functions,
    a function that checks at each call that it is not stale and else rebuilds it with
    `again()`. Asking twice for an unchanged derivative gives the same object."""
    program = pipeline.PROGRAM
    if not program.callees.get(f) and not _calls_user_functions(program, f):
        return built
    with _LOCK:  # threads asking at once get one held function
        try:
            known = _HELD.get(built)
        except TypeError:  # not weakly referable: nothing to keep
            return built
        if known is None:
            known = _HELD[built] = _holding(program, f, built, again)
    return known


def _holding(program: Any, f: Any, built: Any, again: Callable[[], Any]) -> Any:
    state = [built, program.watch(f)]

    def current() -> Any:
        if not state[1]():
            state[0] = again()
            state[1] = program.watch(f)
            _describe(call, state[0])
        return state[0]

    def call(*args: Any, **kwargs: Any) -> Any:
        fn = state[0] if state[1]() else current()
        return fn(*args, **kwargs)

    _describe(call, built)
    call.__adgen_stand_in__ = current
    return call


def _calls_user_functions(program: Any, f: Any) -> bool:
    resolution = program.resolutions.get(f)
    return resolution is not None and any(
        isinstance(obj, types.FunctionType) and obj is not f and lookup(obj) is None
        and not library_function(obj) for obj in resolution.names.values())


def _describe(call: Any, fn: Any) -> None:
    for attribute in ("__name__", "__qualname__", "__doc__", "__module__"):
        if hasattr(fn, attribute):
            setattr(call, attribute, getattr(fn, attribute))
    # what the derivative carries (`__adgen__`, a compiled derivative's `entries`, ...)
    call.__dict__.update({k: v for k, v in vars(fn).items() if k != "__adgen_stand_in__"})
    call.__wrapped__ = fn
