"""What generated code calls for attribute reads of differentiated values: fields of records.

A step `y = p.w` whose attribute has no rule of its own (not `x.T`, `x.real`, ...) reads a
field. Its tangent is `field(p_dot, p, 'w')` and its adjoint `add_field(p_bar, p, 'w',
y_bar)`: the field's item in the tangent, and the field adjoint added into the record's
adjoint (a list of field adjoints; `runtime.shaped_like` gives it the record's type at the
end). Both check the primal `p`: an attribute that is not a field (a property, a method, a
field computed after `__init__`) or of an object that is no record is refused, since its
derivative would depend on code adgen never read.
"""

from __future__ import annotations

from typing import Any

from adgen import records
from adgen.arrays import is_array
from adgen.runtime import add_at, refusal

_SUPPORTED = ("adgen differentiates numbers, arrays, lists, tuples, dicts, and the fields of "
              "named tuples and dataclasses, not other objects")


def position(x: Any, attr: str) -> int:
    """The position of the field `attr` among the fields of the record `x`; refused at the
    user's line for anything else."""
    if records.is_record(x):
        names = records.field_names(x)
        if attr in names:
            return names.index(attr)
        raise refusal(
            f"cannot differentiate through `.{attr}` of a {type(x).__name__}: it is not one of "
            f"the fields its constructor takes ({', '.join(names)}) but a property, a method or "
            "a value computed from them; compute it in the function from the fields")
    if is_array(x) or isinstance(x, (int, float, complex)):
        raise refusal(f"no derivative rule for the attribute `.{attr}` of a "
                      f"{type(x).__name__}: write it with a NumPy function adgen has a rule "
                      "for (docs/rules.md lists them)")
    raise refusal(
        f"cannot differentiate through the attribute `{attr}` of a {type(x).__name__} object: "
        f"{_SUPPORTED}; pass `{attr}` to the function as a parameter instead")


def field(t: Any, x: Any, attr: str) -> Any:
    """The tangent of `x.attr` from `x`'s tangent `t`: a record of `x`'s type (as `jvp` is
    given), the list of its field tangents, or a plain zero (zero)."""
    at = position(x, attr)
    if records.is_record(t):
        return getattr(t, attr)
    if isinstance(t, (list, tuple)):
        return t[at]
    if not is_array(t) and not isinstance(t, dict) and t == 0:
        return t
    raise refusal(f"the tangent of a {type(x).__name__} must be a {type(x).__name__} too, "
                  f"not a {type(t).__name__}")


def add_field(acc: Any, x: Any, attr: str, g: Any) -> Any:
    """`g` added into the adjoint `acc` of the record `x` at the field `attr` (in place when
    `acc` is a list the caller owns); a plain zero `acc` becomes zeros for every field."""
    return add_at(acc, x, position(x, attr), g)
