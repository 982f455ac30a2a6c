"""Every naming scheme of generated code, in one place.

A tangent of `x` is `x_dot`, an adjoint `x_bar` (the book's ẋ and x̄); temporaries of the
evaluation trace are `_t1`, `_t2`, ...; saved values `x_1`, `x_2`; the per-call stack is
`_stack`. A name the user already uses is never reused: a clash gets a numeric suffix.
Names are handed out in program order, so the same function gives the same names every time.
"""

from __future__ import annotations

from collections.abc import Iterable


class Namer:
    """Hands out fresh, deterministic names that avoid the names a function already uses."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self.taken: set[str] = set(taken)
        self._derived: dict[tuple[str, str], str] = {}
        self._counters: dict[str, int] = {}

    def reserve(self, names: Iterable[str]) -> None:
        self.taken.update(names)

    def _claim(self, candidate: str) -> str:
        name, n = candidate, 1
        while name in self.taken:
            n += 1
            name = f"{candidate}{n}"
        self.taken.add(name)
        return name

    def temp(self, prefix: str = "_t") -> str:
        """The next numbered temporary, `_t1`, `_t2`, ..."""
        while True:
            n = self._counters.get(prefix, 0) + 1
            self._counters[prefix] = n
            name = f"{prefix}{n}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    def derived(self, base: str, suffix: str) -> str:
        """`base_suffix` (e.g. `x_dot`), the same name every time it is asked for."""
        key = (base, suffix)
        if key not in self._derived:
            self._derived[key] = self._claim(f"{base}_{suffix}")
        return self._derived[key]

    def is_derived(self, name: str, base: str, suffix: str) -> bool:
        """Whether `name` is `base`'s `suffix` name (asking claims nothing)."""
        return self._derived.get((base, suffix)) == name

    def dot(self, name: str) -> str:
        return self.derived(name, "dot")

    def bar(self, name: str) -> str:
        return self.derived(name, "bar")

    def saved(self, name: str) -> str:
        """A fresh variable holding an overwritten value of `name` (`x_1`, `x_2`, ...)."""
        return self.temp(f"{name}_")

    def fresh(self, candidate: str) -> str:
        """`candidate` itself when free, else with a numeric suffix."""
        return self._claim(candidate)
