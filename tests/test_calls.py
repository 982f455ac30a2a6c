"""Gradients through calls of user functions: the catalog, containers, and the refusals.

Every record of `catalog_calls.CASES` is checked in both modes:

* records whose differentiated arguments are floats and float arrays go through
  `adgen.testing.check_grads` (central differences, the dot-product test, forward vs reverse);
* every record, containers included, is checked leaf by leaf: the reverse-mode gradient has
  the structure of its argument (same container types, keys, lengths; leaves shaped like the
  argument's leaves), equals the forward-mode gradient to 1e-12 relative and matches central
  differences. For container arguments forward mode is read off `adgen.jvp` one unit tangent
  at a time (`grad(mode="forward")` of a dict has its own test);
* reverse mode with `control="unroll"` equals stack replay to 1e-12, called twice (the second
  call runs the specialised code without recording).

The pytree tests pin what adgen returns for container arguments: a dict of gradients with the
same keys for a dict, a list for a list, a tuple for a tuple, nested the same way. The error
tests check that bound methods and functions reading `self.attr` of a differentiated object
are refused with a message that says so and suggests passing parameters, and that `try`,
`with`, `*args` at a call site and a class body are `SyntaxError`s at the user's line, also
when they sit in a callee. `print` inside a differentiated function prints what the function
prints.

A case the engine gets wrong stays visible as a strict `xfail` whose reason starts with
"engine:"; a fix makes it fail loudly, so the mark is removed with the fix.
"""

import inspect
import math

import numpy as np
import pytest

import adgen
from adgen.testing import check_grads
from tests import catalog_calls as cc
from tests.catalog_calls import CASES

# ---------------------------------------------------------------- known engine bugs

REVERSE_BUGS: dict[str, str] = {}
CHECK_GRADS_BUGS: dict[str, str] = {}
UNROLL_BUGS: dict[str, str] = {}


# ---------------------------------------------------------------- containers as trees


def _is_leaf(a):
    if isinstance(a, float):
        return True
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _is_tree(a):
    """Whether `a` is a float, a float array, or a non-empty container of such trees."""
    if _is_leaf(a):
        return True
    if isinstance(a, (list, tuple)):
        return len(a) > 0 and all(_is_tree(t) for t in a)
    if isinstance(a, dict):
        return len(a) > 0 and all(_is_tree(t) for t in a.values())
    return False


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for v in tree.values() for leaf in _leaves(v)]
    if isinstance(tree, (list, tuple)):
        return [leaf for v in tree for leaf in _leaves(v)]
    return [tree]


def _rebuild(tree, leaves):
    """`tree` with its leaves taken in order from the iterator `leaves`."""
    if isinstance(tree, dict):
        return {k: _rebuild(v, leaves) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_rebuild(v, leaves) for v in tree)
    return next(leaves)


def _unit_trees(tree):
    """Trees shaped like `tree`, zero but for a single 1 entry, one per entry of each leaf."""
    leaves = _leaves(tree)
    for n, leaf in enumerate(leaves):
        for k in range(max(1, np.size(leaf))):
            units = [np.zeros_like(x) if np.ndim(x) else 0.0 for x in leaves]
            if np.ndim(leaf):
                units[n].flat[k] = 1.0
            else:
                units[n] = 1.0
            yield units, n, k


def _grad_from_entries(tree, entries):
    """A gradient tree from per-entry derivatives `(leaf number, entry, value)`."""
    leaves = [np.zeros(np.shape(x)) if np.ndim(x) else 0.0 for x in _leaves(tree)]
    for n, k, value in entries:
        if np.ndim(leaves[n]):
            leaves[n].flat[k] = value
        else:
            leaves[n] = float(value)
    return _rebuild(tree, iter(leaves))


def _central(f, args, i, eps=1e-6):
    """Central difference of scalar `f` with respect to argument `i` (a tree), entry by entry."""
    entries = []
    for units, n, k in _unit_trees(args[i]):
        shifted = []
        for sign in (1.0, -1.0):
            moved = [x + sign * eps * u for x, u in zip(_leaves(args[i]), units, strict=True)]
            new = list(args)
            new[i] = _rebuild(args[i], iter(moved))
            shifted.append(f(*new))
        entries.append((n, k, (shifted[0] - shifted[1]) / (2 * eps)))
    return _grad_from_entries(args[i], entries)


def _forward(f, args, wrt):
    """Forward-mode gradients: `grad(mode="forward")`, or `jvp` per unit tangent for trees."""
    if all(_is_leaf(args[i]) for i in wrt):
        return adgen.grad(f, wrt=wrt, mode="forward")(*args)
    jvp = adgen.jvp(f, wrt=wrt)
    zeros = [_rebuild(args[i], iter([0.0 * x for x in _leaves(args[i])])) for i in wrt]
    grads = []
    for pos, i in enumerate(wrt):
        entries = []
        for units, n, k in _unit_trees(args[i]):
            tangents = list(zeros)
            tangents[pos] = _rebuild(args[i], iter(units))
            _, t = jvp(*args, *tangents)
            entries.append((n, k, t))
        grads.append(_grad_from_entries(args[i], entries))
    return tuple(grads)


def _scale(tree):
    return max([1.0] + [float(np.max(np.abs(x))) for x in _leaves(tree)])


def assert_same_structure(got, like, where="gradient"):
    """`got` has the container types, keys and lengths of `like`; leaves shaped like its."""
    if isinstance(like, dict):
        assert isinstance(got, dict), f"{where}: expected a dict, got {type(got).__name__}"
        assert list(got) == list(like), f"{where}: keys {list(got)} instead of {list(like)}"
        for key in like:
            assert_same_structure(got[key], like[key], f"{where}[{key!r}]")
    elif isinstance(like, (list, tuple)):
        assert type(got) is type(like), (
            f"{where}: expected a {type(like).__name__}, got {type(got).__name__}")
        assert len(got) == len(like), f"{where}: length {len(got)} instead of {len(like)}"
        for k, (g, x) in enumerate(zip(got, like, strict=True)):
            assert_same_structure(g, x, f"{where}[{k}]")
    else:
        assert np.shape(got) == np.shape(like), (
            f"{where}: shape {np.shape(got)} instead of {np.shape(like)}")
        assert np.result_type(got) == np.result_type(like), (
            f"{where}: dtype {np.result_type(got)} instead of {np.result_type(like)}")


def assert_trees_close(got, expected, rtol, atol, what):
    for n, (g, e) in enumerate(zip(_leaves(got), _leaves(expected), strict=True)):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, err_msg=f"{what}, leaf {n}")


# ---------------------------------------------------------------- the catalog


def _record(case):
    if hasattr(case, "marks"):
        f, args = case.values
        return f, args, list(case.marks)
    return case[0], case[1], []


def _differentiable(args):
    return tuple(i for i, a in enumerate(args) if _is_tree(a))


def _params(known=None, select=lambda args, wrt: True):
    counts = {}
    params = []
    for case in CASES:
        f, args, marks = _record(case)
        k = counts[f.__name__] = counts.get(f.__name__, 0) + 1
        case_id = f"{f.__name__}-{k}"
        if not select(args, _differentiable(args)):
            continue
        reason = (known or {}).get(case_id) or (known or {}).get(f.__name__)
        if reason:
            marks = [*marks, pytest.mark.xfail(strict=True, reason=reason)]
        params.append(pytest.param(f, args, marks=marks, id=case_id))
    return params


def _plain_arguments(args, wrt):
    return all(_is_leaf(args[i]) for i in wrt)


def _has_containers(args, wrt):
    return not _plain_arguments(args, wrt)


def test_catalog_size_and_unique_names():
    functions = {_record(case)[0] for case in CASES}
    assert len(functions) >= 45
    assert len({f.__name__ for f in functions}) == len(functions)
    assert sum(_has_containers(a, _differentiable(a)) for _, a, _ in map(_record, CASES)) >= 8


@pytest.mark.parametrize(("f", "args"), _params(CHECK_GRADS_BUGS, _plain_arguments))
def test_check_grads(f, args):
    check_grads(f, args, wrt=_differentiable(args), modes=("forward", "reverse"))


@pytest.mark.parametrize(("f", "args"), _params(REVERSE_BUGS))
def test_reverse_forward_and_central_differences_agree(f, args):
    wrt = _differentiable(args)
    reverse = adgen.grad(f, wrt=wrt)(*args)
    forward = _forward(f, args, wrt)
    assert isinstance(reverse, tuple) and len(reverse) == len(wrt)
    for i, rev, fwd in zip(wrt, reverse, forward, strict=True):
        assert_same_structure(rev, args[i], f"reverse gradient of argument {i}")
        assert_same_structure(fwd, args[i], f"forward gradient of argument {i}")
        scale = _scale(fwd)
        assert_trees_close(rev, fwd, 1e-12, 1e-12 * scale, f"reverse vs forward, argument {i}")
        numeric = _central(f, args, i)
        allowed = 1e-7 * max(_scale(numeric), abs(f(*args)))
        assert_trees_close(rev, numeric, 1e-6, allowed, f"reverse vs central, argument {i}")


@pytest.mark.parametrize(("f", "args"), _params(UNROLL_BUGS))
def test_unroll_matches_stack(f, args):
    wrt = _differentiable(args)
    stack = adgen.grad(f, wrt=wrt)(*args)
    unrolled = adgen.grad(f, wrt=wrt, control="unroll")
    for _ in range(2):  # the first call records the path; the second runs the specialised code
        got = unrolled(*args)
        for i, u, s in zip(wrt, got, stack, strict=True):
            assert_same_structure(u, s, f"unrolled gradient of argument {i}")
            assert_trees_close(u, s, 1e-12, 1e-12 * _scale(s), f"unroll vs stack, argument {i}")


def test_forward_and_reverse_differentiate_the_callee_not_an_inlined_copy():
    reverse = adgen.source(adgen.grad(cc.call_simple))
    assert "sq_fwd(x)" in reverse and "sq_bwd(" in reverse
    assert "x * x" not in reverse
    assert "sq_jvp(x, x_dot)" in adgen.source(adgen.grad(cc.call_simple, mode="forward"))


def _rescaled(x, a):
    x = x * a  # the parameter is written: the backward function needs a tape
    return math.sin(x)


def _doubled_head(v):
    v[0] = 2.0 * v[0]  # an element write into the argument: a tape too
    return np.sum(v * v)


def _reads_arguments(x, a):
    return math.sin(x) * 0.9 + a * x


def _calls_each(x, a):
    v = np.array([1.0, a])
    for _ in range(3):
        x = _rescaled(x, a) + _reads_arguments(x, a)
    return x + _doubled_head(v * x)


def test_tape_is_the_arguments_only_when_the_callee_leaves_them_alone():
    def tape_params(f, wrt, scalar):
        split = adgen.pipeline.derivative(f, wrt, "split", frozenset(scalar))
        return split.__adgen__.info["tape_positions"]

    assert tape_params(_reads_arguments, ("x", "a"), {"x", "a"}) == (0, 1)
    assert tape_params(_rescaled, ("x", "a"), {"x", "a"}) is None
    assert tape_params(_doubled_head, ("v",), ()) is None
    source = adgen.source(adgen.grad(_calls_each, wrt=(0, 1)))
    assert "_reads_arguments_bwd(x, a, " in source and "_rescaled_bwd(_tape" in source
    check_grads(_calls_each, (0.3, 0.8))


def test_a_deferred_reference_packs_an_argument_tape():
    """Callers built while a callee was still being built (recursion) speak the tape
    protocol; a callee whose tape is its arguments is adapted at call time."""
    from adgen.pipeline import PROGRAM
    from adgen.program import Deferred, derivative_key

    scalar = frozenset({"x", "a"})
    fwd = PROGRAM.derivative(_reads_arguments, ("x", "a"), "split", scalar)
    key = derivative_key(_reads_arguments, ("x", "a"), "split", scalar)
    value, tape = Deferred(PROGRAM, key, "fwd")(0.3, 0.8)
    assert value == _reads_arguments(0.3, 0.8) and tape == (0.3, 0.8)
    grads = Deferred(PROGRAM, key, "bwd")(tape, 2.0)
    assert grads == fwd.__adgen__.info["bwd"](0.3, 0.8, 2.0)
    assert grads == pytest.approx((2.0 * (0.9 * math.cos(0.3) + 0.8), 2.0 * 0.3), rel=1e-15)


def test_closed_forms():
    x = 0.7
    assert adgen.grad(cc.call_simple)(x) == pytest.approx(2 * x + math.cos(x), rel=1e-15)
    assert adgen.grad(cc.recursive_power)(1.3, 5) == pytest.approx(5 * 1.3**4 + 2 * 2.3,
                                                                    rel=1e-14)
    assert adgen.grad(cc.recursive_fast_power)(1.1, 11) == pytest.approx(11 * 1.1**10, rel=1e-14)
    x, y = 0.7, 1.1
    d = adgen.grad(cc.recursive_tree, wrt=(0, 1))(x, y)  # 2x + sin(y) (x + xy)
    assert d[0] == pytest.approx(2 + math.sin(y) * (1 + y), rel=1e-15)
    assert d[1] == pytest.approx(math.cos(y) * (x + x * y) + math.sin(y) * x, rel=1e-15)


def test_deep_recursion():
    n = 200
    assert adgen.grad(cc.recursive_power)(1.001, n) == pytest.approx(
        n * 1.001 ** (n - 1) + 2 * 2.001, rel=1e-13)
    assert adgen.grad(cc.recursive_power, mode="forward")(1.001, n) == pytest.approx(
        n * 1.001 ** (n - 1) + 2 * 2.001, rel=1e-13)


def test_print_prints_what_the_function_prints(capsys):
    cc.with_print(0.8, 3)
    expected = capsys.readouterr().out
    assert expected == "y = 0.6400 after 3 steps\ndone\n"
    assert adgen.grad(cc.with_print)(0.8, 3) == pytest.approx(2 * 0.8 * 3)
    assert capsys.readouterr().out == expected
    assert adgen.grad(cc.with_print, mode="forward")(0.8, 3) == pytest.approx(2 * 0.8 * 3)
    assert capsys.readouterr().out == expected
    value, _ = adgen.value_and_grad(cc.with_print)(0.8, 3)
    assert value == pytest.approx(0.64 * 3)
    assert capsys.readouterr().out == expected


def test_unrolled_print_prints_once(capsys):
    """The run that records the control path leaves `print` out; the derivative prints."""
    g = adgen.grad(cc.with_print, control="unroll")
    g(0.8, 3)
    assert capsys.readouterr().out == "y = 0.6400 after 3 steps\ndone\n"
    g(0.5, 2)  # the same path: the specialised derivative runs alone
    assert capsys.readouterr().out == "y = 0.2500 after 2 steps\ndone\n"


def test_assert_still_checks():
    with pytest.raises(AssertionError, match="x must be positive"):
        adgen.grad(cc.with_assert)(-0.5)
    with pytest.raises(AssertionError, match="x must be positive"):
        adgen.grad(cc.with_assert, mode="forward")(-0.5)


# ---------------------------------------------------------------- containers in, gradients out

PARAMS = {"w": 0.6, "b": -1.2}


@pytest.mark.parametrize("wrt", [0, "params"])
def test_dict_in_dict_of_gradients_out(wrt):
    g = adgen.grad(cc.dict_argument, wrt=wrt)(dict(PARAMS), 0.8)
    assert isinstance(g, dict) and list(g) == ["w", "b"]
    assert g == pytest.approx({"w": 0.8 + PARAMS["b"], "b": PARAMS["w"]}, rel=1e-15)
    assert all(type(v) is float for v in g.values())


def test_dict_of_arrays_gives_arrays_shaped_like_the_leaves():
    params = {"W": np.arange(6.0).reshape(2, 3) / 10, "b": np.array([0.1, -0.3])}
    g = adgen.grad(cc.dict_of_arrays, wrt="params")(params, cc.V3)
    assert list(g) == ["W", "b"]
    assert g["W"].shape == (2, 3) and g["b"].shape == (2,)
    h = np.tanh(params["W"] @ cc.V3 + params["b"])
    np.testing.assert_allclose(g["b"], 2 * h * (1 - h * h), rtol=1e-14)
    np.testing.assert_allclose(g["W"], np.outer(g["b"], cc.V3), rtol=1e-14)


def test_dict_value_and_grad_and_vjp():
    value, g = adgen.value_and_grad(cc.dict_argument, wrt="params")(dict(PARAMS), 0.8)
    assert value == pytest.approx(cc.dict_argument(PARAMS, 0.8))
    assert list(g) == ["w", "b"]
    value, g = adgen.vjp(cc.dict_argument, wrt=0)(dict(PARAMS), 0.8, 2.0)
    assert g == pytest.approx({"w": 2 * (0.8 + PARAMS["b"]), "b": 2 * PARAMS["w"]})


def test_dict_jvp_takes_a_dict_tangent():
    value, t = adgen.jvp(cc.dict_argument, wrt=0)(dict(PARAMS), 0.8, {"w": 1.0, "b": 0.5})
    assert value == pytest.approx(cc.dict_argument(PARAMS, 0.8))
    assert t == pytest.approx((0.8 + PARAMS["b"]) + 0.5 * PARAMS["w"], rel=1e-15)


def test_arguments_are_not_modified():
    params = dict(PARAMS)
    xs = [0.6, -1.2, 2.0]
    adgen.grad(cc.dict_argument)(params, 0.8)
    adgen.grad(cc.list_argument)(xs)
    adgen.grad(cc.append_loop)(0.4, 4)
    assert params == PARAMS and xs == [0.6, -1.2, 2.0]


def test_list_in_list_of_gradients_out():
    g = adgen.grad(cc.list_argument)([0.6, -1.2, 2.0])
    assert type(g) is list
    assert g == pytest.approx([-1.2 + 1 / 3, 0.6 + 1 / 3, 1 / 3], rel=1e-14)


def test_tuple_in_tuple_of_gradients_out():
    g = adgen.grad(cc.tuple_argument)((0.6, -1.2))
    assert type(g) is tuple
    assert g == pytest.approx((-1.2 + math.cos(0.6), 0.6), rel=1e-15)


def test_list_of_arrays_in_list_of_arrays_out():
    vs = [cc.V3, np.array([1.5, -0.5])]
    g = adgen.grad(cc.list_of_arrays_argument, wrt="vs")(vs)
    assert type(g) is list and len(g) == 2
    np.testing.assert_allclose(g[0], 2 * vs[0], rtol=1e-15)
    np.testing.assert_allclose(g[1], 2 * vs[1], rtol=1e-15)


def test_list_through_a_callee_sums_entry_by_entry():
    g = adgen.grad(cc.list_shared_with_callee)([2.0, 3.0])  # xs[0] * xs[1] + xs[0]
    assert g == [4.0, 2.0]


def test_dict_of_lists_in_dict_of_lists_out():
    params = {"layers": [cc.V3, np.array([1.0, 0.5, -2.0])], "scale": 0.7}
    g = adgen.grad(cc.nested_containers)(params)
    assert_same_structure(g, params)


def test_forward_grad_of_a_dict():
    g = adgen.grad(cc.dict_argument, mode="forward")(dict(PARAMS), 0.8)
    assert g == pytest.approx({"w": 0.8 + PARAMS["b"], "b": PARAMS["w"]})


# ---------------------------------------------------------------- refusals


class Model:
    """An object whose methods and attributes adgen must refuse to differentiate through."""

    def __init__(self):
        self.scale = 2.0

    def energy(self, x):
        return self.scale * x * x


MODEL = Model()


def reads_self(self, x):
    return self.scale * x * x


def calls_a_method(x):
    return MODEL.energy(x) + x


def test_bound_method_is_refused_with_advice():
    for mode in ("reverse", "forward"):
        with pytest.raises(adgen.DifferentiationError) as info:
            adgen.grad(MODEL.energy, mode=mode)(0.5)
        message = str(info.value)
        assert "bound method Model.energy" in message
        assert "plain function" in message and "parameters explicitly" in message


def test_self_attribute_of_a_differentiated_object_is_refused_with_advice():
    for mode in ("reverse", "forward"):
        with pytest.raises(adgen.DifferentiationError) as info:
            adgen.grad(reads_self, wrt="self", mode=mode)(MODEL, 0.5)
        message = str(info.value)
        assert "attribute `scale` of a Model object" in message
        assert "not other objects" in message and "return self.scale * x * x" in message
        assert "pass `scale` to the function as a parameter" in message
        line = inspect.getsourcelines(reads_self)[1] + 1
        assert f"test_calls.py:{line}" in message


def test_self_attribute_read_as_a_constant_is_fine():
    assert adgen.grad(reads_self, wrt="x")(MODEL, 0.5) == pytest.approx(2.0 * 2 * 0.5)
    assert adgen.grad(Model.energy, wrt="x", mode="forward")(MODEL, 0.5) == pytest.approx(2.0)


def test_method_call_inside_is_refused_with_advice():
    with pytest.raises(adgen.DifferentiationError) as info:
        adgen.grad(calls_a_method)(0.5)
    assert "method" in str(info.value) and "parameter" in str(info.value)


def uses_try(x):
    y = x * x
    try:
        y = math.log(y)
    except ValueError:
        y = 0.0
    return y


def uses_with(x):
    y = x * x
    with np.errstate(all="ignore"):
        y = np.sqrt(y)
    return y


def starred_call(x):
    xs = [x, 2.0 * x]
    return math.hypot(*xs)


def defines_a_class(x):
    class Box:
        pass

    return x * x


def caller_of_try(x):
    return uses_try(x) * 2.0


def _line_of(fn, text):
    lines, start = inspect.getsourcelines(fn)
    (offset,) = [k for k, line in enumerate(lines) if line.strip().startswith(text)]
    return start + offset


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize(("f", "where", "text", "words", "fix"), [
    (uses_try, uses_try, "try:", "`try` statements", "move the `try` outside"),
    (uses_with, uses_with, "with ", "`with` statements", "move the `with` outside"),
    (starred_call, starred_call, "return math.hypot(*xs)", "starred `*`/`**` arguments",
     "pass the arguments one by one"),
    (defines_a_class, defines_a_class, "class Box:", "class definitions",
     "define the class outside the function"),
    (caller_of_try, uses_try, "try:", "`try` statements", "move the `try` outside"),
], ids=["try", "with", "starred-call", "class", "try-in-callee"])
def test_unsupported_syntax_is_a_syntax_error_at_the_users_line(f, where, text, words, fix,
                                                                mode):
    with pytest.raises(SyntaxError) as info:
        adgen.grad(f, mode=mode)(0.5)
    error = info.value
    assert isinstance(error, adgen.UnsupportedSyntax)
    assert error.filename == __file__
    assert error.lineno == _line_of(where, text)
    assert error.text.strip().startswith(text.strip())
    assert f"adgen does not support {words}" in error.msg
    assert fix in error.msg


def drops_items(x):
    xs = [x, x * 2.0, x ** 2]
    xs.pop()
    total = 0.0
    while xs:
        v = xs.pop()
        total = total + v * x
    ys = [x, x]
    _ = ys.pop()
    return total + ys[0]


def test_pop_whose_item_is_dropped_keeps_the_derivative_lists_in_step():
    check_grads(drops_items, (0.7,), order=2)
    assert adgen.grad(drops_items)(0.7) == pytest.approx(6 * 0.7 + 1.0)  # 3x² + x


# ---------------------------------------------------------------- `*xs` and `**d` at call sites


def affine(a, b, c=1.0, d=2.0):
    return a * b + c * d


def star_list(x, y):
    xs = [x, y * y]
    return affine(*xs)


def star_array(v):
    return affine(*v) + affine(v[0], *v[1:3])


def star_and_double_star(x, y):
    xs = (x, y)
    opts = {"d": x * y}
    return affine(*xs, **opts) + affine(x, *[y, x]) + affine(*(x, y, y))


def double_star_only(x, y):
    params = {"b": y, "a": x, "c": x + y}
    return affine(**params) + affine(x, **{"b": 3.0, "d": y})


def star_into_numpy_literal(x, y):
    return np.maximum(*[x, y]) + np.hypot(*(x, y))


def arguments_after_star(x, y):
    xs = [x]
    return affine(*xs, 2.0) + affine(*xs, y, *[x * y]) + affine(x, *[], y)


def several_stars(x, y):
    head, tail = [x, y], (y * y,)
    both = affine(*head, *tail) + affine(*tail, *head, d=x)
    return both + affine(*head[:1], *head[1:], **{"c": y})


def stars_of_any_length(xs, ys):
    return affine(*xs, *ys)


STAR_CASES = [
    (star_list, (0.7, -0.4)),
    (star_array, (np.array([0.3, -0.6, 1.2, 0.5]),)),
    (star_and_double_star, (0.7, -0.4)),
    (double_star_only, (0.7, -0.4)),
    (star_into_numpy_literal, (0.7, -0.4)),
    (arguments_after_star, (0.7, -0.4)),
    (several_stars, (0.7, -0.4)),
]


@pytest.mark.parametrize(("f", "args"), STAR_CASES, ids=[f.__name__ for f, _ in STAR_CASES])
def test_star_arguments_at_call_sites(f, args):
    check_grads(f, args, order=2)
    assert adgen.grad(f)(*args) == pytest.approx(adgen.grad(f, mode="forward")(*args))


def star_too_long(x):
    xs = [x, x, x, x, x]
    return affine(*xs)


def double_star_unknown_key(x):
    return affine(x, **{"b": x, "e": 1.0})


def test_bad_star_arguments_raise_what_python_raises():
    with pytest.raises(TypeError, match="takes 4 more positional arguments"):
        adgen.grad(star_too_long)(0.5)
    with pytest.raises(TypeError, match="unexpected keyword argument 'e'"):
        adgen.grad(double_star_unknown_key)(0.5)
    with pytest.raises(TypeError, match="misses required arguments"):
        adgen.grad(stars_of_any_length, wrt=(0, 1))([0.5], [])


@pytest.mark.parametrize(("xs", "ys"), [([0.7], [0.3]), ([], [0.7, 0.3, 1.1]),
                                        ([0.7, 0.3, 1.1], [0.2]), ([0.7, 0.3], [])])
def test_where_each_item_goes_is_decided_by_the_lengths(xs, ys):
    """Which parameter an item of `*xs, *ys` fills depends on len(xs): one gradient function
    serves every split, and each matches the call with the items passed one by one."""
    items = xs + ys
    grads = adgen.grad(stars_of_any_length, wrt=(0, 1))(xs, ys)
    a, b = items[0], items[1]
    c, d = (items + [1.0, 2.0][len(items) - 2:])[2:4]
    by_item = [b, a, d, c][:len(items)]
    assert grads[0] + grads[1] == pytest.approx(by_item, rel=1e-15)
    assert [len(g) for g in grads] == [len(xs), len(ys)]


def star_into_numpy_name(x, y):
    pair = [x, y]
    return np.maximum(*pair)


def test_star_arguments_adgen_cannot_unpack_are_refused_clearly():
    with pytest.raises(adgen.UnsupportedSyntax, match="starred") as info:
        adgen.grad(star_into_numpy_name)(0.5, 0.25)
    assert info.value.filename.endswith("test_calls.py")


# ---------------------------------------------------------------- joined and repeated lists


def _joined(x, y):
    zs = [x, y] + [x * 2.0]
    return zs[0] * zs[2] + zs[1]


def _joined_tuples(x, y):
    zs = (x, y) + (x * 2.0,)
    return zs[0] * zs[2] + zs[1]


def _repeated(x, y):
    zs = [x, y] * 2
    return zs[0] * zs[3]


def _repeated_left(x, y):
    zs = 2 * [x, y]
    return zs[0] * zs[3]


def _joined_arguments(xs, ys):
    zs = xs + ys
    return zs[0] * zs[-1]


@pytest.mark.parametrize(("f", "args", "expected"), [
    (_joined, (0.3, 0.5), (1.2, 1.0)),
    (_joined_tuples, (0.3, 0.5), (1.2, 1.0)),
    (_repeated, (0.3, 0.5), (0.5, 0.3)),
    (_repeated_left, (0.3, 0.5), (0.5, 0.3)),
])
def test_lists_joined_or_repeated_by_operators(f, args, expected):
    """Forward mode joins and repeats the tangent lists like the values; reverse mode refuses
    loudly rather than give a wrong gradient (an adjoint that the operator would have to split
    or sum back)."""
    forward = adgen.grad(f, wrt=(0, 1), mode="forward")(*args)
    assert forward == pytest.approx(expected, rel=1e-15)
    for a in (args, (np.float64(args[0]), args[1])):
        with pytest.raises(adgen.DifferentiationError, match=r"joins or repeats lists"):
            adgen.grad(f, wrt=(0, 1))(*a)


def test_lists_joined_from_arguments_are_refused_in_reverse_mode():
    with pytest.raises(adgen.DifferentiationError, match=r"np.concatenate"):
        adgen.grad(_joined_arguments, wrt=(0, 1))([0.3, 0.1], [0.5])
    assert adgen.grad(lambda x, y: np.sum(x + y))(np.ones(3), np.ones(3)).tolist() == [1.0] * 3


# ---------------------------------------------------------------- max and min of a sequence


def _extremes(x, y):
    return max([x, y * 2.0, 0.1]) * x + min([x, y]) + max(x, y, 0.5) * min(y, x, 0.9)


def _extreme_of_a_generator(x, y):
    return max(v * v for v in [x, y, x * y]) + min(np.array([x, y]))


def _extreme_tie(x, y):
    return max([x, x, y]) + min((y, y))


@pytest.mark.parametrize(("f", "args"), [
    (_extremes, (0.3, 0.7)), (_extremes, (0.9, 0.2)), (_extreme_of_a_generator, (0.3, 0.7)),
    (_extreme_of_a_generator, (-0.8, 0.5)), (_extreme_tie, (0.5, 0.1))])
def test_max_and_min_of_a_sequence_and_of_many_arguments(f, args):
    check_grads(f, args)


def test_max_and_min_ties_give_the_first_item_the_derivative():
    assert adgen.grad(_extreme_tie, wrt=(0, 1))(0.5, 0.1) == (1.0, 1.0)  # max: the first x
    assert adgen.grad(lambda x, y: max([x, y]), wrt=(0, 1))(0.5, 0.5) == (1.0, 0.0)
    assert adgen.grad(lambda x, y: min(x, y, x), wrt=(0, 1))(0.5, 0.5) == (1.0, 0.0)


def test_max_of_nothing_raises_what_python_raises():
    with pytest.raises(ValueError, match=r"max\(\) iterable argument is empty"):
        adgen.grad(lambda x: max([]) * x)(1.0)


# ---------------------------------------------------------------- loops over dicts


def _over_keys(p, x):
    t = 0.0
    for k in p:
        t = t + p[k] * x
    for i, k in enumerate(p):
        t = t + i * p[k]
    return t


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("p", [{"a": 0.5, "b": 2.0}, {1: 0.5, 0: 2.0}],
                         ids=["str keys", "int keys"])
def test_a_loop_over_a_dict_walks_its_keys(p, mode):
    """`for k in d` gives the keys, as Python does (with int keys an index loop would
    silently read the values instead)."""
    grads = adgen.grad(_over_keys, wrt=(0, 1), mode=mode)(p, 0.3)
    keys = list(p)
    assert grads[0] == pytest.approx({k: 0.3 + keys.index(k) for k in p}, rel=1e-15)
    assert grads[1] == pytest.approx(sum(p.values()), rel=1e-15)


def _dict_views(p, x):
    t = p.get("a") * x + p.get("missing", 2.0) * x + p.get("b", 0.0)
    for k, v in p.items():
        t = t + v * v + 0.0 * len(k)
    for v in p.values():
        t = t + v * x
    for k in p.keys():
        t = t + p[k]
    return t


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_dict_items_values_keys_and_get(mode):
    p = {"a": 0.5, "b": 2.0}
    grads = adgen.grad(_dict_views, wrt=(0, 1), mode=mode)(p, 0.3)
    # t = a x + 2 x + b + a^2 + b^2 + (a + b) x + a + b
    assert grads[0] == pytest.approx({"a": 0.3 + 2 * 0.5 + 0.3 + 1.0,
                                      "b": 1.0 + 2 * 2.0 + 0.3 + 1.0}, rel=1e-15)
    assert grads[1] == pytest.approx(0.5 + 2.0 + 2.5, rel=1e-15)
