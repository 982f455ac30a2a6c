"""Shrinking a failing program to a small one that fails the same way.

Two programs fail the same way when their `signature`s agree: the check that failed, or the
exception's type and last message line with its numbers blanked. `shrink` first regenerates the
program from the same seed with smaller sizes, then, while the failure stays the same, deletes
statements and replaces expressions by one of their operands, one at a time, last first,
until no edit keeps the failure or the time budget is spent (for an alias adgen did not refuse,
only the smaller sizes are tried). Each candidate is checked at the failing arguments, with a
short time limit (a deletion can leave a loop that never ends).
"""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Callable
from dataclasses import replace

from adgen.fuzz.check import Outcome, check
from adgen.fuzz.generate import Program, generate


def _same(found: Outcome, outcome: Outcome) -> bool:
    return found.status == "fail" and signature(found) == signature(outcome)


def signature(outcome: Outcome) -> str:
    """What kind of failure: the check, or the exception's last line without its numbers."""
    if not outcome.kind.startswith(("error", "primal")):
        return outcome.kind
    last = outcome.detail.strip().splitlines()[-1] if outcome.detail.strip() else ""
    return f"{outcome.kind}: {re.sub(r'[0-9]+', 'N', last)}"


def _statements(tree: ast.AST) -> list[tuple[ast.AST, str, int]]:
    """Every statement but the imports as (owner, field, index), breadth first."""
    return [(node, name, index) for node in ast.walk(tree) for name in ("body", "orelse")
            if isinstance(getattr(node, name, None), list)
            for index in range(len(getattr(node, name)))
            if not isinstance(getattr(node, name)[index], (ast.Import, ast.ImportFrom))]


def _delete(tree: ast.AST, k: int) -> bool:
    slots = _statements(tree)
    if k >= len(slots):
        return False
    owner, name, index = slots[k]
    body = getattr(owner, name)
    del body[index]
    if name == "body" and not body:
        body.append(ast.Pass())
    return True


def _parts(node: ast.AST) -> list[ast.AST]:
    """What an expression can be replaced by when shrinking: its operands and arguments."""
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return [a for a in node.args if not isinstance(a, ast.Starred)]
    return []


def _expressions(tree: ast.AST) -> list[tuple[ast.AST, str, int | None, ast.AST]]:
    """(parent, field, index, replacement) for every operand an expression could become."""
    out = []
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            children = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            out += [(parent, name, i, part) for i, child in children
                    if isinstance(child, ast.expr) for part in _parts(child)]
    return out


def _simplify(tree: ast.AST, k: int) -> bool:
    slots = _expressions(tree)
    if k >= len(slots):
        return False
    parent, name, index, part = slots[k]
    if index is None:
        setattr(parent, name, part)
    else:
        getattr(parent, name)[index] = part
    return True


def _reduce(program: Program, outcome: Outcome, edit: Callable[[ast.AST, int], bool],
            deadline: float) -> tuple[Program, Outcome, bool]:
    """Apply each edit (statement deletion or expression simplification) that keeps the failure.

    Edits are tried from the last to the first, so an accepted edit does not renumber the
    edits still to try (both numberings are breadth first)."""
    changed = False
    k = 10**9
    while k > 0 and time.monotonic() < deadline:
        k -= 1
        tree = ast.parse(program.source)
        if not edit(tree, k):
            k = min(k, _count(program.source, edit))
            continue
        candidate = replace(program, source=ast.unparse(tree) + "\n")
        found = check(candidate, outcome.args, twice=outcome.kind == "nondeterministic",
                      seconds=10.0)
        if _same(found, outcome):
            program, outcome, changed = candidate, found, True
    return program, outcome, changed


def _count(source: str, edit: Callable[[ast.AST, int], bool]) -> int:
    tree = ast.parse(source)
    return len(_statements(tree) if edit is _delete else _expressions(tree))


def shrink(program: Program, outcome: Outcome, budget: float = 120.0,
           ) -> tuple[Program, Outcome]:
    """A smaller program that fails the same way: first a smaller size from the same seed,
    then statement deletions and expression simplifications until none keeps the failure
    (or `budget` seconds have passed)."""
    deadline = time.monotonic() + budget
    original, first = program, outcome
    for size in range(1, program.size):
        smaller = generate(program.seed, size, program.features)
        found = check(smaller, twice=outcome.kind == "nondeterministic", seconds=10.0)
        if _same(found, outcome):
            program, outcome = smaller, found
            break
    # a deletion could take out the alias itself and leave a program adgen rightly accepts
    changed = outcome.kind != "alias not refused"
    while changed and time.monotonic() < deadline:
        program, outcome, deleted = _reduce(program, outcome, _delete, deadline)
        program, outcome, simplified = _reduce(program, outcome, _simplify, deadline)
        changed = deleted or simplified
    again = check(program, outcome.args, twice=outcome.kind == "nondeterministic")
    return (program, outcome) if _same(again, outcome) else (original, first)
