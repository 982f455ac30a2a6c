"""The blocks of a Jacobian of an array-valued function: forward (one batched pass, else one
pass per input direction) or reverse (one backward pass per output entry, on one tape when
the backward function can run again on it), for `adgen.jacobian` and `adgen.hessian`.
`copies()` gives fresh copies of the arguments for each primal run (a function that writes
into its arguments must not see what an earlier run wrote)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np

from adgen import pipeline, pytree
from adgen.derive.forward import NotBatchable
from adgen.tree_derivatives import as_float_array, basis, fresh_tape, seeds, split_rows


def jacobian_forward(f: Any, wrt: Any, args: tuple, positions: list[int],
                     batched_fn: Any, copies: Callable[[], tuple]) -> list[Any]:
    """All input directions in one pass of `batched_fn` (the batched tangent function, None
    when a rule has no batched form or an input is a container); else one pass per direction."""
    if batched_fn is not None:
        value, t = batched_fn(*copies(), *seeds(args, positions))
        return split_rows(t, value, args, positions)
    tangent_fn = pipeline.derivative(f, wrt, "jvp")
    zeros = [pytree.zero_like(args[p]) for p in positions]
    blocks = []
    for k, p in enumerate(positions):
        columns = []
        value: Any = None
        for e in basis(args[p]):
            tangents = list(zeros)
            tangents[k] = e
            value, t = tangent_fn(*copies(), *tangents)
            columns.append(np.broadcast_to(t, np.shape(value)))
        shape = np.shape(value) + np.shape(args[p])
        stacked = np.stack(columns, axis=-1) if columns else np.zeros(shape)
        blocks.append(stacked.reshape(shape))
    return blocks


_UNBATCHABLE: set[Any] = set()


def batched_tangent(f: Any, wrt: Any, inputs: list[Any]) -> Any:
    """The batched tangent function of `f` (all directions in one pass), or None when an
    input is a container or a rule the function uses has no batched form (remembered)."""
    if any(not pytree.is_leaf(x) for x in inputs):  # trees (dataclasses too), None
        return None
    key = (f, tuple(wrt) if isinstance(wrt, (list, tuple)) else wrt)
    if key in _UNBATCHABLE:
        return None
    try:
        return pipeline.derivative(f, wrt, "batched_jvp")
    except NotBatchable:
        _UNBATCHABLE.add(key)
        return None


def jacobian_reverse(f: Any, wrt: Any, args: tuple, positions: list[int], single: bool,
                     value: Any, copies: Callable[[], tuple]) -> list[Any]:
    """One backward pass per output entry, after a single forward pass when the backward
    function can be run again on the same tape (else one `vjp` per entry)."""
    forward = pipeline.derivative(f, (wrt,) if single else tuple(cast(Any, wrt)), "split")
    info = forward.__adgen__.info
    if info.get("tape_positions") is not None:  # the tape is some of the arguments
        value = forward(*args)
        taped = [args[i] for i in info["tape_positions"]]

        def pull(w: Any) -> Any:
            grads = info["bwd"](*taped, w)
            return (grads,) if len(positions) == 1 else grads
    elif info.get("reentrant"):
        value, tape = forward(*args)

        def pull(w: Any) -> Any:
            fresh = fresh_tape(tape)
            grads = info["bwd"](fresh, w)
            return (grads,) if len(positions) == 1 else grads
    else:
        adjoint_fn = pipeline.derivative(f, wrt, "vjp")
        value = f(*copies()) if value is None else value

        def pull(w: Any) -> Any:
            grads = adjoint_fn(*args, w)[1]
            return (grads,) if single else grads
    rows: list[list[Any]] = [[] for _ in positions]
    for w in basis(as_float_array(value)) if np.ndim(value) else basis(1.0):
        grads = pull(w if np.ndim(value) else 1.0)
        for k, g in enumerate(grads):
            rows[k].append(np.broadcast_to(g, np.shape(args[positions[k]])))
    return [np.stack(r).reshape(np.shape(value) + np.shape(args[p]))
            for r, p in zip(rows, positions, strict=True)]
