"""Long generated functions: the clean-ups that keep their build linear give the right answer.

Build time itself is measured in `benchmarks/run.py` (item 10), never asserted here.
"""

import ast
import importlib.util
import math
from pathlib import Path
from typing import Any

import adgen
from adgen.codegen.simplify import LARGEST_FOLD
from adgen.frontend.ir import Subexpressions


def _load(tmp_path: Path, source: str) -> Any:
    path = tmp_path / "chain_module.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("chain_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.chain


def _chain_source(n: int) -> str:
    lines = ["import math", "", "", "def chain(x):", "    v0 = x"]
    lines += [f"    v{i} = math.sin(v{i - 1}) * 0.9 + 0.1" for i in range(1, n)]
    return "\n".join([*lines, f"    return v{n - 1}", ""])


def test_a_long_chain_of_single_use_adjoints_stays_in_statements_of_bounded_size(
        tmp_path: Path) -> None:
    n = 400
    chain = _load(tmp_path, _chain_source(n))
    grad = adgen.grad(chain)
    x, expected, values = 0.3, 1.0, [0.3]
    for _ in range(1, n):
        values.append(math.sin(values[-1]) * 0.9 + 0.1)
    for v in values[:-1]:
        expected *= 0.9 * math.cos(v)
    assert math.isclose(grad(x), expected, rel_tol=1e-12)
    tree = ast.parse(adgen.source(grad))
    largest = max(sum(1 for _ in ast.walk(s)) for s in ast.walk(tree)
                  if isinstance(s, (ast.Assign, ast.Return)))
    assert 0.5 * LARGEST_FOLD < largest <= LARGEST_FOLD  # folded, up to the bound


def test_a_short_chain_still_folds_into_one_statement(tmp_path: Path) -> None:
    grad = adgen.grad(_load(tmp_path, _chain_source(4)))
    assert adgen.source(grad).splitlines()[-1].strip() == (
        "return 0.9 * math.cos(math.sin(v1) * 0.9 + 0.1) * 0.9 * math.cos(v1) * 0.9 "
        "* math.cos(x)")


def test_common_subexpressions_forget_what_reads_or_holds_a_name() -> None:
    table = Subexpressions()
    reads_a = ("bin", "Add", ("name", "a"), ("const", float, "1.0"))
    reads_b = ("un", "USub", ("name", "b"))
    call = ("call", 7, ("name", "c"), ("axis", ("name", "a")))  # keywords are not looked into
    table[reads_a], table[reads_b], table[call] = "t1", "a", "t3"
    table.forget("a")
    assert table == {call: "t3"}
    table[reads_a] = "t4"
    table.forget("t4")
    table.forget("c")
    assert table == {}
