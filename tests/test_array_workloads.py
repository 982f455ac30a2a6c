"""The workloads of `benchmarks/arrays.py` at small sizes: the hand-written gradients the
benchmark holds adgen to are right, and adgen's gradients agree with them.

Each gradient (adgen's reverse mode and the hand-written backpropagation, with respect to the
two weight arguments) is checked against central differences, and the two against each other
to rounding. The benchmark's sizes are far larger; only the code is the same.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import adgen
from adgen.testing import numerical_jacobian

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "array_workloads.py"


def load_workloads():
    spec = importlib.util.spec_from_file_location("array_workloads", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


aw = load_workloads()

CASES = {
    "rnn": (aw.rnn_loss, aw.rnn_backprop, lambda: aw.rnn_data(hidden=8, steps=5, inputs=3)),
    "rnn one step": (aw.rnn_loss, aw.rnn_backprop,
                     lambda: aw.rnn_data(hidden=4, steps=1, inputs=2, seed=1)),
    "lstm": (aw.lstm_objective, aw.lstm_backprop,
             lambda: aw.lstm_data(layers=2, hidden=5, length=4)),
    "lstm one layer": (aw.lstm_objective, aw.lstm_backprop,
                       lambda: aw.lstm_data(layers=1, hidden=3, length=3, seed=2)),
    "lstm three layers": (aw.lstm_objective, aw.lstm_backprop,
                          lambda: aw.lstm_data(layers=3, hidden=4, length=5, seed=3)),
}


def central(f, args):
    return tuple(numerical_jacobian(f, args, i) for i in (0, 1))


def assert_close(got, expected, rtol, atol):
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol * (1.0 + np.abs(e).max()))


@pytest.mark.parametrize("name", CASES)
def test_hand_written_gradient_matches_central_differences(name):
    f, hand, make = CASES[name]
    args = make()
    expected = central(f, args)
    assert max(np.abs(e).max() for e in expected) > 1e-3  # the check has something to see
    assert_close(hand(*args), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", CASES)
def test_adgen_gradient_matches_central_differences_and_hand_written(name):
    f, hand, make = CASES[name]
    args = make()
    got = adgen.grad(f, wrt=(0, 1))(*args)
    assert_close(got, central(f, args), rtol=1e-6, atol=1e-8)
    assert_close(got, hand(*args), rtol=1e-12, atol=1e-14)


def test_hand_written_gradients_leave_their_arguments_as_they_were():
    for _, hand, make in CASES.values():
        args = make()
        copies = [a.copy() for a in args]
        hand(*args)
        for a, c in zip(args, copies, strict=True):
            np.testing.assert_array_equal(a, c)
