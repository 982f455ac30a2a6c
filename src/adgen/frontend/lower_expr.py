"""Lowering of expressions to the evaluation trace: one operation per assignment.

A mixin of `lower.Lowerer`: `atom(e)` lowers `e` into statements and returns the atom that
holds its value; `rhs(e)` returns one operation over atoms. Callees resolve through the
function's closure, globals and builtins (`resolve`), never by their spelling.
`np.r_[...]` and `np.c_[...]` join arrays with index syntax: they become the call
`index_join(maker, (item, ...))` (slices as `slice(...)` calls), which has derivative rules.
"""

from __future__ import annotations

import ast
import os
import re
from typing import Any

import gast
import numpy as np

from adgen import runtime, runtime_tables
from adgen.codegen import astutil
from adgen.codegen.astutil import clone
from adgen.codegen.emit import origins
from adgen.errors import where
from adgen.frontend.ir import (
    BINOPS,
    UNARYOPS,
    Method,
    Subexpressions,
    assign,
    atom_names,
    const,
    is_atom,
    name,
)
from adgen.frontend.lower_builtins import BuiltinLowering
from adgen.frontend.lower_calls import CallLowering
from adgen.rules import lookup


class ExpressionLowering(CallLowering, BuiltinLowering):
    """Expression lowering for `Lowerer` (which provides `emit`, `block`, `stmt`, `error`,
    `namer`, `locals`, `imports`, `cse`, `line` and `p`)."""

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
        out = rhs if is_atom(rhs) else name(self.bind(rhs))
        item = getattr(expr, "adgen_item", None)
        if item is not None:  # put into a container that may share it (`aliases.refuse_item`)
            container, text, whole, written, write_line, line = item
            conflict = f"{self.place(write_line)} writes into `{self.shown(written)}`"
            self.check("number_item", [clone(out), const(self.shown(container)), const(text),
                                       const(self.shown(whole)), const(conflict),
                                       const(self.place(line))])
        return out

    def place(self, lineno: int | None) -> str:
        """`file:line` for the message of a run-time check. In adgen's own code (a derivative
        differentiated again), the user's file and line that code came from first."""
        here = where(os.path.basename(self.p.filename), lineno)
        user = self.p.function
        while hasattr(getattr(user, "__adgen__", None), "original"):
            user = user.__adgen__.original
        code = getattr(user, "__code__", None)
        origin = (origins(self.p.lines) or {}).get(lineno) if code is not None else None
        found = re.match(r"(?:adjoint of )*line (\d+): ", origin or "")
        if not found:
            return here
        return f"{where(os.path.basename(code.co_filename), int(found[1]))} (in {here})"

    def shown(self, var: str) -> str:
        """How a message names `var`: in adgen's own code, a temporary `_t2` by the expression
        it holds (`y[:-1]`), where one assignment gives it."""
        if not (self.p.filename.startswith("<adgen ") and var.startswith("_")):
            return var
        made = [n.value for n in gast.walk(self.p.node) if isinstance(n, gast.Assign)
                and any(isinstance(t, gast.Name) and t.id == var for t in n.targets)]
        if len(made) != 1 or isinstance(made[0], gast.Call):
            return var
        return ast.unparse(gast.gast_to_ast(clone(made[0])))

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
        """`a and b` → `r = a; if a: r = b` (short-circuit), nested for longer chains; each
        `if` tests the atom of the operand before it, which its branch never reassigns."""
        result = self.namer.temp()
        self._bool_chain(result, list(e.values), isinstance(e.op, gast.Or))
        self.cse = Subexpressions()
        return name(result)

    def _bool_chain(self, result: str, values: list[gast.AST], is_or: bool) -> None:
        first = self.atom(values[0])
        self.emit(assign(result, first, self.line))
        if len(values) == 1:
            return
        saved, self.out = self.out, []
        saved_cse, self.cse = self.cse, Subexpressions()
        self._bool_chain(result, values[1:], is_or)
        rest, self.out, self.cse = self.out, saved, saved_cse
        if isinstance(first, gast.Name) and first.id == result:
            first = name(self.bind(first))
        if is_or:
            self.emit(gast.If(test=first, body=[gast.Pass()], orelse=rest))
        else:
            self.emit(gast.If(test=first, body=rest, orelse=[]))

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
        self.cse = Subexpressions()
        return name(result)

    def static_value(self, e: gast.AST) -> tuple[bool, Any]:
        """The value of a constant or of a module-level name, known before the call."""
        if isinstance(e, gast.Constant):
            return True, e.value
        if isinstance(e, gast.Tuple):
            items = [self.static_value(x) for x in e.elts]
            return all(ok for ok, _ in items), tuple(v for _, v in items)
        if isinstance(e, (gast.Name, gast.Attribute)):
            return self.resolve(e)
        return False, None

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
        if self.joins(e.value):
            return self.index_join(e)
        inner = e.value
        if isinstance(inner, gast.Subscript) and isinstance(inner.value, gast.Name) and \
                inner.value.id in self.tables and not isinstance(inner.slice, (
                    gast.Slice, gast.Tuple)):
            # `D[i][j]` of a table the function writes into: the row as `read_row` (a copy
            # of an array's row, never a view that later writes would change)
            read = gast.Call(func=self.helper(runtime_tables.read_row), args=[
                self.atom(inner.value), astutil.index_value(self.index(inner.slice))],
                keywords=[])
            value = name(self.bind(read, runtime_tables.read_row))
        else:
            value = self.atom(inner)
        return gast.Subscript(value=value, slice=self.index(e.slice), ctx=gast.Load())

    def joins(self, value: gast.AST) -> bool:
        """Whether `value[...]` is `np.r_[...]`, `np.c_[...]` (a join of arrays, not an index),
        `np.mgrid[...]` or `np.ogrid[...]` (grids whose bounds are `slice(...)` calls: with a
        varied bound, refused as a call of `slice`, which has no derivative)."""
        if not isinstance(value, (gast.Name, gast.Attribute)) or not self.is_global(value):
            return False
        found, obj = self.resolve(value)
        return found and any(obj is maker for maker in (np.r_, np.c_, np.mgrid, np.ogrid))

    def index_join(self, e: gast.Subscript) -> gast.AST:
        """`np.r_[a, 0:3]` → `index_join(np.r_, (a, slice(0, 3, None)))`, which has rules."""
        items = e.slice.elts if isinstance(e.slice, gast.Tuple) else [e.slice]
        items = [gast.Call(func=name("slice"), args=[const(None) if p is None else p for p in (
            i.lower, i.upper, i.step)], keywords=[]) if isinstance(i, gast.Slice) else i
            for i in items]
        call = gast.Call(func=name("index_join"), args=[
            self.atom(e.value), self.atom(gast.Tuple(elts=items, ctx=gast.Load()))], keywords=[])
        call.adgen_fn = runtime.index_join
        return call

    def index(self, s: gast.AST) -> gast.AST:
        if isinstance(s, gast.Slice):
            parts = [None if p is None else self.atom(p) for p in (s.lower, s.upper, s.step)]
            return gast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
        if isinstance(s, gast.Tuple):
            return gast.Tuple(elts=[self.index(x) for x in s.elts], ctx=gast.Load())
        return self.atom(s)

    def expr_Tuple(self, e: gast.Tuple) -> gast.AST:
        if any(isinstance(x, gast.Starred) for x in e.elts):
            built = self.spliced(e.elts)
            return self.expr_Call(gast.Call(func=self.helper(tuple), args=[built], keywords=[]))
        return gast.Tuple(elts=[self.atom(x) for x in e.elts], ctx=gast.Load())

    def expr_List(self, e: gast.List) -> gast.AST:
        if any(isinstance(x, gast.Starred) for x in e.elts):
            return self.spliced(e.elts)
        return gast.List(elts=[self.atom(x) for x in e.elts], ctx=gast.Load())

    def spliced(self, elts: list[gast.AST]) -> gast.Name:
        """`[a, *xs, b]` as a list built by appends (`_l = []; _l.append(a); for v in xs:
        _l.append(v); ...`), which both modes follow item by item."""
        result = self.namer.temp("_l")
        self.locals.add(result)
        self.emit(assign(result, gast.List(elts=[], ctx=gast.Load()), self.line))
        for x in elts:
            item = x.value if isinstance(x, gast.Starred) else x
            value = name(self.namer.temp("_c")) if isinstance(x, gast.Starred) else item
            add = gast.Expr(value=gast.Call(func=gast.Attribute(
                value=name(result), attr="append", ctx=gast.Load()), args=[value], keywords=[]))
            stmt: gast.AST = add
            if isinstance(x, gast.Starred):
                self.locals.add(value.id)
                stmt = gast.For(target=name(value.id, gast.Store()), iter=item, body=[add],
                                orelse=[], type_comment=None)
            for n in gast.walk(stmt):
                if isinstance(n, gast.stmt):
                    n.lineno = self.line
            self.stmt(stmt)
        return name(result)

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
        result, self.built_into = self.built_into or self.namer.temp("_l"), None
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


class _Rename(gast.NodeTransformer):
    def __init__(self, renames: dict[str, str]) -> None:
        self.renames = renames

    def visit_Name(self, node: gast.Name) -> gast.AST:
        if node.id in self.renames:
            new = gast.Name(id=self.renames[node.id], ctx=node.ctx, annotation=None,
                            type_comment=None)
            if hasattr(node, "adgen_item"):  # an item whose kind the run time checks
                new.adgen_item = node.adgen_item
            return new
        return node


def _root(e: gast.AST) -> str | None:
    while isinstance(e, gast.Attribute):
        e = e.value
    return e.id if isinstance(e, gast.Name) else None


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
    return lookup(fn) is not None


def _operands(rhs: gast.AST) -> list[gast.AST]:
    if isinstance(rhs, gast.BinOp):
        return [rhs.left, rhs.right]
    if isinstance(rhs, gast.UnaryOp):
        return [rhs.operand]
    return list(rhs.args) + [k.value for k in rhs.keywords]
