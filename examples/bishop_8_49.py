"""The book's worked example (Bishop & Bishop, Deep Learning, eqs. 8.49–8.76).

    f(x1, x2) = x1*x2 + exp(x1*x2) - sin(x2)

Prints the evaluation trace (8.50–8.56), the forward-mode tangent source (8.58–8.64), the
reverse-mode adjoint source (8.70–8.76) and the derivative values, checked against the
closed form. Run: `python examples/bishop_8_49.py`.
"""

import math

import adgen


def f(x1, x2):
    return x1 * x2 + math.exp(x1 * x2) - math.sin(x2)


def main() -> None:
    x1, x2 = 1.5, 0.5
    print("# evaluation trace")
    print(adgen.trace(f))
    print("# forward mode (tangents)")
    print(adgen.source(adgen.jvp(f, wrt=(0, 1))))
    print("# reverse mode (adjoints)")
    print(adgen.source(adgen.vjp(f, wrt=(0, 1))))
    value, (g1, g2) = adgen.value_and_grad(f, wrt=(0, 1))(x1, x2)
    exact1 = x2 + x2 * math.exp(x1 * x2)
    exact2 = x1 + x1 * math.exp(x1 * x2) - math.cos(x2)
    print(f"f({x1}, {x2}) = {value:.12f}")
    print(f"df/dx1 = {g1:.12f}   (closed form {exact1:.12f})")
    print(f"df/dx2 = {g2:.12f}   (closed form {exact2:.12f})")
    _, tangent = adgen.jvp(f, wrt=(0, 1))(x1, x2, 1.0, 0.0)
    print(f"forward mode with x1_dot = 1, x2_dot = 0: {tangent:.12f}")
    assert abs(g1 - exact1) < 1e-12 and abs(g2 - exact2) < 1e-12 and abs(tangent - g1) < 1e-12


if __name__ == "__main__":
    main()
