"""The list of functions adgen has derivative rules for, generated from the registry.

`covered_markdown()` renders it as the section of `docs/rules.md` between the markers
`BEGIN` and `END`; `update(path)` rewrites that section in place and `main(argv)` is the
command line (`python -m adgen.rules.listing docs/rules.md`, with `--check` to exit 1 when
the file is out of date instead of writing it). Helpers that only generated code calls
(`adgen.*`) are left out; everything else registered when `adgen.rules` is imported is in.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from adgen.rules import batched, registry

BEGIN = "<!-- BEGIN covered functions (python -m adgen.rules.listing docs/rules.md) -->"
END = "<!-- END covered functions -->"


def _public(rule: registry.Rule) -> bool:
    return not rule.name.startswith("adgen.")


def _grouped(name: str) -> str:
    """`numpy.random.*` for every random function (which exist depends on NumPy's version)."""
    return "numpy.random.*" if name.startswith("numpy.random.") else name


def _has_batched(rule: registry.Rule) -> bool:
    if "batched" in rule.extra:
        return True
    return rule.tangent is not None and not rule.linear and batched.elementwise(rule)


def _row(rule: registry.Rule) -> str:
    forward = rule.tangent is not None or rule.linear
    marks = ["yes" if on else "-" for on in (forward, rule.adjoint is not None,
                                             _has_batched(rule))]
    return f"| `{rule.name}` | " + " | ".join(marks) + " |"


# functions some supported versions of their library no longer have: listed in a sentence,
# not in the tables, so the document is the same whichever version is installed
_VERSION_DEPENDENT = {"numpy.row_stack": "NumPy before 2.5"}


def covered_markdown() -> str:
    """The generated section: a table of differentiated functions, then the constants."""
    found = [r for r in registry.all_rules()
             if _public(r) and r.name not in _VERSION_DEPENDENT]
    differentiated = {r.name: r for r in found if not r.nondifferentiable}
    constants = sorted({_grouped(r.name) for r in found if r.nondifferentiable})
    lines = [BEGIN, "", f"{len(differentiated)} differentiated functions:", "",
             "| function | forward | reverse | batched |", "| --- | --- | --- | --- |"]
    lines += [_row(differentiated[name]) for name in sorted(differentiated)]
    lines += ["", f"{len(constants)} functions whose results are constants (zero derivative):",
              ""]
    lines += textwrap.wrap(", ".join(f"`{name}`" for name in constants), width=100)
    written = [name for name in registry.implemented_names() if name not in differentiated]
    lines += ["", f"{len(written)} functions differentiated through their form in functions "
              "that have rules (`rules/numpy_composites.py`, `rules/scipy_composites.py`; "
              "batched where every step is):", ""]
    lines += textwrap.wrap(", ".join(f"`{name}`" for name in written), width=100)
    lines += [""] + [f"Also `{name}` where it exists ({since})."
                     for name, since in sorted(_VERSION_DEPENDENT.items())]
    return "\n".join(lines + ["", END])


def _replaced(text: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the file has no section between {BEGIN!r} and {END!r}")
    return text[:start] + covered_markdown() + text[end + len(END):]


def is_current(path: str | Path) -> bool:
    """Whether the generated section of the file at `path` matches the registry."""
    text = Path(path).read_text()
    return _replaced(text) == text


def update(path: str | Path) -> bool:
    """Rewrite the generated section of the file at `path`; whether it changed."""
    text = Path(path).read_text()
    new = _replaced(text)
    if new != text:
        Path(path).write_text(new)
    return new != text


def main(argv: list[str]) -> int:
    """`listing [--check] FILE`: regenerate (or, with --check, verify) the section."""
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    if len(paths) != 1:
        print("usage: python -m adgen.rules.listing [--check] docs/rules.md", file=sys.stderr)
        return 2
    if check:
        current = is_current(paths[0])
        if not current:
            print(f"{paths[0]} is out of date: run python -m adgen.rules.listing {paths[0]}",
                  file=sys.stderr)
        return 0 if current else 1
    update(paths[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
