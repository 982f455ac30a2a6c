"""Gradients through control flow: the catalog, and what stack replay promises.

Every record of `catalog_control.CASES` is checked three ways: the reverse-mode gradient equals
the forward-mode gradient to 1e-10 relative, both match central differences, and
`adgen.testing.check_grads` (jvp, vjp, the dot-product test) agrees. The generic code path
(taken for arguments that are not plain floats, here NumPy scalars) must give the same numbers.
A separate test checks the catalog itself: across its records every `if`, `elif` and `while`
test goes both ways.

The specific tests pin the properties DESIGN.md ("Control flow in reverse mode") asks of the
generated code: one saved value per loop iteration and none for straight-line code or branches;
a stack local to each call, so one gradient function can run in many threads; loops of a
million iterations without recursion, and long `elif` chains; byte-identical source across
calls, threads and processes; and the loop forms adgen refuses (`while ... else` with
`continue`, `enumerate` with a start) reported as a SyntaxError at the user's line.
"""

import ast
import concurrent.futures
import dis
import importlib
import inspect
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import adgen
from tests import catalog_control, golden_functions
from tests.catalog_control import CASES

try:
    from adgen.testing import check_grads
except ImportError:  # the checker is optional: the local checks below do not need it
    check_grads = None

TESTS = Path(__file__).resolve().parent


# ---------------------------------------------------------------- the catalog


def _record(case):
    """`(f, args, marks)` of a catalog record, plain or `pytest.param`."""
    if hasattr(case, "marks"):  # a pytest.param (itself a named tuple)
        f, args = case.values
        return f, args, case.marks
    return case[0], case[1], ()


def _params():
    counts = {}
    params = []
    for case in CASES:
        f, args, marks = _record(case)
        k = counts[f.__name__] = counts.get(f.__name__, 0) + 1
        params.append(pytest.param(f, args, marks=marks, id=f"{f.__name__}-{k}"))
    return params


def _differentiable(args):
    """Positions of the float and float-array arguments: the ones to differentiate."""
    return tuple(i for i, a in enumerate(args)
                 if isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f"))


def _central(f, args, i, eps=1e-6):
    """Central difference of scalar `f` with respect to argument `i`, entry by entry."""
    a = args[i]
    grad = np.zeros(np.shape(a))
    for k in range(max(1, np.size(a))):
        step = np.zeros(np.shape(a))
        step.flat[k] = eps
        plus, minus = list(args), list(args)
        plus[i] = a + (step if np.ndim(a) else eps)
        minus[i] = a - (step if np.ndim(a) else eps)
        grad.flat[k] = (f(*plus) - f(*minus)) / (2 * eps)
    return grad if np.ndim(a) else float(grad)


def _scale(*values):
    return max(1.0, *(float(np.max(np.abs(v))) for v in values))


def _assert_gradients_right(f, args, wrt, reverse, forward):
    """Reverse equals forward to 1e-10 relative; both match central differences (~1e-6)."""
    assert len(reverse) == len(forward) == len(wrt)
    for i, rev, fwd in zip(wrt, reverse, forward, strict=True):
        assert np.shape(rev) == np.shape(args[i]) == np.shape(fwd)
        np.testing.assert_allclose(rev, fwd, rtol=1e-10, atol=1e-12 * _scale(fwd),
                                   err_msg=f"reverse vs forward, argument {i}")
        numeric = _central(f, args, i)
        allowed = 1e-7 * _scale(numeric, f(*args))
        np.testing.assert_allclose(rev, numeric, rtol=1e-6, atol=allowed,
                                   err_msg=f"reverse vs central differences, argument {i}")
        np.testing.assert_allclose(fwd, numeric, rtol=1e-6, atol=allowed,
                                   err_msg=f"forward vs central differences, argument {i}")


@pytest.mark.parametrize(("f", "args"), _params())
def test_reverse_forward_and_central_differences_agree(f, args):
    wrt = _differentiable(args)
    reverse = adgen.grad(f, wrt=wrt)(*args)
    forward = adgen.grad(f, wrt=wrt, mode="forward")(*args)
    _assert_gradients_right(f, args, wrt, reverse, forward)


@pytest.mark.parametrize(("relative_error", "in_forward_too"), [(1e-8, False), (1e-4, True)])
def test_local_checker_catches_a_wrong_gradient(relative_error, in_forward_too):
    f, args = catalog_control.euler_oscillator, (np.array([1.0, 0.0]), 2.0)
    wrt = _differentiable(args)
    reverse = adgen.grad(f, wrt=wrt)(*args)
    forward = adgen.grad(f, wrt=wrt, mode="forward")(*args)
    _assert_gradients_right(f, args, wrt, reverse, forward)
    wrong = (reverse[0], reverse[1] * (1 + relative_error))
    with pytest.raises(AssertionError):
        _assert_gradients_right(f, args, wrt, wrong, wrong if in_forward_too else forward)


@pytest.mark.skipif(check_grads is None, reason="adgen.testing.check_grads is not available")
@pytest.mark.parametrize(("f", "args"), _params())
def test_check_grads(f, args):
    check_grads(f, args, wrt=_differentiable(args), modes=("forward", "reverse"))


@pytest.mark.parametrize(("f", "args"), _params())
def test_generic_path_matches_forward_mode(f, args):
    wrt = _differentiable(args)
    numpy_scalars = tuple(np.float64(a) if isinstance(a, float) else a for a in args)
    generic = adgen.grad(f, wrt=wrt)(*numpy_scalars)
    forward = adgen.grad(f, wrt=wrt, mode="forward")(*args)
    for rev, fwd in zip(generic, forward, strict=True):
        np.testing.assert_allclose(rev, fwd, rtol=1e-10, atol=1e-12 * _scale(fwd))


def _functions():
    functions = {}
    for case in CASES:
        f, _, _ = _record(case)
        functions.setdefault(f.__name__, f)
    return functions


def test_catalog_is_large_and_names_are_unique():
    functions = _functions()
    assert len(functions) >= 45
    assert len({id(f) for f in functions.values()}) == len(functions)
    for name, f in functions.items():
        assert f.__module__ == catalog_control.__name__ and f.__qualname__ == name
        assert getattr(catalog_control, name) is f


def test_catalog_has_several_cases_per_function():
    cases = {}
    for case in CASES:
        f, args, _ = _record(case)
        assert f.__code__.co_argcount == len(args), f.__name__
        assert _differentiable(args), f"{f.__name__} has nothing to differentiate"
        cases.setdefault(f.__name__, []).append(args)
    assert sum(len(v) for v in cases.values()) >= 2 * len(cases)
    assert all(len(v) >= 2 for v in cases.values()), [k for k, v in cases.items() if len(v) < 2]


def _branch_lines(f):
    """Lines of the `if`, `elif` and `while` statements of `f` whose test is not constant."""
    source, first = inspect.getsourcelines(f)
    tree = ast.parse("".join(source).strip("\n") + "\n")
    return {node.lineno + first - 1 for node in ast.walk(tree)
            if isinstance(node, ast.If | ast.While) and not isinstance(node.test, ast.Constant)}


def _successors(f, records):
    """For each line of `f`, the set of lines that ran right after it, over all records."""
    after = {}
    previous = None

    def tracer(frame, event, arg):
        nonlocal previous
        if frame.f_code is not f.__code__:
            return None
        if event == "line":
            if previous is not None:
                after.setdefault(previous, set()).add(frame.f_lineno)
            previous = frame.f_lineno
        elif event == "return":
            after.setdefault(previous, set()).add("return")
        return tracer

    for args in records:
        previous = None
        sys.settrace(tracer)
        try:
            f(*args)
        finally:
            sys.settrace(None)
    return after


def _one_sided(f, arg_tuples):
    """Lines of `f` that never ran, and `if`/`elif`/`while` tests that always went one way."""
    after = _successors(f, arg_tuples)
    body = {line for _, line in dis.findlinestarts(f.__code__)} - {f.__code__.co_firstlineno}
    return ([("line never ran", line) for line in sorted(body - set(after))]
            + [("one-sided test", line) for line in sorted(_branch_lines(f))
               if len(after.get(line, ())) < 2])


def test_catalog_takes_both_sides_of_every_branch():
    records = {}
    for case in CASES:
        f, args, _ = _record(case)
        records.setdefault(f, []).append(args)
    assert not [(f.__name__, *found) for f, arg_tuples in records.items()
                for found in _one_sided(f, arg_tuples)]


def clipped(x):
    if x > 0.0:
        x = x * 2.0
    while x > 5.0:
        x = x - 1.0
    return x


def test_branch_check_catches_one_sided_records():
    first = clipped.__code__.co_firstlineno
    assert _one_sided(clipped, [(1.0,), (-1.0,), (3.0,)]) == []
    assert _one_sided(clipped, [(1.0,), (3.0,)]) == [("one-sided test", first + 1)]
    assert _one_sided(clipped, [(-1.0,)]) == [("line never ran", first + 2),
                                             ("line never ran", first + 4),
                                             ("one-sided test", first + 1),
                                             ("one-sided test", first + 3)]


# ---------------------------------------------------------------- what the stack records


def sin_loop(x, n):
    for _ in range(n):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x


def straight_line(x, y):
    a = x * y
    b = math.sin(a) + x
    c = b * b - math.exp(y)
    return c * a


def branch_only(x, y):
    if x > y:
        z = x * math.cos(y)
    else:
        z = y - math.log(x)
    return z * x


def _function_defs(source):
    return {node.name: node for node in ast.parse(source).body
            if isinstance(node, ast.FunctionDef)}


def _calls(node, method):
    return sum(1 for n in ast.walk(node) if isinstance(n, ast.Call)
               and isinstance(n.func, ast.Attribute) and n.func.attr == method)


def _top_level_loops(fn):
    return [s for s in fn.body if isinstance(s, ast.For | ast.While)]


def _sin_loop_sweeps(*args):
    """The generated function (the variant for `args`, else the general one) and its two
    top-level loops."""
    g = adgen.grad(sin_loop)
    fn = _function_defs(adgen.source(g, *args))[g.__name__]
    loops = _top_level_loops(fn)
    assert len(loops) == 2, ast.unparse(fn)
    return fn, loops


def _assert_one_value_per_iteration(fn, loops):
    forward, reverse = loops
    assert (_calls(forward, "append"), _calls(forward, "pop")) == (1, 0), ast.unparse(forward)
    assert (_calls(reverse, "append"), _calls(reverse, "pop")) == (0, 1), ast.unparse(reverse)
    assert _calls(fn, "append") == 1 and _calls(fn, "pop") == 1
    first = fn.body[0] if not isinstance(fn.body[0], ast.If) else fn.body[1]
    assert ast.unparse(first) == "_stack = []", "the stack must be local to each call"


def test_loop_saves_one_value_per_iteration():
    _assert_one_value_per_iteration(*_sin_loop_sweeps(0.5, 10))


def test_generic_loop_saves_one_value_per_iteration():
    _assert_one_value_per_iteration(*_sin_loop_sweeps())


@pytest.mark.parametrize("n", [0, 1, 10, 1000])
@pytest.mark.parametrize("scalar", [float, np.float64])
def test_loop_gradient_is_product_of_step_derivatives(n, scalar):
    x = 0.3
    expected = 1.0
    for _ in range(n):
        expected *= 0.9 * math.cos(x) + 0.1
        x = math.sin(x) * 0.9 + 0.1 * x
    got = adgen.grad(sin_loop)(scalar(0.3), n)
    assert np.shape(got) == () and np.asarray(got).dtype == np.float64
    assert got == pytest.approx(expected, rel=1e-12)
    assert adgen.grad(sin_loop, mode="forward")(0.3, n) == pytest.approx(expected, rel=1e-12)


def _self_copies(source):
    """Statements `a = a` in generated source: they do nothing."""
    return [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Assign)
            and isinstance(n.value, ast.Name) and len(n.targets) == 1
            and isinstance(n.targets[0], ast.Name) and n.targets[0].id == n.value.id]


def test_generated_code_has_no_self_copies():
    seen = 0
    for case in CASES:
        f, args = case[0], case[1]
        wrt = _differentiable(args)
        if not wrt:
            continue
        for mode in ("reverse", "forward"):
            source = adgen.source(adgen.grad(f, wrt=wrt, mode=mode))
            assert not _self_copies(source), f"{f.__name__} ({mode}):\n{source}"
            seen += 1
    assert seen > 100
    assert _self_copies("x = 1\nx = x\n")  # the check itself sees one


@pytest.mark.parametrize("f", [straight_line, branch_only])
def test_no_stack_without_loops(f):
    g = adgen.grad(f, wrt=(0, 1))
    assert "_stack" not in adgen.source(g)
    assert ".append(" not in adgen.source(g)
    args = (1.3, 0.4) if f is branch_only else (0.7, 0.2)
    for i, got in enumerate(g(*args)):
        assert got == pytest.approx(_central(f, args, i), rel=1e-7)


def test_branches_get_both_gradients():
    g = adgen.grad(branch_only, wrt=(0, 1))
    x, y = 1.3, 0.4
    assert g(x, y) == pytest.approx((2 * x * math.cos(y), -x * x * math.sin(y)), rel=1e-14)
    x, y = 0.4, 1.3
    assert g(x, y) == pytest.approx((y - math.log(x) - 1.0, x), rel=1e-14)


# ---------------------------------------------------------------- threads


def test_one_gradient_function_in_eight_threads():
    f = catalog_control.for_data_dependent_branch_inside
    g = adgen.grad(f)
    inputs = [(0.3 + 0.35 * k, 2 + k) for k in range(8)]
    serial = [g(*args) for args in inputs]
    assert len(set(serial)) == len(serial)
    start = threading.Barrier(len(inputs))

    def work(args):
        start.wait()
        return [g(*args) for _ in range(200)]

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(inputs)) as pool:
        results = list(pool.map(work, inputs))
    for expected, got in zip(serial, results, strict=True):
        assert got == [expected] * 200


def branch_and_loop_for_threads(x, n):
    s = x
    for i in range(n):
        if s > 1.0:
            s = math.log(s) + x * i
        else:
            s = s * s + 0.5 * x
    return s


def test_generating_in_eight_threads_gives_one_source():
    start = threading.Barrier(8)

    def work(_):
        start.wait()
        g = adgen.grad(branch_and_loop_for_threads)
        return adgen.source(g), g(0.8, 7)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))
    assert len({source for source, _ in results}) == 1
    expected = adgen.grad(branch_and_loop_for_threads, mode="forward")(0.8, 7)
    assert all(value == pytest.approx(expected, rel=1e-12) for _, value in results)


# ---------------------------------------------------------------- scale


def long_for(x, n):
    for _ in range(n):
        x = x * 0.999999 + 1e-7 * math.sin(x)
    return x


def long_while(x, n):
    i = 0
    while i < n:
        x = x * 0.999999 + 1e-7 * math.cos(x)
        i += 1
    return x


@pytest.mark.parametrize(("f", "step", "step_derivative"), ids=["for", "while"], argvalues=[
    (long_for, lambda x: x * 0.999999 + 1e-7 * math.sin(x),
     lambda x: 0.999999 + 1e-7 * math.cos(x)),
    (long_while, lambda x: x * 0.999999 + 1e-7 * math.cos(x),
     lambda x: 0.999999 - 1e-7 * math.sin(x)),
])
def test_million_iterations_in_reverse_mode(f, step, step_derivative):
    n = 1_000_000
    reverse = adgen.grad(f)(0.5, n)
    forward = adgen.grad(f, mode="forward")(0.5, n)
    assert reverse == pytest.approx(forward, rel=1e-10)
    x, expected = 0.5, 1.0
    for _ in range(n):
        expected *= step_derivative(x)
        x = step(x)
    assert reverse == pytest.approx(expected, rel=1e-9)


def _elif_chain_module(directory, n):
    lines = ["import math", "", "", "def chain(x, k):", "    if k == 0:", "        y = x"]
    for i in range(1, n):
        lines += [f"    elif k == {i}:", f"        y = x * {i}.0 + math.sin(x)"]
    lines += ["    else:", "        y = -x", "    return y", ""]
    (directory / f"elif_chain_{n}.py").write_text("\n".join(lines))
    return importlib.import_module(f"elif_chain_{n}")


@pytest.mark.parametrize("n", [50, 90])
def test_long_elif_chain(tmp_path, monkeypatch, n):
    monkeypatch.syspath_prepend(str(tmp_path))
    chain = _elif_chain_module(tmp_path, n).chain
    k = n - 3
    for mode in ("reverse", "forward"):
        assert adgen.grad(chain, mode=mode)(0.5, k) == pytest.approx(k + math.cos(0.5))


def test_too_deep_elif_chain_is_refused_clearly(tmp_path, monkeypatch):
    """Each `elif` test is computed inside the previous `else`, so 150 branches nest 150 blocks
    deep: more than Python compiles. adgen says so instead of failing inside `compile`."""
    monkeypatch.syspath_prepend(str(tmp_path))
    chain = _elif_chain_module(tmp_path, 150).chain
    with pytest.raises(adgen.DifferentiationError, match="nests too deeply"):
        adgen.grad(chain)


# ---------------------------------------------------------------- determinism


_PRINT_SOURCES = """
import sys
sys.path.insert(0, {root!r})
import adgen
from tests import catalog_control, golden_functions
for f in (golden_functions.sin_loop, golden_functions.newton_sqrt, golden_functions.branch,
          catalog_control.for_break_and_continue, catalog_control.while_true_break):
    sys.stdout.write(adgen.source(adgen.grad(f)) + "\\f")
"""


def _sources_here():
    functions = (golden_functions.sin_loop, golden_functions.newton_sqrt, golden_functions.branch,
                 catalog_control.for_break_and_continue, catalog_control.while_true_break)
    return "".join(adgen.source(adgen.grad(f)) + "\f" for f in functions)


def test_source_is_identical_across_calls():
    first = adgen.source(adgen.grad(catalog_control.for_nested_triangular))
    second = adgen.source(adgen.grad(catalog_control.for_nested_triangular))
    assert first == second
    assert _sources_here() == _sources_here()


@pytest.mark.parametrize("hash_seed", ["1", "2"])
def test_source_is_identical_in_a_fresh_process(hash_seed):
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    run = subprocess.run([sys.executable, "-c", _PRINT_SOURCES.format(root=str(TESTS.parent))],
                         capture_output=True, text=True, env=env, timeout=60, check=True)
    assert run.stdout == _sources_here()


# ---------------------------------------------------------------- refused syntax


def while_else_with_continue(x):
    i = 0
    while i < 4:
        i = i + 1
        if i == 2:
            continue
        x = x * 1.1
    else:
        x = x * 2.0
    return x


def _line(f, prefix):
    """The one line number of `f` whose text starts (after indentation) with `prefix`."""
    source, first = inspect.getsourcelines(f)
    (line,) = [first + k for k, text in enumerate(source) if text.strip().startswith(prefix)]
    return line


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize(("f", "construct", "at"), [
    (while_else_with_continue, "`while ... else` with `continue`", "while i < 4:"),
])
def test_unsupported_loop_is_refused_at_its_line(f, construct, at, mode):
    with pytest.raises(adgen.UnsupportedSyntax) as info:
        adgen.grad(f, mode=mode)
    error = info.value
    assert isinstance(error, SyntaxError)
    assert construct in error.msg
    assert (error.filename, error.lineno) == (__file__, _line(f, at))
    assert error.text.strip() == at


def saved_after_a_branch(x, c):
    z = x
    if c:
        y = np.sin(x)
        z = y * y
    y = x * 3.0  # overwrites a `y` that only one path assigned: its save must not fail
    return z * y


@pytest.mark.parametrize("c", [False, True])
def test_a_value_saved_where_one_path_left_it_unassigned(c):
    x = 0.5
    expected = 3 * np.sin(x) ** 2 + 6 * x * np.sin(x) * np.cos(x) if c else 6 * x
    assert adgen.grad(saved_after_a_branch)(x, c) == pytest.approx(expected, rel=1e-13)
    assert adgen.grad(saved_after_a_branch, mode="forward")(x, c) == pytest.approx(
        expected, rel=1e-13)


def rows_built_in_a_loop(m):
    rows = []
    for row in [[m, 2.0 * m], [m.T, m * m]]:
        rows.append(np.concatenate([np.sin(item) for item in row], axis=-1))
    return np.concatenate(rows, axis=-2)


def test_a_reverse_jacobian_pulls_a_list_rebuilt_in_a_loop_many_times():
    m = np.array([[1.5, 0.2], [0.1, 1.2]])  # each pull restores (and pops) the inner list
    forward = adgen.jacobian(rows_built_in_a_loop, mode="forward")(m)
    assert adgen.jacobian(rows_built_in_a_loop, mode="reverse")(m) == pytest.approx(
        forward, rel=1e-13)
