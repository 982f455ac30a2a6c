"""The input–output Jacobian of a network (Bishop & Bishop, §8.1.5, eqs. 8.26–8.35).

For a two-layer network y = W2 tanh(W1 x + b1) + b2 with D inputs and K outputs, the Jacobian
J_ki = ∂y_k/∂x_i (8.26) is computed by `adgen.jacobian` in forward mode (a tangent per
input direction: D columns), reverse mode (one backpropagation per output: K passes,
one row each, 8.29–8.31) and auto mode (whichever needs fewer passes). All three are checked
against each other, against the closed form J = W2 diag(1 - z^2) W1 that the backpropagation
recursion (8.29)-(8.31) gives for this network, and against central differences (8.35).

Then it times both modes for a network with few inputs and many outputs (D=4, K=200: forward
needs 4 passes, reverse 200) and one with many inputs and few outputs (D=200, K=4) and prints
which is faster. Forward mode is timed the textbook way, one `adgen.jvp` pass per input; the
last column is what `adgen.jacobian(mode="forward")` does instead: every tangent carries all D
directions along a leading axis, so one (wider) pass gives the whole Jacobian. It asserts the
agreement of the Jacobians, not the timings.

Run: `python examples/jacobian.py`.
"""

import time

import numpy as np

import adgen
from adgen.testing import central_difference


def network(x, W1, b1, W2, b2):
    z = np.tanh(W1 @ x + b1)
    return W2 @ z + b2


def weights(rng: np.random.Generator, D: int, H: int, K: int) -> tuple:
    return (rng.normal(size=(H, D)) / np.sqrt(D), rng.normal(size=H) * 0.1,
            rng.normal(size=(K, H)) / np.sqrt(H), rng.normal(size=K) * 0.1)


def backprop_jacobian(x, W1, b1, W2, b2):
    """(8.29)-(8.31) for this network: ∂y_k/∂a_j = w_kj h'(a_j), then J = that times W1."""
    z = np.tanh(W1 @ x + b1)
    return (W2 * (1 - z * z)) @ W1


def best_time(fn, *args, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def check(D: int, H: int, K: int, rng: np.random.Generator) -> None:
    x = rng.normal(size=D)
    params = weights(rng, D, H, K)
    args = (x, *params)
    forward = adgen.jacobian(network, mode="forward")(*args)
    reverse = adgen.jacobian(network, mode="reverse")(*args)
    auto = adgen.jacobian(network, mode="auto")(*args)
    numerical = central_difference(network, args, eps=1e-6)
    exact = backprop_jacobian(*args)
    assert forward.shape == reverse.shape == (K, D)
    scale = np.abs(exact).max()
    assert np.abs(forward - reverse).max() <= 1e-12 * scale
    assert np.abs(auto - reverse).max() <= 1e-12 * scale
    assert np.abs(reverse - exact).max() <= 1e-12 * scale
    fd_error = np.abs(numerical - reverse).max() / scale
    assert fd_error < 1e-7, fd_error
    print(f"D={D:3d}, K={K:3d}: forward = reverse = auto = closed form to 1e-12; "
          f"central differences agree to {fd_error:.1e} (relative)")


def per_direction_forward(D: int):
    """The textbook forward mode: one tangent pass per input direction (D passes of `jvp`)."""
    tangent = adgen.jvp(network)
    basis = np.eye(D)

    def jacobian_fn(x, *params):
        return np.stack([tangent(x, *params, e)[1] for e in basis], axis=-1)

    return jacobian_fn


def race(D: int, H: int, K: int, rng: np.random.Generator) -> str:
    args = (rng.normal(size=D), *weights(rng, D, H, K))
    one_by_one = per_direction_forward(D)
    assert np.allclose(one_by_one(*args), adgen.jacobian(network, mode="reverse")(*args),
                       rtol=1e-12, atol=1e-14)
    t_forward = best_time(one_by_one, *args)
    t_reverse = best_time(adgen.jacobian(network, mode="reverse"), *args)
    t_batched = best_time(adgen.jacobian(network, mode="forward"), *args)
    faster = "forward" if t_forward < t_reverse else "reverse"
    expected = "forward" if D < K else "reverse"
    print(f"D={D:3d}, K={K:3d}: forward {D:3d} passes {t_forward * 1e3:7.2f} ms | "
          f"reverse {K:3d} passes {t_reverse * 1e3:7.2f} ms -> {faster} is faster "
          f"(the pass count predicts {expected}) | batched forward, 1 pass of {D} "
          f"directions {t_batched * 1e3:6.2f} ms")
    return faster


def main() -> None:
    rng = np.random.default_rng(0)
    check(3, 5, 2, rng)
    check(4, 16, 20, rng)
    check(20, 16, 4, rng)
    print()
    print("Timing: forward mode costs one pass per input, reverse mode one per output;")
    print("adgen.jacobian(mode='forward') carries all input directions through one batched pass.")
    race(4, 50, 200, rng)
    race(200, 50, 4, rng)


if __name__ == "__main__":
    main()
