"""The `adgen` command: print the code adgen generates for a function in a file.

    adgen show FILE.py:FUNC [--mode reverse|forward | --hvp | --trace] [--wrt NAMES] [--import]
    adgen graph FILE.py:FUNC [--mode primal|reverse] [--wrt NAMES] [--args TUPLE]
                             [--format dot|svg|png] [-o OUT] [--import]
    adgen --version

prints the source of FUNC's gradient (`--mode reverse`, the default: `adgen.grad`), of its
Jacobian-vector product (`--mode forward`: `adgen.jvp`), of its Hessian-vector product
(`--hvp`: `adgen.hvp`, the tangent of the generated gradient, forward over reverse), or FUNC's
evaluation trace (`--trace`). `--wrt` names the parameters to differentiate with respect to, by
name or by index, separated by commas (`--hvp` takes one); the default is the first parameter.
FILE.py is loaded statically, without running its top level, unless `--import` is given (see
`adgen.frontend.loader`).

`graph` draws FUNC's evaluation trace (`adgen.graph`): Graphviz DOT text on standard output,
or in OUT with `-o`. `--mode reverse` adds the adjoint nodes (for `--wrt`, default: every
parameter). `--args` gives arguments as a Python literal (`"(1.5, 0.5)"`, read with
`ast.literal_eval`; a single value needs no tuple): FUNC's trace then runs on them, loops
unrolled. `--format svg|png` renders through Graphviz's `dot` program; without it the command
prints one error line saying how to install Graphviz and exits with 2.

`main(argv)` returns the exit status, so that it serves as the console script: 0 on success,
2 on an error. An error in the input (the file, the function, unsupported syntax, a function
adgen cannot differentiate, a bad argument) prints one line, `adgen: error: FILE:LINE:COL:
message`, never a traceback. Malformed command lines are reported by argparse (usage, then
the error). Any other exception is a bug in adgen and keeps its traceback.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
from typing import Any

import adgen
from adgen.errors import DifferentiationError
from adgen.frontend.loader import LoaderError, load_function

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
    parser.add_argument("--version", action="version", version=f"adgen {adgen.__version__}")
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    _add_show(commands)
    _add_graph(commands)
    # Future subcommands go here: one `_add_<name>(commands)` each, which builds its parser and
    # sets `run=` to a handler `(args) -> int`.
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
        "--hvp", action="store_true",
        help="print the Hessian-vector product, adgen.hvp: the forward-mode tangent of the "
        "reverse-mode gradient (one parameter in --wrt)",
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
    if args.trace and (args.mode or args.wrt is not None or args.hvp):
        raise ValueError("--trace prints the primal trace; it takes no --mode, --hvp or --wrt")
    if args.hvp and (args.mode or isinstance(args.wrt, tuple)):
        raise ValueError("--hvp differentiates the gradient forward over reverse; it takes no "
                         "--mode, and one parameter in --wrt")
    function = load_function(args.file, name, allow_import=args.allow_import)
    if args.allow_import:
        print(f"adgen: note: imported {args.file}; its top-level code ran", file=sys.stderr)
    if args.trace:
        text = adgen.trace(function)
    elif args.hvp:
        text = adgen.source(adgen.hvp(function, wrt=0 if args.wrt is None else args.wrt))
    else:
        transform = adgen.jvp if args.mode == "forward" else adgen.grad
        text = adgen.source(transform(function, wrt=0 if args.wrt is None else args.wrt))
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _add_graph(commands: Any) -> None:
    graph = commands.add_parser(
        "graph",
        help="draw the evaluation trace of a function (Graphviz DOT, SVG or PNG)",
        description="Draw the evaluation trace of the function FUNC in FILE.py: one node per "
        "primal step; --mode reverse adds the adjoint nodes.",
    )
    graph.add_argument(
        "target", type=_parse_target, metavar="FILE.py:FUNC",
        help="the file and the name of a function defined at its top level",
    )
    graph.add_argument(
        "--mode", choices=("primal", "reverse"), default="primal",
        help="primal: the evaluation trace (default); reverse: with its adjoint nodes",
    )
    graph.add_argument(
        "--wrt", type=_parse_wrt, metavar="NAMES",
        help="with --mode reverse: the parameters whose adjoints to draw, by name or index, "
        "comma-separated; default: every parameter",
    )
    graph.add_argument(
        "--args", type=_parse_args, metavar="TUPLE",
        help='arguments as a Python literal, e.g. "(0.5, 3)": run the trace on them and draw '
        "the executed steps (loops unrolled)",
    )
    graph.add_argument(
        "--format", choices=("dot", "svg", "png"), default="dot",
        help="dot: Graphviz text (default); svg, png: rendered by Graphviz's `dot` program",
    )
    graph.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")
    graph.add_argument(
        "--import", dest="allow_import", action="store_true",
        help="import FILE.py, running its top-level code, instead of loading it statically",
    )
    graph.set_defaults(run=_run_graph, file=None)


def _run_graph(args: argparse.Namespace) -> int:
    args.file, name = args.target
    if args.wrt is not None and args.mode != "reverse":
        raise ValueError("--wrt chooses the adjoints to draw; it needs --mode reverse")
    dot = None
    if args.format == "png" and not args.output and sys.stdout.isatty():
        raise ValueError("--format png writes binary data: give -o OUT.png or redirect stdout")
    if args.format != "dot":
        dot = shutil.which("dot")
        if dot is None:
            print(f"adgen: error: --format {args.format} needs Graphviz's `dot` program; "
                  "install Graphviz (e.g. apt-get install graphviz), or use --format dot",
                  file=sys.stderr)
            return 2
    function = load_function(args.file, name, allow_import=args.allow_import)
    if args.allow_import:
        print(f"adgen: note: imported {args.file}; its top-level code ran", file=sys.stderr)
    text = adgen.graph(function, mode=args.mode, args=args.args, wrt=args.wrt)
    data = text.encode()
    if dot is not None:
        done = subprocess.run([dot, f"-T{args.format}"], input=data, capture_output=True,
                              check=False)
        if done.returncode:
            problem = done.stderr.decode(errors="replace").strip().splitlines()
            print(f"adgen: error: dot failed: {problem[0] if problem else done.returncode}",
                  file=sys.stderr)
            return 2
        data = done.stdout
    if args.output:
        with open(args.output, "wb") as out:
            out.write(data)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0


def _parse_args(text: str) -> tuple[Any, ...]:
    """`--args` text -> a tuple of arguments (a lone value is one argument)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(
            f"expected a Python literal such as (1.5, 0.5), got {text!r}"
        ) from None
    return value if isinstance(value, tuple) else (value,)


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
