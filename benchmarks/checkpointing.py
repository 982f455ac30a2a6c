"""Binomial checkpointing (`adgen.checkpointed`) against stack replay: memory and time.

    python benchmarks/checkpointing.py [--table]

`rows(quick)` gives the rows of item 10 of `run.py`: the gradient of a 1,000,000-step sin loop
with 20 snapshots and of a 1-D heat equation (1,000 cells, 10,000 steps, 30 snapshots), each
against the same loop without the marker. `--table` prints peak memory and time for
n = 10^3 … 10^6 and s = 5, 10, 20, 40 beside the schedule's bound r (docs/checkpointing.md).
"""

from __future__ import annotations

import gc
import math
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

import adgen
from adgen.runtime_checkpoint import LAST, block_length, repetitions


def sin_marked(x, n, s):
    for _ in adgen.checkpointed(range(n), snapshots=s):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x


def sin_plain(x, n, s):
    for _ in range(n):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x


def sin_while_marked(x, n, s):
    k = 0
    while adgen.checkpointed(k < n, snapshots=s):
        x = math.sin(x) * 0.9 + 0.1 * x
        k += 1
    return x


def sin_while_plain(x, n, s):
    k = 0
    while k < n:
        x = math.sin(x) * 0.9 + 0.1 * x
        k += 1
    return x


def heat_marked(u, k, n, s):
    for _ in adgen.checkpointed(range(n), snapshots=s):
        u = u + k * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))
    return np.sum(u * u)


def heat_plain(u, k, n, s):
    for _ in range(n):
        u = u + k * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))
    return np.sum(u * u)


def peak_bytes(fn: Callable[..., Any], args: tuple) -> int:
    """Peak traced allocation during `fn(*args)`, above what was allocated before."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn(*args)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def seconds(fn: Callable[..., Any], args: tuple, repeats: int) -> float:
    """The fastest of `repeats` calls (gc off while timing)."""
    best = math.inf
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            fn(*args)
            best = min(best, time.perf_counter() - t0)
        finally:
            gc.enable()
    return best


def compare(marked: Any, plain: Any, args: tuple, repeats: int) -> dict[str, float]:
    """Memory, time and agreement of the checkpointed and the stack-replay gradient."""
    g_marked, g_plain = adgen.grad(marked), adgen.grad(plain)
    a, b = g_marked(*args), g_plain(*args)
    error = float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / (1e-300 + np.abs(b))))
    return {"peak": peak_bytes(g_marked, args), "peak_plain": peak_bytes(g_plain, args),
            "time": seconds(g_marked, args, repeats), "time_plain": seconds(g_plain, args, repeats),
            "error": error, "held": LAST.held}


def _bound(n: int, s: int, state: tuple) -> str:
    size = block_length(s, state)
    return f"r = {repetitions(-(-n // size), s)} (C({s} + r, {s}) ≥ n / {size}, blocks of {size})"


def rows(quick: bool) -> list[tuple[str, str, str, bool | None, str]]:
    """(name, measured, target, ok, note) rows of the benchmark table (ok None: no target)."""
    n, repeats = (100_000, 1) if quick else (1_000_000, 3)
    out: list[tuple[str, str, str, bool | None, str]] = []
    c = compare(sin_marked, sin_plain, (0.3, n, 20), repeats)
    label = f"sin loop ×{n:,}, s = 20"
    note = f"stack replay {c['peak_plain'] / 1e6:.1f} MB; rel. error {c['error']:.1e}"
    out.append((f"{label}: peak memory", f"{c['peak'] / 1e6:.3f} MB", "≤ 1 MB",
                c["peak"] <= 1e6 and c["error"] <= 1e-12, note))
    ratio = c["time"] / c["time_plain"]
    out.append((f"{label}: time / stack replay", f"{ratio:.2f}×", "≤ 3.00×", ratio <= 3.0,
                _bound(n, 20, (0.3,))))
    c = compare(sin_while_marked, sin_while_plain, (0.3, n, 20), repeats)
    label = f"the same as a `while` loop ×{n:,}, s = 20"
    out.append((f"{label}: peak memory", f"{c['peak'] / 1e6:.3f} MB", "", None,
                f"stack replay {c['peak_plain'] / 1e6:.1f} MB; rel. error {c['error']:.1e}"))
    ratio = c["time"] / c["time_plain"]
    out.append((f"{label}: time / stack replay", f"{ratio:.2f}×", "", None,
                "trip count learned by a first sweep; primal runs "
                f"{LAST.evaluations / n:.2f} per step"))
    cells, steps = (1000, 1000) if quick else (1000, 10_000)
    u = np.sin(np.linspace(0.0, math.pi, cells))
    c = compare(heat_marked, heat_plain, (u, 0.25, steps, 30), repeats)
    label = f"heat equation {cells:,} cells ×{steps:,}, s = 30"
    share = c["peak"] / c["peak_plain"]
    out.append((f"{label}: peak / stack replay", f"{100 * share:.2f} %", "≤ 2 %",
                share <= 0.02 and c["error"] <= 1e-12,
                f"{c['peak'] / 1e6:.2f} MB vs {c['peak_plain'] / 1e6:.1f} MB; "
                f"rel. error {c['error']:.1e}"))
    ratio = c["time"] / c["time_plain"]
    out.append((f"{label}: time / stack replay", f"{ratio:.2f}×", "≤ 4.00×", ratio <= 4.0,
                _bound(steps, 30, (u,))))
    return out


def table() -> None:
    """Peak memory and time against n and s, beside the bound r (on blocks of the schedule's
    length: 256 steps for this loop's one float), for the `for` loop and the same loop as a
    `while` loop (trip count learned online)."""
    print("| n | s | r | primal runs / n | peak | time | stack replay: peak, time | time ratio "
          "| `while`: primal runs / n, time ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    g_marked, g_plain = adgen.grad(sin_marked), adgen.grad(sin_plain)
    w_marked, w_plain = adgen.grad(sin_while_marked), adgen.grad(sin_while_plain)
    for n in (1_000, 10_000, 100_000, 1_000_000):
        repeats = 5 if n <= 10_000 else 3
        plain = (peak_bytes(g_plain, (0.3, n, 0)), seconds(g_plain, (0.3, n, 0), repeats))
        w_time = seconds(w_plain, (0.3, n, 0), repeats)
        for s in (5, 10, 20, 40):
            t = seconds(g_marked, (0.3, n, s), repeats)
            runs = LAST.evaluations / n
            peak = peak_bytes(g_marked, (0.3, n, s))
            w = seconds(w_marked, (0.3, n, s), repeats)
            w_runs = LAST.evaluations / n
            r = repetitions(-(-n // block_length(s, (0.3,))), s)
            print(f"| {n:,} | {s} | {r} | {runs:.2f} | "
                  f"{peak / 1e3:.1f} kB | {_time(t)} | {plain[0] / 1e6:.2f} MB, "
                  f"{_time(plain[1])} | {t / plain[1]:.2f}× | {w_runs:.2f}, {w / w_time:.2f}× |",
                  flush=True)


def _time(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1.0 else f"{seconds * 1e3:.3g} ms"


def main(argv: list[str]) -> int:
    if "--table" in argv:
        table()
        return 0
    for name, measured, target, ok, note in rows("--quick" in argv):
        mark = "" if ok is None else "✓" if ok else "✗"
        print(f"{name:55} {measured:>10} {target:>8} {mark:1} {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
