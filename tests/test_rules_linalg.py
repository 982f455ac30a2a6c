"""Catalog of the linear-algebra rules of issue 17: decompositions, matrix functions, `kron`,
`cross` and matrix norms.

One record per rule and spelling: `(function, arguments, batched)`. Each is checked by
`rule_cases.check_case`: finite differences in both modes, second order, forward-mode Jacobian
against reverse mode, and the batched pass (or its clean refusal). Matrices are well
conditioned, with distinct eigenvalues and singular values, away from the places the
derivatives do not exist (see `adgen.rules.numpy_decompositions`); the unsymmetric matrix
has real eigenvalues.
"""

import numpy as np
import pytest

import adgen
from tests.rule_cases import check_case, check_float32


def _a(*shape, seed=0):
    return np.random.default_rng(seed + 11 * sum(shape)).uniform(-1.0, 1.0, shape)


def _spd(n, seed=0):
    m = _a(n, n, seed=seed)
    return m @ m.T + n * np.eye(n)


SQUARE = _a(3, 3) + 2.0 * np.eye(3)
TALL = _a(4, 3)
WIDE = _a(2, 4)
SPD = _spd(3)
STACK = np.stack([_spd(3, seed=1), _spd(3, seed=2)])
UNSYMMETRIC = 0.5 * _a(3, 3, seed=3) + np.diag([1.0, 3.0, 6.0])  # real, distinct eigenvalues


# ---------------------------------------------------------------- determinants, factorisations


def slogdet_stack(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign * logdet


def cholesky_lower(a):
    return np.linalg.cholesky(a)


def cholesky_upper(a):
    return np.linalg.cholesky(a, upper=True)


def eigh_both(a):
    w, v = np.linalg.eigh(a)
    return w[:, None] * v ** 3


def eigh_upper(a):
    w, v = np.linalg.eigh(a, UPLO="U")
    return v[0] * w


def eigvalsh_stack(a):
    return np.linalg.eigvalsh(a)


# NumPy 2.5 gives complex arrays from eig even for a real spectrum: adgen then refuses them
# (it differentiates real values only); before, real spectra came back as real arrays
EIG_COMPLEX = pytest.mark.skipif(np.iscomplexobj(np.linalg.eig(np.diag([1.0, 2.0]))[0]),
                                 reason="this NumPy's eig returns complex arrays")


def eig_both(a):
    w, v = np.linalg.eig(a)
    return v ** 3 * w[..., None, :]


def eig_values_only(a):
    w, v = np.linalg.eig(a)
    return w * w


def eigvals_function(a):
    return np.linalg.eigvals(a)


def svd_square_full(a):
    u, s, vh = np.linalg.svd(a)
    return u ** 3 * s + vh ** 3


def svd_reduced(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.concatenate([np.ravel(u ** 3 * s), np.ravel(vh ** 3)])


def svd_values_only(a):
    return np.linalg.svd(a, compute_uv=False)


def svd_full_leading_columns(a):
    u, s, vh = np.linalg.svd(a)
    return u[:, :3] ** 3 * s


def svdvals_function(a):
    return np.linalg.svdvals(a)


def qr_reduced(a):
    q, r = np.linalg.qr(a)
    return np.concatenate([np.ravel(q ** 3), np.ravel(r)])


def qr_r_only(a):
    return np.linalg.qr(a, mode="r")


def qr_complete_square(a):
    q, r = np.linalg.qr(a, mode="complete")
    return q ** 3 + r


# ---------------------------------------------------------------- pinv, lstsq, powers


def pinv_any(a):
    return np.linalg.pinv(a)


def lstsq_vector(a, b):
    x, residuals, rank, sv = np.linalg.lstsq(a, b)
    return np.concatenate([x, residuals, sv])


def lstsq_matrix(a, b):
    x, residuals, rank, sv = np.linalg.lstsq(a, b)
    return x * residuals


def lstsq_wide(a, b):
    x, residuals, rank, sv = np.linalg.lstsq(a, b)
    return x


def matrix_powers(a):
    return (np.linalg.matrix_power(a, 3) + np.linalg.matrix_power(a, -2)
            + np.linalg.matrix_power(a, 0) + np.linalg.matrix_power(a, 1))


# ---------------------------------------------------------------- kron, cross


def kron_matrices(a, b):
    return np.kron(a, b)


def kron_vector_matrix(v, a):
    return np.kron(v, a)


def cross_broadcast(a, b):
    return np.cross(a, b)


def cross_axes(a, b):
    return np.cross(a, b, axisa=0, axisb=1, axisc=0)


def cross_positive_axes(a, b):
    return np.cross(a, b, axisa=1, axisb=0, axisc=1)


def cross_axis(a, b):
    return np.cross(a, b, axis=0)


# ---------------------------------------------------------------- stacks of matrices


def svd_stack(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return u ** 3 * s[:, None, :]


def svd_stack_full_vh(a):
    u, s, vh = np.linalg.svd(a)
    return vh ** 3


def qr_stack(a):
    q, r = np.linalg.qr(a)
    return q ** 3 + r[:, :1, :]


def eigh_stack(a):
    w, v = np.linalg.eigh(a)
    return v ** 3 * w[:, None, :]


def matrix_power_stack(a):
    return np.linalg.matrix_power(a, -3)


def norms_of_a_stack(a):
    return np.linalg.norm(a, 2, axis=(1, 2)) + np.linalg.norm(a, "nuc", axis=(-2, -1))


TALL_STACK = _a(2, 4, 3)
SQUARE_STACK = _a(2, 3, 3) + 2.0 * np.eye(3)


# ---------------------------------------------------------------- norms


def matrix_norms(a):
    return np.stack([np.linalg.norm(a, order) for order in MATRIX_ORDERS])


MATRIX_ORDERS = (1, -1, np.inf, -np.inf, 2, -2, "nuc", "fro", None)


def matrix_norms_of_a_stack(a):
    return (np.linalg.norm(a, 2, axis=(2, 0)) + np.linalg.norm(a, "nuc", axis=(0, 2))
            + np.linalg.norm(a, 1, axis=(-1, 0), keepdims=True)[0, :, 0]
            + np.linalg.norm(a, -np.inf, axis=(0, 2)))


def vector_norms(v):
    return np.stack([np.linalg.norm(v, order) for order in (1, 2, 3, 0.5, -1, np.inf, -np.inf)])


def vector_norms_along_an_axis(a):
    return np.linalg.norm(a, np.inf, axis=0) * np.linalg.norm(a, 1, axis=0, keepdims=True)


def array_api_norms(a):
    return np.concatenate([
        np.stack([np.linalg.matrix_norm(a, ord=order) for order in MATRIX_ORDERS[:-1]]),
        np.linalg.matrix_norm(a[None], keepdims=True)[0, 0],
        np.stack([np.linalg.vector_norm(a, ord=order) for order in (1, 2, 3, np.inf)]),
        np.linalg.vector_norm(a, axis=1, ord=-np.inf) + np.linalg.vector_norm(a, axis=1)])


CASES = [
    (slogdet_stack, (STACK,), True),
    (slogdet_stack, (SQUARE,), True),
    (cholesky_lower, (SPD,), True),
    (cholesky_lower, (STACK,), True),
    (cholesky_upper, (SPD,), True),
    (eigh_both, (SPD,), True),
    (eigh_upper, (SPD,), True),
    (eigvalsh_stack, (STACK,), True),
    pytest.param(eig_both, (UNSYMMETRIC,), True, marks=EIG_COMPLEX),
    pytest.param(eig_both, (np.stack([UNSYMMETRIC, UNSYMMETRIC.T + 0.1]),), True,
                 marks=EIG_COMPLEX),
    pytest.param(eig_values_only, (UNSYMMETRIC,), True, marks=EIG_COMPLEX),
    pytest.param(eigvals_function, (UNSYMMETRIC,), True, marks=EIG_COMPLEX),
    (svd_square_full, (SQUARE,), True),
    (svd_reduced, (TALL,), True),
    (svd_reduced, (WIDE,), True),
    (svd_values_only, (TALL,), True),
    (svd_full_leading_columns, (TALL,), True),
    (svdvals_function, (WIDE,), True),
    (qr_reduced, (TALL,), True),
    (qr_reduced, (SQUARE,), True),
    (qr_r_only, (TALL,), True),
    (qr_complete_square, (SQUARE,), True),
    (pinv_any, (TALL,), True),
    (pinv_any, (WIDE,), True),
    (lstsq_vector, (TALL, _a(4)), True),
    (lstsq_matrix, (TALL, _a(4, 2)), True),
    (lstsq_wide, (WIDE, _a(2)), True),
    (matrix_powers, (SQUARE,), True),
    (kron_matrices, (_a(2, 3), _a(3, 2, seed=1)), True),
    (kron_vector_matrix, (_a(3), _a(2, 2)), True),
    (cross_broadcast, (_a(4, 3), _a(3, seed=1)), True),
    (cross_broadcast, (_a(3), _a(2, 4, 3, seed=1)), True),
    (cross_axes, (_a(3, 4), _a(4, 3, seed=1)), True),
    (cross_axis, (_a(3, 2), _a(3, 2, seed=1)), True),
    (cross_positive_axes, (_a(2, 3, 4), _a(3, 2, 4, seed=1)), True),
    (matrix_norms, (TALL,), True),
    (matrix_norms, (WIDE,), True),
    (matrix_norms_of_a_stack, (_a(3, 2, 4),), True),
    (vector_norms, (_a(5),), True),
    (vector_norms_along_an_axis, (_a(4, 3),), True),
    (array_api_norms, (TALL,), True),
    (svd_stack, (TALL_STACK,), True),
    (svd_stack_full_vh, (TALL_STACK,), True),
    (qr_stack, (TALL_STACK,), True),
    (pinv_any, (TALL_STACK,), True),
    (eigh_stack, (STACK,), True),
    (cholesky_upper, (STACK,), True),
    (matrix_power_stack, (SQUARE_STACK,), True),
    (norms_of_a_stack, (TALL_STACK,), True),
]


def _id(case):
    f, args, _ = getattr(case, "values", case)  # a pytest.param or a plain record
    return f"{f.__name__}-" + "-".join("x".join(map(str, np.shape(a))) for a in args)


@pytest.mark.parametrize(("f", "args", "batched"), CASES, ids=[_id(c) for c in CASES])
def test_linalg_case(f, args, batched):
    check_case(f, args, batched)


@pytest.mark.parametrize(("f", "args", "batched"), CASES, ids=[_id(c) for c in CASES])
def test_linalg_case_keeps_float32(f, args, batched):
    check_float32(f, args)


# ---------------------------------------------------------------- one triangle read


@pytest.mark.parametrize(("f", "lower"), [(cholesky_lower, True), (cholesky_upper, False),
                                          (eigh_both, True), (eigh_upper, False)])
def test_symmetric_inputs_differentiate_only_the_triangle_numpy_reads(f, lower):
    g = adgen.grad(lambda_free_total(f))(SPD)
    below, above = g[np.tril_indices(3, -1)], g[np.triu_indices(3, 1)]
    read, unread = (below, above) if lower else (above, below)
    assert np.all(unread == 0)
    assert np.all(read != 0)


def lambda_free_total(f):
    def total(a):
        return np.sum(np.sin(f(a)))
    return total


# ---------------------------------------------------------------- tied values


def eigenvalue_sum_of_squares(a):
    w, v = np.linalg.eigh(a)
    return np.sum(w * w)


def singular_value_sum(a):
    u, s, vh = np.linalg.svd(a)
    return np.sum(s)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the unused eigenvector tangents
def test_eigenvalues_alone_are_differentiable_where_they_are_tied():
    a = np.diag([2.0, 2.0, 5.0])
    for mode in ("forward", "reverse"):
        g = adgen.grad(eigenvalue_sum_of_squares, mode=mode)(a)
        np.testing.assert_allclose(g, 2.0 * a, atol=1e-12)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the unused singular vector tangents
def test_singular_values_alone_are_differentiable_where_they_are_tied():
    q = np.linalg.qr(_a(3, 3))[0]  # orthogonal: every singular value is 1
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(adgen.grad(singular_value_sum, mode=mode)(q), q, atol=1e-12)


# ---------------------------------------------------------------- refusals


def eigenvalue_sum(a):
    w, v = np.linalg.eig(a)
    return np.sum(w)


def eigvals_sum(a):
    return np.sum(np.linalg.eigvals(a))


@pytest.mark.parametrize("f", [eigenvalue_sum, eigvals_sum])
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_eig_of_a_complex_spectrum_is_refused(f, mode):
    with pytest.raises(adgen.DifferentiationError, match="complex"):
        adgen.grad(f, mode=mode)(np.array([[0.0, 1.0], [-1.0, 0.0]]))


def svd_extra_columns(a):
    u, s, vh = np.linalg.svd(a)
    return np.sum(u[:, 3:] ** 2 * u[:, 3:])


def svd_extra_rows(a):
    u, s, vh = np.linalg.svd(a)
    return np.sum(vh[2:] ** 3)


def svd_hermitian(a):
    return np.sum(np.linalg.svd(a, compute_uv=False, hermitian=True))


def qr_wide(a):
    q, r = np.linalg.qr(a)
    return np.sum(r)


def qr_raw(a):
    h, tau = np.linalg.qr(a, mode="raw")
    return np.sum(tau)


def pinv_hermitian(a):
    return np.sum(np.linalg.pinv(a, hermitian=True))


@pytest.mark.parametrize(("f", "a", "words"), [
    (svd_extra_columns, TALL, "full_matrices=False"),
    (svd_extra_rows, WIDE, "full_matrices=False"),
    (svd_hermitian, SPD, "hermitian=True"),
    (qr_wide, WIDE, "2x4"),
    (qr_raw, TALL, "mode='raw'"),
    (pinv_hermitian, SPD, "hermitian=True"),
])
def test_what_has_no_derivative_is_refused(f, a, words):
    with pytest.raises(adgen.DifferentiationError, match=words):
        adgen.grad(f)(a)


@pytest.mark.parametrize(("f", "a"), [(svd_extra_columns, TALL), (svd_extra_rows, WIDE)])
def test_undetermined_svd_vectors_get_nan_tangents_in_forward_mode(f, a):
    value, tangent = adgen.jvp(f)(a, np.ones_like(a))
    assert np.isfinite(value) and np.isnan(tangent)
