"""Derivative rules for NumPy reductions: sum, mean, prod, max/min, var/std, cumsum, logsumexp.

Each rule covers the function (`np.sum(x, axis=1)`) and the method (`x.sum(axis=1)`, key
`"ndarray.sum"`), whose signatures agree once the receiver is named `a`. `axis` may be None,
an int (negative too) or a tuple; `keepdims` is honoured. The `dtype` argument is passed on to
the tangent; `out=`, `initial=` and `where=` are not supported (they do not bind to the
template, and adgen reports the call).

Adjoints broadcast `y_bar` back over the reduced axes with `expand_to(g, x, axis, keepdims)`,
which returns a fresh array in the dtype of `g * x` (a Python-float seed keeps float32).

Conventions:

- `max`/`min`/`amax`/`amin`: on a tie the derivative is shared *equally* among the elements
  that attain the extremum (`max_share`), so the gradient of `np.max([1, 1])` is `[.5, .5]`.
- `prod`: the derivative is the product of the *other* elements (`prod_others`, built from
  cumulative products from both ends), exact when some elements are zero; no division.
- `std`: the derivative divides by `y`; where the standard deviation is 0 (a length-1 axis,
  any slice of equal values) it is taken as 0 (`divide_or_zero`, `rules/limits.py`).
- `np.logaddexp.reduce(a, axis=0)` is log-sum-exp; its derivative is the softmax weights.

Adjoints scale the (small) reduced cotangent before broadcasting it. Helpers that generated
code calls carry their own rules where they are linear (`expand_to`, `keep_dims`, `centered`,
`cumsum_adjoint`) or are marked nondifferentiable (`reduced_axes`, `reduced_count`,
`max_share`), so derivative code can be differentiated again. `prod_others` has no rule of its
own: adgen differentiates its source (cumulative products, which have rules), so `prod` has
second and higher derivatives, exact with zeros.
"""

import math

import numpy as np

from adgen.arrays import as_array, chunked_like, is_array
from adgen.rules.limits import divide_or_zero
from adgen.rules.registry import adjoint, linear, nondifferentiable, tangent
from adgen.runtime import real_only

# ---------------------------------------------------------------- helpers


def reduced_axes(axis, ndim):
    """The reduced axes as a tuple of non-negative ints (every axis when `axis` is None)."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(int(i) % ndim if ndim else int(i) for i in axes)


def reduced_count(a, axis=None):
    """How many elements of `a` each output of a reduction over `axis` combines."""
    shape = np.shape(a)
    return math.prod(shape[i] for i in reduced_axes(axis, len(shape)))


def keep_dims(g, x, axis=None, keepdims=False):
    """`g`, a reduction of `x` over `axis`, with the reduced axes put back with length 1."""
    if keepdims or axis is None or np.ndim(g) == 0:
        return g
    return np.expand_dims(g, reduced_axes(axis, np.ndim(x)))


def expand_to(g, x, axis=None, keepdims=False):
    """Broadcast `g`, a reduction of `x` over `axis`, back to the shape of `x` (a new array)."""
    return keep_dims(g, x, axis, keepdims) * np.ones_like(x)


def centered(a, axis=None):
    """`a` minus its mean over `axis` (complex `a` is refused: `var` of complex numbers is not
    the sum of squares these rules differentiate)."""
    real_only(a, "np.var / np.std")
    return a - np.mean(a, axis=axis, keepdims=True)


def max_share(a, y, axis=None, keepdims=False):
    """How much of the derivative of `y = max(a, axis)` (or min) each element of `a` takes.

    1 where `a` attains the extremum, split equally between tied elements, 0 elsewhere.
    """
    hit = real_only(a, "max / min") == keep_dims(y, a, axis, keepdims)
    hit = hit.astype(np.result_type(a, 1.0)) if is_array(hit) else float(hit)
    return hit / np.sum(hit, axis=axis, keepdims=True)


def prod_others(a, axis=None):
    """For each element of `a`, the product of the other elements of its reduction over `axis`.

    Exact when `a` has zeros: it multiplies exclusive cumulative products from both ends.
    """
    a = as_array(a)
    axes = reduced_axes(axis, a.ndim)
    if not axes:
        return np.ones_like(a)
    ends = tuple(range(a.ndim - len(axes), a.ndim))
    moved = np.moveaxis(a, axes, ends)
    rows = moved.reshape(moved.shape[: a.ndim - len(axes)] + (math.prod(moved.shape[ends[0]:]),))
    ones = np.ones_like(rows[..., :1])
    before = np.cumprod(np.concatenate([ones, rows[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, rows[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return chunked_like(np.moveaxis(np.reshape(before * after, moved.shape), ends, axes), a)


def cumsum_adjoint(g, a, axis=None):
    """The adjoint of `np.cumsum(a, axis)`: a reversed cumulative sum, in the shape of `a`."""
    if axis is None:
        return np.reshape(np.cumsum(g[::-1])[::-1], np.shape(a))
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


nondifferentiable(reduced_axes, reduced_count, max_share)
linear(keep_dims, expand_to, centered, cumsum_adjoint)


@adjoint(keep_dims)
def keep_dims_bar(y, g, x, axis=None, keepdims=False, *, y_bar):
    return np.reshape(y_bar, np.shape(g))


@adjoint(expand_to)
def expand_to_bar(y, g, x, axis=None, keepdims=False, *, y_bar):
    return np.sum(y_bar, axis=axis, keepdims=keepdims)


@adjoint(centered)
def centered_bar(y, a, axis=None, *, y_bar):
    return centered(y_bar, axis)


@adjoint(cumsum_adjoint)
def cumsum_adjoint_bar(y, g, a, axis=None, *, y_bar):
    return np.cumsum(y_bar, axis=axis)


# ---------------------------------------------------------------- sum, mean, prod


@tangent(np.sum, "ndarray.sum")
def sum_dot(y, a, axis=None, dtype=None, out=None, keepdims=False, *, a_dot):
    return np.sum(a_dot, axis=axis, dtype=dtype, keepdims=keepdims)


@adjoint(np.sum, "ndarray.sum")
def sum_bar(y, a, axis=None, dtype=None, out=None, keepdims=False, *, y_bar):
    return expand_to(y_bar, a, axis, keepdims)


@tangent(np.mean, "ndarray.mean")
def mean_dot(y, a, axis=None, dtype=None, out=None, keepdims=False, *, a_dot):
    return np.mean(a_dot, axis=axis, dtype=dtype, keepdims=keepdims)


@adjoint(np.mean, "ndarray.mean")
def mean_bar(y, a, axis=None, dtype=None, out=None, keepdims=False, *, y_bar):
    return expand_to(y_bar / reduced_count(a, axis), a, axis, keepdims)


@tangent(np.prod, "ndarray.prod")
def prod_dot(y, a, axis=None, dtype=None, out=None, keepdims=False, *, a_dot):
    return np.sum(a_dot * prod_others(a, axis), axis=axis, keepdims=keepdims)


@adjoint(np.prod, "ndarray.prod")
def prod_bar(y, a, axis=None, dtype=None, out=None, keepdims=False, *, y_bar):
    return expand_to(y_bar, a, axis, keepdims) * prod_others(a, axis)


# ---------------------------------------------------------------- max, min (ties share equally)


@tangent(np.max, np.amax, np.min, np.amin, "ndarray.max", "ndarray.min")
def max_dot(y, a, axis=None, out=None, keepdims=False, *, a_dot):
    return np.sum(a_dot * max_share(a, y, axis, keepdims), axis=axis, keepdims=keepdims)


@adjoint(np.max, np.amax, np.min, np.amin, "ndarray.max", "ndarray.min")
def max_bar(y, a, axis=None, out=None, keepdims=False, *, y_bar):
    return expand_to(y_bar, a, axis, keepdims) * max_share(a, y, axis, keepdims)


# ---------------------------------------------------------------- var, std


@tangent(np.var, "ndarray.var")
def var_dot(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, a_dot):
    return (np.sum(a_dot * centered(a, axis), axis=axis, keepdims=keepdims)
            * (2.0 / (reduced_count(a, axis) - ddof)))


@adjoint(np.var, "ndarray.var")
def var_bar(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, y_bar):
    return (expand_to(y_bar * (2.0 / (reduced_count(a, axis) - ddof)), a, axis, keepdims)
            * centered(a, axis))


@tangent(np.std, "ndarray.std")
def std_dot(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, a_dot):
    return divide_or_zero(np.sum(a_dot * centered(a, axis), axis=axis, keepdims=keepdims),
                          (reduced_count(a, axis) - ddof) * y)


@adjoint(np.std, "ndarray.std")
def std_bar(y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, y_bar):
    return (expand_to(divide_or_zero(y_bar, y * (reduced_count(a, axis) - ddof)), a, axis,
                      keepdims) * centered(a, axis))


# ---------------------------------------------------------------- cumsum, log-sum-exp


@tangent(np.cumsum, "ndarray.cumsum")
def cumsum_dot(y, a, axis=None, dtype=None, out=None, *, a_dot):
    return np.cumsum(a_dot, axis=axis, dtype=dtype)


@adjoint(np.cumsum, "ndarray.cumsum")
def cumsum_bar(y, a, axis=None, dtype=None, out=None, *, y_bar):
    return cumsum_adjoint(y_bar, a, axis)


@tangent(np.logaddexp.reduce)
def logsumexp_dot(y, a, axis=0, dtype=None, out=None, keepdims=False, *, a_dot):
    return np.sum(a_dot * np.exp(a - keep_dims(y, a, axis, keepdims)), axis=axis,
                  keepdims=keepdims)


@adjoint(np.logaddexp.reduce)
def logsumexp_bar(y, a, axis=0, dtype=None, out=None, keepdims=False, *, y_bar):
    return expand_to(y_bar, a, axis, keepdims) * np.exp(a - keep_dims(y, a, axis, keepdims))
