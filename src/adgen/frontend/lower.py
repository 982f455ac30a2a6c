"""Lower a parsed function to its evaluation trace (A-normal form).

The lowered function keeps the user's parameters, variable names and structured control flow,
but every expression is broken into one operation per assignment, as in the book's evaluation
trace. Grammar of the lowered body::

    stmt   := name = rhs                       (gast.Assign with one Name target)
            | name[index] = atom               (a write into a container or array)
            | call                             (gast.Expr: print, list.append, ...)
            | if atom: stmt* else: stmt*       (the test is never assigned in its own branches)
            | if f(atom, ...): stmt*           (a `with` statement, marked `adgen_block`)
            | if True: stmt*                   (a `try` region, its steps `if _done1: ...`,
                                                `frontend.lower_blocks`)
            | pass                             (a mark of `finally`, carrying `adgen_block`)
            | for name in range(atom, atom, atom): stmt* [else: stmt*]
            | while atom: stmt* [else: stmt*]  (the test's statements run before the loop and
                                                again at the end of the body)
            | break | continue | return atom | assert atom | raise ...
    rhs    := atom | atom OP atom | OP atom | atom CMP atom | f(atom, ..., k=atom)
            | atom.attr | atom.method(atom, ...) | atom[index] | (atom, ...) | [atom, ...]
            | {atom: atom, ...} | f"..." (never differentiated)
    index  := atom | atom:atom:atom | (index, ...)
    atom   := name | constant | module.attr (a global reference, never differentiated)

Other lowerings: `a += b` is `a = a + b`; a primitive whose target is also one of its operands
(`x = sin(x)`) computes into a temporary first, so no trace step reads what it writes; tuple
targets unpack through subscripts; `a and b`, `a or b` and `a if c else b` become `if`s; a chain
`a < b < c` becomes nested tests; `for x in xs` becomes an index loop over `range(len(xs))`
(likewise `enumerate`, `zip`, `enumerate(zip(...))`, `reversed`), so that reading an element
is a subscript whose adjoint is an indexed accumulation; `max(xs)`/`min(xs)` become the loop
Python runs; `math.log(x, b)` is `math.log(x) / math.log(b)`; `list`, `tuple`, `dict`,
`reversed`, `sorted` and `max`/`min` with `key` are lowered by `lower_builtins`; `with` and
`try` statements arrive as marked `if`s (`frontend.blocks`); a call of a function with
keyword-only parameters, `*args` or `**kwargs` is a call of its plain form
(`frontend.signatures`); identical pure operations on unchanged operands are computed once
(common subexpressions).

Call nodes carry `adgen_fn`: the object the callee resolves to through the function's closure,
globals and builtins (never by assuming a spelling), or a `Method` for `obj.name(...)` on a
local value. Every statement carries `adgen_line`, the user's source line it came from.
"""

from __future__ import annotations

import copy
import dataclasses
import types
from collections.abc import Callable
from typing import Any

import gast

from adgen import runtime
from adgen.codegen import astutil
from adgen.codegen.astutil import clone
from adgen.codegen.naming import Namer
from adgen.errors import UnsupportedSyntax
from adgen.frontend import aliases, iterators
from adgen.frontend.blocks import desugar
from adgen.frontend.checkpoint import lift_checkpointed
from adgen.frontend.effects import Summary, bound_arguments
from adgen.frontend.ir import (  # noqa: F401  (the trace's building blocks, used by the generators)
    BINOPS,
    UNARYOPS,
    Method,
    Subexpressions,
    Trace,
    assign,
    assigned,
    atom_names,
    const,
    is_atom,
    located,
    mark_shared,
    name,
    written_into,
)
from adgen.frontend.lift import lift
from adgen.frontend.lower_blocks import BlockLowering
from adgen.frontend.lower_expr import ExpressionLowering
from adgen.frontend.lower_loops import LoopLowering
from adgen.frontend.parse import Parsed
from adgen.rules.numpy_reductions import expand_to, reduced_count
from adgen.rules.numpy_shape import unpack_like, unstack_like
from adgen.runtime_tables import row as row_copy

# what a called user function writes into, and its value form (`frontend.effects`)
Effects = Callable[[Any], "tuple[Summary, Any] | None"]
# the parameters of a called user function its result may share an object with
Returned = Callable[[Any], "frozenset[str]"]

_UNSUPPORTED = {
    gast.Yield: ("generators (`yield`)", "return a list or array of the values instead"),
    gast.YieldFrom: ("generators (`yield from`)", "return a list or array of the values"),
    gast.Await: ("`await`", "differentiate a plain (not async) function"),
    gast.Lambda: ("a lambda inside the differentiated function", "define it with `def`"),
    gast.NamedExpr: ("assignment expressions (`:=`)", "assign on a line of its own"),
    gast.SetComp: ("set comprehensions", "write the loop out with `for`"),
    gast.DictComp: ("dict comprehensions", "write the loop out with `for`"),
    gast.Set: ("set displays", "use a list or tuple"),
    gast.Starred: ("starred expressions (`*args`)", "pass the arguments one by one"),
    gast.TryStar: ("`try` ... `except*`", "use `except` (exception groups are not supported)"),
    gast.AsyncWith: ("`async with`", "differentiate a plain function"),
    gast.AsyncFor: ("`async for`", "differentiate a plain function"),
    gast.ClassDef: ("class definitions", "define the class outside the function"),
    gast.FunctionDef: ("nested function definitions", "define the function at module level"),
    gast.AsyncFunctionDef: ("async functions", "differentiate a plain (not async) function"),
    gast.Global: ("`global` statements", "pass the value in and return the new one"),
    gast.Nonlocal: ("`nonlocal` statements", "pass the value in and return the new one"),
    gast.Match: ("`match` statements", "use `if`/`elif`"),
}


class Lowerer(LoopLowering, BlockLowering, ExpressionLowering):
    """Turns a parsed function into its evaluation trace (see the module docstring)."""

    def __init__(self, parsed: Parsed, effects: Effects | None = None,
                 returns: Returned | None = None) -> None:
        self.effects = effects or _no_effects
        self.returns = returns or (lambda fn: frozenset())
        self.built_into: str | None = None  # the name a list comprehension fills directly
        self.tables: set[str] = set()  # names written into by subscript (`ir.written_into`)
        given = parsed.node
        outer = {a.id for a in given.args.args} | assigned(given.body)
        parsed, self.lifted = lift(parsed, outer, self.error_at(parsed))
        marked = parsed.node  # its checkpointed loops still inline, for the alias check
        parsed = lift_checkpointed(parsed, self.error_at(parsed),
                                   outer if marked is given else None)
        self.marked = None if parsed.node is marked else marked
        parsed = desugar(parsed, self.error_at(parsed))  # `with`, `try`: marked `if`s
        self.p = parsed
        fn = parsed.node
        self.params = [a.id for a in fn.args.args]
        local = outer if fn is given else set(self.params) | assigned(fn.body)  # unchanged
        self.locals = local | getattr(fn, "adgen_bound", set())
        self.lists = _lists(fn.body)
        used = set().union(*astutil.names(fn))
        self.namer = Namer(used | self.locals)
        self.out: list[gast.AST] = []
        # local imports, and parameters holding the function values this trace is specialised
        # to: both resolve like module-level names
        self.imports: dict[str, Any] = dict(parsed.static)
        self.value_names: set[str] = set()
        self.function_locals, self.function_tags = {}, {}
        self.line: int | None = fn.lineno
        self.cse = Subexpressions()

    # ------------------------------------------------------------------ errors

    @staticmethod
    def error_at(parsed: Parsed) -> Any:
        def error(node: gast.AST, what: str, fix: str) -> UnsupportedSyntax:
            line = getattr(node, "lineno", None) or parsed.node.lineno
            return UnsupportedSyntax(f"adgen does not support {what}; {fix}", parsed.filename,
                                     line, getattr(node, "col_offset", 0) or 0,
                                     parsed.lines.get(line, ""))

        return error

    def error(self, node: gast.AST, what: str, fix: str) -> UnsupportedSyntax:
        line = getattr(node, "lineno", None) or self.line or 0
        col = getattr(node, "col_offset", 0) or 0
        text = self.p.lines.get(line, "")
        return UnsupportedSyntax(
            f"adgen does not support {what}; {fix}", self.p.filename, line, col, text
        )

    # ------------------------------------------------------------------ entry

    def lower(self) -> Trace:
        fn = self.function_loops(self.p.node)  # `for act in (np.tanh, relu):`
        if fn is not self.p.node:
            self.p = dataclasses.replace(self.p, node=fn)
        if isinstance(fn, gast.AsyncFunctionDef):
            raise self.error(fn, "async functions", "differentiate a plain (not async) function")
        a = fn.args
        if a.vararg or a.kwarg or a.kwonlyargs or getattr(a, "posonlyargs", None):
            raise self.error(fn, "`*args`, `**kwargs`, keyword-only or positional-only "
                             "parameters in the differentiated function",
                             "use plain positional parameters")
        nodes = list(astutil.walk_in_order(fn))
        unpacked = {id(a) for n in nodes if isinstance(n, gast.Call)
                    for a in n.args if isinstance(a, gast.Starred)}  # `g(*xs)`: see `spread`
        unpacked |= {id(n.args[0]) for n in nodes if isinstance(n, gast.Call)
                     and n.args and isinstance(n.args[0], gast.Lambda)
                     and self.resolve(n.func)[1] is map}  # `map(lambda v: ..., xs)`
        unpacked |= {id(k.value) for n in nodes if isinstance(n, gast.Call)
                     for k in n.keywords if k.arg == "key" and isinstance(k.value, gast.Lambda)
                     and self.resolve(n.func)[1] in (sorted, max, min)}  # only called
        unpacked |= {id(a) for n in nodes if isinstance(n, gast.Call)
                     and self.takes_lambdas(n.func)
                     for a in [*n.args, *(k.value for k in n.keywords)]
                     if isinstance(a, gast.Lambda)}  # made into functions: `lambdas_made`
        unpacked |= {id(x) for n in nodes if isinstance(n, (gast.List, gast.Tuple))
                     for x in n.elts if isinstance(x, gast.Starred)}  # `[a, *xs]`, `a, *b =`
        for node in nodes:
            if type(node) in _UNSUPPORTED and node is not fn and id(node) not in unpacked:
                what, fix = _UNSUPPORTED[type(node)]
                raise self.error(node, what, fix)
        iterators.check(fn, self.error, self.resolve)  # a generator read twice
        checks = aliases.check(fn, self.locals, self.error, self.written_arguments,
                               self.returned_arguments, self.measured,
                               generated=self.p.filename.startswith("<adgen "))
        if self.marked is not None:  # a write through a shared name in a checkpointed loop
            aliases.check(self.marked, set(self.params) | assigned(self.marked.body), self.error,
                          self.written_arguments, self.returned_arguments)
        self.shared_updates, self.view_checks = checks.updates, checks.views
        self.shared_arguments, self.copy_checks = checks.arguments, checks.copies
        self.find_function_locals(fn)
        self.shared_writes = checks.shared
        self.tables = written_into(fn)
        body = self.block(fn.body)
        new = gast.FunctionDef(
            name=fn.name, args=gast.arguments(
                args=[name(p, gast.Param()) for p in self.params], posonlyargs=[], vararg=None,
                kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
            body=body or [gast.Pass()], decorator_list=[], returns=None, type_comment=None,
            type_params=[],
        )
        new.adgen_line = fn.lineno
        return Trace(new, self.p, self.params, self.namer, self.locals)

    def measured(self, call: gast.Call) -> tuple[int, ...]:
        """The positions of the arguments a helper of generated code reads only for their
        shape, type and structure."""
        if not isinstance(call.func, gast.Name):
            return ()
        found, fn = self.resolve(call.func)
        return _MEASURED.get(fn, ()) if found and isinstance(fn, types.FunctionType) else ()

    def written_arguments(self, call: gast.Call) -> list[tuple[gast.AST, int]]:
        """The arguments a call of a user function writes into, each with whether certainly
        (empty for anything else)."""
        found, fn = self.resolve(call.func)
        effects = self.effects(fn) if found and isinstance(fn, types.FunctionType) else None
        if effects is None:
            return []
        return [(a, effects[0][p]) for p, a in bound_arguments(fn, call, effects[0])]

    def returned_arguments(self, call: gast.Call) -> list[gast.AST]:
        """The arguments whose objects the result of a call of a user function may share."""
        found, fn = self.resolve(call.func)
        if found and fn is copy.deepcopy:
            return []  # a new object, whatever its source reads like
        params = self.returns(fn) if found and isinstance(fn, types.FunctionType) else None
        if not params:
            return []
        return [a for _, a in bound_arguments(fn, call, dict.fromkeys(params, True))]

    # ------------------------------------------------------------------ statements

    def block(self, stmts: list[gast.AST]) -> list[gast.AST]:
        saved, self.out = self.out, []
        saved_cse, self.cse = self.cse, Subexpressions()
        for s in stmts:
            self.line = s.lineno
            self.stmt(s)
        out, self.out, self.cse = self.out, saved, saved_cse
        return out

    def emit(self, node: gast.AST) -> gast.AST:
        if isinstance(node, (gast.If, gast.For, gast.While)):
            node.adgen_line = getattr(node, "lineno", None) or self.line
        else:
            node.adgen_line = self.line
        self.out.append(node)
        for target in _targets(node):
            self.kill(target)
        return node

    def kill(self, var: str) -> None:
        """Forget common subexpressions that read or name `var` (it was reassigned)."""
        if self.cse:
            self.cse.forget(var)

    def stmt(self, s: gast.AST) -> None:
        method = getattr(self, "stmt_" + type(s).__name__, None)
        if method is None:
            raise self.error(s, f"`{type(s).__name__}` statements", "rewrite it with assignments")
        start = len(self.out)
        self.check_copies(s)  # `w = list(v)`, then a write into `w` or `v`
        method(s)
        if id(s) in self.shared_writes:  # names no later statement reads may share the object
            mark_shared(self.out[start:], self.shared_writes[id(s)])

    def stmt_Expr(self, s: gast.Expr) -> None:
        if isinstance(s.value, gast.Constant):
            return  # a docstring or a bare constant
        value = self.rhs(s.value)
        if (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute)
                and value.func.attr == "pop" and not value.args):
            # `xs.pop()` whose item is dropped: a step `_t = xs.pop()`, which both modes undo
            self.emit(assign(self.namer.temp(), value, self.line))
        elif isinstance(value, gast.Call):
            self.emit(gast.Expr(value=value))

    def stmt_Pass(self, s: gast.Pass) -> None:
        if getattr(s, "adgen_block", None) is not None:  # a mark of `frontend.blocks`
            self.emit(s)

    def stmt_Delete(self, s: gast.Delete) -> None:
        """`del x` only unbinds a name; the derivative keeps every value it needs."""
        for target in s.targets:
            if not isinstance(target, gast.Name):
                raise self.error(s, "`del` of items or attributes", "build a new value instead")

    def stmt_Assign(self, s: gast.Assign) -> None:
        self.check_views(s, s.targets[0])  # `v[i] = ...` where a view may see `v`
        if len(s.targets) == 1:
            self.assign_to(s.targets[0], s.value)
            return
        value = self.atom(s.value)
        for target in s.targets:
            self.assign_to(target, value)

    def stmt_AnnAssign(self, s: gast.AnnAssign) -> None:
        if s.value is not None:
            self.assign_to(s.target, s.value)

    def stmt_AugAssign(self, s: gast.AugAssign) -> None:
        target = s.target
        if id(s) in self.shared_updates:  # `w += x` where `w` may share an array: refused
            at = self.place(s.lineno)
            self.check("numbers_only", [name(target.id), const(target.id), const(at)])
        self.check_updated_item(s)  # `rows[0] += v` changes an array `rows[0]` in place
        self.check_views(s, target)  # `B[0] += v` where `r = B[0]` is read later
        load = _as_load(target)
        self.assign_to(target, gast.BinOp(left=load, op=s.op, right=s.value))

    def assign_to(self, target: gast.AST, value: gast.AST) -> None:
        if isinstance(target, gast.Subscript):
            self.refuse_through_attribute(target, "writing into")
            self.refuse_into_temporary(target)
        if isinstance(target, gast.Name) and target.id in self.function_locals:
            self.assign_function(target.id, value)  # `g = np.tanh if k else relu`, ...
        elif isinstance(target, gast.Name):
            if isinstance(value, gast.ListComp) and target.id not in {
                    n.id for n in gast.walk(value) if isinstance(n, gast.Name)}:
                self.built_into = target.id  # `D = [...]` fills `D` itself: one name
            rhs = self.rhs(value)
            if isinstance(rhs, gast.Name) and rhs.id == target.id:
                return
            if not is_atom(rhs) and target.id in atom_names(rhs):
                rhs = name(self.bind(rhs))
            self.emit(assign(target.id, rhs, self.line))
            self.remember(target.id, rhs)
        elif isinstance(target, (gast.Tuple, gast.List)):
            self.unpack(target, value)
        elif isinstance(target, gast.Subscript) and isinstance(target.value, gast.Subscript):
            # `R[i][j] = v`: a copy of the row is written and stored back, so the trace sees
            # the write into `R`; no other name sees the row (the alias walk refuses the write
            # when one might), so replacing it by the written copy is what Python does
            outer = target.value
            value = self.atom(value)
            row = name(self.namer.temp())
            container = self.atom(outer.value)
            read = gast.Call(func=self.helper(row_copy),
                             args=[container, astutil.index_value(self.index(outer.slice))],
                             keywords=[])  # a copy, stored back right after
            read.adgen_fn = row_copy
            self.emit(assign(row.id, read, self.line))
            self.assign_to(gast.Subscript(value=row, slice=target.slice, ctx=gast.Store()),
                           value)
            self.assign_to(gast.Subscript(value=outer.value, slice=outer.slice,
                                          ctx=gast.Store()), row)
        elif isinstance(target, gast.Subscript):
            container = self.atom(target.value)
            if not isinstance(container, gast.Name):
                raise self.error(target, "writing into this kind of target", "use a local name")
            if container.id not in self.locals and self.p.resolve(container.id)[0]:
                raise self.error(target, f"writing into `{container.id}`, which is not local to "
                                 "the function (a global or a closed-over value)",
                                 f"work on a local copy (`{container.id.lower()}_local = "
                                 f"{container.id}.copy()`) and return what you need")
            index = self.index(target.slice)
            stored = gast.Subscript(value=container, slice=index, ctx=gast.Store())
            node = gast.Assign(targets=[stored], value=self.atom(value), type_comment=None)
            self.emit(node)
            self.kill(container.id)
        else:
            raise self.error(target, "assigning to attributes", "assign to a local variable")

    def unpack(self, target: gast.AST, value: gast.AST) -> None:
        elts = target.elts
        stars = [i for i, e in enumerate(elts) if isinstance(e, gast.Starred)]
        if stars:  # `a, *rest, z = value`: items by position, the rest a list of the middle
            source = self.atom(value)
            if not isinstance(source, gast.Name) or source.id in assigned([target]):
                source = name(self.bind(source))
            k, after = stars[0], len(elts) - stars[0] - 1
            for i, e in enumerate(elts):
                if i == k:
                    stop = const(None) if after == 0 else const(-after)
                    part = gast.Subscript(value=clone(source), slice=gast.Slice(
                        lower=const(k), upper=stop, step=None), ctx=gast.Load())
                    middle = gast.Call(func=self.helper(list), args=[part], keywords=[])
                    self.assign_to(e.value, middle)
                else:
                    at = const(i) if i < k else const(i - len(elts))
                    self.assign_to(e, gast.Subscript(value=clone(source), slice=at,
                                                     ctx=gast.Load()))
            return
        if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(elts):
            atoms = [self.atom(v) for v in value.elts]
            written = {n.id for e in elts for n in gast.walk(e) if isinstance(n, gast.Name)}
            atoms = [
                name(self.bind(a)) if isinstance(a, gast.Name) and a.id in written else a
                for a in atoms
            ]
            self.check_stores(elts, value.elts, atoms)  # `B[0], B[1] = B[1], B[0]`
            for e, a in zip(elts, atoms, strict=True):
                self.assign_to(e, a)
            return
        source = self.atom(value)
        if not isinstance(source, gast.Name) or any(
            isinstance(n, gast.Name) and n.id == source.id for e in elts for n in gast.walk(e)
        ):
            source = name(self.bind(source))
        for i, e in enumerate(elts):
            item = gast.Subscript(value=source, slice=const(i), ctx=gast.Load())
            self.assign_to(e, item)

    def stmt_If(self, s: gast.If) -> None:
        block = getattr(s, "adgen_block", None)
        if block is not None and block[0] == "try":
            self.try_region(s)
            return
        if block is not None and block[0] == "with":
            test = self.manager(s.test, s.body)
        else:
            test = self.test_atom(s.test, s.body + s.orelse)
        body, orelse = self.block(s.body), self.block(s.orelse)
        node = located(gast.If(test=test, body=body or [gast.Pass()], orelse=orelse), s)
        if block is not None:
            node.adgen_block = block
        self.emit(node)
        self.cse = Subexpressions()

    def test_atom(self, test: gast.AST, branches: list[gast.AST]) -> gast.AST:
        """An atom for a branch test that its branches do not reassign."""
        atom = self.atom(test)
        if isinstance(atom, gast.Name) and atom.id in assigned(branches):
            atom = name(self.bind(atom))
        return atom

    def stmt_Import(self, s: gast.AST) -> None:
        """A local import: the module is imported now to resolve names, and kept in the code."""
        import importlib

        package = self.p.globals.get("__package__")
        for alias in s.names:
            try:
                if isinstance(s, gast.ImportFrom):
                    module = importlib.import_module("." * (s.level or 0) + (s.module or ""),
                                                     package)
                    value = getattr(module, alias.name)
                    bound = alias.asname or alias.name
                else:
                    value = importlib.import_module(alias.name)
                    bound = alias.asname or alias.name.split(".")[0]
                    if not alias.asname:
                        value = importlib.import_module(bound)
            except (ImportError, AttributeError) as exc:
                raise self.error(s, f"this import ({exc})", "check the module name") from None
            self.imports[bound] = value
        self.emit(s)

    stmt_ImportFrom = stmt_Import

    def stmt_Break(self, s: gast.Break) -> None:
        self.emit(gast.Break())

    def stmt_Continue(self, s: gast.Continue) -> None:
        self.emit(gast.Continue())

    def stmt_Return(self, s: gast.Return) -> None:
        value = const(None) if s.value is None else self.atom(s.value)
        self.emit(gast.Return(value=value))

    def stmt_Assert(self, s: gast.Assert) -> None:
        test = self.atom(s.test)
        msg = None if s.msg is None else self.atom(s.msg)
        self.emit(gast.Assert(test=test, msg=msg))

    def stmt_Raise(self, s: gast.Raise) -> None:
        exc = None if s.exc is None else self.atom(s.exc)
        self.emit(gast.Raise(exc=exc, cause=None))

    # ------------------------------------------------------------------ expressions


_MEASURED = {runtime.add_at: (1,), runtime.zeros_like: (0,), runtime.unbroadcast: (1,),
             runtime.shaped_like: (1,), runtime.broadcast_like: (1,), row_copy: (2,),
             runtime.materialised: (1,),
             reduced_count: (0,), expand_to: (1,), unstack_like: (1,), unpack_like: (1,)}


def lower(parsed: Parsed, effects: Effects | None = None,
          returns: Returned | None = None) -> Trace:
    """The evaluation trace of a parsed function; `effects(fn)` tells what a called user
    function writes into (see `frontend.effects`), `returns(fn)` which of its parameters its
    result may share an object with (`aliases.returned`)."""
    return Lowerer(parsed, effects, returns).lower()


def _no_effects(fn: Any) -> None:
    return None


# ---------------------------------------------------------------------- helpers


def _as_load(target: gast.AST) -> gast.AST:
    if isinstance(target, gast.Name):
        return name(target.id)
    if isinstance(target, gast.Subscript):
        return gast.Subscript(value=_as_load(target.value), slice=target.slice, ctx=gast.Load())
    return target


def _targets(node: gast.AST) -> list[str]:
    if isinstance(node, gast.Assign):
        t = node.targets[0]
        return [t.id] if isinstance(t, gast.Name) else [t.value.id]
    return []


def _lists(stmts: list[gast.AST]) -> set[str]:
    """Names every assignment of which is a list or tuple display or a list comprehension."""
    displays: set[str] = set()
    other: set[str] = set()
    for s in stmts:
        for n in astutil.walk(s):
            if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(
                    n.targets[0], gast.Name):
                known = isinstance(n.value, (gast.List, gast.Tuple, gast.ListComp))
                (displays if known else other).add(n.targets[0].id)
            elif isinstance(n, (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.For)):
                targets = n.targets if isinstance(n, gast.Assign) else [n.target]
                other |= {t.id for t in astutil.walk(targets) if isinstance(t, gast.Name)}
    return displays - other
