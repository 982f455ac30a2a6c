"""Every straight-line catalog function, checked by `adgen.testing.check_grads`.

Each case runs three times: forward mode alone (jvp and grad against central differences),
reverse mode alone (vjp and grad against central differences), and both together, which adds
the dot-product test and the forward-vs-reverse agreement.
"""

import math

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads
from tests.catalog_straight import CASES, bishop_example, bishop_example_arrays

MODES = {"forward": ("forward",), "reverse": ("reverse",), "both": ("forward", "reverse")}

# Known engine bugs, by (function name, modes key); strict, so a fix makes the test fail here.
ENGINE_BUGS: dict[tuple[str, str], str] = {}


def _param(f, args, key, *rest):
    reason = ENGINE_BUGS.get((f.__name__, key))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(f, args, *rest, id=f"{f.__name__}-{key}", marks=marks)


@pytest.mark.parametrize(
    ("f", "args", "modes"),
    [_param(f, args, key, modes) for f, args in CASES for key, modes in MODES.items()],
)
def test_catalog_case(f, args, modes):
    check_grads(f, args, modes=modes)


@pytest.mark.parametrize(
    ("f", "args"),
    [_param(f, args, "order2") for f, args in CASES if np.ndim(f(*args)) == 0],
)
def test_catalog_second_order(f, args):
    check_grads(f, args, order=2)


def test_catalog_is_large_and_ids_are_unique():
    names = [f.__name__ for f, _ in CASES]
    assert len(names) >= 45
    assert len(set(names)) == len(names)


def test_catalog_functions_are_plain_module_functions():
    for f, args in CASES:
        assert f.__code__.co_argcount == len(args), f.__name__


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_bishop_example_values(mode):
    x1, x2 = 1.5, 0.5
    g1, g2 = adgen.grad(bishop_example, wrt=(0, 1), mode=mode)(x1, x2)
    assert g1 == pytest.approx(x2 + x2 * math.exp(x1 * x2), rel=1e-14)
    assert g2 == pytest.approx(x1 + x1 * math.exp(x1 * x2) - math.cos(x2), rel=1e-14)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_bishop_example_array_values(mode):
    x1, x2 = np.array([1.5, -0.3]), np.array([0.5, 0.8])
    g1, g2 = adgen.grad(bishop_example_arrays, wrt=("x1", "x2"), mode=mode)(x1, x2)
    np.testing.assert_allclose(g1, x2 + x2 * np.exp(x1 * x2), rtol=1e-14)
    np.testing.assert_allclose(g2, x1 + x1 * np.exp(x1 * x2) - np.cos(x2), rtol=1e-14)
