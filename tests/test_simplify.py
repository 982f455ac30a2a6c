"""The clean-ups of generated code, one rule at a time: code string in, code string out.

Each case feeds a small body through `codegen.simplify` and `codegen.liveness` (folding, copy
propagation, dead stores, single-use folding) with a purity test that calls nothing pure, and
compares the printed result. A case also runs both bodies on the same inputs where they compute
numbers, so a rewrite that changes a value fails even if its text was expected.
"""

import ast
import math

import gast
import pytest

from adgen.codegen import liveness, simplify


def _body(code: str) -> list:
    return gast.parse(code).body


def _text(body: list) -> str:
    module = gast.gast_to_ast(gast.Module(body=body, type_ignores=[]))
    return ast.unparse(ast.fix_missing_locations(module))


def _fold(code: str) -> str:
    return ast.unparse(gast.gast_to_ast(simplify.fold(gast.parse(code, mode="eval").body)))


def _no_calls_pure(rhs) -> bool:
    return not isinstance(rhs, gast.Call)


def _clean(code: str, protect=frozenset()) -> str:
    body = simplify.propagate(_body(code), protect=set(protect))
    body = liveness.drop_dead_stores(body, _no_calls_pure, set())
    return _text(simplify.inline_single_use(body, _no_calls_pure))


@pytest.mark.parametrize(("before", "after"), [
    ("-(-a * b)", "a * b"),
    ("-(-a * b / c)", "a * b / c"),
    ("-(a * -b)", "a * b"),  # a * -b is -(a * b) first
    ("-(a + -b)", "-(a - b)"),
    ("-(-a)", "a"),
    ("x_bar + -(y * 2.0)", "x_bar - y * 2.0"),
    ("2.0 * 3.0 + x", "6.0 + x"),
    ("1 * x", "x"),
    ("x ** 1", "x"),
    ("-1 * x", "-x"),
])
def test_fold(before, after):
    assert _fold(before) == after
    env = {"a": 1.5, "b": -0.25, "c": 3.0, "x": 0.7, "y": -2.0, "x_bar": 0.3}
    assert eval(after, {}, env) == eval(before, {}, env)  # negation and 1* are exact


@pytest.mark.parametrize(("before", "after"), [
    # a copy forwarded into its uses leaves `a = a`, which is dropped
    ("t = y\ny = t\nz = y * t\nreturn z", "return y * y"),
    # a copy forwarded past a call
    ("t = g(x)\ny = t\nreturn y", "t = g(x)\nreturn t"),
    # dead pure stores go, calls stay
    ("a = x * 2.0\nb = g(x)\nreturn x", "b = g(x)\nreturn x"),
    # a loop-carried value stays live
    ("s = 0.0\nfor i in range(3):\n    s = s + x\nreturn s",
     "s = 0.0\nfor i in range(3):\n    s = s + x\nreturn s"),
])
def test_clean(before, after):
    assert _clean(before) == after


@pytest.mark.parametrize(("before", "after"), [
    ("t = g(x)\ny = t\nreturn y * y", "y = g(x)\nreturn y * y"),
    ("t = g(x)\nprint(x)\ny = t\nreturn y * y", "t = g(x)\nprint(x)\ny = t\nreturn y * y"),
    ("t = x * 2.0\nprint(x)\ny = t\nreturn y * y", "print(x)\ny = x * 2.0\nreturn y * y"),
])
def test_a_call_moves_only_into_the_copy_right_after_it(before, after):
    assert _clean(before, protect={"y"}) == after  # `y` kept, as a caller's variable is


def test_clean_keeps_values():
    code = "t = y\ny = t\nu = y * 2.0\nv = u + t\nw = v\nreturn w * x"
    run = lambda body, x, y: _exec(body, x, y)  # noqa: E731
    cleaned = _clean(code)
    assert cleaned == "return (y * 2.0 + y) * x"
    assert run(cleaned, 0.3, 1.7) == run(code, 0.3, 1.7)


def _exec(body: str, x: float, y: float) -> float:
    namespace = {"math": math}
    exec("def f(x, y):\n" + "".join(f"    {line}\n" for line in body.splitlines()), namespace)
    return namespace["f"](x, y)


def test_folded_statement_keeps_the_line_it_absorbed():
    body = _body("a = x * 2.0\nreturn a + 1.0")
    body[0].adgen_line, body[0].adgen_adjoint = 7, True
    out = simplify.inline_single_use(body, _no_calls_pure)
    assert _text(out) == "return x * 2.0 + 1.0"
    assert (out[0].adgen_line, out[0].adgen_adjoint) == (7, True)


def test_a_statement_absorbing_different_lines_gets_none():
    body = _body("a = x * 2.0\nb = y * 3.0\nreturn a + b")
    body[0].adgen_line, body[1].adgen_line = 7, 8
    out = simplify.inline_single_use(body, _no_calls_pure)
    assert _text(out) == "return x * 2.0 + y * 3.0"
    assert getattr(out[0], "adgen_line", None) is None
