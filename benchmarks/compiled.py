"""Compiled derivatives (`compile="numba"`): time ratios measured in one run.

    python benchmarks/compiled.py [--quick] [--cpu]

The rows of issue 16, timed with `run.py`'s method (interleaved rounds, fastest batch, ratios
of minima, BLAS on one thread):

- C1: the sin loop (1,000 steps) reverse gradient compiled, against the uncompiled gradient
  (target ≥ 10× faster) and against a hand-written gradient compiled with `numba.njit` (a
  preallocated array of saved values; target within 2×), and the first call's time, which
  compiles (target ≤ 1 s; it is the first Numba compilation of the process, so it includes
  Numba's own start-up).
- C2: Newton's square root (a data-dependent `while`, about 5 trips from `a = 2`), reverse,
  compiled against uncompiled (target ≥ 10×), and for information from `a = 1e12` (about 25
  trips), where a compiled call's fixed overhead weighs less.
- C1 and C2 also print what the first ratio can reach: the hand-written gradient run by
  Python against the same function compiled with `njit`, the uncompiled gradient against the
  primal compiled with `njit` (no gradient is cheaper than its function), and for C2 against
  a compiled function that does nothing (`njit` of `return a`, called through Numba's
  dispatcher, and adgen's compiled gradient of it, through adgen's call path): the cost of a
  call into compiled code.
- C3: a loop-style Gaussian-mixture negative log-likelihood (1,000 points, 3 components,
  `math.exp`/`log`, log-sum-exp by hand): the compiled gradient against the objective compiled
  with `numba.njit` (target ≤ 3×).
- C4: the first calls of the C1 and C3 gradients in a fresh process, with Numba's on-disk
  cache of generated code (`adgen.numba_cache`) filled by the run above, and with it off
  (`ADGEN_CACHE_DIR=""`). The rows above compile into an empty cache directory of their own.
- C5: a loop marked `adgen.checkpointed` (the sin loop, 20,000 steps, 8 snapshots): the
  schedule runs in Python and its blocks compiled (`adgen.numba_checkpoint`); against the
  uncompiled checkpointed gradient, and against the compiled gradient of the unmarked loop.

Needs Numba (`pip install adgen[numba]`); without it every row is n/a.
"""

# ruff: noqa: E402 -- run.py sets the BLAS thread count before NumPy is imported
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import cases
import checkpointing
import numpy as np
from run import (
    FULL,
    QUICK,
    Row,
    agree,
    at_least,
    at_most,
    first_line,
    measure,
    missing,
    per_call,
    print_summary,
    print_table,
)

import adgen
from adgen.errors import CompileWarning

# --- the functions -----------------------------------------------------------------------


def sin_loop_adjoint_array(x):
    """The sin loop's gradient as one would write it for Numba: saved values in an array."""
    saved = np.empty(1000)
    for i in range(1000):
        saved[i] = x
        x = math.sin(x) * 0.9 + 0.1 * x
    x_bar = 1.0
    for i in range(999, -1, -1):
        x_bar = x_bar * 0.1 + x_bar * 0.9 * math.cos(saved[i])
    return x_bar


def newton_sqrt_relative(a):
    """Newton's square root to a relative tolerance: from `a = 1e12` about 25 trips."""
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


LOG_ROOT_2PI = 0.9189385332046727


def gmm_nll(mu, log_s, logit_w, x):
    """Mean negative log-likelihood of a 1-D Gaussian mixture, written with loops."""
    n = x.shape[0]
    k_max = mu.shape[0]
    top = logit_w[0]
    for k in range(1, k_max):
        if logit_w[k] > top:
            top = logit_w[k]
    z = 0.0
    for k in range(k_max):
        z += math.exp(logit_w[k] - top)
    log_z = top + math.log(z)
    total = 0.0
    for i in range(n):
        best = -1e300
        for k in range(k_max):
            d = (x[i] - mu[k]) * math.exp(-log_s[k])
            a = logit_w[k] - log_z - 0.5 * d * d - log_s[k] - LOG_ROOT_2PI
            if a > best:
                best = a
        s = 0.0
        for k in range(k_max):
            d = (x[i] - mu[k]) * math.exp(-log_s[k])
            a = logit_w[k] - log_z - 0.5 * d * d - log_s[k] - LOG_ROOT_2PI
            s += math.exp(a - best)
        total = total - (best + math.log(s))
    return total / n


def gmm_args() -> tuple:
    rng = np.random.default_rng(16)
    x = np.concatenate([rng.normal(-2.0, 0.5, 500), rng.normal(1.0, 1.0, 500)])
    return np.array([-1.0, 0.0, 2.0]), np.zeros(3), np.zeros(3), x


# --- the rows ----------------------------------------------------------------------------

CLOCK = [time.perf_counter]  # `--cpu`: the thread's CPU time, steadier on a loaded machine


def timed(contenders: dict, cfg: Any) -> Any:
    return measure(contenders, cfg, CLOCK[0])



def first_call(fn: Callable[..., Any], args: tuple) -> tuple[float, float, Any]:
    """Wall and CPU seconds of the first call (the one that compiles), and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)  # a fallback is not a measurement
        out = fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, out


def bench_sin(cfg: Any, numba: Any) -> list[Row]:
    args = (0.3,)
    compiled = adgen.grad(cases.sin_loop, compile="numba")
    wall, cpu, got = first_call(compiled, args)
    hand = numba.njit(sin_loop_adjoint_array)
    hand_list = numba.njit(cases.sin_loop_adjoint)
    primal = numba.njit(cases.sin_loop)
    primal(*args)
    note = "" if agree(got, hand(*args)) and agree(got, hand_list(*args)) else "results differ!"
    t = timed({"compiled": (compiled, args), "python": (adgen.grad(cases.sin_loop), args),
               "hand": (hand, args), "hand list": (hand_list, args),
               "hand python": (cases.sin_loop_adjoint, args), "primal": (primal, args)}, cfg)
    return [
        at_least("C1", "sin loop ×1000, reverse: uncompiled / compiled", t.ratio("python",
                 "compiled"), 10.0, f"compiled {per_call(t.seconds('compiled'))}/call {note}"),
        at_most("C1", "sin loop: compiled / hand-written njit (array of saves)",
                t.ratio("compiled", "hand"), 2.0, f"hand {per_call(t.seconds('hand'))}/call"),
        at_most("C1", "sin loop: compiled / hand-written njit (list stack)",
                t.ratio("compiled", "hand list"), None),
        *ceilings("C1", "sin loop", t),
        Row("C1", "sin loop: first call (compiles), wall", f"{wall:.2f} s", "≤ 1.00 s",
            wall <= 1.0, f"CPU {cpu:.2f} s; the process's first Numba compilation"),
    ]


def ceilings(item: str, name: str, t: Any) -> list[Row]:
    """What the uncompiled / compiled ratio can reach: the hand-written gradient run by
    Python (with a list of saves, its fastest form there) against the hand-written `njit`
    gradient (the ratio compiling buys hand code), and the uncompiled gradient against the
    primal compiled with `njit` (no gradient costs less than its function)."""
    return [
        at_most(item, f"{name}: ceiling: hand-written gradient, Python / njit",
                t.ratio("hand python", "hand"), None,
                f"Python {per_call(t.seconds('hand python'))}/call; the uncompiled gradient "
                f"is {t.ratio('python', 'hand python'):.2f}× of it"),
        at_most(item, f"{name}: bound: uncompiled gradient / njit primal",
                t.ratio("python", "primal"), None,
                f"primal {per_call(t.seconds('primal'))}/call; compiled gradient "
                f"{t.ratio('compiled', 'primal'):.2f}× of it"),
    ]


def bench_newton(cfg: Any, numba: Any) -> list[Row]:
    args = (2.0,)
    compiled = adgen.grad(cases.newton_sqrt, compile="numba")
    wall, _, got = first_call(compiled, args)
    hand = numba.njit(cases.newton_sqrt_adjoint)
    primal = numba.njit(cases.newton_sqrt)
    primal(*args)
    nothing = numba.njit(identity)
    nothing(*args)
    least = adgen.grad(identity, compile="numba")
    first_call(least, args)
    note = "" if agree(got, hand(*args)) else "results differ!"
    t = timed({"compiled": (compiled, args), "python": (adgen.grad(cases.newton_sqrt), args),
               "hand": (hand, args), "hand python": (cases.newton_sqrt_adjoint, args),
               "primal": (primal, args), "nothing": (nothing, args),
               "least": (least, args)}, cfg)
    return [
        at_least("C2", "Newton sqrt (while), reverse: uncompiled / compiled",
                 t.ratio("python", "compiled"), 10.0,
                 f"compiled {per_call(t.seconds('compiled'))}/call; first call {wall:.2f} s "
                 f"{note}"),
        at_most("C2", "Newton sqrt: compiled / hand-written njit (list stack)",
                t.ratio("compiled", "hand"), None, f"hand {per_call(t.seconds('hand'))}/call"),
        *ceilings("C2", "Newton sqrt", t),
        at_most("C2", "Newton sqrt: bound: uncompiled gradient / njit `return a`",
                t.ratio("python", "nothing"), None,
                f"a call of compiled code that does nothing: {per_call(t.seconds('nothing'))}"),
        at_most("C2", "Newton sqrt: bound: uncompiled gradient / compiled grad of `return a`",
                t.ratio("python", "least"), None,
                f"adgen's compiled call path, no work: {per_call(t.seconds('least'))}"),
        long_newton(cfg),
    ]


def identity(a):
    """A compiled function that does nothing: the cost of calling compiled code."""
    return a


def long_newton(cfg: Any) -> Row:
    """For information: a while loop of about 25 trips instead of 5, where the call overhead
    of a compiled function (a few hundred ns) weighs less."""
    args = (1e12,)
    compiled = adgen.grad(newton_sqrt_relative, compile="numba")
    first_call(compiled, args)
    t = timed({"compiled": (compiled, args),
                 "python": (adgen.grad(newton_sqrt_relative), args)}, cfg)
    return at_most("C2", "Newton sqrt of 1e12 (~25 trips): uncompiled / compiled",
                   t.ratio("python", "compiled"), None,
                   f"compiled {per_call(t.seconds('compiled'))}/call")


def bench_gmm(cfg: Any, numba: Any) -> list[Row]:
    args = gmm_args()
    wrt = (0, 1, 2)
    compiled = adgen.grad(gmm_nll, wrt=wrt, compile="numba")
    wall, cpu, got = first_call(compiled, args)
    note = "" if agree(got, adgen.grad(gmm_nll, wrt=wrt)(*args)) else "results differ!"
    objective = numba.njit(gmm_nll)
    objective(*args)
    slow = QUICK if cfg is QUICK else type(cfg)(5, cfg.batch_seconds, 5.0, 1)
    t = timed({"gradient": (compiled, args), "objective": (objective, args)}, cfg)
    python = timed({"python": (adgen.grad(gmm_nll, wrt=wrt), args)}, slow)
    return [
        at_most("C3", "Gaussian mixture (1,000 × 3): compiled grad / njit objective",
                t.ratio("gradient", "objective"), 3.0,
                f"objective {per_call(t.seconds('objective'))}/call {note}"),
        at_least("C3", "Gaussian mixture: uncompiled / compiled grad",
                 python.seconds("python") / t.seconds("gradient"), 1.0,
                 f"first call {wall:.1f} s wall, {cpu:.1f} s CPU"),
    ]


def bench_checkpointed(cfg: Any, numba: Any) -> list[Row]:
    """A loop marked `adgen.checkpointed` (20,000 steps, 8 snapshots): the schedule in Python,
    its blocks compiled; against the uncompiled checkpointed gradient and the compiled
    gradient of the unmarked loop (stack replay, every step saved)."""
    args = (0.3, 20_000, 8)
    wrt = 0
    compiled = adgen.grad(checkpointing.sin_marked, wrt=wrt, compile="numba")
    wall, _, got = first_call(compiled, args)
    plain = adgen.grad(checkpointing.sin_plain, wrt=wrt, compile="numba")
    first_call(plain, args)
    note = "" if agree(got, adgen.grad(checkpointing.sin_marked)(*args)) else "results differ!"
    slow = QUICK if cfg is QUICK else type(cfg)(5, cfg.batch_seconds, 5.0, 1)
    t = timed({"compiled": (compiled, args), "plain": (plain, args)}, cfg)
    python = timed({"python": (adgen.grad(checkpointing.sin_marked), args)}, slow)
    return [
        at_most("C5", "sin loop ×20,000 marked checkpointed: uncompiled / compiled",
                python.seconds("python") / t.seconds("compiled"), None,
                f"compiled {per_call(t.seconds('compiled'))}/call; first call {wall:.2f} s "
                f"{note}"),
        at_most("C5", "the same: compiled / compiled unmarked loop (stack replay)",
                t.ratio("compiled", "plain"), None,
                f"unmarked {per_call(t.seconds('plain'))}/call"),
    ]


FRESH_PROCESS = """
import sys, time, warnings
sys.path.insert(0, {here!r})
import adgen, cases, compiled
from adgen.errors import CompileWarning
warnings.simplefilter("error", CompileWarning)
for f, args, wrt in ((cases.sin_loop, (0.3,), 0),
                     (compiled.gmm_nll, compiled.gmm_args(), (0, 1, 2))):
    g = adgen.grad(f, wrt=wrt, compile="numba")
    wall, cpu = time.perf_counter(), time.process_time()
    g(*args)
    print(time.perf_counter() - wall, time.process_time() - cpu)
"""


def bench_start_up(cfg: Any, numba: Any) -> list[Row]:
    """First calls in a fresh process, with the cache the rows above filled and without."""
    here = os.path.dirname(os.path.abspath(__file__))
    script = FRESH_PROCESS.format(here=here)
    times = {}
    for label, directory in (("cached", os.environ["ADGEN_CACHE_DIR"]), ("no cache", "")):
        env = dict(os.environ, ADGEN_CACHE_DIR=directory)
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        times[label] = [float(v) for v in out]
    rows = []
    for i, name in enumerate(("sin loop", "Gaussian mixture")):
        cached, cold = times["cached"][2 * i:2 * i + 2], times["no cache"][2 * i:2 * i + 2]
        rows.append(Row("C4", f"{name}: first call in a fresh process, cached / no cache",
                        f"{cached[0]:.2f} / {cold[0]:.2f} s", "", None,
                        f"CPU {cached[1]:.2f} / {cold[1]:.2f} s"))
    return rows


BENCHMARKS = [("C1", bench_sin), ("C2", bench_newton), ("C3", bench_gmm),
              ("C4", bench_start_up), ("C5", bench_checkpointed)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test, not a measurement")
    parser.add_argument("--cpu", action="store_true",
                        help="time calls by the thread's CPU time instead of wall time")
    options = parser.parse_args(argv)
    cfg = QUICK if options.quick else FULL
    if options.cpu:
        CLOCK[0] = time.thread_time
    print("$ " + " ".join([sys.executable, *sys.argv]))
    try:
        import numba  # optional: the extra adgen[numba]
    except ImportError as exc:
        print_table([missing(item, "compiled derivatives", "", first_line(exc))
                     for item, _ in BENCHMARKS])
        return 0
    print(f"Numba {numba.__version__}, NumPy {np.__version__}\n", flush=True)
    # compile into an empty cache directory: first calls here compile, as in a new install
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="adgen-numba-cache-") as directory:
        os.environ["ADGEN_CACHE_DIR"] = directory
        for item, bench in BENCHMARKS:
            print(f"  running {item} ...", file=sys.stderr, flush=True)
            try:
                rows += bench(cfg, numba)
            except Exception as exc:  # one benchmark must not stop the others
                rows.append(missing(item, bench.__name__, "", first_line(exc)))
    print_table(rows)
    print_summary(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
