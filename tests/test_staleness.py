"""A derivative never runs other code than the primal runs now.

Redefining a helper (a notebook cell run again), rebinding a callee's name, changing a
closure's captured function, or editing a function's code in place makes every derivative
built on the old definition stale: the next `adgen.grad(...)` (any mode, a fresh call or
not) rebuilds. A module edited on disk and not reloaded is refused rather than
differentiated from text that no longer matches what runs.
"""

from __future__ import annotations

import importlib
import math
import sys
import textwrap

import pytest

import adgen

SOURCE = """
    import math

    def helper(x):
        return {helper}

    def cube(x):
        return x ** 3

    def middle(x):
        return 2.0 * helper(x)

    def k(x):
        return middle(x) + x
    """


def _write_module(tmp_path, name, text):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def module(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    _write_module(tmp_path, "stale_mod", SOURCE.format(helper="math.sin(x)"))
    sys.modules.pop("stale_mod", None)
    mod = importlib.import_module("stale_mod")
    yield mod, tmp_path
    sys.modules.pop("stale_mod", None)


MODES = [dict(mode="reverse"), dict(mode="forward"), dict(control="unroll")]


@pytest.mark.parametrize("options", MODES, ids=["reverse", "forward", "unroll"])
def test_a_held_derivative_notices_a_rebound_helper_at_call_time(module, options):
    """`g = adgen.grad(k)` kept across a notebook cell defining `helper` again: the next call
    of `g` itself runs the new helper's derivative (it was the old one's)."""
    mod, _ = module
    x = 0.7
    g = adgen.grad(mod.k, **options)
    held = [adgen.jvp(mod.k), adgen.vjp(mod.k), adgen.hessian(mod.k), adgen.hvp(mod.k)]
    assert g(x) == pytest.approx(2 * math.cos(x) + 1, rel=1e-14)
    assert [h(x, 1.0) if h in held[:2] or h is held[3] else h(x) for h in held][2] == \
        pytest.approx(-2 * math.sin(x), rel=1e-12)
    mod.helper = mod.cube
    assert g(x) == pytest.approx(6 * x * x + 1, rel=1e-14)
    assert g(x) == pytest.approx(6 * x * x + 1, rel=1e-14)  # and stays rebuilt
    jvp, vjp, hessian, hvp = held
    assert jvp(x, 1.0)[1] == pytest.approx(6 * x * x + 1, rel=1e-14)
    assert vjp(x, 1.0)[1] == pytest.approx(6 * x * x + 1, rel=1e-14)
    assert hessian(x) == pytest.approx(12 * x, rel=1e-13)
    assert hvp(x, 1.0) == pytest.approx(12 * x, rel=1e-13)
    assert adgen.grad(g)(x) == pytest.approx(12 * x, rel=1e-13)


def test_a_held_derivative_of_a_module_edited_on_disk_is_refused_or_right(module):
    mod, tmp_path = module
    g = adgen.grad(mod.k)
    assert g(0.5) == pytest.approx(2 * math.cos(0.5) + 1, rel=1e-14)
    _write_module(tmp_path, "stale_mod", SOURCE.format(helper="math.cos(x) * 3.0"))
    import linecache

    linecache.checkcache()
    mod.middle = lambda x: 2.0 * mod.helper(x)  # `k` now resolves `middle` to another object
    # the running `helper` is still the one read before the edit: the rebuilt derivative is
    # of the code that runs (its helper's derivative was built when the file matched), or
    # the call is refused; never the derivative of the edited text (3 sin instead of 2 cos)
    try:
        value = g(0.5)
    except adgen.DifferentiationError as exc:
        assert "stale_mod.py" in str(exc)
    else:
        assert value == pytest.approx(2 * math.cos(0.5) + 1, rel=1e-14)


def test_holding_costs_one_check_per_call(module):
    """A derivative of a function calling no user function is handed out itself."""
    mod, _ = module
    assert adgen.grad(mod.cube) is adgen.grad(mod.cube)
    assert not hasattr(adgen.grad(mod.cube), "__adgen_stand_in__")  # not a held function
    assert hasattr(adgen.grad(mod.k), "__adgen_stand_in__")


@pytest.mark.parametrize("options", MODES, ids=["reverse", "forward", "unroll"])
def test_a_rebound_helper_two_calls_down_is_seen(module, options):
    mod, _ = module
    x = 0.7
    assert adgen.grad(mod.k, **options)(x) == pytest.approx(2 * math.cos(x) + 1, rel=1e-14)
    mod.helper = mod.cube  # as a notebook cell defining `helper` again does
    assert adgen.grad(mod.k, **options)(x) == pytest.approx(6 * x * x + 1, rel=1e-14)
    assert adgen.value_and_grad(mod.k)(x)[0] == pytest.approx(mod.k(x), rel=1e-15)


def test_jvp_vjp_and_second_order_follow_the_new_helper(module):
    mod, _ = module
    x = 0.4
    adgen.hessian(mod.k)(x)
    adgen.jvp(mod.k)(x, 1.0)
    mod.helper = mod.cube
    assert adgen.jvp(mod.k)(x, 1.0)[1] == pytest.approx(6 * x * x + 1, rel=1e-14)
    assert adgen.vjp(mod.k)(x, 1.0)[1] == pytest.approx(6 * x * x + 1, rel=1e-14)
    assert adgen.hessian(mod.k)(x) == pytest.approx(12 * x, rel=1e-13)


def test_a_redefined_closure_is_seen():
    def make(g):
        def f(x):
            return g(x) * x
        return f

    f1, f2 = make(math.sin), make(math.exp)
    x = 0.3
    assert adgen.grad(f1)(x) == pytest.approx(math.cos(x) * x + math.sin(x), rel=1e-14)
    assert adgen.grad(f2)(x) == pytest.approx(math.exp(x) * (x + 1), rel=1e-14)


def test_code_replaced_in_place_is_seen(module):
    mod, _ = module
    x = 0.9
    assert adgen.grad(mod.middle)(x) == pytest.approx(2 * math.cos(x), rel=1e-14)
    mod.helper.__code__ = mod.cube.__code__
    assert adgen.grad(mod.middle)(x) == pytest.approx(6 * x * x, rel=1e-14)


def test_a_module_edited_on_disk_and_not_reloaded_is_refused(module):
    mod, tmp_path = module
    _write_module(tmp_path, "stale_mod", SOURCE.format(helper="math.cos(x) * 3.0"))
    import linecache

    linecache.checkcache()
    with pytest.raises(adgen.DifferentiationError, match="has changed since helper was defined"):
        adgen.grad(mod.helper)(0.5)
    mod = importlib.reload(mod)
    assert adgen.grad(mod.helper)(0.5) == pytest.approx(-3.0 * math.sin(0.5), rel=1e-14)


def test_clear_cache_forgets_everything(module):
    mod, _ = module
    g = adgen.grad(mod.k)
    adgen.clear_cache()
    again = adgen.grad(mod.k)
    assert again is not g and again(0.2) == pytest.approx(g(0.2), rel=1e-15)


def test_asking_again_without_a_change_is_the_same_function(module):
    mod, _ = module
    assert adgen.grad(mod.k) is adgen.grad(mod.k)
