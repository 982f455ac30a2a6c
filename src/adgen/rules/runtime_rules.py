"""Derivative rules for what generated code calls, so a derivative can be differentiated again.

`unbroadcast`, `owned_copy` and `shaped_like` are linear in their first argument; `add_at` is
linear in the accumulator and the added value; `zeros_like` and `sign` are constants.
"""

from adgen.rules.registry import adjoint, linear, nondifferentiable, tangent
from adgen.runtime import (
    add_at,
    as_sequence,
    broadcast_like,
    owned_copy,
    shaped_like,
    sign,
    unbroadcast,
    zeros_like,
)

linear(unbroadcast, owned_copy, shaped_like, as_sequence)


@adjoint(unbroadcast)
def unbroadcast_bar(y, g, x, *, y_bar):
    return broadcast_like(y_bar, g)


@adjoint(owned_copy)
def owned_copy_bar(y, acc, *, y_bar):
    return y_bar


@adjoint(shaped_like)
def shaped_like_bar(y, g, x, *, y_bar):
    return unbroadcast(y_bar, g)


@adjoint(as_sequence)
def as_sequence_bar(y, xs, *, y_bar):
    return y_bar


@tangent(add_at)
def add_at_dot(y, acc, x, index, g, *, acc_dot, g_dot):
    return add_at(owned_copy(acc_dot), x, index, g_dot)


@adjoint(add_at)
def add_at_bar(y, acc, x, index, g, *, y_bar):
    return y_bar, None, None, y_bar[index]


linear(broadcast_like)


@adjoint(broadcast_like)
def broadcast_like_bar(y, g, like, *, y_bar):
    return unbroadcast(y_bar, g)


nondifferentiable(zeros_like, sign)
