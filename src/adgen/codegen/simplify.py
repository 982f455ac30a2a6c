"""Algebraic clean-up of generated expressions and statements.

- `fold_zeros`: symbolic zero tangents vanish (`a * 0` → 0, `x + 0` → x, `0 - x` → -x).
- `fold`: identities on constants (`1.0 * x` → x, `x ** 1` → x, `2 - 1` → 1).
- `drop_dead_stores`: assignments whose value is not live afterwards are removed (pure
  right-hand sides only), by backward liveness over the structured statements.
- `inline_single_use`: a temporary read once is folded into the statement that reads it.
- `propagate_copies`: `a = b` followed by reads of `a` reads `b` instead, within a block,
  while neither is reassigned.
"""

from __future__ import annotations

import operator
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


def _loads(node: Any) -> set[str]:
    return astutil.loads(node)


def _stores(stmts: list[gast.AST]) -> set[str]:
    """Names assigned (or bound as parameters) in `stmts`."""
    return astutil.statement_stores(stmts)


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


def _kill(env: dict[str, gast.AST], names: set[str]) -> None:
    for k in list(env):
        v = env[k]
        if k in names or (isinstance(v, gast.Name) and v.id in names):
            del env[k]


def propagate(body: list[gast.AST], env: dict[str, gast.AST] | None = None,
              protect: set[str] = frozenset()) -> list[gast.AST]:
    """Forward copies and constants (`a = b`, `a = 1.0`) into later reads, then fold; a copy
    that became `a = a` is dropped."""
    env = {} if env is None else env
    out: list[gast.AST] = []
    for s in body:
        if isinstance(s, gast.If):
            s.test = _Substitute(env).visit(s.test)
            assigned = _stores(s.body) | _stores(s.orelse)
            s.body = propagate(s.body, dict(env), protect) or [gast.Pass()]
            s.orelse = propagate(s.orelse, dict(env), protect)
            _kill(env, assigned)
        elif isinstance(s, (gast.For, gast.While)):
            assigned = _stores(s.body) | _stores([s.target] if isinstance(s, gast.For) else [])
            _kill(env, assigned)
            if isinstance(s, gast.For):
                s.iter = _Substitute(env).visit(s.iter)
            else:
                s.test = _Substitute(env).visit(s.test)
            s.body = propagate(s.body, dict(env), protect) or [gast.Pass()]
            s.orelse = propagate(s.orelse, dict(env), protect)
            _kill(env, assigned | _stores(s.orelse))
        else:
            for field_name in ("value", "test", "msg", "exc"):
                value = getattr(s, field_name, None)
                if value is not None and env:
                    substitute = _Substitute(env)
                    value = substitute.visit(value)
                    setattr(s, field_name, fold(value) if substitute.replaced else value)
            if isinstance(s, gast.Assign):
                t = s.targets[0]
                if isinstance(t, gast.Name) and _same_name(s.value, t.id):
                    continue  # `a = a`
                for target in s.targets:
                    if isinstance(target, gast.Subscript):
                        target.slice = _Substitute(env).visit(target.slice)
                _kill(env, _stores([s]))
                if (isinstance(t, gast.Name) and t.id not in protect
                        and (isinstance(s.value, gast.Name) or _num(s.value) is not None)):
                    env[t.id] = s.value
        out.append(s)
    return out


def _same_name(node: gast.AST, var: str) -> bool:
    return isinstance(node, gast.Name) and node.id == var


def _code(body: list[gast.AST]) -> bool:
    return any(not isinstance(s, gast.Pass) for s in body)


def inline_single_use(body: list[gast.AST], pure: Any,
                      keep: Any = frozenset()) -> list[gast.AST]:
    """Fold `v = expr` into the one later statement of the same block that reads `v`.

    This is what lets the trace's one-operation-per-step form read as the user wrote it again
    (`x = math.sin(x) * 0.9 + 0.1 * x`). It only moves pure expressions, and only past
    statements that write nothing the expression reads; any other expression only into a
    plain copy `y = v` right after it (`y = g_fwd(x)`).
    """
    counts: dict[str, int] = {}
    stores: dict[str, int] = {}
    effects: dict[int, tuple[set[str], set[str]]] = {}
    stack: list[Any] = list(body)
    while stack:  # one walk: how often each name is read and written, what each step does
        s = stack.pop()
        if isinstance(s, (gast.If, gast.For, gast.While)):
            stack.extend(s.body)
            stack.extend(s.orelse)
            _tally([s.target, s.iter] if isinstance(s, gast.For) else [s.test], counts, stores)
        else:
            effects[id(s)] = _with_mutations(s, _tally([s], counts, stores))
    for var in keep:
        stores[var] = 2  # never folded
    return _inline_block(body, counts, stores, pure, effects)


def _tally(nodes: list[Any], counts: dict, stores: dict) -> tuple[set[str], set[str]]:
    """Count the names read and written in `nodes` into `counts` and `stores`; the sets of
    them."""
    reads: set[str] = set()
    written: set[str] = set()
    for n in astutil.walk(nodes):
        if isinstance(n, gast.Name):
            if isinstance(n.ctx, gast.Load):
                counts[n.id] = counts.get(n.id, 0) + 1
                reads.add(n.id)
            else:
                stores[n.id] = stores.get(n.id, 0) + 1
                written.add(n.id)
    return reads, written


def _with_mutations(t: gast.AST, effects: tuple[set[str], set[str]]) -> tuple[set, set]:
    """(names read, names written or mutated) by a simple statement, from its names."""
    reads, written = effects
    if isinstance(t, gast.Assign) and isinstance(t.targets[0], gast.Subscript):
        written.add(t.targets[0].value.id)
    if isinstance(t, gast.Expr) and isinstance(t.value, gast.Call):
        written |= astutil.loads(t.value.func)
    return reads, written


def _inline_block(body: list[gast.AST], counts: dict, stores: dict, pure: Any,
                  known: dict[int, tuple[set[str], set[str]]]) -> list:
    for s in body:
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s.body = _inline_block(s.body, counts, stores, pure, known)
            s.orelse = _inline_block(s.orelse, counts, stores, pure, known)
    out: list[Any] = list(body)  # a folded statement becomes None (no list deletions)
    effects = [None if isinstance(s, (gast.If, gast.For, gast.While)) else known[id(s)]
               for s in out]
    for i in range(len(out)):
        j = _inline_target(out, effects, i, counts, stores, pure)
        if j is None:
            continue
        s = out[i]
        _replace_load(out[j], s.targets[0].id, s.value)
        _inherit_line(out[j], s)
        for field_name in ("value", "test"):
            if getattr(out[j], field_name, None) is not None:
                setattr(out[j], field_name, fold(getattr(out[j], field_name)))
        effects[j] = _with_mutations(out[j], astutil.names(out[j]))
        out[i] = None
    return [s for s in out if s is not None]


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
        t_reads, t_written = effects[j]
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


def drop_dead_stores(body: list[gast.AST], pure: Any, live_out: set[str]) -> list[gast.AST]:
    """Remove pure assignments whose value is not live afterwards (backward liveness over the
    structured statements; loop bodies iterate to a fixed point; `break`, `continue` and
    `return` take the liveness of where they jump)."""
    new, _ = _Liveness().block(body, set(live_out), None, pure)
    return new


_Jumps = tuple[set[str], set[str]] | None  # live at a loop's `continue` and at its `break`


class _Liveness:
    """Backward liveness over structured statements, dropping dead pure assignments. The
    names an expression reads are remembered: loop bodies are walked until a fixed point."""

    def __init__(self) -> None:
        self.memo: dict[int, tuple[gast.AST, frozenset[str]]] = {}

    def reads(self, node: gast.AST) -> frozenset[str]:
        found = self.memo.get(id(node))
        if found is None or found[0] is not node:  # the node is kept: its id stays its own
            found = self.memo[id(node)] = (node, frozenset(_loads(node)))
        return found[1]

    def block(self, body: list[gast.AST], live: set[str], loop: _Jumps,
              pure: Any) -> tuple[list, set[str]]:
        out: list[gast.AST] = []
        for s in reversed(body):
            s, live = self.stmt(s, live, loop, pure)
            if s is not None:
                out.append(s)
        out.reverse()
        return out, live

    def stmt(self, s: gast.AST, live: set[str], loop: _Jumps,
             pure: Any) -> tuple[gast.AST | None, set[str]]:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            t = s.targets[0].id
            if t not in live and pure(s.value):
                return None, live
            return s, (live - {t}) | self.reads(s.value)
        if isinstance(s, gast.Expr) and getattr(s.value, "adgen_check", False) and pure(
                s.value):  # a runtime check the facts at hand show cannot fail
            return None, live
        if isinstance(s, gast.Break) and loop is not None:
            return s, set(loop[1])
        if isinstance(s, gast.Continue) and loop is not None:
            return s, set(loop[0])
        if isinstance(s, gast.Return):
            return s, set(self.reads(s.value)) if s.value is not None else set()
        if isinstance(s, gast.If):
            body, l1 = self.block(s.body, set(live), loop, pure)
            orelse, l2 = self.block(s.orelse, set(live), loop, pure)
            if not _code(body) and not _code(orelse) and pure(s.test):
                return None, live
            s.body, s.orelse = body or [gast.Pass()], orelse
            return s, l1 | l2 | self.reads(s.test)
        if isinstance(s, (gast.For, gast.While)):
            return self.loop(s, live, loop, pure)
        return s, live | self.reads(s)

    def loop(self, s: gast.AST, live: set[str], outer: _Jumps,
             pure: Any) -> tuple[gast.AST, set[str]]:
        header = set(self.reads(s.iter if isinstance(s, gast.For) else s.test))
        target = {s.target.id} if isinstance(s, gast.For) else set()
        after = set(live)
        if s.orelse:
            _, after = self.block(list(s.orelse), set(live), outer, _keep)
        entry = after | header
        while True:
            _, inner = self.block(s.body, set(entry), (entry, set(live)), _keep)
            new_entry = entry | (inner - target) | header
            if new_entry == entry:
                break
            entry = new_entry
        s.body, _ = self.block(s.body, set(entry), (entry, set(live)), pure)
        s.body = s.body or [gast.Pass()]
        if s.orelse:
            s.orelse, _ = self.block(s.orelse, set(live), outer, pure)
        return s, entry | after


def _keep(rhs: gast.AST) -> bool:
    """Purity for the fixed-point walks: nothing is dropped while liveness is not final."""
    return False
