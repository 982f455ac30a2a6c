"""Derivatives with respect to parameter trees, around the generated tangent functions.

`tree_jacobian` builds a Jacobian (or a forward-mode gradient) by one tangent pass per entry
of each leaf; `reads_as_container` tells from a function's trace whether a parameter may
be a tree, so that the API shapes its gradients like the argument (see `adgen.pytree`).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from typing import Any

import gast
import numpy as np

from adgen import pipeline, pytree
from adgen.arrays import is_array, made_like, size
from adgen.codegen import astutil
from adgen.errors import DifferentiationError
from adgen.rules.batched import identity_seed
from adgen.runtime import as_sequence


def basis(x: Any) -> Iterator[Any]:
    """Unit tangents for every entry of `x` (in C order), or 1.0 for a number."""
    if isinstance(x, np.ndarray):
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
        for i in range(x.size):
            e = np.zeros(x.size, dtype=dtype)
            e[i] = 1
            yield e.reshape(x.shape)
    elif is_array(x):  # another library's array: the unit tangents in that library
        for i in range(size(x)):
            e = pytree.zero_like(x)
            e[np.unravel_index(i, x.shape)] = 1
            yield e
    else:
        yield 1.0


def tree_jacobian(tangent_fn: Any, fresh_args: Callable[[], tuple[Any, ...]],
                  args: tuple[Any, ...], positions: list[int],
                  out_like: Any = None) -> tuple[Any, list[Any]]:
    """The value and the Jacobian with respect to each argument at `positions`, one pass of
    `tangent_fn` (`(*args, *tangents) -> (value, tangent)`) per entry of each leaf, on
    `fresh_args()` each time. Arguments and outputs may be trees: the block for output leaf
    `o` and input leaf `i` is shaped `o.shape + i.shape`, and the result is a tree shaped like
    the output whose leaves are trees shaped like the input. `out_like` gives the output the
    structure of that tree (a gradient, which is shaped like a parameter)."""
    trees = [pytree.flatten(args[p]) for p in positions]
    zeros = [tree.rebuild([pytree.zero_like(x) for x in leaves]) for leaves, tree in trees]
    value: Any = None
    blocks = []
    for k, (leaves, tree) in enumerate(trees):
        per_leaf = []  # for each input leaf: for each output leaf, its block
        for i, leaf in enumerate(leaves):
            columns = []
            for e in basis(leaf):
                parts = [pytree.zero_like(x) for x in leaves]
                parts[i] = e
                tangents = list(zeros)
                tangents[k] = tree.rebuild(parts)
                value, t = tangent_fn(*fresh_args(), *tangents)
                if out_like is not None:
                    value, t = pytree.like(value, out_like), pytree.like(t, out_like)
                columns.append(pytree.flatten(pytree.like(t, value))[0])
            per_leaf.append(_blocks(columns, leaf, value))
        blocks.append(per_leaf)
    if value is None:  # no entries at all: run the function once for its value
        value = tangent_fn(*fresh_args(), *zeros)[0]
    out_leaves, out_tree = pytree.flatten(value)
    return value, [out_tree.rebuild([tree.rebuild([per_leaf[i][j] for i in range(tree.count)])
                                     for j in range(len(out_leaves))])
                   for (_, tree), per_leaf in zip(trees, blocks, strict=True)]


def _blocks(columns: list[list[Any]], leaf: Any, value: Any) -> list[Any]:
    """For each leaf of the output `value`, the derivative with respect to `leaf` from its
    `columns` (the output tangents of the directions of `leaf`'s entries)."""
    out = []
    for j, out_leaf in enumerate(pytree.flatten(value)[0]):
        shape = np.shape(out_leaf) + np.shape(leaf)
        entries = [np.broadcast_to(c[j], np.shape(out_leaf)) for c in columns]
        stacked = np.stack(entries, axis=-1) if entries else np.zeros(shape)
        block = stacked.reshape(shape)
        if not np.ndim(out_leaf) and isinstance(leaf, np.ndarray):  # a gradient: x's dtype
            block = block.astype(pytree.zero_like(leaf).dtype, copy=False)
        out.append(block if shape else block[()])
    return out


def reads_as_container(f: Any, names: set[str], seen: set[Any] | None = None) -> bool:
    """Whether `f` indexes or iterates over one of its parameters `names`, or passes it to a
    Python function that does: then the argument may be a tree."""
    seen = set() if seen is None else seen
    if f in seen or not isinstance(f, types.FunctionType):
        return False
    seen.add(f)
    trace = pipeline.get_trace(f)
    for n in astutil.walk_in_order(trace.node):
        if isinstance(n, (gast.Subscript, gast.Attribute)) and _named(n.value, names):
            return True
        if isinstance(n, gast.For) and _named(n.iter, names):
            return True
        if isinstance(n, gast.Call) and getattr(n, "adgen_fn", None) is as_sequence and any(
                _named(a, names) for a in n.args):  # `for v in xs`, lowered to an index loop
            return True
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Name):
            found, callee = trace.parsed.resolve(n.func.id)
            passed = {i for i, a in enumerate(n.args) if _named(a, names)}
            if found and passed and _passes_tree(callee, passed, seen):
                return True
    return False


def _passes_tree(callee: Any, positions: set[int], seen: set[Any]) -> bool:
    try:
        params = pipeline.get_trace(callee).params
    except (DifferentiationError, SyntaxError):  # not a function adgen reads
        return False
    inner = {params[i] for i in positions if i < len(params)}
    return reads_as_container(callee, inner, seen)


def _named(node: Any, names: set[str]) -> bool:
    return isinstance(node, gast.Name) and node.id in names


def seeds(args: tuple, positions: list[int]) -> list[Any]:
    """Input directions for a batched pass: the rows of an identity, split among the `wrt`
    arguments (each gets its rows, zeros elsewhere)."""
    sizes = [size(args[p]) for p in positions]
    total, at, seeds = sum(sizes), 0, []
    for p, n in zip(positions, sizes, strict=True):
        dtype: Any = np.result_type(args[p])
        dtype = dtype if np.issubdtype(dtype, np.floating) else np.float64
        seed = identity_seed(n, dtype) if total == n else np.eye(total, n, -at, dtype)
        seed = made_like(seed, args[p])
        shape = (total,) + np.shape(args[p])
        seeds.append(seed if seed.shape == shape else seed.reshape(shape))
        at += n
    return seeds


def split_rows(t: Any, value: Any, args: tuple, positions: list[int]) -> list[Any]:
    """Jacobian blocks `value.shape + arg.shape` from the batched output tangent `t`."""
    sizes = [size(args[p]) for p in positions]
    shape = (sum(sizes),) + np.shape(value)
    if np.shape(t) != shape:
        t = np.broadcast_to(t, shape)
        t = np.array(t) if isinstance(t, np.ndarray) else t
    blocks, at = [], 0
    for p, n in zip(positions, sizes, strict=True):
        rows = np.moveaxis(t[at:at + n], 0, -1)
        block = rows.reshape(np.shape(value) + np.shape(args[p]))
        blocks.append(block)
        at += n
    return blocks


def fresh_tape(tape: Any) -> Any:
    """A tape whose lists (the stack, lists the backward sweep pops) are copies."""
    if isinstance(tape, list):
        return list(tape)
    if isinstance(tape, tuple):
        return tuple(list(t) if isinstance(t, list) else t for t in tape)
    return tape


def as_float_array(x: Any) -> Any:
    return x if is_array(x) else np.asarray(x, dtype=float)
