"""Hostile input to `kumo` functions: how long each case takes and how much
memory it uses, every case in its own `kumopy script` process.

Each row is one attack from issue 11 (exponential regex, the Unicode `\\b`
check of regex_set_map, TOML dotted keys, a YAML alias fan-out, a huge
`kumo.string.replace`, a glob over a symlink loop).  The process runs
without a CPU budget (so the figure is the engine's own time), under an
address-space limit and a wall-clock cap; `result` is the first words of
the outcome (`ok`, or the error kumopy reported, or `killed`/`timeout`).
The `start-up` row is an empty policy: compare the other rows with it.

Run: `python bench/bench_kumofn.py [--cap SECONDS] [--limit-gib N]`.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES: dict[str, str] = {
    "start-up": "return 1",
    "regex (a|aa)+$ n=40": (
        "return kumo.regex.compile('(a|aa)+$'):is_match(string.rep('a', 40) .. 'b')"
    ),
    "regex (a|aa)+$ n=10000": (
        "return kumo.regex.compile('(a|aa)+$'):is_match(string.rep('a', 10000) .. 'b')"
    ),
    "regex_set_map \\b 200 KB": (
        "local m = kumo.regex_set_map.new({['(?:\\\\b[a-z\\u{e9}]{1,20}\\\\b\\\\s*){3}x'] = 1})\n"
        "return m[string.rep('\\u{e9}\\u{e9} ', 66000) .. '\\u{e9}x']"
    ),
    "toml dotted key 100 KB": (
        "return kumo.toml_parse(string.rep('a.', 50000) .. 'a = 1') ~= nil"
    ),
    "toml nested arrays 100 KB": (
        "return kumo.toml_parse('a = ' .. string.rep('[', 50000)) ~= nil"
    ),
    "yaml alias fan-out 40 KB": (
        "local doc = 'a: &a [' .. string.rep('x, ', 6000) .. 'x]\\n'"
        " .. 'b: [' .. string.rep('*a, ', 4000) .. '*a]\\n'\n"
        "return #doc, kumo.serde.yaml_parse(doc) ~= nil"
    ),
    "string.replace 10 MB x100": (
        "return #kumo.string.replace(string.rep('a', 10 * 1024 * 1024), 'a', string.rep('b', 100))"
    ),
    "glob over symlink loops": "return #kumo.glob(DIR .. '/**/*')",
}


def make_loop_dir(base: Path) -> Path:
    top = base / "loops"
    (top / "d").mkdir(parents=True)
    for name in ("l1", "l2", "l3"):
        os.symlink("..", top / "d" / name)
    (top / "d" / "f").write_text("x")
    return top


def run_case(body: str, workdir: Path, cap: float, limit: int) -> tuple[float, float, str]:
    policy = workdir / "init.lua"
    loops = make_loop_dir(Path(tempfile.mkdtemp(dir=workdir)))
    policy.write_text(
        f"local kumo = require 'kumo'\nlocal DIR = {str(loops)!r}\n"
        f"kumo.on('main', function()\n{body}\nend)\n"
    )

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kumopy.cli", "script", str(policy)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=limits,
    )
    outcome = ""
    try:
        out, err = proc.communicate(timeout=cap)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        outcome = f"timeout (> {cap:.0f} s)"
    elapsed = time.monotonic() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss = usage.ru_maxrss / 1024
    if not outcome:
        if proc.returncode < 0:
            outcome = f"killed by signal {-proc.returncode}"
        elif proc.returncode == 0:
            outcome = "ok " + out.decode(errors="replace").strip()[:30]
        else:
            lines = err.decode(errors="replace").strip().splitlines() or [""]
            text = lines[-1]
            if "error:" in text:
                text = text.split("error:", 1)[1]
            outcome = text.strip()[:90]
    return elapsed, rss, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=float, default=60.0, help="wall-clock cap per case")
    parser.add_argument("--limit-gib", type=float, default=4.0, help="address-space limit")
    parser.add_argument("cases", nargs="*", help="run only cases whose name contains one of these")
    args = parser.parse_args()
    limit = int(args.limit_gib * 1024**3)
    print(f"{'case':<28} {'seconds':>8} {'max RSS MB*':>11}  result")
    with tempfile.TemporaryDirectory() as tmp:
        for name, body in CASES.items():
            if args.cases and not any(c in name for c in args.cases):
                continue
            # one process per case: ru_maxrss of RUSAGE_CHILDREN is the
            # largest child so far, so run each case from a fresh parent
            here = str(Path(__file__).parent)
            code = (
                f"import sys, pathlib; sys.path.insert(0, {here!r}); import bench_kumofn as b; "
                f"r = b.run_case({body!r}, pathlib.Path({tmp!r}), {args.cap!r}, {limit!r}); "
                "print(repr(r))"
            )
            res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            try:
                elapsed, rss, outcome = eval(res.stdout.strip().splitlines()[-1])  # noqa: S307
            except Exception:  # noqa: BLE001
                elapsed, rss, outcome = 0.0, 0.0, "bench failure: " + res.stderr[-200:]
            print(f"{name:<28} {elapsed:>8.2f} {rss:>11.0f}  {outcome}", flush=True)
    print("* peak resident memory of the kumopy process (address space capped at "
          f"{args.limit_gib:g} GiB)")


if __name__ == "__main__":
    main()
