"""Rows of tables that generated code reads and writes: `D[i][j] = v` writes a copy of the row
(`row`) and stores it back; `D[i][j]` of a table the function writes into reads the row with
`read_row`; `float_target` refuses a table of integers that differentiated values are written
into (NumPy truncates them). Imports only `runtime`, `arrays` and NumPy."""

from __future__ import annotations

from typing import Any

import numpy as np

from adgen.arrays import is_array
from adgen.errors import DifferentiationError
from adgen.runtime import owned_copy, refusal, zeros_like


def row(x: Any, index: Any, like: Any = None) -> Any:
    """A copy of the row `x[index]` that `x[index][j] = v` writes into before it is stored
    back as `x[index] = row`: the write then changes `x`, never a view or an object another
    name holds (the lowering refuses chained writes where another name may see the row).
    For a tangent or an adjoint, `like` is the primal row: where the derivative is still a
    plain zero, a zero shaped like it."""
    def indexable(v: Any) -> bool:
        return isinstance(v, (list, tuple, dict)) or is_array(v)

    if isinstance(x, (list, tuple, dict)) or is_array(x) and x.ndim:
        if like is None and is_array(x) and _advanced(index):
            raise refusal("`x[index][...] = v` with an integer-array or boolean index writes "
                          "into a copy (NumPy's advanced indexing), so it changes nothing; "
                          "write with one index instead (`x[index, ...] = v`)")
        value = x[index]
        if like is None or indexable(value) or not indexable(like):
            return owned_copy(value)
    return zeros_like(like)


def _advanced(index: Any) -> bool:
    """Whether a NumPy index selects by integer arrays or booleans (giving a copy)."""
    if isinstance(index, tuple):
        return any(_advanced(i) for i in index)
    return isinstance(index, (list, bool, np.bool_)) or is_array(index) and np.ndim(index) > 0


def read_row(x: Any, index: Any, like: Any = None) -> Any:
    """`x[index]` read as the first subscript of `x[index][j]` where the function also writes
    into `x`: a copy for a NumPy array (a view would change with the later writes), the row
    itself for a list or dict (whose writes replace rows, never change them). For a tangent
    or an adjoint, `like` is the primal row, as in `row`."""
    if isinstance(x, np.ndarray) and x.ndim > 1:
        return x[index].copy()
    if isinstance(x, (list, tuple, dict)) or is_array(x) and x.ndim:
        value = x[index]
        plain = not isinstance(value, (list, tuple, dict)) and not is_array(value)
        if like is None or not plain or not (isinstance(like, (list, tuple, dict)) or is_array(
                like)):
            return value
    return zeros_like(like)


def float_target(value: Any, var: str, where: str) -> None:
    """Before differentiated values are written into `var` element by element: refused when
    it is an array of integers or booleans, which truncates what is stored (so the stored
    element has no derivative, where the trace would follow the value written)."""
    kind = getattr(getattr(value, "dtype", None), "kind", "f")
    if is_array(value) and kind in "iub":
        raise DifferentiationError(
            f"{where}: `{var}` is an array of {value.dtype}, and differentiated values are "
            "written into it: NumPy truncates them to its dtype, which a derivative cannot "
            f"follow; make it a float array (`np.zeros(n)`, `np.arange(n, dtype=float)`, "
            f"`{var}.astype(float)`)")
