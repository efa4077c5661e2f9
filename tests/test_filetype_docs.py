"""docs/library.md's "File types" example runs as shown (its build writes to
a temporary directory here instead of /tmp), and the docs name the build
command where a user of the conformance runner or the CLI looks."""

from __future__ import annotations

from pathlib import Path

from kumopy.testing import _conformance

REPO = Path(__file__).resolve().parent.parent
LIBRARY = (REPO / "docs" / "library.md").read_text()
OUT = "/tmp/kumopy-file-types.jsonl"


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_docs_say_how_to_build_the_database() -> None:
    assert "not supported" not in _section(LIBRARY, "File types")
    assert "`kumo.file_type.*` is not supported" not in LIBRARY
    testing = _section((REPO / "docs" / "testing.md").read_text(), "KumoMTA's own Lua tests")
    for name in _conformance.CONDITIONAL_FAILURES:
        assert name.rsplit("/", 1)[-1] in testing
    assert "kumopy file-type build --crate-src" in testing
    cli_md = _section((REPO / "docs" / "cli.md").read_text(), "`kumopy file-type`")
    assert "kumopy file-type build --crate-src DIR" in cli_md
