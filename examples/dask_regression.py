"""Logistic regression by gradient descent over a chunked data set, on a Dask cluster.

The loss is plain NumPy code. `adgen.value_and_grad(loss)` called with Dask arrays builds the
loss and its gradient as Dask task graphs, chunk by chunk, without computing anything; each
step computes both on a `dask.distributed` LocalCluster (two workers) and updates the
weights. The same code then runs on the NumPy arrays, and the two fits are compared.

Run: `python examples/dask_regression.py` (needs `pip install 'adgen[dask]'`).
"""

import importlib.util
import time

import numpy as np

import adgen

ROWS, FEATURES, CHUNK_ROWS = 24_000, 4, 3_000
STEPS, RATE, REPORT_EVERY = 40, 2.0, 10


def loss(w, b, X, y):
    """Mean logistic loss of the labels `y` (0 or 1) under the model sigmoid(X @ w + b),
    plus a small ridge penalty."""
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.001 * np.sum(w * w)


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((ROWS, FEATURES))
    true_w = np.array([1.5, -2.0, 0.5, 0.0])
    y = (rng.random(ROWS) < 1.0 / (1.0 + np.exp(-(X @ true_w - 0.3)))).astype(float)
    return X, y


def fit(X, y, compute, report):
    """Gradient descent from zero; `compute` turns the lazy (loss, gradients) into numbers."""
    step_fn = adgen.value_and_grad(loss, wrt=(0, 1))
    w, b = np.zeros(FEATURES), 0.0
    for step in range(STEPS + 1):
        value, (gw, gb) = compute(*step_fn(w, b, X, y))
        if step % REPORT_EVERY == 0:
            report(step, value)
        if step < STEPS:
            w, b = w - RATE * gw, b - RATE * gb
    return w, b, value


def main():
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    X, y = make_data()
    Xd = da.from_array(X, chunks=(CHUNK_ROWS, FEATURES))
    yd = da.from_array(y, chunks=CHUNK_ROWS)
    print(f"data: {ROWS} rows x {FEATURES} features in {Xd.numblocks[0]} chunks of "
          f"{CHUNK_ROWS} rows")

    dashboard = importlib.util.find_spec("bokeh") is not None  # Dask's dashboard needs Bokeh
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0" if dashboard else None) as cluster, \
            Client(cluster) as client:
        workers = len(client.scheduler_info()["workers"])
        print(f"Dask cluster: {workers} workers (threads of this process)")
        print(f"dashboard: {client.dashboard_link}" if dashboard else
              "dashboard: off (pip install bokeh to watch the tasks in a browser)")
        value, (gw, gb) = adgen.value_and_grad(loss, wrt=(0, 1))(np.zeros(FEATURES), 0.0, Xd, yd)
        print(f"the gradient is a lazy Dask array: {type(gw).__name__}, "
              f"{len(gw.dask)} tasks, nothing computed yet")

        def on_cluster(*lazy):
            return tuple(client.compute(list(lazy), sync=True))

        def report(step, value):
            print(f"  Dask  step {step:3d}/{STEPS}: loss {value:.6f}")

        start = time.perf_counter()
        w_dask, b_dask, final_dask = fit(Xd, yd, on_cluster, report)
        print(f"Dask fit: {STEPS} steps in {time.perf_counter() - start:.1f} s on the cluster")

    def report_numpy(step, value):
        print(f"  NumPy step {step:3d}/{STEPS}: loss {value:.6f}")

    w_np, b_np, final_np = fit(X, y, lambda *values: values, report_numpy)

    print(f"weights (Dask):  {np.round(w_dask, 6)}, bias {b_dask:.6f}")
    print(f"weights (NumPy): {np.round(w_np, 6)}, bias {b_np:.6f}")
    difference = max(np.max(np.abs(w_dask - w_np)), abs(b_dask - b_np),
                     abs(final_dask - final_np))
    print(f"largest difference between the Dask and NumPy fits: {difference:.1e}")
    accuracy = np.mean((X @ w_dask + b_dask > 0) == (y > 0.5))
    print(f"training accuracy: {accuracy:.3f}")
    return 0 if difference < 1e-9 else 1


if __name__ == "__main__":
    raise SystemExit(main())
