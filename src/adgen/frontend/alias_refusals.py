"""The refusals and run-time checks of the alias walk (`frontend/aliases.py`) where a write
meets a name that may share its object only perhaps: an item `v[i]` a container holds, that
may be a number or a row (`refuse_item`), a shallow copy and its source (`shallow`), a write
no other name sees (`unseen`), an item unpacked from a container (`shared`)."""

from __future__ import annotations

import ast

import gast

from adgen.codegen import astutil
from adgen.frontend.alias_exprs import an_item as _an_item
from adgen.frontend.alias_exprs import root as _root
from adgen.frontend.alias_pairs import ITEM, REPEATS, Pairs, connected, held_at

FIX = ("adgen follows values, not shared memory; make a copy where the two meet "
       "(`{written} = {other}.copy()` for an array, `list({other})` for a list) or write "
       "into one name only")


class Refusals:
    """A mixin of the alias walk: it gives `error`, `names`, `params`, `checks`,
    `held_nodes`, `liveness` and `put_backs`."""

    def refuse_item(self, s: gast.AST, written: str, depth: int, pair: tuple,
                    pairs: Pairs) -> None:
        """A write into a name a container holds items of (`rows.append(M[i])`, then `M[0,
        1] = ...` or `rows[0][1] = ...`), while the other name may be read later: whether the
        items are numbers (a 1-d `M`: nothing shared) or rows (shared) only the values tell.
        The expressions that put them there are marked (`adgen_item`) for a run-time check
        (`runtime.number_item`); refused here when they cannot be found."""
        one, other, where, kind = pair
        if not (other == written or one == written and depth > held_at(kind)):
            return
        partner = other if one == written else one
        seeing = connected(partner, pairs) - {written}
        if not (seeing & self.params or any(
                n not in self.names or self.read_later(n, s, written) for n in seeing)):
            # no other name reads the object afterwards (in adgen's own code, before the
            # write is undone; the user's own such writes carry their checks into it)
            self.checks.shared.setdefault(id(s), set()).update(seeing)  # see `unseen`
            return
        nodes = [e for e in self.held_nodes.get((id(where), other), []) if _an_item(e, self.names)]
        line = getattr(where, "lineno", "?")
        if not nodes:
            raise self.error(s, f"writing into `{written}`, which may share its object with "
                             f"`{partner}` (line {line})",
                             FIX.format(written=written, other=partner))
        for e in nodes:
            e.adgen_item = (one, ast.unparse(gast.gast_to_ast(astutil.clone(e))), other,
                            written, getattr(s, "lineno", None),
                            getattr(e, "lineno", None) or getattr(where, "lineno", None))

    def shallow(self, s: gast.AST, written: str, depth: int, pair: tuple) -> None:
        """A write into one of a shallow copy and its source while the other is read later
        or is a parameter: an update of an item (`c[k] += v`) is checked like one of an item
        another name holds (raised here, caught by `stmt`), a write into an item by
        `runtime.own_items`, and so is an element write into the source of `list(a)`, whose
        items may be rows of an array `a` (a copy's elements, and `v.copy()`'s, are its own)."""
        one, other, made = pair
        if written not in (one, other):
            return
        partner = other if one == written else one
        if partner not in self.params and not self.liveness.read_after(partner, s):
            return
        if isinstance(s, gast.AugAssign) and depth > _root(s.target)[1]:
            raise self.error(s, "an update of an item the copies share", "")  # checked
        copied = isinstance(made, gast.Assign) and isinstance(made.value, gast.Call) and \
            isinstance(made.value.func, gast.Attribute)  # `v.copy()`
        if depth > 1 or written == other and not copied:
            self.checks.copies.setdefault(id(s), []).append((written, partner, depth > 1))

    def unseen(self, s: gast.AST, written: str, one: str, kind: str, pairs: Pairs) -> bool:
        """Whether a write into `written` is never seen through another name: no name that
        may share its object (transitively) is a parameter or read after `s`. Then the
        program reads the object only as `written`, which the trace follows by value, and the
        reverse sweep restores the element whenever it reads one of those names
        (`Checks.shared`). A write through a container into an item it holds (`pair[0][0] =
        ...`) stays refused: the container may hold that item twice."""
        if kind == REPEATS or held_at(kind) and one == written:
            return False
        sharing = connected(written, pairs) - {written}
        if not sharing or sharing & self.params or any(
                n not in self.names or self.read_later(n, s, written) for n in sharing):
            return False
        self.checks.shared.setdefault(id(s), set()).update(sharing)
        return True

    def read_later(self, n: str, s: gast.AST, written: str) -> bool:
        """Whether `n` may be read after `s`, a write into `written` (in adgen's own code:
        before the write is undone, `PutBacks`)."""
        if self.put_backs is not None:
            return self.put_backs.read_after(n, s, written)
        return self.liveness.read_after(n, s)

    def shared(self, container: str, s: gast.AST, unpacked: gast.AST, pairs: Pairs) -> bool:
        """Whether a write at `s` into an item `unpacked` took from `container` can be seen
        through another name: `container` is read later, or shares its object or items with
        a name other than those `unpacked` bound."""
        return self.liveness.read_after(container, s) or any(
            container in (p[0], p[1]) and not (p[3] == ITEM and p[2] is unpacked)
            for p in pairs)
