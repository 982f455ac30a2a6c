"""Second derivatives through recursion, against closed forms (issue 14, item 7).

Each recursive function below is a monomial `c * x**k` in `x` for a fixed depth `n`, so its
first and second derivatives are known exactly: `c k x**(k-1)` and `c k (k-1) x**(k-2)`. The
table gives `c` and `k` as plain Python recursions over `n` (no AD involved). Every record is
checked in each second-order mode (reverse over reverse, forward over reverse, `hessian`,
`hvp`, a reverse-mode Jacobian of the gradient), with the depth `n` passed as an int and as a float,
and by `adgen.testing.check_grads(f, args, order=2)`.

The cases cover what made `grad(grad(rec))` silently wrong: an integer parameter whose value
reaches the backward function through the tape multiplies one recursive call and not the
other, so the second derivative of the backward function calls two different derivatives of
itself (one also w.r.t. the cotangent). Also: factors on either side, one and several
recursive calls, a constant factor, float parameters, mutual recursion and a recursive call
inside a loop, and a loop whose saved values the backward function reads only for shapes
(differentiating it pops from the stack in its tape, which must be put back for the caller);
then the mixed derivative w.r.t. a float depth, which flows through the tape.
"""

import math

import numpy as np
import pytest

import adgen
from adgen.codegen import emit
from adgen.errors import DifferentiationError
from adgen.program import derivative_key
from adgen.testing import check_grads


def rec(x, n):
    if n == 0:
        return x * x
    return rec(x, n - 1) + n * rec(x, n - 1)


def rec_right(x, n):
    if n == 0:
        return x * x
    return rec_right(x, n - 1) * n + rec_right(x, n - 1)


def rec_const(x, n):
    if n == 0:
        return x * x
    return rec_const(x, n - 1) + 2.0 * rec_const(x, n - 1)


def twice(x, n):
    if n == 0:
        return x * x
    return twice(x, n - 1) + twice(x, n - 1)


def single(x, n):
    if n == 0:
        return x * x * x
    return n * single(x, n - 1)


def power_n(x, n):
    """n! x**n: the recursive call's value multiplies `x` and `n` at every level."""
    if n == 0:
        return 1.0
    return x * power_n(x, n - 1) * n


def squared(x, n):
    """x ** (2**n - 1): the recursive value enters nonlinearly (squared) at every level."""
    if n == 0:
        return 1.0
    y = squared(x, n - 1)
    return x * y * y


def scaled(x, c, n):
    """(1 + c)**n x**2 with a float parameter `c` that is not differentiated here."""
    if n == 0:
        return x * x
    return scaled(x, c, n - 1) + c * scaled(x, c, n - 1)


def mutual_f(x, n):
    if n == 0:
        return x * x
    return n * mutual_g(x, n - 1) + mutual_g(x, n - 1)


def mutual_g(x, n):
    if n == 0:
        return x * x * x
    return x * mutual_f(x, n - 1) * 2.0


def looped(x, n):
    """The recursive call inside a loop whose bound is the depth: n(n+1)/2 calls' worth."""
    if n == 0:
        return x * x
    total = 0.0
    for i in range(int(n)):
        total = total + (i + 1) * looped(x, n - 1)
    return total


def looped_product(x, n):
    """A loop-carried product of recursive values: x * looped_product(x, n-1) ** 2."""
    if n == 0:
        return 1.0
    acc = x
    for _ in range(2):
        acc = acc * looped_product(x, n - 1)
    return acc


def looped_sum(x, n):
    """A loop whose saved values the backward function reads only for shapes: the second
    derivative pops them from the stack in the tape and must put them back for its caller."""
    if n == 0:
        return x * x
    t = 0.0
    for _ in range(2):
        t = t + x * x
    return t + n * looped_sum(x, n - 1)


def stored(x, n):
    """Recursive values kept in a list built in a loop (reverse over reverse pops the list and
    pushes to its adjoint, which a merge must leave a list, not a plain 0.0)."""
    if n == 0:
        return x * x * x
    vals = []
    for i in range(2):
        vals.append(stored(x, n - 1) * (n + i))
    return vals[0] + vals[1] * x


def _looped_sum(n):
    return 1.0 if n == 0 else 2.0 + n * _looped_sum(n - 1)


def _mutual(n):
    """(c, k) of mutual_f(., n) and of mutual_g(., n)."""
    if n == 0:
        return (1.0, 2), (1.0, 3)
    (cf, kf), (cg, kg) = _mutual(n - 1)
    return ((n + 1) * cg, kg), (2.0 * cf, kf + 1)


# f, extra arguments after x, (c, k) of f(x, ..., n) = c * x**k
CASES = [
    (rec, (), lambda n: (math.factorial(n + 1), 2)),
    (rec_right, (), lambda n: (math.factorial(n + 1), 2)),
    (rec_const, (), lambda n: (3.0 ** n, 2)),
    (twice, (), lambda n: (2.0 ** n, 2)),
    (single, (), lambda n: (math.factorial(n), 3)),
    (power_n, (), lambda n: (math.factorial(n), n)),
    (squared, (), lambda n: (1.0, 2 ** n - 1)),
    (scaled, (0.3,), lambda n: (1.3 ** n, 2)),
    (mutual_f, (), lambda n: _mutual(n)[0]),
    (mutual_g, (), lambda n: _mutual(n)[1]),
    (looped, (), lambda n: (math.prod(m * (m + 1) / 2 for m in range(1, n + 1)), 2)),
    (looped_product, (), lambda n: (1.0, 2 ** n - 1)),
    (looped_sum, (), lambda n: (_looped_sum(n), 2)),
]

X = 0.7
DEPTHS = [0, 1, 2, 3]


def _closed_form(monomial, n, x=X):
    c, k = monomial(n)
    second = c * k * (k - 1) * x ** (k - 2) if k >= 2 else 0.0
    return c * x ** k, c * k * x ** (k - 1), second


def _second_orders(f, args):
    """The second derivative w.r.t. the first argument, by every route adgen offers."""
    ones = 1.0
    return {
        "grad(grad)": adgen.grad(adgen.grad(f))(*args),
        "grad(grad, forward)": adgen.grad(adgen.grad(f), mode="forward")(*args),
        "jacobian(grad, reverse)": adgen.jacobian(adgen.grad(f), mode="reverse")(*args),
        "hessian": adgen.hessian(f)(*args),
        "hvp": adgen.hvp(f)(*args, ones),
    }


def _ids(case):
    return case[0].__name__


@pytest.mark.parametrize("depth_type", [int, float])
@pytest.mark.parametrize("n", DEPTHS)
@pytest.mark.parametrize("f, extra, monomial", CASES, ids=[_ids(c) for c in CASES])
def test_second_derivative_matches_closed_form(f, extra, monomial, n, depth_type):
    args = (X, *extra, depth_type(n))
    value, first, second = _closed_form(monomial, n)
    assert f(*args) == pytest.approx(value, rel=1e-12)
    assert adgen.grad(f)(*args) == pytest.approx(first, rel=1e-12)
    for route, got in _second_orders(f, args).items():
        assert float(np.squeeze(got)) == pytest.approx(second, rel=1e-12, abs=1e-12), route


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("f, extra, monomial", CASES, ids=[_ids(c) for c in CASES])
def test_check_grads_order_two(f, extra, monomial, n):
    check_grads(f, (X, *extra, n), wrt=0, order=2)


@pytest.mark.parametrize("n", [1, 2])
def test_recursive_values_stored_in_a_list(n):
    """stored(x, 1) = x**3 + 2 x**4; stored(x, 2) = 2 stored(x, 1) + 3 stored(x, 1) x."""
    second = {1: 6 * X + 24 * X ** 2,
              2: 2 * (6 * X + 24 * X ** 2) + 3 * (12 * X ** 2 + 40 * X ** 3)}[n]
    for route, got in _second_orders(stored, (X, n)).items():
        assert float(np.squeeze(got)) == pytest.approx(second, rel=1e-12), route
    check_grads(stored, (X, n), wrt=0, order=2)


def grown(x, a, n):
    """a**(n+1) x**n: a float parameter differentiated too."""
    if n == 0:
        return a
    return a * x * grown(x, a, n - 1)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_float_parameter_second_derivatives(n):
    x, a = X, 1.3
    hessian = np.array([
        [n * (n - 1) * a ** (n + 1) * x ** (n - 2) if n >= 2 else 0.0,
         (n + 1) * n * a ** n * x ** (n - 1)],
        [(n + 1) * n * a ** n * x ** (n - 1), (n + 1) * n * a ** (n - 1) * x ** n]])
    for i in range(2):
        for j in range(2):
            got = adgen.grad(adgen.grad(grown, wrt=j), wrt=i)(x, a, n)
            assert got == pytest.approx(hessian[i, j], rel=1e-12), (i, j)
            got = adgen.grad(adgen.grad(grown, wrt=j), wrt=i, mode="forward")(x, a, n)
            assert got == pytest.approx(hessian[i, j], rel=1e-12), (i, j, "forward")
    assert adgen.hessian(grown, wrt=1)(x, a, n) == pytest.approx(hessian[1, 1], rel=1e-12)
    check_grads(grown, (x, a, n), order=2)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_mixed_derivative_through_a_float_depth(n):
    """With the branch fixed, rec(x, n) = x**2 prod_{m=1..n} (1 + m) as a polynomial in a float
    `n` (the factor of level j is 1 + n - j), so d/dn rec = rec * sum_{m=1..n} 1 / (1 + m): the
    derivative w.r.t. `n` flows through every level's tape."""
    x = X
    expected = 2 * x * math.factorial(n + 1) * sum(1 / (1 + m) for m in range(1, n + 1))
    for i, j in ((0, 1), (1, 0)):
        for mode in ("reverse", "forward"):
            got = adgen.grad(adgen.grad(rec, wrt=j), wrt=i, mode=mode)(x, float(n))
            assert got == pytest.approx(expected, rel=1e-12), (i, j, mode)


def accumulate(x, n):
    total = 0.0
    for _ in range(int(n)):
        total = total + x * x
    return total


def twice_accumulated(x, n):
    return accumulate(x, n) * 2.0


@pytest.mark.parametrize("n", [1, 2, 3])
def test_second_order_through_a_callee_with_a_loop(n):
    """The callee's tape holds its stack; differentiating its backward function pops from
    that stack, which the reverse sweep puts back (else `pop from empty list`)."""
    for route, got in _second_orders(twice_accumulated, (X, n)).items():
        assert float(np.squeeze(got)) == pytest.approx(4.0 * n, rel=1e-12), route


def popping(x, xs):
    t = 0.0
    for _ in range(2):
        y = xs.pop()
        t = t + x * x * y
    return t


def test_reverse_mode_puts_popped_items_back():
    """A list argument the function pops from is as it was after the gradient (as after an
    element write), in the same order, at first and second order."""
    xs = [1.0, 2.0, 3.0]
    assert adgen.grad(popping)(0.5, xs) == pytest.approx(5.0, rel=1e-12)
    assert xs == [1.0, 2.0, 3.0]
    assert adgen.grad(adgen.grad(popping))(0.5, xs) == pytest.approx(10.0, rel=1e-12)
    assert xs == [1.0, 2.0, 3.0]


def test_third_order_through_recursion():
    """d^3/dx^3 of power_n(x, 4) = 4! x**4 is 4! * 24 x."""
    third = adgen.grad(adgen.grad(adgen.grad(power_n)))(X, 4)
    assert third == pytest.approx(24 * 24 * X, rel=1e-12)


def test_two_derivatives_of_one_backward_function_are_told_apart():
    """The root cause of the silently wrong `grad(grad(rec))`: the derivative of `rec`'s
    backward function w.r.t. its tape calls itself for the call whose cotangent does not depend
    on the tape, and the derivative w.r.t. tape *and* cotangent for the call scaled by `n`
    (read from the tape). Both are named `rec_bwd_fwd` by default; the other one must be bound
    under a name of its own, or the function's own definition hides it."""
    adgen.grad(adgen.grad(rec))(X, 2)
    backward = adgen.grad(rec).__adgen__.bindings["rec_bwd"]
    built = adgen.pipeline.PROGRAM.built
    tape_only = built[derivative_key(backward, ("_tape",), "split", frozenset())]
    both = built[derivative_key(backward, ("_tape", "_result_bar"), "split", frozenset())]
    meta = tape_only.__adgen__
    assert meta.bindings["rec_bwd_fwd"] is tape_only
    names = [n for n, obj in meta.bindings.items() if obj is both]
    assert names and names[0] != "rec_bwd_fwd" and f"{names[0]}(" in meta.source


def test_a_definition_never_hides_a_bound_name():
    with pytest.raises(DifferentiationError, match="internal error"):
        emit.compile_functions("def g_fwd(x):\n    return x\n", "g_fwd",
                               {"g_fwd": math.sin}, {}, "g", "split")
