"""adgen.frontend.loader: loading a function from a file without running the file's top level."""

import inspect
import math
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from adgen.frontend.loader import LoaderError, UnevaluatedDefault, load_function


def write(directory: Path, text: str, name: str = "user_code.py") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


SCRIPT = """\
    import numpy as np
    from math import sin

    MARKER = {marker!r}
    SCALE = 2.0
    open(MARKER, "w").write("top level ran")


    def mark(f):
        open(MARKER, "w").write("decorator ran")
        return f


    def helper(x):
        return sin(x) * SCALE


    @mark
    def f(x, y):
        return helper(x) + np.cos(y)


    if __name__ == "__main__":
        print(f(1.0, 2.0))
"""


@pytest.fixture
def script(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "marker"
    return write(tmp_path, SCRIPT.format(marker=str(marker))), marker


def test_static_load_runs_no_top_level_code(script: tuple[Path, Path]) -> None:
    path, marker = script
    f = load_function(str(path), "f")
    assert not marker.exists()
    assert f(0.5, 2.0) == pytest.approx(2.0 * math.sin(0.5) + math.cos(2.0))


def test_import_mode_runs_the_top_level(script: tuple[Path, Path]) -> None:
    path, marker = script
    f = load_function(str(path), "f", allow_import=True)
    assert marker.read_text() == "decorator ran"
    assert f(0.5, 2.0) == pytest.approx(2.0 * math.sin(0.5) + math.cos(2.0))
    assert sys.modules[f.__module__].__file__ == str(path)


def test_static_function_keeps_its_file_and_lines(script: tuple[Path, Path]) -> None:
    path, _ = script
    f = load_function(str(path), "f")
    assert f.__code__.co_filename == str(path)
    assert f.__module__ == "adgen_static_user_code"
    assert f.__globals__["__file__"] == str(path)
    lines, start = inspect.getsourcelines(f)
    assert start == 19  # the `def` line: the decorator is stripped
    assert lines[0] == "def f(x, y):\n"


def test_relative_path_resolves_and_sys_path_is_restored(
    script: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = script
    monkeypatch.chdir(path.parent)
    before = list(sys.path)
    f = load_function(path.name, "f")
    assert sys.path == before
    assert f.__code__.co_filename == str(path)


def test_imports_helpers_and_literal_constants_resolve(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        import math as m
        import numpy as np
        from math import sin

        PAIR = (1.0, -2.0)
        SCALE = PAIR
        LOW: float = -np.inf


        def energy(x):
            return np.sum(x ** 2) + square(sin(x[0])) + m.exp(SCALE[1]) + (LOW < 0)


        def square(t):
            return t * t
    """)
    energy = load_function(str(path), "energy")
    x = np.array([0.3, 0.4])
    assert energy(x) == pytest.approx(0.25 + math.sin(0.3) ** 2 + math.exp(-2.0) + 1)


def test_a_neighbouring_module_is_importable(tmp_path: Path) -> None:
    module = f"neighbour_{tmp_path.name}"
    write(tmp_path, "def double(x):\n    return 2 * x\n", f"{module}.py")
    path = write(tmp_path, f"from {module} import double\n\ndef f(x):\n    return double(x)\n")
    try:
        assert load_function(str(path), "f")(4.0) == 8.0
    finally:
        sys.modules.pop(module, None)


def test_defaults_that_run_code_are_not_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = write(tmp_path, f"""\
        import math

        def touch():
            open({str(marker)!r}, "w").write("default ran")
            return 1.0

        def f(x, a=touch(), b=-math.pi, c=(1, "two"), *, d=len("abc"), e=None):
            return x
    """)
    f = load_function(str(path), "f")
    assert not marker.exists()
    stand_in, b, c = f.__defaults__
    assert isinstance(stand_in, UnevaluatedDefault)
    assert repr(stand_in) == "<default not evaluated: touch()>"
    assert (b, c) == (-math.pi, (1, "two"))
    assert isinstance(f.__kwdefaults__["d"], UnevaluatedDefault)
    assert f.__kwdefaults__["e"] is None


def test_a_global_set_by_code_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        import numpy as np

        W = np.ones(3)


        def f(x):
            return helper(x)


        def helper(x):
            return W @ x
    """)
    with pytest.raises(LoaderError, match=r":3: 'helper' reads 'W'.*allow_import=True"):
        load_function(str(path), "f")
    assert load_function(str(path), "f", allow_import=True)(np.arange(3.0)) == 3.0


def test_a_literal_later_replaced_by_code_is_not_trusted(tmp_path: Path) -> None:
    path = write(tmp_path, "N = 3\nN = int('4')\n\ndef f(x):\n    return x * N\n")
    with pytest.raises(LoaderError, match=r":2: 'f' reads 'N'"):
        load_function(str(path), "f")


def test_a_name_not_bound_by_a_def_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "def g(x):\n    return x\n\n\nf = staticmethod(g)\n")
    with pytest.raises(LoaderError, match=r":5: 'f' is not a def.*top-level functions: g"):
        load_function(str(path), "f")
    assert isinstance(load_function(str(path), "f", allow_import=True), staticmethod)


def test_a_def_rebound_to_a_value_is_not_a_function(tmp_path: Path) -> None:
    path = write(tmp_path, "def f(x):\n    return x\n\n\nf = 3\n")
    for allow_import in (False, True):
        with pytest.raises(LoaderError, match=r": 'f' is not a function: it is of type int$"):
            load_function(str(path), "f", allow_import=allow_import)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match=r"nowhere\.py: no such file$"):
        load_function(str(tmp_path / "nowhere.py"), "f")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="is a directory"):
        load_function(str(tmp_path), "f")


def test_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "def f(x):\n    return x\n\ndef g(x:\n    return x\n")
    with pytest.raises(LoaderError) as info:
        load_function(str(path), "f")
    assert str(info.value).startswith(f"{path}:4:")
    assert "syntax error: '(' was never closed" in str(info.value)


def test_error_python_finds_only_when_compiling(tmp_path: Path) -> None:
    path = write(tmp_path, "def f(x):\n    return x\n\nreturn 1\n")
    with pytest.raises(LoaderError, match=r":4:1: syntax error: 'return' outside function"):
        load_function(str(path), "f")


def test_missing_function_lists_the_functions(tmp_path: Path) -> None:
    path = write(tmp_path, "def alpha(x):\n    return x\n\nasync def beta(x):\n    return x\n")
    for allow_import in (False, True):
        with pytest.raises(LoaderError) as info:
            load_function(str(path), "gamma", allow_import=allow_import)
        message = str(info.value)
        assert message == f"{path}: no function 'gamma'; top-level functions: alpha, beta"


def test_failing_import_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "import math\nimport no_such_module_for_adgen\n\ndef f(x):\n    pass\n")
    with pytest.raises(LoaderError, match=r":2: ModuleNotFoundError: .*no_such_module_for_adgen"):
        load_function(str(path), "f")


def test_import_mode_reports_a_failing_top_level(tmp_path: Path) -> None:
    path = write(tmp_path, "def f(x):\n    return x\n\nraise SystemExit('usage: script')\n")
    with pytest.raises(LoaderError, match=r":4: SystemExit: usage: script$"):
        load_function(str(path), "f", allow_import=True)
    assert load_function(str(path), "f")(2.0) == 2.0
