"""Evaluation-trace graphs (Bishop & Bishop, Figs. 8.4 and 8.5; Goodfellow et al., Fig. 6.10).

Prints the Graphviz DOT of the evaluation trace of the book's example (8.49)

    f(x1, x2) = x1*x2 + exp(x1*x2) - sin(x2)

and asserts its headline: 7 nodes (the inputs x1, x2 and 5 operations, since adgen computes
x1*x2 once, like v3 in Fig. 8.4) and 8 edges. It then counts the nodes of the reverse-mode
graph (one adjoint node per variable: the symbol-to-symbol picture of Fig. 6.10) and of the
two-output function of Fig. 8.5. Render the text with Graphviz (`dot -Tsvg`), or use the
command line: `adgen graph examples/trace_graph.py:f --mode reverse --format svg -o f.svg`.

Run: `python examples/trace_graph.py` (add `--reverse` to print the reverse-mode DOT too).
"""

import math
import re
import sys

import adgen


def f(x1, x2):
    return x1 * x2 + math.exp(x1 * x2) - math.sin(x2)


def f1_f2(x1, x2):
    return (x1 * x2 + math.exp(x1 * x2) - math.sin(x2),
            (x1 * x2 - math.sin(x2)) * math.exp(x1 * x2))


def count(dot: str) -> tuple[int, int]:
    """(node declarations, edges) of DOT text written one statement per line."""
    nodes = re.findall(r"^\s*(?!node\b|edge\b|graph\b)\w+ \[", dot, flags=re.MULTILINE)
    edges = re.findall(r"^\s*\w+ -> \w+", dot, flags=re.MULTILINE)
    return len(nodes), len(edges)


def main() -> None:
    dot = adgen.graph(f)
    print(dot)
    nodes, edges = count(dot)
    print(f"evaluation trace of (8.49): {nodes} nodes, {edges} edges (Fig. 8.4: 7 and 8)")
    assert (nodes, edges) == (7, 8)

    reverse = adgen.graph(f, mode="reverse")
    if "--reverse" in sys.argv[1:]:
        print(reverse)
    r_nodes, r_edges = count(reverse)
    print(f"with adjoints: {r_nodes} nodes ({r_nodes - nodes} adjoint), {r_edges} edges "
          f"({edges} primal, {edges} reversed, {r_edges - 2 * edges} reads of primal values)")
    assert r_nodes == 2 * nodes

    two_nodes, _ = count(adgen.graph(f1_f2))
    outputs = adgen.graph(f1_f2).count("[output ")
    print(f"two outputs (Fig. 8.5): {two_nodes} nodes, {outputs} of them outputs")
    assert outputs == 2


if __name__ == "__main__":
    main()
