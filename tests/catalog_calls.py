"""A catalog of functions that call other user functions, for gradient checks.

`CASES` lists `(function, args)` records. The functions call module-level functions of this
file and of `tests/calls_helpers.py` (imported by name and as a module), define nested
functions and lambdas that capture constants, arrays and active variables of the enclosing
function, pass arguments by position, by keyword and through defaults, recurse (directly, with
a depth taken from an int argument; mutually; over a nested-tuple expression tree), call
closures built by factories, and pass tuples, lists and dicts in, through and out of calls.
Other records build lists with `append`, index them, `sum` and `len` them, turn them into
arrays (`np.array`, `np.stack`), use list comprehensions (with `if` filters and nested `for`s)
and generator expressions, and mix in statements with no derivative: `assert`, `print`,
docstrings, `pass`, `del`, annotations, f-strings and local imports.

Float and float-array arguments are differentiated, and so are tuples, lists and dicts whose
leaves are all floats or float arrays; integers (depths, counts) and anything holding a string
are not. Inputs stay away from kinks and branch boundaries, so central differences are valid.
Function names are unique: they name the test cases. Records stay plain `(function, args)`
tuples even when the engine gets them wrong, because a bug usually breaks one check and not
the others: `test_calls.py` marks the failing (test, record) pairs as strict `xfail`s whose
reason starts with "engine:".
"""

import math

import numpy as np

from tests import calls_helpers as ch
from tests.calls_helpers import pair, softplus, square

WEIGHTS = np.array([0.5, -1.0, 2.0])

# ---------------------------------------------------------------- callees of this module


def sq(x):
    return x * x


def cube_plus(x, c):
    return x * x * x + c * x


def affine(x, scale=2.0, shift=0.5):
    return scale * x + shift


def polar(x, y):
    r = math.sqrt(x * x + y * y)
    return r, math.atan2(y, x)


def sin_step(x, h):
    return x + h * math.sin(x)


def sq_then_sin(x):
    return math.sin(sq(x))


def sq_array(v):
    return v * v


def stats(v):
    return {"mean": np.mean(v), "sumsq": np.sum(v * v)}


def moments(xs):
    total = 0.0
    squares = 0.0
    for t in xs:
        total = total + t
        squares = squares + t * t
    return [total, squares]


# ---------------------------------------------------------------- calls to module functions


def call_simple(x):
    return sq(x) + math.sin(x)


def call_twice(x, y):
    return sq(x) * sq(y) + sq(x - y)


def call_nested(x):
    return sq(sq(math.sin(x)) + 1.0)


def call_tuple_return(x, y):
    r, theta = polar(x, y)
    return r * math.cos(theta) + theta * theta


def call_inactive_argument(x):
    return cube_plus(x, 3.0) + cube_plus(2.0, x)


def call_array(v):
    return np.sum(sq_array(v) * WEIGHTS)


def call_in_loop(x, n):
    for _ in range(n):
        x = sin_step(x, 0.1)
    return x


def call_in_branch(x):
    if x > 0.0:
        y = sq(x)
    else:
        y = cube_plus(x, 1.0)
    return y + x


def call_callee_calls_callee(x):
    return sq_then_sin(x) * x


def call_overwrites_argument(x):
    x = sq(x)
    x = sq(x) + x
    return x


def call_result_reused(x):
    y = sq(math.cos(x))
    return y * y + y / (1.0 + y)


# ---------------------------------------------------------------- calls into another module


def imported_by_name(x):
    return square(x) + softplus(x)


def imported_module(x):
    return ch.poly(x) * ch.scaled_sin(x)


def imported_module_keywords(x, y):
    return ch.poly(x, b=y) + ch.poly(y, a=x, b=0.25)


def imported_calls_its_own_module(x):
    return ch.uses_square(x) - x


def imported_arrays(v, w):
    return ch.weighted_norm(v, w)


def imported_tuple_return(x, y):
    p, m = pair(x, y)
    return p * m


def imported_list_argument(x):
    return ch.horner([1.0, -2.0, x, 0.5], x)


# ---------------------------------------------------------------- positional, keyword, default


def keyword_arguments(x, y):
    return affine(x, scale=y, shift=2.0)


def default_arguments(x):
    return affine(x) * affine(x, 3.0)


def keywords_reordered(x, y):
    return affine(shift=x, x=y, scale=1.5) * affine(y, shift=x * x)


# ---------------------------------------------------------------- nested functions, lambdas


def nested_def_constant(x):
    c = 3.0

    def h(t):
        return c * t * t

    return h(x) + h(2.0 * x)


def nested_def_active(x, y):
    z = y * y

    def h(t):
        return t * z + math.sin(t * y)

    return h(x) + h(x * x)


def nested_def_array(v):
    w = np.array([1.0, -0.5, 0.25])

    def h(u):
        return np.sum(w * u * u)

    return h(v) + h(2.0 * v)


def nested_def_calls_module(x):
    def h(t):
        return sq(t) + affine(t, shift=1.0)

    return h(x) * h(0.5 * x)


def nested_def_in_loop(x, n):
    a = 0.3

    def step(t):
        return t + a * math.cos(t)

    for _ in range(n):
        x = step(x)
    return x


def lambda_constant(x):
    f = lambda t: 2.0 * t + 1.0  # noqa: E731
    return f(x) * f(x * x)


def lambda_active(x, y):
    f = lambda t: t * y + math.sin(t)  # noqa: E731
    return f(x) + f(y)


# ---------------------------------------------------------------- recursion


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def recursive_power(x, n):
    return power(x, n) + power(x + 1.0, 2)


def horner_rec(coeffs, x, k):
    if k == 0:
        return coeffs[0]
    return horner_rec(coeffs, x, k - 1) * x + coeffs[k]


def recursive_horner(x, n):
    coeffs = [1.0, -0.5, 0.25, 2.0, -1.0, 0.75]
    return horner_rec(coeffs, x, n)


def recursive_horner_coeffs(coeffs, x):
    return horner_rec(coeffs, x, len(coeffs) - 1)


def fast_power(x, n):
    if n == 0:
        return 1.0
    half = fast_power(x, n // 2)
    if n % 2 == 0:
        return half * half
    return half * half * x


def recursive_fast_power(x, n):
    return fast_power(x, n)


def ping(x, n):
    if n == 0:
        return x
    return math.sin(pong(x, n - 1))


def pong(x, n):
    if n == 0:
        return x * x
    return 0.5 * ping(x, n - 1) + x


def mutual_recursion(x, n):
    return ping(x, n)


def evaluate(node, x, y):
    if node == "x":
        return x
    if node == "y":
        return y
    if type(node) is float:
        return node
    op = node[0]
    if op == "sin":
        return math.sin(evaluate(node[1], x, y))
    left = evaluate(node[1], x, y)
    right = evaluate(node[2], x, y)
    if op == "add":
        return left + right
    return left * right


TREE = ("add", ("mul", "x", 2.0), ("mul", ("sin", "y"), ("add", "x", ("mul", "x", "y"))))


def recursive_tree(x, y):
    return evaluate(TREE, x, y)


def recursive_tree_argument(tree, x, y):
    return evaluate(tree, x, y) * x


# ---------------------------------------------------------------- closures


def make_scaler(c):
    def scaled(t):
        return c * t * t

    return scaled


def make_weighted(w):
    def weighted(v):
        return np.sum(w * np.sin(v))

    return weighted


def make_twice(g):
    def twice(t):
        return g(g(t))

    return twice


scale_by_2_5 = make_scaler(2.5)
weighted_by_array = make_weighted(np.array([2.0, -1.0, 0.5]))
sin_twice = make_twice(math.sin)
sq_twice = make_twice(sq)


def closure_constant(x):
    return scale_by_2_5(x) + x


def closure_array(v):
    return weighted_by_array(v) * 2.0


def closure_function(x):
    return sin_twice(x) + sq_twice(x)


# ---------------------------------------------------------------- containers


def tuple_argument(p):
    x, y = p
    return x * y + math.sin(p[0])


def tuple_intermediate(x, y):
    t = (x * y, x + y)
    return t[0] * t[1]


def list_argument(xs):
    return xs[0] * xs[1] + sum(xs) / len(xs)


def list_product(xs):
    return xs[0] * xs[1]


def list_shared_with_callee(xs):
    return list_product(xs) + xs[0]


def list_through_call(x, y):
    m = moments([x, y, x * y])
    return m[0] * m[1]


def dict_argument(params, x):
    return params["w"] * x + params["b"] * params["w"]


def dict_intermediate(x, y):
    d = {"a": x * y, "b": math.sin(x)}
    return d["a"] + d["b"] * d["a"]


def dict_from_call(v):
    s = stats(v)
    return s["mean"] * s["sumsq"]


def dict_of_arrays(params, v):
    h = np.tanh(params["W"] @ v + params["b"])
    return np.sum(h * h)


def nested_containers(params):
    first, second = params["layers"]
    return np.sum(first * second) + params["scale"] * np.sum(first)


def list_of_arrays_argument(vs):
    total = 0.0
    for v in vs:
        total = total + np.sum(v * v)
    return total


# ---------------------------------------------------------------- lists built and consumed


def append_loop(x, n):
    ys = []
    for i in range(n):
        ys.append(math.sin(x * (i + 1)))
    return ys[0] + ys[-1] * ys[1] + sum(ys) / len(ys)


def array_from_list(x, y):
    a = np.array([x, y, x * y])
    return np.sum(a * a * WEIGHTS)


def stack_of_arrays(v):
    rows = []
    for k in range(3):
        rows.append(v * (k + 1.0) + np.sin(v))
    m = np.stack(rows)
    return np.sum(m * m)


def comprehension_filter(xs):
    return sum([t * t for t in xs if t > 0.0])


def comprehension_nested(x, y):
    terms = [x ** i * y ** j for i in range(3) for j in range(2)]
    return sum(terms) + len(terms)


def comprehension_calls(x):
    values = [sq(x + k) for k in range(4) if k != 2]
    return values[0] * values[-1] + sum(values)


def generator_sum(x):
    return sum(math.sin(x * k) for k in range(1, 5))


def generator_sum_filter(v):
    return sum(v[i] * v[i] for i in range(len(v)) if i % 2 == 0)


# ---------------------------------------------------------------- statements with no derivative


def with_assert(x):
    assert x > 0.0, "x must be positive"
    return math.log(x) * x


def with_print(x, n):
    y = x * x
    print(f"y = {y:.4f} after {n} steps")
    print("done")
    return y * n


def with_docstring_pass_del(x):
    """A docstring is not an expression to differentiate."""
    y = math.exp(x)
    tmp = y * 2.0
    del tmp
    if x > 10.0:
        pass
    return y + x


def with_annotations(x: float, n: int = 3) -> float:
    y: float = x * 2.0
    total: float = 0.0
    for _ in range(n):
        total = total + y * x
    return total


def with_fstring(x, n):
    label = f"{n} terms"
    if len(label) > 4:
        return x * n
    return x


def with_local_import(x):
    import math as m

    import numpy

    return m.exp(x) + float(numpy.sin(x))


def with_local_from_import(x):
    from math import cos, sin

    return sin(x) * cos(x)


# ---------------------------------------------------------------- the records

V3 = np.array([0.3, -0.7, 1.2])

CASES = [
    (call_simple, (0.7,)),
    (call_twice, (0.7, -1.3)),
    (call_nested, (0.4,)),
    (call_tuple_return, (0.8, 0.6)),
    (call_inactive_argument, (0.9,)),
    (call_array, (V3,)),
    (call_in_loop, (0.5, 4)),
    (call_in_loop, (0.5, 0)),
    (call_in_branch, (0.8,)),
    (call_in_branch, (-0.6,)),
    (call_callee_calls_callee, (0.9,)),
    (call_overwrites_argument, (0.6,)),
    (call_result_reused, (0.4,)),
    (imported_by_name, (0.3,)),
    (imported_module, (0.7,)),
    (imported_module_keywords, (0.7, -0.4)),
    (imported_calls_its_own_module, (1.1,)),
    (imported_arrays, (V3, np.array([1.0, 2.0, -0.5]))),
    (imported_tuple_return, (1.3, 0.4)),
    (imported_list_argument, (0.6,)),
    (keyword_arguments, (0.4, 1.7)),
    (default_arguments, (0.9,)),
    (keywords_reordered, (0.4, -0.8)),
    (nested_def_constant, (0.6,)),
    (nested_def_active, (0.6, -0.9)),
    (nested_def_array, (V3,)),
    (nested_def_calls_module, (0.6,)),
    (nested_def_in_loop, (0.2, 5)),
    (lambda_constant, (0.6,)),
    (lambda_active, (0.6, 1.4)),
    (recursive_power, (1.3, 5)),
    (recursive_power, (1.3, 0)),
    (recursive_horner, (0.7, 5)),
    (recursive_horner, (0.7, 2)),
    (recursive_horner_coeffs, ([1.0, -0.5, 0.25, 2.0], 0.7)),
    (recursive_fast_power, (1.1, 11)),
    (recursive_fast_power, (1.1, 8)),
    (mutual_recursion, (0.7, 5)),
    (mutual_recursion, (0.7, 4)),
    (recursive_tree, (0.7, 1.1)),
    (recursive_tree_argument, (("mul", ("sin", "x"), ("add", "y", 0.5)), 0.7, 1.1)),
    (closure_constant, (0.6,)),
    (closure_array, (V3,)),
    (closure_function, (0.8,)),
    (scale_by_2_5, (0.6,)),
    (tuple_argument, ((0.6, -1.2),)),
    (tuple_intermediate, (0.6, -1.3)),
    (list_argument, ([0.6, -1.2, 2.0],)),
    (list_shared_with_callee, ([2.0, 3.0],)),
    (list_through_call, (0.6, -1.2)),
    (dict_argument, ({"w": 0.6, "b": -1.2}, 0.8)),
    (dict_intermediate, (0.6, -1.2)),
    (dict_from_call, (V3,)),
    (dict_of_arrays, ({"W": np.array([[0.2, -0.4, 0.1], [0.5, 0.3, -0.2]]),
                       "b": np.array([0.1, -0.3])}, V3)),
    (nested_containers, ({"layers": [V3, np.array([1.0, 0.5, -2.0])], "scale": 0.7},)),
    (list_of_arrays_argument, ([V3, np.array([1.5, -0.5])],)),
    (append_loop, (0.4, 4)),
    (array_from_list, (0.6, -1.2)),
    (stack_of_arrays, (V3,)),
    (comprehension_filter, ([0.6, -1.2, 2.0, 0.3],)),
    (comprehension_nested, (0.6, -1.2)),
    (comprehension_calls, (0.3,)),
    (generator_sum, (0.6,)),
    (generator_sum_filter, (np.array([0.3, -0.7, 1.2, 2.0, -0.4]),)),
    (with_assert, (1.6,)),
    (with_print, (0.8, 3)),
    (with_docstring_pass_del, (0.8,)),
    (with_annotations, (0.8,)),
    (with_annotations, (0.8, 5)),
    (with_fstring, (0.8, 12)),
    (with_local_import, (0.8,)),
    (with_local_from_import, (0.8,)),
]
