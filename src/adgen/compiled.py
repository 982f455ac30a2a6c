"""Derivatives compiled with Numba: `adgen.grad(f, compile="numba")` and the other operators.

adgen's derivatives are plain Python; on loop-heavy scalar code they pay the interpreter per
operation. This module hands the derivative specialised to a call's arguments to
`numba.njit`. The one entry is `compiled(fn)`: `fn` is a function adgen generated; the result
is a callable that, per argument signature (types, dtypes, shapes, strides), picks the
generated function specialised to those arguments (`specialised`, the one line to change when
the variants change), compiles it once, and calls the machine code from then on.

What is compiled, and how:

- The variant for the call's signature is the one `adgen.variants` builds and keeps for
  the uncompiled derivative (the general derivative where it builds none, e.g. for forward
  mode). It is compiled under its own file name, the one its source is kept under in
  `linecache`, so Numba's messages point at the generated lines, and the `# line N:`
  comments above them at the user's line.
- Every function the code calls is compiled with it: the callees' derivatives adgen generated
  (`g_fwd`, `g_bwd`) and the user's own primal functions, each a copy whose globals and
  closure cells name compiled callees (recursion compiles where Numba allows it). adgen's
  run-time helpers have Numba implementations in `adgen.numba_helpers`.
- A derivative calling a loop marked `adgen.checkpointed` stays a Python function: the
  schedule is a Python object, whose blocks of steps run compiled (`adgen.numba_checkpoint`,
  `Compiled._block`).
- What Numba cannot compile (a construct it does not type, an argument it does not take)
  never surfaces as Numba's traceback: a `CompileWarning` names the construct, the generated
  statement and the user's line, and the uncompiled derivative runs for that signature.

The function users call has the generated function's parameters: it builds the signature key
in plain statements (`_caller`), looks it up, and calls the entry, which for float, bool and
NumPy scalar arguments is the compiled code's own entry point (no second dispatch by Numba).
Generated code that calls no other Python function is compiled from a file written by
`adgen.numba_cache`, with `cache=True`, so another process loads its machine code.
"""

from __future__ import annotations

import builtins
import linecache
import os
import re
import sys
import threading
import types
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from adgen import (
    numba_cache,
    numba_checkpoint,
    numba_guards,
    numba_helpers,
    numba_python,
    numba_stacks,
)
from adgen.errors import CompileWarning
from adgen.rules.registry import library_function

INSTALL = "pip install adgen[numba]"
BACKENDS = (None, False, "numba")


def check(backend: Any) -> bool:
    """Whether `compile=` asks for compilation; a clear error for an unknown backend, and
    for `"numba"` when Numba is not installed."""
    if backend not in BACKENDS:
        raise ValueError(f"compile must be None or 'numba', not {backend!r}")
    if backend:
        numba_module()
    return bool(backend)


def numba_module() -> Any:
    """The `numba` module, with adgen's helpers registered; ImportError saying what to install."""
    try:
        import numba  # optional dependency: the extra adgen[numba]
    except ImportError:
        raise ImportError(f"compile='numba' needs Numba, which is not installed: {INSTALL}"
                          ) from None
    numba_helpers.install(numba)
    numba_stacks.install(numba)
    return numba


def specialised(fn: Any, args: tuple) -> Any:
    """The generated function that runs for `args`: the variant specialised to their types,
    dtypes and shapes that `adgen.variants` builds for compiled code (globals holding numbers
    taken as constants, as Numba freezes them), or the general derivative where there is
    none."""
    choose = fn.__adgen__.info.get("frozen")
    return fn if choose is None else choose(tuple(args))


_LOCK = threading.RLock()


def compiled(fn: Any) -> Any:
    """`fn`, a function adgen generated, compiled with Numba per argument signature: a function
    with `fn`'s name and `__adgen__` (one per generated function, so `grad(f,
    compile="numba")` twice compiles once). Its `entries` say what runs for each signature
    met: the Numba dispatcher, or `fn` itself."""
    with _LOCK:  # kept with the generated function, and dropped with it
        out = fn.__adgen__.info.get("compiled")
        if out is None:
            out = fn.__adgen__.info["compiled"] = Compiled(fn).function()
        return out


class Compiled:
    """What a compiled derivative knows: per argument signature, the machine code of the
    generated function's specialised variant, or (with a `CompileWarning`) the uncompiled
    function; and the Numba dispatchers made for each variant."""

    def __init__(self, fn: Any, select: Callable[[Any, tuple], Any] = specialised) -> None:
        """`select(fn, args)` picks the generated function to compile for `args`; it may
        depend only on what the entries are keyed by: the arguments' types, and an array's
        dtype, shape and layout."""
        self.fn = fn
        self.select = select
        self.entries: dict[tuple, Any] = {}
        self.jitted: dict[Any, Any] = {}
        self.frozen = numba_guards.Frozen()  # the global values the compiled code took
        self.__name__ = fn.__name__

    def function(self) -> Any:
        """The function users call: with `fn`'s parameters, it looks its arguments' key up
        (`_key`, written inline) and calls the entry, or makes the entry on first use."""
        fn = self.fn
        code = fn.__code__
        params = code.co_varnames[:code.co_argcount]
        if params and not code.co_flags & 0x0C and not code.co_kwonlyargcount:
            run = _caller(fn, params, self.entries, self._entry, self.frozen.values,
                          self._check)
        else:  # a function taking *args (a derivative held for staleness checks)
            entries, first, guards, check = (self.entries, self._entry, self.frozen.values,
                                             self._check)

            def run(*args: Any) -> Any:
                if guards:
                    check()
                entry = entries.get(_key(args))
                if entry is None:
                    entry = first(args)
                return entry(*args)

            run.__name__ = run.__qualname__ = fn.__name__
        run.__doc__ = fn.__doc__
        run.__adgen__ = fn.__adgen__  # type: ignore[attr-defined]
        run.entries = self.entries  # type: ignore[attr-defined]
        run.dispatchers = self.jitted  # type: ignore[attr-defined]
        return run

    def _check(self) -> None:
        """Before a call: when a global value the compiled code took as a constant has
        changed (`numba_guards`), drop every entry, so the call compiles again."""
        if not self.frozen.changed():
            return
        with _LOCK:
            if self.frozen.changed():
                self.entries.clear()
                self.jitted.clear()
                self.frozen.clear()
                reset = self.fn.__adgen__.info.get("frozen_reset")
                if reset is not None:
                    reset()

    def _entry(self, args: tuple) -> Any:
        """What runs for arguments with this key: the compiled code, or the uncompiled
        function."""
        with _LOCK:
            key = _key(args)
            entry = self.entries.get(key)
            if entry is None:
                entry = self.entries[key] = self._prepare(args)
            return entry

    def _prepare(self, args: tuple) -> Any:
        for i, a in enumerate(args):
            if not _takes(a):
                _warn(f"{self.__name__} runs uncompiled for these arguments: argument {i + 1} "
                      f"is a {type(a).__name__}, which compiled code does not take (pass "
                      "numbers, NumPy arrays of numbers, or tuples of them)")
                return self.fn
        numba = numba_module()
        self.frozen.note_function(_user_function(self.fn))
        variant = self.select(self.fn, args)
        inner = numba_checkpoint.nested(variant)
        if inner is not None:
            _warn(f"{self.__name__} runs uncompiled for these arguments: the schedule that "
                  "reverses a loop marked `adgen.checkpointed` runs in Python, and compiled "
                  f"code cannot call it from a function it calls{_call_site(*inner)}; mark "
                  "the loop in the function differentiated, or remove the marker")
            return self.fn
        if numba_checkpoint.calls_checkpointed(variant):  # the schedule in Python, its blocks
            return numba_checkpoint.with_compiled_blocks(variant, self._block, specialised)
        try:
            dispatcher = self.jitted.get(variant)
            if dispatcher is None:
                dispatcher = self.jitted[variant] = _Jit(numba, self.frozen).function(variant)
            signature = tuple(numba.typeof(a) for a in args)
            dispatcher.compile(signature)
        except Exception as exc:  # Numba's typing and lowering errors, and its own failures
            _warn(f"{self.__name__} runs uncompiled for these arguments: {describe(exc)}")
            return self.fn
        if all(type(a) in _DIRECT for a in args):
            return dispatcher.overloads[signature].entry_point
        return dispatcher

    def _block(self, fn: Any, args: tuple) -> Any:
        """`fn`, a block of a checkpointed loop's schedule, compiled for `args`; a message
        (and a `CompileWarning`) when it cannot be."""
        numba = numba_module()
        why = next((f"argument {i + 1} of the loop is a {type(a).__name__}, which compiled "
                    "code does not take" for i, a in enumerate(args) if not _takes(a)), None)
        if why is None:
            try:
                dispatcher = _Jit(numba, self.frozen).function(fn)
                signature = tuple(numba.typeof(a) for a in args)
                dispatcher.compile(signature)
                return dispatcher
            except Exception as exc:  # Numba's typing and lowering errors
                why = describe(exc)
        _warn(f"{self.__name__}: the steps of a loop marked `adgen.checkpointed` run "
              f"uncompiled for these arguments: {why}")
        return why


_DIRECT = (float, bool, np.float64, np.float32, np.int64)
"""Argument types whose key decides the compiled code's signature: for them the entry is the
compiled code's own entry point, with no second choice by Numba's dispatcher. (A Python
`int` may need a wider type than the first one met, an array may be read-only or
unaligned, a tuple's key is its type alone: Numba's dispatcher looks at those.)"""


def _key(args: tuple) -> Any:
    """What a compiled entry depends on: each argument's type, and an array's dtype, shape
    and strides (which decide its layout); a tuple of them, or the one for one argument.
    `_caller` writes the same in the function it makes."""
    key = tuple((a.dtype, a.shape, a.strides) if type(a) is np.ndarray else type(a)
                for a in args)
    return key[0] if len(key) == 1 else key


def _caller(fn: Any, params: tuple, table: dict, first: Any, guards: list, check: Any) -> Any:
    """A function with `fn`'s name and parameters that calls the entry for its arguments:
    the key built in plain statements, one dictionary lookup (after `check()` when the
    compiled code took global values as constants, `guards`)."""
    names = ", ".join(params)
    lines = [f"def {fn.__name__}({names}):", "    if _adgen_guards:", "        _adgen_check()"]
    for i, p in enumerate(params):
        lines += [f"    _adgen_{i} = _adgen_type({p})",
                  f"    if _adgen_{i} is _adgen_array:",
                  f"        _adgen_{i} = ({p}.dtype, {p}.shape, {p}.strides)"]
    key = ", ".join(f"_adgen_{i}" for i in range(len(params)))
    lines += ["    try:",
              f"        _adgen_entry = _adgen_table[{key if len(params) == 1 else f'({key})'}]",
              "    except KeyError:",
              f"        _adgen_entry = _adgen_first(({names},))",
              f"    return _adgen_entry({names})"]
    text = ("def _adgen_factory(_adgen_array, _adgen_type, _adgen_table, _adgen_first, "
            "_adgen_guards, _adgen_check):\n"
            + "".join("    " + line + "\n" for line in lines)
            + f"    return {fn.__name__}\n")
    scope: dict[str, Any] = {}
    exec(compile(text, f"<adgen compiled call {fn.__name__}>", "exec"), scope)
    inner = scope["_adgen_factory"](np.ndarray, type, table, first, guards, check)
    return types.FunctionType(inner.__code__, {"__builtins__": builtins}, fn.__name__,
                              fn.__defaults__, inner.__closure__)


def _takes(a: Any) -> bool:
    """Whether compiled code takes `a` as an argument."""
    if isinstance(a, (bool, int, float, np.bool_, np.integer, np.floating, str)) or a is None:
        return True
    if isinstance(a, np.ndarray):
        return a.dtype.kind in "biuf"
    return isinstance(a, tuple) and all(_takes(v) for v in a)


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _warn(message: str) -> None:
    """Warn at the user's call of the derivative: the first frame that is neither adgen's
    nor generated code."""
    level, frame = 2, sys._getframe(1)
    while frame is not None and (frame.f_code.co_filename.startswith(_PACKAGE)
                                 or frame.f_code.co_filename.startswith("<adgen")):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, CompileWarning, stacklevel=level)


# ---------------------------------------------------------------- compiling


def _generated(f: Any) -> bool:
    return isinstance(f, types.FunctionType) and f.__code__.co_filename.startswith("<adgen ")


def _helper(f: Any) -> bool:
    """adgen's own run-time helpers (Numba implementations in `numba_helpers`) and Python
    functions of NumPy and SciPy (Numba knows those it supports by the function itself):
    passed to Numba as they are, never copied and compiled from their source."""
    return not _generated(f) and (
        (getattr(f, "__module__", None) or "").startswith("adgen.") or library_function(f))


class _Jit:
    """Compiles one variant and, transitively, every Python function it calls."""

    def __init__(self, numba: Any, frozen: numba_guards.Frozen) -> None:
        self.numba = numba
        self.frozen = frozen  # records the global values Numba freezes into the code
        self.memo: dict[Any, Any] = {}

    def function(self, f: Any) -> Any:
        """`f` as Numba calls it: a compiled copy of a Python function, else `f` itself."""
        if type(f) is type and f in numba_python.REPLACED:
            return numba_python.REPLACED[f]
        if not isinstance(f, types.FunctionType) or _helper(f):
            return f  # also a value (a global array: unhashable, frozen by Numba)
        if f in self.memo:
            return self.memo[f]
        _remember_file(f)
        code, namespace, cache = f.__code__, {}, False
        typed = numba_stacks.typed_stacks(f) if _generated(f) else None
        if typed is not None:
            code, filename = typed.code, typed.filename
            namespace.update(typed.added)
            stored = numba_cache.store(typed, f, _helper)
            if stored is not None:  # a file Numba's on-disk cache can key compiled code by
                code, filename, cache = stored, stored.co_filename, True
            if f.__code__.co_filename in _FILES:
                _FILES[filename] = _FILES[f.__code__.co_filename]
        cells = tuple(types.CellType() for _ in code.co_freevars)
        copy = types.FunctionType(code, namespace, f.__name__, f.__defaults__, cells)
        out = self.memo[f] = self.numba.njit(copy, cache=cache)
        if cache:  # only what the code reads: Numba pickles the globals of code with no module
            namespace.update(__name__=numba_cache.__name__, __builtins__=builtins)
        else:
            namespace.update({k: v for k, v in f.__globals__.items() if k not in namespace})
        self._bind(code, f.__globals__, namespace)
        values = dict(zip(f.__code__.co_freevars, _closure_items(f), strict=True))
        for cell, name in zip(cells, code.co_freevars, strict=True):
            if values[name] is not _EMPTY:
                cell.cell_contents = self.function(values[name])
        return out

    def _bind(self, code: Any, values: dict[str, Any], namespace: dict[str, Any]) -> None:
        """Bind in `namespace` every global name `code` reads, Python functions compiled."""
        for name in _global_names(code):
            if name in values:
                self.frozen.note(values, name)
                namespace[name] = self.function(values[name])
            elif hasattr(builtins, name):
                namespace[name] = self.function(getattr(builtins, name))


_EMPTY = object()
_FILES: dict[str, str] = {}  # a generated file name -> the file of the user's function


def _user_function(f: Any) -> Any:
    """The user's function a generated one derives from (through derivatives of derivatives)."""
    original = getattr(getattr(f, "__adgen__", None), "original", None)
    while hasattr(original, "__adgen__"):
        original = original.__adgen__.original
    return original


def _remember_file(f: Any) -> None:
    original = _user_function(f)
    code = getattr(original, "__code__", None)
    if code is not None and not code.co_filename.startswith("<adgen "):
        _FILES[f.__code__.co_filename] = code.co_filename


def _closure_items(f: Any) -> list[Any]:
    """The values of `f`'s closure cells, `_EMPTY` for a cell not bound yet."""
    out = []
    for c in f.__closure__ or ():
        try:
            out.append(c.cell_contents)
        except ValueError:
            out.append(_EMPTY)
    return out


def _global_names(code: Any) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


# ---------------------------------------------------------------- what Numba said


_LOCATION = re.compile(r'File "([^"]+)", line (\d+)')
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NOISE = ("Failed in ", "During:", "File ", "- Resolution failure", "Rewrite", "No implementation")


def describe(exc: BaseException) -> str:
    """Numba's error as one sentence: the construct, the generated statement, the user's line."""
    text = _ANSI.sub("", str(exc))
    places = _LOCATION.findall(text)
    if any(not f.startswith(numba_checkpoint.BLOCK) for f, _ in places):  # not the shim
        places = [p for p in places if not p[0].startswith(numba_checkpoint.BLOCK)]
    what = _construct(text, type(exc).__name__)
    if not places:
        return f"Numba cannot compile it ({what})"
    filename, number = places[-1][0], int(places[-1][1])
    lines = linecache.getlines(filename)
    statement = lines[number - 1].strip() if 0 < number <= len(lines) else "?"
    if not filename.startswith("<adgen ") and filename not in _FILES:
        return f"Numba cannot compile `{statement}` ({filename}, line {number}): {what}"
    origin = _origin(lines, number, _FILES.get(filename))
    return f"Numba cannot compile `{statement}`{origin}: {what}"


def _construct(text: str, kind: str) -> str:
    """The first line of Numba's message that says what failed (for a call no implementation
    matches, the call's signature)."""
    for line in text.splitlines():
        if line.strip().startswith(">>> "):
            return f"no compiled form of {line.strip()[4:]}"
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(_NOISE) and not line.startswith(">"):
            return line[:300]
    for line in text.splitlines():
        if line.strip().startswith("No implementation"):
            return line.strip()[:300]
    return kind


def _call_site(fn: Any, name: str) -> str:
    """` (from line N of file.py: text)`: the user's line where the generated function `fn`
    calls `name`."""
    _remember_file(fn)
    filename = fn.__code__.co_filename
    lines = linecache.getlines(filename)
    call = re.compile(rf"\b{re.escape(name)}\(")
    number = next((i + 1 for i, text in enumerate(lines) if call.search(text)), 0)
    return _origin(lines, number, _FILES.get(filename)) if number else ""


def _origin(lines: list[str], number: int, user_file: str | None) -> str:
    """`(from line N of file.py: text)`: the user's line a generated line came from (the
    comment above it)."""
    for text in reversed(lines[: number]):
        comment = text.strip()
        if comment.startswith(("# line ", "# adjoint of ")):
            place = comment[2:]
            if user_file:
                head, _, rest = place.partition(": ")
                place = f"{head} of {user_file}: {rest}"
            return f" (from {place})"
    return ""
