"""Python forms of issue 17 (call forms 3-6): builtins that build or reorder sequences,
`with` statements, `try` statements, keyword-only parameters, `*args` and `**kwargs`.
Each derivative is checked against central differences in both modes, forward against
reverse, and at second order where that is cheap."""

from __future__ import annotations

import numpy as np
import pytest

import adgen
from adgen.errors import DifferentiationError
from adgen.testing import check_grads

X = np.array([0.3, -1.2, 0.7, 1.9])

# ---------------------------------------------------------------------- builtins


def square(v):
    return v * v


def by_sorted(x):
    return sum(v * w for v, w in zip(sorted(x), [1.0, 2.0, 3.0, 4.0], strict=True))


def by_sorted_key(x):
    ys = sorted(x, key=abs, reverse=True)
    return ys[0] * 2.0 + ys[1] * ys[3]


def by_sorted_user_key(x):
    ys = sorted([x[0] * 2.0, x[1], x[2] ** 2], key=square)
    return ys[0] + 3.0 * ys[2]


def by_list(x):
    ys = list(x)
    return ys[0] * ys[1] + ys[-1]


def by_tuple(x):
    t = tuple(x * 2.0)
    return t[0] * t[2] + t[3] ** 2


def by_dict_keywords(x):
    d = dict(a=x[0], b=x[1] * x[2])
    return d["a"] * d["b"]


def by_dict_pairs(x):
    d = dict([("a", x[0]), ("b", x[1])], c=x[3])
    return d["a"] * d["b"] + d["c"] ** 2


def by_dict_zip(x):
    d = dict(zip(["a", "b", "c"], [x[0], x[1] ** 2, x[2]], strict=True))
    return d["a"] * d["b"] - d["c"]


def by_dict_copy(x):
    base = {"u": x[0], "v": x[1]}
    d = dict(base)
    return d["u"] * d["v"] + base["u"] * 3.0


def by_reversed_value(x):
    r = list(reversed(x))
    return r[0] * 3.0 + r[1] * r[3]


def by_reversed_enumerate(x):
    s = 0.0
    for i, v in enumerate(reversed(x)):
        s = s + (i + 1) * v * v
    return s


def by_sum_start(x):
    return sum([x[0], x[1] * x[2]], 1.5) * x[3]


def by_enumerate_start(x):
    s = 0.0
    for i, v in enumerate(x, start=2):
        s = s + i * np.sin(v)
    for j, v in enumerate(x, 1):
        s = s + j * v
    return s


def by_zip3(x):
    s = 0.0
    for a, b, c in zip(x, x[::-1], [1.0, 2.0, 3.0, 4.0], strict=True):
        s = s + a * b * c
    return s


def by_max_key(x):
    return max(x, key=abs) * 2.0 + min(x[0], x[1] * 2.0, x[2], key=square) ** 2


def by_zip_as_a_value(x):
    z = list(zip(x, x * 2.0, x ** 2, strict=True))
    return z[1][0] * z[2][2] + z[0][1]


def by_enumerate_as_a_value(x):
    e = list(enumerate(x, 1))
    return e[1][0] * e[1][1] + e[2][1] ** 2


def by_max_row(x):
    m = np.reshape(x, (2, 2))
    return np.sum(max(m, key=np.sum) ** 2)


def by_sorted_tail(x):
    return sum(sorted(x * x)[-2:], 0.5)


def by_tuple_of_reversed(x):
    t = tuple(reversed(sorted(x, reverse=True)))
    return t[0] * 3.0 + t[-1]


BUILTINS = [by_sorted, by_sorted_key, by_sorted_user_key, by_list, by_tuple,
            by_dict_keywords, by_dict_pairs, by_dict_zip, by_dict_copy, by_reversed_value,
            by_reversed_enumerate, by_sum_start, by_enumerate_start, by_zip3, by_max_key,
            by_zip_as_a_value, by_enumerate_as_a_value, by_max_row, by_sorted_tail,
            by_tuple_of_reversed]


@pytest.mark.parametrize("f", BUILTINS, ids=[f.__name__ for f in BUILTINS])
def test_builtins(f):
    check_grads(f, (X,), order=2)
    assert adgen.grad(f, mode="forward")(X) == pytest.approx(adgen.grad(f)(X), rel=1e-12,
                                                               abs=1e-12)


def test_a_copy_by_dict_is_written_without_touching_the_original():
    def f(x):
        base = {"u": x[0], "v": x[1]}
        d = dict(base)
        d["u"] = d["u"] * 3.0
        return d["u"] * d["v"] + base["u"]

    check_grads(f, (X,))
    assert adgen.grad(f)(X) == pytest.approx([3.0 * X[1] + 1.0, 3.0 * X[0], 0.0, 0.0])


def test_sorted_and_max_pick_what_python_picks():
    y = np.array([2.0, -3.0, 1.0, 3.0])
    # sorted by abs, reverse: -3.0 and 3.0 tie and keep their order, so ys = [y1, y3, y0, y2]
    # and the value is 2 y1 + y3 y2; max by abs takes the first of the tie
    assert adgen.grad(by_sorted_key)(y) == pytest.approx([0.0, 2.0, 3.0, 1.0])
    g = adgen.grad(lambda_free_max)(y)
    assert g == pytest.approx([0.0, 1.0, 0.0, 0.0])


def lambda_free_max(x):
    return max(x, key=abs)


def test_a_lambda_key_is_called():
    def f(x):
        return sorted(x, key=lambda v: -v)[0]

    np.testing.assert_allclose(adgen.grad(f)(X), np.eye(len(X))[int(np.argmax(X))])


def test_dict_of_a_list_of_pairs_by_name_is_refused_at_run_time():
    def f(x):
        pairs = [("a", x[0])]
        d = dict(pairs)
        return d["a"]

    with pytest.raises(DifferentiationError, match="dict"):
        adgen.grad(f)(X)


# ---------------------------------------------------------------------- einsum, any operands

A = np.array([[0.3, -0.5], [0.9, 1.3]])
B = np.array([[0.2, -0.7, 0.4], [1.1, 0.5, -0.3]])
C = np.array([0.4, -0.6, 0.8])
D = np.array([[0.5, 0.1], [-0.2, 0.7], [0.3, 0.3]])


def einsum_sublist_three(a, b, c):
    return np.sum(np.einsum(a, [0, 1], b, [1, 2], c, [2], [0]) ** 2)


def einsum_sublist_five(a, b, c, d):
    return np.sum(np.einsum(a, [0, 1], b, [1, 2], d, [2, 3], a, [3, 4], b, [4, 5], [0, 5]))


def einsum_sublist_five_implicit(a, b, d):
    return np.sum(np.einsum(a, [0, 1], b, [1, 2], d, [2, 3], a, [3, 4], a, [4, 0]) ** 2)


def einsum_string_six(a, b, c, d):
    return np.einsum("ij,jk,k,kl,lm,mi->", a, b, c, d, a, a)


def einsum_ellipsis_five(a, b, d):
    return np.sum(np.einsum("...j,jk,kl,lm,m->...", a, b, d, a, a[0]) ** 2)


EINSUMS = [(einsum_sublist_three, (A, B, C)), (einsum_sublist_five, (A, B, C, D)),
           (einsum_sublist_five_implicit, (A, B, D)), (einsum_string_six, (A, B, C, D)),
           (einsum_ellipsis_five, (A, B, D))]


@pytest.mark.parametrize("f, args", EINSUMS, ids=[f.__name__ for f, _ in EINSUMS])
def test_einsum_of_any_number_of_operands(f, args):
    check_grads(f, args, order=2)
    wrt = tuple(range(len(args)))
    forward = adgen.grad(f, wrt=wrt, mode="forward")(*args)
    for a, b in zip(forward, adgen.grad(f, wrt=wrt)(*args), strict=True):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12)


def test_einsum_chain_computes_what_numpy_computes():
    value = einsum_sublist_five(A, B, C, D)
    assert value == pytest.approx(np.sum(A @ B @ D @ A @ B))
    assert adgen.value_and_grad(einsum_string_six)(A, B, C, D)[0] == pytest.approx(
        np.einsum("ij,jk,k,kl,lm,mi->", A, B, C, D, A, A))


# ---------------------------------------------------------------------- with statements

import contextlib  # noqa: E402
import math  # noqa: E402
import warnings  # noqa: E402


class Counting:
    """A context manager that counts how often it is entered and exited."""

    entered = 0
    exited = 0

    def __init__(self, label="counting"):
        self.label = label

    def __enter__(self):
        Counting.entered += 1
        return self

    def __exit__(self, *exc):
        Counting.exited += 1
        return False


def with_errstate(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.sum(np.sin(x) / x)
    return y * 2.0


def with_warnings_in_a_loop(x):
    s = 0.0
    for i in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = s + np.sum(np.exp(x * i) * x)
    return s


def with_as_and_nested(x):
    with Counting("outer") as c, np.errstate(over="ignore"):
        k = len(c.label) * 0.5
        y = np.sum(x ** 3) * k
    return y


def with_a_return_inside(x):
    for i in range(3):
        with np.errstate(all="ignore"):
            if x[i] > 1.0:
                return np.sum(x[:i] ** 2)
    return np.sum(x)


WITHS = [with_errstate, with_warnings_in_a_loop, with_as_and_nested, with_a_return_inside]


@pytest.mark.parametrize("f", WITHS, ids=[f.__name__ for f in WITHS])
def test_with_statements(f):
    check_grads(f, (X,), order=2)
    assert adgen.grad(f, mode="forward")(X) == pytest.approx(adgen.grad(f)(X), rel=1e-12)


def counted(x):
    with Counting():
        y = np.sum(np.tanh(x))
    return y


def test_the_manager_runs_around_both_sweeps():
    before = Counting.entered
    adgen.grad(counted)(X)
    assert Counting.entered - before == 2 and Counting.exited == Counting.entered
    before = Counting.entered
    adgen.jvp(counted)(X, X)
    assert Counting.entered - before == 1
    text = adgen.source(adgen.grad(counted))
    withs = [line for line in text.splitlines()  # (wrapped: it might suppress exceptions)
             if line.strip().startswith("with no_suppression(Counting(),")]
    assert len(withs) == 2 * text.count("def counted_grad")
    assert adgen.grad(counted, control="unroll")(X) == pytest.approx(1 - np.tanh(X) ** 2)


def errstate_raise(x):
    with np.errstate(divide="raise"):
        y = np.sum(1.0 / x)
    return y


def test_an_error_the_manager_raises_propagates_as_in_the_primal():
    with pytest.raises(FloatingPointError):
        errstate_raise(np.array([1.0, 0.0]))
    with pytest.raises(FloatingPointError):
        adgen.grad(errstate_raise)(np.array([1.0, 0.0]))
    assert adgen.grad(errstate_raise)(np.array([2.0, 4.0])) == pytest.approx([-0.25, -1 / 16])


def scaled(x):
    return Counting(str(x))


def with_an_active_manager(x):
    with scaled(x):
        y = np.sum(x ** 2)
    return y


def with_as_differentiated(x):
    with Counting() as c:
        y = x * c.entered
        z = y * c
    return z


def test_a_manager_of_a_differentiated_value_is_refused():
    for mode in ("reverse", "forward"):
        with pytest.raises(DifferentiationError, match="`with` manager uses `x`"):
            adgen.grad(with_an_active_manager, mode=mode)(X)


def test_differentiating_through_what_as_binds_is_refused():
    with pytest.raises(DifferentiationError, match="differentiates through `c`"):
        adgen.grad(with_as_differentiated)(2.0)


# ---------------------------------------------------------------------- try statements


SPD = np.array([[2.0, 0.5], [0.5, 1.0]])
NOT_PD = np.array([[-2.0, 0.5], [0.5, 1.5]])


def cholesky_or_scaled(a):
    try:
        L = np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        L = a * 2.0
    return np.sum(L ** 2) + a[0, 1]


def returns_in_both(a):
    try:
        return np.sum(np.linalg.cholesky(a) ** 3)
    except np.linalg.LinAlgError:
        return np.sum(a ** 2)


def several_handlers_else_finally(a):
    total = a[0, 0]
    try:
        L = np.linalg.cholesky(a)
    except (KeyError, ValueError):
        L = a * 3.0
    except np.linalg.LinAlgError as err:
        L = a * len(str(err)) * 0.1
    else:
        L = L * L
    finally:
        total = total + 1.0
    return np.sum(L) * total


def handler_in_a_loop(x):
    s = 0.0
    for i in range(len(x)):
        try:
            v = math.sqrt(x[i] * 3.0 - 0.5)
        except ValueError:
            v = x[i] ** 2
        s = s + v * x[i]
    return s


def try_finally_in_a_loop(x):
    s = 0.0
    for v in x:
        try:
            s = s + v * v
        finally:
            s = s * 0.5
    return s


TRIES = [(cholesky_or_scaled, SPD), (cholesky_or_scaled, NOT_PD), (returns_in_both, SPD),
         (returns_in_both, NOT_PD), (several_handlers_else_finally, SPD),
         (several_handlers_else_finally, NOT_PD), (handler_in_a_loop, X),
         (handler_in_a_loop, np.array([0.9, 0.1, 1.2, 0.05])), (try_finally_in_a_loop, X)]


@pytest.mark.parametrize("f, x", TRIES, ids=[f"{f.__name__}-{i}" for i, (f, _) in
                                              enumerate(TRIES)])
def test_try_statements(f, x):
    check_grads(f, (x,), order=2)
    assert adgen.grad(f, mode="forward")(x) == pytest.approx(adgen.grad(f)(x), rel=1e-12)


def test_the_path_the_primal_took_is_replayed():
    expected = 2 * 2.0 * NOT_PD * 2.0 + np.array([[0.0, 1.0], [0.0, 0.0]])
    assert adgen.grad(cholesky_or_scaled)(NOT_PD) == pytest.approx(expected)
    assert adgen.grad(handler_in_a_loop)(np.array([0.1, 1.0])) == pytest.approx(
        [3 * 0.1 ** 2, math.sqrt(2.5) + 1.5 / math.sqrt(2.5)])


def test_a_callee_with_a_try_is_differentiated_with_its_own_path():
    def caller(x):
        return handler_in_a_loop(x * 2.0) + handler_in_a_loop(x)

    y = np.array([0.1, 0.6, 0.2])
    check_grads(caller, (y,), order=2)


def not_caught(a):
    try:
        L = np.linalg.cholesky(a)
    except KeyError:
        L = a
    return np.sum(L)


def test_an_exception_no_handler_catches_propagates():
    with pytest.raises(np.linalg.LinAlgError):
        adgen.grad(not_caught)(NOT_PD)
    with pytest.raises(np.linalg.LinAlgError):
        adgen.grad(not_caught, mode="forward")(NOT_PD)
    assert adgen.grad(not_caught)(SPD) == pytest.approx(
        adgen.grad(not_caught, mode="forward")(SPD), rel=1e-12)


def raises_after_progress(x):
    try:
        y = x * 2.0
        z = math.log(y)
    except ValueError:
        z = x
    return z


def test_an_exception_after_the_body_changed_values_replays_what_ran():
    assert adgen.grad(raises_after_progress)(2.0) == pytest.approx(0.5)
    assert adgen.grad(raises_after_progress)(-2.0) == pytest.approx(1.0)
    assert adgen.grad(raises_after_progress, mode="forward")(-2.0) == pytest.approx(1.0)


def raises_in_a_loop(x):
    s = x
    try:
        for v in (1.0, -1.0):
            s = s * 2.0
            s = math.log(s * v)
    except ValueError:
        s = s + x
    return s


def test_an_exception_inside_a_loop_of_the_body_is_refused_in_reverse_mode():
    assert adgen.grad(raises_in_a_loop, mode="forward")(2.0) == pytest.approx(
        1.0 / 2.0 * 2.0 + 1.0)  # s = log(2x) * 2, then log(-s) raises: s + x
    with pytest.raises(DifferentiationError, match="inside a loop"):
        adgen.grad(raises_in_a_loop)(2.0)


def test_generated_source_has_the_try():
    text = adgen.source(adgen.grad(cholesky_or_scaled))
    assert "try:" in text and "except np.linalg.LinAlgError:" in text


# ---------------------------------------------------------------------- signatures

from adgen.testing import numerical_jacobian  # noqa: E402

A1 = np.array([1.0, 2.0, -0.5, 0.3])
B1 = np.array([0.5, -1.0, 0.2, 0.8])


def star_and_keywords(x, *args, scale=1.5, **options):
    s = np.sum(np.sin(x) * x) * scale
    for a in args:
        s = s + np.sum(a * x ** 2)
    for k in options:
        s = s + options[k] ** 2 * np.sum(x)
    return s


def keyword_only(x, *, scale=2.0, shift):
    return np.sum(np.tanh(x * scale + shift))


def both(*args, **kw):
    return np.sum(args[0] * args[1] ** 2) + kw["c"] * np.sum(args[0])


def test_a_keyword_only_parameter_is_differentiated_by_name():
    g = adgen.grad(keyword_only, wrt="scale")(X, shift=0.3, scale=1.2)
    expected = numerical_jacobian(lambda s: keyword_only(X, scale=s, shift=0.3), (1.2,), 0)
    assert g == pytest.approx(expected, rel=1e-6)
    assert adgen.grad(keyword_only, wrt="scale", mode="forward")(X, shift=0.3, scale=1.2) == \
        pytest.approx(g, rel=1e-12)
    dx, dshift = adgen.grad(keyword_only, wrt=("x", "shift"))(X, shift=0.3)
    assert dx == pytest.approx(numerical_jacobian(
        lambda x: keyword_only(x, shift=0.3), (X,), 0), rel=1e-6)
    assert dshift == pytest.approx(np.sum(1 - np.tanh(X * 2.0 + 0.3) ** 2), rel=1e-12)
    h = adgen.hessian(keyword_only, wrt="shift")(X, shift=0.3)
    assert h == pytest.approx(numerical_jacobian(
        lambda s: adgen.grad(keyword_only, wrt="shift")(X, shift=s), (0.3,), 0), rel=1e-6)


def test_star_args_and_kwargs_entries():
    call = (X, A1, B1)
    options = {"scale": 2.0, "u": 3.0}
    for mode in ("reverse", "forward"):
        gx = adgen.grad(star_and_keywords, mode=mode)(*call, **options)
        assert gx == pytest.approx(numerical_jacobian(
            lambda x: star_and_keywords(x, A1, B1, **options), (X,), 0), rel=1e-6)
        ga = adgen.grad(star_and_keywords, wrt="args", mode=mode)(*call, **options)
        assert isinstance(ga, tuple) and len(ga) == 2
        assert ga[0] == pytest.approx(X ** 2) and ga[1] == pytest.approx(X ** 2)
        gk = adgen.grad(star_and_keywords, wrt="options", mode=mode)(*call, **options)
        assert gk == {"u": pytest.approx(2 * 3.0 * np.sum(X))}
        gs = adgen.grad(star_and_keywords, wrt=2, mode=mode)(*call, **options)  # `scale`
        assert gs == pytest.approx(np.sum(np.sin(X) * X))
    assert adgen.grad(star_and_keywords)(X) == pytest.approx(
        1.5 * (np.cos(X) * X + np.sin(X)))


def test_jvp_vjp_hessian_and_hvp_take_the_functions_convention():
    options = {"scale": 2.0, "u": 3.0}
    value, tangent = adgen.jvp(star_and_keywords)(X, A1, B1, B1, **options)
    assert value == pytest.approx(star_and_keywords(X, A1, B1, **options))
    grad = adgen.grad(star_and_keywords)(X, A1, B1, **options)
    assert tangent == pytest.approx(grad @ B1, rel=1e-12)
    value, cotangent = adgen.vjp(star_and_keywords)(X, A1, B1, 2.0, **options)
    assert cotangent == pytest.approx(2.0 * grad, rel=1e-12)
    hessian = adgen.hessian(star_and_keywords)(X, A1, **options)
    expected = numerical_jacobian(
        lambda x: adgen.grad(star_and_keywords)(x, A1, **options), (X,), 0)
    assert hessian == pytest.approx(expected, rel=1e-6, abs=1e-8)
    assert adgen.hvp(star_and_keywords)(X, A1, B1, **options) == pytest.approx(
        hessian @ B1, rel=1e-10)
    second = adgen.grad(adgen.grad(star_and_keywords, wrt="scale"), wrt="x")
    assert second(X, A1, scale=2.0) == pytest.approx(np.cos(X) * X + np.sin(X), rel=1e-12)
    with pytest.raises(TypeError):
        adgen.grad(keyword_only)(X)  # `shift` is required, as Python says


def positional_only(x, /, y):
    return x * x * y


def test_the_signatures_that_were_refused_before():
    assert adgen.grad(positional_only)(2.0, 3.0) == pytest.approx(12.0)
    assert adgen.grad(positional_only, wrt="y")(2.0, y=3.0) == pytest.approx(4.0)
    assert adgen.grad(both)(A1, B1, c=1.0) == (pytest.approx(B1 ** 2 + 1.0),
                                                 pytest.approx(2 * A1 * B1))
    assert adgen.grad(keyword_only)(X, shift=0.0) == pytest.approx(
        2.0 * (1 - np.tanh(2.0 * X) ** 2))


def test_only_star_parameters():
    ga = adgen.grad(both, wrt="args")(A1, B1, c=0.5)
    assert ga[0] == pytest.approx(B1 ** 2 + 0.5) and ga[1] == pytest.approx(2 * A1 * B1)
    assert adgen.grad(both, wrt="kw")(A1, B1, c=0.5) == {"c": pytest.approx(np.sum(A1))}


def helper_with_keywords(x, *, k=2.0, **opts):
    return x * k + opts.get("b", 0.0)


def sum_of_squares(*xs):
    return sum(np.sum(v ** 2) for v in xs)


def calls_helpers(x):
    parts = [x, x * 2.0]
    return (np.sum(helper_with_keywords(x, k=3.0, b=x[0]) ** 2)
            + np.sum(helper_with_keywords(x)) + sum_of_squares(*parts)
            + sum_of_squares(x, x[0] ** 3))


def test_calls_of_helpers_with_such_signatures():
    check_grads(calls_helpers, (X,), order=2)
    text = adgen.source(adgen.grad(calls_helpers))
    assert "helper_with_keywords" in text


def test_a_bad_call_of_such_a_helper_is_refused_at_its_line():
    def f(x):
        return helper_with_keywords(x, 1.0, 2.0)

    with pytest.raises(SyntaxError, match="more arguments than it takes"):
        adgen.grad(f)(X)


def test_hessp_refuses_such_a_function_with_advice():
    with pytest.raises(DifferentiationError, match="adgen.hvp"):
        adgen.hessp(star_and_keywords)


# ---------------------------------------------------------------------- forms together


def logged(x):
    with np.errstate(all="ignore"):
        y = np.sum(np.log(x) * x)
    return y


def calls_a_callee_with_a_with(x):
    s = 0.0
    for i in range(2):
        s = s + logged(x * (i + 1.0))
    return s


def break_inside_a_with(x):
    s = 0.0
    for i in range(4):
        with np.errstate(all="ignore"):
            s = s + x[i] ** 2
            if s > 1.0:
                break
    return s


def continue_in_a_handler(x):
    s = 0.0
    for i in range(4):
        try:
            v = math.sqrt(x[i])
        except ValueError:
            continue
        s = s + v * x[i]
    return s


def nested_tries(x):
    try:
        try:
            v = math.log(x[0])
        except ValueError:
            v = math.log(-x[0])
        w = v * x[1]
    except ZeroDivisionError:
        w = x[1]
    return w


MIXED = np.array([-0.9, 0.3, 0.5, -1.2])
TOGETHER = [(calls_a_callee_with_a_with, X ** 2), (break_inside_a_with, X),
            (continue_in_a_handler, MIXED), (nested_tries, MIXED), (nested_tries, X ** 2)]


@pytest.mark.parametrize("f, x", TOGETHER, ids=[f"{f.__name__}-{i}" for i, (f, _) in
                                                 enumerate(TOGETHER)])
def test_forms_together(f, x):
    check_grads(f, (x,), order=2)


def diagonal_or_inverse(x):
    with np.errstate(over="ignore"):
        y = np.exp(x) * x
    try:
        z = np.linalg.inv(np.diag(y))
    except np.linalg.LinAlgError:
        z = np.diag(y)
    return z @ x


def test_jacobians_of_array_outputs():
    y = X ** 2
    check_grads(diagonal_or_inverse, (y,))
    assert adgen.jacobian(diagonal_or_inverse, mode="forward")(y) == pytest.approx(
        adgen.jacobian(diagonal_or_inverse, mode="reverse")(y), rel=1e-12, abs=1e-14)


def reraises(x):
    try:
        v = math.log(x)
    except ValueError:
        raise
    return v


def test_a_handler_that_raises_again_raises_from_the_derivative():
    with pytest.raises(ValueError, match="math domain error"):
        adgen.grad(reraises)(-1.0)
    assert adgen.grad(reraises)(2.0) == pytest.approx(0.5)


def test_trace_of_such_functions():
    with pytest.raises(DifferentiationError, match="does not unroll"):
        adgen.trace(continue_in_a_handler, MIXED)
    assert "if _ok1:" in adgen.trace(continue_in_a_handler)  # the trace: the marked `if`
    text = adgen.trace(star_and_keywords, X, A1, B1)
    assert "raise PathChanged" in text


def suppressing(x):
    y = x * 2.0
    with contextlib.suppress(ValueError):
        y = math.log(x) * y
    return y


def test_an_exception_a_manager_suppresses_is_refused_in_reverse_mode():
    assert adgen.grad(suppressing)(2.0) == pytest.approx(2.0 / 2.0 * 2.0 + math.log(2.0) * 2.0)
    assert adgen.grad(suppressing, mode="forward")(-2.0) == pytest.approx(2.0)
    with pytest.raises(DifferentiationError, match="suppressed ValueError"):
        adgen.grad(suppressing)(-2.0)
    assert "no_suppression(contextlib.suppress(ValueError)" in adgen.source(
        adgen.grad(suppressing))
    assert "no_suppression" not in adgen.source(adgen.grad(with_errstate))


def model_with_options(w, *, scale=1.0, shift, **extra):
    s = np.sum(np.tanh(w * scale + shift))
    for k in extra:
        s = s + extra[k] * np.sum(w)
    return s


def forwards_its_options(w, **opts):
    return model_with_options(w, **opts) * 2.0


def builds_the_options(w):
    opts = {"shift": w[0] * 0.5, "u": w[1] ** 2}
    return model_with_options(w, scale=1.5, v=w[2], **opts)


def test_double_star_arguments_fill_keywords_and_kwargs():
    check_grads(builds_the_options, (X[:3],), order=2)
    w = X[:3]
    for mode in ("reverse", "forward"):
        g = adgen.grad(forwards_its_options, mode=mode)(w, shift=0.2, u=3.0)
        assert g == pytest.approx(numerical_jacobian(
            lambda v: forwards_its_options(v, shift=0.2, u=3.0), (w,), 0), rel=1e-6)
        d = adgen.grad(forwards_its_options, wrt="opts", mode=mode)(w, shift=0.2, u=3.0)
        assert set(d) == {"shift", "u"} and d["u"] == pytest.approx(2.0 * np.sum(w))


def test_double_star_arguments_raise_what_python_raises():
    def given_twice(w, **opts):
        return model_with_options(w, shift=1.0, **opts)

    with pytest.raises(TypeError, match="missing 1 required argument: 'shift'"):
        adgen.grad(forwards_its_options)(X[:3], u=3.0)
    with pytest.raises(TypeError, match="multiple values for argument 'shift'"):
        adgen.grad(given_twice)(X[:3], shift=0.2)


def model_with_everything(w, a, b=2.0, *rest, scale=1.0, **extra):
    s = np.sum(w * a) + b * scale
    for r in rest:
        s = s + np.sum(r * w)
    for k in extra:
        s = s + extra[k] * w[0]
    return s


def forwards_everything(w, *args, **kwargs):
    return model_with_everything(w, *args, **kwargs) * 2.0


def stars_into_positional_parameters(w):
    xs = (w * 2.0, w[0], w ** 2)
    ys = [w[1]]
    return (forwards_everything(w, *xs, scale=w[1], u=w[2])
            + model_with_everything(w, *ys, u=w[2]) + model_with_everything(w, 3.0, *ys))


def test_a_star_fills_positional_parameters_and_args():
    check_grads(stars_into_positional_parameters, (X[:3],), order=2)
    w = X[:3]
    call = (w, w, 1.5, w)
    for mode in ("reverse", "forward"):
        g = adgen.grad(forwards_everything, mode=mode)(*call, scale=0.5, u=1.0)
        assert g == pytest.approx(numerical_jacobian(
            lambda v: forwards_everything(v, w, 1.5, w, scale=0.5, u=1.0), (w,), 0), rel=1e-6)
    ga = adgen.grad(forwards_everything, wrt="args")(*call, scale=0.5, u=1.0)
    assert len(ga) == 3 and ga[1] == pytest.approx(2.0 * 0.5)


def test_a_star_raises_what_python_raises():
    w = X[:3]
    with pytest.raises(TypeError, match="missing 1 required argument: 'a'"):
        adgen.grad(forwards_everything)(w)
    with pytest.raises(TypeError, match="multiple values for argument 'a'"):
        adgen.grad(forwards_everything)(w, w, b=1.0, a=w)

    def too_many(v):
        xs = (v, 1.0, 2.0)
        return keyword_only(*xs, shift=0.0)

    with pytest.raises(TypeError, match="takes 1 more positional arguments"):
        adgen.grad(too_many)(w)


KEYWORD_LAMBDA = lambda x, *, k=2.0: x * x * k  # noqa: E731


def test_a_lambda_with_a_keyword_only_parameter():
    assert adgen.grad(KEYWORD_LAMBDA)(3.0, k=1.0) == pytest.approx(6.0)
    assert adgen.grad(KEYWORD_LAMBDA, wrt="k")(3.0) == pytest.approx(9.0)


# ---------------------------------------------------------------- `key=` lambdas

KEY_SCALE = 2.0


def sorted_by_lambda(xs):
    ys = sorted(xs, key=lambda v: v * v)
    return ys[0] * 2.0 + ys[-1] * ys[1]


def max_by_lambda(xs):
    best = max(xs, key=lambda v: abs(v - KEY_SCALE))
    return best * np.sum(np.sin(np.asarray(xs)))


def key_reads_a_local(xs, c):
    return sorted(xs, key=lambda v: v * c)[0]


@pytest.mark.parametrize("f", [sorted_by_lambda, max_by_lambda])
def test_key_lambdas_are_called_not_differentiated(f):
    xs = np.array([0.5, -2.0, 1.5])
    check_grads(f, (xs,), wrt=0, order=2)
    assert adgen.grad(f)(list(xs)) == pytest.approx(list(adgen.grad(f)(xs)))


def test_key_lambda_reading_a_local_is_refused_at_its_line():
    with pytest.raises(adgen.UnsupportedSyntax, match="lambda reading the function's own") as info:
        adgen.grad(key_reads_a_local)([0.5, -2.0], 1.0)
    assert info.value.lineno == key_reads_a_local.__code__.co_firstlineno + 1
