"""Generated code in files, so Numba's on-disk cache (`cache=True`) can keep its compilation.

Numba caches a compiled function next to its source file, keyed by the file's time stamp
and size and the function's name and line. A generated derivative has no file, so every
process would compile it again. `store(rewritten, fn, helper)` writes the definition compiled
code runs (`adgen.numba_stacks.Rewritten`) to a file named by a hash of everything the
compiled code depends on, and returns the code compiled from that file; Numba then finds the
machine code of an earlier process.

What the hash covers: the source; the value of every number, string or None the code reads
as a global (Numba freezes them into the machine code); the names of the modules and
run-time helpers it calls; the versions of Python, NumPy, Numba and adgen, and the text of
adgen's modules that give Numba its helpers. Code that calls another Python function (the
user's functions, a callee's derivative) is not stored: a change in the callee would not
change the hash, and Numba would run stale code. Nor is code reading a global array or any
other object.

The directory is `$ADGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/adgen/numba` (by default
`~/.cache/adgen/numba`); `ADGEN_CACHE_DIR=""` turns the cache off, as does a directory that
cannot be written.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import sys
import types
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from adgen import numba_helpers, numba_python, numba_stacks, runtime

_STATE: dict[str, Any] = {}


def directory() -> str | None:
    """Where generated files and Numba's cache of them go; None when caching is off."""
    chosen = os.environ.get("ADGEN_CACHE_DIR")
    if chosen is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                 ".cache")
        chosen = os.path.join(base, "adgen", "numba")
    return chosen or None


def store(rewritten: numba_stacks.Rewritten, fn: Any,
          helper: Callable[[Any], bool]) -> types.CodeType | None:
    """The code of `rewritten` compiled from a file in the cache directory, or None when it
    cannot be cached (see the module docstring). `helper(f)`: whether compiled code calls
    `f` as it is (adgen's run-time helpers, NumPy's functions)."""
    parts = _dependencies(rewritten, fn, helper)
    where = directory()
    if parts is None or where is None:
        return None
    digest = hashlib.sha256("\n".join([_environment(), rewritten.source, *parts]).encode())
    path = os.path.join(where, f"adgen_{digest.hexdigest()[:24]}.py")
    try:
        if not os.path.exists(path):
            os.makedirs(where, exist_ok=True)
            temporary = f"{path}.{os.getpid()}.tmp"
            with open(temporary, "w", encoding="utf-8") as out:
                out.write(rewritten.source)
            os.replace(temporary, path)  # whole, for another process reading it
    except OSError:
        return None
    return numba_stacks.inner_code(rewritten.source, path, len(rewritten.code.co_freevars))


def _dependencies(rewritten: numba_stacks.Rewritten, fn: Any,
                  helper: Callable[[Any], bool]) -> list[str] | None:
    """A line per name the code reads and what it is bound to; None when one is bound to
    something the file cannot stand for."""
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True))
    out = []
    for name in sorted(_names(rewritten.code)):
        if name in rewritten.added:
            continue
        if name in cells:
            try:
                value = cells[name].cell_contents
            except ValueError:  # a cell not bound yet
                return None
        elif name in fn.__globals__:
            value = fn.__globals__[name]
        elif hasattr(builtins, name):
            value = getattr(builtins, name)
        else:
            continue  # Numba reports the unknown name itself
        what = _describe(value, helper)
        if what is None:
            return None
        out.append(f"{name}={what}")
    return out


def _describe(value: Any, helper: Callable[[Any], bool]) -> str | None:
    if value is None or type(value) in (bool, int, float, complex, str) or isinstance(
            value, np.generic):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, types.ModuleType):
        return f"module:{value.__name__}"
    if isinstance(value, type) and value in numba_python.REPLACED or getattr(
            builtins, getattr(value, "__name__", ""), None) is value:
        return f"builtin:{value.__name__}"
    if callable(value) and not isinstance(value, type) and helper(value):
        return f"helper:{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"
    return None


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names) | set(code.co_freevars)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _environment() -> str:
    """The versions and adgen's Numba helpers, read once per process."""
    if "environment" not in _STATE:
        import numba  # optional dependency: only reached when Numba compiles

        try:
            adgen_version = version("adgen")
        except PackageNotFoundError:
            adgen_version = "unknown"
        texts = []
        for module in (numba_helpers, numba_python, numba_stacks, runtime):
            with open(module.__file__, encoding="utf-8") as source:
                texts.append(source.read())
        _STATE["environment"] = "\n".join([sys.version, np.__version__, numba.__version__,
                                           adgen_version, *texts])
    return _STATE["environment"]
