"""A catalog of functions with control flow (branches, loops, jumps) for gradient checks.

`CASES` lists `(function, args)` records, several per function: the argument tuples put every
branch on both sides of its test, every loop at zero, one and several trips where that makes
sense, and every `break`, `continue` and early `return` both taken and not taken. Arguments stay
away from branch boundaries and kinks, so central differences are valid around them: a small
step never changes the path taken. Integer arguments (trip counts, selectors) are never
differentiated; float and float-array arguments always are.

Between them the functions use `if`/`elif`/`else` (nested), conditional expressions, `and`,
`or`, `not` and chained comparisons in tests, variables assigned in one branch only, `for` over
`range` (one, two and three arguments, negative steps, bounds computed from arguments), lists,
tuples, NumPy arrays, `enumerate`, `zip`, `enumerate(zip(...))` and `reversed`, nested loops,
`for ... else`, `while` with data-dependent exits, `while True` with `break`, `break`,
`continue` (in `for` and in `while`), `return` inside (nested) loops, and accumulation,
products, Horner's rule and explicit
Euler integrators, mixing `math` and small NumPy arrays. Function names are unique: they name
the test cases.

A record that the engine gets wrong is a `pytest.param` marked as a strict `xfail` whose
reason starts with "engine:", so it stays visible and fails loudly once it is fixed.
"""

import math

import numpy as np
import pytest

THRESHOLD = 2.0

# ---------------------------------------------------------------- branches


def if_else(x, y):
    if x > y:
        z = x * y
    else:
        z = math.exp(x) - y
    return z


def if_elif_else(x):
    if x < -1.0:
        y = x * x + 2.0 * x
    elif x < 1.0:
        y = math.sin(x) - 1.5
    elif x < 3.0:
        y = math.log(x) * x
    else:
        y = math.sqrt(x) + x
    return y * x


def if_nested(x, y):
    if x > 0.0:
        if y > 0.0:
            r = x * y
        else:
            r = x - math.cos(y)
    else:
        if y > 1.0:
            r = math.exp(x) * y
        else:
            r = x * x * y + y
    return r + x


def if_without_else(x):
    y = 2.0 * x
    if x > 1.0:
        y = y * x
    return y + math.sin(x)


def if_assigned_in_one_branch(x, y):
    if x > y:
        t = math.exp(x - y)
        r = t * x
    else:
        r = y - x
    return r * y


def if_on_global_threshold(x):
    if x * x > THRESHOLD:
        return x * THRESHOLD
    return x * x * x


def conditional_expression(x, y):
    z = x * y if x > 0.0 else x - y
    return z * z + y


def conditional_expression_nested(x):
    y = math.sin(x) if x < 0.0 else (x * x if x < 2.0 else math.log(x))
    return y + x


def conditional_expression_in_call(x, y):
    return math.exp(x if x < y else y) * x


def condition_and(x, y):
    if x > 0.0 and y > 0.0:
        return x * y
    return x + 2.0 * y


def condition_or(x, y):
    if x > 1.0 or y < -1.0:
        r = math.sinh(x) * y
    else:
        r = x / (1.0 + y * y)
    return r


def condition_not(x):
    if not x > 1.0:
        return math.atan(x) * 3.0
    return x**3


def condition_mixed_boolean(x, y, z):
    if (x > 0.0 and not y > 1.0) or z < 0.0:
        w = x * y * z
    else:
        w = x + y + z
    return w * x


def condition_chained_comparison(x, lo, hi):
    if lo < x < hi:
        return (x - lo) * (hi - x)
    return x * lo + hi


def condition_chained_three(x, y):
    if -1.0 < x <= y < 2.0:
        return x * y
    return x - y


def condition_on_integer(x, k):
    if k % 2 == 0:
        y = x * x
    else:
        y = math.cos(x)
    return y * k


def max_via_branches(x, y):
    if x > y:
        m = x
    else:
        m = y
    return m * m + x


def min_of_three_via_branches(x, y, z):
    m = x
    if y < m:
        m = y
    if z < m:
        m = z
    return m * (x + y + z)


def piecewise_smooth(x):
    if x < -2.0:
        return -1.0 - x * 0.5
    if x < 0.0:
        return math.tanh(x) * x
    if x < 1.5:
        return math.expm1(x) * math.sin(x)
    return math.log1p(x) * x * x


def several_returns(x, y):
    if x < 0.0:
        return -x * y
    r = x * y
    if r > 1.0:
        return math.sqrt(r)
    return r * r


def branch_on_array_sum(v):
    if np.sum(v) > 0.0:
        return np.sum(v * v)
    return np.sum(np.exp(v)) * 2.0


def branch_selects_array(v, w):
    if np.sum(v * w) > 0.0:
        u = v * np.sin(w)
    else:
        u = w * np.cos(v)
    return np.sum(u * u)


# ---------------------------------------------------------------- for loops over range


def for_range_n(x, n):
    s = 0.0
    for i in range(n):
        s = s + math.sin(x * i)
    return s + x


def for_range_start_stop(x, a, b):
    s = x
    for i in range(a, b):
        s = s * 0.5 + x * i
    return s


def for_range_negative_step(x):
    s = 1.0
    for i in range(10, 0, -3):
        s = s * x + i
    return s


def for_range_negative_step_from_args(x, a, b):
    s = x
    for i in range(b, a, -2):
        s = math.sin(s) + x / i
    return s


def for_range_int_of_argument(x):
    s = x
    for i in range(int(x * 3)):
        s = s * math.cos(x) + i
    return s


def for_overwrites_variable(x, n):
    for _ in range(n):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x


def for_accumulate(x, n):
    s = 0.0
    for i in range(n):
        s += x * i
        s += x * x
    return s


def for_product(x, n):
    p = 1.0
    for i in range(1, n + 1):
        p *= x + i
    return p


def for_swap(x, y):
    for _ in range(4):
        x, y = y, x * 0.5 + y * math.cos(x)
    return x * y


def for_variable_from_last_iteration(x):
    t = 0.0
    for i in range(3):
        t = x * (i + 1)
    return t * t


def for_nested(x, n):
    s = 0.0
    for i in range(n):
        for j in range(3):
            s = s + x ** (j + 1) / (i + 1)
    return s


def for_nested_triangular(x):
    s = x
    for i in range(4):
        for j in range(i):
            s = s * 0.8 + math.sin(x * j) * i
    return s


def for_branch_inside(x):
    s = 0.0
    for i in range(6):
        if i % 2 == 0:
            s = s + x * i
        else:
            s = s * math.cos(x)
    return s


def for_data_dependent_branch_inside(x, n):
    for _ in range(n):
        if x > 1.0:
            x = math.sqrt(x) + 0.2
        else:
            x = x * x + 0.4
    return x


def for_conditional_expression_inside(x):
    s = 0.0
    for i in range(5):
        s += x * i if i < 3 else math.sin(x) / i
    return s


def for_np_sum_inside(v, n):
    s = 0.0
    for i in range(n):
        s = s + np.sum(v * v) * (i + 1)
        v = np.sin(v) + 0.1 * v
    return s + np.sum(v)


def for_assigned_in_one_branch_inside(x):
    t = 0.5
    for i in range(4):
        if x * i > 1.0:
            t = x * i + t
    return t * x


def for_writes_array_elements(x, n):
    y = np.zeros(n)
    for i in range(n):
        y[i] = math.sin(x * (i + 1))
    return np.sum(y * y)


def for_index_loop(v, w):
    s = 0.0
    for i in range(len(v)):
        s = s + v[i] * w[len(w) - 1 - i]
    return s


# ---------------------------------------------------------------- for loops over containers


def for_over_list(x):
    s = 0.0
    for c in [1.0, -2.0, 0.5]:
        s = s * x + c
    return s


def for_over_tuple_of_constants(x):
    p = 1.0
    for c in (0.5, 1.5, 2.5):
        p = p * (x - c)
    return p


def for_over_tuple_of_arguments(x, y):
    s = 0.0
    for v in (x, y, x * y):
        s = s + v * v
    return s


def for_over_array(v):
    s = 0.0
    for e in v:
        s = s + e * math.exp(e)
    return s


def for_over_array_rows(m):
    s = 0.0
    for row in m:
        s = s + np.sum(row) ** 2
    return s


def for_enumerate(v):
    s = 0.0
    for i, e in enumerate(v):
        s += e * i + e * e
    return s


def for_zip(u, v):
    s = 0.0
    # the keyword-free spelling is the one under test: `strict=` is checked by for_zip_strict
    for a, b in zip(u, v):  # noqa: B905
        s = s + a * math.sin(b)
    return s


def for_zip_strict(u, v, w):
    s = 0.0
    for a, b, c in zip(u, v, w, strict=True):
        s = s + a * math.sin(b) * c
    return s


def for_enumerate_zip(u, v):
    s = 0.0
    for i, (a, b) in enumerate(zip(u, v, strict=True)):
        s = s + (i + 1.0) * a * math.cos(b)
    return s


def for_reversed(v, x):
    s = 0.0
    for c in reversed(v):
        s = s * x + c
    return s


def horner(coeffs, x):
    y = 0.0
    for c in coeffs:
        y = y * x + c
    return y


def max_of_array_via_branches(v):
    m = v[0]
    for e in v:
        if e > m:
            m = e
    return m * np.sum(v)


def min_of_array_via_branches(v):
    m = v[0]
    for e in v:
        m = e if e < m else m
    return m + np.sum(v * v)


def euler_decay(y0, k):
    y = y0
    t = 0.0
    dt = 0.02
    for _ in range(50):
        y = y + dt * (-k * y + math.sin(t))
        t = t + dt
    return y


def euler_oscillator(state, omega):
    q = state[0]
    p = state[1]
    dt = 0.02
    for _ in range(50):
        q_new = q + dt * p
        p = p - dt * omega * omega * q
        q = q_new
    return q * q + p


def euler_array_state(y, k):
    for _ in range(50):
        y = y + 0.02 * (-k * y + np.sin(y))
    return np.sum(y * y)


# ---------------------------------------------------------------- jumps in for loops


def for_break(x):
    s = 0.0
    for i in range(10):
        s = s + x * i
        if s > 5.0:
            break
    return s * x


def for_continue(x):
    s = 0.0
    for i in range(8):
        if i % 3 == 0:
            continue
        s = s + math.sin(x * i)
    return s


def for_continue_data_dependent(v):
    s = 0.0
    for e in v:
        if e < 0.0:
            continue
        s = s + e * e
    return s


def for_break_and_continue(x, n):
    s = x
    for i in range(n):
        if i == 1:
            continue
        s = s * 1.5 + x
        if s > 20.0:
            break
    return s


def for_else_without_break(x, limit):
    s = 0.0
    for i in range(4):
        s = s + x * x * i
        if s > limit:
            break
    else:
        s = s * math.exp(x)
    return s


def for_break_with_else(x):
    for i in range(5):
        if x * i > 2.0:
            r = x * i
            break
    else:
        r = -x
    return r * x


def for_nested_break(x):
    s = 0.0
    for i in range(4):
        for j in range(5):
            if j > i:
                break
            s = s + x ** j
    return s


def for_return_inside(x):
    s = x
    for i in range(10):
        s = s * 1.3 + math.sin(x)
        if s > 3.0:
            return s * i
    return -s


def for_return_inside_nested(x, limit):
    s = 0.0
    for i in range(3):
        for j in range(3):
            s = s + x * (i + j + 1)
            if s > limit:
                return s * x
    return s + 1.0


# ---------------------------------------------------------------- while loops


def while_newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x


def while_data_dependent_trips(x):
    y = x
    while y < 10.0:
        y = y * 1.5 + x
    return y


def while_counter(x, n):
    i = 0
    s = x
    while i < n:
        s = s * math.cos(s) + x
        i += 1
    return s


def while_true_break(x):
    y = x
    while True:
        y = y * y + 0.1
        if y > 4.0:
            break
    return y


def while_true_break_at_start(x):
    y = x
    k = 0
    while True:
        if k >= 3:
            break
        y = math.sin(y) + x
        k = k + 1
    return y


def while_with_else(x):
    y = x
    while y < 3.0:
        y = y + math.exp(-y)
    else:
        y = y * x
    return y


def while_inside_for(x):
    s = 0.0
    for i in range(3):
        y = x + i
        while y < 5.0:
            y = y * 1.7
        s = s + y
    return s


def for_inside_while(x):
    y = x
    while y < 6.0:
        for i in range(2):
            y = y + math.sqrt(y) * 0.5 + i * 0.1
    return y


def while_return_inside(x):
    y = x
    while y < 100.0:
        y = y * 2.0 + 1.0
        if y > 50.0:
            return y * x
    return y


def while_fixed_point(x):
    y = 0.5
    z = math.cos(x * y)
    while abs(z - y) > 1e-13:
        y = z
        z = math.cos(x * y)
    return z


def while_and_condition(x, n):
    i = 0
    s = x
    while i < n and s < 10.0:
        s = s * 1.4 + math.exp(-s)
        i += 1
    return s


def while_inside_for_return(x):
    s = x
    for i in range(3):
        y = x * (i + 1)
        while y < 4.0:
            y = y * 1.9
            if y > 7.0:
                return y * s
        s = s + y
    return s


def while_continue(x):
    i = 0
    while i < 5:
        i = i + 1
        if i == 2:
            continue
        x = x * 1.1 + math.sin(x)
    return x


def while_continue_data_dependent(x):
    y = x
    while y < 8.0:
        y = y * 1.3 + 0.1
        if y < 2.0:
            continue
        y = y + math.sin(y)
    return y


def while_continue_inside_for(x):
    s = x
    for k in range(3):
        i = 0
        while i < 3:
            i = i + 1
            if i == k:
                continue
            s = s * 1.1 + math.cos(s)
    return s


def for_continue_inside_while(x):
    y = x
    while y < 6.0:
        for i in range(3):
            if i == 1:
                continue
            y = y * 1.5
    return y


# ---------------------------------------------------------------- the records


def _f(*values):
    return np.array(values, dtype=float)


def _cases(f, *arg_tuples, xfail=None):
    """One record per argument tuple; `xfail` (a reason) marks them all as known failures."""
    if xfail is None:
        return [(f, args) for args in arg_tuples]
    mark = pytest.mark.xfail(strict=True, reason=xfail)
    return [pytest.param(f, args, marks=mark) for args in arg_tuples]


CASES = [
    *_cases(if_else, (1.0, 0.5), (0.2, 0.7)),
    *_cases(if_elif_else, (-2.0,), (0.3,), (2.0,), (4.0,)),
    *_cases(if_nested, (0.5, 0.7), (0.5, -0.3), (-0.5, 1.4), (-0.5, 0.2)),
    *_cases(if_without_else, (0.5,), (1.7,)),
    *_cases(if_assigned_in_one_branch, (1.2, 0.4), (0.3, 0.9)),
    *_cases(if_on_global_threshold, (0.7,), (1.9,), (-1.8,)),
    *_cases(conditional_expression, (0.8, 1.3), (-0.6, 1.3)),
    *_cases(conditional_expression_nested, (-0.4,), (1.1,), (3.3,)),
    *_cases(conditional_expression_in_call, (0.3, 0.9), (0.9, 0.3)),
    *_cases(condition_and, (0.4, 0.6), (-0.4, 0.6), (0.4, -0.6)),
    *_cases(condition_or, (1.3, 0.2), (0.4, -1.6), (0.4, 0.2)),
    *_cases(condition_not, (0.6,), (1.4,)),
    *_cases(condition_mixed_boolean, (0.5, 0.4, 1.0), (0.5, 1.6, 1.0), (-0.5, 1.6, -0.7),
            (-0.5, 0.4, 0.8)),
    *_cases(condition_chained_comparison, (0.5, 0.1, 0.9), (-0.3, 0.1, 0.9),
            (1.4, 0.1, 0.9)),
    *_cases(condition_chained_three, (0.2, 0.7), (-1.5, 0.7), (0.9, 0.2), (0.5, 2.5)),
    *_cases(condition_on_integer, (0.7, 2), (0.7, 3)),
    *_cases(max_via_branches, (1.1, 0.4), (0.3, 0.8)),
    *_cases(min_of_three_via_branches, (0.2, 0.5, 0.9), (0.6, 0.1, 0.9), (0.6, 0.5, -0.3)),
    *_cases(piecewise_smooth, (-3.0,), (-0.7,), (0.6,), (2.2,)),
    *_cases(several_returns, (-0.5, 0.3), (0.5, 0.8), (2.0, 1.5)),
    *_cases(branch_on_array_sum, (_f(0.4, -0.1, 0.3),), (_f(-0.4, 0.1, -0.3),)),
    *_cases(branch_selects_array, (_f(0.4, 0.7), _f(0.9, 0.2)), (_f(0.4, -0.7), _f(-0.9, 0.2))),
    *_cases(for_range_n, (0.7, 0), (0.7, 1), (0.7, 5)),
    *_cases(for_range_start_stop, (0.3, 2, 6), (0.3, 4, 4), (-1.2, -2, 3)),
    *_cases(for_range_negative_step, (0.7,), (-1.3,)),
    *_cases(for_range_negative_step_from_args, (0.4, 1, 9), (0.4, 3, 4), (0.4, 5, 2)),
    *_cases(for_range_int_of_argument, (0.5,), (1.2,), (2.1,)),
    *_cases(for_overwrites_variable, (0.3, 0), (0.3, 1), (0.3, 20), (-2.0, 7)),
    *_cases(for_accumulate, (0.6, 0), (0.6, 4)),
    *_cases(for_product, (0.4, 1), (0.4, 5), (-0.5, 4)),
    *_cases(for_swap, (0.3, 0.8), (-1.1, 0.5)),
    *_cases(for_variable_from_last_iteration, (0.9,), (-0.3,)),
    *_cases(for_nested, (0.7, 0), (0.7, 3)),
    *_cases(for_nested_triangular, (0.6,), (-0.8,)),
    *_cases(for_branch_inside, (0.6,), (-1.4,)),
    *_cases(for_data_dependent_branch_inside, (0.3, 1), (1.7, 1), (0.3, 6), (2.5, 6)),
    *_cases(for_conditional_expression_inside, (0.6,), (-2.0,)),
    *_cases(for_np_sum_inside, (_f(0.3, -0.2, 0.5), 0), (_f(0.3, -0.2, 0.5), 3)),
    *_cases(for_assigned_in_one_branch_inside, (0.3,), (0.8,)),
    *_cases(for_writes_array_elements, (0.7, 3), (-0.4, 1)),
    *_cases(for_index_loop, (_f(0.5, 0.3, -0.2), _f(1.0, 2.0, 3.0)), (_f(0.5), _f(-1.5))),
    *_cases(for_over_list, (0.7,), (-1.6,)),
    *_cases(for_over_tuple_of_constants, (0.9,), (3.1,)),
    *_cases(for_over_tuple_of_arguments, (0.9, -0.4), (1.3, 2.0)),
    *_cases(for_over_array, (_f(0.2, -0.5, 1.1),), (_f(0.7),)),
    *_cases(for_over_array_rows, (np.array([[0.2, 0.4], [-0.3, 0.9], [1.1, 0.1]]),),
            (np.array([[-0.6, 1.3, 0.2]]),)),
    *_cases(for_enumerate, (_f(0.2, -0.5, 1.1, 0.4),), (_f(1.5),)),
    *_cases(for_zip, (_f(0.2, -0.5, 1.1), _f(0.9, 0.3, -0.4)), (_f(-0.7), _f(1.2))),
    *_cases(for_zip_strict, (_f(0.2, -0.5), _f(0.9, 0.3), _f(1.5, -2.0)),
            (_f(-0.7), _f(1.2), _f(0.4))),
    *_cases(for_enumerate_zip, (_f(0.2, -0.5, 1.1), _f(0.9, 0.3, -0.4)), (_f(-0.7), _f(1.2))),
    *_cases(for_reversed, (_f(1.0, -2.0, 0.5), 0.7), (_f(0.3, 0.4), -1.2)),
    *_cases(horner, (_f(2.0, -1.0, 0.5, 3.0), 0.8), (_f(1.5), -0.4)),
    *_cases(max_of_array_via_branches, (_f(0.2, 1.5, 0.7),), (_f(2.0, 0.1, 0.4),),
            (_f(0.2, 0.5, 0.9),)),
    *_cases(min_of_array_via_branches, (_f(0.2, 1.5, -0.7),), (_f(-2.0, 0.1, 0.4),),
            (_f(0.9, 0.5, 0.2),)),
    *_cases(euler_decay, (1.0, 0.5), (-0.4, 2.0)),
    *_cases(euler_oscillator, (_f(1.0, 0.0), 2.0), (_f(0.3, -0.5), 0.7)),
    *_cases(euler_array_state, (_f(0.5, -0.3, 1.2), 0.8), (_f(-1.0, 2.0), 3.0)),
    *_cases(for_break, (0.2,), (0.45,), (-0.3,)),
    *_cases(for_continue, (0.4,), (-1.1,)),
    *_cases(for_continue_data_dependent, (_f(0.3, -0.2, 0.8),), (_f(-0.3, -0.2),)),
    *_cases(for_break_and_continue, (0.5, 6), (2.0, 6), (0.5, 1)),
    *_cases(for_else_without_break, (0.3, 10.0), (1.4, 2.0)),
    *_cases(for_break_with_else, (0.3,)),
    *_cases(for_break_with_else, (0.7,)),
    *_cases(for_nested_break, (0.7,), (-1.3,)),
    *_cases(for_return_inside, (0.2,), (-0.5,), (1.1,)),
    *_cases(for_return_inside_nested, (0.3, 1.7), (0.3, 100.0)),
    *_cases(for_return_inside_nested, (0.05, 1.0)),
    *_cases(while_newton_sqrt, (2.0,), (0.3,), (17.0,)),
    *_cases(while_data_dependent_trips, (0.3,), (2.2,), (12.0,)),
    *_cases(while_counter, (0.4, 0), (0.4, 5)),
    *_cases(while_and_condition, (0.5, 3), (0.5, 30)),
    *_cases(while_true_break, (1.2,), (2.5,), (-1.7,)),
    *_cases(while_true_break_at_start, (0.4,), (-1.3,)),
    *_cases(while_with_else, (0.5,), (3.5,)),
    *_cases(while_inside_for, (0.7,), (2.3,)),
    *_cases(while_inside_for_return, (0.3,), (4.5,)),
    *_cases(while_inside_for_return, (0.5,)),
    *_cases(for_inside_while, (0.8,), (7.0,)),
    *_cases(while_return_inside, (0.7,), (1.3,), (150.0,)),
    *_cases(while_fixed_point, (0.8,), (1.2,)),
    *_cases(while_continue, (0.4,), (-1.2,)),
    *_cases(while_continue_data_dependent, (3.0,), (9.0,)),
    *_cases(while_continue_data_dependent, (0.5,)),
    *_cases(while_continue_inside_for, (0.4,), (2.5,)),
    *_cases(for_continue_inside_while, (0.8,), (7.0,)),
]
