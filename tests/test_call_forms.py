"""Array methods that take a shape or axes as several arguments (`x.reshape(2, 3)`,
`x.reshape(-1, 2)`, `x.transpose(1, 0)`: the one-tuple forms NumPy documents as equal), and
methods that leave NumPy (`x.item()`, `x.item(i)`, `x.tolist()`)."""

from __future__ import annotations

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads


def reshaped(x):
    return np.sum(x.reshape(2, 3) ** 2 * np.arange(3.0))


def inferred(x):
    return np.sum(np.tanh(x.reshape(-1, 2)) @ np.array([1.0, -2.0]))


def transposed(x):
    m = x.reshape(2, 3).transpose(1, 0)
    return np.sum(m @ np.array([0.5, 1.5]) ** 2)


def items(x):
    return x.reshape(2, 3).diagonal().sum() * x[0].item() + np.sin(x.item(4))


def listed(x):
    total = 0.0
    for row in (x * x).reshape(3, 2).tolist():
        total = total + row[0] * row[1]
    return total + sum(x.tolist())


CASES = [reshaped, inferred, transposed, items, listed]
X = np.array([0.3, -0.5, 0.9, 1.3, 0.2, -0.7])


@pytest.mark.parametrize("f", CASES, ids=[f.__name__ for f in CASES])
def test_shape_varargs(f):
    check_grads(f, (X,), order=2)
    assert adgen.jacobian(adgen.grad(f), mode="forward")(X) == pytest.approx(
        adgen.jacobian(adgen.grad(f), mode="reverse")(X), rel=1e-12, abs=1e-12)


def test_the_tuple_form_is_what_runs():
    assert adgen.grad(reshaped)(X) == pytest.approx(
        2 * X * np.tile(np.arange(3.0), 2), rel=1e-14)
