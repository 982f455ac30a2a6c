"""Catalog of the shape and assembly rules (`rules/numpy_assembly.py`, `rules/numpy_joins.py`).

Each record is one array-valued function of one or two arrays. Every record is checked four
ways: `check_grads` (jvp and vjp against central differences, the dot-product test), the
forward Jacobian (one batched pass, asserted to be available) against the reverse one, the
Jacobian against finite differences of the primal, and second order through a nonlinear
scalar loss of the result (`check_grads(order=2)`).
"""

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads
from tests.rules_checks import as_float32, check_hessians, check_jacobians, loss_of

RNG = np.random.default_rng(17)
V = RNG.normal(size=4)
W = RNG.normal(size=3)
M = RNG.normal(size=(3, 4))
Q = RNG.normal(size=(3, 3))
T = RNG.normal(size=(2, 3, 4))
pytestmark = pytest.mark.filterwarnings("ignore:`row_stack`:DeprecationWarning")
DISTINCT = np.array([0.3, -1.2, 2.5, 0.9, -0.4, 1.7])


# ---------------------------------------------------------------- diagonals and triangles


def diag_of_vector(v):
    return np.diag(v, 1)


def diag_of_matrix(m):
    return np.diag(m, -1) * 2.0


def diagonal_function(t):
    return np.diagonal(t, 1, 1, 2)


def diagonal_method(m):
    return m.diagonal() + m.diagonal(offset=1)


def triangles(m):
    return np.tril(m, -1) * 2.0 + np.triu(m, 1) - np.tril(m)


# ---------------------------------------------------------------- moving elements


def roll_flat(v):
    return np.roll(v, 3)


def roll_tuple_shifts(m):
    return np.roll(m, (1, -2), axis=(0, 1))


def roll_one_axis(t):
    return np.roll(t, -1, axis=2)


def rollaxis_to_front(t):
    return np.rollaxis(t, 2)


def rollaxis_start(t):
    return np.rollaxis(t, 0, 3)


def flips(m):
    return np.flipud(m) * np.fliplr(m)


def rot90_default(m):
    return np.rot90(m)


def rot90_k_axes(t):
    return np.rot90(t, -1, axes=(1, 2)) + np.rot90(t, 2, (1, 2))[:, ::-1, ::-1]


def atleast(v):
    return np.atleast_3d(v) * np.atleast_2d(v)[..., None] + np.atleast_1d(v[0])


# ---------------------------------------------------------------- appending and padding


def append_flat(m, v):
    return np.append(m, v)


def append_axis(m, v):
    return np.append(m, v[None, :], axis=0)


def append_number(v):
    return np.append(v, v[0] * 3.0)


def pad_constant(m, v):
    return np.pad(m, ((1, 2), (0, 1)), constant_values=v[1])


def pad_edge(m):
    return np.pad(m, 2, mode="edge")


def pad_reflect(v):
    return np.pad(v, (2, 3), mode="reflect")


def pad_symmetric_wrap(m):
    return np.pad(m, ((1,), (2,)), mode="symmetric") + np.pad(m, ((1, 1), (2, 2)), "wrap")


def partition_vector(v):
    return np.partition(v, 2)


def partition_axis(m):
    return np.partition(m, (0, 2), axis=1)


def partition_flat(m):
    return np.partition(m, 5, axis=None)


# ---------------------------------------------------------------- joining and cutting


def column_stack(v, m):
    return np.column_stack([v[:3], m, v[1:]])


if hasattr(np, "row_stack"):  # deprecated in NumPy 2
    def row_stack(v, m):
        return np.row_stack([v, m])
else:
    def row_stack(v, m):
        return np.vstack([v, m])


def hsplit(m):
    a, b = np.hsplit(m, 2)
    return a * b


def vsplit_dsplit(t):
    a, b = np.vsplit(t, 2)
    c, d = np.dsplit(t, [1])
    return (a * b)[0, :, :3] + c[0] - d[1]


def tile_batched(m):
    return np.tile(m, (2, 1, 2))


def split_batched(m):
    a, b = np.split(m, [1], axis=1)
    c, d, e = np.array_split(m, 3, 0)
    return a * b[:, 1:] + c[0] * d[0] * e[0]


def meshgrid_xy(v, w):
    x, y = np.meshgrid(v, w)
    return x * y + np.sin(x)


def meshgrid_ij_sparse(v, w):
    x, y = np.meshgrid(v, w, indexing="ij", sparse=True)
    return x * y


def meshgrid_three(v, w):
    x, y, z = np.meshgrid(v, w, v[:2])
    return x * y * z


def select(v, w):
    return np.select([v < 0.0, v > 1.0], [v * v, v * w[0]], w[1])


def select_array_default(v):
    return np.select([v > 0.0], [np.sin(v)], default=v * 2.0)


CASES = [
    (diag_of_vector, (V,)), (diag_of_matrix, (M,)), (diagonal_function, (T,)),
    (diagonal_method, (M,)), (triangles, (M,)),
    (roll_flat, (V,)), (roll_tuple_shifts, (M,)), (roll_one_axis, (T,)),
    (rollaxis_to_front, (T,)), (rollaxis_start, (T,)), (flips, (M,)), (rot90_default, (M,)),
    (rot90_k_axes, (RNG.normal(size=(2, 3, 3)),)), (atleast, (V,)),
    (append_flat, (M, W)), (append_axis, (M, V)), (append_number, (V,)),
    (pad_constant, (M, W)), (pad_edge, (M,)), (pad_reflect, (V,)),
    (pad_symmetric_wrap, (M,)), (partition_vector, (DISTINCT,)),
    (partition_axis, (DISTINCT.reshape(2, 3) * [[1.0], [-1.0]],)),
    (partition_flat, (DISTINCT.reshape(3, 2),)),
    (column_stack, (V, M)), (row_stack, (V, M)), (hsplit, (M,)), (vsplit_dsplit, (T,)),
    (tile_batched, (M,)), (split_batched, (Q,)), (meshgrid_xy, (V, W)),
    (meshgrid_ij_sparse, (V, W)), (meshgrid_three, (V, W)), (select, (V * 1.5, W)),
    (select_array_default, (V,)),
]
IDS = [f.__name__ for f, _ in CASES]


@pytest.mark.parametrize(("f", "args"), CASES, ids=IDS)
def test_check_grads(f, args):
    check_grads(f, args)


@pytest.mark.parametrize(("f", "args"), CASES, ids=IDS)
def test_batched_jacobian_matches_reverse_and_differences(f, args):
    check_jacobians(f, args, rtol=1e-12)


@pytest.mark.parametrize(("f", "args"), CASES, ids=IDS)
def test_second_order(f, args):
    check_grads(loss_of(f, len(args)), args, order=2)


# Reverse over reverse through `column_stack` and `select` (whose adjoints are lists) joined
# the lists by `+`; their results are marked `container_result` and add item by item now.


@pytest.mark.parametrize(("f", "args"), CASES, ids=IDS)
def test_hessian_three_ways(f, args):
    check_hessians(f, args)


@pytest.mark.parametrize(("f", "args"), CASES, ids=IDS)
def test_float32_in_float32_out(f, args):
    check_grads(f, as_float32(args))


# ---------------------------------------------------------------- values and refusals


def test_edge_padding_sums_the_copies():
    g = adgen.grad(lambda_free_edge_sum)(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(g, [3.0, 1.0, 3.0])  # each end is copied twice


def lambda_free_edge_sum(v):
    return np.sum(np.pad(v, 2, mode="edge"))


def test_partition_follows_values_not_selection_order():
    x = np.array([5.0, 1.0, 4.0, 2.0, 3.0])
    y = np.partition(x, 2)
    w = np.arange(1.0, 6.0)
    _, got = adgen.vjp(partition_vector)(x, w)
    want = np.zeros(5)
    for j, value in enumerate(y):
        want[list(x).index(value)] += w[j]
    np.testing.assert_array_equal(got, want)


def pad_mean(v):
    return np.sum(np.pad(v, 1, mode="mean"))


def pad_per_side_constants(v, c):
    return np.sum(np.pad(v, 1, constant_values=(c, 2.0 * c)))


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_unsupported_pad_is_refused_at_the_users_line(mode):
    with pytest.raises(adgen.DifferentiationError,
                       match=r"line \d+: return np.sum\(np.pad\(v, 1, mode=\"mean\"\)\): "
                             r".*numpy.pad"):
        adgen.grad(pad_mean, mode=mode)(V)
    with pytest.raises(adgen.DifferentiationError, match=r"line \d+: .*constant_values"):
        adgen.grad(pad_per_side_constants, wrt=1, mode=mode)(V, 0.5)
