"""adgen on array code: recurrent networks against hand-written backpropagation (issue 15).

    python benchmarks/arrays.py [--quick] [--only rnn lstm]

The method and the table are those of `run.py`, whose helpers this script imports: the
contenders of one benchmark (objective, hand-written gradient, adgen) are timed in interleaved
rounds (up to 101 here), a contender's time is its fastest batch, and every ratio printed was
measured in this one run, beside its target and a ✓/✗ mark. Nothing asserts; a workload adgen
cannot differentiate prints `n/a (error: <first line>)` in its rows and the run goes on.

One difference: the clock is the process's CPU time (`time.process_time`), not the wall clock.
A call here lasts milliseconds to tens of milliseconds, so on a shared machine almost every
call is descheduled at some point, and the fastest wall-clock batch of a contender says more
about the other processes than about it (adgen / hand-written of the RNN ranged 1.2–2.7× from
run to run on the wall clock at a load of 3–5 on 2 cores, 1.60–1.62× on CPU time). With BLAS
on one thread, the CPU time of a call is its wall time on an idle machine. `--wall` times on
the wall clock instead.

Memory is the tracemalloc peak during one call (`checkpointing.peak_bytes`: allocations above
what was allocated before the call, the tape, the temporaries and the result), of adgen's
gradient against the hand-written one. BLAS runs single-threaded unless the environment says
otherwise (as in `run.py`, set before NumPy loads).

The workloads and their hand-written gradients are in `array_workloads.py`. Issue 15's other
targets are items of `run.py`: Newton's square root (item 3), the MLP at batch 64 and 1024
(item 5), the sin loop's forward `grad` (item 2), the book example (item 1) and the build time
(item 11); the table ends with rows pointing there.
"""

# ruff: noqa: E402 -- the BLAS thread count must be set before NumPy is imported
from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import array_workloads as aw
from checkpointing import peak_bytes
from run import (
    FULL,
    QUICK,
    Config,
    Row,
    agree,
    at_most,
    measure,
    missing,
    per_call,
    prepare,
    print_header,
    print_summary,
    print_table,
    run_all,
)

import adgen

# More rounds than run.py's: one call of these gradients lasts tens of milliseconds, and on a
# shared machine the minimum needs many of them to find a quiet moment for every contender.
ARRAYS_FULL = replace(FULL, rounds=101)
RNN_SIZE = dict(hidden=256, steps=200, inputs=64)
LSTM_SIZE = dict(layers=2, hidden=256, length=50)


def megabytes(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def gradient_rows(item: str, label: str, objective: Callable[..., Any],
                  hand: Callable[..., Any], args: tuple, cfg: Config,
                  time_target: float, memory_target: float,
                  clock: Callable[[], float]) -> list[Row]:
    """adgen / hand-written time, adgen / objective, hand-written / objective, and the peak
    memory of adgen's gradient against the hand-written one's."""
    fn, got, why = prepare(lambda: adgen.grad(objective, wrt=(0, 1)), args)
    contenders = {"objective": (objective, args), "hand": (hand, args)}
    if fn is not None:
        contenders["adgen"] = (fn, args)
    t = measure(contenders, cfg, clock)
    hand_peak = peak_bytes(hand, args)
    names = (f"{label}: adgen grad / hand-written", f"{label}: adgen grad / objective",
             f"{label}: peak memory, adgen / hand-written")
    targets = (f"≤ {time_target:.2f}×", "", f"≤ {memory_target:.2f}×")
    if fn is None:
        rows = [missing(item, n, target, why) for n, target in zip(names, targets, strict=True)]
    else:
        note = "" if agree(got, hand(*args)) else "results differ from hand-written!"
        peak = peak_bytes(fn, args)
        rows = [at_most(item, names[0], t.ratio("adgen", "hand"), time_target, note),
                at_most(item, names[1], t.ratio("adgen", "objective"), None),
                at_most(item, names[2], peak / hand_peak, memory_target,
                        f"adgen {megabytes(peak)}, hand-written {megabytes(hand_peak)}")]
    rows.insert(2, at_most(item, f"{label}: hand-written / objective",
                           t.ratio("hand", "objective"), None,
                           f"objective {per_call(t.seconds('objective'))}/call"))
    return rows


def bench_rnn(cfg: Config, clock: Callable[[], float]) -> list[Row]:
    size = RNN_SIZE
    label = f"RNN H={size['hidden']}, T={size['steps']}, input {size['inputs']}, grad W, U"
    return gradient_rows("rnn", label, aw.rnn_loss, aw.rnn_backprop, aw.rnn_data(**size), cfg,
                         1.15, 1.10, clock)


def bench_lstm(cfg: Config, clock: Callable[[], float]) -> list[Row]:
    size = LSTM_SIZE
    label = (f"LSTM {size['layers']} layers, hidden {size['hidden']}, sequence "
             f"{size['length']}, grad main, extra")
    return gradient_rows("lstm", label, aw.lstm_objective, aw.lstm_backprop,
                         aw.lstm_data(**size), cfg, 1.30, 1.20, clock)


def pointers(cfg: Config, clock: Callable[[], float]) -> list[Row]:
    """Issue 15's targets measured by `run.py`: where to look (not measured here)."""
    return [
        Row("run 3", "Newton sqrt (while), reverse: adgen / hand-written",
            "see run.py --only 3", "≤ 1.20×", note="run.py's row says ≤ 1.30×"),
        Row("run 5", "MLP batch 64 and 1024: adgen / hand-written backprop",
            "see run.py --only 5", "≤ 1.05×",
            note="run.py's rows compare grad/forward with 1.10 × hand's"),
    ]


BENCHMARKS = (
    ("rnn", "vanilla RNN", bench_rnn),
    ("lstm", "ADBench LSTM", bench_lstm),
    ("run", "pointers to run.py", pointers),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer, shorter rounds: a smoke test, not a measurement")
    parser.add_argument("--only", nargs="+", metavar="ITEM", choices=[b[0] for b in BENCHMARKS],
                        help="run only these items (rnn, lstm, run)")
    parser.add_argument("--wall", action="store_true",
                        help="time on the wall clock (perf_counter) instead of CPU time")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else ARRAYS_FULL
    clock = time.perf_counter if args.wall else time.process_time
    print_header(cfg, args.quick)
    print(f"clock: {clock.__name__}\n", flush=True)
    rows = run_all(cfg, args.only, BENCHMARKS, lambda bench: bench(cfg, clock))
    print_table(rows)
    print_summary(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
