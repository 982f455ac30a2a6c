"""adgen in notebooks: generated source shown as code, wrapped-function metadata, and a real
notebook executed headless on a Jupyter kernel."""

import ast
import inspect
import sys

import numpy as np
import pytest

import adgen


def cube_sum(x, scale=2.0):
    """The sum of cubes, scaled."""
    return np.sum(x ** 3) * scale


def test_source_is_still_a_str():
    text = adgen.source(adgen.grad(cube_sum))
    assert isinstance(text, str)
    assert text == str(text) and text.startswith("def ")
    ast.parse(text)
    assert (text + "#").endswith("#") and type(text + "#") is str


def test_source_renders_as_markdown_python():
    text = adgen.source(adgen.grad(cube_sum))
    markdown = text._repr_markdown_()
    assert markdown.startswith("```python\n") and markdown.endswith("\n```\n")
    assert markdown[len("```python\n"):-len("```\n")] == text


def test_source_renders_as_highlighted_html_with_pygments():
    pytest.importorskip("pygments")
    page = adgen.source(adgen.grad(cube_sum))._repr_html_()
    assert "<span" in page and "style=" in page
    assert "cube_sum_grad" in page and "<pre" in page


def test_source_leaves_html_to_markdown_without_pygments(monkeypatch):
    for name in [m for m in sys.modules if m == "pygments" or m.startswith("pygments.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pygments", None)  # import pygments raises ImportError
    text = adgen.source(adgen.grad(cube_sum))
    assert text._repr_html_() is None
    assert text._repr_markdown_().startswith("```python")


def test_ipython_prints_the_text_itself():
    pretty = pytest.importorskip("IPython.lib.pretty")
    text = adgen.source(adgen.grad(cube_sum))
    assert pretty.pretty(text) == text  # not the escaped repr of a str


@pytest.mark.parametrize("op, kind", [(adgen.hessian, "hessian"), (adgen.jacobian, "jacobian"),
                                      (adgen.hessp, "hessp")])
def test_decorated_functions_wrap_the_original(op, kind):
    @op
    def energy(x):
        """Energy of a configuration."""
        return np.sum(x ** 4) / 4.0

    assert energy.__wrapped__.__name__ == "energy"
    assert energy.__wrapped__(np.array([1.0, 2.0])) == pytest.approx(4.25)
    assert energy.__doc__ == "Energy of a configuration."
    assert energy.__name__ == f"energy_{kind}"
    assert energy.__module__ == __name__


def test_functions_with_defaults_wrap_the_original():
    for g in (adgen.jvp(cube_sum), adgen.vjp(cube_sum), adgen.hvp(cube_sum),
              adgen.grad(cube_sum, mode="forward")):
        assert g.__wrapped__ is cube_sum
        assert g.__doc__ == cube_sum.__doc__
        assert "def " in adgen.source(g)
    x = np.array([1.0, -2.0])
    assert adgen.jvp(cube_sum)(x, np.ones(2))[1] == pytest.approx(2 * 3 * (1 + 4))


def test_generated_functions_wrap_the_original_and_keep_their_own_code():
    """Returned itself, a generated function has `functools.wraps`' metadata: `__wrapped__`
    is the function it derives (so `inspect.getsource(loss)` shows that function, as for any
    wrapping decorator), its docstring, a name and qualified name saying what it computes;
    its code object is still the generated code, which tracebacks, pdb,
    `inspect.getsource(loss.__code__)` and `adgen.source(loss)` show."""

    @adgen.grad
    def loss(x):
        """Squared norm."""
        return np.sum(x * x)

    assert loss.__wrapped__ is loss.__adgen__.original
    assert loss.__wrapped__.__name__ == "loss" and loss.__doc__ == "Squared norm."
    assert loss.__name__ == "loss_grad"
    assert loss.__qualname__.endswith(".<locals>.loss_grad") and loss.__module__ == __name__
    assert "def loss(x):" in inspect.getsource(loss)
    assert "def loss_grad(" in inspect.getsource(loss.__code__)
    assert "def loss_grad(" in adgen.source(loss)
    np.testing.assert_allclose(loss(np.array([1.0, 2.0])), [2.0, 4.0])


def plain(x, y):
    """Plain docstring."""
    return np.sum(x * y) ** 2


OPERATORS = [adgen.grad, adgen.value_and_grad, adgen.jvp, adgen.vjp, adgen.jacobian,
             adgen.hessian, adgen.hvp, adgen.hessp]


@pytest.mark.parametrize("op", OPERATORS, ids=lambda op: op.__name__)
@pytest.mark.parametrize("f", [plain, cube_sum], ids=["no defaults", "defaults"])
def test_every_operator_returns_a_function_wrapping_the_original(op, f):
    g = op(f)
    assert g.__wrapped__ is f
    assert g.__doc__ == f.__doc__
    assert g.__name__.startswith(f.__name__ + "_")
    # the name pickles by reference: the recipe, then where `f` lives
    assert g.__module__ == "adgen.derivatives"
    assert g.__qualname__ == f"{op.__name__}.{__name__}.{f.__qualname__}"
    assert op(f) is g  # asked again: the same function (its name leads back to it)
    options = adgen.grad(f, wrt=1, mode="forward")
    assert options.__qualname__ == f"grad(wrt=1, mode='forward').{__name__}.{f.__qualname__}"


CELLS = [
    "import numpy as np\nimport adgen",
    "def helper(x):\n    return x * x\n\n\ndef f(x):\n    return helper(x) * 3.0",
    "print(adgen.grad(f)(2.0))",
    "def helper(x):\n    return x * x * x",
    "print(adgen.grad(f)(2.0))",
    "source = adgen.source(adgen.grad(f))\nprint(source)\nsource",
]


@pytest.fixture(scope="module")
def notebook():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    return nb


def printed(cell) -> str:
    return "".join(o["text"] for o in cell.outputs if o["output_type"] == "stream")


def test_notebook_gradient_of_a_cell_function(notebook):
    assert float(printed(notebook.cells[2])) == 12.0  # d/dx 3 x^2 at 2


def test_notebook_gradient_after_the_helper_is_redefined(notebook):
    """The cell redefining `helper` makes the derivative of `f` stale: it is rebuilt."""
    assert float(printed(notebook.cells[4])) == 36.0


def test_notebook_shows_the_source(notebook):
    cell = notebook.cells[5]
    text = printed(cell)
    assert "def f_grad" in text and "return helper(x) * 3.0" in text
    (result,) = [o for o in cell.outputs if o["output_type"] == "execute_result"]
    assert result["data"]["text/markdown"].startswith("```python\ndef f_grad")
    assert result["data"]["text/plain"].strip() == text.strip()  # the text, not a repr
    if "text/html" in result["data"]:  # Pygments is installed in the kernel
        assert "<span" in result["data"]["text/html"]
