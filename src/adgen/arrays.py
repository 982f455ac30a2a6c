"""Arrays of any library that speaks NumPy's protocols (NumPy, Dask, CuPy, ...): how adgen
recognises one, and what the runtime helpers and rules use to make and cut arrays in the
argument's own library, so that a Dask argument stays lazy and a CuPy one never meets a NumPy
array. Nothing here imports an array library but NumPy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_NOT_ARRAYS = (float, int, np.generic, list, tuple, dict, complex, str)


def is_array(x: Any) -> bool:
    """Whether `x` is an array of some library that speaks NumPy's protocols (NumPy, Dask,
    CuPy, ...): it has `shape`, `dtype` and `ndim` and dispatches NumPy functions through
    `__array_function__` or names its namespace with `__array_namespace__`. NumPy scalars
    (`np.float64`) are numbers, not arrays."""
    if isinstance(x, np.ndarray):
        return True
    if isinstance(x, _NOT_ARRAYS) or x is None:
        return False
    return (hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "ndim")
            and (hasattr(x, "__array_function__") or hasattr(x, "__array_namespace__")))


def as_array(x: Any, dtype: Any = None) -> Any:
    """`x` as an array: an array of any library stays in its library (cast to `dtype` when
    given); numbers and lists become NumPy arrays."""
    if is_array(x):
        return x if dtype is None or x.dtype == dtype else x.astype(dtype)
    return np.asarray(x, dtype=dtype)


def made_like(a: Any, like: Any) -> Any:
    """`a`, a NumPy array made here (an identity, a mask), in the library of `like` when
    that is another array library, so that it never mixes into that library's operations."""
    if is_array(like) and not isinstance(like, np.ndarray):
        return np.asarray(a, like=like)
    return a


def cut(a: Any, sizes: Any, axis: int) -> list:
    """`a` cut along `axis` into consecutive pieces of the given sizes (`np.split` by
    slicing, which every array library answers)."""
    bounds = np.cumsum([0, *sizes]).tolist()
    head = (slice(None),) * axis
    return [a[head + (slice(lo, hi),)] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


def size(x: Any) -> int:
    """The number of entries of `x` (1 for a number), read from its shape: `np.size` would
    make some array libraries compute."""
    return math.prod(np.shape(x))


def basic_index(index: Any) -> bool:
    """Whether `index` names each position at most once (integers, slices, `None`, `...`)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis
               for p in parts) and not any(isinstance(p, bool) for p in parts)


def scatter_add(acc: Any, index: Any, g: Any) -> Any:
    """`acc` with `g` added at `index`, for an array library without `np.add.at` (Dask):
    positions an integer-array index repeats are added in rounds, each round writing every
    position at most once."""
    if basic_index(index):
        acc[index] = acc[index] + g
        return acc
    where = np.arange(size(acc)).reshape(acc.shape)[index]  # the flat positions, in NumPy
    flat = where.ravel()
    g = np.reshape(np.broadcast_to(g, where.shape), (-1,))
    out = np.reshape(acc, (-1,))
    order = np.argsort(flat, kind="stable")
    ranked = flat[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]]) if flat.size else []
    rank = np.empty(flat.size, dtype=np.intp)
    rank[order] = np.arange(flat.size) - np.repeat(starts, np.diff(np.r_[starts, flat.size]))
    for r in range(int(rank.max()) + 1 if flat.size else 0):
        chosen = np.flatnonzero(rank == r)
        out[flat[chosen]] = out[flat[chosen]] + g[chosen]
    return chunked_like(np.reshape(out, acc.shape), acc)


def chunked_like(out: Any, acc: Any) -> Any:
    """`out` in the chunks of `acc`, an array of the same shape, when the library has chunks
    (Dask's `rechunk`): adjoints that cut and join arrays keep their argument's layout."""
    chunks = getattr(acc, "chunks", None)
    if hasattr(out, "rechunk") and chunks is not None and getattr(out, "chunks", None) != chunks \
            and np.shape(out) == np.shape(acc):
        return out.rechunk(chunks)
    return out
