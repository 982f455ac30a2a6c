"""Derivative rules for `np.r_[...]` and `np.c_[...]`, which join arrays with index syntax.

The lowering writes `np.r_[a, 0:3, b]` as `index_join(np.r_, (a, slice(0, 3, None), b))`
(`adgen.runtime.index_join`), a call whose second argument is a tuple of items: arrays and
numbers (differentiable), slices (ranges of numbers, constants) and a leading directive string
such as `'0,2'` (kept as it is).

The join only copies entries, so it is linear in its items:

- the tangent is the same join of the items' tangents, with zeros of the right shape for the
  constant items (`index_join_tangent`);
- the adjoint of each item gathers the entries of the cotangent its entries were copied to
  (`index_join_adjoint`). Where they went is found by joining numbered entries (`0, 1, ...`
  across all items) with the same maker and directives, so every spelling NumPy accepts is
  undone by NumPy itself; an entry copied twice collects both cotangents.

Both helpers are linear in their first argument and each is the other's adjoint, so the
derivatives can be differentiated again. `np.mgrid`/`np.ogrid` are not covered (their bounds
are constants to adgen).
"""

import math

import numpy as np

from adgen.rules.numpy_products import is_zero
from adgen.rules.registry import adjoint, linear, tangent
from adgen.runtime import index_join


def _missing(t):
    return t is None or is_zero(t)


def _shape(item):
    return np.shape(np.r_[item]) if isinstance(item, slice) else np.shape(item)


def _placeholder(item, t):
    """What stands for `item` in the join of tangents: its tangent, zeros of its shape for a
    constant item, or the item itself for a directive string."""
    if isinstance(item, str):
        return item
    return np.zeros(_shape(item)) if _missing(t) or isinstance(item, slice) else t


def index_join_tangent(ts, maker, items):
    """The join `maker[...]` of the tangents `ts` of `items` (None or 0.0 for constants)."""
    ts = [None] * len(items) if _missing(ts) else ts
    return maker[tuple(_placeholder(x, t) for x, t in zip(items, ts, strict=True))]


def index_join_adjoint(g, maker, items):
    """The adjoint of each item of `maker[items]` from its cotangent `g` (a list, None for
    directive strings and slices)."""
    numbered, sizes, offset = [], [], 0
    for x in items:
        if isinstance(x, str):
            numbered.append(x)
            sizes.append(0)
            continue
        n = math.prod(_shape(x))
        numbered.append(np.arange(offset, offset + n, dtype=float).reshape(_shape(x)))
        sizes.append(n)
        offset += n
    source = np.asarray(maker[tuple(numbered)]).astype(int)
    flat = np.zeros(offset, np.result_type(g, 1.0))
    if not _missing(g):
        np.add.at(flat, source.ravel(), np.ravel(np.broadcast_to(g, source.shape)))
    out, offset = [], 0
    for x, n in zip(items, sizes, strict=True):
        constant = isinstance(x, (str, slice))
        out.append(None if constant else flat[offset:offset + n].reshape(np.shape(x))[()])
        offset += n
    return out


linear(index_join_tangent, index_join_adjoint)


@tangent(index_join)
def index_join_dot(y, maker, items, *, items_dot):
    return index_join_tangent(items_dot, maker, items)


@adjoint(index_join)
def index_join_bar(y, maker, items, *, y_bar):
    return None, index_join_adjoint(y_bar, maker, items)


@adjoint(index_join_tangent)
def index_join_tangent_bar(y, ts, maker, items, *, y_bar):
    return index_join_adjoint(y_bar, maker, items)


@adjoint(index_join_adjoint)
def index_join_adjoint_bar(y, g, maker, items, *, y_bar):
    return index_join_tangent(y_bar, maker, items)
