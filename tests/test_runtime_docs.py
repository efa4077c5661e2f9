"""docs/security.md's "Lua runtime" example runs as shown."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
SECTION = DOC.split("## Lua runtime", 1)[1].split("\n## ", 1)[0]


def test_budget_example_prints_what_the_docs_show():
    code = re.search(r"```python\n(.*?)```", SECTION, re.S)
    shown = re.search(r"prints\n\n```text\n(.*?)```", SECTION, re.S)
    assert code is not None and shown is not None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.group(1), "docs/security.md", "exec"), {})
    printed = out.getvalue().splitlines()
    expected = shown.group(1).splitlines()
    assert len(printed) == len(expected)
    prefix, _, rest = expected[0].partition("...")
    assert printed[0].startswith(prefix) and printed[0].endswith(rest)
    assert printed[1:] == expected[1:]


def test_every_limit_of_the_runtime_is_in_the_table():
    table = DOC.split("## Every limit and its default", 1)[1]
    for limit in ("CPU time of one handler call", "Steps of one C pattern-matcher call",
                  "Memory of one Lua state", "Nesting of tables"):
        assert limit in table
