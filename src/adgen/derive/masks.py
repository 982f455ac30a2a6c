"""Masks an adjoint is zero outside, so a partial that may be infinite is never multiplied by
that zero (`docs/architecture.md`, "Masked adjoints").

`np.where(c, a, b)` hands `a` the adjoint `where(c, g, 0)`: zero outside `c`. If `a = sqrt(x)`,
the adjoint of `sqrt` multiplies that zero by `0.5 / a`, which is infinite where `x` is 0 and
NaN where it is negative: `0 * inf` is a NaN the function does not have. `masks(body, params)`
finds, for each step, the conditions its result's adjoint is zero outside of: a *literal*
`(c, holds, written)` says the adjoint is zero where `c` does not hold (`holds`) or where it
holds (not `holds`); `written` names the array of a masked write `y[m] = v` (its adjoint is
zero where the boolean index `m` wrote, and only when `m` indexes all of `y`). A step's mask
is the conjunction of its literals.

Literals come from where a value is read:

- the branches of `np.where` and of the helpers `inside`/`outside`/`unwritten` (so the
  derivative of generated code finds them again), the choices and the default of
  `np.select(L, C, d)` with `L` and `C` lists made in the function;
- a masked write `y[m] = v` that is the first read of `y` after its step, with `m` a
  comparison (or `isnan`, `logical_and`, `&`, ... of comparisons);
- an elementwise step (operators, ufuncs, `np.clip`) passes its result's mask to its
  operands; a comparison passes nothing (its adjoint is none).

A name carries a mask only when it is assigned once, never written into, and every read is in
the same block after its step; a name read in two places carries what both reads imply (the
literals they share). A literal is used at a step only when its condition holds there the
value it had where it was read: a parameter never assigned, or a name assigned once in the
same block (before the step, where the block may run more than once).

The other way round, `sources`: an operand whose own derivative is zero outside a literal
(`v = np.clip(a, 0.0, None)`: zero where `v != a`, a condition written as the comparison
`("==", v, a)`; `np.maximum`, `np.minimum`, `np.where` with a constant branch alike). A step
whose only active operand is such a `v` multiplies its partial by that zero (a tangent) or
hands its adjoint to a step that does (the clip's adjoint): `np.sqrt(v)` may take its partial
at a safe operand there too (`mask_guards.Masks.upstream`).

Nothing here changes a step whose adjoint reads no mask: code without `np.where`,
`np.select`, `np.clip`, `np.maximum`, `np.minimum` or masked writes gets no masks at all
(`masks` returns after one pass over its steps).
"""

from __future__ import annotations

import operator
from typing import Any

import gast
import numpy as np

from adgen import runtime_masks
from adgen.codegen import astutil
from adgen.derive.analysis import call_parts, primitive, statements
from adgen.derive.mask_guards import BRANCHES, Masks, is_one_of
from adgen.derive.templates import differentiable_atoms
from adgen.rules.batched import elementwise
from adgen.rules.registry import lookup

Literal = tuple[Any, bool, "str | None"]  # (condition: a name or (op, left, right), holds,
# the array a masked write wrote)

_TESTS = (np.isnan, np.isinf, np.isfinite, np.signbit)
_LOGIC = (np.logical_and, np.logical_or, np.logical_xor, np.logical_not, operator.and_,
          operator.or_, operator.xor, operator.invert)
_CARRIER_IDS = frozenset(map(id, (*BRANCHES, np.select, runtime_masks.unwritten, np.clip,
                                  np.maximum, np.minimum)))
_BOOLEAN_IDS = frozenset(map(id, _TESTS + _LOGIC))
_TOP = None  # a read that takes no adjoint (a comparison, the condition of `np.where`)


def masks(body: list[gast.AST], params: list[str], forward: bool = False) -> Masks:
    """The masks of a function's steps (`Masks`); `forward`: for tangents, which are computed
    right after their step, so a condition must be computed before the step."""
    if not _may_mask(body):
        return Masks()
    return _Masks(body, params, forward).run()


def _may_mask(body: list[gast.AST]) -> bool:
    """Whether a function has a mask at all: a step of `np.where`, `np.select` or a mask
    helper, or a write `y[m] = v` through a name `m` a comparison made (one pass over the
    steps, no walk of their expressions: what code without masks pays)."""
    booleans, indices = set(), set()
    for s in statements(body):
        if type(s) is not gast.Assign:
            continue
        t, fn = s.targets[0], getattr(s.value, "adgen_fn", None)
        if getattr(fn, "key", None) == "ndarray.clip":
            return True
        if type(t) is gast.Subscript:
            if type(t.slice) is gast.Name:
                indices.add(t.slice.id)
        elif type(s.value) is gast.Compare or id(fn) in _BOOLEAN_IDS:
            booleans.add(t.id)
        elif id(fn) in _CARRIER_IDS:
            return True
    return not booleans.isdisjoint(indices)


class _Masks:
    def __init__(self, body: list[gast.AST], params: list[str], forward: bool) -> None:
        self.body, self.params, self.forward = body, set(params), forward
        self.blocks: list[tuple[list[gast.AST], bool]] = []
        self.place: dict[int, tuple[int, int]] = {}  # step -> (block, index)
        self.assigned: dict[str, int] = {}
        self.defs: dict[str, gast.Assign] = {}
        self.written: set[str] = set()
        self.reads: dict[str, list[gast.AST]] = {}
        self.mask: dict[str, frozenset] = {}
        self.lists: dict[str, list[frozenset]] = {}  # a choice list's masks, item by item
        self.same: dict[str, str] = {}  # a condition -> the first one computing the same

    def run(self) -> Masks:
        self._collect()
        out = Masks()
        self._same_conditions()
        for block, _ in self.blocks:
            for s in reversed(block):
                var = self._target(s)
                if var is None:
                    if isinstance(s, gast.Assign):
                        self._select_lists(s)
                    continue
                mask = self.mask[var] = self._of(var, s)
                self._select_lists(s)
                if mask:
                    out.chain.add(var)
                usable = frozenset(lit for lit in mask or () if self._usable(lit, s))
                if usable:
                    out.at[var] = usable
                self._sources(var, s, out)
        return out

    def _sources(self, var: str, s: gast.Assign, out: Masks) -> None:
        """The operands of step `s` whose derivative is zero outside a literal usable here."""
        found: dict[str, list] = {}
        for atom in astutil.walk(s.value):
            d = self.defs.get(atom.id) if isinstance(atom, gast.Name) else None
            if d is None or atom.id in found or not self._single(atom.id):
                continue
            kept = [found for found in _zero_outside(d)
                    if self._usable(found[0], s) and self.place[id(d)][0] == self.place[id(s)][0]]
            if kept:
                found[atom.id] = kept
        if found:
            out.sources[var] = found

    # ---------------------------------------------------------------- the function's names

    def _collect(self) -> None:
        stack: list[tuple[list[gast.AST], bool]] = [(self.body, False)]
        while stack:
            block, in_loop = stack.pop()
            number = len(self.blocks)
            self.blocks.append((block, in_loop))
            for i, s in enumerate(block):
                self.place[id(s)] = (number, i)
                self._note(s)
                if isinstance(s, gast.If):
                    stack += [(s.body, in_loop), (s.orelse, in_loop)]
                elif isinstance(s, (gast.For, gast.While)):
                    stack += [(s.body, True), (s.orelse, in_loop)]

    def _note(self, s: gast.AST) -> None:
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            if isinstance(t, gast.Name):
                self.assigned[t.id] = self.assigned.get(t.id, 0) + 1
                self.defs[t.id] = s
            else:
                for n in astutil.walk(t):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                        self.assigned[n.id] = 2
                if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                    self.written.add(t.value.id)
            parts: list[Any] = [s]
        elif isinstance(s, (gast.If, gast.While)):
            parts = [s.test]
        elif isinstance(s, gast.For):
            parts = [s.iter]
            for n in astutil.walk(s.target):
                if isinstance(n, gast.Name):
                    self.assigned[n.id] = 2
        else:
            parts = [s]
        for part in parts:
            for n in astutil.walk(part):
                if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Store):
                    self.reads.setdefault(n.id, []).append(s)

    def _same_conditions(self) -> None:
        """Comparisons of the same operands in one block (`x > 0` written twice) are one
        condition: the first, whose value the later ones repeat."""
        for block, _ in self.blocks:
            first: dict[Any, str] = {}
            for s in block:
                var = self._target(s)
                key = self._comparison(s, block) if var and self._single(var) else None
                if key is not None:
                    self.same[var] = first.setdefault(key, var)

    def _comparison(self, s: gast.Assign, block: list) -> Any:
        """A key for a comparison whose operands are constants, parameters never assigned or
        names assigned once earlier in the same block; None for others."""
        rhs = s.value
        if not isinstance(rhs, gast.Compare):
            return None
        key: list[Any] = [type(op).__name__ for op in rhs.ops]
        for atom in [rhs.left, *rhs.comparators]:
            if isinstance(atom, gast.Constant):
                key.append(("constant", type(atom.value).__name__, repr(atom.value)))
            elif isinstance(atom, gast.Name) and self._stable_operand(atom.id, s):
                key.append(atom.id)
            else:
                return None
        return tuple(key)

    def _stable_operand(self, var: str, s: gast.AST) -> bool:
        if var in self.params:
            return self.assigned.get(var, 0) == 0 and var not in self.written
        d = self.defs.get(var)
        return d is not None and self._single(var) and (
            self.place[id(d)][0] == self.place[id(s)][0]
            and self.place[id(d)][1] < self.place[id(s)][1])

    def _target(self, s: gast.AST) -> str | None:
        """The name `s` assigns, when that name may carry a mask."""
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
            return None
        var = s.targets[0].id
        return var if self.assigned.get(var) == 1 and var not in self.params else None

    def _single(self, var: str) -> bool:
        return (self.assigned.get(var) == 1 and var not in self.params
                and var not in self.written)

    # ---------------------------------------------------------------- masks from reads

    def _of(self, var: str, s: gast.Assign) -> frozenset | None:
        block, index = self.place[id(s)]
        later = []
        for r in self.reads.get(var, ()):
            b, i = self.place[id(r)]
            if b != block or i <= index:
                return None
            later.append((i, r))
        later.sort(key=lambda p: p[0])
        if not later:
            return None
        first = later[0][1]
        if var in self.written:  # only a masked write, read first, makes the mask
            return self._write(var, first)
        mask: frozenset | None = _TOP
        for _, r in later:
            got = self._read(var, r)
            if got is not _TOP:
                mask = got if mask is _TOP else mask & got
        return mask or None

    def _write(self, var: str, s: gast.AST) -> frozenset | None:
        t = s.targets[0] if isinstance(s, gast.Assign) else None
        if not (isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name)
                and t.value.id == var and isinstance(t.slice, gast.Name)
                and var not in astutil.loads(s.value) and self._boolean(t.slice.id)):
            return None
        return frozenset([(self.same.get(t.slice.id, t.slice.id), False, var)])

    def _read(self, var: str, s: gast.AST) -> frozenset | None:
        """What the read of `var` in step `s` says of `var`'s adjoint (`_TOP`: nothing)."""
        if not isinstance(s, gast.Assign) or not isinstance(s.targets[0], gast.Name):
            return frozenset()
        rhs, target = s.value, s.targets[0].id
        if isinstance(rhs, gast.Compare):
            return _TOP
        outer = self.mask.get(target) or frozenset()
        if isinstance(rhs, gast.List) and target in self.lists:
            items = [e.id if isinstance(e, gast.Name) else None for e in rhs.elts]
            if items.count(var) == 1:
                return self.lists[target][items.index(var)]
            return frozenset()
        fn = primitive(rhs)
        if fn is None or not isinstance(rhs, (gast.Call, gast.BinOp, gast.UnaryOp)):
            return frozenset()
        args, keywords = call_parts(rhs)
        rule = lookup(fn)
        if rule is None:
            return frozenset()
        if rule.nondifferentiable or not any(
                isinstance(a, gast.Name) and a.id == var
                for a in differentiable_atoms(rule, args, keywords)):
            return _TOP  # read for its shape, as a condition, ...: it takes no adjoint
        if keywords:
            return frozenset()
        at = [i for i, a in enumerate(args) if isinstance(a, gast.Name) and a.id == var]
        if is_one_of(fn, BRANCHES):
            return self._branch(fn, args, at, outer)
        if fn is runtime_masks.unwritten:
            if at == [1] and all(isinstance(a, gast.Name) for a in (args[0], args[3])):
                return outer | {(self.same.get(args[0].id, args[0].id), False, args[3].id)}
            return outer if 1 in at else _TOP
        if fn is np.select and at and 2 in at and len(args) == 3:
            return self._default(args, outer) if at == [2] else frozenset()
        return outer if elementwise(rule) else frozenset()

    def _branch(self, fn: Any, args: list, at: list[int], outer: frozenset) -> Any:
        cond, first, second = next(v for k, v in BRANCHES.items() if k is fn)
        if len(args) < 3 or (len(args) > 3 and fn is np.where):
            return frozenset()
        kept = [i for i in at if i in (first, second)]
        if not kept:
            return _TOP  # the condition, a safe value or a shape: no adjoint
        c = args[cond]
        if len(kept) > 1 or not isinstance(c, gast.Name):
            return outer
        return outer | {(self.same.get(c.id, c.id), kept[0] == first, None)}

    def _condlist(self, atom: Any) -> list[str] | None:
        """The condition names of a list `L` made in the function and never changed."""
        if not isinstance(atom, gast.Name) or not self._single(atom.id):
            return None
        s = self.defs.get(atom.id)
        if not isinstance(s.value, gast.List) or not all(
                isinstance(e, gast.Name) for e in s.value.elts):
            return None
        if any(not isinstance(r, gast.Assign) for r in self.reads.get(atom.id, ())):
            return None
        return [e.id for e in s.value.elts]

    def _default(self, args: list, outer: frozenset) -> frozenset:
        conds = self._condlist(args[0])
        return outer if conds is None else outer | {(self.same.get(c, c), False, None)
                                                    for c in conds}

    def _select_lists(self, s: gast.Assign) -> None:
        """Before the choice list `C` of `w = np.select(L, C, d)` is reached: each item's mask."""
        if primitive(s.value) is not np.select:
            return
        args, keywords = call_parts(s.value)
        if keywords or len(args) < 2 or not isinstance(args[1], gast.Name):
            return
        choices, conds = args[1].id, self._condlist(args[0])
        if conds is None or not self._single(choices) or any(
                r is not s and self._read(choices, r) is not _TOP
                for r in self.reads.get(choices, ())):
            return  # (other reads only measure the list: `select_adjoint(g, L, C, y)`)
        outer = self.mask.get(s.targets[0].id) or frozenset()
        self.lists[choices] = [
            outer | {(self.same.get(c, c), True, None)}
            | {(self.same.get(p, p), False, None) for p in conds[:i]}
            for i, c in enumerate(conds)]

    # ---------------------------------------------------------------- usable literals

    def _boolean(self, var: str) -> bool:
        """Whether `var` certainly holds booleans (a comparison, or logic on comparisons)."""
        todo, seen = [var], set()
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            s = self.defs.get(n)
            if s is None or not self._single(n):
                return False
            if isinstance(s.value, gast.Compare):
                continue
            fn = primitive(s.value)
            if is_one_of(fn, _TESTS):
                continue
            args, keywords = call_parts(s.value) if fn is not None else ([], {})
            if not is_one_of(fn, _LOGIC) or keywords or not all(
                    isinstance(a, gast.Name) for a in args):
                return False
            todo += [a.id for a in args]
        return True

    def _usable(self, literal: Literal, s: gast.AST) -> bool:
        """Whether the names of `literal` hold, at the reverse of `s`, the values they had
        where the mask was made (the written array: its shape)."""
        cond, _, written = literal
        names = [cond] if isinstance(cond, str) else [p for p in cond[1:] if isinstance(p, str)]
        return all(n not in self.written and self._holds(n, s) for n in names) and (
            written is None or self._holds(written, s))

    def _holds(self, var: str, s: gast.AST) -> bool:
        if var in self.params:
            return self.assigned.get(var, 0) == 0 and var not in self.written and not any(
                isinstance(r, gast.Expr) for r in self.reads.get(var, ()))
        if self.assigned.get(var) != 1 or any(
                isinstance(r, gast.Expr) for r in self.reads.get(var, ())):
            return False
        d = self.defs[var]
        (block, index), (b, i) = self.place[id(d)], self.place[id(s)]
        if block != b:
            return False
        return (not self.blocks[block][1] and not self.forward) or index <= i


def _zero_outside(d: gast.Assign) -> list[tuple[Any, list[str], list[float]]]:
    """For `v = np.clip(a, lo, hi)`, `np.maximum(a, b)`, `np.minimum(a, b)`, `np.where(c, a,
    b)`: the literals outside which `v`'s derivative is zero, each with the atoms that must be
    inactive for it (the bounds, the other operand, the other branch) and the numbers `v`
    takes outside it (where they are numbers)."""
    fn, v = primitive(d.value), d.targets[0].id
    if fn is None or not isinstance(d.value, gast.Call):
        return []
    args, keywords = call_parts(d.value)
    if keywords or not all(isinstance(a, (gast.Name, gast.Constant)) for a in args):
        return []
    part = [a.id if isinstance(a, gast.Name) else a.value for a in args]
    if not all(p is None or isinstance(p, (str, int, float)) for p in part):
        return []
    if (fn is np.clip or fn == "ndarray.clip") and part and isinstance(part[0], str):
        return [((("==", v, part[0]), True, None), _names(*part[1:]), _numbers(*part[1:]))]
    if (fn is np.maximum or fn is np.minimum) and len(part) == 2 and None not in part:
        passes, cut = (">=", "<") if fn is np.maximum else ("<=", ">")
        a, b = part
        return [(((passes, a, b), True, None), _names(b), _numbers(b)),
                (((cut, a, b), True, None), _names(a), _numbers(a))]
    if fn is np.where and len(part) == 3 and isinstance(part[0], str):
        return [((part[0], True, None), _names(part[2]), _numbers(part[2])),
                ((part[0], False, None), _names(part[1]), _numbers(part[1]))]
    return []


def _numbers(*parts: Any) -> list[float]:
    return [p for p in parts if isinstance(p, (int, float)) and not isinstance(p, bool)]


def _names(*parts: Any) -> list[str]:
    return [p for p in parts if isinstance(p, str)]
