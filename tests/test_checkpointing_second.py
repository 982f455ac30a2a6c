"""Second derivatives (`hvp`, `hessian`: forward over reverse) through checkpointed loops.

The tangent of the schedule's reverse sweep is computed by running the schedule over the loop's
tangent (`runtime_checkpoint.CheckpointedTangent`); each case is checked against the same
function without the marker to 1e-12, and against central differences of the gradient.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import adgen
from adgen.runtime_checkpoint import LAST
from tests.test_checkpointing_while import newton_marked, newton_plain


def sin_marked(x, n):
    for _t in adgen.checkpointed(range(n), snapshots=3):
        x = math.sin(x) * 0.9 + 0.1 * x * x
    return x


def sin_plain(x, n):
    for _t in range(n):
        x = math.sin(x) * 0.9 + 0.1 * x * x
    return x


def rnn_marked(h, W, b, n):
    """Array state, read-only array inputs (both differentiated), the step index read."""
    for t in adgen.checkpointed(range(n), snapshots=4):
        h = np.tanh(W @ h + b * math.cos(0.1 * t))
    return np.sum(h ** 2)


def rnn_plain(h, W, b, n):
    for t in range(n):
        h = np.tanh(W @ h + b * math.cos(0.1 * t))
    return np.sum(h ** 2)


def pair_marked(u, n):
    """Two carried values, one an array written in place."""
    y = 0.0
    for _t in adgen.checkpointed(range(n), snapshots=3):
        u[0] = u[0] * 0.5 + u[1] * u[2]
        u[2] = math.sin(u[0])
        y = y + u[1] * u[2]
    return np.sum(u * u) + y


def pair_plain(u, n):
    y = 0.0
    for _t in range(n):
        u[0] = u[0] * 0.5 + u[1] * u[2]
        u[2] = math.sin(u[0])
        y = y + u[1] * u[2]
    return np.sum(u * u) + y


def counter_marked(x, w, n):
    k = 0
    y = 0.0
    while adgen.checkpointed(k < n, snapshots=4):
        if x > 0.5:
            x = x * w[k % 3]
        else:
            x = math.sin(x) + w[0] * x
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
            x = math.sin(x) + w[0] * x
        y = y + x * x
        k += 1
    return y + x


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


RNG = np.random.default_rng(3)
H, W, B = RNG.normal(size=3), RNG.normal(size=(3, 3)) * 0.5, RNG.normal(size=3)
WV = np.array([0.9, 1.1, 0.95])

CASES = [  # marked, plain, arguments, wrt, direction
    (sin_marked, sin_plain, (0.3, 25), 0, 1.0),
    (rnn_marked, rnn_plain, (H, W, B, 12), 0, np.array([0.3, -0.2, 0.5])),
    (rnn_marked, rnn_plain, (H, W, B, 12), 1, np.eye(3) * 0.5 - 0.1),
    (pair_marked, pair_plain, (np.array([1.0, 0.3, 0.2]), 9), 0, np.array([0.1, 0.2, -0.3])),
    (newton_marked, newton_plain, (2.0, 1.0), 0, 1.0),
    (newton_marked, newton_plain, (2.0, 1.0), 1, 1.0),
    (counter_marked, counter_plain, (0.2, WV, 17), 0, 1.0),
    (counter_marked, counter_plain, (0.2, WV, 17), 1, np.array([0.5, -1.0, 0.25])),
]
IDS = ["sin", "rnn-h", "rnn-W", "pair-in-place", "newton-a", "newton-x", "counter-x",
       "counter-w"]


def _copied(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


@pytest.mark.parametrize("marked,plain,args,wrt,v", CASES, ids=IDS)
def test_hvp_equals_unmarked(marked, plain, args, wrt, v):
    got = adgen.hvp(marked, wrt)(*_copied(args), v)
    assert LAST.reversed > 0  # the schedule ran (over the tangent loop)
    close(got, adgen.hvp(plain, wrt)(*_copied(args), v))


@pytest.mark.parametrize("marked,plain,args,wrt,v", CASES, ids=IDS)
def test_hvp_against_differences_of_the_gradient(marked, plain, args, wrt, v):
    grad = adgen.grad(plain, wrt)
    eps = 1e-6

    def moved(sign):
        a = list(_copied(args))
        a[wrt] = a[wrt] + sign * eps * v
        return np.asarray(grad(*a))

    expected = (moved(1) - moved(-1)) / (2 * eps)
    np.testing.assert_allclose(adgen.hvp(marked, wrt)(*_copied(args), v), expected,
                               rtol=1e-5, atol=1e-6)


def test_hessian_equals_unmarked():
    close(adgen.hessian(rnn_marked)(H, W, B, 12), adgen.hessian(rnn_plain)(H, W, B, 12))
    close(adgen.hessian(sin_marked)(0.3, 25), adgen.hessian(sin_plain)(0.3, 25))
    close(adgen.hessian(newton_marked, 1)(2.0, 1.0), adgen.hessian(newton_plain, 1)(2.0, 1.0))


def test_second_order_keeps_the_snapshot_bound():
    adgen.hvp(sin_marked)(0.3, 200, 1.0)
    assert LAST.held <= 3 and LAST.reversed == 200


def test_third_order_is_refused():
    with pytest.raises(adgen.DifferentiationError, match="checkpointed"):
        adgen.grad(adgen.hvp(sin_marked))(0.3, 10, 1.0)


def test_hvp_source_names_the_tangent_driver():
    text = adgen.source(adgen.hvp(sin_marked))
    assert "_loop_fwd_jvp(range(n), 3, x, x_dot)" in text and "_loop_bwd_jvp(" in text
