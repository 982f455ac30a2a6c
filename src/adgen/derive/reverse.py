"""Reverse mode: a forward sweep, then the adjoint statements in reverse (eqs. 8.70–8.76).

Stack replay. The forward sweep runs the primal statements; the reverse sweep runs each active
step's adjoint statement in reverse order, and replays control flow backwards: an `if` tests
the same (restored) condition again, a `for` over `range` walks the range backwards, a `while`
runs its recorded trip count. The one invariant: when the reverse sweep reaches a statement,
every primal variable it reads holds the value it had just after that statement ran. So a
statement that overwrites a variable the reverse sweep reads saves the old value first
(`_stack.append(x)` inside loops, a named copy `x_1 = x` elsewhere) and the reverse sweep puts
it back right after that statement's adjoint. Nothing else is recorded: branch conditions and
loop bounds are ordinary values restored like any other, so straight-line code records nothing
at all.

Adjoints are created by their first contribution (`a_bar = ...`) and accumulated after that
(`a_bar = a_bar + ...`); a zero is only materialised where control flow merges paths that
disagree. Indexed reads accumulate in place into adjoint arrays the sweep owns.
"""

from __future__ import annotations

import copy
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any

import gast

from adgen import runtime
from adgen.codegen import astutil
from adgen.codegen.astutil import clone
from adgen.derive import blocks
from adgen.derive.adjoints import StepAdjoints, popped_list
from adgen.derive.analysis import statements
from adgen.derive.generate import CallSite, Context, user_function
from adgen.derive.history import History
from adgen.derive.masks import masks
from adgen.frontend.lower import assign, const, name


@dataclass
class Save:
    """A possible save/restore of `var` around one overwrite; decided once reads are known."""

    var: str
    in_loop: bool
    defined: bool
    fwd: list[gast.AST] = field(default_factory=list)
    rev: list[gast.AST] = field(default_factory=list)
    index: gast.AST | None = None  # an element write `var[index] = ...` saves only that part
    append: bool = False  # `var.append(...)` is undone by `var.pop()`, nothing is saved
    popped_into: str | None = None  # `x = var.pop()` is undone by `var.append(x)`
    shared: frozenset = frozenset()  # names that may share the object an element write changes
    certain: bool = True  # `var` certainly has a value where it is saved (else bound early)


@dataclass
class LoopInit:
    """Variables a loop's saves read before their first assignment: bound to None first."""

    defined: Container[str]  # what may be assigned where the loop starts
    depth: int = 0
    names: list[str] = field(default_factory=list)


class Reverse(StepAdjoints):
    """Builds the forward and reverse sweeps of a (structured) trace."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.namer = ctx.namer
        self.saves: dict[int, Save] = {}
        self.loop_inits: list[tuple[LoopInit, list[Save]]] = []
        self.defined = History(ctx.trace.params)  # may be assigned (forward, in order)
        self.loop_depth = 0
        self.state: set[str] = set()
        self.owned: set[str] = set()
        self.filled: set[str] = set()
        self.counters: dict[int, str] = {}
        self.primal = set(ctx.trace.locals) | {
            s.targets[0].id for s in statements(ctx.trace.node.body)
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
        }
        self._loop_saves: list[list[Save]] = []
        self.scattered: set[str] = set()
        self.calls: dict[int, Any] = {}
        self.counter_saves: dict[int, Save] = {}
        self.pops: dict[int, Save] = {}
        self.save_temps: set[str] = set()
        self.must = History(ctx.trace.params)  # certainly assigned (forward, in order)
        self.must_at: dict[int, tuple[int, int]] = {}  # at an `if` or a loop: `must.point()`
        self._lists: tuple[tuple[int, int], set[str]] = ((-1, -1), set())
        self._loop_memo: dict[Any, Any] = {}
        self.own_requests: set[str] = set()
        self.popped_adjoints: set[str] = set()  # list adjoints the sweep pops items from
        self.bound_early: set[str] = set()  # bound to None before the forward sweep
        self.stack = self.namer.fresh("_stack")
        self.forward_order: list[gast.For] = []  # reversed loops left in forward order so far
        # adjoints this block of the reverse sweep made as a tuple or list display, and of
        # those the lists (emptied at each block's ends: a merge may bring a plain zero)
        self.displayed: set[str] = set()
        self.listed: set[str] = set()
        # runs of unpacking steps `a = t[0]; b = t[1]` by their last step, and the steps
        # whose adjoint went into a display of their run (`StepAdjoints._unpacked_display`)
        self.runs: dict[int, list[gast.Assign]] = {}
        self.unpacked: set[int] = set()
        self.masks = masks(ctx.trace.node.body, ctx.trace.params)  # steps under a mask

    def bar(self, var: str) -> str:
        return self.namer.bar(var)

    # ------------------------------------------------------------------ forward sweep

    def forward(self, body: list[gast.AST]) -> list[gast.AST]:
        out: list[gast.AST] = []
        for s in body:
            out.extend(self.forward_stmt(s))
        return out

    def save(self, s: gast.AST, var: str) -> Save:
        record = Save(var, self.loop_depth > 0, var in self.defined or self.loop_depth > 0,
                      certain=var in self.must)
        self.saves[id(s)] = record
        if self._loop_saves:
            self._loop_saves[-1].append(record)
        return record

    def forward_stmt(self, s: gast.AST) -> list[gast.AST]:
        if isinstance(s, gast.Assign):
            fn = user_function(s.value)
            if fn is not None and s.targets[0].id in self.ctx.active:
                with self.ctx.facts_at(s):
                    return self.forward_call(s, fn)
            t = s.targets[0]
            var = t.id if isinstance(t, gast.Name) else t.value.id
            record = self.save(s, var)
            if isinstance(t, gast.Subscript):
                record.index = t.slice
                record.shared = getattr(s, "adgen_shared", frozenset())
            self.defined.add(var)
            self.must.add(var)
            popped = popped_list(s)
            if popped is not None:  # `x = xs.pop()` is undone by `xs.append(x)`
                self.pops[id(s)] = Save(popped, self.loop_depth > 0, True, popped_into=var)
            return [record.fwd, s, *self.ctx.float_check(s)]  # `t = np.arange(3)`: floats?
        if isinstance(s, gast.If):
            blocks.check(self.ctx, s)
            node = copy.copy(s)
            defined, must = self.defined.point(), self.must.point()
            self.must_at[id(s)] = must
            node.body = self.forward(s.body) or [gast.Pass()]
            after_body, must_body = self.defined.since(defined), set(self.must.since(must))
            for var in after_body:  # the `else` branch starts from what the `if` started
                self.defined.discard(var)
            for var in must_body:
                self.must.discard(var)
            must = self.must.point()
            node.orelse = self.forward(s.orelse)
            self.defined.update(after_body)
            for var in self.must.since(must):  # certain after both: certain in both
                if var not in must_body:
                    self.must.discard(var)
            return [node]
        if isinstance(s, (gast.For, gast.While)):
            return self.forward_loop(s)
        if isinstance(s, gast.Expr) and isinstance(s.value.func, gast.Attribute):
            receiver = s.value.func.value
            if isinstance(receiver, gast.Name) and receiver.id in self.primal:
                if s.value.func.attr != "append" or len(s.value.args) != 1:
                    if receiver.id in self.ctx.active:
                        raise self.ctx.error(s, f"reverse mode cannot differentiate the "
                                             f"in-place `.{s.value.func.attr}()` on an active "
                                             "value; use `.append(x)` or build a new value")
                    return [s]
                self.save(s, receiver.id).append = True
        return [s]

    def forward_call(self, s: gast.Assign, fn: Any) -> list[gast.AST]:
        """`y, _tape = g_fwd(...)`; the reverse sweep calls `g_bwd(_tape, y_bar)`. When the
        callee's backward function reads nothing but parameters it never writes, there is no
        tape: `y = g_fwd(...)`, and the reverse sweep calls `g_bwd(a, y_bar)` with the call's
        own arguments, which the caller saves and restores like any value it reads."""
        site = CallSite(self.ctx, s, fn, s.value)
        var = s.targets[0].id
        if not site.wrt:  # no active argument: an ordinary primal step
            record = self.save(s, var)
            self.defined.add(var)
            return [record.fwd, s]
        fwd_name, bwd_name = site.derivative(self.ctx, "split")
        record = self.save(s, var)
        self.defined.add(var)
        self.must.add(var)
        if site.tape_params is not None:
            call = assign(var, site.call(fwd_name), s.adgen_line)
            self.calls[id(s)] = (site, None, bwd_name, None)
            return [record.fwd, call]
        tape = self.namer.temp("_tape")
        self.primal.add(tape)
        pair = gast.Tuple(elts=[name(var, gast.Store()), name(tape, gast.Store())],
                          ctx=gast.Store())
        call = gast.Assign(targets=[pair], value=site.call(fwd_name), type_comment=None)
        call.adgen_line = s.adgen_line
        tape_save = self.save(call, tape)
        self.defined.add(tape)
        self.calls[id(s)] = (site, tape, bwd_name, tape_save)
        return [tape_save.fwd, record.fwd, call]

    def reverse_call(self, s: gast.Assign) -> list[gast.AST]:
        site, tape, bwd_name, tape_save = self.calls[id(s)]
        var = s.targets[0].id
        out: list[gast.AST] = []
        if var in self.state:
            grads = self.namer.temp("_g")
            # the lowering never lets a step read what it writes, so the arguments still
            # hold the values the call was given
            taped = [name(tape)] if tape is not None else [
                clone(site.bound[p]) for p in site.tape_params]
            into = self._accumulated(site)
            call = gast.Call(func=name(bwd_name), args=[*taped, name(self.bar(var))],
                             keywords=[gast.keyword(arg=site.accumulators[p],
                                                    value=name(self.bar(a)))
                                       for p, a in into.items()])
            out.append(assign(grads, call, s.adgen_line))
            self.state.discard(var)
            self.owned.discard(var)
            for i, p in enumerate(site.wrt):
                part = name(grads) if len(site.wrt) == 1 else gast.Subscript(
                    value=name(grads), slice=const(i), ctx=gast.Load())
                if p in into:  # the callee added into the adjoint passed: the sum
                    out.append(assign(self.bar(into[p]), part, s.adgen_line))
                    continue
                # a variant's callee gives an array argument's adjoint as an array
                out.append(self.contribute(site.bound[p].id, part, s.adgen_line,
                                           numpy=self.ctx.array(site.bound[p]) is not None))
        for stmt in out:
            stmt.adgen_adjoint = True
        undo = [tape_save.rev] if tape_save is not None else []
        return [*out, self.saves[id(s)].rev, *undo]

    def _accumulated(self, site: CallSite) -> dict[str, str]:
        """The arguments (parameter -> name) whose adjoints the callee's backward function
        adds into (`derive.accumulators`): adjoints this sweep owns, arrays of the fact the
        callee was built with, each bound to one parameter only."""
        facts = dict(site.facts)
        names = [a.id for a in site.bound.values() if isinstance(a, gast.Name)]
        into = {}
        for p in site.wrt:
            a = site.bound[p]
            if (p in site.accumulators and isinstance(a, gast.Name) and names.count(a.id) == 1
                    and a.id in self.state and a.id in self.owned
                    and self.ctx.array(a) is not None and self.ctx.array(a) == facts.get(p)):
                into[p] = a.id
        return into

    def forward_loop(self, s: gast.AST) -> list[gast.AST]:
        must = self.must_at[id(s)] = self.must.point()
        out = self._forward_loop(s)
        for var in self.must.since(must):  # the body may run no time at all
            self.must.discard(var)
        return out

    def _forward_loop(self, s: gast.AST) -> list[gast.AST]:
        init = LoopInit(self.defined.at(self.defined.point()), self.loop_depth)
        node = copy.copy(s)
        pre: list[gast.AST] = [init]
        head_save = None
        if isinstance(s, gast.For):
            head_save = self.save(s, s.target.id)
            pre.append(head_save.fwd)
            self.defined.add(s.target.id)
        if isinstance(s, gast.While) or getattr(s, "adgen_counted", False):
            counter = self.namer.temp("_n")
            self.counters[id(s)] = counter
            self.primal.add(counter)
            zero_count = assign(counter, const(0), s.adgen_line)
            pre.extend(self.forward_stmt(zero_count))
            self.counter_saves[id(s)] = self.saves[id(zero_count)]
        self.defined.update(_assigned(s.body))
        self.loop_depth += 1
        self._loop_saves.append([])
        body = self.forward(s.body)
        if id(s) in self.counters:
            counter = self.counters[id(s)]
            bump = assign(counter, gast.BinOp(left=name(counter), op=gast.Add(),
                                              right=const(1)), s.adgen_line)
            body.insert(0, bump)
        node.body = body
        loop_saves = self._loop_saves.pop()
        if self._loop_saves:
            self._loop_saves[-1].extend(loop_saves)
        self.loop_depth -= 1
        self.loop_inits.append((init, loop_saves))
        node.orelse = self.forward(s.orelse)
        return [*pre, node]

    # ------------------------------------------------------------------ reverse sweep

    def reverse(self, body: list[gast.AST]) -> list[gast.AST]:
        out: list[gast.AST] = []
        self.displayed, self.listed = set(), set()
        if self.ctx.table:
            self.runs.update(_unpacking_runs(body))
        for s in reversed(body):
            out.extend(self.reverse_stmt(s))
        self.displayed, self.listed = set(), set()
        return out

    def reverse_stmt(self, s: gast.AST) -> list[gast.AST]:
        if id(s) in self.calls:
            with self.ctx.facts_at(s):
                return self.reverse_call(s)
        if isinstance(s, (gast.Assign, gast.Expr)):
            with self.ctx.facts_at(s):
                return self._reverse_step(s)
        self.displayed, self.listed = set(), set()
        if isinstance(s, gast.If):
            return self.reverse_if(s)
        if isinstance(s, gast.For):
            return self.reverse_for(s)
        if isinstance(s, gast.While):
            return self.reverse_while(s)
        return []

    def _reverse_step(self, s: gast.AST) -> list[gast.AST]:
        if isinstance(s, gast.Expr) and id(s) in self.saves:
            out = self.reverse_append(s)
            for stmt in out:
                stmt.adgen_adjoint = True
                stmt.adgen_line = s.adgen_line
            return [*out, self.saves[id(s)].rev]
        if isinstance(s, gast.Assign):
            out = self.adjoint(s)
            for stmt in out:
                stmt.adgen_adjoint = True
                stmt.adgen_line = s.adgen_line
            undo_pop = [self.pops[id(s)].rev] if id(s) in self.pops else []
            return [*out, *undo_pop, self.saves[id(s)].rev]
        return []

    def reverse_if(self, s: gast.If) -> list[gast.AST]:
        state, owned = set(self.state), set(self.owned)
        body = self.reverse(s.body)
        state_body, owned_body = self.state, self.owned
        self.state, self.owned = set(state), set(owned)
        orelse = self.reverse(s.orelse)
        body += self.fill(self.state - state_body, s)
        orelse_filled = state_body - self.state
        orelse += self.fill(orelse_filled, s)
        owned_body |= self.state - state_body
        self.owned |= orelse_filled
        self.state |= state_body
        self.owned &= owned_body
        if not _has_code(body) and not _has_code(orelse):
            return []
        node = gast.If(test=clone(s.test), body=body or [gast.Pass()], orelse=orelse)
        node.adgen_reverse = True
        if getattr(s, "adgen_block", ("",))[0] in ("with", "try"):  # the manager around
            node.adgen_block = s.adgen_block  # the adjoints; a `try` region, unwrapped
        return [node]

    def fill(self, missing: set[str], s: gast.AST) -> list[gast.AST]:
        """Zero adjoints that one path of a merge defines and the other does not: shaped like
        the variable where it certainly has a value there, else a plain 0.0. The adjoint of a
        list the reverse sweep pushes to or pops from is always a list of zeros, so the list
        is bound (to None, whose zero is 0.0) before the forward sweep where it may not be."""
        out = []
        known = self.must_at.get(id(s))
        lists = self._list_vars()
        for var in sorted(missing):
            self.filled.add(var)
            certain = self.must.had(known, var)
            if var in lists and not certain:
                self.bound_early.add(var)
            shaped = (certain or var in lists or self.ctx.array(name(var)) is not None
                      ) and var not in self.ctx.scalar  # (an array fact: a zero of its shape)
            zero = self.ctx.zero_for(var) if shaped else const(0.0)
            out.append(assign(self.bar(var), zero, getattr(s, "adgen_line", None)))
        return out

    def _list_vars(self) -> set[str]:
        """The lists the reverse sweep pushes to or pops from (as the forward sweep found
        them: asked again only when it saved more)."""
        size = (len(self.saves), len(self.pops))
        if self._lists[0] != size:
            self._lists = (size, {r.var for r in self.pops.values()} | {
                r.var for r in self.saves.values() if r.append})
        return self._lists[1]

    def loop_body(self, s: gast.AST, body: list[gast.AST]) -> tuple[list[gast.AST], list]:
        """Reverse a loop body until the adjoint state at its ends agrees (a fixed point).

        Adjoints updated in place inside the loop are made owned once, before it. The result
        for a given loop and state is remembered, so enclosing loops iterating to their own
        fixed point do not reverse it again (nesting stays linear)."""
        key = (id(s), frozenset(self.state), frozenset(self.owned))
        if key in self._loop_memo:
            rev, pre, state, owned, requests = self._loop_memo[key]
            self.state, self.owned = set(state), set(owned)
            self.own_requests |= requests
            return rev, pre
        before_requests = set(self.own_requests)
        rev, pre = self._loop_fixed_point(s, body)
        self._loop_memo[key] = (rev, pre, set(self.state), set(self.owned),
                                self.own_requests - before_requests)
        return rev, pre

    def _loop_fixed_point(self, s: gast.AST, body: list[gast.AST]) -> tuple[list, list]:
        after_state, after_owned = set(self.state), set(self.owned)
        entry_state, entry_owned = set(after_state), set(after_owned)
        hoisted: set[str] = set()
        outer_requests = self.own_requests
        for _ in range(8):
            self.state, self.owned = set(entry_state), set(entry_owned)
            self.own_requests = set()
            rev = self.reverse(body)
            out_state, out_owned = self.state, self.owned
            hoisted |= (self.own_requests & after_state) - after_owned
            new_state = entry_state | out_state
            new_owned = (after_owned | hoisted | (new_state - after_state)) & (
                out_owned | hoisted)
            if new_state == entry_state and new_owned == entry_owned:
                break
            entry_state, entry_owned = new_state, new_owned
        self.own_requests = outer_requests | self.own_requests
        rev += self.fill(entry_state - out_state, s)
        pre = self.fill(entry_state - after_state, s)
        for var in sorted(hoisted & entry_owned):
            self.owned.discard(var)
            pre += self.own(var, runtime.owned_items if var in self.popped_adjoints
                            else runtime.owned_copy)
        self.state, self.owned = entry_state, entry_owned
        return rev, pre

    def reverse_for(self, s: gast.For) -> list[gast.AST]:
        after = self.reverse(s.orelse)
        rev, pre = self.loop_body(s, s.body)
        rng = clone(s.iter)
        if id(s) in self.counters:
            rng = gast.Subscript(value=rng, slice=gast.Slice(
                lower=None, upper=name(self.counters[id(s)]), step=None), ctx=gast.Load())
        reads_target = s.target.id in _loads(rev)
        if reads_target:
            rng = self.ctx.call("reversed", reversed, [rng])
        out = list(after)
        if _has_code(rev):
            loop = gast.For(target=name(s.target.id, gast.Store()), iter=rng, body=rev,
                            orelse=[], type_comment=None)
            loop.adgen_reverse = True
            if not reads_target:
                self.forward_order.append(loop)
            out += [*pre, loop]
        if id(s) in self.counter_saves:  # saved after the loop variable: restored before it
            out.append(self.counter_saves[id(s)].rev)
        out.append(self.saves[id(s)].rev)
        return out

    def reverse_while(self, s: gast.While) -> list[gast.AST]:
        after = self.reverse(s.orelse)
        rev, pre = self.loop_body(s, s.body)
        counter = self.counters[id(s)]
        out = list(after)
        if _has_code(rev):
            rng = self.ctx.call("range", range, [name(counter)])
            loop = gast.For(target=name(self.namer.fresh("_"), gast.Store()), iter=rng,
                            body=rev, orelse=[], type_comment=None)
            loop.adgen_reverse = True
            out += [*pre, loop]
        out.append(self.counter_saves[id(s)].rev)
        return out

    def order_loops(self) -> None:
        """Run backwards every reversed loop whose body, now that the save placeholders are
        filled, reads its target (the restore `y[0, i] = _stack.pop()` of an element save):
        in forward order, each element would get another iteration's saved value."""
        for loop in self.forward_order:
            if loop.target.id in _loads(loop.body):
                loop.iter = self.ctx.call("reversed", reversed, [loop.iter])
        self.forward_order = []

    # ------------------------------------------------------------------ adjoints of steps


def _unpacking_runs(body: list[gast.AST]) -> dict[int, list[gast.Assign]]:
    """Consecutive steps `a = t[0]; b = t[1]; ...` of one block (one tuple, constant
    indices, targets distinct and not `t`), by the id of their last step."""
    def item_of(s: gast.AST) -> str | None:
        if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                and isinstance(s.value, gast.Subscript) and isinstance(s.value.value, gast.Name)
                and isinstance(s.value.slice, gast.Constant)
                and type(s.value.slice.value) is int):
            return s.value.value.id
        return None

    runs: dict[int, list[gast.Assign]] = {}
    run: list[gast.Assign] = []
    for s in [*body, None]:
        source = item_of(s) if s is not None else None
        if run and (source != item_of(run[0]) or s.targets[0].id in {
                r.targets[0].id for r in run} or s.targets[0].id == source):
            if len(run) > 1:
                runs[id(run[-1])] = run
            run = []
        if source is not None and s.targets[0].id != source:
            run.append(s)
    return runs


def _assigned(stmts: list[gast.AST]) -> set[str]:
    out: set[str] = set()
    for s in statements(stmts):
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            out.add(t.id if isinstance(t, gast.Name) else t.value.id)
        elif isinstance(s, gast.For):
            out.add(s.target.id)
    return out


def _loads(stmts: list[Any]) -> set[str]:
    return astutil.loads(stmts)


def _has_code(stmts: list[Any]) -> bool:
    """Whether reverse statements may do something: a save placeholder (a list, filled only
    once reads are known) counts; a block left empty is dropped when placeholders are flattened."""
    return bool(stmts)
