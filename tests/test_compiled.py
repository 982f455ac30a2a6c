"""`compile="numba"`: derivatives compiled with Numba agree with the uncompiled ones.

The control-flow catalog is run compiled, one record per function (compiling every record
would take minutes): the compiled reverse gradient equals the uncompiled one to 1e-12, and no
function compiles silently wrong. `NOT_COMPILED` lists the functions whose derivative Numba
cannot type today, with the reason; they must warn (a `CompileWarning` naming the statement
and the user's line) and still give the uncompiled numbers. The rest of the file checks the
operators one by one against central differences, the user's own callees, NumPy arrays in
float64 and float32, `grad(numba.njit(f))`, and the error without Numba.

Every derivative here is compiled once per process; what `adgen.numba_cache` writes for
Numba's on-disk cache goes to a temporary directory (`tests/test_compiled_stacks.py` checks
the cache itself).
"""

import math
import sys
import types
import warnings

import numpy as np
import pytest

import adgen
from adgen import compiled, pipeline
from adgen.errors import CompileWarning
from tests.catalog_control import CASES

numba = pytest.importorskip("numba")


@pytest.fixture(autouse=True, scope="module")
def _cache_directory(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ADGEN_CACHE_DIR", str(tmp_path_factory.mktemp("numba_cache")))
        yield

NOT_COMPILED: dict[str, str] = {}  # every catalog function compiles today


def _first_records():
    seen, out = set(), []
    for case in CASES:
        f, args = case.values if hasattr(case, "values") else case
        if f.__name__ not in seen:
            seen.add(f.__name__)
            out.append(pytest.param(f, args, id=f.__name__))
    return out


def _differentiable(args):
    return tuple(i for i, a in enumerate(args)
                 if isinstance(a, float) or isinstance(a, np.ndarray) and a.dtype.kind == "f")


def _compiled_entries(fn):
    """What each argument signature `fn` met runs: "compiled" (a Numba dispatcher, or the
    entry point of its compiled code) or "function" (the uncompiled Python function)."""
    return ["function" if isinstance(e, types.FunctionType) else "compiled"
            for e in fn.entries.values()]


def _entries_of_grad(f, wrt):
    """`_compiled_entries` of `grad(f, wrt, compile="numba")`, also when that returns the
    wrapper that shapes gradients like their arguments."""
    return _compiled_entries(compiled.compiled(pipeline.derivative(f, wrt, "grad")))


@pytest.mark.parametrize(("f", "args"), _first_records())
def test_catalog_compiled_agrees_with_uncompiled(f, args):
    wrt = _differentiable(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CompileWarning)
        got = adgen.grad(f, wrt=wrt, compile="numba")(*args)
    expected = adgen.grad(f, wrt=wrt)(*args)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
    messages = [str(w.message) for w in caught if w.category is CompileWarning]
    if f.__name__ in NOT_COMPILED:
        assert len(messages) == 1 and "Numba cannot compile `" in messages[0], messages
        assert "line " in messages[0]
        assert _entries_of_grad(f, wrt) == ["function"]
    else:
        assert messages == []
        assert _entries_of_grad(f, wrt) == ["compiled"]


def _central(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def sin_loop(x):
    for _ in range(1000):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x


def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def test_reverse_gradients_compiled_match_central_differences():
    for f, x in ((sin_loop, 0.7), (newton_sqrt, 2.0), (newton_sqrt, 17.0)):
        g = adgen.grad(f, compile="numba")
        assert math.isclose(g(x), _central(f, x), rel_tol=1e-6, abs_tol=1e-9)
        assert _compiled_entries(g) == ["compiled"]
        assert g(x) == adgen.grad(f)(x)  # the same statements, the same rounding
    assert math.isclose(adgen.grad(newton_sqrt, compile="numba")(2.0), 0.5 / math.sqrt(2.0),
                        rel_tol=1e-12)


def _shrink(x):
    return math.sin(x) * x


def _step(x, a):
    return _shrink(x) * 0.9 + a * x


def with_callees(x, y):
    for _ in range(10):
        x = _step(x, 0.1) * y
    return x


def test_every_operator_compiles_and_agrees():
    args = (0.3, 0.9)
    for op, extra in ((adgen.grad, ()), (adgen.value_and_grad, ()), (adgen.vjp, (1.0,)),
                      (adgen.jvp, (1.0,))):
        fn = op(with_callees, compile="numba")
        got, expected = fn(*args, *extra), op(with_callees)(*args, *extra)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
        assert _compiled_entries(fn) == ["compiled"], op.__name__
    numeric = (with_callees(0.3 + 1e-6, 0.9) - with_callees(0.3 - 1e-6, 0.9)) / 2e-6
    assert math.isclose(adgen.grad(with_callees, compile="numba")(*args), numeric,
                        rel_tol=1e-6)
    forward = adgen.grad(with_callees, mode="forward", compile="numba")
    assert math.isclose(forward(*args), adgen.grad(with_callees, mode="forward")(*args),
                        rel_tol=1e-12)


def test_hvp_compiles_for_a_loop_and_agrees():
    hvp = adgen.hvp(sin_loop, compile="numba")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        got = hvp(0.7, 1.0)
    assert _compiled_entries(hvp) == ["compiled"]
    numeric = _central(adgen.grad(sin_loop), 0.7)
    assert math.isclose(got, adgen.hvp(sin_loop)(0.7, 1.0), rel_tol=1e-12)
    assert math.isclose(got, numeric, rel_tol=1e-5)


def test_hvp_through_a_callee_tape_warns_and_runs_uncompiled():
    hvp = adgen.hvp(with_callees, compile="numba")
    with pytest.warns(CompileWarning,
                      match=r"Numba cannot compile .*line \d+ of .*test_compiled.py: .*unify"):
        got = hvp(0.3, 0.9, 1.0)
    assert got == adgen.hvp(with_callees)(0.3, 0.9, 1.0)


def fibonacci(n):
    if n < 2:
        return n
    return fibonacci(n - 1) + fibonacci(n - 2)


def halved(n):
    table = {"n": n}
    return table["n"] // 2


def fibonacci_steps(x, k):
    for _ in range(fibonacci(k) + halved(k)):
        x = math.sin(x) + 0.5 * x
    return x


def test_the_users_primal_callees_compile_recursion_too():
    g = adgen.grad(fibonacci_steps, compile="numba")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        got = g(0.4, 6)
    assert _compiled_entries(g) == ["compiled"]
    assert got == adgen.grad(fibonacci_steps)(0.4, 6)
    numeric = (fibonacci_steps(0.4 + 1e-6, 6) - fibonacci_steps(0.4 - 1e-6, 6)) / 2e-6
    assert math.isclose(got, numeric, rel_tol=1e-6)


def tanh_loss(w, x):
    s = 0.0
    for i in range(x.shape[0]):
        s += math.tanh(w[i] * x[i]) ** 2
    return s


def exp_sum(x):
    return np.sum(np.exp(x) * x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_arrays_compile(dtype):
    w = np.linspace(0.1, 1.0, 5).astype(dtype)
    x = np.linspace(1.0, 2.0, 5).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        got = adgen.grad(tanh_loss, compile="numba")(w, x)
        summed = adgen.grad(exp_sum, compile="numba")(x)
    expected = adgen.grad(tanh_loss)(w, x)
    assert got.dtype == expected.dtype == dtype
    # NumPy keeps float32 scalars in float32 against Python floats; Numba computes those in
    # float64: the two agree to float32 precision
    rtol = 1e-12 if dtype is np.float64 else 2e-6
    np.testing.assert_allclose(got, expected, rtol=rtol)
    np.testing.assert_allclose(summed, adgen.grad(exp_sum)(x), rtol=rtol)
    numeric = [(tanh_loss(w + e, x) - tanh_loss(w - e, x)) / 2e-6
               for e in np.eye(5) * 1e-6]
    if dtype is np.float64:
        np.testing.assert_allclose(got, numeric, rtol=1e-6)


def tanh_sum(x, y):
    return np.sum(np.tanh(x * y) * x)


def test_forward_and_reverse_over_arrays_compile():
    x, y, v = np.linspace(0.0, 1.0, 4), np.linspace(1.0, 2.0, 4), np.array([1.0, -2.0, 0.5, 3.0])
    jvp, vjp = adgen.jvp(tanh_sum, compile="numba"), adgen.vjp(tanh_sum, compile="numba")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        value, tangent = jvp(x, y, v)
        _, gradient = vjp(x, y, 1.0)
    assert _compiled_entries(jvp) == _compiled_entries(vjp) == ["compiled"]
    expected = adgen.jvp(tanh_sum)(x, y, v)
    np.testing.assert_allclose((value, tangent), expected, rtol=1e-12)
    np.testing.assert_allclose(gradient, adgen.vjp(tanh_sum)(x, y, 1.0)[1], rtol=1e-12)
    assert math.isclose(tangent, gradient @ v, rel_tol=1e-12)  # forward against reverse
    numeric = (tanh_sum(x + 1e-6 * v, y) - tanh_sum(x - 1e-6 * v, y)) / 2e-6
    assert math.isclose(tangent, numeric, rel_tol=1e-6)


def test_an_argument_compiled_code_does_not_take_warns():
    g = adgen.grad(exp_sum, compile="numba")
    with pytest.warns(CompileWarning, match="argument 1 is a list"):
        got = g([1.0, 2.0])
    np.testing.assert_allclose(got, [math.e * 2, math.exp(2.0) * 3])


def factorial_power(x, n):
    if n == 0:
        return 1.0
    return x * factorial_power(x, n - 1)


def test_what_numba_cannot_compile_warns_with_the_users_line_and_runs():
    g = adgen.grad(factorial_power, compile="numba")
    with pytest.warns(CompileWarning) as caught:
        got = g(1.3, 4)
    message = str(caught[0].message)
    assert "factorial_power_grad runs uncompiled" in message
    assert "Numba cannot compile `_t3, _tape1 = factorial_power_fwd" in message
    code = factorial_power.__code__
    assert f"(from line {code.co_firstlineno + 3} of {code.co_filename}: " \
           "return x * factorial_power(x, n - 1))" in message
    assert caught[0].filename == __file__  # the warning points at the call
    assert math.isclose(got, 4 * 1.3 ** 3, rel_tol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)  # warned once per signature
        assert g(1.3, 4) == got


def test_a_numba_dispatcher_is_differentiated_through_its_python_function():
    jitted = numba.njit(newton_sqrt)
    assert math.isclose(adgen.grad(jitted)(2.0), 0.5 / math.sqrt(2.0), rel_tol=1e-12)
    assert adgen.grad(jitted, compile="numba")(2.0) == adgen.grad(newton_sqrt)(2.0)
    assert adgen.jvp(jitted)(2.0, 1.0) == adgen.jvp(newton_sqrt)(2.0, 1.0)


def test_same_derivative_compiles_once():
    assert adgen.grad(sin_loop, compile="numba") is adgen.grad(sin_loop, compile="numba")


def test_unknown_backend_and_unroll_are_refused():
    with pytest.raises(ValueError, match="compile must be None or 'numba'"):
        adgen.grad(sin_loop, compile="jax")
    with pytest.raises(ValueError, match="control='stack'"):
        adgen.grad(sin_loop, control="unroll", compile="numba")


def test_without_numba_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` raises ImportError
    with pytest.raises(ImportError, match=r"pip install adgen\[numba\]"):
        adgen.grad(sin_loop, compile="numba")
    assert adgen.grad(sin_loop)(0.7) == adgen.grad(sin_loop)(0.7)


def square_when_positive(x):
    if x > 0.0:
        return x * x


def test_a_path_returning_none_is_refused_by_compiled_code_too():
    g = adgen.grad(square_when_positive, compile="numba")
    assert g(2.0) == 4.0
    assert _compiled_entries(g) == ["compiled"]
    with pytest.raises(adgen.DifferentiationError, match="returned None"):
        g(-1.0)


def writes_through_an_index_array(x, idx):
    y = np.zeros(4)
    y[idx] = x * np.arange(1.0, len(idx) + 1.0)
    return np.sum(y * y)


def reads_a_tuple_argument(t):
    a, b = t
    return a * b + math.sin(a)


def test_what_compiles_of_element_writes_and_tuple_adjoints_and_what_does_not():
    # an integer-array index that names position 1 twice: only the last write counts; the
    # compiled `written` covers integers and slices only, so this one runs uncompiled
    args = (0.7, np.array([1, 2, 1]))
    with pytest.warns(CompileWarning, match="written"):
        got = adgen.grad(writes_through_an_index_array, compile="numba")(*args)
    assert got == adgen.grad(writes_through_an_index_array)(*args)
    assert math.isclose(got, 2 * 0.7 * (2 * 2 + 3 * 3), rel_tol=1e-12)
    # the adjoint of a tuple argument is handed out as a tuple: not compiled (an array would
    # be compiled code's form of it), the same numbers
    with pytest.warns(CompileWarning, match="add_at"):
        got = adgen.grad(reads_a_tuple_argument, compile="numba")((0.3, 0.4))
    assert type(got) is tuple
    assert got == adgen.grad(reads_a_tuple_argument)((0.3, 0.4))
