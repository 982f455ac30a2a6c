"""Binomial checkpointing of a loop marked `adgen.checkpointed(range(n), snapshots=s)`.

Each case is checked against the same loop without the marker (stack replay) to 1e-12; the
schedule is checked through the driver's instrumentation (`runtime_checkpoint.LAST`): never
more than `s` snapshots held, no step recomputed more than the binomial bound allows.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import adgen
from adgen import runtime_checkpoint
from adgen.runtime_checkpoint import LAST, checkpointed, repetitions


def sin_marked(x, n, s):
    for _t in adgen.checkpointed(range(n), snapshots=s):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x


def sin_plain(x, n, s):
    for _t in range(n):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x


def branch_marked(x, w, n):
    y = 0.0
    for t in adgen.checkpointed(range(n), snapshots=4):
        if x > 0.5:
            x = x * w[t % 3]
        else:
            x = math.sin(x) + w[0]
        y = y + x * x
    return y + x


def branch_plain(x, w, n):
    y = 0.0
    for t in range(n):
        if x > 0.5:
            x = x * w[t % 3]
        else:
            x = math.sin(x) + w[0]
        y = y + x * x
    return y + x


def heat_marked(u, k, n):
    for _t in adgen.checkpointed(range(n), snapshots=6):
        lap = np.zeros_like(u)
        lap[1:-1] = u[2:] - 2.0 * u[1:-1] + u[:-2]
        u = u + k * lap
        u[0] = 0.0
    return np.sum(u * u)


def heat_plain(u, k, n):
    for _t in range(n):
        lap = np.zeros_like(u)
        lap[1:-1] = u[2:] - 2.0 * u[1:-1] + u[:-2]
        u = u + k * lap
        u[0] = 0.0
    return np.sum(u * u)


def inputs_marked(h, W, b, n):
    for t in checkpointed(range(n), 5):
        h = np.tanh(W @ h + b * math.cos(0.1 * t))
    return np.sum(h ** 2)


def inputs_plain(h, W, b, n):
    for t in range(n):
        h = np.tanh(W @ h + b * math.cos(0.1 * t))
    return np.sum(h ** 2)


def close(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            close(x, y)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n,s", [(1, 1), (2, 1), (7, 1), (50, 2), (50, 3), (100, 5),
                                 (37, 40), (200, None)])
def test_sin_loop_equals_stack_replay(n, s):
    assert adgen.grad(sin_marked)(0.7, n, s) == pytest.approx(
        adgen.grad(sin_plain)(0.7, n, s), rel=1e-12, abs=1e-15)


def test_branch_and_read_only_array_input():
    w = np.array([0.9, 1.1, 0.95])
    for x in (0.2, 0.7):
        close(adgen.grad(branch_marked, (0, 1))(x, w, 60),
              adgen.grad(branch_plain, (0, 1))(x, w, 60))


def test_array_state_heat_equation():
    u = np.linspace(0.0, 1.0, 40) ** 2
    close(adgen.grad(heat_marked, (0, 1))(u, 0.2, 300), adgen.grad(heat_plain, (0, 1))(u, 0.2, 300))
    assert LAST.held <= 6 and LAST.reversed == 300


def test_read_only_array_inputs():
    rng = np.random.default_rng(0)
    h, W, b = rng.normal(size=4), rng.normal(size=(4, 4)) * 0.5, rng.normal(size=4)
    close(adgen.grad(inputs_marked, (0, 1, 2))(h, W, b, 40),
          adgen.grad(inputs_plain, (0, 1, 2))(h, W, b, 40))


def test_value_and_grad_vjp_and_forward_mode():
    w = np.array([0.9, 1.1, 0.95])
    close(adgen.value_and_grad(branch_marked, (0, 1))(0.7, w, 30),
          adgen.value_and_grad(branch_plain, (0, 1))(0.7, w, 30))
    value, grads = adgen.vjp(branch_marked, (0, 1))(0.7, w, 30, 2.0)
    plain_value, plain_grads = adgen.vjp(branch_plain, (0, 1))(0.7, w, 30, 2.0)
    close((value, *grads), (plain_value, *plain_grads))
    assert adgen.grad(branch_marked, mode="forward")(0.7, w, 30) == pytest.approx(
        adgen.grad(branch_plain)(0.7, w, 30), rel=1e-12)


@pytest.mark.parametrize(("n", "s"), [
    (n, s) for n in [1, 2, 10, 55, 56, 300, 1000] for s in [1, 2, 3, 5, 10]
    if s > 1 or n <= 300])  # one snapshot is quadratic
def test_schedule_bounds(n, s, monkeypatch):
    """At most s snapshots; the schedule works on blocks of s steps, so each step runs forward
    at most r + 1 times (the forward sweep and r recomputations) with r the least such that
    C(s + r, s) >= ceil(n / s), never more than for single steps; one reverse per step."""
    monkeypatch.setattr(runtime_checkpoint, "BLOCK_BYTES", 0)  # blocks of s steps
    LAST.ranges = []
    try:
        assert adgen.grad(sin_marked)(0.3, n, s) == pytest.approx(
            adgen.grad(sin_plain)(0.3, n, s), rel=1e-12, abs=1e-15)
        runs = np.zeros(n, dtype=int)
        for start, stop in LAST.ranges:
            runs[start:stop] += 1
    finally:
        LAST.ranges = None
    assert LAST.held <= s
    assert LAST.reversed == n
    assert runs.min() >= 1
    assert runs.max() <= repetitions(-(-n // s), s) + 1 <= repetitions(n, s) + 1


def test_snapshot_count_is_instrumented():
    adgen.grad(sin_marked)(0.3, 100_000, 8)
    assert LAST.held == 8  # a long loop uses every snapshot it is given, and no more


def test_blocks_of_small_states_are_longer():
    """A block has s steps, or for a small state up to 256 (64 kB of states), so the work of
    the schedule per block is spread over more steps; the bound then counts blocks of that
    length."""
    assert runtime_checkpoint.block_length(20, (0.3,)) == 256
    assert runtime_checkpoint.block_length(30, (np.zeros(1000),)) == 30
    assert runtime_checkpoint.block_length(300, (0.3,)) == 300
    LAST.ranges = []
    try:
        adgen.grad(sin_marked)(0.3, 100_000, 5)
        runs = np.zeros(100_000, dtype=int)
        for start, stop in LAST.ranges:
            runs[start:stop] += 1
    finally:
        LAST.ranges = None
    assert runs.max() <= repetitions(-(-100_000 // 256), 5) + 1
    assert LAST.held <= 5 and LAST.reversed == 100_000


def test_memory_far_below_stack_replay():
    n = 100_000
    f_marked, f_plain = adgen.grad(sin_marked), adgen.grad(sin_plain)
    f_marked(0.5, 10, 10)
    f_plain(0.5, 10, 10)

    def peak(f):
        tracemalloc.start()
        try:
            f(0.5, n, 10)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    marked, plain = peak(f_marked), peak(f_plain)
    assert marked < plain / 50, (marked, plain)
    assert marked < 100_000


def test_runtime_marker_returns_its_iterable():
    r = range(5)
    assert checkpointed(r, snapshots=3) is r
    assert sin_marked(0.7, 20, 3) == sin_plain(0.7, 20, 3)
    assert adgen.checkpointed is runtime_checkpoint.checkpointed


def test_second_order():  # more in test_checkpointing_second.py
    assert adgen.hvp(sin_marked)(0.7, 10, 3, 1.0) == pytest.approx(
        adgen.hvp(sin_plain)(0.7, 10, 3, 1.0), rel=1e-12)
    u = np.array([0.1, 0.5, -0.3])
    close(adgen.hessian(vector_sum)(u, 5), adgen.hessian(vector_sum_plain)(u, 5))


def returns(x, n):
    for t in adgen.checkpointed(range(n), snapshots=3):
        if t > 3:
            return x
        x = math.sin(x)
    return x


def over_list(x, n):
    for _t in adgen.checkpointed([1, 2, 3]):
        x = math.sin(x)
    return x


def nested(x, n):
    for _i in range(2):
        for _t in adgen.checkpointed(range(n)):
            x = math.sin(x)
    return x


def reads_target(x, n):
    for t in adgen.checkpointed(range(n)):
        x = math.sin(x) + 0.0 * t
    return x * t


@pytest.mark.parametrize("f,what", [(returns, "`return`"), (over_list, "but `range"),
                                    (nested, "inside another"), (reads_target, "loop variable")])
def test_refused_at_the_users_line(f, what):
    with pytest.raises(adgen.UnsupportedSyntax, match=what) as info:
        adgen.grad(f)(0.5, 3)
    assert info.value.lineno > f.__code__.co_firstlineno


def checkpointed_but_not_adgens(iterable, snapshots=None):
    return iterable


def lookalike(x, n):
    for _t in checkpointed_but_not_adgens(range(n), snapshots=2):
        x = math.sin(x)
    return x


def test_marker_is_found_by_identity_not_spelling():
    from adgen.frontend import checkpoint

    assert checkpoint.lift_checkpointed  # the marker is resolved to runtime_checkpoint's object
    assert adgen.grad(lookalike)(0.5, 20) == pytest.approx(adgen.grad(sin_plain_pure)(0.5, 20))
    assert "loop_fwd" not in adgen.source(adgen.grad(lookalike))
    assert "loop_fwd" in adgen.source(adgen.grad(sin_marked))


def sin_plain_pure(x, n):
    for _t in range(n):
        x = math.sin(x)
    return x


def damped(v, c):
    return v * c + 0.05 * math.sin(v)


def calls_marked(x, v, c, n):
    for t in adgen.checkpointed(range(n), snapshots=3):
        for _j in range(2):
            v = damped(v, c)
            if v > 1.0:
                break
        x = x + 0.1 * v * math.cos(0.01 * t)
    return x * v


def calls_plain(x, v, c, n):
    for t in range(n):
        for _j in range(2):
            v = damped(v, c)
            if v > 1.0:
                break
        x = x + 0.1 * v * math.cos(0.01 * t)
    return x * v


def test_inner_loops_and_calls_in_the_body():
    for v in (0.4, 1.3):
        close(adgen.grad(calls_marked, (0, 1, 2))(0.2, v, 0.97, 45),
              adgen.grad(calls_plain, (0, 1, 2))(0.2, v, 0.97, 45))
    assert adgen.grad(calls_marked, 2, mode="forward")(0.2, 0.4, 0.97, 45) == pytest.approx(
        adgen.grad(calls_plain, 2)(0.2, 0.4, 0.97, 45), rel=1e-12)


def list_state_marked(xs, n):
    for _t in adgen.checkpointed(range(n), snapshots=4):
        xs = [math.sin(xs[1]), xs[0] * 0.9]
    return xs[0] + xs[1]


def list_state_plain(xs, n):
    for _t in range(n):
        xs = [math.sin(xs[1]), xs[0] * 0.9]
    return xs[0] + xs[1]


def test_list_state():
    close(tuple(adgen.grad(list_state_marked)([0.3, 0.8], 25)),
          tuple(adgen.grad(list_state_plain)([0.3, 0.8], 25)))


def shared_marked(u, n):
    v = u
    for _t in adgen.checkpointed(range(n), snapshots=3):
        u[0] = u[0] * 0.5 + u[1]
    return np.sum(v * v)


def test_write_through_a_shared_name_is_refused_as_without_the_marker():
    with pytest.raises(adgen.UnsupportedSyntax, match="may share its object with `v`"):
        adgen.grad(shared_marked)(np.array([1.0, 2.0]), 5)


def in_place_marked(u, n):
    for _t in adgen.checkpointed(range(n), snapshots=3):
        u[0] = u[0] * 0.5 + u[1] * u[2]
        u[2] = math.sin(u[0])
    return np.sum(u * u)


def in_place_plain(u, n):
    for _t in range(n):
        u[0] = u[0] * 0.5 + u[1] * u[2]
        u[2] = math.sin(u[0])
    return np.sum(u * u)


def test_in_place_writes_into_the_state_leave_the_argument_as_it_was():
    u = np.array([1.0, 0.3, 0.2])
    close(adgen.value_and_grad(in_place_marked)(u, 17),
          adgen.value_and_grad(in_place_plain)(u.copy(), 17))
    assert u.tolist() == [1.0, 0.3, 0.2]
    assert LAST.reversed == 17  # by the schedule's driver, not a value form's stack replay
    close(adgen.grad(in_place_marked, mode="forward")(u, 17), adgen.grad(in_place_plain)(u, 17))
    assert u.tolist() == [1.0, 0.3, 0.2]


def vector_marked(u, n):
    for _t in adgen.checkpointed(range(n), snapshots=3):
        u = np.tanh(u[::-1] * 0.9 + 0.1)
    return u


def vector_plain(u, n):
    for _t in range(n):
        u = np.tanh(u[::-1] * 0.9 + 0.1)
    return u


def test_reverse_jacobian_runs_the_backward_function_again_on_one_tape():
    u = np.array([0.1, 0.5, -0.3])
    close(adgen.jacobian(vector_marked, mode="reverse")(u, 20),
          adgen.jacobian(vector_plain, mode="reverse")(u, 20))
    assert LAST.reversed == 3 * 20  # one forward sweep, a backward pass per output entry


def vector_sum(u, n):
    return np.sum(vector_marked(u, n))


def vector_sum_plain(u, n):
    return np.sum(vector_plain(u, n))


def budget_marked(u, k, n):
    for _t in adgen.checkpointed(range(n), memory="100kB"):
        u = u + k * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))
    return np.sum(u * u)


def budget_plain(u, k, n):
    for _t in range(n):
        u = u + k * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))
    return np.sum(u * u)


def test_memory_budget_chooses_the_snapshots():
    u = np.linspace(0.0, 1.0, 1000) ** 2  # 8 kB a state: 100 kB hold 6 snapshots and tapes
    close(adgen.grad(budget_marked, (0, 1))(u, 0.2, 200),
          adgen.grad(budget_plain, (0, 1))(u, 0.2, 200))
    assert LAST.held == runtime_checkpoint.snapshots_for("100kB", (u,)) == 6
    assert runtime_checkpoint.budget_bytes("10MB") == 1e7
    assert runtime_checkpoint.budget_bytes("1 KiB") == 1024
    with pytest.raises(ValueError, match="memory='lots'"):
        runtime_checkpoint.budget_bytes("lots")


def both_marked(x, n):
    for _t in adgen.checkpointed(range(n), snapshots=3, memory="1MB"):
        x = math.sin(x)
    return x


def test_snapshots_and_memory_together_are_refused():
    with pytest.raises(adgen.UnsupportedSyntax, match="not both"):
        adgen.grad(both_marked)(0.5, 3)


def jumps_marked(x, w, n):
    y = 0.0
    for t in adgen.checkpointed(range(n), snapshots=3):
        if t % 3 == 1:
            continue
        x = math.sin(x) * w + 0.3
        y = y + x * x
        if y > 4.0:
            break
    return y * x


def jumps_plain(x, w, n):
    y = 0.0
    for t in range(n):
        if t % 3 == 1:
            continue
        x = math.sin(x) * w + 0.3
        y = y + x * x
        if y > 4.0:
            break
    return y * x


@pytest.mark.parametrize("n", [0, 1, 5, 40, 400])
def test_break_and_continue_in_a_for_loop(n, monkeypatch):
    """A `for` loop that may `break` learns its trip count as a `while` loop does."""
    monkeypatch.setattr(runtime_checkpoint, "BLOCK_BYTES", 0)  # blocks of s steps
    for x in (0.2, 1.1):
        close(adgen.grad(jumps_marked, (0, 1))(x, 0.9, n),
              adgen.grad(jumps_plain, (0, 1))(x, 0.9, n))
        close(adgen.vjp(jumps_marked, (0, 1))(x, 0.9, n, 2.0),
              adgen.vjp(jumps_plain, (0, 1))(x, 0.9, n, 2.0))
        close(adgen.hvp(jumps_marked)(x, 0.9, n, 1.0), adgen.hvp(jumps_plain)(x, 0.9, n, 1.0))
        assert adgen.grad(jumps_marked, mode="forward")(x, 0.9, n) == pytest.approx(
            adgen.grad(jumps_plain)(x, 0.9, n), rel=1e-12, abs=1e-15)
    LAST.ranges = []
    try:
        adgen.grad(jumps_marked)(0.2, 0.9, n)
        trips = max((stop for _, stop in LAST.ranges), default=0)
        runs = np.zeros(max(trips, 1), dtype=int)
        for start, stop in LAST.ranges:
            runs[start:stop] += 1
    finally:
        LAST.ranges = None
    assert LAST.held <= 3 and LAST.reversed == trips <= n
    assert runs.max() <= repetitions(-(-max(trips, 1) // 3), 3) + 2
    assert "_loop_fwd(range(n), 3, " in adgen.source(adgen.grad(jumps_marked))


def test_stats_are_per_thread():
    """A thread differentiating a marked loop does not change what another thread reads."""
    import threading

    u = np.linspace(0.0, 1.0, 40) ** 2
    seen = []

    def run():
        adgen.grad(heat_marked, (0, 1))(u, 0.2, 300)
        seen.append(LAST.reversed)

    adgen.grad(heat_marked, (0, 1))(u, 0.2, 120)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [300] and LAST.reversed == 120
