"""`adgen.graph`: evaluation-trace graphs as Graphviz DOT (Bishop & Bishop Figs. 8.4, 8.5).

The DOT text is read back with a small regex parser (one declaration per line) and its nodes
and edges are counted against the book's figures.
"""

import math
import re
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import adgen

NODE = re.compile(r"^\s*([A-Za-z_]\w*)\s*\[(.*)\];$")
EDGE = re.compile(r"^\s*(\w+)\s*->\s*(\w+)(?:\s*\[(.*)\])?;$")
LABEL = re.compile(r'label="((?:[^"\\]|\\.)*)"')


def parse(dot: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """(node name -> attribute text, [(source, target, attribute text)])."""
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str]] = []
    for line in dot.splitlines():
        edge = EDGE.match(line)
        if edge:
            edges.append((edge[1], edge[2], edge[3] or ""))
            continue
        node = NODE.match(line)
        if node and node[1] not in ("node", "edge", "graph"):
            assert node[1] not in nodes, f"node {node[1]} declared twice"
            nodes[node[1]] = node[2]
    for a, b, _ in edges:
        assert a in nodes and b in nodes, f"edge {a} -> {b} between undeclared nodes"
    return nodes, edges


def label(attrs: str) -> str:
    return LABEL.search(attrs)[1].replace("\\n", "\n")


def primal(nodes: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in nodes.items() if k.startswith("n")}


def adjoint(nodes: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in nodes.items() if k.startswith("b")}


def outputs(nodes: dict[str, str]) -> dict[str, str]:
    return {k: label(v) for k, v in nodes.items() if "[output" in label(v)}


def book(x1, x2):
    return x1 * x2 + math.exp(x1 * x2) - math.sin(x2)


def two_outputs(x1, x2):
    """Fig. 8.5: f1 is (8.49), f2 is (8.65)."""
    return (x1 * x2 + math.exp(x1 * x2) - math.sin(x2),
            (x1 * x2 - math.sin(x2)) * math.exp(x1 * x2))


def iterate(x, n):
    for _ in range(n):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x


def halve_then_branch(x):
    while x > 1.0:
        x = x / 2.0
    if x > 0.3:
        y = x * x
    else:
        y = -x
    return y


def network(W, xs):
    s = 0.0
    for xi in xs:
        s = s + np.sum(np.tanh(W @ xi))
    return s


def squares(x):
    ys = [v * v for v in x]
    return ys[0] + ys[1]


# ---------------------------------------------------------------- the book's example


def test_book_example_has_the_seven_nodes_and_eight_edges_of_fig_8_4() -> None:
    nodes, edges = parse(adgen.graph(book))
    assert len(nodes) == 7  # x1, x2 and 5 steps: x1*x2 is computed once
    assert len(edges) == 8
    labels = [label(a) for a in nodes.values()]
    assert sum("x1 * x2" in t for t in labels) == 1
    assert {"x1", "x2"} <= set(labels)
    assert [t for t in labels if "[output]" in t] == ["_t5 = _t3 - _t4\n[output]"]
    # The same graph as Fig. 8.4 up to naming: the in- and out-degree of every node agree
    # (v1..v7 have in-degrees 0,0,2,1,1,2,2 and out-degrees 1,2,2,1,1,1,0).
    into = Counter(b for _, b, _ in edges)
    out_of = Counter(a for a, _, _ in edges)
    degrees = sorted((into[n], out_of[n]) for n in nodes)
    book_degrees = sorted([(0, 1), (0, 2), (2, 2), (1, 1), (1, 1), (2, 1), (2, 0)])
    assert degrees == book_degrees


def test_inputs_and_outputs_are_marked() -> None:
    nodes, _ = parse(adgen.graph(book))
    inputs = [k for k, a in nodes.items() if "shape=\"ellipse\"" in a]
    assert sorted(label(nodes[k]) for k in inputs) == ["x1", "x2"]
    (out,) = outputs(nodes)
    assert "peripheries=\"2\"" in nodes[out] and "fillcolor" in nodes[out]


def test_edges_go_from_operands_to_the_steps_that_read_them() -> None:
    nodes, edges = parse(adgen.graph(book))
    by_label = {label(a).split(" = ")[0].split("\n")[0]: k for k, a in nodes.items()}
    parents = {n: sorted(label(nodes[a]).split(" = ")[0] for a, b, _ in edges if b == n)
               for n in nodes}
    assert parents[by_label["_t1"]] == ["x1", "x2"]
    assert parents[by_label["_t2"]] == ["_t1"]
    assert parents[by_label["_t4"]] == ["x2"]
    assert parents[by_label["_t5"]] == ["_t3", "_t4"]


def test_reverse_mode_adds_one_adjoint_node_per_active_variable() -> None:
    nodes, edges = parse(adgen.graph(book, mode="reverse"))
    assert len(primal(nodes)) == 7 and len(adjoint(nodes)) == 7
    primal_edges = {(a, b) for a, b, attrs in edges if a[0] == b[0] == "n"}
    adjoint_edges = {(a, b) for a, b, _ in edges if a[0] == b[0] == "b"}
    # Every primal edge a -> y has its adjoint edge y_bar -> a_bar, and nothing else.
    assert adjoint_edges == {("b" + y[1:], "b" + a[1:]) for a, y in primal_edges}
    reads = {(label(nodes[a]), label(nodes[b]).split(" = ")[0]) for a, b, _ in edges
             if a[0] == "n" and b[0] == "b"}
    # mul's adjoint reads the other factor; exp's reads its own result (v5, not exp(v3));
    # sin's reads its argument (for cos).
    assert reads == {("x2", "x1_bar"), ("x1", "x2_bar"), ("_t2 = math.exp(_t1)", "_t1_bar"),
                     ("x2", "x2_bar")}
    assert len(edges) == 8 + 8 + 4


def test_reverse_labels_are_the_adjoint_equations() -> None:
    nodes, _ = parse(adgen.graph(book, mode="reverse"))
    labels = {label(a).split(" = ")[0]: label(a) for a in adjoint(nodes).values()}
    assert labels["_t5_bar"] == "_t5_bar = 1"           # the seed, v7_bar = 1
    assert labels["_t4_bar"] == "_t4_bar = -_t5_bar"
    assert "_t2_bar * _t2" in labels["_t1_bar"]           # v3_bar = v5_bar v5 + v6_bar
    # v2_bar = v3_bar v1 + v4_bar cos(v2): the book's typo (v2_bar v1) is not reproduced.
    assert "_t4_bar * math.cos(x2)" in labels["x2_bar"] and "x1 * _t1_bar" in labels["x2_bar"]
    assert "[gradient]" in labels["x1_bar"] and "_t1_bar * x2" in labels["x1_bar"]


def test_reverse_mode_for_one_parameter_draws_only_its_active_variables() -> None:
    nodes, _ = parse(adgen.graph(book, mode="reverse", wrt="x1"))
    names = sorted(label(a).split(" = ")[0].split("\n")[0] for a in adjoint(nodes).values())
    assert names == ["_t1_bar", "_t2_bar", "_t3_bar", "_t5_bar", "x1_bar"]  # not sin(x2)


# ---------------------------------------------------------------- several outputs, loops


def test_several_outputs_are_the_elements_of_the_returned_tuple() -> None:
    nodes, edges = parse(adgen.graph(two_outputs))
    assert len(nodes) == 9  # x1, x2 and 7 steps; the tuple display is not drawn
    assert len(edges) == 12
    marks = sorted(t.rsplit("\n", 1)[1] for t in outputs(nodes).values())
    assert marks == ["[output 1]", "[output 2]"]
    rev, _ = parse(adgen.graph(two_outputs, mode="reverse"))
    seeds = sorted(label(a) for a in adjoint(rev).values() if "cotangent" in label(a))
    assert seeds == ["_t5_bar = cotangent 1", "_t7_bar = cotangent 2"]
    assert len(adjoint(rev)) == 9


@pytest.mark.parametrize("trips", [1, 2, 5, 20])
def test_unrolled_loop_has_a_node_per_step_per_trip(trips: int) -> None:
    nodes, edges = parse(adgen.graph(iterate, args=(0.5, trips)))
    assert len(nodes) == 2 + 4 * trips
    assert len(edges) == 5 * trips
    (out,) = outputs(nodes).values()
    assert f"_={trips - 1}" in out and f"= {iterate(0.5, trips):.4g}" in out
    rev, _ = parse(adgen.graph(iterate, args=(0.5, trips), mode="reverse"))
    assert len(adjoint(rev)) == 1 + 4 * trips  # x and every step; the count n is not active


def test_loop_without_args_is_drawn_once_as_a_cluster_with_carried_edges() -> None:
    dot = adgen.graph(iterate)
    nodes, edges = parse(dot)
    assert len(nodes) == 6 and dot.count("subgraph cluster_p") == 1
    assert 'label="for _ in range(n)"' in dot
    carried = [(a, b) for a, b, attrs in edges if "next trip" in attrs]
    assert len(carried) == 2  # x feeds sin(x) and 0.1 * x of the next trip
    rev = adgen.graph(iterate, mode="reverse")
    assert "adjoint of: for _ in range(n)" in rev and "previous trip" in rev


def test_while_loop_and_branch_run_on_args_take_one_path() -> None:
    taken, _ = parse(adgen.graph(halve_then_branch, args=(3.0,)))
    labels = [label(a) for a in taken.values()]
    assert sum(t.startswith("_t2 = x / 2.0") for t in labels) == 2  # 3 -> 1.5 -> 0.75
    assert any(t.startswith("y = x * x") for t in labels)
    assert not any(t.startswith("y = -x") for t in labels)
    other, _ = parse(adgen.graph(halve_then_branch, args=(0.1,)))
    assert any(label(a).startswith("y = -x") for a in other.values())
    static = adgen.graph(halve_then_branch)
    assert static.count("subgraph cluster_p") == 3  # while, if, else
    assert len(outputs(parse(static)[0])) == 2      # y from either branch


def test_arrays_lists_and_appends_run_on_args() -> None:
    W = np.arange(6.0).reshape(2, 3) / 10
    xs = [np.ones(3), np.linspace(0, 1, 3)]
    nodes, _ = parse(adgen.graph(network, args=(W, xs), mode="reverse"))
    labels = [label(a) for a in nodes.values()]
    assert "W\nshape (2, 3)" in labels
    (out,) = outputs(nodes).values()
    assert f"= {network(W, xs):.4g}" in out
    assert any(t.startswith("W_bar") and "[gradient]" in t for t in labels)
    dot = adgen.graph(squares, args=(np.array([3.0, 4.0]),), mode="reverse")
    assert "= 25" in dot and ".append(" in dot


def test_same_input_same_text() -> None:
    assert adgen.graph(book, mode="reverse") == adgen.graph(book, mode="reverse")


def test_bad_calls_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="mode must be"):
        adgen.graph(book, mode="forward")
    with pytest.raises(TypeError, match="takes 2 arguments"):
        adgen.graph(book, args=(1.0,))
    with pytest.raises(ValueError, match="more than 50 steps"):
        adgen.graph(iterate, args=(0.5, 100), max_steps=50)


# ---------------------------------------------------------------- the command


BOOK_FILE = """\
import math


def f(x1, x2):
    return x1 * x2 + math.exp(x1 * x2) - math.sin(x2)


def g(x, n):
    for i in range(n):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x
"""


def run_graph(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    path = tmp_path / "user_code.py"
    path.write_text(textwrap.dedent(BOOK_FILE))
    command = [sys.executable, "-m", "adgen", "graph", f"{path}:{args[0]}", *args[1:]]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path)


def test_cli_prints_dot(tmp_path: Path) -> None:
    done = run_graph(tmp_path, "f")
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == adgen.graph(book).replace('"book"', '"f"')
    reverse = run_graph(tmp_path, "f", "--mode", "reverse", "--wrt", "x1")
    assert len(adjoint(parse(reverse.stdout)[0])) == 5
    unrolled = run_graph(tmp_path, "g", "--args", "(0.5, 3)", "-o", "out.dot")
    assert unrolled.returncode == 0 and unrolled.stdout == ""
    assert len(parse((tmp_path / "out.dot").read_text())[0]) == 2 + 4 * 3


def test_cli_without_graphviz_says_how_to_install_it(tmp_path: Path) -> None:
    empty = tmp_path / "no_programs"
    empty.mkdir()
    done = run_graph(tmp_path, "f", "--format", "svg", env={"PATH": str(empty)})
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "install Graphviz (e.g. apt-get install graphviz)" in lines[0]


def test_cli_rejects_bad_args(tmp_path: Path) -> None:
    done = run_graph(tmp_path, "f", "--args", "(1,")
    assert done.returncode == 2 and "expected Python literals" in done.stderr
    done = run_graph(tmp_path, "f", "--wrt", "x1")
    assert done.returncode == 2 and "needs --mode reverse" in done.stderr


@pytest.mark.skipif(not __import__("shutil").which("dot"), reason="Graphviz is not installed")
def test_cli_renders_svg_with_graphviz(tmp_path: Path) -> None:
    done = run_graph(tmp_path, "f", "--mode", "reverse", "--format", "svg", "-o", "f.svg")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "f.svg").read_text()
    assert "<svg" in text and "x2_bar" in text
