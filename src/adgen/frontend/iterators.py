"""One-shot iterators read twice, which the lowering refuses.

The lowering makes a generator expression, and `map`, `filter`, `reversed` of a sequence, into
lists: the trace needs every item as a value. Python's iterator is exhausted by its first use,
so `g = (v * v for v in x); a = sum(g); b = sum(g)` gives `b = 0`, where the list would give
the sum again: the derivative (and the value it returns) would differ from the primal.

`check(fn, error, resolve)` walks the function in program order and refuses the second read of
a name bound to such an iterator, at that read's line: a read after a read on the same path,
or a read in a loop (or a comprehension) the binding is outside of, whose second trip would
find the iterator empty. Rebinding the name (a new generator per use) is fine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gast

_ONE_SHOT = (map, filter, reversed, zip, enumerate, iter)
_COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)


def check(fn: gast.FunctionDef, error: Callable[..., Exception],
          resolve: Callable[[gast.AST], tuple[bool, Any]]) -> None:
    """Raise `error(node, what, fix)` at the second read of a one-shot iterator."""
    _Walk(error, resolve).block(fn.body)


class _Walk:
    def __init__(self, error: Callable[..., Exception],
                 resolve: Callable[[gast.AST], tuple[bool, Any]]) -> None:
        self.error, self.resolve = error, resolve
        self.read: dict[str, bool] = {}  # name of a one-shot iterator -> read on this path

    def block(self, body: list[gast.AST]) -> None:
        for s in body:
            self.stmt(s)

    def stmt(self, s: gast.AST) -> None:
        if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            return
        if isinstance(s, gast.If):
            self.reads(s.test)
            before = dict(self.read)
            self.block(s.body)
            taken, self.read = self.read, before
            self.block(s.orelse)
            for n, was in taken.items():  # read on either path: read
                if n in self.read:
                    self.read[n] = self.read[n] or was
            return
        if isinstance(s, (gast.For, gast.While)):
            self.reads(s.iter if isinstance(s, gast.For) else s.test)
            for _ in range(2):  # a second trip reads what the first left
                if isinstance(s, gast.For):
                    self.bound(s.target, None)
                else:
                    self.reads(s.test)
                self.block(s.body)
            self.block(s.orelse)
            return
        children = [v for f in ("body", "orelse", "finalbody", "handlers")
                    for v in getattr(s, f, None) or [] if isinstance(v, gast.AST)]
        if children:  # `with`, `try`: their statements in order
            for f in ("items", "test"):
                for part in getattr(s, f, None) or []:
                    self.reads(part)
            self.block(children)
            return
        value = getattr(s, "value", None)
        if value is not None:
            self.reads(value)
        for t in getattr(s, "targets", None) or [getattr(s, "target", None)]:
            if t is not None:
                if isinstance(s, gast.AugAssign):
                    self.reads(t)
                self.bound(t, value if isinstance(s, gast.Assign) else None)

    def bound(self, target: gast.AST, value: gast.AST | None) -> None:
        if isinstance(target, gast.Name):
            self.read.pop(target.id, None)
            if value is not None and self.one_shot(value):
                self.read[target.id] = False
            return
        for n in gast.walk(target):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                self.read.pop(n.id, None)
            elif isinstance(n, gast.Name):  # an index of a subscript target
                self.reads(n)

    def one_shot(self, value: gast.AST) -> bool:
        if isinstance(value, gast.GeneratorExp):
            return True
        if isinstance(value, gast.Call):
            found, fn = self.resolve(value.func)
            return found and any(fn is f for f in _ONE_SHOT)
        return False

    def reads(self, node: gast.AST) -> None:
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            if node.id in self.read:
                if self.read[node.id]:
                    raise self.error(node, f"reading `{node.id}` a second time: it holds a "
                                     "one-shot iterator (a generator, `map`, `filter`, "
                                     "`reversed`), which its first use exhausts",
                                     f"make it a list (`{node.id} = [...]` or `list(...)`) to "
                                     "read it more than once, or make a new one for each use")
                self.read[node.id] = True
            return
        if isinstance(node, (gast.Lambda, *_COMPREHENSIONS)):
            if isinstance(node, gast.Lambda):
                return
            first, *rest = node.generators
            self.reads(first.iter)  # evaluated once; the rest once per item
            inner = [*first.ifs, *(p for g in rest for p in (g.iter, *g.ifs)),
                     *([node.key, node.value] if isinstance(node, gast.DictComp) else [node.elt])]
            for _ in range(2):
                for part in inner:
                    self.reads(part)
            return
        for child in gast.iter_child_nodes(node):
            self.reads(child)
