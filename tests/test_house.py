"""The import graph of `src/adgen`: no cycles, and every import points down the layers.

Imports are read with `ast` from every module, top-level and function-level alike; no adgen
module is imported inside a function (only optional dependencies such as SciPy, Numba or
Dask may be, with a comment saying so). The layers, lowest first, are the rule "who may
import whom" of docs/architecture.md: a module imports its own layer and the layers below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "src" / "adgen"

LAYERS = [
    ("errors", ["adgen.errors"]),
    ("runtime", ["adgen.runtime", "adgen.arrays", "adgen.runtime_checkpoint", "adgen.records",
                 "adgen.runtime_fields", "adgen.runtime_forms", "adgen.runtime_tables",
                 "adgen.runtime_aliases", "adgen.runtime_masks"]),
    ("code generation", ["adgen.codegen"]),
    ("rules", ["adgen.rules"]),
    ("front end", ["adgen.frontend"]),
    ("program view", ["adgen.program"]),
    ("derivation", ["adgen.derive"]),
    ("pipeline", ["adgen.pipeline", "adgen.variants"]),
    ("public operators", ["adgen.pytree", "adgen.display", "adgen.tree_derivatives", "adgen.held",
                          "adgen.api",
                          "adgen.custom", "adgen.specialising", "adgen.published",
                          "adgen.derivatives", "adgen.calling", "adgen.compiled",
                          "adgen.jacobian_blocks",
                          "adgen.numba_helpers", "adgen.numba_python", "adgen.numba_stacks",
                          "adgen.numba_cache", "adgen.numba_checkpoint",
                          "adgen.numba_guards"]),
    ("tools the package exports", ["adgen.tools.graph", "adgen.tools.graph_build",
                                   "adgen.tools.hessian_approx"]),
    ("the package", ["adgen"]),
    ("clients of the package", ["adgen.testing", "adgen.fuzz", "adgen.tools.cli"]),
    ("entry point", ["adgen.__main__"]),
]


def layer_of(module: str) -> int:
    best, level = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, level = len(p), i
    assert level is not None, f"{module} is in no layer of tests/test_house.py"
    return level


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(modules: dict[str, Path]) -> dict[str, dict[str, list[ast.AST]]]:
    """module -> {imported adgen module -> the import statements}."""
    graph: dict[str, dict[str, list[ast.AST]]] = {}
    for mod, path in modules.items():
        is_pkg = path.name == "__init__.py"
        edges: dict[str, list[ast.AST]] = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = mod.split(".")[: None if is_pkg else -1]
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
            for t in targets:
                if t in modules and t != mod:
                    edges.setdefault(t, []).append(node)
        graph[mod] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
GRAPH = imports(MODULES)


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"c"}}) == []


def test_the_import_graph_has_no_cycle():
    assert cycles({m: set(e) for m, e in GRAPH.items()}) == []


def test_every_import_points_down_the_layers():
    upward = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
              for m, edges in GRAPH.items() for t in edges if layer_of(t) > layer_of(m)]
    assert upward == []


def test_adgen_modules_are_not_imported_inside_functions():
    inner = []
    for mod, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_functions = {n.lineno for f in ast.walk(tree)
                        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                        for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
        inner += [f"{mod}:{n.lineno} imports {t}" for t, nodes in GRAPH[mod].items()
                  for n in nodes if n.lineno in in_functions]
    assert inner == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_short(module):
    assert MODULES[module].read_text(encoding="utf-8").count("\n") <= 550, module
