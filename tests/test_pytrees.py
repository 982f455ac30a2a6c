"""Parameter trees: named tuples, dataclasses, nested dicts, lists and tuples, None leaves.

Every operator gives derivatives with the parameter's own structure and container types.
Values are checked against central differences on the raveled tree and forward against
reverse mode.
"""

import collections
import dataclasses

import numpy as np
import pytest

import adgen

Params = collections.namedtuple("Params", "scale weights")


@dataclasses.dataclass(frozen=True)
class Frozen:
    scale: float
    weights: np.ndarray


@dataclasses.dataclass
class Mutable:
    scale: float
    weights: np.ndarray


X = np.array([0.5, -1.0, 2.0])


def by_index(p, x):
    return p[0] * np.sum(np.sin(p[1] * x)) + p[0] ** 3


def unpacked(p, x):
    scale, weights = p
    return scale * np.sum(np.sin(weights * x)) + scale ** 3


def nested(p, x):
    first = p["layers"][0]
    second = p["layers"][1]
    return np.sum(np.tanh(first["w"] * x) * second[0]) + p["bias"] ** 2


def by_attribute(p, x):
    return p.scale * np.sum(np.sin(p.weights * x))


def point():
    return Params(1.5, np.array([0.3, -0.7, 1.1]))


def nested_point():
    return {"layers": [{"w": np.array([0.2, 0.4, -0.6]), "unused": None},
                       (np.array([1.0, -2.0, 0.5]), None)],
            "bias": 0.7, "frozen": None}


def numeric_grad(f, tree, *rest, eps=1e-6):
    """Central differences of `f` in every entry of the tree `tree`, raveled."""
    v, unravel = adgen.ravel(tree)
    out = np.zeros_like(v)
    for i in range(v.size):
        step = np.zeros_like(v)
        step[i] = eps
        out[i] = (f(unravel(v + step), *rest) - f(unravel(v - step), *rest)) / (2 * eps)
    return out


def assert_same_structure(got, like):
    """Containers of the same types, None where `like` has None, leaves of the same shape."""
    if isinstance(like, (dict, list, tuple)) or like is None:
        assert type(got) is type(like), (type(got), type(like))
    if isinstance(like, dict):
        assert list(got) == list(like)
        for k in like:
            assert_same_structure(got[k], like[k])
    elif isinstance(like, (list, tuple)):
        assert len(got) == len(like)
        for a, b in zip(got, like, strict=True):
            assert_same_structure(a, b)
    elif like is None:
        assert got is None
    else:
        assert np.shape(got) == np.shape(like)


def flat(tree):
    return adgen.ravel(tree)[0]


@pytest.mark.parametrize("f", [by_index, unpacked])
def test_namedtuple_gradients_are_namedtuples(f):
    p = point()
    expected = numeric_grad(f, p, X)
    for mode in ("reverse", "forward"):
        g = adgen.grad(f, mode=mode)(p, X)
        assert_same_structure(g, p)
        np.testing.assert_allclose(flat(g), expected, rtol=1e-7, atol=1e-9)
    value, g = adgen.value_and_grad(f)(p, X)
    assert value == pytest.approx(f(p, X), rel=1e-14)
    assert_same_structure(g, p)
    value, g = adgen.vjp(f)(p, X, 2.0)
    np.testing.assert_allclose(flat(g), 2 * expected, rtol=1e-7, atol=1e-9)
    assert_same_structure(g, p)


def test_namedtuple_tangents_forward_and_reverse_agree():
    p = point()
    direction = Params(-0.5, np.array([1.0, 0.25, -2.0]))
    _, t = adgen.jvp(by_index)(p, X, direction)
    _, g = adgen.vjp(by_index)(p, X, 1.0)
    assert t == pytest.approx(flat(g) @ flat(direction), rel=1e-12)


def test_namedtuple_jacobian_hessian_and_hvp_keep_the_structure():
    p = point()
    jac = adgen.jacobian(by_index)(p, X)
    assert_same_structure(jac, p)
    np.testing.assert_allclose(flat(jac), flat(adgen.grad(by_index)(p, X)), rtol=1e-12)
    h = adgen.hessian(by_index)(p, X)
    assert isinstance(h, Params) and isinstance(h.weights, Params)
    assert h.scale.scale == pytest.approx(6 * p.scale, rel=1e-12)
    assert h.weights.weights.shape == (3, 3)
    np.testing.assert_allclose(h.weights.weights,
                               np.diag(-p.scale * X ** 2 * np.sin(p.weights * X)), atol=1e-12)
    np.testing.assert_allclose(h.weights.scale, h.scale.weights, rtol=1e-12)  # symmetric
    direction = Params(1.0, np.array([0.5, 0.0, -1.0]))
    hv = adgen.hvp(by_index)(p, X, direction)
    assert_same_structure(hv, p)
    dense = np.array([[h.scale.scale, *h.scale.weights],
                      *[[h.weights.scale[i], *h.weights.weights[i]] for i in range(3)]])
    np.testing.assert_allclose(flat(hv), dense @ flat(direction), rtol=1e-12)


def test_nested_containers_with_none_leaves():
    p = nested_point()
    expected = numeric_grad(nested, p, X)
    for g in (adgen.grad(nested)(p, X), adgen.grad(nested, mode="forward")(p, X),
              adgen.value_and_grad(nested)(p, X)[1], adgen.vjp(nested)(p, X, 1.0)[1],
              adgen.jacobian(nested)(p, X)):
        assert_same_structure(g, p)
        assert g["frozen"] is None and g["layers"][0]["unused"] is None
        np.testing.assert_allclose(flat(g), expected, rtol=1e-7, atol=1e-9)


def test_nested_hessian_against_differences_of_the_gradient():
    p = nested_point()
    h = adgen.hessian(nested)(p, X)
    assert_same_structure(h["bias"], p)
    assert h["bias"]["bias"] == pytest.approx(2.0)
    w = p["layers"][0]["w"]
    second = p["layers"][1][0]
    curvature = -2 * np.tanh(w * X) * (1 - np.tanh(w * X) ** 2) * X ** 2 * second
    np.testing.assert_allclose(h["layers"][0]["w"]["layers"][0]["w"], np.diag(curvature),
                               atol=1e-12)
    mixed = h["layers"][1][0]["layers"][0]["w"]  # d/dw of the gradient in `second`
    np.testing.assert_allclose(mixed, np.diag((1 - np.tanh(w * X) ** 2) * X), atol=1e-12)


def test_an_unread_array_leaf_gets_a_zero_array():
    def only_first(p):
        return np.sum(p[0] ** 2)

    p = (np.array([1.0, 2.0]), np.array([[1.0, 2.0], [3.0, 4.0]]))
    g = adgen.grad(only_first)(p)
    np.testing.assert_array_equal(g[0], [2.0, 4.0])
    np.testing.assert_array_equal(g[1], np.zeros((2, 2)))


@pytest.mark.parametrize("tree", [
    Frozen(2.0, np.array([1.0, 2.0])),
    Mutable(2.0, np.array([[1.0], [2.0]])),
    {"a": [Params(1.0, np.arange(3.0)), None], "b": (np.float32(2.5),)},
])
def test_ravel_round_trip(tree):
    vector, unravel = adgen.ravel(tree)
    assert vector.dtype == np.float64 and vector.ndim == 1
    back = unravel(vector)
    assert_same_structure(back, tree)
    np.testing.assert_array_equal(flat(back), vector)
    moved = unravel(vector + 1.0)
    np.testing.assert_array_equal(flat(moved), vector + 1.0)
    with pytest.raises(ValueError, match="shape"):
        unravel(vector[:-1])


def test_ravel_keeps_numbers_as_numbers_and_order():
    vector, unravel = adgen.ravel({"w": np.array([[1.0, 2.0]]), "b": 3.0, "skip": None})
    np.testing.assert_array_equal(vector, [1.0, 2.0, 3.0])
    back = unravel(np.array([4.0, 5.0, 6.0]))
    assert back["b"] == 6.0 and isinstance(back["b"], float) and back["skip"] is None
    np.testing.assert_array_equal(back["w"], [[4.0, 5.0]])


@pytest.mark.parametrize("wrt", [{"W": 0}, 1.5, [{"p"}], None, "nope", 7])
@pytest.mark.parametrize("op", [adgen.grad, adgen.value_and_grad, adgen.jvp, adgen.vjp,
                                adgen.jacobian, adgen.hessian, adgen.hvp, adgen.hessp])
def test_bad_wrt_gets_adgens_error(op, wrt):
    with pytest.raises(adgen.DifferentiationError, match="wrt="):
        op(by_index, wrt=wrt)


def looped(p, x):
    total = 0.0
    for k in range(3):
        total = total + p[0] * np.sum(np.sin(p[1] * x)) * (k + 1)
    return total


def test_tree_and_array_parameters_together():
    p = point()
    gp, gx = adgen.grad(looped, wrt=(0, 1))(p, X)
    assert isinstance(gp, Params) and gx.shape == X.shape
    np.testing.assert_allclose(flat(gp), numeric_grad(looped, p, X), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(gx, numeric_grad(lambda x, p: looped(p, x), X, p), rtol=1e-7)
    fp, fx = adgen.grad(looped, wrt=(0, 1), mode="forward")(p, X)
    np.testing.assert_allclose(flat(fp), flat(gp), rtol=1e-12)
    np.testing.assert_allclose(fx, gx, rtol=1e-12)


def test_unrolled_control_keeps_the_structure():
    p = point()
    g = adgen.grad(looped, control="unroll")(p, X)
    assert isinstance(g, Params)
    np.testing.assert_allclose(flat(g), flat(adgen.grad(looped)(p, X)), rtol=1e-12)
    value, g = adgen.value_and_grad(looped, control="unroll")(p, X)
    assert value == pytest.approx(looped(p, X), rel=1e-14) and isinstance(g, Params)


def test_hvp_with_a_tree_and_an_array_parameter():
    p = point()
    dp, dx = Params(0.5, np.array([1.0, 0.0, -1.0])), np.array([0.25, -0.5, 1.0])
    hp, hx = adgen.hvp(looped, wrt=(0, 1))(p, X, dp, dx)
    assert isinstance(hp, Params) and hx.shape == X.shape

    def directional(t):  # d/dt of the gradient along (dp, dx), by central differences
        moved = Params(p.scale + t * dp.scale, p.weights + t * dp.weights)
        gp, gx = adgen.grad(looped, wrt=(0, 1))(moved, X + t * dx)
        return np.concatenate([flat(gp), gx])

    eps = 1e-5
    expected = (directional(eps) - directional(-eps)) / (2 * eps)
    np.testing.assert_allclose(np.concatenate([flat(hp), hx]), expected, rtol=1e-6, atol=1e-8)


def test_a_shaped_gradient_is_differentiated_as_the_generated_one():
    """The gradient of a function that indexes its parameter is a wrapper giving named
    tuples; adgen still reads it as the generated code (source, higher derivatives)."""
    g = adgen.grad(by_index)
    assert g.__wrapped__ is by_index
    assert "def by_index_grad" in adgen.source(g)
    p = point()
    direction = Params(0.5, np.array([1.0, 0.0, -1.0]))
    _, tangent = adgen.jvp(g)(p, X, direction)
    np.testing.assert_allclose(flat(tangent), flat(adgen.hvp(by_index)(p, X, direction)),
                               rtol=1e-12)


def test_a_list_read_whole_by_numpy_gets_a_list_gradient():
    def first_times_total(p):
        return p[0] * np.sum(p)

    for p in ([1.0, 2.0, 3.0], (1.0, 2.0, 3.0)):
        reverse = adgen.grad(first_times_total)(p)
        forward = adgen.grad(first_times_total, mode="forward")(p)
        assert type(reverse) is type(p) and type(forward) is type(p)
        np.testing.assert_allclose(reverse, [7.0, 1.0, 1.0], rtol=1e-14)
        np.testing.assert_allclose(forward, reverse, rtol=1e-14)


def product_of_items(p):
    return p[0] * p[1]


def square_then_product(p):
    return p[0] ** 2 + product_of_items(p)


def test_a_callees_tuple_adjoint_then_an_item_read_keeps_both():
    """The reverse sweep gets the callee's part first (a tuple), then adds the item read's:
    the tuple was taken for a zero and the callee's part lost ((4, 0) for (7, 2))."""
    for p in ((2.0, 3.0), [2.0, 3.0], Params(2.0, 3.0)):
        for mode in ("reverse", "forward"):
            g = adgen.grad(square_then_product, mode=mode)(p)
            assert type(g) is type(p)
            np.testing.assert_allclose(g, [7.0, 2.0], rtol=1e-14)
