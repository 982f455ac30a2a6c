"""Write generated trees as Python source with comments, and compile them.

The only module that imports astor, and only when `printer` leaves a node to it: astor reads
`ast.Num` and friends, deprecated since Python 3.12, so importing it with adgen would warn,
and break once they are gone. `printer` prints simple statements and expressions; this module
prints the block structure itself so that each group of statements can carry a comment with
the user's source line it came from. The source is compiled inside a small factory function
whose parameters are the objects the generated code refers to (`math`, `np`, runtime
helpers, closure values of the user's function), so nothing is injected into the user's
module globals; the full text is registered in `linecache` under a stable file name, so
tracebacks, `inspect.getsource` and pdb show the generated lines.
"""

from __future__ import annotations

import ast
import hashlib
import linecache
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import gast

from adgen.codegen import printer
from adgen.errors import DifferentiationError


@dataclass
class Generated:
    """What adgen remembers about a function it generated (found as `fn.__adgen__`)."""

    source: str
    filename: str
    bindings: dict[str, Any]
    kind: str
    original: Any = None
    info: dict[str, Any] = field(default_factory=dict)


def _expr(node: gast.AST) -> str:
    try:
        return printer.expr(node)[0]
    except printer.Unsupported:
        return _to_source(node).strip()


def _to_source(node: gast.AST) -> str:
    """astor's source for one node, without its line wrapping (lines stay whole); the
    standard library's printer where astor needs an `ast` class this Python no longer has."""
    tree = gast.gast_to_ast(node)
    with warnings.catch_warnings():  # astor's own use of the deprecated `ast.Num`, `ast.Str`
        warnings.simplefilter("ignore", DeprecationWarning)
        import astor

        try:
            return astor.to_source(tree, pretty_source="".join)
        except AttributeError:  # e.g. f-strings: astor checks `isinstance(v, ast.Str)`
            return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _comment(stmt: gast.AST, lines: dict[int, str],
             origins: dict[int, str | None] | None) -> str | None:
    line = getattr(stmt, "adgen_line", None)
    if not line or line not in lines:
        return None
    prefix = "adjoint of " if getattr(stmt, "adgen_adjoint", False) else ""
    if origins is None:
        return f"# {prefix}line {line}: {lines[line].strip()}"
    origin = origins.get(line)
    return f"# {prefix}{origin}" if origin else None


_GENERATED_COMMENT = re.compile(r"# ((adjoint of )*line \d+: .*)")


def origins(lines: dict[int, str]) -> dict[int, str | None] | None:
    """When the function differentiated is itself generated (an `hvp`, a second derivative):
    for each of its lines, the user's line it came from (the text of the `# line N: ...`
    comment that governs it: the last one above it in its block or an enclosing one), None
    for its own bookkeeping before any comment. None for a user's function."""
    origins: dict[int, str | None] = {}
    scopes: list[tuple[int, str | None]] = []  # (indentation, comment in force there)
    generated = False
    for number in sorted(lines):
        text = lines[number].strip()
        if not text:
            continue
        indent = len(lines[number]) - len(lines[number].lstrip())
        while scopes and scopes[-1][0] > indent:
            scopes.pop()
        found = _GENERATED_COMMENT.fullmatch(text)
        if found:
            generated = True
            if scopes and scopes[-1][0] == indent:
                scopes.pop()
            scopes.append((indent, found[1]))
        else:
            origins[number] = scopes[-1][1] if scopes else None
            if not scopes or scopes[-1][0] < indent:
                scopes.append((indent, origins[number]))
    return origins if generated else None


class _Printer:
    def __init__(self, lines: dict[int, str]) -> None:
        self.lines = lines
        self.origins = origins(lines)
        self.out: list[str] = []
        self.last: str | None = None

    def block(self, body: list[gast.AST], depth: int) -> None:
        self.last = None
        for s in body:
            self.stmt(s, depth)

    def stmt(self, s: gast.AST, depth: int) -> None:
        pad = "    " * depth
        comment = _comment(s, self.lines, self.origins)
        if comment and comment != self.last:
            self.out.append(pad + comment)
        self.last = comment or self.last
        if isinstance(s, gast.If):
            self.out.append(f"{pad}if {_expr(s.test)}:")
            self.block(s.body or [gast.Pass()], depth + 1)
            while len(s.orelse) == 1 and isinstance(s.orelse[0], gast.If):
                s = s.orelse[0]  # an `elif` chain stays flat
                self.out.append(f"{pad}elif {_expr(s.test)}:")
                self.block(s.body or [gast.Pass()], depth + 1)
            self.orelse(s.orelse, depth)
        elif isinstance(s, gast.For):
            self.out.append(f"{pad}for {_expr(s.target)} in {_expr(s.iter)}:")
            self.block(s.body or [gast.Pass()], depth + 1)
            self.orelse(s.orelse, depth)
        elif isinstance(s, gast.While):
            self.out.append(f"{pad}while {_expr(s.test)}:")
            self.block(s.body or [gast.Pass()], depth + 1)
            self.orelse(s.orelse, depth)
        elif isinstance(s, gast.With):
            item = s.items[0]
            bound = "" if item.optional_vars is None else f" as {_expr(item.optional_vars)}"
            self.out.append(f"{pad}with {_expr(item.context_expr)}{bound}:")
            self.block(s.body or [gast.Pass()], depth + 1)
            self.last = None
        elif isinstance(s, gast.Try):
            self.out.append(f"{pad}try:")
            self.block(s.body or [gast.Pass()], depth + 1)
            for h in s.handlers:
                kind = "" if h.type is None else " " + _expr(h.type)
                bound = "" if h.name is None else f" as {_expr(h.name)}"
                self.out.append(f"{pad}except{kind}{bound}:")
                self.block(h.body or [gast.Pass()], depth + 1)
            if s.finalbody:
                self.out.append(f"{pad}finally:")
                self.block(s.finalbody, depth + 1)
            self.last = None
        elif isinstance(s, gast.FunctionDef):
            self.function(s, depth)
        else:
            try:
                text = printer.statement(s)
            except printer.Unsupported:
                text = _to_source(s).rstrip("\n")
            self.out.extend(pad + t for t in text.split("\n"))
        self.last = comment or self.last

    def orelse(self, body: list[gast.AST], depth: int) -> None:
        if body:
            self.out.append("    " * depth + "else:")
            self.block(body, depth + 1)
        self.last = None

    def function(self, fn: gast.FunctionDef, depth: int) -> None:
        args = fn.args
        params = [a.id for a in args.args]
        defaults = [_expr(d) for d in args.defaults]
        shown = params[: len(params) - len(defaults)] + [
            f"{p}={d}" for p, d in zip(params[len(params) - len(defaults):], defaults,
                                       strict=True)
        ]
        doc = getattr(fn, "adgen_doc", None)
        self.out.append("    " * depth + f"def {fn.name}({', '.join(shown)}):")
        if doc:
            self.out.append("    " * (depth + 1) + f'"""{doc}"""')
        self.block(fn.body or [gast.Pass()], depth + 1)


def to_source(functions: list[gast.FunctionDef], lines: dict[int, str]) -> str:
    """The source of generated functions, with source-line comments."""
    printer = _Printer(lines)
    for i, fn in enumerate(functions):
        if i:
            printer.out.append("")
        printer.function(fn, 0)
    return "\n".join(printer.out) + "\n"


def compile_functions(source: str, main: str, bindings: dict[str, Any],
                      user_globals: dict[str, Any], label: str, kind: str) -> Any:
    """Compile generated source; return its function `main` with `__adgen__` metadata."""
    params = sorted(bindings)
    body = "".join("    " + line + "\n" if line else "\n" for line in source.split("\n"))
    names = [line[4:line.index("(")] for line in source.split("\n") if line.startswith("def ")]
    hidden = sorted(set(names) & set(bindings))
    if hidden:  # a definition would silently replace what the code means to call
        raise DifferentiationError(f"internal error in adgen: the derivative of {label} defines "
                                   f"{', '.join(hidden)}, a name also bound to another object")
    text = (f"def _adgen_factory({', '.join(params)}):\n{body}"
            f"    return {main}, ({', '.join(names)},)\n")
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    filename = f"<adgen {label} {kind} {digest}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    try:
        code = compile(text, filename, "exec")
    except (SyntaxError, RecursionError, MemoryError) as exc:  # e.g. 100 nested blocks
        raise DifferentiationError(
            f"the derivative of {label} cannot be compiled by Python ({type(exc).__name__}: "
            f"{getattr(exc, 'msg', exc)}); its control flow nests too deeply — split long "
            "`elif` chains or deep nesting into separate functions") from None
    scope: dict[str, Any] = {}
    exec(code, user_globals, scope)
    fn, siblings = scope["_adgen_factory"](*(bindings[p] for p in params))
    everything = dict(bindings)
    everything.update({f.__name__: f for f in siblings})
    fn.__adgen__ = Generated(source, filename, everything, kind)
    return fn
