"""Batched forward mode: many tangent directions through one pass (`adgen.jvp(batched=True)`,
and `adgen.jacobian` in forward mode).

Every batched Jacobian is compared with the reverse-mode one (one backward pass per output)
and the batched path is asserted to have been taken, so a silent fallback to one pass per
direction would fail here. The catalogs of the other suites are swept as well.
"""

import numpy as np
import pytest

import adgen
from adgen.jacobian_blocks import batched_tangent
from tests import catalog_control
from tests.test_numpy_catalog import CASES as NUMPY_CASES

RNG = np.random.default_rng(12)
A = RNG.normal(size=(4, 3))
B = RNG.normal(size=(3, 4))
S = RNG.normal(size=(2, 4, 3))


def _a(*shape):
    return RNG.normal(size=shape)


# ---------------------------------------------------------------- array-valued functions


def matmul_matrix_vector(x):
    return np.tanh(A @ x)


def matmul_vector_matrix(x):
    return x @ B + 1.0


def matmul_stack_vector(x):
    return S @ x


def matmul_vector_stack(x):
    return x[:4] @ S


def matmul_matrix_matrix(m):
    return B @ m @ B


def matmul_stack_matrix(m):
    return np.matmul(S, m)


def dot_inner_tensordot(x):
    return (np.dot(A, x) + np.inner(A, x) + np.tensordot(A, x, axes=1)
            + np.dot(x, B)[:4] + np.dot(2.0, x)[0])


def tensordot_both_active(m):
    return np.tensordot(m, m, axes=([0], [0]))


def einsum_forms(m):
    return np.einsum("ij,jk->ik", m, B) + np.einsum("ii->i", m @ m)[:, None] + np.einsum(
        "...j,j", m, m[0])[:, None]


def reductions(m):
    return np.concatenate([np.sum(m, axis=0), np.mean(m, axis=-1), np.max(m, axis=1),
                           np.std(m, axis=0), [np.var(m), np.linalg.norm(m)],
                           np.cumsum(m)[:3], np.cumsum(m, axis=1)[0]])


def shapes(m):
    r = np.reshape(m, (3, 4))
    f = np.reshape(m, (2, 6), order="F")
    return np.hstack([r.T.ravel(), np.transpose(f).flatten(), np.swapaxes(m[None], 0, 2).ravel(),
                      np.moveaxis(m[:, :, None], 2, 0).ravel(), np.squeeze(m[:1, :1]),
                      np.expand_dims(m, 0)[0, 1, 0], np.broadcast_to(m[0, 0], (2, 2)).ravel()])


def building_arrays(x, s):
    rows = np.array([[x[0], s], [s * x[1], 2.0]])
    stacked = np.stack([x, x * s], axis=1)
    joined = np.concatenate([x, [s, 1.0]])
    v = np.vstack([x, x ** 2])
    return np.hstack([rows.ravel(), stacked.ravel(), joined, v.ravel(), np.asarray([s, x[2]]),
                      np.full(2, s)])


def index_reads_and_writes(x):
    y = np.zeros((2, 3))
    y[0] = x * 2.0
    y[1, 1:] = x[:2] ** 2
    y[:, 0] += x[2]
    mask = x > 0.0
    return np.concatenate([y.ravel(), x[mask], x[[2, 0]], x[..., ::-1], x[None, 1:].ravel()])


def loops_and_branches(x, s):
    out = x * 1.0
    total = 0.0
    for i in range(3):
        if x[i] > 0.0:
            total = total + x[i] * s
        else:
            total = total - x[i] ** 2
        out[i] = total
    k = 0
    while total < 10.0 and k < 5:
        total = total * 2.0 + 1.0
        k += 1
    return out * total + max(total, s)


def helper(v, w):
    return np.sin(v) * w + np.sum(v ** 2)


def calls_a_function(x, s):
    return helper(x, s) + helper(x[::-1], 2.0) + linalg(x)


def linalg(x):
    m = np.outer(x, x) + 3.0 * np.eye(3)
    return np.linalg.solve(m, x) + np.linalg.inv(m)[0] + np.linalg.det(m) + np.trace(m)


def list_operands(x, s):
    values = [x[0], s, x[1] * s]
    total = sum(values)
    return np.exp([x[0], s]) * total + np.mean([x, x * s], axis=0)[:2]


def scalar_in_scalar_out(s, t):
    return s * t + s ** 3


FUNCTIONS = [
    (matmul_matrix_vector, (_a(3),)),
    (matmul_vector_matrix, (_a(3),)),
    (matmul_stack_vector, (_a(3),)),
    (matmul_vector_stack, (_a(5),)),
    (matmul_matrix_matrix, (_a(4, 3),)),
    (matmul_stack_matrix, (_a(3, 2),)),
    (dot_inner_tensordot, (_a(3),)),
    (tensordot_both_active, (_a(3, 2),)),
    (einsum_forms, (_a(3, 3),)),
    (reductions, (_a(3, 4),)),
    (shapes, (_a(2, 3, 2),)),
    (building_arrays, (np.array([0.3, -0.6, 1.2]), 0.8)),
    (index_reads_and_writes, (np.array([0.3, -0.6, 1.2]),)),
    (loops_and_branches, (np.array([0.3, -0.6, 1.2]), 0.8)),
    (calls_a_function, (np.array([0.3, -0.6, 1.2]), 0.8)),
    (linalg, (np.array([0.3, -0.6, 1.2]),)),
    (list_operands, (np.array([0.3, -0.6, 1.2]), 0.8)),
    (scalar_in_scalar_out, (0.7, -1.1)),
]


def _wrt(args):
    return tuple(range(len(args))) if len(args) > 1 else 0


@pytest.mark.parametrize(("f", "args"), FUNCTIONS, ids=[f.__name__ for f, _ in FUNCTIONS])
def test_batched_jacobian_matches_reverse(f, args):
    wrt = _wrt(args)
    assert batched_tangent(f, wrt, list(args)) is not None, "the batched pass was not used"
    forward = adgen.jacobian(f, wrt, mode="forward")(*args)
    reverse = adgen.jacobian(f, wrt, mode="reverse")(*args)
    for got, want in zip(forward if len(args) > 1 else [forward],
                         reverse if len(args) > 1 else [reverse], strict=True):
        assert np.shape(got) == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize(("f", "args"), FUNCTIONS, ids=[f.__name__ for f, _ in FUNCTIONS])
def test_arguments_are_left_as_they_were(f, args):
    before = [np.copy(a) for a in args]
    adgen.jacobian(f, _wrt(args), mode="forward")(*args)
    for a, b in zip(args, before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_batched_jvp_is_public_and_shows_its_source():
    fn = adgen.jvp(matmul_matrix_vector, batched=True)
    directions = _a(5, 3)
    value, tangents = fn(np.ones(3), directions)
    assert tangents.shape == (5, 4)
    for d, t in zip(directions, tangents, strict=True):
        np.testing.assert_allclose(t, adgen.jvp(matmul_matrix_vector)(np.ones(3), d)[1])
    source = adgen.source(fn)
    assert "def matmul_matrix_vector_batched_jvp(x, x_dot):" in source
    assert "matmul_right(A, x_dot)" in source


def sorted_twice(x):
    return np.sort(x) * 2.0


def test_a_rule_without_batched_form_falls_back_to_one_pass_per_direction():
    x = np.array([0.3, -0.6, 1.2])
    assert batched_tangent(sorted_twice, 0, [x]) is None
    np.testing.assert_allclose(adgen.jacobian(sorted_twice, mode="forward")(x),
                               adgen.jacobian(sorted_twice, mode="reverse")(x))
    with pytest.raises(adgen.DifferentiationError, match="numpy.sort has no batched tangent"):
        adgen.jvp(sorted_twice, batched=True)


def test_the_identity_seed_never_aliases_the_users_matrix():
    x = np.array([0.3, -0.6, 1.2])
    jac = adgen.jacobian(matmul_stack_vector, mode="forward")(x)
    jac[...] = 7.0
    assert not np.any(S == 7.0)
    copy_of_a = A.copy()
    adgen.jacobian(lambda_free_linear, mode="forward")(x)[0, 0] = 99.0
    np.testing.assert_array_equal(A, copy_of_a)


def lambda_free_linear(x):
    return A @ x


def test_forward_grad_is_one_batched_pass_with_float32_kept():
    x = np.array([0.3, -0.6, 1.2], dtype=np.float32)
    g = adgen.grad(lambda_free_sum, mode="forward")(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, adgen.grad(lambda_free_sum)(x), rtol=1e-6)


def lambda_free_sum(x):
    return np.sum(np.sin(x) * x)


# ---------------------------------------------------------------- the other suites' catalogs


def _sweep():
    cases = list(NUMPY_CASES) + [(f, args) for f, args in catalog_control.CASES]
    out = []
    for f, args in cases:
        for i, a in enumerate(args):
            if isinstance(a, (np.ndarray, float)) and np.issubdtype(np.result_type(a),
                                                                   np.floating):
                out.append(pytest.param(f, args, i, id=f"{f.__name__}-{i}"))
    return out


SWEEP = _sweep()


@pytest.mark.parametrize(("f", "args", "i"), SWEEP)
def test_catalog_forward_gradient(f, args, i):
    """One batched pass, or one pass per direction where a rule has no batched form."""
    got = adgen.grad(f, i, mode="forward")(*args)
    want = adgen.grad(f, i)(*args)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_most_of_the_catalogs_batch():
    batched = [p for p in SWEEP if batched_tangent(p.values[0], p.values[2],
                                                       [p.values[1][p.values[2]]])]
    assert len(SWEEP) >= 150
    assert len(batched) >= 0.95 * len(SWEEP)


def test_golden_batched_source():
    from tests import goldens

    goldens.check("batched_loop.py.txt", adgen.source(adgen.jvp(loops_and_branches, (0, 1),
                                                                 batched=True)))
