"""Golden files for the reverse-mode source of a call of a user function and of recursion.

`tests/golden/calls_caller.py.txt` holds `adgen.source(adgen.grad(caller, wrt=(0, 1)))` for
`golden_calls_functions.caller`, followed by the generated forward/backward pair of its callee
`softplus` (`softplus_fwd`, `softplus_bwd`); `tests/golden/calls_recursive.py.txt` holds the
same for the recursive `power`, whose gradient calls its own `power_fwd` / `power_bwd`;
`tests/golden/calls_loop.py.txt` for `damped_loop`, which calls `damped` in a loop: the
callee's backward function reads only its arguments, so there is no tape: the caller pushes
the one value it overwrites and passes the arguments to `damped_bwd` again. The
callees are found through the bindings of the caller's generated function
(`g.__adgen__.bindings`), which map names such as `softplus_fwd` to the generated functions;
`adgen.source` of a `_fwd` function gives the source of the pair. After a deliberate change to
the output, regenerate the files and review the diff:

    ADGEN_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_calls.py
    git diff tests/golden/

With `ADGEN_UPDATE_GOLDEN=1` the comparison rewrites the files and passes; without it a
missing or different file fails with a unified diff. The generated code quotes source lines of
`golden_calls_functions.py` by number, so editing that file also means regenerating.
"""

import math
import re
from pathlib import Path

import pytest

import adgen
from tests import golden_calls_functions as gcf
from tests import goldens

GOLDEN = Path(__file__).resolve().parent / "golden"
FUNCTIONS = {
    "calls_caller": (gcf.caller, (0, 1)),
    "calls_recursive": (gcf.power, 0),
    "calls_loop": (gcf.damped_loop, (0, 1)),
}
ARGS = {"calls_caller": (0.3, 0.7), "calls_recursive": (1.3, 3), "calls_loop": (0.3, 0.7)}


def _callee_pairs(g):
    """The generated `_fwd` functions that `g` calls, by binding name."""
    bindings = g.__adgen__.bindings
    return {name: fn for name, fn in sorted(bindings.items())
            if re.fullmatch(r"\w+_fwd(_\d+)?", name) and hasattr(fn, "__adgen__")}


def _generated(name):
    f, wrt = FUNCTIONS[name]
    g = adgen.grad(f, wrt=wrt)
    parts = [f"# adgen.source(adgen.grad({f.__name__}, wrt={wrt!r}))\n", adgen.source(g)]
    variant = adgen.source(g, *ARGS[name])
    if variant != adgen.source(g):
        args = ", ".join(map(repr, ARGS[name]))
        parts += [f"\n\n# adgen.source(g, {args}): the variant for these arguments\n", variant]
    for binding, fwd in _callee_pairs(g).items():
        parts += [f"\n# adgen.source({binding}): the callee's forward and backward sweeps\n",
                  adgen.source(fwd)]
    return "".join(parts)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_generated_source_matches_golden_file(name):
    goldens.check(f"{name}.py.txt", _generated(name))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_golden_source_compiles_and_quotes_its_lines(name):
    text = (GOLDEN / f"{name}.py.txt").read_text()
    compile(text, f"{name}.py.txt", "exec")
    source = Path(gcf.__file__).read_text().splitlines()
    quoted = re.findall(r"# (?:adjoint of )?line (\d+): (.*)", text)
    assert quoted
    for number, line in quoted:
        assert source[int(number) - 1].strip() == line


@pytest.mark.parametrize("name", ["calls_caller", "calls_recursive"])
def test_callee_is_called_as_a_forward_backward_pair(name):
    text = (GOLDEN / f"{name}.py.txt").read_text()
    callee = {"calls_caller": "softplus", "calls_recursive": "power"}[name]
    assert f"def {callee}_fwd(" in text and f"def {callee}_bwd(_tape, " in text
    assert f"= {callee}_fwd(" in text and f"= {callee}_bwd(_tape" in text


def test_a_callee_that_reads_only_its_arguments_has_no_tape():
    text = (GOLDEN / "calls_loop.py.txt").read_text()
    assert "_tape" not in text
    assert "def damped_bwd(x, a, " in text and "damped_bwd(x, a, x_bar)" in text
    assert text.count("_stack.append(x)") == 2  # one value a step, in each variant
    assert "_stack.append(a)" not in text  # `a` is never overwritten: never saved


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_golden_source_has_no_absolute_paths(name):
    text = _generated(name)
    assert str(Path(gcf.__file__).resolve().parent) not in text
    assert not re.search(r"['\"](/|[A-Za-z]:\\)", text)


def test_golden_gradients_are_right():
    x, y = 0.4, -1.1
    s = 1.0 / (1.0 + math.exp(-x * y))  # softplus' = logistic
    z = math.log(1.0 + math.exp(x * y))
    dx, dy = adgen.grad(gcf.caller, wrt=(0, 1))(x, y)
    assert dx == pytest.approx(2 * z * s * y, rel=1e-14)
    assert dy == pytest.approx(2 * z * s * x + 1.0 / (1.0 + math.exp(-y)), rel=1e-14)
    for n in (0, 1, 6):
        expected = n * 1.3 ** (n - 1) if n else 0.0
        assert adgen.grad(gcf.power)(1.3, n) == pytest.approx(expected, rel=1e-14)
    x, a = 0.3, 0.8
    dx, da = 1.0, 0.0
    for _ in range(100):
        x, dx, da = (math.sin(x) * 0.9 + a * x, (math.cos(x) * 0.9 + a) * dx,
                     (math.cos(x) * 0.9 + a) * da + x)
    assert adgen.grad(gcf.damped_loop, wrt=(0, 1))(0.3, 0.8) == pytest.approx((dx, da),
                                                                              rel=1e-12)
