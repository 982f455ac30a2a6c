"""Every example in `examples/` runs, as a reader runs it (a subprocess), and says what is true.

All examples start at once (the module's fixture) and each test reads one example's output:
the numbers it prints are checked within tolerance, against closed forms where there are
some, and the sentences that explain them are checked to be there. An example with no test
of its own here is still run and must succeed.
"""

import ast
import math
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"
NUMBER = r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def start(name: str, cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(EXAMPLES / name), *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What each example prints, all run concurrently in a scratch directory."""
    cwd = tmp_path_factory.mktemp("examples")
    running = {path.name: start(path.name, cwd) for path in sorted(EXAMPLES.glob("*.py"))}
    return {name: finish(process) for name, process in running.items()}


def numbers(pattern: str, text: str) -> list[float]:
    """The numbers in the first match of `pattern`, where `{n}` stands for a number."""
    found = re.search(pattern.replace("{n}", f"({NUMBER})"), text)
    assert found, f"no line matches {pattern!r} in:\n{text}"
    return [float(group) for group in found.groups()]


def docstring(name: str) -> str:
    return ast.get_docstring(ast.parse((EXAMPLES / name).read_text())) or ""


def test_every_example_runs(outputs: dict[str, str]) -> None:
    assert len(outputs) >= 7
    for name, out in outputs.items():
        assert out.strip(), f"{name} printed nothing"


def test_bishop_8_49(outputs: dict[str, str]) -> None:
    out = outputs["bishop_8_49.py"]
    x1, x2 = 1.5, 0.5
    value, = numbers(r"f\(1\.5, 0\.5\) = {n}", out)
    assert value == pytest.approx(x1 * x2 + math.exp(x1 * x2) - math.sin(x2), abs=1e-12)
    g1, exact1 = numbers(r"df/dx1 = {n}\s+\(closed form {n}\)", out)
    g2, exact2 = numbers(r"df/dx2 = {n}\s+\(closed form {n}\)", out)
    assert g1 == exact1 == pytest.approx(x2 + x2 * math.exp(x1 * x2), abs=1e-12)
    assert g2 == exact2 == pytest.approx(x1 + x1 * math.exp(x1 * x2) - math.cos(x2), abs=1e-12)
    tangent, = numbers(r"forward mode with x1_dot = 1, x2_dot = 0: {n}", out)
    assert tangent == g1
    for section in ("# evaluation trace", "# forward mode (tangents)", "# reverse mode (adjoints)"):
        assert section in out
    assert "x2_bar" in out and "x1_dot" in out


def test_finite_difference_error(outputs: dict[str, str]) -> None:
    out = outputs["finite_difference_error.py"]
    x = 1.0
    s, c = math.sin(x), math.cos(x)
    f = math.exp(s)
    exact, = numbers(r"exact derivative by adgen.grad: {n}", out)
    assert exact == pytest.approx(c * f, abs=1e-15)
    u = sys.float_info.epsilon
    second, third = f * (c * c - s), f * (c**3 - 3 * s * c - c)
    model = {"forward": 2 * math.sqrt(u * f / abs(second)),
             "central": (3 * u * f / abs(third)) ** (1 / 3)}
    slopes = {"forward": (0.8, 1.2), "central": (1.7, 2.3)}
    summary = docstring("finite_difference_error.py")
    best = {}
    for kind in ("forward", "central"):
        slope, smallest, best[kind], printed_model = numbers(
            kind + r" difference: slope {n} .*; smallest error {n} at eps = {n}; "
            r"the error model's best step .* = {n}", out)
        assert slopes[kind][0] < slope < slopes[kind][1]
        assert printed_model == pytest.approx(model[kind], rel=0.02)
        assert 0.1 < best[kind] / model[kind] < 10
        # the summary names the value printed (4.0e-8, 7.3e-6: one digit after the point)
        assert f"{model[kind]:.1e}".replace("e-0", "e-") in summary
    assert 1e-12 < smallest < 1e-9  # central: far below the forward difference's best
    assert best["central"] > best["forward"]
    assert "round-off takes over" in out


def table(out: str, title: str) -> list[list[str]]:
    """The rows of the table under `title`: depth, function, symbolic, sympy, adgen."""
    lines = out[out.index(title):].splitlines()[2:]
    rows = []
    for line in lines:
        cells = line.split()
        if len(cells) != 5 or not cells[0].isdigit():
            break
        rows.append(cells)
    return rows


def test_expression_swell(outputs: dict[str, str]) -> None:
    out = outputs["expression_swell.py"]
    chain = table(out, "The book's chain")
    wide = table(out, "Two units per hidden layer")
    assert [int(r[0]) for r in chain] == [int(r[0]) for r in wide] == [1, 2, 3, 4, 5, 6]
    symbolic = [int(r[2]) for r in chain]
    second = [a - 2 * b + c for a, b, c in zip(symbolic, symbolic[1:], symbolic[2:], strict=False)]
    assert min(second) > 0 and max(second) <= 2 * min(second)  # quadratic
    wide_symbolic = [int(r[2]) for r in wide]
    assert (wide_symbolic[-1] / wide_symbolic[0]) ** (1 / 5) > 1.5  # exponential
    for rows in (chain, wide[1:]):  # linear (the wide layers start at depth 2)
        sizes = [int(r[4]) for r in rows]
        steps = [b - a for a, b in zip(sizes, sizes[1:], strict=False)]
        assert min(steps) > 0 and max(steps) <= 2 * min(steps)
    sympy_column = {r[3] for r in chain + wide}
    note = '"sympy ops" shows "-": SymPy is not installed, so that column is not measured'
    if sympy_column == {"-"}:
        assert note in out and 'The "symbolic d/dw1" column' in out
        assert "the same growth without SymPy" in out
    else:
        assert "-" not in sympy_column and note not in out
    assert "adgen: linear in both" in out


def test_hessian_approximations(outputs: dict[str, str]) -> None:
    out = outputs["hessian_approximations.py"]
    before_outer, before_diagonal = numbers(
        r"before training.*\n.*outer product {n}, diagonal {n}", out)
    after_outer, after_diagonal = numbers(
        r"after training.*\n.*outer product {n}, diagonal {n}", out)
    assert after_outer < before_outer and after_outer < 0.1
    assert after_diagonal > 0.5 and after_diagonal > after_outer  # off-diagonal terms matter
    tops = [float(v) for v in re.findall(r"top eigenvalues,\s+diagonal:\s+(" + NUMBER + ")", out)]
    assert tops == [40.0, 40.0]  # before and after training
    n = 40  # examples in the data set
    assert numbers(r"its top one, {n}, is d2E/db2\^2 of the output bias b2", out) == [n]
    assert f"d2E/db2^2 = sum_n (dy_n/db2)^2 = N = {n} examples, before and after training" in out
    assert "Its largest,\n40.0000 before and after training" in docstring(
        "hessian_approximations.py")
    assert "the outer-product approximation improves near the minimum" in out


def test_jacobian(outputs: dict[str, str]) -> None:
    out = outputs["jacobian.py"]
    agreements = re.findall(r"forward = reverse = auto = closed form to 1e-12; central "
                            r"differences agree to (" + NUMBER + r") \(relative\)", out)
    assert len(agreements) == 3 and max(map(float, agreements)) < 1e-6
    # the pass counts it prints (timings are the example's to show, not the test's to assert)
    assert re.search(r"D=  4, K=200: .*the pass count predicts forward", out)
    assert re.search(r"D=200, K=  4: .*the pass count predicts reverse", out)


def test_mlp_train(outputs: dict[str, str]) -> None:
    out = outputs["mlp_train.py"]
    regression, classification = out.split("(b) classification")
    for part in (regression, classification):
        losses = [float(v) for v in re.findall(r"loss (" + NUMBER + ")", part)]
        assert len(losses) > 3 and losses[-1] < losses[0] / 2
    train, test, noise = numbers(r"RMS error: train {n}, test {n}  \(noise level {n}\)", out)
    assert noise == 0.1 and train < 2 * noise and test < 2 * noise
    train_accuracy, test_accuracy, chance = numbers(
        r"accuracy: train {n}, test {n}  \(chance {n}\)", out)
    assert chance == 0.1 and test_accuracy > 0.8 and train_accuracy >= test_accuracy


def check_trace_graph(out: str) -> None:
    assert "evaluation trace of (8.49): 7 nodes, 8 edges (Fig. 8.4: 7 and 8)" in out
    assert ("with adjoints: 14 nodes (7 adjoint), 20 edges (8 primal, 8 reversed, "
            "4 reads of primal values)") in out
    assert "two outputs (Fig. 8.5): 9 nodes, 2 of them outputs" in out
    assert out.startswith('digraph "f" {')


def test_trace_graph_without_graphviz(tmp_path: Path) -> None:
    """With no `dot` on PATH: the DOT file is written and the output says how to view it."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    out = finish(start("trace_graph.py", tmp_path, "--out", "pictures", env=env))
    check_trace_graph(out)
    dot = (tmp_path / "pictures" / "trace_graph_f.dot").read_text()
    assert dot.startswith('digraph "f" {') and dot in out
    assert not (tmp_path / "pictures" / "trace_graph_f.svg").exists()
    assert "Graphviz's `dot` is not installed, so no SVG: install Graphviz" in out
    assert "dot -Tsvg pictures/trace_graph_f.dot -o pictures/trace_graph_f.svg" in out


def test_trace_graph_with_graphviz(tmp_path: Path) -> None:
    """With `dot` (Graphviz's, or a stand-in when it is not installed): an SVG beside the DOT."""
    program = shutil.which("dot")
    env = dict(os.environ)
    if program is None:
        stand_in = tmp_path / "bin" / "dot"
        stand_in.parent.mkdir()
        stand_in.write_text('#!/bin/sh\ncat > /dev/null\necho \'<svg xmlns="x">stand-in</svg>\'\n')
        stand_in.chmod(stand_in.stat().st_mode | stat.S_IEXEC)
        env["PATH"] = f"{stand_in.parent}{os.pathsep}{env.get('PATH', '')}"
    out = finish(start("trace_graph.py", tmp_path, env=env))
    check_trace_graph(out)
    svg = (tmp_path / "trace_graph_f.svg").read_text()
    assert "<svg" in svg and (program is None or "x1" in svg)
    assert (tmp_path / "trace_graph_f.dot").exists()
    assert ("wrote the DOT text to trace_graph_f.dot and the picture, drawn by Graphviz's "
            "`dot`, to trace_graph_f.svg (open it in a web browser)") in out


def test_trace_graph_in_the_batch(outputs: dict[str, str]) -> None:
    check_trace_graph(outputs["trace_graph.py"])
