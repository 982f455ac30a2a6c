"""Derivative rules for NumPy's products: `@`, `matmul`, `dot`, `inner`, `outer`, `tensordot`,
`einsum` (and the method `x.dot(y)`).

Tangents are sums of terms each linear in one tangent (`a_dot @ b + a @ b_dot`), so an
inactive argument's term folds away. Only `*`, `/` and `@` fold a symbolic zero; a zero left
inside a call becomes `0.0`, so the contractions that can receive one (`contract`, the
`*_adjoint_*` helpers, `einsum_term`) return 0.0 when an operand is 0.0 (`is_zero`).

Adjoints are written with helpers that handle every rank NumPy accepts:
`matmul_adjoint_a/_b` undo 1-D promotion and batch broadcasting of `matmul`;
`tensordot_adjoint_a/_b` contract the cotangent with the other operand and put the axes back
in order (`dot` and `inner` are tensordots, see `dot_axes`, `inner_axes`); `einsum_adjoint`
builds the einsum that gives operand k from the cotangent and the other operands (ellipses,
implicit output, repeated and summed-out letters are handled). These helpers are multilinear
and carry their own rules, so derivative code can be differentiated again.

`einsum` takes its subscripts string and at most four operands, or the sublist form
`np.einsum(x, [0, 1], y, [1, 2], [0, 2])` with at most two operands (`einsum_parts` spells it
as a string; an operand may then be the first argument, so the helpers count *positions*
among `(subscripts, a, b, c, d)`); `optimize=` is not accepted. The lowering spells constant
sublists as the string and splits an einsum of more operands into a chain of einsums of at
most four (`frontend.lower_builtins`); what still has more does not bind to the templates:
adgen refuses the call.
`einsum_adjoint`'s own rules go through `einsum_with` and `einsum_cross`, which have none:
einsum has second derivatives but not third.
"""

import operator
import string

import numpy as np

from adgen.arrays import as_array
from adgen.rules.registry import adjoint, container_result, nondifferentiable, tangent
from adgen.runtime import unbroadcast


def _zeros_of(x):
    """Zeros shaped like `x` (a zero tangent or adjoint that stays an array where `x` is)."""
    return np.zeros(np.shape(x), dtype=np.result_type(x, 1.0)) if np.ndim(x) else 0.0


def is_zero(t):
    """Whether `t` is the literal zero that stands for a folded (inactive) tangent."""
    return isinstance(t, (int, float)) and t == 0


def _given_like(g, x):
    """The adjoint `g` of an operand given as a (nested) list: a list of the items' adjoints."""
    if isinstance(x, (list, tuple)):
        return [_given_like(gi, xi) for gi, xi in zip(g, x, strict=True)]
    return g


# ---------------------------------------------------------------- matmul


def matmul_adjoint_a(g, a, b):
    """The adjoint of `a` in `y = a @ b`: `g @ b.T`, for 1-D operands and broadcast batches."""
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):  # `@` makes arrays of them
        return _given_like(matmul_adjoint_a(g, np.asarray(a), np.asarray(b)), a)
    if is_zero(g) or is_zero(b):
        return _zeros_of(a)  # shaped, so later array operations still fit
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return g * b
    if np.ndim(b) == 1:
        g, b = g[..., None], b[:, None]
    if np.ndim(a) == 1:
        g = g[..., None, :]
    ga = g @ np.swapaxes(b, -1, -2)
    return unbroadcast(ga[..., 0, :] if np.ndim(a) == 1 else ga, a)


def matmul_adjoint_b(g, a, b):
    """The adjoint of `b` in `y = a @ b`: `a.T @ g`, for 1-D operands and broadcast batches."""
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):  # `@` makes arrays of them
        return _given_like(matmul_adjoint_b(g, np.asarray(a), np.asarray(b)), b)
    if is_zero(g) or is_zero(a):
        return _zeros_of(b)  # shaped, so later array operations still fit
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return g * a
    if np.ndim(a) == 1:
        g, a = g[..., None, :], a[None, :]
    if np.ndim(b) == 1:
        g = g[..., None]
    gb = np.swapaxes(a, -1, -2) @ g
    return unbroadcast(gb[..., 0] if np.ndim(b) == 1 else gb, b)


@tangent(operator.matmul, np.matmul)
def matmul_dot(y, a, b, *, a_dot, b_dot):
    return a_dot @ b + a @ b_dot


@adjoint(operator.matmul, np.matmul)
def matmul_bar(y, a, b, *, y_bar):
    return matmul_adjoint_a(y_bar, a, b), matmul_adjoint_b(y_bar, a, b)


container_result(matmul_adjoint_a, matmul_adjoint_b)  # list operands get lists of adjoints


@tangent(matmul_adjoint_a)
def matmul_adjoint_a_dot(y, g, a, b, *, g_dot, b_dot):
    return matmul_adjoint_a(g_dot, a, b) + matmul_adjoint_a(g, a, b_dot)


@adjoint(matmul_adjoint_a)
def matmul_adjoint_a_bar(y, g, a, b, *, y_bar):
    return np.matmul(y_bar, b), None, matmul_adjoint_b(g, y_bar, b)


@tangent(matmul_adjoint_b)
def matmul_adjoint_b_dot(y, g, a, b, *, g_dot, a_dot):
    return matmul_adjoint_b(g_dot, a, b) + matmul_adjoint_b(g, a_dot, b)


@adjoint(matmul_adjoint_b)
def matmul_adjoint_b_bar(y, g, a, b, *, y_bar):
    return np.matmul(a, y_bar), matmul_adjoint_a(g, a, y_bar)


# ---------------------------------------------------------------- tensordot, dot, inner, outer


def contracted_axes(axes, nda, ndb):
    """`tensordot`'s `axes` (an int or a pair) as two lists of non-negative axes."""
    if isinstance(axes, (int, np.integer)):
        return list(range(nda - axes, nda)), list(range(axes))
    ia, ib = axes
    ia = [ia] if isinstance(ia, (int, np.integer)) else list(ia)
    ib = [ib] if isinstance(ib, (int, np.integer)) else list(ib)
    return [int(i) % nda for i in ia], [int(j) % ndb for j in ib]


def dot_axes(a, b):
    """`np.dot(a, b)` as a tensordot: the last axis of `a` with the second-to-last of `b`."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return 0
    return [np.ndim(a) - 1], [max(np.ndim(b) - 2, 0)]


def inner_axes(a, b):
    """`np.inner(a, b)` as a tensordot: the last axes of both."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return 0
    return [np.ndim(a) - 1], [np.ndim(b) - 1]


def tensordot_adjoint_a(g, a, b, axes=2):
    """The adjoint of `a` in `y = np.tensordot(a, b, axes)`."""
    if is_zero(g) or is_zero(b):
        return _zeros_of(a)  # shaped, so later array operations still fit
    ia, ib = contracted_axes(axes, np.ndim(a), np.ndim(b))
    free_a = [i for i in range(np.ndim(a)) if i not in ia]
    free_b = [j for j in range(np.ndim(b)) if j not in ib]
    if np.ndim(g) == 0 or np.ndim(b) == 0:
        r = g * b
    else:
        r = np.tensordot(g, b, axes=(list(range(len(free_a), np.ndim(g))), free_b))
    order = free_a + [ia[k] for k in np.argsort(ib)]
    return np.transpose(r, tuple(np.argsort(order).tolist()))


def tensordot_adjoint_b(g, a, b, axes=2):
    """The adjoint of `b` in `y = np.tensordot(a, b, axes)`."""
    if is_zero(g) or is_zero(a):
        return _zeros_of(b)  # shaped, so later array operations still fit
    ia, ib = contracted_axes(axes, np.ndim(a), np.ndim(b))
    free_a = [i for i in range(np.ndim(a)) if i not in ia]
    free_b = [j for j in range(np.ndim(b)) if j not in ib]
    if np.ndim(g) == 0 or np.ndim(a) == 0:
        r = a * g
    else:
        r = np.tensordot(a, g, axes=(free_a, list(range(len(free_a)))))
    order = [ib[k] for k in np.argsort(ia)] + free_b
    return np.transpose(r, tuple(np.argsort(order).tolist()))


nondifferentiable(is_zero, contracted_axes, dot_axes, inner_axes)


@tangent(tensordot_adjoint_a)
def tensordot_adjoint_a_dot(y, g, a, b, axes=2, *, g_dot, b_dot):
    return tensordot_adjoint_a(g_dot, a, b, axes) + tensordot_adjoint_a(g, a, b_dot, axes)


@adjoint(tensordot_adjoint_a)
def tensordot_adjoint_a_bar(y, g, a, b, axes=2, *, y_bar):
    return np.tensordot(y_bar, b, axes), None, tensordot_adjoint_b(g, y_bar, b, axes)


@tangent(tensordot_adjoint_b)
def tensordot_adjoint_b_dot(y, g, a, b, axes=2, *, g_dot, a_dot):
    return tensordot_adjoint_b(g_dot, a, b, axes) + tensordot_adjoint_b(g, a_dot, b, axes)


@adjoint(tensordot_adjoint_b)
def tensordot_adjoint_b_bar(y, g, a, b, axes=2, *, y_bar):
    return np.tensordot(a, y_bar, axes), tensordot_adjoint_a(g, a, y_bar, axes)


def contract(a, b, axes=2):
    """`np.tensordot(a, b, axes)`, or 0.0 when an operand is a folded zero tangent."""
    if is_zero(a) or is_zero(b):
        return 0.0
    return np.tensordot(a, b, axes)


@tangent(np.tensordot, contract)
def tensordot_dot(y, a, b, axes=2, *, a_dot, b_dot):
    return contract(a_dot, b, axes) + contract(a, b_dot, axes)


@adjoint(np.tensordot, contract)
def tensordot_bar(y, a, b, axes=2, *, y_bar):
    return tensordot_adjoint_a(y_bar, a, b, axes), tensordot_adjoint_b(y_bar, a, b, axes)


@tangent(np.dot, "ndarray.dot")
def dot_dot(y, a, b, out=None, *, a_dot, b_dot):
    return contract(a_dot, b, dot_axes(a, b)) + contract(a, b_dot, dot_axes(a, b))


@adjoint(np.dot, "ndarray.dot")
def dot_bar(y, a, b, out=None, *, y_bar):
    return (tensordot_adjoint_a(y_bar, a, b, dot_axes(a, b)),
            tensordot_adjoint_b(y_bar, a, b, dot_axes(a, b)))


@tangent(np.inner)
def inner_dot(y, a, b, *, a_dot, b_dot):
    return contract(a_dot, b, inner_axes(a, b)) + contract(a, b_dot, inner_axes(a, b))


@adjoint(np.inner)
def inner_bar(y, a, b, *, y_bar):
    return (tensordot_adjoint_a(y_bar, a, b, inner_axes(a, b)),
            tensordot_adjoint_b(y_bar, a, b, inner_axes(a, b)))


@tangent(np.outer)
def outer_dot(y, a, b, out=None, *, a_dot, b_dot):
    return np.outer(a_dot, b) + np.outer(a, b_dot)


@adjoint(np.outer)
def outer_bar(y, a, b, out=None, *, y_bar):
    return (np.reshape(y_bar @ np.ravel(b), np.shape(a)),
            np.reshape(np.ravel(a) @ y_bar, np.shape(b)))


# ---------------------------------------------------------------- einsum


def einsum_spec(subscripts, operands):
    """The input letter strings and the output letters of an einsum, with `...` spelled out."""
    spec = subscripts.replace(" ", "")
    lhs, out = spec.split("->") if "->" in spec else (spec, None)
    ins = lhs.split(",")
    free = [c for c in string.ascii_letters if c not in spec]
    ranks = [np.ndim(op) - len(s) + 3 for s, op in zip(ins, operands, strict=True) if "..." in s]
    ell = "".join(free[: max(ranks, default=0)])
    ins = [s.replace("...", ell[len(ell) - np.ndim(op) + len(s) - 3:]) if "..." in s else s
           for s, op in zip(ins, operands, strict=True)]
    if out is None:
        once = sorted(c for c in set("".join(ins)) if "".join(ins).count(c) == 1 and c not in ell)
        return ins, ell + "".join(once)
    return ins, out.replace("...", ell)


def einsum_parts(subscripts, a=None, b=None, c=None, d=None):
    """An einsum call's arguments as `(spec, operands, positions)`: the subscripts string, the
    operands, and each operand's position among `(subscripts, a, b, c, d)`. The sublist form
    `np.einsum(x, [0, 1], y, [1, 2], [0, 2])` interleaves operands (positions 0, 2, 4) with
    lists of axis numbers (and an optional output list last); it is spelled as a string."""
    args = [subscripts, a, b, c, d]
    if isinstance(subscripts, str):
        positions = [i for i in range(1, 5) if args[i] is not None]
        return subscripts, [args[i] for i in positions], positions
    while args[-1] is None:
        args.pop()
    out = args.pop() if len(args) % 2 else None
    spec = ",".join(_sublist_letters(sub) for sub in args[1::2])
    if out is not None:
        spec += "->" + _sublist_letters(out)
    positions = list(range(0, len(args), 2))
    return spec, [args[i] for i in positions], positions


def _sublist_letters(sub):
    return "".join("..." if s is Ellipsis else string.ascii_letters[int(s)] for s in sub)


def einsum_term(subscripts, a=None, b=None, c=None, d=None):
    """`np.einsum(subscripts, a, b, c, d)` without the `None`s; 0.0 if an operand is 0.0."""
    if any(is_zero(arg) for arg in (subscripts, a, b, c, d)):
        return 0.0
    spec, operands, _ = einsum_parts(subscripts, a, b, c, d)
    return np.einsum(spec, *operands)


def einsum_adjoint(g, subscripts, k, a=None, b=None, c=None, d=None):
    """The adjoint of the operand at position `k` of `(subscripts, a, b, c, d)` in
    `y = np.einsum(subscripts, a, b, c, d)` (None when no operand is there, 0.0 when `g` or
    another operand is 0.0)."""
    given = (subscripts, a, b, c, d)
    if given[k] is None or isinstance(given[k], (str, list)):
        return None
    if is_zero(g) or any(is_zero(arg) for j, arg in enumerate(given) if j != k):
        return 0.0
    spec, operands, positions = einsum_parts(subscripts, a, b, c, d)
    k = positions.index(k)
    ins, out = einsum_spec(spec, operands)
    x = operands[k]
    dtype = np.result_type(g, *operands)
    specs = [out] + ins[:k] + ins[k + 1:]
    args = [as_array(g, dtype=dtype)] + operands[:k] + operands[k + 1:]
    fresh = iter(c for c in string.ascii_letters if c not in "".join(ins) + out)
    target = ""
    for c, n in zip(ins[k], np.shape(x), strict=True):
        if c in target:  # a repeated letter (a diagonal): a fresh letter tied by an identity
            c2 = next(fresh)
            specs.append(c + c2)
            args.append(np.eye(n, dtype=dtype))
            c = c2
        elif c not in "".join(specs):  # summed out in the forward einsum: broadcast back
            specs.append(c)
            args.append(np.ones(n, dtype=dtype))
        target += c
    return unbroadcast(np.einsum(",".join(specs) + "->" + target, *args), x)


def _replaced(k, h, args):
    return [h if j == k else arg for j, arg in enumerate(args)]


def einsum_with(subscripts, k, h, a=None, b=None, c=None, d=None):
    """`einsum_term` with the argument at position `k` of `(subscripts, a, b, c, d)` replaced
    by `h`."""
    return einsum_term(*_replaced(k, h, (subscripts, a, b, c, d)))


def einsum_cross(g, subscripts, j, k, h, a=None, b=None, c=None, d=None):
    """`einsum_adjoint` of position `j` after position `k` is replaced by `h` (zeros if j == k:
    an operand's adjoint does not depend on the operand itself)."""
    if j == k:
        return np.zeros_like((subscripts, a, b, c, d)[j])
    args = _replaced(k, h, (subscripts, a, b, c, d))
    return einsum_adjoint(g, args[0], j, *args[1:])


nondifferentiable(einsum_spec, einsum_parts)


@tangent(np.einsum, einsum_term)
def einsum_dot(y, subscripts, a=None, b=None, c=None, d=None, *, subscripts_dot, a_dot, b_dot,
               c_dot, d_dot):
    return (einsum_term(subscripts_dot, a, b, c, d) + einsum_term(subscripts, a_dot, b, c, d)
            + einsum_term(subscripts, a, b_dot, c, d) + einsum_term(subscripts, a, b, c_dot, d)
            + einsum_term(subscripts, a, b, c, d_dot))


@adjoint(np.einsum, einsum_term)
def einsum_bar(y, subscripts, a=None, b=None, c=None, d=None, *, y_bar):
    return (einsum_adjoint(y_bar, subscripts, 0, a, b, c, d),
            einsum_adjoint(y_bar, subscripts, 1, a, b, c, d),
            einsum_adjoint(y_bar, subscripts, 2, a, b, c, d),
            einsum_adjoint(y_bar, subscripts, 3, a, b, c, d),
            einsum_adjoint(y_bar, subscripts, 4, a, b, c, d))


@tangent(einsum_adjoint)
def einsum_adjoint_dot(y, g, subscripts, k, a=None, b=None, c=None, d=None, *, g_dot,
                       subscripts_dot, a_dot, b_dot, c_dot, d_dot):
    return (einsum_adjoint(g_dot, subscripts, k, a, b, c, d)
            + einsum_cross(g, subscripts, k, 0, subscripts_dot, a, b, c, d)
            + einsum_cross(g, subscripts, k, 1, a_dot, a, b, c, d)
            + einsum_cross(g, subscripts, k, 2, b_dot, a, b, c, d)
            + einsum_cross(g, subscripts, k, 3, c_dot, a, b, c, d)
            + einsum_cross(g, subscripts, k, 4, d_dot, a, b, c, d))


@adjoint(einsum_adjoint)
def einsum_adjoint_bar(y, g, subscripts, k, a=None, b=None, c=None, d=None, *, y_bar):
    return (einsum_with(subscripts, k, y_bar, a, b, c, d),
            einsum_cross(g, subscripts, 0, k, y_bar, a, b, c, d), None,
            einsum_cross(g, subscripts, 1, k, y_bar, a, b, c, d),
            einsum_cross(g, subscripts, 2, k, y_bar, a, b, c, d),
            einsum_cross(g, subscripts, 3, k, y_bar, a, b, c, d),
            einsum_cross(g, subscripts, 4, k, y_bar, a, b, c, d))
