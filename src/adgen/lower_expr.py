"""Lowering of expressions to the evaluation trace: one operation per assignment.

A mixin of `adgen.lower.Lowerer`: `atom(e)` lowers `e` into statements and returns the atom that
holds its value; `rhs(e)` returns one operation over atoms. Callees resolve through the
function's closure, globals and builtins (`resolve`), never by their spelling.
"""

from __future__ import annotations

import math
from typing import Any

import gast

from adgen.astutil import clone
from adgen.ir import BINOPS, UNARYOPS, Method, assign, atom_names, const, is_atom, name


class ExpressionLowering:
    """Expression lowering for `Lowerer` (which provides `emit`, `block`, `stmt`, `error`,
    `namer`, `locals`, `imports`, `cse`, `line` and `p`)."""

    def bind(self, rhs: gast.AST, fn: Any = None) -> str:
        """Emit `_tN = rhs` and return `_tN`."""
        if fn is not None:
            rhs.adgen_fn = fn
        key = _cse_key(rhs)
        if key is not None and key in self.cse:
            return self.cse[key]
        tmp = self.namer.temp()
        self.emit(assign(tmp, rhs, self.line))
        self.remember(tmp, rhs)
        return tmp

    def remember(self, target: str, rhs: gast.AST) -> None:
        key = _cse_key(rhs)
        if key is not None and target not in atom_names(rhs):
            self.cse[key] = target

    def atom(self, expr: gast.AST) -> gast.AST:
        rhs = self.rhs(expr)
        return rhs if is_atom(rhs) else name(self.bind(rhs))

    def rhs(self, e: gast.AST) -> gast.AST:
        method = getattr(self, "expr_" + type(e).__name__, None)
        if method is None:
            raise self.error(e, f"`{type(e).__name__}` expressions", "rewrite it")
        return method(e)

    def expr_Constant(self, e: gast.Constant) -> gast.AST:
        return const(e.value)

    def expr_Name(self, e: gast.Name) -> gast.AST:
        return name(e.id)

    def expr_Attribute(self, e: gast.Attribute) -> gast.AST:
        if self.is_global(e):
            node = gast.Attribute(value=self.global_ref(e.value), attr=e.attr, ctx=gast.Load())
            node.adgen_global = True
            return node
        value = self.atom(e.value)
        node = gast.Attribute(value=value, attr=e.attr, ctx=gast.Load())
        node.adgen_fn = Method(e.attr)
        return node

    def is_global(self, e: gast.AST) -> bool:
        """Whether an attribute chain starts at a module-level name (`np.linalg.norm`), not
        at a local value or the result of an expression (`x.T`, `f(x).sum`)."""
        root = _root(e)
        return root is not None and root not in self.locals and root not in self.imports or (
            root in self.imports)

    def global_ref(self, e: gast.AST) -> gast.AST:
        if isinstance(e, gast.Name):
            return name(e.id)
        node = gast.Attribute(value=self.global_ref(e.value), attr=e.attr, ctx=gast.Load())
        node.adgen_global = True
        return node

    def expr_BinOp(self, e: gast.BinOp) -> gast.AST:
        node = gast.BinOp(left=self.atom(e.left), op=e.op, right=self.atom(e.right))
        node.adgen_fn = BINOPS[type(e.op)]
        return node

    def expr_UnaryOp(self, e: gast.UnaryOp) -> gast.AST:
        operand = self.atom(e.operand)
        if isinstance(e.op, gast.USub) and isinstance(operand, gast.Constant):
            return const(-operand.value)
        node = gast.UnaryOp(op=e.op, operand=operand)
        node.adgen_fn = UNARYOPS[type(e.op)]
        return node

    def expr_Compare(self, e: gast.Compare) -> gast.AST:
        if len(e.ops) == 1:
            return gast.Compare(left=self.atom(e.left), ops=e.ops,
                                comparators=[self.atom(e.comparators[0])])
        first = gast.Compare(left=e.left, ops=e.ops[:1], comparators=e.comparators[:1])
        rest = gast.Compare(left=e.comparators[0], ops=e.ops[1:], comparators=e.comparators[1:])
        return self.expr_BoolOp(gast.BoolOp(op=gast.And(), values=[first, rest]))

    def expr_BoolOp(self, e: gast.BoolOp) -> gast.AST:
        """`a and b` → `r = a; if a: r = b` (short-circuit), nested for longer chains; each
        `if` tests the atom of the operand before it, which its branch never reassigns."""
        result = self.namer.temp()
        self._bool_chain(result, list(e.values), isinstance(e.op, gast.Or))
        self.cse = {}
        return name(result)

    def _bool_chain(self, result: str, values: list[gast.AST], is_or: bool) -> None:
        first = self.atom(values[0])
        self.emit(assign(result, first, self.line))
        if len(values) == 1:
            return
        saved, self.out = self.out, []
        saved_cse, self.cse = self.cse, {}
        self._bool_chain(result, values[1:], is_or)
        rest, self.out, self.cse = self.out, saved, saved_cse
        if isinstance(first, gast.Name) and first.id == result:
            first = name(self.bind(first))
        if is_or:
            self.emit(gast.If(test=first, body=[gast.Pass()], orelse=rest))
        else:
            self.emit(gast.If(test=first, body=rest, orelse=[]))

    def expr_IfExp(self, e: gast.IfExp) -> gast.AST:
        result = self.namer.temp()
        test = self.atom(e.test)
        line = self.line

        def branch(value: gast.AST) -> list[gast.AST]:
            stmt = gast.Assign(targets=[name(result, gast.Store())], value=value,
                               type_comment=None)
            stmt.lineno = line
            return self.block([stmt])

        self.emit(gast.If(test=test, body=branch(e.body), orelse=branch(e.orelse)))
        self.cse = {}
        return name(result)

    def expr_Call(self, e: gast.Call) -> gast.AST:
        found, fn = self.resolve(e.func)
        derivative = self.derivative_operator(e.func)
        if derivative is not None:
            return self.expr_Call(gast.Call(func=derivative, args=e.args, keywords=e.keywords))
        if isinstance(e.func, gast.Attribute) and not self.is_global(e.func):
            receiver = self.atom(e.func.value)
            func = gast.Attribute(value=receiver, attr=e.func.attr, ctx=gast.Load())
            fn, found = Method(e.func.attr), True
        elif isinstance(e.func, gast.Name):
            func = name(e.func.id)
        elif found:
            func = self.global_ref(e.func)
        else:
            func = self.atom(e.func)
        if any(isinstance(a, gast.Starred) for a in e.args) or any(
                k.arg is None for k in e.keywords):
            e = self.spread(e, fn if found else None)
        if found and fn in (max, min) and not e.keywords:
            if len(e.args) == 1:
                return self.extreme(e.args[0], fn)
            while len(e.args) > 2:  # max(a, b, c) is max(max(a, b), c): ties keep the first
                pair = gast.Call(func=e.func, args=e.args[:2], keywords=[])
                e = gast.Call(func=e.func, args=[pair, *e.args[2:]], keywords=[])
        args = [self.atom(a) for a in e.args]
        keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value)) for k in e.keywords]
        if found and fn is math.log and len(args) == 2 and not keywords:
            num = self.bind(gast.Call(func=func, args=args[:1], keywords=[]), fn=math.log)
            den = self.bind(gast.Call(func=func, args=args[1:], keywords=[]), fn=math.log)
            return self.expr_BinOp(gast.BinOp(left=name(num), op=gast.Div(), right=name(den)))
        if found and fn in (eval, exec, compile):
            raise self.error(e, f"`{fn.__name__}` (its code is not visible to adgen)",
                             "write the expression out in the function")
        node = gast.Call(func=func, args=args, keywords=keywords)
        node.adgen_fn = fn if found else None
        return node

    def extreme(self, items: gast.AST, fn: Any) -> gast.AST:
        """`max(xs)` / `min(xs)` as the loop Python runs: the first item, replaced by each
        later one that is strictly larger (smaller), so a tie keeps the first."""
        seq = self.sequence(items)
        n = self.bind(gast.Call(func=name("len"), args=[seq], keywords=[]), fn=len)
        self.check("nonempty", [name(n), const(fn.__name__)])
        best = self.namer.temp()
        self.emit(assign(best, gast.Subscript(value=clone(seq), slice=const(0),
                                              ctx=gast.Load()), self.line))
        i, item = self.namer.temp("_i"), self.namer.temp()
        read = gast.Assign(targets=[name(item, gast.Store())], value=gast.Subscript(
            value=clone(seq), slice=name(i), ctx=gast.Load()), type_comment=None)
        better = gast.Compare(left=name(item), ops=[gast.Gt() if fn is max else gast.Lt()],
                              comparators=[name(best)])
        update = gast.If(test=better, body=[gast.Assign(
            targets=[name(best, gast.Store())], value=name(item), type_comment=None)],
            orelse=[])
        read.lineno = update.lineno = update.body[0].lineno = self.line
        rng = gast.Call(func=name("range"), args=[const(1), name(n)], keywords=[])
        rng.adgen_fn = range
        self.cse = {}
        loop = gast.For(target=name(i, gast.Store()), iter=rng,
                        body=self.block([read, update]), orelse=[], type_comment=None)
        loop.lineno = self.line
        self.emit(loop)
        self.cse = {}
        return name(best)

    def spread(self, e: gast.Call, fn: Any) -> gast.Call:
        """`g(a, *xs, b, *ys, k=v, **d)` as a call with one atom per parameter of `g`.

        Starred tuples and lists written out are spliced in. Otherwise `g` must be a Python
        function adgen can see: the positional arguments from the first star on fill the
        parameters after the plain ones in order (`xs[0]`, `xs[1]`, ..., then `b`, then
        `ys[0]`, ...: which one a parameter gets is chosen at run time by `if` on the
        lengths), `d` the parameters left (`d["name"]`), and a parameter that either may
        leave out takes its default (`if len(xs) > j` / `if "name" in d`). Runtime checks
        raise Python's own `TypeError` for too many or too few items and for unknown keys.
        """
        args: list[gast.AST] = []
        for a in e.args:
            if isinstance(a, gast.Starred) and isinstance(a.value, (gast.Tuple, gast.List)):
                args.extend(a.value.elts)
            else:
                args.append(a)
        first = next((i for i, a in enumerate(args) if isinstance(a, gast.Starred)), None)
        double = [k.value for k in e.keywords if k.arg is None]
        keywords = [k for k in e.keywords if k.arg is not None]
        if first is None and not double:
            return gast.Call(func=e.func, args=args, keywords=keywords)
        code = getattr(fn, "__code__", None)
        if code is None or code.co_flags & (0x04 | 0x08) or code.co_kwonlyargcount:
            callee = getattr(fn, "__qualname__", None) or "this function"
            raise self.error(e, f"starred `*`/`**` arguments in a call of {callee}",
                             "adgen unpacks them into the plain parameters of a Python "
                             "function it can read; pass the arguments one by one")
        if len(double) > 1:
            raise self.error(e, "several `**` arguments in one call", "merge the dicts first")
        params = list(code.co_varnames[: code.co_argcount])
        defaults = dict(zip(params[len(params) - len(fn.__defaults__ or ()):],
                            fn.__defaults__ or (), strict=True))
        given = {k.arg for k in keywords}
        star = _Star(self, args[first:]) if first is not None else None
        args = args[:first] if first is not None else args
        table = self.atom(double[0]) if double else None
        free = [p for p in params[len(args):] if p not in given]
        filled = params[len(args):]
        if star is not None:  # the star fills parameters up to the first one given by name
            filled = filled[: next((i for i, p in enumerate(filled) if p in given),
                                   len(filled))]
            required = [i for i, p in enumerate(filled) if p not in defaults]
            low = 0 if table is not None else (required[-1] + 1 if required else 0)
            self.check("star_count", [star.count, const(low), const(len(filled)),
                                      const(fn.__name__)])
        else:
            filled = []
        if table is not None:
            self.check("keyword_names", [table, gast.Tuple(
                elts=[const(p) for p in free], ctx=gast.Load()), const(fn.__name__)])
        new = list(keywords)
        for p in free:
            j = filled.index(p) if p in filled else None
            value = self.parameter(p, j, star, table, defaults, e, fn.__name__)
            new.append(gast.keyword(arg=p, value=value))
        return gast.Call(func=e.func, args=args, keywords=new)

    def parameter(self, p: str, j: int | None, star: _Star | None, table: gast.AST | None,
                  defaults: dict[str, Any], e: gast.AST, callee: str) -> gast.AST:
        """The atom for parameter `p`: positional item `j` from the first star on, else
        `table[p]`, else its default; a choice the call's arguments make at run time becomes
        an `if`."""
        fallback = None
        if table is not None:
            fallback = gast.Subscript(value=table, slice=const(p), ctx=gast.Load())
            if p in defaults:
                fallback = self.choice(gast.Compare(left=const(p), ops=[gast.In()],
                                                    comparators=[table]),
                                       fallback, self.default(p, defaults[p]))
        elif p in defaults:
            fallback = self.default(p, defaults[p])
        if j is None:
            if fallback is None:
                raise self.error(e, f"a call of {callee} that leaves `{p}` out",
                                 f"pass `{p}`")
            return fallback
        return star.item(j, fallback)

    def choice(self, test: gast.AST, body: gast.AST, orelse: gast.AST) -> gast.AST:
        """`body if test else orelse`, lowered as an `if` statement."""
        node = gast.IfExp(test=test, body=body, orelse=orelse)
        return self.atom(node)

    def default(self, p: str, value: Any) -> gast.AST:
        """A name for the default value of parameter `p`, bound into the generated code."""
        if isinstance(value, (int, float, str, bool)) or value is None:
            return const(value)
        bound = self.namer.fresh(f"{p}_default")
        self.p.closure[bound] = value
        return name(bound)

    def check(self, helper: str, args: list[gast.AST]) -> None:
        """Emit a call of a runtime check (it raises what Python raises for a bad call)."""
        from adgen import runtime

        call = gast.Call(func=name(helper), args=args, keywords=[])
        call.adgen_fn = getattr(runtime, helper)
        self.emit(gast.Expr(value=call))

    def derivative_operator(self, func: gast.AST) -> gast.Name | None:
        """`adgen.grad(pot)(x)` inside the function: the gradient of a module-level `pot` is
        built now and called like any other function (so it is differentiated in turn)."""
        if not isinstance(func, gast.Call):
            return None
        found, operator = self.resolve(func.func)
        import adgen.api

        if not found or getattr(operator, "__module__", None) != adgen.api.__name__:
            return None
        args, keywords = [], {}
        for a in func.args:
            ok, value = self.static_value(a)
            if not ok:
                return None
            args.append(value)
        for k in func.keywords:
            ok, value = self.static_value(k.value)
            if not ok or k.arg is None:
                return None
            keywords[k.arg] = value
        derived = operator(*args, **keywords)
        bound = self.namer.fresh(f"_{getattr(operator, '__name__', 'derivative')}")
        self.p.closure[bound] = derived
        return name(bound)

    def static_value(self, e: gast.AST) -> tuple[bool, Any]:
        """The value of a constant or of a module-level name, known before the call."""
        if isinstance(e, gast.Constant):
            return True, e.value
        if isinstance(e, gast.Tuple):
            items = [self.static_value(x) for x in e.elts]
            return all(ok for ok, _ in items), tuple(v for _, v in items)
        if isinstance(e, (gast.Name, gast.Attribute)):
            return self.resolve(e)
        return False, None

    def resolve(self, func: gast.AST) -> tuple[bool, Any]:
        """What a callee expression rooted at a free name refers to."""
        if isinstance(func, gast.Name):
            if func.id in self.imports:
                return True, self.imports[func.id]
            if func.id in self.locals:
                return False, None
            return self.p.resolve(func.id)
        if isinstance(func, gast.Attribute):
            found, base = self.resolve(func.value)
            if found and hasattr(base, func.attr):
                return True, getattr(base, func.attr)
        return False, None

    def expr_Subscript(self, e: gast.Subscript) -> gast.AST:
        return gast.Subscript(value=self.atom(e.value), slice=self.index(e.slice),
                              ctx=gast.Load())

    def index(self, s: gast.AST) -> gast.AST:
        if isinstance(s, gast.Slice):
            parts = [None if p is None else self.atom(p) for p in (s.lower, s.upper, s.step)]
            return gast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
        if isinstance(s, gast.Tuple):
            return gast.Tuple(elts=[self.index(x) for x in s.elts], ctx=gast.Load())
        return self.atom(s)

    def expr_Tuple(self, e: gast.Tuple) -> gast.AST:
        return gast.Tuple(elts=[self.atom(x) for x in e.elts], ctx=gast.Load())

    def expr_List(self, e: gast.List) -> gast.AST:
        return gast.List(elts=[self.atom(x) for x in e.elts], ctx=gast.Load())

    def expr_Dict(self, e: gast.Dict) -> gast.AST:
        if any(k is None for k in e.keys):
            raise self.error(e, "`**` in dict displays", "build the dict key by key")
        return gast.Dict(keys=[self.atom(k) for k in e.keys],
                         values=[self.atom(v) for v in e.values])

    def expr_JoinedStr(self, e: gast.JoinedStr) -> gast.AST:
        return e

    def expr_ListComp(self, e: gast.ListComp) -> gast.AST:
        """`[elt for v in xs if c]` → `_l = []` and a loop that appends (its own names)."""
        e = clone(e)
        result = self.namer.temp("_l")
        self.locals.add(result)
        self.emit(assign(result, gast.List(elts=[], ctx=gast.Load()), self.line))
        renames: dict[str, str] = {}
        for gen in e.generators:
            for n in gast.walk(gen.target):
                if isinstance(n, gast.Name):
                    renames[n.id] = self.namer.temp("_c")
        self.locals.update(renames.values())
        rename = _Rename(renames)
        append = gast.Attribute(value=name(result), attr="append", ctx=gast.Load())
        inner: gast.AST = gast.Expr(value=gast.Call(func=append, args=[rename.visit(e.elt)],
                                                    keywords=[]))
        for k, gen in reversed(list(enumerate(e.generators))):
            for cond in reversed(gen.ifs):
                inner = gast.If(test=rename.visit(cond), body=[inner], orelse=[])
            iterable = gen.iter if k == 0 else rename.visit(gen.iter)
            inner = gast.For(target=rename.visit(gen.target), iter=iterable, body=[inner],
                             orelse=[], type_comment=None)
        for n in gast.walk(inner):
            if isinstance(n, gast.stmt):
                n.lineno = self.line
                n.col_offset = e.col_offset
        self.stmt(inner)
        return name(result)

    expr_GeneratorExp = expr_ListComp


class _Star:
    """The positional arguments of a call from its first `*xs` on: plain atoms and starred
    sequences, their lengths taken once, in order."""

    def __init__(self, lowering: ExpressionLowering, items: list[gast.AST]) -> None:
        self.parts: list[tuple[gast.AST, gast.AST | None]] = []  # (atom, length or None)
        for a in items:
            if isinstance(a, gast.Starred):
                seq = lowering.atom(a.value)
                length = lowering.bind(gast.Call(func=name("len"), args=[seq], keywords=[]),
                                       fn=len)
                self.parts.append((seq, name(length)))
            else:
                self.parts.append((lowering.atom(a), None))
        total: Any = 0
        for _, length in self.parts:
            total = _plus(total, length if length is not None else 1)
        self.count = lowering.atom(total) if not isinstance(total, int) else const(total)

    def item(self, j: int, fallback: gast.AST | None) -> gast.AST:
        """Item `j` as an expression: nested `if`s on the lengths where they decide it (the
        branches are lowered only where taken); `fallback` when there are fewer items."""
        return self._pick(j, 0, 0, fallback)

    def _pick(self, j: int, k: int, offset: Any, fallback: gast.AST | None) -> gast.AST:
        if k == len(self.parts):
            return fallback if fallback is not None else const(None)  # counted: unreachable
        atom, length = (clone(n) for n in self.parts[k])  # (one position per use)
        if length is None:
            if isinstance(offset, int):  # no star before it: its position is known
                return atom if offset == j else self._pick(j, k + 1, offset + 1, fallback)
            test = gast.Compare(left=clone(offset), ops=[gast.Eq()], comparators=[const(j)])
            return gast.IfExp(test=test, body=atom, orelse=self._pick(
                j, k + 1, _plus(offset, 1), fallback))
        index = const(j - offset) if isinstance(offset, int) else gast.BinOp(
            left=const(j), op=gast.Sub(), right=clone(offset))
        value = gast.Subscript(value=atom, slice=index, ctx=gast.Load())
        if k + 1 == len(self.parts) and fallback is None:
            return value  # counted: the item is there
        rest = self._pick(j, k + 1, _plus(offset, length), fallback)
        test = gast.Compare(left=clone(length), ops=[gast.Gt()], comparators=[clone(index)])
        return gast.IfExp(test=test, body=value, orelse=rest)


def _plus(a: Any, b: Any) -> Any:
    """`a + b` for ints and atoms, folded where both are ints."""
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    left = const(a) if isinstance(a, int) else clone(a)
    right = const(b) if isinstance(b, int) else clone(b)
    if isinstance(a, int) and a == 0:
        return right
    return gast.BinOp(left=left, op=gast.Add(), right=right)


class _Rename(gast.NodeTransformer):
    def __init__(self, renames: dict[str, str]) -> None:
        self.renames = renames

    def visit_Name(self, node: gast.Name) -> gast.AST:
        if node.id in self.renames:
            return gast.Name(id=self.renames[node.id], ctx=node.ctx, annotation=None,
                             type_comment=None)
        return node


def _root(e: gast.AST) -> str | None:
    while isinstance(e, gast.Attribute):
        e = e.value
    return e.id if isinstance(e, gast.Name) else None


def _cse_key(rhs: gast.AST) -> tuple | None:
    if isinstance(rhs, gast.BinOp):
        parts: tuple = ("bin", type(rhs.op), _atom_key(rhs.left), _atom_key(rhs.right))
    elif isinstance(rhs, gast.UnaryOp):
        parts = ("un", type(rhs.op), _atom_key(rhs.operand))
    elif isinstance(rhs, gast.Call) and _pure_call(rhs):
        parts = ("call", id(rhs.adgen_fn), *(_atom_key(a) for a in rhs.args),
                 *((k.arg, _atom_key(k.value)) for k in rhs.keywords))
    else:
        return None
    if None in parts:
        return None
    return parts


def _atom_key(atom: gast.AST) -> tuple | None:
    if isinstance(atom, gast.Name):
        return ("name", atom.id)
    if isinstance(atom, gast.Constant):
        return ("const", type(atom.value), repr(atom.value))
    return None


def _pure_call(call: gast.Call) -> bool:
    fn = getattr(call, "adgen_fn", None)
    if fn is None or isinstance(fn, Method):
        return False
    from adgen.rules import lookup

    return lookup(fn) is not None


def _operands(rhs: gast.AST) -> list[gast.AST]:
    if isinstance(rhs, gast.BinOp):
        return [rhs.left, rhs.right]
    if isinstance(rhs, gast.UnaryOp):
        return [rhs.operand]
    return list(rhs.args) + [k.value for k in rhs.keywords]
