"""What generated code calls at run time: broadcasting undo, zeros, output checks.

Everything here is small and cheap; scalar code paths never call it (the transformation proves
when shapes agree and leaves the call out).
"""

from __future__ import annotations

import linecache
import sys
from typing import Any

import numpy as np

from adgen import records
from adgen.arrays import basic_index, is_array, scatter_add
from adgen.errors import DifferentiationError
from adgen.runtime_aliases import (  # noqa: F401
    number_item,
    numbers_only,
    own_items,
    unshared,
)


def unbroadcast(g: Any, x: Any) -> Any:
    """Sum `g` over the axes that broadcasting added to `x`, giving `g` the shape of `x`
    (the adjoint of a list, tuple or dict is one already: nothing was broadcast)."""
    if isinstance(g, _CONTAINERS):
        if isinstance(x, (list, tuple)) and len(g) != len(x):
            raise DifferentiationError(
                f"cannot differentiate `+` or `*` that joins or repeats lists or tuples (an "
                f"adjoint of {len(g)} items for an operand of {len(x)}): adgen differentiates "
                "these operators on numbers and arrays; build the list with `.append` or a "
                "comprehension, or join arrays with np.concatenate")
        return g
    gshape = np.shape(g)
    xshape = np.shape(x)
    if gshape == xshape or len(gshape) < len(xshape):  # equal, or a zero that broadcasts
        return g
    if not xshape:
        total = np.sum(g)
        if isinstance(x, float) and isinstance(total, (np.ndarray, np.generic)):
            return total.item()
        return total
    lead = len(gshape) - len(xshape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(xshape) if n == 1 and gshape[i + lead] != 1
    )
    out = np.sum(g, axis=axes, keepdims=True) if axes else g
    if lead:
        out = out.reshape(out.shape[lead:])
    return out


def zeros_like(x: Any) -> Any:
    """A zero of the same shape and type as `x` (0.0 for Python numbers)."""
    if type(x) is np.ndarray:  # the common case first (an adjoint's memory order is free)
        return np.zeros(x.shape, x.dtype)
    if is_array(x):
        return np.zeros_like(x)
    if isinstance(x, np.generic):
        return type(x)(0)
    if type(x) is list:  # a list of arrays (a state of rows): no call per item
        return [np.zeros(v.shape, v.dtype) if type(v) is np.ndarray else zeros_like(v)
                for v in x]
    if isinstance(x, (tuple, list)):
        items = [zeros_like(v) for v in x]
        return type(x)(*items) if hasattr(type(x), "_fields") else type(x)(items)  # namedtuple
    if isinstance(x, dict):
        return {k: zeros_like(v) for k, v in x.items()}
    return 0.0


def as_sequence(xs: Any) -> Any:
    """Something indexable with the items of `xs` (lists, tuples and arrays pass unchanged)."""
    if isinstance(xs, (list, tuple, range, str)) or is_array(xs):
        return xs
    return list(xs)


def scalar_output(value: Any, name: str, where: str) -> Any:
    """Return `value` if it is a scalar number; else raise a clear error naming the function."""
    if type(value) is float:
        return value
    if isinstance(value, complex) or np.iscomplexobj(value):
        real_only(value, f"the value of {name} ({where})")
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return value
    if is_array(value) and value.ndim == 0 and value.dtype.kind in "fiuc":
        return value
    if not isinstance(value, (tuple, list, dict)) and not is_array(value):
        raise DifferentiationError(
            f"grad needs a scalar-valued function (a number), but {name} ({where}) returned "
            f"{type(value).__name__} {value!r:.40}; use adgen.vjp for other outputs")
    shape = np.shape(value) if not isinstance(value, (tuple, list, dict)) else type(value).__name__
    raise DifferentiationError(
        f"grad needs a scalar-valued function, but {name} ({where}) returned a value of shape "
        f"{shape}; use adgen.vjp with a cotangent, or adgen.jacobian, for non-scalar outputs"
    )


def sign(x: Any) -> Any:
    """-1, 0 or 1 like `numpy.sign`, without NumPy's overhead for Python numbers (and NumPy
    float64 scalars, which are Python floats too); complex values are refused."""
    if isinstance(x, (float, int)):
        return 1.0 if x > 0 else -1.0 if x < 0 else 0.0
    real_only(x, "abs")
    return np.sign(x)


def real_only(x: Any, what: str) -> Any:
    """`x` itself if it holds real numbers; a complex value is refused: adgen's rules are
    derivatives of real functions (`abs`, `var`, norms of complex numbers would come out
    wrong)."""
    if isinstance(x, (list, tuple)):
        for item in x:
            real_only(item, what)
        return x
    if isinstance(x, dict):
        for item in x.values():
            real_only(item, what)
        return x
    if isinstance(x, complex) or hasattr(x, "dtype") and np.iscomplexobj(x):
        raise DifferentiationError(
            f"complex inputs are not supported: adgen differentiates real-valued code, but "
            f"{what} met a complex value ({type(x).__name__}); split it into real and "
            f"imaginary parts (two real arrays) and differentiate with respect to those")
    return x


def index_join(maker: Any, items: Any) -> Any:
    """`maker[items]` for `np.r_[...]` and `np.c_[...]`, which join arrays: the lowering writes
    them as this call so that they have derivative rules (`adgen.rules.numpy_index`)."""
    return maker[tuple(items)]


def _zeros_structure(x: Any) -> Any:
    if isinstance(x, (tuple, list)):
        return [zeros_like(v) for v in x]
    if records.is_dataclass(x):
        return [zeros_like(v) for v in records.items(x)]
    return zeros_like(x)


def add_at(acc: Any, x: Any, index: Any, g: Any) -> Any:
    """Add `g` into `acc[index]` in place (`acc` is owned by the caller); returns `acc`.

    A 0.0 `acc` (a zero not materialised yet) becomes zeros shaped like `x` first. Repeated
    integer indices accumulate (`numpy.add.at`), as the adjoint of a gather must.
    """
    if type(index) is int:  # the common cases first: an item of a list or a row of an array
        if type(acc) is list:
            acc[index] = add_adjoints(acc[index], g)
            return acc
        if type(acc) is np.ndarray and type(x) is np.ndarray and acc.shape == x.shape:
            acc[index] += g
            return acc
    if isinstance(acc, tuple) or records.is_dataclass(acc):  # e.g. a callee's adjoint
        acc = list(acc) if isinstance(acc, tuple) else records.items(acc)
    elif not isinstance(acc, (list, dict)) and not is_array(acc):
        acc = _zeros_structure(x)
    if is_array(x) and is_array(acc) and acc.shape != x.shape:
        # a zero that broadcasting widened or narrowed: give it the shape of `x`
        acc = np.broadcast_to(acc, x.shape).astype(np.result_type(x, acc))
    if isinstance(acc, np.ndarray):
        if basic_index(index):
            acc[index] += g
        else:
            np.add.at(acc, index, g)
    elif is_array(acc):
        return scatter_add(acc, index, g)
    else:
        acc[index] = add_adjoints(acc[index], g)
    return acc


def owned_copy(acc: Any) -> Any:
    """A copy of an adjoint that another adjoint may share, so it can be updated in place."""
    if is_array(acc):
        return acc.copy()
    if isinstance(acc, list):
        return list(acc)
    if isinstance(acc, dict):
        return dict(acc)
    return acc


def owned_items(acc: Any) -> Any:
    """A copy of a list's adjoint that can be popped item by item: an adjoint that a NumPy
    function gave as an array (`np.sum(xs)` of a list `xs` built by appends) becomes the list
    of its items."""
    if is_array(acc):
        return list(acc)
    return owned_copy(acc)


def items_back(g: Any, acc: Any) -> Any:
    """The adjoint of `owned_items(acc)`: the item adjoints `g` as an array shaped like `acc`
    when `acc` is one."""
    if not is_array(acc):
        return g
    rows = [np.broadcast_to(item, np.shape(acc)[1:]) for item in g]
    return np.reshape(np.asarray(rows, dtype=np.result_type(acc, 1.0)), np.shape(acc))


def materialised(t: Any, x: Any) -> Any:
    """A tangent or adjoint `t` of `x` that is about to be written into item by item: zeros
    shaped like `x` where `t` is still a plain zero (a number standing for a zero array,
    list or dict), else `t` itself."""
    indexable = isinstance(x, (list, dict)) or is_array(x) and x.ndim
    if indexable and not (isinstance(t, (list, tuple, dict)) or is_array(t) and t.ndim):
        return zeros_like(x) if not is_array(x) else np.zeros_like(x, dtype=np.result_type(x, t))
    return t


def detached(x: Any) -> Any:
    """A copy of `x` sharing no array, list or dict with it, at any depth: a value handed out
    (returned by a forward function, or to the user) while a reverse sweep will still put
    back elements of the objects it was made of."""
    if is_array(x):
        return x.copy()
    if isinstance(x, list):
        return [detached(v) for v in x]
    if isinstance(x, dict):
        return {k: detached(v) for k, v in x.items()}
    if isinstance(x, tuple):
        items = [detached(v) for v in x]
        return type(x)._make(items) if hasattr(x, "_make") else tuple(items)
    return x


def shaped_like(g: Any, x: Any) -> Any:
    """`g`, materialised with the shape of `x` when it is still a scalar zero; the adjoint of
    a tuple, named tuple or dataclass (a list of item adjoints) as one of that type, items
    inside containers too."""
    if is_array(x):
        return np.zeros_like(x) + g if np.shape(g) != x.shape else g
    if isinstance(g, list) and isinstance(x, (list, tuple)) or (
            records.is_dataclass(x) and isinstance(g, (list, tuple))):
        inner = records.items(x) if records.is_dataclass(x) else x
        if len(g) == len(inner):
            g = _shaped_items(g, inner)
        if records.is_record(x) and len(g) == len(inner):
            return records.rebuild(x, list(g))
        return tuple(g) if isinstance(x, tuple) else g
    if isinstance(x, dict) and isinstance(g, dict):
        return _shaped_items(g, x)
    return g


def _shaped_items(g: Any, x: Any) -> Any:
    """`g` (a list or dict of adjoints) with `shaped_like` applied to the items of containers
    and arrays in `x`; `g` itself when nothing changes."""
    out = None
    for k in (g if isinstance(g, dict) else range(len(g))):
        like = x.get(k) if isinstance(g, dict) else x[k]
        if isinstance(like, (float, int)) or like is None:
            continue
        shaped = shaped_like(g[k], like)
        if shaped is not g[k]:
            out = (dict(g) if isinstance(g, dict) else list(g)) if out is None else out
            out[k] = shaped
    return g if out is None else out


def take(x: Any, index: Any) -> Any:
    """A copy of `x[index]` (never a view), for values the reverse sweep puts back; the item
    of an adjoint that is still a plain zero is zero."""
    if not isinstance(x, (list, tuple, dict)) and not (is_array(x) and x.ndim):
        return x
    if isinstance(x, dict) and index not in x:
        return ABSENT
    value = x[index]
    return value.copy() if is_array(value) else value


class _Absent:
    """What `take` saves for a dict key that is not there yet; the reverse sweep puts it
    back under that key (the reads before the key was added never see it)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


def written(g: Any, index: Any) -> Any:
    """The adjoint of the value `a[index] = v` wrote, from `a`'s adjoint `g`: `g[index]`, but
    where an integer-array index names a position twice only the last write kept its value
    (as NumPy assigns), so the earlier items get zero."""
    return last_only(take(g, index), g, index)


def last_only(part: Any, like: Any, index: Any) -> Any:
    """`part` (shaped like `like[index]`) with the items of repeated positions of an
    integer-array index zeroed, all but the last."""
    if isinstance(index, (int, np.integer, slice)) or not is_array(like) or not is_array(part):
        return part
    keep = _last_writes(index, like.shape)
    if keep is None or keep.all():
        return part
    if isinstance(part, np.ndarray):
        part = part.copy()
        part[~keep] = 0
        return part
    return np.where(np.asarray(keep, like=part), part, np.zeros_like(part))


def _last_writes(index: Any, shape: tuple) -> Any:
    """For an index of integer arrays only: which of its positions are written last."""
    parts = index if isinstance(index, tuple) else (index,)
    if len(parts) > len(shape) or not parts:
        return None
    arrays = []
    for p in parts:
        if isinstance(p, (slice, type(None), type(Ellipsis), bool)):
            return None
        a = np.asarray(p)
        if a.dtype.kind not in "iu":
            return None
        arrays.append(a)
    arrays = np.broadcast_arrays(*arrays)
    if not arrays[0].ndim:
        return None
    wrapped = [a % n for a, n in zip(arrays, shape, strict=False)]
    flat = np.ravel_multi_index(wrapped, shape[:len(wrapped)]).ravel()
    _, first_from_end = np.unique(flat[::-1], return_index=True)
    keep = np.zeros(flat.size, dtype=bool)
    keep[flat.size - 1 - first_from_end] = True
    return keep.reshape(arrays[0].shape)


def zero_at(acc: Any, index: Any) -> Any:
    """Set `acc[index]` to zero in place (`acc` is owned by the caller); returns `acc`."""
    if is_array(acc):
        acc[index] = 0
    elif isinstance(acc, (list, dict)):
        acc[index] = zeros_like(acc[index])
    else:  # a number: the adjoint of a 0-d array written whole (`a[()] = v`)
        return acc * 0
    return acc


def fill_like(xs: Any, g: Any) -> Any:
    """`g` for each item of `xs`: the adjoint of `sum(xs)`."""
    if is_array(xs):
        dtype = xs.dtype if xs.dtype.kind == "f" else np.dtype(float)
        if is_array(g) or not isinstance(xs, np.ndarray):
            return np.zeros_like(xs, dtype=np.result_type(dtype, g)) + g
        return np.broadcast_to(g, xs.shape).copy() if xs.ndim == 1 or np.ndim(g) else (
            np.full(xs.shape, g, dtype=dtype))
    return [g] * len(xs)


def add_adjoints(a: Any, b: Any) -> Any:
    """`a + b` for adjoints: item by item for lists, tuples, dicts and dataclasses (whose
    adjoints add as lists of field adjoints)."""
    if type(a) in _PLAIN and type(b) in _PLAIN:  # the common case first: arrays, floats
        return a + b
    if records.is_dataclass(a):
        a = records.items(a)
    if records.is_dataclass(b):
        b = records.items(b)
    if not isinstance(a, _CONTAINERS) and not isinstance(b, _CONTAINERS):
        return a + b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return [add_adjoints(x, y) for x, y in zip(a, b, strict=True)]
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = add_adjoints(out[k], v) if k in out else v
        return out
    if isinstance(b, _CONTAINERS):
        return b if _is_zero(a) else add_adjoints(b, a)
    if _is_zero(b):
        return a
    if isinstance(a, (list, tuple)) and is_array(b) and np.ndim(b) and len(a) == len(b):
        # a list of numbers joined as an array (`np.concatenate([v, [s]])`): its adjoint
        # arrives once as the list's and once as the array piece `split_like` cut
        return [add_adjoints(x, y) for x, y in zip(a, b, strict=True)]
    raise TypeError(f"cannot add adjoints of a {type(a).__name__} and a {type(b).__name__}")


_CONTAINERS = (list, tuple, dict)
_PLAIN = (np.ndarray, float, np.float64)


def _is_zero(x: Any) -> bool:
    return not isinstance(x, _CONTAINERS) and not is_array(x) and x == 0


def broadcast_like(g: Any, like: Any) -> Any:
    """`g` broadcast to the shape of `like` (a tangent of a broadcast, an adjoint of a sum);
    for a list, tuple or dict `like` (whose adjoints are never broadcast), `g` itself, or
    zeros in its structure where `g` is still a plain zero."""
    if isinstance(like, (list, tuple, dict)):
        return g if isinstance(g, (list, tuple, dict)) or not _is_zero(g) else zeros_like(like)
    shape = np.shape(like)
    if np.shape(g) == shape:
        return g
    if is_array(like) and not isinstance(like, np.ndarray):  # in `like`'s own library
        return np.zeros_like(like, dtype=np.result_type(like, g)) + g
    return np.broadcast_to(g, shape).copy()


def star_count(n: int, low: int, high: int, callee: str) -> None:
    """What Python checks when `*xs` fills parameters: not too few items, not too many."""
    if n > high:
        raise TypeError(f"{callee}() takes {high} more positional arguments from `*`, but "
                        f"{n} were given")
    if n < low:
        raise TypeError(f"{callee}() misses required arguments: `*` gave {n} of {low}")


def changed_in_place(x: Any) -> bool:
    """Whether `x op= y` changes `x`'s object (an array, a list, a dict) rather than making a
    new value (a number, a tuple)."""
    return isinstance(x, (list, dict)) or is_array(x) and bool(x.ndim)


def pick(condition: bool, a: Any, b: Any) -> Any:
    """`a` if `condition` else `b` (a step of the trace, with its own derivative rules)."""
    return a if condition else b


def nonempty(n: int, callee: str) -> None:
    """What Python checks for `max(xs)` / `min(xs)`: `xs` has an item."""
    if not n:
        raise ValueError(f"{callee}() iterable argument is empty")


def keyword_names(table: dict, allowed: tuple, callee: str) -> None:
    """What Python checks when `**d` fills parameters: every key names a free parameter."""
    for key in table:
        if key not in allowed:
            raise TypeError(f"{callee}() got an unexpected keyword argument {key!r} (or one "
                            "given twice)")


def same_lengths(*lengths: int) -> None:
    """What `zip(..., strict=True)` checks: every iterable has the same length."""
    if len(set(lengths)) > 1:
        raise ValueError(f"zip() arguments have different lengths {lengths}")


def sum_to_scalar(g: Any) -> Any:
    """The adjoint of a 0-d value that broadcasting widened: the sum of `g`."""
    if type(g) is float or not np.ndim(g):
        return g
    return np.sum(g)


def item(g: Any, index: Any) -> Any:
    """`g[index]` of an adjoint; zero when `g` is still a plain zero."""
    if isinstance(g, (list, tuple, dict)) or is_array(g) and g.ndim:
        return g[index]
    return g


def refusal(message: str) -> DifferentiationError:
    """A `DifferentiationError` for a derivative a rule's helper refuses at run time, naming
    the generated function and the source line of the statement being differentiated (from
    the `# line N: ...` comment above it in the generated code), with the user's file when
    the function's module has one."""
    frame = sys._getframe(1)
    while frame is not None and not frame.f_code.co_filename.startswith("<adgen "):
        frame = frame.f_back
    if frame is None:
        return DifferentiationError(message)
    lines = linecache.getlines(frame.f_code.co_filename)
    for text in reversed(lines[: frame.f_lineno]):
        comment = text.strip()
        if comment.startswith(("# line ", "# adjoint of ")):
            place = comment[2:].replace("adjoint of ", "")
            file = frame.f_globals.get("__file__")  # generated code runs in the user's globals
            number = place[len("line "):].partition(":")[0]
            shown = f"{file}:{number}: " if isinstance(file, str) and number.isdigit() else ""
            return DifferentiationError(f"{shown}{frame.f_code.co_name}, {place}: {message}")
    return DifferentiationError(f"{frame.f_code.co_name}: {message}")


def missing_attribute(owner: str, attr: str) -> None:
    """What a call of `owner.attr` raises when `owner` (a module) has no `attr`: a branch
    written for another version of a library (`np.trapz if hasattr(np, "trapz") else ...`)
    raises only if it runs, as in Python."""
    raise AttributeError(f"module {owner!r} has no attribute {attr!r}")


def partial_argument(f: Any, i: int) -> Any:
    """The `i`-th positional argument a `functools.partial` object binds."""
    return f.args[i]


def partial_keyword(f: Any, k: str) -> Any:
    """The keyword argument `k` a `functools.partial` object binds."""
    return f.keywords[k]


def table_entry(table: Any, key: Any, entries: tuple) -> int:
    """The position in `entries` (the functions a dict or list of functions held when the
    derivative calling `table[key](...)` was made) of `table[key]`; raises what `table[key]`
    raises, and refuses a function the table did not hold then."""
    value = table[key]
    for j, entry in enumerate(entries):
        if entry is value:
            return j
    raise DifferentiationError(
        f"the table of functions indexed with {key!r} now holds {value!r}, which it did not "
        "hold when this derivative was made: ask for the derivative again (adgen.grad(...)) "
        "after changing the table, or call adgen.clear_cache()")
