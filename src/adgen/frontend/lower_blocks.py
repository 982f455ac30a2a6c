"""Lowering of the marked `if`s that `frontend.blocks` makes of `with` and `try` statements.

A mixin of `lower.Lowerer`. A `with` statement's manager is a call over atoms its body does
not reassign (the reverse sweep makes its own manager by the same call). A `try` statement
arrives as a region `if True:` holding the body and, last, the handlers' `if _ok: pass else:
...`; its lowered body is cut into *steps*, each under a flag of its own assigned
`attempt()` (True) at the top of the region:

    if True:                        ("try", handlers, flags)
        _done1 = attempt()
        _done2 = attempt()
        if _done1:                  ("step", False)
            _t1 = x * 2.0
            y = _t1 + 1.0
        if _done2:                  ("step", False)
            z = math.log(y)
        if _ok1: pass else: ...     ("handlers",)

A step is a run of temporaries ending in one statement that changes what the function sees (an
assignment to a variable, a write into an object, a call statement, a jump) or in a compound
statement (`if`, loop, a nested `try`: its step is marked compound). The statements of a
`with` inside the body are cut into steps themselves. So the trace is what the primal runs:
the steps the body completed, then perhaps a handler; reverse mode replays exactly those
(`derive.blocks` makes each step set its flag when it completes, and refuses an exception
caught inside a compound step, whose partial effects it cannot replay). A body of one simple
step needs no flag: it is the other branch of the handlers' `if` (`if _ok1: step else: ...`).
"""

from __future__ import annotations

import gast

from adgen import runtime_forms
from adgen.frontend.blocks import ATTEMPT
from adgen.frontend.ir import Subexpressions, assign, assigned, located, name

_SIMPLE_END = (gast.Assign, gast.Expr, gast.Return, gast.Raise, gast.Break, gast.Continue,
               gast.Assert, gast.Import, gast.ImportFrom)


class BlockLowering:
    """`with` managers and `try` regions for `Lowerer`."""

    def manager(self, call: gast.Call, body: list[gast.AST]) -> gast.AST:
        """The call that makes a `with` statement's manager, over atoms its body does not
        reassign: the reverse sweep makes its own manager by the same call."""
        rhs = self.rhs(call)
        if not isinstance(rhs, gast.Call):
            raise self.error(call, "this `with` manager", "make it by a plain function call")
        written = assigned(body)
        stable = [name(self.bind(a)) if isinstance(a, gast.Name) and a.id in written else a
                  for a in [*rhs.args, *(k.value for k in rhs.keywords)]]
        rhs.args = stable[: len(rhs.args)]
        for k, value in zip(rhs.keywords, stable[len(rhs.args):], strict=True):
            k.value = value
        return rhs

    def try_region(self, s: gast.If) -> None:
        """A `try` statement's region: its body cut into flagged steps, then the handlers."""
        body = self.block(s.body[:-1])
        caught = self.block(s.body[-1:])
        flags: list[str] = []
        steps = self._steps(body, flags)
        if len(steps) == 1 and steps[0].adgen_block == ("step", False):
            # one simple step: it ran whole or not at all, so the body and the handlers are
            # the two branches of the handlers' `if` (`if _ok: body else: ...`)
            caught[0].body, steps, flags = steps[0].body, [], []
        inits = []
        for flag in flags:
            call = gast.Call(func=name(ATTEMPT), args=[], keywords=[])
            call.adgen_fn = runtime_forms.attempt
            inits.append(assign(flag, call, s.lineno))
        node = located(gast.If(test=gast.Constant(value=True, kind=None),
                               body=inits + steps + caught, orelse=[]), s)
        node.adgen_block = (*s.adgen_block, tuple(flags))
        self.emit(node)
        self.cse = Subexpressions()

    def _steps(self, stmts: list[gast.AST], flags: list[str]) -> list[gast.AST]:
        out: list[gast.AST] = []
        pending: list[gast.AST] = []

        def close(compound: bool) -> None:
            if not pending:
                return
            flag = self.namer.temp("_done")
            flags.append(flag)
            step = gast.If(test=name(flag), body=list(pending), orelse=[])
            step.adgen_line = getattr(pending[-1], "adgen_line", None)
            step.adgen_block = ("step", compound)
            out.append(step)
            pending.clear()

        for st in stmts:
            block = getattr(st, "adgen_block", None)
            if isinstance(st, gast.If) and block is not None and block[0] == "with":
                close(False)
                st.body = self._steps(st.body, flags) or [gast.Pass()]
                out.append(st)
            elif isinstance(st, gast.Pass):  # a mark of `finally`
                close(False)
                out.append(st)
            elif isinstance(st, (gast.If, gast.For, gast.While)):
                pending.append(st)
                close(True)
            else:
                pending.append(st)
                if self._visible(st):
                    close(False)
        close(False)
        return out

    def _visible(self, st: gast.AST) -> bool:
        """Whether a simple statement changes what the function sees (not a temporary of
        the lowering, not a runtime check)."""
        if isinstance(st, gast.Assign):
            target = st.targets[0]
            return not isinstance(target, gast.Name) or target.id in self.locals
        if isinstance(st, gast.Expr):
            return not getattr(st.value, "adgen_check", False)
        return isinstance(st, _SIMPLE_END)
