"""No silently wrong derivative through writes: chained subscripts, helpers that change their
arguments, aliases made by chained and tuple assignment, containers that hold a name.

Each supported case is checked by `check_grads` (central differences, forward vs reverse,
the dot-product test); each refused case must raise adgen's own error at the user's line,
never return a number.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads

# ---------------------------------------------------------------- chained subscript writes


def table_of_lists(x):
    R = [[0.0, 0.0], [0.0, 0.0]]
    R[0][1] = x * x
    R[1][0] = 3.0 * x
    R[1][1] += R[0][1] * R[1][0]
    return R[0][1] + R[1][0] + R[1][1]


def array_rows(x):
    A = np.zeros((2, 3))
    A[0][1] += x * x
    A[1][2] = math.sin(x)
    return np.sum(A * A) * x


def soft_dtw_like(x):
    n = 4
    D = [[0.0] * n for _ in range(n)]
    D[0][0] = x
    for i in range(1, n):
        D[i][0] = D[i - 1][0] * x
        D[0][i] = D[0][i - 1] + x * 0.5
    for i in range(1, n):
        for j in range(1, n):
            best = min(D[i - 1][j], D[i][j - 1], D[i - 1][j - 1])
            D[i][j] = best + math.sin(D[i][j - 1] * x)
    return D[n - 1][n - 1]


def three_deep(x):
    T = [[[0.0, 0.0]], [[0.0, 0.0]]]
    T[1][0][1] = x ** 3
    T[0][0][0] = T[1][0][1] * 2.0
    return T[0][0][0] + T[1][0][1]


def grid_update(u):
    v = u.copy()
    for i in range(1, 3):
        v[i][1] = 0.25 * (u[i - 1][1] + u[i + 1][1] + u[i][0] + u[i][2])
    return np.sum(v * v)


# ---------------------------------------------------------------- helpers that write into arguments


def scale_(v):
    v *= 2.0


def boundary(u):
    u[0] = u[1]
    u[-1] = u[-2]


def record(history, value):
    history.append(value)


def normalize_(w):
    w /= np.linalg.norm(w)


def bump(a, b):  # a number: `a += b` makes a new value, the caller's `a` is unchanged
    a += b
    return a * b


def relax(u):
    boundary(u)
    u[1:-1] = 0.5 * u[1:-1] + 0.25 * (u[:-2] + u[2:])


def uses_scale(x):
    w = x * 1.0
    scale_(w)
    return np.sum(w * w)


def uses_boundary(x):
    u = x * 3.0
    boundary(u)
    return np.sum(u * x)


def uses_history(x):
    h = []
    record(h, x * x)
    record(h, math.sin(x))
    return h[0] * h[1] + h[1]


def uses_normalize(x):
    w = x + 1.0
    normalize_(w)
    return np.dot(w, x)


def uses_bump(x):
    a = x
    y = bump(a, 2.0)
    return a * y


def uses_relax(x):
    u = np.cos(x)
    relax(u)
    relax(u)
    return np.sum(u ** 2)


def writes_into_a_row(x):
    rows = [x * 1.0, x * 2.0]
    scale_(rows[1])
    return np.sum(rows[0] * rows[1])


VEC = np.array([0.3, 0.5, 0.9, 1.3])
FIRST_ORDER_ONLY = ("soft_dtw_like", "uses_relax")

SUPPORTED = [
    (table_of_lists, (0.7,)),
    (array_rows, (0.7,)),
    (soft_dtw_like, (0.6,)),
    (three_deep, (0.8,)),
    (grid_update, (np.arange(12.0).reshape(4, 3) / 7.0,)),
    (uses_scale, (VEC,)),
    (uses_boundary, (VEC,)),
    (uses_history, (0.7,)),
    (uses_normalize, (VEC,)),
    (uses_bump, (0.7,)),
    (uses_relax, (VEC,)),
    (writes_into_a_row, (VEC,)),
]


@pytest.mark.parametrize("f, args", SUPPORTED, ids=[f.__name__ for f, _ in SUPPORTED])
def test_writes_are_followed(f, args):
    check_grads(f, args, order=1 if f.__name__ in FIRST_ORDER_ONLY else 2)


def test_the_caller_sees_what_the_helper_did():
    x = np.array([0.3, 0.5, 0.9, 1.3])
    # u = 3x, then u[0] = u[1] and u[3] = u[2]: f = 3 (x1 x0 + x1 x1 + x2 x2 + x2 x3)
    grad = 3.0 * np.array([x[1], x[0] + 2 * x[1], 2 * x[2] + x[3], x[2]])
    assert adgen.grad(uses_boundary)(x) == pytest.approx(grad, rel=1e-14)
    assert adgen.grad(uses_boundary, mode="forward")(x) == pytest.approx(grad, rel=1e-14)


def test_second_order_through_a_written_slice_is_refused_not_wrong():
    """The first-order gradient reads a slice it later writes through (a view); its own
    derivative would follow values and miss the write, so it is refused at run time."""
    with pytest.raises(adgen.DifferentiationError, match="view"):
        adgen.hessian(uses_relax)(VEC)


# ---------------------------------------------------------------- refused: no derivative is right


def chained_assignment(x):
    m = v = np.zeros(3)
    m += x
    return np.sum(v * x)


def tuple_alias(z):
    a = z * 1.0
    c, d = a, a
    c[0] = 5.0
    return np.sum(d * z)


def same_array_twice(x):
    z = np.ones(3)
    pair = [z, z]
    pair[0][0] = x[0]
    return np.sum(pair[1] * x)


def dict_holds_parameter(x):
    d = {"w": x}
    d["w"][0] = 5.0
    return np.sum(x * x)


def repeated_rows(x):
    D = [[0.0] * 2] * 2
    D[0][1] = x
    return D[1][1] * x


def appended_then_written(x):
    rows = []
    r = x * 1.0
    rows.append(r)
    r[0] = 0.0
    return np.sum(rows[0] * x)


def view_then_written(x):
    v = x * 1.0
    w = v[1:]
    v[2] = 7.0
    return np.sum(w * x[1:])


def helper_on_shared(x):
    v = x * 1.0
    w = v
    boundary(w)
    return np.sum(v * x)


def global_write(x):
    BUFFER[0] = x
    return np.sum(BUFFER) * x


BUFFER = np.zeros(3)

REFUSED = [
    (chained_assignment, (0.7,), "share"),
    (tuple_alias, (VEC[:3],), "share"),
    (same_array_twice, (VEC[:3],), "share"),
    (dict_holds_parameter, (VEC[:3],), "share"),
    (repeated_rows, (0.7,), "same row many times"),
    (appended_then_written, (VEC,), "share"),
    (view_then_written, (VEC,), "view"),
    (helper_on_shared, (VEC,), "share"),
    (global_write, (0.7,), "not local"),
]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f, args, message", REFUSED, ids=[f.__name__ for f, _, _ in REFUSED])
def test_writes_through_aliases_are_refused(f, args, message, mode):
    with pytest.raises((adgen.DifferentiationError, adgen.UnsupportedSyntax), match=message):
        adgen.grad(f, mode=mode)(*args)


def test_a_refusal_names_the_users_line():
    with pytest.raises(adgen.UnsupportedSyntax) as info:
        adgen.grad(same_array_twice)(VEC[:3])
    assert info.value.lineno == same_array_twice.__code__.co_firstlineno + 3
    assert info.value.filename.endswith("test_effects.py")


# ---------------------------------------------------------------- dicts, closures


def dict_built_inside(x):
    d = {}
    d["a"] = x * x
    d["b"] = d["a"] * x
    return d["a"] + d["b"]


def returns_a_closed_value():
    c = 2.0

    def f(x):
        return c
    return f


def test_a_dict_built_inside_the_function():
    check_grads(dict_built_inside, (0.7,), order=2)


def test_a_function_returning_a_closed_over_constant():
    f = returns_a_closed_value()
    assert adgen.grad(f)(0.5) == 0.0
    assert adgen.vjp(f)(0.5, 1.0) == (2.0, 0.0)
