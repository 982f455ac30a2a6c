"""Random expressions with a bound on their values, for the fuzzer's generated programs.

`Expressions` writes the text of an expression of a given shape, (), (3,), (2,) or (2, 3), over
the names live in the function being written, and tracks an upper bound on its absolute value
(interval arithmetic on the text it writes). Whatever could exceed `LIMIT` is wrapped in tanh;
`exp` sees only bounded arguments, `log` and `sqrt` only `1 + v*v` and the like, and `/` only
denominators bounded away from zero, so that the programs are smooth and finite everywhere the
fuzzer samples them. Operands of `+ - * /` broadcast (a scalar or a (3,) row with a (2, 3)
array); reductions are `np.sum`/`np.mean` (whole, or over an axis), products `@`; helpers take
two scalars of at most `HELPER_BOUND` and a recursive helper a scalar and a count. With the
features "casts" and "grids", a scalar may be an integer cast times a float, or a reduction of
a `np.linspace`/`np.arange` grid with active endpoints, and a vector a `np.linspace`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

LIMIT = 1e3  # no generated expression may exceed this in absolute value
HELPER_BOUND = 4.0  # helpers are generated for arguments of at most this size
ARRAYS = ((3,), (2,), (2, 3))
PARTS = {(): [()], (3,): [(), (3,)], (2,): [(), (2,)], (2, 3): [(), (3,), (2, 3)]}
Shape = tuple[int, ...]


def number(c: float) -> str:
    """A constant as source text, parenthesised when negative."""
    return f"({c!r})" if c < 0 else repr(c)


def library(shape: Shape, rng: random.Random) -> str:
    """`math` (mostly) for a scalar, `np` for an array."""
    return "math" if shape == () and rng.random() < 0.8 else "np"


class Expressions:
    """Writes expressions over the live names of a function body.

    `env` maps each live name to (shape, bound on |value|); ints have shape None."""

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
        return f"{library(shape, self.rng)}.tanh({text})", 1.0

    def builders(self, shape: Shape) -> list[Callable[[Shape, int], tuple[str, float]]]:
        out = [self.binary, self.binary, self.unary]
        if shape == () and self.arrays or shape in ((3,), (2,)):
            out += [self.reduce, self.matmul]
        if shape != ():
            out.append(self.construct)
        if shape == () and self.helpers:
            out.append(self.call)
        if shape == () and "casts" in self.features and self.rng.random() < 0.3:
            out.append(self.cast)
        if shape in ((), (3,), (2,)) and "grids" in self.features and self.rng.random() < 0.3:
            out.append(self.grid)
        return out

    def leaf(self, shape: Shape) -> tuple[str, float]:
        if shape != ():
            names = self.floats(shape)
            if not names or self.rng.random() >= 0.8:
                return self.construct(shape, 0)
            name = self.pick(names)
            return name, self.env[name][1]
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
        return number(c), abs(c)

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
        (a, ba), (b, bb) = self.expr(shape, depth), self.expr(self.rng.choice(PARTS[shape]), depth)
        if self.rng.random() < 0.5:
            (a, ba), (b, bb) = (b, bb), (a, ba)
        op = self.rng.choice("+-*/")
        if op == "/":
            lib = library(shape, self.rng)
            denominator, low = self.rng.choice(
                [(f"(1.0 + {b} * {b})", 1.0), (f"(2.0 + {lib}.cos({b}))", 1.0),
                 (f"(1.5 + {lib}.tanh({b}))", 0.5)])
            return f"({a} / {denominator})", ba / low
        return f"({a} {op} {b})", ba * bb if op == "*" else ba + bb

    def unary(self, shape: Shape, depth: int) -> tuple[str, float]:
        a, b = self.expr(shape, depth)
        m = library(shape, self.rng)
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
            source = self.rng.choice(ARRAYS)
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

    def cast(self, shape: Shape, depth: int) -> tuple[str, float]:
        """An integer cast (no derivative through it) times a float."""
        if self.arrays and self.rng.random() < 0.6:
            (a, ba), (b, bb) = self.expr((3,), depth), self.expr((3,), depth)
            cast = self.rng.choice([f"{a}.astype(int)", f"np.asarray({a}, dtype=int)",
                                    f"{a}.astype(np.int64)"])
            return f"np.sum({cast} * {b})", 3.0 * ba * bb
        (a, ba), (b, bb) = self.expr((), depth), self.expr((), depth)
        return f"(int({a}) * {b})", ba * bb

    def grid(self, shape: Shape, depth: int) -> tuple[str, float]:
        """`np.linspace` or `np.arange` with endpoints, start or step that depend on x."""
        (a, ba), (b, bb) = self.expr((), depth), self.expr((), depth)
        if shape != ():
            return f"np.linspace({a}, {b}, {shape[0]})", max(ba, bb)
        return self.rng.choice([
            (f"np.mean(np.sin(np.linspace({a}, {b}, 5)))", 1.0),
            (f"np.sum(np.linspace({a}, {b}, 4, endpoint=False) * np.arange(4.0))",
             6.0 * max(ba, bb)),
            (f"np.sum(np.cos(np.arange(math.tanh({a}), 2.0, 0.5)))", 6.0),
            (f"np.sum(np.arange(0.0, 1.5, 0.3 + 0.1 * math.tanh({a})) ** 2)", 20.0),
        ])

    def call(self, shape: Shape, depth: int) -> tuple[str, float]:
        name, arity, bound = self.rng.choice(self.helpers)
        if arity == "recursive":
            a, b = self.expr((), depth)
            count = self.rng.choice(["n", "2", "0"] if "n" in self.env else ["2", "1"])
            return f"{name}({a}, {count})", max(b, 1.0)
        args = [self.expr((), depth) for _ in range(arity)]
        args = [(t if b <= HELPER_BOUND else f"(3.0 * math.tanh({t}))") for t, b in args]
        return f"{name}({', '.join(args)})", bound
