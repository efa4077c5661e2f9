"""docs/library.md's "File types" example runs as shown (its build writes to
a temporary directory here instead of /tmp), and the docs name the build
command where a user of the conformance runner or the CLI looks."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from kumopy._filetype import ENV_VAR
from kumopy.cli import cli
from kumopy.testing import _conformance

REPO = Path(__file__).resolve().parent.parent
LIBRARY = (REPO / "docs" / "library.md").read_text()
OUT = "/tmp/kumopy-file-types.jsonl"


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_file_types_example_runs_as_shown(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    section = _section(LIBRARY, "File types")
    lua = re.search(r"```lua\n(.*?)```", section, re.S)
    assert lua is not None
    example = REPO / "docs" / "examples" / "file-type.lua"
    assert example.read_text() == lua.group(1)
    sh = re.search(r"```sh\n(.*?)```", section, re.S)
    assert sh is not None
    commands = [shlex.split(c) for c in sh.group(1).replace("\\\n", " ").splitlines() if c]
    assert len(commands) == 2
    build, script = commands
    assert build[0] == ".venv/bin/kumopy" and OUT in build
    assert script[0] == f"{ENV_VAR}={OUT}" and script[1] == ".venv/bin/kumopy"

    out = str(tmp_path / "db.jsonl")
    monkeypatch.chdir(REPO)
    runner = CliRunner()
    result = runner.invoke(cli, [out if a == OUT else a for a in build[1:]])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv(ENV_VAR, out)
    result = runner.invoke(cli, script[2:])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "file types answer as the crate does"


def test_docs_say_how_to_build_the_database() -> None:
    assert "not supported" not in _section(LIBRARY, "File types")
    assert "`kumo.file_type.*` is not supported" not in LIBRARY
    testing = _section((REPO / "docs" / "testing.md").read_text(), "KumoMTA's own Lua tests")
    for name in _conformance.CONDITIONAL_FAILURES:
        assert name.rsplit("/", 1)[-1] in testing
    assert "kumopy file-type build --crate-src" in testing
    cli_md = _section((REPO / "docs" / "cli.md").read_text(), "`kumopy file-type`")
    assert "kumopy file-type build --crate-src DIR" in cli_md
