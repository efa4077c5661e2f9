"""docs/security.md lists every limit of the Lua runtime."""

from __future__ import annotations

from pathlib import Path

DOC = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
SECTION = DOC.split("## Lua runtime", 1)[1].split("\n## ", 1)[0]


def test_every_limit_of_the_runtime_is_in_the_table():
    table = DOC.split("## Every limit and its default", 1)[1]
    for limit in ("CPU time of one handler call", "Steps of one C pattern-matcher call",
                  "Memory of one Lua state", "Nesting of tables"):
        assert limit in table
