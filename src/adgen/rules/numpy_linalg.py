"""Derivative rules for NumPy's linear algebra: `trace`, `linalg.norm`, `linalg.det`,
`linalg.inv`, `linalg.solve`.

Conventions and limits:

- `trace` takes `offset`, `axis1`, `axis2`; its adjoint puts the cotangent on that diagonal
  (`trace_adjoint`).
- `norm`: `ord=None`/`'fro'` (any `axis`, `keepdims`), vector norms of any `ord`, and matrix
  norms (`axis=None` on a matrix or a pair of axes) with `ord` 1, -1, inf, -inf (the largest
  or smallest absolute column or row sum: ties share the derivative equally), 2, -2 (the
  largest or smallest singular value: `u₁v₁ᵀ`, needs it simple) and 'nuc' (`UVᵀ`, needs
  distinct nonzero singular values at second order). At 0 the 2-norm's derivative is taken
  as 0, and so is its second derivative (`_at_zero`; it was the identity, an artefact of the
  guard against dividing by 0), as for `abs` at 0. `norm_grad` has no rule of its own:
  second derivatives go through adgen's transformation of its source (the SVD through its
  rule in `numpy_decompositions`).
- `det`, `inv`: need an invertible matrix (NumPy raises `LinAlgError` otherwise); stacks of
  matrices are supported. The adjoints are `y_bar * y * inv(a)^T` and `-y^T y_bar y^T`.
- `solve(a, b)`: `b` is a vector (stack) or matrix (stack) by NumPy's rule for the installed
  version (`solve_vector`); batch dimensions broadcast. The helpers `solve_like`,
  `matmul_like` and `outer_like` work in that same vector-or-matrix mode and carry rules.
"""

import numpy as np

from adgen.arrays import as_array, made_like
from adgen.rules.numpy_products import is_zero
from adgen.rules.numpy_reductions import expand_to, keep_dims, max_share
from adgen.rules.registry import adjoint, linear, nondifferentiable, tangent
from adgen.runtime import real_only, sign, unbroadcast

_NUMPY2 = int(np.__version__.split(".")[0]) >= 2


# ---------------------------------------------------------------- trace, norm


def trace_adjoint(g, a, offset=0, axis1=0, axis2=1):
    """The adjoint of `np.trace(a, offset, axis1, axis2)`: `g` placed on that diagonal."""
    shape = np.shape(a)
    ax1, ax2 = axis1 % len(shape), axis2 % len(shape)
    dtype = np.result_type(g, a)
    diag = as_array(g, dtype=dtype)[..., None, None] * made_like(np.eye(
        shape[ax1], shape[ax2], k=offset, dtype=dtype), g)
    return np.moveaxis(diag, (-2, -1), (ax1, ax2))


linear(trace_adjoint)


@adjoint(trace_adjoint)
def trace_adjoint_bar(y, g, a, offset=0, axis1=0, axis2=1, *, y_bar):
    return np.trace(y_bar, offset, axis1, axis2)


@tangent(np.trace, "ndarray.trace")
def trace_dot(y, a, offset=0, axis1=0, axis2=1, dtype=None, out=None, *, a_dot):
    return np.trace(a_dot, offset, axis1, axis2, dtype)


@adjoint(np.trace, "ndarray.trace")
def trace_bar(y, a, offset=0, axis1=0, axis2=1, dtype=None, out=None, *, y_bar):
    return trace_adjoint(y_bar, a, offset, axis1, axis2)


def norm_grad(x, y, ord=None, axis=None, keepdims=False):
    """The derivative of `y = np.linalg.norm(x, ord, axis, keepdims)` with respect to each x."""
    real_only(x, "np.linalg.norm")
    matrix = (axis is None and np.ndim(x) == 2) or (isinstance(axis, tuple) and len(axis) == 2)
    if ord is None or ord == "fro" or (ord == 2 and not matrix):
        return _at_zero(x, keep_dims(y, x, axis, keepdims))
    if matrix:
        return matrix_norm_grad(x, y, ord, matrix_axes(x, axis), keepdims)
    return vector_norm_grad(x, y, ord, axis, keepdims)


def vector_norm_grad(x, y, ord=2, axis=None, keepdims=False):
    """The derivative of the vector norm `y` of `x` over `axis` (every element when None)."""
    if ord == 2:
        return _at_zero(x, keep_dims(y, x, axis, keepdims))
    if ord == np.inf or ord == -np.inf:
        return max_share(np.abs(x), y, axis, keepdims) * sign(x)
    if ord == 0:
        return np.zeros_like(x)
    d = keep_dims(y, x, axis, keepdims)
    return sign(x) * (np.abs(x) / np.where(d == 0, 1, d)) ** (ord - 1)


def _at_zero(x, d):
    """`x / d`, 0 where the norm `d` is 0: the derivative there has no `x` in it (0 at second
    order too)."""
    zero = d == 0
    return np.where(zero, 0.0, x) / np.where(zero, 1, d)


def matrix_axes(x, axis):
    """The (row, column) axes of a matrix norm, as non-negative ints."""
    nd = np.ndim(x)
    rows, cols = (0, 1) if axis is None else axis
    return rows % nd, cols % nd


nondifferentiable(matrix_axes)


def matrix_norm_grad(x, y, ord, axes, keepdims=False):
    """The derivative of a matrix norm (`ord` 1, -1, inf, -inf, 2, -2, 'nuc') over `axes`."""
    rows, cols = axes
    if ord in (1, -1, np.inf, -np.inf):
        summed, across = (rows, cols) if ord in (1, -1) else (cols, rows)
        sums = np.sum(np.abs(x), axis=summed, keepdims=True)
        return max_share(sums, keep_dims(y, x, axes, keepdims), across, True) * sign(x)
    if ord not in (2, -2, "nuc"):
        raise ValueError("Invalid norm order for matrices.")
    u, s, vh = np.linalg.svd(np.moveaxis(x, axes, (-2, -1)), full_matrices=False)
    if ord == 2:
        u, vh = u[..., :, :1], vh[..., :1, :]
    elif ord == -2:
        u, vh = u[..., :, -1:], vh[..., -1:, :]
    return np.moveaxis(u @ vh, (-2, -1), axes)


@tangent(np.linalg.norm)
def norm_dot(y, x, ord=None, axis=None, keepdims=False, *, x_dot):
    return np.sum(x_dot * norm_grad(x, y, ord, axis, keepdims), axis=axis, keepdims=keepdims)


@adjoint(np.linalg.norm)
def norm_bar(y, x, ord=None, axis=None, keepdims=False, *, y_bar):
    return expand_to(y_bar, x, axis, keepdims) * norm_grad(x, y, ord, axis, keepdims)


# ---------------------------------------------------------------- det, inv


@tangent(np.linalg.det)
def det_dot(y, a, *, a_dot):
    return y * np.sum(np.swapaxes(np.linalg.inv(a), -1, -2) * a_dot, axis=(-2, -1))


@adjoint(np.linalg.det)
def det_bar(y, a, *, y_bar):
    return np.expand_dims(y_bar * y, (-2, -1)) * np.swapaxes(np.linalg.inv(a), -1, -2)


@tangent(np.linalg.inv)
def inv_dot(y, a, *, a_dot):
    return -(y @ a_dot @ y)


@adjoint(np.linalg.inv)
def inv_bar(y, a, *, y_bar):
    return -(np.swapaxes(y, -1, -2) @ y_bar @ np.swapaxes(y, -1, -2))


# ---------------------------------------------------------------- solve


def solve_vector(a, b):
    """Whether `np.linalg.solve(a, b)` takes `b` as a vector (or stack of vectors)."""
    return np.ndim(b) == 1 or (not _NUMPY2 and np.ndim(b) == np.ndim(a) - 1)


def solve_like(v, a, b):
    """`a⁻¹ v`, where `v` is shaped like the result of `np.linalg.solve(a, b)`."""
    if solve_vector(a, b):
        return np.linalg.solve(a, v[..., None])[..., 0]
    return np.linalg.solve(a, v)


def matmul_like(m, x, b):
    """`m @ x`, where `x` is shaped like the result of `np.linalg.solve(m, b)`."""
    if is_zero(m) or is_zero(x):
        return 0.0
    return (m @ x[..., None])[..., 0] if solve_vector(m, b) else m @ x


def outer_like(u, v, a, b):
    """`u @ v.T` for `u`, `v` shaped like the result of `np.linalg.solve(a, b)`."""
    if is_zero(u) or is_zero(v):
        return 0.0
    if solve_vector(a, b):
        return u[..., :, None] * v[..., None, :]
    return u @ np.swapaxes(v, -1, -2)


nondifferentiable(solve_vector)


@tangent(np.linalg.solve)
def solve_dot(y, a, b, *, a_dot, b_dot):
    return solve_like(b_dot - matmul_like(a_dot, y, b), a, b)


@adjoint(np.linalg.solve)
def solve_bar(y, a, b, *, y_bar):
    return (unbroadcast(-outer_like(solve_like(y_bar, np.swapaxes(a, -1, -2), b), y, a, b), a),
            unbroadcast(solve_like(y_bar, np.swapaxes(a, -1, -2), b), b))


@tangent(solve_like)
def solve_like_dot(y, v, a, b, *, v_dot, a_dot):
    return solve_like(v_dot - matmul_like(a_dot, y, b), a, b)


@adjoint(solve_like)
def solve_like_bar(y, v, a, b, *, y_bar):
    return (unbroadcast(solve_like(y_bar, np.swapaxes(a, -1, -2), b), v),
            unbroadcast(-outer_like(solve_like(y_bar, np.swapaxes(a, -1, -2), b), y, a, b), a))


@tangent(matmul_like)
def matmul_like_dot(y, m, x, b, *, m_dot, x_dot):
    return matmul_like(m_dot, x, b) + matmul_like(m, x_dot, b)


@adjoint(matmul_like)
def matmul_like_bar(y, m, x, b, *, y_bar):
    return (unbroadcast(outer_like(y_bar, x, m, b), m),
            unbroadcast(matmul_like(np.swapaxes(m, -1, -2), y_bar, b), x))


@tangent(outer_like)
def outer_like_dot(y, u, v, a, b, *, u_dot, v_dot):
    return outer_like(u_dot, v, a, b) + outer_like(u, v_dot, a, b)


@adjoint(outer_like)
def outer_like_bar(y, u, v, a, b, *, y_bar):
    return (unbroadcast(matmul_like(y_bar, v, b), u),
            unbroadcast(matmul_like(np.swapaxes(y_bar, -1, -2), u, b), v))
