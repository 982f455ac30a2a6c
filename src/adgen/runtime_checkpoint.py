"""The run-time side of binomial checkpointing (Griewank's revolve).

`checkpointed(range(n), snapshots=s)` marks a `for` loop; at run time it returns its iterable
unchanged. The front end lifts the marked loop's body into a step function
`step(t, *carried, *inputs) -> carried` and the reverse derivative of the loop is a
`Checkpointed` driver: its forward sweep runs the loop once and keeps at most `s` snapshots of
the carried state; its reverse sweep recomputes forward with the primal step from the nearest
snapshot and runs the step's own generated forward and backward functions once per step.

The schedule: a segment of `l` steps whose first state is held, with `c` snapshots free (the
held one counted), is reversed by storing the state `m` steps in, `m` half way between
`l - C(c - 1 + r, c - 1)` and `C(c + r - 1, c)` with `r` the least such that
`C(c + r, c) >= l`; then the `l - m` steps after it are reversed with `c - 1` snapshots, the
snapshot is freed, and the first `m` steps are reversed with `c`. A segment of at most `c`
steps is reversed as stack replay does (each step's tape kept, one slot per step); with one
snapshot, each step is recomputed from the segment's start. So `n` steps with `s` snapshots
hold at most `s` states or tapes at once and run each step forward at most `r + 1` times (the
forward sweep and `r` recomputations), `r` the least with `C(s + r, s) >= n` (Griewank and
Walther, "Algorithm 799: revolve", 2000).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from math import ceil, comb, log2
from typing import Any

from adgen.runtime import owned_copy


def checkpointed(iterable: Any, snapshots: int | None = None) -> Any:
    """`iterable` itself: marks a `for` loop adgen reverses with a binomial schedule keeping
    at most `snapshots` copies of the loop-carried state (default ⌈log2 n⌉ + 1)."""
    return iterable


def default_snapshots(n: int) -> int:
    """⌈log2 n⌉ + 1 snapshots (at least 2): about log2 n recomputations per step."""
    return max(2, ceil(log2(max(n, 2))) + 1)


def repetitions(n: int, snapshots: int) -> int:
    """The least `r` with `C(snapshots + r, snapshots) >= n`: the binomial bound on how many
    times the reverse sweep recomputes one step."""
    r = 0
    while comb(snapshots + r, snapshots) < n:
        r += 1
    return r


@lru_cache(maxsize=1024)
def split_point(length: int, free: int) -> int:
    """How many steps after a held state the next snapshot goes, `free >= 2` snapshots: half
    way between the fewest that leave the rest reversible with `free - 1` snapshots and the
    most that `free` snapshots reverse with one repetition fewer."""
    r = repetitions(length, free)
    fewest = max(1, length - comb(free - 1 + r, free - 1))
    most = max(1, min(comb(free + r - 1, free), length - 1))
    return (fewest + most) // 2


def _copy(state: tuple) -> tuple:
    if len(state) == 1:
        v = state[0]
        return state if type(v) is float else (owned_copy(v),)
    return tuple(v if type(v) is float else owned_copy(v) for v in state)


class Stats:
    """What the last reverse sweep did (for tests and benchmarks)."""

    def __init__(self) -> None:
        self.held = 0            # the most snapshots held at once
        self.evaluations = 0     # primal step calls, the forward sweep included
        self.reversed = 0        # steps reversed (calls of the step's backward function)
        self.ranges: list[tuple[int, int]] | None = None  # (start, stop) of every advance


LAST = Stats()


class Checkpointed:
    """The reverse derivative of one marked loop: `forward` and `backward` follow the callee
    protocol (`value, tape = fwd(...)`, `bwd(tape, cotangent)`).

    `loop(steps, *carried, *inputs)` runs the loop over `steps`; `step_fwd`/`step_bwd` are the
    step function's split derivative with respect to every
    carried value and the active inputs (`positions`: the step's parameters its backward
    function takes in place of a tape, or None); `carried` is how many carried values,
    `active` which inputs are differentiated, `wanted` which of the loop function's own
    parameters (steps, snapshots, carried..., inputs...) the caller asked gradients for."""

    def __init__(self, loop: Callable, step_fwd: Callable, step_bwd: Callable,
                 positions: Sequence[int] | None, carried: int, active: Sequence[int],
                 wanted: Sequence[int]) -> None:
        self.loop, self.fwd, self.bwd = loop, step_fwd, step_bwd
        self.positions = positions
        self.k = carried
        self.active = list(active)
        self.wanted = list(wanted)

    def advance(self, steps: range, state: tuple, inputs: tuple, start: int, stop: int) -> tuple:
        """The carried state after steps `start..stop-1` from `state` (which it may change)."""
        if start == stop:
            return state
        LAST.evaluations += stop - start
        if LAST.ranges is not None:
            LAST.ranges.append((start, stop))
        out = self.loop(steps[start:stop], *state, *inputs)
        return (out,) if self.k == 1 else tuple(out)

    def forward(self, steps: range, snapshots: int | None, *args: Any) -> tuple[Any, Any]:
        """Run the loop once, keeping the snapshots of the schedule's first descent."""
        state, inputs = tuple(args[: self.k]), tuple(args[self.k:])
        n = len(steps)
        s = default_snapshots(n) if snapshots is None else int(snapshots)
        if s < 1:
            raise ValueError(f"checkpointed loop: snapshots={snapshots!r}; give at least 1")
        ranges = LAST.ranges
        LAST.__init__()
        LAST.ranges = None if ranges is None else []
        held = [(0, _copy(state))]
        a, current = 0, _copy(state)
        while n - a > 1 and s - len(held) + 1 >= 2:
            m = a + split_point(n - a, s - len(held) + 1)
            current = self.advance(steps, current, inputs, a, m)
            held.append((m, _copy(current)))
            a = m
        current = self.advance(steps, current, inputs, a, n)
        LAST.held = len(held)
        value = current[0] if self.k == 1 else current
        return value, (steps, s, held, inputs)

    def backward(self, tape: Any, cotangent: Any) -> Any:
        """The adjoints of the wanted parameters, reversing the steps by the schedule."""
        steps, s, held, inputs = tape
        held = list(held)  # the tape stays as it was: the backward function may run again
        g = (cotangent,) if self.k == 1 else tuple(cotangent)
        sums: list[Any] = [0.0] * len(self.active)
        b = len(steps)
        while held:
            a, snapshot = held[-1]
            free = s - len(held) + 1
            if b - a <= free:  # a slot per step: taped forward, then reversed, as stack replay
                held.pop()
                LAST.held = max(LAST.held, len(held) + b - a)
                g = self.replay(steps, _copy(snapshot), inputs, a, b, g, sums)
                b = a
            elif free >= 2:
                m = a + split_point(b - a, free)
                held.append((m, _copy(self.advance(steps, _copy(snapshot), inputs, a, m))))
                LAST.held = max(LAST.held, len(held))
            else:
                state = self.advance(steps, _copy(snapshot), inputs, a, b - 1)
                g = self.replay(steps, state, inputs, b - 1, b, g, sums)
                b -= 1
        return self.gradients(g, sums)

    def replay(self, steps: range, state: tuple, inputs: tuple, a: int, b: int, g: tuple,
               sums: list[Any]) -> tuple:
        """Reverse steps `a..b-1` from the state before step `a`: each step's forward function
        keeps its tape, then the backward functions run in reverse order. Returns the carried
        adjoint before step `a`, adding the inputs' adjoints into `sums`."""
        LAST.reversed += b - a
        fwd, positions, k = self.fwd, self.positions, self.k
        if b - a == 1 and k == 1 and positions is not None and not self.active:
            return (self.bwd(*((steps[a], *state, *inputs)[i] for i in positions), g[0]),)
        tapes = []
        for t in steps[a:b]:
            args = (t, *state, *inputs)
            if positions is None:
                value, taped = fwd(*args)
            else:
                value, taped = fwd(*args), tuple(args[i] for i in positions)
            tapes.append(taped)
            state = (value,) if k == 1 else tuple(value)
        bwd, active, single = self.bwd, len(self.active), k + len(self.active) == 1
        for taped in reversed(tapes):
            cot = g[0] if k == 1 else g
            grads = bwd(taped, cot) if positions is None else bwd(*taped, cot)
            if single:
                grads = (grads,)
            for j in range(active):
                sums[j] = sums[j] + grads[k + j]
            g = tuple(grads[:k])
        return g

    def gradients(self, g: tuple, sums: list[Any]) -> Any:
        by_position: dict[int, Any] = {2 + i: v for i, v in enumerate(g)}
        by_position.update({2 + self.k + i: v for i, v in zip(self.active, sums, strict=True)})
        out = tuple(by_position.get(p, 0.0) for p in self.wanted)
        return out[0] if len(out) == 1 else out
