"""A fast printer for the expressions and simple statements adgen generates.

Generated code uses a small part of Python (names, constants, operators, calls, attributes,
subscripts, displays, comparisons); this prints those directly, with Python's operator
precedence, and hands anything else to astor (`emit`'s fallback). Parentheses follow the
precedence table: a child binds tighter than its parent or is parenthesised.
"""

from __future__ import annotations

import math
from typing import Any

import gast

_BINARY = {
    gast.Add: ("+", 10), gast.Sub: ("-", 10), gast.Mult: ("*", 11), gast.MatMult: ("@", 11),
    gast.Div: ("/", 11), gast.FloorDiv: ("//", 11), gast.Mod: ("%", 11), gast.Pow: ("**", 13),
    gast.BitOr: ("|", 6), gast.BitXor: ("^", 7), gast.BitAnd: ("&", 8),
    gast.LShift: ("<<", 9), gast.RShift: (">>", 9),
}
_UNARY = {gast.USub: ("-", 12), gast.UAdd: ("+", 12), gast.Invert: ("~", 12),
          gast.Not: ("not ", 4)}
_COMPARE = {gast.Eq: "==", gast.NotEq: "!=", gast.Lt: "<", gast.LtE: "<=", gast.Gt: ">",
            gast.GtE: ">=", gast.Is: "is", gast.IsNot: "is not", gast.In: "in",
            gast.NotIn: "not in"}
_ATOM = 16


class Unsupported(Exception):
    """A node this printer leaves to astor."""


def _constant(value: Any) -> tuple[str, int]:
    if value is Ellipsis:
        return "...", _ATOM
    if isinstance(value, float) and not math.isfinite(value):
        raise Unsupported
    if isinstance(value, complex | bytes):
        raise Unsupported
    text = repr(value)
    negative = isinstance(value, int | float) and not isinstance(value, bool) and (
        text.startswith("-"))
    return text, (12 if negative else _ATOM)


def expr(node: gast.AST) -> tuple[str, int]:
    """(source, precedence) of an expression."""
    kind = type(node)
    if kind is gast.Name:
        return node.id, _ATOM
    if kind is gast.Constant:
        return _constant(node.value)
    if kind is gast.BinOp:
        op, prec = _BINARY[type(node.op)]
        left, lp = expr(node.left)
        right, rp = expr(node.right)
        if op == "**":
            left = left if lp > prec else f"({left})"
            right = right if rp >= 12 else f"({right})"
        else:
            left = left if lp >= prec else f"({left})"
            right = right if rp > prec else f"({right})"
        return f"{left} {op} {right}", prec
    if kind is gast.UnaryOp:
        op, prec = _UNARY[type(node.op)]
        operand, p = expr(node.operand)
        return op + (operand if p >= prec else f"({operand})"), prec
    if kind is gast.Call:
        return _call(node), _ATOM
    if kind is gast.Attribute:
        value, p = expr(node.value)
        if p < _ATOM or (isinstance(node.value, gast.Constant) and isinstance(node.value.value,
                                                                               int)):
            value = f"({value})"
        return f"{value}.{node.attr}", _ATOM
    if kind is gast.Subscript:
        value, p = expr(node.value)
        return f"{value if p >= _ATOM else f'({value})'}[{_index(node.slice)}]", _ATOM
    if kind is gast.Tuple:
        items = [_item(e) for e in node.elts]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")", _ATOM
    if kind is gast.List:
        return "[" + ", ".join(_item(e) for e in node.elts) + "]", _ATOM
    if kind is gast.Dict:
        if any(k is None for k in node.keys):
            raise Unsupported
        pairs = (f"{_item(k)}: {_item(v)}" for k, v in zip(node.keys, node.values, strict=True))
        return "{" + ", ".join(pairs) + "}", _ATOM
    if kind is gast.Compare:
        parts = [_operand(node.left, 6)]
        for op, right in zip(node.ops, node.comparators, strict=True):
            parts += [_COMPARE[type(op)], _operand(right, 6)]
        return " ".join(parts), 5
    if kind is gast.BoolOp:
        word, prec = (" and ", 3) if isinstance(node.op, gast.And) else (" or ", 2)
        return word.join(_operand(v, prec + 1) for v in node.values), prec
    if kind is gast.IfExp:
        body, test, orelse = (_operand(node.body, 2), _operand(node.test, 2),
                              _operand(node.orelse, 1))
        return f"{body} if {test} else {orelse}", 1
    raise Unsupported


def _operand(node: gast.AST, minimum: int) -> str:
    text, p = expr(node)
    return text if p >= minimum else f"({text})"


def _item(node: gast.AST) -> str:
    return _operand(node, 1)


def _call(node: gast.Call) -> str:
    func, p = expr(node.func)
    if p < _ATOM:
        func = f"({func})"
    args = []
    for a in node.args:
        if isinstance(a, gast.Starred):
            raise Unsupported
        args.append(_item(a))
    for k in node.keywords:
        if k.arg is None:
            raise Unsupported
        args.append(f"{k.arg}={_item(k.value)}")
    return f"{func}({', '.join(args)})"


def _index(node: gast.AST) -> str:
    if isinstance(node, gast.Slice):
        parts = ["" if p is None else _item(p) for p in (node.lower, node.upper, node.step)]
        return ":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else "")
    if isinstance(node, gast.Tuple) and node.elts:
        items = [_index(e) if isinstance(e, gast.Slice) else _item(e) for e in node.elts]
        return ", ".join(items) + ("," if len(items) == 1 else "")  # `A[(0, 1), (1, 1)]`
    return _item(node)


def _target(node: gast.AST) -> str:
    """A tuple without its outer parentheses (assignment targets and values, returns)."""
    if isinstance(node, gast.Tuple):
        return ", ".join(_item(e) for e in node.elts) + ("," if len(node.elts) == 1 else "")
    return expr(node)[0]


def statement(node: gast.AST) -> str:
    """One simple statement; raises `Unsupported` for what astor should print."""
    kind = type(node)
    if kind is gast.Assign:
        targets = " = ".join(_target(t) for t in node.targets)
        value = node.value
        text = _target(value) if isinstance(value, gast.Tuple) and value.elts else expr(value)[0]
        return f"{targets} = {text}"
    if kind is gast.Expr:
        return expr(node.value)[0]
    if kind is gast.Return:
        if node.value is None:
            return "return"
        value = node.value
        return "return " + (_target(value) if isinstance(value, gast.Tuple) and value.elts
                            else expr(value)[0])
    if kind is gast.Pass:
        return "pass"
    if kind is gast.Break:
        return "break"
    if kind is gast.Continue:
        return "continue"
    if kind is gast.Raise and node.cause is None:
        return "raise" + ("" if node.exc is None else " " + expr(node.exc)[0])
    raise Unsupported
