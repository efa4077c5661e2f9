"""The examples of docs/replay.md run: its sh blocks in one shell (in a
temporary directory holding a link to the repository's policies), its
python blocks as scripts there."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "replay.md"
BLOCK = re.compile(r"```(sh|python)\n(.*?)```", re.S)

ZSTD_SHIM = f"""#!{sys.executable}
# a stand-in for the zstd command line: zstd -q -o OUT IN
import sys, zstandard
args = [a for a in sys.argv[1:] if a != "-q"]
out, src = args[args.index("-o") + 1], args[-1]
open(out, "wb").write(zstandard.ZstdCompressor().compress(open(src, "rb").read()))
"""


def _blocks(kind: str) -> list[str]:
    return [m.group(2) for m in BLOCK.finditer(DOC.read_text()) if m.group(1) == kind]


@pytest.fixture
def workdir(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    (tmp_path / "policies").symlink_to(REPO / "policies")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if shutil.which("zstd") is None:
        shim = bin_dir / "zstd"
        shim.write_text(ZSTD_SHIM)
        shim.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent),
                            os.environ.get("PATH", "")])
    return tmp_path, {**os.environ, "PATH": path}


def test_sh_examples_run(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    script = "set -e\n" + "\n".join(_blocks("sh")).replace("/tmp/", f"{cwd}/")
    proc = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in (cwd / "changes.jsonl").read_text().splitlines()]
    assert rows and all(r["code"] != r["original_code"] for r in rows)
    report = json.loads(proc.stdout.splitlines()[-1])  # the --json run on the zstd copy
    assert report["rewritten"] == len(rows)


def test_python_examples_run(workdir: tuple[Path, dict[str, str]]) -> None:
    pytest.importorskip("distributed")
    cwd, env = workdir
    blocks = _blocks("python")
    assert blocks
    for i, block in enumerate(blocks):
        script = cwd / f"example{i}.py"
        script.write_text(block)
        proc = subprocess.run([sys.executable, str(script)], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert '"rewritten"' in proc.stdout
