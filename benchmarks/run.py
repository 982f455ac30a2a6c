"""adgen benchmarks: time ratios against the primal and against hand-written derivatives.

    python benchmarks/run.py [--quick]

Every figure printed is a ratio measured in this one process (or a memory figure, or a
transformation time), beside its target and a ✓/✗ mark. Nothing here asserts or exits non-zero
on a missed target, and no test uses it: the machine is noisy, so absolute times from different
runs must not be compared.

Method. The contenders of one benchmark (primal, hand-written derivative, adgen, peers) are
timed in interleaved rounds: each round times every contender once, as one `timeit` batch (gc
off, batch size calibrated so that a batch lasts at least `batch_seconds`), and the order of the
contenders rotates from round to round. A contender's time is its fastest batch (noise from
other processes only ever adds time), and a ratio a/b is the ratio of those minima. `--quick`
runs fewer, shorter rounds; it exists to smoke-test the script (CI), not to produce numbers.

Each benchmark is wrapped: a missing feature (a NumPy rule adgen does not have yet, a peer that
is not installed) prints `n/a (error: <first line>)` in its row instead of stopping the run.
Optional peers (autograd, torch, JAX) are used only if they import; none is a dependency.

BLAS runs single-threaded unless the environment says otherwise (OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS, MKL_NUM_THREADS are set to 1 before NumPy loads, if unset): on a small shared
machine a multi-threaded matmul waiting for a busy core varies by several times from batch to
batch, which drowns the differences these ratios are meant to show.
"""

# ruff: noqa: E402 -- the BLAS thread count must be set before NumPy is imported
from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse
import importlib.metadata
import importlib.util
import math
import platform
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cases
import checkpointing
import numpy as np
from checkpointing import peak_bytes

import adgen

PEERS = ("autograd", "torch", "jax")


@dataclass(frozen=True)
class Config:
    rounds: int  # timed rounds per benchmark, at most
    batch_seconds: float  # a timed batch lasts at least this long
    case_seconds: float  # rounds are cut (to no fewer than 3) to fit this budget
    transform_repeats: int  # fresh functions transformed in item 8


FULL = Config(rounds=31, batch_seconds=0.01, case_seconds=20.0, transform_repeats=5)
QUICK = Config(rounds=3, batch_seconds=0.002, case_seconds=1.0, transform_repeats=1)


@dataclass
class Row:
    item: str
    name: str
    measured: str
    target: str = ""
    ok: bool | None = None  # None: informational, or not measured
    note: str = ""


# --- rows ------------------------------------------------------------------------------------


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def at_most(item: str, name: str, value: float, limit: float | None, note: str = "") -> Row:
    if limit is None:
        return Row(item, name, f"{value:.2f}×", note=note)
    return Row(item, name, f"{value:.2f}×", f"≤ {limit:.2f}×", value <= limit, note)


def at_least(item: str, name: str, value: float, limit: float, note: str = "") -> Row:
    return Row(item, name, f"{value:.2f}×", f"≥ {limit:.2f}×", value >= limit, note)


def missing(item: str, name: str, target: str, why: str) -> Row:
    return Row(item, name, f"n/a (error: {why})", target)


def per_call(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


# --- timing ----------------------------------------------------------------------------------


class Timing:
    """Per-call times of named contenders, one entry per round; a contender's time is its
    fastest round."""

    def __init__(self, times: dict[str, list[float]]):
        self.times = times

    def ratio(self, a: str, b: str) -> float:
        return self.seconds(a) / self.seconds(b)

    def seconds(self, a: str) -> float:
        return min(self.times[a])


def _timer(fn: Callable[..., Any], args: tuple,
           clock: Callable[[], float] = time.perf_counter) -> timeit.Timer:
    names = [f"a{i}" for i in range(len(args))]
    namespace = dict(zip(names, args, strict=True), fn=fn)
    return timeit.Timer(f"fn({', '.join(names)})", timer=clock, globals=namespace)


def _calibrate(timer: timeit.Timer, seconds: float) -> tuple[int, float]:
    """A batch size whose batch lasts at least `seconds`, and the time per call seen."""
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= seconds or number >= 1 << 24:
            return number, elapsed / number
        number *= 10 if elapsed < seconds / 10 else 2


def measure(contenders: dict[str, tuple[Callable[..., Any], tuple]], cfg: Config,
            clock: Callable[[], float] = time.perf_counter) -> Timing:
    """Time each `name: (function, args)` in interleaved rounds, on `clock` (wall time unless
    told otherwise)."""
    timers = {k: _timer(fn, args, clock) for k, (fn, args) in contenders.items()}
    batches = {k: _calibrate(t, cfg.batch_seconds) for k, t in timers.items()}
    per_round = sum(n * t for n, t in batches.values())
    rounds = max(3, min(cfg.rounds, int(cfg.case_seconds / per_round)))
    keys = list(timers)
    times: dict[str, list[float]] = {k: [] for k in keys}
    for r in range(rounds):
        shift = r % len(keys)
        for k in keys[shift:] + keys[:shift]:
            n = batches[k][0]
            times[k].append(timers[k].timeit(n) / n)
    return Timing(times)


def prepare(build: Callable[[], Callable[..., Any]], args: tuple) -> tuple[Any, Any, str]:
    """Build a contender and call it once: `(function, result, "")` or `(None, None, why)`."""
    try:
        fn = build()
        return fn, fn(*args), ""
    except Exception as exc:  # a missing feature must not stop the run
        return None, None, first_line(exc)


def agree(a: Any, b: Any) -> bool:
    a, b = (v if isinstance(v, tuple) else (v,) for v in (a, b))
    try:
        return len(a) == len(b) and all(
            np.allclose(x, y, rtol=1e-6, atol=1e-9) for x, y in zip(a, b, strict=True))
    except (TypeError, ValueError):
        return False


# --- items 1, 2, 3, 6: adgen against the primal and a hand-written derivative -----------------


@dataclass
class Comparison:
    item: str
    label: str
    primal: tuple[Callable[..., Any], tuple]
    hand: tuple[Callable[..., Any], tuple]
    build: Callable[[], Callable[..., Any]]
    vs_primal: float | None
    vs_hand: float | None = 1.3


def compare(c: Comparison, cfg: Config) -> list[Row]:
    """adgen / primal, adgen / hand-written, and hand-written / primal for information."""
    args = c.hand[1]
    fn, got, why = prepare(c.build, args)
    contenders = {"primal": c.primal, "hand": c.hand}
    if fn is not None:
        contenders["adgen"] = (fn, args)
    t = measure(contenders, cfg)
    names = (f"{c.label}: adgen / primal", f"{c.label}: adgen / hand-written")
    if fn is None:
        rows = [missing(c.item, n, f"≤ {lim}×", why)
                for n, lim in zip(names, (c.vs_primal, c.vs_hand), strict=True)]
    else:
        note = "" if agree(got, c.hand[0](*args)) else "results differ from hand-written!"
        rows = [at_most(c.item, names[0], t.ratio("adgen", "primal"), c.vs_primal, note),
                at_most(c.item, names[1], t.ratio("adgen", "hand"), c.vs_hand)]
    primal_time = f"primal {per_call(t.seconds('primal'))}/call"
    rows.append(at_most(c.item, f"{c.label}: hand-written / primal",
                        t.ratio("hand", "primal"), None, primal_time))
    return rows


def bench_book(cfg: Config) -> list[Row]:
    args = (1.5, 0.5)
    return compare(Comparison("1", "book f(x1, x2), grad wrt (0, 1)", (cases.book, args),
                              (cases.book_adjoint, args),
                              lambda: adgen.grad(cases.book, wrt=(0, 1)), 2.0), cfg)


def bench_loop(cfg: Config) -> list[Row]:
    primal = (cases.sin_loop, (0.3,))
    reverse = Comparison("2", "sin loop ×1000, reverse", primal, (cases.sin_loop_adjoint, (0.3,)),
                         lambda: adgen.grad(cases.sin_loop), 3.0)
    forward = Comparison("2", "sin loop ×1000, forward", primal,
                         (cases.sin_loop_tangent, (0.3, 1.0)), lambda: adgen.jvp(cases.sin_loop),
                         2.2)
    forward_grad = Comparison("2", "sin loop ×1000, grad(mode='forward')", primal,
                              (cases.sin_loop_derivative, (0.3,)),
                              lambda: adgen.grad(cases.sin_loop, mode="forward"), 2.2)
    return compare(reverse, cfg) + compare(forward, cfg) + compare(forward_grad, cfg)


def bench_newton(cfg: Config) -> list[Row]:
    args = (2.0,)
    return compare(Comparison("3", "Newton sqrt (while), reverse", (cases.newton_sqrt, args),
                              (cases.newton_sqrt_adjoint, args),
                              lambda: adgen.grad(cases.newton_sqrt), 4.0), cfg)


def bench_call(cfg: Config) -> list[Row]:
    """A user function called in a loop vs the same loop with the callee inlined by hand:
    here the "primal" row is the calling loop and "hand-written" is adgen's inlined loop."""
    args = (0.3,)
    inlined = adgen.grad(cases.sin_loop)
    return compare(Comparison("9", "call in a 1000-step loop, reverse (vs inlined)",
                              (cases.sin_loop_calls, args), (inlined, args),
                              lambda: adgen.grad(cases.sin_loop_calls), None, 1.5), cfg)


def bench_hvp(cfg: Config) -> list[Row]:
    A, x, v = cases.matrix_data(1000)
    return compare(Comparison("6", "hvp Σtanh(Ax)², n=1000", (cases.tanh_sq, (A, x)),
                              (cases.tanh_sq_hvp, (A, x, v)),
                              lambda: adgen.hvp(cases.tanh_sq, wrt=1), 4.0), cfg)


# --- item 4: memory of the reverse sweep -------------------------------------------------------


def bench_memory(cfg: Config) -> list[Row]:
    grad = adgen.grad(cases.sin_loop_n)
    target = "≤ 40 B (8 slot + 24 float)"
    rows = []
    for n in (1_000_000, 100_000):
        peak = peak_bytes(grad, (0.3, n))
        hand = peak_bytes(cases.sin_loop_n_adjoint, (0.3, n))
        label = f"sin loop ×{n:,}, reverse"
        if n == 1_000_000:
            rows.append(Row("4", f"{label}: peak memory", f"{peak / 1e6:.1f} MB",
                            note=f"hand-written stack {hand / 1e6:.1f} MB"))
            rows.append(at_most("4", f"{label}: peak / hand-written peak", peak / hand, 1.05))
        rows.append(Row("4", f"{label}: bytes per iteration", f"{peak / n:.1f} B", target,
                        peak / n <= 40, "linear: one float per iteration"))
    return rows


def bench_checkpointing(cfg: Config) -> list[Row]:
    """Item 10: binomial checkpointing against stack replay (`checkpointing.py`)."""
    return [Row("10", *row) for row in checkpointing.rows(quick=cfg is QUICK)]


# --- item 5: MLP ------------------------------------------------------------------------------


def bench_mlp(cfg: Config, batch: int, hidden: int) -> list[Row]:
    data = cases.mlp_data(batch, 784, hidden, 10)
    label = f"MLP batch {batch}, 784→{hidden}→10"
    fn, got, why = prepare(lambda: adgen.grad(cases.mlp_loss, wrt=(0, 1, 2, 3)), data)
    contenders = {"forward": (cases.mlp_loss, data), "hand": (cases.mlp_backprop, data)}
    if fn is not None:
        contenders["adgen"] = (fn, data)
    t = measure(contenders, cfg)
    hand = t.ratio("hand", "forward")
    rows = [at_most("5", f"{label}: hand-written backprop / forward", hand, None,
                    f"forward {per_call(t.seconds('forward'))}/call")]
    name, target = f"{label}: adgen grad / forward", "≤ 1.10 × hand ratio"
    if fn is None:
        return [*rows, missing("5", name, target, why)]
    ratio = t.ratio("adgen", "forward")
    note = f"adgen / hand-written = {t.ratio('adgen', 'hand'):.2f}×"
    if not agree(got, cases.mlp_backprop(*data)):
        note += "; results differ from hand-written!"
    return [*rows, Row("5", name, f"{ratio:.2f}×", f"≤ {1.10 * hand:.2f}× (1.10 × hand)",
                       ratio <= 1.10 * hand, note)]


def bench_mlp_small(cfg: Config) -> list[Row]:
    return bench_mlp(cfg, 64, 256)


def bench_mlp_large(cfg: Config) -> list[Row]:
    return bench_mlp(cfg, 1024, 1024)


# --- item 7: Jacobian ----------------------------------------------------------------------


def autograd_jacobian() -> Callable[..., Any]:
    import autograd
    import autograd.numpy as anp

    return autograd.jacobian(lambda A, x: anp.tanh(A @ x), argnum=1)


def bench_jacobian(cfg: Config) -> list[Row]:
    A, x, _ = cases.matrix_data(500)
    args = (A, x)
    expected = cases.tanh_layer_jacobian(*args)
    contenders = {"hand": (cases.tanh_layer_jacobian, args)}
    failures = {}
    for name, build in (("adgen", lambda: adgen.jacobian(cases.tanh_layer, wrt=1)),
                        ("autograd", autograd_jacobian)):
        fn, got, why = prepare(build, args)
        if fn is None:
            failures[name] = why
        else:
            contenders[name] = (fn, args)
            failures[name] = "" if agree(got, expected) else "results differ from (1−t²)·A!"
    t = measure(contenders, cfg)
    label = "jacobian tanh(Ax), n=500"
    rows = []
    if "adgen" in contenders and "autograd" in contenders:
        rows.append(at_least("7", f"{label}: autograd / adgen (speed-up)",
                             t.ratio("autograd", "adgen"), 5.0, failures["autograd"]))
    else:
        why = failures.get("adgen") if "adgen" not in contenders else failures["autograd"]
        rows.append(missing("7", f"{label}: autograd / adgen (speed-up)", "≥ 5.00×", why))
    if "adgen" in contenders:
        rows.append(at_most("7", f"{label}: adgen / hand-written (1−t²)·A",
                            t.ratio("adgen", "hand"), None, failures["adgen"]))
    return rows


# --- item 8: transformation time ----------------------------------------------------------------


def load_generated(directory: str, index: int, source: str) -> Callable[..., Any]:
    """Write `source` to a fresh module file and import it (a new function object each time)."""
    module_name = f"adgen_bench_generated_{index}"
    path = os.path.join(directory, f"{module_name}.py")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generated


def check_generated(g: Callable[..., Any], f: Callable[..., Any]) -> str:
    """A note: does the generated gradient match a central difference?"""
    args, h = (0.3, 0.2, 0.1), 1e-6
    fd = (f(args[0] + h, *args[1:]) - f(args[0] - h, *args[1:])) / (2 * h)
    got = g(*args)
    return "gradient checked" if math.isclose(got, fd, rel_tol=1e-5, abs_tol=1e-8) else \
        f"gradient {got!r} differs from central difference {fd!r}!"


def bench_transform(cfg: Config) -> list[Row]:
    source = cases.generated_source(300)
    loops, branches = cases.count_constructs(source)
    first, second = [], []
    with tempfile.TemporaryDirectory() as directory:
        for i in range(cfg.transform_repeats):
            f = load_generated(directory, i, source)
            t0 = time.perf_counter()
            g = adgen.grad(f)
            t1 = time.perf_counter()
            adgen.grad(f)
            second.append(time.perf_counter() - t1)
            first.append(t1 - t0)
        note = check_generated(g, f)
    label = f"grad of a {len(source.splitlines())}-line function ({loops} loops, {branches} ifs)"
    out_lines = len(adgen.source(g).splitlines())
    ms = 1e3 * min(first), 1e3 * min(second)
    return [Row("8", f"{label}: first adgen.grad", f"{ms[0]:.0f} ms", "< 500 ms", ms[0] < 500,
                f"{note}; {out_lines} generated lines"),
            Row("8", f"{label}: second adgen.grad (cached)", f"{ms[1]:.3f} ms", "< 1 ms",
                ms[1] < 1)]


# --- item 11: build time against the function's length ----------------------------------------

BUILD_SIZES = (100, 300, 1000, 3000)


def build_seconds(directory: str, n: int, repeats: int) -> tuple[float, float, str]:
    """The cheapest first `adgen.grad` (cold cache, a fresh function each time) of a generated
    function of `n` statements: (CPU seconds, wall seconds of that build, check note). The
    build is single-threaded, so its CPU time is its wall time on an idle machine, and what
    other processes add to the wall time of a shared one stays out of it."""
    source = cases.statements_source(n, name="generated")
    best = (math.inf, math.inf)
    for i in range(repeats):
        f = load_generated(directory, 1000 * n + i, source)
        adgen.clear_cache()
        cpu, wall = time.process_time(), time.perf_counter()
        g = adgen.grad(f)
        best = min(best, (time.process_time() - cpu, time.perf_counter() - wall))
    return (*best, check_generated(g, f))


def bench_build(cfg: Config) -> list[Row]:
    rows = []
    sizes = BUILD_SIZES[:3] if cfg is QUICK else BUILD_SIZES
    with tempfile.TemporaryDirectory() as directory:
        for n in sizes:
            repeats = cfg.transform_repeats if n <= 300 else max(1, cfg.transform_repeats // 3)
            cpu, wall, note = build_seconds(directory, n, repeats)
            loops, branches = cases.count_constructs(cases.statements_source(n))
            label = f"grad build (CPU), {n:,} statements ({loops} loops, {branches} ifs)"
            per = 1e3 * cpu / n
            note = f"{note}; {cpu:.3g} s CPU, {wall:.3g} s wall; best of {repeats}"
            rows.append(Row("11", f"{label}: per statement", f"{per:.2f} ms", "≤ 1 ms",
                            per <= 1.0, note))
            if n == 300:
                rows.append(Row("11", f"{label}: whole build", f"{cpu * 1e3:.0f} ms",
                                "< 300 ms", cpu < 0.3))
    return rows


# --- optional peers for items 1–3 --------------------------------------------------------------

PEER_CASES = (("book", (1.5, 0.5), (0, 1)), ("sin_loop", (0.3,), 0), ("newton_sqrt", (2.0,), 0))


def autograd_peers() -> dict[str, Callable[[], Callable[..., Any]]]:
    import autograd
    import autograd.numpy as anp

    fns = cases.peer_functions(anp)
    return {name: lambda name=name, wrt=wrt: autograd.grad(getattr(fns, name), argnum=wrt)
            for name, _, wrt in PEER_CASES}


def torch_peers() -> dict[str, Callable[[], Callable[..., Any]]]:
    import torch

    fns = cases.peer_functions(torch)

    def backward(f: Callable[..., Any]) -> Callable[..., Any]:
        def grad(*args: float) -> Any:
            xs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in args]
            f(*xs).backward()
            grads = tuple(x.grad.item() for x in xs)
            return grads if len(grads) > 1 else grads[0]

        return grad

    return {name: lambda name=name: backward(getattr(fns, name)) for name, _, _ in PEER_CASES}


def jax_peers() -> dict[str, Callable[[], Callable[..., Any]]]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    fns = cases.peer_functions(jnp)

    def compiled(f: Callable[..., Any], wrt: Any) -> Callable[..., Any]:
        g = jax.jit(jax.grad(f, argnums=wrt))
        return lambda *args: jax.block_until_ready(g(*args))

    return {name: lambda name=name, wrt=wrt: compiled(getattr(fns, name), wrt)
            for name, _, wrt in PEER_CASES}


PEER_BUILDERS = {"autograd": autograd_peers, "torch": torch_peers, "jax": jax_peers}


def importable(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def installed_peers() -> list[str]:
    return [p for p in PEERS if importable(p)]


def bench_peers(cfg: Config) -> list[Row]:
    builders = {}
    for peer in installed_peers():
        try:
            builders[peer] = PEER_BUILDERS[peer]()
        except Exception as exc:  # an installed but broken peer
            builders[peer] = exc
    if not builders:
        return [Row("1–3", "peers (autograd, torch, jax)", "n/a (none installed)")]
    rows = []
    for name, args, wrt in PEER_CASES:
        rows += peer_rows(cfg, name, args, wrt, builders)
    return rows


def peer_rows(cfg: Config, name: str, args: tuple, wrt: Any,
              builders: dict[str, Any]) -> list[Row]:
    primal = getattr(cases, name)
    contenders = {"primal": (primal, args), "adgen": (adgen.grad(primal, wrt=wrt), args)}
    failures = {}
    for peer, made in builders.items():
        fn, _, why = (None, None, first_line(made)) if isinstance(made, Exception) else \
            prepare(made[name], args)
        if fn is None:
            failures[peer] = why
        else:
            contenders[peer] = (fn, args)
    t = measure(contenders, cfg)
    rows = []
    for peer in builders:
        label = f"{name}: {peer} grad / primal"
        if peer in failures:
            rows.append(missing("1–3", label, "", failures[peer]))
        else:
            rows.append(at_most("1–3", label, t.ratio(peer, "primal"), None,
                                f"{t.ratio(peer, 'adgen'):.1f}× adgen's time"))
    return rows


# --- driver --------------------------------------------------------------------------------

BENCHMARKS = (
    ("1", "book example", bench_book),
    ("2", "sin loop", bench_loop),
    ("3", "Newton sqrt", bench_newton),
    ("9", "call in a loop", bench_call),
    ("4", "reverse-mode memory", bench_memory),
    ("10", "checkpointing", bench_checkpointing),
    ("5", "MLP batch 64", bench_mlp_small),
    ("5", "MLP batch 1024", bench_mlp_large),
    ("6", "hvp", bench_hvp),
    ("7", "jacobian", bench_jacobian),
    ("8", "transformation time", bench_transform),
    ("11", "build time against length", bench_build),
    ("1–3", "peers", bench_peers),
)


def run_all(cfg: Config, only: list[str] | None = None, benchmarks: tuple = (),
            run: Callable[[Any], list[Row]] | None = None) -> list[Row]:
    """The rows of `benchmarks` (this file's by default), each run as `run(bench)` (by
    default `bench(cfg)`), those in `only` if given."""
    rows = []
    for item, title, bench in benchmarks or BENCHMARKS:
        if only and item not in only:
            continue
        print(f"  running {item}: {title} ...", file=sys.stderr, flush=True)
        try:
            rows += run(bench) if run is not None else bench(cfg)
        except Exception as exc:  # never let one benchmark stop the others
            rows.append(missing(item, title, "", first_line(exc)))
    return rows


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def print_header(cfg: Config, quick: bool) -> None:
    print("$ " + " ".join([sys.executable, *sys.argv]))
    print(f"Python {platform.python_version()} ({platform.python_implementation()}), "
          f"NumPy {np.__version__}, adgen {version('adgen')}, "
          f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs")
    print("peers: " + ", ".join(f"{p} {version(p)}" for p in PEERS))
    print(f"BLAS threads: OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    print(f"mode: {'quick (smoke test; numbers are rough)' if quick else 'full'}; up to "
          f"{cfg.rounds} interleaved rounds per benchmark, batches ≥ {cfg.batch_seconds * 1e3:g}"
          " ms, ratios of the fastest batches")
    print(flush=True)


def print_table(rows: list[Row]) -> None:
    headers = Row("#", "benchmark", "measured", "target", None, "note")
    marks = {True: "✓", False: "✗", None: ""}
    fixed = [r for r in rows if not r.measured.startswith("n/a")] + [headers]
    widths = [max(len(getattr(r, f)) for r in [*rows, headers]) for f in ("item", "name")]
    widths += [max(len(r.target) for r in [*rows, headers]),
               max(len(r.measured) for r in fixed)]
    for r in [headers, None, *rows]:
        if r is None:
            print("-" * (sum(widths) + 16))
            continue
        ok = "ok" if r is headers else marks[r.ok]
        cells = (r.item.ljust(widths[0]), r.name.ljust(widths[1]), r.target.ljust(widths[2]),
                 r.measured.rjust(widths[3]), ok.ljust(2), r.note)
        print("  ".join(cells).rstrip())


def print_summary(rows: list[Row]) -> None:
    checked = [r for r in rows if r.ok is not None]
    met = sum(r.ok for r in checked)
    unmeasured = sum(r.measured.startswith("n/a") for r in rows)
    print()
    print(f"targets met: {met} of {len(checked)}; rows not measured (n/a): {unmeasured}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer, shorter rounds: a smoke test (CI), not a measurement")
    parser.add_argument("--only", nargs="+", metavar="ITEM",
                        help="run only these items (numbers as in the table)")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    print_header(cfg, args.quick)
    rows = run_all(cfg, args.only)
    print_table(rows)
    print_summary(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
