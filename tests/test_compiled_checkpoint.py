"""`compile="numba"` through loops marked `adgen.checkpointed` (`adgen.numba_checkpoint`).

The schedule stays in Python and its blocks of steps (the loop, its stack-replay `vjp`, the
trip counter of a `while` loop) run compiled: no warning, the uncompiled numbers to 1e-12,
central differences to 1e-6. A marked loop inside a function the differentiated one calls
keeps the derivative uncompiled, with a warning naming the loop's line in the user's words.
"""

import math
import warnings

import numpy as np
import pytest

import adgen
from adgen import compiled, numba_checkpoint
from adgen.errors import CompileWarning
from adgen.runtime_checkpoint import Checkpointed

numba = pytest.importorskip("numba")


@pytest.fixture(autouse=True, scope="module")
def _cache_directory(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ADGEN_CACHE_DIR", str(tmp_path_factory.mktemp("numba_cache")))
        yield


def sin_loop(x, c):
    for _ in adgen.checkpointed(range(300), snapshots=3):
        x = math.sin(x) * c + 0.1 * x
    return x


def newton(a):
    x = a
    while adgen.checkpointed(abs(x * x - a) > 1e-12, snapshots=2):
        x = 0.5 * (x + a / x)
    return x


def pair(x, y, c):
    for t in adgen.checkpointed(range(30), snapshots=3):
        x, y = x * math.cos(y) + c * t, y + 0.1 * math.sin(x)
    return x * y


def layer(v, w):
    for _ in adgen.checkpointed(range(40), memory="4kB"):
        v = np.tanh(w @ v) + 0.5 * v
    return np.sum(v * v)


def leaves_early(x):
    for _ in adgen.checkpointed(range(100), snapshots=3):
        x = x * 0.9 + 0.01 * math.sin(x)
        if x < 0.05:
            break
    return x


def marked_inside(x):
    for _ in adgen.checkpointed(range(10), snapshots=2):
        x = math.sin(x) + x
    return x


def calls_marked(x):
    return marked_inside(x) * 2.0


RNG = np.random.default_rng(16)
CASES = [
    (sin_loop, (0.3, 0.9), (0, 1)),
    (newton, (2.0,), 0),
    (pair, (0.3, 0.4, 0.2), (0, 1, 2)),
    (layer, (RNG.normal(size=4), 0.3 * RNG.normal(size=(4, 4))), (0, 1)),
    (leaves_early, (1.0,), 0),
]


def _items(g):
    return [np.asarray(v, dtype=float) for v in (g if isinstance(g, tuple) else (g,))]


def _central(f, args, i, h=1e-6):
    """Central differences of `f` in argument `i`, entry by entry."""
    x = np.asarray(args[i], dtype=float)
    out = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        shift = (lambda v: v) if x.shape else float
        out[j] = (f(*args[:i], shift(up), *args[i + 1:])
                  - f(*args[:i], shift(down), *args[i + 1:])) / (2 * h)
    return out


@pytest.mark.parametrize(("f", "args", "wrt"), CASES, ids=[c[0].__name__ for c in CASES])
def test_a_checkpointed_loop_compiles_its_blocks(f, args, wrt):
    g = adgen.grad(f, wrt=wrt, compile="numba")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        got = g(*args)
    want = adgen.grad(f, wrt=wrt)(*args)
    for a, b in zip(_items(got), _items(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    for a, i in zip(_items(got), (wrt,) if isinstance(wrt, int) else wrt, strict=True):
        np.testing.assert_allclose(a, _central(f, args, i), rtol=1e-6, atol=1e-8)
    # the schedule runs in Python, its blocks as machine code
    entry = next(iter(g.entries.values()))
    drivers = [v.__self__ for v in numba_checkpoint.references(entry).values()
               if isinstance(getattr(v, "__self__", None), Checkpointed)]
    assert drivers
    for d in drivers:
        assert d.vjp.entries  # every block is reversed by its compiled `vjp`
        for blocks in (d.loop, d.vjp, getattr(d, "trips", d.vjp)):
            assert isinstance(blocks, numba_checkpoint.Blocks)
            assert all(e is not blocks.fn for e in blocks.entries.values())


def test_the_other_operators_compile_a_checkpointed_loop_too():
    args = (0.3, 0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        value, grads = adgen.value_and_grad(sin_loop, wrt=(0, 1), compile="numba")(*args)
        out = adgen.vjp(sin_loop, compile="numba")(*args, 1.0)
    want_value, want = adgen.value_and_grad(sin_loop, wrt=(0, 1))(*args)
    assert value == want_value
    np.testing.assert_allclose(grads, want, rtol=1e-12)
    assert out[0] == want_value
    assert math.isclose(out[1], want[0], rel_tol=1e-12)


def test_a_marked_loop_in_a_callee_warns_at_the_users_line():
    g = adgen.grad(calls_marked, compile="numba")
    with pytest.warns(CompileWarning) as record:
        got = g(0.3)
    assert got == adgen.grad(calls_marked)(0.3)
    message = str(record[0].message)
    assert "adgen.checkpointed" in message and "_target" not in message
    assert f"of {__file__}: for _ in adgen.checkpointed(range(10), snapshots=2):" in message


def test_hvp_through_a_marked_loop_gives_the_uncompiled_numbers():
    hvp = adgen.hvp(sin_loop, compile="numba")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always", CompileWarning)
        got = hvp(0.3, 0.9, 1.0)
    assert math.isclose(got, adgen.hvp(sin_loop)(0.3, 0.9, 1.0), rel_tol=1e-12)
    for w in record:  # the tangent's blocks may not compile: then a warning in user's terms
        message = str(w.message)
        assert "adgen.checkpointed" in message and "_target" not in message
        assert "for _ in adgen.checkpointed(range(300), snapshots=3):" in message


def test_an_item_of_a_range_in_compiled_code_has_pythons_meaning():
    compiled.numba_module()  # registers adgen's additions to Numba

    @numba.njit
    def item(i):
        return range(2, 20, 3)[i]

    for i in range(-6, 6):
        assert item(i) == range(2, 20, 3)[i]
    for i in (6, -7):
        with pytest.raises(IndexError):
            item(i)
