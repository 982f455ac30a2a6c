"""The fuzzer's random programs: a module defining `f(x, y, n)` and the helpers it calls.

`generate(seed, size, features)` writes `f(x, y, n)` (x a float, y a float or an array of shape
(3,) or (2, 3), n an int in 0..3) with `size` statements (a compound one counts once): straight-
line arithmetic and `math`/NumPy calls (see `expressions`), overwritten and reused variables,
and the constructs named in `features` (all of `FEATURES` by default):

    if         `if`/`else` on comparisons of intermediate values
    for        `for` loops over `range` with constant bounds or bounds from `n`
    while      `while` loops with a counter and a data-dependent exit
    jumps      `break` and `continue` (needs "if")
    returns    early `return` from a branch
    lists      list `append` in a loop, then `sum` or a loop over the list (needs "for")
    writes     element writes into a fresh array
    helpers    helper functions `h0`, `h1` that `f` (and later helpers) call
    recursion  a recursive helper `r0(v, k)`: one call a level, two, or a result scaled by k
    arrays     arrays with broadcasting, `@`, element reads, `np.sum`/`np.mean`
    mutators   helpers `m0(w, s)` and `m1(h, s)` that change their array argument or append to
               their list argument, called from `f` (see `effects`)
    tables     DP tables: a list of lists or a 2-D array filled by `D[i][j] = ...` and
               `D[i][j] += ...`, in nested loops or straight-line
    dicts      a dict built inside `f` and read back by key
    casts      integer casts (`int(e)`, `a.astype(int)`, `np.asarray(a, dtype=int)`) times
               a float: they cut the derivative
    grids      `np.linspace`/`np.arange` whose endpoints, start or step depend on x
    second     a program with a recursive helper (and at most 6 statements) has d2f/dx2
               checked too (reverse over reverse, forward over reverse, hvp)
    aliases    some programs (15 %) start with an object written through a second name (see
               `effects`); adgen must refuse them, in both modes

`f` returns a scalar. The same seed, size and features always give the same text. Updates of
existing variables inside loops contract (`v = 0.5 * v + 0.4 * tanh(...)`), so bounds hold
however often a loop runs; `while` loops advance their variable and counter first, so that a
`continue` cannot loop forever; an array is never updated in place (`a = a + e`, not `a += e`),
so nothing writes into an array that may alias an argument (the helpers of "mutators" write
only into the fresh arrays and lists `f` makes for them). A program's `order` (1 or 2) and
`refused` flag tell `check` what to check.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from adgen.fuzz.effects import Effects, mutators
from adgen.fuzz.expressions import (
    ARRAYS,
    HELPER_BOUND,
    LIMIT,
    PARTS,
    Expressions,
    Shape,
    library,
    number,
)

FEATURES = frozenset({"if", "for", "while", "jumps", "returns", "lists", "writes", "helpers",
                      "recursion", "arrays", "mutators", "tables", "dicts", "casts", "grids",
                      "second", "aliases"})


@dataclass(frozen=True)
class Program:
    """A generated module: its source, and how to call its `f`."""

    seed: int
    size: int
    source: str
    y_shape: Shape
    features: frozenset[str] = FEATURES
    order: int = 1  # 2: d2f/dx2 is checked too
    refused: bool = False  # f writes through an alias: adgen must refuse it


class Writer(Expressions, Effects):
    """Writes the statements of one function body (see the module docstring)."""

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
                 (self.jump, 0.4, {"jumps", "if"} <= self.features and self.loops > 0),
                 (self.mutate, 0.4, "mutators" in self.features and self.indent < 4),
                 (self.table, 0.3, "tables" in self.features and self.loops == 0
                  and self.indent < 3),
                 (self.dictionary, 0.4, "dicts" in self.features)]
        actions, weights = zip(*[(a, w) for a, w, allowed in kinds if allowed], strict=True)
        self.rng.choices(actions, weights)[0]()

    def assign(self) -> None:
        shape = self.rng.choice([(), (), *ARRAYS]) if self.arrays else ()
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
            part = self.rng.choice(PARTS[shape])
            e, _ = self.expr(part)
            text = f"0.5 * {name} + 0.4 * {library(part, self.rng)}.tanh({e})"
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
        part = self.rng.choice(PARTS[shape])
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
        trips, stop = self.rng.randint(2, 5), number(round(self.rng.uniform(-1.0, 3.0), 2))
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



_HEADER = "import math\n\nimport numpy as np\n\n\n"


def _helper(rng: random.Random, name: str, helpers: list, arrays: bool,
            features: frozenset[str]) -> tuple[str, tuple]:
    env = {"a": ((), HELPER_BOUND), "b": ((), HELPER_BOUND)}
    gen = Writer(rng, env, list(helpers), arrays, features)
    gen.block(rng.randint(1, 3))
    text, bound = gen.result()
    gen.put(f"return {text}")
    return f"def {name}(a, b):\n" + "\n".join(gen.lines), (name, 2, max(bound, gen.returned))


def _recursive(rng: random.Random, name: str) -> tuple[str, tuple]:
    """`name(v, k)`: k calls deep, one or two recursive calls a level, each result contracted."""
    gen = Writer(rng, {"v": ((), LIMIT)}, [], False, frozenset())
    e, _ = gen.expr((), 2)
    step = f"0.5 * v + 0.4 * math.tanh({e})"
    last = rng.choice([f"{name}({step}, k - 1)",
                       f"0.5 * {name}({step}, k - 1) + 0.4 * math.tanh({name}(v, k - 1))",
                       f"0.5 * {name}({step}, k - 1) + 0.1 * k * {name}(v, k - 1)",
                       f"{name}({step}, k - 1) * 0.25 * k"])
    text = f"def {name}(v, k):\n    if k <= 0:\n        return v\n    return {last}"
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
    order = 1
    if rng.random() < 0.3 and {"recursion", "if"} <= features:
        text, entry = _recursive(rng, "r0")
        parts.append(text)
        helpers.append(entry)
        order = 2 if "second" in features and size <= 6 else 1  # second order is slow
    if "mutators" in features:
        parts += mutators(rng)
    env = {"x": ((), 2.0), "y": (y_shape, 2.0), "n": (None, 3.0)}
    gen = Writer(rng, env, helpers, arrays, features)
    alias = gen.alias() if "aliases" in features and rng.random() < 0.15 else None
    gen.block(size)
    result = gen.result()[0]
    gen.put(f"return {result}" + (f" + {alias}" if alias else ""))
    parts.append("def f(x, y, n):\n" + "\n".join(gen.lines))
    return Program(seed, size, _HEADER + "\n\n\n".join(parts) + "\n", y_shape, features,
                   order, alias is not None)


def sample(program: Program, rng: random.Random) -> tuple:
    """Arguments for `f`: x and the entries of y uniform in [-2, 2], n in 0..3."""
    y = np.array([rng.uniform(-2.0, 2.0) for _ in range(math.prod(program.y_shape))])
    y = float(y[0]) if program.y_shape == () else y.reshape(program.y_shape)
    return rng.uniform(-2.0, 2.0), y, rng.randint(0, 3)


def default_size(program_seed: int) -> int:
    return random.Random(f"size:{program_seed}").randint(2, 12)
