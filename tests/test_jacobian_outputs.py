"""`adgen.jacobian` of a function with several outputs (a tuple, a list, a dict of arrays): a
tree shaped like the output whose blocks are `output.shape + input.shape`, in every mode, also
for a gradient taken with respect to several parameters."""

from __future__ import annotations

import numpy as np
import pytest

import adgen


def cubic(x, y):
    return np.sum(x ** 3) * y + np.sum(np.sin(x))


def outputs(x):
    return x * x, {"s": np.sum(x), "t": np.tanh(x[0])}


X = np.array([1.0, 2.0, 0.5])


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_jacobian_of_a_gradient_with_respect_to_two_parameters(mode):
    y = 2.0
    dxx, dyx = adgen.jacobian(adgen.grad(cubic, wrt=(0, 1)), mode=mode)(X, y)
    assert dxx == pytest.approx(np.diag(6 * X * y - np.sin(X)), rel=1e-13)
    assert dyx == pytest.approx(3 * X ** 2, rel=1e-13)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_of_a_tuple_and_dict_output(mode):
    square, parts = adgen.jacobian(outputs, mode=mode)(X)
    assert square == pytest.approx(np.diag(2 * X), rel=1e-14)
    assert parts["s"] == pytest.approx(np.ones(3), rel=1e-14)
    assert parts["t"] == pytest.approx([1 - np.tanh(X[0]) ** 2, 0.0, 0.0], rel=1e-14)
