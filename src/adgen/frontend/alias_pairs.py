"""The pairs of names the alias check (`frontend/aliases.py`) keeps, and how they change when
a name is rebound: `_rebind` joins what the name shared with two others, `_renamed` hands a
swapped name its partner's old pairs, `_connected` follows chains of pairs, `_order` sorts
them in source order."""

from __future__ import annotations

SAME, PART, ITEM, REPEATS = "same", "part", "item", "repeats"
SHALLOW = "shallow"  # `one` is a new container holding `other`'s items: `list(v)`, `v.copy()`
Pairs = frozenset  # of (one, other, where, kind)


def holds(depth: int, maybe: bool = False) -> str:
    """The kind of a pair whose container holds the other name `depth` subscripts deep; with
    `maybe`, what it holds is an item `v[i]` of the name, which may be a number (an element
    of a 1-d array) or an object of its own (a row): `holds<d>?`."""
    return f"holds{depth}?" if maybe else f"holds{depth}"


def held_at(kind: str) -> int:
    """How deep a `holds<d>` pair's container holds the other name (0 for other kinds)."""
    return int(kind[5:].rstrip("?")) if kind.startswith("holds") else 0


def possibly(kind: str) -> bool:
    """Whether a `holds` pair's container holds items of the name that may be numbers."""
    return kind.endswith("?")


def order(pair: tuple) -> tuple:
    """Pairs in source order (a refusal names the same pair on every run)."""
    return (getattr(pair[2], "lineno", 0) or 0, pair[0], pair[1], pair[3])


def renamed(pairs: Pairs, old: str, new: str, rebound: set[str]) -> Pairs:
    """The pairs `old`'s object had with names not rebound, now held by `new`."""
    out = set()
    for one, other, where, kind in pairs:
        if one == old and other not in rebound:
            out.add((new, other, where, kind))
        elif other == old and one not in rebound:
            out.add((one, new, where, kind))
    return frozenset(out)


def connected(start: str, pairs: Pairs) -> set[str]:
    """The names that may see a change of `start`'s object: linked to it by a chain of
    pairs, the same object or views either way, and from an item to the containers holding
    it (a container's items do not see a change of the container)."""
    found, todo = {start}, [start]
    while todo:
        n = todo.pop()
        for one, other, _, kind in pairs:
            links = ((other, one),) if held_at(kind) else ((one, other), (other, one))
            for a, b in links:
                if a == n and b not in found:
                    found.add(b)
                    todo.append(b)
    return found


def rebind(pairs: Pairs, name: str, join: bool = True) -> Pairs:
    """`name` now holds a new object: it shares nothing any more. What it shared with two
    other names, they may still share with each other, and such pairs are joined: through a
    `same` pair the other pair is renamed (`w = v; u = w; w = ...`: `u` is still `v`); an item
    taken from a container that held a name may be that name (`L = [v]; w = L[0]; L = []`);
    a view of a view is a view. Without `join` (adgen's own code, which rebinds a name only to
    save and later restore it, in reverse order) the pairs are dropped."""
    mine = sorted((p for p in pairs if name in (p[0], p[1])), key=order)
    if len(mine) < 2 or not join:
        return pairs - frozenset(mine)
    joined: set[tuple] = set()
    for i, first in enumerate(mine):
        for second in mine[i + 1:]:
            joined |= _joined(first, second, name)
    return (pairs - frozenset(mine)) | frozenset(joined)


def _joined(first: tuple, second: tuple, through: str) -> set[tuple]:
    """The pair two pairs sharing the name `through` leave between their other names."""
    (a, ra), (b, rb) = _role(first, through), _role(second, through)
    if a == b or "*" in (a, b) or REPEATS in (ra, rb):
        return set()
    if SAME in (ra, rb):  # the other pair, with `through` renamed
        kept, replacement = (second, a) if ra == SAME else (first, b)
        one, partner, where, kind = kept
        return {(replacement, partner, where, kind) if one == through
                else (one, replacement, where, kind)}
    if {ra, rb} == {"holds", "has"}:  # a container held an item of the other name: it may
        # hold a row of it (`r = M[i]; rows.append(r)`, `for r in M: rows.append(r)`)
        held, container, whole = (first, a, b) if ra == "holds" else (second, b, a)
        return {(container, whole, held[2], holds(held_at(held[3]), maybe=True))}
    where = max(first[2], second[2], key=lambda w: getattr(w, "lineno", 0) or 0)
    if {ra, rb} == {"held", "in"}:  # an item taken from a container that held the other
        return {(a, b, where, SAME)}
    if (ra, rb) == ("in", "has"):
        return {(a, b, where, PART)}
    if (ra, rb) == ("has", "in"):
        return {(b, a, where, PART)}
    return set()


def _role(pair: tuple, through: str) -> tuple[str, str]:
    """The other name of `pair`, and what it is to `through`: `same`, `in` (a part or an
    item of it), `has` (it is a part of the other), `holds` or `held` (a container holding
    it, or held by it)."""
    one, other, _, kind = pair
    name = other if one == through else one
    if kind in (SAME, REPEATS):
        return name, kind
    if kind in (PART, ITEM):
        return name, "in" if one == name else "has"
    return name, "holds" if one == name else "held"
