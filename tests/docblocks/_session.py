"""Running one page's blocks in order, as a reader would type them.

Each page gets a fresh working directory holding a copy of the repository's
`policies/` (and `tests/fixtures/`), so relative paths in the docs work and nothing a block writes
reaches the checkout. `sh` blocks run in bash with the interpreter's
`bin/` directory first on PATH (so `kumopy` is this checkout's), Python
output unbuffered and stderr merged into stdout in the order written.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import traceback
from configparser import ConfigParser
from pathlib import Path

from lupa import lua54

from ._blocks import Block

__all__ = ["PageSession", "DocBlockFailure", "apply_updates", "compare_output"]

REPO = Path(__file__).resolve().parents[2]
#: rewrite differing output blocks with what was produced (a maintainer's
#: tool: run `KUMOPY_DOC_UPDATE=1 pytest tests/docblocks`, review the diff)
UPDATE = bool(os.environ.get("KUMOPY_DOC_UPDATE"))
SH_TIMEOUT = 300


# Shell variables a block sets (`MAP=...`) stay set for the page's later
# blocks, as in the reader's shell: they are saved to .doc-vars on exit.
_SH_PRELUDE = r"""__doc_before=" $(compgen -v | tr '\n' ' ') "
if [ -f .doc-vars ]; then . ./.doc-vars; fi
__doc_save() {
  local __doc_status=$?
  for __doc_v in $(compgen -v); do
    case "$__doc_before" in *" $__doc_v "*) continue ;; esac
    case "$__doc_v" in __doc_*) continue ;; esac
    declare -p "$__doc_v"
  done > .doc-vars 2>/dev/null
  return $__doc_status
}
trap __doc_save EXIT
"""


#: a python block that defines pytest tests (run as a test file)
_DEFINES_TESTS = re.compile(r"^def test_\w*\(", re.M)


class DocBlockFailure(AssertionError):
    pass


class PageSession:
    def __init__(self, page: Path, workdir: Path) -> None:
        self.page = page
        self.workdir = workdir
        shutil.copytree(REPO / "policies", workdir / "policies")
        # (a few examples use the test suite's own fixture trees)
        shutil.copytree(REPO / "tests" / "fixtures", workdir / "tests" / "fixtures")
        self.namespace: dict[str, object] = {"__name__": "__docs__"}
        #: the last runnable block and its output (stdout and stderr merged)
        self.last: tuple[Block, str] | None = None
        self.broken: str | None = None
        #: (output block, produced text) to write back with KUMOPY_DOC_UPDATE
        self.updates: list[tuple[Block, str]] = []

    # -- environment -------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        bindir = str(Path(sys.executable).parent)
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        env["TMPDIR"] = str(self.workdir)
        env["COLUMNS"] = "100"
        env.pop("KUMOMTA_POLICY_EXTRAS", None)
        # a reader's terminal, not a CI job: pytest prints whole failure
        # messages in the short summary when it sees CI or BUILD_NUMBER
        env.pop("CI", None)
        env.pop("BUILD_NUMBER", None)
        return env

    # -- blocks ------------------------------------------------------------

    def run(self, block: Block) -> None:
        if self.broken:
            raise DocBlockFailure(f"{block.where}: not run: {self.broken} failed before it")
        try:
            getattr(self, f"_do_{block.kind}")(block)
        except DocBlockFailure as e:
            self.broken = block.where
            raise e from None

    def _do_none(self, block: Block) -> None:
        pass

    def _do_skip(self, block: Block) -> None:
        pass

    def _do_file(self, block: Block) -> None:
        target = self.workdir / block.directives["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.text)
        self._do_check(block)

    def _do_check(self, block: Block) -> None:
        text = block.text
        try:
            if block.lang == "lua":
                lua54.LuaRuntime(register_eval=False).compile(text, name="=" + block.where)
            elif block.lang == "toml":
                tomllib.loads(text)
            elif block.lang == "json":
                json.loads(text)
            elif block.lang == "ini":
                ConfigParser().read_string(text)
        except Exception as e:  # noqa: BLE001 - every parse error is a doc bug
            raise DocBlockFailure(f"{block.where}: {block.lang} block does not parse: {e}") from None

    def _do_run(self, block: Block) -> None:
        if block.lang == "sh":
            self._run_sh(block)
        else:
            self._run_python(block)

    def _run_sh(self, block: Block) -> None:
        expected = int(block.directives.get("exit", "0"))
        # With exit=N the status of the block's last command is what the page
        # claims; otherwise every command must succeed.
        script = _SH_PRELUDE + ("" if expected else "set -e\n") + block.text
        status, combined = self._run_merged(["bash", "-c", script])
        self.last = (block, combined)
        if status != expected:
            raise DocBlockFailure(
                f"{block.where}: sh block exited {status}, expected {expected}\n"
                f"{block.text}\n--- output ---\n{combined[-4000:]}"
            )

    def _run_python(self, block: Block) -> None:
        if _DEFINES_TESTS.search(block.text):
            self._run_pytest(block)
            return
        out = io.StringIO()
        cwd = os.getcwd()
        os.chdir(self.workdir)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                code = compile(
                    "\n" * (block.line) + block.text, str(block.page), "exec", dont_inherit=True
                )
                exec(code, self.namespace)
        except Exception:
            raise DocBlockFailure(
                f"{block.where}: python block raised\n{traceback.format_exc(limit=-3)}"
                f"--- output ---\n{out.getvalue()[-4000:]}"
            ) from None
        finally:
            os.chdir(cwd)
        self.last = (block, out.getvalue())

    def _run_pytest(self, block: Block) -> None:
        """A block of pytest tests is run as a test file: every test in it
        must pass (the kumopy plugin provides its fixtures)."""
        name = f"test_doc_block_{block.line}.py"
        (self.workdir / name).write_text(block.text)
        status, output = self._run_merged(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name])
        self.last = (block, output)
        if status != 0:
            raise DocBlockFailure(
                f"{block.where}: the tests of this python block failed\n{output[-4000:]}"
            )

    def _run_merged(self, command: list[str]) -> tuple[int, str]:
        """Run `command` in the page's directory: (exit status, stdout and
        stderr merged in the order written)."""
        proc = subprocess.run(
            command,
            cwd=self.workdir,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=SH_TIMEOUT,
            check=False,
        )
        return proc.returncode, proc.stdout.decode("utf-8", "replace")

    def _do_output(self, block: Block) -> None:
        if self.last is None:
            raise DocBlockFailure(f"{block.where}: output block with no block before it to run")
        source, produced = self.last
        if "stdout" in block.directives:
            # stdout alone: run the (idempotent) block again without stderr
            produced = self._rerun_stdout(source)
        problem = compare_output(block.text, produced, self.workdir)
        if problem and UPDATE:
            # KUMOPY_DOC_UPDATE=1: write what was produced into the page
            # (applied when the page's tests end; review the diff)
            self.updates.append((block, _shown(produced, self.workdir)))
            return
        if problem:
            raise DocBlockFailure(
                f"{block.where}: output of the block at {source.where} differs from the page\n"
                f"{problem}"
            )

    def _rerun_stdout(self, source: Block) -> str:
        if source.lang != "sh":
            raise DocBlockFailure(f"{source.where}: 'stdout' applies to sh blocks only")
        proc = subprocess.run(
            ["bash", "-c", source.text],
            cwd=self.workdir,
            env=self.env(),
            capture_output=True,
            timeout=SH_TIMEOUT,
            check=False,
        )
        return proc.stdout.decode("utf-8", "replace")


def apply_updates(page: Path, updates: list[tuple[Block, str]]) -> None:
    """Replace the text of each output block with the produced text."""
    lines = page.read_text().splitlines(keepends=True)
    for block, text in sorted(updates, key=lambda u: -u[0].line):
        start = block.line  # index of the first line inside the fence
        end = start + len(block.text.splitlines())
        lines[start:end] = [ln + "\n" for ln in text.splitlines()]
    page.write_text("".join(lines))


def _shown(produced: str, workdir: Path) -> str:
    return "\n".join(_normalise(produced, workdir))


def _normalise(text: str, workdir: Path) -> list[str]:
    text = text.replace(str(workdir) + "/", "").replace(str(workdir), ".")
    lines = [ln.rstrip() for ln in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def compare_output(shown: str, produced: str, workdir: Path) -> str | None:
    """None when `produced` is what the page shows; else a short diff.

    A shown line that is `...` (indentation aside) stands for any number of
    produced lines, including none; `[...]` inside a shown line stands for
    any text within that line (timings, temporary names)."""
    want = _normalise(shown, workdir)
    got = _normalise(produced, workdir)
    if _match(want, got):
        return None
    import difflib

    diff = difflib.unified_diff(want, got, "page", "produced", lineterm="", n=2)
    return "\n".join(diff)


def _line_matches(want: str, got: str) -> bool:
    if "[...]" not in want:
        return want == got
    pattern = ".*".join(re.escape(piece) for piece in want.split("[...]"))
    return re.fullmatch(pattern, got) is not None


def _match(want: list[str], got: list[str]) -> bool:
    if not want:
        return not got
    if want[0].strip() == "...":
        rest = want[1:]
        return any(_match(rest, got[i:]) for i in range(len(got) + 1))
    return bool(got) and _line_matches(want[0], got[0]) and _match(want[1:], got[1:])
