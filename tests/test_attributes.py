"""Attribute reads of named tuple and dataclass parameters (`p.w`) in differentiated code.

A field read is differentiated as an item read: its tangent is the field of the tangent, its
adjoint goes into the field's place in the record's adjoint, which comes back as a record of
the parameter's type. Every operator is checked against central differences on the raveled
tree, forward against reverse, and second order (hessian, hvp, grad inside grad) against
central differences of the gradient. Attributes that are not fields, and writes into objects
reached through attributes, are refused at the user's line.
"""

import collections
import dataclasses
import inspect

import numpy as np
import pytest

import adgen
from tests.test_pytrees import assert_same_structure, flat, numeric_grad

Pair = collections.namedtuple("Pair", "w b")


@dataclasses.dataclass(frozen=True)
class FrozenPair:
    w: np.ndarray
    b: np.ndarray


@dataclasses.dataclass
class MutablePair:
    w: np.ndarray
    b: np.ndarray


@dataclasses.dataclass
class Net:
    hidden: FrozenPair
    out: Pair
    scale: float


@dataclasses.dataclass(frozen=True)
class MLP:
    layers: list
    n_steps: int = 2


RNG = np.random.default_rng(18)
X = RNG.normal(size=3)


def pair(kind, rows=2, cols=3):
    return kind(RNG.normal(size=(rows, cols)), RNG.normal(size=rows))


def net():
    return Net(pair(FrozenPair, 4, 3), pair(Pair, 2, 4), 0.7)


def mlp():
    return MLP([pair(FrozenPair, 4, 3), pair(MutablePair, 2, 4)])


def loss(p, x):
    return np.sum((p.w @ x + p.b) ** 2)


def layer(q, x):
    return np.tanh(q.w @ x + q.b)


def nested(p, x):
    h = layer(p.hidden, x)  # a helper reading the fields of the record it is given
    return p.scale * np.sum((p.out.w @ h + p.out.b) ** 2)


def whole_to_helper(p, x):
    return np.sum(layer(p, x) ** 2) + np.sum(p.b)


def looped(p, x):
    total = 0.0
    for k in range(3):
        total = total + np.sum(np.sin(p.w @ x * (k + 1) + p.b))
    return total


def deep(p, x):
    for _ in range(p.n_steps):  # an integer field, read as a constant
        for q in p.layers:
            x = np.tanh(q.w @ x[: q.w.shape[1]] + q.b) if x.shape[0] >= q.w.shape[1] else x
    return np.sum(x ** 2)


def mixed(p, x):
    return np.sum(p[0] @ x) * np.sum(p.b ** 2)  # by index and by name


def in_dict(p, x):
    return np.sum(p["layer"].w @ x) * p["c"] + np.sum(p["layer"].b ** 3)


def gradient_norm(p, x):
    g = adgen.grad(loss)(p, x)  # a record, read by field: reverse over reverse
    return np.sum(g.w ** 2) + np.sum(np.sin(g.b))


CASES = [
    pytest.param(loss, lambda: pair(Pair), id="namedtuple"),
    pytest.param(loss, lambda: pair(FrozenPair), id="frozen dataclass"),
    pytest.param(loss, lambda: pair(MutablePair), id="dataclass"),
    pytest.param(nested, net, id="nested, through a helper"),
    pytest.param(whole_to_helper, lambda: pair(Pair), id="the record passed to a helper"),
    pytest.param(looped, lambda: pair(FrozenPair), id="in a loop"),
    pytest.param(mixed, lambda: pair(Pair), id="index and field of a namedtuple"),
    pytest.param(in_dict, lambda: {"layer": pair(MutablePair), "c": 1.5}, id="in a dict"),
]


@pytest.mark.parametrize(("f", "make"), CASES)
def test_gradients_are_records_of_the_same_type(f, make):
    p = make()
    expected = numeric_grad(f, p, X)
    reverse = adgen.grad(f)(p, X)
    forward = adgen.grad(f, mode="forward")(p, X)
    for g in (reverse, forward, adgen.value_and_grad(f)(p, X)[1], adgen.vjp(f)(p, X, 1.0)[1],
              adgen.jacobian(f)(p, X)):
        assert_same_structure(g, p)
        assert type(g) is type(p)
        np.testing.assert_allclose(flat(g), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(flat(forward), flat(reverse), rtol=1e-12, atol=1e-14)
    assert adgen.value_and_grad(f)(p, X)[0] == pytest.approx(f(p, X), rel=1e-14)


@pytest.mark.parametrize(("f", "make"), CASES)
def test_jvp_takes_a_tangent_of_the_same_type(f, make):
    p, direction = make(), make()
    value, t = adgen.jvp(f)(p, X, direction)
    assert value == pytest.approx(f(p, X), rel=1e-14)
    g = adgen.grad(f)(p, X)
    assert t == pytest.approx(flat(g) @ flat(direction), rel=1e-11, abs=1e-12)
    _, cotangent = adgen.vjp(f)(p, X, 3.0)
    np.testing.assert_allclose(flat(cotangent), 3.0 * flat(g), rtol=1e-12)


def gradient_along(f, p, direction, t):
    """The raveled gradient at `p + t * direction`."""
    v, unravel = adgen.ravel(p)
    return flat(adgen.grad(f)(unravel(v + t * flat(direction)), X))


@pytest.mark.parametrize(("f", "make"), CASES)
def test_hvp_and_hessian_against_differences_of_the_gradient(f, make):
    p, direction = make(), make()
    eps = 1e-5
    expected = (gradient_along(f, p, direction, eps)
                - gradient_along(f, p, direction, -eps)) / (2 * eps)
    hv = adgen.hvp(f)(p, X, direction)
    assert_same_structure(hv, p)
    assert type(hv) is type(p)
    np.testing.assert_allclose(flat(hv), expected, rtol=1e-6, atol=1e-7)
    if f in (loss, mixed):  # the dense Hessian: a record of records, here small
        h = adgen.hessian(f)(p, X)
        assert type(h) is type(p) and type(h.w) is type(p)
        n = flat(p).size
        dense = np.zeros((n, n))
        for i in range(n):  # column i: the Hessian block entries for raveled entry i
            e = np.zeros(n)
            e[i] = 1.0
            dense[:, i] = flat(adgen.hvp(f)(p, X, adgen.ravel(p)[1](e)))
        np.testing.assert_allclose(dense, dense.T, atol=1e-10)
        np.testing.assert_allclose(h.b.b, dense[-2:, -2:], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(h.w.w.reshape(6, 6), dense[:6, :6], rtol=1e-12,
                                   atol=1e-12)


def test_a_list_of_records_in_a_field_and_an_integer_field():
    p, direction = mlp(), mlp()

    def of_layers(layers, x):
        return deep(MLP(layers, p.n_steps), x)

    expected = numeric_grad(of_layers, p.layers, X)
    for g in (adgen.grad(deep)(p, X), adgen.grad(deep, mode="forward")(p, X)):
        assert type(g) is MLP and [type(q) for q in g.layers] == [FrozenPair, MutablePair]
        np.testing.assert_allclose(flat(g.layers), expected, rtol=1e-6, atol=1e-8)
        assert g.n_steps == 0.0
    _, t = adgen.jvp(deep)(p, X, direction)
    assert t == pytest.approx(flat(g.layers) @ flat(direction.layers), rel=1e-10)
    hv = adgen.hvp(deep)(p, X, direction)
    eps = 1e-5
    moved = [adgen.ravel(p.layers)[1](flat(p.layers) + t * flat(direction.layers))
             for t in (eps, -eps)]
    expected = (flat(adgen.grad(deep)(MLP(moved[0], p.n_steps), X).layers)
                - flat(adgen.grad(deep)(MLP(moved[1], p.n_steps), X).layers)) / (2 * eps)
    assert type(hv) is MLP
    np.testing.assert_allclose(flat(hv.layers), expected, rtol=1e-6, atol=1e-7)


def test_grad_of_a_function_reading_fields_of_a_gradient():
    p = pair(FrozenPair)
    g = adgen.grad(gradient_norm)(p, X)
    assert type(g) is FrozenPair
    np.testing.assert_allclose(flat(g), numeric_grad(gradient_norm, p, X), rtol=1e-6,
                               atol=1e-7)
    np.testing.assert_allclose(flat(adgen.grad(gradient_norm, mode="forward")(p, X)),
                               flat(g), rtol=1e-10)


def test_unrolled_control_reads_fields():
    p = pair(Pair)
    g = adgen.grad(looped, control="unroll")(p, X)
    assert type(g) is Pair
    np.testing.assert_allclose(flat(g), flat(adgen.grad(looped)(p, X)), rtol=1e-12)


def vector_valued(p, x):
    return np.tanh(p.w @ x) * p.b


def test_jacobian_of_a_vector_valued_function_of_a_record():
    p = pair(FrozenPair)
    jac = adgen.jacobian(vector_valued)(p, X)
    assert type(jac) is FrozenPair and jac.w.shape == (2, 2, 3) and jac.b.shape == (2, 2)
    cotangent = np.array([0.5, -2.0])
    _, pulled = adgen.vjp(vector_valued)(p, X, cotangent)
    np.testing.assert_allclose(flat(pulled), flat(FrozenPair(
        np.tensordot(cotangent, jac.w, 1), cotangent @ jac.b)), rtol=1e-12)
    np.testing.assert_allclose(flat(pulled), numeric_grad(
        lambda q, x: cotangent @ vector_valued(q, x), p, X), rtol=1e-7, atol=1e-9)


@dataclasses.dataclass
class Config:
    n_steps: int
    rate: float


def configured(x, cfg):
    for _ in range(cfg.n_steps):
        x = x - cfg.rate * np.sin(x.T).T * x.shape[0]
    return np.sum(x ** 2)


def test_attributes_of_values_not_differentiated_are_read_as_constants():
    x = RNG.normal(size=(3, 2))
    cfg = Config(3, 0.1)
    g = adgen.grad(configured)(x, cfg)
    expected = numeric_grad(configured, x, cfg)
    np.testing.assert_allclose(g.ravel(), expected, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(adgen.grad(configured, mode="forward")(x, cfg), g, rtol=1e-12)


def test_generated_code_reads_fields_by_name():
    tangent = adgen.source(adgen.jvp(loss))
    assert "_dot = field(p_dot, p, 'w')" in tangent
    adjoint = adgen.source(adgen.grad(loss))
    assert "p_bar = add_field(" in adjoint and "shaped_like(p_bar, p)" in adjoint


# ---------------------------------------------------------------- refusals


@dataclasses.dataclass
class WithExtras:
    w: np.ndarray
    total: float = dataclasses.field(init=False, default=0.0)

    def __post_init__(self):
        self.total = float(np.sum(self.w))

    @property
    def squares(self):
        return self.w ** 2


class Plain:
    def __init__(self, w):
        self.w = w


def reads_property(p):
    return np.sum(p.squares)


def reads_computed_field(p):
    return p.total * 2.0


def reads_plain_object(p):
    return np.sum(p.w)


def reads_array_attribute(x):
    return np.sum(x.mT @ x)


@pytest.mark.parametrize(("f", "arg", "words"), [
    (reads_property, WithExtras(np.ones(2)), ("`.squares` of a WithExtras", "property")),
    (reads_computed_field, WithExtras(np.ones(2)), ("`.total` of a WithExtras", "(w)")),
    (reads_plain_object, Plain(np.ones(2)), ("attribute `w` of a Plain object",
                                             "as a parameter")),
    (reads_array_attribute, np.eye(2), ("attribute `.mT` of a ndarray", "NumPy function")),
])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_attributes_that_are_not_fields_are_refused_at_the_users_line(f, arg, words, mode):
    with pytest.raises(adgen.DifferentiationError) as info:
        adgen.grad(f, mode=mode)(arg)
    message = str(info.value)
    line = inspect.getsourcelines(f)[1] + 1
    assert f"test_attributes.py:{line}" in message
    for word in words:
        assert word in message


def writes_field(p, x):
    p.w = p.w * x
    return np.sum(p.w)


def writes_into_field(p, x):
    p.w[0] = x
    return np.sum(p.w * x)


def appends_to_field(p, x):
    p.items.append(x)
    return x * len(p.items)


def writes_through_a_name(p, x):
    w = p.w
    w[0] = x
    return np.sum(w * p.w)


def sets_first(v, x):
    v[0] = x
    return np.sum(v)


def callee_writes_into_field(p, x):
    return sets_first(p.w, x) * np.sum(p.w)


@pytest.mark.parametrize(("f", "words"), [
    (writes_field, ("assigning to attributes",)),
    (writes_into_field, ("writing into `p.w`", "reached through an attribute")),
    (appends_to_field, ("`.append()` on `p.items`", "reached through an attribute")),
    (writes_through_a_name, ("writing into `w`", "`p`")),
    (callee_writes_into_field, ("calling sets_first", "`p.w`", "reached through an attribute")),
])
@pytest.mark.parametrize("wrt", [0, 1])
def test_writes_into_objects_reached_through_attributes_are_refused(f, words, wrt):
    """Also when the object is not differentiated: `x` flows through it (this gave 4.0
    instead of 7.0 for `writes_into_field`)."""
    @dataclasses.dataclass
    class State:
        w: np.ndarray
        items: list

    with pytest.raises(adgen.UnsupportedSyntax) as info:
        adgen.grad(f, wrt=wrt)(State(np.ones(2), []), 3.0)
    for word in words:
        assert word in str(info.value)


def checkpointed_layers(p, x):
    for _ in adgen.checkpointed(range(6), snapshots=2):
        x = np.tanh(p.w @ x + p.b)
    return np.sum(x ** 2)


def checkpointed_items(p, x):
    for _ in adgen.checkpointed(range(6), snapshots=2):
        x = np.tanh(p[0] @ x + p[1])
    return np.sum(x ** 2)


@pytest.mark.parametrize("f", [checkpointed_layers, checkpointed_items])
def test_a_checkpointed_loop_reading_a_records_fields(f):
    """The schedule's driver adds the loop's input adjoints item by item (it added them with
    `+`, which failed for any container)."""
    p = FrozenPair(RNG.normal(size=(3, 3)) * 0.5, RNG.normal(size=3))
    p = p if f is checkpointed_layers else Pair(p.w, p.b)
    g = adgen.grad(f)(p, X)
    assert type(g) is type(p)
    np.testing.assert_allclose(flat(g), numeric_grad(f, p, X), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(flat(adgen.grad(f, mode="forward")(p, X)), flat(g), rtol=1e-12)
