"""Derivative rules for NumPy functions along one axis: `diff`, `gradient`, `cumprod`, `interp`.

- `diff(a, n, axis, prepend=, append=)` is linear in `a` and in the values it prepends and
  appends (a number is broadcast as NumPy does; its adjoint is summed back). `diff_joined`
  builds the tangent of the joined array, `diff_adjoint` undoes `n` differences and
  `diff_piece` cuts out one part's adjoint; all three carry rules.
- `gradient(f, *spacing, axis=, edge_order=)` is linear in `f`: along each axis it is a
  matrix `D` (built by running `np.gradient` on the identity, so every spacing form and both
  edge orders are exact), and its adjoint applies `D` transposed. Up to three spacing
  arguments; spacings are not differentiated, and an active one is refused.
- `cumprod(a, axis)` is exact when `a` has zeros (no division): the tangent runs the product
  rule along the axis, the adjoint runs it backwards. Its second derivatives are the
  symmetric tensor `d2 y_i / da_j da_k`, applied by `cumprod_mixed` and `cumprod_mixed_t`
  (no third derivatives: those two have no rules).
- `interp(x, xp, fp, left, right)` is differentiable in `x` (the slope of the piece `x` lies
  in; at a knot the piece to the right, at the last knot the last piece; 0 outside
  `[xp[0], xp[-1]]`), in `fp` (the two weights of the piece) and in `left`/`right`.
  `xp` and `period=` are refused when they would matter.
"""

import numpy as np

from adgen.arrays import as_array, chunked_like, cut, made_like
from adgen.rules.batched import lift
from adgen.rules.numpy_assembly import gather_back, spread, spread_batched
from adgen.rules.numpy_products import is_zero
from adgen.rules.numpy_shape import cast_like
from adgen.rules.registry import adjoint, batched, linear, nondifferentiable, tangent
from adgen.runtime import refusal, unbroadcast


def no_derivative(t, what):
    """Refuse a derivative adgen does not compute: called only when `t` is active."""
    raise refusal(f"adgen does not differentiate {what}; pass it as a constant")


nondifferentiable(no_derivative)

# ---------------------------------------------------------------- diff


def _diff_parts(a, prepend, append, axis):
    """The shapes of the parts `np.diff` joins along `axis` (None for a missing part)."""
    def shape(v):
        if v is None:
            return None
        if np.ndim(v) == 0:
            s = list(np.shape(a))
            s[axis] = 1
            return tuple(s)
        return np.shape(v)
    return [shape(prepend), np.shape(a), shape(append)]


def diff_joined(ta, tp, tq, a, prepend=None, append=None, axis=-1, lead=0):
    """The tangent of `prepend`, `a`, `append` joined along `axis` from their tangents (zeros
    may be 0.0), with `lead` batch axes in front (there a zero tangent may have any shape)."""
    front = next((np.shape(t)[:lead] for t in (ta, tp, tq) if np.ndim(t)), ()) if lead else ()
    parts = []
    for t, shape in zip((tp, ta, tq), _diff_parts(a, prepend, append, axis), strict=True):
        if shape is None:
            continue
        if is_zero(t) or (lead and isinstance(t, np.ndarray) and not np.any(t)):
            parts.append(made_like(np.zeros(front + shape), ta))
        else:
            parts.append(np.broadcast_to(lift(t, np.empty(shape)) if lead else t, front + shape))
    return np.concatenate(parts, axis + lead if axis >= 0 else axis)


def diff_adjoint(g, n=1, axis=-1):
    """The adjoint of `np.diff(., n, axis)`: each difference undone by its transpose."""
    if is_zero(g):
        return g
    g = as_array(g)
    for _ in range(n):
        width = [(0, 0)] * g.ndim
        width[axis] = (1, 0)
        before = np.pad(g, width)
        width[axis] = (0, 1)
        g = before - np.pad(g, width)
    return g


def diff_piece(g, a, prepend=None, append=None, axis=-1, which=1):
    """Part `which` (0 prepend, 1 `a`, 2 append) of `g`, an adjoint of the joined array,
    summed back to the part's own shape."""
    if is_zero(g):
        return g
    shapes = _diff_parts(a, prepend, append, axis)
    sizes = [0 if s is None else s[axis] for s in shapes]
    start = sum(sizes[:which])
    part = cut(g, [start, sizes[which]], axis % np.ndim(g))[1]
    own = (prepend, a, append)[which]
    return np.sum(part) if np.ndim(own) == 0 else chunked_like(np.reshape(part, np.shape(own)),
                                                               own)


def diff_place(t, a, prepend=None, append=None, axis=-1, which=1):
    """The adjoint of `diff_piece`: `t` put at part `which` of zeros shaped like the join."""
    zero = 0.0
    parts = [t if i == which else zero for i in range(3)]
    return diff_joined(parts[1], parts[0], parts[2], a, prepend, append, axis)


linear(diff_adjoint, diff_piece, diff_place)


@tangent(diff_joined)
def diff_joined_dot(y, ta, tp, tq, a, prepend=None, append=None, axis=-1, lead=0, *, ta_dot,
                    tp_dot, tq_dot):
    return diff_joined(ta_dot, tp_dot, tq_dot, a, prepend, append, axis, lead)


@adjoint(diff_joined)
def diff_joined_bar(y, ta, tp, tq, a, prepend=None, append=None, axis=-1, lead=0, *, y_bar):
    return (diff_piece(y_bar, a, prepend, append, axis, 1),
            diff_piece(y_bar, a, prepend, append, axis, 0),
            diff_piece(y_bar, a, prepend, append, axis, 2))


@adjoint(diff_adjoint)
def diff_adjoint_bar(y, g, n=1, axis=-1, *, y_bar):
    return np.diff(y_bar, n, axis)


@adjoint(diff_piece)
def diff_piece_bar(y, g, a, prepend=None, append=None, axis=-1, which=1, *, y_bar):
    return diff_place(y_bar, a, prepend, append, axis, which)


@adjoint(diff_place)
def diff_place_bar(y, t, a, prepend=None, append=None, axis=-1, which=1, *, y_bar):
    return diff_piece(y_bar, a, prepend, append, axis, which)


@tangent(np.diff)
def diff_dot(y, a, n=1, axis=-1, prepend=None, append=None, *, a_dot, prepend_dot,
             append_dot):
    return np.diff(diff_joined(a_dot, prepend_dot, append_dot, a, prepend, append, axis), n,
                   axis)


@adjoint(np.diff)
def diff_bar(y, a, n=1, axis=-1, prepend=None, append=None, *, y_bar):
    return (diff_piece(diff_adjoint(y_bar, n, axis), a, prepend, append, axis, 1), None, None,
            diff_piece(diff_adjoint(y_bar, n, axis), a, prepend, append, axis, 0),
            diff_piece(diff_adjoint(y_bar, n, axis), a, prepend, append, axis, 2))


@batched(np.diff)
def diff_batched(y, a, n=1, axis=-1, prepend=None, append=None, *, a_dot, prepend_dot,
                 append_dot):
    return np.diff(diff_joined(a_dot, prepend_dot, append_dot, a, prepend, append, axis, 1),
                   n, axis + 1 if axis >= 0 else axis)


# ---------------------------------------------------------------- gradient


def gradient_operators(f, h1=None, h2=None, h3=None, axis=None, edge_order=1):
    """`[(axis, D)]`: `np.gradient(f, h1, h2, h3, axis=axis)` along `axis` is `D @ f`."""
    nd = np.ndim(f)
    axes = list(range(nd)) if axis is None else (
        [axis] if np.ndim(axis) == 0 else list(axis))
    axes = [int(ax) % nd for ax in axes]
    hs = [h for h in (h1, h2, h3) if h is not None]
    if not hs:
        hs = [1.0] * len(axes)
    elif len(hs) == 1 and np.ndim(hs[0]) == 0:
        hs = hs * len(axes)
    return [(ax, np.gradient(np.eye(np.shape(f)[ax]), h, axis=0, edge_order=edge_order))
            for ax, h in zip(axes, hs, strict=True)]


def _apply_along(d, t, ax):
    return np.moveaxis(np.tensordot(d, t, axes=(1, ax)), 0, ax)


def gradient_apply(t, f, h1=None, h2=None, h3=None, axis=None, edge_order=1, lead=0):
    """`np.gradient` of the tangent `t` of `f` (with `lead` batch axes in front)."""
    ops = gradient_operators(f, h1, h2, h3, axis, edge_order)
    if is_zero(t):
        t = np.zeros(np.shape(f))
    dtype = np.result_type(t, 1.0)
    outs = [_apply_along(d.astype(dtype), np.asarray(t, dtype), ax + lead) for ax, d in ops]
    return outs[0] if len(outs) == 1 else tuple(outs)


def gradient_transpose(g, f, h1=None, h2=None, h3=None, axis=None, edge_order=1):
    """The adjoint of `gradient_apply`: each axis's part of `g` through `D` transposed."""
    ops = gradient_operators(f, h1, h2, h3, axis, edge_order)
    gs = [g] if len(ops) == 1 or is_zero(g) else list(g)
    total = np.zeros(np.shape(f), np.result_type(f, 1.0))
    for (ax, d), gi in zip(ops, gs, strict=True):
        if gi is not None and not is_zero(gi):
            total = total + _apply_along(d.T.astype(total.dtype), gi, ax)
    return total


nondifferentiable(gradient_operators)
linear(gradient_apply, gradient_transpose)


@adjoint(gradient_apply)
def gradient_apply_bar(y, t, f, h1=None, h2=None, h3=None, axis=None, edge_order=1, lead=0, *,
                       y_bar):
    return gradient_transpose(y_bar, f, h1, h2, h3, axis, edge_order)


@adjoint(gradient_transpose)
def gradient_transpose_bar(y, g, f, h1=None, h2=None, h3=None, axis=None, edge_order=1, *,
                           y_bar):
    return gradient_apply(y_bar, f, h1, h2, h3, axis, edge_order)


@tangent(np.gradient)
def gradient_dot(y, f, h1=None, h2=None, h3=None, axis=None, edge_order=1, *, f_dot, h1_dot,
                 h2_dot, h3_dot):
    return (gradient_apply(f_dot, f, h1, h2, h3, axis, edge_order)
            + no_derivative(h1_dot, "numpy.gradient with respect to its spacing")
            + no_derivative(h2_dot, "numpy.gradient with respect to its spacing")
            + no_derivative(h3_dot, "numpy.gradient with respect to its spacing"))


@adjoint(np.gradient)
def gradient_bar(y, f, h1=None, h2=None, h3=None, axis=None, edge_order=1, *, y_bar):
    return (gradient_transpose(y_bar, f, h1, h2, h3, axis, edge_order),
            no_derivative(y_bar, "numpy.gradient with respect to its spacing"),
            no_derivative(y_bar, "numpy.gradient with respect to its spacing"),
            no_derivative(y_bar, "numpy.gradient with respect to its spacing"))


@batched(np.gradient)
def gradient_batched(y, f, h1=None, h2=None, h3=None, axis=None, edge_order=1, *, f_dot,
                     h1_dot, h2_dot, h3_dot):
    return (gradient_apply(f_dot, f, h1, h2, h3, axis, edge_order, 1)
            + no_derivative(h1_dot, "numpy.gradient with respect to its spacing")
            + no_derivative(h2_dot, "numpy.gradient with respect to its spacing")
            + no_derivative(h3_dot, "numpy.gradient with respect to its spacing"))


# ---------------------------------------------------------------- interp


def interp_piece(x, xp, period=None):
    """The position (1-based, for `spread`) of the left knot of the piece each `x` lies in."""
    if period is not None:
        raise refusal("adgen differentiates numpy.interp without period= only")
    j = np.searchsorted(xp, x, side="right") - 1
    return np.clip(j, 0, len(xp) - 2) + 1


def interp_part(x, xp, left=None, right=None, part="inside"):
    """1.0 where `x` lies `inside` [xp[0], xp[-1]], `below` it with `left` given, `above` it
    with `right` given, or where it takes its value from `fp` (`from_fp`); else 0.0."""
    below, above = np.less(x, xp[0]), np.greater(x, xp[-1])
    mask = {"inside": ~below & ~above, "below": below & (left is not None),
            "above": above & (right is not None),
            "from_fp": ~(below & (left is not None)) & ~(above & (right is not None))}[part]
    return mask * 1.0


def interp_weight(x, xp):
    """How far into its piece `x` lies (0 at the left knot, 1 at the right; clipped)."""
    j = interp_piece(x, xp) - 1
    xp = np.asarray(xp)
    return np.clip((x - xp[j]) / (xp[j + 1] - xp[j]), 0.0, 1.0)


def interp_width(x, xp):
    """The width of the piece each `x` lies in."""
    j = interp_piece(x, xp) - 1
    xp = np.asarray(xp)
    return xp[j + 1] - xp[j]


nondifferentiable(interp_piece, interp_part, interp_width)


@batched(interp_weight)
@tangent(interp_weight)
def interp_weight_dot(y, x, xp, *, x_dot):
    return x_dot * interp_part(x, xp) / interp_width(x, xp)


@adjoint(interp_weight)
def interp_weight_bar(y, x, xp, *, y_bar):
    return unbroadcast(y_bar * interp_part(x, xp) / interp_width(x, xp), x)


@tangent(np.interp)
def interp_dot(y, x, xp, fp, left=None, right=None, period=None, *, x_dot, xp_dot, fp_dot,
               left_dot, right_dot):
    return (x_dot * interp_part(x, xp) * (spread(fp, interp_piece(x, xp, period) + 1)
                                          - spread(fp, interp_piece(x, xp, period)))
            / interp_width(x, xp)
            + interp_part(x, xp, left, right, "from_fp")
            * (spread(fp_dot, interp_piece(x, xp, period)) * (1.0 - interp_weight(x, xp))
               + spread(fp_dot, interp_piece(x, xp, period) + 1) * interp_weight(x, xp))
            + left_dot * interp_part(x, xp, left, right, "below")
            + right_dot * interp_part(x, xp, left, right, "above")
            + no_derivative(xp_dot, "numpy.interp with respect to the knots xp"))


@adjoint(np.interp)
def interp_bar(y, x, xp, fp, left=None, right=None, period=None, *, y_bar):
    return (cast_like(unbroadcast(y_bar * interp_part(x, xp)
                                  * (spread(fp, interp_piece(x, xp, period) + 1)
                                     - spread(fp, interp_piece(x, xp, period)))
                                  / interp_width(x, xp), x), x),
            no_derivative(y_bar, "numpy.interp with respect to the knots xp"),
            cast_like(gather_back(y_bar * interp_part(x, xp, left, right, "from_fp")
                                  * (1.0 - interp_weight(x, xp)), interp_piece(x, xp, period), fp)
                      + gather_back(y_bar * interp_part(x, xp, left, right, "from_fp")
                                    * interp_weight(x, xp), interp_piece(x, xp, period) + 1, fp),
                      fp),
            np.sum(y_bar * interp_part(x, xp, left, right, "below")),
            np.sum(y_bar * interp_part(x, xp, left, right, "above")))


@batched(np.interp)
def interp_batched(y, x, xp, fp, left=None, right=None, period=None, *, x_dot, xp_dot, fp_dot,
                   left_dot, right_dot):
    return (x_dot * interp_part(x, xp) * (spread(fp, interp_piece(x, xp, period) + 1)
                                          - spread(fp, interp_piece(x, xp, period)))
            / interp_width(x, xp)
            + interp_part(x, xp, left, right, "from_fp")
            * (spread_batched(fp_dot, interp_piece(x, xp, period)) * (1.0 - interp_weight(x, xp))
               + spread_batched(fp_dot, interp_piece(x, xp, period) + 1) * interp_weight(x, xp))
            + lift(left_dot, y) * interp_part(x, xp, left, right, "below")
            + lift(right_dot, y) * interp_part(x, xp, left, right, "above")
            + no_derivative(xp_dot, "numpy.interp with respect to the knots xp"))
