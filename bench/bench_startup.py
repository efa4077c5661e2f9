"""Start-up of `kumopy` commands: what a user waits for before any work.

Rows, each a new process (`python -m kumopy.cli ...`), from compiled
bytecode as an installed kumopy runs:

- `--version`: the interpreter and the imports every command pays;
- `lint` on 1,000 generated rules (bench_lint's realistic set);
- `validate` of the example policy with its shipped rules (`--map`);
- `replay` of the example policy over the 150-record sample log with a
  1,000-rule map: imports, policy load, building the map, almost no records.

Columns: wall seconds and CPU seconds (best of --repeat runs, interleaved),
peak RSS.  With `--against REV`, the same rows for the commit REV (checked
out into a temporary git worktree and put first on PYTHONPATH), measured in
the same run, interleaved with this tree's, and the ratio of CPU seconds.

Run: `python bench/bench_startup.py [--repeat N] [--against REV]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from bench_lint import realistic  # noqa: E402

MAP = "/opt/kumomta/etc/policy/dsn_rewrite.json"


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """`python -m kumopy.cli ARGS` in the tree env["PYTHONPATH"] names (its
    working directory: `-m` puts that first on sys.path): (wall s, CPU s,
    peak RSS MiB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "kumopy.cli", *args], env=env,
                            cwd=env["PYTHONPATH"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1, 3):
        raise SystemExit(f"kumopy {' '.join(args)} exited with {code}:\n{err.decode()}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--against", metavar="REV", help="also measure this commit")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kumopy-startup-") as tmp:
        rules = os.path.join(tmp, "rules.json")
        with open(rules, "w", encoding="utf-8") as f:
            json.dump(realistic(1000), f, indent=1)
        policy = "policies/dsn-rewrite/init.lua"
        rows = {
            "--version": ["--version"],
            "lint, 1,000 rules": ["lint", rules],
            "validate": ["validate", policy, "--map",
                         f"{MAP}=policies/dsn-rewrite/dsn_rewrite.json"],
            "replay, 1,000 rules": ["replay", policy, "policies/dsn-rewrite/sample-log.jsonl",
                                    "--map", f"{MAP}={rules}", "--jobs", "1", "--json"],
        }
        base = {k: v for k, v in os.environ.items()
                if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
        trees: dict[str, dict[str, str]] = {
            "this tree": dict(base, PYTHONPYCACHEPREFIX=os.path.join(tmp, "pyc-this"),
                              PYTHONPATH=str(REPO))}
        if args.against:
            where = os.path.join(tmp, "against")
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", where,
                            args.against], check=True)
            trees[args.against] = dict(base, PYTHONPATH=where,
                                       PYTHONPYCACHEPREFIX=os.path.join(tmp, "pyc-against"))
        try:
            for env in trees.values():  # write the bytecode caches
                run(["--version"], env)
                run(rows["validate"], env)
                run(rows["lint, 1,000 rules"], env)
                run(rows["replay, 1,000 rules"], env)
            print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            got: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
            for _ in range(args.repeat):
                for row, argv in rows.items():
                    for tree, env in trees.items():
                        got.setdefault((tree, row), []).append(run(argv, env))
            print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        finally:
            if args.against:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                                os.path.join(tmp, "against")], check=False)
        print()
        names = list(trees)
        head = "".join(f"{n[:12]:>28}" for n in names)
        print(f"{'command':<22}{head}{'  CPU ratio' if len(names) == 2 else ''}")
        print(f"{'':<22}" + "".join(f"{'wall s  CPU s  RSS MB':>28}" for _ in names))
        for row in rows:
            line = f"{row:<22}"
            cpus = []
            for tree in names:
                runs = got[(tree, row)]
                wall = min(r[0] for r in runs)
                cpu = min(r[1] for r in runs)
                rss = max(r[2] for r in runs)
                cpus.append(cpu)
                line += f"{wall:>13.2f}{cpu:>7.2f}{rss:>8.0f}"
            if len(cpus) == 2:
                line += f"{cpus[0] / cpus[1]:>11.2f}"
            print(line)
        print(f"\nbest of {args.repeat} runs each, interleaved; "
              "CPU ratio: this tree / the other.")


if __name__ == "__main__":
    main()
