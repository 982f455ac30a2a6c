"""Expression swell: symbolic differentiation against adgen (Bishop & Bishop, 8.42–8.48).

The network of (8.44)–(8.47) stacks layers z = h(w z + b) of the soft ReLU h(a) = ln(1 + e^a)
(8.46). For depth 1 to 6 this example differentiates the network output with respect to the
first weight w1 two ways and compares the sizes:

* symbolically, on the closed-form expression (8.47) written out as a tree: by sympy
  (`sympy.count_ops` of the unsimplified `sympy.diff`) when sympy is installed, and always by a
  small expression-tree differentiator written below (product, quotient and chain rule on
  tuples, folding only 0 and 1 as sympy does automatically; the size is the number of tree
  nodes). Depth 2 reproduces (8.48) in structure: w1 x + b1 appears in several places;
* by adgen: the number of AST nodes of `adgen.source(adgen.grad(network, wrt="w1"))`.

Two families of networks are measured:

* the book's chain (one unit per layer). Each layer's derivative factor h'(a_l) contains the
  whole expression below it, so the symbolic derivative grows *quadratically* with depth
  (its second differences are constant) while the function itself grows linearly;
* a network two units wide (each hidden unit reads both units of the layer below, one output
  unit). Written as a closed-form tree each unit repeats both units below it, so the symbolic
  derivative grows *exponentially*: its size about doubles with each layer.

adgen's derivative is code over the evaluation trace, in which every intermediate value is a
variable computed once, so its size grows *linearly* with depth in both families: the same
number of statements per layer. The example prints the tables and asserts: symbolic sizes of
the wide network grow by a factor > 1.5 per layer on average (exponential), the chain's grow
faster than linearly (quadratic: positive, roughly constant second differences), and
adgen's grow linearly (the largest step between depths is at most twice the smallest).

Run: `python examples/expression_swell.py`. SymPy is optional: without it the "sympy ops"
column shows "-" (not measured) and a line under the heading says so; the "symbolic d/dw1"
column, from the small differentiator in this file, shows the same growth on its own.
"""

import importlib.util
import math
import tempfile
from pathlib import Path

import adgen

# ---------------------------------------------------------------- the networks as source


def network_source(depth: int, width: int) -> tuple[str, str]:
    """Python source of the network (one statement per unit) and the name of its first weight.

    Hidden layers have `width` units, the output layer one; layer l's weights are named
    w{l}_{unit}{input} (w{l} in the chain) and its biases b{l}_{unit} (b{l}).
    """
    params, lines, below = ["x"], [], ["x"]
    for layer in range(1, depth + 1):
        units = 1 if layer == depth else width
        current = []
        for j in range(1, units + 1):
            tag = f"{layer}" if width == 1 else f"{layer}_{j}"
            terms = []
            for i, z in enumerate(below, 1):
                weight = f"w{tag}" if len(below) == 1 else f"w{tag}{i}"
                params.append(weight)
                terms.append(f"{weight} * {z}")
            params.append(f"b{tag}")
            current.append(f"z{tag}")
            lines.append(f"    z{tag} = math.log(1.0 + math.exp({' + '.join(terms)} + b{tag}))")
        below = current
    lines.append(f"    return {below[0]}")
    source = f"def network({', '.join(params)}):\n" + "\n".join(lines) + "\n"
    return "import math\n\n\n" + source, params[1]


def load(source: str, directory: Path, name: str):
    """Import `source` as a module from a file (adgen reads a function's source file)."""
    path = directory / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.network


def adgen_size(network, wrt: str) -> int:
    """AST nodes of the gradient adgen generates (all its functions)."""
    import ast

    return sum(1 for _ in ast.walk(ast.parse(adgen.source(adgen.grad(network, wrt=wrt)))))


# ---------------------------------------------------------------- a tiny symbolic differentiator
# Expressions are tuples: ("num", c), ("var", name), ("add"|"mul"|"div", a, b), ("exp"|"log", a).


def num(c: float) -> tuple:
    return ("num", c)


def add(a: tuple, b: tuple) -> tuple:
    if a == num(0.0):
        return b
    return a if b == num(0.0) else ("add", a, b)


def mul(a: tuple, b: tuple) -> tuple:
    if num(0.0) in (a, b):
        return num(0.0)
    if a == num(1.0):
        return b
    return a if b == num(1.0) else ("mul", a, b)


def div(a: tuple, b: tuple) -> tuple:
    return num(0.0) if a == num(0.0) else ("div", a, b)


def diff(e: tuple, v: str) -> tuple:
    """d e / d v by the sum, product, quotient and chain rules; no sharing of subtrees."""
    op = e[0]
    if op == "num":
        return num(0.0)
    if op == "var":
        return num(1.0 if e[1] == v else 0.0)
    if op == "add":
        return add(diff(e[1], v), diff(e[2], v))
    if op == "mul":
        return add(mul(diff(e[1], v), e[2]), mul(e[1], diff(e[2], v)))
    if op == "div":
        top = add(mul(diff(e[1], v), e[2]), mul(num(-1.0), mul(e[1], diff(e[2], v))))
        return div(top, mul(e[2], e[2]))
    if op == "exp":
        return mul(e, diff(e[1], v))
    if op == "log":
        return div(diff(e[1], v), e[1])
    raise ValueError(op)


def size(e: tuple) -> int:
    """The number of nodes of the expression tree (a shared subtree counts each time)."""
    count, todo = 0, [e]
    while todo:
        node = todo.pop()
        count += 1
        if node[0] not in ("num", "var"):
            todo.extend(node[1:])
    return count


def closed_form(depth: int, width: int, softplus, weighted_sum) -> tuple:
    """The network's output as one closed-form expression, built layer by layer."""
    below = ["x"]
    for layer in range(1, depth + 1):
        units = 1 if layer == depth else width
        current = []
        for j in range(1, units + 1):
            tag = f"{layer}" if width == 1 else f"{layer}_{j}"
            names = [f"w{tag}" if len(below) == 1 else f"w{tag}{i}"
                     for i in range(1, len(below) + 1)]
            current.append(softplus(weighted_sum(names, below, f"b{tag}")))
        below = current
    return below[0]


def tiny_closed_form(depth: int, width: int) -> tuple:
    def softplus(a):
        return ("log", ("add", num(1.0), ("exp", a)))

    def weighted_sum(weights, inputs, bias):
        total = ("var", bias)
        for w, z in zip(weights, inputs, strict=True):
            total = ("add", ("mul", ("var", w), ("var", z) if z == "x" else z), total)
        return total

    return closed_form(depth, width, softplus, weighted_sum)


def sympy_size(depth: int, width: int, wrt: str) -> int | None:
    try:
        import sympy
    except ImportError:
        return None

    def weighted_sum(weights, inputs, bias):
        total = sympy.Symbol(bias)
        for w, z in zip(weights, inputs, strict=True):
            total += sympy.Symbol(w) * (sympy.Symbol(z) if z == "x" else z)
        return total

    expr = closed_form(depth, width, lambda a: sympy.log(1 + sympy.exp(a)), weighted_sum)
    return int(sympy.count_ops(sympy.diff(expr, sympy.Symbol(wrt))))


# ---------------------------------------------------------------- the comparison


def measure(width: int, directory: Path) -> list[tuple[int, int, int, int | None, int]]:
    rows = []
    for depth in range(1, 7):
        source, wrt = network_source(depth, width)
        network = load(source, directory, f"swell_w{width}_d{depth}")
        expr = tiny_closed_form(depth, width)
        rows.append((depth, size(expr), size(diff(expr, wrt)), sympy_size(depth, width, wrt),
                     adgen_size(network, wrt)))
    return rows


def show(title: str, rows: list) -> None:
    print(title)
    print(f"{'depth':>5}  {'function':>8}  {'symbolic d/dw1':>14}  {'sympy ops':>9}  "
          f"{'adgen AST':>9}")
    for depth, f_size, sym, sym_ops, ad in rows:
        shown = "-" if sym_ops is None else str(sym_ops)
        print(f"{depth:5d}  {f_size:8d}  {sym:14d}  {shown:>9}  {ad:9d}")


def ratios(sizes: list[int]) -> list[float]:
    return [b / a for a, b in zip(sizes, sizes[1:], strict=False)]


def steps(sizes: list[int]) -> list[int]:
    return [b - a for a, b in zip(sizes, sizes[1:], strict=False)]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        chain = measure(1, Path(tmp))
        wide = measure(2, Path(tmp))
    print("Sizes of d y / d w1 (tree nodes for the closed forms, AST nodes for adgen's code)")
    if chain[0][3] is None:
        print('"sympy ops" shows "-": SymPy is not installed, so that column is not measured '
              "(pip install sympy fills it).\nThe \"symbolic d/dw1\" column, from the small "
              "symbolic differentiator in this example, shows the same growth without SymPy.")
    print()
    show("The book's chain, z = h(w z + b) (8.44)-(8.47):", chain)
    show("\nTwo units per hidden layer:", wide)
    print(f"\nnetwork source at depth 2, two units wide:\n{network_source(2, 2)[0]}")
    try:
        import sympy
    except ImportError:
        sympy = None
    if sympy is not None:
        x, w1, b1, w2, b2 = sympy.symbols("x w1 b1 w2 b2")
        y = sympy.log(1 + sympy.exp(w2 * sympy.log(1 + sympy.exp(w1 * x + b1)) + b2))
        print(f"sympy's dy/dw1 at depth 2 (compare 8.48): {sympy.diff(y, w1)}\n")

    for name, rows in (("chain", chain), ("two wide", wide)):
        for column, label in ((2, "symbolic"), (3, "sympy"), (4, "adgen")):
            sizes = [r[column] for r in rows]
            if None in sizes:
                continue
            r = ratios(sizes)
            print(f"{name:>8} {label:>8}: growth ratios {' '.join(f'{x:.2f}' for x in r)}; "
                  f"steps {' '.join(map(str, steps(sizes)))}")

    for column in (2, 3):
        if chain[0][column] is None:
            continue
        wide_sizes = [r[column] for r in wide]
        chain_sizes = [r[column] for r in chain]
        mean_ratio = math.exp(sum(map(math.log, ratios(wide_sizes))) / 5)
        assert mean_ratio > 1.5, mean_ratio  # exponential: a constant factor per layer
        second = steps(steps(chain_sizes))
        assert min(second) > 0 and max(second) <= 2 * min(second), second  # quadratic
    # adgen: linear. The wide network's two-unit layers start at depth 2 (at depth 1 it is the
    # chain's single unit), so its steps are taken from there.
    for rows in (chain, wide[1:]):
        d = steps([r[4] for r in rows])
        assert min(d) > 0 and max(d) <= 2 * min(d), d
    print("\nsymbolic: quadratic in depth for the chain, exponential for the wide network; "
          "adgen: linear in both")


if __name__ == "__main__":
    main()
