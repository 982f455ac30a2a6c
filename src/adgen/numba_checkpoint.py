"""Compiled derivatives through loops marked `adgen.checkpointed`, for `compile="numba"`.

A marked loop's reverse derivative is a driver object (`runtime_checkpoint.Checkpointed`,
`CheckpointedWhile`, and `CheckpointedTangent` for `hvp`): the generated code calls its
bound methods (`f_loop_fwd`, `f_loop_bwd`), and the driver runs the schedule in Python, calling
the loop over a block of steps (`f_advance`), the block's stack-replay `vjp` and, for a `while`
loop, the trip counter (`f_trips`). Compiled code cannot call a Python object, but the work is
in the blocks: so for compiled code the derivative stays a Python function whose drivers are
copies calling those three compiled (`with_compiled_blocks`). The schedule's own work is per
block (up to 256 steps for a small state), not per step.

Numba takes no `range` argument, and a block is a range of steps: each compiled block is a
small function taking the range's start, stop and step (`Blocks`), one per argument
signature, compiled with the variant specialised to the block's arguments. What Numba cannot
compile runs uncompiled with a `CompileWarning`, as for any compiled derivative.

Only the function handed out is rewritten so: a marked loop inside a function it calls keeps
the whole derivative uncompiled (`nested`), with a warning naming the loop's line.
"""

from __future__ import annotations

import copy
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from adgen.runtime_checkpoint import Checkpointed, CheckpointedTangent

Compile = Callable[[Any, tuple], Any]
"""`jit(fn, args)`: `fn` compiled for arguments like `args`, or a string saying why not."""
Select = Callable[[Any, tuple], Any]
"""`select(fn, args)`: the generated function that runs for `args` (`compiled.specialised`)."""

DRIVER = "adgen_driver_method"
"""The attribute of a checkpointed loop's derivative function (`derive.checkpoint`) naming
the driver's bound method it calls."""


BLOCK = "<compiled block "
"""How the file name of a block's function (`_block_function`) starts."""


def driver_method(f: Any) -> Any:
    """The bound driver method `f` calls, if `f` is a checkpointed loop's derivative."""
    method = getattr(f, DRIVER, None)
    if isinstance(method, types.MethodType) and isinstance(
            method.__self__, (Checkpointed, CheckpointedTangent)):
        return method
    return None


def references(f: Any) -> dict[str, Any]:
    """The values of the names `f` reads (closure cells and globals), by name."""
    code = f.__code__
    out = {n: f.__globals__[n] for n in _names(code) if n in f.__globals__}
    for name, cell in zip(code.co_freevars, f.__closure__ or (), strict=True):
        try:
            out[name] = cell.cell_contents
        except ValueError:  # a cell not bound yet
            continue
    return out


def calls_checkpointed(f: Any) -> bool:
    """Whether the generated function `f` calls a checkpointed loop's derivative itself."""
    return any(driver_method(v) is not None for v in references(f).values())


def nested(f: Any) -> tuple[Any, str] | None:
    """A checkpointed loop's derivative that the generated function `f` reaches through
    another generated function: that function and the name it calls it by; or None."""
    seen, todo = {id(f)}, [v for v in references(f).values() if _generated(v)]
    while todo:
        g = todo.pop()
        if id(g) in seen:
            continue
        seen.add(id(g))
        for name, v in references(g).items():
            if driver_method(v) is not None:
                return g, name
            if _generated(v):
                todo.append(v)
    return None


def with_compiled_blocks(f: Any, jit: Compile, select: Select) -> Any:
    """`f`, a generated function calling checkpointed loops' derivatives, as a Python function
    whose drivers run their blocks compiled: `select(fn, args)` chooses what runs for a
    block's arguments, `jit` compiles it."""
    drivers: dict[int, Any] = {}
    values = references(f)

    def swapped(v: Any) -> Any:
        method = driver_method(v)
        if method is None:
            return v
        return getattr(_driver(method.__self__, (jit, select), drivers), method.__func__.__name__)

    namespace = dict(f.__globals__)
    namespace.update({n: swapped(v) for n, v in values.items() if n in namespace})
    cells = []
    for name in f.__code__.co_freevars:
        cells.append(types.CellType(swapped(values[name])) if name in values
                     else types.CellType())
    out = types.FunctionType(f.__code__, namespace, f.__name__, f.__defaults__, tuple(cells))
    out.__adgen__ = getattr(f, "__adgen__", None)  # type: ignore[attr-defined]
    return out


def _driver(d: Any, how: tuple[Compile, Select], made: dict[int, Any]) -> Any:
    """A copy of the driver `d` whose loop, block `vjp` and trip counter are compiled."""
    if id(d) in made:
        return made[id(d)]
    out = made[id(d)] = copy.copy(d)
    if isinstance(d, CheckpointedTangent):
        out.first = _driver(d.first, how, made)
        out.inner = _driver(d.inner, how, made)
        return out
    out.loop = Blocks(d.loop, *how)
    out.vjp = Blocks(d.vjp, *how)
    if getattr(d, "trips", None) is not None:
        out.trips = Blocks(d.trips, *how)
    return out


class Blocks:
    """`fn` (a loop over a range of steps, its `vjp`, or a trip counter) compiled per argument
    signature, a `range` argument passed as its start, stop and step."""

    def __init__(self, fn: Any, jit: Compile, select: Select) -> None:
        self.fn = fn
        self.jit = jit
        self.select = select
        self.entries: dict[tuple, Any] = {}
        self.__name__ = fn.__name__

    def __call__(self, *args: Any) -> Any:
        key = tuple(type(a) if type(a) is not np.ndarray else (a.dtype, a.shape, a.strides)
                    for a in args)
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = self._prepare(args)
        return entry(*args)

    def _prepare(self, args: tuple) -> Any:
        ranges = [i for i, a in enumerate(args) if type(a) is range]
        flat = _flat(args, ranges)
        chosen = self.select(self.fn, args) if hasattr(self.fn, "__adgen__") else self.fn
        compiled = self.jit(_block_function(chosen, args, ranges), flat)
        if isinstance(compiled, str):
            return self.fn
        if not ranges:
            return compiled
        return lambda *a: compiled(*_flat(a, ranges))


def _flat(args: tuple, ranges: list[int]) -> tuple:
    out: list[Any] = []
    for i, a in enumerate(args):
        out += (a.start, a.stop, a.step) if i in ranges else (a,)
    return tuple(out)


def _block_function(fn: Any, args: tuple, ranges: list[int]) -> Any:
    """`fn` taking each range argument as three integers: `def f_block(_s0, _e0, _d0, x):
    return fn(range(_s0, _e0, _d0), x)`."""
    params, passed = [], []
    for i in range(len(args)):
        if i in ranges:
            params += [f"_s{i}", f"_e{i}", f"_d{i}"]
            passed.append(f"range(_s{i}, _e{i}, _d{i})")
        else:
            params.append(f"_a{i}")
            passed.append(f"_a{i}")
    name = f"{fn.__name__}_block"
    source = f"def {name}({', '.join(params)}):\n    return _fn({', '.join(passed)})\n"
    scope: dict[str, Any] = {"_fn": fn}
    exec(compile(source, f"{BLOCK}{name}>", "exec"), scope)
    return scope[name]


def _names(code: Any) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _generated(f: Any) -> bool:
    return isinstance(f, types.FunctionType) and f.__code__.co_filename.startswith("<adgen ")

