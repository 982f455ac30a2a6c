"""Local names that hold functions: `g = rhs`, `f = ACT[name]`, `step = functools.partial(g,
a=w)`, `act = np.tanh if k else relu` (or the same chosen by an `if` statement), then `g(x)`.

A mixin of `lower_calls.CallLowering`. A local name is a *function local* when every
assignment to it is a function expression: a name that resolves to a function (a module-level
name, a function value the trace is specialised to, another function local), an entry of a
module-level dict or list of functions (`T[key]`), `a if c else b` of function expressions, or
`functools.partial(f, ...)` of one. Its *alternatives* are the functions it may hold, known
when the trace is made, each with the arguments a partial binds (atoms of the trace).

Each assignment stores, besides the name itself, which alternative it holds: `_g_which = 2`,
`_g_which = 3 + table_entry(T, key, entries)`, or an `if` over a choice, so the choice is
resolved at run time and recorded like any other value. A call `g(x)` is then a branch over
the alternatives (`if _g_which == 0: tanh(x) else: relu(x)`, one call in each branch, or the
call itself when there is only one), and each branch is a call of a known function: its rule,
or a user function's own derivative. The values a partial made in the function binds are
copied into temporaries where the partial is made, so what the call reads is what the partial
holds even if the name it was given is reassigned later, and derivatives flow through them.
Passing a function local to a user function that calls it (`rk4(g, y, p)`) is the same branch,
with the function in each branch a constant the callee's derivative is specialised to.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from typing import Any

import gast

from adgen import runtime
from adgen.codegen import astutil
from adgen.codegen.astutil import clone
from adgen.frontend.ir import Subexpressions, assign, const, name

_CHOICES = 16  # at most this many combinations of alternatives in one call passing locals


@dataclass
class Alternative:
    """A function a local may hold, with the arguments a partial made in the function binds
    (names of the trace's temporaries)."""

    function: Any
    args: list[str] = field(default_factory=list)
    keywords: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Missing:
    """A function of a module that the installed version does not have (`np.trapz`): calling
    it raises AttributeError, as in Python."""

    module: str
    attr: str


class LocalFunctions:
    """Function locals for the call lowering."""

    # the function locals with their alternatives, and the name holding each one's choice
    function_locals: dict[str, list[Alternative]]
    function_tags: dict[str, str]

    # ------------------------------------------------------------------ loops over functions

    def function_loops(self, fn: gast.FunctionDef) -> gast.FunctionDef:
        """`fn`, or a copy of it in which each loop over a display of functions (`for act in
        (np.tanh, relu):`) is a loop over positions choosing the function (`for _j in
        range(2): act = np.tanh if _j == 0 else relu`), which makes `act` a function local."""
        def over_functions(n: gast.AST) -> bool:
            return (isinstance(n, gast.For) and isinstance(n.target, gast.Name)
                    and isinstance(n.iter, (gast.Tuple, gast.List)) and bool(n.iter.elts)
                    and all(self._static_function(e) for e in n.iter.elts))

        if not any(over_functions(n) for n in astutil.walk(fn.body)):
            return fn
        fn = copy.deepcopy(fn)
        for n in [n for n in astutil.walk(fn.body) if over_functions(n)]:
            j = self.namer.temp("_j")
            self.locals.add(j)
            elts = n.iter.elts
            choice = elts[-1]
            for k in range(len(elts) - 2, -1, -1):
                test = gast.Compare(left=name(j), ops=[gast.Eq()], comparators=[const(k)])
                choice = gast.IfExp(test=test, body=elts[k], orelse=choice)
            pick = gast.Assign(targets=[name(n.target.id, gast.Store())], value=choice,
                               type_comment=None)
            gast.copy_location(pick, n)
            n.body = [pick, *n.body]
            n.target = gast.copy_location(name(j, gast.Store()), n.target)
            n.iter = gast.copy_location(gast.Call(func=name("range"), args=[const(len(elts))],
                                                  keywords=[]), n.iter)
        return fn

    def _static_function(self, e: gast.AST) -> bool:
        if not isinstance(e, (gast.Name, gast.Attribute)):
            return False
        found, value = self.resolve(e)
        return found and callable(value) and not isinstance(value, type)

    # ------------------------------------------------------------------ which names

    def find_function_locals(self, fn: gast.FunctionDef) -> None:
        """Which local names of `fn` hold functions, and their alternatives."""
        stores: dict[str, int] = {}
        sites: dict[str, list[gast.AST]] = {}
        loads: dict[str, list[gast.AST]] = {}
        callees: set[int] = set()
        for n in astutil.walk(fn.body):
            if isinstance(n, gast.Name):
                if isinstance(n.ctx, gast.Store):
                    stores[n.id] = stores.get(n.id, 0) + 1
                elif isinstance(n.ctx, gast.Load):
                    loads.setdefault(n.id, []).append(n)
            elif isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(
                    n.targets[0], gast.Name) and self._shaped(n.value):
                sites.setdefault(n.targets[0].id, []).append(n.value)
            if isinstance(n, gast.Call):
                callees.add(id(n.func))
                if n.args and self.resolve(n.func)[1] in (map, functools.partial):
                    callees.add(id(n.args[0]))
        params = {a.id for a in fn.args.args}
        candidates = {v: s for v, s in sites.items()
                      if v not in params and len(s) == stores.get(v, 0)}
        self.function_locals, self.function_tags, self._partials = {}, {}, {}
        self._offsets: dict[int, int] = {}
        self._candidates = candidates
        for v in sorted(candidates):
            alternatives = self._alternatives_of(v, set())
            if alternatives is None:
                continue
            bound = any(a.args or a.keywords for a in alternatives)
            if bound and any(id(n) not in callees for n in loads.get(v, ())):
                continue  # a partial made here, used other than by calling it
            self.function_locals[v] = alternatives
            if len(alternatives) > 1:
                self.function_tags[v] = self.namer.fresh(f"_{v}_which")

    def _shaped(self, e: gast.AST) -> bool:
        """Whether `e` is written like a function expression (checked for what it names by
        `_alternatives`)."""
        if isinstance(e, (gast.Name, gast.Attribute)):
            return True
        if isinstance(e, gast.Subscript):
            return isinstance(e.value, (gast.Name, gast.Attribute))
        if isinstance(e, gast.IfExp):
            return self._shaped(e.body) and self._shaped(e.orelse)
        return self._partial(e)

    def _partial(self, e: gast.AST) -> bool:
        return (isinstance(e, gast.Call) and bool(e.args)
                and not any(isinstance(a, gast.Starred) for a in e.args)
                and all(k.arg is not None for k in e.keywords)
                and self.resolve(e.func)[1] is functools.partial)

    def _alternatives_of(self, v: str, seen: set[str]) -> list[Alternative] | None:
        if v in self.function_locals:
            return self.function_locals[v]
        if v in seen or v not in self._candidates:
            return None
        out: list[Alternative] = []
        for e in self._candidates[v]:
            found = self._alternatives(e, seen | {v})
            if found is None:
                return None
            self._offsets[id(e)] = len(out)  # where this assignment's alternatives start
            out.extend(found)
        return out

    def _alternatives(self, e: gast.AST, seen: set[str]) -> list[Alternative] | None:
        if isinstance(e, gast.IfExp):
            body, orelse = self._alternatives(e.body, seen), self._alternatives(e.orelse, seen)
            return None if body is None or orelse is None else body + orelse
        if isinstance(e, gast.Name) and e.id in self.locals and e.id not in self.imports:
            return self._alternatives_of(e.id, seen)
        if isinstance(e, gast.Subscript):
            table = self.table(e)
            if table is None:
                return None
            entries = table.values() if isinstance(table, dict) else table
            return [Alternative(entry) for entry in entries]
        if isinstance(e, gast.Call):
            inner = self._alternatives(e.args[0], seen)
            if inner is None:
                return None
            temps = self._partials.get(id(e))
            if temps is None:  # the temporaries the bound values are copied into
                temps = self._partials[id(e)] = (
                    [self.namer.temp("_bound") for _ in e.args[1:]],
                    {k.arg: self.namer.temp("_bound") for k in e.keywords})
            args, keywords = temps
            return [Alternative(a.function, a.args + args, {**a.keywords, **keywords})
                    for a in inner]
        found, value = self.resolve(e)
        if not found and self.missing(e) is not None:  # raises if it is ever called
            return [Alternative(Missing(*self.missing(e)))]
        if not found or not callable(value) or isinstance(value, type):
            return None
        return [Alternative(value)]

    # ------------------------------------------------------------------ assignments

    def assign_function(self, target: str, value: gast.AST) -> None:
        """`g = <function expression>`: the name, and which alternative it holds."""
        self._site(target, value, self._offsets[id(value)])
        self.kill(target)

    def _site(self, target: str, e: gast.AST, offset: int) -> None:
        tag = self.function_tags.get(target)
        if isinstance(e, gast.IfExp):
            test = self.test_atom(e.test, [])
            width = len(self._alternatives(e.body, set()))
            body = self._branch(lambda: self._site(target, e.body, offset))
            orelse = self._branch(lambda: self._site(target, e.orelse, offset + width))
            self.emit(gast.If(test=test, body=body, orelse=orelse))
            self.cse = Subexpressions()
            return
        if isinstance(e, gast.Call):  # a partial: its values first, then its function
            args, keywords = self._partials[id(e)]
            values = [*e.args[1:], *(k.value for k in e.keywords)]
            for temp, value in zip([*args, *keywords.values()], values, strict=True):
                self.emit(assign(temp, self.atom(value), self.line))
            self._site(target, e.args[0], offset)
            return
        choice: gast.AST = const(offset)
        if isinstance(e, gast.Subscript):
            position = self.entry_position(e)
            choice = position if offset == 0 else gast.BinOp(
                left=const(offset), op=gast.Add(), right=position)
        elif isinstance(e, gast.Name) and e.id in self.function_tags:
            choice = gast.BinOp(left=const(offset), op=gast.Add(),
                                right=name(self.function_tags[e.id]))
        if not any(a.args or a.keywords for a in self.function_locals[target]):
            rhs = self.rhs(e)  # the value itself, for a read other than a call
            if not (isinstance(rhs, gast.Name) and rhs.id == target):
                self.emit(assign(target, rhs, self.line))
        if tag is not None:
            self.emit(assign(tag, self.rhs(choice), self.line))

    def _branch(self, lower: Any) -> list[gast.AST]:
        saved, self.out = self.out, []
        saved_cse, self.cse = self.cse, Subexpressions()
        lower()
        out, self.out, self.cse = self.out, saved, saved_cse
        return out or [gast.Pass()]

    # ------------------------------------------------------------------ calls

    def local_call(self, e: gast.Call) -> gast.AST:
        """`g(x)` with `g` a function local: a call of each alternative, chosen at run time."""
        g = e.func.id
        args = [gast.Starred(value=self.atom(a.value), ctx=gast.Load())
                if isinstance(a, gast.Starred) else self.atom(a) for a in e.args]
        keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value)) for k in e.keywords]
        given = {k.arg for k in e.keywords}
        options = []
        for a in self.function_locals[g]:
            if isinstance(a.function, Missing):
                options.append((a, gast.Call(
                    func=self.helper(runtime.missing_attribute), args=[
                        const(a.function.module), const(a.function.attr)], keywords=[])))
                continue
            bound = [gast.keyword(arg=k, value=name(t)) for k, t in sorted(a.keywords.items())
                     if k not in given]  # the call's own keyword wins, as in Python
            options.append((a, gast.Call(
                func=self.constant_name(a.function),
                args=[name(t) for t in a.args] + [clone(x) for x in args],
                keywords=bound + [clone(k) for k in keywords])))
        if len(options) == 1:
            return self.expr_Call(options[0][1])
        return self.rhs(self._choose(name(self.function_tags[g]), options))

    def passes_locals(self, e: gast.Call) -> list[str]:
        """The function locals a call of a user function passes as arguments."""
        values = [*e.args, *(k.value for k in e.keywords)]
        return [a.id for a in values
                if isinstance(a, gast.Name) and a.id in self.function_locals]

    def passing_call(self, e: gast.Call, passed: list[str]) -> gast.AST:
        """`rk4(g, y, p)` with `g` a function local: a call for each function `g` may hold,
        chosen at run time; each passes that function as a constant."""
        combos: list[tuple[dict[str, int], dict[str, Any]]] = [({}, {})]
        for g in dict.fromkeys(passed):
            alternatives = self.function_locals[g]  # none binds values (only called)
            combos = [({**at, g: k}, {**objs, g: a.function}) for at, objs in combos
                      for k, a in enumerate(alternatives)]
            if len(combos) > _CHOICES:
                raise self.error(e, "a call passing function locals that may hold more than "
                                 f"{_CHOICES} combinations of functions",
                                 "pass fewer functions chosen in the function")
        options = []
        for at, objs in combos:
            def swap(v: gast.AST, objs: dict[str, Any] = objs) -> gast.AST:
                if isinstance(v, gast.Name) and v.id in objs:
                    return self.constant_name(objs[v.id])
                return clone(v)

            call = gast.Call(func=clone(e.func), args=[swap(a) for a in e.args],
                             keywords=[gast.keyword(arg=k.arg, value=swap(k.value))
                                       for k in e.keywords])
            options.append((at, call))
        if len(options) == 1:
            return self.expr_Call(options[0][1])
        choice: gast.AST | None = None
        for at, call in reversed(options):  # the last combination needs no test
            if choice is None:
                choice = call
                continue
            tests = [gast.Compare(left=name(self.function_tags[g]), ops=[gast.Eq()],
                                  comparators=[const(k)])
                     for g, k in at.items() if g in self.function_tags]
            test = tests[0] if len(tests) == 1 else gast.BoolOp(op=gast.And(), values=tests)
            choice = gast.IfExp(test=test, body=call, orelse=choice)
        return self.rhs(choice)

    @staticmethod
    def _choose(tag: gast.Name, options: list[tuple[Alternative, gast.Call]]) -> gast.AST:
        """`c0 if tag == 0 else c1 if tag == 1 else ...`, one branch per distinct alternative
        (a table holding one function twice gives it one branch)."""
        groups: dict[tuple, list[int]] = {}
        calls: dict[tuple, gast.Call] = {}
        for k, (a, call) in enumerate(options):
            key = (id(a.function), tuple(a.args), tuple(sorted(a.keywords.items())))
            groups.setdefault(key, []).append(k)
            calls.setdefault(key, call)
        choice: gast.AST | None = None
        for key in reversed(list(groups)):  # the last one needs no test
            call = calls[key]
            if choice is None:
                choice = call
                continue
            tests = [gast.Compare(left=clone(tag), ops=[gast.Eq()], comparators=[const(k)])
                     for k in groups[key]]
            test = tests[0] if len(tests) == 1 else gast.BoolOp(op=gast.Or(), values=tests)
            choice = gast.IfExp(test=test, body=call, orelse=choice)
        return choice
