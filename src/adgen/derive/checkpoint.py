"""The reverse derivative of a checkpointed loop's loop function (`frontend.checkpoint`), and
its tangent (forward over reverse: `hvp`, `hessian`).

A call of the loop function speaks the callee protocol of every user function
(`value, tape = f_loop_fwd(...)`, `f_loop_bwd(tape, cotangent)`); here the pair is not
generated from the loop's source but is a `runtime_checkpoint.Checkpointed` driver, which runs
the binomial schedule over blocks of steps and reverses each block with the generated `vjp` (stack
replay, specialised to the arguments) of the loop itself (`f_advance`) over that block.

Forward mode over a gradient asks for the tangents of that pair (`f_loop_fwd_jvp`,
`f_loop_bwd_jvp`); they are a `runtime_checkpoint.CheckpointedTangent`, which runs the same
schedule over the loop's tangent (`frontend.checkpoint.tangent_advance`, the loop over the
carried values and their tangents), reversing its blocks by stack replay: reverse over
forward gives the tangent of the reverse sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adgen.codegen.emit import Generated
from adgen.derive.forward import NotBatchable
from adgen.errors import DifferentiationError
from adgen.frontend.checkpoint import CheckpointedLoop, tangent_advance
from adgen.program import Program
from adgen.runtime_checkpoint import Checkpointed, CheckpointedTangent, CheckpointedWhile


@dataclass
class Split:
    """What a loop function's `fwd`/`bwd` pair was built from (`adgen_checkpointed` on both)."""

    loop: CheckpointedLoop
    driver: Checkpointed
    params: list[str]
    scalar: frozenset[str]
    inner: list[Checkpointed] = field(default_factory=list)  # the tangent loop's, once built


def checkpointed_loop(f: Any) -> CheckpointedLoop | None:
    """The loop `f` is the loop function of, or None for any other function."""
    loop = getattr(f, "__adgen_checkpoint__", None)
    return loop if isinstance(loop, CheckpointedLoop) else None


def checkpointed_part(f: Any) -> tuple[str, Split] | None:
    """`("fwd" | "bwd", split)` for a checkpointed loop's derivative pair, else None."""
    part = getattr(f, "adgen_checkpointed", None)
    return part if isinstance(part, tuple) else None


def build_split(program: Program, f: Any, loop: CheckpointedLoop, wrt: list[str],
                scalar_params: frozenset[str]) -> Any:
    """`f_loop_fwd` with `__adgen__.info["bwd"]`, as the pipeline builds for kind `split`."""
    params = list(f.__code__.co_varnames[: f.__code__.co_argcount])
    active = [j for j, p in enumerate(loop.inputs) if p in wrt]
    block_wrt = (*loop.carried, *(loop.inputs[j] for j in active))
    own = {*loop.carried, *loop.inputs}
    scalar = frozenset(p for p in scalar_params if p in own)
    block = program.derivative(loop.advance, block_wrt, "vjp", scalar)
    rest = (loop.advance, block, len(loop.carried), active, [params.index(p) for p in wrt])
    driver = Checkpointed(*rest) if loop.trips is None else CheckpointedWhile(
        loop.trips, loop.over_steps, *rest)

    base = f.__name__
    fwd = _named(f"{base}_fwd", params, driver.forward)
    bwd = _named(f"{base}_bwd", ["_tape", "cotangent"], driver.backward)
    split = Split(loop, driver, params, scalar)
    fwd.adgen_checkpointed, bwd.adgen_checkpointed = ("fwd", split), ("bwd", split)
    source = (f"# {base}: reversed by a checkpointing schedule "
              f"(adgen.runtime_checkpoint.{type(driver).__name__}) running {loop.advance.__name__}"
              f" and reversing blocks of steps with {block.__name__}\n")
    bound = {"advance": loop.advance, "advance_vjp": block, bwd.__name__: bwd}
    info = {"bwd": bwd, "wrt": list(wrt), "single": False, "general": fwd.__name__,
            "reentrant": True, "tape_positions": None, "checkpointed": driver}
    fwd.__adgen__ = Generated(source, f"<adgen {base} split>", bound, "split", f, info)
    return fwd


def build_tangent(program: Program, f: Any, wrt: Any, kind: str) -> Any:
    """`f_loop_fwd_jvp` or `f_loop_bwd_jvp` (`CheckpointedTangent`) for a pair `build_split`
    made: the tangents a forward-mode caller (a gradient's `hvp`) asks for."""
    part, split = checkpointed_part(f)  # type: ignore[misc]
    if kind == "batched_jvp":  # the Jacobian then takes one direction at a time
        raise NotBatchable(f"{f.__name__} reverses a checkpointed loop")
    if kind != "jvp":
        raise DifferentiationError(
            f"cannot differentiate {f.__name__} in {kind} mode: a loop marked "
            "`adgen.checkpointed` has second derivatives by forward over reverse (hvp, "
            "hessian); remove the marker for others")
    names = [wrt] if isinstance(wrt, str) else list(wrt)
    loop, first = split.loop, split.driver
    params = split.params if part == "fwd" else ["_tape", "cotangent"]
    dotted = [params.index(p) for p in names]
    active = {loop.inputs[j] for j in first.active}
    stray = [p for p in names if part == "fwd" and p not in loop.carried and p not in active]
    if stray:
        raise DifferentiationError(
            f"cannot differentiate {f.__name__}: the input `{stray[0]}` of the checkpointed "
            "loop has a tangent but no first-order adjoint; remove the marker for this "
            "second derivative")
    driver = CheckpointedTangent(first, _inner(program, split), dotted, "cotangent" in names)
    base = f"{f.__name__}_jvp"
    target = driver.forward if part == "fwd" else driver.backward
    fn = _named(base, [*params, *(f"_dot{j}" for j in range(len(names)))], target)
    source = (f"# {base}: the tangent of {f.__name__}, by the checkpointing schedule over the "
              f"loop's tangent (adgen.runtime_checkpoint.CheckpointedTangent)\n")
    info = {"wrt": names, "single": False, "general": base, "checkpointed": driver}
    fn.__adgen__ = Generated(source, f"<adgen {base} jvp>", {}, "jvp", f, info)
    return fn


def _inner(program: Program, split: Split) -> Checkpointed:
    """The driver of the loop's tangent (built once per pair)."""
    if split.inner:
        return split.inner[0]
    loop, first = split.loop, split.driver
    active = [loop.inputs[j] for j in first.active]
    jvp, _ = program.callee_derivative(loop.advance, (*loop.carried, *active), "jvp",
                                       split.scalar)
    tangent = tangent_advance(loop, jvp, active)
    params = list(tangent.__code__.co_varnames[: tangent.__code__.co_argcount])
    k, m = len(loop.carried), len(loop.inputs)
    inputs_at = 1 + 2 * k
    wrt = (*params[1: inputs_at], *(params[inputs_at + j] for j in first.active),
           *params[inputs_at + m:])
    block = program.derivative(tangent, wrt, "vjp", split.scalar)
    inner = Checkpointed(tangent, block, 2 * k, [*first.active, *range(m, m + len(active))], [])
    split.inner.append(inner)
    return inner


def _named(fname: str, params: list[str], target: Any) -> Any:
    """`def fname(p1, ..., pk): return target(p1, ..., pk)`: a function with the loop
    function's own parameters, as callers of a user function's derivative expect."""
    listed = ", ".join(params)
    scope: dict[str, Any] = {}
    exec(f"def {fname}({listed}):\n    return _target({listed})\n", {"_target": target}, scope)
    scope[fname].adgen_driver_method = target  # what compiled code calls instead (numba_checkpoint)
    return scope[fname]


__all__ = ["build_split", "build_tangent", "checkpointed_loop", "checkpointed_part"]
