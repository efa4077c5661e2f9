"""docs/security.md's example for kumo functions and data files runs as shown."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "security.md").read_text()


def test_kumo_functions_example_runs_as_shown() -> None:
    section = DOC.split("## `kumo` functions and data files", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.group(1), "docs/security.md", "exec"), {})
    lines = out.getvalue().splitlines()
    assert re.fullmatch(r".*/init\.lua:3: not enough memory \(in event 'grow'\)", lines[0])
    assert lines[1:] == ["6", "padded"]
