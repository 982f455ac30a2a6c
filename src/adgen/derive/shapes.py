"""Shapes and dtypes of a trace's values, for a derivative specialised to its arguments.

A specialised derivative knows, for each parameter, its Python type and for arrays the dtype
and shape (`Fact`). This pass propagates those facts through the trace: a name gets a fact
when every assignment to it gives the same shape and dtype, whatever path the run takes. It
is flow-insensitive (one fact per name, the join over all its assignments, iterated to a
fixed point over loops), so a fact holds at every read of the name, on every run whose
arguments have the variant's signature.

A step's result fact comes from shape rules (broadcasting for arithmetic, `@`, reductions
with a constant axis, `.T`, `.shape`) or from applying the step's NumPy function to stand-ins
of the known shapes: zero-strided arrays, so no argument-sized memory is touched; only
functions whose result shape follows from the argument shapes (not their values) are
applied, and results that depend on values (masks, `nonzero`, `unique`, shapes from run-time
integers) stay unknown. An unknown fact only means the specialised code keeps the general
helper there.
"""

from __future__ import annotations

import math
import operator
import types
import warnings
from dataclasses import dataclass
from typing import Any

import gast
import numpy as np

from adgen.derive.analysis import call_parts, primitive, statements
from adgen.runtime import as_sequence

_STAND_IN_LIMIT = 1 << 20  # elements of an operation's largest stand-in before it is skipped


@dataclass(frozen=True)
class Fact:
    """What a variant knows of one value: `kind` is "array" (an `np.ndarray`), "float",
    "int", "bool" (Python numbers), "scalar" (a NumPy scalar) or "tuple" (a constant tuple
    of ints, e.g. a shape, in `value`)."""

    kind: str
    shape: tuple[int, ...] = ()
    dtype: Any = None
    value: Any = None

    @property
    def is_array(self) -> bool:
        return self.kind == "array"


def fact_of(x: Any) -> Fact | None:
    """The fact of an argument, None for what a variant does not specialise to."""
    t = type(x)
    if t is float:
        return Fact("float", (), np.dtype(float))
    if t is int:
        return Fact("int", (), np.dtype(int))
    if t is np.ndarray:
        return Fact("array", x.shape, x.dtype)
    if isinstance(x, np.generic) and x.dtype.kind in "fiu":
        return Fact("scalar", (), x.dtype)
    return None


def signature(args: tuple) -> tuple:
    """The key of the variant for a call's arguments: cheap, one check per argument."""
    return tuple(_key(a) for a in args)


def _key(x: Any) -> Any:
    t = type(x)
    if t is float or t is int:
        return t
    if t is np.ndarray:
        return (x.dtype, x.shape)
    if isinstance(x, np.generic):
        return t
    return None


_TOP = object()  # a name assigned values of different facts, or of one not known


def infer(body: list[gast.AST], params: dict[str, Fact | None]) -> dict[str, Fact]:
    """The fact of every name whose shape and dtype the parameters' facts decide."""
    env: dict[str, Any] = {p: (f if f is not None else _TOP) for p, f in params.items()}
    steps = list(_steps(body))
    local = {t for t, _ in steps} | set(params)
    for _ in range(50):
        changed = False
        for target, rhs in steps:
            new = _TOP if rhs is None else _result(rhs, env, local)
            if new is None:  # an operand not known yet: wait for it
                continue
            old = env.get(target)
            joined = new if old is None else _join(old, new)
            if joined is not old and joined != old:
                env[target] = joined
                changed = True
        if not changed:
            break
    else:
        return {}
    return {k: v for k, v in env.items() if isinstance(v, Fact)}


def _join(a: Any, b: Any) -> Any:
    """One fact for two assignments: equal facts, or two 0-d numbers of one dtype kind (a
    Python float and a NumPy float64 are both a 0-d float to the derivative)."""
    if a == b:
        return a
    numbers = ("float", "int", "bool", "scalar")
    if (isinstance(a, Fact) and isinstance(b, Fact) and a.kind in numbers and b.kind in numbers
            and a.dtype.kind == b.dtype.kind and a.value is None and b.value is None):
        return Fact("scalar", (), np.result_type(a.dtype, b.dtype))
    return _TOP


def _steps(body: list[gast.AST]):
    """(target, rhs) of every binding in the trace; rhs None when nothing is known of it."""
    for s in statements(body):
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            if isinstance(t, gast.Name):
                yield t.id, s.value
            elif isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                yield t.value.id, t.value  # a write keeps an array's shape, and a list's...
        elif isinstance(s, gast.For):
            if isinstance(s.target, gast.Name):
                yield s.target.id, _loop_item(s.iter)
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and isinstance(
                s.value.func, gast.Attribute) and isinstance(s.value.func.value, gast.Name):
            yield s.value.func.value.id, None  # `xs.append(v)` changes `xs`
        else:
            for n in _bound_names(s):
                yield n, None


def _bound_names(s: gast.AST) -> list[str]:
    if isinstance(s, (gast.AugAssign, gast.AnnAssign)) and isinstance(s.target, gast.Name):
        return [s.target.id]
    return []


def _loop_item(it: gast.AST) -> gast.AST | None:
    if isinstance(it, gast.Call) and primitive(it) is range:
        return gast.Constant(value=0, kind=None)  # an int
    return None


def _result(rhs: gast.AST, env: dict[str, Any], local: set[str]) -> Any:
    """The fact of `rhs`, _TOP when it is not known, None when an operand is still unset."""
    for n in gast.walk(rhs):
        if isinstance(n, gast.Name) and n.id in local and n.id not in env:
            return None
    if isinstance(rhs, gast.Constant):
        return _from_value(rhs.value)
    if isinstance(rhs, gast.Name):
        got = env.get(rhs.id, _TOP)
        return got
    try:
        stand = _Stand(env)
        if isinstance(rhs, gast.Subscript):
            return _subscript(rhs, env, stand)
        if isinstance(rhs, gast.Attribute):
            base = stand.of(rhs.value)
            if rhs.attr not in ("T", "shape", "ndim", "size", "real", "imag", "mT"):
                return _TOP
            return _from_value(getattr(base, rhs.attr))
        if isinstance(rhs, gast.Compare):
            return _elementwise([rhs.left, *rhs.comparators], env, stand, lambda *v: v[0] < v[1])
        if isinstance(rhs, (gast.BinOp, gast.UnaryOp, gast.Call)):
            return _apply(rhs, env, stand)
    except Exception:  # _Unknown, or a step the stand-ins cannot take (e.g. on a dead path)
        return _TOP
    return _TOP


class _Unknown(Exception):
    """A value this pass cannot stand in for."""


class _Stand:
    """Stand-ins for atoms: zero-strided arrays of the known shape and dtype, Python zeros."""

    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env
        self.largest = 0

    def of(self, atom: gast.AST, index: bool = False) -> Any:
        if isinstance(atom, gast.Constant):
            return atom.value
        if not isinstance(atom, gast.Name):
            raise _Unknown
        f = self.env.get(atom.id, _TOP)
        if not isinstance(f, Fact):
            raise _Unknown
        if f.kind == "array":
            self.largest = max(self.largest, math.prod(f.shape))
            return np.broadcast_to(np.zeros((), f.dtype), f.shape)
        if f.kind == "tuple" or f.value is not None:
            return f.value  # a shape, or an int read from one: a constant of the variant
        if not index:
            raise _Unknown  # a run-time number may decide a shape (`np.arange(n)`)
        return 0  # an int index: the item's shape does not depend on which


def _from_value(v: Any) -> Any:
    if isinstance(v, np.generic):
        return Fact("scalar", (), v.dtype) if v.dtype.kind in "fiub" else _TOP
    if isinstance(v, bool):
        return Fact("bool", (), np.dtype(bool))
    if isinstance(v, int):
        return Fact("int", (), np.dtype(int))
    if isinstance(v, float):
        return Fact("float", (), np.dtype(float))
    if isinstance(v, np.ndarray):
        return Fact("array", v.shape, v.dtype)
    if isinstance(v, tuple) and all(type(i) is int for i in v):
        return Fact("tuple", (), None, v)
    return _TOP


def _subscript(rhs: gast.Subscript, env: dict[str, Any], stand: _Stand) -> Any:
    base = env.get(rhs.value.id, _TOP) if isinstance(rhs.value, gast.Name) else _TOP
    if not isinstance(base, Fact) or base.kind not in ("array", "tuple"):
        return _TOP
    index = _index(rhs.slice, env, stand)
    value = stand.of(rhs.value)
    if base.kind == "tuple":
        got = value[index]
        return Fact("int", (), np.dtype(int), got) if type(got) is int else _from_value(got)
    if base.kind == "array" and any(n == 0 for n in base.shape):
        return _TOP  # a stand-in index 0 would be out of range
    return _from_value(value[index])


def _index(node: gast.AST, env: dict[str, Any], stand: _Stand) -> Any:
    if isinstance(node, gast.Tuple):
        return tuple(_index(e, env, stand) for e in node.elts)
    if isinstance(node, gast.Slice):
        parts = [node.lower, node.upper, node.step]
        if any(p is not None and not isinstance(p, gast.Constant) for p in parts):
            raise _Unknown  # a run-time bound decides the length
        return slice(*[None if p is None else p.value for p in parts])
    if isinstance(node, gast.Constant):
        return node.value
    if isinstance(node, gast.Name):
        f = env.get(node.id, _TOP)
        if isinstance(f, Fact) and f.kind == "int":
            return 0 if f.value is None else f.value
        if isinstance(f, Fact) and f.kind == "array" and f.dtype.kind in "iu":
            return np.zeros(f.shape, f.dtype)  # the result has the index's shape
    raise _Unknown


# Functions whose result shape depends on the values of array arguments.
_VALUE_SHAPED = {np.nonzero, np.flatnonzero, np.argwhere, np.unique, np.compress, np.extract,
                 np.trim_zeros, np.delete, np.insert, np.repeat, np.bincount, np.histogram,
                 np.select, np.piecewise, np.resize, np.place, np.put}


def _apply(rhs: gast.AST, env: dict[str, Any], stand: _Stand) -> Any:
    fn = primitive(rhs)
    args, keywords = call_parts(rhs)
    if fn is None or fn in _VALUE_SHAPED:
        return _TOP
    if fn is as_sequence:
        got = stand.env.get(args[0].id, _TOP) if isinstance(args[0], gast.Name) else _TOP
        return got if isinstance(got, Fact) and got.is_array else _TOP
    products = (operator.matmul, np.matmul)
    elementwise = fn not in products and (
        isinstance(rhs, (gast.BinOp, gast.UnaryOp)) or isinstance(fn, np.ufunc))
    if elementwise and not keywords:
        return _elementwise(args, env, stand, fn)
    if fn in products:
        call: Any = np.matmul
        values = [stand.of(a) for a in args]
    elif isinstance(fn, str):  # a method of the first argument
        method = fn.split(".", 1)[1]
        if method in ("nonzero", "tolist", "item", "copy_to", "fill", "sort", "resize"):
            return _TOP
        target = stand.of(args[0])
        if not isinstance(target, np.ndarray):
            return _TOP
        call = getattr(target, method)
        values = [stand.of(a) for a in args[1:]]
    else:
        if not _numpy_function(fn):
            return _TOP
        call = fn
        values = [stand.of(a) for a in args]
    kw = {k: stand.of(v) for k, v in keywords.items()}
    if stand.largest > _STAND_IN_LIMIT:
        return _TOP
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            got = call(*values, **kw)
        except Exception:  # the function refuses stand-ins (e.g. singular zeros): unknown
            return _TOP
    return _from_value(got)


def _numpy_function(fn: Any) -> bool:
    module = getattr(fn, "__module__", None) or ""
    if isinstance(fn, np.ufunc):
        return True
    if fn in (len, abs, float, int):
        return True
    if isinstance(fn, (types.FunctionType, types.BuiltinFunctionType)) or callable(fn):
        return module == "numpy" or module.startswith("numpy.")
    return False


def _elementwise(atoms: list[gast.AST], env: dict[str, Any], stand: _Stand, fn: Any) -> Any:
    """Broadcasting: the shape from the operands' shapes, the type from 0-d stand-ins."""
    facts = []
    for a in atoms:
        if isinstance(a, gast.Constant):
            facts.append(_from_value(a.value))
        elif isinstance(a, gast.Name):
            facts.append(env.get(a.id, _TOP))
        else:
            return _TOP
    if any(not isinstance(f, Fact) or f.kind == "tuple" for f in facts):
        return _TOP
    small = []
    for a, f in zip(atoms, facts, strict=True):
        if f.kind == "array":
            small.append(np.zeros((), f.dtype).reshape((1,) * len(f.shape)))
        elif isinstance(a, gast.Constant):
            small.append(a.value)
        else:
            small.append({"float": 0.0, "int": 0, "bool": False}.get(f.kind, None)
                         if f.kind != "scalar" else f.dtype.type(0))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            got = fn(*small)
            shape = np.broadcast_shapes(*[f.shape for f in facts])
        except Exception:
            return _TOP
    if any(f.kind == "array" for f in facts):
        if not isinstance(got, np.ndarray):
            return _TOP
        return Fact("array", shape, got.dtype)
    return _from_value(got)
