"""A third hunt for silently wrong derivatives: writes NumPy and Python make without `x[...] =`,
writes through the views NumPy returns, shallow copies, generators read twice, state outside
the arguments, tuples inside an index.

Each refused function below returned a number before (a wrong one, in both modes); each must
now raise adgen's own error at the user's line. What is differentiated is checked by
`check_grads` (central differences, forward against reverse, second order).
"""

from __future__ import annotations

import bisect
import copy
import heapq
import operator
import random

import numpy as np
import pytest
from numpy import asarray, flip, reshape

import adgen
from adgen.testing import check_grads

X = np.array([0.3, 0.5, 0.9])
A = np.array([[0.3, 0.5], [0.9, 1.3]])
REFUSALS = (adgen.DifferentiationError, adgen.UnsupportedSyntax)


def refused(f, args, match, mode):
    """The error adgen raises for `grad(f, mode=mode)(*args)`, checked to name the user's
    file and `match`."""
    with pytest.raises(REFUSALS, match=match) as info:
        adgen.grad(f, mode=mode)(*(copy.deepcopy(a) for a in args))
    err = info.value
    named = err.filename if isinstance(err, adgen.UnsupportedSyntax) else str(err)
    assert "test_wrong_hunt3.py" in named
    return err


def line_of(f, k):
    """The line number of the `k`-th line of `f` (0: its `def`)."""
    return f.__code__.co_firstlineno + k


# ---------------------------------------------------------------- calls that write in place


def out_by_position(x):
    a = x * 2.0
    np.add(a, x, a)  # `out` by position: `a` becomes a + x
    return np.sum(a * x)


def exp_into(x):
    y = np.zeros(3)
    np.exp(x, y)
    return np.sum(y)


def method_out_by_position(x):
    s = np.zeros(1)
    x.sum(0, None, s, True)
    return s[0] * x[0]


def operator_setitem(x):
    a = x * 1.0
    operator.setitem(a, 0, x[1] ** 2)
    return np.sum(a * x)


def operator_iadd(x):
    a = x * 1.0
    operator.iadd(a, x)
    return np.sum(a * a)


def unbound_fill(x):
    a = x * 1.0
    np.ndarray.fill(a, 2.0)
    return np.sum(a * x)


def unbound_append(x):
    h = []
    list.append(h, x[0] ** 2)
    return h[0] * x[1]


def heap_of_values(x):
    h = []
    heapq.heappush(h, x[1])
    heapq.heappush(h, x[0])
    return h[0] * 2.0 + h[1]


def sorted_insert(x):
    xs = [0.4]
    bisect.insort(xs, x[0])
    return xs[0] * 3.0 + xs[1]


def shuffled(x):
    xs = [x[0], x[1], x[2]]
    random.Random(0).shuffle(xs)
    return xs[0] * 3.0 + xs[1]


HISTORY: list = []


def appends_to_a_global(x):
    HISTORY.append(x[0] ** 2)
    return HISTORY[-1] * x[1]


def log_value(v):
    HISTORY.append(v * v)
    return HISTORY[-1]


def calls_a_global_writer(x):
    return log_value(x[0]) * x[1]


def closure_appender():
    buffer = []

    def appends_to_a_closure(x):
        buffer.append(x[0] ** 2)
        return buffer[-1] * x[1]
    return appends_to_a_closure


class Cell:
    def __init__(self, h):
        self.h = h


def set_state(cell, v):
    cell.h = v


def helper_sets_an_attribute(x):
    c = Cell(0.5)
    set_state(c, x[0] ** 2)
    return c.h * x[1]


IN_PLACE_CALLS = [
    (out_by_position, 2, "out="), (exp_into, 2, "out="), (method_out_by_position, 2, "`out`"),
    (operator_setitem, 2, "operator.setitem"), (operator_iadd, 2, "operator.iadd"),
    (unbound_fill, 2, "np.ndarray.fill"), (unbound_append, 2, "list.append"),
    (heap_of_values, 2, "heapq.heappush"), (sorted_insert, 2, "bisect.insort"),
    (shuffled, 2, "shuffle"), (appends_to_a_global, 1, "HISTORY.append"),
    (calls_a_global_writer, None, "HISTORY"),
    (closure_appender(), 1, "buffer.append"),
    (helper_sets_an_attribute, None, "attributes"),
]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f, line, match", IN_PLACE_CALLS,
                         ids=[f.__name__ for f, _, _ in IN_PLACE_CALLS])
def test_calls_that_write_in_place_are_refused(f, line, match, mode):
    if f is helper_sets_an_attribute and mode == "forward":
        match = "Cell"  # forward mode refuses the object first
    err = refused(f, (X,), match, mode)
    if line is not None and isinstance(err, adgen.UnsupportedSyntax):
        assert err.lineno == line_of(f, line)


def sum_with_positional_defaults(x):
    return np.sum(np.std(x, 0, None, None, 1)) + np.sum(x.var(1, None, None, 1)) + np.sum(
        np.exp(x, None) * np.cumsum(x, 1, None, None))


def test_a_positional_none_is_no_output():
    check_grads(sum_with_positional_defaults, (np.array([[0.3, 0.5, 0.9], [1.1, 0.2, 0.7]]),),
                order=2)


# ---------------------------------------------------------------- writes through views


def ravel_written(a):
    b = a * 1.0
    b.ravel()[1] = a[0, 0] ** 2  # a view of `b`: `b[0, 1]` changes
    return np.sum(b * a)


def reshape_written(a):
    b = a * 1.0
    b.reshape(-1)[2] = 5.0
    return np.sum(b * a)


def flip_written(x):
    a = x * 1.0
    f = np.flip(a)
    f[0] = 5.0  # `a[2]`
    return np.sum(a * x)


def imported_flip_written(x):
    a = x * 1.0
    f = flip(a)
    f[0] = 5.0
    return np.sum(a * x)


def imported_asarray_written(x):
    a = x * 1.0
    b = asarray(a)  # `a` itself
    b[0] = 5.0
    return np.sum(a * x)


def imported_reshape_written(x):
    a = x * 1.0
    b = reshape(a, (3,))
    b[0] = 5.0
    return np.sum(a * x)


def asanyarray_written(x):
    a = x * 1.0
    b = np.asanyarray(a)
    b[1] = 5.0
    return np.sum(a * x)


def uncopied_written(x):
    a = x * 1.0
    b = np.array(a, copy=False)
    b[0] = 5.0
    return np.sum(a * x)


def pieces_written(x):
    a = x * 1.0
    parts = np.split(a, 3)
    parts[0][0] = 5.0  # `a[0]`
    return np.sum(a * x)


VIEW_WRITES = [(ravel_written, A, 2), (reshape_written, A, 2), (flip_written, X, 3),
               (imported_flip_written, X, 3), (imported_asarray_written, X, 3),
               (imported_reshape_written, X, 3), (asanyarray_written, X, 3),
               (uncopied_written, X, 3), (pieces_written, X, 3)]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f, arg, line", VIEW_WRITES, ids=[f.__name__ for f, _, _ in VIEW_WRITES])
def test_writes_through_views_numpy_returns_are_refused(f, arg, line, mode):
    err = refused(f, (arg,), "view|share", mode)
    assert err.lineno == line_of(f, line)


def reversed_view_written(x):
    a = x * 1.0
    a[::-1][0] = x[0] ** 2  # `a[2]`, followed as a chained write
    return np.sum(a * x)


def test_a_chained_write_through_a_slice_is_followed():
    check_grads(reversed_view_written, (X,), order=2)
    assert adgen.grad(reversed_view_written)(X) == pytest.approx(
        [2 * 0.3 + 2 * 0.3 * 0.9, 2 * 0.5, 0.3 ** 2])


# ---------------------------------------------------------------- shallow copies


def copied_list_written(x):
    rows = [x * 1.0, x * 2.0]
    mine = rows.copy()  # a new list holding the same arrays
    mine[0][0] = 5.0
    return np.sum(rows[0] * x)


def listed_written(x):
    rows = [x * 1.0]
    mine = list(rows)
    mine[0][0] = 5.0
    return np.sum(rows[0] * x)


def copied_dict_written(x):
    params = {"w": x * 1.0}
    trial = dict(params)
    trial["w"][0] = 5.0
    return np.sum(params["w"] * x)


def starred_written(x):
    rows = [x * 1.0]
    mine = [*rows]
    mine[0][0] = 5.0
    return np.sum(rows[0] * x)


def array_rows_listed(a):
    b = a * 1.0
    rows = list(b)  # views of `b`'s rows
    b[0, 1] = 5.0
    return np.sum(rows[0] * a[0])


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f, arg", [(copied_list_written, X), (listed_written, X),
                                    (copied_dict_written, X), (starred_written, X),
                                    (array_rows_listed, A)])
def test_writes_into_what_a_shallow_copy_shares_are_refused(f, arg, mode):
    err = refused(f, (arg,), "shallow copy", mode)
    assert f"test_wrong_hunt3.py:{line_of(f, 3)}" in str(err)


def copy_of_a_parameter_written(u):
    v = u.copy()  # an array's copy is deep
    v[1][1] = 0.25 * (u[0][1] + u[1][0])
    return np.sum(v * v)


def copies_replaced(x):
    rows = [x * 1.0, x * 2.0]
    mine = list(rows)
    mine[0] = x ** 2
    mine.append(x * 3.0)
    params = {"w": x * 1.0, "b": x * 2.0}
    trial = params.copy()
    trial["w"] = trial["w"] - 0.1 * x
    return np.sum(rows[0] * mine[0]) + np.sum(mine[2] * rows[1]) + np.sum(
        params["w"] * trial["w"])


def tuple_of_numbers_then_written(x):
    a = x * 1.0
    t = tuple(a)  # numbers, not views
    a[0] = 5.0
    return t[0] * x[1] + np.sum(a * x)


@pytest.mark.parametrize("f, arg", [(copy_of_a_parameter_written, A), (copies_replaced, X),
                                    (tuple_of_numbers_then_written, X)])
def test_copies_that_share_nothing_written_are_differentiated(f, arg):
    check_grads(f, (arg,), order=2)


# ---------------------------------------------------------------- one-shot iterators


def generator_summed_twice(x):
    g = (v * v for v in x)
    a = sum(g)
    b = sum(g)  # 0 in Python: `g` is exhausted
    return a + 10.0 * b


def map_summed_twice(x):
    m = map(np.sin, x)
    return sum(m) + 10.0 * sum(m)


def generator_in_a_loop(x):
    g = (v * v for v in x)
    s = 0.0
    for k in range(2):
        s = s + sum(g) * (k + 1)
    return s


def reversed_iterated_twice(x):
    r = reversed(x)
    a = sum(v * v for v in r)
    b = sum(v for v in r)
    return a + 10.0 * b


ONE_SHOT = [(generator_summed_twice, 3), (map_summed_twice, 2), (generator_in_a_loop, 4),
            (reversed_iterated_twice, 3)]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f, line", ONE_SHOT, ids=[f.__name__ for f, _ in ONE_SHOT])
def test_a_generator_read_twice_is_refused(f, line, mode):
    err = refused(f, (X,), "one-shot iterator", mode)
    assert err.lineno == line_of(f, line)


def generators_each_read_once(x):
    g = (v * v for v in x)
    a = sum(g)
    g = (v * 3.0 for v in x)
    s = 0.0
    for k in range(2):
        h = (v * (k + 1) for v in x)
        s = s + sum(h)
    return a * sum(g) + s


def test_generators_read_once_are_differentiated():
    check_grads(generators_each_read_once, (X,), order=2)


# ---------------------------------------------------------------- tuples inside an index


def rows_picked_by_a_tuple(t):
    return np.sum(t[(0, 1), 2] ** 2)


def pairs_written(a):
    b = a * 1.0
    b[(0, 1), (1, 1)] = a[0, 0] * 2.0
    return np.sum(b * b)


def test_a_tuple_inside_an_index_keeps_its_parentheses():
    """`t[(0, 1), 2]` was printed `t[0, 1, 2]` in generated code: an element where NumPy
    picks rows (a wrong hessian), or an IndexError."""
    t = np.arange(24.0).reshape(2, 3, 4) / 10.0
    check_grads(rows_picked_by_a_tuple, (t,), order=2)
    check_grads(pairs_written, (A,), order=2)


# ---------------------------------------------------------------- mutable default values


def accumulates_in_its_default(x, acc=[]):  # noqa: B006  (the pattern under test)
    acc.append(x[0] ** 2)
    return sum(acc) * x[1]


def test_a_mutable_default_is_read_as_it_is_and_left_as_it_was():
    """The derivative is that of the function with the default as it is at the call; the
    derivative leaves the default as it was (like an argument it writes into)."""
    default = accumulates_in_its_default.__defaults__[0]
    default[:] = [0.25]
    for mode in ("reverse", "forward"):
        g = adgen.grad(accumulates_in_its_default, mode=mode)(X)
        np.testing.assert_allclose(g, [2 * 0.3 * 0.5, 0.25 + 0.09, 0.0])
        assert default == [0.25]


# ---------------------------------------------------------------- arrays of integers written


def grid_of_integers(x):
    t = np.arange(3)  # integers: `t[0]` becomes int(2.5 * x[0])
    t[0] = x[0] * 2.5
    return np.sum(t * x)


def counts_updated(x):
    c = np.zeros(3, dtype=int)
    c[1] += x[1] * 3.0
    return np.sum(c * x)


def mask_written(x):
    m = np.zeros(3, dtype=bool)
    m[0] = x[0]
    return np.sum(m * x)


def integer_argument_written(x, k):
    k[0] = x[1] * 2.5
    return np.sum(k * x)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f, line", [(grid_of_integers, 1), (counts_updated, 1), (mask_written, 1)])
def test_values_written_into_an_array_of_integers_are_refused(f, line, mode):
    """NumPy truncates what is stored: the derivative followed the value written (reverse and
    forward mode even disagreed)."""
    err = refused(f, (X,), "truncates", mode)
    assert f"test_wrong_hunt3.py:{line_of(f, line)}" in str(err)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_an_integer_argument_written_is_refused(mode):
    with pytest.raises(adgen.DifferentiationError, match="`k` is an array of int64"):
        adgen.grad(integer_argument_written, mode=mode)(X.copy(), np.arange(3))
    check_grads(integer_argument_written, (X, np.array([0.0, 1.0, 2.0])), order=2)


def floats_written(x):
    t = np.zeros_like(x)
    t[0] = x[1] ** 2
    u = np.arange(3.0)
    u[2] = x[0] * u[1]
    return np.sum(t * x) + np.sum(u * u)


def test_float_arrays_written_are_differentiated():
    check_grads(floats_written, (X,), order=2)
    source = adgen.source(adgen.grad(floats_written), X)
    assert "float_target" not in source  # the variant knows the arrays hold floats


# ---------------------------------------------------------------- swaps by tuple assignment


def rows_swapped(a):
    b = a * 1.0
    b[0], b[1] = b[1], b[0]  # rows are views: NumPy leaves both rows equal to the old b[1]
    return np.sum(b * a)


def columns_swapped(a):
    b = a * 1.0
    b[:, 0], b[:, 1] = b[:, 1], b[:, 0]
    return np.sum(b * a)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f", [rows_swapped, columns_swapped])
def test_swapping_views_by_tuple_assignment_is_refused(f, mode):
    """Reverse mode differentiated a real swap, which NumPy does not make."""
    err = refused(f, (A,), "view", mode)
    assert f"test_wrong_hunt3.py:{line_of(f, 2)}" in str(err)


def elements_swapped(x):
    a = x * 1.0
    a[0], a[1] = a[1], a[0]  # numbers: a real swap
    return np.sum(a * x)


def rows_swapped_by_copies(a):
    b = a * 1.0
    b[0], b[1] = b[1].copy(), b[0].copy()
    return np.sum(b * a)


def test_swaps_of_numbers_and_copies_are_differentiated():
    """Forward `grad` (batched tangents) read an element's tangent as a view of the tangent
    array, which the first store changed: the swap of numbers was wrong in forward mode."""
    check_grads(elements_swapped, (X,), order=2)
    np.testing.assert_allclose(adgen.grad(elements_swapped, mode="forward")(X),
                               [2 * 0.5, 2 * 0.3, 2 * 0.9])
    check_grads(rows_swapped_by_copies, (A,), order=2)


# ---------------------------------------------------------------- `c[k] += v` on a held item


def entry_updated_while_held(x):
    params = {"w": x * 1.0}
    w = params["w"]
    params["w"] -= 0.1 * x ** 2  # in place on the array `w` holds
    return np.sum(w * x)


def row_updated_while_held(x):
    rows = [x * 1.0, x * 2.0]
    r = rows[0]
    rows[0] += x ** 2
    return np.sum(r * x)


def argument_updated_through_a_list(x):
    rows = [x, x * 2.0]
    rows[0] *= 3.0  # changes the argument
    return np.sum(rows[0]) + np.sum(x)


def copied_params_stepped(x):
    params = {"w": x * 1.0, "b": x * 0.5}
    old = dict(params)
    for k in params:
        params[k] -= 0.1 * x ** 2  # `old` holds the same arrays
    return np.sum(old["w"] * params["w"])


def array_row_updated_while_viewed(a):
    b = a * 1.0
    r = b[0]
    b[0] += a[1] ** 2  # `r` is a view of that row
    return np.sum(r * a[0])


HELD_UPDATES = [(entry_updated_while_held, X, 3), (row_updated_while_held, X, 3),
                (argument_updated_through_a_list, X, 2), (copied_params_stepped, X, 4),
                (array_row_updated_while_viewed, A, 3)]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f, arg, line", HELD_UPDATES,
                         ids=[f.__name__ for f, _, _ in HELD_UPDATES])
def test_updating_an_item_another_name_holds_is_refused(f, arg, line, mode):
    """`c[k] op= v` changes the item in place when it is an array (or a list): every name
    holding it sees the change, which the trace (`c[k] = c[k] op v`) missed."""
    err = refused(f, (arg,), "in place|view", mode)
    assert f"test_wrong_hunt3.py:{line_of(f, line)}" in str(err)


def numbers_updated(x):
    d = {"a": x[0], "b": x[1]}
    a = d["a"]
    old = dict(d)
    d["a"] -= 0.1 * x[2]
    return a * d["a"] + old["b"] * d["a"]


def arrays_stepped(x):
    params = {"w": x * 1.0, "b": x * 0.5}
    for k in params:
        params[k] -= 0.1 * x ** 2
    return np.sum(params["w"] * params["b"])


def other_row_updated(a):
    b = a * 1.0
    r = b[0]
    b[1] += a[0] ** 2
    return np.sum(r * a[1]) + np.sum(b)


@pytest.mark.parametrize("f, arg", [(numbers_updated, X), (arrays_stepped, X),
                                    (other_row_updated, A)])
def test_updates_nobody_else_sees_are_differentiated(f, arg):
    check_grads(f, (arg,), order=2)


# ---------------------------------------------------------------- what a helper writes


BUFFER3 = np.zeros(3)
LOG3: list = []


def set_buffer(v):
    BUFFER3[0] = v


def log_only(v):
    LOG3.append(v)


def through_a_global_buffer(x):
    set_buffer(x[0] ** 2)  # returns nothing: its derivative was never built
    return BUFFER3[0] * x[1]


def through_a_global_log(x):
    log_only(x[0] ** 2)
    return LOG3[-1] * x[1]


def update_first_row(rows, v):
    rows[0] += v  # in place on the array `rows[0]`


def set_inner(rows, v):
    rows[0][1] = v


def helper_updates_a_held_row(x):
    rows = [x * 1.0, x * 2.0]
    r = rows[0]
    update_first_row(rows, x ** 2)
    return np.sum(r * x)


def helper_writes_into_a_held_row(x):
    rows = [x * 1.0, x * 2.0]
    r = rows[0]
    set_inner(rows, x[2] ** 2)
    return np.sum(r * x)


HELPERS = [(through_a_global_buffer, "BUFFER3"), (through_a_global_log, "LOG3"),
           (helper_updates_a_held_row, "share"), (helper_writes_into_a_held_row, "share")]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f, match", HELPERS, ids=[f.__name__ for f, _ in HELPERS])
def test_what_a_helper_writes_is_seen_by_the_caller(f, match, mode):
    """A helper writing into a global was never differentiated when it returned nothing; one
    writing into a row its argument holds was taken to replace an element."""
    err = refused(f, (X,), match, mode)
    assert err.lineno == line_of(f, 1 if f.__name__.startswith("through") else 3)


def helper_updates_rows_nobody_holds(x):
    rows = [x * 1.0, x * 2.0]
    update_first_row(rows, x ** 2)
    set_inner(rows, x[2] ** 2)
    return np.sum(rows[0] * rows[1])


def test_a_helper_writing_rows_nobody_else_holds_is_differentiated():
    check_grads(helper_updates_rows_nobody_holds, (X,), order=2)


# ---------------------------------------------------------------- ties and kinks


def py_max(x):
    return max(x[0], x[1]) * 1.0


def np_max(x):
    return np.max(x)


def relu_sum(x):
    return np.sum(np.maximum(x, 0.0))


def norm2(x):
    return np.linalg.norm(x)


def norm_inf(x):
    return np.linalg.norm(x, np.inf)


def picked(x):
    return x[np.argmax(x)]


def absolute(x):
    return np.sum(np.abs(x))


def clipped(x):
    return np.sum(np.clip(x, 0.0, 1.0))


TIES = [(py_max, [1.0, 1.0], [1.0, 0.0]), (np_max, [1.0, 1.0], [0.5, 0.5]),
        (relu_sum, [0.0, 1.0], [1.0, 1.0]), (norm2, [0.0, 0.0], [0.0, 0.0]),
        (norm_inf, [1.0, -1.0], [0.5, -0.5]), (picked, [1.0, 1.0], [1.0, 0.0]),
        (absolute, [0.0, 1.0], [0.0, 1.0]), (clipped, [0.0, 1.0], [1.0, 1.0])]


@pytest.mark.parametrize("f, x, expected", TIES, ids=[f.__name__ for f, _, _ in TIES])
def test_ties_and_kinks_follow_the_documented_convention_in_both_modes(f, x, expected):
    """A one-sided derivative or a convex combination of them (docs/architecture.md,
    Decisions), the same in both modes; every second derivative here is 0 (the 2-norm's at 0
    was the identity, an artefact of its guard against dividing by 0)."""
    x = np.array(x)
    for mode in ("reverse", "forward"):
        np.testing.assert_allclose(adgen.grad(f, mode=mode)(x), expected)
    np.testing.assert_allclose(adgen.hessian(f)(x), np.zeros((2, 2)))


# ---------------------------------------------------------------- keywords that allow writes


def cleaned_in_place(x):
    a = x * 1.0
    b = np.nan_to_num(a, copy=False)  # `a` itself
    b[0] = 5.0
    return np.sum(a * x)


def solved_in_place(x):
    import scipy.linalg  # SciPy is optional for adgen

    a = np.array([[3.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 5.0]]) + np.diag(x)
    b = x * 2.0
    y = scipy.linalg.solve(a, b, overwrite_a=True, overwrite_b=True)  # `b` may be `y`
    return np.sum(y * b)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_keywords_that_let_a_call_write_into_its_argument_are_refused(mode):
    refused(cleaned_in_place, (X,), "copy=", mode)
    pytest.importorskip("scipy")
    refused(solved_in_place, (X,), "overwrite_a=", mode)


def zero_d_written(x):
    a = np.array(x[0] * 1.0)
    a[()] = x[1] ** 2  # `x[0]` no longer counts
    return float(a) * x[2]


def test_a_0d_array_written_whole():
    """Reverse mode kept the adjoint of the overwritten 0-d array (a number, which
    `zero_at` left as it was): d/dx0 was x2 instead of 0."""
    np.testing.assert_allclose(adgen.grad(zero_d_written)(X), [0.0, 2 * 0.5 * 0.9, 0.25])
    check_grads(zero_d_written, (X,), order=2)


# ---------------------------------------------------------------- iterating a view written


def rows_propagated(a):
    b = a * 1.0
    for i, r in enumerate(b[:-1]):  # each `r` is read when the loop reaches it
        b[i + 1] = b[i + 1] + 0.5 * r
    return np.sum(b * b)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_iterating_a_view_the_loop_writes_into_is_refused(mode):
    """Reverse mode read the rows of `b[:-1]` as they were before the loop."""
    err = refused(rows_propagated, (np.array([[0.3, 0.5], [0.9, 1.3], [0.2, 0.7]]),), "view",
                  mode)
    assert f"test_wrong_hunt3.py:{line_of(rows_propagated, 2)}" in str(err)


def rows_propagated_by_index(a):
    b = a * 1.0
    for i in range(b.shape[0] - 1):
        b[i + 1] += 0.5 * b[i]
    for r in b:  # the array itself: each row read as it is then
        b[0] = b[0] + np.sum(r)
    for i, r in enumerate(list(b[:-1].copy())):
        b[i] = b[i] * r
    return np.sum(b * b)


def test_loops_over_the_array_itself_or_a_copy_are_differentiated():
    # (first order: the gradient keeps rows it later writes, refused at second order)
    check_grads(rows_propagated_by_index, (np.array([[0.3, 0.5], [0.9, 1.3], [0.2, 0.7]]),))


# ---------------------------------------------------------------- the copy module


def deep_copied_rows(x):
    L = [x * 1.0, x * 2.0]
    M = copy.deepcopy(L)
    M[0][0] = 5.0  # M's rows are its own
    return np.sum(L[0]) + np.sum(M[0] * M[1])


def deep_copied_array(x):
    y = x * 1.0
    z = copy.deepcopy(y)
    z[0] = 3.0
    return np.sum(y * z)


def copied_list_replaced(x):
    L = [x * 1.0, x * 2.0]
    M = copy.copy(L)
    M[0] = x * 5.0  # replaces M's item only
    return np.sum(L[0]) + np.sum(M[0] * M[1])


def copied_list_row_written(x):
    L = [x * 1.0, x * 2.0]
    M = copy.copy(L)
    M[0][0] = 5.0  # L[0] is M[0]: both change
    return np.sum(L[0]) + np.sum(M[0] * M[1])


@pytest.mark.parametrize("f", [deep_copied_rows, deep_copied_array, copied_list_replaced])
def test_copy_module_copies(f):
    """`copy.deepcopy` makes new objects and `copy.copy` a new container (rules, not their
    source: the source reads as if it returned its argument)."""
    check_grads(f, (X.copy(),), order=1)
    check_grads(f, (X.copy(),), modes=("reverse",), order=2)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_copy_copy_shares_items(mode):
    refused(copied_list_row_written, (X,), "shallow copy", mode)


def running_update(x):
    y = x.copy()
    for i in range(1, len(y)):
        y[i] += 0.5 * y[i - 1]
    return np.sum(y * y)


def test_passing_item_checks_leave_the_variant():
    """`updated_item` guards `c[k] += v` where `c`'s items may be shared; an array's are not,
    so the variant, which knows `y` is an array, has no check in its loop."""
    g = adgen.grad(running_update)
    assert "updated_item" in adgen.source(g)
    assert "updated_item" not in adgen.source(g, X)
    check_grads(running_update, (X.copy(),))
