"""docs/real-world.md's examples run as shown: every `sh` block (in order,
from the repository root, with .venv/bin on PATH) and every `python` block.
A block after `<!-- requires: KUMOPY_SHARE_DIR -->` runs only when that
variable names KumoMTA's share directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "real-world.md").read_text()
BLOCK = re.compile(r"(?:<!-- requires: (?P<env>\w+) -->\n)?```(?P<lang>\w+)\n(?P<body>.*?)```",
                   re.S)
BLOCKS = [(m.group("lang"), m.group("body"), m.group("env")) for m in BLOCK.finditer(DOC)]


def _ids() -> list[str]:
    return [f"{lang}-{i}" for i, (lang, _, _) in enumerate(BLOCKS)]


@pytest.mark.parametrize(("lang", "body", "env"), BLOCKS, ids=_ids())
def test_block_runs(lang: str, body: str, env: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if env and not os.environ.get(env):
        pytest.skip(f"needs {env}")
    if lang == "sh":
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=REPO,
                                env={**os.environ, "PATH": path}, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    elif lang == "python":
        monkeypatch.chdir(REPO)
        exec(compile(body, "docs/real-world.md", "exec"), {"__name__": "docs"})
    else:
        pytest.fail(f"no runner for ```{lang} blocks")


def test_config_md_provider_shaping_block_runs() -> None:
    config = (REPO / "docs" / "config.md").read_text()
    section = config.split("### Provider shaping", 1)[1]
    body = BLOCK.search(section)
    assert body is not None and body.group("lang") == "sh"
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", body.group("body")], cwd=REPO,
                            env={**os.environ, "PATH": path}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert '"provider_name": "google"' in result.stdout
    assert "shaping-provider-google-unspecified-limit" in result.stdout
