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
    for option in ("FILE.py:FUNC", "--mode", "--wrt", "--trace", "--args", "--hvp", "--import"):
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


# ---------------------------------------------------------------- --trace --args, rules, --hvp

LOOP = """\
import math


def f(x, n):
    for i in range(n):
        if x > 1.0:
            x = math.sin(x) * 0.9
        else:
            x = x * 2.0
    return 1.0 / x
"""


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_trace_with_args_is_the_unrolled_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, LOOP)
    status, out, err = run_main(capsys, "show", f"{path}:f", "--trace", "--args", "(0.7, 3)")
    assert (status, err) == (0, "")
    assert out == adgen.trace(load_function(path, "f"), 0.7, 3).rstrip("\n") + "\n"
    # 0.7 -> 1.4 (else) -> sin(1.4) * 0.9 = 0.887 (if) -> 1.77 (else): three steps, no loop
    assert not [line for line in out.splitlines() if line.strip().startswith(("for", "while"))]
    assert out.count("x = x * 2.0") == 2 and out.count("x = math.sin(x) * 0.9") == 1
    ast.parse(out)
    status, out, _ = run_main(capsys, "show", f"{path}:f", "--trace", "--args", "(2.0, 0)")
    assert status == 0 and "math.sin" not in out and "x * 2.0" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("(0.0, 3)", ":10: f raised ZeroDivisionError on --args (0.0, 3): float division by zero"),
        ("('a', 2)", ":6: f raised TypeError on --args ('a', 2): '>' not supported"),
        ("(0.5,)", "f(x, n) cannot take --args (0.5,): missing a required argument: 'n'"),
    ],
)
def test_trace_args_the_function_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: str, message: str
) -> None:
    path = write(tmp_path, LOOP)
    status, out, err = run_main(capsys, "show", f"{path}:f", "--trace", "--args", args)
    assert (status, out) == (2, "")
    assert err.startswith("adgen: error: ") and message in err and len(err.splitlines()) == 1


def test_args_without_trace_print_the_specialised_gradient(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "import numpy as np\n\ndef f(w, x):\n    return np.sum(x @ w + 1.0)\n")
    status, general, _ = run_main(capsys, "show", f"{path}:f")
    assert status == 0 and "matmul_adjoint_b" in general
    status, out, err = run_main(capsys, "show", f"{path}:f", "--args",
                                "(np.zeros((3, 2)), np.ones((5, 3)))")
    assert status == 0, err
    assert "def f_grad(w, x):" in out and "matmul_adjoint" not in out and "x.T @ " in out
    status, _, err = run_main(capsys, "show", f"{path}:f", "--mode", "forward", "--args", "(1,)")
    assert status == 2 and "--args" in err


def test_args_are_literals_or_arrays_of_literals(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, LOOP)
    status, _, err = run_main(capsys, "show", f"{path}:f", "--trace", "--args", "(0.7,")
    assert status == 2 and "argument --args: expected Python literals" in err
    status, _, err = run_main(capsys, "show", f"{path}:f", "--args", "(__import__('os'), 1)")
    assert status == 2 and "argument --args: expected Python literals" in err


UNWRAP_RULES = """\
import numpy as np

import adgen


def jumps(p):
    return np.unwrap(p) - p


adgen.nondifferentiable(jumps)


@adgen.tangent_rule(np.unwrap)
def unwrap_dot(q, p, *, p_dot):
    return p_dot + 0.0 * jumps(p)


@adgen.adjoint_rule(np.unwrap)
def unwrap_bar(q, p, *, y_bar):
    return y_bar + 0.0 * jumps(p)


def phase_energy(p):
    return np.sum(np.unwrap(p) ** 2)
"""


def test_no_rule_refusal_suggests_import_when_the_file_has_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, UNWRAP_RULES)
    status, out, err = run_main(capsys, "show", f"{path}:phase_energy")
    assert (status, out) == (2, "") and len(err.splitlines()) == 1
    for text in ("no derivative rule for numpy.unwrap",
                 f"{path} registers its own rules (line 10: adgen.nondifferentiable(jumps), "
                 "line 13: adgen.tangent_rule(np.unwrap), line 18: ",
                 "static loading does not run them: give --import"):
        assert text in err
    # registering a rule for a NumPy function lasts as long as the process: run it in another
    imported = run_adgen("show", f"{path}:phase_energy", "--import")
    assert imported.returncode == 0 and "jumps(p)" in imported.stdout
    assert "registers" not in imported.stderr


def test_no_suggestion_without_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "import numpy as np\n\ndef f(p):\n    return np.sum(np.unwrap(p))\n")
    status, _, err = run_main(capsys, "show", f"{path}:f")
    assert status == 2 and "no derivative rule" in err and "--import" not in err


def test_static_output_says_it_ignores_the_files_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, """\
        import math

        import adgen


        def softclip(x):
            return x / (1.0 + abs(x))


        @adgen.tangent_rule(softclip)
        def softclip_dot(y, x, *, x_dot):
            return x_dot * (1.0 - abs(y)) ** 2


        def f(x):
            return math.sin(softclip(x))
    """)
    status, out, err = run_main(capsys, "show", f"{path}:f")
    assert status == 0 and "softclip_fwd" in out  # the function's source, differentiated
    assert err == (f"adgen: note: {path} registers its own derivative rules (line 10: "
                   "adgen.tangent_rule(softclip)); static loading does not run them, so this "
                   "output does not use them: give --import to use them\n")
    status, out, err = run_main(capsys, "show", f"{path}:f", "--mode", "forward", "--import")
    assert status == 0 and "(1.0 - abs(" in out and "registers" not in err
    status, out, err = run_main(capsys, "show", f"{path}:f", "--trace")
    assert status == 0 and err == ""  # the trace is the same either way


def test_unsupported_syntax_in_a_function_with_a_rule_suggests_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, """\
        import numpy as np

        import adgen


        def softplus(x):
            match x:
                case _:
                    y = np.log1p(np.exp(x))
            return y


        @adgen.adjoint_rule(softplus)
        def softplus_bar(y, x, *, y_bar):
            return y_bar * (1.0 - np.exp(-y))


        def loss(w):
            return np.sum(softplus(w * 2.0))
    """)
    status, _, err = run_main(capsys, "show", f"{path}:loss")
    assert status == 2 and f"{path}:7:5: adgen does not support `match`" in err
    assert "line 13: adgen.adjoint_rule(softplus)" in err and "give --import" in err


def comment_lines(source: str) -> list[tuple[str, int, str]]:
    """Each `# [adjoint of ]line N: text` comment as (prefix, N, text)."""
    found = []
    for line in source.splitlines():
        line = line.strip()
        if line.startswith("#"):
            prefix, _, rest = line[2:].partition("line ")
            number, _, text = rest.partition(": ")
            found.append((prefix, int(number), text))
    return found


@pytest.mark.parametrize("source", [BOOK, LOOP])
def test_hvp_comments_name_the_users_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    path = write(tmp_path, source)
    status, out, err = run_main(capsys, "show", f"{path}:f", "--hvp")
    assert (status, err) == (0, "")
    assert out.startswith("def f_grad_tangent(")
    user_lines = source.splitlines()
    comments = comment_lines(out)
    assert {prefix for prefix, _, _ in comments} == {"", "adjoint of "}
    for _, number, text in comments:  # every comment quotes the user's line it names
        assert text == user_lines[number - 1].strip()
    assert ("adjoint of ", len(user_lines), user_lines[-1].strip()) in comments
    assert "math_2" not in out  # the file's `math`, not a second name for the same module


def test_hvp_of_the_book_example_wrt_x2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, BOOK)
    status, out, _ = run_main(capsys, "show", f"{path}:f", "--hvp", "--wrt", "x2")
    assert status == 0 and "-x2_dot * math.sin(x2)" in out and "math_2" not in out


def test_second_derivative_comments_name_the_users_lines(tmp_path: Path) -> None:
    path = write(tmp_path, LOOP)
    f = load_function(path, "f")
    source = adgen.source(adgen.grad(adgen.grad(f)))
    lines = LOOP.splitlines()
    assert comment_lines(source)
    for _, number, text in comment_lines(source):
        assert text == lines[number - 1].strip()


def test_graph_args_the_function_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, LOOP)
    status, out, err = run_main(capsys, "graph", f"{path}:f", "--args", "(0.0, 3)")
    assert (status, out) == (2, "")
    assert err == (f"adgen: error: {path}: f raised ZeroDivisionError on --args (0.0, 3): "
                   "float division by zero\n")


def test_readme_first_screen_shows_what_the_cli_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's first screen prints the variant `adgen show ... --args` gives."""
    root = Path(__file__).parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    shown = readme.split("```python\n", 1)[1].split("```", 1)[0]
    status, out, _ = run_main(capsys, "show", str(root / "examples" / "bishop_8_49.py") + ":f",
                              "--wrt", "x1,x2", "--args", "(0.5, 1.2)")
    assert status == 0 and out.strip() == shown.strip()
