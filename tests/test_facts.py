"""Facts per definition (`adgen.derive.facts`): a name rebound to values of other shapes has,
at each read, the fact of the definitions that reach it; at merges, loops and jumps the facts
join, so a variant never assumes a shape one path does not give."""

from __future__ import annotations

import gast
import numpy as np
import pytest

import adgen
from adgen.derive import facts as flow
from adgen.derive.shapes import fact_of
from adgen.derive.structure import structure
from adgen.pipeline import get_trace
from adgen.testing import check_grads


def rebound_to_rows(m, b):
    rows = m * b
    total = np.sum(rows)
    rows = [rows[i] for i in range(rows.shape[0])]
    for r in rows:
        total = total + np.sum(np.tanh(r + b))
    return total


def branch_shapes(x, flag):
    y = x * 2.0
    if flag > 0:
        y = np.sum(x) * 1.0
    return np.sum(np.sin(y) * x)


def break_shapes(x, n):
    y = np.sum(x)
    for i in range(3):
        y = y * x
        if i >= n:
            break
        y = np.sum(y)
    return np.sum(np.cos(y) * x)


def loop_grows_back(x, n):
    y = x
    for _ in range(n):
        y = np.sum(y * y) * 0.5
        y = y * x
    return np.sum(y)


RNG = np.random.default_rng(5)
X3 = RNG.normal(size=3)
CASES = [
    (rebound_to_rows, (RNG.normal(size=(3, 4)), RNG.normal(size=4)), (0, 1)),
    (branch_shapes, (X3, 1.0), 0),
    (branch_shapes, (X3, -1.0), 0),
    (break_shapes, (X3, 0), 0),
    (break_shapes, (X3, 5), 0),
    (loop_grows_back, (X3, 0), 0),
    (loop_grows_back, (X3, 2), 0),
]


@pytest.mark.parametrize(("f", "args", "wrt"), CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_variant_matches_general_and_differences(f, args, wrt):
    check_grads(f, args, wrt=wrt, order=1, modes=("reverse",))
    g = adgen.grad(f, wrt=wrt)
    general, special = g.__adgen__.info["any"](*args), g(*args)
    for a, b in zip(general if isinstance(general, tuple) else (general,),
                    special if isinstance(special, tuple) else (special,), strict=True):
        assert np.shape(a) == np.shape(b)
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


def _facts(f, args):
    trace = get_trace(f)
    body, _ = structure(trace)
    params = {p: fact_of(a) for p, a in zip(trace.params, args, strict=True)}
    return body, flow.infer(body, params)


def test_a_rebound_name_has_each_definition_s_fact():
    body, facts = _facts(rebound_to_rows, (np.ones((3, 4)), np.ones(4)))
    assert "rows" not in facts  # an array, then a list: no one fact
    kinds = set()
    for s in body:
        here = facts.at(s)
        if "rows" in here:
            kinds.add((here["rows"].kind, here["rows"].shape))
    assert ("array", (3, 4)) in kinds and ("list", ()) in kinds
    assert facts["r"].shape == (4,)  # the list's item, through `for r in rows`


def _reads_after_loop(body, var):
    """The top-level steps after the last loop that read `var`."""
    last = max(i for i, s in enumerate(body) if isinstance(s, (gast.For, gast.While)))
    return [s for s in body[last + 1:] if isinstance(s, gast.Assign)
            and var in {n.id for n in gast.walk(s.value) if isinstance(n, gast.Name)}]


def test_branches_join_and_jumps_carry_their_facts_out():
    _, facts = _facts(branch_shapes, (np.ones(3), 1.0))
    assert "y" not in facts  # (3,) on one path, 0-d on the other
    body, facts = _facts(break_shapes, (np.ones(3), 1))
    reads = _reads_after_loop(body, "y")
    assert reads and all("y" not in facts.at(s) for s in reads)  # (3,) by the break, else 0-d
    body, facts = _facts(loop_grows_back, (np.ones(3), 2))
    reads = _reads_after_loop(body, "y")
    assert reads and all(facts.at(s)["y"].shape == (3,) for s in reads)


def test_rebound_rows_variant_has_no_shape_helper():
    text = adgen.source(adgen.grad(rebound_to_rows, wrt=(0, 1)), *CASES[0][1])
    for helper in ("unbroadcast", "expand_to", "add_adjoints", "scalar_output"):
        assert helper not in text, text
