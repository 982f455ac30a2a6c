"""Golden files for the generated reverse-mode source of a loop, a `while` and a branch.

`tests/golden/control_*.py.txt` hold `adgen.source(adgen.grad(f))` for the functions of
`tests/golden_functions.py`, then the variant specialised to float arguments, so that any
change in the generated code shows up in review.
After a deliberate change to the output, regenerate the files and review the diff:

    ADGEN_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_control.py
    git diff tests/golden/

With `ADGEN_UPDATE_GOLDEN=1` the comparison tests rewrite the files and pass; without it a
missing or different file fails with a unified diff. The generated code quotes source lines of
`golden_functions.py`, so editing that file also means regenerating.
"""

import math
import re
from pathlib import Path

import pytest

import adgen
from tests import golden_functions, goldens

GOLDEN = Path(__file__).resolve().parent / "golden"
FUNCTIONS = {
    "control_loop": golden_functions.sin_loop,
    "control_while": golden_functions.newton_sqrt,
    "control_branch": golden_functions.branch,
}


ARGS = {"control_loop": (0.5,), "control_while": (2.0,), "control_branch": (0.3, 0.7)}


def _generated(name):
    """The general gradient, then the variant float arguments run."""
    g = adgen.grad(FUNCTIONS[name])
    args = ", ".join(map(repr, ARGS[name]))
    return (adgen.source(g) + f"\n\n# adgen.source(g, {args}): the variant for floats\n"
            + adgen.source(g, *ARGS[name]))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_generated_source_matches_golden_file(name):
    goldens.check(f"{name}.py.txt", _generated(name))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_golden_source_compiles_and_quotes_its_lines(name):
    text = (GOLDEN / f"{name}.py.txt").read_text()
    compile(text, f"{name}.py.txt", "exec")
    source = Path(golden_functions.__file__).read_text().splitlines()
    quoted = re.findall(r"# (?:adjoint of )?line (\d+): (.*)", text)
    assert quoted
    for number, line in quoted:
        assert source[int(number) - 1].strip() == line


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_golden_source_has_no_absolute_paths(name):
    text = _generated(name)
    assert str(Path(golden_functions.__file__).resolve().parent) not in text
    assert not re.search(r"['\"](/|[A-Za-z]:\\)", text)


def test_golden_gradients_are_right():
    x = 0.3
    expected = 1.0
    for _ in range(1000):
        expected *= 0.9 * math.cos(x) + 0.1
        x = math.sin(x) * 0.9 + 0.1 * x
    assert adgen.grad(golden_functions.sin_loop)(0.3) == pytest.approx(expected, rel=1e-12)
    for a in (0.3, 2.0, 17.0):
        assert adgen.grad(golden_functions.newton_sqrt)(a) == pytest.approx(0.5 / math.sqrt(a))
    branch = adgen.grad(golden_functions.branch, wrt=(0, 1))
    assert branch(1.0, 0.5) == pytest.approx((0.5, 1.0), rel=1e-15)
    assert branch(0.2, 0.7) == pytest.approx((math.exp(0.2), -1.0), rel=1e-15)
