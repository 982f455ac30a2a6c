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
(likewise `enumerate`, `zip`, `reversed`), so that reading an element is a subscript whose
adjoint is an indexed accumulation; `math.log(x, b)` is `math.log(x) / math.log(b)`;
identical pure operations on unchanged operands are computed once (common subexpressions).

Call nodes carry `adgen_fn`: the object the callee resolves to through the function's closure,
globals and builtins (never by assuming a spelling), or a `Method` for `obj.name(...)` on a
local value. Every statement carries `adgen_line`, the user's source line it came from.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

import gast

from adgen import astutil
from adgen.astutil import clone
from adgen.errors import UnsupportedSyntax
from adgen.naming import Namer
from adgen.parse import Parsed

BINOPS = {
    gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
    gast.Div: operator.truediv, gast.Pow: operator.pow, gast.Mod: operator.mod,
    gast.FloorDiv: operator.floordiv, gast.MatMult: operator.matmul,
    gast.BitAnd: operator.and_, gast.BitOr: operator.or_, gast.BitXor: operator.xor,
    gast.LShift: operator.lshift, gast.RShift: operator.rshift,
}
UNARYOPS = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_,
            gast.Invert: operator.invert}


@dataclass(frozen=True)
class Method:
    """A method called on a local value, e.g. `x.sum(axis=0)`; its rules live under
    `ndarray.<name>`."""

    name: str

    @property
    def key(self) -> str:
        return f"ndarray.{self.name}"


@dataclass
class Trace:
    """The lowered function and what the later stages need to know about it."""

    node: gast.FunctionDef
    parsed: Parsed
    params: list[str]
    namer: Namer
    locals: set[str]


def name(id_: str, ctx: Any = None) -> gast.Name:
    return gast.Name(id=id_, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


def const(value: Any) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def assign(target: str, value: gast.AST, line: int | None) -> gast.Assign:
    node = gast.Assign(targets=[name(target, gast.Store())], value=value, type_comment=None)
    node.adgen_line = line
    return node


def is_atom(node: gast.AST) -> bool:
    return isinstance(node, (gast.Name, gast.Constant)) or (
        isinstance(node, gast.Attribute) and getattr(node, "adgen_global", False)
    )


def atom_names(node: gast.AST) -> set[str]:
    """The local names an rhs reads."""
    return astutil.loads(node)


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


class Lowerer:
    """Turns a parsed function into its evaluation trace (see the module docstring)."""

    def __init__(self, parsed: Parsed) -> None:
        from adgen.lift import lift

        outer = {a.id for a in parsed.node.args.args} | _assigned(parsed.node.body)
        parsed, self.lifted = lift(parsed, outer, self.error_at(parsed))
        self.p = parsed
        fn = parsed.node
        self.params = [a.id for a in fn.args.args]
        self.locals = set(self.params) | _assigned(fn.body)
        used = {n.id for n in gast.walk(fn) if isinstance(n, gast.Name)}
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
        for node in gast.walk(fn):
            if type(node) in _UNSUPPORTED and node is not fn:
                what, fix = _UNSUPPORTED[type(node)]
                raise self.error(node, what, fix)
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
        if isinstance(value, gast.Call):
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
        target, prelude, bounds = self.loop_header(s)
        body = self.block(prelude + s.body)
        rng = gast.Call(func=name("range"), args=bounds, keywords=[])
        rng.adgen_fn = range
        node = _at(gast.For(target=name(target, gast.Store()), iter=rng, body=body,
                            orelse=self.block(s.orelse), type_comment=None), s)
        self.emit(node)
        self.cse = {}

    def loop_header(self, s: gast.For) -> tuple[str, list[gast.AST], list[gast.AST]]:
        """The loop index, statements that bind the user's target, and range bounds."""
        it = s.iter
        kind = self.iter_kind(it)
        written = _assigned(s.body) | _assigned([s.target])
        if kind is range and isinstance(s.target, gast.Name):
            bounds = [self.stable(self.atom(a), written) for a in it.args]
            return s.target.id, [], bounds
        seqs = it.args if kind in (enumerate, zip, reversed) else [it]
        if kind is enumerate and len(it.args) != 1:
            raise self.error(it, "`enumerate` with a start", "use `range` with an offset")
        atoms = [self.stable(self.sequence(x), written) for x in seqs]
        index = self.namer.temp("_i")
        lengths = [self.bind(gast.Call(func=name("len"), args=[a], keywords=[]), fn=len)
                   for a in atoms]
        n = name(lengths[0])
        if len(lengths) > 1:
            n = name(self.bind(gast.Call(func=name("min"), args=[name(x) for x in lengths],
                                         keywords=[]), fn=min))
        bounds = [n]
        position = name(index)
        if kind is reversed:
            last = self.bind(gast.BinOp(left=n, op=gast.Sub(), right=const(1)))
            bounds = [name(last), const(-1), const(-1)]
        items = [gast.Subscript(value=a, slice=position, ctx=gast.Load()) for a in atoms]
        value: gast.AST = items[0] if len(items) == 1 else gast.Tuple(elts=items, ctx=gast.Load())
        if kind is enumerate:
            value = gast.Tuple(elts=[position, items[0]], ctx=gast.Load())
        bind = gast.Assign(targets=[s.target], value=value, type_comment=None)
        gast.copy_location(bind, s)
        return index, [bind], bounds

    def iter_kind(self, it: gast.AST) -> Any:
        if isinstance(it, gast.Call) and not it.keywords:
            found, fn = self.resolve(it.func)
            if found and fn in (range, enumerate, zip, reversed):
                return fn
        return None

    def sequence(self, expr: gast.AST) -> gast.AST:
        atom = self.atom(expr)
        if isinstance(atom, gast.Name) and atom.id in self.locals:
            return atom
        from adgen.runtime import as_sequence

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

    def bind(self, rhs: gast.AST, fn: Any = None) -> str:
        """Emit `_tN = rhs` and return `_tN`."""
        if fn is not None:
            rhs.adgen_fn = fn
        key = _cse_key(rhs)
        if key is not None and key in self.cse:
            return self.cse[key]
        tmp = self.namer.temp()
        self.emit(assign(tmp, rhs, self.line))
        self.remember(tmp, rhs)
        return tmp

    def remember(self, target: str, rhs: gast.AST) -> None:
        key = _cse_key(rhs)
        if key is not None and target not in atom_names(rhs):
            self.cse[key] = target

    def atom(self, expr: gast.AST) -> gast.AST:
        rhs = self.rhs(expr)
        return rhs if is_atom(rhs) else name(self.bind(rhs))

    def rhs(self, e: gast.AST) -> gast.AST:
        method = getattr(self, "expr_" + type(e).__name__, None)
        if method is None:
            raise self.error(e, f"`{type(e).__name__}` expressions", "rewrite it")
        return method(e)

    def expr_Constant(self, e: gast.Constant) -> gast.AST:
        return const(e.value)

    def expr_Name(self, e: gast.Name) -> gast.AST:
        return name(e.id)

    def expr_Attribute(self, e: gast.Attribute) -> gast.AST:
        if self.is_global(e):
            node = gast.Attribute(value=self.global_ref(e.value), attr=e.attr, ctx=gast.Load())
            node.adgen_global = True
            return node
        value = self.atom(e.value)
        node = gast.Attribute(value=value, attr=e.attr, ctx=gast.Load())
        node.adgen_fn = Method(e.attr)
        return node

    def is_global(self, e: gast.AST) -> bool:
        """Whether an attribute chain starts at a module-level name (`np.linalg.norm`), not
        at a local value or the result of an expression (`x.T`, `f(x).sum`)."""
        root = _root(e)
        return root is not None and root not in self.locals and root not in self.imports or (
            root in self.imports)

    def global_ref(self, e: gast.AST) -> gast.AST:
        if isinstance(e, gast.Name):
            return name(e.id)
        node = gast.Attribute(value=self.global_ref(e.value), attr=e.attr, ctx=gast.Load())
        node.adgen_global = True
        return node

    def expr_BinOp(self, e: gast.BinOp) -> gast.AST:
        node = gast.BinOp(left=self.atom(e.left), op=e.op, right=self.atom(e.right))
        node.adgen_fn = BINOPS[type(e.op)]
        return node

    def expr_UnaryOp(self, e: gast.UnaryOp) -> gast.AST:
        operand = self.atom(e.operand)
        if isinstance(e.op, gast.USub) and isinstance(operand, gast.Constant):
            return const(-operand.value)
        node = gast.UnaryOp(op=e.op, operand=operand)
        node.adgen_fn = UNARYOPS[type(e.op)]
        return node

    def expr_Compare(self, e: gast.Compare) -> gast.AST:
        if len(e.ops) == 1:
            return gast.Compare(left=self.atom(e.left), ops=e.ops,
                                comparators=[self.atom(e.comparators[0])])
        first = gast.Compare(left=e.left, ops=e.ops[:1], comparators=e.comparators[:1])
        rest = gast.Compare(left=e.comparators[0], ops=e.ops[1:], comparators=e.comparators[1:])
        return self.expr_BoolOp(gast.BoolOp(op=gast.And(), values=[first, rest]))

    def expr_BoolOp(self, e: gast.BoolOp) -> gast.AST:
        result = self.namer.temp()
        self.emit(assign(result, self.rhs(e.values[0]), self.line))
        for value in e.values[1:]:
            body = self.block([gast.Assign(targets=[name(result, gast.Store())], value=value,
                                           type_comment=None, lineno=self.line)])
            test = name(result)
            if isinstance(e.op, gast.Or):
                self.emit(gast.If(test=test, body=[gast.Pass()], orelse=body))
            else:
                self.emit(gast.If(test=test, body=body, orelse=[]))
        self.cse = {}
        return name(result)

    def expr_IfExp(self, e: gast.IfExp) -> gast.AST:
        result = self.namer.temp()
        test = self.atom(e.test)
        line = self.line

        def branch(value: gast.AST) -> list[gast.AST]:
            stmt = gast.Assign(targets=[name(result, gast.Store())], value=value,
                               type_comment=None)
            stmt.lineno = line
            return self.block([stmt])

        self.emit(gast.If(test=test, body=branch(e.body), orelse=branch(e.orelse)))
        self.cse = {}
        return name(result)

    def expr_Call(self, e: gast.Call) -> gast.AST:
        found, fn = self.resolve(e.func)
        if isinstance(e.func, gast.Attribute) and not self.is_global(e.func):
            receiver = self.atom(e.func.value)
            func = gast.Attribute(value=receiver, attr=e.func.attr, ctx=gast.Load())
            fn, found = Method(e.func.attr), True
        elif isinstance(e.func, gast.Name):
            func = name(e.func.id)
        elif found:
            func = self.global_ref(e.func)
        else:
            func = self.atom(e.func)
        for kw in e.keywords:
            if kw.arg is None:
                raise self.error(e, "`**kwargs` in calls", "pass the keywords one by one")
        args = [self.atom(a) for a in e.args]
        keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value)) for k in e.keywords]
        if found and fn is math.log and len(args) == 2 and not keywords:
            num = self.bind(gast.Call(func=func, args=args[:1], keywords=[]), fn=math.log)
            den = self.bind(gast.Call(func=func, args=args[1:], keywords=[]), fn=math.log)
            return self.expr_BinOp(gast.BinOp(left=name(num), op=gast.Div(), right=name(den)))
        node = gast.Call(func=func, args=args, keywords=keywords)
        node.adgen_fn = fn if found else None
        return node

    def resolve(self, func: gast.AST) -> tuple[bool, Any]:
        """What a callee expression rooted at a free name refers to."""
        if isinstance(func, gast.Name):
            if func.id in self.imports:
                return True, self.imports[func.id]
            if func.id in self.locals:
                return False, None
            return self.p.resolve(func.id)
        if isinstance(func, gast.Attribute):
            found, base = self.resolve(func.value)
            if found and hasattr(base, func.attr):
                return True, getattr(base, func.attr)
        return False, None

    def expr_Subscript(self, e: gast.Subscript) -> gast.AST:
        return gast.Subscript(value=self.atom(e.value), slice=self.index(e.slice),
                              ctx=gast.Load())

    def index(self, s: gast.AST) -> gast.AST:
        if isinstance(s, gast.Slice):
            parts = [None if p is None else self.atom(p) for p in (s.lower, s.upper, s.step)]
            return gast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
        if isinstance(s, gast.Tuple):
            return gast.Tuple(elts=[self.index(x) for x in s.elts], ctx=gast.Load())
        return self.atom(s)

    def expr_Tuple(self, e: gast.Tuple) -> gast.AST:
        return gast.Tuple(elts=[self.atom(x) for x in e.elts], ctx=gast.Load())

    def expr_List(self, e: gast.List) -> gast.AST:
        return gast.List(elts=[self.atom(x) for x in e.elts], ctx=gast.Load())

    def expr_Dict(self, e: gast.Dict) -> gast.AST:
        if any(k is None for k in e.keys):
            raise self.error(e, "`**` in dict displays", "build the dict key by key")
        return gast.Dict(keys=[self.atom(k) for k in e.keys],
                         values=[self.atom(v) for v in e.values])

    def expr_JoinedStr(self, e: gast.JoinedStr) -> gast.AST:
        return e

    def expr_ListComp(self, e: gast.ListComp) -> gast.AST:
        """`[elt for v in xs if c]` → `_l = []` and a loop that appends (its own names)."""
        e = clone(e)
        result = self.namer.temp("_l")
        self.locals.add(result)
        self.emit(assign(result, gast.List(elts=[], ctx=gast.Load()), self.line))
        renames: dict[str, str] = {}
        for gen in e.generators:
            for n in gast.walk(gen.target):
                if isinstance(n, gast.Name):
                    renames[n.id] = self.namer.temp("_c")
        self.locals.update(renames.values())
        rename = _Rename(renames)
        append = gast.Attribute(value=name(result), attr="append", ctx=gast.Load())
        inner: gast.AST = gast.Expr(value=gast.Call(func=append, args=[rename.visit(e.elt)],
                                                    keywords=[]))
        for k, gen in reversed(list(enumerate(e.generators))):
            for cond in reversed(gen.ifs):
                inner = gast.If(test=rename.visit(cond), body=[inner], orelse=[])
            iterable = gen.iter if k == 0 else rename.visit(gen.iter)
            inner = gast.For(target=rename.visit(gen.target), iter=iterable, body=[inner],
                             orelse=[], type_comment=None)
        for n in gast.walk(inner):
            if isinstance(n, gast.stmt):
                n.lineno = self.line
                n.col_offset = e.col_offset
        self.stmt(inner)
        return name(result)

    expr_GeneratorExp = expr_ListComp


def lower(parsed: Parsed) -> Trace:
    """The evaluation trace of a parsed function."""
    return Lowerer(parsed).lower()


# ---------------------------------------------------------------------- helpers


class _Rename(gast.NodeTransformer):
    def __init__(self, renames: dict[str, str]) -> None:
        self.renames = renames

    def visit_Name(self, node: gast.Name) -> gast.AST:
        if node.id in self.renames:
            return gast.Name(id=self.renames[node.id], ctx=node.ctx, annotation=None,
                             type_comment=None)
        return node


def _at(node: gast.AST, s: gast.AST) -> gast.AST:
    node.lineno = s.lineno
    return node


def _root(e: gast.AST) -> str | None:
    while isinstance(e, gast.Attribute):
        e = e.value
    return e.id if isinstance(e, gast.Name) else None


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
        for n in gast.walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                out.add(n.id)
    return out


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


def _cse_key(rhs: gast.AST) -> tuple | None:
    if isinstance(rhs, gast.BinOp):
        parts: tuple = ("bin", type(rhs.op), _atom_key(rhs.left), _atom_key(rhs.right))
    elif isinstance(rhs, gast.UnaryOp):
        parts = ("un", type(rhs.op), _atom_key(rhs.operand))
    elif isinstance(rhs, gast.Call) and _pure_call(rhs):
        parts = ("call", id(rhs.adgen_fn), *(_atom_key(a) for a in rhs.args),
                 *((k.arg, _atom_key(k.value)) for k in rhs.keywords))
    else:
        return None
    if None in parts:
        return None
    return parts


def _atom_key(atom: gast.AST) -> tuple | None:
    if isinstance(atom, gast.Name):
        return ("name", atom.id)
    if isinstance(atom, gast.Constant):
        return ("const", type(atom.value), repr(atom.value))
    return None


def _pure_call(call: gast.Call) -> bool:
    fn = getattr(call, "adgen_fn", None)
    if fn is None or isinstance(fn, Method):
        return False
    from adgen.rules import lookup

    return lookup(fn) is not None


def _operands(rhs: gast.AST) -> list[gast.AST]:
    if isinstance(rhs, gast.BinOp):
        return [rhs.left, rhs.right]
    if isinstance(rhs, gast.UnaryOp):
        return [rhs.operand]
    return list(rhs.args) + [k.value for k in rhs.keywords]
