"""Custom derivative rules, nondifferentiable functions and stop_gradient, as a user writes them.

`softplus` below has a body adgen cannot read (a `match` statement): differentiating it raises a
SyntaxError. Registering a tangent rule and an adjoint rule for it (`adgen.tangent_rule`,
`adgen.adjoint_rule`, templates in the style of `adgen.rules.registry`) makes every call of it
a primitive: its body is never read again, its derivatives come from the templates. The tests
check the numbers against the closed form (softplus' = sigmoid, softplus'' = sigmoid (1 -
sigmoid)) in both modes, inside a loop and inside a callee, and to second order: the templates'
expressions end up in the generated gradient, which adgen differentiates again, so second
derivatives work exactly when the templates use operations adgen can differentiate.

A deliberately wrong tangent rule, and separately a wrong adjoint rule, must make
`check_grads` fail, each in the checks of its own mode only.

`adgen.nondifferentiable(fn)` makes `fn`'s result a constant; `adgen.stop_gradient(x)` blocks
every derivative through `x`, also in second derivatives (as JAX's `stop_gradient` does).

Each rule here belongs to its own function object (the registry is global, keyed by function),
so no test changes what another one sees.
"""

import ast
import math

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------- a rule for softplus


def softplus(x):
    match x:  # adgen cannot read `match`: only the rules below make this usable
        case _:
            return np.log1p(np.exp(x))


@adgen.tangent_rule(softplus)
def softplus_dot(y, x, *, x_dot):
    return x_dot * (1.0 - np.exp(-y))  # sigmoid(x) = 1 - exp(-softplus(x))


@adgen.adjoint_rule(softplus)
def softplus_bar(y, x, *, y_bar):
    return y_bar * (1.0 - np.exp(-y))


def softplus_unregistered(x):
    match x:
        case _:
            return np.log1p(np.exp(x))


def weighted_softplus(x):
    return softplus(x) * x


def softplus_energy(x):
    return np.sum(softplus(x) ** 2)


X = 0.7
XS = np.array([0.3, -1.0, 2.0])


def test_the_body_alone_cannot_be_differentiated():
    def f(x):
        return softplus_unregistered(x) * x

    with pytest.raises(SyntaxError, match="match"):
        adgen.grad(f)(X)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_registered_function_is_a_primitive(mode):
    s = sigmoid(X)
    assert adgen.grad(weighted_softplus, mode=mode)(X) == pytest.approx(
        s * X + softplus(X), rel=1e-13)
    np.testing.assert_allclose(adgen.grad(softplus_energy, mode=mode)(XS),
                               2.0 * softplus(XS) * sigmoid(XS), rtol=1e-13)


def test_generated_source_calls_it_and_uses_the_template():
    text = adgen.source(adgen.grad(weighted_softplus))
    assert "softplus(x)" in text
    assert "np.exp(-" in text  # the template's expression, filled with generated names
    assert "log1p" not in text and "try" not in text  # the body was never read


def test_check_grads_passes_with_the_right_rules():
    check_grads(weighted_softplus, (X,), order=2)
    check_grads(softplus_energy, (XS,), order=2)


def test_grad_of_the_registered_function_itself_uses_its_rule():
    assert adgen.grad(softplus)(X) == pytest.approx(sigmoid(X), rel=1e-13)
    assert adgen.grad(softplus, mode="forward")(X) == pytest.approx(sigmoid(X), rel=1e-13)
    assert adgen.jvp(softplus)(X, 2.0)[1] == pytest.approx(2.0 * sigmoid(X), rel=1e-13)
    text = adgen.source(adgen.grad(softplus))
    assert "np.exp(-" in text and "try" not in text
    check_grads(softplus, (X,), order=2)


# ---------------------------------------------------------------- deliberately wrong rules


def softplus_bad_tangent(x):
    return np.log1p(np.exp(x))


@adgen.tangent_rule(softplus_bad_tangent)
def softplus_bad_tangent_dot(y, x, *, x_dot):
    return x_dot * np.exp(-y)  # wrong: 1 - sigmoid instead of sigmoid


@adgen.adjoint_rule(softplus_bad_tangent)
def softplus_bad_tangent_bar(y, x, *, y_bar):
    return y_bar * (1.0 - np.exp(-y))


def softplus_bad_adjoint(x):
    return np.log1p(np.exp(x))


@adgen.tangent_rule(softplus_bad_adjoint)
def softplus_bad_adjoint_dot(y, x, *, x_dot):
    return x_dot * (1.0 - np.exp(-y))


@adgen.adjoint_rule(softplus_bad_adjoint)
def softplus_bad_adjoint_bar(y, x, *, y_bar):
    return y_bar * (1.0 - np.exp(-y)) * 1.01  # wrong by one percent


def uses_bad_tangent(x):
    return np.sum(softplus_bad_tangent(x) * x)


def uses_bad_adjoint(x):
    return np.sum(softplus_bad_adjoint(x) * x)


@pytest.mark.parametrize("args", [(X,), (XS,)], ids=["float", "array"])
def test_check_grads_catches_a_wrong_tangent(args):
    with pytest.raises(AssertionError) as info:
        check_grads(uses_bad_tangent, args)
    report = str(info.value)
    assert "forward mode: jvp output tangent vs central difference" in report
    assert "forward vs reverse" in report
    assert "reverse mode: <vjp" not in report  # the adjoint is right
    check_grads(uses_bad_tangent, args, modes=("reverse",))


@pytest.mark.parametrize("args", [(X,), (XS,)], ids=["float", "array"])
def test_check_grads_catches_a_wrong_adjoint(args):
    with pytest.raises(AssertionError) as info:
        check_grads(uses_bad_adjoint, args)
    report = str(info.value)
    assert "reverse mode: <vjp gradient, v> vs <w, central difference along v>" in report
    assert "dot-product test" in report
    assert "forward mode: jvp" not in report  # the tangent is right
    check_grads(uses_bad_adjoint, args, modes=("forward",))


# ---------------------------------------------------------------- in a loop, in a callee


def softplus_loop(x):
    s = 0.0
    for k in range(3):
        s = s + softplus(x * (k + 1) - s * 0.1)
    return s


def softplus_loop_reference(x):
    """softplus_loop and its derivative by the chain rule, written out by hand."""
    s, ds = 0.0, 0.0
    for k in range(3):
        u = x * (k + 1) - s * 0.1
        du = (k + 1) - ds * 0.1
        s, ds = s + softplus(u), ds + sigmoid(u) * du
    return s, ds


def sp_layer(v):
    return softplus(v) * 2.0 - v


def softplus_in_callee(x):
    return np.sum(sp_layer(x) * np.tanh(x))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_rule_inside_a_loop(mode):
    _, expected = softplus_loop_reference(X)
    assert adgen.grad(softplus_loop, mode=mode)(X) == pytest.approx(expected, rel=1e-13)
    check_grads(softplus_loop, (X,))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_rule_inside_a_callee(mode):
    layer, t = sp_layer(XS), np.tanh(XS)
    expected = (2.0 * sigmoid(XS) - 1.0) * t + layer * (1.0 - t * t)
    np.testing.assert_allclose(adgen.grad(softplus_in_callee, mode=mode)(XS), expected,
                               rtol=1e-13)
    check_grads(softplus_in_callee, (XS,), order=2)


# ---------------------------------------------------------------- second derivatives


def softplus_second(x):
    s = sigmoid(x)
    return s * (1.0 - s)


def test_second_derivative_through_the_rule():
    """d2/dx2 x softplus(x) = 2 sigmoid + x sigmoid (1 - sigmoid), every second-order path."""
    s = sigmoid(X)
    expected = 2.0 * s + X * softplus_second(X)
    assert adgen.hessian(weighted_softplus)(X) == pytest.approx(expected, rel=1e-12)
    assert adgen.grad(adgen.grad(weighted_softplus))(X) == pytest.approx(expected, rel=1e-12)
    assert adgen.hvp(weighted_softplus)(X, 2.0) == pytest.approx(2.0 * expected, rel=1e-12)
    H = adgen.hessian(softplus_energy)(XS)
    sp, sg = softplus(XS), sigmoid(XS)
    np.testing.assert_allclose(H, np.diag(2.0 * (sg * sg + sp * softplus_second(XS))),
                               rtol=1e-12, atol=1e-15)


def test_second_derivative_in_a_callee():
    t = np.tanh(XS)
    d_layer = 2.0 * sigmoid(XS) - 1.0
    dd_layer = 2.0 * softplus_second(XS)
    dt, ddt = 1.0 - t * t, -2.0 * t * (1.0 - t * t)
    expected = dd_layer * t + 2.0 * d_layer * dt + sp_layer(XS) * ddt
    np.testing.assert_allclose(adgen.hessian(softplus_in_callee)(XS), np.diag(expected),
                               rtol=1e-12, atol=1e-15)


def test_second_derivative_through_the_rule_in_a_loop():
    h = 1e-5
    expected = (softplus_loop_reference(X + h)[1] - softplus_loop_reference(X - h)[1]) / (2 * h)
    assert adgen.hessian(softplus_loop)(X) == pytest.approx(expected, rel=1e-6)


def opaque_slope(x):
    match x:
        case _:
            return 1.0 / (1.0 + np.exp(-x))


def softplus_opaque(x):
    return np.log1p(np.exp(x))


@adgen.tangent_rule(softplus_opaque)
def softplus_opaque_dot(y, x, *, x_dot):
    return x_dot * opaque_slope(x)


@adgen.adjoint_rule(softplus_opaque)
def softplus_opaque_bar(y, x, *, y_bar):
    return y_bar * opaque_slope(x)


def uses_opaque(x):
    return softplus_opaque(x) * x


def test_second_derivative_needs_differentiable_templates():
    """First order is fine; second order must read `opaque_slope`, and says why it cannot."""
    s = sigmoid(X)
    assert adgen.grad(uses_opaque)(X) == pytest.approx(s * X + softplus(X), rel=1e-13)
    try_line = opaque_slope.__code__.co_firstlineno + 1
    for second in (adgen.hessian, lambda f: adgen.grad(adgen.grad(f))):
        with pytest.raises(SyntaxError, match="match") as info:
            second(uses_opaque)(X)
        assert info.value.lineno == try_line
        assert info.value.filename == opaque_slope.__code__.co_filename


# ---------------------------------------------------------------- nondifferentiable


def bucket_scale(x):
    return 1.0 + x * x  # differentiable in fact; declared constant below


adgen.nondifferentiable(bucket_scale)


def scaled(x):
    return np.sum(bucket_scale(x) * x)


def only_scale(x):
    return np.sum(bucket_scale(x)) + 0.0 * np.sum(x)


@pytest.mark.parametrize("x", [X, XS], ids=["float", "array"])
def test_nondifferentiable_result_is_a_constant(x):
    forward = adgen.grad(scaled, mode="forward")(x)
    reverse = adgen.grad(scaled)(x)
    np.testing.assert_allclose(reverse, bucket_scale(x), rtol=1e-15)  # not 1 + 3 x^2
    np.testing.assert_allclose(forward, reverse, rtol=1e-15)
    np.testing.assert_array_equal(adgen.grad(only_scale)(x), np.zeros_like(x))
    np.testing.assert_array_equal(adgen.grad(only_scale, mode="forward")(x), np.zeros_like(x))
    _, tangent = adgen.jvp(only_scale)(x, np.ones_like(x))
    assert tangent == 0.0


def test_nondifferentiable_source_has_no_derivative_of_it():
    """bucket_scale is called for its value; its result gets no adjoint, nothing reads its body."""
    tree = ast.parse(adgen.source(adgen.grad(scaled)))
    results = {node.targets[0].id for node in ast.walk(tree)
               if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
               and getattr(node.value.func, "id", None) == "bucket_scale"}
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert results, "bucket_scale(x) is not called"
    assert not {f"{r}_bar" for r in results} & names
    assert not any(isinstance(node, ast.Pow) for node in ast.walk(tree))  # no d(x*x) = 2x


# ---------------------------------------------------------------- stop_gradient


def half_stopped(x):
    return x * adgen.stop_gradient(x)


def stopped_tanh(x):
    return np.sum(x * adgen.stop_gradient(np.tanh(x)) + np.tanh(x) * 0.5)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_stop_gradient_blocks_the_gradient(mode):
    assert adgen.grad(half_stopped, mode=mode)(X) == pytest.approx(X, rel=1e-15)  # not 2x
    t = np.tanh(XS)
    np.testing.assert_allclose(adgen.grad(stopped_tanh, mode=mode)(XS),
                               t + 0.5 * (1.0 - t * t), rtol=1e-14)


def test_stop_gradient_blocks_second_derivatives_too():
    """grad(half_stopped) is stop_gradient(x): its derivative is 0, as in JAX."""
    assert adgen.grad(adgen.grad(half_stopped))(X) == 0.0
    assert adgen.hessian(half_stopped)(X) == 0.0
    t = np.tanh(XS)
    np.testing.assert_allclose(adgen.hessian(stopped_tanh)(XS), np.diag(-t * (1.0 - t * t)),
                               rtol=1e-13, atol=1e-15)


def test_stop_gradient_is_the_identity_on_values():
    assert adgen.stop_gradient(X) == X
    assert half_stopped(X) == pytest.approx(X * X)
    assert math.isclose(adgen.value_and_grad(half_stopped)(X)[0], X * X)
