"""The `adgen` command: print the code adgen generates for a function in a file.

    adgen show FILE.py:FUNC [--mode reverse|forward] [--wrt NAMES] [--trace] [--import]

prints the source of FUNC's gradient (`--mode reverse`, the default: `adgen.grad`), of its
Jacobian-vector product (`--mode forward`: `adgen.jvp`), or FUNC's evaluation trace
(`--trace`). `--wrt` names the parameters to differentiate with respect to, by name or by
index, separated by commas; the default is the first parameter. FILE.py is loaded statically,
without running its top level, unless `--import` is given (see `adgen.loader`).

`main(argv)` returns the exit status, so that it serves as the console script: 0 on success,
2 on an error. An error in the input (the file, the function, unsupported syntax, a function
adgen cannot differentiate, a bad argument) prints one line, `adgen: error: FILE:LINE:COL:
message`, never a traceback. Malformed command lines are reported by argparse (usage, then
the error). Any other exception is a bug in adgen and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any

import adgen
from adgen.errors import DifferentiationError
from adgen.loader import LoaderError, load_function

# What bad input raises (DifferentiationError is a TypeError; named here to say it is expected).
_INPUT_ERRORS = (LoaderError, SyntaxError, DifferentiationError, TypeError, ValueError)


def main(argv: list[str] | None = None) -> int:
    """Run the `adgen` command with `argv` (default: `sys.argv[1:]`); return the exit status."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, or a usage error argparse has already printed
        return done.code if isinstance(done.code, int) else 2
    try:
        return args.run(args)
    except _INPUT_ERRORS as exc:
        print(f"adgen: error: {_describe(exc, args.file)}", file=sys.stderr)
        return 2


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adgen",
        description="Source-to-source automatic differentiation for Python and NumPy.",
    )
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    _add_show(commands)
    # Future subcommands go here: one `_add_<name>(commands)` each, which builds its parser and
    # sets `run=` to a handler `(args) -> int` (e.g. `graph`: draw FUNC's evaluation trace).
    return parser


def _add_show(commands: Any) -> None:
    show = commands.add_parser(
        "show",
        help="print the generated derivative (or trace) of a function",
        description="Print the source adgen generates for the function FUNC in FILE.py.",
    )
    show.add_argument(
        "target", type=_parse_target, metavar="FILE.py:FUNC",
        help="the file and the name of a function defined at its top level",
    )
    show.add_argument(
        "--mode", choices=("reverse", "forward"),
        help="reverse: the gradient, adgen.grad (default); forward: the JVP, adgen.jvp",
    )
    show.add_argument(
        "--wrt", type=_parse_wrt, metavar="NAMES",
        help="parameters to differentiate with respect to, by name or index, comma-separated "
        "(e.g. x1,x2 or 0,1); default: the first parameter",
    )
    show.add_argument(
        "--trace", action="store_true",
        help="print the evaluation trace (the lowered primal) instead of a derivative",
    )
    show.add_argument(
        "--import", dest="allow_import", action="store_true",
        help="import FILE.py, running its top-level code, instead of loading it statically",
    )
    show.set_defaults(run=_run_show, file=None)


def _run_show(args: argparse.Namespace) -> int:
    args.file, name = args.target
    if args.trace and (args.mode or args.wrt is not None):
        raise ValueError("--trace prints the primal trace; it takes no --mode or --wrt")
    function = load_function(args.file, name, allow_import=args.allow_import)
    if args.allow_import:
        print(f"adgen: note: imported {args.file}; its top-level code ran", file=sys.stderr)
    if args.trace:
        text = adgen.trace(function)
    else:
        transform = adgen.jvp if args.mode == "forward" else adgen.grad
        text = adgen.source(transform(function, wrt=0 if args.wrt is None else args.wrt))
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _parse_target(text: str) -> tuple[str, str]:
    """`FILE.py:FUNC` -> (file, function name); the last colon splits (`C:\\x.py:f` works)."""
    file, colon, name = text.rpartition(":")
    if not (colon and file and name.isidentifier()):
        raise argparse.ArgumentTypeError(f"expected FILE.py:FUNC, got {text!r}")
    return file, name


def _parse_wrt(text: str) -> int | str | tuple[int | str, ...]:
    """`x1` -> 'x1', `0` -> 0, `x1,x2` / `0,1` -> a tuple."""
    items: list[int | str] = []
    for item in (part.strip() for part in text.split(",")):
        if re.fullmatch(r"-?\d+", item):
            items.append(int(item))
        elif item.isidentifier():
            items.append(item)
        else:
            raise argparse.ArgumentTypeError(
                f"expected parameter names or indices separated by commas, got {text!r}"
            )
    return items[0] if len(items) == 1 else tuple(items)


def _describe(exc: BaseException, file: str | None) -> str:
    """One line for an input error: `FILE:LINE:COL: message` when the place is known."""
    if isinstance(exc, SyntaxError):
        filename = exc.filename or "<unknown>"
        if file is not None and os.path.abspath(file) == filename:
            filename = file  # the file as the user spelled it on the command line
        place = ":".join(str(part) for part in (filename, exc.lineno, exc.offset) if part)
        return f"{place}: {exc.msg}"
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
