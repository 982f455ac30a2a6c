"""NumPy functions written in terms of functions that have rules.

Each function here is registered with `implemented(np.f)`: a call of `np.f` in a
differentiated function is lowered to a call of the function below, which adgen then
differentiates from its source like a user function: forward and reverse mode, second and
higher order, batched where every operation in it has a batched form. The value is NumPy's
(to rounding: `polyval` by Horner's rule, `convolve` by shifted sums). Each takes NumPy's
parameters by position or keyword; the ones it cannot honour are refused by a `raise` with a
message naming them.

Covered: `average` (weights, axis, returned, keepdims), `polyval`, `trapezoid` (and `trapz`
where NumPy still has it), `ptp`, `vdot`, `linalg.multi_dot`, `nanmax`, `nanmin`, `nanvar`,
`nanstd`, `nanprod`, `cumulative_sum`, `cumulative_prod`, `vecdot` (and `linalg.vecdot`),
`matvec`, `vecmat`, `float_power`, `convolve` and `correlate` (1-D, every mode), `take` and
`take_along_axis`, `block` (two levels), `percentile` and `quantile` (linear
interpolation), `linalg.cond` (2-norm); and of Python's own, `functools.reduce` (the function
it is given is specialised to, as for a user function's function values) and `math.fsum`
(summed in order: the value may differ from `fsum`'s in the last bits); `apply_along_axis`
(a function value, specialised to); `np.sum` and `np.mean` with `where=` (`WHERE_FORMS`, which
the lowering calls for such calls); `np.max`/`np.min` with `initial=` (`INITIAL_FORMS`);
`np.broadcast_arrays` (`broadcast_list`, its arrays packed into one list).
"""

import functools
import math

import numpy as np

from adgen.rules.numpy_statistics import nan_count
from adgen.rules.registry import implemented


class NotCovered(ValueError):
    """An argument of a NumPy function that its implementation here does not honour."""


@implemented(np.average)
def average(a, axis=None, weights=None, returned=False, keepdims=False):
    if weights is None:
        avg = np.mean(a, axis=axis, keepdims=keepdims)
        scale = np.ones_like(avg) * (np.size(a) / np.size(avg))
    else:
        w = weights
        if np.ndim(w) != np.ndim(a):  # one weight per position along `axis`
            w = np.moveaxis(np.reshape(w, np.shape(w) + (1,) * (np.ndim(a) - 1)), 0, axis)
        w = w * np.ones_like(a)
        scale = np.sum(w, axis=axis, keepdims=keepdims)
        avg = np.sum(a * w, axis=axis, keepdims=keepdims) / scale
    if returned:
        return avg, scale
    return avg


@implemented(np.polyval)
def polyval(p, x):
    y = 0.0 * x
    for c in p:
        y = y * x + c
    return y


@implemented(getattr(np, "trapezoid", None), getattr(np, "trapz", None))
def trapezoid(y, x=None, dx=1.0, axis=-1):
    along = np.moveaxis(y, axis, -1)
    if x is None:
        d = dx
    elif np.ndim(x) == 1:
        d = np.diff(x)
    else:
        d = np.moveaxis(np.diff(x, axis=axis), axis, -1)
    return np.sum(d * (along[..., 1:] + along[..., :-1]) / 2.0, axis=-1)


@implemented(np.ptp)
def ptp(a, axis=None, out=None, keepdims=False):
    return np.max(a, axis=axis, keepdims=keepdims) - np.min(a, axis=axis, keepdims=keepdims)


@implemented(np.vdot)
def vdot(a, b):
    return np.sum(np.ravel(a) * np.ravel(b))


@implemented(np.linalg.multi_dot)
def multi_dot(arrays, out=None):
    product = arrays[0]
    for m in arrays[1:]:
        product = product @ m
    return product


@implemented(np.nanmax)
def nanmax(a, axis=None, out=None, keepdims=False):
    return np.max(np.where(np.isnan(a), -np.inf, a), axis=axis, keepdims=keepdims)


@implemented(np.nanmin)
def nanmin(a, axis=None, out=None, keepdims=False):
    return np.min(np.where(np.isnan(a), np.inf, a), axis=axis, keepdims=keepdims)


@implemented(np.nanvar)
def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    d = np.where(np.isnan(a), 0.0, a - np.nanmean(a, axis=axis, keepdims=True))
    return np.sum(d * d, axis=axis, keepdims=keepdims) / (nan_count(a, axis, keepdims) - ddof)


@implemented(np.nanstd)
def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    return np.sqrt(nanvar(a, axis, dtype, out, ddof, keepdims))


@implemented(np.nanprod)
def nanprod(a, axis=None, dtype=None, out=None, keepdims=False):
    return np.prod(np.where(np.isnan(a), 1.0, a), axis=axis, keepdims=keepdims)


def _with_initial(c, x, axis, value):
    """`c` with `value` put first along `axis` (`include_initial=True`)."""
    along = 0 if axis is None else axis
    first = np.take(np.zeros_like(c) + value, [0], axis=along)
    return np.concatenate([first, c], axis=along)


@implemented(getattr(np, "cumulative_sum", None))
def cumulative_sum(x, axis=None, dtype=None, out=None, include_initial=False):
    c = np.cumsum(x, axis=axis)
    if include_initial:
        return _with_initial(c, x, axis, 0.0)
    return c


@implemented(getattr(np, "cumulative_prod", None))
def cumulative_prod(x, axis=None, dtype=None, out=None, include_initial=False):
    c = np.cumprod(x, axis=axis)
    if include_initial:
        return _with_initial(c, x, axis, 1.0)
    return c


@implemented(getattr(np, "vecdot", None), getattr(np.linalg, "vecdot", None))
def vecdot(x1, x2, axis=-1):
    return np.sum(x1 * x2, axis=axis)


@implemented(getattr(np, "matvec", None))
def matvec(x1, x2):
    return np.sum(x1 * np.expand_dims(x2, -2), axis=-1)


@implemented(getattr(np, "vecmat", None))
def vecmat(x1, x2):
    return np.sum(np.expand_dims(x1, -1) * x2, axis=-2)


@implemented(np.float_power)
def float_power(x1, x2):
    return np.power(np.asarray(x1, dtype=np.float64), np.asarray(x2, dtype=np.float64))


@implemented(np.convolve)
def convolve(a, v, mode="full"):
    a, v = np.ravel(a), np.ravel(v)
    if np.size(v) > np.size(a):
        a, v = v, a
    n, m = np.size(a), np.size(v)
    full = 0.0
    for j in range(m):
        full = full + v[j] * np.pad(a, (j, m - 1 - j))
    if mode == "full":
        return full
    if mode == "same":
        start = (m - 1) // 2
        return full[start:start + n]
    if mode == "valid":
        return full[m - 1:n]
    raise NotCovered(f"np.convolve: mode must be 'full', 'same' or 'valid', not {mode!r}")


@implemented(np.correlate)
def correlate(a, v, mode="valid"):
    if np.size(v) > np.size(a):  # NumPy swaps the operands and reverses the result
        return correlate(v, a, mode)[::-1]
    return convolve(a, np.ravel(v)[::-1], mode)


@implemented(np.take)
def take(a, indices, axis=None, out=None, mode="raise"):
    if mode != "raise":
        raise NotCovered("np.take: only mode='raise' is differentiated")
    if axis is None:
        return np.ravel(a)[indices]
    k = np.ndim(indices)
    picked = np.moveaxis(a, axis, 0)[indices]
    start = axis % np.ndim(a)
    return np.moveaxis(picked, tuple(range(k)), tuple(range(start, start + k)))


@implemented(np.take_along_axis)
def take_along_axis(arr, indices, axis=-1):
    if axis is None:
        return np.ravel(arr)[indices]
    n = np.ndim(arr)
    along = axis % n
    index = []
    for d in range(n):
        if d == along:
            index.append(indices)
        else:
            shape = [1] * n
            shape[d] = np.shape(arr)[d]
            index.append(np.reshape(np.arange(np.shape(arr)[d]), tuple(shape)))
    return arr[tuple(index)]


@implemented(np.block)
def block(arrays):
    if not any(isinstance(item, list) for item in arrays):
        return np.concatenate([np.atleast_1d(item) for item in arrays], axis=-1)
    if any(isinstance(item, list) for row in arrays for item in row):
        raise NotCovered("np.block: lists nested more than two deep are not differentiated")
    return np.concatenate([_row(row) for row in arrays], axis=-2)


def _row(row):
    return np.concatenate([np.atleast_2d(item) for item in row], axis=-1)


def _quantile(a, q, axis, keepdims):
    """Linear interpolation between the order statistics around `q` (NumPy's default)."""
    if axis is None:
        ordered = np.sort(np.ravel(a))
        along = 0
    else:
        ordered = np.sort(a, axis=axis)
        along = axis
    n = np.shape(ordered)[along]
    position = np.asarray(q) * (n - 1)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, n - 1)
    frac = position - below
    low = np.take(ordered, below, axis=along)
    high = np.take(ordered, above, axis=along)
    result = low + (high - low) * frac
    if keepdims:
        raise NotCovered("np.quantile / np.percentile: keepdims=True is not differentiated")
    return result


@implemented(np.quantile)
def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False):
    if method != "linear":
        raise NotCovered("np.quantile: only method='linear' is differentiated")
    return _quantile(a, q, axis, keepdims)


@implemented(np.percentile)
def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False):
    if method != "linear":
        raise NotCovered("np.percentile: only method='linear' is differentiated")
    return _quantile(a, np.asarray(q) / 100.0, axis, keepdims)


@implemented(np.linalg.cond)
def cond(x, p=None):
    if p is not None and p != 2:
        return np.linalg.norm(x, p) * np.linalg.norm(np.linalg.inv(x), p)
    s = np.linalg.svd(x, compute_uv=False)
    return s[..., 0] / s[..., -1]


_NO_INITIAL = object()


@implemented(functools.reduce)
def reduce(function, iterable, initial=_NO_INITIAL):
    items = list(iterable)
    if initial is _NO_INITIAL:
        acc = items[0]
        rest = items[1:]
    else:
        acc = initial
        rest = items
    for item in rest:
        acc = function(acc, item)
    return acc


@implemented(math.fsum)
def fsum(seq):
    total = 0.0
    for item in seq:
        total = total + item
    return total


def sum_where(a, axis=None, dtype=None, out=None, keepdims=False, initial=0.0, where=True):
    """`np.sum(a, ..., where=w)`: the sum of the chosen elements (the lowering calls this for
    a call of `np.sum` with `where=`)."""
    return np.sum(np.where(where, a, 0.0), axis=axis, keepdims=keepdims) + initial


def mean_where(a, axis=None, dtype=None, out=None, keepdims=False, where=True):
    """`np.mean(a, ..., where=w)`: the mean of the chosen elements."""
    chosen = np.where(where, 1.0, 0.0) * np.ones_like(a)
    return (np.sum(np.where(where, a, 0.0), axis=axis, keepdims=keepdims)
            / np.sum(chosen, axis=axis, keepdims=keepdims))


WHERE_FORMS = {np.sum: sum_where, np.mean: mean_where}  # calls with `where=`


@implemented(np.apply_along_axis)
def apply_along_axis(func1d, axis, arr):
    moved = np.moveaxis(arr, axis, -1)
    rows = np.reshape(moved, (-1, np.shape(moved)[-1]))
    out = np.stack([func1d(row) for row in rows])
    k = np.ndim(out) - 1
    result = np.reshape(out, np.shape(moved)[:-1] + np.shape(out)[1:])
    start = axis % np.ndim(arr)
    last = np.ndim(result)
    return np.moveaxis(result, tuple(range(last - k, last)), tuple(range(start, start + k)))


def unzipped(rows, strict=False):
    """`zip(*rows)` as a list: the tuples of the rows' items at each position (the lowering
    calls this for `zip` of one starred argument, the transposition idiom)."""
    lengths = [len(row) for row in rows]
    if strict and len(set(lengths)) > 1:
        raise ValueError("zip() arguments have different lengths")
    n = min(lengths) if lengths else 0
    return [tuple([row[j] for row in rows]) for j in range(n)]


def broadcast_list(arrays, subok=False):
    """`np.broadcast_arrays(a, b, ...)`, given the arrays as one list (the lowering packs
    them), as a tuple of arrays of the common shape."""
    common = 0.0
    for a in arrays:
        common = common + np.zeros(np.shape(a))  # a constant of the broadcast shape
    return tuple([np.broadcast_to(a, np.shape(common)) for a in arrays])


def max_initial(a, axis=None, out=None, keepdims=False, initial=None, where=True):
    """`np.max(a, ..., initial=v)`: the larger of the maximum and `v` (a tie goes to the
    maximum of `a`)."""
    return np.maximum(np.max(np.where(where, a, -np.inf), axis=axis, keepdims=keepdims),
                      initial)


def min_initial(a, axis=None, out=None, keepdims=False, initial=None, where=True):
    """`np.min(a, ..., initial=v)`: the smaller of the minimum and `v`."""
    return np.minimum(np.min(np.where(where, a, np.inf), axis=axis, keepdims=keepdims),
                      initial)


INITIAL_FORMS = {np.max: max_initial, np.amax: max_initial, np.min: min_initial,
                 np.amin: min_initial}  # calls with `initial=`
