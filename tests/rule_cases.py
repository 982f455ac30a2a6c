"""Checks shared by the rule catalogs of issue 17 (`test_rules_linalg`, `test_rules_math_scipy`).

A case is a function of one or two array arguments and the arguments. `check_case` runs
`check_grads` on it (central differences, both modes, dot-product test), `check_grads` at
second order on a scalar made of it, and compares the forward-mode Jacobian with the
reverse-mode one. `batched` says whether the function's rules all have a batched tangent:
then the batched pass must be built and agree with reverse mode direction by direction;
otherwise `jvp(batched=True)` must refuse clearly and forward mode falls back to one pass per
direction.
"""

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads


def summed(f, nargs):
    """`sum(sin(f(...)))`: a scalar function of the same arguments, nonlinear in `f`."""
    if nargs == 1:
        def one(x):
            return np.sum(np.sin(f(x)))
        return one

    def two(x, y):
        return np.sum(np.sin(f(x, y)))
    return two


def jacobians_agree(f, args, wrt):
    forward = adgen.jacobian(f, wrt=wrt, mode="forward")(*args)
    reverse = adgen.jacobian(f, wrt=wrt, mode="reverse")(*args)
    assert np.shape(forward) == np.shape(reverse)
    np.testing.assert_allclose(forward, reverse, rtol=1e-9, atol=1e-11)
    assert np.any(reverse != 0)
    return reverse


def batched_agrees(f, args, wrt, reverse):
    """The batched tangent of `f` with unit directions is the reverse-mode Jacobian."""
    x = args[wrt]
    seeds = np.eye(np.size(x)).reshape((np.size(x),) + np.shape(x))
    value, tangents = adgen.jvp(f, wrt=wrt, batched=True)(*args, seeds)
    columns = np.moveaxis(np.reshape(reverse, np.shape(value) + (np.size(x),)), -1, 0)
    np.testing.assert_allclose(np.reshape(tangents, columns.shape), columns, rtol=1e-9,
                               atol=1e-11)


def check_case(f, args, batched=True, second_order=True):
    check_grads(f, args)
    if second_order:
        check_grads(summed(f, len(args)), args, order=2)
    for wrt in range(len(args)):
        reverse = jacobians_agree(f, args, wrt)
        if batched:
            batched_agrees(f, args, wrt, reverse)
        else:
            with pytest.raises(adgen.DifferentiationError, match="no batched tangent"):
                adgen.jvp(f, wrt=wrt, batched=True)


def check_float32(f, args):
    """float32 arguments give float32 Jacobians in both modes, close to the float64 ones."""
    narrow = tuple(np.asarray(a, np.float32) for a in args)
    for wrt in range(len(args)):
        wide = adgen.jacobian(f, wrt=wrt, mode="reverse")(*args)
        for mode in ("forward", "reverse"):
            got = adgen.jacobian(f, wrt=wrt, mode=mode)(*narrow)
            assert got.dtype == np.float32, (mode, got.dtype)
            np.testing.assert_allclose(got, wide, rtol=2e-3, atol=2e-3)
