"""Library calls that change an object they are given, which the lowering refuses.

The trace follows values: a call made for its effect on an argument (`np.copyto(a, b)`,
`np.add(a, b, a)` with the output given by position, `operator.setitem(a, i, v)`,
`heapq.heappush(h, v)`, `np.ndarray.fill(a, v)`, `random.shuffle(xs)`) would stay a primal step
the derivative does not follow, so the derivative would miss the write. The same holds for a
mutating method of an object that is not local (`HISTORY.append(v)` of a module-level list):
the derivative cannot follow a global. Such calls are refused at the user's line.

* `in_place(fn)`: NumPy's in-place functions, `ufunc.at`, the in-place functions of
  `operator`, `heapq` and `bisect`, `setattr`/`delattr`, `shuffle` of a random generator,
  unbound mutating methods (`list.append`, `np.ndarray.fill`) and mutating methods bound to an
  object adgen resolved as a global or closed-over value (`HISTORY.append`).
* `positional_out(fn, args)`: whether a call of `fn` with positional arguments `args` gives
  an output array by position (`np.exp(x, y)`, `np.sum(x, 0, None, s)`; `None` there is no
  output); `method_out(name, args)` the same for a method of an array (`a.cumsum(0, None,
  b)`).
* `overwriting(fn, keywords)`: SciPy's `overwrite_a=True` and `np.nan_to_num(a, copy=False)`,
  which let a call write into its argument.
* `WriteChecks`: element writes into the value of an expression (`B.ravel()[1] = v`) or
  through an attribute (`p.w[0] = v`), refused; the run-time checks of writes into a shallow
  copy or its source (`aliases.Checks.copies`).
"""

from __future__ import annotations

import ast
import bisect
import heapq
import operator
import random
import types
from typing import Any

import gast
import numpy as np

from adgen.codegen.astutil import clone
from adgen.frontend.aliases import MUTATING
from adgen.frontend.ir import const, name
from adgen.runtime_forms import updated_item

_NUMPY_IN_PLACE = (np.copyto, np.put, np.place, np.putmask, np.fill_diagonal,
                   np.put_along_axis, np.random.shuffle)
_OPERATOR_IN_PLACE = tuple(getattr(operator, n) for n in (
    "setitem", "delitem", "iadd", "iand", "iconcat", "ifloordiv", "ilshift", "imod", "imul",
    "imatmul", "ior", "ipow", "irshift", "isub", "itruediv", "ixor"))
_OTHER_IN_PLACE = (heapq.heappush, heapq.heappop, heapq.heapify, heapq.heapreplace,
                   heapq.heappushpop, bisect.insort, bisect.insort_left, bisect.insort_right,
                   setattr, delattr, object.__setattr__, object.__delattr__)
# methods that change their object, beyond `aliases.MUTATING` (which the alias walk follows)
_CHANGING = MUTATING | {"partition", "shuffle", "byteswap", "setfield", "setflags",
                        "discard", "add", "difference_update", "intersection_update",
                        "symmetric_difference_update", "appendleft", "extendleft",
                        "popleft", "rotate", "move_to_end"}
_CHANGING_DUNDERS = ("__setitem__", "__delitem__", "__setattr__", "__delattr__")

# functions NumPy writes without Python code: the position of their `out` parameter
_OUT_POSITION = {np.dot: 2, np.concatenate: 2}
# methods of arrays: the position of `out` among their positional arguments
_METHOD_OUT = {"sum": 2, "mean": 2, "std": 2, "var": 2, "prod": 2, "cumsum": 2, "cumprod": 2,
               "max": 1, "min": 1, "argmax": 1, "argmin": 1, "any": 1, "all": 1, "clip": 2,
               "round": 1, "take": 2, "dot": 1, "trace": 4, "choose": 1, "compress": 2}


def in_place(fn: Any) -> bool:
    """Whether calling `fn` is made to change an object it is given or is bound to."""
    if any(fn is f for f in _NUMPY_IN_PLACE + _OPERATOR_IN_PLACE + _OTHER_IN_PLACE):
        return True
    name = getattr(fn, "__name__", "")
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, np.ufunc):
        return name == "at"
    if name == "shuffle" and isinstance(owner, (random.Random, np.random.Generator,
                                                np.random.RandomState)):
        return True
    if isinstance(fn, (types.MethodDescriptorType, types.WrapperDescriptorType)):
        return name in _CHANGING or name in _CHANGING_DUNDERS or _in_place_operator(name)
    if isinstance(fn, (types.BuiltinMethodType, types.MethodWrapperType)) and owner is not None \
            and not isinstance(owner, (types.ModuleType, type)):
        return name in _CHANGING or name in _CHANGING_DUNDERS or _in_place_operator(name)
    return False


def _in_place_operator(name: str) -> bool:
    """`__iadd__`, `__imul__`, ...: the in-place operators."""
    return name.startswith("__i") and name.endswith("__") and name not in (
        "__init__", "__index__", "__int__", "__invert__", "__iter__", "__instancecheck__",
        "__init_subclass__")


def positional_out(fn: Any, args: list[gast.AST]) -> bool:
    """Whether positional arguments `args` give `fn` an output array (not `None`)."""
    if isinstance(fn, np.ufunc):
        return any(not _none(a) for a in args[fn.nin:])
    at = next((at for f, at in _OUT_POSITION.items() if fn is f), None)
    code = getattr(getattr(fn, "_implementation", fn), "__code__", None)
    if at is None and code is not None and str(getattr(fn, "__module__", None)).startswith(
            "numpy"):
        params = code.co_varnames[:code.co_argcount]
        at = params.index("out") if "out" in params else None
    return at is not None and len(args) > at and not _none(args[at])


def method_out(name: str, args: list[gast.AST]) -> bool:
    """Whether positional arguments `args` give the array method `name` an output array."""
    at = _METHOD_OUT.get(name)
    return at is not None and len(args) > at and not _none(args[at])


def overwriting(fn: Any, keywords: list[gast.keyword]) -> str | None:
    """The keyword that lets a call write into its argument: SciPy's `overwrite_a=True`,
    `np.nan_to_num(a, copy=False)` (None when there is none)."""
    if not str(getattr(fn, "__module__", None)).startswith(("scipy", "numpy")):
        return None  # the user's own `overwrite_` parameters
    for k in keywords:
        off = isinstance(k.value, gast.Constant) and k.value.value in (False, None, 0)
        if k.arg and k.arg.startswith("overwrite_") and not off:
            return k.arg
        if k.arg == "copy" and fn is np.nan_to_num and not (
                isinstance(k.value, gast.Constant) and k.value.value is True):
            return k.arg
    return None


def _none(node: gast.AST) -> bool:
    return isinstance(node, gast.Constant) and node.value is None


class WriteChecks:
    """Targets of writes the trace would not see, refused by the lowering, and the run-time
    checks of writes into shallow copies (a mixin of `lower_calls.CallLowering`, which
    provides `error`, `is_global`, `check` and `p`)."""

    copy_checks: dict[int, list[tuple[str, str, bool]]] = {}

    def refuse_through_attribute(self, target: gast.AST, what: str) -> None:
        """Refuse a write into an object reached through an attribute of a local value
        (`p.w[0] = v`, `p.items.append(v)`): the trace follows `p` and its fields as values,
        so such a write would change what a later `p.w` reads behind its back."""
        if not isinstance(target, (gast.Subscript, gast.Attribute)):
            return
        root = target.value if isinstance(target, gast.Subscript) else target
        while isinstance(root, gast.Subscript):
            root = root.value
        if isinstance(root, gast.Attribute) and not self.is_global(root):
            parts = []
            while isinstance(root, gast.Attribute):
                parts.append(root.attr)
                root = root.value
            shown = ".".join([root.id if isinstance(root, gast.Name) else "(...)",
                              *reversed(parts)])
            raise self.error(target, f"{what} `{shown}`, an object reached through an "
                             "attribute", f"make a new value (`w = {shown}.copy()`), change "
                             "that and use it, or pass it to the function as a parameter")

    def check_copies(self, s: gast.AST) -> None:
        """Before a write into a shallow copy or its source (`w = list(v)`), the run-time
        check `runtime.own_items` (the alias walk's `Checks.copies`)."""
        for written, other, deep in self.copy_checks.get(id(s), ()):
            at = self.place(s.lineno)
            self.check("own_items", [name(written), name(other), const(deep),
                                     const(f"`{written}` or `{other}`"), const(at)])

    def check_stores(self, targets: list[gast.AST], values: list[gast.AST],
                     atoms: list[gast.AST]) -> None:
        """`B[0], B[1] = B[1], B[0]`: the items are stored in turn, so an item that is a view
        (a row of `B`) sees the stores before its own, and NumPy writes the changed row back
        (no swap). Before the stores, `runtime.unshared` checks that no later item shares
        memory with an earlier target (numbers and new arrays pass)."""
        at = self.place(self.line)
        for i, target in enumerate(targets):
            root = target
            while isinstance(root, gast.Subscript):
                root = root.value
            if root is target or not isinstance(root, gast.Name):
                continue
            index = target.slice if target.value is root and not isinstance(
                target.slice, (gast.Slice, gast.Tuple)) else None  # one element: that part
            for value, atom in zip(values[i + 1:], atoms[i + 1:], strict=True):
                if isinstance(atom, gast.Name):
                    self.check("unshared", [name(atom.id), name(root.id), const(_text(value)),
                                            const(root.id), const(at)]
                               + ([self.atom(index)] if index is not None else []))

    def check_views(self, s: gast.AST, target: gast.AST) -> None:
        """Before `v[i] = ...` or `v[i] += ...` where a name the alias walk found may be a
        view of `v` (`Checks.views`): `runtime.unshared` for each."""
        for view in self.view_checks.get(id(s), ()):
            at = self.place(s.lineno)
            root = target
            index = root.slice if isinstance(root, gast.Subscript) and isinstance(
                root.value, gast.Name) and not isinstance(root.slice, (gast.Slice, gast.Tuple)) \
                else None  # one element index: the write is checked against that part only
            while isinstance(root, gast.Subscript):
                root = root.value
            self.check("unshared", [name(view), name(root.id), const(self.shown(view)),
                                    const(self.shown(root.id)), const(at)]
                       + ([self.atom(index)] if index else []))

    def check_updated_item(self, s: gast.AugAssign) -> None:
        """Before `c[k] += v` whose item another name may hold (the alias walk's
        `Checks.arguments`): `runtime_forms.updated_item`."""
        if isinstance(s.target, gast.Subscript) and id(s.target) in self.shared_arguments:
            at = self.place(s.lineno)
            item = self.atom(gast.Subscript(value=s.target.value, slice=s.target.slice,
                                            ctx=gast.Load()))
            check = self.form_call(updated_item, [self.atom(s.target.value), item,
                                                  const(_text(s)), const(at)])
            check.adgen_check = True
            self.emit(gast.Expr(value=check))

    def refuse_into_temporary(self, target: gast.Subscript) -> None:
        """Refuse an element write into what an expression gives (`B.ravel()[1] = v`,
        `B.reshape(-1)[i] = v`): a view of an array the trace would not see change, or a
        temporary nobody reads."""
        root = target.value
        while isinstance(root, gast.Subscript):
            root = root.value
        if not isinstance(root, (gast.Name, gast.Attribute)):
            raise self.error(target, f"writing into the value of `{_text(root)}`, which may be "
                             "a view of another array", "write into the array itself, or assign "
                             "a copy to a name (`w = ....copy()`) and write into that")


def _text(node: gast.AST) -> str:
    return ast.unparse(gast.gast_to_ast(clone(node)))
