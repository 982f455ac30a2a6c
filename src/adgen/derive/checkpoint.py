"""The reverse derivative of a checkpointed loop's loop function (`frontend.checkpoint`).

A call of the loop function speaks the callee protocol of every user function
(`value, tape = f_loop_fwd(...)`, `f_loop_bwd(tape, cotangent)`); here the pair is not
generated from the loop's source but is a `runtime_checkpoint.Checkpointed` driver, which runs
the binomial schedule over blocks of steps and reverses each block with the generated forward
and backward functions (stack replay) of the loop itself (`f_advance`) over that block.
"""

from __future__ import annotations

from typing import Any

from adgen.codegen.emit import Generated
from adgen.frontend.checkpoint import CheckpointedLoop
from adgen.program import Program
from adgen.runtime_checkpoint import Checkpointed, CheckpointedWhile


def checkpointed_loop(f: Any) -> CheckpointedLoop | None:
    """The loop `f` is the loop function of, or None for any other function."""
    loop = getattr(f, "__adgen_checkpoint__", None)
    return loop if isinstance(loop, CheckpointedLoop) else None


def build_split(program: Program, f: Any, loop: CheckpointedLoop, wrt: list[str],
                scalar_params: frozenset[str]) -> Any:
    """`f_loop_fwd` with `__adgen__.info["bwd"]`, as the pipeline builds for kind `split`."""
    params = list(f.__code__.co_varnames[: f.__code__.co_argcount])
    active = [j for j, p in enumerate(loop.inputs) if p in wrt]
    block_wrt = (*loop.carried, *(loop.inputs[j] for j in active))
    own = {*loop.carried, *loop.inputs}
    scalar = frozenset(p for p in scalar_params if p in own)
    block_fwd, block_bwd = program.callee_derivative(loop.advance, block_wrt, "split", scalar)
    meta = getattr(block_fwd, "__adgen__", None)
    positions = None if meta is None else meta.info.get("tape_positions")
    rest = (loop.advance, block_fwd, block_bwd, positions, len(loop.carried), active,
            [params.index(p) for p in wrt])
    driver = Checkpointed(*rest) if loop.trips is None else CheckpointedWhile(loop.trips, *rest)

    base = f.__name__
    fwd = _named(f"{base}_fwd", params, driver.forward)
    bwd = _named(f"{base}_bwd", ["_tape", "cotangent"], driver.backward)
    source = (f"# {base}: reversed by a binomial checkpointing schedule "
              f"(adgen.runtime_checkpoint.Checkpointed) around {block_fwd.__name__} and "
              f"{getattr(block_bwd, '__name__', 'its backward function')}\n")
    bound = {"advance": loop.advance, "advance_fwd": block_fwd, "advance_bwd": block_bwd,
             bwd.__name__: bwd}
    info = {"bwd": bwd, "wrt": list(wrt), "single": False, "general": fwd.__name__,
            "reentrant": True, "tape_positions": None, "checkpointed": driver}
    fwd.__adgen__ = Generated(source, f"<adgen {base} split>", bound, "split", f, info)
    return fwd


def _named(fname: str, params: list[str], target: Any) -> Any:
    """`def fname(p1, ..., pk): return target(p1, ..., pk)`: a function with the loop
    function's own parameters, as callers of a user function's derivative expect."""
    listed = ", ".join(params)
    scope: dict[str, Any] = {}
    exec(f"def {fname}({listed}):\n    return _target({listed})\n", {"_target": target}, scope)
    return scope[fname]


__all__ = ["build_split", "checkpointed_loop"]
