"""A set of names that remembers its past: what the forward sweep knows is assigned.

The reverse-mode forward sweep keeps, in program order, which variables may be and which
certainly are assigned, and later asks what they were at a branch or a loop. Copying the set
there costs the size of the set, which holds most of a long function's names: quadratic
time in the function's length. `History` instead stamps each change; `point()` is a snapshot
that costs nothing, `had(point, name)` answers for it, and a branch undoes only its own
changes (`since(mark)`, `discard`).
"""

from __future__ import annotations

from collections.abc import Iterable


class History:
    """A set of names changed in place; every past state stays answerable."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.clock = 0
        self._since: dict[str, int] = dict.fromkeys(names, -1)  # member now, since stamp
        self._spans: dict[str, list[tuple[int, int]]] = {}  # earlier (added, removed) stamps
        self._log: list[str] = []  # every name whose membership changed, in order

    def __contains__(self, name: str) -> bool:
        return name in self._since

    def add(self, name: str) -> None:
        if name not in self._since:
            self._since[name] = self.clock
            self.clock += 1
            self._log.append(name)

    def update(self, names: Iterable[str]) -> None:
        for name in names:
            self.add(name)

    def discard(self, name: str) -> None:
        added = self._since.pop(name, None)
        if added is not None:
            self._spans.setdefault(name, []).append((added, self.clock))
            self.clock += 1
            self._log.append(name)

    def point(self) -> tuple[int, int]:
        """A snapshot of the set now (for `had`), and the mark for `since`."""
        return self.clock, len(self._log)

    def since(self, point: tuple[int, int]) -> list[str]:
        """The members now that were added after `point`, in the order they were added."""
        clock, at = point
        seen: set[str] = set()
        out = []
        for name in self._log[at:]:
            if name not in seen and self._since.get(name, -1) >= clock:
                seen.add(name)
                out.append(name)
        return out

    def had(self, point: tuple[int, int] | None, name: str) -> bool:
        """Whether `name` was a member at `point` (never, for None)."""
        if point is None:
            return False
        clock = point[0]
        added = self._since.get(name)
        if added is not None and added < clock:
            return True
        return any(start < clock <= end for start, end in self._spans.get(name, ()))

    def at(self, point: tuple[int, int]) -> Snapshot:
        """The set as it was at `point`, for membership tests."""
        return Snapshot(self, point)


class Snapshot:
    """`name in snapshot`: whether the history had `name` at its point."""

    def __init__(self, history: History, point: tuple[int, int]) -> None:
        self.history, self.point = history, point

    def __contains__(self, name: str) -> bool:
        return self.history.had(self.point, name)
