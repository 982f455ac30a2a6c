"""The functions `run.py` benchmarks, each beside its hand-written derivative.

Every hand-written derivative here is what a careful person would write by hand for that one
function; adgen's generated code is held to them. The peer variants (`peer_functions`) are the
same functions written against another library's array module (autograd, torch, JAX), since
those tools cannot see through `math.sin`.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

# --- 1. the book example (Bishop & Bishop, §8.2) -------------------------------------------


def book(x1, x2):
    return x1 * x2 + math.exp(x1 * x2) - math.sin(x2)


def book_adjoint(x1, x2):
    v3 = x1 * x2
    v5 = math.exp(v3)
    v3b = v5 + 1.0
    return v3b * x2, v3b * x1 - math.cos(x2)


# --- 2. a fixed loop, and 4. the same loop with a trip count as an argument ---------------


def sin_loop(x):
    for _ in range(1000):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x


def sin_loop_adjoint(x):
    stack = []
    for _ in range(1000):
        stack.append(x)
        x = math.sin(x) * 0.9 + 0.1 * x
    xb = 1.0
    for _ in range(1000):
        x = stack.pop()
        xb = xb * 0.1 + xb * 0.9 * math.cos(x)
    return xb


def sin_loop_tangent(x, xd):
    for _ in range(1000):
        xd = xd * 0.9 * math.cos(x) + 0.1 * xd
        x = math.sin(x) * 0.9 + 0.1 * x
    return x, xd


def sin_loop_derivative(x):
    """df/dx of `sin_loop` by hand: the tangent pass seeded with 1."""
    return sin_loop_tangent(x, 1.0)[1]


def sin_loop_n(x, n):
    for _ in range(n):
        x = math.sin(x) * 0.9 + 0.1 * x
    return x


def sin_loop_n_adjoint(x, n):
    stack = []
    for _ in range(n):
        stack.append(x)
        x = math.sin(x) * 0.9 + 0.1 * x
    xb = 1.0
    for _ in range(n):
        x = stack.pop()
        xb = xb * 0.1 + xb * 0.9 * math.cos(x)
    return xb


# --- 3. Newton's square root: a data-dependent while ---------------------------------------


def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x


def newton_sqrt_adjoint(a):
    x = a
    stack = []
    trips = 0
    while abs(x * x - a) > 1e-12:
        stack.append(x)
        x = 0.5 * (x + a / x)
        trips += 1
    xb = 1.0
    ab = 0.0
    for _ in range(trips):
        x = stack.pop()
        ab += 0.5 * xb / x
        xb = 0.5 * xb * (1.0 - a / (x * x))
    return ab + xb


# --- 5. a two-layer tanh network ----------------------------------------------------------


def mlp_loss(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    d = out - Y
    return np.sum(d * d)


def mlp_backprop(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    d = h @ W2 + b2 - Y
    out_b = 2.0 * d
    z_b = (out_b @ W2.T) * (1.0 - h * h)
    return X.T @ z_b, z_b.sum(axis=0), h.T @ out_b, out_b.sum(axis=0)


def mlp_data(batch, n_in, n_hidden, n_out, seed=0):
    """`(W1, b1, W2, b2, X, Y)` with weights scaled so tanh does not saturate."""
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((n_in, n_hidden)) / math.sqrt(n_in)
    W2 = rng.standard_normal((n_hidden, n_out)) / math.sqrt(n_hidden)
    b1 = 0.1 * rng.standard_normal(n_hidden)
    b2 = 0.1 * rng.standard_normal(n_out)
    X = rng.standard_normal((batch, n_in))
    Y = rng.standard_normal((batch, n_out))
    return W1, b1, W2, b2, X, Y


# --- 6. Hessian-vector product, and 7. Jacobian --------------------------------------------


def tanh_sq(A, x):
    return np.sum(np.tanh(A @ x) ** 2)


def tanh_sq_hvp(A, x, v):
    """H v for f = Σ tanh(Ax)²: with t = tanh(Ax), Aᵀ (2(1−t²)(1−3t²) ⊙ Av)."""
    t = np.tanh(A @ x)
    t2 = t * t
    return A.T @ (2.0 * (1.0 - t2) * (1.0 - 3.0 * t2) * (A @ v))


def tanh_layer(A, x):
    return np.tanh(A @ x)


def tanh_layer_jacobian(A, x):
    t = np.tanh(A @ x)
    return (1.0 - t * t)[:, None] * A


def matrix_data(n, seed=0):
    """`(A, x, v)`: an n×n matrix scaled so that A @ x stays O(1), and two vectors."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n)) / math.sqrt(n)
    return A, rng.standard_normal(n), rng.standard_normal(n)


# --- peers: the same functions over another library's array module ------------------------


def peer_functions(lib):
    """`book`, `sin_loop` and `newton_sqrt` written with `lib.exp` and `lib.sin`."""

    def book_peer(x1, x2):
        return x1 * x2 + lib.exp(x1 * x2) - lib.sin(x2)

    def sin_loop_peer(x):
        for _ in range(1000):
            x = lib.sin(x) * 0.9 + 0.1 * x
        return x

    def newton_peer(a):
        x = a
        while abs(x * x - a) > 1e-12:
            x = 0.5 * (x + a / x)
        return x

    return SimpleNamespace(book=book_peer, sin_loop=sin_loop_peer, newton_sqrt=newton_peer)


# --- 8. a generated long function with loops and branches ----------------------------------

_BLOCKS = (
    """\
    for i in range({k}):
        if x > {c}:
            x = math.sin(x) * {a} + y * {b}
        else:
            y = y * {a} + math.cos(x) * {b}
        z = z + x * y * {b}
""",
    """\
    if y < {c}:
        t = x * y + {a}
        x = x + math.tanh(t) * {b}
    elif z > {c}:
        z = z * {a} - math.exp(-abs(x)) * {b}
    else:
        y = y + z * {b}
""",
    """\
    n = 0
    while n < {k}:
        x = x * {a} + math.sin(z) * {b}
        y = y - x * {b}
        n = n + 1
""",
)


def generated_source(min_lines=300, name="generated"):
    """Source text of a module defining `name(x, y, z)` with at least `min_lines` lines of
    loops, branches and `math` calls. Deterministic: the constants follow the block index."""
    lines = ["import math", "", "", f"def {name}(x, y, z):"]
    i = 0
    while len(lines) < min_lines:
        block = _BLOCKS[i % len(_BLOCKS)]
        text = block.format(k=2 + i % 3, c=round(0.1 * (i % 7) - 0.3, 2),
                            a=round(0.9 - 0.01 * (i % 5), 2), b=round(0.05 + 0.01 * (i % 4), 2))
        lines.extend(text.splitlines())
        i += 1
    lines.append("    return x + y * z")
    return "\n".join(lines) + "\n"


def count_constructs(source):
    """`(loops, branches)` in generated source."""
    words = [line.split(maxsplit=1)[0] for line in source.splitlines() if line.strip()]
    loops = sum(w in ("for", "while") for w in words)
    branches = sum(w in ("if", "elif") for w in words)
    return loops, branches


# --- 10. build time: a generated function of N statements ----------------------------------

_STRAIGHT = (
    "    t{t} = math.sin(x) * {a} + y * {b}",
    "    x = x * {a} + math.cos(t{t}) * {b}",
    "    y = y + math.tanh(t{t} * z) * {b}",
    "    z = z * {a} + math.exp(-abs(y)) * {b} - x * {b}",
)

_COMPOUND = (  # (source, statements in it)
    ("""\
    for i in range({k}):
        x = math.sin(x) * {a} + y * {b}
        z = z + x * {b}
""", 3),
    ("""\
    if x > {c}:
        y = y * {a} + math.cos(z) * {b}
    else:
        z = z * {a} - math.sin(x) * {b}
""", 3),
    ("""\
    n = 0
    while n < {k}:
        y = y * {a} + math.tanh(x) * {b}
        n = n + 1
""", 4),
)


def statements_source(n, name="generated"):
    """Source text of a module defining `name(x, y, z)` whose body has exactly `n` statements
    (counting those inside loops and branches and the final `return`): mostly straight-line
    arithmetic with `math` calls, a loop or a branch after every twelve of them.
    Deterministic: the constants follow the statement's index."""
    lines = ["import math", "", "", f"def {name}(x, y, z):"]
    count, i, j = 0, 0, 0  # statements so far, units (statements or blocks), straight lines
    while count < n - 1:
        constants = dict(t=j - j % len(_STRAIGHT), k=2 + i % 3, c=round(0.1 * (i % 7) - 0.3, 2),
                         a=round(0.9 - 0.01 * (i % 5), 2), b=round(0.05 + 0.01 * (i % 4), 2))
        text, size = _COMPOUND[(i // 13) % len(_COMPOUND)] if i % 13 == 12 else ("", 0)
        if not size or count + size > n - 1:
            text, size = _STRAIGHT[j % len(_STRAIGHT)], 1
            j += 1
        lines.extend(text.format(**constants).splitlines())
        count += size
        i += 1
    lines.append("    return x + y * z")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- a call inside a loop


def sin_step(x):
    return math.sin(x) * 0.9 + 0.1 * x


def sin_loop_calls(x):
    for _ in range(1000):
        x = sin_step(x)
    return x
