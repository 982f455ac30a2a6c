"""Small, fast helpers over gast trees (copying without `copy.deepcopy`'s overhead)."""

from __future__ import annotations

from typing import Any

import gast


def clone(node: Any) -> Any:
    """A deep copy of a gast tree (lists and nodes are new; constants are shared)."""
    if isinstance(node, list):
        return [clone(n) for n in node]
    if not isinstance(node, gast.AST):
        return node
    new = type(node).__new__(type(node))
    for key, value in node.__dict__.items():
        new.__dict__[key] = clone(value) if isinstance(value, (list, gast.AST)) else value
    return new


def names(node: Any) -> tuple[set[str], set[str]]:
    """(loaded names, stored names) anywhere in a tree or list of trees."""
    loads: set[str] = set()
    stores: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list):
            stack.extend(n)
            continue
        if isinstance(n, gast.Name):
            (loads if isinstance(n.ctx, gast.Load) else stores).add(n.id)
            continue
        for value in n.__dict__.values():
            if isinstance(value, (gast.AST, list)):
                stack.append(value)
    return loads, stores


def loads(node: Any) -> set[str]:
    return names(node)[0]


def stores(node: Any) -> set[str]:
    return names(node)[1]


def index_value(index: Any) -> Any:
    """An index written as an expression (`1:3` → `slice(1, 3, None)`), for call arguments."""
    if isinstance(index, gast.Slice):
        parts = [gast.Constant(value=None, kind=None) if p is None else clone(p)
                 for p in (index.lower, index.upper, index.step)]
        func = gast.Name(id="slice", ctx=gast.Load(), annotation=None, type_comment=None)
        return gast.Call(func=func, args=parts, keywords=[])
    if isinstance(index, gast.Tuple):
        return gast.Tuple(elts=[index_value(e) for e in index.elts], ctx=gast.Load())
    return clone(index)
