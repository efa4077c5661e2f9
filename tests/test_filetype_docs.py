"""The docs name the file type database's build command where a user of the
conformance runner or the CLI looks (the examples themselves run in the
doc-block runner, tests/docblocks)."""

from __future__ import annotations

from pathlib import Path

from kumopy.testing import _conformance

REPO = Path(__file__).resolve().parent.parent
LIBRARY = (REPO / "docs" / "library.md").read_text()


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_docs_say_how_to_build_the_database() -> None:
    assert "not supported" not in _section(LIBRARY, "File types")
    assert "`kumo.file_type.*` is not supported" not in LIBRARY
    testing = _section((REPO / "docs" / "testing.md").read_text(), "KumoMTA's own Lua tests")
    for name in _conformance.CONDITIONAL_FAILURES:
        assert name.rsplit("/", 1)[-1] in testing
    assert "kumopy file-type build --download" in testing
    assert "kumopy file-type build --crate " in testing
    cli_md = _section((REPO / "docs" / "cli.md").read_text(), "`kumopy file-type`")
    assert "kumopy file-type build (--crate-src DIR | --crate FILE | --download)" in cli_md
