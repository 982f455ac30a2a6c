"""Derivative rules for NumPy's matrix decompositions: `slogdet`, `cholesky`, `eigh`,
`eigvalsh`, `svd`, `svdvals`, `qr`, and `eig`/`eigvals` for real spectra. The helpers
here (`mT`, `refuse`, the triangle masks, the singular-value derivatives) are shared with
`numpy_matrix_functions`.

The tangent and adjoint templates call helpers written in plain NumPy below; the helpers have
no rules of their own, so a second derivative is adgen's transformation of their source (they
call only functions with rules, the decompositions among them). Every tangent helper is also
right for batched tangents (a leading axis of directions): it only multiplies the tangent by
matrices from either side, takes its diagonal or its triangles, so each tangent template is
registered as the batched one too (`@tangent` and `@batched` on one template). Stacks of
matrices (`(..., m, n)`) work throughout.

Conventions and limits (each is where the derivative exists; outside it adgen refuses with
`DifferentiationError` or the derivative is as NumPy's result: undefined):

- Symmetric input, one triangle read. `cholesky(a)` reads only the lower triangle of `a`
  (`upper=True`: the upper), `eigh`/`eigvalsh` the one named by `UPLO`. The derivative is that
  of the function NumPy computes: the other triangle has zero derivative, and a change of an
  entry of the read triangle counts for both of its symmetric positions. So finite
  differences of NumPy agree with adgen even for unsymmetric perturbations.
- `eigh`: eigenvectors have derivatives only where the eigenvalues are distinct (the
  derivative divides by their gaps: at a tie their tangents are `inf`/`nan`, with NumPy's
  warnings). A function of the eigenvalues alone gets its derivative at ties too in reverse
  mode (the eigenvector part is left out when its adjoint is zero) and in forward mode.
  Eigenvectors are differentiated with the sign LAPACK chose held fixed.
- `svd`: `U` and `Vh` have derivatives only where the singular values are distinct and
  nonzero; a function of the singular values alone (or `compute_uv=False`, `svdvals`) is
  differentiated at ties too, as for `eigh`.
  `full_matrices=True` for a non-square matrix: the extra columns of `U` (rows of `Vh`) are
  any orthonormal basis of a complement and have no derivative. Forward mode gives them `nan`
  tangents (the derivative is undefined), reverse mode refuses at run time when their adjoint
  is not zero; the other columns and the singular values are differentiated as usual.
  `hermitian=True` is refused at run time.
- `qr`: `mode='reduced'` and `'r'` for matrices with at least as many rows as columns and
  full column rank (`'complete'` for square ones, where it is the same). Other modes and wide
  matrices are refused at run time.
- `slogdet`: the sign has zero derivative; the log-determinant needs an invertible matrix.
- `eig`, `eigvals`: for real matrices with real, distinct eigenvalues (NumPy then returns real
  arrays): `dλ = diag(V⁻¹ dA V)`, `dV = V (F ∘ V⁻¹ dA V)` corrected to keep NumPy's unit-length
  columns, with the signs LAPACK chose held fixed. A matrix with complex eigenvalues is refused
  at run time (adgen differentiates real values only).
"""

import numpy as np

from adgen.errors import DifferentiationError
from adgen.rules.numpy_shape import fill_zeros
from adgen.rules.registry import adjoint, batched, nondifferentiable, tangent

# ---------------------------------------------------------------- triangles and helpers


def float_dtype(x):
    """The float dtype derivatives of `x` take: its own when it is a float array, else float64
    (so float32 arguments get float32 derivatives)."""
    dtype = np.result_type(x)
    return dtype if dtype.kind == "f" else np.dtype(float)


def tri_mask(x, k=0, lower=True):
    """A 0/1 mask of the lower (or upper) triangle of `x`'s matrices; `k = -1` leaves out the
    diagonal."""
    n = np.shape(x)[-1]
    if lower:
        return np.tri(n, n, k, dtype=float_dtype(x))
    return np.tri(n, n, k, dtype=float_dtype(x)).T


def eye_like(x):
    """The identity of the size of `x`'s last axis, in `x`'s float dtype."""
    return np.eye(np.shape(x)[-1], dtype=float_dtype(x))


def gaps(w):
    """`F[i, j] = 1 / (w[j] - w[i])` off the diagonal, 0 on it (stacks of vectors `w`)."""
    diff = w[..., None, :] - w[..., :, None]
    eye = eye_like(w)
    return (1.0 - eye) / (diff + eye)


def refuse(message):
    """Raise the `DifferentiationError` of a call whose derivative does not exist."""
    raise DifferentiationError(message)


nondifferentiable(float_dtype, tri_mask, eye_like, refuse)


def mT(x):
    """The matrices of `x` transposed."""
    return np.swapaxes(x, -1, -2)


def diagonal(x):
    """The diagonals of `x`'s matrices."""
    return np.diagonal(x, 0, -2, -1)


def as_diagonal(v):
    """Matrices with the vectors `v` on their diagonals."""
    return v[..., :, None] * eye_like(v)


def symmetric_from(x, lower=True):
    """The symmetric matrix made of `x`'s lower (upper) triangle: what NumPy reads."""
    half = x * tri_mask(x, -1, lower)
    return half + mT(half) + x * eye_like(x)


def fold_to_triangle(m, lower=True):
    """The adjoint of `symmetric_from`: `m` and its transpose summed onto one triangle."""
    return (m + mT(m)) * tri_mask(m, -1, lower) + m * eye_like(m)


def right_solve(x, r):
    """`x @ inv(r)` for square `r`."""
    return mT(np.linalg.solve(mT(r), mT(x)))


# ---------------------------------------------------------------- slogdet


def slogdet_tangent(a, a_dot):
    t = np.sum(mT(np.linalg.inv(a)) * a_dot, axis=(-2, -1))
    return 0.0 * t, t


def slogdet_adjoint(a, y, y_bar):
    g = fill_zeros(y_bar, y)[1]
    return g[..., None, None] * mT(np.linalg.inv(a))


@tangent(np.linalg.slogdet)
@batched(np.linalg.slogdet)
def slogdet_dot(y, a, *, a_dot):
    return slogdet_tangent(a, a_dot)


@adjoint(np.linalg.slogdet)
def slogdet_bar(y, a, *, y_bar):
    return slogdet_adjoint(a, y, y_bar)


# ---------------------------------------------------------------- cholesky


def cholesky_tangent(y, a_dot, upper=False):
    """`dL = L Φ(L⁻¹ dA L⁻ᵀ)`, Φ the lower triangle with half the diagonal (`U = Lᵀ`)."""
    low = mT(y) if upper else y
    da = symmetric_from(a_dot, not upper)
    x = right_solve(np.linalg.solve(low, da), mT(low))
    phi = x * tri_mask(x, -1) + 0.5 * x * eye_like(x)
    out = low @ phi
    return mT(out) if upper else out


def cholesky_adjoint(y, y_bar, upper=False):
    low = mT(y) if upper else y
    low_bar = mT(y_bar) if upper else y_bar
    p = mT(low) @ low_bar
    phi = p * tri_mask(p, -1) + 0.5 * p * eye_like(p)
    m = right_solve(np.linalg.solve(mT(low), phi), low)
    return fold_to_triangle(m, not upper)


@tangent(np.linalg.cholesky)
@batched(np.linalg.cholesky)
def cholesky_dot(y, a, upper=False, *, a_dot):
    return cholesky_tangent(y, a_dot, upper)


@adjoint(np.linalg.cholesky)
def cholesky_bar(y, a, upper=False, *, y_bar):
    return cholesky_adjoint(y, y_bar, upper)


# ---------------------------------------------------------------- eigh, eigvalsh


def eigh_tangent(w, v, a_dot, uplo="L"):
    p = mT(v) @ symmetric_from(a_dot, uplo == "L") @ v
    return diagonal(p), v @ (gaps(w) * p)


def eigh_adjoint(y, y_bar, uplo="L"):
    w, v = y
    w_bar, v_bar = fill_zeros(y_bar, y)
    inner = as_diagonal(w_bar)
    if np.any(v_bar != 0):  # eigenvalues alone need no gaps (they may be tied)
        inner = inner + gaps(w) * (mT(v) @ v_bar)
    return fold_to_triangle(v @ inner @ mT(v), uplo == "L")


def eigvalsh_tangent(a, a_dot, uplo="L"):
    v = np.linalg.eigh(a, uplo)[1]
    return diagonal(mT(v) @ symmetric_from(a_dot, uplo == "L") @ v)


def eigvalsh_adjoint(a, y_bar, uplo="L"):
    v = np.linalg.eigh(a, uplo)[1]
    return fold_to_triangle(v @ as_diagonal(y_bar) @ mT(v), uplo == "L")


@tangent(np.linalg.eigh)
@batched(np.linalg.eigh)
def eigh_dot(y, a, UPLO="L", *, a_dot):
    return eigh_tangent(y[0], y[1], a_dot, UPLO)


@adjoint(np.linalg.eigh)
def eigh_bar(y, a, UPLO="L", *, y_bar):
    return eigh_adjoint(y, y_bar, UPLO)


@tangent(np.linalg.eigvalsh)
@batched(np.linalg.eigvalsh)
def eigvalsh_dot(y, a, UPLO="L", *, a_dot):
    return eigvalsh_tangent(a, a_dot, UPLO)


@adjoint(np.linalg.eigvalsh)
def eigvalsh_bar(y, a, UPLO="L", *, y_bar):
    return eigvalsh_adjoint(a, y_bar, UPLO)


# ---------------------------------------------------------------- svd


def svd_parts(y, a, full_matrices, compute_uv, hermitian):
    """`(U, s, V)` of `a` with `U`, `V` reduced to the `min(m, n)` singular vectors."""
    if hermitian:
        refuse("adgen has no derivative of np.linalg.svd with hermitian=True; "
               "use the default hermitian=False")
    if not compute_uv:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return u, s, mT(vh)
    k = np.shape(y[1])[-1]
    return y[0][..., :k], y[1], mT(y[2][..., :k, :])


def svd_values_tangent(u, v, a_dot):
    return diagonal(mT(u) @ a_dot @ v)


def svd_vectors_tangent(u, s, v, a_dot):
    """The tangents of the reduced `U` and `V`."""
    p = mT(u) @ a_dot @ v
    f = gaps(s * s)
    sp = p * s[..., None, :]
    ps = s[..., :, None] * p
    du = u @ (f * (sp + mT(sp))) + (a_dot @ v - u @ p) / s[..., None, :]
    dv = v @ (f * (ps + mT(ps))) + (mT(a_dot) @ u - v @ mT(p)) / s[..., None, :]
    return du, dv


def with_undetermined(t, full):
    """Tangent `t` of the leading columns, widened with `nan` columns to `full`'s shape."""
    extra = np.shape(full)[-1] - np.shape(t)[-1]
    if extra == 0:
        return t
    pad = np.full(np.shape(t)[:-1] + (extra,), np.nan, dtype=float_dtype(t))
    return np.concatenate([t, pad], axis=-1)


def svd_tangent(y, a, a_dot, full_matrices=True, compute_uv=True, hermitian=False):
    u, s, v = svd_parts(y, a, full_matrices, compute_uv, hermitian)
    ds = svd_values_tangent(u, v, a_dot)
    if not compute_uv:
        return ds
    du, dv = svd_vectors_tangent(u, s, v, a_dot)
    return with_undetermined(du, y[0]), ds, mT(with_undetermined(dv, mT(y[2])))


def svd_values_adjoint(u, v, s_bar):
    return u @ as_diagonal(s_bar) @ mT(v)


def svd_vectors_adjoint(u, s, v, u_bar, v_bar):
    f = gaps(s * s)
    ju = f * (mT(u) @ u_bar - mT(u_bar) @ u)
    jv = f * (mT(v) @ v_bar - mT(v_bar) @ v)
    inner = ju * s[..., None, :] + s[..., :, None] * jv
    side_u = (u_bar - u @ (mT(u) @ u_bar)) / s[..., None, :]
    side_v = (v_bar - v @ (mT(v) @ v_bar)) / s[..., None, :]
    return u @ inner @ mT(v) + side_u @ mT(v) + u @ mT(side_v)


def leading(g, k, what):
    """The adjoint `g` of a full `U` (`Vᵀ`) cut to its first `k` columns; refused when the
    undetermined columns have a nonzero adjoint."""
    if np.any(g[..., k:] != 0):
        refuse(f"adgen cannot differentiate the last {np.shape(g)[-1] - k} columns of {what} "
               "from np.linalg.svd(a, full_matrices=True) of a non-square matrix: they are any "
               "basis of a complement; use full_matrices=False")
    return g[..., :k]


def svd_adjoint(y, a, y_bar, full_matrices=True, compute_uv=True, hermitian=False):
    u, s, v = svd_parts(y, a, full_matrices, compute_uv, hermitian)
    if not compute_uv:
        return svd_values_adjoint(u, v, y_bar)
    k = np.shape(s)[-1]
    u_bar, s_bar, vh_bar = fill_zeros(y_bar, y)
    u_bar = leading(u_bar, k, "U")
    v_bar = leading(mT(vh_bar), k, "V")
    out = svd_values_adjoint(u, v, s_bar)
    if np.any(u_bar != 0) or np.any(v_bar != 0):  # singular values alone may be tied or 0
        out = out + svd_vectors_adjoint(u, s, v, u_bar, v_bar)
    return out


def svdvals_tangent(a, a_dot):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return svd_values_tangent(u, mT(vh), a_dot)


def svdvals_adjoint(a, y_bar):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return svd_values_adjoint(u, mT(vh), y_bar)


@tangent(np.linalg.svd)
@batched(np.linalg.svd)
def svd_dot(y, a, full_matrices=True, compute_uv=True, hermitian=False, *, a_dot):
    return svd_tangent(y, a, a_dot, full_matrices, compute_uv, hermitian)


@adjoint(np.linalg.svd)
def svd_bar(y, a, full_matrices=True, compute_uv=True, hermitian=False, *, y_bar):
    return svd_adjoint(y, a, y_bar, full_matrices, compute_uv, hermitian)


if hasattr(np.linalg, "svdvals"):  # NumPy 2

    @tangent(np.linalg.svdvals)
    @batched(np.linalg.svdvals)
    def svdvals_dot(y, x, *, x_dot):
        return svdvals_tangent(x, x_dot)

    @adjoint(np.linalg.svdvals)
    def svdvals_bar(y, x, *, y_bar):
        return svdvals_adjoint(x, y_bar)

# ---------------------------------------------------------------- qr


def qr_factors(y, a, mode):
    """`(Q, R)` of the reduced factorisation `a = QR`, refusing what has no derivative."""
    m, n = np.shape(a)[-2:]
    if mode not in ("reduced", "complete", "r") or m < n or (mode == "complete" and m != n):
        refuse(f"adgen differentiates np.linalg.qr only with mode='reduced' or 'r' for a matrix "
               f"with at least as many rows as columns (mode='complete' for a square one), not "
               f"mode={mode!r} for a {m}x{n} matrix")
    if mode == "r":
        return np.linalg.qr(a)
    return y[0], y[1]


def qr_tangent(y, a, a_dot, mode="reduced"):
    q, r = qr_factors(y, a, mode)
    x = mT(q) @ right_solve(a_dot, r)
    low = x * tri_mask(x, -1)
    omega = low - mT(low)
    dr = mT(q) @ a_dot - omega @ r
    if mode == "r":
        return dr
    return q @ omega + right_solve(a_dot, r) - q @ x, dr


def qr_adjoint(y, a, y_bar, mode="reduced"):
    q, r = qr_factors(y, a, mode)
    if mode == "r":
        q_bar, r_bar = 0.0 * q, y_bar
    else:
        q_bar, r_bar = fill_zeros(y_bar, y)
    m = mT(q) @ q_bar - r_bar @ mT(r)
    z = (m - mT(m)) * tri_mask(m, -1)
    side = q_bar - q @ (mT(q) @ q_bar) + q @ z
    return q @ r_bar + mT(np.linalg.solve(r, mT(side)))


@tangent(np.linalg.qr)
@batched(np.linalg.qr)
def qr_dot(y, a, mode="reduced", *, a_dot):
    return qr_tangent(y, a, a_dot, mode)


@adjoint(np.linalg.qr)
def qr_bar(y, a, mode="reduced", *, y_bar):
    return qr_adjoint(y, a, y_bar, mode)


# ---------------------------------------------------------------- eig, eigvals (real spectra)


def real_spectrum(w, what):
    """Refuse a complex spectrum: its derivative would be complex."""
    if np.iscomplexobj(w):
        refuse(f"adgen differentiates np.linalg.{what} only for real eigenvalues (NumPy gives "
               "real arrays then); this matrix has complex ones, and adgen differentiates real "
               "values only")


nondifferentiable(real_spectrum)


def eig_projection(w, v, a_dot, what="eig"):
    """`V⁻¹ dA V`, whose diagonal is the eigenvalues' tangent."""
    real_spectrum(w, what)
    return np.linalg.solve(v, a_dot @ v)


def eig_tangent(y, a_dot):
    w, v = y[0], y[1]
    p = eig_projection(w, v, a_dot)
    dv = v @ (gaps(w) * p)
    unit = np.sum(v * dv, axis=-2, keepdims=True)  # NumPy's eigenvectors have unit length
    return diagonal(p), dv - v * unit


def eig_adjoint(y, y_bar):
    w, v = y[0], y[1]
    real_spectrum(w, "eig")
    w_bar, v_bar = fill_zeros(y_bar, y)
    inner = as_diagonal(w_bar)
    if np.any(v_bar != 0):
        v_bar = v_bar - v * np.sum(v * v_bar, axis=-2, keepdims=True)
        inner = inner + gaps(w) * (mT(v) @ v_bar)
    return np.linalg.solve(mT(v), inner @ mT(v))


def eigvals_tangent(a, a_dot):
    w, v = np.linalg.eig(a)
    return diagonal(eig_projection(w, v, a_dot, "eigvals"))


def eigvals_adjoint(a, y_bar):
    w, v = np.linalg.eig(a)
    real_spectrum(w, "eigvals")
    return np.linalg.solve(mT(v), as_diagonal(y_bar) @ mT(v))


@tangent(np.linalg.eig)
@batched(np.linalg.eig)
def eig_dot(y, a, *, a_dot):
    return eig_tangent(y, a_dot)


@adjoint(np.linalg.eig)
def eig_bar(y, a, *, y_bar):
    return eig_adjoint(y, y_bar)


@tangent(np.linalg.eigvals)
@batched(np.linalg.eigvals)
def eigvals_dot(y, a, *, a_dot):
    return eigvals_tangent(a, a_dot)


@adjoint(np.linalg.eigvals)
def eigvals_bar(y, a, *, y_bar):
    return eigvals_adjoint(a, y_bar)
