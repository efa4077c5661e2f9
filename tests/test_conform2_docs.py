"""The examples of the docs sections about KumoMTA's own tests and the
namespaces they exercise run as shown."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from kumopy.cli import cli

REPO = Path(__file__).resolve().parent.parent
LIBRARY = (REPO / "docs" / "library.md").read_text()
TESTING = (REPO / "docs" / "testing.md").read_text()


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_library_example_is_the_shipped_file_and_runs(monkeypatch) -> None:
    section = _section(LIBRARY, "Templates, crypto, queues, ACLs and mail authentication")
    code = re.search(r"```lua\n(.*?)```", section, re.S)
    assert code is not None
    example = REPO / "docs" / "examples" / "library-conform.lua"
    assert example.read_text() == code.group(1)
    command = re.search(r"```sh\n\.venv/bin/kumopy (.*?)\n```", section, re.S)
    assert command is not None
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(cli, command.group(1).split())
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("all checks passed")


def test_testing_section_names_the_runner_options() -> None:
    from kumopy.testing import _conformance

    section = _section(TESTING, "KumoMTA's own Lua tests")
    for option in ("--src", "--jobs", "-k", "--timeout", "--strict", "-v"):
        assert option in section
    assert "make conformance" in section
    for name in _conformance.KNOWN_FAILURES:
        assert name.rsplit("/", 1)[-1] in section
