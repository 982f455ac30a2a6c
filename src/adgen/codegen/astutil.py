"""Small, fast helpers over gast trees (copying without `copy.deepcopy`'s overhead)."""

from __future__ import annotations

from collections import deque
from typing import Any

import gast

_AST, _NAME, _LOAD = gast.AST, gast.Name, gast.Load


def clone(node: Any) -> Any:
    """A deep copy of a gast tree (lists and nodes are new; constants are shared)."""
    if type(node) is list:
        return [clone(n) for n in node]
    if not isinstance(node, _AST):
        return node
    kind = type(node)
    new = kind.__new__(kind)
    fields = node.__dict__.copy()
    for key, value in fields.items():
        if type(value) is list:
            fields[key] = [clone(v) for v in value]
        elif isinstance(value, _AST):
            fields[key] = clone(value)
    new.__dict__ = fields
    return new


class Transformer:
    """`gast.NodeTransformer`'s protocol (`visit_<Type>` methods return the replacement;
    `generic_visit` transforms the children in place), with a cheaper dispatch and child
    walk: the generated code's simplifications visit every expression several times.
    Subclasses customise `visit_<Type>` and `generic_visit`, not `visit`: `generic_visit`
    dispatches to the children itself, and leaves alone a child without fields or
    attributes (an operator, a context) that no `visit_<Type>` method asks for."""

    def __init_subclass__(cls) -> None:
        cls._visitors = {name[len("visit_"):]: fn for klass in reversed(cls.__mro__)
                         for name, fn in vars(klass).items() if name.startswith("visit_")}

    def visit(self, node: Any) -> Any:
        method = self._visitors.get(type(node).__name__)
        return method(self, node) if method is not None else self.generic_visit(node)

    def generic_visit(self, node: Any) -> Any:
        visitors, generic = self._visitors, self.generic_visit
        fields = node.__dict__
        for key, value in fields.items():
            if type(value) is list:
                new = []
                for item in value:
                    if isinstance(item, _AST):
                        method = visitors.get(type(item).__name__)
                        item = method(self, item) if method is not None else generic(item)
                        if item is None:
                            continue
                    new.append(item)
                value[:] = new
            elif isinstance(value, _AST):
                method = visitors.get(type(value).__name__)
                if method is not None:
                    fields[key] = method(self, value)
                elif value.__dict__:  # an empty node would come back as it is
                    fields[key] = generic(value)
        return node


def walk(node: Any) -> Any:
    """Every node of a tree or list of trees, in no particular order (a faster `gast.walk`
    for the walks that collect, count or test); a `Name`'s context is not visited."""
    stack = [node]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        n = pop()
        if type(n) is list:
            extend(n)
            continue
        if not isinstance(n, _AST):  # `global a, b` keeps strings in a list
            continue
        yield n
        if type(n) is _NAME:
            continue
        for value in n.__dict__.values():
            if type(value) is list or isinstance(value, _AST):
                push(value)


def walk_in_order(node: gast.AST) -> Any:
    """`gast.walk(node)`: every node, breadth first, children in field order (for the walks
    whose first find decides what is reported), at half its cost."""
    todo = deque([node])
    pop, push = todo.popleft, todo.append
    while todo:
        n = pop()
        for key in n._fields:
            value = getattr(n, key, None)
            if isinstance(value, _AST):
                push(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, _AST):
                        push(item)
        yield n


def names(node: Any) -> tuple[set[str], set[str]]:
    """(loaded names, stored names) anywhere in a tree or list of trees."""
    loads: list[str] = []
    stores: list[str] = []
    name_lists(node, loads, stores)
    return set(loads), set(stores)


def name_lists(node: Any, loads: list[str], stores: list[str]) -> int:
    """Append every loaded and every stored name in a tree or list of trees to `loads` and
    `stores`, once per occurrence (`walk`'s nodes, without a generator: the clean-ups ask
    this of every statement); the number of nodes, as `ast.walk` counts them."""
    stack = [node]
    pop, push, extend = stack.pop, stack.append, stack.extend
    count = 0
    while stack:
        n = pop()
        kind = type(n)
        if kind is list:
            extend(n)
        elif kind is _NAME:
            (loads if type(n.ctx) is _LOAD else stores).append(n.id)
            count += 2  # the name and its context
        elif isinstance(n, _AST):
            count += 1
            for value in n.__dict__.values():
                if type(value) is list or isinstance(value, _AST):
                    push(value)
    return count


def _names_in(node: Any, loaded: bool) -> set[str]:
    """The loaded (or the stored) names in a tree or list of trees: one side of `names`,
    straight into a set (the lowering and the analyses ask it of every step)."""
    out: set[str] = set()
    stack = [node]
    pop, push, extend, add = stack.pop, stack.append, stack.extend, out.add
    while stack:
        n = pop()
        kind = type(n)
        if kind is list:
            extend(n)
        elif kind is _NAME:
            if (type(n.ctx) is _LOAD) is loaded:
                add(n.id)
        elif isinstance(n, _AST):
            for value in n.__dict__.values():
                if type(value) is list or isinstance(value, _AST):
                    push(value)
    return out


def map_loads(node: Any, replace: Any) -> Any:
    """`node` with every loaded name `n` for which `replace(n)` gives a node replaced by that
    node (None keeps `n`); the tree is changed in place, and the replacements are not
    visited again."""
    if type(node) is _NAME:
        new = replace(node) if type(node.ctx) is _LOAD else None
        return node if new is None else new
    stack = [node]
    pop, push = stack.pop, stack.append
    while stack:
        n = pop()
        items = enumerate(n) if type(n) is list else n.__dict__.items()
        fields = n if type(n) is list else n.__dict__
        for key, value in items:
            kind = type(value)
            if kind is _NAME:
                if type(value.ctx) is _LOAD:
                    new = replace(value)
                    if new is not None:
                        fields[key] = new
            elif kind is list or isinstance(value, _AST):
                push(value)
    return node


def statement_stores(stmts: list[Any]) -> set[str]:
    """Names assigned by the statements (targets of assignments and loops, at any depth):
    what `stores` gives for statements, without walking their expressions."""
    out: set[str] = set()
    stack = list(stmts)
    while stack:
        s = stack.pop()
        if isinstance(s, (gast.Assign, gast.AugAssign, gast.AnnAssign)):
            for t in (s.targets if isinstance(s, gast.Assign) else [s.target]):
                if type(t) is _NAME:  # the usual target: no walk
                    if type(t.ctx) is not _LOAD:
                        out.add(t.id)
                else:
                    out |= stores(t)
        elif isinstance(s, (gast.For, gast.While, gast.If)):
            if isinstance(s, gast.For):
                out |= stores(s.target)
            stack.extend(s.body)
            stack.extend(s.orelse)
        elif not isinstance(s, (gast.Expr, gast.Return, gast.Pass, gast.Break, gast.Continue)):
            out |= stores(s)
    return out


def loads(node: Any) -> set[str]:
    """The names loaded anywhere in a tree or list of trees (`names(node)[0]`)."""
    return _names_in(node, True)


def stores(node: Any) -> set[str]:
    """The names stored (or bound as parameters, or deleted) anywhere in a tree or list of
    trees (`names(node)[1]`)."""
    return _names_in(node, False)


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
