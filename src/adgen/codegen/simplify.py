"""Algebraic clean-up of generated expressions and statements.

- `fold_zeros`: symbolic zero tangents vanish (`a * 0` → 0, `x + 0` → x, `0 - x` → -x).
- `fold`: identities on constants (`1.0 * x` → x, `x ** 1` → x, `2 - 1` → 1).
- `inline_single_use`: a temporary read once is folded into the statement that reads it.
- `propagate`: `a = b` followed by reads of `a` reads `b` instead, within a block,
  while neither is reassigned.
"""

from __future__ import annotations

import operator
from collections import Counter
from typing import Any

import gast
import numpy as np

from adgen.codegen import astutil

ZERO = "__adgen_zero__"


def zero() -> gast.Name:
    """The symbolic zero tangent, folded away by `fold_zeros`."""
    return gast.Name(id=ZERO, ctx=gast.Load(), annotation=None, type_comment=None)


def is_zero(node: gast.AST | None) -> bool:
    return isinstance(node, gast.Name) and node.id == ZERO


_FOLDABLE = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
             gast.Div: operator.truediv, gast.Pow: operator.pow}


def _num(node: gast.AST) -> Any:
    if isinstance(node, gast.Constant) and type(node.value) in (int, float):
        return node.value
    return None


def _keeps_type(one: gast.AST, other: gast.AST) -> bool:
    """Whether dropping `* one` keeps the result's type: an int `1`, or a float `1.0` times
    something that is already a float (a derivative, an expression with a float in it, or
    a call of a function that returns floats: not `int(y)`, `round(x)`, `len(xs)`)."""
    if type(one.value) is int:
        return True
    if isinstance(other, gast.Name):
        return other.id.endswith(("_bar", "_dot")) or other.id == ZERO
    if isinstance(other, gast.Call):
        return _returns_floats(getattr(other, "adgen_fn", None))
    return not isinstance(other, gast.Subscript)


_MATH_INTS = {"floor", "ceil", "trunc", "isqrt", "factorial", "comb", "perm", "gcd", "lcm",
              "prod"}


def _returns_floats(fn: Any) -> bool:
    """Whether `fn` returns floats (or float arrays) even for integer arguments."""
    if isinstance(fn, np.ufunc):  # the loop NumPy picks for int64 arguments: the first fit
        for loop in fn.types:
            inputs, outputs = loop.split("->")
            if all(np.can_cast("l", c) for c in inputs):
                return all(c in "efdg" for c in outputs)
        return False
    return getattr(fn, "__module__", None) == "math" and fn.__name__ not in _MATH_INTS


def _neg(node: gast.AST) -> gast.AST:
    if _num(node) is not None:
        return gast.Constant(value=-node.value, kind=None)
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        return node.operand
    positive = _without_leading_minus(node)
    if positive is not None:  # -(-a * b) is a * b (negation is exact)
        return positive
    return gast.UnaryOp(op=gast.USub(), operand=node)


def _without_leading_minus(node: gast.AST) -> gast.AST | None:
    """`a * b / c` for a product `-a * b / c` whose leftmost factor is negated, else None."""
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        return node.operand
    if isinstance(node, gast.BinOp) and isinstance(node.op, (gast.Mult, gast.Div)):
        left = _without_leading_minus(node.left)
        if left is not None:
            return gast.BinOp(left=left, op=node.op, right=node.right)
    return None


class _Fold(astutil.Transformer):
    """Bottom-up folding of zeros, ones and constant arithmetic."""

    def __init__(self, zero_call: Any = None) -> None:
        self.zero_call = zero_call

    def visit_Name(self, node: gast.Name) -> gast.AST:
        return node

    def visit_Constant(self, node: gast.Constant) -> gast.AST:
        return node

    def visit_Call(self, node: gast.Call) -> gast.AST:
        self.generic_visit(node)
        if self.zero_call is not None and self.zero_call(node):
            return _zero_like(node)
        if getattr(node, "adgen_sum_to_scalar", False) and _num(node.args[0]) is not None:
            return node.args[0]
        return node

    def visit_BinOp(self, node: gast.BinOp) -> gast.AST:
        self.generic_visit(node)
        a, b, op = node.left, node.right, type(node.op)
        za, zb = is_zero(a), is_zero(b)
        if op in (gast.Mult, gast.MatMult) and (za or zb):
            return _zero_like(node)
        if op is gast.Div and za:
            return _zero_like(node)
        if op is gast.Add and (za or zb):
            return b if za else a
        if op is gast.Sub and (za or zb):
            return _neg(b) if za else a
        na, nb = _num(a), _num(b)
        if na is not None and nb is not None and op in _FOLDABLE:
            try:
                return gast.Constant(value=_FOLDABLE[op](na, nb), kind=None)
            except (ArithmeticError, ValueError):
                return node
        if op is gast.Mult and na == 1 and _keeps_type(a, b):
            return b
        if op in (gast.Mult, gast.Div) and nb == 1 and _keeps_type(b, a):
            return a
        if op is gast.Pow and nb == 1:
            return a
        if op is gast.Mult and na == -1:
            return _neg(b)
        if op is gast.Mult and isinstance(b, gast.UnaryOp) and isinstance(b.op, gast.USub):
            return _neg(gast.BinOp(left=a, op=node.op, right=b.operand))
        if op is gast.Add and isinstance(b, gast.UnaryOp) and isinstance(b.op, gast.USub):
            return gast.BinOp(left=a, op=gast.Sub(), right=b.operand)
        return node

    def visit_UnaryOp(self, node: gast.UnaryOp) -> gast.AST:
        self.generic_visit(node)
        if isinstance(node.op, gast.USub):
            return node.operand if is_zero(node.operand) else _neg(node.operand)
        return node

    def visit_IfExp(self, node: gast.IfExp) -> gast.AST:
        self.generic_visit(node)
        if is_zero(node.body) and is_zero(node.orelse):
            return node.body
        return node


def _zero_like(node: gast.AST) -> gast.AST:
    return zero()


class _ZeroToConstant(astutil.Transformer):
    def __init__(self, zero_value: Any = None) -> None:
        self.zero_value = zero_value

    def visit_Name(self, node: gast.Name) -> gast.AST:
        if node.id != ZERO:
            return node
        if self.zero_value is not None:
            return self.zero_value(node)
        return gast.Constant(value=0.0, kind=None)


def fold(expr: gast.AST) -> gast.AST:
    """Fold constants and identities in an expression."""
    return _Fold().visit(expr)


def fold_zeros(expr: gast.AST, zero_call: Any = None,
               zero_value: Any = None) -> gast.AST | None:
    """Fold symbolic zeros; None when the whole expression is zero. `zero_call(call)` says
    whether a call is zero because a zero argument makes it so (linear functions);
    `zero_value(marker)` is what a zero that cannot be folded becomes (default `0.0`)."""
    expr = _Fold(zero_call).visit(expr)
    if is_zero(expr):
        return None
    return _ZeroToConstant(zero_value).visit(expr)


# ---------------------------------------------------------------------- statements


def _stores(stmts: list[gast.AST]) -> set[str]:
    """Names assigned (or bound as parameters) in `stmts`."""
    return astutil.statement_stores(stmts)


class _Copies:
    """The copies and constants known at a point (`a = b`, `a = 1.0`): `values[a]` is `b`'s
    name or the constant, `copies[b]` the names that may hold a copy of `b`. Changes are logged,
    so a nested block works on the mapping itself and its changes are undone after it (no
    copy of the whole mapping per block), and killing a name costs only its own copies."""

    def __init__(self) -> None:
        self.values: dict[str, gast.AST] = {}
        self.copies: dict[str, set[str]] = {}  # may hold stale entries, checked when used
        self.log: list[tuple[str, gast.AST | None]] = []  # (name, value before the change)

    def _put(self, var: str, value: gast.AST | None) -> None:
        if value is None:
            del self.values[var]
            return
        self.values[var] = value
        if isinstance(value, gast.Name):
            self.copies.setdefault(value.id, set()).add(var)

    def set(self, var: str, value: gast.AST) -> None:
        self.log.append((var, self.values.get(var)))
        self._put(var, value)

    def drop(self, var: str) -> None:
        if var in self.values:
            self.log.append((var, self.values[var]))
            del self.values[var]

    def kill(self, names: set[str]) -> None:
        """Forget what `names` hold and every copy of them."""
        for n in names:
            self.drop(n)
            for var in self.copies.pop(n, ()):
                value = self.values.get(var)
                if isinstance(value, gast.Name) and value.id == n:
                    self.drop(var)

    def mark(self) -> int:
        return len(self.log)

    def undo(self, mark: int) -> None:
        while len(self.log) > mark:
            var, value = self.log.pop()
            if var in self.values:
                del self.values[var]
            if value is not None:
                self._put(var, value)


class _Substitute:
    """Loads of names in `env` replaced by copies of their (name or constant) values."""

    def __init__(self, env: dict[str, gast.AST]) -> None:
        self.env = env
        self.replaced = False

    def replace(self, node: gast.Name) -> gast.AST | None:
        value = self.env.get(node.id)
        if value is None:
            return None
        self.replaced = True
        if isinstance(value, gast.Constant):
            return gast.Constant(value=value.value, kind=None)
        return gast.Name(id=value.id, ctx=gast.Load(), annotation=None, type_comment=None)

    def visit(self, node: gast.AST) -> gast.AST:
        return astutil.map_loads(node, self.replace) if self.env else node


def propagate(body: list[gast.AST], protect: set[str] = frozenset()) -> list[gast.AST]:
    """Forward copies and constants (`a = b`, `a = 1.0`) into later reads, then fold; a copy
    that became `a = a` is dropped."""
    return _propagate(body, _Copies(), protect)


def _in_block(body: list[gast.AST], env: _Copies, protect: set[str]) -> list[gast.AST]:
    """`body` propagated from what `env` knows now; `env` is as it was afterwards."""
    mark = env.mark()
    out = _propagate(body, env, protect)
    env.undo(mark)
    return out


def _propagate(body: list[gast.AST], env: _Copies, protect: set[str]) -> list[gast.AST]:
    known = env.values
    out: list[gast.AST] = []
    for s in body:
        if isinstance(s, gast.If):
            s.test = _Substitute(known).visit(s.test)
            assigned = _stores(s.body) | _stores(s.orelse)
            s.body = _in_block(s.body, env, protect) or [gast.Pass()]
            s.orelse = _in_block(s.orelse, env, protect)
            env.kill(assigned)
        elif isinstance(s, (gast.For, gast.While)):
            assigned = _stores(s.body) | _stores([s.target] if isinstance(s, gast.For) else [])
            env.kill(assigned)
            if isinstance(s, gast.For):
                s.iter = _Substitute(known).visit(s.iter)
            else:
                s.test = _Substitute(known).visit(s.test)
            s.body = _in_block(s.body, env, protect) or [gast.Pass()]
            s.orelse = _in_block(s.orelse, env, protect)
            env.kill(assigned | _stores(s.orelse))
        else:
            for field_name in ("value", "test", "msg", "exc"):
                value = getattr(s, field_name, None)
                if value is not None and known:
                    substitute = _Substitute(known)
                    value = substitute.visit(value)
                    setattr(s, field_name, fold(value) if substitute.replaced else value)
            if isinstance(s, gast.Assign):
                t = s.targets[0]
                if isinstance(t, gast.Name) and _same_name(s.value, t.id):
                    continue  # `a = a`
                for target in s.targets:
                    if isinstance(target, gast.Subscript):
                        target.slice = _Substitute(known).visit(target.slice)
                        base = target.value  # `D = _l1; D[0] = v` writes into `_l1`: one name
                        if isinstance(base, gast.Name) and isinstance(known.get(base.id),
                                                                      gast.Name):
                            target.value = _Substitute(known).visit(base)
                env.kill(_stores([s]))
                if (isinstance(t, gast.Name) and t.id not in protect
                        and (isinstance(s.value, gast.Name) or _num(s.value) is not None)):
                    env.set(t.id, s.value)
            elif isinstance(s, gast.AugAssign):  # `a_bar += g`: `a_bar` is no copy any more
                target = s.target.value if isinstance(s.target, gast.Subscript) else s.target
                env.kill(_stores([s]) | {target.id} if isinstance(target, gast.Name) else
                         _stores([s]))
        out.append(s)
    return out


def _same_name(node: gast.AST, var: str) -> bool:
    return isinstance(node, gast.Name) and node.id == var


def inline_single_use(body: list[gast.AST], pure: Any,
                      keep: Any = frozenset()) -> list[gast.AST]:
    """Fold `v = expr` into the one later statement of the same block that reads `v`.

    This is what lets the trace's one-operation-per-step form read as the user wrote it again
    (`x = math.sin(x) * 0.9 + 0.1 * x`). It only moves pure expressions, and only past
    statements that write nothing the expression reads; any other expression only into a
    plain copy `y = v` right after it (`y = g_fwd(x)`).
    """
    counts: Counter[str] = Counter()
    stores: Counter[str] = Counter()
    effects: dict[int, tuple[set[str], set[str], int]] = {}
    stack: list[Any] = list(body)
    while stack:  # one walk: how often each name is read and written, what each step does
        s = stack.pop()
        if isinstance(s, (gast.If, gast.For, gast.While)):
            stack.extend(s.body)
            stack.extend(s.orelse)
            _tally([s.target, s.iter] if isinstance(s, gast.For) else [s.test], counts, stores)
        else:
            reads, written, size = _tally([s], counts, stores)
            effects[id(s)] = (*_with_mutations(s, (reads, written)), size)
    for var in keep:
        stores[var] = 2  # never folded
    return _inline_block(body, counts, stores, pure, effects)


def _tally(nodes: list[Any], counts: Counter, stores: Counter,
           ) -> tuple[set[str], set[str], int]:
    """Count the names read and written in `nodes` into `counts` and `stores`; the sets of
    them, and the number of nodes."""
    reads: list[str] = []
    written: list[str] = []
    size = astutil.name_lists(nodes, reads, written)
    counts.update(reads)
    stores.update(written)
    return set(reads), set(written), size


def _with_mutations(t: gast.AST, effects: tuple[set[str], set[str]]) -> tuple[set, set]:
    """(names read, names written or mutated) by a simple statement, from its names."""
    reads, written = effects
    if isinstance(t, gast.Assign) and isinstance(t.targets[0], gast.Subscript):
        written.add(t.targets[0].value.id)
    if isinstance(t, gast.Expr) and isinstance(t.value, gast.Call):
        written |= astutil.loads(t.value.func)
    return reads, written


def _inline_block(body: list[gast.AST], counts: dict, stores: dict, pure: Any,
                  known: dict[int, tuple[set[str], set[str], int]]) -> list:
    for s in body:
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s.body = _inline_block(s.body, counts, stores, pure, known)
            s.orelse = _inline_block(s.orelse, counts, stores, pure, known)
    out: list[Any] = list(body)  # a folded statement becomes None (no list deletions)
    effects = [None if isinstance(s, (gast.If, gast.For, gast.While)) else known[id(s)]
               for s in out]
    for i in range(len(out)):
        j = _inline_target(out, effects, i, counts, stores, pure)
        if j is None or effects[i][2] + effects[j][2] > LARGEST_FOLD:
            continue
        s = out[i]
        _replace_load(out[j], s.targets[0].id, s.value)
        _inherit_line(out[j], s)
        for field_name in ("value", "test"):
            if getattr(out[j], field_name, None) is not None:
                setattr(out[j], field_name, fold(getattr(out[j], field_name)))
        effects[j] = _moved(effects[i], effects[j], s.targets[0].id)
        out[i] = None
    return [s for s in out if s is not None]


LARGEST_FOLD = 400
"""No value is folded into a statement when the two hold more nodes than this together
(counted as `ast.walk` counts them, before folding; the largest statement in the suite's
generated code has 179).
A chain of single-use adjoints (`v2 = sin(v1); v3 = sin(v2); ...`) would otherwise become
one expression nested as deep as the chain is long: folded again at every step (quadratic
time), unreadable, and past the compiler's nesting limit for long enough chains."""




def _moved(source: tuple[set[str], set[str], int], target: tuple[set[str], set[str], int],
           var: str) -> tuple[set[str], set[str], int]:
    """What a statement reads and writes, and its size, once the value of `var = ...` (whose
    effects are `source`) replaced its one read of `var`, without walking it again (folding
    drops no name a statement reads; the size is the one before folding, an upper bound)."""
    return ((target[0] - {var}) | source[0], target[1] | (source[1] - {var}),
            target[2] + source[2] - 5)  # less `var = ` (assignment, name, context), the read


def _inline_target(out: list, effects: list, i: int, counts: dict, stores: dict,
                   pure: Any) -> int | None:
    s = out[i]
    if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
        return None
    var = s.targets[0].id
    if counts.get(var, 0) != 1 or stores.get(var, 0) != 1:
        return None
    if not pure(s.value):  # a call with effects only moves into a copy right after it
        after = out[i + 1] if i + 1 < len(out) else None
        copies = (isinstance(after, gast.Assign) and isinstance(after.value, gast.Name)
                  and after.value.id == var)
        return i + 1 if copies else None
    reads = effects[i][0]
    for j in range(i + 1, len(out)):
        if effects[j] is None:
            return None
        t_reads, t_written, _ = effects[j]
        if var in t_reads:
            return j if _value_use(out[j], var) else None
        if t_written & reads or _writes_in_place(out[j]):
            return None  # another name may hold the object written into (`w_2 = w`)
    return None


def _writes_in_place(t: gast.AST) -> bool:
    """Whether a simple statement writes an item of an object in place (`w[0] = w_1`)."""
    return isinstance(t, gast.Assign) and isinstance(t.targets[0], gast.Subscript)


def _inherit_line(t: gast.AST, s: gast.AST) -> None:
    """A statement without a source line that now computes what `s` did takes `s`'s line,
    unless what it took in comes from different lines (then it stays without a comment)."""
    line = (getattr(s, "adgen_line", None), getattr(s, "adgen_adjoint", False))
    if getattr(t, "adgen_line", None) is None and not hasattr(t, "adgen_folded"):
        t.adgen_line, t.adgen_adjoint = line
        t.adgen_folded = True
    elif getattr(t, "adgen_folded", False) and line != (t.adgen_line, t.adgen_adjoint):
        t.adgen_line, t.adgen_folded = None, False


def _value_use(t: gast.AST, var: str) -> bool:
    """Whether `var` is read only as a value in `t`: not as a container written into
    (`var[i] = ...`) nor as the receiver of a method (`var.append(...)`), where a copy of
    its expression would be changed instead of the variable."""
    if isinstance(t, gast.Assign) and var in astutil.loads(t.targets):
        return False
    if isinstance(t, gast.Expr) and isinstance(t.value, gast.Call):
        return var not in astutil.loads(t.value.func)
    return True


def _replace_load(stmt: gast.AST, var: str, value: gast.AST) -> None:
    def swap(node: gast.Name) -> gast.AST | None:
        return value if node.id == var else None

    for field_name in ("value", "test"):
        current = getattr(stmt, field_name, None)
        if isinstance(current, list):
            setattr(stmt, field_name, [astutil.map_loads(c, swap) for c in current])
        elif current is not None:
            setattr(stmt, field_name, astutil.map_loads(current, swap))
