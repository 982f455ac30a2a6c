"""The evaluation-trace graph of a function: one node per primal step (for `adgen.graph`).

Both builders read the lowered trace (`frontend.lower`: every assignment is `name = op(atoms)`)
and produce the same `Graph`: a list of `Node`s, each knowing which definitions of its
operands it reads. Edges are not stored separately: `operands[var]` lists the nodes whose value
of `var` may reach the step, so the primal picture and the adjoint picture (`adgen.graph`)
derive their edges from one place.

* `structural(trace)` is the static picture, without running anything: one node per
  assignment of the trace, in source order. A value read after an `if` or a loop has an edge
  from every assignment that may reach it (a loop may run zero times; both branches may have
  run). Each loop body and each branch is a cluster. A value carried from one iteration into
  the next gets a dashed edge from its last assignment in the body back to the statements
  that read it at the top of the body. `break`, `continue` and a `return` inside a branch are
  not followed: the picture shows every path.
* `executed(trace, args)` is the dynamic picture, the book's evaluation trace for one input: a
  small interpreter runs the lowered statements one by one (each statement compiled and
  executed on its own, in the function's namespace) and every executed step becomes a node.
  Loops are unrolled and branches resolved, so a loop of n trips gives n copies of its body;
  nodes inside loops are labelled with their loop indices, and every node with its value
  (a number, or an array's shape). Running more than `max_steps` steps raises `ValueError`.

Parameters are input nodes. Returned values are marked as outputs; a returned tuple or list
display (`return a, b` lowers to `_t6 = a, b; return _t6`) is not drawn: its elements are the
outputs ("output 1", "output 2"), as in the book's Fig. 8.5. Loop indices (`i` of
`for i in range(n)`) and constants get no node; reads of indices and other non-data operands
(subscript positions, branch tests) are marked so that the picture can draw them dotted.
Walks over statements recurse only as deep as the source nests its blocks; steps of unrolled
loops are iterated, never recursed over.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

import gast
import numpy as np

from adgen.derive.analysis import data_reads, statements
from adgen.frontend.lower import Method, Trace


@dataclass
class Node:
    """One primal variable or step of the trace."""

    id: str
    kind: str                      # "input", "step" (defines `var`) or "effect" (no value)
    var: str | None
    text: str                      # the statement, e.g. "_t1 = x1 * x2"
    stmt: gast.AST | None = None
    cluster: int | None = None
    operands: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    data: set[str] = field(default_factory=set)   # operands whose values flow in (not indices)
    outputs: list[str] = field(default_factory=list)
    hidden: bool = False           # a returned tuple display, drawn as its elements
    note: list[str] = field(default_factory=list)
    consumers: int = 0


@dataclass
class Cluster:
    label: str
    parent: int | None


@dataclass
class Graph:
    name: str
    nodes: list[Node]
    clusters: list[Cluster]
    inputs: dict[str, str]         # parameter -> node id
    n_outputs: int = 0

    def __post_init__(self) -> None:
        self.by_id = {n.id: n for n in self.nodes}


def unparse(node: gast.AST) -> str:
    """The source text of a trace statement or expression."""
    return ast.unparse(ast.fix_missing_locations(gast.gast_to_ast(node))).strip()


class _Builder:
    """What both pictures share: making nodes, resolving reads, marking outputs."""

    def __init__(self, trace: Trace, max_steps: int | None = None) -> None:
        self.trace = trace
        self.max_steps = max_steps
        self.nodes: list[Node] = []
        self.by_id: dict[str, Node] = {}
        self.clusters: list[Cluster] = []
        self.cluster: int | None = None
        self.defs: dict[str, tuple[str, ...]] = {}
        self.read_logs: list[list[tuple[str, str, tuple[str, ...]]]] = []
        self.locals = set(trace.params) | _stored(trace.node.body)
        self.n_outputs = 0
        self.inputs = {p: self.new("input", p, p).id for p in trace.params}

    def new(self, kind: str, var: str | None, text: str, stmt: gast.AST | None = None) -> Node:
        if self.max_steps is not None and len(self.nodes) >= self.max_steps:
            raise ValueError(
                f"the executed trace of {self.trace.parsed.name} has more than "
                f"{self.max_steps} steps; graph a smaller input, raise max_steps, or leave "
                "args out for the structural picture"
            )
        node = Node(f"n{len(self.nodes)}", kind, var, text, stmt, self.cluster)
        self.nodes.append(node)
        self.by_id[node.id] = node
        if var is not None:
            self.defs[var] = (node.id,)
        return node

    def step(self, s: gast.AST) -> Node:
        """The node of an assignment or call statement; its operands are read first."""
        reads, data, var = _reads(s)
        resolved = {v: self.defs.get(v, ()) for v in dict.fromkeys(reads) if v in self.locals}
        node = self.new("effect" if var is None else "step", var, unparse(s), s)
        node.data = {v for v in data if v in resolved}
        for v, defs in resolved.items():
            node.operands[v] = [(d, False) for d in defs]
            for d in defs:
                self.by_id[d].consumers += 1
            for log in self.read_logs:
                log.append((node.id, v, defs))
        return node

    def mark_return(self, s: gast.Return) -> None:
        value = s.value
        if not isinstance(value, gast.Name) or value.id not in self.locals:
            node = self.new("effect", None, unparse(s), s)
            node.outputs.append("output")
            self.n_outputs = max(self.n_outputs, 1)
            return
        defs = self.defs.get(value.id, ())
        if len(defs) == 1:
            packed = self.by_id[defs[0]]
            rhs = getattr(packed.stmt, "value", None)
            if isinstance(rhs, (gast.Tuple, gast.List)) and not packed.consumers:
                packed.hidden = True
                for k, elt in enumerate(rhs.elts, 1):
                    for d in packed.operands.get(getattr(elt, "id", None), []):
                        self.by_id[d[0]].outputs.append(f"output {k}")
                self.n_outputs = max(self.n_outputs, len(rhs.elts))
                return
        for d in defs:
            self.by_id[d].outputs.append("output")
        self.n_outputs = max(self.n_outputs, 1)

    def open_cluster(self, label: str) -> int | None:
        outer = self.cluster
        self.clusters.append(Cluster(label, outer))
        self.cluster = len(self.clusters) - 1
        return outer

    def result(self) -> Graph:
        g = Graph(self.trace.parsed.name, self.nodes, self.clusters, self.inputs)
        g.n_outputs = self.n_outputs
        return g


class _Structural(_Builder):
    def block(self, stmts: list[gast.AST]) -> None:
        for s in stmts:
            if isinstance(s, gast.Return):
                self.mark_return(s)
                return  # what follows a return in the same block never runs
            if isinstance(s, (gast.Assign, gast.Expr)):
                self.step(s)
            elif isinstance(s, gast.If):
                self.branch(s)
            elif isinstance(s, (gast.For, gast.While)):
                self.loop(s)

    def inside(self, label: str, stmts: list[gast.AST]) -> None:
        outer = self.open_cluster(label)
        self.block(stmts)
        self.cluster = outer

    def branch(self, s: gast.If) -> None:
        before = dict(self.defs)
        test = unparse(s.test)
        self.inside(f"if {test}", s.body)
        taken = self.defs
        self.defs = dict(before)
        if s.orelse:
            self.inside(f"else (not {test})", s.orelse)
        self.defs = _merge(taken, self.defs)

    def loop(self, s: gast.For | gast.While) -> None:
        before = dict(self.defs)
        if isinstance(s, gast.For):
            self.defs[s.target.id] = ()  # the loop index: no node
            label = f"for {unparse(s.target)} in {unparse(s.iter)}"
        else:
            label = f"while {unparse(s.test)}"
        log: list[tuple[str, str, tuple[str, ...]]] = []
        self.read_logs.append(log)
        self.inside(label, s.body)
        self.read_logs.pop()
        after = self.defs
        for reader, var, seen in log:
            if set(seen) & set(before.get(var, ())) or not seen:
                node = self.by_id[reader]
                for d in after.get(var, ()):
                    if d not in seen:
                        node.operands[var].append((d, True))
                        self.by_id[d].consumers += 1
        self.defs = _merge(before, after)
        if s.orelse:
            self.inside(f"else of {label}", s.orelse)


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Return(Exception):
    pass


class _Executed(_Builder):
    """Runs the lowered trace for given arguments and records each executed step."""

    def __init__(self, trace: Trace, args: tuple, max_steps: int) -> None:
        super().__init__(trace, max_steps)
        parsed = trace.parsed
        self.scope: dict[str, Any] = dict(parsed.globals)
        self.scope.update(parsed.closure)
        self.scope.update(_callees(trace.node.body))
        self.env: dict[str, Any] = dict(zip(trace.params, args, strict=True))
        self.indices: list[str] = []
        self.code: dict[int, Any] = {}
        for p in trace.params:
            self.by_id[self.inputs[p]].note.append(_show(self.env[p]))

    def run(self) -> None:
        try:
            self.block(self.trace.node.body)
        except _Return:
            pass

    def block(self, stmts: list[gast.AST]) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s: gast.AST) -> None:
        if isinstance(s, (gast.Assign, gast.Expr)):
            node = self.step(s)
            self.execute(s)
            node.note = list(self.indices)
            if node.var is not None:
                node.note.append(_show(self.env[node.var]))
        elif isinstance(s, gast.If):
            self.block(s.body if self.evaluate(s.test) else s.orelse)
        elif isinstance(s, gast.For):
            self.run_for(s)
        elif isinstance(s, gast.While):
            self.run_while(s)
        elif isinstance(s, gast.Return):
            self.mark_return(s)
            raise _Return
        elif isinstance(s, gast.Break):
            raise _Break
        elif isinstance(s, gast.Continue):
            raise _Continue
        elif isinstance(s, (gast.Assert, gast.Raise)):
            self.execute(s)

    def run_for(self, s: gast.For) -> None:
        index = s.target.id
        self.defs[index] = ()  # the loop index: no node
        for value in self.evaluate(s.iter):
            self.env[index] = value
            if not self.iteration(s, f"{index}={value}"):
                return
        self.block(s.orelse)

    def run_while(self, s: gast.While) -> None:
        trip = 0
        while self.evaluate(s.test):
            if not self.iteration(s, f"trip {trip}"):
                return
            trip += 1
        self.block(s.orelse)

    def iteration(self, s: gast.For | gast.While, label: str) -> bool:
        """One run of a loop body, its nodes labelled `label`; False when it breaks."""
        self.indices.append(label)
        try:
            self.block(s.body)
        except _Continue:
            pass
        except _Break:
            return False
        finally:
            self.indices.pop()
        return True

    def execute(self, s: gast.AST) -> None:
        exec(self.compiled(s, "exec"), self.scope, self.env)

    def evaluate(self, e: gast.AST) -> Any:
        return eval(self.compiled(e, "eval"), self.scope, self.env)

    def compiled(self, node: gast.AST, how: str) -> Any:
        """The code object of one statement (`exec`) or expression (`eval`), compiled once."""
        code = self.code.get(id(node))
        if code is None:
            tree = gast.gast_to_ast(node)
            tree = ast.Module(body=[tree], type_ignores=[]) if how == "exec" else ast.Expression(
                body=tree)
            tree = ast.fix_missing_locations(tree)
            code = self.code[id(node)] = compile(tree, self.trace.parsed.filename, how)
        return code


def structural(trace: Trace) -> Graph:
    """The static evaluation-trace graph of a lowered function."""
    builder = _Structural(trace)
    builder.block(trace.node.body)
    return builder.result()


def executed(trace: Trace, args: tuple, max_steps: int = 10_000) -> Graph:
    """The evaluation-trace graph of one run of the lowered function on `args`."""
    if len(args) != len(trace.params):
        raise TypeError(f"{trace.parsed.name} takes {len(trace.params)} arguments "
                        f"({', '.join(trace.params)}), but args has {len(args)}")
    builder = _Executed(trace, tuple(args), max_steps)
    builder.run()
    return builder.result()


# ---------------------------------------------------------------------- helpers


def _loads(node: gast.AST) -> list[str]:
    """The names an expression reads, in a fixed order (breadth first, left to right)."""
    return list(dict.fromkeys(n.id for n in gast.walk(node)
                              if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)))


def _reads(s: gast.AST) -> tuple[list[str], list[str], str | None]:
    """(names read, the data operands among them, the variable defined) of a step."""
    if isinstance(s, gast.Expr):
        call = s.value
        reads = _loads(call)
        receiver = None
        if isinstance(call, gast.Call) and isinstance(getattr(call, "adgen_fn", None), Method):
            receiver = call.func.value.id if isinstance(call.func.value, gast.Name) else None
        return reads, data_reads(call), receiver
    target = s.targets[0]
    if isinstance(target, gast.Name):
        return _loads(s.value), data_reads(s.value), target.id
    container = target.value.id
    index = _loads(target.slice)
    value = _loads(s.value)
    return [container, *index, *value], [container, *value], container


def _merge(a: dict[str, tuple[str, ...]], b: dict[str, tuple[str, ...]]) -> dict:
    out = dict(a)
    for var, defs in b.items():
        out[var] = tuple(dict.fromkeys(out.get(var, ()) + defs))
    return out


def _stored(body: list[gast.AST]) -> set[str]:
    out: set[str] = set()
    for s in statements(body):
        for n in gast.walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                out.add(n.id)
    return out


def _callees(body: list[gast.AST]) -> dict[str, Any]:
    """Names of called functions that the lowering resolved itself (runtime helpers)."""
    out: dict[str, Any] = {}
    for s in statements(body):
        for n in gast.walk(s):
            fn = getattr(n, "adgen_fn", None)
            if (isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and fn is not None
                    and not isinstance(fn, Method)):
                out[n.func.id] = fn
    return out


def _show(value: Any) -> str:
    """A short description of a value for a node label."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.ndarray):
        return f"shape {value.shape}"
    if isinstance(value, (bool, np.bool_)):
        return f"= {value}"
    if isinstance(value, (int, float, complex, np.number)):
        return f"= {value:.4g}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__} of {len(value)}"
    return type(value).__name__
