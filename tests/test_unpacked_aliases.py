"""Names bound to items of a container — by unpacking (`a, b = rows`) or as a loop target
(`for i, r in enumerate(rows)`, `for r, c in zip(rows, cs)`, `for k, v in d.items()`) — share
their objects with the container. A write through such a name changes the container, which a
derivative that follows values would miss: it is refused at the user's line, unless the
container is never seen again (then the item is the name's own). The same holds for the result
of a user function that returns (a part of) an argument: `w = ident(a); w[0] = ...` changes `a`.
Each of the refused functions below was differentiated silently wrong before.
"""

from __future__ import annotations

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads

X = np.array([0.3, -0.7, 1.1])


def unpacked_then_written(x):
    rows = [x * 1.0, x * 2.0]
    a, b = rows
    a[0] = x[1] * 5.0
    return np.sum(rows[0]) + np.sum(b)


def unpacked_parameter_holder(x):
    lst = [x, x * 2]
    a, b = lst
    a[0] = 0.0 + x[1]
    return np.sum(a) + np.sum(b) + np.sum(x)


def enumerate_rows_written(x):
    rows = [x * 1.0, x * 2.0]
    for _i, r in enumerate(rows):
        r[0] = x[1] * 3.0
    return np.sum(rows[0]) + np.sum(rows[1])


def zip_rows_written(x):
    rows = [x * 1.0, x * 2.0]
    for r, c in zip(rows, [1.0, 2.0], strict=True):
        r[1] = c * x[2]
    return np.sum(rows[0] * rows[1])


def enumerate_matrix_updated(x):
    M = np.outer(x, x)
    for _i, row in enumerate(M):
        row *= 2.0
    return np.sum(M)


def matrix_rows_unpacked(x):
    M = np.outer(x, x)
    r0, r1, r2 = M
    r1[:] = x
    return np.sum(M * M)


def dict_values_written(x):
    d = {"a": x * 1.0, "b": x * 2.0}
    for _k, v in d.items():
        v[0] = x[2]
    return np.sum(d["a"] * d["b"])


def split_rows_written(x):
    M = np.outer(x, x)
    top, rest = np.split(M, [1])
    top[0, 0] = 3.0
    return np.sum(M)


def reversed_rows_written(x):
    rows = [x * 1.0, x * 2.0]
    for r in reversed(rows):
        r[2] = x[0]
    return np.sum(rows[0] + rows[1] * rows[1])


REFUSED = [unpacked_then_written, unpacked_parameter_holder, enumerate_rows_written,
           zip_rows_written, enumerate_matrix_updated, matrix_rows_unpacked, dict_values_written,
           split_rows_written, reversed_rows_written]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f", REFUSED, ids=[f.__name__ for f in REFUSED])
def test_writes_through_unpacked_items_are_refused(f, mode):
    with pytest.raises((adgen.DifferentiationError, adgen.UnsupportedSyntax), match="share"):
        adgen.grad(f, mode=mode)(X.copy())


def test_the_refusal_names_the_line_where_the_names_met():
    with pytest.raises(adgen.UnsupportedSyntax) as info:
        adgen.grad(unpacked_then_written)(X.copy())
    first = unpacked_then_written.__code__.co_firstlineno
    assert info.value.lineno == first + 3
    assert f"line {first + 2}" in str(info.value)


# ---------------------------------------------------------------- still differentiated


def unpacked_state_consumed(x):
    state = (x * 1.0, x * x)
    h, c = state
    h[0] = c[1] * 2.0
    return np.sum(h * c)


def rows_read_in_loops(x):
    rows = [x * 1.0, x * 2.0]
    s = 0.0
    for i, r in enumerate(rows):
        s = s + (i + 1) * np.sum(r * r)
    for r, c in zip(rows, [1.0, 2.0], strict=True):
        s = s + c * r[1]
    return s


def rows_replaced_not_written(x):
    rows = [x * 1.0, x * 2.0]
    a, b = rows
    a = a * 3.0
    a[0] = x[2]
    return np.sum(a * b) + np.sum(rows[0])


@pytest.mark.parametrize("f", [rows_read_in_loops, rows_replaced_not_written])
def test_reads_and_rebinding_are_still_differentiated(f):
    check_grads(f, (X.copy(),), order=2)


def test_an_item_whose_container_is_not_read_again_is_its_own():
    """First order works; the gradient itself reads `state` for its structure after the
    write, so differentiating it again is refused (loudly), not wrong."""
    check_grads(unpacked_state_consumed, (X.copy(),), order=1)
    with pytest.raises(adgen.UnsupportedSyntax, match="share"):
        adgen.hessian(unpacked_state_consumed)(X.copy())


# ---------------------------------------------------------------- helpers returning an argument


def ident(v):
    return v


def row_of(M, i):
    return M[i]


def flat(M):
    return M.reshape(-1)


def first_of(vs):
    return vs[0]


def either(v, w, k):
    if k > 0:
        return v
    return w * 1.0


def through_two(v):
    return ident(v)


def scaled(v):
    v = v * 2.0
    return v


def through_identity(x):
    a = x * 1.0
    w = ident(a)
    w[0] = x[1] * 2.0
    return np.sum(a * x)


def through_row(x):
    M = np.outer(x, x)
    r = row_of(M, 1)
    r[2] = x[0]
    return np.sum(M)


def through_reshape(x):
    M = np.outer(x, x)
    f = flat(M)
    f[4] = 1.0
    return np.sum(M * M)


def through_first(x):
    rows = [x * 1.0, x * 2.0]
    r = first_of(rows)
    r[1] = 0.0
    return np.sum(rows[0] * x)


def through_a_branch(x):
    a = x * 1.0
    b = either(a, x, 1)
    b[2] = x[0] ** 2
    return np.sum(a * x)


def through_a_chain(x):
    a = x * 1.0
    b = through_two(a)
    b[1] = 3.0
    return np.sum(a * x)


RETURNED = [through_identity, through_row, through_reshape, through_first, through_a_branch,
            through_a_chain]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f", RETURNED, ids=[f.__name__ for f in RETURNED])
def test_writes_into_what_a_helper_returned_of_its_argument_are_refused(f, mode):
    with pytest.raises((adgen.DifferentiationError, adgen.UnsupportedSyntax), match="share"):
        adgen.grad(f, mode=mode)(X.copy())


def fresh_from_helper(x):
    a = x * 1.0
    w = scaled(a)
    w[0] = x[1] * 2.0
    return np.sum(a * x) + np.sum(w * w)


def returned_but_not_written(x):
    a = x * 1.0
    w = ident(a)
    return np.sum(w * a) + np.sum(row_of(np.outer(x, x), 2))


@pytest.mark.parametrize("f", [fresh_from_helper, returned_but_not_written])
def test_helpers_returning_new_objects_or_only_read_still_differentiate(f):
    check_grads(f, (X.copy(),), order=2)


def rebound_then_written(x):
    rows = [x * 1.0, x * 2.0]
    for r in rows:
        r = r * 1.0
        r[0] = x[2]
    return np.sum(rows[0] * rows[1])


def test_forward_mode_copies_a_tangent_whose_new_object_is_written():
    """`t = s; t = t + 1.0; t[0] = 3.0`: the tangent of `t + 1.0` is `s`'s (nothing changes
    it), so the write must go into a copy — it went into `x`'s tangent."""
    check_grads(rebound_then_written, (X.copy(),), order=2)
    check_grads(tangent_of_a_sum_written, (X.copy(),), order=2)


def tangent_of_a_sum_written(x):
    s = x * 1.0
    t = s
    t = t + 1.0
    t[0] = 3.0
    return np.sum(s * t)


# ---------------------------------------------------------------- chained writes into a copy


def through_fancy_rows(x):
    A = np.outer(x, x)
    A[[0, 1]][0] = 5.0  # NumPy writes into a copy: A is unchanged
    return np.sum(A * A)


def through_a_mask(x):
    A = np.outer(x, x)
    A[A > 0.2][0] = 5.0
    return np.sum(A * A)


def through_view_rows(x):
    A = np.outer(x, x)
    A[0:2][1, 1] = 7.0  # a view: A changes
    A[:, 0][1] = x[2]
    return np.sum(A * A)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f", [through_fancy_rows, through_a_mask])
def test_a_chained_write_into_an_advanced_index_copy_is_refused(f, mode):
    """The primal changes nothing; a derivative storing the row back would differ from it."""
    with pytest.raises(adgen.DifferentiationError, match="copy"):
        adgen.grad(f, mode=mode)(X.copy())


def test_chained_writes_through_views_are_followed():
    check_grads(through_view_rows, (X.copy(),), order=2)


# ---------------------------------------------------------------- containers of parts


def list_of_dict_entries(p):
    layers = [p["w"], p["b"]]
    layers[0][1] = 0.0  # changes p["w"]
    return np.sum(p["w"] * p["b"])


def list_of_a_view(x):
    a = x * 1.0
    parts = [a[1:], x]
    parts[0][0] = 4.0  # changes a[1]
    return np.sum(a * x)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_list_of_parts_of_another_name_is_not_written_through(mode):
    P = {"w": X.copy(), "b": X[::-1].copy()}
    with pytest.raises(adgen.UnsupportedSyntax, match="`layers`, which may share its object "
                                                      "with `p`"):
        adgen.grad(list_of_dict_entries, mode=mode)(P)
    with pytest.raises(adgen.UnsupportedSyntax, match="with `a`"):
        adgen.grad(list_of_a_view, mode=mode)(X.copy())


# ---------------------------------------------------------------- rebound and swapped names


def double_buffer(x):
    a = x * 1.0
    b = np.zeros_like(x)
    for _ in range(3):
        b[:] = np.roll(a, 1) * 0.5 + a * 0.5
        a, b = b, a
    return np.sum(a * x)


def swapped_but_still_shared(x):
    a = x * 1.0
    b = x * 2.0
    c = a
    a, b = b, a
    b[0] = 5.0  # `b` is the old `a`, which `c` still holds
    return np.sum(c * x) + np.sum(a)


def renamed_then_rebound(x):
    v = x * 1.0
    w = v
    u = w
    w = x * 3.0
    u[0] = 5.0  # `u` is `v`
    return np.sum(v * x)


def held_then_container_rebound(x):
    v = x * 1.0
    L = [v]
    w = L[0]
    L = []
    w[1] = 2.0  # `w` is `v`
    return np.sum(v * x)


def test_swapping_buffers_is_two_objects_not_one():
    check_grads(double_buffer, (X.copy(),), order=2)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_swapped_name_keeps_what_its_object_shared(mode):
    with pytest.raises(adgen.UnsupportedSyntax, match="`b`, which may share its object with `c`"):
        adgen.grad(swapped_but_still_shared, mode=mode)(X.copy())


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f", [renamed_then_rebound, held_then_container_rebound])
def test_what_a_rebound_name_shared_stays_shared(f, mode):
    """`u` is `v` after `w` is rebound (the pairs are joined through `w`), `w` is `v` after the
    list is rebound: both were silently wrong."""
    with pytest.raises(adgen.UnsupportedSyntax, match="with `v`"):
        adgen.grad(f, mode=mode)(X.copy())
