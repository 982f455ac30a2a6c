"""Lowering of calls through function values: `functools.partial` objects, tables of functions
(`ACT[name](z)`) and `map(f, xs)`.

A mixin of `lower_calls.CallLowering`. Each form becomes calls of callees known when the trace
is made, so both modes and higher derivatives treat them like any other call:

- `f(x)` where `f` resolves (a module-level name, or a parameter of a specialised trace,
  `frontend.function_values`) to `functools.partial(g, a, k=v)` is `g(a, x, k=v)`; the bound
  values are read from the partial object at run time (`runtime.partial_argument`), so one
  trace serves every partial of `g` that binds the same names.
- `T[key](x)` where `T` is a module-level dict, list or tuple of functions is a branch over
  its entries: `j = runtime.table_entry(T, key, entries)` (raising what `T[key]` raises, and
  refusing an entry that was not in `T` when the trace was made), then `if j == 0: g0(x)
  elif ...`, each branch a call of one entry.
- `map(f, xs)` (and `map(f, xs, ys)`) with `f` known, or a lambda written in the call, is the
  list comprehension `[f(v) for v in xs]` (`[f(a, b) for a, b in zip(xs, ys)]`); so is
  `list(map(...))`.
"""

from __future__ import annotations

import builtins
import functools
from typing import Any

import gast

from adgen import runtime
from adgen.codegen.astutil import clone
from adgen.frontend.ir import const, name


class ValueLowering:
    """Calls through function values, for `CallLowering`."""

    value_names: set[str]  # names `constant_name` bound (set up by the `Lowerer`)

    def partial_call(self, e: gast.Call, fn: functools.partial) -> gast.AST:
        """`f(x)` with `f` a `functools.partial` object: a call of its function."""
        ref = name(e.func.id) if isinstance(e.func, gast.Name) else self.global_ref(e.func)
        given = {k.arg for k in e.keywords}
        args: list[gast.AST] = []
        for i in range(len(fn.args)):
            args.append(name(self.bind(gast.Call(
                func=self.helper(runtime.partial_argument), args=[ref, const(i)],
                keywords=[]), fn=runtime.partial_argument)))
        keywords = []
        for k in sorted(fn.keywords):
            if k in given:  # the call's own keyword wins, as in Python
                continue
            value = name(self.bind(gast.Call(
                func=self.helper(runtime.partial_keyword), args=[ref, const(k)], keywords=[]),
                fn=runtime.partial_keyword))
            keywords.append(gast.keyword(arg=k, value=value))
        func = self.constant_name(fn.func)
        return self.expr_Call(gast.Call(func=func, args=args + list(e.args),
                                        keywords=keywords + list(e.keywords)))

    def constant_name(self, obj: Any, preferred: str | None = None) -> gast.Name:
        """A name bound to `obj` in the trace's namespace (resolved like a module-level one)."""
        for bound, value in self.p.closure.items():
            if value is obj:
                self.value_names.add(bound)
                return name(bound)
        base = getattr(obj, "__name__", "function").replace("<lambda>", "lambda")
        if preferred is None:
            preferred = f"{base}_value" if base.isidentifier() else "function_value"
        bound = self.namer.fresh(preferred)
        self.p.closure[bound] = obj
        self.value_names.add(bound)
        return name(bound)

    def table(self, func: gast.AST) -> Any:
        """The module-level dict, list or tuple of functions `func` indexes, else None."""
        if not isinstance(func, gast.Subscript) or not isinstance(
                func.value, (gast.Name, gast.Attribute)) or not self.is_global(func.value):
            return None
        found, table = self.resolve(func.value)
        if not found or not isinstance(table, (dict, list, tuple)) or not table:
            return None
        values = list(table.values()) if isinstance(table, dict) else list(table)
        return table if all(callable(v) for v in values) else None

    def table_call(self, e: gast.Call, table: Any) -> gast.AST:
        """`T[key](x)`: a branch over the table's entries, each a call of one entry."""
        entries = tuple(table.values()) if isinstance(table, dict) else tuple(table)
        position = self.entry_position(e.func)
        args = [self.atom(a) for a in e.args]
        keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value)) for k in e.keywords]
        distinct = {id(entry): entry for entry in reversed(entries)}  # one branch each
        choice: gast.AST | None = None
        for entry in distinct.values():  # the last entry's branch first: it needs no test
            call = gast.Call(func=self.constant_name(entry), args=[clone(a) for a in args],
                             keywords=[gast.keyword(arg=k.arg, value=clone(k.value))
                                       for k in keywords])
            if choice is None:
                choice = call
                continue
            same = [i for i, v in enumerate(entries) if v is entry]
            tests = [gast.Compare(left=clone(position), ops=[gast.Eq()],
                                  comparators=[const(i)]) for i in same]
            test = tests[0] if len(tests) == 1 else gast.BoolOp(op=gast.Or(), values=tests)
            choice = gast.IfExp(test=test, body=call, orelse=choice)
        return self.rhs(choice)

    def entry_position(self, read: gast.Subscript) -> gast.Name:
        """`j = table_entry(T, key, entries)`: the position of `T[key]` among the entries the
        module-level table of functions `T` holds now (`self.table(read)` is not None)."""
        found, table = self.resolve(read.value)
        entries = tuple(table.values()) if isinstance(table, dict) else tuple(table)
        key = self.atom(read.slice)
        ref = self.global_ref(read.value)
        return name(self.bind(gast.Call(
            func=self.helper(runtime.table_entry),
            args=[ref, key, self.constant_name(entries, f"{_root(ref)}_entries")], keywords=[]),
            fn=runtime.table_entry))

    def maps(self, e: gast.Call) -> bool:
        """Whether `e` is `list(map(...))`: the list comprehension is already a new list."""
        return (len(e.args) == 1 and not e.keywords and isinstance(e.args[0], gast.Call)
                and self.resolve(e.args[0].func)[1] is map)

    def mapped(self, e: gast.Call) -> gast.AST | None:
        """`map(f, xs, ...)` as a list comprehension, when `f` is known or a lambda; else
        None (and the call stays a call of `map`)."""
        f, iterables = e.args[0] if e.args else None, e.args[1:]
        if len(e.args) not in (2, 3) or e.keywords:
            if isinstance(f, gast.Lambda):
                raise self.error(f, "a lambda in `map` over more than two iterables",
                                 "write the loop out with `for`")
            return None
        if isinstance(f, gast.Lambda):
            a = f.args
            if a.vararg or a.kwarg or a.kwonlyargs or a.defaults or len(
                    a.args) != len(iterables):
                raise self.error(f, "this lambda in `map`", "give it one plain parameter per "
                                 "iterable, or write the loop out with `for`")
            targets = [name(p.id, gast.Store()) for p in a.args]
            elt = f.body
        else:
            found, _ = self.resolve(f)
            if not found and not (isinstance(f, gast.Name) and f.id in self.function_locals):
                return None
            targets = [name(f"_map{i}", gast.Store()) for i in range(len(iterables))]
            elt = gast.Call(func=f, args=[name(t.id) for t in targets], keywords=[])
        if len(iterables) == 1:
            target, source = targets[0], iterables[0]
        else:
            target = gast.Tuple(elts=targets, ctx=gast.Store())
            source = gast.Call(func=name("zip"), args=list(iterables), keywords=[])
            if self.resolve(source.func)[1] is not builtins.zip:
                return None
        comp = gast.ListComp(elt=elt, generators=[gast.comprehension(
            target=target, iter=source, ifs=[], is_async=0)])
        gast.copy_location(comp, e)
        return self.expr_ListComp(comp)



def _root(ref: gast.AST) -> str:
    while isinstance(ref, gast.Attribute):
        ref = ref.value
    return ref.id if isinstance(ref, gast.Name) else "table"
