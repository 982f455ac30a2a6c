"""Facts about a trace that the derivative generators need.

- *Activity*: a variable is active when it is varied (depends differentiably on a `wrt`
  parameter) and useful (the returned value depends differentiably on it). Only active
  variables get tangents and adjoints. The analysis is flow-insensitive: a name is active if
  any of its assignments makes it so.
- *Kinds*: which variables are certainly 0-d (Python numbers, NumPy scalars), given which
  parameters are. Adjoints of broadcasting operations skip `unbroadcast` where every operand
  is 0-d, so scalar code pays nothing for array generality.
- Small helpers over the lowered grammar: what an rhs reads, which primitive it applies.

All walks are iterative over statement lists; fixed points iterate over flat edge lists.
"""

from __future__ import annotations

import operator
import types
from collections.abc import Iterator
from typing import Any

import gast
import numpy as np

from adgen import runtime, runtime_fields, runtime_tables
from adgen.derive.templates import differentiable_atoms
from adgen.errors import DifferentiationError
from adgen.frontend.lower import Method, atom_names
from adgen.program import Program
from adgen.rules import lookup, numpy_shape

NONDIFF_ATTRIBUTES = {"shape", "ndim", "size", "dtype", "real_dtype"}


def statements(body: list[gast.AST]) -> Iterator[gast.AST]:
    """Every statement of a body, nested ones included, in program order."""
    stack = [iter(body)]
    while stack:
        for s in stack[-1]:
            yield s
            if isinstance(s, (gast.If, gast.For, gast.While)):
                stack.append(iter(s.orelse))
                stack.append(iter(s.body))
                break
        else:
            stack.pop()


def primitive(rhs: gast.AST) -> Any:
    """The callable (or method key) an rhs applies, None for plain data movement."""
    fn = getattr(rhs, "adgen_fn", None)
    if isinstance(fn, Method):
        return fn.key
    return fn


def field_read(rhs: gast.AST) -> str | None:
    """The attribute `w` when `rhs` is `p.w` on a local value and no rule covers it (as one
    covers `x.T`, `x.real`): a read of a field of a record (`adgen.runtime_fields`)."""
    if (isinstance(rhs, gast.Attribute) and not getattr(rhs, "adgen_global", False)
            and rhs.attr not in NONDIFF_ATTRIBUTES and lookup(primitive(rhs)) is None):
        return rhs.attr
    return None


def differentiable(rhs: gast.AST) -> bool:
    """Whether the value of `rhs` can carry a derivative of its operands."""
    if isinstance(rhs, gast.Compare) or isinstance(rhs, gast.JoinedStr):
        return False
    if isinstance(rhs, gast.Attribute) and rhs.attr in NONDIFF_ATTRIBUTES:
        return False
    if isinstance(rhs, (gast.BinOp, gast.UnaryOp, gast.Call, gast.Attribute)):
        fn = primitive(rhs)
        if fn is operator.not_:
            return False
        rule = lookup(fn) if fn is not None and not getattr(rhs, "adgen_global", False) else None
        if getattr(rhs, "adgen_global", False):
            return False
        return not (rule is not None and rule.nondifferentiable)
    return True


def data_reads(rhs: gast.AST) -> list[str]:
    """Local names whose value flows into `rhs` (not indices, not callee names)."""
    if isinstance(rhs, gast.Subscript):
        return atom_names(rhs.value)
    if isinstance(rhs, (gast.Call, gast.BinOp, gast.UnaryOp)):
        fn = primitive(rhs)
        rule = lookup(fn) if fn is not None else None
        args, keywords = call_parts(rhs)
        atoms = list(args) + list(keywords.values())
        if rule is not None and (rule.tangent is not None or rule.linear):
            atoms = differentiable_atoms(rule, args, keywords)
        return [n for a in atoms for n in atom_names(a)]
    if isinstance(rhs, gast.Attribute) and getattr(rhs, "adgen_global", False):
        return []
    return atom_names(rhs)


def _edges(body: list[gast.AST]) -> tuple[list[tuple[str, str]], set[str]]:
    """Differentiable data-flow edges (source, target) and the returned names."""
    edges: list[tuple[str, str]] = []
    returned: set[str] = set()
    for s in statements(body):
        if isinstance(s, gast.Assign):
            target = s.targets[0]
            if isinstance(target, gast.Name):
                if differentiable(s.value):
                    edges += [(r, target.id) for r in data_reads(s.value)]
            else:
                edges += [(r, target.value.id) for r in atom_names(s.value)]
        elif isinstance(s, gast.Expr) and isinstance(s.value.func, gast.Attribute):
            receiver = s.value.func.value
            if isinstance(receiver, gast.Name):
                edges += [(r, receiver.id) for r in data_reads(s.value) if r != receiver.id]
        elif isinstance(s, gast.Return):
            returned.update(atom_names(s.value))
    return edges, returned


def _closure(seeds: set[str], edges: list[tuple[str, str]]) -> set[str]:
    """The names reached from `seeds` along `edges` (a worklist: each edge followed once)."""
    following: dict[str, list[str]] = {}
    for a, b in edges:
        following.setdefault(a, []).append(b)
    reached = set(seeds)
    todo = list(reached)
    while todo:
        for b in following.get(todo.pop(), ()):
            if b not in reached:
                reached.add(b)
                todo.append(b)
    return reached


def _part_edges(body: list[gast.AST]) -> list[tuple[str, str]]:
    """(b, a) for each `a = b` and `a = b[i]`: `a` may be `b`'s object or one inside it."""
    edges = []
    for s in statements(body):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            value = s.value.value if isinstance(s.value, gast.Subscript) else s.value
            if isinstance(value, gast.Name):
                edges.append((value.id, s.targets[0].id))
    return edges


def argument_parts(body: list[gast.AST], params: list[str]) -> set[str]:
    """Names that may refer to an argument's object or to an object inside one (`xs = p[0]`,
    `ys = xs`): what the caller sees changed when the function pops from them."""
    return _closure(set(params), _part_edges(body))


def sharing(body: list[gast.AST], names: set[str]) -> dict[str, set[str]]:
    """For each of `names`, the names that may hold its object, hold it inside theirs, or be
    held inside it, by copies and item reads either way (`D_bar_1 = D_bar` in generated
    code: a pop from `D_bar_1` changes what a read of `D_bar` sees)."""
    edges = _part_edges(body)
    both = edges + [(b, a) for a, b in edges]
    return {n: _closure({n}, both) for n in names}


def active_names(body: list[gast.AST], wrt: list[str],
                 returned_too: tuple[str, ...] = ()) -> set[str]:
    """Names that are both varied (from `wrt`) and useful (to the returned value)."""
    edges, returned = _edges(body)
    returned |= set(returned_too)
    varied = _closure(set(wrt), edges)
    useful = _closure(returned, [(b, a) for a, b in edges])
    return varied & useful


def scalar_names(body: list[gast.AST], params: list[str], scalar_params: set[str],
                 program: Program) -> set[str]:
    """Names certainly 0-d everywhere, assuming `scalar_params` are (greatest fixed point);
    `program` gives callees' traces."""
    assigns: list[tuple[str, gast.AST | None]] = []
    for s in statements(body):
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            assigns.append((t.id if isinstance(t, gast.Name) else t.value.id,
                            s.value if isinstance(t, gast.Name) else None))
        elif isinstance(s, gast.For):
            assigns.append((s.target.id, gast.Constant(value=0, kind=None)))
        elif isinstance(s, gast.Expr) and isinstance(s.value.func, gast.Attribute):
            receiver = s.value.func.value
            if isinstance(receiver, gast.Name):
                assigns.append((receiver.id, None))
    ranges = {t for t, rhs in assigns if isinstance(rhs, gast.Call)
              and primitive(rhs) is range}
    assigns = [(t, gast.Constant(value=0, kind=None)) if isinstance(rhs, gast.Subscript)
               and isinstance(rhs.value, gast.Name) and rhs.value.id in ranges
               and not isinstance(rhs.slice, gast.Slice) else (t, rhs) for t, rhs in assigns]
    scalar = set(scalar_params) | {n for n, _ in assigns}
    scalar -= set(params) - set(scalar_params)
    changed = True
    while changed:
        changed = False
        for target, rhs in assigns:
            if target in scalar and (rhs is None or not rhs_is_scalar(rhs, scalar, program)):
                scalar.discard(target)
                changed = True
    return scalar


def rhs_is_scalar(rhs: gast.AST, scalar: set[str], program: Program) -> bool:
    """Whether `rhs` certainly evaluates to a 0-d value."""
    if isinstance(rhs, gast.Constant):
        return isinstance(rhs.value, (int, float)) and not isinstance(rhs.value, bool) or (
            isinstance(rhs.value, bool))
    if isinstance(rhs, gast.Name):
        return rhs.id in scalar
    if isinstance(rhs, gast.Compare):
        return all(rhs_is_scalar(x, scalar, program) for x in [rhs.left, *rhs.comparators])
    if isinstance(rhs, (gast.BinOp, gast.UnaryOp)):
        return all(n in scalar for n in atom_names(rhs)) and all(
            not isinstance(c, gast.Constant) or rhs_is_scalar(c, scalar, program)
            for c in gast.iter_child_nodes(rhs))
    if isinstance(rhs, gast.Call):
        fn = primitive(rhs)
        if fn in (len, int, float, round, bool):
            return True
        rule = lookup(fn) if fn is not None else None
        if rule is not None and rule.scalar_result:
            return True
        if fn in (abs, min, max) or type(fn).__name__ == "ufunc":
            return bool(rhs.args) and all(
                rhs_is_scalar(a, scalar, program) for a in rhs.args) and not rhs.keywords
        if rule is None and isinstance(fn, types.FunctionType) and not rhs.keywords:
            scalar_args = tuple(rhs_is_scalar(a, scalar, program) for a in rhs.args)
            return callee_returns_scalar(program, fn, scalar_args)
    return False


def callee_returns_scalar(program: Program, fn: Any, scalar_args: tuple[bool, ...]) -> bool:
    """Whether a user function certainly returns a 0-d value when the arguments marked are
    0-d (a fact kept in the program view; a recursive call being analysed counts as not
    known)."""
    key = (fn, "returns_scalar", scalar_args)
    if key in program.facts:
        return program.facts[key]
    program.facts[key] = False
    try:
        trace = program.trace(fn)
    except (DifferentiationError, SyntaxError):
        return False
    params = trace.params
    assumed = {p for p, s in zip(params, scalar_args, strict=False) if s}
    body = trace.node.body
    scalar = scalar_names(body, params, assumed, program)
    returns = [s.value for s in statements(body) if isinstance(s, gast.Return)]
    result = bool(returns) and all(rhs_is_scalar(r, scalar, program) for r in returns)
    program.facts[key] = result
    return result


def call_parts(rhs: gast.AST) -> tuple[list[gast.AST], dict[str, gast.AST]]:
    """The positional and keyword atoms a primitive rhs applies its primitive to."""
    if isinstance(rhs, gast.BinOp):
        return [rhs.left, rhs.right], {}
    if isinstance(rhs, gast.UnaryOp):
        return [rhs.operand], {}
    if isinstance(rhs, gast.Attribute):
        return [rhs.value], {}
    args = list(rhs.args)
    if isinstance(primitive(rhs), str):
        args.insert(0, rhs.func.value)
    return args, {k.arg: k.value for k in rhs.keywords}


def numeric_names(body: list[gast.AST]) -> set[str]:
    """Names only ever assigned numbers or arrays (arithmetic and NumPy/`math` results), never
    lists, tuples or dicts: their adjoints add with `+`."""
    lists = (np.split, np.array_split,  # and the helpers of generated code that pass containers
             runtime.item, runtime.take, runtime.written, runtime.add_at, runtime.add_adjoints,
             runtime.fill_like, runtime.zero_at, runtime.owned_copy, runtime.detached,
             runtime.shaped_like, runtime_tables.row, runtime.pick, runtime.unbroadcast,
             runtime.last_only, runtime.materialised, runtime.zeros_like, runtime.as_sequence,
             numpy_shape.unpack_like, numpy_shape.split_like, numpy_shape.unstack_like,
             runtime_fields.field, runtime_fields.add_field)
    numeric: set[str] = set()
    other: set[str] = set()
    for s in statements(body):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            rhs, target = s.value, s.targets[0].id
            fn = primitive(rhs)
            arithmetic = isinstance(rhs, (gast.BinOp, gast.UnaryOp)) or (
                isinstance(rhs, gast.Call) and fn is not None and not isinstance(fn, str)
                and lookup(fn) is not None and not lookup(fn).container_result
                and fn not in lists) or (
                isinstance(rhs, gast.Constant) and isinstance(rhs.value, (int, float)))
            (numeric if arithmetic else other).add(target)
        elif isinstance(s, gast.For):
            numeric.add(s.target.id)
    return numeric - other
