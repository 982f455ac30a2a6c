"""A catalog of scalar-valued functions for second- and third-order derivative checks.

`CASES` lists `(function, args)` records, one per function. The first argument is always the
one differentiated: a Python float or a small float array. Any further arguments are integers
(trip counts, recursion depths) that are never differentiated. `SCALAR_CASES` are the records
whose first argument is a float (for `grad(grad(f))` and third-order checks), `ARRAY_CASES`
the rest.

Between them the functions use `if`/`else` on intermediate values (not only on the inputs),
`for` loops that overwrite and accumulate, `while` loops whose exit depends on the data,
`break`, early `return`, calls to other user functions (nested two deep), recursion on an
integer depth and on a float, `math`, and NumPy (`tanh`, `exp`, `log1p`, `sin`, `cos`, `@` with
constant matrices from module scope, `sum`, `max`, `linalg.norm`). The arguments keep every
branch test, loop exit and `max` well away from its boundary, so central differences of the
gradient never change the path taken; `test_higher_order.py` asserts those margins.

Function names are unique: they name the test cases.
"""

import math

import numpy as np

# Constants from module scope: generated code must read them, never differentiate them.
A = np.array([[0.8, -0.4, 0.3], [0.2, 0.9, -0.5], [-0.6, 0.1, 0.7]])
B = np.array([[2.0, 0.5, -0.3], [0.1, 1.5, 0.4], [-0.2, 0.3, 1.0]])  # not symmetric
W = np.array([[0.5, -0.3, 0.2], [0.4, 0.6, -0.1]])
COEFFS = (0.3, -1.2, 0.5, 2.0, -0.7)

# ---------------------------------------------------------------- helpers called by the catalog


def bump(u):
    return u * math.exp(-u * u)


def smooth_abs(u):
    return math.sqrt(u * u + 0.25)


def two_level(u):
    return smooth_abs(bump(u) + 0.3) * u


def layer(x):
    return np.tanh(A @ x)


def sq_norm(v):
    return np.sum(v * v)


# ---------------------------------------------------------------- scalar argument


def horner(x):
    acc = 0.0
    for c in COEFFS:
        acc = acc * x + c
    return acc * math.sin(x)


def branch_on_product(x):
    t = math.sin(x) * x
    if t > 0.2:
        y = t * t * math.exp(-x)
    else:
        y = math.cos(t) + x**3
    return y


def branch_ternary(x):
    u = math.exp(-x) * x
    v = u * u if u > 0.5 else math.sin(u) + u**3
    return v * x


def while_grow(x):
    y = x
    n = 0
    while y < 5.0:
        y = y * 1.7 + math.sin(x)
        n += 1
    return y * math.log(y) + n


def loop_overwrite(x):
    for _ in range(4):
        x = math.sin(x) * 0.9 + 0.3 * x * x
    return x


def euler_decay(x, steps):
    y = 1.0
    h = 0.1
    for _ in range(steps):
        y = y + h * (-x * y + math.sin(y))
    return y * y


def calls_helpers(x):
    return bump(x) * smooth_abs(x) + two_level(x * 0.5)


def recursive_depth(x, n):
    if n == 0:
        return math.exp(x) * 0.5
    return math.sin(recursive_depth(x, n - 1)) + x * recursive_depth(x, n - 1) * 0.3


def recursive_halving(x):
    if x < 0.4:
        return x * x + math.sin(x)
    return recursive_halving(x * 0.5) * x + math.cos(x)


def loop_break(x):
    s = 0.0
    for k in range(10):
        s = s + math.sin(x * (k + 1)) ** 2
        if s > 1.6:
            break
    return s * x


def early_return(x):
    y = x * x
    if y > 1.0:
        return math.log(y) * x
    return y * math.exp(x)


def math_mix(x):
    return math.sqrt(1.0 + x**2) * math.atan(x) + math.tanh(x) ** 3 / (2.0 + math.cos(x))


def while_newton(x):
    # Newton's iteration for sqrt(x), stopped by its residual: the trip count depends on x.
    r = 1.0
    while abs(r * r - x) > 1e-3:
        r = 0.5 * (r + x / r)
    return r * r * r


# ---------------------------------------------------------------- array argument


def tanh_matmul(x):
    return np.sum(np.tanh(A @ x) ** 2) + 0.1 * np.sum(x**3)


def quadratic_form(x):
    return x @ (B @ x) + np.sum(np.exp(0.3 * x))


def norm_exp(x):
    return np.linalg.norm(x) * np.exp(-0.5 * np.sum(x * x))


def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def rosenbrock(x):
    s = 0.0
    for i in range(len(x) - 1):
        s = s + 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def two_layers(x):
    h = np.tanh(W @ x)
    return np.sum(np.log1p(np.exp(h))) + sq_norm(layer(x)) * 0.5


def loop_layers(x):
    for _ in range(3):
        x = layer(x) + 0.5 * x
    return sq_norm(x)


def branch_array(x):
    s = np.sum(np.sin(x))
    if s > 0.0:
        y = np.sum(np.exp(x) * x)
    else:
        y = np.sum(x**4)
    return y * s


def while_array(x):
    y = x
    n = 0
    while np.sum(y * y) < 9.0:
        y = 1.4 * y + 0.2 * np.cos(x)
        n += 1
    return np.sum(np.tanh(y)) + n


def pair_energy(x):
    e = 0.0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            d = x[i] - x[j]
            e = e + 1.0 / (d * d + 1.0)
    return e


def recursive_array(x, n):
    if n == 0:
        return np.sum(np.cos(x))
    return recursive_array(np.tanh(x) * 1.1, n - 1) + np.sum(x * x) * 0.1


def softmax_entropy(x):
    z = np.exp(x - np.max(x))
    p = z / np.sum(z)
    return -np.sum(p * np.log(p))


X3 = np.array([0.4, -0.7, 1.1])

CASES = [
    (horner, (0.7,)),
    (branch_on_product, (1.3,)),
    (branch_ternary, (2.0,)),
    (while_grow, (0.8,)),
    (loop_overwrite, (0.6,)),
    (euler_decay, (0.8, 5)),
    (calls_helpers, (0.9,)),
    (recursive_depth, (0.3, 3)),
    (recursive_halving, (1.7,)),
    (loop_break, (0.9,)),
    (early_return, (1.4,)),
    (math_mix, (0.6,)),
    (while_newton, (2.6,)),
    (tanh_matmul, (X3,)),
    (quadratic_form, (X3,)),
    (norm_exp, (X3,)),
    (logsumexp, (X3,)),
    (rosenbrock, (np.array([0.5, 0.8, 1.2, 0.9]),)),
    (two_layers, (X3,)),
    (loop_layers, (X3,)),
    (branch_array, (X3,)),
    (while_array, (np.array([0.3, -0.2, 0.5]),)),
    (pair_energy, (X3,)),
    (recursive_array, (X3, 2)),
    (softmax_entropy, (X3,)),
]

SCALAR_CASES = [case for case in CASES if isinstance(case[1][0], float)]
ARRAY_CASES = [case for case in CASES if isinstance(case[1][0], np.ndarray)]

# ---------------------------------------------------------------- array-valued, for Jacobians


def tanh_of_matmul(x):
    return np.tanh(A @ x)


def elementwise(x):
    return np.sin(x) * np.exp(-x) + x**2


def loop_vector(x):
    out = []
    acc = 0.0
    for i in range(len(x)):
        acc = acc + x[i] * x[i]
        out.append(math.sin(acc) + x[i])
    return np.array(out)


def matrix_input(m):
    return np.tanh(m @ np.array([0.5, -1.0])) * np.sum(m)


VECTOR_CASES = [
    (tanh_of_matmul, (X3,)),
    (elementwise, (np.array([0.3, -0.5, 1.2, 0.8]),)),
    (loop_vector, (X3,)),
    (matrix_input, (np.array([[0.2, -0.4], [0.7, 0.1], [-0.3, 0.5]]),)),
]
