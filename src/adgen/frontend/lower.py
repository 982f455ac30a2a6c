"""Lower a parsed function to its evaluation trace (A-normal form).

The lowered function keeps the user's parameters, variable names and structured control flow,
but every expression is broken into one operation per assignment, as in the book's evaluation
trace. Grammar of the lowered body::

    stmt   := name = rhs                       (gast.Assign with one Name target)
            | name[index] = atom               (a write into a container or array)
            | call                             (gast.Expr: print, list.append, ...)
            | if atom: stmt* else: stmt*       (the test is never assigned in its own branches)
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
Python runs; `math.log(x, b)` is `math.log(x) / math.log(b)`;
identical pure operations on unchanged operands are computed once (common subexpressions).

Call nodes carry `adgen_fn`: the object the callee resolves to through the function's closure,
globals and builtins (never by assuming a spelling), or a `Method` for `obj.name(...)` on a
local value. Every statement carries `adgen_line`, the user's source line it came from.
"""

from __future__ import annotations

import os
from typing import Any

import gast

from adgen.codegen import astutil
from adgen.codegen.astutil import clone
from adgen.codegen.naming import Namer
from adgen.errors import UnsupportedSyntax, where
from adgen.frontend import aliases
from adgen.frontend.ir import (  # noqa: F401  (the trace's building blocks, used by the generators)
    BINOPS,
    UNARYOPS,
    Method,
    Trace,
    assign,
    atom_names,
    const,
    is_atom,
    name,
)
from adgen.frontend.lift import lift
from adgen.frontend.lower_expr import ExpressionLowering
from adgen.frontend.parse import Parsed
from adgen.runtime import as_sequence, same_lengths

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
    gast.Try: ("`try` statements", "move the `try` outside the differentiated function"),
    gast.With: ("`with` statements", "move the `with` outside the differentiated function"),
    gast.AsyncWith: ("`async with`", "differentiate a plain function"),
    gast.AsyncFor: ("`async for`", "differentiate a plain function"),
    gast.ClassDef: ("class definitions", "define the class outside the function"),
    gast.FunctionDef: ("nested function definitions", "define the function at module level"),
    gast.AsyncFunctionDef: ("async functions", "differentiate a plain (not async) function"),
    gast.Global: ("`global` statements", "pass the value in and return the new one"),
    gast.Nonlocal: ("`nonlocal` statements", "pass the value in and return the new one"),
    gast.Match: ("`match` statements", "use `if`/`elif`"),
}


class Lowerer(ExpressionLowering):
    """Turns a parsed function into its evaluation trace (see the module docstring)."""

    def __init__(self, parsed: Parsed) -> None:
        outer = {a.id for a in parsed.node.args.args} | _assigned(parsed.node.body)
        parsed, self.lifted = lift(parsed, outer, self.error_at(parsed))
        self.p = parsed
        fn = parsed.node
        self.params = [a.id for a in fn.args.args]
        self.locals = set(self.params) | _assigned(fn.body)
        self.lists = _lists(fn.body)
        used = set().union(*astutil.names(fn))
        self.namer = Namer(used | self.locals)
        self.out: list[gast.AST] = []
        self.imports: dict[str, Any] = {}
        self.line: int | None = fn.lineno
        self.cse: dict[str, str] = {}

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
        fn = self.p.node
        if isinstance(fn, gast.AsyncFunctionDef):
            raise self.error(fn, "async functions", "differentiate a plain (not async) function")
        a = fn.args
        if a.vararg or a.kwarg or a.kwonlyargs or getattr(a, "posonlyargs", None):
            raise self.error(fn, "`*args`, `**kwargs`, keyword-only or positional-only "
                             "parameters in the differentiated function",
                             "use plain positional parameters")
        unpacked = {id(a) for n in gast.walk(fn) if isinstance(n, gast.Call)
                    for a in n.args if isinstance(a, gast.Starred)}  # `g(*xs)`: see `spread`
        for node in gast.walk(fn):
            if type(node) in _UNSUPPORTED and node is not fn and id(node) not in unpacked:
                what, fix = _UNSUPPORTED[type(node)]
                raise self.error(node, what, fix)
        self.shared_updates = aliases.check(fn, self.locals, self.error)
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

    # ------------------------------------------------------------------ statements

    def block(self, stmts: list[gast.AST]) -> list[gast.AST]:
        saved, self.out = self.out, []
        saved_cse, self.cse = self.cse, {}
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
            self.cse = {k: v for k, v in self.cse.items()
                        if v != var and ("name", var) not in k}

    def stmt(self, s: gast.AST) -> None:
        method = getattr(self, "stmt_" + type(s).__name__, None)
        if method is None:
            raise self.error(s, f"`{type(s).__name__}` statements", "rewrite it with assignments")
        method(s)

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
        return

    def stmt_Delete(self, s: gast.Delete) -> None:
        """`del x` only unbinds a name; the derivative keeps every value it needs."""
        for target in s.targets:
            if not isinstance(target, gast.Name):
                raise self.error(s, "`del` of items or attributes", "build a new value instead")

    def stmt_Assign(self, s: gast.Assign) -> None:
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
            at = where(os.path.basename(self.p.filename), s.lineno)
            self.check("numbers_only", [name(target.id), const(target.id), const(at)])
        load = _as_load(target)
        self.assign_to(target, gast.BinOp(left=load, op=s.op, right=s.value))

    def assign_to(self, target: gast.AST, value: gast.AST) -> None:
        if isinstance(target, gast.Name):
            rhs = self.rhs(value)
            if not is_atom(rhs) and target.id in atom_names(rhs):
                rhs = name(self.bind(rhs))
            self.emit(assign(target.id, rhs, self.line))
            self.remember(target.id, rhs)
        elif isinstance(target, (gast.Tuple, gast.List)):
            self.unpack(target, value)
        elif isinstance(target, gast.Subscript):
            container = self.atom(target.value)
            if not isinstance(container, gast.Name):
                raise self.error(target, "writing into this kind of target", "use a local name")
            index = self.index(target.slice)
            stored = gast.Subscript(value=container, slice=index, ctx=gast.Store())
            node = gast.Assign(targets=[stored], value=self.atom(value), type_comment=None)
            self.emit(node)
            self.kill(container.id)
        else:
            raise self.error(target, "assigning to attributes", "assign to a local variable")

    def unpack(self, target: gast.AST, value: gast.AST) -> None:
        elts = target.elts
        if any(isinstance(e, gast.Starred) for e in elts):
            raise self.error(target, "starred unpacking", "unpack the items one by one")
        if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(elts):
            atoms = [self.atom(v) for v in value.elts]
            written = {n.id for e in elts for n in gast.walk(e) if isinstance(n, gast.Name)}
            atoms = [
                name(self.bind(a)) if isinstance(a, gast.Name) and a.id in written else a
                for a in atoms
            ]
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
        test = self.test_atom(s.test, s.body + s.orelse)
        body, orelse = self.block(s.body), self.block(s.orelse)
        self.emit(_at(gast.If(test=test, body=body or [gast.Pass()], orelse=orelse), s))
        self.cse = {}

    def test_atom(self, test: gast.AST, branches: list[gast.AST]) -> gast.AST:
        """An atom for a branch test that its branches do not reassign."""
        atom = self.atom(test)
        if isinstance(atom, gast.Name) and atom.id in _assigned(branches):
            atom = name(self.bind(atom))
        return atom

    def stmt_While(self, s: gast.While) -> None:
        if _has_continue(s.body):
            if s.orelse:
                raise self.error(s, "`while ... else` with `continue`",
                                 "move the `else` block after the loop")
            brk = gast.copy_location(gast.Break(), s)
            stop = gast.If(test=gast.UnaryOp(op=gast.Not(), operand=s.test), body=[brk],
                           orelse=[])
            gast.copy_location(stop, s)
            s = gast.While(test=gast.Constant(value=True, kind=None), body=[stop, *s.body],
                           orelse=[])
            gast.copy_location(s, stop)
        self.cse = {}
        saved, self.out = self.out, []
        test = self.atom(s.test)
        head, self.out = self.out, saved
        for stmt in head:
            self.out.append(stmt)
        body = self.block(s.body)
        again = _recompute(head)
        node = _at(gast.While(test=test, body=body + again, orelse=self.block(s.orelse)), s)
        self.emit(node)
        self.cse = {}

    def stmt_For(self, s: gast.For) -> None:
        self.cse = {}
        s = self.dict_view_loop(s)
        target, prelude, bounds = self.loop_header(s)
        body = self.block(prelude + s.body)
        rng = gast.Call(func=name("range"), args=bounds, keywords=[])
        rng.adgen_fn = range
        node = _at(gast.For(target=name(target, gast.Store()), iter=rng, body=body,
                            orelse=self.block(s.orelse), type_comment=None), s)
        self.emit(node)
        self.cse = {}

    def dict_view_loop(self, s: gast.For) -> gast.For:
        """`for k, v in d.items()` as `for k in d: v = d[k]` (likewise `.values()` and
        `.keys()`), for a local `d`; any other loop as it is."""
        it = s.iter
        if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Attribute)
                and it.func.attr in ("items", "values", "keys") and not it.args
                and not it.keywords and isinstance(it.func.value, gast.Name)
                and it.func.value.id in self.locals):
            return s
        table = it.func.value.id
        key = s.target if it.func.attr == "keys" else name(self.namer.temp("_k"), gast.Store())
        value = gast.Subscript(value=name(table), slice=name(key.id), ctx=gast.Load())
        bind = {"keys": [], "values": [gast.Assign(targets=[s.target], value=value,
                                                   type_comment=None)],
                "items": [gast.Assign(targets=[s.target], value=gast.Tuple(
                    elts=[name(key.id), value], ctx=gast.Load()), type_comment=None)]}
        body = [_at(b, s) for b in bind[it.func.attr]] + s.body
        return _at(gast.For(target=key, iter=name(table), body=body, orelse=s.orelse,
                            type_comment=None), s)

    def loop_header(self, s: gast.For) -> tuple[str, list[gast.AST], list[gast.AST]]:
        """The loop index, statements that bind the user's target, and range bounds."""
        it = s.iter
        kind = self.iter_kind(it)
        written = _assigned(s.body) | _assigned([s.target])
        if kind is range and isinstance(s.target, gast.Name):
            bounds = [self.stable(self.atom(a), written) for a in it.args]
            return s.target.id, [], bounds
        if kind is enumerate and len(it.args) != 1:
            raise self.error(it, "`enumerate` with a start", "use `range` with an offset")
        zipped = it.args[0] if kind is enumerate and self.iter_kind(it.args[0]) is zip else None
        seqs = zipped.args if zipped is not None else (
            it.args if kind in (enumerate, zip, reversed) else [it])
        zip_call = zipped if zipped is not None else (it if kind is zip else None)
        atoms = [self.stable(self.sequence(x), written) for x in seqs]
        index = self.namer.temp("_i")
        lengths = [self.bind(gast.Call(func=name("len"), args=[a], keywords=[]), fn=len)
                   for a in atoms]
        n = name(lengths[0])
        if zip_call is not None and zip_call.keywords and not (
                isinstance(zip_call.keywords[0].value, gast.Constant)
                and not zip_call.keywords[0].value.value):
            check = gast.Call(func=name("same_lengths"), args=[name(x) for x in lengths],
                              keywords=[])
            check.adgen_fn = same_lengths
            self.emit(gast.Expr(value=check))
        if len(lengths) > 1:
            n = name(self.bind(gast.Call(func=name("min"), args=[name(x) for x in lengths],
                                         keywords=[]), fn=min))
        bounds = [n]
        position = name(index)
        if kind is reversed:
            last = self.bind(gast.BinOp(left=n, op=gast.Sub(), right=const(1)))
            bounds = [name(last), const(-1), const(-1)]
        items = [gast.Subscript(value=a, slice=position, ctx=gast.Load()) for a in atoms]
        value: gast.AST = items[0] if len(items) == 1 and zipped is None else gast.Tuple(
            elts=items, ctx=gast.Load())
        if kind is enumerate:  # (i, x), or (i, (x, y)) for enumerate(zip(xs, ys))
            value = gast.Tuple(elts=[clone(position), value], ctx=gast.Load())
        bind = gast.Assign(targets=[s.target], value=value, type_comment=None)
        gast.copy_location(bind, s)
        return index, [bind], bounds

    def iter_kind(self, it: gast.AST) -> Any:
        if isinstance(it, gast.Call):
            found, fn = self.resolve(it.func)
            plain = not it.keywords or (fn is zip and [k.arg for k in it.keywords] == ["strict"])
            if found and plain and fn in (range, enumerate, zip, reversed):
                return fn
        return None

    def sequence(self, expr: gast.AST) -> gast.AST:
        """`expr` as something indexable by position: a list or tuple the function builds
        itself as it is, anything else through `as_sequence` (a dict gives its keys)."""
        atom = self.atom(expr)
        if isinstance(atom, gast.Name) and atom.id in self.lists:
            return atom
        call = gast.Call(func=name("as_sequence"), args=[atom], keywords=[])
        return name(self.bind(call, fn=as_sequence))

    def stable(self, atom: gast.AST, written: set[str]) -> gast.AST:
        """`atom`, or a copy of it when the loop body reassigns it."""
        if isinstance(atom, gast.Name) and atom.id in written:
            return name(self.bind(atom))
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


def lower(parsed: Parsed) -> Trace:
    """The evaluation trace of a parsed function."""
    return Lowerer(parsed).lower()


# ---------------------------------------------------------------------- helpers


def _at(node: gast.AST, s: gast.AST) -> gast.AST:
    node.lineno = s.lineno
    return node


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


def _assigned(stmts: list[gast.AST]) -> set[str]:
    out: set[str] = set()
    for s in stmts:
        for n in astutil.walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                out.add(n.id)
    return out


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


def _has_continue(stmts: list[gast.AST]) -> bool:
    for s in stmts:
        if isinstance(s, gast.Continue):
            return True
        if isinstance(s, gast.If) and (_has_continue(s.body) or _has_continue(s.orelse)):
            return True
    return False


def _recompute(head: list[gast.AST]) -> list[gast.AST]:
    """Fresh copies of a while test's statements, for the end of the loop body."""

    return [clone(s) for s in head]
