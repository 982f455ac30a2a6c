"""Operands made safe where a mask discards the derivative anyway (`docs/architecture.md`,
"Masked adjoints"). Generated code calls these inside an adjoint whose incoming adjoint is zero
outside a mask (the branch of `np.where`, a choice of `np.select`, an array a masked write
clears): `np.divide(y_bar, inside(c, x, 1.0))` is the adjoint of `log(x)` when `log(x)` is
only read as the first branch of `np.where(c, ...)`. Where the mask discards the lane, the
partial is evaluated at the safe value (finite, no warning), so `0 * inf` never makes a NaN.

A mask that does not line up with the operand (a condition broadcast to more axes than the
operand has, a boolean index that covers leading axes only) leaves the operand as it is: the
derivative is then what it was without this help. Imports nothing of adgen; NumPy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _aligned(mask: Any, value: Any) -> bool:
    """Whether `mask`, broadcast against `value`, keeps `value`'s shape."""
    try:
        return np.broadcast_shapes(np.shape(mask), np.shape(value)) == np.shape(value)
    except ValueError:
        return False


def inside(mask: Any, value: Any, safe: float, like: Any = None) -> Any:
    """`value` where `mask` holds, `safe` elsewhere (`np.where(mask, value, safe)`). `like`
    (the primal, for a tangent or an adjoint of this call) decides whether the mask lines up
    with the value; by default the value itself."""
    if not np.ndim(mask):
        return value if mask else safe
    if not _aligned(mask, value if like is None else like):
        return value
    return np.where(mask, value, safe)


def outside(mask: Any, value: Any, safe: float, like: Any = None) -> Any:
    """`value` where `mask` fails, `safe` where it holds (`np.where(mask, safe, value)`)."""
    if not np.ndim(mask):
        return safe if mask else value
    if not _aligned(mask, value if like is None else like):
        return value
    return np.where(mask, safe, value)


def unwritten(mask: Any, value: Any, safe: float, written: Any, like: Any = None) -> Any:
    """`value` where the boolean index `mask` of a write `written[mask] = ...` did not write,
    `safe` where it did: only when the value (or `like`) has the shape of `written` and `mask`
    indexes its leading axes (rows where `mask` is 1-d and `written` 2-d)."""
    shape = np.shape(value if like is None else like)
    ndim = np.ndim(mask)
    if not ndim or np.shape(written) != shape or np.shape(mask) != shape[:ndim]:
        return value
    return np.where(np.reshape(mask, np.shape(mask) + (1,) * (len(shape) - ndim)), safe, value)
