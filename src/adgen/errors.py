"""Exceptions adgen raises for bad input.

Unsupported syntax is reported the way Python reports a syntax error: `UnsupportedSyntax`
subclasses `SyntaxError` and carries the user's file name, line, column and source text.
Everything else that makes a function impossible to differentiate (no derivative rule, a
non-scalar output given to `grad`, a `wrt` that names no parameter, a function without source)
raises `DifferentiationError`, whose message names the problem and the user's source line.
"""

from __future__ import annotations


class UnsupportedSyntax(SyntaxError):
    """A construct adgen cannot differentiate, located in the user's file."""

    def __init__(self, message: str, filename: str, lineno: int, col: int, text: str) -> None:
        super().__init__(message, (filename, lineno, col + 1, text))


class DifferentiationError(TypeError):
    """A function that adgen cannot differentiate correctly, and says why."""


class CompileWarning(UserWarning):
    """A derivative asked to run compiled (`compile="numba"`) runs uncompiled, and why."""


def where(filename: str, lineno: int | None) -> str:
    """`file:line` for messages; just the file when the line is unknown."""
    return f"{filename}:{lineno}" if lineno else filename
