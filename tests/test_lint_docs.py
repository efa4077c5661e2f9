"""The `kumopy lint` examples of docs/lint.md print exactly what is shown
(run in a temporary directory instead of /tmp)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kumopy.cli import cli

DOC = Path(__file__).resolve().parent.parent / "docs" / "lint.md"
EXAMPLE = re.compile(
    r"```sh\ncat > (/tmp/\S+) <<'JSON'\n(.*?)\nJSON\nkumopy lint \1\n```\n\n```text\n(.*?)```",
    re.S)


def _examples() -> list[tuple[str, str, str]]:
    return [(m.group(1), m.group(2), m.group(3)) for m in EXAMPLE.finditer(DOC.read_text())]


def test_the_doc_has_lint_examples() -> None:
    assert len(_examples()) >= 2


@pytest.mark.parametrize(("path", "rules", "output"), _examples())
def test_lint_doc_example_output(tmp_path: Path, path: str, rules: str, output: str) -> None:
    local = tmp_path / Path(path).name
    local.write_text(rules + "\n")
    result = CliRunner().invoke(cli, ["lint", str(local)])
    assert result.exit_code == 1
    shown = result.stdout.replace(str(local), path)
    assert shown == output
