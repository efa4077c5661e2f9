"""docs/config.md's examples run as shown."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from kumopy import Policy
from kumopy.cli import cli

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "config.md").read_text()


def test_validate_output_in_docs_is_current(monkeypatch):
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(cli, ["validate", "policies/minimal/init.lua"])
    assert result.exit_code == 0
    block = re.search(r"\$ kumopy validate policies/minimal/init.lua\n(.*?)```", DOC, re.S)
    assert block is not None
    shown = block.group(1).strip().splitlines()
    produced = (result.stdout + result.stderr).strip().splitlines()
    assert shown == produced


def test_python_example_in_docs_runs(monkeypatch):
    monkeypatch.chdir(REPO)
    code = re.search(r"In Python:\n\n```python\n(.*?)```", DOC, re.S)
    assert code is not None
    namespace: dict[str, object] = {"Policy": Policy}
    exec(compile(code.group(1), "docs/config.md", "exec"), namespace)
