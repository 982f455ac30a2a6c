"""Checking one generated program: derivatives against differences, modes, determinism.

`check(program)` writes the module to a temporary directory, imports it as a fresh module and,
at a random point where `f` is smooth, checks that the gradients (wrt x and y) of reverse mode
(`adgen.grad`, the default) and of forward mode agree with Richardson-extrapolated central
differences to `FD_RTOL` relative and with each other to `MODE_RTOL` (each with an absolute
floor for rounding noise) and have the arguments' shapes; that no derivative changed its
arguments; that the generated sources compile; and that importing the module a second time gives
a byte-identical reverse-mode source (`twice=False` skips that). A point is smooth when the
extrapolations from the step pairs (1e-3, 5e-4) and (5e-4, 2.5e-4) agree to 1e-7 and the mean
of f at x + h and x - h departs from f(x) as h^2: next to a branch boundary or a change of trip
count, or at a point that rounding alone puts on the other side of one, they don't, and
another point is drawn; a program
with no smooth point in `DRAWS` draws is "skip"ped. Any exception from adgen or from a
derivative is a failure; so is a check running past its time limit (SIGALRM, main thread only).
adgen's caches are cleared after each check, so that long runs do not grow.

A program of order 2 (it has a recursive helper) also has d2f/dx2 checked, three ways: reverse
over reverse (`grad(grad(f))`), forward over reverse (`hessian`) and `hvp`, each against
Richardson-extrapolated central differences of the reverse gradient and against each other (at
points where those differences are not smooth, only the modes are compared). A program marked
`refused` writes through an alias: it passes when both modes raise adgen's own
`DifferentiationError` or `UnsupportedSyntax`, and fails ("alias not refused") when a mode returns
a number; any other exception is a failure as usual.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import itertools
import linecache
import math
import os
import random
import shutil
import signal
import tempfile
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import adgen
from adgen import pipeline
from adgen.fuzz.generate import Program, sample

FD_RTOL, MODE_RTOL = 1e-6, 1e-10
DRAWS = 10
TIME_LIMIT = 60.0  # seconds for one check; shrinking allows less
_STEPS = (1e-3, 5e-4, 2.5e-4)


@dataclass(frozen=True)
class Outcome:
    """The result of checking one program: "pass", "fail" or "skip" (no smooth point)."""

    status: str
    kind: str = ""  # what failed: a check's name, "error: <type>", "primal: <type>", ...
    detail: str = ""
    args: tuple = ()


class _Modules:
    """Writes sources to a temporary directory and imports each as a fresh module."""

    def __init__(self) -> None:
        self.directory: Path | None = None
        self.counter = itertools.count()

    def prepare(self) -> None:
        """The directory, made once (before worker processes fork: they share it, named
        apart by process, and the parent removes it at exit)."""
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="adgen_fuzz_"))
            atexit.register(shutil.rmtree, self.directory, ignore_errors=True)

    def write(self, source: str) -> Path:
        self.prepare()
        path = self.directory / f"program_{os.getpid()}_{next(self.counter)}.py"
        path.write_text(source)
        return path

    def load(self, path: Path) -> Any:
        """A fresh module from the file, under a name never used before."""
        spec = importlib.util.spec_from_file_location(f"adgen_fuzz_{next(self.counter)}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


_MODULES = _Modules()


def prepare_workers() -> None:
    """Before `check` runs in worker processes (`--jobs`): their files' directory."""
    _MODULES.prepare()


def _forget(functions: list[Any]) -> None:
    """Drop what adgen and linecache keep for checked programs (memory over long runs)."""
    for g in functions:
        linecache.cache.pop(g.__adgen__.filename, None)
    pipeline.clear_cache()


# ---------------------------------------------------------------- checking


def _coordinates(args: tuple) -> list[tuple[int, Any]]:
    """(argument, index) of every differentiated scalar: x, then each entry of y."""
    entries = [(1, i) for i in np.ndindex(np.shape(args[1]))] if np.ndim(args[1]) else [(1, None)]
    return [(0, None), *entries]


def _moved(args: tuple, slot: int, index: Any, h: float) -> list[Any]:
    moved = list(args)
    if index is None:
        moved[slot] = args[slot] + h
    else:
        moved[slot] = args[slot].copy()
        moved[slot][index] += h
    return moved


def _sides(f: Callable[..., Any], args: tuple, slot: int, index: Any, h: float) -> tuple:
    return float(f(*_moved(args, slot, index, h))), float(f(*_moved(args, slot, index, -h)))


def _central(f: Callable[..., Any], args: tuple, slot: int, index: Any, h: float) -> float:
    up, down = _sides(f, args, slot, index, h)
    return (up - down) / (2.0 * h)


def _differences(f: Callable[..., Any], args: tuple, value: float) -> tuple | None:
    """Richardson-extrapolated central differences, (d/dx, d/dy); None where f is not smooth."""
    floor = 1e-9 * (1.0 + abs(value))
    out = []
    for slot, index in _coordinates(args):
        sides = [_sides(f, args, slot, index, h) for h in _STEPS]
        d = [(up - down) / (2.0 * h) for (up, down), h in zip(sides, _STEPS, strict=True)]
        coarse, fine = (4.0 * d[1] - d[0]) / 3.0, (4.0 * d[2] - d[1]) / 3.0
        if not math.isfinite(fine) or abs(coarse - fine) > 1e-7 * abs(fine) + floor:
            return None
        # the mean of the neighbours departs from f(x) by f''h^2/2 where f is smooth; a point
        # alone on its side of a branch (a test of two values equal but for rounding) is
        # off by the same step at every h, which the differences around it never see
        off = [(up + down) / 2.0 - value for up, down in sides]
        if abs(off[1] / 4.0 - off[2]) > floor:
            return None
        out.append(fine)
    dy = np.array(out[1:]).reshape(np.shape(args[1])) if np.ndim(args[1]) else out[1]
    return out[0], dy


def _at(f: Callable[..., Any], args: tuple) -> tuple | None:
    value = float(f(*args))
    if not math.isfinite(value) or abs(value) > 1e6:
        return None
    fd = _differences(f, args, value)
    return None if fd is None else (args, value, fd)


def _point(f: Callable[..., Any], program: Program) -> tuple | None:
    rng = random.Random(f"points:{program.seed}")
    for _ in range(DRAWS):
        found = _at(f, sample(program, rng))
        if found is not None:
            return found
    return None


def _derivatives(module: Any, args: tuple) -> tuple[list[Any], dict[str, Any]]:
    rev = adgen.grad(module.f, wrt=(0, 1))
    fwd = adgen.grad(module.f, wrt=(0, 1), mode="forward")
    return [rev, fwd], {"reverse": rev(*args), "forward": fwd(*args)}


def _compare(check: str, got: Any, want: Any, rtol: float, floor: float) -> tuple | None:
    g, w = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if g.shape != w.shape:
        return check, f"{check}: shape {g.shape}, expected {w.shape}"
    error = np.abs(g - w)
    allowed = rtol * np.maximum(np.abs(g), np.abs(w)) + floor
    if np.all(error <= allowed):
        return None
    return check, (f"{check}: got {got!r}, expected {want!r} (error {np.max(error):.3g}, "
                   f"allowed {np.max(allowed):.3g})")


def _verify(results: dict[str, Any], primal: float, fd: tuple) -> list[tuple]:
    floor = 1e-8 * (1.0 + abs(primal))
    found: list[tuple | None] = []
    for mode, grads in results.items():
        if not (isinstance(grads, tuple) and len(grads) == 2 and np.ndim(grads[0]) == 0):
            found.append((f"{mode} result", f"{mode}: expected (float, y-shaped), got {grads!r}"))
            continue
        for label, got, want in zip("xy", grads, fd, strict=True):
            found.append(_compare(f"{mode} gradient wrt {label} vs central differences", got,
                                  want, FD_RTOL, floor))
    scale = 1.0 + abs(primal) + max(float(np.max(np.abs(d))) for d in fd)
    for k, label in enumerate("xy"):
        found.append(_compare(f"forward vs reverse gradient wrt {label}",
                              results["forward"][k], results["reverse"][k], MODE_RTOL,
                              1e-12 * scale))
    return [p for p in found if p is not None]


def _second(f: Callable[..., Any], args: tuple, primal: float, built: list[Any]) -> list[tuple]:
    """d2f/dx2 by reverse over reverse, hessian and hvp, against differences of the gradient."""
    g = adgen.grad(f, wrt=0)
    rr, fr, hv = adgen.grad(g, wrt=0), adgen.hessian(f, wrt=0), adgen.hvp(f, wrt=0)
    built += [g, rr]
    results = {"reverse over reverse": rr(*args), "hessian": fr(*args),
               "hvp": hv(*args, 1.0)}
    d = [_central(g, args, 0, None, h) for h in _STEPS]
    coarse, fine = (4.0 * d[1] - d[0]) / 3.0, (4.0 * d[2] - d[1]) / 3.0
    scale = 1.0 + abs(primal) + abs(float(g(*args)))
    smooth = math.isfinite(fine) and abs(coarse - fine) <= 1e-7 * abs(fine) + 1e-9 * scale
    found = [_compare(f"{mode} second derivative wrt x vs central differences", got, fine,
                      FD_RTOL, 1e-8 * scale) for mode, got in results.items() if smooth]
    found += [_compare(f"{mode} vs reverse over reverse second derivative", got,
                       results["reverse over reverse"], MODE_RTOL, 1e-12 * (scale + abs(fine)))
              for mode, got in results.items() if mode != "reverse over reverse"]
    return [p for p in found if p is not None]


def _refused(module: Any, program: Program, args: tuple | None) -> Outcome:
    """Both modes must refuse `f` with adgen's own error."""
    if args is None:
        args = sample(program, random.Random(f"points:{program.seed}"))
    float(module.f(*args))
    for mode in ("reverse", "forward"):
        try:
            got = adgen.grad(module.f, wrt=(0, 1), mode=mode)(*args)
        except (adgen.DifferentiationError, adgen.UnsupportedSyntax):
            continue
        except Exception as exc:
            return Outcome("fail", f"error: {type(exc).__name__}", _exception(exc), args)
        return Outcome("fail", "alias not refused",
                       f"{mode} mode returned {got!r} for a write through an alias", args)
    return Outcome("pass", "refused", args=args)


def _exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:]).rstrip()


class CheckTimeout(Exception):
    """A check ran past its time limit (a shrunk program may loop forever)."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Any:
    """Raise CheckTimeout after `seconds`; only in the main thread of a Unix process."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not \
            threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CheckTimeout(f"the check took more than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check(program: Program, args: tuple | None = None, twice: bool = True,
          seconds: float = TIME_LIMIT) -> Outcome:
    """Check adgen on `program` at `args`, or at a random smooth point when `args` is None.

    `twice=False` skips the second import and the determinism check (for shrinking). A check
    that takes longer than `seconds` fails with a CheckTimeout."""
    path = _MODULES.write(program.source)
    functions: list[Any] = []
    try:
        with np.errstate(all="ignore"), _time_limit(seconds):  # nan in shrunk programs is fine
            return _check(program, path, 2 if twice else 1, args, functions)
    finally:
        _forget(functions)
        linecache.cache.pop(str(path), None)
        path.unlink()


def _check(program: Program, path: Path, copies: int, args: tuple | None,
           functions: list[Any]) -> Outcome:
    try:
        modules = [_MODULES.load(path) for _ in range(copies)]
        if program.refused:
            return _refused(modules[0], program, args)
        found = _point(modules[0].f, program) if args is None else _at(modules[0].f, args)
    except Exception as exc:  # the generated primal itself failed: a generator bug
        return Outcome("fail", f"primal: {type(exc).__name__}", _exception(exc), args or ())
    if found is None:
        return Outcome("skip")
    args, primal, fd = found
    try:
        kept = (args[0], np.copy(args[1]), args[2])
        built, results = _derivatives(modules[0], args)
        functions += built
        sources = [adgen.source(g) for g in built]
        for text in sources:
            compile(text, "<adgen generated>", "exec")
        problems = _verify(results, primal, fd)
        if program.order == 2 and not problems:
            problems = _second(modules[0].f, args, primal, functions)
        if not np.array_equal(args[1], kept[1], equal_nan=True):
            problems.insert(0, ("mutated argument", f"a derivative changed y to {args[1]!r}"))
            args = kept
        if len(modules) == 2:
            again = adgen.grad(modules[1].f, wrt=(0, 1))
            functions.append(again)
            if adgen.source(again) != sources[0]:
                problems.append(("nondeterministic", "two imports gave different sources"))
    except Exception as exc:
        return Outcome("fail", f"error: {type(exc).__name__}", _exception(exc), args)
    if problems:
        return Outcome("fail", problems[0][0], "\n".join(d for _, d in problems), args)
    return Outcome("pass", args=args)
