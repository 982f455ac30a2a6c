"""Checks shared by the rule catalogs (`test_rules_shape.py`, `test_rules_elementwise.py`).

A record is an array-valued function of one or two arrays and its arguments. `check_record`
runs `check_grads` (jvp and vjp against central differences, the dot-product test);
`check_jacobians` compares the forward Jacobian (one batched pass when `batched`, else
asserting that the batched form is refused) with the reverse one and with finite
differences; `loss_of(f, nargs)` is a nonlinear scalar loss of `f`'s result for
`check_grads(order=2)`.
"""

import numpy as np
import pytest

import adgen
from adgen.testing import numerical_jacobian


def wrt_of(args):
    return tuple(range(len(args))) if len(args) > 1 else 0


def _blocks(j, args):
    return list(j) if len(args) > 1 else [j]


def check_jacobians(f, args, batched=True, rtol=1e-10):
    if batched:
        adgen.jvp(f, wrt_of(args), batched=True)  # refuses when a rule has no batched form
    else:
        with pytest.raises(adgen.DifferentiationError, match="batched"):
            adgen.jvp(f, wrt_of(args), batched=True)
    forward = _blocks(adgen.jacobian(f, wrt_of(args), mode="forward")(*args), args)
    reverse = _blocks(adgen.jacobian(f, wrt_of(args), mode="reverse")(*args), args)
    for i, (got, want) in enumerate(zip(forward, reverse, strict=True)):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12)
        np.testing.assert_allclose(got, numerical_jacobian(f, args, i), rtol=1e-6, atol=1e-6)


def loss_of(f, nargs):
    if nargs == 1:
        def loss(x):
            y = f(x)
            return np.sum(np.sin(y) * y)
    else:
        def loss(x, w):
            y = f(x, w)
            return np.sum(np.sin(y) * y)
    return loss


def check_hessians(f, args):
    """The Hessian of `loss_of(f)` in its first argument three ways: `adgen.hessian`,
    reverse over reverse (`jacobian(grad(loss), mode="reverse")`), and finite differences of
    the gradient."""
    loss = loss_of(f, len(args))
    grad = adgen.grad(loss, wrt=0)
    want = numerical_jacobian(grad, args, 0)
    scale = 1.0 + np.abs(want).max()
    np.testing.assert_allclose(adgen.hessian(loss)(*args), want, rtol=1e-6, atol=1e-6 * scale)
    twice_reverse = adgen.jacobian(grad, wrt=0, mode="reverse")(*args)
    np.testing.assert_allclose(twice_reverse, want, rtol=1e-6, atol=1e-6 * scale)


def as_float32(args):
    return tuple(np.asarray(a, dtype=np.float32) for a in args)
