"""Derivative rules for NumPy functions that join, cut or combine several arrays.

`column_stack`, `row_stack` (where this NumPy still has it; it is `vstack`), `hsplit`,
`vsplit`, `dsplit`, `meshgrid`, `select`, and the batched forms of `tile`, `split` and
`array_split`. All are linear in their array arguments.

Conventions (those of `numpy_shape` for lists of arrays):

- A list parameter's tangent is a list whose inactive elements may be `None` or `0.0`
  (`fill_zeros` makes them zeros); its adjoint contribution is a list, one per element.
- Functions that return a list (`hsplit`, `meshgrid`) get a list `y_bar` with `None`/`0.0`
  for the pieces that got no adjoint.
- `meshgrid` takes up to three arrays (`indexing="xy"` or `"ij"`, `sparse=`); each output's
  adjoint is summed over the axes along which its input was repeated.
- `select(condlist, choicelist, default)`: the derivative follows the first condition that
  holds, as the value does; `default` (a number or an array) is differentiable too.
"""

import numpy as np

from adgen.arrays import cut, size
from adgen.rules.batched import batch_axes, lift, piece, takes_lists, vstack_batched
from adgen.rules.numpy_products import is_zero
from adgen.rules.numpy_shape import (
    fill_zeros,
    split_like,
    vstack_bar,
    vstack_dot,
)
from adgen.rules.registry import (
    adjoint,
    batched,
    container_result,
    linear,
    nondifferentiable,
    tangent,
)
from adgen.runtime import unbroadcast

# ---------------------------------------------------------------- adjoints of join helpers


def join_like(pieces, g, xs, axis=0):
    """The adjoint of `split_like(g, xs, axis)`: the pieces (None or 0.0 for zeros) joined
    back into the shape of `g`."""
    pieces = fill_zeros(pieces, xs)
    if axis is None:
        return np.reshape(np.concatenate([np.ravel(p) for p in pieces]), np.shape(g))
    nd = np.ndim(g)
    parts = [np.reshape(p, (1,) * (nd - np.ndim(x)) + np.shape(x))
             for p, x in zip(pieces, xs, strict=True)]
    return np.concatenate(parts, axis % nd)


linear(join_like)


@adjoint(fill_zeros)
def fill_zeros_bar(y, ts, xs, *, y_bar):
    return fill_zeros(y_bar, y)


@adjoint(split_like)
def split_like_bar(y, g, xs, axis=0, *, y_bar):
    return join_like(y_bar, g, xs, axis)


@adjoint(join_like)
def join_like_bar(y, pieces, g, xs, axis=0, *, y_bar):
    return split_like(y_bar, xs, axis)


# ---------------------------------------------------------------- column_stack, row_stack


def unstack_columns(g, tup):
    """The adjoint of `np.column_stack(tup)`: `g` cut into the columns of each element."""
    if is_zero(g):
        return [np.zeros(np.shape(x)) for x in tup]
    widths = [1 if np.ndim(x) < 2 else np.shape(x)[1] for x in tup]
    pieces = cut(g, widths, 1)
    return [np.reshape(p, np.shape(x)) for p, x in zip(pieces, tup, strict=True)]


def column_stacked(ts, tup, k):
    """Batched `np.column_stack(tup)`."""
    parts = [piece(t, x, k) for t, x in zip(ts, tup, strict=True)]
    parts = [p[..., None] if np.ndim(x) < 2 else p for p, x in zip(parts, tup, strict=True)]
    return np.concatenate(parts, axis=2)


linear(unstack_columns)


container_result(unstack_columns)


@adjoint(unstack_columns)
def unstack_columns_bar(y, g, tup, *, y_bar):
    return np.column_stack(fill_zeros(y_bar, y))


@tangent(np.column_stack)
def column_stack_dot(y, tup, *, tup_dot):
    return np.column_stack(fill_zeros(tup_dot, tup))


@adjoint(np.column_stack)
def column_stack_bar(y, tup, *, y_bar):
    return unstack_columns(y_bar, tup)


@batched(np.column_stack)
def column_stack_batched(y, tup, *, tup_dot, batch):
    return column_stacked(tup_dot, tup, batch)


if hasattr(np, "row_stack"):  # deprecated in NumPy 2.0: the same as vstack
    tangent(np.row_stack)(vstack_dot)
    adjoint(np.row_stack)(vstack_bar)
    batched(np.row_stack)(vstack_batched)


# ---------------------------------------------------------------- hsplit, vsplit, dsplit


def split_axis(ary, axis):
    """The axis that `hsplit` (-1 here), `vsplit` (0) or `dsplit` (2) cuts `ary` along."""
    return (1 if np.ndim(ary) > 1 else 0) if axis == -1 else axis


nondifferentiable(split_axis)


@tangent(np.hsplit)
def hsplit_dot(y, ary, indices_or_sections, *, ary_dot):
    return np.hsplit(ary_dot, indices_or_sections)


@adjoint(np.hsplit)
def hsplit_bar(y, ary, indices_or_sections, *, y_bar):
    return np.concatenate(fill_zeros(y_bar, y), split_axis(ary, -1))


@batched(np.hsplit)
def hsplit_batched(y, ary, indices_or_sections, *, ary_dot):
    return np.split(ary_dot, indices_or_sections, split_axis(ary, -1) + 1)


@tangent(np.vsplit)
def vsplit_dot(y, ary, indices_or_sections, *, ary_dot):
    return np.vsplit(ary_dot, indices_or_sections)


@adjoint(np.vsplit)
def vsplit_bar(y, ary, indices_or_sections, *, y_bar):
    return np.concatenate(fill_zeros(y_bar, y), 0)


@batched(np.vsplit)
def vsplit_batched(y, ary, indices_or_sections, *, ary_dot):
    return np.split(ary_dot, indices_or_sections, 1)


@tangent(np.dsplit)
def dsplit_dot(y, ary, indices_or_sections, *, ary_dot):
    return np.dsplit(ary_dot, indices_or_sections)


@adjoint(np.dsplit)
def dsplit_bar(y, ary, indices_or_sections, *, y_bar):
    return np.concatenate(fill_zeros(y_bar, y), 2)


@batched(np.dsplit)
def dsplit_batched(y, ary, indices_or_sections, *, ary_dot):
    return np.split(ary_dot, indices_or_sections, 3)


# ---------------------------------------------------------------- batched tile and split


def tiled(t, a, reps):
    """Batched `np.tile(a, reps)`: `a` promoted to the rank of the result behind the batch
    axis, which is not repeated."""
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    d = max(np.ndim(a), len(reps))
    t = np.reshape(t, t.shape[:1] + (1,) * (d - np.ndim(a)) + np.shape(a))
    return np.tile(t, (1,) + (1,) * (d - len(reps)) + reps)


@batched(np.tile)
def tile_batched(y, A, reps, *, A_dot):
    return tiled(A_dot, A, reps)


@batched(np.split)
def split_batched(y, ary, indices_or_sections, axis=0, *, ary_dot):
    return np.split(ary_dot, indices_or_sections, batch_axes(axis, ary))


@batched(np.array_split)
def array_split_batched(y, ary, indices_or_sections, axis=0, *, ary_dot):
    return np.array_split(ary_dot, indices_or_sections, batch_axes(axis, ary))


# ---------------------------------------------------------------- meshgrid


def grid_axis(i, n, indexing):
    """The axis of a `meshgrid` output along which its `i`-th of `n` inputs varies."""
    if indexing == "xy" and n > 1 and i < 2:
        return 1 - i
    return i


def grid_tangent(ts, xs, y, indexing="xy", sparse=False, lead=0):
    """The tangents of `np.meshgrid(*xs)` from the inputs' tangents `ts` (zeros: 0.0), with
    `lead` batch axes in front of each tangent. Batched code passes an inactive input's zero
    tangent as zeros shaped like the outputs (`batch_zeros(y, k)`), not like the input: any
    tangent not shaped like its input is such a zero."""
    xs = [x for x in xs if x is not None]
    zero = [is_zero(t) or isinstance(t, (list, tuple)) or np.shape(t)[lead:] != np.shape(x)
            for t, x in zip(ts, xs, strict=False)]
    batch = next((np.shape(t)[:lead] for t, z in zip(ts, zero, strict=False) if not z), ())
    out = []
    for i, (t, x, yi) in enumerate(zip(ts, xs, y, strict=False)):
        if zero[i]:
            out.append(np.zeros(batch + np.shape(yi)))
            continue
        shape = [1] * len(xs)
        shape[grid_axis(i, len(xs), indexing)] = size(x)
        t = np.reshape(t, np.shape(t)[:lead] + tuple(shape))
        out.append(t if sparse else np.broadcast_to(t, t.shape[:lead] + np.shape(yi)).copy())
    return out if isinstance(y, list) else tuple(out)


def grid_adjoint(g, xs, indexing="xy", i=0):
    """The adjoint of the `i`-th input of `np.meshgrid(*xs)` from the outputs' adjoints `g`."""
    xs = [x for x in xs if x is not None]
    gi = g[i] if isinstance(g, (list, tuple)) and i < len(g) else None
    if gi is None or is_zero(gi) or i >= len(xs):
        return np.zeros(np.shape(xs[i])) if i < len(xs) else None
    ax = grid_axis(i, len(xs), indexing)
    others = tuple(a for a in range(np.ndim(gi)) if a != ax)
    return np.reshape(np.sum(gi, axis=others), np.shape(xs[i]))


def grid_place(t, g, xs, indexing="xy", i=0):
    """The adjoint of `grid_adjoint(g, xs, indexing, i)`: `t` spread along its axis over the
    shape of `g[i]`, zeros for the other outputs."""
    xs = [x for x in xs if x is not None]
    out = [0.0] * len(g)
    shape = [1] * len(xs)
    shape[grid_axis(i, len(xs), indexing)] = size(xs[i])
    out[i] = np.broadcast_to(np.reshape(t, shape), np.shape(g[i])).copy()
    return out


linear(grid_tangent, grid_adjoint, grid_place)


@adjoint(grid_adjoint)
def grid_adjoint_bar(y, g, xs, indexing="xy", i=0, *, y_bar):
    return grid_place(y_bar, g, xs, indexing, i)


@adjoint(grid_place)
def grid_place_bar(y, t, g, xs, indexing="xy", i=0, *, y_bar):
    return grid_adjoint(y_bar, xs, indexing, i)


@tangent(np.meshgrid)
def meshgrid_dot(y, x1, x2=None, x3=None, copy=True, sparse=False, indexing="xy", *, x1_dot,
                 x2_dot, x3_dot):
    return grid_tangent([x1_dot, x2_dot, x3_dot], [x1, x2, x3], y, indexing, sparse)


@adjoint(np.meshgrid)
def meshgrid_bar(y, x1, x2=None, x3=None, copy=True, sparse=False, indexing="xy", *, y_bar):
    return (grid_adjoint(y_bar, [x1, x2, x3], indexing, 0),
            grid_adjoint(y_bar, [x1, x2, x3], indexing, 1),
            grid_adjoint(y_bar, [x1, x2, x3], indexing, 2))


@batched(np.meshgrid)
def meshgrid_batched(y, x1, x2=None, x3=None, copy=True, sparse=False, indexing="xy", *,
                     x1_dot, x2_dot, x3_dot):
    return grid_tangent([x1_dot, x2_dot, x3_dot], [x1, x2, x3], y, indexing, sparse, 1)


# ---------------------------------------------------------------- select


def select_masks(condlist, y):
    """Where each choice of `np.select(condlist, ...)` was taken (the first condition that
    holds), then where the default was, all in the shape of `y`."""
    taken = np.zeros(np.shape(y), bool)
    masks = []
    for cond in condlist:
        masks.append(np.broadcast_to(cond, np.shape(y)) & ~taken)
        taken = taken | masks[-1]
    return masks + [~taken]


def select_tangent(condlist, ts, choicelist, default_t, y, lead=False):
    """The tangent of `np.select(condlist, choicelist, default)` (batched with `lead`)."""
    ts = fill_zeros(ts, choicelist)
    masks = select_masks(condlist, y)  # (lanes picked, not products: 0 * inf would be NaN)
    out = np.where(masks[-1], default_t, 0.0)
    for t, mask in zip(ts, masks, strict=False):
        out = np.where(mask, lift(t, y) if lead else t, out)
    return out if lead or np.ndim(out) else out + np.zeros(np.shape(y))


def select_adjoint(g, condlist, choicelist, y):
    """The adjoints of the choices of `np.select` from `g`."""
    masks = select_masks(condlist, y)
    return [unbroadcast(g * m, c) for m, c in zip(masks, choicelist, strict=False)]


nondifferentiable(select_masks)
linear(select_adjoint)
container_result(select_adjoint)


@adjoint(select_adjoint)
def select_adjoint_bar(y, g, condlist, choicelist, y0, *, y_bar):
    return select_tangent(condlist, y_bar, choicelist, 0.0, y0)


@tangent(np.select)
def select_dot(y, condlist, choicelist, default=0, *, choicelist_dot, default_dot):
    return select_tangent(condlist, choicelist_dot, choicelist, default_dot, y)


@adjoint(np.select)
def select_bar(y, condlist, choicelist, default=0, *, y_bar):
    return (None, select_adjoint(y_bar, condlist, choicelist, y),
            unbroadcast(y_bar * select_masks(condlist, y)[-1], default))


@batched(np.select)
def select_batched(y, condlist, choicelist, default=0, *, choicelist_dot, default_dot):
    return select_tangent(condlist, choicelist_dot, choicelist, lift(default_dot, y), y, True)


takes_lists(column_stack_batched, select_batched)
