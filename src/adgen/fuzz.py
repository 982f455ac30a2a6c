"""Random differentiable programs, and a runner that checks adgen's derivatives on them.

    python -m adgen.fuzz --n 5000 [--seed S] [--size K] [--show PROGRAM_SEED]

`generate(seed, size)` writes the source of a module defining `f(x, y, n)` (x a float, y a
float or an array of shape (3,) or (2, 3), n a small int) and a few helpers that `f` calls:
straight-line arithmetic (`+ - * /`, `**` with small integer exponents, unary minus), `math`
and NumPy calls, overwritten and reused variables, `if`/`else` on intermediate values, early
`return`, `for` loops over `range` (constant or from `n`) with `break`/`continue`, `while` loops
with a counter and a data-dependent exit, list `append` and iteration, element reads and writes,
helpers (one may recurse), arrays of shapes (3,), (2,) and (2, 3) with broadcasting, `@`,
`np.sum`/`np.mean` reductions, and a scalar result. `size` is the number of statements of `f`.

Values stay bounded by construction: the generator tracks a bound on |value| of every variable
(interval arithmetic on the text it writes) and wraps in tanh what could exceed `LIMIT`; `exp`
sees only bounded arguments, `log` and `sqrt` only `1 + v*v` and the like, `/` only denominators
bounded away from zero, and updates of existing variables inside loops contract.

`check(program)` writes the module to a temporary directory, imports it twice (two fresh
modules) and, at a random point where `f` is smooth, checks that the reverse-mode gradient
(`adgen.grad`, wrt x and y) and the forward-mode one agree with Richardson-extrapolated central
differences to `FD_RTOL` relative and with each other to `MODE_RTOL` (each with an absolute
floor for rounding noise), that `value_and_grad` returns f's value, and that the generated
sources compile and are identical for the two imports. A point is smooth when the
extrapolations from the step pairs (1e-3, 5e-4) and (5e-4, 2.5e-4) agree to 1e-7: next to a
branch boundary or a change of trip count they don't, and another point is drawn. A program with
no smooth point in `DRAWS` draws is replaced by the next seed (counted as "replaced").

`run(n, seed)` checks n programs, prints progress, each failure with its smallest
counterexample, and last exactly `N passed, M failed`. Shrinking first regenerates the program
from the same seed with smaller sizes, then deletes statements one at a time while the program
still fails the same way (the same check, or the same exception type from adgen).
"""

from __future__ import annotations

import argparse
import ast
import atexit
import contextlib
import importlib.util
import itertools
import linecache
import math
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

import adgen
from adgen import transform

LIMIT = 1e3  # no generated expression may exceed this in absolute value
FD_RTOL, MODE_RTOL = 1e-6, 1e-10
DRAWS = 10
TIME_LIMIT = 60.0  # seconds for one check; shrinking allows less
_STEPS = (1e-3, 5e-4, 2.5e-4)
_HELPER_BOUND = 4.0  # helpers are generated for arguments of at most this size
_ARRAYS = ((3,), (2,), (2, 3))
FEATURES = frozenset({"if", "for", "while", "jumps", "returns", "lists", "writes", "helpers",
                      "recursion", "arrays"})
_PARTS = {(): [()], (3,): [(), (3,)], (2,): [(), (2,)], (2, 3): [(), (3,), (2, 3)]}
Shape = tuple[int, ...]


@dataclass(frozen=True)
class Program:
    """A generated module: its source, and how to call its `f`."""

    seed: int
    size: int
    source: str
    y_shape: Shape
    features: frozenset[str] = FEATURES


@dataclass(frozen=True)
class Outcome:
    """The result of checking one program: "pass", "fail" or "skip" (no smooth point)."""

    status: str
    kind: str = ""  # what failed: a check's name, "error: <type>", "primal", "nondeterministic"
    detail: str = ""
    args: tuple = ()


# ---------------------------------------------------------------- expressions


def _num(c: float) -> str:
    return f"({c!r})" if c < 0 else repr(c)


def _lib(shape: Shape, rng: random.Random) -> str:
    return "math" if shape == () and rng.random() < 0.8 else "np"


class _Gen:
    """Writes one function body; `env` maps each live name to (shape, bound); ints: shape None."""

    def __init__(self, rng: random.Random, env: dict, helpers: list, arrays: bool,
                 features: frozenset[str]) -> None:
        self.rng, self.env, self.helpers, self.arrays = rng, env, helpers, arrays
        self.features = features
        self.lines: list[str] = []
        self.indent, self.loops, self.count = 1, 0, 0
        self.returned = 0.0  # the bound of what early returns return

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def put(self, text: str) -> None:
        self.lines.append("    " * self.indent + text)

    def floats(self, shape: Shape | None = None) -> list[str]:
        return [k for k, (s, _) in self.env.items()
                if s is not None and (shape is None or s == shape)]

    def expr(self, shape: Shape, depth: int = 2) -> tuple[str, float]:
        if depth <= 0 or self.rng.random() < 0.25:
            text, bound = self.leaf(shape)
        else:
            text, bound = self.rng.choice(self.builders(shape))(shape, depth - 1)
        return self.squash(text, shape) if bound > LIMIT else (text, bound)

    def squash(self, text: str, shape: Shape) -> tuple[str, float]:
        return f"{_lib(shape, self.rng)}.tanh({text})", 1.0

    def builders(self, shape: Shape) -> list[Callable[[Shape, int], tuple[str, float]]]:
        out = [self.binary, self.binary, self.unary]
        if shape == () and self.arrays or shape in ((3,), (2,)):
            out += [self.reduce, self.matmul]
        if shape != ():
            out.append(self.construct)
        if shape == () and self.helpers:
            out.append(self.call)
        return out

    def leaf(self, shape: Shape) -> tuple[str, float]:
        if shape != ():
            names = self.floats(shape)
            return (self.pick(names), self.env[names[-1]][1]) if names and \
                self.rng.random() < 0.8 else self.construct(shape, 0)
        scalars = self.floats(())
        ints = [k for k, (s, _) in self.env.items() if s is None]
        arrays = [k for k in self.floats() if self.env[k][0]]
        roll = self.rng.random()
        if arrays and roll < 0.15:
            return self.element(self.pick(arrays))
        names = ints if ints and (roll > 0.9 or not scalars) else scalars
        if names and roll < 0.95:
            name = self.pick(names)
            return name, self.env[name][1]
        c = round(self.rng.uniform(-2.0, 2.0), 2)
        return _num(c), abs(c)

    def element(self, array: str) -> tuple[str, float]:
        """`a[j]`, `m[i, j]`, or `v[i]` for a loop index i that stays in range."""
        shape, bound = self.env[array]
        index = [str(self.rng.randrange(n)) for n in shape]
        small = [k for k, (s, b) in self.env.items() if s is None and b < shape[-1] and k != "n"]
        if small and self.rng.random() < 0.5:
            index[-1] = self.pick(small)
        return f"{array}[{', '.join(index)}]", bound

    def pick(self, names: list[str]) -> str:
        """A name, most often one of the latest."""
        return names[-1 - min(int(self.rng.expovariate(0.5)), len(names) - 1)]

    def binary(self, shape: Shape, depth: int) -> tuple[str, float]:
        (a, ba), (b, bb) = self.expr(shape, depth), self.expr(self.rng.choice(_PARTS[shape]), depth)
        if self.rng.random() < 0.5:
            (a, ba), (b, bb) = (b, bb), (a, ba)
        op = self.rng.choice("+-*/")
        if op == "/":
            lib = _lib(shape, self.rng)
            denominator, low = self.rng.choice(
                [(f"(1.0 + {b} * {b})", 1.0), (f"(2.0 + {lib}.cos({b}))", 1.0),
                 (f"(1.5 + {lib}.tanh({b}))", 0.5)])
            return f"({a} / {denominator})", ba / low
        return f"({a} {op} {b})", ba * bb if op == "*" else ba + bb

    def unary(self, shape: Shape, depth: int) -> tuple[str, float]:
        a, b = self.expr(shape, depth)
        m = _lib(shape, self.rng)
        exp = (f"{m}.exp({a})", math.exp(b)) if b <= 4 else (f"{m}.exp({m}.sin({a}))", math.e)
        return self.rng.choice([
            (f"(-{a})", b), (f"{m}.sin({a})", 1.0), (f"{m}.cos({a})", 1.0),
            (f"{m}.tanh({a})", 1.0), exp, (f"{m}.log(1.0 + {a} * {a})", math.log1p(b * b)),
            (f"{m}.log(2.0 + {m}.sin({a}))", 1.1), (f"{m}.sqrt(1.0 + {a} * {a})", 1.0 + b),
            (f"({a} ** 2)", b * b), (f"({a} ** 3)", b ** 3),
            (f"((1.0 + {a} * {a}) ** -1)", 1.0),
        ])

    def reduce(self, shape: Shape, depth: int) -> tuple[str, float]:
        fn = self.rng.choice(["np.sum", "np.mean"])
        if shape == ():
            source = self.rng.choice(_ARRAYS)
            a, b = self.expr(source, depth)
            return f"{fn}({a})", b * (math.prod(source) if fn == "np.sum" else 1)
        a, b = self.expr((2, 3), depth)
        axis = 0 if shape == (3,) else 1
        return f"{fn}({a}, axis={axis})", b * (3 if fn == "np.sum" else 1)

    def matmul(self, shape: Shape, depth: int) -> tuple[str, float]:
        left, right = {(): self.rng.choice([((3,), (3,)), ((2,), (2,))]),
                       (2,): ((2, 3), (3,)), (3,): ((2,), (2, 3))}[shape]
        (a, ba), (b, bb) = self.expr(left, depth), self.expr(right, depth)
        return f"({a} @ {b})", ba * bb * left[-1]

    def construct(self, shape: Shape, depth: int) -> tuple[str, float]:
        if shape == (2, 3):
            if self.rng.random() < 0.5:
                (a, ba), (b, bb) = self.expr((2,), depth), self.expr((3,), depth)
                return f"np.outer({a}, {b})", ba * bb
            (a, ba), (b, bb) = self.expr((3,), depth), self.expr((3,), depth)
            return f"np.stack([{a}, {b}])", max(ba, bb)
        if self.rng.random() < 0.3:
            items = [round(self.rng.uniform(-2.0, 2.0), 2) for _ in range(shape[0])]
            return f"np.array([{', '.join(map(repr, items))}])", max(map(abs, items))
        items = [self.expr((), depth) for _ in range(shape[0])]
        return f"np.array([{', '.join(t for t, _ in items)}])", max(b for _, b in items)

    def call(self, shape: Shape, depth: int) -> tuple[str, float]:
        name, arity, bound = self.rng.choice(self.helpers)
        if arity == "recursive":
            a, b = self.expr((), depth)
            count = self.rng.choice(["n", "2", "0"] if "n" in self.env else ["2", "1"])
            return f"{name}({a}, {count})", max(b, 1.0)
        args = [self.expr((), depth) for _ in range(arity)]
        args = [(t if b <= _HELPER_BOUND else f"(3.0 * math.tanh({t}))") for t, b in args]
        return f"{name}({', '.join(args)})", bound

    # ------------------------------------------------------------ statements

    def block(self, count: int) -> None:
        start = len(self.lines)
        for _ in range(count):
            self.statement()
        if len(self.lines) == start:
            self.put("pass")

    def statement(self) -> None:
        kinds = [(self.assign, 4.0, True), (self.overwrite, 2.0, True),
                 (self.augment, 1.0, True),
                 (self.branch, 1.5, "if" in self.features and self.indent < 4),
                 (self.for_loop, 1.0, "for" in self.features and self.indent < 4
                  and self.loops < 2),
                 (self.while_loop, 0.7, "while" in self.features and self.loops == 0),
                 (self.listing, 0.5, {"lists", "for"} <= self.features and self.loops == 0),
                 (self.element_write, 0.5, "writes" in self.features and self.arrays
                  and self.loops < 2),
                 (self.jump, 0.4, {"jumps", "if"} <= self.features and self.loops > 0)]
        actions, weights = zip(*[(a, w) for a, w, allowed in kinds if allowed], strict=True)
        self.rng.choices(actions, weights)[0]()

    def assign(self) -> None:
        shape = self.rng.choice([(), (), *_ARRAYS]) if self.arrays else ()
        text, bound = self.expr(shape)
        name = self.fresh("v")
        self.put(f"{name} = {text}")
        self.env[name] = (shape, bound)

    def overwrite(self) -> None:
        names = self.floats()
        if not names:
            return self.assign()
        name = self.pick(names)
        shape, bound = self.env[name]
        if not self.loops:
            text, bound = self.expr(shape)
        elif self.rng.random() < 0.7:  # a contraction: bounded however often it runs
            part = self.rng.choice(_PARTS[shape])
            e, _ = self.expr(part)
            text = f"0.5 * {name} + 0.4 * {_lib(part, self.rng) if part == () else 'np'}.tanh({e})"
        else:
            e, _ = self.expr(shape)
            text = f"{'np' if shape else 'math'}.sin({e})"
        self.put(f"{name} = {text}")
        self.env[name] = (shape, bound)

    def augment(self) -> None:
        """`v op= e` on a scalar; `a = a op e` on an array (`+=` would write into an alias)."""
        names = self.floats()
        if not names:
            return self.assign()
        name = self.pick(names)
        shape, bound = self.env[name]
        part = self.rng.choice(_PARTS[shape])
        e, b = self.expr(part)
        op = self.rng.choice("+-*")
        if self.loops:
            lib = "math" if part == () else "np"
            e, op, b = f"(0.5 + 0.4 * {lib}.cos({e}))", "*", 1.0
        new = bound * b if op == "*" else bound + b
        if new > LIMIT:
            e, new = f"{'np' if part else 'math'}.tanh({e})", bound + 1.0
            op = "+"
        self.put(f"{name} {op}= {e}" if shape == () else f"{name} = {name} {op} {e}")
        self.env[name] = (shape, new)

    def nested(self, count: int, returns: bool = False) -> None:
        self.indent += 1
        self.block(count)
        if returns and "returns" in self.features and self.rng.random() < 0.15:
            text, bound = self.result()
            self.put(f"return {text}")
            self.returned = max(self.returned, bound)
        self.indent -= 1

    def branch(self) -> None:
        (a, _), (b, _) = self.expr((), 1), self.expr((), 1)
        self.put(f"if {a} {self.rng.choice(['<', '>', '<=', '>='])} {b}:")
        before = dict(self.env)
        self.nested(self.rng.randint(1, 3), returns=True)
        then, self.env = self.env, dict(before)
        if self.rng.random() < 0.7:
            self.put("else:")
            self.nested(self.rng.randint(1, 2), returns=True)
        self.env = {k: (s, max(b, then[k][1], self.env[k][1])) for k, (s, b) in before.items()}

    def loop(self, count: int, prologue: Callable[[], None] = lambda: None) -> None:
        """A loop body: existing floats are bounded by max(bound, 1) (updates contract)."""
        before = dict(self.env)
        self.env = {k: (s, b if s is None else max(b, 1.0)) for k, (s, b) in before.items()}
        self.loops += 1
        self.indent += 1
        start = len(self.lines)
        prologue()
        for _ in range(count):
            self.statement()
        if len(self.lines) == start:
            self.put("pass")
        self.loops -= 1
        self.indent -= 1
        self.env = {k: (s, max(b, self.env[k][1])) for k, (s, b) in before.items()}

    def for_loop(self) -> None:
        i = self.fresh("i")
        options = [(str(c), c - 1) for c in (1, 2, 3, 4)]
        if "n" in self.env:
            options += [("n", 2), ("n + 1", 3), ("1, n + 1", 3)]
        stop, top = self.rng.choice(options)
        self.put(f"for {i} in range({stop}):")
        self.loop(self.rng.randint(1, 3), lambda: self.env.__setitem__(i, (None, float(top))))

    def while_loop(self) -> None:
        names = self.floats(())
        if not names:
            return self.assign()
        v, k = self.pick(names), self.fresh("k")
        trips, stop = self.rng.randint(2, 5), _num(round(self.rng.uniform(-1.0, 3.0), 2))
        self.put(f"{k} = 0")
        tests = [f"{k} < {trips}", f"{v} < {stop}"]
        self.rng.shuffle(tests)
        self.put(f"while {' and '.join(tests)}:")

        def prologue() -> None:  # progress first, so that `continue` cannot loop forever
            self.env[v] = ((), self.env[v][1] + 0.9 * trips)
            e, _ = self.expr(())
            self.put(f"{v} = {v} + 0.5 + 0.4 * math.sin({e})")
            self.put(f"{k} = {k} + 1")

        self.loop(self.rng.randint(0, 2), prologue)
        self.env[k] = (None, float(trips))

    def listing(self) -> None:
        items, i, t, total = (self.fresh(p) for p in ("ls", "i", "t", "v"))
        stop, top = self.rng.choice([("3", 2), ("2", 1)] + [("n", 2)] * ("n" in self.env))
        self.put(f"{items} = []")
        self.put(f"for {i} in range({stop}):")
        bound = [0.0]

        def prologue() -> None:
            self.env[i] = (None, float(top))
            text, bound[0] = self.expr(())
            self.put(f"{items}.append({text})")

        self.loop(0, prologue)
        if self.rng.random() < 0.5:
            self.put(f"{total} = sum({items})")
        else:
            self.put(f"{total} = 0.0")
            self.put(f"for {t} in {items}:")
            self.put(f"    {total} = {total} + 0.5 * {t}")
        self.env[total] = ((), bound[0] * (top + 1))

    def element_write(self) -> None:
        vectors = self.floats((3,))
        w = self.fresh("w")
        source = self.pick(vectors) if vectors and self.rng.random() < 0.5 else None
        self.put(f"{w} = {source} * 1.0" if source else f"{w} = np.zeros(3)")
        bounds = [self.env[source][1] if source else 0.0]
        if self.rng.random() < 0.5 and "for" in self.features:
            i = self.fresh("i")
            self.put(f"for {i} in range(3):")

            def prologue() -> None:
                self.env[i] = (None, 2.0)
                text, bound = self.expr(())
                self.put(f"{w}[{i}] = {text}")
                bounds.append(bound)

            self.loop(0, prologue)
        else:
            for j in self.rng.sample(range(3), self.rng.randint(1, 2)):
                text, bound = self.expr(())
                self.put(f"{w}[{j}] = {text}")
                bounds.append(bound)
        self.env[w] = ((3,), max(bounds))

    def jump(self) -> None:
        (a, _), (b, _) = self.expr((), 1), self.expr((), 1)
        self.put(f"if {a} > {b}:")
        self.put(f"    {self.rng.choice(['break', 'continue'])}")

    def result(self) -> tuple[str, float]:
        """A scalar to return: an expression plus some of the latest variables."""
        text, bound = self.expr((), 2)
        terms = [text]
        for name in self.floats()[-3:]:
            shape, b = self.env[name]
            if self.rng.random() < 0.6:
                terms.append(name if shape == () else f"np.mean({name})")
                bound += b
        text = " + ".join(terms)
        return (f"math.tanh({text})", 1.0) if bound > LIMIT else (text, bound)


# ---------------------------------------------------------------- modules

_HEADER = "import math\n\nimport numpy as np\n\n\n"


def _helper(rng: random.Random, name: str, helpers: list, arrays: bool,
            features: frozenset[str]) -> tuple[str, tuple]:
    env = {"a": ((), _HELPER_BOUND), "b": ((), _HELPER_BOUND)}
    gen = _Gen(rng, env, list(helpers), arrays, features)
    gen.block(rng.randint(1, 3))
    text, bound = gen.result()
    gen.put(f"return {text}")
    return f"def {name}(a, b):\n" + "\n".join(gen.lines), (name, 2, max(bound, gen.returned))


def _recursive(rng: random.Random, name: str) -> tuple[str, tuple]:
    gen = _Gen(rng, {"v": ((), LIMIT)}, [], False, frozenset())
    e, _ = gen.expr((), 2)
    text = (f"def {name}(v, k):\n    if k <= 0:\n        return v\n"
            f"    return {name}(0.5 * v + 0.4 * math.tanh({e}), k - 1)")
    return text, (name, "recursive", LIMIT)


def generate(seed: int, size: int, features: frozenset[str] = FEATURES) -> Program:
    """The program of this seed: `size` statements in `f` (a compound one counts once), using
    only the constructs named in `features` (straight-line code and calls of math and NumPy
    functions are always in)."""
    rng = random.Random(seed)
    y_shape = rng.choice([(), (), (3,), (2, 3)]) if "arrays" in features else ()
    arrays = y_shape != () or rng.random() < 0.4 and "arrays" in features
    parts: list[str] = []
    helpers: list[tuple] = []
    for k in range(rng.choice([0, 1, 1, 2]) if "helpers" in features else 0):
        text, entry = _helper(rng, f"h{k}", helpers, arrays, features)
        parts.append(text)
        helpers.append(entry)
    if rng.random() < 0.3 and {"recursion", "if"} <= features:
        text, entry = _recursive(rng, "r0")
        parts.append(text)
        helpers.append(entry)
    env = {"x": ((), 2.0), "y": (y_shape, 2.0), "n": (None, 3.0)}
    gen = _Gen(rng, env, helpers, arrays, features)
    gen.block(size)
    gen.put(f"return {gen.result()[0]}")
    parts.append("def f(x, y, n):\n" + "\n".join(gen.lines))
    return Program(seed, size, _HEADER + "\n\n\n".join(parts) + "\n", y_shape, features)


def sample(program: Program, rng: random.Random) -> tuple:
    """Arguments for `f`: x and the entries of y uniform in [-2, 2], n in 0..3."""
    y = np.array([rng.uniform(-2.0, 2.0) for _ in range(math.prod(program.y_shape))])
    y = float(y[0]) if program.y_shape == () else y.reshape(program.y_shape)
    return rng.uniform(-2.0, 2.0), y, rng.randint(0, 3)


class _Modules:
    """Writes sources to a temporary directory and imports each as a fresh module."""

    def __init__(self) -> None:
        self.directory: Path | None = None
        self.counter = itertools.count()

    def write(self, source: str) -> Path:
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="adgen_fuzz_"))
            atexit.register(shutil.rmtree, self.directory, ignore_errors=True)
        path = self.directory / f"program_{next(self.counter)}.py"
        path.write_text(source)
        return path

    def load(self, path: Path) -> Any:
        """A fresh module from the file, under a name never used before."""
        spec = importlib.util.spec_from_file_location(f"adgen_fuzz_{next(self.counter)}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


_MODULES = _Modules()


def _forget(functions: list[Any]) -> None:
    """Drop what adgen and linecache keep for checked programs (memory over long runs)."""
    for g in functions:
        linecache.cache.pop(g.__adgen__.filename, None)
    with transform._LOCK:
        transform._CACHE.clear()
        transform._TRACES.clear()


# ---------------------------------------------------------------- checking


def _coordinates(args: tuple) -> list[tuple[int, Any]]:
    """(argument, index) of every differentiated scalar: x, then each entry of y."""
    entries = [(1, i) for i in np.ndindex(np.shape(args[1]))] if np.ndim(args[1]) else [(1, None)]
    return [(0, None), *entries]


def _moved(args: tuple, slot: int, index: Any, h: float) -> list[Any]:
    moved = list(args)
    if index is None:
        moved[slot] = args[slot] + h
    else:
        moved[slot] = args[slot].copy()
        moved[slot][index] += h
    return moved


def _central(f: Callable[..., Any], args: tuple, slot: int, index: Any, h: float) -> float:
    return (float(f(*_moved(args, slot, index, h))) - float(f(*_moved(args, slot, index, -h)))) \
        / (2.0 * h)


def _differences(f: Callable[..., Any], args: tuple, value: float) -> tuple | None:
    """Richardson-extrapolated central differences, (d/dx, d/dy); None where f is not smooth."""
    floor = 1e-9 * (1.0 + abs(value))
    out = []
    for slot, index in _coordinates(args):
        d = [_central(f, args, slot, index, h) for h in _STEPS]
        coarse, fine = (4.0 * d[1] - d[0]) / 3.0, (4.0 * d[2] - d[1]) / 3.0
        if not math.isfinite(fine) or abs(coarse - fine) > 1e-7 * abs(fine) + floor:
            return None
        out.append(fine)
    dy = np.array(out[1:]).reshape(np.shape(args[1])) if np.ndim(args[1]) else out[1]
    return out[0], dy


def _at(f: Callable[..., Any], args: tuple) -> tuple | None:
    value = float(f(*args))
    if not math.isfinite(value) or abs(value) > 1e6:
        return None
    fd = _differences(f, args, value)
    return None if fd is None else (args, value, fd)


def _point(f: Callable[..., Any], program: Program) -> tuple | None:
    rng = random.Random(f"points:{program.seed}")
    for _ in range(DRAWS):
        found = _at(f, sample(program, rng))
        if found is not None:
            return found
    return None


def _derivatives(module: Any, args: tuple) -> tuple[list[Any], dict[str, Any]]:
    rev = adgen.grad(module.f, wrt=(0, 1))
    fwd = adgen.grad(module.f, wrt=(0, 1), mode="forward")
    return [rev, fwd], {"reverse": rev(*args), "forward": fwd(*args)}


def _compare(check: str, got: Any, want: Any, rtol: float, floor: float) -> tuple | None:
    g, w = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if g.shape != w.shape:
        return check, f"{check}: shape {g.shape}, expected {w.shape}"
    error = np.abs(g - w)
    allowed = rtol * np.maximum(np.abs(g), np.abs(w)) + floor
    if np.all(error <= allowed):
        return None
    return check, (f"{check}: got {got!r}, expected {want!r} (error {np.max(error):.3g}, "
                   f"allowed {np.max(allowed):.3g})")


def _verify(results: dict[str, Any], primal: float, fd: tuple) -> list[tuple]:
    floor = 1e-8 * (1.0 + abs(primal))
    found: list[tuple | None] = []
    for mode, grads in results.items():
        if not (isinstance(grads, tuple) and len(grads) == 2 and np.ndim(grads[0]) == 0):
            found.append((f"{mode} result", f"{mode}: expected (float, y-shaped), got {grads!r}"))
            continue
        for label, got, want in zip("xy", grads, fd, strict=True):
            found.append(_compare(f"{mode} gradient wrt {label} vs central differences", got,
                                  want, FD_RTOL, floor))
    scale = 1.0 + abs(primal) + max(float(np.max(np.abs(d))) for d in fd)
    for k, label in enumerate("xy"):
        found.append(_compare(f"forward vs reverse gradient wrt {label}",
                              results["forward"][k], results["reverse"][k], MODE_RTOL,
                              1e-12 * scale))
    return [p for p in found if p is not None]


def _exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:]).rstrip()


class CheckTimeout(Exception):
    """A check ran past its time limit (a shrunk program may loop forever)."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Any:
    """Raise CheckTimeout after `seconds`; only in the main thread of a Unix process."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not \
            threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CheckTimeout(f"the check took more than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check(program: Program, args: tuple | None = None, twice: bool = True,
          seconds: float = TIME_LIMIT) -> Outcome:
    """Check adgen on `program` at `args`, or at a random smooth point when `args` is None.

    `twice=False` skips the second import and the determinism check (for shrinking). A check
    that takes longer than `seconds` fails with a CheckTimeout."""
    path = _MODULES.write(program.source)
    functions: list[Any] = []
    try:
        with np.errstate(all="ignore"), _time_limit(seconds):  # nan in shrunk programs is fine
            return _check(program, path, 2 if twice else 1, args, functions)
    finally:
        _forget(functions)
        linecache.cache.pop(str(path), None)
        path.unlink()


def _check(program: Program, path: Path, copies: int, args: tuple | None,
           functions: list[Any]) -> Outcome:
    try:
        modules = [_MODULES.load(path) for _ in range(copies)]
        found = _point(modules[0].f, program) if args is None else _at(modules[0].f, args)
    except Exception as exc:  # the generated primal itself failed: a generator bug
        return Outcome("fail", f"primal: {type(exc).__name__}", _exception(exc), args or ())
    if found is None:
        return Outcome("skip")
    args, primal, fd = found
    try:
        built, results = _derivatives(modules[0], args)
        functions += built
        sources = [adgen.source(g) for g in built]
        for text in sources:
            compile(text, "<adgen generated>", "exec")
        problems = _verify(results, primal, fd)
        if len(modules) == 2:
            again = adgen.grad(modules[1].f, wrt=(0, 1))
            functions.append(again)
            if adgen.source(again) != sources[0]:
                problems.append(("nondeterministic", "two imports gave different sources"))
    except Exception as exc:
        return Outcome("fail", f"error: {type(exc).__name__}", _exception(exc), args)
    if problems:
        return Outcome("fail", problems[0][0], "\n".join(d for _, d in problems), args)
    return Outcome("pass", args=args)


# ---------------------------------------------------------------- shrinking


def _same(found: Outcome, outcome: Outcome) -> bool:
    return found.status == "fail" and signature(found) == signature(outcome)


def signature(outcome: Outcome) -> str:
    """What kind of failure: the check, or the exception's last line without its numbers."""
    if not outcome.kind.startswith(("error", "primal")):
        return outcome.kind
    last = outcome.detail.strip().splitlines()[-1] if outcome.detail.strip() else ""
    return f"{outcome.kind}: {re.sub(r'[0-9]+', 'N', last)}"


def _statements(tree: ast.AST) -> list[tuple[ast.AST, str, int]]:
    """Every statement but the imports as (owner, field, index), breadth first."""
    return [(node, name, index) for node in ast.walk(tree) for name in ("body", "orelse")
            if isinstance(getattr(node, name, None), list)
            for index in range(len(getattr(node, name)))
            if not isinstance(getattr(node, name)[index], (ast.Import, ast.ImportFrom))]


def _delete(tree: ast.AST, k: int) -> bool:
    slots = _statements(tree)
    if k >= len(slots):
        return False
    owner, name, index = slots[k]
    body = getattr(owner, name)
    del body[index]
    if name == "body" and not body:
        body.append(ast.Pass())
    return True


def _parts(node: ast.AST) -> list[ast.AST]:
    """What an expression can be replaced by when shrinking: its operands and arguments."""
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return [a for a in node.args if not isinstance(a, ast.Starred)]
    return []


def _expressions(tree: ast.AST) -> list[tuple[ast.AST, str, int | None, ast.AST]]:
    """(parent, field, index, replacement) for every operand an expression could become."""
    out = []
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            children = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            out += [(parent, name, i, part) for i, child in children
                    if isinstance(child, ast.expr) for part in _parts(child)]
    return out


def _simplify(tree: ast.AST, k: int) -> bool:
    slots = _expressions(tree)
    if k >= len(slots):
        return False
    parent, name, index, part = slots[k]
    if index is None:
        setattr(parent, name, part)
    else:
        getattr(parent, name)[index] = part
    return True


def _reduce(program: Program, outcome: Outcome, edit: Callable[[ast.AST, int], bool],
            deadline: float) -> tuple[Program, Outcome, bool]:
    """Apply each edit (statement deletion or expression simplification) that keeps the failure.

    Edits are tried from the last to the first, so an accepted edit does not renumber the
    edits still to try (both numberings are breadth first)."""
    changed = False
    k = 10**9
    while k > 0 and time.monotonic() < deadline:
        k -= 1
        tree = ast.parse(program.source)
        if not edit(tree, k):
            k = min(k, _count(program.source, edit))
            continue
        candidate = replace(program, source=ast.unparse(tree) + "\n")
        found = check(candidate, outcome.args, twice=outcome.kind == "nondeterministic",
                      seconds=10.0)
        if _same(found, outcome):
            program, outcome, changed = candidate, found, True
    return program, outcome, changed


def _count(source: str, edit: Callable[[ast.AST, int], bool]) -> int:
    tree = ast.parse(source)
    return len(_statements(tree) if edit is _delete else _expressions(tree))


def shrink(program: Program, outcome: Outcome, budget: float = 120.0,
           ) -> tuple[Program, Outcome]:
    """A smaller program that fails the same way: first a smaller size from the same seed,
    then statement deletions and expression simplifications until none keeps the failure
    (or `budget` seconds have passed)."""
    deadline = time.monotonic() + budget
    for size in range(1, program.size):
        smaller = generate(program.seed, size, program.features)
        found = check(smaller, twice=outcome.kind == "nondeterministic", seconds=10.0)
        if _same(found, outcome):
            program, outcome = smaller, found
            break
    changed = True
    while changed and time.monotonic() < deadline:
        program, outcome, deleted = _reduce(program, outcome, _delete, deadline)
        program, outcome, simplified = _reduce(program, outcome, _simplify, deadline)
        changed = deleted or simplified
    return program, outcome


# ---------------------------------------------------------------- the runner


@dataclass
class Summary:
    """What `run` found: counts, and the failures, each shrunk once per signature."""

    passed: int = 0
    failed: int = 0
    replaced: int = 0
    failures: list[tuple[Program, Outcome]] = field(default_factory=list)
    shrunk: dict[str, tuple[Program, Outcome]] = field(default_factory=dict)


def default_size(program_seed: int) -> int:
    return random.Random(f"size:{program_seed}").randint(2, 12)


def report(program: Program, outcome: Outcome, small: tuple[Program, Outcome] | None) -> str:
    """A failure, its smallest counterexample (if shrunk) and how to reproduce it."""
    text = (f"FAILED program seed={program.seed} size={program.size}: {signature(outcome)}\n"
            f"reproduce: python -m adgen.fuzz --show {program.seed} --size {program.size}\n"
            f"{outcome.detail}\n")
    if small is None:
        return text + "(the same failure as an earlier program: not shrunk again)"
    program, outcome = small
    x, y, n = outcome.args or (None, None, None)
    return (f"{text}--- smallest counterexample: f(x, y, n) at x={x!r}, y={y!r}, n={n!r} in\n"
            f"{program.source}--- fails with:\n{outcome.detail}")


def run(n: int, seed: int = 0, size: int | None = None, out: Any = None,
        minimize: bool = True, features: frozenset[str] = FEATURES) -> Summary:
    """Check `n` programs; print progress and failures, and last `N passed, M failed`."""
    out = out or sys.stdout
    summary = Summary()
    every = max(1, n // 10)
    for program_seed in itertools.count(seed * 10**7):
        if summary.passed + summary.failed >= n or summary.replaced > 10 * n + 100:
            break
        program = generate(program_seed, size or default_size(program_seed), features)
        outcome = check(program)
        summary.replaced += outcome.status == "skip"
        summary.passed += outcome.status == "pass"
        if outcome.status == "fail":
            _record(summary, program, outcome, minimize, out)
        done = summary.passed + summary.failed
        if outcome.status != "skip" and done % every == 0:
            print(f"progress: {done}/{n} programs checked, {summary.failed} failed, "
                  f"{summary.replaced} replaced (no smooth point)", file=out, flush=True)
    print(f"{summary.passed} passed, {summary.failed} failed", file=out, flush=True)
    return summary


def _record(summary: Summary, program: Program, outcome: Outcome, minimize: bool,
            out: Any) -> None:
    summary.failed += 1
    summary.failures.append((program, outcome))
    key = signature(outcome)
    small = None
    if key not in summary.shrunk:
        small = summary.shrunk[key] = shrink(program, outcome) if minimize else (program, outcome)
    print(report(program, outcome, small), file=out, flush=True)


def _features(text: str) -> frozenset[str]:
    names = {name.strip() for name in text.split(",") if name.strip()}
    if names - FEATURES:
        raise argparse.ArgumentTypeError(
            f"unknown features {sorted(names - FEATURES)}; choose from {sorted(FEATURES)}")
    return frozenset(names)


def main(argv: list[str] | None = None) -> int:
    """`python -m adgen.fuzz`: exit status 0 when every program passed, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m adgen.fuzz",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="programs to check (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    parser.add_argument("--size", type=int, help="statements in f (default: 2 to 12 at random)")
    parser.add_argument("--without", type=_features, default=frozenset(), metavar="FEATURES",
                        help="constructs to leave out, comma-separated, of: "
                        + ", ".join(sorted(FEATURES)))
    parser.add_argument("--show", type=int, metavar="PROGRAM_SEED",
                        help="print the program of this seed and check it, instead of a run")
    parser.add_argument("--no-shrink", action="store_true", help="report failures unshrunk")
    args = parser.parse_args(argv)
    features = FEATURES - args.without
    if args.show is not None:
        program = generate(args.show, args.size or default_size(args.show), features)
        outcome = check(program)
        print(f"{program.source}--- {outcome.status} {outcome.kind}\n{outcome.detail}".rstrip())
        return 0 if outcome.status != "fail" else 1
    summary = run(args.n, args.seed, args.size, minimize=not args.no_shrink, features=features)
    return 0 if summary.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
