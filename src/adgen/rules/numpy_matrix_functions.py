"""Derivative rules for NumPy's matrix functions built on the decompositions: `pinv`,
`lstsq`, `matrix_power`, the products `kron` and `cross`, and NumPy 2's `matrix_norm` and
`vector_norm`.

As in `numpy_decompositions`, templates call plain-NumPy helpers that adgen differentiates
again from their source for second derivatives.

- `pinv(a)`: the derivative where the rank is locally constant (full rank in practice):
  `dA⁺ = −A⁺ dA A⁺ + A⁺A⁺ᵀ dAᵀ (I − AA⁺) + (I − A⁺A) dAᵀ A⁺ᵀA⁺`; `rcond`/`rtol`'s cut-off is
  held fixed; `hermitian=True` is refused at run time. Stacks of matrices work.
- `lstsq(a, b)`: the solution is `A⁺b`, differentiated as above (tall, square and wide `a`,
  vector or matrix `b`, single matrices); the residuals (present for full column rank and
  more rows than columns) and the singular values are differentiated too; the rank is an
  integer (its tangent is a plain zero).
- `matrix_power(a, n)`: `Σₖ Aᵏ dA Aⁿ⁻¹⁻ᵏ`; negative `n` through the inverse.
- `kron(a, b)`: bilinear; operands of different ranks are padded with leading axes of one,
  as NumPy does.
- `cross(a, b, axisa, axisb, axisc, axis)`: bilinear; the adjoint is `b × ȳ` (`ȳ × a`), with
  two-component vectors taken as three with a zero last component, as NumPy does.
- NumPy 2's `matrix_norm(x, keepdims, ord)` and `vector_norm(x, axis, keepdims, ord)` share
  `np.linalg.norm`'s derivatives (`numpy_linalg.norm_grad`); `vector_norm` with `axis=None`
  takes every element as one vector, whatever the rank.
"""

import numpy as np

from adgen.rules.batched import batch_axes
from adgen.rules.numpy_decompositions import (
    eye_like,
    float_dtype,
    mT,
    refuse,
    svdvals_adjoint,
    svdvals_tangent,
)
from adgen.rules.numpy_linalg import norm_grad, vector_norm_grad
from adgen.rules.numpy_products import is_zero
from adgen.rules.numpy_reductions import expand_to
from adgen.rules.numpy_shape import fill_zeros
from adgen.rules.registry import adjoint, batched, nondifferentiable, tangent
from adgen.runtime import unbroadcast

# ---------------------------------------------------------------- pinv, lstsq


def no_hermitian(hermitian):
    if hermitian:
        refuse("adgen has no derivative of np.linalg.pinv with hermitian=True; "
               "use the default hermitian=False")


nondifferentiable(no_hermitian)


def pinv_tangent(y, a, a_dot, hermitian=False):
    no_hermitian(hermitian)
    away_a = eye_like(y) - a @ y
    away_y = eye_like(a) - y @ a
    return (-(y @ a_dot @ y) + y @ (mT(y) @ mT(a_dot)) @ away_a
            + away_y @ mT(a_dot) @ (mT(y) @ y))


def pinv_adjoint(y, a, y_bar, hermitian=False):
    no_hermitian(hermitian)
    away_a = eye_like(y) - a @ y
    away_y = eye_like(a) - y @ a
    return (-(mT(y) @ y_bar @ mT(y)) + away_a @ mT(y_bar) @ (y @ mT(y))
            + (mT(y) @ y) @ mT(y_bar) @ away_y)


@tangent(np.linalg.pinv)
@batched(np.linalg.pinv)
def pinv_dot(y, a, rcond=None, hermitian=False, rtol=None, *, a_dot):
    return pinv_tangent(y, a, a_dot, hermitian)


@adjoint(np.linalg.pinv)
def pinv_bar(y, a, rcond=None, hermitian=False, rtol=None, *, y_bar):
    return pinv_adjoint(y, a, y_bar, hermitian)


def as_columns(v, b):
    """`v`, shaped like `b` of `np.linalg.lstsq(a, b)` (or like its solution), as a matrix."""
    return v[..., None] if np.ndim(b) == 1 else v


def like_b(v, b):
    """The matrix `v` back in the shape of a vector `b`."""
    return v[..., 0] if np.ndim(b) == 1 else v


def zero_beside(t, like):
    """A zero shaped like the vector `like`, with the batch axis of the matrix tangent `t`
    when it has one (the tangent of a result that does not depend on `t`'s argument)."""
    return 0.0 * np.sum(t, axis=(-2, -1))[..., None] * like


def has_residuals(y):
    """Whether `np.linalg.lstsq` returned residuals (full column rank, more rows)."""
    return np.size(y[1]) > 0


nondifferentiable(has_residuals)


def lstsq_tangent_a(y, a, b, a_dot, rcond=None):
    p = np.linalg.pinv(a)
    x = as_columns(y[0], b)
    r = as_columns(b, b) - a @ x
    dx = (-(p @ (a_dot @ x)) + p @ (mT(p) @ (mT(a_dot) @ r))
          + (mT(a_dot) @ (mT(p) @ x) - p @ (a @ (mT(a_dot) @ (mT(p) @ x)))))
    dres = -2.0 * np.sum(r * (a_dot @ x), axis=-2) if has_residuals(y) else zero_beside(a_dot,
                                                                                       y[1])
    return like_b(dx, b), dres, 0.0, svdvals_tangent(a, a_dot)


def lstsq_tangent_b(y, a, b, b_dot, rcond=None):
    p = np.linalg.pinv(a)
    db = as_columns(b_dot, b)
    r = as_columns(b, b) - a @ as_columns(y[0], b)
    dres = 2.0 * np.sum(r * db, axis=-2) if has_residuals(y) else zero_beside(db, y[1])
    return like_b(p @ db, b), dres, 0.0, zero_beside(db, y[3])


def lstsq_adjoint_a(y, a, b, y_bar, rcond=None):
    x_bar, res_bar, _, s_bar = fill_zeros(y_bar, y)
    p = np.linalg.pinv(a)
    g = as_columns(x_bar, b)
    x = as_columns(y[0], b)
    r = as_columns(b, b) - a @ x
    out = (-(mT(p) @ g @ mT(x)) + r @ (mT(g) @ p) @ mT(p)
           + (mT(p) @ x) @ (mT(g) - (mT(g) @ p) @ a) + svdvals_adjoint(a, s_bar))
    if has_residuals(y):
        out = out - 2.0 * (r * res_bar) @ mT(x)
    return out


def lstsq_adjoint_b(y, a, b, y_bar, rcond=None):
    x_bar, res_bar, _, s_bar = fill_zeros(y_bar, y)
    g = mT(np.linalg.pinv(a)) @ as_columns(x_bar, b)
    if has_residuals(y):
        r = as_columns(b, b) - a @ as_columns(y[0], b)
        g = g + 2.0 * r * res_bar
    return like_b(g, b)


def lstsq_sum(t, u):
    """The tangents `t` and `u` of lstsq's four results, added item by item (either may be a
    folded zero)."""
    if is_zero(u):
        return t
    if is_zero(t):
        return u
    return tuple(ti + ui for ti, ui in zip(t, u, strict=True))


@tangent(np.linalg.lstsq)
@batched(np.linalg.lstsq)
def lstsq_dot(y, a, b, rcond=None, *, a_dot, b_dot):
    return lstsq_sum(lstsq_tangent_a(y, a, b, a_dot, rcond), lstsq_tangent_b(y, a, b, b_dot, rcond))


@adjoint(np.linalg.lstsq)
def lstsq_bar(y, a, b, rcond=None, *, y_bar):
    return lstsq_adjoint_a(y, a, b, y_bar, rcond), lstsq_adjoint_b(y, a, b, y_bar, rcond)


# ---------------------------------------------------------------- matrix_power


def matrix_power_tangent(a, n, a_dot):
    base, base_dot = a, a_dot
    if n < 0:
        base = np.linalg.inv(a)
        base_dot = -(base @ a_dot @ base)
    total = 0.0 * base_dot
    for k in range(abs(n)):
        total = total + (np.linalg.matrix_power(base, k) @ base_dot
                         @ np.linalg.matrix_power(base, abs(n) - 1 - k))
    return total


def matrix_power_adjoint(a, n, g):
    base = np.linalg.inv(a) if n < 0 else a
    total = 0.0 * g
    for k in range(abs(n)):
        total = total + (mT(np.linalg.matrix_power(base, k)) @ g
                         @ mT(np.linalg.matrix_power(base, abs(n) - 1 - k)))
    if n < 0:
        total = -(mT(base) @ total @ mT(base))
    return total


@tangent(np.linalg.matrix_power)
@batched(np.linalg.matrix_power)
def matrix_power_dot(y, a, n, *, a_dot):
    return matrix_power_tangent(a, n, a_dot)


@adjoint(np.linalg.matrix_power)
def matrix_power_bar(y, a, n, *, y_bar):
    return matrix_power_adjoint(a, n, y_bar)


# ---------------------------------------------------------------- kron, cross


def kron_layout(x, other, first):
    """For `np.kron` of `x` and `other` (`x` first or second): the shape that splits the
    result into (x-axis, other-axis) pairs, the shape that places `other` on its half of those
    pairs, and the axes of that half."""
    nd = max(np.ndim(x), np.ndim(other))
    sx = (1,) * (nd - np.ndim(x)) + np.shape(x)
    so = (1,) * (nd - np.ndim(other)) + np.shape(other)
    pairs = [(i, j) if first else (j, i) for i, j in zip(sx, so, strict=True)]
    blocks = tuple(n for pair in pairs for n in pair)
    spread = tuple(n for pair in zip(so, (1,) * nd, strict=True)
                   for n in (pair[::-1] if first else pair))
    axes = tuple(range(1 if first else 0, 2 * nd, 2))
    return blocks, spread, axes


nondifferentiable(kron_layout)


def kron_adjoint(g, x, other, first):
    """The adjoint of `np.kron` for its first (`first`) or second operand `x`."""
    blocks, spread, axes = kron_layout(x, other, first)
    parts = np.reshape(g, blocks) * np.reshape(other, spread)
    return np.reshape(np.sum(parts, axis=axes), np.shape(x))


def kron_batched_term(t, x, other, first):
    """Batched `np.kron` with the tangent `t` of `x`: a leading axis of one keeps them apart."""
    nd = max(np.ndim(x), np.ndim(other))
    t = np.reshape(t, t.shape[:1] + (1,) * (nd - np.ndim(x)) + np.shape(x))
    o = np.reshape(other, (1,) * (nd + 1 - np.ndim(other)) + np.shape(other))
    return np.kron(t, o) if first else np.kron(o, t)


@tangent(np.kron)
def kron_dot(y, a, b, *, a_dot, b_dot):
    return np.kron(a_dot, b) + np.kron(a, b_dot)


@adjoint(np.kron)
def kron_bar(y, a, b, *, y_bar):
    return kron_adjoint(y_bar, a, b, True), kron_adjoint(y_bar, b, a, False)


@batched(np.kron)
def kron_batched(y, a, b, *, a_dot, b_dot):
    return kron_batched_term(a_dot, a, b, True) + kron_batched_term(b_dot, b, a, False)


def vectors_last(x, axis):
    """`x` with its vector axis last, padded with a zero third component if it has two."""
    v = np.moveaxis(x, axis, -1)
    if np.shape(v)[-1] == 2:
        v = np.concatenate([v, np.zeros(np.shape(v)[:-1] + (1,), float_dtype(v))], axis=-1)
    return v


def cross_adjoint(g, x, other, axisx, axiso, axisc, axis, first):
    """The adjoint of `np.cross` for its first (`first`) or second operand `x`."""
    if axis is not None:
        axisx, axiso, axisc = axis, axis, axis
    os = vectors_last(other, axiso)
    if np.shape(x)[axisx] == 2 and np.shape(other)[axiso] == 2:  # NumPy returns z alone
        gs = np.asarray(g)[..., None] * np.array([0.0, 0.0, 1.0])
    else:
        gs = np.moveaxis(g, axisc, -1)
    full = np.cross(os, gs) if first else np.cross(gs, os)
    mine = np.moveaxis(x, axisx, -1)
    part = unbroadcast(full[..., :np.shape(mine)[-1]], mine)
    return np.moveaxis(part, -1, axisx)


def cross_batched_term(t, x, other, axisx, axiso, axisc, axis, first):
    """Batched `np.cross` with the tangent `t` of `x` (the first operand when `first`): the
    vector axes last, the batch axis ahead of the broadcast ones."""
    if axis is not None:
        axisx, axiso, axisc = axis, axis, axis
    rank = max(np.ndim(x), np.ndim(other)) - 1
    tv = np.moveaxis(t, axisx + 1 if axisx >= 0 else axisx, -1)
    tv = np.reshape(tv, tv.shape[:1] + (1,) * (rank + 1 - np.ndim(x)) + tv.shape[1:])
    ov = np.moveaxis(other, axiso, -1)
    ov = np.reshape(ov, (1,) * (rank + 2 - np.ndim(other)) + ov.shape)
    out = np.cross(tv, ov) if first else np.cross(ov, tv)
    if np.ndim(out) == rank + 1:  # two 2-vectors: NumPy returns z alone
        return out
    return np.moveaxis(out, -1, axisc + 1 if axisc >= 0 else axisc)


@tangent(np.cross)
def cross_dot(y, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, *, a_dot, b_dot):
    return np.cross(a_dot, b, axisa, axisb, axisc, axis) + np.cross(a, b_dot, axisa, axisb,
                                                                    axisc, axis)


@adjoint(np.cross)
def cross_bar(y, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, *, y_bar):
    return (cross_adjoint(y_bar, a, b, axisa, axisb, axisc, axis, True),
            cross_adjoint(y_bar, b, a, axisb, axisa, axisc, axis, False))


@batched(np.cross)
def cross_batched(y, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None, *, a_dot, b_dot):
    return (cross_batched_term(a_dot, a, b, axisa, axisb, axisc, axis, True)
            + cross_batched_term(b_dot, b, a, axisb, axisa, axisc, axis, False))


# ---------------------------------------------------------------- matrix_norm, vector_norm


if hasattr(np.linalg, "matrix_norm"):  # NumPy 2

    @tangent(np.linalg.matrix_norm)
    def matrix_norm_dot(y, x, keepdims=False, ord="fro", *, x_dot):
        return np.sum(x_dot * norm_grad(x, y, ord, (-2, -1), keepdims), axis=(-2, -1),
                      keepdims=keepdims)

    @adjoint(np.linalg.matrix_norm)
    def matrix_norm_bar(y, x, keepdims=False, ord="fro", *, y_bar):
        return expand_to(y_bar, x, (-2, -1), keepdims) * norm_grad(x, y, ord, (-2, -1), keepdims)

    @batched(np.linalg.matrix_norm)
    def matrix_norm_batched(y, x, keepdims=False, ord="fro", *, x_dot):
        return np.sum(x_dot * norm_grad(x, y, ord, (-2, -1), keepdims), axis=(-2, -1),
                      keepdims=keepdims)

    @tangent(np.linalg.vector_norm)
    def vector_norm_dot(y, x, axis=None, keepdims=False, ord=2, *, x_dot):
        return np.sum(x_dot * vector_norm_grad(x, y, ord, axis, keepdims), axis=axis,
                      keepdims=keepdims)

    @adjoint(np.linalg.vector_norm)
    def vector_norm_bar(y, x, axis=None, keepdims=False, ord=2, *, y_bar):
        return expand_to(y_bar, x, axis, keepdims) * vector_norm_grad(x, y, ord, axis, keepdims)

    @batched(np.linalg.vector_norm)
    def vector_norm_batched(y, x, axis=None, keepdims=False, ord=2, *, x_dot):
        return np.sum(x_dot * vector_norm_grad(x, y, ord, axis, keepdims),
                      axis=batch_axes(axis, x), keepdims=keepdims)
