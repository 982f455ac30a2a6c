"""How generated source shows itself: plain text in a terminal, highlighted in Jupyter.

`adgen.source(g)` returns a `Source`, a `str` (so code that compares, parses, writes or
concatenates it keeps working) that also has the display hooks IPython looks for: HTML
highlighted by Pygments when Pygments is installed, else Markdown with a `python` code fence,
which Jupyter highlights itself; IPython's terminal prints the text as it is.
"""

from __future__ import annotations

from typing import Any


class Source(str):
    """Python source text that renders as code in notebooks."""

    __slots__ = ()

    def _repr_html_(self) -> str | None:
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer
        except ImportError:  # no Pygments: Jupyter uses `_repr_markdown_`
            return None
        return highlight(str(self), PythonLexer(), HtmlFormatter(noclasses=True))

    def _repr_markdown_(self) -> str:
        fence = "```"
        while fence in self:
            fence += "`"
        text = self if self.endswith("\n") else self + "\n"
        return f"{fence}python\n{text}{fence}\n"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))
