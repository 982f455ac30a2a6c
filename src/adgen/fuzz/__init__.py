"""Random differentiable programs, and a runner that checks adgen's derivatives on them.

    python -m adgen.fuzz --n 5000 [--seed S]

`generate(seed, size)` writes a random module with a smooth, bounded function
`f(x, y, n)` (`generate`, `expressions`); `check(program)` differentiates `f` in both modes at a
random smooth point and compares with finite differences, across modes and across two imports
(`check`); `shrink` reduces a failing program to a small one that fails the same way (`shrink`);
`run` and `main` are the command (`runner`).
"""

from adgen.fuzz.check import DRAWS, FD_RTOL, MODE_RTOL, TIME_LIMIT, CheckTimeout, Outcome, check
from adgen.fuzz.expressions import LIMIT
from adgen.fuzz.generate import FEATURES, Program, default_size, generate, sample
from adgen.fuzz.runner import Summary, main, report, reproduce, run
from adgen.fuzz.shrink import shrink, signature

__all__ = [
    "DRAWS",
    "FD_RTOL",
    "FEATURES",
    "LIMIT",
    "MODE_RTOL",
    "TIME_LIMIT",
    "CheckTimeout",
    "Outcome",
    "Program",
    "Summary",
    "check",
    "default_size",
    "generate",
    "main",
    "report",
    "reproduce",
    "run",
    "sample",
    "shrink",
    "signature",
]
