"""adgen's public API: gradients, tangents, adjoints, derivative operators, source.

Each operator returns a function. Where the generated derivative already has the calling
convention asked for (`jvp`, reverse-mode `grad`, `value_and_grad`, `vjp`), that generated
function is returned itself: calling it costs nothing beyond the derivative code.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from adgen import pipeline
from adgen.arrays import is_array, made_like, size
from adgen.derive.forward import NotBatchable
from adgen.derive.unroll import trace_for
from adgen.errors import DifferentiationError
from adgen.rules.batched import identity_seed
from adgen.runtime import real_only

Wrt = int | str | tuple[int | str, ...]


def _decorator(op: Callable[..., Any]) -> Callable[..., Any]:
    """Let `op` be used as `op(f, ...)`, `@op` and `@op(wrt=...)`."""

    @functools.wraps(op)
    def wrapper(f: Any = None, *args: Any, **kwargs: Any) -> Any:
        if f is None or not callable(f):
            if f is not None:
                args = (f, *args)
            return lambda g: op(g, *args, **kwargs)
        return op(f, *args, **kwargs)

    return wrapper


def _check_mode(mode: str, allowed: tuple[str, ...]) -> None:
    if mode not in allowed:
        raise ValueError(f"mode must be one of {', '.join(map(repr, allowed))}, not {mode!r}")


@_decorator
def jvp(f: Callable[..., Any], wrt: Wrt = 0, batched: bool = False) -> Callable[..., Any]:
    """Forward mode: `(*args, *tangents) -> (value, output_tangent)`, one tangent per wrt.

    `batched=True` pushes many directions in one pass: every tangent, given and returned, has
    a leading axis of directions (`(k, *x.shape)` for an argument `x`, `(k,)` for a number).
    """
    if batched:
        try:
            fn = pipeline.derivative(f, wrt, "batched_jvp")
        except NotBatchable as exc:
            raise DifferentiationError(f"{exc}; use batched=False (one pass per direction)"
                                       ) from None
    else:
        fn = pipeline.derivative(f, wrt, "jvp")
    return _with_defaults(f, fn, len(fn.__adgen__.info["wrt"]))


@_decorator
def vjp(f: Callable[..., Any], wrt: Wrt = 0) -> Callable[..., Any]:
    """Reverse mode: `(*args, cotangent) -> (value, gradients)`; works for array outputs."""
    return _with_defaults(f, pipeline.derivative(f, wrt, "vjp"), 1)


@_decorator
def grad(f: Callable[..., Any], wrt: Wrt = 0, mode: str = "reverse", control: str = "stack",
         unroll_limit: int = 10_000) -> Callable[..., Any]:
    """The gradient of scalar-valued `f` with respect to the parameters `wrt` names.

    A single `wrt` (index or name) gives one gradient shaped like its argument; a tuple gives a
    tuple. `mode="forward"` computes the same numbers with tangents, one pass per input entry.
    Reverse mode replays control flow from a stack (`control="stack"`), or specialises to each
    call's control path (`control="unroll"`: straight-line code per path, at most
    `unroll_limit` steps, else stack replay with a warning).
    """
    _check_mode(mode, ("reverse", "forward"))
    _check_control(control)
    if mode == "forward":
        return _forward_grad(f, wrt)
    if control == "unroll":
        return pipeline.unrolled(f, wrt, "grad", unroll_limit)
    return pipeline.derivative(f, wrt, "grad")


def _check_control(control: str) -> None:
    if control not in ("stack", "unroll"):
        raise ValueError(f"control must be 'stack' or 'unroll', not {control!r}")


@_decorator
def value_and_grad(f: Callable[..., Any], wrt: Wrt = 0, mode: str = "reverse",
                   control: str = "stack", unroll_limit: int = 10_000) -> Callable[..., Any]:
    """Like `grad`, but returns `(value, gradient)`."""
    _check_mode(mode, ("reverse", "forward"))
    _check_control(control)
    if mode == "forward":
        return _forward_grad(f, wrt, with_value=True)
    if control == "unroll":
        return pipeline.unrolled(f, wrt, "value_and_grad", unroll_limit)
    return pipeline.derivative(f, wrt, "value_and_grad")


def _basis(x: Any) -> Any:
    """Unit tangents for every entry of `x`, and how to assemble the results."""
    if isinstance(x, np.ndarray):
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
        for i in range(x.size):
            e = np.zeros(x.size, dtype=dtype)
            e[i] = 1
            yield e.reshape(x.shape)
    elif is_array(x):  # another library's array: the unit tangents in that library
        for i in range(size(x)):
            e = _zero(x)
            e[np.unravel_index(i, x.shape)] = 1
            yield e
    else:
        yield 1.0


def _zero(x: Any) -> Any:
    if is_array(x):
        return np.zeros_like(x, dtype=x.dtype if np.issubdtype(x.dtype, np.floating) else float)
    return 0.0


def _forward_grad(f: Callable[..., Any], wrt: Wrt, with_value: bool = False) -> Callable[..., Any]:
    tangent_fn = pipeline.derivative(f, wrt, "jvp")
    names, single = pipeline.wrt_names(pipeline.get_trace(f), wrt)
    params = pipeline.get_trace(f).params
    positions = [params.index(n) for n in names]

    written = _written_params(f)

    def forward_grad(*args: Any) -> Any:
        args = _full_args(f, args)
        for p in positions:  # the unit tangents below would be real
            real_only(args[p], f"the argument `{params[p]}` of {getattr(f, '__name__', f)}")
        batched_fn = _batched_tangent(f, wrt, [args[p] for p in positions])
        if batched_fn is not None:
            value, t = batched_fn(*_copies(f, args), *_seeds(args, positions))
            _require_scalar(value, f)
            grads = [_like(g, args[p]) if np.ndim(args[p]) else g[()]
                     for g, p in zip(_split_rows(t, value, args, positions), positions,
                                     strict=True)]
            out = grads[0] if single else tuple(grads)
            return (value, out) if with_value else out
        trees = [_flatten(args[p]) for p in positions]
        zeros = [rebuild([_zero(leaf) for leaf in leaves]) for leaves, rebuild in trees]
        grads = []
        value = None
        for k in range(len(positions)):
            leaves, rebuild = trees[k]
            columns = []
            for i, leaf in enumerate(leaves):
                entries = []
                for e in _basis(leaf):
                    parts = [_zero(x) for x in leaves]
                    parts[i] = e
                    tangents = list(zeros)
                    tangents[k] = rebuild(parts)
                    fresh = [copy.copy(a) if j in written else a for j, a in enumerate(args)]
                    value, t = tangent_fn(*fresh, *tangents)
                    _require_scalar(value, f)
                    entries.append(t)
                columns.append(_assemble(entries, leaf))
            grads.append(rebuild(columns))
        if value is None:
            value = f(*args)
        out = grads[0] if single else tuple(grads)
        return (value, out) if with_value else out

    forward_grad.__adgen__ = tangent_fn.__adgen__
    return forward_grad


def _flatten(x: Any) -> tuple[list[Any], Callable[[list[Any]], Any]]:
    """The leaves of a nest of dicts, lists and tuples, and how to rebuild it from leaves."""
    if isinstance(x, dict):
        parts = [_flatten(v) for v in x.values()]
        keys = list(x)
        return _join(parts, lambda items: dict(zip(keys, items, strict=True)))
    if isinstance(x, (list, tuple)):
        kind = type(x)
        return _join([_flatten(v) for v in x], lambda items: kind(items))
    return [x], lambda leaves: leaves[0]


def _join(parts: list, make: Callable[[list[Any]], Any]) -> tuple[list[Any], Callable]:
    leaves = [leaf for sub, _ in parts for leaf in sub]
    sizes = [len(sub) for sub, _ in parts]

    def rebuild(new: list[Any]) -> Any:
        items, at = [], 0
        for (_, sub_rebuild), n in zip(parts, sizes, strict=True):
            items.append(sub_rebuild(new[at:at + n]))
            at += n
        return make(items)

    return leaves, rebuild


def _assemble(entries: list[Any], leaf: Any) -> Any:
    if isinstance(leaf, np.ndarray):
        return np.array(entries, dtype=_zero(leaf).dtype).reshape(leaf.shape)
    if is_array(leaf):
        return _like(np.reshape(np.stack(entries), leaf.shape), leaf)
    return entries[0]


def _like(g: Any, x: Any) -> Any:
    """`g` laid out like the argument `x` (a Dask gradient in the chunks of its argument)."""
    return g if isinstance(x, np.ndarray) or not is_array(x) else _zero(x) + g


def _copies(f: Any, args: tuple) -> tuple:
    """`args`, with copies of the arguments `f` writes into."""
    written = _written_params(f)
    return tuple(copy.copy(a) if i in written else a for i, a in enumerate(args))


_WRITTEN: dict[Any, set[int]] = {}


def _written_params(f: Any) -> set[int]:
    """Positions of parameters the function writes into (`a[i] = ...`, `a.append(...)`): each
    forward pass gets its own copy, so the caller's values stay as they were."""
    known = _WRITTEN.get(f)
    if known is None:
        known = _WRITTEN[f] = _find_written(f)
    return known


def _find_written(f: Any) -> set[int]:
    import gast

    trace = pipeline.get_trace(f)
    out = set()
    for n in gast.walk(trace.node):
        target = None
        if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Subscript):
            target = n.targets[0].value
        elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute):
            target = n.func.value
        if isinstance(target, gast.Name) and target.id in trace.params:
            out.add(trace.params.index(target.id))
    return out


def _with_defaults(f: Any, fn: Any, trailing: int) -> Any:
    """`fn` itself, or, when `f` has default values, `fn` accepting calls that leave them out
    (the `trailing` tangents or cotangent still come last)."""
    if not getattr(f, "__defaults__", None):
        return fn

    def with_defaults(*args: Any) -> Any:
        return fn(*_full_args(f, args[:-trailing]), *args[-trailing:])

    with_defaults.__adgen__ = fn.__adgen__
    return with_defaults


def _full_args(f: Any, args: tuple) -> tuple:
    """`args` completed with `f`'s default values, for calls that append tangents."""
    params = pipeline.get_trace(f).params
    if len(args) >= len(params):
        return args
    defaults = getattr(f, "__defaults__", None) or ()
    missing = len(params) - len(args)
    if missing > len(defaults):
        raise TypeError(f"{getattr(f, '__name__', f)}() takes {len(params)} arguments "
                        f"({len(params) - len(defaults)} without defaults); {len(args)} given")
    return tuple(args) + tuple(defaults[len(defaults) - missing:])


def _require_scalar(value: Any, f: Any) -> None:
    if np.ndim(value) != 0:
        raise DifferentiationError(
            f"grad needs a scalar-valued function, but {getattr(f, '__name__', f)} returned a "
            f"value of shape {np.shape(value)}; use adgen.vjp or adgen.jacobian instead"
        )


def source(g: Callable[..., Any]) -> str:
    """The generated source of a function adgen produced."""
    meta = getattr(g, "__adgen__", None)
    if meta is None:
        raise DifferentiationError(f"{g!r} was not generated by adgen; use adgen.trace(f) for "
                                   "the evaluation trace of a function of your own")
    return meta.source


def trace(f: Callable[..., Any], *args: Any) -> str:
    """The evaluation trace of `f` (one operation per assignment) as Python source; given
    arguments, the trace those arguments run, with loops unrolled and branches resolved."""
    if args:
        return trace_for(pipeline.PROGRAM, pipeline.get_trace(f).parsed, args)
    return pipeline.trace_source(f)


def _as_array(x: Any) -> Any:
    return x if is_array(x) else np.asarray(x, dtype=float)


@_decorator
def jacobian(f: Callable[..., Any], wrt: Wrt = 0, mode: str = "auto") -> Callable[..., Any]:
    """The Jacobian of array-valued `f`, shaped `output.shape + input.shape`.

    `mode="forward"` pushes every input direction through one batched pass (tangents with a
    leading axis of directions) when all rules the function uses have a batched form, else
    one pass per input entry; `"reverse"` pulls one cotangent per output entry; `"auto"`
    picks forward when the inputs are at most as many as the outputs (four times as many when
    the batched pass is available), reverse otherwise.
    """
    _check_mode(mode, ("auto", "forward", "reverse"))
    names, single = pipeline.wrt_names(pipeline.get_trace(f), wrt)
    params = pipeline.get_trace(f).params
    positions = [params.index(n) for n in names]

    def jacobian_fn(*args: Any) -> Any:
        args = _full_args(f, args)
        value = None
        chosen = mode
        batched_fn = _batched_tangent(f, wrt, [args[p] for p in positions])
        if mode == "auto":  # a batched forward pass beats a few backward passes
            value = f(*_copies(f, args))
            n_in = sum(size(args[p]) for p in positions)
            chosen = "forward" if n_in <= size(value) * (
                4 if batched_fn is not None else 1) else "reverse"
        if chosen == "forward":
            blocks = _jacobian_forward(f, wrt, args, positions, batched_fn)
        else:
            blocks = _jacobian_reverse(f, wrt, args, positions, single, value)
        return blocks[0] if single else tuple(blocks)

    return jacobian_fn


def _jacobian_forward(f: Any, wrt: Wrt, args: tuple, positions: list[int],
                      batched_fn: Any) -> list[Any]:
    """All input directions in one pass of `batched_fn` (the batched tangent function, None
    when a rule has no batched form or an input is a container); else one pass per direction."""
    if batched_fn is not None:
        return _jacobian_batched(f, batched_fn, args, positions)
    tangent_fn = pipeline.derivative(f, wrt, "jvp")
    zeros = [_zero(args[p]) for p in positions]
    blocks = []
    for k, p in enumerate(positions):
        columns = []
        value = None
        for e in _basis(args[p]):
            tangents = list(zeros)
            tangents[k] = e
            value, t = tangent_fn(*_copies(f, args), *tangents)
            columns.append(np.broadcast_to(t, np.shape(value)))
        shape = np.shape(value) + np.shape(args[p])
        stacked = np.stack(columns, axis=-1) if columns else np.zeros(shape)
        blocks.append(stacked.reshape(shape))
    return blocks


_UNBATCHABLE: set[Any] = set()


def _batched_tangent(f: Any, wrt: Wrt, inputs: list[Any]) -> Any:
    """The batched tangent function of `f` (all directions in one pass), or None when an
    input is a container or a rule the function uses has no batched form (remembered)."""
    if any(isinstance(x, (list, tuple, dict)) for x in inputs):
        return None
    key = (f, tuple(wrt) if isinstance(wrt, (list, tuple)) else wrt)
    if key in _UNBATCHABLE:
        return None
    try:
        return pipeline.derivative(f, wrt, "batched_jvp")
    except NotBatchable:
        _UNBATCHABLE.add(key)
        return None


def _jacobian_batched(f: Any, batched_fn: Any, args: tuple, positions: list[int]) -> list[Any]:
    """The Jacobian blocks from one pass of the batched tangent function."""
    value, t = batched_fn(*_copies(f, args), *_seeds(args, positions))
    return _split_rows(t, value, args, positions)


def _seeds(args: tuple, positions: list[int]) -> list[Any]:
    """Input directions for a batched pass: the rows of an identity, split among the `wrt`
    arguments (each gets its rows, zeros elsewhere)."""
    sizes = [size(args[p]) for p in positions]
    total, at, seeds = sum(sizes), 0, []
    for p, n in zip(positions, sizes, strict=True):
        dtype = np.result_type(args[p])
        dtype = dtype if np.issubdtype(dtype, np.floating) else np.float64
        seed = identity_seed(n, dtype) if total == n else np.eye(total, n, -at, dtype)
        seed = made_like(seed, args[p])
        shape = (total,) + np.shape(args[p])
        seeds.append(seed if seed.shape == shape else seed.reshape(shape))
        at += n
    return seeds


def _split_rows(t: Any, value: Any, args: tuple, positions: list[int]) -> list[Any]:
    """Jacobian blocks `value.shape + arg.shape` from the batched output tangent `t`."""
    sizes = [size(args[p]) for p in positions]
    shape = (sum(sizes),) + np.shape(value)
    if np.shape(t) != shape:
        t = np.broadcast_to(t, shape)
        t = np.array(t) if isinstance(t, np.ndarray) else t
    blocks, at = [], 0
    for p, n in zip(positions, sizes, strict=True):
        rows = np.moveaxis(t[at:at + n], 0, -1)
        block = rows.reshape(np.shape(value) + np.shape(args[p]))
        blocks.append(block)
        at += n
    return blocks


def _jacobian_reverse(f: Any, wrt: Wrt, args: tuple, positions: list[int], single: bool,
                      value: Any) -> list[Any]:
    """One backward pass per output entry, after a single forward pass when the backward
    function can be run again on the same tape (else one `vjp` per entry)."""
    forward = pipeline.derivative(f, tuple(wrt) if not single else (wrt,), "split")
    info = forward.__adgen__.info
    if info.get("tape_positions") is not None:  # the tape is some of the arguments
        value = forward(*args)
        taped = [args[i] for i in info["tape_positions"]]

        def pull(w: Any) -> Any:
            grads = info["bwd"](*taped, w)
            return (grads,) if len(positions) == 1 else grads
    elif info.get("reentrant"):
        value, tape = forward(*args)

        def pull(w: Any) -> Any:
            fresh = _fresh_tape(tape)
            grads = info["bwd"](fresh, w)
            return (grads,) if len(positions) == 1 else grads
    else:
        adjoint_fn = pipeline.derivative(f, wrt, "vjp")
        value = f(*_copies(f, args)) if value is None else value

        def pull(w: Any) -> Any:
            grads = adjoint_fn(*args, w)[1]
            return (grads,) if single else grads
    rows: list[list[Any]] = [[] for _ in positions]
    for w in _basis(_as_array(value)) if np.ndim(value) else _basis(1.0):
        grads = pull(w if np.ndim(value) else 1.0)
        for k, g in enumerate(grads):
            rows[k].append(np.broadcast_to(g, np.shape(args[positions[k]])))
    return [np.stack(r).reshape(np.shape(value) + np.shape(args[p]))
            for r, p in zip(rows, positions, strict=True)]


def _fresh_tape(tape: Any) -> Any:
    """A tape whose lists (the stack, lists the backward sweep pops) are copies."""
    if isinstance(tape, list):
        return list(tape)
    if isinstance(tape, tuple):
        return tuple(list(t) if isinstance(t, list) else t for t in tape)
    return tape


@_decorator
def hessian(f: Callable[..., Any], wrt: int | str = 0) -> Callable[..., Any]:
    """The Hessian of scalar-valued `f`: forward mode over the reverse-mode gradient."""
    return jacobian(grad(f, wrt), wrt, mode="forward")


@_decorator
def hvp(f: Callable[..., Any], wrt: int | str = 0) -> Callable[..., Any]:
    """`(*args, v) -> H·v`, forward over reverse (Pearlmutter), without forming H."""
    return pipeline.derivative(grad(f, wrt), wrt, "tangent")


def clear_cache() -> None:
    """Forget every trace and derivative adgen has built (they are rebuilt on next use).
    Not needed after editing a function: a derivative whose function, or any function it
    calls, now resolves a name to another object is rebuilt by itself."""
    pipeline.clear_cache()
