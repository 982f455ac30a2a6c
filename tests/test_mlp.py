"""The two-layer tanh network of §8.1.3: adgen's reverse mode is the book's backpropagation.

Checks, for the sum-of-squares loss in tests/mlp_functions.py:

* the generated gradient source against tests/golden/mlp_reverse.py.txt (rewrite with
  ADGEN_UPDATE_GOLDEN=1 after an intended change, and review the diff);
* `check_grads` in both modes on small shapes (batch 5, 4 -> 3 -> 2);
* the gradients against hand-written backpropagation (8.21)-(8.23) to 1e-12, the reference
  itself first checked against central differences;
* the shape of the generated source: the tanh derivative `1 - z^2` (8.16) multiplying a product
  with W2's transpose (8.22), tanh and both forward matmuls evaluated once, nothing recorded.

The softmax cross-entropy variant gets the same numeric checks against its own backprop,
δ_out = (softmax(y) - t) / n.
"""

import math
import re

import numpy as np
import pytest

import adgen
from adgen.testing import central_difference, check_grads
from tests.mlp_functions import mlp_cross_entropy, mlp_loss, rnn_loss
from tests.test_core import golden

WRT = (0, 1, 2, 3)


def data(batch: int, n_in: int, n_hidden: int, n_out: int, seed: int = 0) -> tuple:
    """`(W1, b1, W2, b2, X, T)`, weights scaled so that tanh is not saturated."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n_in, n_hidden)) / math.sqrt(n_in), 0.1 * rng.normal(size=n_hidden),
            rng.normal(size=(n_hidden, n_out)) / math.sqrt(n_hidden),
            0.1 * rng.normal(size=n_out), rng.normal(size=(batch, n_in)),
            rng.normal(size=(batch, n_out)))


def one_hot_data(batch: int, n_in: int, n_hidden: int, n_out: int, seed: int = 0) -> tuple:
    *params, X, _ = data(batch, n_in, n_hidden, n_out, seed)
    labels = np.random.default_rng(seed + 1).integers(0, n_out, size=batch)
    return (*params, X, np.eye(n_out)[labels])


def backprop(W1, b1, W2, b2, X, T):
    """§8.1.3 by hand: δ_out = y - t (8.21), δ_hidden = (1 - z²) ⊙ (δ_out W2ᵀ) (8.22)."""
    z = np.tanh(X @ W1 + b1)
    y = z @ W2 + b2
    delta_out = y - T
    delta_hidden = (1.0 - z * z) * (delta_out @ W2.T)
    # (8.23): ∂E/∂w = δ at the output end times z at the input end; biases see z = 1
    return X.T @ delta_hidden, delta_hidden.sum(axis=0), z.T @ delta_out, delta_out.sum(axis=0)


def softmax_backprop(W1, b1, W2, b2, X, T):
    """The same for the mean cross-entropy: δ_out = (softmax(y) - t) / n."""
    z = np.tanh(X @ W1 + b1)
    y = z @ W2 + b2
    e = np.exp(y - y.max(axis=1, keepdims=True))
    delta_out = (e / e.sum(axis=1, keepdims=True) - T) / len(X)
    delta_hidden = (1.0 - z * z) * (delta_out @ W2.T)
    return X.T @ delta_hidden, delta_hidden.sum(axis=0), z.T @ delta_out, delta_out.sum(axis=0)


def assert_close(got: tuple, expected: tuple, rtol: float) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert np.shape(g) == np.shape(e)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * np.abs(e).max())


def functions(src: str) -> dict[str, list[str]]:
    """The generated functions in `src`: name -> their non-comment, non-blank lines."""
    out: dict[str, list[str]] = {}
    name = None
    for line in src.splitlines():
        match = re.match(r"def (\w+)\(", line)
        if match:
            name = match.group(1)
            out[name] = []
        elif name and line.strip() and not line.strip().startswith("#"):
            out[name].append(line.strip())
    return out


# ---------------------------------------------------------------- generated source


def test_mlp_reverse_golden():
    golden("mlp_reverse.py.txt", adgen.source(adgen.grad(mlp_loss, wrt=WRT)))


def test_mlp_specialised_golden():
    """The gradient a batch of 8 runs: no runtime helper, reads like hand-written backprop."""
    golden("mlp_specialised.py.txt",
           adgen.source(adgen.grad(mlp_loss, wrt=WRT), *data(8, 4, 3, 2)))


def rnn_args(hidden: int = 5, inputs: int = 3, steps: int = 4) -> tuple:
    rng = np.random.default_rng(1)
    return (0.4 * rng.standard_normal((hidden, hidden)),
            0.4 * rng.standard_normal((hidden, inputs)),
            rng.standard_normal((steps, inputs)), rng.standard_normal(hidden))


def test_rnn_specialised_golden():
    """The RNN's variant: one value pushed a step (`h`; `xs[t]` as a view), in-place
    `W_bar += np.outer(...)`, no runtime helper."""
    g = adgen.grad(rnn_loss, wrt=(0, 1))
    text = adgen.source(g, *rnn_args())
    golden("rnn_specialised.py.txt", text)
    assert "+= np.outer(" in text and "_stack.append(h)" in text
    for helper in ("unbroadcast", "matmul_adjoint", "expand_to", "add_adjoints", "zeros_like"):
        assert helper not in text


def test_rnn_gradient_matches_differences_in_both_variants():
    args = rnn_args()
    check_grads(rnn_loss, args, wrt=(0, 1), order=1)
    g = adgen.grad(rnn_loss, wrt=(0, 1))
    general = g.__adgen__.info["any"](*args)
    for got, want in zip(g(*args), general, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


@pytest.fixture(scope="module")
def array_body() -> list[str]:
    """The lines of the general gradient."""
    defs = functions(adgen.source(adgen.grad(mlp_loss, wrt=WRT)))
    assert list(defs) == ["mlp_loss_grad"], sorted(defs)
    return defs["mlp_loss_grad"]


@pytest.fixture(scope="module")
def specialised_body() -> list[str]:
    """The lines of the gradient specialised to a batch of 8 (what such a call runs)."""
    defs = functions(adgen.source(adgen.grad(mlp_loss, wrt=WRT), *data(8, 4, 3, 2)))
    return defs["mlp_loss_grad"]


def test_specialised_gradient_calls_no_helper(specialised_body):
    text = "\n".join(specialised_body)
    for helper in ("unbroadcast", "matmul_adjoint", "expand_to", "scalar_output",
                   "zeros_like", "shaped_like", "add_adjoints", "reduced_count"):
        assert helper not in text, text
    assert "X.T @ " in text and "np.sum(" in text


def test_every_generated_function_evaluates_tanh_once():
    defs = functions(adgen.source(adgen.grad(mlp_loss, wrt=WRT)))
    assert defs
    for name, lines in defs.items():
        assert sum(line.count("np.tanh") for line in lines) == 1, name


@pytest.mark.parametrize("body", ["array_body", "specialised_body"])
def test_delta_hidden_is_tanh_derivative_times_W2_transpose(body, request):
    array_body = request.getfixturevalue(body)
    # (8.22): δ_hidden = (1 - z²) ⊙ (δ_out W2ᵀ), with z reused from the forward sweep
    w2t = (r"(matmul_adjoint_a\(\w+, z, W2\)"
           r"|\w+ @ (W2\.T|np\.transpose\(W2\)|np\.swapaxes\(W2, -1, -2\)))")
    factor = r"\(1\.0 - z \* z\)"
    pattern = re.compile(rf"(\w+) = ({w2t} \* {factor}|{factor} \* {w2t})$")
    hits = [m for m in map(pattern.match, array_body) if m]
    assert len(hits) == 1, array_body
    delta_hidden = hits[0].group(1)
    # (8.23) for the first layer: ∂E/∂W1 = Xᵀ δ_hidden
    returned = array_body[-1]
    assert returned.startswith("return ")
    assert re.search(rf"matmul_adjoint_b\((unbroadcast\()?{delta_hidden}\b[^)]*\)?, X, W1\)",
                     returned) or f"X.T @ {delta_hidden}" in returned, returned


@pytest.mark.parametrize("body", ["array_body", "specialised_body"])
def test_forward_work_is_done_once_and_nothing_is_recorded(body, request):
    array_body = request.getfixturevalue(body)
    text = "\n".join(array_body)
    assert text.count("X @ W1") == 1
    assert text.count("z @ W2") == 1
    assert text.count("(1.0 - ") == 1
    assert "_stack" not in text and "append(" not in text


# ---------------------------------------------------------------- values


def test_backprop_reference_matches_central_differences():
    args = data(5, 4, 3, 2)
    numeric = central_difference(mlp_loss, args, wrt=WRT)
    assert_close(backprop(*args), numeric, rtol=1e-7)
    numeric = central_difference(mlp_cross_entropy, one_hot_data(5, 4, 3, 2), wrt=WRT)
    assert_close(softmax_backprop(*one_hot_data(5, 4, 3, 2)), numeric, rtol=1e-7)


@pytest.mark.parametrize("loss, make", [(mlp_loss, data), (mlp_cross_entropy, one_hot_data)])
def test_check_grads_both_modes(loss, make):
    check_grads(loss, make(5, 4, 3, 2), wrt=WRT, modes=("forward", "reverse"))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("loss, reference, make", [
    (mlp_loss, backprop, data),
    (mlp_cross_entropy, softmax_backprop, one_hot_data),
])
def test_grad_matches_hand_written_backprop(mode, loss, reference, make):
    args = make(7, 5, 4, 3, seed=3)
    assert_close(adgen.grad(loss, wrt=WRT, mode=mode)(*args), reference(*args), rtol=1e-12)


def test_value_and_grad_gives_the_loss_and_backprop():
    args = data(64, 20, 16, 10, seed=4)
    value, grads = adgen.value_and_grad(mlp_loss, wrt=WRT)(*args)
    W1, b1, W2, b2, X, T = args
    assert value == pytest.approx(0.5 * np.sum((np.tanh(X @ W1 + b1) @ W2 + b2 - T) ** 2),
                                  rel=1e-14)
    assert_close(grads, backprop(*args), rtol=1e-12)


def test_a_wrong_backprop_is_caught():
    def wrong(W1, b1, W2, b2, X, T):
        # δ_hidden with tanh's derivative mistaken for 1 + z²
        z = np.tanh(X @ W1 + b1)
        delta_out = z @ W2 + b2 - T
        delta_hidden = (1.0 + z * z) * (delta_out @ W2.T)
        return X.T @ delta_hidden, delta_hidden.sum(axis=0), z.T @ delta_out, delta_out.sum(0)

    args = data(7, 5, 4, 3, seed=3)
    with pytest.raises(AssertionError):
        assert_close(adgen.grad(mlp_loss, wrt=WRT)(*args), wrong(*args), rtol=1e-12)
