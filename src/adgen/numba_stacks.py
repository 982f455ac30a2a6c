"""Typed stacks for generated code compiled with Numba.

The reverse sweep saves overwritten values on one list and restores each into the variable it
came from (`_stack.append(x)` ... `x = _stack.pop()`; the invariant of
docs/architecture.md). Python does not mind a list holding floats, flags, arrays and callee
tapes; Numba types a list by one item type. Since every save and its restore name the same
variable, a stack per variable holds the same values in the same order. `typed_stacks(fn)`
rewrites a generated function so:

- a variable the variant's facts (`__adgen__.info["facts"]`, `adgen.derive.shapes`) know to
  be a float64, int64 or bool number is saved in a NumPy array (first 16 items on the
  machine stack of the function's frame, `buffer`) and a top index
  (`_stack__x[_top__x] = x; _top__x += 1` ... `_top__x -= 1; x = _stack__x[_top__x]`), and
  its placeholder before its first assignment (`x = None`, which Numba would type as an
  optional number) is a zero of its type. A `for` loop whose trip count is known when it
  starts reserves room for the saves of its iterations before it starts
  (`reserve(_stack__x, _top__x + 3 * len(range(n)))`), so a save inside it is one store; a
  save elsewhere (a `while` loop) grows the array when it is full (an `if` before the
  store: the array is rebound only when it grows).
- any other saved variable gets a list of its own (`_stack__x.append(x)`, `_stack__x.pop()`).

The rewritten source is kept in `linecache` under its own file name, with the generated
lines' `# line N:` comments, so Numba's messages still point at the user's line. A stack used
in any other way (returned as a tape, pushed an expression, popped into an element) is left as
it is.
"""

from __future__ import annotations

import ast
import hashlib
import linecache
import types
from dataclasses import dataclass
from typing import Any

import numpy as np

_PARSED: dict[str, ast.Module] = {}
_ZERO = {"float64": "0.0", "int64": "0", "bool": "False"}


@dataclass
class Rewritten:
    """A generated function's definition as compiled code reads it: `source` (a function
    `_adgen_rewrite` taking the generated function's free variables and returning it, kept in
    `linecache` under `filename`), its code, and the global names it adds."""

    source: str
    filename: str
    code: types.CodeType
    added: dict[str, Any]


def typed_stacks(fn: Any) -> Rewritten | None:
    """`fn`, a generated function, with a typed stack per saved variable (its definition as
    it is when it saves nothing); None when its source is not at hand."""
    code = fn.__code__
    lines = linecache.getlines(code.co_filename)
    node = _definition(code, lines)
    if node is None:
        return None
    facts = getattr(getattr(fn, "__adgen__", None), "info", {}).get("facts") or {}
    dtypes = {v: d for v, d in ((v, _dtype(f)) for v, f in facts.items()) if d is not None}
    edits: list[tuple[int, int, int, str]] = []
    inserts: dict[int, list[str]] = {}
    for stack in _stacks(node):
        edits += _stack_edits(node, stack, dtypes, inserts, lines)
    if edits:
        edits += _placeholders(node, dtypes)
    edited = list(lines)
    for line, start, end, text in sorted(edits, reverse=True):
        edited[line - 1] = edited[line - 1][:start] + text + edited[line - 1][end:]
    body: list[str] = []
    for number in range(node.lineno, (node.end_lineno or node.lineno) + 1):
        text = edited[number - 1]
        indent = text[:len(text) - len(text.lstrip())]
        body += [f"{indent}{s}\n" for s in inserts.get(number, ())]
        body.append(text)
    source = (f"def _adgen_rewrite({', '.join(code.co_freevars)}):\n" + "".join(body)
              + f"{' ' * node.col_offset}return {node.name}\n")
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    filename = f"<adgen typed stacks {node.name} {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return Rewritten(source, filename, inner_code(source, filename, len(code.co_freevars)),
                     {"_adgen_np": np, "_adgen_reserve": reserve, "_adgen_grown": grown,
                      "_adgen_buffer": buffer})


def inner_code(source: str, filename: str, free: int) -> types.CodeType:
    """The code of the function `source`'s `_adgen_rewrite` returns, compiled as `filename`."""
    scope: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), scope)
    return scope["_adgen_rewrite"](*(None for _ in range(free))).__code__


def install(numba: Any) -> None:
    """Give `buffer`, `reserve` and `grown` their compiled forms (once per process)."""
    global _INSTALLED, _local
    if not _INSTALLED:
        _local = numba.extending.intrinsic(_local_buffer)
        numba.extending.overload(buffer)(_buffer_typer)
        numba.extending.overload(reserve)(_reserve_typer)
        numba.extending.overload(grown)(_grown_typer)
        _INSTALLED = True


_INSTALLED = False
_local: Any = None  # the intrinsic `_local_buffer`, once install() ran

LOCAL = 16
"""How many values a typed stack holds before it first grows."""


def buffer(dtype: Any) -> Any:
    """An empty array of `LOCAL` items of `dtype`, the first room of a typed stack. Compiled,
    its memory is on the machine stack of the function's frame (no allocation, no reference
    count): a typed stack never leaves the function that saves on it (`_uses` leaves any
    other stack as it is), and it moves to an array of its own when it grows."""
    return np.empty(LOCAL, dtype)


def reserve(stack: Any, size: int) -> Any:
    """`stack`, or a copy at least `size` long."""
    return _reserve(stack, size)


def grown(stack: Any) -> Any:
    """A copy of a full `stack` twice as long."""
    return _grown(stack)


# Numba matches an implementation to its typer by parameter names and annotations.


def _buffer_typer(dtype: Any) -> Any:
    return _buffer


def _buffer(dtype: Any) -> Any:
    return _local(dtype)


def _local_buffer(context: Any, dtype: Any) -> Any:
    """The intrinsic behind compiled `buffer`: `LOCAL` items of memory in the frame's entry
    block, seen as a C-contiguous 1-d array that owns nothing (no meminfo)."""
    from numba.core import cgutils, types  # optional dependency: only reached when compiling
    from numba.np.arrayobj import populate_array

    array = types.Array(dtype.dtype, 1, "C")

    def codegen(ctx: Any, builder: Any, signature: Any, args: Any) -> Any:
        item = ctx.get_data_type(dtype.dtype)
        size = ctx.get_value_type(types.intp)
        data = cgutils.alloca_once(builder, item, size=LOCAL)
        out = ctx.make_array(array)(ctx, builder)
        width = size(ctx.get_abi_sizeof(item))
        populate_array(out, data=data, shape=[size(LOCAL)], strides=[width], itemsize=width,
                       meminfo=None)
        return out._getvalue()

    return array(dtype), codegen


def _reserve_typer(stack: Any, size: Any) -> Any:
    return _reserve


def _grown_typer(stack: Any) -> Any:
    return _grown


def _reserve(stack: Any, size: Any) -> Any:
    if size <= stack.shape[0]:
        return stack
    new = np.empty(max(size, 2 * stack.shape[0]), stack.dtype)
    for i in range(stack.shape[0]):  # a loop: quicker for Numba to compile than a slice
        new[i] = stack[i]
    return new


def _grown(stack: Any) -> Any:
    return reserve(stack, 2 * stack.shape[0] + 1)


def _dtype(fact: Any) -> str | None:
    """The NumPy dtype of an array stack for a variable with `fact`: float64, int64 or bool
    numbers (Python's or NumPy's), else None (a list)."""
    if fact.kind not in ("float", "int", "bool", "scalar") or fact.shape or fact.dtype is None:
        return None
    name = np.dtype(fact.dtype).name
    return name if name in _ZERO else None


def _definition(code: Any, lines: list[str]) -> ast.FunctionDef | None:
    if not lines:
        return None
    tree = _PARSED.get(code.co_filename)
    if tree is None:
        tree = _PARSED[code.co_filename] = ast.parse("".join(lines))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.lineno == code.co_firstlineno:
            return node
    return None


def _stacks(node: ast.FunctionDef) -> list[str]:
    """Names of the lists the function starts empty and saves on (`_stack`, `_stack_dot`)."""
    return sorted({s.targets[0].id for s in ast.walk(node)
                   if isinstance(s, ast.Assign) and len(s.targets) == 1
                   and isinstance(s.targets[0], ast.Name) and s.targets[0].id.startswith("_stack")
                   and isinstance(s.value, ast.List) and not s.value.elts})


def _method(call: Any, stack: str, method: str, arity: int) -> bool:
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name) and call.func.value.id == stack
            and call.func.attr == method and len(call.args) == arity and not call.keywords)


def _uses(node: ast.FunctionDef, stack: str) -> tuple[list, list, list] | None:
    """The `stack = []`, `stack.append(v)` and `v = stack.pop()` statements; None when the
    stack is used in any other way, or a variable is saved and not restored."""
    inits, pushes, pops = [], [], []
    for s in ast.walk(node):
        if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0],
                                                                            ast.Name):
            if s.targets[0].id == stack and isinstance(s.value, ast.List) and not s.value.elts:
                inits.append(s)
            elif _method(s.value, stack, "pop", 0):
                pops.append((s.targets[0].id, s))
        elif isinstance(s, ast.Expr) and _method(s.value, stack, "append", 1) and isinstance(
                s.value.args[0], ast.Name):
            pushes.append((s.value.args[0].id, s))
    uses = sum(isinstance(n, ast.Name) and n.id == stack for n in ast.walk(node))
    if uses != len(inits) + len(pushes) + len(pops) or {v for v, _ in pushes} != {
            v for v, _ in pops}:
        return None
    return inits, pushes, pops


def _stack_edits(node: ast.FunctionDef, stack: str, dtypes: dict[str, str],
                 inserts: dict[int, list[str]], lines: list[str]
                 ) -> list[tuple[int, int, int, str]]:
    """(line, start column, end column, new text) splitting `stack` by variable, and the
    reservations before `for` loops (into `inserts`, by line)."""
    found = _uses(node, stack)
    if found is None:
        return []
    inits, pushes, pops = found
    saved = sorted({v for v, _ in pushes})
    fresh = "; ".join(f"{stack}__{v} = _adgen_buffer(_adgen_np.{dtypes[v]}); "
                      f"{stack}__{v}_top = 0" if v in dtypes else f"{stack}__{v} = []"
                      for v in saved) or "pass"
    edits = [_replace(s, fresh) for s in inits]
    reserved = _reservations(node, stack, {v for v in saved if v in dtypes}, inserts)
    for v, s in pushes:
        a, top = f"{stack}__{v}", f"{stack}__{v}_top"
        if v not in dtypes:
            edits.append(_replace(s, f"{a}.append({v})"))
            continue
        grow = "" if id(s) in reserved else _grow(a, top, lines[s.lineno - 1][:s.col_offset])
        edits.append(_replace(s, f"{grow}{a}[{top}] = {v}; {top} += 1"))
    for v, s in pops:
        a, top = f"{stack}__{v}", f"{stack}__{v}_top"
        edits.append(_replace(s, f"{top} -= 1; {v} = {a}[{top}]" if v in dtypes
                              else f"{v} = {a}.pop()"))
    return edits


def _grow(a: str, top: str, before: str) -> str:
    """What precedes a save into a full array `a`: an `if` statement that grows it, on lines
    of its own (the array rebound only when it grows: Numba counts references at every
    rebinding, which cost a save in a `while` loop as much as its arithmetic); a conditional
    expression where the save shares its line with other statements."""
    if before.strip():
        return f"{a} = {a} if {top} < {a}.shape[0] else _adgen_grown({a}); "
    return f"if {top} == {a}.shape[0]:\n{before}    {a} = _adgen_grown({a})\n{before}"


def _replace(s: ast.stmt, text: str) -> tuple[int, int, int, str]:
    return s.lineno, s.col_offset, s.end_col_offset or 0, text


def _reservations(node: ast.FunctionDef, stack: str, typed: set[str],
                  inserts: dict[int, list[str]]) -> set[int]:
    """Before the outermost `for` loop whose saves of a typed variable can be counted when it
    starts, a reservation of room for all of them; the ids of the saves so covered (the others
    grow the array when it is full). A reservation inside a loop would rebind the array at
    every iteration, which costs Numba more than the stores."""
    out: set[int] = set()
    for v in sorted(typed):
        todo = list(reversed(node.body))
        while todo:
            s = todo.pop()
            count = _count(s, stack, v) if isinstance(s, ast.For) else None
            if count is None:
                todo += reversed([c for c in ast.iter_child_nodes(s) if isinstance(c, ast.stmt)])
                continue
            if count != "0":
                out |= {id(p) for p in _saves(list(ast.walk(s)), stack, {v}).get(v, ())}
                a = f"{stack}__{v}"
                inserts.setdefault(s.lineno, []).append(
                    f"{a} = _adgen_reserve({a}, {a}_top + {count})")
    return out


def _count(loop: ast.For, stack: str, v: str) -> str | None:
    """How many times `loop` saves `v`, as an expression to evaluate just before it starts
    (`len(range(n)) * (2 + len(range(m)) * 1)`); None when that is not known then."""
    if loop.orelse or not _countable(loop.iter, loop.body):
        return None
    assigned = {n.id for b in [loop.target, *loop.body] for n in ast.walk(b)
                if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    parts = [str(len(_saves(_direct(loop.body), stack, {v}).get(v, ())))]
    for s in _direct(loop.body):
        if isinstance(s, (ast.For, ast.While, ast.AsyncFor)):
            inner = _count(s, stack, v) if isinstance(s, ast.For) else None
            if inner is None:
                if v in _saves(list(ast.walk(s)), stack, {v}):
                    return None
                continue
            if {n.id for n in ast.walk(s.iter) if isinstance(n, ast.Name)} & assigned:
                return None  # its trip count may change from one iteration to the next
            parts.append(inner)
    each = " + ".join(p for p in parts if p != "0") or "0"
    return "0" if each == "0" else f"len({ast.unparse(loop.iter)}) * ({each})"


def _countable(it: ast.expr, body: list[ast.stmt]) -> bool:
    """An iterable whose length is known before the loop and may be evaluated twice: `range`
    of names and constants, or a name the body neither rebinds nor calls a method of."""
    if isinstance(it, ast.Name):
        return not any(isinstance(n, ast.Name) and n.id == it.id and not isinstance(
            n.ctx, ast.Load) or isinstance(n, ast.Attribute) and isinstance(
            n.value, ast.Name) and n.value.id == it.id for b in body for n in ast.walk(b))
    if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" \
            and not it.keywords:
        return all(isinstance(a, (ast.Name, ast.Constant)) for a in it.args)
    return False


def _saves(statements: list[ast.stmt], stack: str, typed: set[str]) -> dict[str, list]:
    """The `stack.append(v)` statements among `statements`, by typed variable `v`."""
    out: dict[str, list] = {}
    for s in statements:
        if isinstance(s, ast.Expr) and _method(s.value, stack, "append", 1) and isinstance(
                s.value.args[0], ast.Name) and s.value.args[0].id in typed:
            out.setdefault(s.value.args[0].id, []).append(s)
    return out


def _direct(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements of a loop body, through `if`, `with` and `try` but not into nested
    loops (nor definitions)."""
    out, todo = [], list(body)
    while todo:
        s = todo.pop()
        out.append(s)
        if isinstance(s, (ast.For, ast.While, ast.AsyncFor, ast.FunctionDef, ast.ClassDef)):
            continue
        for c in ast.iter_child_nodes(s):
            if isinstance(c, ast.stmt):
                todo.append(c)
            elif isinstance(c, ast.excepthandler):
                todo += c.body
    return out


def _placeholders(node: ast.FunctionDef, dtypes: dict[str, str]) -> list[tuple]:
    """`x = None` (a value saved before its first assignment) as a zero of `x`'s type."""
    return [_replace(s, f"{s.targets[0].id} = {_ZERO[dtypes[s.targets[0].id]]}")
            for s in ast.walk(node)
            if isinstance(s, ast.Assign) and len(s.targets) == 1
            and isinstance(s.targets[0], ast.Name) and s.targets[0].id in dtypes
            and isinstance(s.value, ast.Constant) and s.value.value is None]
