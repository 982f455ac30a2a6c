"""End-to-end checks of the NumPy rules: small functions run through `check_grads`.

Each catalog function uses one family of rules the way users write it (function and method
spellings, broadcasting, `axis=`/`keepdims=`, lists of arrays, float32 arguments) and ends in
a scalar, so `check_grads` checks forward mode, reverse mode, the dot-product test and the
agreement of the two gradients. Arguments sit inside each function's domain and away from
kinks and ties. All but `NO_SECOND_ORDER` are also checked with `order=2`.

`REGRESSIONS` are spellings that once exposed engine bugs; they stay as ordinary cases.
"""

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads


def _a(*shape, seed=0, low=-1.0, high=1.0, dtype=np.float64):
    rng = np.random.default_rng(seed + 7 * len(shape) + sum(shape))
    return rng.uniform(low, high, shape).astype(dtype)


def _pos(*shape, seed=0, dtype=np.float64):
    return _a(*shape, seed=seed, low=0.5, high=2.0, dtype=dtype)


def _spd(n, seed=0):
    m = _a(n, n, seed=seed)
    return m @ m.T + n * np.eye(n)


# ---------------------------------------------------------------- elementwise


def exp_log_mix(x, y):
    return np.sum(np.exp(x) * np.log(y) + np.log1p(y) - np.log2(y) * np.log10(y))


def expm1_exp2_cbrt(x):
    return np.sum(np.expm1(x) + np.exp2(x) + np.cbrt(x + 3.0))


def powers_and_roots(x):
    return np.sum(np.sqrt(x) + np.square(x) + np.reciprocal(x) + np.power(x, 2.5))


def power_both_broadcast(x, y):
    return np.sum(np.power(x, y))


def trig(x):
    return np.sum(np.sin(x) * np.cos(x) + np.tan(x))


def inverse_trig(x):
    return np.sum(np.arcsin(x) + np.arccos(x) * np.arctan(x))


def arctan2_hypot(x, y):
    return np.sum(np.arctan2(x, y) + np.hypot(x, y))


def hyperbolic(x):
    return np.sum(np.sinh(x) + np.cosh(x) * np.tanh(x) + np.arcsinh(x) + np.arctanh(x / 2.0))


def arccosh_shifted(x):
    return np.sum(np.arccosh(x + 2.0))


def ufunc_arithmetic_broadcast(x, y):
    z = np.add(x, y) * np.subtract(x, y) + np.divide(np.multiply(x, y), np.positive(y) + 3.0)
    return np.sum(np.negative(z) + np.true_divide(z, 2.0))


def abs_fabs(x):
    return np.sum(np.abs(x) * x + np.fabs(x) + np.absolute(x))


def maximum_minimum_broadcast(x, y):
    return np.sum(np.maximum(x, y) * np.minimum(x, 0.1) + np.fmax(x, y) - np.fmin(y, x))


def logaddexp_pair(x, y):
    return np.sum(np.logaddexp(x, y) + np.logaddexp2(x, 0.5))


def where_select(x, y):
    return np.sum(np.where(x > 0, x * y, y ** 2))


def where_constant_branch(x):
    return np.sum(np.where(x > 0, np.sin(x), 0.0))


def clip_scalar_bounds(x):
    return np.sum(np.clip(x, -0.5, 0.5) ** 2)


def clip_active_bounds(x, lo, hi):
    return np.sum(np.clip(x, lo, hi) * x)


def clip_method(x):
    return np.sum(x.clip(-0.3, 0.3) * x)


def float32_elementwise(x, y):
    return np.sum(np.tanh(x) * np.exp(y) + np.maximum(x, y) / (1.0 + y * y))


# ---------------------------------------------------------------- reductions


def sum_axis(x):
    return np.sum(np.sum(x * x, axis=1) ** 2)


def sum_keepdims(x):
    return np.sum(x / np.sum(x, axis=-1, keepdims=True))


def sum_tuple_axis(x):
    s = np.sum(np.sin(x), axis=(0, 2))
    return np.sum(s * s)


def mean_axis(x):
    m = x.mean(axis=0)
    return np.sum(m ** 3) + np.mean(x ** 2)


def prod_axis(x):
    p = np.prod(x, axis=1)
    return np.sum(p) + x.prod()


def max_min_reduce(x):
    return np.sum(np.max(x, axis=0)) - np.sum(np.min(x, axis=1, keepdims=True) * 2.0)


def amax_amin_method(x):
    hi = x.max(axis=1)
    lo = np.amin(x)
    return np.sum(hi * hi) + np.amax(x) * lo


def var_std(x):
    return np.sum(np.var(x, axis=0)) + np.std(x) + np.sum(x.std(axis=1, ddof=1))


def var_keepdims_ddof(x):
    v = x.var(axis=(0, 1), ddof=1, keepdims=True)
    return np.sum(v * x)


def standardize(x):
    z = (x - np.mean(x, axis=0, keepdims=True)) / np.std(x, axis=0, keepdims=True)
    return np.sum(z ** 3)


def cumsum_axis(x):
    return np.sum(np.cumsum(x, axis=1) ** 2) + np.sum(x.cumsum() * 0.5)


def logsumexp(x):
    return np.sum(np.logaddexp.reduce(x, axis=1))


def softmax_cross_entropy(logits, target):
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    logp = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(target * logp, axis=1))


def float32_reductions(x):
    return np.sum(np.mean(x, axis=0) ** 2) + np.std(x) + np.max(x)


# ---------------------------------------------------------------- products and linear algebra


def matmul_2d(w, x):
    return np.sum(np.tanh(w @ x))


def matmul_vector_cases(a, v):
    return np.sum((a @ v) ** 2) + np.sum((v @ a.T) ** 2) + v @ v


def matmul_batch_broadcast(a, b):
    return np.sum(np.matmul(a, b) ** 2)


def dot_inner_outer(a, v):
    return np.sum(np.dot(a, v) ** 2) + np.inner(v, v) + np.sum(np.outer(v, v) * a)


def dot_method_and_nd(a, b):
    return np.sum(a.dot(b) ** 2)


def tensordot_axes(a, b):
    return np.sum(np.tensordot(a, b, axes=([0, 2], [1, 0])) ** 2)


def einsum_bilinear(x, w, v):
    return np.einsum("i,ij,j->", x, w, v)


def einsum_batch_trace(a, b):
    c = np.einsum("bij,bjk->bik", a, b)
    return np.sum(np.einsum("bii->b", c) ** 2)


def einsum_ellipsis(a, b):
    return np.sum(np.einsum("...ij,jk->...ik", a, b) ** 2)


def trace_offset(a):
    return np.trace(a) ** 2 + np.trace(a, 1)


def norm_variants(x):
    return np.linalg.norm(x) + np.sum(np.linalg.norm(x, axis=1)) + np.linalg.norm(x, "fro")


def norm_vector_ords(v):
    return np.linalg.norm(v, 1) + np.linalg.norm(v, np.inf) + np.linalg.norm(v, 3)


def det_logdet(a):
    return np.log(np.linalg.det(a))


def det_batch(a):
    return np.sum(np.linalg.det(a) ** 2)


def inv_quadratic(a, v):
    return v @ np.linalg.inv(a) @ v


def solve_vector(a, b):
    return np.sum(np.linalg.solve(a, b) ** 2)


def solve_matrix_batch(a, b):
    return np.sum(np.sin(np.linalg.solve(a, b)))


def float32_matmul(w, x):
    return np.sum((w @ x) ** 2) + np.linalg.norm(x)


# ---------------------------------------------------------------- shapes


def reshape_function(x):
    return np.sum(np.reshape(x, (3, 4)) @ np.reshape(x, (4, 3)))


def reshape_method(x):
    y = x.reshape(-1)
    z = x.reshape((4, 3))
    return np.sum(y * np.sin(y)) + np.sum(z.transpose() ** 2) + np.sum(z.transpose((1, 0))[0])


def reshape_fortran_ravel(x):
    return np.sum(np.reshape(x, (4, 3), order="F")[0] * np.ravel(x, order="F")[3])


def transpose_variants(x):
    y = np.transpose(x, (2, 0, 1)) * 2.0
    z = np.transpose(x, (-1, 0, 1))
    return np.sum(y ** 2 * z) + np.sum(np.transpose(x)[0] * x.T[0])


def swap_move_axes(x):
    y = np.swapaxes(x, 0, 2) + np.moveaxis(x, 0, -1)
    return np.sum(y * x.swapaxes(0, 2))


def expand_squeeze(x):
    y = np.expand_dims(x, 1) * np.ones((1, 3, 1))
    z = np.expand_dims(y, (0, 3))
    return np.sum(np.squeeze(z, 0) ** 2) + np.sum(np.squeeze(z) * 2.0) + np.sum(y.squeeze())


def flatten_ravel_copy(x):
    c = np.copy(x)
    d = x.copy()
    return np.sum(x.flatten() * x.ravel() * c.ravel() + d.ravel())


def flip_sort(x):
    s = np.sort(x, axis=None)
    return np.sum(np.flip(x, 0) * np.sort(x, axis=1)) + np.sum(np.flip(x) ** 3) + s[1] * s[0]


def broadcast_tile_repeat(x):
    b = np.broadcast_to(x, (2, 3))
    t = np.tile(x, (2, 1))
    r = np.repeat(x, 2)
    return np.sum(b * t) + np.sum(r ** 3) + np.sum(x.repeat(2) * r)


def concatenate_stack(x, y):
    c = np.concatenate([x, y * 2.0], axis=0)
    s = np.stack([x, y], axis=1)
    return np.sum(c ** 2) + np.sum(np.sin(s))


def hstack_vstack(x, y):
    h = np.hstack([x, y, 1.0])
    v = np.vstack([x, y])
    return np.sum(h ** 2) + np.sum(v @ np.ones(3))


def split_pieces(x):
    a, b, c = np.split(x, 3)
    return np.sum(a * c) + np.sum(np.array_split(x, 2)[1] ** 2) + np.sum(b)


def array_from_scalars(a, b):
    v = np.array([[a, b], [b * a, 1.0]])
    return np.sum(v @ v)


def asarray_astype(x):
    y = np.asarray(x)
    z = y.astype(np.float64)
    return np.sum(y ** 2) + float(np.float64(np.sum(x))) + np.sum(z * z * z)


def full_fill_value(a):
    weights = np.linspace(0.0, 1.0, 6)
    return np.sum(np.full((2, 3), a) * np.reshape(weights, (2, 3))) + np.sum(np.full_like(
        np.ones(3), a) ** 2)


def float32_shapes(x, y):
    c = np.concatenate([x, y])
    m = np.reshape(c, (2, 3))
    return np.sum(m.T ** 2) + np.sum(np.sort(x) * y) + np.sum(np.stack([x, y]) ** 3)


# ---------------------------------------------------------------- mixed models


def mlp_loss(w1, b1, w2, x, t):
    h = np.tanh(x @ w1 + b1)
    out = h @ w2
    return np.mean((out - t) ** 2)


def gaussian_log_likelihood(mu, cov, x):
    diff = x - mu
    sol = np.linalg.solve(cov, diff)
    return -0.5 * (diff @ sol) - 0.5 * np.log(np.linalg.det(cov))


def layer_norm(x, gamma):
    mu = np.mean(x, axis=-1, keepdims=True)
    sd = np.sqrt(np.var(x, axis=-1, keepdims=True) + 1e-5)
    return np.sum(((x - mu) / sd * gamma) ** 2)


def attention(q, k, v):
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(4.0)
    w = np.exp(s - np.max(s, axis=-1, keepdims=True))
    w = w / np.sum(w, axis=-1, keepdims=True)
    return np.sum((w @ v) ** 2)


CASES = [
    (exp_log_mix, (_a(3, 4), _pos(4))),
    (expm1_exp2_cbrt, (_a(5),)),
    (powers_and_roots, (_pos(2, 3),)),
    (power_both_broadcast, (_pos(3, 4), _a(4))),
    (trig, (_a(4),)),
    (inverse_trig, (_a(4, low=-0.8, high=0.8),)),
    (arctan2_hypot, (_a(3, 4), _pos(3, 1))),
    (hyperbolic, (_a(5),)),
    (arccosh_shifted, (_a(4),)),
    (ufunc_arithmetic_broadcast, (_a(2, 3), _pos(3))),
    (abs_fabs, (np.array([-1.5, -0.2, 0.4, 2.0]),)),
    (maximum_minimum_broadcast, (np.array([[-0.5, 0.3, 0.9], [0.05, -0.7, 0.6]]),
                                 np.array([0.2, -0.1, 0.4]))),
    (logaddexp_pair, (_a(3, 2), _a(2))),
    (where_select, (np.array([-0.5, 0.3, 0.9, -1.2]), _a(4))),
    (where_constant_branch, (np.array([-0.5, 0.3, 0.9, -1.2]),)),
    (clip_scalar_bounds, (np.array([-0.9, -0.1, 0.2, 0.8]),)),
    (clip_active_bounds, (np.array([-0.9, -0.1, 0.2, 0.8]), -0.5, np.array([0.1, 0.5, 0.5, 0.5]))),
    (clip_method, (np.array([-0.9, -0.1, 0.2, 0.8]),)),
    (float32_elementwise, (_a(3, 4, dtype=np.float32), _a(4, seed=1, dtype=np.float32))),
    (sum_axis, (_a(3, 4),)),
    (sum_keepdims, (_pos(3, 4),)),
    (sum_tuple_axis, (_a(2, 3, 4),)),
    (mean_axis, (_a(3, 4),)),
    (prod_axis, (_a(2, 3),)),
    (max_min_reduce, (_a(3, 4),)),
    (amax_amin_method, (_a(3, 4),)),
    (var_std, (_a(3, 4),)),
    (var_keepdims_ddof, (_a(2, 3, 2),)),
    (standardize, (_a(4, 3),)),
    (cumsum_axis, (_a(2, 3),)),
    (logsumexp, (_a(3, 4),)),
    (softmax_cross_entropy, (_a(3, 4), np.eye(4)[[0, 2, 3]])),
    (float32_reductions, (_a(3, 4, dtype=np.float32),)),
    (matmul_2d, (_a(3, 4), _a(4, 2))),
    (matmul_vector_cases, (_a(3, 3), _a(3))),
    (matmul_batch_broadcast, (_a(2, 1, 3, 4), _a(3, 4, 2))),
    (dot_inner_outer, (_a(3, 3), _a(3))),
    (dot_method_and_nd, (_a(2, 3, 4), _a(4, 2))),
    (tensordot_axes, (_a(3, 4, 5), _a(5, 3))),
    (einsum_bilinear, (_a(3), _a(3, 4), _a(4))),
    (einsum_batch_trace, (_a(2, 3, 4), _a(2, 4, 3))),
    (einsum_ellipsis, (_a(2, 3, 4), _a(4, 2))),
    (trace_offset, (_a(3, 4),)),
    (norm_variants, (_a(3, 4),)),
    (norm_vector_ords, (np.array([0.5, -1.5, 0.9, -0.2]),)),
    (det_logdet, (_spd(3),)),
    (det_batch, (np.stack([_spd(3), _spd(3, seed=1)]),)),
    (inv_quadratic, (_spd(3), _a(3))),
    (solve_vector, (_spd(3), _a(3))),
    (solve_matrix_batch, (np.stack([_spd(3), _spd(3, seed=2)]), _a(3, 2))),
    (float32_matmul, (_a(3, 4, dtype=np.float32), _a(4, 2, dtype=np.float32))),
    (reshape_function, (_a(12),)),
    (reshape_method, (_a(3, 4),)),
    (reshape_fortran_ravel, (_a(3, 4),)),
    (transpose_variants, (_a(2, 3, 4),)),
    (swap_move_axes, (_a(3, 3, 3),)),
    (expand_squeeze, (_a(2, 4),)),
    (flatten_ravel_copy, (_a(2, 3),)),
    (flip_sort, (_a(3, 4),)),
    (broadcast_tile_repeat, (_a(3),)),
    (concatenate_stack, (_a(3), _a(3, seed=1))),
    (hstack_vstack, (_a(3), _a(3, seed=1))),
    (split_pieces, (_a(6),)),
    (array_from_scalars, (0.7, -1.3)),
    (asarray_astype, (_a(3, 2, dtype=np.float32),)),
    (full_fill_value, (0.8,)),
    (float32_shapes, (_a(3, dtype=np.float32), _a(3, seed=1, dtype=np.float32))),
    (mlp_loss, (_a(3, 4), _a(4), _a(4, 2), _a(5, 3), _a(5, 2))),
    (gaussian_log_likelihood, (_a(3), _spd(3), _a(3))),
    (layer_norm, (_a(2, 5), _pos(5))),
    (attention, (_a(2, 3, 4), _a(2, 3, 4, seed=1), _a(2, 3, 4, seed=2))),
]

# Every case also has second derivatives (through the rules of the helpers that derivative
# code calls), except `prod` (`prod_others` needs `cumprod`, which has no rule).
NO_SECOND_ORDER = {"prod_axis"}

MODES = {"forward": ("forward",), "reverse": ("reverse",), "both": ("forward", "reverse")}


@pytest.mark.parametrize(("f", "args"), CASES, ids=[f.__name__ for f, _ in CASES])
def test_numpy_catalog_case(f, args):
    check_grads(f, args)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(("f", "args"), CASES[:12], ids=[f.__name__ for f, _ in CASES[:12]])
def test_numpy_catalog_each_mode_alone(f, args, mode):
    check_grads(f, args, modes=MODES[mode])


SECOND = [(f, args) for f, args in CASES if f.__name__ not in NO_SECOND_ORDER]


@pytest.mark.parametrize(("f", "args"), SECOND, ids=[f.__name__ for f, _ in SECOND])
def test_numpy_catalog_second_order(f, args):
    check_grads(f, args, order=2)


def test_catalog_is_large_and_ids_are_unique():
    names = [f.__name__ for f, _ in CASES]
    assert len(names) >= 60
    assert len(set(names)) == len(names)


# ---------------------------------------------------------------- engine gaps (strict xfail)


def slice_of_reduction(x):
    return np.sum(np.cumsum(x)[1:3] ** 2)


def method_on_call_result(x):
    return x.max(axis=1).sum()


def attribute_of_call_second_order(x):
    m = np.reshape(x, (2, 3))
    return np.sum(m.T ** 2)


def broadcast_add_then_sum(x):
    y = x + np.ones((3, 4))
    return np.sum(y) * 2.0


# Cases that once exposed engine bugs (slices as call arguments, methods of call results,
# attributes of calls in generated code, forward-mode broadcasting of a lone tangent).
REGRESSIONS = [
    pytest.param(slice_of_reduction, (_a(4),), 1, id="slice_of_reduction"),
    pytest.param(method_on_call_result, (_a(2, 3),), 1, id="method_on_call_result"),
    pytest.param(attribute_of_call_second_order, (_a(6),), 2,
                 id="attribute_of_call_second_order"),
    pytest.param(broadcast_add_then_sum, (_a(4),), 1, id="broadcast_add_then_sum"),
]


@pytest.mark.parametrize(("f", "args", "order"), REGRESSIONS)
def test_regression(f, args, order):
    check_grads(f, args, order=order)


# ---------------------------------------------------------------- repeated indices, in place


def _write_repeated_positions(x, y):
    v = np.zeros(3)
    v[np.array([0, 0, 2])] = np.array([x * x, y, x * y])  # v[0] = y: the last write wins
    m = np.zeros((2, 2))
    m[np.array([1, 1]), np.array([0, 0])] = np.array([x, y * y])
    return np.sum(v * v * v) + np.sum(m * x)


def test_a_write_to_a_repeated_position_keeps_only_the_last_value():
    check_grads(_write_repeated_positions, (0.3, 0.7), order=2)
    dx, dy = adgen.grad(_write_repeated_positions, wrt=(0, 1))(0.3, 0.7)
    assert dx == pytest.approx(3 * (0.3 * 0.7) ** 2 * 0.7 + 0.49, rel=1e-12)
    assert dy == pytest.approx(3 * 0.7 ** 2 + 3 * (0.3 * 0.7) ** 2 * 0.3 + 2 * 0.7 * 0.3,
                               rel=1e-12)


def _adds_at(x):
    v = np.zeros(2)
    np.add.at(v, [0, 0], [x, x])
    return np.sum(v)


def _writes_out(x):
    v = np.zeros(2)
    np.multiply(np.array([x, x]), 2.0, out=v)
    return np.sum(v)


@pytest.mark.parametrize("f", [_adds_at, _writes_out])
def test_numpy_functions_that_write_in_place_are_refused(f):
    with pytest.raises(adgen.UnsupportedSyntax, match="in place"):
        adgen.grad(f)(0.5)
