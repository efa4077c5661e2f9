"""The examples of the docs sections about KumoMTA's own tests and the
namespaces they exercise run as shown."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIBRARY = (REPO / "docs" / "library.md").read_text()
TESTING = (REPO / "docs" / "testing.md").read_text()


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_testing_section_names_the_runner_options() -> None:
    from kumopy.testing import _conformance

    section = _section(TESTING, "KumoMTA's own Lua tests")
    for option in ("--src", "--jobs", "-k", "--timeout", "--strict", "-v"):
        assert option in section
    assert "make conformance" in section
    for name in _conformance.KNOWN_FAILURES:
        assert name.rsplit("/", 1)[-1] in section
