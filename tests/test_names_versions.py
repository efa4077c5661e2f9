"""Names and versions: which KumoMTA kumopy follows, `python -m kumopy`,
and shell completion of event names."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import kumopy
from kumopy._kumo.coverage import render
from kumopy._version import (
    KUMOMTA_COMMIT,
    KUMOMTA_COMMIT_DATE,
    KUMOMTA_RELEASE,
    KUMOMTA_RELEASE_DATE,
)

REPO = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "kumopy", *args], capture_output=True,
                          text=True, env=full, cwd=cwd, timeout=120)


def test_version_names_the_kumomta_release_and_the_checked_commit() -> None:
    proc = run("--version")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert f"kumopy {kumopy.__version__}" in text
    assert f"KumoMTA {KUMOMTA_RELEASE} (released {KUMOMTA_RELEASE_DATE})" in text
    assert KUMOMTA_COMMIT in text and KUMOMTA_COMMIT_DATE in text
    assert KUMOMTA_RELEASE == "2026.06.23-f3af1cd0" and KUMOMTA_RELEASE_DATE == "2026-06-23"
    assert KUMOMTA_COMMIT == "3ebc1e85" and KUMOMTA_COMMIT_DATE == "2026-08-04"


def test_python_dash_m_kumopy_is_the_cli() -> None:
    proc = run("events", "smtp_client_rewrite_delivery_status")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("smtp_client_rewrite_delivery_status(response, domain")


def test_the_docs_name_the_same_versions() -> None:
    for text in (render(), (REPO / "docs" / "index.md").read_text()):
        assert f"{KUMOMTA_RELEASE}" in text and KUMOMTA_RELEASE_DATE in text
        assert KUMOMTA_COMMIT in text and KUMOMTA_COMMIT_DATE in text


def test_the_versions_match_the_kumomta_checkout() -> None:
    src = os.environ.get("KUMOMTA_SRC")
    if not src or not (Path(src) / ".git").exists() or shutil.which("git") is None:
        pytest.skip("KUMOMTA_SRC is not a KumoMTA git checkout")

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", src, *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    head = git("log", "-1", "--format=%H %cs", "HEAD")
    assert head.startswith(KUMOMTA_COMMIT) and head.endswith(KUMOMTA_COMMIT_DATE)
    tag = git("log", "-1", "--format=%cs", KUMOMTA_RELEASE)
    assert tag == KUMOMTA_RELEASE_DATE
    newest = git("describe", "--tags", "--abbrev=0", "HEAD")
    assert newest == KUMOMTA_RELEASE


def complete(words: str, cwd: Path | None = None) -> list[str]:
    """Click's bash completion protocol: the candidates for the last word."""
    parts = words.split(" ")
    proc = run(env={"_KUMOPY_COMPLETE": "bash_complete", "COMP_WORDS": words,
                    "COMP_CWORD": str(len(parts) - 1)}, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return [line.split(",", 1)[1] for line in proc.stdout.splitlines()]


def test_completion_of_event_names() -> None:
    assert complete("kumopy events smtp_client_re") == ["smtp_client_rewrite_delivery_status"]
    assert "get_queue_config" in complete("kumopy events get_")


def test_completion_of_call_offers_the_policys_own_events_too(tmp_path: Path) -> None:
    (tmp_path / "init.lua").write_text(
        "local kumo = require 'kumo'\n"
        "kumo.on('refresh_tenants', function() end)\n"
        'kumo.on ( "rewrite_tenant", function() end)\n'
    )
    assert complete("kumopy call init.lua re", cwd=tmp_path) == [
        "rebind_message", "refresh_tenants", "requeue_message", "rewrite_tenant",
    ]
    # the policy is only read, never run: a broken one still completes
    (tmp_path / "broken.lua").write_text("os.exit(3) kumo.on('zz_custom'")
    assert complete("kumopy call broken.lua smtp_client_rew", cwd=tmp_path) == [
        "smtp_client_rewrite_delivery_status"
    ]
