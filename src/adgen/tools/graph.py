"""Graphviz pictures of a function's evaluation trace: `adgen.graph(f) -> str` (DOT).

`graph(f, mode="primal")` draws the evaluation trace of Bishop & Bishop's Figs. 8.4 and 8.5:
one node per primal variable (the parameters, as input nodes) and per step of the trace,
labelled with the step (`_t1 = x1 * x2`), an edge from each operand to the step that reads it,
inputs drawn as green ellipses and outputs filled red with a double border. For the book's
`f(x1, x2) = x1*x2 + exp(x1*x2) - sin(x2)` that is 7 nodes (2 inputs and 5 steps: adgen
computes `x1*x2` once) and 8 edges, as in Fig. 8.4. A function returning `a, b` has two
output nodes (Fig. 8.5).

`graph(f, mode="reverse")` adds the adjoint graph, the symbol-to-symbol picture of
Goodfellow et al.'s Fig. 6.10: one adjoint node `v_bar` per *active* primal node (varied by a
`wrt` parameter and useful to an output, decided on this graph's own edges), labelled with the
sum of the contributions it receives. Its edges are derived from adgen's own adjoint rules:

* for each primal edge `a -> y` along which a derivative flows, an adjoint edge
  `y_bar -> a_bar` (the primal edge reversed, blue);
* for each primal value that the contribution `a_bar += rule(y_bar, ...)` reads, a dashed
  grey edge from that primal node to `a_bar`. The contribution is the rule's adjoint template
  (`adgen.rules`) filled with the step's operands, exactly as reverse mode fills it (without
  `unbroadcast`, which only reshapes), so `v3_bar += v5_bar * v5` of the book's `v5 =
  exp(v3)` reads `v5` and `x1_bar += _t1_bar * x2` reads `x2`. Two approximations: a call of
  a user function (or of a primitive without a rule) is drawn as a contribution to each of its
  data operands that reads all of them; a subscript read, a display (`(a, b)`) or a copy
  reads no primal value.

The adjoint of each output is the seed (`1` for one output, `cotangent k` for several); the
adjoints of the parameters, the gradient, have a double border.

`args=None` draws the trace statically: each loop body and branch is a cluster, a value carried
into the next iteration has a dashed edge back into the body, and a value read after a loop or
`if` has an edge from every assignment that may reach it. With `args=(...)`, the function's
lowered trace is run on those arguments and each executed step is drawn: loops unrolled (a
node per step per trip, labelled with the loop indices), branches resolved, values shown. See
`adgen.graph_build` for both builders.

The DOT text has one declaration per line (`n3 [label=...];`, `n1 -> n3;`), primal nodes
named `n<k>` and adjoint nodes `b<k>` (the adjoint of `n<k>`); the same function and options
give the same text. `adgen graph FILE.py:FUNC` prints it, or renders it with Graphviz.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import gast

from adgen import pipeline
from adgen.derive.analysis import call_parts, differentiable, primitive
from adgen.derive.templates import Bindings, TemplateError, bind_call, fill, signature
from adgen.frontend.lower import name
from adgen.frontend.parse import template_ast
from adgen.rules import lookup
from adgen.tools.graph_build import Graph, Node, executed, structural, unparse

_MODES = ("primal", "reverse")


def graph(f: Callable[..., Any], mode: str = "primal", args: Iterable[Any] | None = None,
          wrt: Any = None, max_steps: int = 10_000) -> str:
    """Graphviz DOT of the evaluation trace of `f` (see the module docstring).

    `mode="reverse"` adds the adjoint nodes for the parameters `wrt` (an index, a name or a
    tuple of them; default: every parameter). `args` runs `f`'s trace on those arguments and
    draws the executed steps (loops unrolled), at most `max_steps` of them.
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be 'primal' or 'reverse', not {mode!r}")
    trace = pipeline.get_trace(f)
    g = structural(trace) if args is None else executed(trace, tuple(args), max_steps)
    adjoint = None
    if mode == "reverse":
        names = trace.params if wrt is None else pipeline.wrt_names(trace, wrt)[0]
        adjoint = adjoint_graph(g, names)
    return to_dot(g, adjoint)


# ---------------------------------------------------------------------- adjoint graph


@dataclass
class Contribution:
    """`var_bar += expr`, made by one step; `reads` are the primal names `expr` reads."""

    var: str
    expr: str
    reads: list[str]


@dataclass
class Adjoint:
    """The adjoint part of a graph: active nodes, their labels and the edges among them."""

    active: list[str]                                   # primal ids, in reverse order
    terms: dict[str, list[str]] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (src, dst, kind)


def contributions(node: Node) -> list[Contribution]:
    """What the adjoint of `node`'s step adds to the adjoints of its operands."""
    s = node.stmt
    if node.hidden or node.var is None or s is None:
        return []
    bar = f"{node.var}_bar"
    if isinstance(s, gast.Expr):  # obj.append(x) and other in-place method calls
        call = s.value
        if getattr(call.func, "attr", None) != "append":
            return _generic(node, call)
        receiver, item = call.func.value.id, call.args[0]
        out = [Contribution(receiver, f"{bar}[:-1]", [])]
        return out + _names([(item, f"{bar}[-1]")], node)
    target = s.targets[0]
    if isinstance(target, gast.Subscript):  # a[i] = v
        index = unparse(target.slice)
        out = [Contribution(target.value.id, f"{bar} with [{index}] zeroed", [])]
        return out + _names([(s.value, f"{bar}[{index}]")], node)
    rhs = s.value
    if not differentiable(rhs) or isinstance(rhs, gast.Constant):
        return []
    if isinstance(rhs, gast.Name):
        return _names([(rhs, bar)], node)
    if isinstance(rhs, gast.Subscript):
        return _names([(rhs.value, f"{bar} at [{unparse(rhs.slice)}]")], node)
    if isinstance(rhs, (gast.Tuple, gast.List)):
        return _names([(e, f"{bar}[{k}]") for k, e in enumerate(rhs.elts)], node)
    if isinstance(rhs, gast.Dict):
        return _names([(v, f"{bar}[{unparse(k)}]") for k, v in zip(rhs.keys, rhs.values,
                                                                     strict=True)], node)
    if getattr(rhs, "adgen_global", False):
        return []
    fn = primitive(rhs)
    rule = lookup(fn) if fn is not None else None
    if rule is None or rule.adjoint is None:
        return _generic(node, rhs)
    return _from_rule(node, rhs, rule)


def _names(pairs: list[tuple[gast.AST, str]], node: Node) -> list[Contribution]:
    return [Contribution(a.id, expr, []) for a, expr in pairs
            if isinstance(a, gast.Name) and a.id in node.operands]


def _generic(node: Node, call: gast.AST) -> list[Contribution]:
    """A call without an adjoint rule of its own (a user function): every data operand."""
    fn = primitive(call)
    label = getattr(fn, "__name__", None) or unparse(getattr(call, "func", call))
    operands = [v for v in node.operands if v in node.data]
    bar = f"{node.var}_bar"
    return [Contribution(v, f"{label}_bwd({bar})[{v}]", operands) for v in operands]


def _from_rule(node: Node, rhs: gast.AST, rule: Any) -> list[Contribution]:
    args, keywords = call_parts(rhs)
    try:
        values = bind_call(rule.adjoint, args, keywords, rule.name)
    except TemplateError:
        return _generic(node, rhs)
    params, _, _ = signature(rule.adjoint)
    values["y_bar"] = name(f"{node.var}_bar")
    values[template_ast(rule.adjoint).args.args[0].id] = name(node.var)
    bindings = Bindings(avoid=lambda n, obj: False, reserve=set())
    expr = fill(rule.adjoint, values, bindings, lambda param: False)
    parts = expr.elts if isinstance(expr, gast.Tuple) else [expr]
    out = []
    for param, part in zip(params, parts, strict=False):
        atom = values[param]
        if not isinstance(atom, gast.Name) or atom.id not in node.operands:
            continue
        if isinstance(part, gast.Constant) and part.value is None:
            continue
        reads = [n.id for n in gast.walk(part) if isinstance(n, gast.Name)
                 and (n.id in node.operands or n.id == node.var)]
        out.append(Contribution(atom.id, unparse(part), list(dict.fromkeys(reads))))
    return out


def adjoint_graph(g: Graph, wrt: list[str]) -> Adjoint:
    """The adjoint nodes and edges of `g` for the parameters `wrt`."""
    made = {n.id: contributions(n) for n in g.nodes}
    flows: list[tuple[str, str]] = []  # (operand definition, step): a derivative flows
    for n in g.nodes:
        for c in made[n.id]:
            flows += [(d, n.id) for d, _ in n.operands.get(c.var, [])]
    varied = _reach([g.inputs[p] for p in wrt], flows)
    useful = _reach([n.id for n in g.nodes if n.outputs], [(b, a) for a, b in flows])
    active = [n.id for n in reversed(g.nodes) if n.id in varied and n.id in useful]
    adj = Adjoint(active)
    seeds = {n.id: n.outputs for n in g.nodes if n.outputs}
    for n_id in active:
        outputs = seeds.get(n_id, [])
        adj.terms[n_id] = ["1" if g.n_outputs == 1 else f"cotangent {o.split()[-1]}"
                           for o in outputs]
    edges: dict[tuple[str, str, str], None] = {}
    for n_id in active:
        n = g.by_id[n_id]
        for c in made[n_id]:
            for d, carried in n.operands.get(c.var, []):
                if d not in varied or d not in useful:
                    continue
                adj.terms[d].append(c.expr)
                kind = "carried adjoint" if carried else "adjoint"
                edges[(f"b{n_id[1:]}", f"b{d[1:]}", kind)] = None
                for r in c.reads:
                    sources = [n_id] if r == n.var else [x for x, _ in n.operands[r]]
                    for src in sources:
                        edges[(src, f"b{d[1:]}", "reads")] = None
    adj.edges = list(edges)
    return adj


def _reach(seeds: list[str], edges: list[tuple[str, str]]) -> set[str]:
    following: dict[str, list[str]] = {}
    for a, b in edges:
        following.setdefault(a, []).append(b)
    reached, todo = set(seeds), list(seeds)
    while todo:
        for b in following.get(todo.pop(), []):
            if b not in reached:
                reached.add(b)
                todo.append(b)
    return reached


# ---------------------------------------------------------------------- DOT

_STYLE = {
    "input": {"shape": "ellipse", "style": "filled", "fillcolor": "#d5e8d4"},
    "step": {"shape": "box", "style": "rounded"},
    "effect": {"shape": "box", "style": "rounded,dashed"},
    "output": {"style": "rounded,filled", "fillcolor": "#f8cecc", "peripheries": "2"},
    "adjoint": {"shape": "box", "style": "rounded,filled", "fillcolor": "#dae8fc"},
    "gradient": {"shape": "box", "style": "rounded,filled", "fillcolor": "#9ec5f0",
                 "peripheries": "2"},
}
_EDGE = {
    "data": {},
    "index": {"style": "dotted", "color": "gray50"},
    "carried": {"style": "dashed", "constraint": "false", "label": "next trip"},
    "adjoint": {"color": "#1f5fbf"},
    "carried adjoint": {"style": "dashed", "color": "#1f5fbf", "constraint": "false",
                        "label": "previous trip"},
    "reads": {"style": "dashed", "color": "gray60"},
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attributes(attrs: dict[str, str]) -> str:
    return ", ".join(f"{k}={_quote(v)}" for k, v in attrs.items())


def _primal_decl(n: Node) -> str:
    lines = [n.text, *n.note]
    attrs = dict(_STYLE[n.kind])
    if n.outputs:
        lines.append("[" + ", ".join(n.outputs) + "]")
        attrs.update(_STYLE["output"])
        if n.kind == "input":
            attrs["style"] = "filled"
    return f"{n.id} [{_attributes({'label': chr(10).join(lines), **attrs})}];"


def _adjoint_decl(n: Node, terms: list[str]) -> str:
    label = f"{n.var}_bar"
    if terms:
        label += " = " + "\n  + ".join(terms) if len(terms) > 1 else f" = {terms[0]}"
    lines = [label, *n.note[:-1]] if n.kind != "input" else [label, "[gradient]"]
    attrs = _STYLE["gradient" if n.kind == "input" else "adjoint"]
    return f"b{n.id[1:]} [{_attributes({'label': chr(10).join(lines), **attrs})}];"


def _edge(src: str, dst: str, kind: str) -> str:
    attrs = _EDGE[kind]
    return f"  {src} -> {dst}" + (f" [{_attributes(attrs)}];" if attrs else ";")


def to_dot(g: Graph, adj: Adjoint | None = None) -> str:
    """The DOT text of a graph and, for reverse mode, its adjoint part."""
    shown = [n for n in g.nodes if not n.hidden]
    members: dict[Any, list[str]] = {}
    for n in shown:
        members.setdefault(("p", n.cluster), []).append(_primal_decl(n))
    if adj is not None:
        for n_id in adj.active:
            n = g.by_id[n_id]
            members.setdefault(("b", n.cluster), []).append(_adjoint_decl(n, adj.terms[n_id]))
    out = [f"digraph {_quote(g.name)} {{", "  rankdir=LR;",
           '  graph [fontname="Helvetica", fontsize=11];',
           '  node [fontname="Helvetica", fontsize=11];',
           '  edge [fontname="Helvetica", fontsize=9];']
    for side in ("p", "b"):
        out += ["  " + d for d in members.get((side, None), [])]
        for k, c in enumerate(g.clusters):
            if c.parent is None and _occupied(g, members, side, k):
                out += _cluster(g, members, side, k, 1)
    for n in shown:
        for var, defs in n.operands.items():
            for d, carried in defs:
                if g.by_id[d].hidden:
                    continue
                kind = "carried" if carried else "data" if var in n.data else "index"
                out.append(_edge(d, n.id, kind))
    for src, dst, kind in adj.edges if adj is not None else []:
        out.append(_edge(src, dst, kind))
    out.append("}")
    return "\n".join(out) + "\n"


def _cluster(g: Graph, members: dict, side: str, k: int, depth: int) -> list[str]:
    """A cluster and the clusters inside it (as deep as the source nests its blocks)."""
    pad = "  " * depth
    label = g.clusters[k].label if side == "p" else f"adjoint of: {g.clusters[k].label}"
    out = [f"{pad}subgraph cluster_{side}{k} {{", f"{pad}  label={_quote(label)};",
           f"{pad}  style=dashed;"]
    out += [pad + "  " + d for d in members.get((side, k), [])]
    for j, c in enumerate(g.clusters):
        if c.parent == k and _occupied(g, members, side, j):
            out += _cluster(g, members, side, j, depth + 1)
    out.append(pad + "}")
    return out


def _occupied(g: Graph, members: dict, side: str, k: int) -> bool:
    """Whether cluster `k` or a cluster inside it has nodes on this side."""
    todo = [k]
    while todo:
        j = todo.pop()
        if members.get((side, j)):
            return True
        todo += [i for i, c in enumerate(g.clusters) if c.parent == j]
    return False
