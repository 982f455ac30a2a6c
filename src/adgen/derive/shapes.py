"""Shapes and dtypes of a trace's values, for a derivative specialised to its arguments.

A specialised derivative knows, for each parameter, its Python type and for arrays the dtype
and shape (`Fact`). This module says what fact one trace step gives for the facts of its
operands (`step_fact`) and how facts join where paths meet (`join`); `adgen.derive.facts`
walks the trace with them, so a fact holds at every read of a name, on every run whose
arguments have the variant's signature, whichever path the run takes.

A step's result fact comes from shape rules (broadcasting for arithmetic, `@`, reductions
with a constant axis, `.T`, `.shape`) or from applying the step's NumPy function to stand-ins
of the known shapes: zero-strided arrays, so no argument-sized memory is touched; only
functions whose result shape follows from the argument shapes (not their values) are
applied, and results that depend on values (masks, `nonzero`, `unique`, shapes from run-time
integers) stay unknown. An unknown fact only means the specialised code keeps the general
helper there.
"""

from __future__ import annotations

import copy
import math
import operator
import types
import warnings
from dataclasses import dataclass
from typing import Any

import gast
import numpy as np

from adgen.derive.analysis import call_parts, primitive
from adgen.runtime import as_sequence

_STAND_IN_LIMIT = 1 << 20  # elements of an operation's largest stand-in before it is skipped


@dataclass(frozen=True)
class Fact:
    """What a variant knows of one value: `kind` is "array" (an `np.ndarray`), "float",
    "int", "bool" (Python numbers), "scalar" (a NumPy scalar), "tuple" (a constant tuple
    of ints, e.g. a shape, in `value`), "list" (a list whose items all have one fact) or
    "tuple_of" (a tuple of values with known facts)."""

    kind: str
    shape: tuple[int, ...] = ()
    dtype: Any = None
    value: Any = None
    items: tuple = ()  # a "list"'s one item fact (None: no item seen), a "tuple_of"'s facts

    @property
    def is_array(self) -> bool:
        return self.kind == "array"

    @property
    def is_number(self) -> bool:
        """A 0-d value: a Python or NumPy number, or a 0-d array."""
        return self.kind in _NUMBERS or self.kind == "array" and not self.shape


_NUMBERS = ("float", "int", "bool", "scalar")


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
    """An array's dtype and shape, else the type (which decides whether there is a fact);
    the dispatching function of `adgen.variants` writes the same expression inline."""
    return (x.dtype, x.shape) if type(x) is np.ndarray else type(x)


TOP = object()  # a name assigned values of different facts, or of one not known
CALLEE = " callee"  # where `facts.infer` keeps its `callee` function in the environment


def constant_facts(body: list[gast.AST], local: set[str],
                   constants: Any) -> dict[str, Fact]:
    """The facts of the free names `body` reads that hold numbers (`constants(name)`)."""
    out = {}
    for n in gast.walk(gast.Module(body=body, type_ignores=[])):
        if isinstance(n, gast.Name) and n.id not in local and n.id not in out:
            found, value = constants(n.id)
            if found and (type(value) in (float, int, bool) or isinstance(value, np.generic)):
                fact = from_value(value)
                if isinstance(fact, Fact):
                    out[n.id] = fact
    return out


def join(a: Any, b: Any) -> Any:
    """One fact for two assignments: equal facts, or two 0-d numbers of one dtype kind (a
    Python float and a NumPy float64 are both a 0-d float to the derivative; two ints read
    from shapes are an int, its value not known)."""
    if a == b:
        return a
    if not (isinstance(a, Fact) and isinstance(b, Fact)):
        return TOP
    if a.kind == b.kind and a.kind in _NUMBERS and a.dtype == b.dtype:
        return Fact(a.kind, (), a.dtype)  # two constants: a number of the type, not known
    if (a.kind in _NUMBERS and b.kind in _NUMBERS and a.dtype.kind == b.dtype.kind
            and a.value is None and b.value is None):
        return Fact("scalar", (), np.result_type(a.dtype, b.dtype))
    if a.kind == b.kind == "list":
        item = b.items[0] if a.items[0] is None else a.items[0] if b.items[0] is None else (
            join(a.items[0], b.items[0]))
        return Fact("list", items=(item,))
    if a.kind == b.kind == "tuple_of" and len(a.items) == len(b.items):
        return Fact("tuple_of", items=tuple(join(x, y) for x, y in zip(a.items, b.items,
                                                                          strict=True)))
    return TOP


def step_fact(rhs: gast.AST, env: dict[str, Any]) -> Any:
    """The fact of `rhs` for its operands' facts in `env` (TOP when it is not known; an
    operand missing from `env` is not known)."""
    if isinstance(rhs, gast.Constant):
        return from_value(rhs.value)
    if isinstance(rhs, gast.Name):
        return env.get(rhs.id, TOP)
    if isinstance(rhs, gast.List):
        facts = [atom_fact(e, env) for e in rhs.elts]
        if not facts:
            return Fact("list", items=(None,))
        item = facts[0]
        for f in facts[1:]:
            item = join(item, f)
        return Fact("list", items=(item,)) if isinstance(item, Fact) else TOP
    if isinstance(rhs, gast.Tuple):
        return Fact("tuple_of", items=tuple(atom_fact(e, env) for e in rhs.elts))
    try:
        stand = _Stand(env)
        if isinstance(rhs, gast.Subscript):
            return _subscript(rhs, env, stand)
        if isinstance(rhs, gast.Attribute):
            base = stand.of(rhs.value)
            if rhs.attr not in ("T", "shape", "ndim", "size", "real", "imag", "mT"):
                return TOP
            return from_value(getattr(base, rhs.attr))
        if isinstance(rhs, gast.Compare):
            return _elementwise([rhs.left, *rhs.comparators], env, stand, lambda *v: v[0] < v[1])
        if isinstance(rhs, (gast.BinOp, gast.UnaryOp, gast.Call)):
            return _apply(rhs, env, stand)
    except Exception:  # _Unknown, or a step the stand-ins cannot take (e.g. on a dead path)
        return TOP
    return TOP


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
        return self.fact(self.env.get(atom.id, TOP), index)

    def fact(self, f: Any, index: bool = False) -> Any:
        if not isinstance(f, Fact):
            raise _Unknown
        if f.kind == "tuple_of":  # `np.concatenate((a, b))`
            return tuple(self.fact(item) for item in f.items)
        if f.kind == "array":
            self.largest = max(self.largest, math.prod(f.shape))
            return np.broadcast_to(np.zeros((), f.dtype), f.shape)
        if f.kind == "tuple" or f.value is not None:
            return f.value  # a shape, or an int read from one: a constant of the variant
        if not index:
            raise _Unknown  # a run-time number may decide a shape (`np.arange(n)`)
        return 0  # an int index: the item's shape does not depend on which


def from_value(v: Any) -> Any:
    if isinstance(v, np.generic):
        return Fact("scalar", (), v.dtype) if v.dtype.kind in "fiub" else TOP
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
    return TOP


def atom_fact(node: gast.AST, env: dict[str, Any]) -> Any:
    if isinstance(node, gast.Constant):
        return from_value(node.value)
    return env.get(node.id, TOP) if isinstance(node, gast.Name) else TOP


def _subscript(rhs: gast.Subscript, env: dict[str, Any], stand: _Stand) -> Any:
    base = env.get(rhs.value.id, TOP) if isinstance(rhs.value, gast.Name) else TOP
    if isinstance(base, Fact) and base.kind == "list":
        _index(rhs.slice, env, stand)  # an int, or _Unknown
        if isinstance(rhs.slice, gast.Slice):
            return base
        return base.items[0] if isinstance(base.items[0], Fact) else TOP
    if isinstance(base, Fact) and base.kind == "tuple_of":
        index = _bound(rhs.slice, env)
        if type(index) is not int or not -len(base.items) <= index < len(base.items):
            return TOP
        return base.items[index]
    if not isinstance(base, Fact) or base.kind not in ("array", "tuple"):
        return TOP
    index = _index(rhs.slice, env, stand)
    value = stand.of(rhs.value)
    if base.kind == "tuple":
        got = value[index]
        return Fact("int", (), np.dtype(int), got) if type(got) is int else from_value(got)
    if base.kind == "array" and any(n == 0 for n in base.shape):
        return TOP  # a stand-in index 0 would be out of range
    return from_value(value[index])


def _index(node: gast.AST, env: dict[str, Any], stand: _Stand) -> Any:
    if isinstance(node, gast.Tuple):
        return tuple(_index(e, env, stand) for e in node.elts)
    if isinstance(node, gast.Slice):
        return slice(*[None if p is None else _bound(p, env)
                       for p in (node.lower, node.upper, node.step)])
    if isinstance(node, gast.Constant):
        return node.value
    if isinstance(node, gast.Name):
        f = env.get(node.id, TOP)
        if isinstance(f, Fact) and f.kind == "int":
            return 0 if f.value is None else f.value
        if isinstance(f, Fact) and f.kind == "array" and f.dtype.kind in "iu":
            return np.zeros(f.shape, f.dtype)  # the result has the index's shape
    raise _Unknown


def _bound(node: gast.AST, env: dict[str, Any]) -> Any:
    """A slice bound the variant knows: a constant, or an int read from a shape."""
    if isinstance(node, gast.Constant):
        return node.value
    f = env.get(node.id) if isinstance(node, gast.Name) else None
    if isinstance(f, Fact) and f.kind == "int" and f.value is not None:
        return f.value
    raise _Unknown  # a run-time bound decides the length


# Functions whose result shape depends on the values of array arguments.
_VALUE_SHAPED = {np.nonzero, np.flatnonzero, np.argwhere, np.unique, np.compress, np.extract,
                 np.trim_zeros, np.delete, np.insert, np.repeat, np.bincount, np.histogram,
                 np.select, np.piecewise, np.resize, np.place, np.put}


def _apply(rhs: gast.AST, env: dict[str, Any], stand: _Stand) -> Any:
    fn = primitive(rhs)
    args, keywords = call_parts(rhs)
    if fn is None or fn in _VALUE_SHAPED:
        return TOP
    if fn is as_sequence:
        got = stand.env.get(args[0].id, TOP) if isinstance(args[0], gast.Name) else TOP
        return got if isinstance(got, Fact) and got.kind in ("array", "list") else TOP
    products = (operator.matmul, np.matmul)
    elementwise = fn not in products and (
        isinstance(rhs, (gast.BinOp, gast.UnaryOp)) or isinstance(fn, np.ufunc))
    if elementwise and not keywords:
        return _elementwise(args, env, stand, fn)
    if fn in (copy.copy, copy.deepcopy):  # the argument's fact
        return atom_fact(args[0], env) if args and not keywords else TOP
    if isinstance(fn, types.FunctionType) and not _numpy_function(fn):
        return _called(fn, args, keywords, env)
    if getattr(fn, "__module__", None) == "math" and not keywords:
        return _math(fn, args, env)
    if fn in products:
        call: Any = np.matmul
        values = [stand.of(a) for a in args]
    elif isinstance(fn, str):  # a method of the first argument
        method = fn.split(".", 1)[1]
        if method in ("nonzero", "tolist", "item", "copy_to", "fill", "sort", "resize"):
            return TOP
        target = stand.of(args[0])
        if not isinstance(target, np.ndarray):
            return TOP
        call = getattr(target, method)
        values = [stand.of(a) for a in args[1:]]
    else:
        if not _numpy_function(fn):
            return TOP
        call = fn
        values = [stand.of(a) for a in args]
    kw = {k: stand.of(v) for k, v in keywords.items()}
    if stand.largest > _STAND_IN_LIMIT:
        return TOP
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            got = call(*values, **kw)
        except Exception:  # the function refuses stand-ins (e.g. singular zeros): unknown
            return TOP
    return from_value(got)


def _called(fn: Any, args: list[gast.AST], keywords: dict[str, gast.AST],
            env: dict[str, Any]) -> Any:
    """What a call of the user's function `fn` returns, from its parameters' facts."""
    callee = env.get(CALLEE)
    code = fn.__code__
    if callee is None or code.co_flags & (0x04 | 0x08) or code.co_kwonlyargcount:
        return TOP
    params = list(code.co_varnames[:code.co_argcount])
    values = fn.__defaults__ or ()
    defaults = dict(zip(params[len(params) - len(values):], values, strict=True))
    facts: dict[str, Any] = {}
    for p, a in zip(params, args, strict=False):
        facts[p] = atom_fact(a, env)
    for k, a in keywords.items():
        facts[k] = atom_fact(a, env)
    known = tuple((p, facts[p] if isinstance(facts.get(p), Fact) else
                   fact_of(defaults[p]) if p not in facts and p in defaults else None)
                  for p in params)
    got = callee(fn, known)
    return got if isinstance(got, Fact) else TOP


def _math(fn: Any, args: list[gast.AST], env: dict[str, Any]) -> Any:
    """A `math` function of numbers: its result's type, from stand-ins (a value where the
    function is defined for most functions, 0.5)."""
    values = []
    for a in args:
        f = atom_fact(a, env)
        if not isinstance(f, Fact) or not f.is_number or f.kind == "array":
            return TOP
        values.append(0.5 if f.dtype.kind == "f" else 1)
    try:
        return from_value(fn(*values))
    except Exception:  # outside its domain at the stand-ins: not known
        return TOP


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
            facts.append(from_value(a.value))
        elif isinstance(a, gast.Name):
            facts.append(env.get(a.id, TOP))
        else:
            return TOP
    if any(not isinstance(f, Fact) or f.kind == "tuple" for f in facts):
        return TOP
    known = [a.value if isinstance(a, gast.Constant) else f.value
             for a, f in zip(atoms, facts, strict=True)]
    if all(type(v) is int for v in known):  # `2 * n` of an `n` read from a shape
        try:
            got = fn(*known)
        except Exception:
            return TOP
        return Fact("int", (), np.dtype(int), got) if type(got) is int else from_value(got)
    small = []
    for a, f in zip(atoms, facts, strict=True):
        if f.kind == "array":
            small.append(np.zeros((), f.dtype).reshape((1,) * len(f.shape)))
        elif isinstance(a, gast.Constant):
            small.append(a.value)
        else:
            # ones, not zeros: a division by a Python zero would raise, and say nothing
            small.append({"float": 1.0, "int": 1, "bool": True}.get(f.kind, None)
                         if f.kind != "scalar" else f.dtype.type(1))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            got = fn(*small)
            shape = np.broadcast_shapes(*[f.shape for f in facts])
        except Exception:
            return TOP
    if any(f.kind == "array" for f in facts):
        if not isinstance(got, np.ndarray):
            return TOP
        return Fact("array", shape, got.dtype)
    return from_value(got)
