"""Derivative rules for what generated code calls, so a derivative can be differentiated again.

`unbroadcast`, `owned_copy`, `shaped_like`, `field` and `arrays.chunked_like` are linear in
their first argument;
`add_at` and `add_field` are linear in the accumulator and the added value; `written` and
`last_only` select items (their adjoints scatter them back); `zeros_like` and `sign` are
constants.
"""

from adgen.arrays import chunked_like
from adgen.rules.registry import adjoint, batched, linear, nondifferentiable, tangent
from adgen.runtime import (
    add_adjoints,
    add_at,
    as_sequence,
    broadcast_like,
    changed_in_place,
    detached,
    fill_like,
    item,
    items_back,
    last_only,
    materialised,
    missing_attribute,
    owned_copy,
    owned_items,
    partial_argument,
    partial_keyword,
    pick,
    shaped_like,
    sign,
    sum_to_scalar,
    table_entry,
    take,
    unbroadcast,
    written,
    zero_at,
    zeros_like,
)
from adgen.runtime_fields import add_field, field
from adgen.runtime_forms import (
    as_tuple,
    extreme_index,
    items_like,
    list_like,
    other_items,
    sort_order,
)
from adgen.runtime_masks import inside, outside, unwritten
from adgen.runtime_tables import read_row, row

linear(unbroadcast, owned_copy, detached, shaped_like, materialised, as_sequence, sum_to_scalar,
       field, chunked_like, owned_items, items_back)
nondifferentiable(partial_argument, partial_keyword, table_entry, missing_attribute)  # what a
# partial binds is never differentiated; a table's entry number is an integer


@adjoint(sum_to_scalar)
def sum_to_scalar_bar(y, g, *, y_bar):
    return broadcast_like(y_bar, g)


@adjoint(unbroadcast)
def unbroadcast_bar(y, g, x, *, y_bar):
    return broadcast_like(y_bar, g)


@adjoint(owned_items)
def owned_items_bar(y, acc, *, y_bar):
    return items_back(y_bar, acc)


@adjoint(items_back)
def items_back_bar(y, g, acc, *, y_bar):
    return owned_items(y_bar)


@adjoint(chunked_like)
def chunked_like_bar(y, out, acc, *, y_bar):
    return y_bar


@adjoint(owned_copy)
def owned_copy_bar(y, acc, *, y_bar):
    return y_bar


@adjoint(detached)
def detached_bar(y, x, *, y_bar):
    return y_bar


@adjoint(shaped_like)
def shaped_like_bar(y, g, x, *, y_bar):
    return unbroadcast(y_bar, g)


@adjoint(materialised)
def materialised_bar(y, t, x, *, y_bar):
    return unbroadcast(y_bar, t)


@adjoint(as_sequence)
def as_sequence_bar(y, xs, *, y_bar):
    return y_bar


@tangent(add_at)
def add_at_dot(y, acc, x, index, g, *, acc_dot, g_dot):
    return add_at(owned_copy(acc_dot), x, index, g_dot)


@adjoint(add_at)
def add_at_bar(y, acc, x, index, g, *, y_bar):
    return y_bar, None, None, item(y_bar, index)  # a plain zero for a list's item too


@adjoint(field)
def field_bar(y, t, x, attr, *, y_bar):
    return add_field(0.0, x, attr, y_bar), None, None


@tangent(add_field)
def add_field_dot(y, acc, x, attr, g, *, acc_dot, g_dot):
    return add_field(owned_copy(acc_dot), x, attr, g_dot)


@adjoint(add_field)
def add_field_bar(y, acc, x, attr, g, *, y_bar):
    return y_bar, None, None, field(y_bar, x, attr)


linear(broadcast_like)


@adjoint(broadcast_like)
def broadcast_like_bar(y, g, like, *, y_bar):
    return unbroadcast(y_bar, g)


nondifferentiable(zeros_like, sign, changed_in_place)
nondifferentiable(sort_order, extreme_index)
linear(as_tuple, list_like, other_items, items_like)


@adjoint(other_items)
def other_items_bar(y, d, given, named, callee, xs=(), filled=(), *, y_bar):
    return items_like(y_bar, d)


@adjoint(items_like)
def items_like_bar(y, g, like, *, y_bar):
    return items_like(y_bar, g)


@adjoint(as_tuple)
def as_tuple_bar(y, xs, *, y_bar):
    return list_like(y_bar, xs)


@adjoint(list_like)
def list_like_bar(y, g, xs, *, y_bar):
    return y_bar

@tangent(pick)
def pick_dot(y, condition, a, b, *, a_dot, b_dot):
    return pick(condition, a_dot, b_dot)


@adjoint(pick)
def pick_bar(y, condition, a, b, *, y_bar):
    return None, pick(condition, y_bar, zeros_like(y_bar)), pick(condition, zeros_like(y_bar),
                                                                  y_bar)


@tangent(add_adjoints)
def add_adjoints_dot(y, a, b, *, a_dot, b_dot):
    return add_adjoints(a_dot, b_dot)


@adjoint(add_adjoints)
def add_adjoints_bar(y, a, b, *, y_bar):
    return y_bar, y_bar


@tangent(fill_like)
def fill_like_dot(y, xs, g, *, g_dot):
    return fill_like(xs, g_dot)


@adjoint(fill_like)
def fill_like_bar(y, xs, g, *, y_bar):
    return None, sum(y_bar)


@tangent(take)
def take_dot(y, x, index, *, x_dot):
    return take(x_dot, index)


@adjoint(take)
def take_bar(y, x, index, *, y_bar):
    return add_at(0.0, x, index, y_bar)


@tangent(written)
def written_dot(y, g, index, *, g_dot):
    return written(g_dot, index)


@adjoint(written)
def written_bar(y, g, index, *, y_bar):
    return add_at(0.0, g, index, last_only(y_bar, g, index))


@tangent(last_only)
def last_only_dot(y, part, like, index, *, part_dot):
    return last_only(part_dot, like, index)


@adjoint(last_only)
def last_only_bar(y, part, like, index, *, y_bar):
    return last_only(y_bar, like, index), None, None


@tangent(zero_at)
def zero_at_dot(y, acc, index, *, acc_dot):
    return zero_at(owned_copy(acc_dot), index)


@adjoint(zero_at)
def zero_at_bar(y, acc, index, *, y_bar):
    return zero_at(owned_copy(y_bar), index)


@tangent(row)
def row_dot(y, x, index, like=None, *, x_dot):
    return row(x_dot, index, y)


@adjoint(row)
def row_bar(y, x, index, like=None, *, y_bar):
    return add_at(0.0, x, index, y_bar)


@tangent(read_row)
def read_row_dot(y, x, index, like=None, *, x_dot):
    return read_row(x_dot, index, y)


@adjoint(read_row)
def read_row_bar(y, x, index, like=None, *, y_bar):
    return add_at(0.0, x, index, y_bar)


@tangent(item)
def item_dot(y, g, index, *, g_dot):
    return item(g_dot, index)


@adjoint(item)
def item_bar(y, g, index, *, y_bar):
    return add_at(0.0, g, index, y_bar)


# operands made safe outside a mask (adgen.runtime_masks): linear in the value; the mask, the
# safe value, the written array and `like` only choose lanes


@tangent(inside)
@batched(inside)  # (the mask lines up with the trailing axes of a batched tangent)
def inside_dot(y, mask, value, safe, like=None, *, value_dot):
    return inside(mask, value_dot, 0.0, value)


@adjoint(inside)
def inside_bar(y, mask, value, safe, like=None, *, y_bar):
    return None, inside(mask, y_bar, 0.0, value)


@tangent(outside)
@batched(outside)  # (the mask lines up with the trailing axes of a batched tangent)
def outside_dot(y, mask, value, safe, like=None, *, value_dot):
    return outside(mask, value_dot, 0.0, value)


@adjoint(outside)
def outside_bar(y, mask, value, safe, like=None, *, y_bar):
    return None, outside(mask, y_bar, 0.0, value)


@tangent(unwritten)
@batched(unwritten)
def unwritten_dot(y, mask, value, safe, written, like=None, *, value_dot):
    return unwritten(mask, value_dot, 0.0, written, value)


@adjoint(unwritten)
def unwritten_bar(y, mask, value, safe, written, like=None, *, y_bar):
    return None, unwritten(mask, y_bar, 0.0, written, value)
