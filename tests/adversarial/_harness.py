"""Running hostile policies and inputs through the real `kumopy` command.

Every adversarial case runs the CLI in a subprocess, under an address-space
limit, and checks the verdict a CI user depends on: the command ends, exits
non-zero (never killed by a signal), prints exactly one `kumopy: error:` line
naming the file, line, pattern or event, and no Python traceback or "internal
error".

Time is checked loosely here (a hang is a failure, not a slow machine):
`bench/bench_adversarial.py` prints how long each case really took, measured
against the command's own start-up in the same run.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: the address-space limit every case runs under (bytes)
ADDRESS_SPACE_LIMIT = 3 * 1024**3
#: the CPU budget adversarial cases give handlers (seconds)
BUDGET = 1.0
#: grace the issue allows beyond the budget, plus generous room for a
#: shared, noisy machine's interpreter start-up; exceeding it means a hang
HANG_AFTER = BUDGET + 2.0 + 30.0

KUMOPY = [sys.executable, "-m", "kumopy.cli"]


@dataclass(frozen=True)
class Outcome:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    elapsed: float

    @property
    def error_lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.startswith("kumopy: error:")]

    def describe(self) -> str:
        return (
            f"kumopy {' '.join(self.args)} -> exit {self.returncode} in {self.elapsed:.2f}s\n"
            f"--- stdout ---\n{self.stdout[-2000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def run_kumopy(
    *args: str | os.PathLike[str],
    cwd: str | os.PathLike[str] | None = None,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = HANG_AFTER,
) -> Outcome:
    """Run `kumopy ARGS...` in a subprocess under the address-space limit."""
    argv = tuple(str(a) for a in args)
    full_env = dict(os.environ)
    full_env.pop("KUMOMTA_POLICY_EXTRAS", None)
    full_env.pop("KUMOPY_SHARE_DIR", None)
    full_env["PYTHONFAULTHANDLER"] = ""
    if env:
        full_env.update(env)
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [*KUMOPY, *argv],
            input=stdin if stdin is not None else b"",
            capture_output=True,
            cwd=cwd,
            env=full_env,
            timeout=timeout,
            preexec_fn=_limit_address_space,
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(
            f"kumopy {' '.join(argv)} did not end within {timeout:.0f}s (a hang)\n"
            f"stderr so far: {(e.stderr or b'')[-2000:]!r}"
        ) from None
    return Outcome(
        argv,
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
        time.monotonic() - start,
    )


def assert_clear_failure(
    outcome: Outcome,
    *expected: str,
    returncodes: Sequence[int] = (1, 3),
) -> str:
    """The command failed the way a CI user needs: a non-zero exit status it
    chose (not a signal, not an abort), one `kumopy: error:` line containing
    every string in `expected`, and no traceback or internal error anywhere.
    Returns the error line."""
    text = outcome.describe()
    assert outcome.returncode in returncodes, f"unexpected exit status\n{text}"
    both = outcome.stdout + outcome.stderr
    assert "Traceback" not in both, f"a traceback reached the user\n{text}"
    assert "internal error" not in both, f"an internal error reached the user\n{text}"
    lines = outcome.error_lines
    assert len(lines) == 1, f"expected exactly one 'kumopy: error:' line\n{text}"
    for piece in expected:
        assert piece in lines[0], f"{piece!r} missing from the error line\n{text}"
    return lines[0]


def write_policy(directory: Path, source: str, name: str = "init.lua") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return path
