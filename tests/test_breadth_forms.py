"""Python forms met in realistic scientific code that adgen refused or got wrong (issue 17,
breadth): starred items in displays and in assignment targets, a reduction of a list built by
appends, loops over a display of functions, `functools.reduce`, `math.fsum`, nested functions
calling each other. Each is checked against central differences in both modes and to second
order, forward against reverse."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads

V = np.array([0.3, -0.7, 1.1, 0.5])
M = np.array([[1.5, 0.2, -0.3], [0.1, 1.2, 0.4], [-0.2, 0.3, 1.8]])


def relu(z):
    return np.maximum(z, 0.0)


def starred_displays(v):
    parts = [v[0] * 2.0, *np.sin(v[1:]), v[1]]
    pair = (*v[:2], v[3])
    return np.sum(np.stack([*parts, pair[0] * pair[-1]]) ** 2) + sum(pair)


def starred_targets(v):
    a, *rest = v
    *init, last = np.sin(v)
    first, *middle, end = [v[0] * 2.0, v[1], v[2] ** 2, v[3]]
    coef, *_ = np.linalg.lstsq(np.vander(np.array([0.0, 0.5, 1.0, 1.5]), 3), v, rcond=None)
    return a * sum(rest) + np.sum(init) * last + first * end + sum(middle) + np.sum(coef ** 2)


def mean_of_appended(v):
    losses = []
    for k in range(3):
        losses.append(np.sum((v * k - 0.5) ** 2))
    return np.mean(losses) + np.sum(list(np.sin(v)))


def loop_over_functions(v):
    for act in (np.tanh, relu, np.sin):
        v = act(v) * 1.1 + 0.1 * v
    return np.sum(v)


def reduce_matmul(m):
    return np.sum(functools.reduce(np.matmul, [m, m.T, m]))


def reduce_with_initial(v):
    return functools.reduce(np.multiply, [v, v + 1.0], np.ones(4) * 0.5).sum()


def exact_sum(v):
    return math.fsum([v[0] * v[1], v[2], v[3] ** 2])


def nested_calling_nested(v):
    scale = v[0]

    def f(z):
        return scale * z ** 2

    g = lambda z: f(z) + z  # noqa: E731  (as users write it)
    return np.sum(g(v))


def in_place_updates(v):
    y = v.copy()
    y[0] += 1.0
    y[y < 0] = 0.0
    y *= 2.0  # its first derivative restores elements into the old object under a second
    return np.sum(y ** 2)  # name, which the second derivative may write through


def transposed_pairs(v):
    pairs = [(v[0], v[1]), (v[2], v[3])]
    a, b = zip(*pairs, strict=True)
    total = 0.0
    for x, y in zip(*[v[:2], v[2:] * 2.0], strict=False):
        total = total + x * y
    return sum(a) * sum(b) + total


def apply_sum(f, x):
    return np.sum(f(x) * x)


def lambdas_passed(m):
    rows = np.apply_along_axis(lambda r: r @ r, 1, m)
    return np.sum(rows) + apply_sum(lambda z: np.exp(-z) * z, m[0])


def lambda_reading_a_variable(x, w):
    return apply_sum(lambda z: z * w, x)


CASES = [
    (lambdas_passed, (M,)),
    (transposed_pairs, (V,)),
    (in_place_updates, (V,)),
    (starred_displays, (V,)), (starred_targets, (V,)), (mean_of_appended, (V,)),
    (loop_over_functions, (V,)), (reduce_matmul, (M,)), (reduce_with_initial, (V,)),
    (exact_sum, (V,)), (nested_calling_nested, (V,)),
]


@pytest.mark.parametrize("f, args", CASES, ids=[f.__name__ for f, _ in CASES])
def test_against_central_differences_to_second_order(f, args):
    check_grads(f, args, order=2)
    assert adgen.grad(f, mode="forward")(*args) == pytest.approx(adgen.grad(f)(*args),
                                                                  rel=1e-12)


def test_values():
    assert adgen.grad(mean_of_appended)(V) == pytest.approx(
        sum(2 * (V * k - 0.5) * k for k in range(3)) / 3 + np.cos(V), rel=1e-13)
    x = V  # tanh, relu, sin in turn, each `act(v) * 1.1 + 0.1 * v`
    t = np.tanh(x) * 1.1 + 0.1 * x
    r = np.maximum(t, 0.0) * 1.1 + 0.1 * t
    dt = (1 - np.tanh(x) ** 2) * 1.1 + 0.1
    dr = ((t > 0) * 1.1 + 0.1) * dt
    assert adgen.grad(loop_over_functions)(V) == pytest.approx(
        (np.cos(r) * 1.1 + 0.1) * dr, rel=1e-13)


def test_a_loop_over_functions_is_a_branch_per_function():
    text = adgen.source(adgen.grad(loop_over_functions))
    assert "_act_which" in text and "relu_bwd" in text


def test_a_lambda_passed_on_that_reads_the_functions_variables_is_refused():
    with pytest.raises(SyntaxError, match="a lambda passed to a function reading") as info:
        adgen.grad(lambda_reading_a_variable)(V, 2.0)
    assert info.value.filename.endswith("test_breadth_forms.py")
