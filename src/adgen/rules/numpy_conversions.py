"""Derivative rules for array methods that leave NumPy: `x.item()` / `x.item(i)` (one entry
as a Python number) and `x.tolist()` (nested lists of Python numbers).

Both only copy entries, so they are linear. `item_of(t, index)` and `listed(t, like)` read the
same entries of a tangent (a tangent that is still a plain zero gives zeros); their adjoints
put a cotangent back into a float array shaped like the argument (`item_back`, `unlisted`).
Each of these helpers is the other's adjoint, so derivatives can be differentiated again.
"""

import numpy as np

from adgen.rules.registry import adjoint, linear, tangent


def _float_zeros(like):
    dtype = np.result_type(like)
    return np.zeros(np.shape(like), dtype=dtype if np.issubdtype(dtype, np.floating) else float)


def item_of(t, index=None):
    """`t.item(index)` of a tangent or cotangent; a plain zero stays zero."""
    if not np.ndim(t) and not hasattr(t, "item"):
        return t
    return np.asarray(t).item() if index is None else np.asarray(t).item(index)


def item_back(g, like, index=None):
    """The array shaped like `like` that is `g` at the entry `like.item(index)` reads."""
    out = _float_zeros(like)
    if index is None:
        out.flat[0] = g
    elif isinstance(index, tuple):
        out[index] = g
    else:
        out.flat[index] = g
    return out


def listed(t, like):
    """`t.tolist()` of a tangent or cotangent shaped like `like` (zeros for a plain zero)."""
    if not np.ndim(t) and np.ndim(like):
        return _float_zeros(like).tolist()
    return np.asarray(t).tolist()


def unlisted(g, like):
    """The float array shaped like `like` holding the nested list (or number) `g`."""
    return _float_zeros(like) + np.asarray(g, dtype=float)


linear(item_of, item_back, listed, unlisted)


@tangent("ndarray.item")
def ndarray_item_dot(y, a, index=None, *, a_dot):
    return item_of(a_dot, index)


@adjoint("ndarray.item")
def ndarray_item_bar(y, a, index=None, *, y_bar):
    return item_back(y_bar, a, index)


@adjoint(item_of)
def item_of_bar(y, t, index=None, *, y_bar):
    return item_back(y_bar, t, index)


@adjoint(item_back)
def item_back_bar(y, g, like, index=None, *, y_bar):
    return item_of(y_bar, index)


@tangent("ndarray.tolist")
def ndarray_tolist_dot(y, a, *, a_dot):
    return listed(a_dot, a)


@adjoint("ndarray.tolist")
def ndarray_tolist_bar(y, a, *, y_bar):
    return unlisted(y_bar, a)


@adjoint(listed)
def listed_bar(y, t, like, *, y_bar):
    return unlisted(y_bar, like)


@adjoint(unlisted)
def unlisted_bar(y, g, like, *, y_bar):
    return listed(y_bar, like)
