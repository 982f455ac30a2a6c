"""The run-time side of checkpointing: binomial (Griewank's revolve) and online for `while`.

`checkpointed(range(n), snapshots=s)` marks a `for` loop and `checkpointed(condition, ...)` a
`while` loop; at run time it returns its argument unchanged. The front end lifts the marked
loop into functions of its own (`frontend.checkpoint`), and the reverse derivative of the loop
is a driver here: `Checkpointed` runs the loop once keeping at most `s` snapshots of the carried
state, and its reverse sweep recomputes forward with the loop itself from the nearest snapshot
and reverses the steps with the loop's own generated `vjp` (stack replay), a block at a time.

The schedule works on blocks of `size` consecutive steps (`block_length`: `s`, or for a small
state up to 256 steps). A segment of `l` blocks whose first state is held, with `c` snapshots
free (the held one counted), is reversed by storing the state `m` blocks in, `m` half way
between `l - C(c - 1 + r, c - 1)` and `C(c + r - 1, c)` with `r` the least such that
`C(c + r, c) >= l`; then the `l - m` blocks after it are reversed with `c - 1` snapshots, the
snapshot is freed, and the first `m` blocks are reversed with `c`. With one snapshot, each
block is recomputed from the segment's start. So `n` steps with `s` snapshots hold at most `s`
states and the tape of one block at once, and run each step forward at most `r + 1` times
(the forward sweep and `r` recomputations) plus once in its block's stack replay, `r` the
least with `C(s + r, s) >= ⌈n / size⌉` (Griewank and Walther, "Algorithm 799: revolve", 2000).

`CheckpointedWhile` learns a `while` loop's trip count by running it once, keeping a few
states at doubling strides, and then places the snapshots as above from the nearest of them:
at most one forward run a step more (`r + 2`).
`CheckpointedTangent` gives the tangents of either driver's pair (forward over reverse:
`hvp`, `hessian`) by running the same schedule over the loop's tangent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from math import ceil, comb, log2
from typing import Any

from adgen.errors import DifferentiationError
from adgen.runtime import add_adjoints, owned_copy, zeros_like


def checkpointed(iterable: Any, snapshots: int | None = None,
                 memory: str | float | None = None) -> Any:
    """`iterable` itself: marks a `for` loop (`for t in checkpointed(range(n)):`) or a `while`
    loop (`while checkpointed(condition):`, returning the condition) that adgen reverses with
    a checkpointing schedule keeping at most `snapshots` copies of the loop-carried state
    (default ⌈log2 n⌉ + 1), or as many as `memory` bytes hold (`"10MB"`, `"512kB"`, a number of
    bytes; `snapshots_for`)."""
    return iterable


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20,
          "gib": 2**30}


def budget_bytes(memory: str | float) -> float:
    """`"10MB"` (also kB, GB, KiB, MiB, GiB, B; case and spaces ignored) or a number of bytes."""
    if isinstance(memory, (int, float)) and not isinstance(memory, bool):
        return float(memory)
    text = str(memory).strip().lower().replace(" ", "")
    digits = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(digits):]
    try:
        value = float(digits)
    except ValueError:
        value = -1.0
    if unit not in _UNITS or value <= 0:
        raise ValueError(f"checkpointed loop: memory={memory!r}; give bytes as a number or a "
                         "string such as '10MB' or '512kB'")
    return value * _UNITS[unit]


def state_bytes(state: tuple) -> int:
    """What one snapshot of `state` holds: arrays' buffers, containers item by item, 64 bytes
    a number (with its boxing)."""
    total, stack = 0, list(state)
    while stack:
        v = stack.pop()
        if hasattr(v, "nbytes"):
            total += int(v.nbytes) + 112
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
            total += 56 + 8 * len(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
            total += 64 + 16 * len(v)
        else:
            total += 64
    return total


BLOCK_BYTES = 65536  # what blocks of a small state may grow to (states, about their tapes)
BLOCK_STEPS = 256  # and their most steps


def block_length(snapshots: int, state: tuple) -> int:
    """How many steps a block of the schedule has: `snapshots`, or for a small state as many
    as keep `BLOCK_BYTES` of states (at most `BLOCK_STEPS`), so a step's tape, about a state,
    keeps a block's tape small while the per-block work of the schedule is spread over more
    steps."""
    return max(snapshots, min(BLOCK_STEPS, BLOCK_BYTES // state_bytes(state)))


def snapshots_for(memory: str | float, state: tuple) -> int:
    """How many snapshots `memory` bytes hold, counting for each snapshot one state and one
    step's tape of about a state (the schedule keeps at most `s` of each): at least 1."""
    return max(1, int(budget_bytes(memory) // (2 * state_bytes(state))))


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
    """How many blocks after a held state the next snapshot goes, `free >= 2` snapshots: half
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


class Stats(threading.local):
    """What the last checkpointed loop's derivative did (for tests and benchmarks), per thread:
    two threads differentiating at once each read their own figures."""

    def __init__(self) -> None:
        self.held = 0            # the most snapshots held at once
        self.evaluations = 0     # primal steps run, the forward sweep included
        self.reversed = 0        # steps reversed (by the blocks' backward functions)
        self.ranges: list[tuple[int, int]] | None = None  # steps of every primal run


LAST = Stats()


class Checkpointed:
    """The reverse derivative of one marked loop: `forward` and `backward` follow the callee
    protocol (`value, tape = fwd(...)`, `bwd(tape, cotangent)`).

    `loop(steps, *carried, *inputs)` runs the loop over `steps`; `loop_vjp(steps, *carried,
    *inputs, cotangent) -> (value, gradients)` is its generated `vjp` (stack replay, specialised
    to the arguments' types and shapes) with respect to every carried value and the active
    inputs. The schedule works on blocks of `snapshots` consecutive steps (one step when
    `snapshots` is 1): snapshots are taken at block boundaries, and a block is reversed by one
    call of the stack-replay `vjp`, which keeps the tapes of that block's steps only. `carried`
    is how many carried values, `active` which inputs are differentiated, `wanted` which of the
    loop function's parameters (steps, snapshots, carried..., inputs...) the caller asked
    gradients for."""

    def __init__(self, loop: Callable, loop_vjp: Callable, carried: int, active: Sequence[int],
                 wanted: Sequence[int]) -> None:
        self.loop, self.vjp = loop, loop_vjp
        self.k = carried
        self.active = list(active)
        self.wanted = list(wanted)

    def advance(self, steps: range, state: tuple, inputs: tuple, start: int, stop: int) -> tuple:
        """The carried state after `steps[start:stop]` from `state` (which it may change)."""
        if start >= stop:
            return state
        part = steps[start:stop]
        LAST.evaluations += len(part)
        if LAST.ranges is not None:
            LAST.ranges.append((start, start + len(part)))
        out = self.loop(part, *state, *inputs)
        return (out,) if self.k == 1 else tuple(out)

    def forward(self, steps: range, snapshots: Any, *args: Any) -> tuple[Any, Any]:
        """Run the loop once, keeping the snapshots of the schedule's first descent."""
        state, inputs = tuple(args[: self.k]), tuple(args[self.k:])
        _restart_stats()
        s = _snapshot_count(snapshots, len(steps), state)
        size = block_length(s, state)
        held, current = self.descend(steps, s, size, state, inputs)
        current = self.advance(steps, current, inputs, held[-1][0] * size, len(steps))
        value = current[0] if self.k == 1 else current
        return value, (steps, s, size, -(-len(steps) // size), held, inputs)

    def descend(self, steps: range, s: int, size: int, state: tuple, inputs: tuple,
                learned: Sequence[tuple[int, tuple]] = ()) -> tuple[list[tuple[int, tuple]],
                                                                    tuple]:
        """The snapshots of the schedule's first descent from `state` (in blocks of `size`
        steps), and the state at the last of them. `learned`: states already known after
        some steps, `(steps, state)` in order (a `while` loop's learning sweep), each a start
        for the recomputation up to the next snapshot; at most `s` states are held."""
        n = -(-len(steps) // size)
        held = [(0, _copy(state))]
        a, current = 0, _copy(state)
        known = list(learned)
        while n - a > 1 and s - len(held) + 1 >= 2:
            m = a + split_point(n - a, s - len(held) + 1)
            start = a * size
            while known and known[0][0] <= m * size:
                p, snapshot = known.pop(0)
                if p > start:
                    start, current = p, snapshot
            current = self.advance(steps, current, inputs, start, m * size)
            held.append((m, _copy(current)))
            del known[max(0, s - len(held)):]
            a = m
        LAST.held = max(LAST.held, len(held) + len(known))
        return held, current

    def backward(self, tape: Any, cotangent: Any) -> Any:
        """The adjoints of the wanted parameters, reversing the blocks by the schedule."""
        return self.gradients(*self.adjoints(tape, cotangent))

    def adjoints(self, tape: Any, cotangent: Any) -> tuple[tuple, list[Any]]:
        """(the carried values' adjoints, the active inputs' adjoints) before the loop."""
        steps, s, size, b, held, inputs = tape
        held = list(held)  # the tape stays as it was: the backward function may run again
        g = (cotangent,) if self.k == 1 else tuple(cotangent)
        sums: list[Any] = [0.0] * len(self.active)
        most = LAST.held
        while held:
            a, snapshot = held[-1]
            if b == a:
                held.pop()
                continue
            free = s - len(held) + 1
            if b - a > 1 and free >= 2:  # a snapshot m blocks in (its own state: a new value,
                m = a + split_point(b - a, free)  # or the copy the loop wrote into)
                held.append((m, self.advance(steps, _copy(snapshot), inputs, a * size,
                                             m * size)))
                most = max(most, len(held))
            else:
                state = self.advance(steps, _copy(snapshot), inputs, a * size, (b - 1) * size)
                g = self.reverse_block(steps[(b - 1) * size: b * size], state, inputs, g, sums)
                b -= 1
        LAST.held = most
        return g, sums

    def reverse_block(self, steps: range, state: tuple, inputs: tuple, g: tuple,
                      sums: list[Any]) -> tuple:
        """The carried adjoint before `steps` from the one after them (stack replay of the
        block), adding the inputs' adjoints into `sums`."""
        LAST.reversed += len(steps)
        k = self.k
        if k == 1:
            _, grads = self.vjp(steps, *state, *inputs, g[0])
            if not sums:
                return grads
        else:
            _, grads = self.vjp(steps, *state, *inputs, g)
        for j in range(len(sums)):
            sums[j] = add_adjoints(sums[j], grads[k + j])  # containers item by item
        return tuple(grads[:k])

    first = 2  # the position of the first carried value among the loop function's parameters

    def gradients(self, g: tuple, sums: list[Any]) -> Any:
        at = self.first
        by_position: dict[int, Any] = {at + i: v for i, v in enumerate(g)}
        by_position.update({at + self.k + i: v for i, v in zip(self.active, sums, strict=True)})
        out = tuple(by_position.get(p, 0.0) for p in self.wanted)
        return out[0] if len(out) == 1 else out


class CheckpointedWhile(Checkpointed):
    """The reverse derivative of a marked `while` loop, whose loop function takes
    `(snapshots, *carried, *inputs)`, or of a marked `for` loop that may `break` (`over_steps`:
    `(steps, snapshots, *carried, *inputs)`). The trip count is learned online: the forward
    sweep runs the loop once, in chunks, with `trips([steps,] limit, *carried, *inputs) ->
    (count, finished, carried)`, keeping fewer than `s` states at doubling strides (`learn`),
    and then places the snapshots of the binomial schedule for `count` steps, each from the
    nearest state held, stopping at the last snapshot (the final state is known). So every
    step runs forward at most once more than under the binomial schedule with the count known
    in advance: `r + 2` times, `r` the least with `C(s + r, s) >= ⌈n / size⌉`."""

    def __init__(self, trips: Callable, over_steps: bool, *rest: Any) -> None:
        super().__init__(*rest)
        self.trips = trips
        self.first = 2 if over_steps else 1

    def forward(self, *args: Any) -> tuple[Any, Any]:  # type: ignore[override]
        state = tuple(args[self.first: self.first + self.k])
        inputs = tuple(args[self.first + self.k:])
        _restart_stats()
        snapshots = args[self.first - 1]
        keep = 0 if snapshots is None else _snapshot_count(snapshots, 0, state)
        steps, final, learned = self.learn(args, keep)
        s = _snapshot_count(snapshots, len(steps), state)
        size = block_length(s, state)
        held, _ = self.descend(steps, s, size, state, inputs, learned)
        return final, (steps, s, size, -(-len(steps) // size), held, inputs)

    def learn(self, args: tuple, keep: int) -> tuple[range, Any, list[tuple[int, tuple]]]:
        """(the steps the loop runs, the carried values after them, states after some of
        them) from the loop function's arguments, by running the loop once in chunks and
        keeping, besides the initial state, fewer than `keep` states at steps `d, 2d, ...`,
        `d` doubling (and every other state dropped) when they would be more."""
        k, over = self.k, self.first == 2
        steps, rest = args[0] if over else None, args[self.first:]
        current, inputs = _copy(tuple(rest[:k])), rest[k:]
        stride = block_length(max(keep, 1), current)
        pos, learned = 0, []
        while True:
            head = (steps[pos:],) if over else ()
            count, finished, out = self.trips(*head, stride - pos % stride, *current, *inputs)
            current = (out,) if k == 1 else tuple(out)
            LAST.evaluations += count
            if LAST.ranges is not None:
                LAST.ranges.append((pos, pos + count))
            pos += count
            if finished:
                break
            if keep and len(learned) + 1 >= keep:
                learned = [(p, v) for p, v in learned if p % (2 * stride) == 0]
                stride *= 2
            if keep and pos % stride == 0:
                learned.append((pos, _copy(current)))
        final = current[0] if k == 1 else current
        return (range(pos) if steps is None else steps[:pos]), final, learned


class CheckpointedTangent:
    """Forward over reverse through a marked loop (`hvp`, `hessian`): the tangents of the
    first-order driver `first`'s forward and backward functions.

    They are computed by reverse over forward: `inner` is a `Checkpointed` driver of the
    tangent loop, whose state is the carried values and their tangents and whose inputs are
    the loop's inputs and the tangents of the active ones. With the cotangent `(ġ, g)` on
    its final `(c, ċ)`, its adjoint of `ċ` before the loop is the first-order `Jᵀg`, and its
    adjoint of `c` is `Jᵀġ + (∂(Jᵀg)/∂c)·ċ`, the tangent of `Jᵀg` (the second derivative
    of `g·F` is symmetric); likewise for the inputs. So the second-order sweep keeps `s`
    snapshots of `(c, ċ)` and runs the same schedule. `dotted`: the loop function's
    parameters given tangents in `forward`; `cotangent_dot`: whether `backward` gets one."""

    def __init__(self, first: Checkpointed, inner: Checkpointed, dotted: Sequence[int],
                 cotangent_dot: bool) -> None:
        self.first, self.inner = first, inner
        self.dotted = list(dotted)
        self.cotangent_dot = cotangent_dot

    def forward(self, *args: Any) -> tuple[tuple, tuple]:
        """`((value, tape), (value_dot, None))` from the parameters and the given tangents."""
        first, k = self.first, self.first.k
        params = args[: len(args) - len(self.dotted)]
        given = dict(zip(self.dotted, args[len(params):], strict=True))
        at = first.first
        state, inputs = tuple(params[at: at + k]), tuple(params[at + k:])
        state_dot = tuple(given[at + j] if at + j in given else zeros_like(v)
                          for j, v in enumerate(state))
        inputs_dot = tuple(given[at + k + j] if at + k + j in given else zeros_like(inputs[j])
                           for j in first.active)
        snapshots = params[first.first - 1]
        if isinstance(first, CheckpointedWhile):
            steps = first.learn(params, 0)[0]
        else:
            steps = params[0]
        value, tape = self.inner.forward(steps, snapshots, *state, *state_dot, *inputs,
                                         *inputs_dot)
        if k == 1:
            return (value[0], tape), (value[1], None)
        return (tuple(value[:k]), tape), (tuple(value[k:]), None)

    def backward(self, tape: Any, cotangent: Any, *dots: Any) -> tuple[Any, Any]:
        """`(gradients, their tangents)`, as the first-order backward function gives them."""
        k, a = self.first.k, len(self.first.active)
        if len(tape[4][0][1]) != 2 * k:  # a first-order tape: the loop's inputs had no tangent
            raise DifferentiationError(
                "a second derivative through a loop marked `adgen.checkpointed` whose inputs "
                "have no tangent but whose cotangent has one is not supported; remove the marker")
        g = (cotangent,) if k == 1 else tuple(cotangent)
        if self.cotangent_dot:
            g_dot = (dots[-1],) if k == 1 else tuple(dots[-1])
        else:
            g_dot = tuple(zeros_like(v) for v in g)
        adjoints, sums = self.inner.adjoints(tape, (*g_dot, *g))
        return (self.first.gradients(tuple(adjoints[k:]), sums[a:]),
                self.first.gradients(tuple(adjoints[:k]), sums[:a]))


def _restart_stats() -> None:
    ranges = LAST.ranges
    LAST.__init__()
    LAST.ranges = None if ranges is None else []


def _snapshot_count(snapshots: Any, n: int, state: tuple) -> int:
    if isinstance(snapshots, tuple):  # ("memory", budget) for `memory=`
        return snapshots_for(snapshots[1], state)
    s = default_snapshots(n) if snapshots is None else int(snapshots)
    if s < 1:
        raise ValueError(f"checkpointed loop: snapshots={snapshots!r}; give at least 1")
    return s
