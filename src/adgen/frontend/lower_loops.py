"""Lowering of loops: `while` (with `continue` as a guarded tail) and `for` over ranges,
sequences, `zip`/`enumerate` and dict views, all as index loops over `range` (a mixin of
`lower.Lowerer`; the grammar is in `lower`'s docstring)."""

from __future__ import annotations

import ast
import os
from typing import Any

import gast

from adgen.codegen.astutil import clone
from adgen.errors import where
from adgen.frontend.ir import Subexpressions, assigned, const, located, name
from adgen.runtime import as_sequence, same_lengths


class LoopLowering:
    """Loop lowering for `Lowerer`."""

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
        self.cse = Subexpressions()
        saved, self.out = self.out, []
        test = self.atom(s.test)
        head, self.out = self.out, saved
        for stmt in head:
            self.out.append(stmt)
        body = self.block(s.body)
        again = _recompute(head)
        node = located(gast.While(test=test, body=body + again, orelse=self.block(s.orelse)), s)
        self.emit(node)
        self.cse = Subexpressions()

    def stmt_For(self, s: gast.For) -> None:
        self.cse = Subexpressions()
        s = self.dict_view_loop(s)
        target, prelude, bounds = self.loop_header(s)
        body = self.block(prelude + s.body)
        rng = gast.Call(func=name("range"), args=bounds, keywords=[])
        rng.adgen_fn = range
        node = located(gast.For(target=name(target, gast.Store()), iter=rng, body=body,
                            orelse=self.block(s.orelse), type_comment=None), s)
        self.emit(node)
        self.cse = Subexpressions()

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
        body = [located(b, s) for b in bind[it.func.attr]] + s.body
        return located(gast.For(target=key, iter=name(table), body=body, orelse=s.orelse,
                            type_comment=None), s)

    def loop_header(self, s: gast.For) -> tuple[str, list[gast.AST], list[gast.AST]]:
        """The loop index, statements that bind the user's target, and range bounds."""
        it = s.iter
        kind = self.iter_kind(it)
        written = assigned(s.body) | assigned([s.target])
        if kind is range and isinstance(s.target, gast.Name):
            bounds = [self.stable(self.atom(a), written) for a in it.args]
            return s.target.id, [], bounds
        start = None
        if kind is enumerate and (len(it.args) == 2 or it.keywords):  # enumerate(xs, start)
            start = self.stable(self.atom(it.args[1] if len(it.args) == 2 else
                                          it.keywords[0].value), written)
            it = gast.Call(func=it.func, args=it.args[:1], keywords=[])
        zipped = it.args[0] if kind is enumerate and self.iter_kind(it.args[0]) is zip else None
        seqs = zipped.args if zipped is not None else (
            it.args if kind in (enumerate, zip, reversed) else [it])
        zip_call = zipped if zipped is not None else (it if kind is zip else None)
        atoms = [self.stable(self.sequence(x), written) for x in seqs]
        self.check_iterated_views(s, seqs, atoms)
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
            count = clone(position) if start is None else gast.BinOp(
                left=clone(position), op=gast.Add(), right=clone(start))
            value = gast.Tuple(elts=[count, value], ctx=gast.Load())
        bind = gast.Assign(targets=[s.target], value=value, type_comment=None)
        gast.copy_location(bind, s)
        return index, [bind], bounds

    def check_iterated_views(self, s: gast.For, seqs: list[gast.AST],
                             atoms: list[gast.AST]) -> None:
        """`for r in B[:-1]: B[i + 1] = ...`: NumPy reads each row of the view when the loop
        reaches it, so a write into `B` changes the rows still to come, where the trace reads
        the sequence as it was. Before the loop, `runtime.unshared` checks that no sequence
        iterated is an array sharing memory with a name the body writes into (a list's slice
        is a copy and passes; `for r in B` reads `B` itself and needs no check)."""
        written = {_root_name(t) for n in gast.walk(gast.Module(body=s.body, type_ignores=[]))
                   for t in _write_targets(n)}
        at = where(os.path.basename(self.p.filename), s.lineno)
        for seq, atom in zip(seqs, atoms, strict=True):
            root = _viewed_root(seq, self.locals)
            if root in written and isinstance(atom, gast.Name) and not isinstance(seq, gast.Name):
                self.check("unshared", [name(atom.id), name(root), const(_text(seq)),
                                        const(root), const(at)])

    def iter_kind(self, it: gast.AST) -> Any:
        if isinstance(it, gast.Call):
            found, fn = self.resolve(it.func)
            plain = not it.keywords or [k.arg for k in it.keywords] == [
                {zip: "strict", enumerate: "start"}.get(fn)]
            counted = fn is not enumerate or len(it.args) + len(it.keywords) in (1, 2)
            starred = any(isinstance(a, gast.Starred) for a in it.args)  # `zip(*rows)`
            if found and plain and counted and not starred and fn in (range, enumerate, zip,
                                                                      reversed):
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


def _write_targets(node: gast.AST) -> list[gast.AST]:
    """The targets an assignment writes through (`B[i] = ...`, `B[i] += ...`)."""
    if isinstance(node, gast.Assign):
        return [t for t in node.targets if isinstance(t, gast.Subscript)]
    return [node.target] if isinstance(node, gast.AugAssign) and isinstance(
        node.target, gast.Subscript) else []


def _viewed_root(seq: gast.AST, local: set[str]) -> str | None:
    """The local name an iterated expression may be a view of: `B` in `B[:-1]`, `B.T`,
    `B.reshape(...)`, `np.flip(B)`."""
    while not (isinstance(seq, gast.Name) and seq.id in local):
        if isinstance(seq, (gast.Subscript, gast.Attribute)):
            seq = seq.value
        elif isinstance(seq, gast.Call) and isinstance(seq.func, gast.Attribute) and (
                isinstance(seq.func.value, gast.Name) and seq.func.value.id in local):
            seq = seq.func.value
        elif isinstance(seq, gast.Call) and seq.args:
            seq = seq.args[0]
        else:
            return None
    return seq.id


def _root_name(target: gast.AST) -> str | None:
    while isinstance(target, gast.Subscript):
        target = target.value
    return target.id if isinstance(target, gast.Name) else None


def _text(node: gast.AST) -> str:
    return ast.unparse(gast.gast_to_ast(clone(node)))
