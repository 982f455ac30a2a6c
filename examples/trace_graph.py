"""Evaluation-trace graphs (Bishop & Bishop, Figs. 8.4 and 8.5; Goodfellow et al., Fig. 6.10).

Prints the Graphviz DOT of the evaluation trace of the book's example (8.49)

    f(x1, x2) = x1*x2 + exp(x1*x2) - sin(x2)

and asserts its headline: 7 nodes (the inputs x1, x2 and 5 operations, since adgen computes
x1*x2 once, like v3 in Fig. 8.4) and 8 edges. It then counts the nodes of the reverse-mode
graph (one adjoint node per variable: the symbol-to-symbol picture of Fig. 6.10) and of the
two-output function of Fig. 8.5.

Last it saves the trace to look at: `trace_graph_f.dot` in the current directory (or in the
directory given with `--out DIR`) and, when Graphviz's `dot` program is installed, the picture
`trace_graph_f.svg` beside it (open it in a web browser). Without Graphviz it says how to view
the DOT file: install Graphviz (`apt-get install graphviz`, `brew install graphviz`, or
https://graphviz.org/download/) and run `dot -Tsvg trace_graph_f.dot -o trace_graph_f.svg`, or
paste the file into a Graphviz viewer on the web. The command line does the same for any
function: `adgen graph examples/trace_graph.py:f --mode reverse --format svg -o f.svg`.

Run: `python examples/trace_graph.py [--out DIR]` (add `--reverse` to print the reverse-mode
DOT too).
"""

import argparse
import math
import re
import shutil
import subprocess
from pathlib import Path

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


def save(dot: str, directory: Path) -> None:
    """Write the DOT text, and the SVG picture when Graphviz's `dot` is installed."""
    directory.mkdir(parents=True, exist_ok=True)
    dot_path, svg_path = directory / "trace_graph_f.dot", directory / "trace_graph_f.svg"
    dot_path.write_text(dot)
    program = shutil.which("dot")
    if program is None:
        print(f"wrote the DOT text to {dot_path}. Graphviz's `dot` is not installed, so no SVG: "
              "install Graphviz (apt-get install graphviz, brew install graphviz, or "
              "https://graphviz.org/download/) and run\n"
              f"  dot -Tsvg {dot_path} -o {svg_path}\n"
              "then open the SVG in a web browser; or paste the DOT text into a Graphviz "
              "viewer on the web")
        return
    svg = subprocess.run([program, "-Tsvg"], input=dot.encode(), capture_output=True,
                         check=True).stdout
    svg_path.write_bytes(svg)
    print(f"wrote the DOT text to {dot_path} and the picture, drawn by Graphviz's `dot`, to "
          f"{svg_path} (open it in a web browser)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", metavar="DIR", default=".", type=Path,
                        help="where to write trace_graph_f.dot and .svg (default: here)")
    parser.add_argument("--reverse", action="store_true", help="print the reverse-mode DOT")
    options = parser.parse_args()
    dot = adgen.graph(f)
    print(dot)
    nodes, edges = count(dot)
    print(f"evaluation trace of (8.49): {nodes} nodes, {edges} edges (Fig. 8.4: 7 and 8)")
    assert (nodes, edges) == (7, 8)

    reverse = adgen.graph(f, mode="reverse")
    if options.reverse:
        print(reverse)
    r_nodes, r_edges = count(reverse)
    print(f"with adjoints: {r_nodes} nodes ({r_nodes - nodes} adjoint), {r_edges} edges "
          f"({edges} primal, {edges} reversed, {r_edges - 2 * edges} reads of primal values)")
    assert r_nodes == 2 * nodes

    two_nodes, _ = count(adgen.graph(f1_f2))
    outputs = adgen.graph(f1_f2).count("[output ")
    print(f"two outputs (Fig. 8.5): {two_nodes} nodes, {outputs} of them outputs")
    assert outputs == 2
    save(dot, options.out)


if __name__ == "__main__":
    main()
