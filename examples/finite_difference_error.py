"""Finite-difference error against the exact derivative (Bishop & Bishop, 8.24, 8.25, Fig. 8.2).

For f(x) = exp(sin(x)) at x = 1 this computes the forward difference (8.24) and the central
difference (8.25) (`adgen.testing.forward_difference`, `central_difference`) for step sizes
eps from 1e-1 down to 1e-13, and their errors against adgen's exact derivative
(`adgen.grad`, accurate to machine precision). On a log-log plot the error first falls as a
power law, the truncation error, with slope 1 for the forward difference (O(eps)) and 2 for
the central difference (O(eps^2)), until round-off takes over (error ~ u / eps, u = 2.2e-16
the machine epsilon) and the curve rises again, noisily.

Where the two errors balance, the error is smallest. The error model
|f''| eps / 2 + 2 u |f| / eps (forward) and |f'''| eps^2 / 6 + u |f| / eps (central) puts that
step at 2 sqrt(u |f| / |f''|) = 4.0e-8 for the forward and (3 u |f| / |f'''|)^(1/3) = 7.3e-6
for the central difference, with f'' and f''' from adgen (`grad` of `grad`). The measured
best step, the one with the smallest error on the grid of 49 steps, lands within a factor of
10 of these, where the noise of round-off puts it: 1e-8 for the forward and 3.2e-6 for the
central difference on the machine this was written on, with smallest errors near 1e-8 and
1e-11.

It prints the table, the slopes fitted over the truncation-dominated range (every eps at
least 100 times the one with the smallest error), and for each difference the measured best
step next to the model's; it asserts 0.8 < slope_forward < 1.2, 1.7 < slope_central < 2.3
and that each best step is within a factor of 10 of the model's.

Run: `python examples/finite_difference_error.py [--plot fig_8_2.png]` (the plot needs
matplotlib, which adgen does not depend on).
"""

import argparse
import math

import numpy as np

import adgen
from adgen.testing import central_difference, forward_difference


def f(x):
    return math.exp(math.sin(x))


def slope(eps: np.ndarray, error: np.ndarray, best: float) -> float:
    """The least-squares slope of log(error) against log(eps) for eps >= 100 * best."""
    keep = eps >= 100 * best
    return float(np.polyfit(np.log10(eps[keep]), np.log10(error[keep]), 1)[0])


def model_steps(x: float) -> tuple[float, float]:
    """Where the error model's truncation and round-off errors balance, for the forward and
    the central difference at `x`; f'' and f''' by adgen."""
    u = float(np.finfo(float).eps)
    second = adgen.grad(adgen.grad(f))
    third = adgen.grad(second)
    forward = 2 * math.sqrt(u * abs(f(x)) / abs(second(x)))
    central = (3 * u * abs(f(x)) / abs(third(x))) ** (1 / 3)
    return forward, central


def plot(path: str, eps: np.ndarray, forward: np.ndarray, central: np.ndarray) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: no plot written to {path}")
        return
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.loglog(eps, forward, "r.-", label="forward difference (8.24)")
    ax.loglog(eps, central, "b.-", label="central difference (8.25)")
    ax.set_xlabel("step size ε")
    ax.set_ylabel("error")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    print(f"plot written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", metavar="PATH", help="save the log-log plot (matplotlib)")
    options = parser.parse_args()

    x = 1.0
    exact = adgen.grad(f)(x)
    assert abs(exact - math.cos(x) * math.exp(math.sin(x))) < 1e-15
    eps = np.logspace(-1, -13, 49)
    tiny = 1e-300  # an error that rounds to exactly 0 must not break the logarithm
    forward = np.array([abs(forward_difference(f, (x,), eps=e) - exact) for e in eps]) + tiny
    central = np.array([abs(central_difference(f, (x,), eps=e) - exact) for e in eps]) + tiny

    print(f"f(x) = exp(sin(x)) at x = {x}; exact derivative by adgen.grad: {exact:.16f}")
    print(f"{'eps':>9}  {'forward error':>13}  {'central error':>13}")
    for e, a, b in zip(eps[::4], forward[::4], central[::4], strict=True):
        print(f"{e:9.1e}  {a:13.3e}  {b:13.3e}")

    best_forward = float(eps[np.argmin(forward)])
    best_central = float(eps[np.argmin(central)])
    slope_forward = slope(eps, forward, best_forward)
    slope_central = slope(eps, central, best_central)
    model_forward, model_central = model_steps(x)
    print(f"forward difference: slope {slope_forward:.3f} (O(eps)); smallest error "
          f"{forward.min():.1e} at eps = {best_forward:.1e}; the error model's best step "
          f"2 sqrt(u |f| / |f''|) = {model_forward:.1e}")
    print(f"central difference: slope {slope_central:.3f} (O(eps^2)); smallest error "
          f"{central.min():.1e} at eps = {best_central:.1e}; the error model's best step "
          f"(3 u |f| / |f'''|)^(1/3) = {model_central:.1e}")
    print("below its best step each difference's error rises again: round-off takes over")
    if options.plot:
        plot(options.plot, eps, forward, central)
    assert 0.8 < slope_forward < 1.2, slope_forward
    assert 1.7 < slope_central < 2.3, slope_central
    assert best_central > best_forward  # the central difference's optimum step is larger
    assert 0.1 < best_forward / model_forward < 10, (best_forward, model_forward)
    assert 0.1 < best_central / model_central < 10, (best_central, model_central)


if __name__ == "__main__":
    main()
