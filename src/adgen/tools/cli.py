"""The `adgen` command: print the code adgen generates for a function in a file.

    adgen show FILE.py:FUNC [--mode reverse|forward | --hvp | --trace] [--args TUPLE]
                            [--wrt NAMES] [--import]
    adgen graph FILE.py:FUNC [--mode primal|reverse] [--wrt NAMES] [--args TUPLE]
                             [--format dot|svg|png] [-o OUT] [--import]
    adgen --version

prints the source of FUNC's gradient (`--mode reverse`, the default: `adgen.grad`), of its
Jacobian-vector product (`--mode forward`: `adgen.jvp`), of its Hessian-vector product
(`--hvp`: `adgen.hvp`, the tangent of the generated gradient, forward over reverse), or FUNC's
evaluation trace (`--trace`; with `--args`, the trace those arguments run, loops unrolled and
branches resolved, as `adgen.trace(f, *args)`). With `--args` and no `--trace`, it prints the
gradient specialised to those arguments' types and shapes, `adgen.source(adgen.grad(f),
*args)`: the function such a call runs. `--wrt` names the parameters to differentiate
with respect to, by name or by index, separated by commas (`--hvp` takes one); the default is
the first parameter. The comments in the output name the lines of FILE.py they come from (for
`--hvp` too, whose code is the tangent of generated code). FILE.py is loaded statically,
without running its top level, unless `--import` is given (see `adgen.frontend.loader`): rules
the file registers (`adgen.tangent_rule`, `adgen.adjoint_rule`, `adgen.nondifferentiable`) do
not run then, which a note says beside a derivative, and a refusal they would have avoided
suggests `--import`.

`graph` draws FUNC's evaluation trace (`adgen.graph`): Graphviz DOT text on standard output,
or in OUT with `-o`. `--mode reverse` adds the adjoint nodes (for `--wrt`, default: every
parameter). `--args` (for `show --trace` too) gives arguments as a Python literal
(`"(1.5, 0.5)"`, read with `ast.literal_eval`; a single value needs no tuple): FUNC's trace
then runs on them, loops unrolled. `--format svg|png` renders through Graphviz's `dot`
program; without it the command prints one error line saying how to install Graphviz and
exits with 2.

`main(argv)` returns the exit status, so that it serves as the console script: 0 on success,
2 on an error. An error in the input (the file, the function, unsupported syntax, a function
adgen cannot differentiate, a bad argument) prints one line, `adgen: error: FILE:LINE:COL:
message`, never a traceback; so does an exception FUNC raises on the `--args` given.
Malformed command lines are reported by argparse (usage, then the error). Any other exception
is a bug in adgen and keeps its traceback.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import inspect
import linecache
import os
import re
import shutil
import subprocess
import sys
import traceback
from collections.abc import Iterator
from typing import Any

import numpy as np

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
        "--args", type=_parse_args, metavar="TUPLE",
        help='arguments as Python literals or np.zeros/np.ones/np.array(...) of literals, e.g. '
        '"(np.zeros((4, 3)), 0.5)": with --trace print the trace they run, loops unrolled '
        "and branches resolved (adgen.trace(f, *args)); else the gradient specialised to "
        "their types and shapes (adgen.source(adgen.grad(f), *args))",
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
    if args.args is not None and not args.trace and (args.hvp or args.mode == "forward"):
        raise ValueError("--args gives the inputs whose unrolled trace --trace prints, or "
                         "whose specialised gradient (reverse mode) is printed")
    function = load_function(args.file, name, allow_import=args.allow_import)
    if args.allow_import:
        print(f"adgen: note: imported {args.file}; its top-level code ran", file=sys.stderr)
    if args.trace:
        text = _trace(function, args.args, args.file)
    else:
        wrt = 0 if args.wrt is None else args.wrt
        transform = adgen.hvp if args.hvp else adgen.jvp if args.mode == "forward" else adgen.grad
        with _static_rules_hint(args):
            values = () if args.args is None else args.args
            text = adgen.source(transform(function, wrt=wrt), *values)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _trace(function: Any, values: tuple[Any, ...] | None, file: str) -> str:
    """FUNC's trace, or with `--args` the unrolled trace those arguments run."""
    if values is None:
        return adgen.trace(function)
    try:
        inspect.signature(function).bind(*values)
    except TypeError as exc:
        raise TypeError(f"{function.__name__}{inspect.signature(function)} cannot take "
                        f"--args {values!r}: {exc}") from None
    with _running(function, values, file):
        return adgen.trace(function, *values)


@contextlib.contextmanager
def _running(function: Any, values: tuple[Any, ...] | None, file: str) -> Iterator[None]:
    """Report an exception FUNC raises on `--args` as an input error (a `ValueError`) at the
    user's line."""
    try:
        yield
    except Exception as exc:
        place = None if values is None else _user_place(exc, function, file)
        if place is None:  # raised by adgen itself: a bug, keep the traceback
            raise
        raise ValueError(f"{place}: {function.__name__} raised {type(exc).__name__} on --args "
                         f"{values!r}: {exc}") from exc


def _user_place(exc: BaseException, function: Any, file: str) -> str | None:
    """Where the user's code raised `exc` (`FILE:LINE`, or FILE), None if adgen's own code
    did. The innermost frame that is adgen's, the user's file or generated code decides
    (library frames below the user's call do not); generated code names the user's line in
    the `# line N: ...` comment above the statement that raised."""
    package = os.path.dirname(adgen.__file__) + os.sep
    user_file = function.__code__.co_filename
    last = None
    for frame, line in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if filename.startswith((package, "<adgen ")) or filename == user_file:
            last = (filename, line, frame.f_code.co_name)
    if last is None or last[0].startswith(package):
        return None
    filename, line, code_name = last
    if filename == user_file:
        return file if code_name == "<module>" else f"{file}:{line}"
    for text in reversed(linecache.getlines(filename)[:line]):
        found = re.match(r"\s*# (?:adjoint of )*line (\d+):", text)
        if found:
            return f"{file}:{found[1]}"
    return file


@contextlib.contextmanager
def _static_rules_hint(args: argparse.Namespace) -> Iterator[None]:
    """Say that FILE's own derivative rules did not run when it was loaded statically: as a
    note beside the output, or in a refusal a rule would have avoided ('no derivative rule',
    unsupported syntax), which then suggests --import."""
    rules = [] if args.allow_import else _rule_registrations(args.file)
    if not rules:
        yield
        return
    where = ", ".join(f"line {line}: {text}" for line, text in rules[:3])
    where += ", ..." if len(rules) > 3 else ""
    hint = (f"{args.file} registers its own rules ({where}), but static loading does not "
            "run them: give --import to run the file and use them")
    try:
        yield
    except SyntaxError as exc:  # unsupported syntax, which a rule for the function would skip
        raise SyntaxError(f"{exc.msg}; {hint}",
                          (exc.filename, exc.lineno, exc.offset, exc.text)) from None
    except DifferentiationError as exc:
        if "no derivative rule" not in str(exc):
            raise
        raise DifferentiationError(f"{exc}; {hint}") from None
    print(f"adgen: note: {args.file} registers its own derivative rules ({where}); static "
          "loading does not run them, so this output does not use them: give --import to "
          "use them", file=sys.stderr)


_RULE_CALLS = ("tangent_rule", "adjoint_rule", "nondifferentiable")


def _rule_registrations(file: str) -> list[tuple[int, str]]:
    """Where FILE's top level registers derivative rules (`@adgen.tangent_rule(f)`,
    `adgen.nondifferentiable(g)`, ...): (line, the call as written)."""
    try:
        with open(file, "rb") as source:
            tree = ast.parse(source.read())
    except (OSError, SyntaxError, ValueError):
        return []
    found = []
    for stmt in tree.body:
        calls = getattr(stmt, "decorator_list", [])
        if isinstance(stmt, ast.Expr):
            calls = [stmt.value]
        for call in calls:
            if isinstance(call, ast.Call) and _called_name(call.func) in _RULE_CALLS:
                found.append((call.lineno, ast.unparse(call)))
    return found


def _called_name(func: ast.expr) -> str | None:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


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
    hint = _static_rules_hint(args) if args.mode == "reverse" else contextlib.nullcontext()
    with hint, _running(function, args.args, args.file):
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


_ARRAY_MAKERS = ("zeros", "ones", "full", "eye", "array", "arange", "linspace")


def _parse_args(text: str) -> tuple[Any, ...]:
    """`--args` text -> a tuple of arguments (a lone value is one argument): Python literals
    and NumPy arrays made by `np.zeros((64, 10))`, `np.ones(3)`, `np.array([[1.0, 2.0]])`,
    ... of literals (nothing else is evaluated)."""
    try:
        value = _literal(ast.parse(text.strip(), mode="eval").body)
    except (ValueError, SyntaxError, TypeError):
        raise argparse.ArgumentTypeError(
            f"expected Python literals or np.zeros/np.ones/np.full/np.eye/np.array/np.arange/"
            f"np.linspace of literals, such as (np.zeros((4, 3)), 0.5), got {text!r}"
        ) from None
    return value if isinstance(value, tuple) else (value,)


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Tuple):
        return tuple(_literal(e) for e in node.elts)
    if isinstance(node, ast.List):
        return [_literal(e) for e in node.elts]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id in ("np", "numpy")
            and node.func.attr in _ARRAY_MAKERS):
        made = getattr(np, node.func.attr)
        return made(*[_literal(a) for a in node.args],
                    **{k.arg: _literal(k.value) for k in node.keywords if k.arg})
    return ast.literal_eval(node)


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
