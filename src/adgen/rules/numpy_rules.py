"""Derivative rules for NumPy: elementwise functions, reductions, linear algebra, shapes.

The rules live in one module per family, imported here so that importing `adgen.rules`
registers them all:

- `numpy_elementwise`: ufuncs (`np.sin`, `np.add`, `np.maximum`, ...), `np.where`, `np.clip`.
- `numpy_reductions`: `sum`, `mean`, `prod`, `max`/`min`, `var`/`std`, `cumsum`,
  `np.logaddexp.reduce`, with `axis=` and `keepdims=`.
- `numpy_products`: `@`, `matmul`, `dot`, `inner`, `outer`, `tensordot`, `einsum`.
- `numpy_grids`: `linspace` and `arange`, linear in the numbers that place their points.
- `numpy_index`: `np.r_[...]` and `np.c_[...]` (lowered to a call of `runtime.index_join`).
- `numpy_linalg`: `trace`, `linalg.norm`/`det`/`inv`/`solve`.
- `numpy_decompositions`: `linalg.slogdet`/`cholesky`/`eigh`/`eigvalsh`/`svd`/`svdvals`/`qr`,
  `linalg.eig`/`eigvals` for real spectra.
- `numpy_matrix_functions`: `linalg.pinv`/`lstsq`/`matrix_power`, `kron`, `cross`.
- `numpy_shape`: reshaping, transposing, joining, splitting, tiling, sorting, casting.
- `numpy_assembly`: functions that move or copy one array's elements (`diag`, `tril`, `roll`,
  `rot90`, `pad`, `partition`, `append`, ...), through one map of positions.
- `numpy_joins`: `column_stack`, `hsplit`/`vsplit`/`dsplit`, `meshgrid`, `select`, and the
  batched forms of `tile` and `split`.
- `numpy_pointwise`: `remainder`, `fmod`, `deg2rad`/`rad2deg`, `sinc`, `nan_to_num`,
  `real`/`imag`/`conj`.
- `numpy_sequences`: `diff`, `gradient`, `interp`.
- `numpy_scans`: `cumprod` (second order included) and ufunc `.reduce`/`.accumulate`/`.outer`.
- `numpy_statistics`: `nansum`, `nanmean`, `median`, `cov`, `corrcoef`.
- `numpy_composites`: functions written in terms of these (`average`, `polyval`, `trapezoid`,
  `convolve`, `nanmax`, `take`, ...), differentiated from their source.

Conventions shared by all of them (each module's docstring adds its own):

- Keys: a function or ufunc object (`np.sum`, `np.sin`, `np.linalg.norm`); a method or
  attribute of arrays is the string `"ndarray.<name>"` with the receiver as first parameter
  `a` (`x.sum(axis=0)` is `"ndarray.sum"`, `x.T` is `"ndarray.T"`).
- Broadcasting is undone with `unbroadcast`; reductions are undone with `expand_to`.
- dtypes: constants in templates are Python floats and helpers build arrays in the dtype of
  their inputs, so float32 arguments get float32 derivatives (NEP 50: a Python float does not
  upcast a float32 array; a NumPy float64 scalar would).
- Helpers that generated code calls are plain module-level functions next to the rules that
  use them; where a helper is linear it is registered `linear` with an adjoint, where it only
  computes shapes, masks or indices it is registered `nondifferentiable`.

Everything NumPy computes that is piecewise constant (rounding, signs, comparisons, indices,
shapes, array constructors other than the grids, random numbers) is registered
nondifferentiable below.
"""

import numpy as np

from adgen.rules import (
    numpy_assembly,
    numpy_composites,
    numpy_conversions,
    numpy_decompositions,
    numpy_elementwise,
    numpy_grids,
    numpy_index,
    numpy_joins,
    numpy_linalg,
    numpy_matrix_functions,
    numpy_pointwise,
    numpy_products,
    numpy_reductions,
    numpy_scans,
    numpy_sequences,
    numpy_shape,
    numpy_statistics,
)
from adgen.rules.registry import multilinear, nondifferentiable

__all__ = ["numpy_assembly", "numpy_composites", "numpy_conversions", "numpy_decompositions",
           "numpy_elementwise", "numpy_grids", "numpy_index", "numpy_joins", "numpy_linalg",
           "numpy_matrix_functions", "numpy_pointwise", "numpy_products", "numpy_reductions",
           "numpy_scans", "numpy_sequences", "numpy_shape", "numpy_statistics"]

_PIECEWISE_CONSTANT = """
    shape ndim size zeros ones empty zeros_like ones_like empty_like eye identity indices
    argmax argmin argsort argwhere nanargmax nanargmin searchsorted digitize
    nonzero flatnonzero count_nonzero all any sign floor ceil round around rint trunc fix
    heaviside signbit isnan isinf isfinite isclose allclose array_equal greater greater_equal
    less less_equal equal not_equal logical_and logical_or logical_not logical_xor
    floor_divide result_type broadcast_shapes iscomplexobj isscalar
"""


def _numpy_functions(names):
    return [getattr(np, name) for name in names.split() if hasattr(np, name)]


def _random_functions():
    return [getattr(np.random, name) for name in dir(np.random)
            if not name.startswith("_") and callable(getattr(np.random, name))]


_PIECEWISE_CONSTANT_METHODS = "argmax argmin argsort nonzero all any round searchsorted"

nondifferentiable(*_numpy_functions(_PIECEWISE_CONSTANT), *_random_functions(),
                  *(f"ndarray.{name}" for name in _PIECEWISE_CONSTANT_METHODS.split()))


multilinear(
    np.matmul, np.dot, np.inner, np.outer, np.tensordot, np.einsum, np.multiply,
    numpy_products.matmul_adjoint_a, numpy_products.matmul_adjoint_b,
    numpy_products.tensordot_adjoint_a, numpy_products.tensordot_adjoint_b,
    numpy_products.contract, numpy_products.einsum_term, numpy_products.einsum_adjoint,
    numpy_linalg.matmul_like, numpy_linalg.outer_like,
)
