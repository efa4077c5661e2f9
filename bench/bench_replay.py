"""Throughput of `kumopy replay` (records per second) with 1 job and with
every core, on a generated KumoMTA log.

The log (zstd-compressed, as kumod writes it) has --records records
(default 1,000,000) in the mix of a busy node (see
kumopy/_replay/_sample.py: about 17% are TransientFailure or Bounce records
with a remote response); the example policy (policies/dsn-rewrite/init.lua)
loads a generated --rules rule map (default 1,000 patterns).  Each
configuration runs the real command line in a new process, so the figures
include start-up (policy load, building the map) and the reader.

Rows: `--jobs 1` and `--jobs N` (N = the cores this process may use) on
the log as one file, the same with `--cache` (which is only right for pure
handlers; the generated responses are mostly distinct, so it helps little
here), and on the same records cut into 8 segment files, as kumod leaves
them (each worker then reads whole files itself).  The scaling ratio is
records/s with N jobs over records/s with 1 job.  Each configuration runs
--repeat times (default 3) and the fastest run is shown.  The
machine load (`os.getloadavg`) is printed before and after: other work on
the machine lowers the figures.

Run: `python bench/bench_replay.py [--records N] [--rules N] [--quick]`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zstandard

from kumopy._replay._engine import cores as default_jobs
from kumopy._replay._sample import rules, write_log

REPO = Path(__file__).resolve().parent.parent
POLICY = REPO / "policies" / "dsn-rewrite" / "init.lua"
RULES_PATH = "/opt/kumomta/etc/policy/dsn_rewrite.json"


def run(logs: list[Path], rules_file: Path, jobs: int, cache: bool) -> dict[str, object]:
    args = [sys.executable, "-m", "kumopy.cli", "replay", str(POLICY), *map(str, logs),
            "--json", "--jobs", str(jobs), "--map", f"{RULES_PATH}={rules_file}"]
    if cache:
        args.append("--cache")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 3):
        raise SystemExit(f"replay failed ({done.returncode}): {done.stderr}")
    report: dict[str, object] = json.loads(done.stdout)
    report["wall"] = wall
    report["cpu"] = cpu
    return report


SEGMENTS = 8


def _split_segments(log: Path, where: Path, count: int) -> list[Path]:
    """`log` cut into `count` zstd segments of whole lines, in order."""
    lines = zstandard.ZstdDecompressor().decompressobj().decompress(
        log.read_bytes()).splitlines(keepends=True)
    size = -(-len(lines) // count)
    paths = []
    for i in range(count):
        path = where / f"segment-{i:02d}.zst"
        path.write_bytes(zstandard.ZstdCompressor(level=3).compress(
            b"".join(lines[i * size:(i + 1) * size])))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rules", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true", help="100,000 records")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per configuration; the fastest is shown")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.records
    cores = default_jobs()
    with tempfile.TemporaryDirectory(prefix="kumopy-bench-") as tmp:
        log = Path(tmp) / "20250101-000000.zst"
        rules_file = Path(tmp) / "dsn_rewrite.json"
        t0 = time.perf_counter()
        write_log(str(log), n, compress=True)
        # the same records as kumod leaves them on a busy node: several
        # segment files (here SEGMENTS of equal size)
        segments = _split_segments(log, Path(tmp), SEGMENTS)
        rules_file.write_text(json.dumps(rules(args.rules)))
        print(f"generated {n:,} records ({log.stat().st_size / 1e6:.1f} MB zstd) and "
              f"{args.rules:,} rules in {time.perf_counter() - t0:.1f} s")
        print(f"cores: {cores}; load average before: "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        rows = []
        configs = [("1 file", [log], False), ("1 file --cache", [log], True),
                   (f"{SEGMENTS} segments", segments, False)]
        for mode, logs, cache in configs:
            base = None
            for jobs in sorted({1, cores}):
                # best of --repeat runs: this machine is shared, and a slow
                # run says more about the neighbours than about kumopy
                r = min((run(logs, rules_file, jobs, cache) for _ in range(args.repeat)),
                        key=lambda x: float(x["wall"]))  # type: ignore[arg-type]
                rate = float(r["read"]) / float(r["wall"])  # type: ignore[arg-type]
                base = base or rate
                cpu_rate = float(r["read"]) / float(r["cpu"])  # type: ignore[arg-type]
                rows.append((mode, jobs, r["eligible"],
                             r["rewritten"], r["wall"], rate, r["cpu"], cpu_rate,
                             rate / base))
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print()
        header = ("mode", "jobs", "eligible", "rewritten", "wall s", "records/s",
                  "cpu s", "rec/cpu-s", "scaling")
        print("{:<16} {:>4} {:>9} {:>9} {:>7} {:>10} {:>7} {:>10} {:>7}".format(*header))
        for mode, jobs, eligible, rewritten, wall, rate, cpu, cpu_rate, scaling in rows:
            print(f"{mode:<16} {jobs:>4} {eligible:>9,} {rewritten:>9,} {wall:>7.2f} "
                  f"{rate:>10,.0f} {cpu:>7.2f} {cpu_rate:>10,.0f} {scaling:>7.2f}")
        print("\nrecords/s: wall clock, start-up included; rec/cpu-s: records per "
              "CPU second of all processes (per-core throughput, less sensitive to "
              "other load); scaling: records/s over the 1-job row.")


if __name__ == "__main__":
    main()
