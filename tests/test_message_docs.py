"""The Python examples of the message, connection metadata and DKIM
sections of docs/messages.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "messages.md"
SECTIONS = (
    "## The message object",
    "## Connection metadata",
    "## MIME parts: `msg:parse_mime` and `kumo.mimepart`",
    "## Injecting from a policy: `kumo.api.inject`",
    "## DKIM signing",
)


def _examples() -> list[tuple[str, str]]:
    text = DOC.read_text()
    out = []
    for title in SECTIONS:
        start = text.index(title)
        nxt = text.find("\n## ", start + len(title))
        body = text[start : nxt if nxt >= 0 else len(text)]
        for n, block in enumerate(re.findall(r"```python\n(.*?)```", body, re.S)):
            out.append((f"{title[3:]} #{n + 1}", block))
    return out


EXAMPLES = _examples()


def test_each_section_has_an_example() -> None:
    assert {name.split(" #")[0] for name, _ in EXAMPLES} == {s[3:] for s in SECTIONS}


@pytest.mark.parametrize(("name", "code"), EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_example_runs(
    name: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    exec(compile(code, f"docs/messages.md: {name}", "exec"), {"__name__": "__doc_example__"})
