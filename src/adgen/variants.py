"""Derivatives specialised to their arguments, chosen per call.

A reverse-mode derivative is built once as the general function (it asks shapes at run time)
and, per argument signature (an array's dtype and shape, else the type; see
`adgen.derive.shapes.signature`), as a variant whose shape decisions are constants: no
`unbroadcast` or zero-building helpers, adjoints accumulated in place, no value saved only
for its shape. The function handed out has the general function's parameters (keywords and
defaults bind as usual), builds the signature inline and runs the variant for it, building it
on first use. At most `LIMIT` variants are kept per derivative (the least recently used is
dropped); after `BUILDS` variant builds, new signatures run the general function, as do
signatures with nothing to specialise to and those whose variant cannot be built.
"""

from __future__ import annotations

import threading
import types
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from adgen.derive.shapes import Fact, fact_of, signature

LIMIT = 8
BUILDS = 32


def dispatching(general: Any, params: list[str],
                 build: Callable[[dict[str, Fact | None]], Any]) -> Any:
    """`general` behind a per-call choice of the variant `build(facts)` makes."""
    table: OrderedDict[tuple, Any] = OrderedDict()
    lock = threading.Lock()
    count = len(params)
    built = [0]
    many: list[Any] = []  # the dispatcher's cell saying it keeps more than one signature

    def variant(args: tuple, key: tuple | None = None) -> Any:
        key = signature(args[:count]) if key is None else key
        with lock:
            fn = table.get(key)
            if fn is not None:
                table.move_to_end(key)
                return fn
            facts = {p: fact_of(a) for p, a in zip(params, args, strict=False)}
            if all(f is None for f in facts.values()) or built[0] >= BUILDS:
                fn = general  # nothing to specialise to (or enough built): for this key too
            else:
                built[0] += 1
                try:
                    fn = build(facts)
                except Exception:  # a variant is only faster: the general function is right
                    fn = general
            table[key] = fn
            if len(table) > LIMIT:
                table.popitem(last=False)
            if len(table) > 1 and many:  # from now on a hit keeps the order of use
                many[0].cell_contents = True
            return fn

    frozen: dict[tuple, Any] = {}

    def frozen_variant(args: tuple) -> Any:
        """The variant for code compiled with Numba, which freezes globals: the numbers
        they hold are constants of it too (one per signature, kept with the derivative)."""
        key = signature(args[:count])
        with lock:
            fn = frozen.get(key)
            if fn is None:
                facts = {p: fact_of(a) for p, a in zip(params, args, strict=False)}
                fn = general
                if any(f is not None for f in facts.values()):
                    try:
                        fn = build(facts, frozen=True)
                    except Exception:  # a variant is only faster: the general one is right
                        fn = general
                frozen[key] = fn
            return fn

    chosen = _dispatcher(general, count, table, variant)
    many.append(chosen.__closure__[chosen.__code__.co_freevars.index("_adgen_many")])
    chosen.__adgen__ = general.__adgen__
    chosen.__doc__ = general.__doc__
    general.__adgen__.info.update(variant=variant, build=build, any=general,
                                  frozen=frozen_variant, frozen_reset=frozen.clear)
    return chosen


def _dispatcher(general: Any, count: int, table: Any, variant: Any) -> Any:
    """A function with `general`'s parameters (so it is called, inspected and differentiated
    like it) that runs the variant for its arguments' signature."""
    code = general.__code__
    params = list(code.co_varnames[:code.co_argcount])
    first = ", ".join(params[:count]) + ("," if count == 1 else "")
    types_ = "".join(f"    _adgen_t{i} = type({p})\n" for i, p in enumerate(params[:count]))
    keys = ", ".join(f"(({p}.dtype, {p}.shape) if _adgen_t{i} is _adgen_array else _adgen_t{i})"
                     for i, p in enumerate(params[:count])) + ("," if count == 1 else "")
    # a hit moves its key to the end of the table (least recently used first) only once the
    # table holds two signatures: with one, the order cannot matter
    body = (f"def {general.__name__}({', '.join(params)}):\n"
            + types_ +
            f"    _adgen_key = ({keys})\n"
            f"    _adgen_fn = _adgen_get(_adgen_key)\n"
            f"    if _adgen_fn is None:\n"
            f"        _adgen_fn = _adgen_variant(({first}), _adgen_key)\n"
            f"    elif _adgen_many:\n"
            f"        _adgen_table.move_to_end(_adgen_key)\n"
            f"    return _adgen_fn({', '.join(params)})\n")
    text = ("def _adgen_factory(_adgen_array, _adgen_table, _adgen_variant):\n"
            "    _adgen_get = _adgen_table.get\n"
            "    _adgen_many = False\n"
            + "".join("    " + line + "\n" for line in body.splitlines())
            + f"    return {general.__name__}\n")
    scope: dict[str, Any] = {}
    exec(compile(text, f"<adgen dispatch {general.__name__}>", "exec"), scope)
    inner = scope["_adgen_factory"](np.ndarray, table, variant)
    # the general function's globals: adgen parses the function handed out, for higher
    # derivatives, as the general derivative (through `__adgen__`) it presents
    # and its place in the source cache: `inspect.getsource` shows the general derivative
    code = inner.__code__.replace(co_filename=general.__code__.co_filename,
                                  co_firstlineno=general.__code__.co_firstlineno)
    return types.FunctionType(code, general.__globals__, general.__name__,
                              general.__defaults__, inner.__closure__)
