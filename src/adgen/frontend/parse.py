"""Read a Python function's source into a gast tree, with what its names refer to.

This is the only module that touches `inspect`. It returns a `Parsed` record: the function's
`FunctionDef` (decorators stripped, line numbers those of the user's file, column offsets those
of the file too), the file name and source lines (for error messages and the comments of the
generated code), and the namespace in which the function's free names resolve: its globals,
its closure cells and the builtins. A lambda becomes a `FunctionDef` whose body returns the
lambda's expression (found by its line and parameters, and among several such on one line by
its code). Functions adgen generated carry their own source and namespace. A copy of a
function specialised to function values (`Program.specialise`) parses as the function, with
those values in `Parsed.static`.
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import linecache
import textwrap
import types
from dataclasses import dataclass, field
from typing import Any

import gast

from adgen.codegen import astutil
from adgen.errors import DifferentiationError
from adgen.rules import lookup


@dataclass
class Parsed:
    """A function's tree and everything needed to resolve its names and report errors."""

    node: gast.FunctionDef
    name: str
    filename: str
    lines: dict[int, str]
    globals: dict[str, Any]
    closure: dict[str, Any] = field(default_factory=dict)
    function: Any = None
    # parameters that hold function values, with the objects this specialisation was made
    # for (`frontend.function_values`): the lowering resolves calls of them to these
    static: dict[str, Any] = field(default_factory=dict)

    def resolve(self, name: str) -> tuple[bool, Any]:
        """(found, value) for a free name: closure, then globals, then builtins."""
        if name in self.closure:
            return True, self.closure[name]
        if name in self.globals:
            return True, self.globals[name]
        if hasattr(builtins, name):
            return True, getattr(builtins, name)
        return False, None


def parse_function(fn: Any) -> Parsed:
    """Parse `fn` (a plain function, a lambda, or a function adgen generated)."""
    if isinstance(fn, types.MethodType):
        raise DifferentiationError(
            f"cannot differentiate the bound method {fn.__qualname__}: methods of classes are not "
            "supported; write a plain function that takes the parameters explicitly"
        )
    while getattr(fn, "__adgen_stand_in__", None) is not None:
        fn = fn.__adgen_stand_in__()  # a function computing the same values, to be read
    if getattr(fn, "adgen_by_function", None) is not None:
        raise DifferentiationError(
            f"cannot differentiate {fn.__name__} inside another function: it is specialised "
            "at each call to the function values it is given; call it outside, or pass the "
            "function values to the outer function and differentiate that")
    meta = getattr(fn, "__adgen__", None)
    if meta is not None:
        return _parse_generated(fn, meta)
    if fn in _REGISTERED:
        return _REGISTERED[fn]
    if isinstance(fn, types.FunctionType) and _has_rules(fn):
        return _rule_wrapper(fn)
    if not isinstance(fn, types.FunctionType):
        raise DifferentiationError(
            f"cannot read the source of {fn!r}: adgen differentiates Python functions written in "
            "Python source; builtins and C functions need a registered rule instead"
        )
    code = fn.__code__
    if fn.__name__ == "<lambda>":
        node, lines = _lambda_node(fn)
    else:
        node, lines = _def_node(fn)
    node.decorator_list = []
    return Parsed(node, _name(fn), code.co_filename, lines, fn.__globals__, _closure(fn), fn,
                  dict(getattr(fn, "adgen_static", None) or {}))


def reads_same(parsed: Parsed, fn: Any) -> bool:
    """Whether `parse_function(fn)` would now give what `parsed` (a parse of `fn` while it ran
    the same code) holds: the same closure values and function values, by identity."""
    static = dict(getattr(fn, "adgen_static", None) or {})
    return parsed.function is fn and _same(_closure(fn), parsed.closure) and _same(
        static, parsed.static)


def _same(now: dict[str, Any], then: dict[str, Any]) -> bool:
    return now.keys() == then.keys() and all(v is then[k] for k, v in now.items())


def _has_rules(fn: Any) -> bool:
    rule = lookup(fn)
    return rule is not None and (rule.tangent is not None or rule.adjoint is not None
                                 or rule.nondifferentiable)


def _rule_wrapper(fn: Any) -> Parsed:
    """A function with registered rules, differentiated itself: one call of it, which its
    rules differentiate (its body is never read)."""
    code = fn.__code__
    if code.co_flags & (0x04 | 0x08) or code.co_kwonlyargcount:
        raise DifferentiationError(f"cannot differentiate {fn.__qualname__} by its rules: it "
                                   "takes *args, **kwargs or keyword-only parameters")
    params = ", ".join(code.co_varnames[: code.co_argcount])
    name = fn.__name__
    node = gast.parse(f"def {name}({params}):\n    return {name}({params})\n").body[0]
    _shift(node, code.co_firstlineno - 1, 0)
    line = linecache.getline(code.co_filename, code.co_firstlineno).rstrip("\n")
    return Parsed(node, name, code.co_filename, {code.co_firstlineno: line}, {name: fn}, {}, fn)


def _name(fn: Any) -> str:
    return "lambda_" if fn.__name__ == "<lambda>" else fn.__name__


def _closure(fn: Any) -> dict[str, Any]:
    cells = fn.__closure__ or ()
    out = {}
    for name, cell in zip(fn.__code__.co_freevars, cells, strict=True):
        try:
            out[name] = cell.cell_contents
        except ValueError:  # an empty cell: the name is not bound yet
            continue
    return out


def _source_lines(fn: Any) -> tuple[list[str], int]:
    try:
        return inspect.getsourcelines(fn)
    except (OSError, TypeError) as exc:
        raise DifferentiationError(
            f"cannot read the source of {fn.__qualname__} ({fn.__code__.co_filename}): {exc}. "
            "adgen needs the function's source file (functions typed at an interactive prompt "
            "or built with exec have none)"
        ) from None


def _def_node(fn: Any) -> tuple[gast.FunctionDef, dict[int, str]]:
    lines, start = _source_lines(fn)
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = len(lines[0]) - len(lines[0].lstrip())
    tree = gast.parse(dedented)
    node = tree.body[0]
    _check_source_is_running(fn, "\n" * (start - 1) + dedented)  # the file's line numbers
    _shift(node, start - 1, indent)
    return node, _numbered(lines, start)


def _check_source_is_running(fn: Any, source: str) -> None:
    """Refuse a source file that no longer says what `fn` runs (a module edited on disk and not
    reloaded): its derivative would differentiate other code than the primal runs. Compared
    for module-level functions without a closure by what the text alone decides and bytecode
    keeps across compilers (pytest's rewriting, positions): the names, variables and
    constants; an edit that changes only an operator is not seen."""
    code = fn.__code__
    rewritten = any(n.startswith("@py") for n in code.co_names + code.co_varnames)  # pytest's
    if fn.__closure__ or "." in fn.__qualname__ or rewritten:
        return
    try:
        module = compile(source, code.co_filename, "exec", dont_inherit=True)
    except SyntaxError:
        return
    found = [c for c in module.co_consts
             if isinstance(c, types.CodeType) and c.co_name == code.co_name]
    if len(found) == 1 and _fingerprint(found[0]) != _fingerprint(code):
        raise DifferentiationError(
            f"the source of {fn.__qualname__} in {code.co_filename} has changed since "
            f"{fn.__qualname__} was defined (the file was edited and not run or reloaded): "
            "adgen would differentiate code that is not what runs. Reload the module "
            "(importlib.reload) or run the cell again"
        )


def _fingerprint(code: types.CodeType) -> tuple:
    consts = tuple(_fingerprint(c) if isinstance(c, types.CodeType) else (type(c), repr(c))
                   for c in code.co_consts)
    return code.co_argcount, code.co_names, code.co_varnames, consts


def _numbered(lines: list[str], start: int) -> dict[int, str]:
    return {start + i: line.rstrip("\n") for i, line in enumerate(lines)}


def _shift(node: gast.AST, dline: int, dcol: int) -> None:
    for sub in astutil.walk(node):
        if hasattr(sub, "lineno") and sub.lineno is not None:
            sub.lineno += dline
            if getattr(sub, "end_lineno", None) is not None:
                sub.end_lineno += dline
            if getattr(sub, "col_offset", None) is not None:
                sub.col_offset += dcol
            if getattr(sub, "end_col_offset", None) is not None:
                sub.end_col_offset += dcol


def _lambda_node(fn: Any) -> tuple[gast.FunctionDef, dict[int, str]]:
    code = fn.__code__
    filename = code.co_filename
    _source_lines(fn)  # raises the clear error when there is no source at all
    all_lines = linecache.getlines(filename, fn.__globals__)
    tree = gast.parse("".join(all_lines))
    params = list(code.co_varnames[: code.co_argcount])
    found = [
        n for n in gast.walk(tree)
        if isinstance(n, gast.Lambda) and n.lineno == code.co_firstlineno
        and [a.id for a in n.args.args] == params
    ]
    if len(found) > 1:  # several on the line (`[lambda z: 3 * z, lambda z: z ** 2]`)
        found = [n for n in found if _lambda_fingerprint(n) == _code_fingerprint(code)]
    if len(found) != 1:
        raise DifferentiationError(
            f"cannot tell which lambda on {filename}:{code.co_firstlineno} to differentiate; "
            "assign it to a name with `def` instead"
        )
    lam = found[0]
    ret = gast.Return(value=lam.body)
    gast.copy_location(ret, lam.body)
    node = gast.FunctionDef(
        name="lambda_", args=lam.args, body=[ret], decorator_list=[], returns=None,
        type_comment=None, type_params=[],
    )
    gast.copy_location(node, lam)
    lines = {i + 1: line.rstrip("\n") for i, line in enumerate(all_lines)}
    return node, lines


def _code_fingerprint(code: types.CodeType) -> tuple:
    """What tells apart the code of lambdas on one line, whether or not a name is a closure
    variable: parameters, local names, constants and the other names it reads."""
    consts = tuple(_code_fingerprint(c) if isinstance(c, types.CodeType) else (type(c), repr(c))
                   for c in code.co_consts)
    return (code.co_argcount, code.co_varnames, consts,
            tuple(sorted(set(code.co_names) | set(code.co_freevars))))


def _lambda_fingerprint(node: gast.Lambda) -> tuple | None:
    try:
        text = ast.unparse(gast.gast_to_ast(copy.deepcopy(node)))
        module = compile(f"({text})", "<lambda>", "eval", dont_inherit=True)
    except (SyntaxError, ValueError, TypeError):
        return None
    inner = next((c for c in module.co_consts if isinstance(c, types.CodeType)), None)
    return None if inner is None else _code_fingerprint(inner)


def _parse_generated(fn: Any, meta: Any) -> Parsed:
    if "checkpointed" in meta.info:  # a schedule's driver (`derive.checkpoint`), not source
        raise DifferentiationError(
            f"cannot differentiate {fn.__name__} again: through a loop marked "
            "`adgen.checkpointed`, adgen gives first derivatives and second derivatives by "
            "forward over reverse (hvp, hessian) only; remove the marker for others")
    tree = gast.parse(meta.source)
    target = meta.info.get("general", fn.__name__)
    node = next((n for n in tree.body if isinstance(n, gast.FunctionDef) and n.name == target),
                None)
    if node is None:  # e.g. a derivative by trace unrolling: a driver, not generated code
        raise DifferentiationError(
            f"cannot differentiate {fn.__name__} again: it runs generated code it chooses per "
            "call (control='unroll'); differentiate the stack-replay derivative instead "
            "(control='stack', the default)")
    node.name = fn.__name__
    lines = {i + 1: line for i, line in enumerate(meta.source.splitlines())}
    return Parsed(node, fn.__name__, meta.filename, lines, fn.__globals__, dict(meta.bindings), fn,
                  dict(meta.info.get("static", {})))


def has_plain_parameters(fn: Any) -> bool:
    """Whether `fn` takes only plain positional-or-keyword parameters (no `*args`,
    `**kwargs`, keyword-only or positional-only ones)."""
    code = getattr(fn, "__code__", None)
    return code is None or not (code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS)
                                or code.co_kwonlyargcount or code.co_posonlyargcount)


def parameter_kinds(fn: Any) -> list[tuple[str, str, Any]]:
    """`(name, kind, default)` for each parameter of `fn` in order; kind is "positional",
    "keyword" (keyword-only), "args" (`*args`) or "kwargs" (`**kwargs`); default is
    `inspect.Parameter.empty` when there is none."""
    kinds = {inspect.Parameter.VAR_POSITIONAL: "args", inspect.Parameter.VAR_KEYWORD: "kwargs",
             inspect.Parameter.KEYWORD_ONLY: "keyword"}
    return [(p.name, kinds.get(p.kind, "positional"), p.default)
            for p in inspect.signature(fn).parameters.values()]


def bind_plainly(fn: Any, args: tuple, kwargs: dict[str, Any]) -> tuple:
    """A call `fn(*args, **kwargs)` as one value per parameter, in order: `*args` as a tuple,
    `**kwargs` as a dict, defaults filled in; Python's own TypeError for a bad call."""
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    return tuple(bound.arguments.values())


NO_DEFAULT = inspect.Parameter.empty

_REGISTERED: dict[Any, Parsed] = {}


def register_parsed(fn: Any, parsed: Parsed) -> None:
    """Let `fn` (a function adgen made itself, e.g. a lifted nested function) parse as given."""
    _REGISTERED[fn] = parsed


def registered(fn: Any) -> Parsed | None:
    """What `fn` parses as when adgen made it itself (`register_parsed`), else None."""
    return _REGISTERED.get(fn)


_TEMPLATES: dict[Any, gast.FunctionDef] = {}


def template_ast(template: Any) -> gast.FunctionDef:
    """The parsed (and cached) tree of a rule template function."""
    node = _TEMPLATES.get(template)
    if node is None:
        lines, _ = inspect.getsourcelines(template)
        node = gast.parse(textwrap.dedent("".join(lines))).body[0]
        node.decorator_list = []
        _TEMPLATES[template] = node
    return node
