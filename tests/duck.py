"""`Duck`: a test double for an array library other than NumPy (it stands in for CuPy).

A `Duck` wraps a NumPy array and answers NumPy's functions and ufuncs through
`__array_function__` and `__array_ufunc__` with Ducks, as CuPy does. Like a GPU array it
refuses to become a NumPy array (`np.asarray(d)`, `float(d)`, `bool(d)`, `d.item()`), and like
CuPy it refuses NumPy arrays as operands: a seed or a zero made with `np.zeros`/`np.eye`
instead of in the argument's library fails here. NumPy arrays are accepted where CuPy takes
host data: as the data of a new array (`np.asarray(a, like=d)`) and as an index.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# functions that make a new array from host data (`like=` sends them here)
_MAKERS = {np.asarray, np.array, np.zeros, np.ones, np.full, np.empty, np.eye, np.arange,
           np.asanyarray, np.ascontiguousarray}


class Duck(np.lib.mixins.NDArrayOperatorsMixin):
    """An array of another library: NumPy's protocols, no conversion to NumPy."""

    def __init__(self, data: Any) -> None:
        if isinstance(data, Duck):
            data = data.data
        self.data = np.asarray(data)

    # what makes it an array to NumPy's protocols
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    T = property(lambda self: Duck(self.data.T))

    def __repr__(self) -> str:
        return f"Duck({self.data!r})"

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise TypeError("a Duck array cannot be converted to a NumPy array")

    def __float__(self) -> float:
        raise TypeError("a Duck array cannot be converted to a Python float")

    __int__ = __float__

    def __bool__(self) -> bool:
        raise TypeError("a Duck array has no truth value on the host")

    def item(self, *args: Any) -> Any:
        raise TypeError("a Duck array cannot be converted to a Python number")

    tolist = item

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Any:
        return (Duck(row) for row in self.data)

    def __getitem__(self, index: Any) -> Duck:
        return Duck(self.data[_index(index)])

    def __setitem__(self, index: Any, value: Any) -> None:
        self.data[_index(index)] = _unwrap(value)

    def copy(self) -> Duck:
        return Duck(self.data.copy())

    def astype(self, dtype: Any, **kwargs: Any) -> Duck:
        return Duck(self.data.astype(dtype, **kwargs))

    def reshape(self, *shape: Any, **kwargs: Any) -> Duck:
        return Duck(self.data.reshape(*shape, **kwargs))

    def ravel(self) -> Duck:
        return Duck(self.data.ravel())

    def sum(self, *args: Any, **kwargs: Any) -> Duck:
        return np.sum(self, *args, **kwargs)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if "out" in kwargs:
            return NotImplemented
        result = getattr(ufunc, method)(*(_unwrap(x) for x in inputs), **kwargs)
        return _wrap(result)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if not all(issubclass(t, (Duck, np.ndarray)) for t in types):
            return NotImplemented
        if func in _MAKERS:  # host data becomes a Duck, as `cupy.asarray` copies it over
            return Duck(func(*_tree(args, _host), **_tree(kwargs, _host)))
        return _wrap(func(*_tree(args, _unwrap), **_tree(kwargs, _unwrap)))


def _unwrap(x: Any) -> Any:
    if isinstance(x, Duck):
        return x.data
    if isinstance(x, np.ndarray) and x.ndim:
        raise TypeError(f"a Duck array met a NumPy array of shape {x.shape} in one operation "
                        "(make it in the Duck library: np.zeros_like, like=)")
    return x


def _host(x: Any) -> Any:
    return x.data if isinstance(x, Duck) else x


def _index(index: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(_host(i) for i in index)
    return _host(index)


def _tree(x: Any, leaf: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return type(x)(_tree(v, leaf) for v in x)
    if isinstance(x, dict):
        return {k: _tree(v, leaf) for k, v in x.items()}
    return leaf(x)


def _wrap(x: Any) -> Any:
    if isinstance(x, (np.ndarray, np.generic)) and not isinstance(x, np.bool_):
        return Duck(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_wrap(v) for v in x)
    return x


def host(x: Any) -> Any:
    """The NumPy data of a result (a Duck, or a tuple of them), for comparison in tests."""
    if isinstance(x, (list, tuple)):
        return type(x)(host(v) for v in x)
    if isinstance(x, Duck):
        return x.data
    assert not isinstance(x, np.ndarray) or not x.ndim, "a NumPy array came out of Ducks"
    return x
