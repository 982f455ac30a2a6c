"""adgen's public API: gradients, tangents, adjoints, derivative operators, source.

Each operator returns a function. Where the generated derivative already has the calling
convention asked for (`jvp`, reverse-mode `grad`, `value_and_grad`, `vjp`), that generated
function is returned itself: calling it costs nothing beyond the derivative code.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, cast, overload

import numpy as np

from adgen import calling, compiled, pipeline, pytree
from adgen.arrays import is_array, size
from adgen.derive.forward import NotBatchable
from adgen.derive.unroll import trace_for
from adgen.display import Source
from adgen.errors import DifferentiationError
from adgen.held import held
from adgen.jacobian_blocks import batched_tangent, jacobian_forward, jacobian_reverse
from adgen.published import named, published
from adgen.runtime import real_only
from adgen.specialising import by_function_value
from adgen.tree_derivatives import (
    reads_as_container,
    seeds,
    split_rows,
    tree_jacobian,
)

Wrt = int | str | tuple[int | str, ...] | list[int | str]
Function = Callable[..., Any]
P = ParamSpec("P")
R = TypeVar("R", covariant=True)


class Operator(Protocol[P, R]):
    """The type of `grad`, `jvp`, ...: `op(f, wrt=...)`, or `op(wrt=...)` to decorate."""

    @overload
    def __call__(self, f: Function, /, *args: P.args, **kwargs: P.kwargs) -> R: ...

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Callable[[Function], R]: ...


def _decorator(op: Callable[Concatenate[Function, P], R]) -> Operator[P, R]:
    """Let `op` be used as `op(f, ...)`, `@op` and `@op(wrt=...)`; for an `f` that takes
    function values, `op` applies per call to `f` specialised to them (`adgen.specialising`).
    What it returns gets `functools.wraps`' metadata and a name that pickles
    (`adgen.published`)."""
    code = op.__code__
    params = code.co_varnames[1:code.co_argcount]
    defaults = dict(zip(params[len(params) - len(op.__defaults__ or ()):],
                        op.__defaults__ or (), strict=True))

    def call(f: Any, args: tuple, kwargs: dict) -> Any:
        options = dict(zip(params, args, strict=False)) | kwargs
        changed = {k: v for k, v in options.items()
                   if k not in defaults or type(v) is not type(defaults[k]) or v != defaults[k]}
        plain = calling.plain_of(f)  # keyword-only parameters, *args, **kwargs
        if plain is not None:
            calling.check_operator(op.__name__, f)
            result = calling.in_own_convention(op.__name__, plain, op(plain, *args, **kwargs),
                                               f, args, kwargs)
        else:
            specialising = by_function_value(op, f, args, kwargs)
            result = specialising if specialising is not None else held(
                f, op(f, *args, **kwargs), lambda: op(f, *args, **kwargs))
        return published(result, f, op.__name__, changed)

    @functools.wraps(op)
    def wrapper(f: Any = None, *args: Any, **kwargs: Any) -> Any:
        if f is None or not callable(f):
            if f is not None:
                args = (f, *args)
            return lambda g: call(_python_function(g), args, kwargs)
        return call(_python_function(f), args, kwargs)

    return cast(Operator[P, R], wrapper)


def _python_function(f: Any) -> Any:
    """`f`, or the Python function a Numba dispatcher (`numba.njit(f)`) compiles."""
    if type(f).__module__.startswith("numba.") and hasattr(f, "py_func"):
        return f.py_func
    return f


def _compiled(fn: Any, backend: Any) -> Any:
    """`fn`, a generated derivative, compiled per argument signature when `compile="numba"`
    (see `adgen.compiled`)."""
    return compiled.compiled(fn) if compiled.check(backend) else fn


def _check_mode(mode: str, allowed: tuple[str, ...]) -> None:
    if mode not in allowed:
        raise ValueError(f"mode must be one of {', '.join(map(repr, allowed))}, not {mode!r}")


@_decorator
def jvp(f: Callable[..., Any], wrt: Wrt = 0, batched: bool = False,
        compile: str | None = None) -> Callable[..., Any]:
    """Forward mode: `(*args, *tangents) -> (value, output_tangent)`, one tangent per wrt.

    `batched=True` pushes many directions in one pass: every tangent, given and returned, has
    a leading axis of directions (`(k, *x.shape)` for an argument `x`, `(k,)` for a number).
    `compile="numba"` (here and in `grad`, `value_and_grad`, `vjp`, `hvp`) runs the
    derivative compiled with Numba, once per argument signature (`docs/compiled.md`).
    Complex arguments of holomorphic code give the complex-linear derivative `f'(z) · v`
    (JAX's convention); non-holomorphic operations on complex values are refused.
    """
    _check_wrt(f, wrt)
    if batched:
        try:
            fn = pipeline.derivative(f, wrt, "batched_jvp")
        except NotBatchable as exc:
            raise DifferentiationError(f"{exc}; use batched=False (one pass per direction)"
                                       ) from None
    else:
        fn = pipeline.derivative(f, wrt, "jvp")
    return _with_defaults(f, _compiled(fn, compile), len(fn.__adgen__.info["wrt"]))


@_decorator
def vjp(f: Callable[..., Any], wrt: Wrt = 0, compile: str | None = None) -> Callable[..., Any]:
    """Reverse mode: `(*args, cotangent) -> (value, gradients)`; works for array outputs.

    Complex arguments of holomorphic code give the transpose of the complex-linear
    derivative, `u · f'(z)`, without conjugation (JAX's convention)."""
    _check_wrt(f, wrt)
    fn = _compiled(pipeline.derivative(f, wrt, "vjp"), compile)
    return _with_defaults(f, _tree_shaped(f, wrt, fn, 1, with_value=True), 1)


@_decorator
def grad(f: Callable[..., Any], wrt: Wrt = 0, mode: str = "reverse", control: str = "stack",
         unroll_limit: int = 10_000, compile: str | None = None) -> Callable[..., Any]:
    """The gradient of scalar-valued `f` with respect to the parameters `wrt` names.

    A single `wrt` (index or name) gives one gradient shaped like its argument; a tuple gives a
    tuple. For `f(x, *args, scale=1.0, **kwargs)`, `wrt` names any parameter, keyword-only
    ones included (`wrt="scale"`); indices count the parameters in the signature's order,
    `*args` and `**kwargs` one each. `wrt="args"` gives a tuple of gradients, one per
    positional argument `*args` collected, `wrt="kwargs"` a dict; the gradient is called like
    `f` itself (`grad(f, wrt="scale")(x, a, b, scale=2.0)`).

    `mode="forward"` computes the same numbers with tangents, one pass per input entry.
    Reverse mode replays control flow from a stack (`control="stack"`), or specialises to each
    call's control path (`control="unroll"`: straight-line code per path, at most
    `unroll_limit` steps, else stack replay with a warning).
    """
    _check_mode(mode, ("reverse", "forward"))
    _check_control(control, compile)
    _check_wrt(f, wrt)
    if mode == "forward":
        return _forward_grad(f, wrt, compile=compile)
    unrolled = pipeline.unrolled(f, wrt, "grad", unroll_limit) if control == "unroll" else None
    if unrolled is not None:
        return _read_as(_tree_shaped(f, wrt, unrolled), grad, f, wrt)
    return _tree_shaped(f, wrt, _compiled(pipeline.derivative(f, wrt, "grad"), compile))


def _read_as(fn: Any, op: Any, f: Any, wrt: Wrt) -> Any:
    """`fn`, differentiated again as `op(f, wrt)` (the stack-replay derivative of the same
    values): its own code specialises to one control path at a time."""
    fn.__adgen_stand_in__ = functools.partial(op, f, wrt)
    return fn


def _check_control(control: str, backend: Any = None) -> None:
    if control not in ("stack", "unroll"):
        raise ValueError(f"control must be 'stack' or 'unroll', not {control!r}")
    if control == "unroll" and backend:
        raise ValueError("compile='numba' compiles stack replay; use control='stack'")


@_decorator
def value_and_grad(f: Callable[..., Any], wrt: Wrt = 0, mode: str = "reverse",
                   control: str = "stack", unroll_limit: int = 10_000,
                   compile: str | None = None) -> Callable[..., Any]:
    """Like `grad`, but returns `(value, gradient)`."""
    _check_mode(mode, ("reverse", "forward"))
    _check_control(control, compile)
    _check_wrt(f, wrt)
    if mode == "forward":
        return _forward_grad(f, wrt, with_value=True, compile=compile)
    kind = "value_and_grad"
    fn = pipeline.unrolled(f, wrt, kind, unroll_limit) if control == "unroll" else None
    if fn is not None:
        return _read_as(_tree_shaped(f, wrt, fn, with_value=True), value_and_grad, f, wrt)
    fn = _compiled(pipeline.derivative(f, wrt, kind), compile)
    return _tree_shaped(f, wrt, fn, with_value=True)


def _forward_grad(f: Callable[..., Any], wrt: Wrt, with_value: bool = False,
                  compile: str | None = None) -> Callable[..., Any]:
    tangent_fn = _compiled(pipeline.derivative(f, wrt, "jvp"), compile)
    names, single = pipeline.wrt_names(pipeline.get_trace(f), wrt)
    params = pipeline.get_trace(f).params
    positions = [params.index(n) for n in names]

    def forward_grad(*args: Any) -> Any:
        args = _full_args(f, args)
        if all(type(args[p]) in (float, int) for p in positions):  # one tangent pass each
            grads = []
            for k in range(len(positions)):
                value, t = tangent_fn(*args, *(1.0 if j == k else 0.0
                                               for j in range(len(positions))))
                _require_scalar(value, f)
                grads.append(t)
            out = grads[0] if single else tuple(grads)
            return (value, out) if with_value else out
        for p in positions:  # the unit tangents below would be real
            real_only(args[p], f"the argument `{params[p]}` of {getattr(f, '__name__', f)}")
        batched_fn = batched_tangent(f, wrt, [args[p] for p in positions])
        if batched_fn is not None:
            value, t = batched_fn(*_copies(f, args), *seeds(args, positions))
            _require_scalar(value, f)
            grads = [_like(g, args[p]) if np.ndim(args[p]) else g[()]
                     for g, p in zip(split_rows(t, value, args, positions), positions,
                                     strict=True)]
        else:
            value, grads = tree_jacobian(tangent_fn, lambda: _copies(f, args), args, positions)
            _require_scalar(value, f)
        out = grads[0] if single else tuple(grads)
        return (value, out) if with_value else out

    # differentiated again, it is read as the reverse-mode function of the same values: its
    # own code is a loop of tangent passes, whose `__adgen__` describes only one pass
    return _read_as(named(forward_grad, f, "grad", tangent_fn),
                    value_and_grad if with_value else grad, f, wrt)


def _like(g: Any, x: Any) -> Any:
    """`g` laid out like the argument `x` (a Dask gradient in the chunks of its argument), in
    `x`'s float dtype as reverse mode gives it (a float32 argument read into float64 work)."""
    if isinstance(x, np.ndarray):
        floating = np.issubdtype(x.dtype, np.floating) and isinstance(g, np.ndarray)
        return g.astype(x.dtype) if floating and g.dtype != x.dtype else g
    if not is_array(x):
        return g
    return np.zeros_like(x, dtype=x.dtype if np.issubdtype(x.dtype, np.floating) else float) + g


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

    return named(with_defaults, f, "", fn)


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


def source(g: Callable[..., Any], *args: Any) -> Source:
    """The generated source of a function adgen produced: a `str` that Jupyter shows as
    highlighted Python (see `adgen.display.Source`). Without `args`, the general derivative;
    with them, the variant specialised to those arguments' types and shapes, which is what a
    call `g(*args)` runs."""
    if getattr(g, "adgen_by_function", None) is not None:  # `adgen.specialising`
        last = getattr(g, "adgen_last", None)
        if last is None:
            raise DifferentiationError(
                f"{getattr(g, '__name__', g)} is specialised at each call to the function "
                "values it is given: call it once, then adgen.source shows the last "
                "specialisation")
        g = last
    meta = getattr(g, "__adgen__", None)
    if meta is None:
        raise DifferentiationError(f"{g!r} was not generated by adgen; use adgen.trace(f) for "
                                   "the evaluation trace of a function of your own")
    if args and "variant" in meta.info:
        meta = meta.info["variant"](args).__adgen__
    return Source(meta.source)


def trace(f: Callable[..., Any], *args: Any) -> str:
    """The evaluation trace of `f` (one operation per assignment) as Python source; given
    arguments, the trace those arguments run, with loops unrolled and branches resolved."""
    if args and calling.plain_of(f) is not None:  # one argument per plain parameter
        args = calling.plain_arguments(f, args)
    if args:
        return trace_for(pipeline.PROGRAM, pipeline.get_trace(f).parsed, args)
    return pipeline.trace_source(f)


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
    _check_wrt(f, wrt)
    return _jacobian(f, wrt, mode)


def _jacobian(f: Function, wrt: Wrt, mode: str, grad_of: int | None = None) -> Function:
    """The Jacobian function; `grad_of` is the position of the parameter whose gradient `f`
    computes (for the Hessian), whose structure the output then has."""
    names, single = pipeline.wrt_names(pipeline.get_trace(f), wrt)
    params = pipeline.get_trace(f).params
    positions = [params.index(n) for n in names]

    def jacobian_fn(*args: Any) -> Any:
        args = _full_args(f, args)
        if any(not pytree.is_leaf(args[p]) for p in positions):  # trees: by leaf entries
            out_like = None if grad_of is None else args[grad_of]
            blocks = tree_jacobian(pipeline.derivative(f, wrt, "jvp"),
                                   lambda: _copies(f, args), args, positions, out_like)[1]
            return blocks[0] if single else tuple(blocks)
        value = f(*_copies(f, args))
        if not pytree.is_leaf(value):  # a tuple, list or dict of outputs: a tree of blocks
            blocks = tree_jacobian(pipeline.derivative(f, wrt, "jvp"),
                                   lambda: _copies(f, args), args, positions)[1]
            return blocks[0] if single else tuple(blocks)
        chosen = mode
        batched_fn = batched_tangent(f, wrt, [args[p] for p in positions])
        if mode == "auto":  # a batched forward pass beats a few backward passes
            n_in = sum(size(args[p]) for p in positions)
            chosen = "forward" if n_in <= size(value) * (
                4 if batched_fn is not None else 1) else "reverse"
        if chosen == "forward":
            blocks = jacobian_forward(f, wrt, args, positions, batched_fn,
                                      lambda: _copies(f, args))
        else:
            blocks = jacobian_reverse(f, wrt, args, positions, single, value,
                                      lambda: _copies(f, args))
        return blocks[0] if single else tuple(blocks)

    return named(jacobian_fn, f, "jacobian")


@_decorator
def hessian(f: Callable[..., Any], wrt: Wrt = 0) -> Callable[..., Any]:
    """The Hessian of scalar-valued `f`: forward mode over the reverse-mode gradient."""
    names, single = _check_wrt(f, wrt)
    position = pipeline.get_trace(f).params.index(names[0]) if single else None
    return named(_jacobian(grad(f, wrt), wrt, "forward", grad_of=position), f, "hessian")


@_decorator
def hvp(f: Callable[..., Any], wrt: Wrt = 0, compile: str | None = None) -> Callable[..., Any]:
    """`(*args, v) -> H·v`, forward over reverse (Pearlmutter), without forming H.

    The direction `v` comes last, after all of `f`'s arguments: `hvp(f)(x, *args, v)` (one
    direction per parameter in a tuple `wrt`). SciPy's `minimize(hessp=...)` calls
    `hessp(x, p, *args)` instead: use `adgen.hessp`.
    """
    names, _ = _check_wrt(f, wrt)
    n = len(names)
    fn = _tree_shaped(f, wrt, _compiled(pipeline.derivative(grad(f, wrt), wrt, "tangent"),
                                        compile), n)
    if not _has_defaults(f):
        return fn

    def hvp_fn(*args: Any) -> Any:
        return fn(*_full_args(f, args[:-n]), *args[-n:])

    return named(hvp_fn, f, "", fn)


@_decorator
def hessp(f: Callable[..., Any], wrt: int | str = 0) -> Callable[..., Any]:
    """`(x, p, *args) -> H·p`, SciPy's order for `minimize(hessp=...)`: the point `x` (the
    argument `wrt` names), the direction `p`, then `f`'s other arguments in order. The same
    product as `adgen.hvp`, which takes `(*args, v)`."""
    names, _ = _single_wrt(f, wrt, "hessp")
    position = pipeline.get_trace(f).params.index(names[0])
    fn = pipeline.derivative(grad(f, wrt), wrt, "tangent")

    def hessp_fn(x: Any, p: Any, *args: Any) -> Any:
        full = list(args)
        full.insert(position, x)
        full_args = _full_args(f, tuple(full))
        return pytree.like(fn(*full_args, p), x)

    return named(hessp_fn, f, "hessp")


def _single_wrt(f: Function, wrt: Any, op: str) -> tuple[list[str], bool]:
    names, single = _check_wrt(f, wrt)
    if not single:
        raise DifferentiationError(f"adgen.{op} takes one parameter in wrt (an index or a "
                                   f"name), not {wrt!r}")
    return names, single


def _check_wrt(f: Function, wrt: Any) -> tuple[list[str], bool]:
    """The parameter names `wrt` gives; adgen's error for anything that names none (a dict,
    a float, an unknown name), before it reaches a cache key."""
    return pipeline.wrt_names(pipeline.get_trace(f), wrt)


def _tree_shaped(f: Function, wrt: Wrt, fn: Any, trailing: int = 0,
                 with_value: bool = False) -> Any:
    """`fn`, a generated reverse-mode function of `f`, itself; or, when `f` reads a parameter
    it differentiates as a container, `fn` returning each gradient with the structure and
    container types of its argument (a named tuple, not the plain tuple the generated code
    builds; `None` leaves as `None`)."""
    names, single = _check_wrt(f, wrt)
    trees = _TREES.get((f, tuple(names)))
    if trees is None:
        trees = _TREES[(f, tuple(names))] = reads_as_container(f, set(names))
    if not trees:
        return fn
    key = (fn, trailing, with_value)
    with _SHAPED_LOCK:  # one function per derivative, as the derivatives themselves
        shaped = _SHAPED.get(key)
        if shaped is None:
            params = pipeline.get_trace(f).params
            positions = [params.index(n) for n in names]
            shaped = _SHAPED[key] = pytree.shaped_outputs(
                fn, functools.partial(_full_args, f), positions, single, trailing, with_value)
            functools.update_wrapper(shaped, f, assigned=("__module__", "__doc__"), updated=())
    return shaped


_SHAPED: dict[Any, Any] = {}
_TREES: dict[Any, bool] = {}  # (f, wrt names): whether f reads one of them as a container
_SHAPED_LOCK = threading.Lock()


def _has_defaults(f: Any) -> bool:
    return bool(getattr(f, "__defaults__", None))


def clear_cache() -> None:
    """Forget every trace and derivative adgen has built (they are rebuilt on next use).
    Not needed after editing a function: a derivative whose function, or any function it
    calls, now resolves a name to another object is rebuilt by itself."""
    pipeline.clear_cache()
