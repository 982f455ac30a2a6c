"""Every public operator on `Duck` arrays (a stand-in for CuPy that refuses conversion to
NumPy and NumPy operands): the results are Ducks equal to the NumPy results, so no step
converted the argument or mixed a NumPy array into the other library's operations."""

import numpy as np
import pytest

import adgen
from adgen.arrays import is_array
from tests.catalog_arrays import (
    OPERATORS_SCALAR,
    OPERATORS_VECTOR,
    SCALAR,
    VECTOR,
    arguments,
    data,
    direction,
)
from tests.duck import Duck, host


def _same(duck_result, numpy_result):
    got = host(duck_result)
    got, want = (got, numpy_result) if isinstance(got, tuple) else ((got,), (numpy_result,))
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert np.shape(a) == np.shape(b)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def _kinds(result):
    return [type(r).__name__ for r in (result if isinstance(result, tuple) else (result,))]


@pytest.mark.parametrize("op", OPERATORS_VECTOR)
@pytest.mark.parametrize("f", VECTOR, ids=lambda f: f.__name__)
def test_array_valued_functions_on_ducks(f, op):
    x, v, w = arguments(f)
    result = OPERATORS_VECTOR[op](f, Duck(x), Duck(v), Duck(w))
    assert set(_kinds(result)) == {"Duck"}
    _same(result, OPERATORS_VECTOR[op](f, x, v, w))


@pytest.mark.parametrize("op", OPERATORS_SCALAR)
@pytest.mark.parametrize("f", SCALAR, ids=lambda f: f.__name__)
def test_scalar_functions_on_ducks(f, op):
    x, v = data(), direction()
    run = OPERATORS_SCALAR[op]
    result = run(f, Duck(x), Duck(v))
    assert set(_kinds(result)) == {"Duck"}
    _same(result, run(f, x, v))


def test_the_double_refuses_numpy():
    d = Duck(data())
    with pytest.raises(TypeError, match="cannot be converted"):
        np.asarray(d)
    with pytest.raises(TypeError, match="met a NumPy array"):
        d + np.ones((4, 3))
    with pytest.raises(TypeError, match="cannot be converted"):
        float(np.sum(d))


def test_is_array_is_a_protocol_test():
    assert is_array(np.zeros(2)) and is_array(np.zeros(()))
    assert is_array(Duck(np.zeros(2))) and is_array(Duck(np.float64(2.0)))
    assert not is_array(np.float64(1.0)) and not is_array(1.0) and not is_array([1.0])
    assert not is_array({"shape": (2,)})


def test_a_seed_made_in_numpy_is_caught(monkeypatch):
    """The double catches what it is there for: seeds left as NumPy arrays."""
    from adgen import tree_derivatives

    monkeypatch.setattr(tree_derivatives, "made_like", lambda a, like: a)
    with pytest.raises(TypeError, match="met a NumPy array"):
        adgen.jacobian(VECTOR[0], mode="forward")(Duck(data()))


@pytest.mark.parametrize("index", [1, (slice(1, 3), 0), [0, 2, 0, 0], ([1, 1, 3], [2, 2, 0]),
                                   (Ellipsis, [0, 0])], ids=str)
def test_add_at_repeats_positions_in_another_library(index):
    from adgen.runtime import add_at

    x = data()
    g = np.arange(np.size(x[index]), dtype=float).reshape(np.shape(x[index])) + 1.0
    want = add_at(np.zeros_like(x), x, index, g)
    got = add_at(Duck(np.zeros_like(x)), Duck(x), index, Duck(g) if np.ndim(g) else g)
    assert isinstance(got, Duck)
    np.testing.assert_array_equal(host(got), want)
