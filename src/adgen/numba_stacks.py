"""One stack per saved variable, for generated code compiled with Numba.

The reverse sweep saves overwritten values on one list and restores each into the variable it
came from (`_stack.append(x)` ... `x = _stack.pop()`; the invariant of
docs/architecture.md). Python does not mind a list holding floats, flags, arrays and callee
tapes; Numba types a list by one item type. Since every save and its restore name the same
variable, a list per variable holds the same values in the same order:
`_stack__x.append(x)` ... `x = _stack__x.pop()`, each list of one type.

`typed_stacks(fn)` gives the code of a generated function rewritten so, compiled under the
generated file name with its line numbers unchanged (Numba's messages still point at the
generated lines and their `# line N:` comments). A stack used in any other way (returned as a
tape, pushed an expression, popped into an element) is left as it is.
"""

from __future__ import annotations

import ast
import linecache
import types
from typing import Any

_PARSED: dict[str, ast.Module] = {}


def typed_stacks(fn: Any) -> types.CodeType | None:
    """The code of `fn`, a generated function, with one stack per saved variable; None when
    nothing changes."""
    code = fn.__code__
    lines = linecache.getlines(code.co_filename)
    node = _definition(code, lines)
    if node is None or node.lineno < 2:
        return None
    edits = [e for stack in _stacks(node) for e in _stack_edits(node, stack)]
    if not edits:
        return None
    edited = list(lines)
    for line, start, end, text in sorted(edits, reverse=True):
        edited[line - 1] = edited[line - 1][:start] + text + edited[line - 1][end:]
    end = node.end_lineno or node.lineno
    indent = " " * node.col_offset
    text = (f"def _adgen_rewrite({', '.join(code.co_freevars)}):\n"
            + "\n" * (node.lineno - 2) + "".join(edited[node.lineno - 1:end])
            + f"{indent}return {node.name}\n")
    scope: dict[str, Any] = {}
    exec(compile(text, code.co_filename, "exec"), scope)
    inner = scope["_adgen_rewrite"](*(None for _ in code.co_freevars))
    return inner.__code__


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


def _stack_edits(node: ast.FunctionDef, stack: str) -> list[tuple[int, int, int, str]]:
    """(line, start column, end column, new text) splitting `stack` by variable; none when
    the stack is used in any way but `stack = []`, `stack.append(v)`, `v = stack.pop()`."""
    inits, pushes, pops = [], [], []
    for s in ast.walk(node):
        if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0],
                                                                            ast.Name):
            if s.targets[0].id == stack and isinstance(s.value, ast.List) and not s.value.elts:
                inits.append(s)
            elif _method(s.value, stack, "pop", 0):
                pops.append((s.targets[0].id, s.value.func))
        elif isinstance(s, ast.Expr) and _method(s.value, stack, "append", 1) and isinstance(
                s.value.args[0], ast.Name):
            pushes.append((s.value.args[0].id, s.value.func))
    uses = sum(isinstance(n, ast.Name) and n.id == stack for n in ast.walk(node))
    saved = {v for v, _ in pushes}
    if uses != len(inits) + len(pushes) + len(pops) or saved != {v for v, _ in pops}:
        return []
    fresh = "; ".join(f"{stack}__{v} = []" for v in sorted(saved)) or "pass"
    edits = [(s.lineno, s.col_offset, s.end_col_offset or 0, fresh) for s in inits]
    for v, func in pushes + pops:
        edits.append((func.lineno, func.value.col_offset, func.value.end_col_offset or 0,
                      f"{stack}__{v}"))
    return edits
