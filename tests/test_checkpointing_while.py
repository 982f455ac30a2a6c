"""Online checkpointing of a `while` loop marked `while adgen.checkpointed(cond, snapshots=s):`.

Each case is a pair, the loop with the marker and without it, whose gradients must agree to
1e-12 in `grad`, `value_and_grad` and `vjp` (and in forward mode, which differentiates the
loop itself); the trip count depends on the data. The schedule is checked through
`runtime_checkpoint.LAST`: at most `s` snapshots, every step reversed once, no step run forward
more than `r + 2` times (the learning sweep on top of the binomial bound).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import adgen
from adgen import runtime_checkpoint
from adgen.runtime_checkpoint import LAST, repetitions
from adgen.testing import check_grads


def newton_marked(a, x):
    """The square root of `a` by Newton's method, from `x`, until the step is small."""
    step = 1.0
    while adgen.checkpointed(abs(step) > 1e-13, snapshots=3):
        step = (x * x - a) / (2.0 * x)
        x = x - step
    return x


def newton_plain(a, x):
    step = 1.0
    while abs(step) > 1e-13:
        step = (x * x - a) / (2.0 * x)
        x = x - step
    return x


def counter_marked(x, w, n):
    k = 0
    y = 0.0
    while adgen.checkpointed(k < n, snapshots=4):
        if x > 0.5:
            x = x * w[k % 3]
        else:
            x = math.sin(x) + w[0]
        y = y + x * x
        k += 1
    return y + x


def counter_plain(x, w, n):
    k = 0
    y = 0.0
    while k < n:
        if x > 0.5:
            x = x * w[k % 3]
        else:
            x = math.sin(x) + w[0]
        y = y + x * x
        k += 1
    return y + x


def damped(v, c):
    return v * c + 0.05 * math.sin(v)


def exits_marked(x, v, c):
    """A data-dependent exit by `break`, a `continue`, an inner loop and a user function."""
    t = 0
    while adgen.checkpointed(True, snapshots=3):
        t = t + 1
        for _j in range(2):
            v = damped(v, c)
            if v > 1.0:
                break
        if t % 4 == 0:
            continue
        x = x + 0.1 * v * math.cos(0.01 * t)
        if x > 2.0 or t > 60:
            break
    return x * v


def exits_plain(x, v, c):
    t = 0
    while True:
        t = t + 1
        for _j in range(2):
            v = damped(v, c)
            if v > 1.0:
                break
        if t % 4 == 0:
            continue
        x = x + 0.1 * v * math.cos(0.01 * t)
        if x > 2.0 or t > 60:
            break
    return x * v


def relax_marked(u, k):
    """Jacobi-like relaxation of an array with element writes until it settles."""
    change = 1.0
    sweeps = 0
    while adgen.checkpointed(change > 1e-3 and sweeps < 500, snapshots=5):
        new = u.copy()
        new[1:-1] = u[1:-1] + k * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        new[0] = 0.5 * new[1]
        change = float(np.max(np.abs(new - u)))
        u = new
        sweeps += 1
    return np.sum(u * u)


def relax_plain(u, k):
    change = 1.0
    sweeps = 0
    while change > 1e-3 and sweeps < 500:
        new = u.copy()
        new[1:-1] = u[1:-1] + k * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        new[0] = 0.5 * new[1]
        change = float(np.max(np.abs(new - u)))
        u = new
        sweeps += 1
    return np.sum(u * u)


def flag_marked(x):
    """A boolean carried value: the exit decided inside the body."""
    done = False
    while adgen.checkpointed(not done, snapshots=2):
        x = 0.8 * x + 0.1 * math.sin(x)
        done = abs(x) < 1e-3
    return x


def flag_plain(x):
    done = False
    while not done:
        x = 0.8 * x + 0.1 * math.sin(x)
        done = abs(x) < 1e-3
    return x


def history_marked(x, n):
    """A list that grows by one element a step (the snapshots copy it)."""
    hist = [x]
    k = 0
    while adgen.checkpointed(k < n, snapshots=3):
        hist.append(math.sin(hist[-1]) * 1.1)
        k += 1
    return sum(hist)


def history_plain(x, n):
    hist = [x]
    k = 0
    while k < n:
        hist.append(math.sin(hist[-1]) * 1.1)
        k += 1
    return sum(hist)


def power_marked(r, A):
    """An iteration to convergence on a norm, a matrix input read every step."""
    it = 0
    while adgen.checkpointed(np.linalg.norm(r) > 1e-6 and it < 200, snapshots=4):
        r = A @ r
        it += 1
    return np.sum(r) + it


def power_plain(r, A):
    it = 0
    while np.linalg.norm(r) > 1e-6 and it < 200:
        r = A @ r
        it += 1
    return np.sum(r) + it


def close(a, b):
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            close(x, y)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


W = np.array([0.9, 1.1, 0.95])
U = np.linspace(0.0, 1.0, 12) ** 2

CASES = [  # marked, plain, arguments, wrt
    (newton_marked, newton_plain, (2.0, 1.0), (0, 1)),
    (newton_marked, newton_plain, (0.3, 5.0), (0,)),
    (counter_marked, counter_plain, (0.2, W, 37), (0, 1)),
    (counter_marked, counter_plain, (0.7, W, 0), (0, 1)),
    (counter_marked, counter_plain, (0.7, W, 1), (0, 1)),
    (exits_marked, exits_plain, (0.2, 0.4, 0.97), (0, 1, 2)),
    (exits_marked, exits_plain, (0.2, 1.3, 0.97), (0, 1, 2)),
    (relax_marked, relax_plain, (U, 0.2), (0, 1)),
    (flag_marked, flag_plain, (0.9,), (0,)),
    (history_marked, history_plain, (0.4, 30), (0,)),
    (power_marked, power_plain, (np.array([1.0, 0.5]), np.array([[0.5, 0.1], [0.0, 0.6]])),
     (0, 1)),
]
IDS = ["newton", "newton-far", "counter", "counter-0", "counter-1", "exits", "exits-break",
       "relax", "flag", "history", "power"]


@pytest.mark.parametrize("marked,plain,args,wrt", CASES, ids=IDS)
def test_marked_equals_unmarked(marked, plain, args, wrt):
    close(adgen.grad(marked, wrt)(*args), adgen.grad(plain, wrt)(*args))
    close(adgen.value_and_grad(marked, wrt)(*args), adgen.value_and_grad(plain, wrt)(*args))
    value, grads = adgen.vjp(marked, wrt)(*args, 1.5)
    plain_value, plain_grads = adgen.vjp(plain, wrt)(*args, 1.5)
    close((value, grads), (plain_value, plain_grads))
    assert LAST.held <= 5
    assert "_loop_fwd(" in adgen.source(adgen.grad(marked, wrt))  # the schedule's driver


@pytest.mark.parametrize("marked,plain,args,wrt", CASES[:3] + CASES[5:6], ids=IDS[:3] + IDS[5:6])
def test_forward_mode_and_central_differences(marked, plain, args, wrt):
    assert adgen.grad(marked, wrt[0], mode="forward")(*args) == pytest.approx(
        adgen.grad(plain, wrt[0])(*args), rel=1e-12, abs=1e-14)
    check_grads(marked, args, wrt=wrt)


def test_newton_gives_the_derivative_of_the_square_root():
    assert adgen.grad(newton_marked)(2.0, 1.0) == pytest.approx(0.5 / math.sqrt(2.0), rel=1e-12)


def sin_until(x, n, s):
    k = 0
    while adgen.checkpointed(k < n, snapshots=s):
        x = math.sin(x) * 0.9 + 0.1 * x
        k += 1
    return x


def sin_for(x, n, s):
    for _t in range(n):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x


@pytest.mark.parametrize(("n", "s"), [
    (n, s) for n in [0, 1, 2, 10, 55, 300, 1000] for s in [1, 2, 3, 5, 10]
    if s > 1 or n <= 300])  # one snapshot is quadratic
def test_schedule_bounds(n, s, monkeypatch):
    """At most s snapshots, one reverse per step, and each step run forward at most r + 2
    times: the learning sweep, then at most r + 1 as under the binomial schedule."""
    monkeypatch.setattr(runtime_checkpoint, "BLOCK_BYTES", 0)  # blocks of s steps
    LAST.ranges = []
    try:
        assert adgen.grad(sin_until)(0.3, n, s) == pytest.approx(
            adgen.grad(sin_for)(0.3, n, s), rel=1e-12, abs=1e-15)
        runs = np.zeros(n, dtype=int)
        for start, stop in LAST.ranges:
            runs[start:stop] += 1
    finally:
        LAST.ranges = None
    assert LAST.held <= s
    assert LAST.reversed == n
    if n:
        assert runs.min() >= 1
        assert runs.max() <= repetitions(-(-n // s), s) + 2


def test_default_snapshots_and_the_primal():
    assert sin_until(0.3, 20, 3) == sin_for(0.3, 20, 3)
    assert newton_marked(2.0, 1.0) == newton_plain(2.0, 1.0)


def returns_marked(x):
    while adgen.checkpointed(x > 0.1):
        x = x * 0.5
        if x < 0.3:
            return x
    return x


def else_marked(x):
    while adgen.checkpointed(x > 0.1):
        x = x * 0.5
    else:
        x = x + 1.0
    return x


def walrus_marked(x):
    while adgen.checkpointed((y := x * 0.5) > 0.1):
        x = y
    return x


@pytest.mark.parametrize("f,what", [(returns_marked, "`return`"), (else_marked, "while ... else"),
                                    (walrus_marked, ":=")])
def test_refused_at_the_users_line(f, what):
    with pytest.raises(adgen.UnsupportedSyntax, match=what) as info:
        adgen.grad(f)(0.5)
    assert info.value.lineno > f.__code__.co_firstlineno


def test_source_is_readable():
    text = adgen.source(adgen.grad(newton_marked))
    assert "newton_marked_line" in text and "_loop_fwd(3, " in text
    assert "while adgen.checkpointed(abs(step) > 1e-13, snapshots=3)" in text


@pytest.mark.parametrize("marked,plain,args,wrt", CASES[8:], ids=IDS[8:])
def test_hvp_equals_unmarked(marked, plain, args, wrt):
    v = np.full(np.shape(args[0]), 0.7) if np.ndim(args[0]) else 0.7
    close(adgen.hvp(marked)(*args, v), adgen.hvp(plain)(*args, v))


@pytest.mark.parametrize("n,s", [(20_000, 10), (100_000, 5), (5_000, 3)])
def test_learning_sweep_keeps_snapshots(n, s):
    """The learning sweep keeps states at doubling strides, from which the schedule's first
    snapshots are recomputed: a `while` loop runs its primal well under one sweep more than
    the same `for` loop, within `s` states."""
    adgen.grad(sin_until)(0.3, n, s)
    runs_while, held = LAST.evaluations, LAST.held
    adgen.grad(sin_for_marked)(0.3, n, s)
    assert held <= s
    assert runs_while < LAST.evaluations + 0.6 * n


def sin_for_marked(x, n, s):
    for _t in adgen.checkpointed(range(n), snapshots=s):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x
