"""The fuzzer's command: check many programs, report failures, print `N passed, M failed`.

    python -m adgen.fuzz --n 5000 [--seed S] [--size K] [--without FEATURES] [--no-shrink]
                         [--jobs J]
    python -m adgen.fuzz --show PROGRAM_SEED [--size K] [--without FEATURES]

`run(n, seed)` checks programs with seeds from `seed * 10**7` on (a program without a smooth
point is replaced by the next seed), prints progress and each failure, and last exactly the line
`N passed, M failed`. The first failure of each signature is shrunk and shown; later ones with
the same signature are only listed. The exit status is 0 when every program passed. With
`--jobs J`, J processes check the programs, in batches of consecutive seeds taken in order: the
programs checked, the counts and the report are those of one process.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from adgen.fuzz.check import Outcome, check, prepare_workers
from adgen.fuzz.generate import FEATURES, Program, default_size, generate
from adgen.fuzz.shrink import shrink, signature


@dataclass
class Summary:
    """What `run` found: counts, and the failures, each shrunk once per signature."""

    passed: int = 0
    failed: int = 0
    replaced: int = 0
    failures: list[tuple[Program, Outcome]] = field(default_factory=list)
    shrunk: dict[str, tuple[Program, Outcome]] = field(default_factory=dict)

def reproduce(program: Program) -> str:
    """The command that shows and checks `program` again."""
    left_out = FEATURES - program.features
    without = f" --without {','.join(sorted(left_out))}" if left_out else ""
    return f"python -m adgen.fuzz --show {program.seed} --size {program.size}{without}"


def report(program: Program, outcome: Outcome, small: tuple[Program, Outcome] | None) -> str:
    """A failure, its smallest counterexample (if shrunk) and how to reproduce it."""
    text = (f"FAILED program seed={program.seed} size={program.size}: {signature(outcome)}\n"
            f"reproduce: {reproduce(program)}\n"
            f"{outcome.detail}\n")
    if small is None:
        return text + "(the same failure as an earlier program: not shrunk again)"
    what = "counterexample (not shrunk)" if small[0] is program else "smallest counterexample"
    program, outcome = small
    x, y, n = outcome.args or (None, None, None)
    return (f"{text}--- {what}: f(x, y, n) at x={x!r}, y={y!r}, n={n!r} in\n"
            f"{program.source}--- fails with:\n{outcome.detail}")


def _checked(task: tuple[int, int | None, frozenset[str]]) -> tuple[Program, Outcome]:
    """The program of a seed and its outcome (run in a worker process with `--jobs`)."""
    program_seed, size, features = task
    program = generate(program_seed, size or default_size(program_seed), features)
    return program, check(program)


def _outcomes(start: int, size: int | None, features: frozenset[str],
              jobs: int) -> Iterator[tuple[Program, Outcome]]:
    """`(program, outcome)` for the seeds from `start` on, in order; `jobs` processes check
    batches of consecutive seeds (the last batch's extra programs are checked, not counted)."""
    if jobs <= 1:
        for program_seed in itertools.count(start):
            yield _checked((program_seed, size, features))
        return
    batch = 32 * jobs
    prepare_workers()
    pool = ProcessPoolExecutor(jobs)
    try:
        for first in itertools.count(start, batch):
            tasks = [(s, size, features) for s in range(first, first + batch)]
            yield from pool.map(_checked, tasks, chunksize=4)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run(n: int, seed: int = 0, size: int | None = None, out: Any = None,
        minimize: bool = True, features: frozenset[str] = FEATURES, jobs: int = 1) -> Summary:
    """Check `n` programs; print progress and failures, and last `N passed, M failed`."""
    out = out or sys.stdout
    summary = Summary()
    every = max(1, n // 10)
    outcomes = _outcomes(seed * 10**7, size, features, jobs)
    for program, outcome in outcomes if n > 0 else ():
        summary.replaced += outcome.status == "skip"
        summary.passed += outcome.status == "pass"
        if outcome.status == "fail":
            _record(summary, program, outcome, minimize, out)
        done = summary.passed + summary.failed
        if outcome.status != "skip" and done % every == 0:
            print(f"progress: {done}/{n} programs checked, {summary.failed} failed, "
                  f"{summary.replaced} replaced (no smooth point)", file=out, flush=True)
        if done >= n or summary.replaced > 10 * n + 100:
            break
    outcomes.close()  # the workers stop
    print(f"{summary.passed} passed, {summary.failed} failed", file=out, flush=True)
    return summary


def _record(summary: Summary, program: Program, outcome: Outcome, minimize: bool,
            out: Any) -> None:
    summary.failed += 1
    summary.failures.append((program, outcome))
    key = signature(outcome)
    small = None
    if key not in summary.shrunk:
        small = summary.shrunk[key] = shrink(program, outcome) if minimize else (program, outcome)
    print(report(program, outcome, small), file=out, flush=True)


def _features(text: str) -> frozenset[str]:
    names = {name.strip() for name in text.split(",") if name.strip()}
    if names - FEATURES:
        raise argparse.ArgumentTypeError(
            f"unknown features {sorted(names - FEATURES)}; choose from {sorted(FEATURES)}")
    return frozenset(names)


def main(argv: list[str] | None = None) -> int:
    """`python -m adgen.fuzz`: exit status 0 when every program passed, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m adgen.fuzz",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="programs to check (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    parser.add_argument("--size", type=int, help="statements in f (default: 2 to 12 at random)")
    parser.add_argument("--without", type=_features, default=frozenset(), metavar="FEATURES",
                        help="constructs to leave out, comma-separated, of: "
                        + ", ".join(sorted(FEATURES)))
    parser.add_argument("--show", type=int, metavar="PROGRAM_SEED",
                        help="print the program of this seed and check it, instead of a run")
    parser.add_argument("--no-shrink", action="store_true", help="report failures unshrunk")
    parser.add_argument("--jobs", type=int, default=1,
                        help="processes checking programs (default 1; the same report)")
    args = parser.parse_args(argv)
    features = FEATURES - args.without
    if args.show is not None:
        program = generate(args.show, args.size or default_size(args.show), features)
        outcome = check(program)
        print(f"{program.source}--- {outcome.status} {outcome.kind}\n{outcome.detail}".rstrip())
        return 0 if outcome.status != "fail" else 1
    summary = run(args.n, args.seed, args.size, minimize=not args.no_shrink, features=features,
                  jobs=args.jobs)
    return 0 if summary.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
