"""A container holding an item `v[i]` of another name: the item is a number when `v` is a 1-d
array or a list of numbers (nothing is shared), and an object of its own shared with `v` when
`v` is a 2-d array (a row, a NumPy view) or a list or dict of arrays or lists. A write through
either side while the other is read later changes what both see, which a derivative that
follows values misses: each of the functions in `SHARED` below was differentiated silently
wrong (in reverse mode, and in forward mode for lists) before.

Only the values tell which case a call is, so the item is checked where it goes into the
container (`runtime.number_item`): an array, a list or a dict is refused at run time, at the
user's line, in both modes; a number passes. The scalar patterns (`xs.append(x[i])` for a 1-d
`x`, then `x[i] = ...` and `xs` read) keep working, at first and second order.
"""

from __future__ import annotations

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads

X = np.array([0.3, -0.7, 1.1])


# ---------------------------------------------------------------- rows held, then written


def rows_appended_table_written(x):
    M = np.outer(x, x)
    rows = []
    for i in range(3):
        rows.append(M[i])
    M[0][1] = x[2] * 3.0
    return sum(r.sum() for r in rows) + np.sum(M * M)


def rows_appended_element_written(x):
    M = np.outer(x, x)
    rows = []
    for i in range(3):
        rows.append(M[i])
    M[0, 1] = x[2] * 3.0
    s = 0.0
    for r in rows:
        s = s + np.sum(r * r)
    return s


def rows_appended_then_written_through_the_list(x):
    M = np.outer(x, x)
    rows = []
    for i in range(3):
        rows.append(M[i])
    rows[0][1] = x[2] * 3.0
    return np.sum(M * M)


def pair_of_rows_written(x):
    M = np.outer(x, x)
    pair = [M[0], M[1]]
    pair[0][1] = x[2] * 3.0
    return np.sum(M * M)


def pair_of_rows_read(x):
    M = np.outer(x, x)
    pair = [M[0], M[1]]
    M[0, 1] = x[2] * 3.0
    return np.sum(pair[0] * pair[1])


def dict_of_a_row_written(x):
    W = np.outer(x, x)
    d = {"a": W[0]}
    d["a"][2] = x[0] * 2.0
    return np.sum(W * W)


def dict_of_a_row_read(x):
    W = np.outer(x, x)
    d = {"a": W[0]}
    W[0][2] = x[0] * 2.0
    return np.sum(d["a"] * x)


def dict_entry_stored_then_read(x):
    W = np.outer(x, x)
    d = {}
    d[1] = W[1]
    W[1, 0] = x[0] * 2.0
    return np.sum(d[1] * x)


def comprehension_written(x):
    A = np.outer(x, x)
    stack = [A[i] for i in range(2)]
    stack[1][0] = x[1] * 4.0
    return np.sum(A * A)


def comprehension_read(x):
    A = np.outer(x, x)
    stack = [A[i] for i in range(2)]
    A[1][0] = x[1] * 4.0
    return np.sum(stack[0] * stack[1])


def comprehension_over_rows_read(x):
    A = np.outer(x, x)
    stack = [r for r in A]
    A[2, 2] = x[1] * 4.0
    return np.sum(stack[2] * x)


def tuple_of_rows_read(x):
    A = np.outer(x, x)
    t = (A[0], A[2])
    A[2, 2] = x[1] * 4.0
    return np.sum(t[1] * x)


def inserted_row_read(x):
    A = np.outer(x, x)
    rows = []
    rows.insert(0, A[1])
    A[1, 1] = x[1] * 4.0
    return np.sum(rows[0] * x)


def extended_rows_read(x):
    A = np.outer(x, x)
    rows = []
    rows.extend([A[0], A[1]])
    A[1, 1] = x[1] * 4.0
    return np.sum(rows[1] * x)


def list_of_lists_rows(x):
    M = [[x[0] * 1.0, x[1]], [x[2], x[0] * x[1]]]
    rows = [M[0], M[1]]
    M[0][1] = x[2] * 3.0
    return rows[0][0] * rows[0][1] + rows[1][1]


def row_named_then_appended(x):
    M = np.outer(x, x)
    rows = []
    for i in range(3):
        r = M[i]
        rows.append(r)
    M[1, 2] = x[0] * 5.0
    return np.sum(rows[1] * x)


def loop_rows_appended(x):
    M = np.outer(x, x)
    rows = []
    for r in M:
        rows.append(r)
    M[1, 2] = x[0] * 5.0
    return np.sum(rows[1] * x)


def list_items_appended(x):
    L = [x * 1.0, x * 2.0]
    kept = []
    for v in L:
        kept.append(v)
    L[0][1] = x[2] * 5.0
    return np.sum(kept[0] * x)


def dict_of_lists_items(x):
    W = {0: x * 1.0, 1: x * 2.0}
    held = [W[0], W[1]]
    W[1][0] = x[2] * 3.0
    return np.sum(held[1] * held[0])


def rows_in_a_while_loop(x):
    M = np.outer(x, x)
    rows = []
    i = 0
    while i < 3:
        rows.append(M[i])
        i = i + 1
    M[2, 0] = x[1] * 2.0
    return np.sum(rows[2] * rows[0])


def row_of(M, i):
    return M[i]


def element_of(v, i):
    return v[i]


def rows_from_a_helper(x):
    M = np.outer(x, x)
    rows = [row_of(M, 0), row_of(M, 1)]
    M[0, 1] = x[2] * 3.0
    return np.sum(rows[0] * rows[1])


def rows_appended_from_a_helper(x):
    M = np.outer(x, x)
    rows = []
    for i in range(3):
        rows.append(row_of(M, i))
    M[2, 1] = x[2] * 3.0
    return np.sum(rows[2] * rows[1])


SHARED = [rows_from_a_helper, rows_appended_from_a_helper, rows_appended_table_written,
          rows_appended_element_written, rows_appended_then_written_through_the_list,
          pair_of_rows_written, pair_of_rows_read, dict_of_a_row_written, dict_of_a_row_read,
          dict_entry_stored_then_read, comprehension_written, comprehension_read,
          comprehension_over_rows_read, tuple_of_rows_read, inserted_row_read, extended_rows_read,
          list_of_lists_rows, row_named_then_appended, loop_rows_appended, list_items_appended,
          dict_of_lists_items, rows_in_a_while_loop]


def _central(f, x, h=1e-6):
    out = np.zeros_like(x)
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = h
        out[k] = (f(x + e) - f(x - e)) / (2 * h)
    return out


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f", SHARED, ids=[f.__name__ for f in SHARED])
def test_items_that_share_with_a_written_name_are_refused(f, mode):
    """Refused loudly (never a number that differs from the central difference)."""
    try:
        got = adgen.grad(f, mode=mode)(X.copy())
    except (adgen.DifferentiationError, adgen.UnsupportedSyntax) as exc:
        assert "share" in str(exc) or mode == "reverse" and "in-place" in str(exc)
        return
    assert got == pytest.approx(_central(f, X.copy()), rel=1e-6, abs=1e-8)
    pytest.fail(f"{f.__name__} differentiated in {mode} mode: it should be refused")


def test_the_refusal_names_the_line_the_container_took_the_item_and_the_write():
    first = pair_of_rows_read.__code__.co_firstlineno
    with pytest.raises(adgen.DifferentiationError) as info:
        adgen.grad(pair_of_rows_read)(X.copy())
    message = str(info.value)
    assert f"test_item_aliases.py:{first + 2}" in message
    assert "`pair` holds `M[0]`, an array that shares its object with `M`" in message
    assert f"test_item_aliases.py:{first + 3} writes into `M`" in message
    assert "M[0].copy()" in message


def test_a_comprehension_names_the_item_as_written():
    with pytest.raises(adgen.DifferentiationError, match=r"`stack` holds `A\[i\]`"):
        adgen.grad(comprehension_read, mode="forward")(X.copy())


# ---------------------------------------------------------------- items that are numbers


def scalars_appended_then_written(x):
    y = x * 1.0
    xs = []
    for i in range(3):
        xs.append(y[i])
        y[i] = y[i] * xs[i] + 1.0
    s = 0.0
    for v in xs:
        s = s + v * np.sum(y)
    return s


def scalars_in_a_display(x):
    y = x * 1.0
    ys = [y[0], y[1]]
    y[0] = 5.0 * y[1]
    return ys[0] * ys[1] + np.sum(y * y)


def scalars_in_a_comprehension(x):
    y = np.sin(x)
    zs = [y[i] for i in range(3)]
    y[1] = zs[0] * zs[2]
    return zs[1] * np.sum(y * y)


def scalars_in_a_dict(x):
    y = np.cos(x)
    d = {"a": y[0], "b": y[2]}
    y[2] = d["a"] * 3.0
    return d["b"] * np.sum(y) + d["a"]


def scalars_of_a_list(x):
    L = [x[0] * 1.0, x[1] * 2.0, x[2] * x[0]]
    firsts = [L[0], L[2]]
    L[0] = L[1] * L[2]
    return firsts[0] * firsts[1] + L[0]


def scalars_through_a_loop_variable(x):
    L = [x[0] * 1.0, x[1] * 2.0, x[2] * x[0]]
    kept = []
    for v in L:
        kept.append(v)
    L[1] = kept[0] * 4.0
    return kept[1] * L[1] + kept[2]


def scalars_named_then_appended(x):
    y = x * 2.0
    xs = []
    for i in range(3):
        t = y[i]
        xs.append(t)
        y[i] = t * t
    return xs[0] * xs[2] + np.sum(y)


def rows_held_but_never_read_again(x):
    M = np.outer(x, x)
    rows = [M[0], M[1]]
    s = np.sum(rows[0] * rows[1])
    M[0, 1] = x[2] * 3.0
    return s + np.sum(M * M)


def rows_copied_into_the_list(x):
    M = np.outer(x, x)
    rows = [M[i].copy() for i in range(3)]
    M[0, 1] = x[2] * 3.0
    return np.sum(rows[0] * rows[1]) + np.sum(M)


def rows_read_before_the_table_is_written(x):
    """The reverse sweep reads `rows` (rows of `M`) for the adjoint of `s`: it must put the
    written elements of `M` back first, though nothing reads `M` itself (silently wrong)."""
    M = np.outer(x, x)
    rows = [M[0], M[1]]
    s = np.sum(rows[0] * rows[1])
    M[0, 1] = 5.0
    return s


def appended_rows_read_before_the_table_is_written(x):
    M = np.outer(x, x)
    rows = []
    for i in range(3):
        rows.append(M[i])
    s = np.sum(rows[0] * rows[1])
    M[0, 1] = 5.0
    M[1, 1] = x[0] * 5.0
    return s


def scalars_from_a_helper(x):
    y = x * 1.0
    xs = []
    for i in range(3):
        xs.append(element_of(y, i))
        y[i] = xs[i] * y[i]
    return xs[0] * xs[1] + np.sum(y * xs[2])


SAFE = [scalars_from_a_helper, rows_read_before_the_table_is_written,
        appended_rows_read_before_the_table_is_written, scalars_appended_then_written,
        scalars_in_a_display, scalars_in_a_comprehension, scalars_in_a_dict, scalars_of_a_list,
        scalars_through_a_loop_variable, scalars_named_then_appended,
        rows_held_but_never_read_again, rows_copied_into_the_list]


@pytest.mark.parametrize("f", SAFE, ids=[f.__name__ for f in SAFE])
def test_items_that_are_numbers_or_not_seen_again_are_differentiated(f):
    for mode in ("reverse", "forward"):
        assert adgen.grad(f, mode=mode)(X.copy()) == pytest.approx(
            _central(f, X.copy()), rel=1e-6, abs=1e-8)
    check_grads(f, (X.copy(),), order=2)


def test_the_forward_gradient_of_an_element_is_not_a_view_of_a_later_written_tangent():
    """The batched forward pass took `y[0]`'s tangent as a view of `y`'s: the write `y[0] =
    ...` changed it too (`scalars_in_a_display` had a wrong forward gradient)."""
    g = adgen.grad(scalars_in_a_display, mode="forward")(X.copy())
    assert g == pytest.approx(adgen.grad(scalars_in_a_display)(X.copy()), rel=1e-12)


def test_the_run_time_check_reads_only_what_the_function_reads():
    """The check sits on the item where it goes into the container: the generated code stays
    one call per item, and none at all when nothing is written later."""
    src = adgen.source(adgen.grad(scalars_appended_then_written))
    assert src.count("number_item(") == 1
    assert "number_item(" not in adgen.source(adgen.grad(rows_copied_into_the_list))


# ---------------------------------------------------------------- adgen's own code, again


def slice_updated_in_place(x):
    y = x * 1.0
    y[1:] *= y[:-1]
    return np.sum(y * y)


def slice_updated_twice(x):
    y = x * 1.0
    y[1:] += np.sin(y[:-1])
    y[:-1] -= y[1:] * 0.3
    return np.sum(y ** 3)


def table_written_with_rows_held(x):
    M = np.outer(x, x)
    pair = [M[0], M[2]]
    s = np.sum(pair[0] * pair[1])
    M[0, 2] = x[1] * 3.0
    return s + np.sum(M ** 3)


def view_read_then_base_written(x):
    y = np.sin(x)
    v = y[1:]
    s = np.sum(v * v)
    y[2] = x[0] * 3.0
    return s + np.sum(y ** 3)


def views_read_then_written_in_a_loop(x):
    y = np.sin(x)
    s = 0.0
    for i in range(3):
        v = y[i:]
        s = s + np.sum(v * v)
        y[i] = s * 0.1
    return s + np.sum(y ** 3)


def held_then_written_in_a_loop(x):
    y = x * 1.0
    pair = [y]
    s = np.sum(pair[0] ** 2)
    for i in range(4):
        y[i] = y[i] * s
    return np.sum(y ** 2)


def rows_read_then_diagonal_written(x):
    M = np.outer(x, x)
    rows = []
    for i in range(4):
        rows.append(M[i])
    s = 0.0
    for r in rows:
        s = s + np.sum(r ** 3)
    for i in range(4):
        M[i, i] = np.cos(M[i, i])
    return s + np.sum(M * M)


def slices_of_a_view_read(x):
    y = np.cos(x)
    rows = [y[:2], y[2:]]
    s = np.sum(rows[0] * rows[1])
    y[:2] = y[:2] * 3.0
    return s + np.sum(y * y * y)


@pytest.mark.parametrize("f", [slice_updated_in_place, slice_updated_twice,
                               table_written_with_rows_held, view_read_then_base_written,
                               views_read_then_written_in_a_loop, held_then_written_in_a_loop,
                               rows_read_then_diagonal_written, slices_of_a_view_read])
def test_first_order_code_reading_a_view_after_putting_the_write_back_is_differentiated(f):
    """The gradient reads `y[1:]` (a view, `_t1`) after writing into `y`, but only once its
    reverse sweep has put the old elements back: refused at run time before (`writing into
    `y` changes `_t1``, naming a line of generated code)."""
    x = np.array([0.3, -0.7, 1.1, 0.5])
    check_grads(f, (x,), order=2)
    g = adgen.grad(f)
    h = 1e-5
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = h
        column = (g(x + e) - g(x - e)) / (2 * h)
        assert adgen.hessian(f)(x)[:, k] == pytest.approx(column, rel=1e-6, abs=1e-7)


def test_a_check_in_generated_code_names_the_users_line_and_expression():
    """A run-time check emitted while differentiating a derivative again says where in the
    user's file the code came from, and names a temporary by the expression it holds."""
    from types import SimpleNamespace

    from adgen.frontend.lower_expr import ExpressionLowering
    from adgen.frontend.parse import parse_function

    parsed = parse_function(adgen.grad(slice_updated_in_place))
    line = next(k for k, text in parsed.lines.items() if text.strip() == "y[1:] = _t3")
    lowering = SimpleNamespace(p=parsed)
    user_line = slice_updated_in_place.__code__.co_firstlineno + 2
    assert ExpressionLowering.place(lowering, line) == (
        f"test_item_aliases.py:{user_line} (in {parsed.filename}:{line})")
    assert ExpressionLowering.shown(lowering, "_t1") == "y[1:]"
    assert ExpressionLowering.shown(lowering, "y") == "y"
