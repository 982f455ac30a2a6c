"""The `adgen` command, run as a user runs it: a subprocess on files in a temporary directory."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import adgen
from adgen.frontend.loader import load_function
from adgen.tools.cli import main

BOOK = """\
import math


def f(x1, x2):
    return x1 * x2 + math.exp(x1 * x2) - math.sin(x2)
"""


def run_adgen(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "adgen", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def write(directory: Path, text: str, name: str = "user_code.py") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def show(*args: str) -> str:
    """The source `adgen show ARGS` prints; it must succeed and print nothing else."""
    result = run_adgen("show", *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip()
    return result.stdout


def assert_one_error_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("adgen: error: ")
    for text in expected:
        assert text in lines[0]
    assert result.stdout == ""
    return lines[0]


# ---------------------------------------------------------------- help and usage


def test_help() -> None:
    result = run_adgen("--help")
    assert result.returncode == 0
    assert "show" in result.stdout
    result = run_adgen("show", "--help")
    assert result.returncode == 0
    for option in ("FILE.py:FUNC", "--mode", "--wrt", "--trace", "--import"):
        assert option in result.stdout


def test_main_returns_the_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert main(["show", str(tmp_path / "missing.py") + ":f"]) == 2
    assert main([]) == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith("adgen: error:")


def test_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("adgen")
    if not script.exists():
        pytest.skip("the adgen console script is not installed beside this Python")
    assert subprocess.run([script, "--help"], capture_output=True).returncode == 0
    missing = subprocess.run([script, "show", f"{tmp_path}/missing.py:f"], capture_output=True)
    assert missing.returncode == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "no_function_named.py"], "argument FILE.py:FUNC: expected FILE.py:FUNC"),
        (["show", "f.py:f", "--wrt", "x,,y"], "argument --wrt: expected parameter names"),
        (["show", "f.py:f", "--mode", "sideways"], "argument --mode: invalid choice"),
    ],
)
def test_usage_errors(args: list[str], message: str) -> None:
    result = run_adgen(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("usage: adgen show")
    assert result.stderr.splitlines()[-1].startswith(f"adgen show: error: {message}")


# ---------------------------------------------------------------- input errors: one line


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.py"
    assert_one_error_line(run_adgen("show", f"{path}:f"), f"{path}: no such file")


def test_directory(tmp_path: Path) -> None:
    assert_one_error_line(run_adgen("show", f"{tmp_path}:f"), f"{tmp_path}: is a directory")


def test_missing_function(tmp_path: Path) -> None:
    path = write(tmp_path, BOOK)
    assert_one_error_line(
        run_adgen("show", f"{path}:g"), f"{path}: no function 'g'; top-level functions: f"
    )


def test_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "import math\n\ndef f(x):\n    return x +\n")
    assert_one_error_line(run_adgen("show", f"{path}:f"), f"adgen: error: {path}:4:", "syntax")


def test_global_set_by_code_needs_import(tmp_path: Path) -> None:
    path = write(tmp_path, "SCALE = float('3')\n\ndef f(x):\n    return SCALE * x\n")
    result = run_adgen("show", f"{path}:f")
    assert_one_error_line(result, f"{path}:1: 'f' reads 'SCALE'", "--import")


def test_trace_takes_no_wrt(tmp_path: Path) -> None:
    path = write(tmp_path, BOOK)
    assert_one_error_line(run_adgen("show", f"{path}:f", "--trace", "--wrt", "x2"), "--trace")


# ---------------------------------------------------------------- generated source (the engine)


def test_show_reverse_of_the_book_example(tmp_path: Path) -> None:
    path = write(tmp_path, BOOK)
    source = show(f"{path}:f", "--wrt", "x1,x2")
    for text in ("def f_grad(x1, x2):", "x2_bar", "math.cos(x2)"):
        assert text in source
    ast.parse(source)
    # x1's adjoint is folded into the return statement (see the README): it has no `x1_bar`
    expected = adgen.source(adgen.grad(load_function(path, "f"), wrt=("x1", "x2")))
    assert source.rstrip("\n") == expected.rstrip("\n")


def test_the_readme_command() -> None:
    example = Path(__file__).parents[1] / "examples" / "bishop_8_49.py"
    source = show(f"{example}:f", "--wrt", "x1,x2")
    assert "def f_grad(x1, x2):" in source
    assert "x2_bar = -math.cos(x2)" in source


def test_wrt_by_name_or_index_gives_the_same_source(tmp_path: Path) -> None:
    target = f"{write(tmp_path, BOOK)}:f"
    assert show(target, "--wrt", "x1,x2") == show(target, "--wrt", "0,1")
    default = show(target)
    assert default == show(target, "--wrt", "x1") == show(target, "--wrt", "0")
    assert "math.cos" not in default  # sin(x2) does not depend on x1: it gets no adjoint
    assert "math.cos(x2)" in show(target, "--wrt", "x2")


def test_show_forward(tmp_path: Path) -> None:
    source = show(f"{write(tmp_path, BOOK)}:f", "--mode", "forward")
    assert "def f_jvp(x1, x2, x1_dot):" in source
    assert "x2_dot" not in source  # only x1 is seeded
    ast.parse(source)


def test_show_trace(tmp_path: Path) -> None:
    source = show(f"{write(tmp_path, BOOK)}:f", "--trace")
    assert "math.exp" in source and "math.sin" in source
    assert "_bar" not in source and "_dot" not in source
    ast.parse(source)


def test_unsupported_syntax_points_at_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "def f(x):\n    y = x * x\n    yield y\n")
    assert_one_error_line(run_adgen("show", f"{path}:f"), f"adgen: error: {path}:3:")


def test_wrt_naming_no_parameter(tmp_path: Path) -> None:
    path = write(tmp_path, BOOK)
    assert_one_error_line(run_adgen("show", f"{path}:f", "--wrt", "x3"), "x3")


def test_import_runs_the_file_and_says_so(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = write(tmp_path, f"""\
        import math

        SCALE = float("3")
        open({str(marker)!r}, "w").write("ran")


        def f(x):
            return SCALE * math.sin(x)
    """)
    assert_one_error_line(run_adgen("show", f"{path}:f"), "'f' reads 'SCALE'")
    assert not marker.exists()
    result = run_adgen("show", f"{path}:f", "--import")
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"adgen: note: imported {path}; its top-level code ran\n"
    assert marker.read_text() == "ran"
    assert "math.cos(x)" in result.stdout
    ast.parse(result.stdout)
