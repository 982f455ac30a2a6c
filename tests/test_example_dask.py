"""`examples/dask_regression.py` runs (as CI runs it) and its printed claims hold: a data set
of several chunks, a two-worker cluster, a lazy gradient, losses that fall, and the same fit
on Dask and on NumPy."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import adgen

dask = pytest.importorskip("dask")
pytest.importorskip("distributed")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "dask_regression.py"


@pytest.fixture(scope="module")
def printed():
    run = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _example():
    spec = importlib.util.spec_from_file_location("dask_regression", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_data_has_several_chunks(printed):
    rows, features, chunks, chunk_rows = map(int, re.search(
        r"data: (\d+) rows x (\d+) features in (\d+) chunks of (\d+) rows", printed).groups())
    assert chunks > 1 and rows > chunk_rows and chunks * chunk_rows == rows


def test_the_cluster_has_two_workers_and_says_where_its_dashboard_is(printed):
    assert "Dask cluster: 2 workers" in printed
    assert re.search(r"dashboard: (http\S+|off \(pip install bokeh)", printed)


def test_dask_and_numpy_fits_agree_step_by_step(printed):
    dask_losses = re.findall(r"Dask  step +(\d+)/\d+: loss ([\d.]+)", printed)
    numpy_losses = re.findall(r"NumPy step +(\d+)/\d+: loss ([\d.]+)", printed)
    assert len(dask_losses) >= 3 and dask_losses == numpy_losses
    values = [float(v) for _, v in dask_losses]
    assert values[0] == pytest.approx(np.log(2.0), abs=1e-6)  # zero weights: log 2
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    weights = re.findall(r"weights \((?:Dask|NumPy)\): +(.*)", printed)
    assert len(weights) == 2 and weights[0] == weights[1]
    difference = float(re.search(r"Dask and NumPy fits: ([\d.e+-]+)", printed).group(1))
    assert difference < 1e-9


def test_the_gradient_is_lazy_as_printed(printed):
    assert "the gradient is a lazy Dask array: Array" in printed
    example = _example()
    X, y = example.make_data()
    import dask.array as da

    Xd = da.from_array(X, chunks=(example.CHUNK_ROWS, example.FEATURES))
    yd = da.from_array(y, chunks=example.CHUNK_ROWS)
    w = np.linspace(-1.0, 1.0, example.FEATURES)

    def refuse(*args, **kwargs):
        raise AssertionError("computed before .compute()")

    with dask.config.set(scheduler=refuse):
        value, (gw, gb) = adgen.value_and_grad(example.loss, wrt=(0, 1))(w, 0.2, Xd, yd)
    assert isinstance(gw, da.Array) and isinstance(gb, da.Array)
    want_value, (want_w, want_b) = adgen.value_and_grad(example.loss, wrt=(0, 1))(w, 0.2, X, y)
    got = dask.compute(value, gw, gb, scheduler="sync")
    np.testing.assert_allclose(got[0], want_value, rtol=1e-12)
    np.testing.assert_allclose(got[1], want_w, rtol=1e-12)
    np.testing.assert_allclose(got[2], want_b, rtol=1e-12)
