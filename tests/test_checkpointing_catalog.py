"""Every loop of the control-flow catalog, marked: the marker changes no gradient.

`catalog_control`'s source is rewritten with every top-level loop marked (`for ... in
adgen.checkpointed(range(...), snapshots=2)`, `while adgen.checkpointed(cond, snapshots=2)`),
written to a module of its own and imported; each record is then differentiated with and
without the markers (`grad`, `vjp`, `hvp` where the function is scalar and its first
differentiated argument a float) and the results must agree to 1e-12. A marked loop adgen
cannot checkpoint must be refused with an `UnsupportedSyntax` at the loop's line, for one of
the documented reasons (`docs/checkpointing.md`), never differentiated wrongly.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import sys

import numpy as np
import pytest

import adgen
from tests import catalog_control
from tests.catalog_control import CASES

REFUSALS = ("`return`", "`break`", "`continue`", "for ... else", "while ... else",
            "over anything but `range", "loop variable", "tuple target",
            "without a value before the loop", "changes nothing read later")


def _mark(tree: ast.Module) -> set[str]:
    """Marks every top-level loop of every function in `tree`; the names of those changed."""
    marked = set()
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        for s in fn.body:
            two = [ast.keyword(arg="snapshots", value=ast.Constant(2))]
            if isinstance(s, ast.While):
                s.test = ast.Call(func=ast.Attribute(value=ast.Name("adgen", ast.Load()),
                                                     attr="checkpointed", ctx=ast.Load()),
                                  args=[s.test], keywords=two)
                marked.add(fn.name)
            elif isinstance(s, ast.For) and isinstance(s.iter, ast.Call) and isinstance(
                    s.iter.func, ast.Name) and s.iter.func.id == "range":
                s.iter = ast.Call(func=ast.Attribute(value=ast.Name("adgen", ast.Load()),
                                                     attr="checkpointed", ctx=ast.Load()),
                                  args=[s.iter], keywords=two)
                marked.add(fn.name)
    return marked


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    tree = ast.parse(inspect.getsource(catalog_control))
    names = _mark(tree)
    tree.body.insert(0, ast.Import(names=[ast.alias(name="adgen")]))
    path = tmp_path_factory.mktemp("marked") / "catalog_control_marked.py"
    path.write_text(ast.unparse(ast.fix_missing_locations(tree)))
    spec = importlib.util.spec_from_file_location("catalog_control_marked", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module, names
    del sys.modules[spec.name]


def _differentiable(args):
    return tuple(i for i, a in enumerate(args)
                 if isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f"))


MARKABLE = _mark(ast.parse(inspect.getsource(catalog_control)))  # functions with a loop


def _records():
    out, counts = [], {}
    for case in CASES:
        f, args = case.values if hasattr(case, "marks") else case
        if hasattr(case, "marks") and case.marks:
            continue  # a record the engine gets wrong without the marker too
        if f.__name__ not in MARKABLE or not _differentiable(args):
            continue  # no loop to mark, or nothing to differentiate
        k = counts[f.__name__] = counts.get(f.__name__, 0) + 1
        out.append(pytest.param(f, args, id=f"{f.__name__}-{k}"))
    return out


def _copied(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _close(a, b):
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _close(x, y)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("f", "args"), _records())
def test_marked_loops_give_the_same_derivatives(marked, f, args):
    module, _ = marked
    g = getattr(module, f.__name__)
    wrt = _differentiable(args)
    try:
        got = adgen.grad(g, wrt=wrt)(*_copied(args))
    except adgen.UnsupportedSyntax as e:
        assert any(r in str(e) for r in REFUSALS), str(e)
        assert e.lineno > g.__code__.co_firstlineno
        return
    _close(got, adgen.grad(f, wrt=wrt)(*_copied(args)))
    value, grads = adgen.vjp(g, wrt=wrt)(*_copied(args), 1.5)
    plain_value, plain_grads = adgen.vjp(f, wrt=wrt)(*_copied(args), 1.5)
    _close((value, grads), (plain_value, plain_grads))
    if np.ndim(value) == 0 and isinstance(args[wrt[0]], float):
        _close(adgen.hvp(g, wrt=wrt[0])(*_copied(args), 0.7),
               adgen.hvp(f, wrt=wrt[0])(*_copied(args), 0.7))


def test_most_loops_are_checkpointed(marked):
    """The catalog's loops mostly take the marker (a guard against refusing too much)."""
    module, names = marked
    taken = refused = 0
    for case in _records():
        f, args = case.values
        wrt = _differentiable(args)
        if f.__name__ not in names or not wrt:
            continue
        try:
            adgen.grad(getattr(module, f.__name__), wrt=wrt)(*_copied(args))
            taken += 1
        except adgen.UnsupportedSyntax:
            refused += 1
    assert taken > 2 * refused, (taken, refused)
