"""Packaging: the version, the `--version` flag, type hints that mypy reads, an import that
neither warns nor depends on `ast` classes newer Pythons remove, and derivatives that pickle
(for `multiprocessing` and Dask workers)."""

import collections
import concurrent.futures
import importlib.metadata
import importlib.resources
import multiprocessing
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import adgen
from adgen.tools.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *flags, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_version_comes_from_the_package_metadata():
    assert adgen.__version__ == importlib.metadata.version("adgen")
    assert adgen.__version__[0].isdigit()


def test_cli_prints_the_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"adgen {adgen.__version__}"


def test_py_typed_marker_is_shipped():
    assert (importlib.resources.files("adgen") / "py.typed").is_file()
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["adgen"]


def test_import_does_not_warn():
    result = run_python("import adgen", "-W", "error")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


HIDE_OLD_AST = """
    import ast
    import sys

    for old in ("Num", "Str", "Bytes", "NameConstant", "Ellipsis"):
        ast.__dict__.pop(old, None)  # as on Python 3.14, where they are gone

    import numpy as np

    import adgen

    def f(x):
        return np.sum(np.sin(x) * x)

    def g(x):
        if x < 0:
            raise ValueError(f"negative {x}")  # printed by the fallback printer
        return x * x

    print("astor" in sys.modules)
    print(adgen.grad(f)(np.array([0.5, 2.0])).tolist())
    print("astor" in sys.modules)
    dg = adgen.grad(g)
    print(dg(3.0))
    print("f'negative {x}'" in adgen.source(dg))
"""


def test_import_and_gradients_work_without_the_removed_ast_classes(tmp_path):
    script = tmp_path / "hide_old_ast.py"  # a file: adgen reads the functions' source
    script.write_text(textwrap.dedent(HIDE_OLD_AST))
    result = subprocess.run([sys.executable, "-W", "error", str(script)], capture_output=True,
                            text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    astor_at_import, grad_f, astor_after_grad, grad_g, shown = result.stdout.split("\n")[:5]
    assert astor_at_import == "False"
    assert astor_after_grad == "False"  # astor is loaded only for what the fast printer skips
    expected = [np.sin(x) + x * np.cos(x) for x in (0.5, 2.0)]
    assert eval(grad_f) == pytest.approx(expected, rel=1e-12)
    assert float(grad_g) == 6.0
    assert shown == "True"


TYPED_USER = """
    import numpy as np
    from numpy.typing import NDArray

    import adgen


    def loss(w: NDArray[np.float64], x: NDArray[np.float64]) -> float:
        return float(np.sum((x @ w) ** 2))


    def main() -> None:
        w = np.ones(2)
        x = np.eye(2)
        g = adgen.grad(loss)
        value, gw = adgen.value_and_grad(loss, wrt=0)(w, x)
        _, tangent = adgen.jvp(loss)(w, x, w)
        _, cotangent = adgen.vjp(loss)(w, x, 1.0)
        h = adgen.hessian(loss)(w, x)
        hv = adgen.hvp(loss)(w, x, w)
        hp = adgen.hessp(loss)(w, w, x)
        jac = adgen.jacobian(np.sin)
        vector, unravel = adgen.ravel({"w": w, "b": 0.5})
        back = unravel(vector)
        text: str = adgen.source(g)
        version: str = adgen.__version__
        print(g(w, x), value, gw, tangent, cotangent, h, hv, hp, jac, back, text, version)
"""

BADLY_TYPED_USER = """
    import adgen


    def f(x: float) -> float:
        return x * x


    count: int = adgen.source(adgen.grad(f))
    adgen.grad(f, wrt=1.5)
"""


def run_mypy(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("mypy")
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(text))
    command = [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
               "--cache-dir", str(tmp_path / "cache"), str(script)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)


def test_mypy_accepts_a_typed_user_script(tmp_path):
    result = run_mypy(tmp_path, TYPED_USER)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_sees_adgen_types_not_any(tmp_path):
    result = run_mypy(tmp_path, BADLY_TYPED_USER)
    assert result.returncode == 1, result.stdout
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 2, result.stdout
    assert "user_script.py:9:" in errors[0] and "Source" in errors[0]
    assert "user_script.py:10:" in errors[1] and "call-overload" in errors[1]


def test_mypy_accepts_adgens_public_modules(tmp_path):
    pytest.importorskip("mypy")
    public = ["__init__", "api", "tools/cli", "custom", "display", "errors", "pytree",
              "tree_derivatives"]
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
               "--follow-imports=silent", "--no-incremental",
               "--cache-dir", str(tmp_path / "cache"),
               *(str(ROOT / "src" / "adgen" / f"{m}.py") for m in public)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- pickling

Layer = collections.namedtuple("Layer", "w b")


def energy(x):
    """A module-level function: its derivatives pickle by reference."""
    return np.sum(np.sin(x) * x ** 2)


def layer_loss(p, x):
    return np.sum(np.tanh(p.w @ x + p.b) ** 2)


@adgen.grad
def decorated_cube(x):
    return np.sum(x ** 3)


X = np.array([0.5, -1.0, 2.0])
P = Layer(np.arange(6.0).reshape(2, 3) / 10, np.array([0.1, -0.2]))


def derivatives():
    """Derivatives of module-level functions, and what each gives at (X, P)."""
    return [
        (adgen.grad(energy), (X,)),
        (adgen.grad(layer_loss), (P, X)),
        (adgen.grad(layer_loss, wrt=1, mode="forward"), (P, X)),
        (adgen.jvp(energy), (X, X)),
        (adgen.vjp(layer_loss), (P, X, 2.0)),
        (adgen.hessian(energy), (X,)),
        (adgen.hvp(layer_loss), (P, X, P)),
        (adgen.jacobian(adgen.grad(energy)), (X,)),
        (adgen.grad(energy, control="unroll"), (X,)),
        (decorated_cube, (X,)),
    ]


def flat_values(results):
    return np.concatenate([adgen.ravel(r)[0] for r in results])


def test_derivatives_pickle_by_reference_to_a_recipe():
    for g, _ in derivatives():
        for protocol in (2, 4, pickle.HIGHEST_PROTOCOL):
            assert pickle.loads(pickle.dumps(g, protocol=protocol)) is g
        assert len(pickle.dumps(g)) < 200  # a name, not the code
    assert decorated_cube.__qualname__ == f"grad.{__name__}.decorated_cube"


def test_unpickled_derivatives_are_built_again_after_clear_cache():
    pairs = derivatives()
    expected = flat_values([g(*args) for g, args in pairs])
    data = pickle.dumps([g for g, _ in pairs])
    adgen.clear_cache()
    again = pickle.loads(data)
    np.testing.assert_allclose(flat_values([g(*args) for g, (_, args) in zip(again, pairs,
                                                                           strict=True)]),
                               expected, rtol=1e-13)
    np.testing.assert_allclose(again[0](X), 2 * X * np.sin(X) + X ** 2 * np.cos(X),
                               rtol=1e-13)


def test_unpickled_derivatives_run_in_a_new_process():
    pairs = derivatives()
    expected = flat_values([g(*args) for g, args in pairs])
    data = pickle.dumps(pairs)
    code = ("import pickle, sys\n"
            "pairs = pickle.loads(sys.stdin.buffer.read())\n"
            "sys.stdout.buffer.write(pickle.dumps([g(*args) for g, args in pairs]))\n")
    result = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr.decode()
    np.testing.assert_allclose(flat_values(pickle.loads(result.stdout)), expected, rtol=1e-13)


def test_a_process_pool_maps_a_gradient():
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing inherited
    points = [X, 2 * X, -X]
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        got = list(pool.map(adgen.grad(energy), points))
    for g, x in zip(got, points, strict=True):
        np.testing.assert_allclose(g, adgen.grad(energy)(x), rtol=1e-13)


def test_derivatives_of_local_functions_name_themselves_but_do_not_pickle():
    def local(x):
        return np.sum(x ** 2)

    g = adgen.grad(local)
    assert g.__qualname__.endswith("<locals>.local_grad") and g.__module__ == __name__
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(g)


def test_a_rebuilt_derivative_and_the_one_it_replaced_both_pickle():
    old = adgen.grad(energy)
    adgen.clear_cache()  # as after `energy` or a helper changed: the next one is new
    new = adgen.grad(energy)
    assert new is not old and adgen.grad(energy) is new
    assert old.__qualname__ != new.__qualname__
    for g in (old, new):  # `grad.tests...energy`, and a numbered one (`grad~2.tests...`)
        assert g.__qualname__.startswith("grad") and g.__qualname__.endswith(".energy")
    assert "~" in old.__qualname__ + new.__qualname__
    for g in (old, new):
        assert pickle.loads(pickle.dumps(g)) is g
    np.testing.assert_allclose(new(X), old(X), rtol=1e-15)
