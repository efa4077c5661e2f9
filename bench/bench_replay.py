"""`kumopy replay` against the least work any Python replay must do, on one
core, on every core, on segments and on a Dask LocalCluster: one table,
measured side by side in one run.

The log (zstd, as kumod writes it) has --records records (default
1,000,000) in the mix of a busy node (kumopy/_replay/_sample.py: about 17%
are TransientFailure or Bounce records with a remote response); the example
policy (policies/dsn-rewrite/init.lua) loads a generated --rules map
(default 1,000 patterns).  Rows:

- floor: `python bench/bench_replay.py --floor LOG RULES`, the least work
  of a replay in Python: stream-decompress the log, pick the
  TransientFailure and Bounce lines by their bytes, parse those with
  orjson, build the response line, one RE2 set match over the same rules.
  No policy, no Lua, no report.
- jobs 1 / jobs N: the real command line (`kumopy replay ... --jobs`) on
  the log as one file, start-up included (imports, policy load, building
  the rule map);
- segments: the same records cut into 8 zstd segment files (as kumod
  leaves them), jobs 1 and jobs N;
- N x jobs 1 at once: N independent `--jobs 1` commands, each on its
  share of the 8 segments, started together: what this machine gives two
  processes that share nothing (their cores may be hyperthreads of one,
  or share caches and memory bandwidth with other tenants), the ceiling
  for any N-process replay here;
- cluster: the 8 segments on a Dask LocalCluster of N worker processes (one
  thread each) started beforehand (its start-up is not counted; the
  policy's is, in every worker).

Every configuration runs --repeat times (default 3), the runs of all
configurations interleaved, and the fastest is shown: the machine may be
shared, and a slow run says more about the neighbours than about kumopy.
The ratios are given twice: between the fastest runs, and as the median
(and range) of the ratios within each round of runs.
The load average is printed before and after.  Columns: records/s by wall
clock; CPU seconds of the command and the processes it waited for (not the
cluster's workers), and apart, of the command's own process ("main") and of
the worker processes it started ("workers"), from which the speed-up on
idle cores is estimated (the busiest process decides); peak RSS of its
largest process (the bench itself is
kept small: a command inherits its parent's peak across exec).  Ratios compare rows
of this one run; the "start-up excluded" ones compare the replay's own
seconds from its report (what the ratio tends to on a long log).
kumopy's modules are byte-compiled first, as a regular (non-editable)
install has them.

Run: `python bench/bench_replay.py [--records N] [--rules N] [--repeat N]
[--quick] [--no-cluster]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
POLICY = REPO / "policies" / "dsn-rewrite" / "init.lua"
RULES_PATH = "/opt/kumomta/etc/policy/dsn_rewrite.json"
SEGMENTS = 8


# ---------------------------------------------------------------------------
# the floor
# ---------------------------------------------------------------------------


def floor(log: str, rules_file: str) -> None:
    """The least work: see the module docstring.  Prints its counts."""
    import orjson
    import re2
    import zstandard

    with open(rules_file) as f:
        rules = json.load(f)
    options = re2.Options()
    options.never_capture = True
    options.max_mem = 256 << 20
    rset = re2.Set.SearchSet(options)
    for pattern in rules:
        rset.Add(pattern)
    rset.Compile()
    match = rset.Match
    loads = orjson.loads
    read = eligible = matched = 0
    tail = b""
    with open(log, "rb") as raw:
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        while True:
            chunk = reader.read(1 << 20)
            if not chunk:
                break
            data = tail + chunk
            cut = data.rfind(b"\n") + 1
            tail = data[cut:]
            lines = data[:cut].split(b"\n")
            lines.pop()
            read += len(lines)
            for line in lines:
                if line[9:26] == b'TransientFailure"' or line[9:16] == b'Bounce"':
                    r = loads(line)["response"]
                    e = r["enhanced_code"]
                    text = (f"{r['code']} {e['class']}.{e['subject']}.{e['detail']} "
                            f"{r['content']}" if e else f"{r['code']} {r['content']}")
                    eligible += 1
                    if match(text.encode()):
                        matched += 1
    print(json.dumps({"read": read, "eligible": eligible, "matched": matched}))


# ---------------------------------------------------------------------------
# running one configuration
# ---------------------------------------------------------------------------


def _popen_rusage(args: Sequence[str]) -> dict[str, Any]:
    """Run a command; its (last) JSON output line plus wall, cpu (itself
    and the children it waited for) and peak RSS (its largest process,
    bytes), from the rusage of exactly this child (os.wait4)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(), err.read().decode()
    if proc.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{errors}")
    lines = [x for x in text.splitlines() if x.startswith("{")]
    data: dict[str, Any] = json.loads(lines[-1])
    data.update(wall=wall, cpu=usage.ru_utime + usage.ru_stime, rss=usage.ru_maxrss * 1024)
    tagged = [x for x in errors.splitlines() if x.startswith(_CPU_TAG)]
    if tagged:
        main_cpu, workers_cpu = (float(x) for x in tagged[-1].split()[1:])
        data.update(main_cpu=main_cpu, workers_cpu=workers_cpu)
    return data


def _popen_together(commands: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Run commands at once; their counts added up, wall until the last
    ends, CPU added up, the largest peak RSS."""
    started = time.perf_counter()
    procs = []
    outs = []
    try:
        for args in commands:
            out = tempfile.TemporaryFile()
            outs.append(out)
            procs.append(subprocess.Popen(args, stdout=out, stderr=subprocess.DEVNULL))
        usages = [os.wait4(proc.pid, 0) for proc in procs]
        wall = time.perf_counter() - started
    finally:
        for out in outs:
            out.seek(0)
    total: dict[str, Any] = {"wall": wall, "cpu": 0.0, "rss": 0, "seconds": 0.0}
    for (_, status, usage), out, args in zip(usages, outs, commands, strict=True):
        if os.waitstatus_to_exitcode(status) not in (0, 3):
            raise SystemExit(f"{' '.join(args)} failed")
        lines = [x for x in out.read().decode().splitlines() if x.startswith("{")]
        out.close()
        data = json.loads(lines[-1])
        for key in ("read", "eligible", "rewritten"):
            total[key] = total.get(key, 0) + data[key]
        total["seconds"] = max(total["seconds"], data["seconds"])
        total["cpu"] += usage.ru_utime + usage.ru_stime
        total["rss"] = max(total["rss"], usage.ru_maxrss * 1024)
    return total


#: how bench/_run_cli.py starts the line it writes last on stderr
_CPU_TAG = "bench-cpu:"


def _generate(log: str, rules_file: str, segdir: str, n: str, n_rules: str) -> None:
    from kumopy._replay._sample import rules, write_log

    write_log(log, int(n), compress=True)
    Path(segdir).mkdir()
    _split_segments(Path(log), Path(segdir), SEGMENTS)
    Path(rules_file).write_text(json.dumps(rules(int(n_rules))))


def _split_segments(log: Path, where: Path, count: int) -> list[Path]:
    """`log` cut into `count` zstd segments of whole lines, in order."""
    import zstandard

    with open(log, "rb") as f:
        data = zstandard.ZstdDecompressor().stream_reader(f).read()
    lines = data.splitlines(keepends=True)
    size = -(-len(lines) // count)
    paths = []
    for i in range(count):
        path = where / f"segment-{i:02d}.zst"
        path.write_bytes(zstandard.ZstdCompressor(level=3).compress(
            b"".join(lines[i * size:(i + 1) * size])))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rules", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true", help="100,000 records, 1 run each")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per configuration; the fastest is shown")
    parser.add_argument("--jobs", type=int, default=0,
                        help="N for the jobs N and cluster rows [default: every core]")
    parser.add_argument("--no-cluster", action="store_true", help="skip the LocalCluster row")
    parser.add_argument("--floor", nargs=2, metavar=("LOG", "RULES"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        floor(*args.floor)
        return
    if args.generate:
        _generate(*args.generate)
        return

    n = 100_000 if args.quick else args.records
    repeat = 1 if args.quick else args.repeat
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    jobs = args.jobs or cores or 1
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "kumopy")],
                   check=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""})
    with tempfile.TemporaryDirectory(prefix="kumopy-bench-") as tmp:
        log = Path(tmp) / "20250101-000000.zst"
        rules_file = Path(tmp) / "dsn_rewrite.json"
        t0 = time.perf_counter()
        segdir = Path(tmp) / "segments"
        # made in another process: this one stays small, and the commands it
        # starts inherit its peak RSS (Linux keeps it across exec)
        subprocess.run([sys.executable, __file__, "--generate", str(log), str(rules_file),
                        str(segdir), str(n), str(args.rules)], check=True)
        print(f"generated {n:,} records ({log.stat().st_size / 1e6:.1f} MB zstd) and "
              f"{args.rules:,} rules in {time.perf_counter() - t0:.1f} s")
        print(f"cores: {cores}; N = {jobs}; load average before: "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")

        # (through _run_cli.py: the command in a process that also reports
        # its own CPU and its workers')
        kumopy = [sys.executable, str(REPO / "bench" / "_run_cli.py"), "replay", str(POLICY),
                  "--json",
                  "--map", f"{RULES_PATH}={rules_file}"]
        configs: list[tuple[str, list[str]]] = [
            ("floor", [sys.executable, __file__, "--floor", str(log), str(rules_file)]),
            ("jobs 1", [*kumopy, str(log), "--jobs", "1"]),
            (f"jobs {jobs}", [*kumopy, str(log), "--jobs", str(jobs)]),
            (f"{SEGMENTS} segments, jobs 1", [*kumopy, str(segdir), "--jobs", "1"]),
            (f"{SEGMENTS} segments, jobs {jobs}", [*kumopy, str(segdir), "--jobs", str(jobs)]),
        ]
        together = None
        if jobs > 1:
            files = sorted(str(p) for p in segdir.iterdir())
            together = f"{jobs} x jobs 1 at once"
            configs.append((together, []))
            shares = [[*kumopy, *files[i::jobs], "--jobs", "1"] for i in range(jobs)]
        cluster = None
        if not args.no_cluster:
            try:
                import distributed
            except ImportError:
                print("(no LocalCluster row: pip install 'kumopy[cluster]')")
            else:
                cluster = distributed.LocalCluster(
                    n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None, worker_dashboard_address=None,
                    silence_logs=50)
                configs.append((f"cluster, {jobs} workers",
                                [*kumopy, str(segdir), "--cluster", cluster.scheduler_address]))
        best: dict[str, dict[str, Any]] = {}
        rounds: list[dict[str, dict[str, Any]]] = []
        try:
            for _ in range(repeat):
                rounds.append({})
                for name, command in configs:
                    r = _popen_together(shares) if name == together else _popen_rusage(command)
                    rounds[-1][name] = r
                    if name not in best or r["wall"] < best[name]["wall"]:
                        best[name] = r
        finally:
            if cluster is not None:
                cluster.close()
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        _table(best, configs, jobs, n)
        _round_ratios(rounds, jobs, together)


def _table(best: dict[str, dict[str, Any]], configs: list[tuple[str, list[str]]],
           jobs: int, n: int) -> None:
    print()
    print(f"{'configuration':<26} {'read':>9} {'eligible':>9} {'rewritten':>9} {'wall s':>7} "
          f"{'records/s':>10} {'cpu s':>7} {'main':>6} {'workers':>7} {'peak RSS':>9}")
    for name, _ in configs:
        r = best[name]
        cpu = "-" if name.startswith("cluster") else f"{r['cpu']:.2f}"
        main_cpu = f"{r['main_cpu']:.2f}" if "main_cpu" in r else "-"
        workers_cpu = (f"{r['workers_cpu']:.2f}"
                       if "workers_cpu" in r and not name.startswith("cluster") else "-")
        rewritten = f"{r['rewritten']:,}" if "rewritten" in r else "-"
        print(f"{name:<26} {r['read']:>9,} {r['eligible']:>9,} {rewritten:>9} "
              f"{r['wall']:>7.2f} {r['read'] / r['wall']:>10,.0f} {cpu:>7} {main_cpu:>6} "
              f"{workers_cpu:>7} {r['rss'] / 2**20:>7.0f} MB")
    rate = {name: best[name]["read"] / best[name]["wall"] for name, _ in configs}
    cpu_rate = {name: best[name]["read"] / best[name]["cpu"] for name, _ in configs}
    seg1, segn = f"{SEGMENTS} segments, jobs 1", f"{SEGMENTS} segments, jobs {jobs}"
    print("\nratios (this run):")
    print(f"  jobs 1 / floor, records/s by wall clock      {rate['jobs 1'] / rate['floor']:.2f}")
    print(f"  jobs 1 / floor, records per CPU second        "
          f"{cpu_rate['jobs 1'] / cpu_rate['floor']:.2f}")
    print(f"  jobs {jobs} / jobs 1, one file                     "
          f"{rate[f'jobs {jobs}'] / rate['jobs 1']:.2f}")
    print(f"  jobs {jobs} / jobs 1, {SEGMENTS} segments                  "
          f"{rate[segn] / rate[seg1]:.2f}")
    for one, many, what in (("jobs 1", f"jobs {jobs}", "one file"),
                            (seg1, segn, f"{SEGMENTS} segments")):
        # (the replay's own time, in its report: what a long log gets)
        if best[many].get("seconds"):
            label = f"jobs {jobs} / jobs 1, {what}, start-up excluded"
            print(f"  {label:<44} {best[one]['seconds'] / best[many]['seconds']:.2f}")
    print(f"  CPU of jobs {jobs} / CPU of jobs 1, one file      "
          f"{best[f'jobs {jobs}']['cpu'] / best['jobs 1']['cpu']:.2f}")
    for one, many, what in (("jobs 1", f"jobs {jobs}", "one file"),
                            (seg1, segn, f"{SEGMENTS} segments")):
        if jobs > 1 and "main_cpu" in best[many]:
            # each process on a core of its own: the busiest one decides
            busiest = max(best[many]["main_cpu"], best[many]["workers_cpu"] / (jobs - 1))
            label = f"jobs {jobs} / jobs 1, {what}, idle cores (est.)"
            print(f"  {label:<44} {best[one]['cpu'] / busiest:.2f}")
    if f"{jobs} x jobs 1 at once" in rate:
        ceiling = rate[f"{jobs} x jobs 1 at once"] / rate[seg1]
        print(f"  ceiling: {jobs} x jobs 1 at once / jobs 1, segments {ceiling:.2f}")
    cl = f"cluster, {jobs} workers"
    if cl in rate:
        print(f"  cluster / jobs 1, {SEGMENTS} segments                  "
              f"{rate[cl] / rate[seg1]:.2f}")
    print("\nrecords/s: wall clock, start-up included.  On a machine whose other load "
          "leaves no idle core,\nN jobs cannot beat one; the CPU ratio then tells the "
          "overhead of the extra processes.\nmain / workers: CPU seconds of the command's "
          "own process and of its worker processes;\n'idle cores (est.)': jobs 1's CPU over "
          "the busiest process's (main, or workers / (N - 1)).\n'start-up excluded': the "
          "replay's own seconds in its report, without the interpreter's and policy's "
          "start-up\n(what the ratio tends to on a long log).\n'ceiling': what N processes "
          "that share nothing give on this machine.")


def _round_ratios(rounds: list[dict[str, dict[str, Any]]], jobs: int,
                  together: str | None) -> None:
    """The ratios within each round of runs (taken one after the other):
    median and range over the rounds."""
    if jobs < 2:
        return
    seg1, segn = f"{SEGMENTS} segments, jobs 1", f"{SEGMENTS} segments, jobs {jobs}"
    pairs = [(f"jobs {jobs} / jobs 1, one file", f"jobs {jobs}", "jobs 1"),
             (f"jobs {jobs} / jobs 1, {SEGMENTS} segments", segn, seg1)]
    if together is not None:
        pairs.append((f"ceiling ({together} / jobs 1, segments)", together, seg1))
        pairs.append((f"jobs {jobs} / ceiling, one file", f"jobs {jobs}", together))
        pairs.append((f"jobs {jobs} / ceiling, {SEGMENTS} segments", segn, together))
    print(f"\nratios within each of the {len(rounds)} rounds: median (range)")
    for label, fast, slow in pairs:
        values = sorted(r[slow]["wall"] / r[fast]["wall"] for r in rounds)
        mid = len(values) // 2
        median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
        print(f"  {label:<50} {median:.2f} ({values[0]:.2f}-{values[-1]:.2f})")


if __name__ == "__main__":
    main()
