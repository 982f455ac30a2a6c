"""Golden files: the generated source of key functions, pinned in tests/golden/.

`check(name, text)` compares `text` with `tests/golden/<name>`; with `ADGEN_UPDATE_GOLDEN=1` in the
environment it rewrites the file instead (review the diff, then commit it).
"""

import difflib
import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("ADGEN_UPDATE_GOLDEN") == "1"


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    if not path.exists():
        pytest.fail(f"{path} is missing: run with ADGEN_UPDATE_GOLDEN=1 to create it")
    golden = path.read_text()
    if text != golden:
        diff = "".join(difflib.unified_diff(golden.splitlines(True), text.splitlines(True),
                                            f"{name} (golden)", f"{name} (generated)"))
        pytest.fail(f"generated source differs from {path} (review, then rerun with "
                    f"ADGEN_UPDATE_GOLDEN=1 to accept):\n{diff}", pytrace=False)
