"""How long every hostile case in tests/adversarial/ really takes.

Runs the adversarial test files (every helper's) with pytest in this
process and records each `kumopy` command they start: its exit status, the
wall time from start to exit, that time minus the command's own start-up
(`kumopy --version`, measured in the same run, before and after), and the
child's peak resident memory (from wait4).  Prints one row per command and
a last line saying whether every command ended within the budget it ran
with (its --budget, else the CLI's default) plus 2 seconds, start-up
excluded; `kumopy serve` servers are listed but live as long as their
tests keep them.

Not a test: nothing here asserts a time.  Run: `make bench` or
`python bench/bench_adversarial.py [pytest args...]`.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kumopy._defaults import DEFAULT_BUDGET_SECONDS  # noqa: E402
from tests.adversarial._harness import (  # noqa: E402
    ADDRESS_SPACE_LIMIT,
    KUMOPY,
)

GRACE = 2.0


@dataclass
class Run:
    case: str
    args: tuple[str, ...]
    status: int
    elapsed: float
    peak_rss_mb: float


class Recorder:
    """A pytest plugin that times every kumopy child process the running
    test starts (subprocess reaps children with os.waitpid: it is replaced
    by os.wait4, which also returns the child's resource usage)."""

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self.case = "?"
        self.started: dict[int, tuple[float, tuple[str, ...]]] = {}
        self._popen_init: Any = None
        self._waitpid: Any = None

    def install(self) -> None:
        recorder = self
        self._popen_init = original_init = subprocess.Popen.__init__
        self._waitpid = original_waitpid = os.waitpid

        def popen_init(popen: subprocess.Popen[Any], args: Any, *a: Any, **kw: Any) -> None:
            original_init(popen, args, *a, **kw)
            argv = tuple(str(x) for x in args) if isinstance(args, list | tuple) else (str(args),)
            if "kumopy.cli" in argv or any(x.endswith("/kumopy") for x in argv[:1]):
                recorder.started[popen.pid] = (time.monotonic(), argv)

        def waitpid(pid: int, options: int) -> tuple[int, int]:
            if pid not in recorder.started:
                return original_waitpid(pid, options)  # type: ignore[no-any-return]
            got, status, usage = os.wait4(pid, options)
            if got == pid:
                start, argv = recorder.started.pop(pid)
                code = os.waitstatus_to_exitcode(status)
                recorder.runs.append(
                    Run(recorder.case, argv, code, time.monotonic() - start,
                        usage.ru_maxrss / 1024.0)
                )
            return got, status

        subprocess.Popen.__init__ = popen_init  # type: ignore[method-assign]
        os.waitpid = waitpid

    def uninstall(self) -> None:
        subprocess.Popen.__init__ = self._popen_init  # type: ignore[method-assign]
        os.waitpid = self._waitpid

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.case = item.nodeid.split("tests/adversarial/", 1)[-1]


def budget_of(args: tuple[str, ...]) -> float:
    """The CPU budget a command ran with: its --budget, else the CLI's
    default (kumopy/_defaults.py)."""
    for i, arg in enumerate(args[:-1]):
        if arg == "--budget":
            try:
                return float(args[i + 1])
            except ValueError:
                break
    return DEFAULT_BUDGET_SECONDS


def startup_seconds(times: int = 5) -> float:
    """Median wall time of `kumopy --version` (interpreter start-up and
    imports: what every case pays before its policy runs)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))

    samples = []
    for _ in range(times):
        t0 = time.monotonic()
        subprocess.run([*KUMOPY, "--version"], capture_output=True, check=True,
                       preexec_fn=limit)
        samples.append(time.monotonic() - t0)
    return statistics.median(samples)


def main(argv: list[str]) -> int:
    before = startup_seconds()
    recorder = Recorder()
    recorder.install()
    try:
        code = pytest.main(
            ["-q", "-p", "no:cacheprovider", "--no-header", str(REPO / "tests" / "adversarial"),
             *argv],
            plugins=[recorder],
        )
    finally:
        recorder.uninstall()
    after = startup_seconds()
    startup = (before + after) / 2
    runs = recorder.runs
    width = max((len(r.case) for r in runs), default=4)
    print()
    print(f"kumopy start-up (kumopy --version, median): {before:.2f}s before, "
          f"{after:.2f}s after the cases; {startup:.2f}s subtracted below")
    print(f"{'case':<{width}}  {'exit':>4}  {'elapsed':>8}  {'-startup':>8}  {'peak RSS':>9}")
    worst = 0.0
    over: list[Run] = []
    servers = 0
    for r in runs:
        net = r.elapsed - startup
        # `kumopy serve` lives as long as its test keeps it (a module's
        # clients, say): its handlers' limits are what bench_serve measures
        server = "serve" in r.args
        servers += server
        budget = budget_of(r.args)
        if not server:
            worst = max(worst, net)
            if net > budget + GRACE:
                over.append(r)
        print(f"{r.case:<{width}}  {r.status:>4}  {r.elapsed:>7.2f}s  {net:>7.2f}s  "
              f"{r.peak_rss_mb:>7.1f}MB  {'server' if server else f'budget {budget:g} s'}")
    verdict = "yes" if not over else f"NO ({', '.join(r.case for r in over)})"
    print(f"{len(runs) - servers} kumopy commands (and {servers} `kumopy serve` servers, "
          f"which live as long as their tests keep them); every command ended within its "
          f"budget + {GRACE:g} s after start-up: {verdict}; longest {worst:.2f} s; "
          f"largest peak RSS {max((r.peak_rss_mb for r in runs), default=0.0):.1f} MB")
    return int(code)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
