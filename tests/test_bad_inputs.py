"""Bad inputs: every unsupported or malformed input gets one of adgen's own clear errors.

Each case names the exception type exactly, the line of this file it must point at (as an offset
from the `def` line), and words of the message that say what is wrong and what to do instead.
Whatever escapes is checked by type, so an internal error of adgen's (AttributeError, KeyError,
IndexError, NameError, RecursionError, ...) fails the case even where a message would match.
Cases where the engine does not yet do the right thing are strict xfails naming the problem.

The command-line cases run `python -m adgen show` on the files in tests/bad_inputs/ and expect
exit status 2, an empty stdout and one stderr line starting `adgen: error:`, never a traceback.
"""

from __future__ import annotations

import functools
import math
import pathlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import adgen
from adgen import DifferentiationError, UnsupportedSyntax

HERE = pathlib.Path(__file__).parent
BAD = HERE / "bad_inputs"
G = 1.0  # written by `global_write`


# ---------------------------------------------------------------- unsupported syntax


def generator(x):
    yield x * x


def yield_from(x):
    yield from [x, x]


async def coroutine(x):
    return x * x


def class_inside(x):
    class Box:
        pass
    return x * x


def global_write(x):
    global G
    G = x
    return x * x


def _make_nonlocal():
    z = 1.0

    def nonlocal_write(x):
        nonlocal z
        z = x
        return x * z

    return nonlocal_write


nonlocal_write = _make_nonlocal()


def try_finally_return(x):
    try:
        return math.log(x)
    finally:
        x = 0.0


def try_computed_type(x):
    y = x
    try:
        y = math.log(y)
    except type(ValueError()):
        y = y + 1.0
    return y


def with_a_name(x):
    manager = open(__file__)
    with manager:
        manager.read(1)
    return x * x


def match_statement(x):
    match x:
        case 0.0:
            return x
        case _:
            return x * x


def starred_call(x):
    pair = (x, x)
    return math.hypot(*pair)


def double_star_call(x):
    options = {"axis": 0}
    return np.sum(x, **options)


def attribute_write(p):
    p.x = 1.0
    return p


def attribute_augment(p):
    p.x += 1.0
    return p


def set_display(x):
    seen = {x, 2.0}
    return x * len(seen)


def dict_comprehension(x):
    table = {i: x * i for i in range(3)}
    return table[1]


def set_comprehension(x):
    seen = {x * i for i in range(3)}
    return x * len(seen)


def delete_item(x):
    items = [x, x * x]
    del items[0]
    return items[0]


def walrus(x):
    if (y := x * x) > 1.0:
        return y
    return x


def import_missing(x):
    import no_such_module_for_adgen  # noqa: F401
    return x * x


def import_from_missing(x):
    from math import no_such_function  # noqa: F401
    return x * x


def while_else_continue(x):
    k = 0
    while k < 3:
        k += 1
        if k == 1:
            continue
    else:
        x = x * 2.0
    return x


def dict_double_star(x):
    table = {**{"a": x}}
    return table["a"]


# ---------------------------------------------------------------- calls adgen cannot follow


def no_rule_math(x):
    return math.remainder(x, 2.0)


def no_rule_fft(x):
    return np.sum(np.abs(np.fft.fft(x)))


def no_rule_method(x):
    return np.sum(x.compress([True, False, True]))


def unknown_callee(x):
    return nowhere(x)  # noqa: F821


def uses_eval(x):
    return eval("x * x")


def uses_exec(x):
    exec("x = 2.0 * x")
    return x * x


# ---------------------------------------------------------------- writes through aliases


def alias_write(x):
    v = np.array([x, 1.0])
    w = v
    w[0] = x * 3.0
    return np.sum(v * v)


def alias_append(x):
    xs = [x]
    ys = xs
    ys.append(x * x)
    return sum(xs)


def view_write(x):
    v = np.array([x, 1.0, 2.0])
    w = v[1:]
    w[0] = x * 5.0
    return np.sum(v * v)


def reshape_write(x):
    v = np.array([x, 1.0, 2.0, 3.0])
    m = v.reshape(2, 2)
    m[0, 0] = x
    return np.sum(v)


def shared_array_update(x):
    v = np.array([x, 1.0])
    w = v
    w += x
    return np.sum(v * v)


def loop_item_append(x):
    rows = [[x], [x * x]]
    for row in rows:
        row.append(1.0)
    return sum(rows[0]) + sum(rows[1])


# ---------------------------------------------------------------- outputs grad cannot take


def vector_output(x):
    return x * 2.0


def list_output(x):
    return [x, x * x]


def string_output(x):
    return "x"


def none_output(x):
    x * x


def two(x, y):
    return x * y


class Model:
    def loss(self, x):
        return x * x


_EXEC_NAMESPACE: dict[str, Any] = {}
exec("def made_by_exec(x):\n    return x * x\n", _EXEC_NAMESPACE)


# ---------------------------------------------------------------- the catalog


def _grad(f: Callable[..., Any], wrt: Any = 0) -> Callable[[], Any]:
    return lambda: adgen.grad(f, wrt=wrt)(2.0, 3.0) if f is two else adgen.grad(f, wrt=wrt)(2.0)


def _on_vector(op: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[[], Any]]:
    return lambda f: lambda: op(f)(np.array([1.0, 2.0, 3.0]))


_FORWARD = _on_vector(lambda f: adgen.grad(f, mode="forward"))
_REVERSE = _on_vector(adgen.grad)


@dataclass(frozen=True)
class Bad:
    """One bad input: what to call, what must be raised, where, and what the message says."""

    fn: Any
    error: type[Exception]
    line: int | None  # offset of the offending line from `def`; None: no line applies
    says: tuple[str, ...]
    call: Callable[[Any], Callable[[], Any]] = _grad

    @property
    def id(self) -> str:
        return getattr(self.fn, "__name__", type(self.fn).__name__)


def _xfail(case: Bad, reason: str) -> Any:
    return pytest.param(case, id=case.id, marks=pytest.mark.xfail(strict=True, reason=reason))


SYNTAX = [
    Bad(generator, UnsupportedSyntax, 1, ("generators", "`yield`", "return a list")),
    Bad(yield_from, UnsupportedSyntax, 1, ("`yield from`", "return a list")),
    Bad(coroutine, UnsupportedSyntax, None, ("async functions", "plain (not async) function")),
    Bad(coroutine, UnsupportedSyntax, 0, ("async functions",)),
    Bad(class_inside, UnsupportedSyntax, 1, ("class definitions", "outside the function")),
    Bad(global_write, UnsupportedSyntax, 1, ("`global`", "return the new one")),
    Bad(nonlocal_write, UnsupportedSyntax, 1, ("`nonlocal`", "return the new one")),
    Bad(try_finally_return, UnsupportedSyntax, 1, ("`return`, `break` or `continue` in a "
                                                    "`try` with `finally`", "leave the `try`")),
    Bad(try_computed_type, UnsupportedSyntax, 4, ("exception type is not a name",
                                                  "name the exception class")),
    Bad(with_a_name, UnsupportedSyntax, 2, ("not made by a call", "write the call in the")),
    Bad(match_statement, UnsupportedSyntax, 1, ("`match`", "`if`/`elif`")),
    Bad(starred_call, UnsupportedSyntax, 2, ("starred", "one by one")),
    Bad(double_star_call, UnsupportedSyntax, 2, ("starred `*`/`**` arguments in a call of sum",
                                                 "one by one")),
    Bad(attribute_write, UnsupportedSyntax, 1, ("attributes", "local variable")),
    Bad(attribute_augment, UnsupportedSyntax, 1, ("attributes", "local variable")),
    Bad(set_display, UnsupportedSyntax, 1, ("set displays", "list or tuple")),
    Bad(dict_comprehension, UnsupportedSyntax, 1, ("dict comprehensions", "`for`")),
    Bad(set_comprehension, UnsupportedSyntax, 1, ("set comprehensions", "`for`")),
    Bad(delete_item, UnsupportedSyntax, 2, ("`del` of items", "build a new value")),
    Bad(walrus, UnsupportedSyntax, 1, ("`:=`", "on a line of its own")),
    Bad(import_missing, UnsupportedSyntax, 1, ("this import", "no_such_module_for_adgen",
                                               "check the module name")),
    Bad(import_from_missing, UnsupportedSyntax, 1, ("this import", "no_such_function",
                                                    "check the module name")),
    Bad(while_else_continue, UnsupportedSyntax, 2, ("`while ... else`", "after the loop")),
    Bad(dict_double_star, UnsupportedSyntax, 1, ("`**` in dict displays", "key by key")),
]

CALLS = [
    Bad(no_rule_math, DifferentiationError, 1, ("no derivative rule", "math.remainder",
                                                "adgen.tangent_rule")),
    Bad(no_rule_fft, DifferentiationError, 1, ("no derivative rule", "fft"), _REVERSE),
    Bad(no_rule_fft, DifferentiationError, 1, ("no derivative rule", "fft"), _FORWARD),
    Bad(no_rule_method, DifferentiationError, 1, ("no derivative rule", "ndarray.compress"),
        _REVERSE),
    Bad(unknown_callee, DifferentiationError, 1, ("cannot tell which function",
                                                  "module-level name")),
    Bad(no_rule_fft, DifferentiationError, 1, ("numpy.fft.fft",), _REVERSE),
    Bad(uses_eval, UnsupportedSyntax, 1, ("`eval`", "write the expression out")),
    Bad(uses_exec, UnsupportedSyntax, 1, ("`exec`", "write the expression out")),
]

OUTPUTS = [
    Bad(vector_output, DifferentiationError, None, ("scalar", "adgen.vjp", "adgen.jacobian"),
        _FORWARD),
    Bad(vector_output, DifferentiationError, None, ("scalar", "adgen.vjp"), _REVERSE),
    Bad(list_output, DifferentiationError, None, ("scalar", "adgen.vjp")),
    Bad(string_output, DifferentiationError, None, ("scalar",)),
    Bad(none_output, DifferentiationError, None, ("scalar",)),
]

WRT = [
    Bad(two, DifferentiationError, None, ("wrt=5", "names no parameter", "two(x, y)",
                                          "0 to 1"), lambda f: _grad(f, 5)),
    Bad(two, DifferentiationError, None, ("wrt=-3", "names no parameter"),
        lambda f: _grad(f, -3)),
    Bad(two, DifferentiationError, None, ("wrt='z'", "names no parameter", "or name"),
        lambda f: _grad(f, "z")),
    Bad(two, DifferentiationError, None, ("wrt=(0, 0)", "twice"), lambda f: _grad(f, (0, 0))),
    Bad(two, DifferentiationError, None, ("twice",), lambda f: _grad(f, ("x", 0))),
    Bad(two, DifferentiationError, None, ("wrt=True", "names no parameter"),
        lambda f: _grad(f, True)),
    Bad(two, DifferentiationError, None, ("wrt=1.5",), lambda f: _grad(f, 1.5)),
]

NO_SOURCE = [
    Bad(math.sin, DifferentiationError, None, ("cannot read the source", "registered rule")),
    Bad(np.sin, DifferentiationError, None, ("cannot read the source", "registered rule")),
    Bad(abs, DifferentiationError, None, ("cannot read the source",)),
    Bad(_EXEC_NAMESPACE["made_by_exec"], DifferentiationError, None,
        ("cannot read the source", "built with exec")),
    Bad(functools.partial(two, 1.0), DifferentiationError, None, ("cannot read the source",)),
    Bad(Model, DifferentiationError, None, ("cannot read the source",)),
    Bad(Model().loss, DifferentiationError, None, ("bound method", "Model.loss",
                                                   "takes the parameters explicitly")),
    Bad(two, DifferentiationError, None, ("not generated by adgen", "adgen.trace"),
        lambda f: lambda: adgen.source(f)),
    Bad(two, ValueError, None, ("mode must be one of", "'sideways'"),
        lambda f: lambda: adgen.grad(f, mode="sideways")),
]

ALIASES = [
    Bad(alias_write, UnsupportedSyntax, 3, ("writing into `w`", "share its object with `v`",
                                            "(line", "w = v.copy()")),
    Bad(alias_append, UnsupportedSyntax, 3, ("writing into `ys`", "`xs`", "list(xs)")),
    Bad(view_write, UnsupportedSyntax, 3, ("writing into `w`", "`v`", "not shared memory")),
    Bad(reshape_write, UnsupportedSyntax, 3, ("writing into `m`", "`v`")),
    Bad(loop_item_append, UnsupportedSyntax, 3, ("writing into `row`", "`rows`")),
    Bad(shared_array_update, DifferentiationError, None, ("test_bad_inputs.py:", "`w += ...`",
                                                          "ndarray", "w = w + ...")),
    Bad(shared_array_update, DifferentiationError, None, ("`w += ...`",),
        lambda f: lambda: adgen.grad(f, mode="forward")(2.0)),
]

CATALOG = SYNTAX + CALLS + OUTPUTS + WRT + NO_SOURCE + ALIASES


def _case_id(case: Any) -> str:
    return case.id if isinstance(case, Bad) else str(case)


# ---------------------------------------------------------------- checks


def _raised(thunk: Callable[[], Any]) -> BaseException:
    try:
        thunk()
    except Exception as exc:  # every type is inspected by the caller
        return exc
    pytest.fail("no exception raised")


def _source_line(fn: Any, offset: int) -> tuple[int, str]:
    code = fn.__code__
    line = code.co_firstlineno + offset
    return line, pathlib.Path(code.co_filename).read_text().splitlines()[line - 1]


def _check_place(case: Bad, exc: BaseException) -> None:
    line, text = _source_line(case.fn, case.line)
    if isinstance(exc, SyntaxError):
        assert exc.lineno == line, f"points at line {exc.lineno}, expected {line}: {text!r}"
        assert exc.filename == case.fn.__code__.co_filename
        assert exc.text is not None and exc.text.strip() == text.strip()
        assert exc.offset is not None and exc.offset >= 1
    else:
        prefix = f"{case.fn.__code__.co_filename}:{line}: `{text.strip()}`:"
        assert str(exc).startswith(prefix), f"{str(exc)!r} does not start with {prefix!r}"


@pytest.mark.parametrize("case", CATALOG, ids=_case_id)
def test_bad_input_gets_a_clear_error(case: Bad) -> None:
    exc = _raised(case.call(case.fn))
    assert type(exc) is case.error, f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    for words in case.says:
        assert words in message, f"{words!r} not in {message!r}"
    if case.line is not None:
        _check_place(case, exc)


def test_catalog_is_large() -> None:
    assert len(CATALOG) >= 40


# Every derivative operator must report unsupported syntax the same way.
OPERATORS = {
    "grad": lambda f: adgen.grad(f)(2.0),
    "grad-forward": lambda f: adgen.grad(f, mode="forward")(2.0),
    "value_and_grad": lambda f: adgen.value_and_grad(f)(2.0),
    "jvp": lambda f: adgen.jvp(f)(2.0, 1.0),
    "vjp": lambda f: adgen.vjp(f)(2.0, 1.0),
    "jacobian": lambda f: adgen.jacobian(f)(2.0),
    "hessian": lambda f: adgen.hessian(f)(2.0),
    "hvp": lambda f: adgen.hvp(f)(2.0, 1.0),
    "trace": adgen.trace,
}


@pytest.mark.parametrize("operator", OPERATORS.values(), ids=OPERATORS.keys())
@pytest.mark.parametrize("fn", [try_finally_return, generator, set_display],
                         ids=lambda f: f.__name__)
def test_every_operator_reports_unsupported_syntax(operator: Any, fn: Any) -> None:
    exc = _raised(lambda: operator(fn))
    assert type(exc) is UnsupportedSyntax
    assert exc.lineno == fn.__code__.co_firstlineno + 1


# ---------------------------------------------------------------- inputs that must work


def prints(x):
    print("x is", x)
    return x * x


def formats(x):
    label = f"x={x:.3f}"
    assert label.startswith("x=")
    return x * x


def local_lambda(x):
    a = 2.0 * x
    scale = lambda t: t * a  # noqa: E731
    return scale(x)


def local_def(x):
    a = 2.0 * x

    def scale(t):
        return t * a

    return scale(x)


def reads_global(x):
    return G * x * x


def generator_expression(x):
    return sum(t * t for t in [x, x])


def deletes_name(x):
    y = x * x
    del y
    return x * 3.0


def imports_inside(x):
    import math as m
    from math import cos
    return m.sin(x) + cos(x)


def names_meet_after_the_writes(x):
    w = np.zeros(2)
    w[0] = x
    v = w  # only read from here on
    return np.sum(v * v)


def alias_rebound_before_the_write(x):
    v = np.array([x, 1.0])
    w = v
    w = np.zeros(2)
    w[0] = x * x
    return np.sum(v) + np.sum(w)


def shared_number_update(x):
    s = x
    s += 1.0
    return s * x


def element_read_then_write(x):
    xs = [x, 2.0 * x]
    first = xs[0]
    xs[0] = first * first
    return xs[0] + xs[1] + first


@pytest.mark.parametrize("fn, expected", [
    (prints, 4.0), (formats, 4.0), (local_lambda, 8.0), (local_def, 8.0), (reads_global, 4.0),
    (deletes_name, 3.0), (imports_inside, math.cos(2.0) - math.sin(2.0)),
    (generator_expression, 8.0), (names_meet_after_the_writes, 4.0),
    (alias_rebound_before_the_write, 5.0), (element_read_then_write, 2 * 2.0 + 3.0),
    (shared_number_update, 2 * 2.0 + 1.0),
], ids=lambda v: getattr(v, "__name__", ""))
def test_harmless_constructs_differentiate(fn: Any, expected: float) -> None:
    for mode in ("reverse", "forward"):
        assert adgen.grad(fn, mode=mode)(2.0) == pytest.approx(expected, rel=1e-12)


def test_print_still_prints(capsys: Any) -> None:
    adgen.grad(prints)(2.0)
    assert capsys.readouterr().out == "x is 2.0\n"


def test_non_scalar_output_message_is_clear_in_reverse_mode() -> None:
    exc = _raised(lambda: adgen.grad(vector_output)(np.ones(3)))
    assert isinstance(exc, TypeError)
    assert "scalar" in str(exc) and "adgen.vjp" in str(exc) and "vector_output" in str(exc)


# ---------------------------------------------------------------- the command line


def _show(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "adgen", "show", *args], capture_output=True,
                          text=True, timeout=120, cwd=HERE.parent)


CLI = {
    "syntax-error": ([f"{BAD / 'syntax_error.txt'}:f"], ("syntax_error.txt:7:", "syntax")),
    "missing-file": ([f"{BAD / 'nothere.py'}:f"], ("nothere.py", "no such file")),
    "directory": ([f"{BAD}:f"], ("is a directory",)),
    "missing-function": ([f"{BAD / 'unsupported.py'}:missing"],
                         ("no function 'missing'", "guarded, counts, fine")),
    "not-a-function": ([f"{BAD / 'unsupported.py'}:LIMIT"], ("no function 'LIMIT'",)),
    "unsupported-try": ([f"{BAD / 'unsupported.py'}:guarded"],
                        ("unsupported.py:9:", "`match`", "`if`/`elif`")),
    "unsupported-yield": ([f"{BAD / 'unsupported.py'}:counts"],
                          ("unsupported.py:16:", "generators")),
    "unknown-wrt": ([f"{BAD / 'unsupported.py'}:fine", "--wrt", "z"],
                    ("wrt='z'", "names no parameter")),
    "wrt-out-of-range": ([f"{BAD / 'unsupported.py'}:fine", "--wrt", "3"],
                         ("wrt=3", "names no parameter")),
}


@pytest.mark.parametrize("args, says", CLI.values(), ids=CLI.keys())
def test_cli_reports_one_line(args: list[str], says: tuple[str, ...]) -> None:
    done = _show(*args)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("adgen: error: "), done.stderr
    for words in says:
        assert words in lines[0]


def test_cli_malformed_target_is_a_usage_error() -> None:
    done = _show(str(BAD / "unsupported.py"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("adgen show: error: ")


def test_cli_accepts_the_good_function_in_the_same_file() -> None:
    done = _show(f"{BAD / 'unsupported.py'}:fine")
    assert done.returncode == 0, done.stderr
    assert "def fine_grad(x):" in done.stdout


def test_float_code_does_not_pay_for_the_shared_update_check() -> None:
    """`s = x; s += 1.0` is checked at run time only where `s` may be an array: the
    float-specialised gradient has no check."""
    g = adgen.grad(shared_number_update)
    assert "numbers_only(x, 's'" in adgen.source(g)  # (s = x was propagated)
    assert "numbers_only" not in adgen.source(g, 2.0)
    assert g(2.0) == pytest.approx(adgen.grad(shared_number_update)(np.float64(2.0)))
