"""Run KumoMTA's own Lua tests through kumopy, as KumoMTA's
`run-lua-tests` runs them through kumod.

    python -m kumopy.testing._conformance [--src DIR] [--jobs N] [-k TEXT]

(`make conformance` runs it.)  Against a KumoMTA checkout (`--src`, default
`$KUMOMTA_SRC`) it discovers the tests as run-lua-tests does:

* every `crates/*/**/test*.lua`: a file that registers `kumo.on('main', ...)`
  runs as it is; one that registers another event without `main` fails
  without running (run-lua-tests refuses it); any other file runs inside a
  wrapper whose `main` handler `dofile`s it;
* every `assets/policy-extras/**/*.lua` that mentions `mod:test`: a wrapper
  `require`s it as `policy-extras.<stem>` and calls `mod:test()`.

Wrappers put `assets/?.lua` in front of `package.path` as run-lua-tests'
wrappers do.  Each test is one `kumopy script --strict --package-dir assets`
process started in the checkout's root (tests read files such as the DKIM
keys there by relative paths); `--package-dir assets` stands for the
`assets` root that a debug build of kumod (the one run-lua-tests runs) puts
first on package.path.  A test passes when the process exits 0.

The report is a table (test, PASS or FAIL, the first error line, and for a
failure kumopy knows about, why) and a closing `N passed, M failed` line.
The exit status is 0 when every failure is expected (with `--strict`: when
nothing failed), 1 otherwise, 2 for a usage error.  A failure is expected
when the test is listed in `KNOWN_FAILURES`, or in `CONDITIONAL_FAILURES`
while its condition holds (test_filetype.lua while the file type database
that `kumopy file-type build` makes is absent).
KumoMTA's files are only read from the checkout, never copied.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .._version import KUMOMTA_COMMIT

__all__ = [
    "CONDITIONAL_FAILURES",
    "KNOWN_FAILURES",
    "ConformanceResult",
    "ConformanceTest",
    "discover",
    "expected_failure",
    "format_report",
    "main",
    "run_tests",
]

#: the KumoMTA commit the runner and KNOWN_FAILURES were checked against
CHECKED_AGAINST = KUMOMTA_COMMIT

#: tests that fail in kumopy for a reason it cannot remove, with the reason
KNOWN_FAILURES: dict[str, str] = {
    "crates/mod-dns-resolver/test-define-resolver.lua": (
        "needs real DNS: it looks up a PTR record through the default resolver, "
        "and kumopy never queries real DNS"
    ),
}

#: the file_type crate's database kumo.file_type answers from (kumopy/_filetype)
FILE_TYPE_TEST = "crates/mod-file-type/test_filetype.lua"


def _file_type_database_missing() -> str | None:
    from .._filetype import BUILD_COMMAND, ENV_VAR, database_path

    where = database_path()
    if where.exists():
        return None
    return (
        f"kumo.file_type needs the file_type crate's format database, which kumopy does not "
        f"ship and which is not built: there is no {where} (`{BUILD_COMMAND}` builds it; "
        f"{ENV_VAR} names another file)"
    )


#: tests expected to fail only while a condition holds: name -> the reason
#: now, or None when the test is expected to pass
CONDITIONAL_FAILURES: dict[str, Callable[[], str | None]] = {
    FILE_TYPE_TEST: _file_type_database_missing,
}


def expected_failure(name: str) -> str | None:
    """Why kumopy is expected to fail the test `name` now, or None."""
    if name in KNOWN_FAILURES:
        return KNOWN_FAILURES[name]
    condition = CONDITIONAL_FAILURES.get(name)
    return condition() if condition is not None else None

_WRAPPER = """
local kumo = require 'kumo'
package.path = 'assets/?.lua;' .. package.path

kumo.on('main', function()
  {body}
end)
"""


@dataclass(frozen=True)
class ConformanceTest:
    """One test as run-lua-tests sees it."""

    #: path relative to the checkout root (the name run-lua-tests reports)
    name: str
    #: "crate" (a crates/ test file) or "module" (a policy-extras mod:test())
    kind: str

    @property
    def group(self) -> str:
        """The crate (or `policy-extras`) the test belongs to."""
        parts = self.name.split("/")
        return parts[1] if parts[0] == "crates" and len(parts) > 2 else "policy-extras"


@dataclass(frozen=True)
class ConformanceResult:
    test: ConformanceTest
    ok: bool
    #: the first error line (empty on success)
    error: str
    output: str
    seconds: float

    @property
    def known(self) -> str | None:
        """Why kumopy is expected to fail this test, if it is."""
        return expected_failure(self.test.name)


def _rglob(root: Path, base: Path, pattern: str) -> list[str]:
    return [p.relative_to(root).as_posix() for p in base.glob(pattern) if p.is_file()]


def discover(src: str | os.PathLike[str]) -> list[ConformanceTest]:
    """The tests of a KumoMTA checkout, in run-lua-tests' order (crate
    tests sorted, then module tests sorted)."""
    root = Path(src)
    crates = set()
    # crates/*/**/test*.lua: `**` matches zero or more directories
    for crate in sorted((root / "crates").glob("*")):
        if crate.is_dir():
            crates.update(_rglob(root, crate, "**/test*.lua"))
    modules = []
    extras = root / "assets" / "policy-extras"
    for path in sorted(_rglob(root, extras, "**/*.lua")):
        if "mod:test" in (root / path).read_text(encoding="utf-8", errors="replace"):
            modules.append(path)
    return [ConformanceTest(p, "crate") for p in sorted(crates)] + [
        ConformanceTest(p, "module") for p in sorted(modules)
    ]


def _script_for(test: ConformanceTest, root: Path, tmp: Path) -> tuple[str | None, str]:
    """(script to run, or None when run-lua-tests refuses the test; reason)."""
    if test.kind == "module":
        stem = test.name.rsplit("/", 1)[-1].split(".", 1)[0]
        body = f'local mod = require("policy-extras.{stem}")\n  mod:test()'
    else:
        content = (root / test.name).read_text(encoding="utf-8", errors="replace")
        if "kumo.on('main'" in content:
            return test.name, ""
        if "kumo.on(" in content:
            return None, (
                f"{test.name} attempts to use kumo.on but needs to define "
                "kumo.on('kumo.main') for that to work"
            )
        body = f'dofile "{test.name}"'
    fd, path = tempfile.mkstemp(suffix=".lua", dir=tmp)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(_WRAPPER.format(body=body))
    return path, ""


_ERROR_LINE = re.compile(r"error|assert|fail|not supported|traceback", re.IGNORECASE)


def _first_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("kumopy: error:"):
            return line[len("kumopy: error:") :].strip()
    for line in lines:
        if _ERROR_LINE.search(line):
            return line
    return lines[-1] if lines else "(no output)"


def kumopy_command() -> list[str]:
    """How to start kumopy: this interpreter running the installed CLI."""
    return [sys.executable, "-m", "kumopy.cli"]


def run_one(
    test: ConformanceTest,
    root: Path,
    tmp: Path,
    *,
    command: Sequence[str],
    timeout: float,
) -> ConformanceResult:
    start = time.monotonic()
    script, refused = _script_for(test, root, tmp)
    if script is None:
        return ConformanceResult(test, False, refused, refused, 0.0)
    argv = [*command, "script", "--strict", "--package-dir", "assets", script]
    env = dict(os.environ)
    env.setdefault("KUMOMTA_SRC", str(root))
    try:
        proc = subprocess.run(
            argv,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        text = f"timed out after {timeout:g} seconds"
        return ConformanceResult(test, False, text, text, time.monotonic() - start)
    output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    ok = proc.returncode == 0
    return ConformanceResult(
        test, ok, "" if ok else _first_error(output), output, time.monotonic() - start
    )


def run_tests(
    src: str | os.PathLike[str],
    *,
    jobs: int = 1,
    select: str | None = None,
    command: Sequence[str] | None = None,
    timeout: float = 300.0,
    on_result: Callable[[ConformanceResult], None] | None = None,
) -> list[ConformanceResult]:
    """Run the checkout's tests (those whose name contains `select`), `jobs`
    at a time; results in discovery order."""
    root = Path(src).resolve()
    tests = [t for t in discover(root) if select is None or select in t.name]
    cmd = list(command) if command is not None else kumopy_command()
    tmp = Path(tempfile.mkdtemp(prefix="kumopy-conformance-"))
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [
                pool.submit(run_one, t, root, tmp, command=cmd, timeout=timeout) for t in tests
            ]
            results = []
            for future in futures:
                result = future.result()
                if on_result is not None:
                    on_result(result)
                results.append(result)
        return results
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def format_report(results: Iterable[ConformanceResult], *, width: int = 110) -> list[str]:
    """The table, the per-crate counts and the closing line."""
    results = list(results)
    lines = []
    name_w = max([len(r.test.name) for r in results] + [4])
    lines.append(f"{'test':<{name_w}}  result  first error line")
    lines.append(f"{'-' * name_w}  ------  {'-' * 16}")
    for r in results:
        verdict = "PASS" if r.ok else "FAIL"
        detail = r.error
        if not r.ok and r.known:
            detail = f"[expected: {r.known}] {detail}"
        lines.append(f"{r.test.name:<{name_w}}  {verdict:<6}  {_clip(detail, width)}".rstrip())
    groups: dict[str, list[int]] = {}
    for r in results:
        counts = groups.setdefault(r.test.group, [0, 0])
        counts[0 if r.ok else 1] += 1
    lines.append("")
    lines.append("per crate: " + ", ".join(f"{g} {p}/{p + f}" for g, (p, f) in groups.items()))
    passed = sum(r.ok for r in results)
    failed = len(results) - passed
    expected = sum(1 for r in results if not r.ok and r.known)
    if expected:
        lines.append(f"({expected} of the failures expected: see the notes above)")
    lines.append(f"{passed} passed, {failed} failed")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kumopy.testing._conformance",
        description="Run KumoMTA's own Lua tests through kumopy (as run-lua-tests runs "
        f"them through kumod). Checked against KumoMTA {CHECKED_AGAINST}.",
    )
    parser.add_argument(
        "--src",
        default=os.environ.get("KUMOMTA_SRC"),
        help="KumoMTA checkout [default: $KUMOMTA_SRC]",
    )
    parser.add_argument(
        "-j", "--jobs", type=int, default=os.cpu_count() or 1,
        help="tests run at once [default: the number of CPUs]",
    )
    parser.add_argument("-k", dest="select", help="only tests whose path contains TEXT")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds per test [default: 300]"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 on any failure, expected or not"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print the full output of failed tests"
    )
    args = parser.parse_args(argv)
    if not args.src:
        parser.error("no KumoMTA checkout: give --src DIR or set KUMOMTA_SRC")
    if not (Path(args.src) / "crates").is_dir():
        parser.error(f"{args.src} is not a KumoMTA checkout (it has no crates/ directory)")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    results = run_tests(args.src, jobs=args.jobs, select=args.select, timeout=args.timeout)
    if not results:
        print(f"no tests found in {args.src}" + (f" matching {args.select!r}" if args.select
                                                  else ""), file=sys.stderr)
        return 1
    for line in format_report(results):
        print(line)
    if args.verbose:
        for r in results:
            if not r.ok:
                print(f"\n== {r.test.name}\n{r.output.rstrip()}")
    unexpected = [r for r in results if not r.ok and (args.strict or not r.known)]
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
