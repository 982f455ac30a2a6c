"""Parameter trees: nests of dicts, lists, tuples, named tuples and dataclasses.

A tree's *leaves* are what is not one of those containers (numbers, arrays); `None` is an
empty subtree, as in JAX: it has no leaves and comes back as `None`. `flatten` gives the
leaves in a fixed order (dict insertion order, sequence order, dataclass field order) and
a `Tree` that rebuilds a tree of the same types from new leaves; `ravel` joins the leaves
into one float vector for optimisers such as SciPy's.

The derivative code indexes dicts, lists and tuples and reads the fields of named tuples and
dataclasses (`adgen.records`); it accumulates their adjoints as lists and gives tuples and
records their type back at the end (`runtime.shaped_like`). Where it cannot tell the
structure (a leaf it never read is a `0.0`, a list read whole by NumPy has an array adjoint,
a `None` leaf), `like` gives the gradient the parameter's own structure where the items
correspond, and leaves it as it is where they do not.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import numpy as np

from adgen import records
from adgen.arrays import is_array

Leaves = list[Any]


class Tree:
    """The structure of a tree: `rebuild(leaves)` makes one like it from other leaves."""

    def __init__(self, count: int, rebuild: Callable[[Leaves], Any]) -> None:
        self.count = count
        self._rebuild = rebuild

    def rebuild(self, leaves: Leaves) -> Any:
        if len(leaves) != self.count:
            raise ValueError(f"a tree with {self.count} leaves cannot be rebuilt from "
                             f"{len(leaves)}")
        return self._rebuild(list(leaves))


def children(x: Any) -> tuple[list[Any], Callable[[list[Any]], Any]] | None:
    """The items of a container and how to make one of the same type from new items; None
    for a leaf."""
    if isinstance(x, dict):
        keys = list(x)
        return [x[k] for k in keys], lambda items: type(x)(zip(keys, items, strict=True))
    if records.is_record(x):
        return records.items(x), lambda items: records.rebuild(x, items)
    if isinstance(x, (list, tuple)):
        return list(x), lambda items: type(x)(items)
    return None


def flatten(x: Any) -> tuple[Leaves, Tree]:
    """The leaves of `x`, and its structure."""
    if x is None:
        return [], Tree(0, lambda leaves: None)
    parts = children(x)
    if parts is None:
        return [x], Tree(1, lambda leaves: leaves[0])
    items, make = parts
    flat = [flatten(item) for item in items]
    counts = [tree.count for _, tree in flat]

    def rebuild(leaves: Leaves) -> Any:
        out, at = [], 0
        for (_, tree), n in zip(flat, counts, strict=True):
            out.append(tree.rebuild(leaves[at:at + n]))
            at += n
        return make(out)

    return [leaf for sub, _ in flat for leaf in sub], Tree(sum(counts), rebuild)


def is_leaf(x: Any) -> bool:
    return x is not None and children(x) is None


def zero_like(leaf: Any) -> Any:
    """A zero gradient for `leaf`: float zeros of its shape (in its own array library), or
    0.0 for a number."""
    if is_array(leaf) and not isinstance(leaf, np.ndarray):
        return np.zeros_like(leaf, dtype=_float_dtype(leaf))
    if isinstance(leaf, np.ndarray) or np.ndim(leaf):
        return np.zeros(np.shape(leaf), dtype=_float_dtype(leaf))
    return 0.0


def _float_dtype(leaf: Any) -> Any:
    dtype = leaf.dtype if hasattr(leaf, "dtype") else np.result_type(leaf)
    return dtype if np.issubdtype(dtype, np.inexact) else np.float64


def like(g: Any, x: Any) -> Any:
    """The gradient `g` with the structure and container types of the parameter `x`."""
    if x is None:
        return None
    parts = children(x)
    if parts is None:
        if _is_scalar_zero(g) and np.ndim(x):
            return zero_like(x)
        return g
    items, make = parts
    if _is_scalar_zero(g):
        return make([like(0.0, item) for item in items])
    if isinstance(x, dict):
        return make([like(g.get(k, 0.0), item) for k, item in zip(x, items, strict=True)])
    given = children(g)
    pieces = given[0] if given is not None else list(g) if np.ndim(g) else None
    if pieces is None or len(pieces) != len(items):  # e.g. an array for a list `np.sum` read
        return g
    return make([like(a, item) for a, item in zip(pieces, items, strict=True)])


def _is_scalar_zero(g: Any) -> bool:
    return not is_array(g) and children(g) is None and g is not None and g == 0


def ravel(tree: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """The leaves of `tree` joined into one float vector, and `unravel(vector)`, which makes
    a tree of the same structure from a vector of that length (number leaves come back as
    Python floats, array leaves as arrays of their shape)."""
    leaves, structure = flatten(tree)
    shapes = [np.shape(leaf) for leaf in leaves]
    scalar = [not isinstance(leaf, np.ndarray) and np.ndim(leaf) == 0 for leaf in leaves]
    sizes = [int(np.prod(s, dtype=int)) for s in shapes]
    dtype = np.result_type(np.float64, *(_float_dtype(leaf) for leaf in leaves))
    vector = (np.concatenate([np.ravel(leaf).astype(dtype) for leaf in leaves]) if leaves
              else np.zeros(0))
    total = int(vector.size)

    def unravel(v: np.ndarray) -> Any:
        v = np.asarray(v)
        if v.shape != (total,):
            raise ValueError(f"unravel needs a vector of shape ({total},), not {v.shape}")
        out, at = [], 0
        for shape, size, number in zip(shapes, sizes, scalar, strict=True):
            part = v[at:at + size]
            out.append(float(part[0]) if number else part.reshape(shape))
            at += size
        return structure.rebuild(out)

    return vector, unravel


def shaped_outputs(fn: Any, complete: Callable[[tuple[Any, ...]], tuple[Any, ...]],
                   positions: list[int], single: bool, trailing: int, with_value: bool) -> Any:
    """`fn` (a generated reverse-mode function: gradients, or `(value, gradients)`) made to
    return each gradient with its parameter's structure (`like`). `complete(args)` fills in
    default arguments; `trailing` arguments (a cotangent, a direction) follow the parameters.

    The result has `fn`'s globals and name, so that adgen parses it, for higher derivatives,
    as the generated `fn` (through `__adgen__`); its body reads closure cells only."""

    def shape(grads: Any, args: tuple[Any, ...]) -> Any:
        full = complete(args[:len(args) - trailing])
        if single:
            return like(grads, full[positions[0]])
        return tuple(like(g, full[p]) for g, p in zip(grads, positions, strict=True))

    def tree_outputs(*args: Any) -> Any:
        out = fn(*args)
        if with_value:
            return out[0], shape(out[1], args)
        return shape(out, args)

    shaped: Any = types.FunctionType(tree_outputs.__code__, fn.__globals__, fn.__name__, None,
                                     tree_outputs.__closure__)
    shaped.__adgen__ = fn.__adgen__
    return shaped
