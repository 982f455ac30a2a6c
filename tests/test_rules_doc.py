"""`docs/rules.md` stays true: its list of covered functions matches the registry, and its
worked example (a user's rule for `np.trapezoid`) gives correct derivatives.

The list is checked in a fresh interpreter (`python -m adgen.rules.listing --check`), so rules
that other tests register for their own functions do not change what it sees. The example is
copied from the doc into a module file (adgen reads templates from their source) and checked
with `check_grads` to second order; its derivative is also compared with the closed form.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import adgen
from adgen.rules import listing
from adgen.testing import check_grads

DOC = Path(__file__).resolve().parents[1] / "docs" / "rules.md"


def _listing(*args):
    """Run the listing in a fresh interpreter; its exit status."""
    return subprocess.run([sys.executable, "-m", "adgen.rules.listing", *map(str, args)],
                          capture_output=True, text=True, check=False)


def test_covered_functions_list_is_current():
    run = _listing("--check", DOC)
    assert run.returncode == 0, run.stderr


def test_the_list_names_the_rules_of_this_issue():
    text = DOC.read_text()
    for name in ("numpy.diag", "ndarray.diagonal", "numpy.pad", "numpy.cumprod",
                 "numpy.interp", "numpy.add.reduce", "numpy.maximum.accumulate",
                 "numpy.multiply.outer", "numpy.meshgrid"):
        assert f"| `{name}` | yes | yes | yes |" in text


def test_check_finds_a_stale_list(tmp_path):
    stale = tmp_path / "rules.md"
    stale.write_text(DOC.read_text().replace("| `numpy.diag` | yes | yes | yes |\n", ""))
    run = _listing("--check", stale)
    assert run.returncode == 1 and "out of date" in run.stderr
    assert _listing(stale).returncode == 0  # regenerated
    assert stale.read_text() == DOC.read_text()
    assert listing.main([]) == 2  # usage


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    text = DOC.read_text()
    block = re.search(r"<!-- BEGIN example -->\n```python\n(.*?)```", text, re.S).group(1)
    path = tmp_path_factory.mktemp("doc") / "trapezoid_rule_example.py"
    path.write_text(block)
    spec = importlib.util.spec_from_file_location("trapezoid_rule_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


U = np.array([0.3, -0.2, 1.1, 0.7])
T = np.array([0.0, 0.5, 1.5, 2.0])


def test_the_worked_example_is_right(example):
    check_grads(example.energy, (U, T), wrt=0, order=2)
    steps = np.diff(T)
    w = np.zeros(4)
    w[:-1] += steps / 2.0
    w[1:] += steps / 2.0
    w_half = np.array([0.25, 0.5, 0.5, 0.25])  # trapezoid weights of dx = 0.5
    # d/du_k of sum_i u_i sum_j w_j u_j = sum_j w_j u_j + w_k sum_i u_i
    want = w * 2.0 * np.sin(U) * np.cos(U) + w_half @ U + w_half * np.sum(U)
    got = adgen.grad(example.energy)(U, T)
    np.testing.assert_allclose(got, want, rtol=1e-12)
