"""Every public operator on `dask.array` arguments: lazy (nothing computed until `.compute()`,
checked with a scheduler that refuses to run), gradients in the chunks of their argument, and
values equal to the NumPy results. Skipped when Dask is not installed (`adgen[dask]`)."""

import numpy as np
import pytest

import adgen
from tests import catalog_arrays as catalog

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

pytestmark = pytest.mark.filterwarnings("error::FutureWarning")  # Dask's "computes in NumPy"

CHUNKS = (2, 2)  # a 4x3 argument in four chunks


def _refuse(*args, **kwargs):
    raise AssertionError("adgen computed a Dask array before the user asked")


def lazily(run):
    """`run()` under a scheduler that refuses to compute anything."""
    with dask.config.set(scheduler=_refuse):
        return run()


def _computed(result):
    parts = result if isinstance(result, tuple) else (result,)
    for r in parts:
        assert isinstance(r, da.Array), type(r)
    return dask.compute(*parts, scheduler="sync")


def _same(result, numpy_result):
    want = numpy_result if isinstance(numpy_result, tuple) else (numpy_result,)
    for a, b in zip(_computed(result), want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", catalog.OPERATORS_VECTOR)
@pytest.mark.parametrize("f", catalog.VECTOR, ids=lambda f: f.__name__)
def test_array_valued_functions_on_dask(f, op):
    x, v, w = catalog.arguments(f)
    run = catalog.OPERATORS_VECTOR[op]
    xd, vd, wd = (da.from_array(a, chunks=CHUNKS[:a.ndim]) for a in (x, v, w))
    result = lazily(lambda: run(f, xd, vd, wd))
    _same(result, run(f, x, v, w))
    if op == "vjp":
        assert result[1].chunks == xd.chunks


@pytest.mark.parametrize("op", catalog.OPERATORS_SCALAR)
@pytest.mark.parametrize("f", catalog.SCALAR, ids=lambda f: f.__name__)
def test_scalar_functions_on_dask(f, op):
    x, v = catalog.data(), catalog.direction()
    run = catalog.OPERATORS_SCALAR[op]
    xd, vd = da.from_array(x, chunks=CHUNKS), da.from_array(v, chunks=CHUNKS)
    result = lazily(lambda: run(f, xd, vd))
    _same(result, run(f, x, v))
    gradient = result[1] if op.startswith("value_and_grad") else result
    if op != "hessian":
        assert gradient.chunks == xd.chunks


def test_the_refusing_scheduler_refuses():
    with pytest.raises(AssertionError, match="computed a Dask array"):
        lazily(lambda: da.ones(3, chunks=2).sum().compute())


def test_a_parameter_tuple_and_a_dask_matrix():
    def loss(w, b, X, y):
        return np.mean((X @ w + b - y) ** 2)

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)), rng.standard_normal(40)
    w = np.array([0.5, -1.0, 2.0])
    Xd, yd = da.from_array(X, chunks=(10, 3)), da.from_array(y, chunks=10)
    grads = lazily(lambda: adgen.grad(loss, wrt=(0, 1))(w, 0.3, Xd, yd))
    _same(grads, adgen.grad(loss, wrt=(0, 1))(w, 0.3, X, y))
