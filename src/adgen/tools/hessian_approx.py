"""Approximations of the Hessian (Bishop & Bishop, §8.1.6, eqs. 8.38–8.41).

The exact Hessian `adgen.hessian(f)` costs one forward-over-reverse pass per parameter, each a
small multiple of the cost of `f`: O(W) passes of O(W) work, O(W^2) in all for W weights, and
O(W^2) memory for the matrix. Two classical approximations:

* `diagonal_hessian(f)` keeps only the diagonal, H_ii, and implicitly sets the off-diagonal
  terms to zero: O(W) memory, but each entry is still exact and computed as `e_i^T H e_i`
  from one Hessian-vector product (`adgen.hvp`, forward over reverse, never forming H) along
  the unit vector e_i. That is W passes, O(W^2) work: the same order as the full Hessian, as
  the book notes for the exact diagonal (the O(W) schemes drop further terms).
* `outer_product_hessian(residual_fn)` is the Levenberg–Marquardt (outer-product, Gauss–Newton)
  approximation for a sum-of-squares error E(w) = ½ Σ_n r_n(w)^2, where `residual_fn`
  returns the residual vector r(w) (e.g. y_n(w) - t_n). Its exact Hessian is (8.39)

      H = Σ_n ∇r_n ∇r_n^T + Σ_n r_n ∇∇r_n,

  and the approximation (8.40) drops the second sum: H ≈ Σ_n ∇r_n ∇r_n^T = J^T J, where the
  rows of J = `adgen.jacobian(residual_fn)` are the per-example gradients ∇r_n. It needs only
  first derivatives (N reverse passes or W forward passes, whichever is fewer, as
  `jacobian(mode="auto")` picks) and is exact when the residuals are linear in w; it is good
  near a minimum where the residuals are small, and poor elsewhere.

Both return a function of the same arguments as the function they approximate. The diagonal
is shaped like the argument `wrt`; the outer-product Hessian is shaped
`argument.shape + argument.shape`, as `adgen.hessian` is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from adgen import pipeline
from adgen.api import hvp, jacobian


def _position(f: Callable[..., Any], wrt: int | str) -> int:
    trace = pipeline.get_trace(f)
    names, single = pipeline.wrt_names(trace, wrt)
    if not single:
        raise ValueError("the Hessian approximations take one parameter `wrt` (an index or a "
                         "name); put the weights in one flat array")
    return trace.params.index(names[0])


def diagonal_hessian(f: Callable[..., Any], wrt: int | str = 0) -> Callable[..., Any]:
    """`(*args) -> diag(H)` of scalar `f` with respect to `wrt`, shaped like that argument.

    Exact: entry i is `e_i^T H e_i` from one Hessian-vector product (W passes for W entries).
    """
    position = _position(f, wrt)
    product = hvp(f, wrt)

    def diagonal_fn(*args: Any) -> Any:
        x = args[position]
        if np.ndim(x) == 0:
            return float(product(*args, 1.0))
        shape = np.shape(x)
        out = np.empty(int(np.size(x)))
        unit = np.zeros(out.size)
        for i in range(out.size):
            unit[i] = 1.0
            out[i] = np.ravel(product(*args, unit.reshape(shape)))[i]
            unit[i] = 0.0
        return out.reshape(shape)

    return diagonal_fn


def outer_product_hessian(residual_fn: Callable[..., Any], wrt: int | str = 0,
                          mode: str = "auto") -> Callable[..., Any]:
    """`(*args) -> J^T J`: the outer-product approximation (8.40) of the Hessian of
    E = ½ Σ_n r_n^2, where `residual_fn(*args)` returns the residuals r_n (any shape).

    `mode` is passed to `adgen.jacobian` ("auto", "forward" or "reverse").
    """
    position = _position(residual_fn, wrt)
    jac = jacobian(residual_fn, wrt, mode=mode)

    def outer_product_fn(*args: Any) -> Any:
        shape = np.shape(args[position])
        rows = np.asarray(jac(*args), dtype=float).reshape(-1, int(np.prod(shape)))
        return (rows.T @ rows).reshape(shape + shape)

    return outer_product_fn
