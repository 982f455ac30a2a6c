"""Load one function from a Python file, by default without running the file's top level.

`load_function(path, name)` is how the `adgen` command reaches the function it is asked about.
A file named on a command line is often a script: at its top level it trains, plots, reads
`sys.argv` or writes files, and printing a derivative must not do any of that. So by default
the file is resolved *statically*:

* it is parsed with `ast`, never imported;
* a reduced module is built from its top-level statements, in their order, keeping only
  - `import` and `from ... import` statements. These run: they import what the file names,
    and a module beside the file is found as `python FILE` would find it;
  - `def` statements, with their decorators removed (the function is loaded as written);
  - assignments to plain names (or tuples of names) whose value is a *plain expression*:
    a literal, a name whose latest top-level binding was kept (or a builtin), a dotted
    attribute of one (`math.pi`), a unary sign on one (`-np.inf`), or a tuple, list, set or
    dict of plain expressions;
* the defaults of the kept `def`s must be plain expressions too; any other default is not
  evaluated but replaced by an `UnevaluatedDefault` that shows its source text. Annotations
  that are not plain expressions are dropped;
* the reduced module is compiled with the file's absolute path and the original line numbers
  (so `inspect.getsource` and tracebacks show the real file) and run in a fresh namespace
  whose `__name__` is `adgen_static_<stem>` and `__file__` the file's absolute path. Nothing
  goes into `sys.modules` except what the imports themselves put there.

A statically loaded function therefore sees the modules and names its file imports, the other
functions defined at the top level, literal constants and the builtins. It does not see
classes, or names set by calls (`W = np.ones(3)`), loops, `if`/`try`/`with` blocks or
`if __name__ == "__main__":`. Instead of leaving that to a `NameError` later, `load_function`
finds the global names the function reads (and those read by the file's functions it reads,
transitively) and raises `LoaderError` if one of them is last set by a statement that static
loading skips. A name the file never binds is left alone: it fails as it would at run time.
Functions are exempt from the check: a later `f = wrap(f)` is treated like a decorator.

With `allow_import=True` the file is imported as a real module (`spec_from_file_location`)
named `adgen_import_<stem>` and registered in `sys.modules`: its whole top level runs, so
every name is what running the file gives, except that `__name__` is not `"__main__"`.

Every problem (no such file, a directory, unreadable text, a syntax error, a failing import, no
such function) raises `LoaderError`, whose message is one line starting with the file's place.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib.machinery
import importlib.util
import os
import re
import symtable
import sys
import tokenize
import warnings
from collections.abc import Callable, Iterator
from types import CodeType
from typing import Any

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_OWN_SCOPES = (*_DEFS, ast.ClassDef, ast.Lambda, *_COMPREHENSIONS)
_IMPORT_HINT = "import the file to run its top level: allow_import=True, or adgen show --import"


class LoaderError(Exception):
    """A function could not be loaded from a file; the message is one line and says where."""


class UnevaluatedDefault:
    """Stands in for a default value whose expression static loading did not evaluate."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"<default not evaluated: {self.text}>"


def load_function(
    path: str | os.PathLike[str], name: str, *, allow_import: bool = False
) -> Callable[..., Any]:
    """Return the function `name` defined at the top level of the Python file `path`.

    By default only the file's imports, defs and plain assignments run (see the module
    docstring); with `allow_import=True` the file is imported and its whole top level runs.
    Raises `LoaderError` with a one-line message.
    """
    shown = os.fspath(path)
    filename = os.path.abspath(shown)
    source, tree, code = _read(shown, filename)
    with _directory_on_path(os.path.dirname(filename)):
        if allow_import:
            return _import_function(shown, filename, tree, code, name)
        return _static_function(shown, filename, source, tree, name)


def _read(shown: str, filename: str) -> tuple[str, ast.Module, CodeType]:
    """The file's text, its tree and its code; compiling finds every syntax error Python would."""
    if os.path.isdir(filename):
        raise LoaderError(f"{shown}: is a directory, not a Python file")
    if not os.path.exists(filename):
        raise LoaderError(f"{shown}: no such file")
    try:
        with tokenize.open(filename) as file:  # honours a `# coding:` line
            source = file.read()
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _one_line(exc)
        raise LoaderError(f"{shown}: cannot read the file: {reason}") from exc
    try:
        tree = ast.parse(source, filename)
        return source, tree, compile(tree, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        place = _place(shown, exc.lineno, exc.offset)
        raise LoaderError(f"{place}: syntax error: {exc.msg}") from None
    except ValueError as exc:  # null bytes in the source (a SyntaxError from Python 3.12)
        raise LoaderError(f"{shown}: syntax error: {exc}") from None


@contextlib.contextmanager
def _directory_on_path(directory: str) -> Iterator[None]:
    """Let the file import its neighbours, as `python FILE` does; undone afterwards."""
    sys.path.insert(0, directory)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)


def _static_function(
    shown: str, filename: str, source: str, tree: ast.Module, name: str
) -> Callable[..., Any]:
    defs = _top_level_defs(tree)
    reducer = _Reducer(source, filename)
    module = reducer.reduce(tree)
    if name not in defs:
        raise _no_function(shown, name, defs, reducer.skipped_line(name))
    _check_globals(shown, source, filename, defs, reducer.unresolved(defs), name)
    with warnings.catch_warnings():  # compiling the whole file has shown them already
        warnings.simplefilter("ignore", SyntaxWarning)
        code = compile(module, filename, "exec", dont_inherit=True)
    _run(shown, filename, code, reducer.namespace)
    return _function(shown, name, reducer.namespace[name])


def _import_function(
    shown: str, filename: str, tree: ast.Module, code: CodeType, name: str
) -> Callable[..., Any]:
    module_name = "adgen_import_" + _identifier(filename)
    spec = importlib.util.spec_from_file_location(
        module_name, filename, loader=importlib.machinery.SourceFileLoader(module_name, filename)
    )
    assert spec is not None  # an explicit loader always gives a spec
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:  # runs the code compiled from the text already read: no .pyc is left beside the file
        _run(shown, filename, code, module.__dict__)
    except LoaderError:
        del sys.modules[module_name]
        raise
    if name not in module.__dict__:
        raise _no_function(shown, name, _top_level_defs(tree), None)
    return _function(shown, name, module.__dict__[name])


def _top_level_defs(tree: ast.Module) -> dict[str, ast.stmt]:
    """The file's top-level defs by name, in order; the last of a repeated name wins."""
    return {node.name: node for node in tree.body if isinstance(node, _DEFS)}


def _function(shown: str, name: str, value: Any) -> Callable[..., Any]:
    if not callable(value):
        kind = type(value).__name__
        raise LoaderError(f"{shown}: '{name}' is not a function: it is of type {kind}")
    return value


def _run(shown: str, filename: str, code: CodeType, namespace: dict[str, Any]) -> None:
    try:
        exec(code, namespace)
    except (Exception, SystemExit) as exc:
        line = None
        trace = exc.__traceback__
        while trace is not None:  # the innermost frame that runs the file itself
            if trace.tb_frame.f_code.co_filename == filename:
                line = trace.tb_lineno
            trace = trace.tb_next
        message = f"{type(exc).__name__}: {_one_line(exc)}"
        raise LoaderError(f"{_place(shown, line)}: {message}") from exc


def _no_function(
    shown: str, name: str, defs: dict[str, ast.stmt], skipped_line: int | None
) -> LoaderError:
    listed = ", ".join(defs) if defs else "none"
    if skipped_line is not None:
        return LoaderError(
            f"{shown}:{skipped_line}: '{name}' is not a def but set by code that static loading "
            f"does not run (top-level functions: {listed}); {_IMPORT_HINT}"
        )
    return LoaderError(f"{shown}: no function '{name}'; top-level functions: {listed}")


class _Reducer:
    """Builds the reduced module of a file and the namespace it runs in, statement by statement.

    `known` holds the names whose latest top-level binding so far was kept, plus the builtins
    not rebound by a skipped statement: exactly the names a plain expression may use.
    """

    def __init__(self, source: str, filename: str) -> None:
        self.source = source
        self.namespace: dict[str, Any] = {
            "__name__": "adgen_static_" + _identifier(filename),
            "__file__": filename,
        }
        self.known = set(dir(builtins))
        self.latest: dict[str, tuple[bool, int]] = {}  # name -> (kept?, line) of last binding
        self._defaults = 0

    def reduce(self, tree: ast.Module) -> ast.Module:
        body = []
        for index, stmt in enumerate(tree.body):
            kept = self._keep(stmt, is_first=index == 0)
            for name in _bound_names(stmt):
                self.latest[name] = (kept is not None, stmt.lineno)
                if kept is None:
                    self.known.discard(name)
                else:
                    self.known.add(name)
            if kept is not None:
                body.append(kept)
        return ast.fix_missing_locations(ast.Module(body=body, type_ignores=[]))

    def skipped_line(self, name: str) -> int | None:
        kept, line = self.latest.get(name, (True, 0))
        return None if kept else line

    def unresolved(self, defs: dict[str, ast.stmt]) -> dict[str, int]:
        """Names last bound by a skipped statement (functions exempt), with that line."""
        return {
            name: line
            for name, (kept, line) in self.latest.items()
            if not kept and name not in defs
        }

    def _keep(self, stmt: ast.stmt, is_first: bool) -> ast.stmt | None:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            return stmt
        if isinstance(stmt, _DEFS):
            return self._strip_def(stmt)
        if isinstance(stmt, ast.Assign):
            plain = all(map(_is_name_target, stmt.targets)) and self._plain(stmt.value)
            return stmt if plain else None
        if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            if isinstance(stmt.target, ast.Name) and self._plain(stmt.value):
                assign = ast.Assign(targets=[stmt.target], value=stmt.value, type_comment=None)
                return ast.copy_location(assign, stmt)
            return None
        is_docstring = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        return stmt if is_first and is_docstring else None

    def _strip_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.stmt:
        node.decorator_list = []
        args = node.args
        args.defaults = [self._default(expr) for expr in args.defaults]
        args.kw_defaults = [expr and self._default(expr) for expr in args.kw_defaults]
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None and arg.annotation and not self._plain(arg.annotation):
                arg.annotation = None
        if node.returns and not self._plain(node.returns):
            node.returns = None
        return node

    def _default(self, expr: ast.expr) -> ast.expr:
        if self._plain(expr):
            return expr
        self._defaults += 1
        stand_in = f"__adgen_default_{self._defaults}__"
        text = ast.get_source_segment(self.source, expr) or ast.unparse(expr)
        self.namespace[stand_in] = UnevaluatedDefault(text)
        return ast.copy_location(ast.Name(id=stand_in, ctx=ast.Load()), expr)

    def _plain(self, expr: ast.expr) -> bool:
        """Whether evaluating `expr` runs no code of the file (see the module docstring)."""
        todo: list[ast.expr | None] = [expr]
        while todo:
            node = todo.pop()
            if isinstance(node, ast.Constant):
                continue
            if isinstance(node, ast.Name):
                if node.id not in self.known:
                    return False
            elif isinstance(node, ast.Attribute):
                todo.append(node.value)
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
                todo.append(node.operand)
            elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                todo.extend(node.elts)
            elif isinstance(node, ast.Dict) and None not in node.keys:
                todo.extend(node.keys)
                todo.extend(node.values)
            else:
                return False
        return True


def _is_name_target(target: ast.expr) -> bool:
    if isinstance(target, ast.Starred):
        target = target.value
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(map(_is_name_target, target.elts))
    return isinstance(target, ast.Name)


def _bound_names(stmt: ast.stmt) -> set[str]:
    """The module-level names a top-level statement binds (or deletes)."""
    names: set[str] = set()
    todo: list[ast.AST] = [stmt]
    while todo:
        node = todo.pop()
        if isinstance(node, _OWN_SCOPES):
            if isinstance(node, (*_DEFS, ast.ClassDef)):
                names.add(node.name)
            continue  # what the body binds belongs to its own scope
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.alias) and node.name != "*":
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        todo.extend(ast.iter_child_nodes(node))
    return names


def _check_globals(
    shown: str,
    source: str,
    filename: str,
    defs: dict[str, ast.stmt],
    unresolved: dict[str, int],
    name: str,
) -> None:
    """Raise if `name`, or a function of the file it reads, reads an unresolved global."""
    if not unresolved:
        return
    tables = {
        table.get_name(): table
        for table in symtable.symtable(source, filename, "exec").get_children()
        if table.get_name() in defs and table.get_lineno() == defs[table.get_name()].lineno
    }
    todo, seen = [name], {name}
    while todo:
        function = todo.pop()
        table = tables.get(function)
        for used in _globals_read(table) if table else ():
            if used in unresolved:
                raise LoaderError(
                    f"{shown}:{unresolved[used]}: '{function}' reads '{used}', which this line "
                    f"sets by code that static loading does not run; {_IMPORT_HINT}"
                )
            if used in tables and used not in seen:
                seen.add(used)
                todo.append(used)


def _globals_read(table: symtable.SymbolTable) -> list[str]:
    """Global names read in a function's scope and the scopes nested in it, sorted."""
    names: set[str] = set()
    todo = [table]
    while todo:
        scope = todo.pop()
        names.update(
            symbol.get_name()
            for symbol in scope.get_symbols()
            if symbol.is_global() and symbol.is_referenced()
        )
        todo.extend(scope.get_children())
    return sorted(names)


def _identifier(filename: str) -> str:
    stem = os.path.splitext(os.path.basename(filename))[0]
    return re.sub(r"\W", "_", stem)


def _place(shown: str, line: int | None, column: int | None = None) -> str:
    return ":".join(str(part) for part in (shown, line, column) if part is not None)


def _one_line(exc: BaseException) -> str:
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
