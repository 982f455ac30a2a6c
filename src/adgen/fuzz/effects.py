"""Writes that go through more than one name, for the fuzzer's generated programs.

`Effects` (mixed into the statement writer) writes the shapes of code that change an object
in place, the way users write them:

    mutators  `m0(w, s)` changes an array argument (element writes, `*=`, `-=`), `m1(h, s)`
              appends to a list argument; `f` makes a fresh array or list and calls them
    tables    DP tables: a list of lists or a 2-D array filled by chained subscript writes
              (`D[i][j] = ...`, `D[i][j] += ...`) in nested loops, or a few straight-line ones
    dicts     a dict built inside `f` (`d = {}`, `d["a"] = ...`, `d["a"] += ...`)
    aliases   a second name for an object that is then written through (chained and tuple
              assignment, a list holding an array twice, a dict holding an array, a list of
              repeated rows, an array appended and then written): adgen must refuse these

Every in-place update contracts (`0.5 * old + 0.4 * tanh(...)`, a scale of at most 0.9, a copy
of another entry), so bounds hold however often a loop or a call repeats it.
"""

from __future__ import annotations

import random

from adgen.fuzz.expressions import LIMIT

_ARRAY_STEPS = (
    "w[{i}] = w[{j}]",
    "w *= 0.5 + 0.4 * math.tanh(s)",
    "w[{i}] = 0.5 * w[{i}] + 0.4 * math.sin(s * w[{j}])",
    "w -= 0.5 * w - 0.4 * np.tanh(s * w)",
)
_LIST_STEPS = (
    "h.append(0.8 * math.tanh(s))",
    "h.append(0.5 * math.cos(s) * h[-1])",
)


def mutators(rng: random.Random) -> list[str]:
    """The helpers `m0(w, s)` (changes the array w of shape (3,)) and `m1(h, s)` (appends one
    or two numbers of at most 1 to the list h); neither returns anything."""
    steps = [rng.choice(_ARRAY_STEPS).format(i=rng.randrange(3), j=rng.randrange(3))
             for _ in range(rng.randint(1, 3))]
    appends = [_LIST_STEPS[0]] + [_LIST_STEPS[1]] * rng.randint(0, 1)
    return ["def m0(w, s):\n" + "".join(f"    {s}\n" for s in steps).rstrip(),
            "def m1(h, s):\n" + "".join(f"    {s}\n" for s in appends).rstrip()]


class Effects:
    """Statements that write through a name: see the module docstring. Mixed into `Writer`,
    whose `expr`, `fresh`, `put`, `pick`, `floats`, `env` and `loop` it uses."""

    def mutate(self) -> None:
        """A fresh array changed by `m0`, or a fresh list filled by `m1`."""
        scalar = self.scalar
        if self.arrays and self.rng.random() < 0.6:
            w = self.fresh("w")
            vectors = self.floats((3,))
            if vectors and self.rng.random() < 0.5:
                source = self.pick(vectors)
                self.put(f"{w} = {source} * 1.0")
                bound = self.env[source][1]
            else:
                text, bound = self.expr((3,))
                self.put(f"{w} = {text} * 1.0" if self.rng.random() < 0.7 else f"{w} = np.zeros(3)")
            for _ in range(self.rng.randint(1, 2)):
                self.put(f"m0({w}, {scalar()})")
            self.env[w] = ((3,), max(bound, 1.0))
            return
        h, total = self.fresh("hist"), self.fresh("v")
        self.put(f"{h} = []")
        calls = self.rng.randint(1, 3)
        if "for" in self.features and self.rng.random() < 0.5:
            i = self.fresh("i")
            self.put(f"for {i} in range({calls}):")
            self.env[i] = (None, float(calls - 1))
            self.put(f"    m1({h}, {scalar()})")
        else:
            for _ in range(calls):
                self.put(f"m1({h}, {scalar()})")
        self.put(f"{total} = sum({h})" if self.rng.random() < 0.6
                 else f"{total} = {h}[-1] * {h}[0]")
        self.env[total] = ((), 2.0 * calls)

    def scalar(self) -> str:
        text, bound = self.expr(())
        return text if bound <= 4.0 else f"3.0 * math.tanh({text})"

    def table(self) -> None:
        """A 3x3 table of lists or a 3x3 array, filled by chained subscript writes."""
        d, i, j, v = self.fresh("D"), self.fresh("i"), self.fresh("j"), self.fresh("v")
        array = self.arrays and self.rng.random() < 0.5
        self.put(f"{d} = " + self.rng.choice(
            ["np.zeros((3, 3))"] if array else
            ["[[0.0] * 3 for _ in range(3)]", "[[0.0, 0.0, 0.0] for _ in range(3)]",
             "[[0.0] * 3, [0.0] * 3, [0.0] * 3]"]))
        if "for" not in self.features or self.rng.random() < 0.3:
            for _ in range(self.rng.randint(1, 3)):
                r, c = self.rng.randrange(3), self.rng.randrange(3)
                op = self.rng.choice(["=", "+="])
                self.put(f"{d}[{r}][{c}] {op} {self.scalar()}")
            self.env[v] = ((), 12.0)
            self.put(f"{v} = {d}[{self.rng.randrange(3)}][{self.rng.randrange(3)}]")
            return
        self.put(f"{d}[0][0] = {self.scalar()}")
        self.put(f"for {i} in range(1, 3):")
        self.env[i] = (None, 2.0)
        self.put(f"    {d}[{i}][0] = 0.5 * {d}[{i} - 1][0] + 0.4 * math.tanh({self.scalar()})")
        self.put(f"    {d}[0][{i}] = 0.5 * {d}[0][{i} - 1] + 0.4 * math.sin({self.scalar()})")
        self.put(f"for {i} in range(1, 3):")
        self.put(f"    for {j} in range(1, 3):")
        self.env[j] = (None, 2.0)
        inner = [f"{d}[{i} - 1][{j} - 1]", f"{d}[{i} - 1][{j}]", f"{d}[{i}][{j} - 1]"]
        a, b = self.rng.sample(inner, 2)
        self.put(f"        {d}[{i}][{j}] = 0.5 * {a}")
        self.put(f"        {d}[{i}][{j}] += 0.4 * math.tanh({b} * {self.scalar()})")
        self.put(f"{v} = {d}[2][2]" if self.rng.random() < 0.6 else
                 f"{v} = {'np.sum(' + d + ')' if array else f'sum({d}[2])'}")
        self.env[v] = ((), 36.0)

    def dictionary(self) -> None:
        """A dict built inside `f`, read back by key."""
        d, v = self.fresh("d"), self.fresh("v")
        (a, ba), (b, bb) = self.expr(()), self.expr(())
        if self.rng.random() < 0.5:
            self.put(f"{d} = {{}}")
            self.put(f'{d}["a"] = {a}')
        else:
            self.put(f'{d} = {{"a": {a}}}')
        self.put(f'{d}["b"] = {d}["a"] * {b}' if ba * bb <= LIMIT else f'{d}["b"] = {b}')
        bound = ba + (ba * bb if ba * bb <= LIMIT else bb)
        if self.rng.random() < 0.5:
            self.put(f'{d}["a"] += {self.scalar()}')
            bound += 4.0
        self.put(f'{v} = {d}["a"] + 0.5 * {d}["b"]')
        self.env[v] = ((), bound)

    def alias(self) -> str:
        """An object written through a second name, used in the result; returns that name."""
        w, u, v = self.fresh("w"), self.fresh("u"), self.fresh("v")
        e = self.scalar()
        source = self.rng.choice(["np.zeros(3)", "np.ones(3)", f"np.array([x, {e}, 1.0])"])
        shapes = [
            [f"{w} = {u} = {source}", f"{w} += {e}", f"{v} = np.sum({u} * x)"],
            [f"{w} = {u} = {source}", f"{w}[1] = {e}", f"{v} = np.sum({u}) * x"],
            [f"{u} = {source} * 1.0", f"a{w}, b{w} = {u}, {u}", f"a{w}[0] = {e}",
             f"{v} = np.sum(b{w} * x)"],
            [f"{u} = {source}", f"{w} = [{u}, {u}]", f"{w}[0][2] = {e}",
             f"{v} = np.sum({w}[1]) * x"],
            [f"{u} = {source} * 1.0", f'{w} = {{"w": {u}}}', f'{w}["w"][0] = {e}',
             f"{v} = np.sum({u}) * x"],
            [f"{w} = [[0.0] * 2] * 2", f"{w}[0][1] = {e}", f"{v} = {w}[1][1] * x"],
            [f"{w} = []", f"{u} = {source} * 1.0", f"{w}.append({u})", f"{u}[0] = {e}",
             f"{v} = np.sum({w}[0]) * x"],
            [f"{u} = {source} * 1.0", f"{w} = {u}", f"{w}[1] = {e}", f"{v} = np.sum({u}) * x"],
            [f"{w} = {u} = []", f"{w}.append({e})", f"{v} = sum({u}) * x"],
        ]
        for line in self.rng.choice(shapes):
            self.put(line)
        self.env[v] = ((), 30.0)
        return v
