"""Second and third derivatives: Hessians, Hessian-vector products, gradients of gradients.

Every record of `catalog_higher.CASES` (a scalar function of a float or a small float array,
with branches, loops, calls and recursion) is checked these ways:

* `adgen.hessian(f)` against central differences of `adgen.grad(f)`, to ~1e-5 relative, with
  shape `x.shape + x.shape`; and symmetric to 1e-10 (array arguments);
* `adgen.hvp(f)(x, v)` against `hessian(f)(x) @ v` to 1e-10;
* `grad(grad(f))` (float arguments) and `jacobian(grad(f), mode=m)` for every mode against
  the Hessian to 1e-10;
* `adgen.testing.check_grads(f, args, order=2)`;
* `grad(grad(grad(f)))` against the second difference of `grad(f)` for a few functions;
* the catalog's promise that arguments sit away from branch boundaries: the control path
  (`adgen.trace(f, *args)`) is the same at every point within 1e-2 of the arguments.

Then: a function that calls a gradient inside its body (`energy_force`), Jacobians of
array-valued functions in every mode against central differences, and `adgen show --hvp`.

Finite differences are computed here, independently of adgen. A check the engine gets wrong is
a strict xfail whose reason starts with "engine:" and says how it fails (the `ENGINE_XFAIL`
table), so it stays visible and turns into a failure once the engine is fixed.
"""

import ast
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads
from tests.catalog_higher import (
    ARRAY_CASES,
    CASES,
    SCALAR_CASES,
    VECTOR_CASES,
    X3,
    A,
    tanh_of_matmul,
)

# ---------------------------------------------------------------- known engine failures

ENGINE_XFAIL: dict[str, dict[str, str]] = {}  # check -> function -> known engine bug


def cases(check, records):
    """pytest params for `records`, named by function, marked by ENGINE_XFAIL[check]."""
    known = ENGINE_XFAIL.get(check, {})
    params = []
    for f, args in records:
        reason = known.get(f.__name__)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(f, args, marks=marks, id=f.__name__))
    return params


# ---------------------------------------------------------------- finite differences


def step(x):
    return 1e-5 * max(1.0, float(np.max(np.abs(x))))


def shifted(args, delta):
    return (args[0] + delta, *args[1:])


def central_jacobian(fn, args, h):
    """d fn(*args) / d args[0] by central differences, shaped output.shape + x.shape."""
    x = args[0]
    if not isinstance(x, np.ndarray):
        return (np.asarray(fn(*shifted(args, h))) - np.asarray(fn(*shifted(args, -h)))) / (2 * h)
    columns = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = h
        e = e.reshape(x.shape)
        columns.append((np.asarray(fn(*shifted(args, e))) - np.asarray(fn(*shifted(args, -e))))
                       / (2 * h))
    out_shape = np.shape(columns[0])
    return np.stack(columns, axis=-1).reshape(out_shape + x.shape)


def assert_close(got, expected, rel, what):
    """max |got - expected| <= rel * max(|expected|, 1e-3): relative to the largest entry."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    err = float(np.max(np.abs(got - expected))) if got.size else 0.0
    scale = max(float(np.max(np.abs(expected))) if expected.size else 0.0, 1e-3)
    assert err <= rel * scale, f"{what}: max error {err:.3e} > {rel:g} * {scale:.3e}\n" \
                               f"got\n{got}\nexpected\n{expected}"


def direction(x, seed=0):
    rng = np.random.default_rng(seed)
    if isinstance(x, np.ndarray):
        return rng.standard_normal(x.shape)
    return float(rng.standard_normal())


# ---------------------------------------------------------------- the catalog


def test_catalog_size_and_kinds():
    assert len(CASES) >= 24
    assert len(SCALAR_CASES) >= 10 and len(ARRAY_CASES) >= 10
    assert len({f.__name__ for f, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("f, args", cases("path", CASES))
def test_arguments_are_away_from_branch_boundaries(f, args):
    """The same control path at every point within 1e-2: no check here straddles a kink."""
    x = args[0]
    reference = adgen.trace(f, *args)
    deltas = [1e-2, -1e-2]
    if isinstance(x, np.ndarray):
        deltas = [s * 1e-2 * np.eye(x.size)[j].reshape(x.shape)
                  for j in range(x.size) for s in (1, -1)]
        deltas += [1e-2 * direction(x, seed) / np.linalg.norm(direction(x, seed))
                   for seed in range(4)]
    for delta in deltas:
        assert adgen.trace(f, *shifted(args, delta)) == reference, f"path changes at {delta}"


@pytest.mark.parametrize("f, args", cases("hessian", CASES))
def test_hessian_matches_differences_of_the_gradient(f, args):
    x = args[0]
    H = adgen.hessian(f)(*args)
    assert np.shape(H) == np.shape(x) + np.shape(x)
    expected = central_jacobian(adgen.grad(f), args, step(x))
    assert_close(H, expected, 1e-5, "hessian vs central differences of grad")


@pytest.mark.parametrize("f, args", cases("hessian", ARRAY_CASES))
def test_hessian_is_symmetric(f, args):
    H = adgen.hessian(f)(*args)
    n = args[0].size
    M = np.asarray(H).reshape(n, n)
    assert_close(M, M.T, 1e-10, "hessian vs its transpose")


@pytest.mark.parametrize("f, args", cases("hvp", CASES))
def test_hvp_equals_hessian_times_v(f, args):
    x = args[0]
    v = direction(x, seed=1)
    Hv = adgen.hvp(f)(*args, v)
    H = np.asarray(adgen.hessian(f)(*args))
    n = np.size(x)
    expected = (H.reshape(n, n) @ np.reshape(v, n)).reshape(np.shape(x))
    assert_close(Hv, expected, 1e-10, "hvp vs hessian @ v")


@pytest.mark.parametrize("f, args", cases("grad_grad", SCALAR_CASES))
def test_grad_of_grad_equals_hessian(f, args):
    second = adgen.grad(adgen.grad(f))(*args)
    assert np.ndim(second) == 0
    expected = central_jacobian(adgen.grad(f), args, step(args[0]))
    assert_close(second, expected, 1e-5, "grad(grad(f)) vs central differences of grad")
    if ENGINE_XFAIL.get("hessian", {}).get(f.__name__) is None:
        assert_close(second, adgen.hessian(f)(*args), 1e-10, "grad(grad(f)) vs hessian")


JACOBIAN_CASES = [
    pytest.param(*p.values, mode, marks=p.marks, id=f"{p.id}-{mode}")
    for mode in ("forward", "reverse", "auto")
    for p in cases(f"jacobian_{mode}", CASES)
]


@pytest.mark.parametrize("f, args, mode", JACOBIAN_CASES)
def test_jacobian_of_grad_equals_hessian(f, args, mode):
    J = adgen.jacobian(adgen.grad(f), mode=mode)(*args)
    expected = central_jacobian(adgen.grad(f), args, step(args[0]))
    assert_close(J, expected, 1e-5, f"jacobian(grad(f), mode={mode!r}) vs central differences")
    if ENGINE_XFAIL.get("hessian", {}).get(f.__name__) is None:
        assert_close(J, adgen.hessian(f)(*args), 1e-10, f"jacobian(grad, {mode!r}) vs hessian")


@pytest.mark.parametrize("f, args", cases("check_grads", CASES))
def test_check_grads_second_order(f, args):
    check_grads(f, args, order=2)


THIRD = [case for case in SCALAR_CASES if case[0].__name__ in (
    "branch_on_product", "branch_ternary", "early_return", "math_mix", "calls_helpers",
    "loop_overwrite", "recursive_halving")]


@pytest.mark.parametrize("f, args", cases("third_order", THIRD))
def test_third_derivative_matches_differences(f, args):
    """Against the second difference of grad(f): independent of adgen's second derivatives."""
    third = adgen.grad(adgen.grad(adgen.grad(f)))(*args)
    g, x, h = adgen.grad(f), args[0], 1e-3 * max(1.0, abs(args[0]))
    expected = (g(*shifted(args, h)) - 2.0 * g(x, *args[1:]) + g(*shifted(args, -h))) / (h * h)
    assert_close(third, expected, 1e-5, "grad(grad(grad(f))) vs second difference of grad(f)")


def test_third_derivative_closed_form():
    """d^3/dx^3 of x^2 sin(x) = -x^2 cos(x) - 6x sin(x) + 6 cos(x), all three reverse passes."""
    def f(x):
        return x * x * np.sin(x)

    x = 0.8
    expected = -x * x * np.cos(x) - 6 * x * np.sin(x) + 6 * np.cos(x)
    assert adgen.grad(adgen.grad(adgen.grad(f)))(x) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- a gradient inside a function


def pot(x):
    return np.sum(x**4) / 4.0 - np.sum(x * x)


GRAD_POT = adgen.grad(pot)


def energy_force(x):
    return np.sum(adgen.grad(pot)(x) ** 2)


def energy_force_bound(x):
    return np.sum(GRAD_POT(x) ** 2)


X_FORCE = np.array([0.3, -1.2, 0.7])


def force_gradient(x):
    """d/dx sum((x^3 - 2x)^2) = 2 (x^3 - 2x) (3x^2 - 2)."""
    return 2.0 * (x**3 - 2.0 * x) * (3.0 * x**2 - 2.0)


@pytest.mark.parametrize("f", [energy_force, energy_force_bound])
def test_energy_force_runs(f):
    assert f(X_FORCE) == pytest.approx(float(np.sum((X_FORCE**3 - 2 * X_FORCE) ** 2)))



@pytest.mark.parametrize("f, mode", [
    (energy_force, "reverse"),
    (energy_force, "forward"),
    (energy_force_bound, "reverse"),
    (energy_force_bound, "forward"),
])
def test_grad_through_a_gradient_call(f, mode):
    g = adgen.grad(f, mode=mode)(X_FORCE)
    np.testing.assert_allclose(g, force_gradient(X_FORCE), rtol=1e-12)


def test_vjp_of_a_gradient_gives_the_same_numbers():
    """What energy_force needs, composed by hand: H(pot) g with g = grad(pot)(x)."""
    g = GRAD_POT(X_FORCE)
    _, pulled = adgen.vjp(GRAD_POT)(X_FORCE, 2.0 * g)
    np.testing.assert_allclose(pulled, force_gradient(X_FORCE), rtol=1e-12)
    np.testing.assert_allclose(adgen.hvp(pot)(X_FORCE, 2.0 * g), force_gradient(X_FORCE),
                               rtol=1e-12)


# ---------------------------------------------------------------- Jacobians of vector functions


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
@pytest.mark.parametrize("f, args", cases("vector", VECTOR_CASES))
def test_jacobian_of_array_valued_function(f, args, mode):
    x = args[0]
    J = adgen.jacobian(f, mode=mode)(*args)
    assert J.shape == np.shape(f(*args)) + x.shape
    assert_close(J, central_jacobian(f, args, step(x)), 1e-7, f"jacobian mode={mode!r}")


def test_jacobian_of_tanh_matmul_closed_form():
    expected = (1.0 - np.tanh(A @ X3) ** 2)[:, None] * A
    for mode in ("forward", "reverse", "auto"):
        np.testing.assert_allclose(adgen.jacobian(tanh_of_matmul, mode=mode)(X3), expected,
                                   rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- adgen show --hvp

BOOK = """\
import math


def f(x1, x2):
    return x1 * x2 + math.exp(x1 * x2) - math.sin(x2)
"""

TANH = """\
import numpy as np


def f(x):
    y = np.tanh(x)
    return np.sum(y * y * x)
"""

LOOP = """\
import math


def f(x):
    for _ in range(3):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x
"""


def run_show(path, *extra):
    command = [sys.executable, "-m", "adgen", "show", f"{path}:f", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_cli_show_hvp_prints_forward_over_reverse_source(tmp_path):
    path = tmp_path / "tanh_energy.py"
    path.write_text(textwrap.dedent(TANH))
    result = run_show(path, "--hvp")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    tree = ast.parse(text)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments) for a in n.args}
    assert any("_dot" in n for n in names), text
    assert any("_bar" in n for n in names), text
    assert any(n.endswith("_bar_dot") for n in names), text  # tangent of an adjoint
    assert text.rstrip("\n") == adgen.source(adgen.hvp(_load(path, "f"))).rstrip("\n")


def test_cli_show_hvp_wrt_by_name(tmp_path):
    path = tmp_path / "book.py"
    path.write_text(textwrap.dedent(BOOK))
    by_name = run_show(path, "--hvp", "--wrt", "x2")
    by_index = run_show(path, "--hvp", "--wrt", "1")
    assert by_name.returncode == 0, by_name.stderr
    assert by_name.stdout == by_index.stdout
    assert by_name.stdout != run_show(path, "--hvp").stdout
    ast.parse(by_name.stdout)


@pytest.mark.parametrize("extra", [("--mode", "forward"), ("--wrt", "x1,x2"), ("--trace",)])
def test_cli_show_hvp_rejects_other_choices(tmp_path, extra):
    path = tmp_path / "book.py"
    path.write_text(textwrap.dedent(BOOK))
    result = run_show(path, "--hvp", *extra)
    assert result.returncode == 2
    assert result.stderr.startswith("adgen: error: ") and "--hvp" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_cli_show_hvp_of_a_loop(tmp_path):
    path = tmp_path / "loop.py"
    path.write_text(textwrap.dedent(LOOP))
    result = run_show(path, "--hvp")
    assert result.returncode == 0, result.stderr
    ast.parse(result.stdout)
    assert "_bar_dot" in result.stdout


def _load(path, name):
    from adgen.frontend.loader import load_function

    return load_function(str(path), name, allow_import=False)


# ---------------------------------------------------------------- minimal repros of engine bugs


def repro_loop(x):
    for _ in range(3):
        x = np.sin(x)
    return x


def repro_decay(x):
    y = 1.0
    for _ in range(3):
        y = y - x * y
    return y


def repro_power(x):
    y = x
    for _ in range(3):
        y = y * x
    return y


def repro_helper(u):
    return u * u


def repro_calls(x):
    return repro_helper(x) * x


def repro_square_twice(x):
    y = x * x
    return y * y


def repro_twice(x, n):
    if n == 0:
        return np.exp(x)
    return np.sin(repro_twice(x, n - 1)) + x * repro_twice(x, n - 1)


PAIR = (1.0, 2.0)


def repro_tuple_loop(x):
    acc = 0.0
    for c in PAIR:
        acc = acc * x + c
    return acc


def test_hessian_of_a_loop():
    """Was 'no derivative rule for ndarray.pop' before 6862ddd."""
    g = adgen.grad(repro_loop)
    expected = (g(0.5 + 1e-5) - g(0.5 - 1e-5)) / 2e-5
    assert adgen.hessian(repro_loop)(0.5) == pytest.approx(expected, rel=1e-6)
    assert adgen.grad(adgen.grad(repro_loop))(0.5) == pytest.approx(expected, rel=1e-6)


def test_repro_grad_of_grad_of_a_loop_that_reads_its_carry():
    assert adgen.hessian(repro_decay)(0.5) == pytest.approx(3.0)  # (1 - x)^3: 6 (1 - x)
    assert adgen.grad(adgen.grad(repro_decay))(0.5) == pytest.approx(3.0)


def test_repro_third_derivative_of_a_loop():
    assert adgen.grad(adgen.grad(adgen.grad(repro_power)))(0.5) == pytest.approx(12.0)  # x^4: 24x


def test_grad_of_grad_through_a_callee():
    """Was wrong (2.0) before e09ae7a: reverse over reverse through a user callee."""
    assert adgen.hessian(repro_calls)(0.5) == pytest.approx(3.0)  # x^3: 6x
    assert adgen.grad(adgen.grad(repro_calls))(0.5) == pytest.approx(3.0)


def test_repro_reverse_jacobian_of_a_gradient_that_accumulates():
    assert adgen.hessian(repro_square_twice)(0.5) == pytest.approx(3.0)  # x^4: 12 x^2
    jacobian = adgen.jacobian(adgen.grad(repro_square_twice), mode="reverse")
    assert jacobian(0.5) == pytest.approx(3.0)


def test_repro_hessian_of_a_function_calling_itself_twice():
    g = adgen.grad(repro_twice)
    expected = (g(0.3 + 1e-5, 2) - g(0.3 - 1e-5, 2)) / 2e-5
    assert adgen.hessian(repro_twice)(0.3, 2) == pytest.approx(expected, rel=1e-6)


def test_grad_of_a_loop_over_a_module_level_tuple():
    assert adgen.grad(repro_tuple_loop)(0.5) == pytest.approx(1.0)  # x + 2
    assert adgen.grad(repro_tuple_loop, mode="forward")(0.5) == pytest.approx(1.0)


def test_repro_trace_of_a_loop_over_a_module_level_tuple():
    assert "acc * x" in adgen.trace(repro_tuple_loop, 0.5)


def sine_times_square(x, y):
    return np.sin(x) * x * x + np.sum(y * y) * x


def twice_the_forward_gradient(x, y):
    return FORWARD_GRAD(x, y) * 2.0


FORWARD_GRAD = adgen.grad(sine_times_square, mode="forward")


def test_a_forward_mode_gradient_is_differentiated_again():
    """`grad(grad(f, mode="forward"))` was a TypeError (the gradient was read as one tangent
    pass, which takes `x_dot` too); it is differentiated as the reverse-mode gradient, which
    computes the same values, also when a differentiated function calls it."""
    x, y = 0.7, np.array([1.0, 2.0])
    second = (2.0 - x * x) * np.sin(x) + 4.0 * x * np.cos(x)
    g = adgen.grad(sine_times_square, mode="forward")
    assert adgen.grad(g)(x, y) == pytest.approx(second, rel=1e-12)
    assert adgen.grad(g, mode="forward")(x, y) == pytest.approx(second, rel=1e-12)
    assert adgen.grad(g, wrt=1)(x, y) == pytest.approx(2.0 * y, rel=1e-12)
    gy = adgen.grad(sine_times_square, wrt=1, mode="forward")
    assert adgen.jacobian(gy, wrt=1, mode="reverse")(x, y) == pytest.approx(2 * x * np.eye(2))
    assert adgen.grad(twice_the_forward_gradient)(x, y) == pytest.approx(2.0 * second)
    check_grads(g, (x, y), wrt=0, rtol=1e-6)
