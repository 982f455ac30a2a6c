"""What an expression may share with local names, read off its form alone, for the alias
check (`frontend/aliases.py`): the name a subscript, a view or a field is part of (`viewed`),
whether a part is surely an object of its own or an item that may be a number
(`surely_a_part`, `an_item`), the name under a chain of subscripts (`root`), the names a
binding target stores (`stored`)."""

from __future__ import annotations

import gast

from adgen.codegen import astutil
from adgen.frontend.alias_calls import uncopied

VIEW_METHODS = {"reshape", "view", "ravel", "squeeze", "transpose", "swapaxes", "T",
                "real", "imag", "diagonal", "mT"}
VIEW_FUNCTIONS = {"reshape", "ravel", "squeeze", "transpose", "swapaxes", "asarray",
                  "atleast_1d", "atleast_2d", "atleast_3d", "expand_dims", "moveaxis",
                  "diagonal", "broadcast_to", "flip", "fliplr", "flipud", "rot90", "rollaxis",
                  "asanyarray", "ascontiguousarray", "asfortranarray", "asarray_chkfinite",
                  "require", "real", "imag", "permute_dims", "matrix_transpose", "as_strided",
                  "split", "array_split", "hsplit", "vsplit", "dsplit", "unstack"}
METADATA = {"shape", "ndim", "size", "dtype"}  # attributes that are new values, never parts


def surely_a_part(value: gast.AST) -> bool:
    """Whether `value`, a part of a name, is an object of its own rather than perhaps a number:
    a slice or a view, an entry under a string key (`p["w"]`). `v[i]` may be a number (an
    element of a 1-d array) or a row: a container holding it holds `v` only perhaps
    (`alias_pairs.possibly`), which the run time tells."""
    if not isinstance(value, gast.Subscript):
        return True
    index = value.slice
    return isinstance(index, gast.Slice) or isinstance(index, gast.Constant) and isinstance(
        index.value, str) or isinstance(index, gast.Tuple) and any(
        isinstance(i, gast.Slice) for i in index.elts)


def an_item(e: gast.AST, names: set[str]) -> bool:
    """Whether `e` is an expression whose value may be a number: a name, `v[i]`, or what a
    user function returns (`row_of(M, i)`, `ident(v)`), unlike a view (`v.reshape(-1)`)."""
    return isinstance(e, gast.Name) or isinstance(e, gast.Subscript) and not surely_a_part(
        e) or isinstance(e, gast.Call) and viewed(e, names) is None


def stored(target: gast.AST) -> list[str]:
    """The names a binding target (`a`, `a, (b, *c)`) stores."""
    return [n.id for n in astutil.walk_in_order(target)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)]


def number(value: gast.AST) -> bool:
    return isinstance(value, gast.Constant) or isinstance(value, gast.UnaryOp) and isinstance(
        value.operand, gast.Constant)


def root(target: gast.AST) -> tuple[str | None, int]:
    """The name under a chain of subscripts, and how many subscripts deep it is."""
    depth = 0
    while isinstance(target, gast.Subscript):
        target, depth = target.value, depth + 1
    return (target.id, depth) if isinstance(target, gast.Name) else (None, 0)


def viewed(value: gast.AST, names: set[str]) -> str | None:
    """The local name `value` may be an item or a view of."""
    inner = None
    if isinstance(value, gast.Subscript):
        inner, _ = root(value)
        return inner if inner in names else None
    if isinstance(value, gast.Attribute) and value.attr in VIEW_METHODS:
        inner = value.value
    elif isinstance(value, gast.Attribute) and value.attr not in METADATA:
        inner = fields_of(value)  # a field of a record, or an attribute of an object
    elif isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute):
        receiver = value.func.value
        if isinstance(receiver, gast.Name) and receiver.id in names:
            inner = receiver if value.func.attr in VIEW_METHODS or uncopied(value) else None
        elif (value.func.attr in VIEW_FUNCTIONS or uncopied(value)) and value.args:
            inner = value.args[0]
    elif isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.args and (
            value.func.id in VIEW_FUNCTIONS or uncopied(value)) and value.func.id not in names:
        inner = value.args[0]  # `from numpy import flip`
    if isinstance(inner, gast.Name) and inner.id in names:
        return inner.id
    return None


def fields_of(value: gast.AST) -> gast.AST | None:
    """The name at the root of an attribute chain `v.layer.w` (None for anything else)."""
    while isinstance(value, gast.Attribute):
        value = value.value
    return value if isinstance(value, gast.Name) else None
