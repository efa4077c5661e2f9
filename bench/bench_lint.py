"""Time and memory of `kumopy lint` on generated rule sets.

Rows: 100, 1,000 and 10,000 realistic rules (KumoMTA style,
`^5\\d\\d 5\\.1\\.1 .*text`, values separated by their enhanced codes, so
the set is clean but for what the generator plants: one rule in 200 with
another value on an existing head), and 1,000 unanchored substring rules
with four values (every pair with different values overlaps: the dense
case).  The 10,000-rule set is larger than kumod's NFA size limit, which
lint reports (that row also measures the size check).

Columns:

* `command`: what users run, `kumopy lint FILE` in a new process (the rules
  written to a JSON file), wall-clock seconds and, in parentheses, the CPU
  seconds of that process (on a shared machine the wall clock also counts
  other processes' time); each the best of 3 runs.  The commands run as an
  installed kumopy does, from compiled bytecode (the benchmark writes it to
  a temporary cache first, even where PYTHONDONTWRITEBYTECODE is set).  The
  `start-up` row is `kumopy --version`: the interpreter and the import of
  kumopy, which every command pays; `start-up, no .pyc` the same when
  every module is compiled from source at each start.
* `lint cold` / `lint warm`: CPU seconds of `lint_rules` in a fresh process
  (the first call loads what the patterns need), then again in that
  process (translations are cached by then); best of 3 processes.
* `peak RSS`: the largest resident set of the `kumopy lint` processes.

Run: `python bench/bench_lint.py` (about two minutes).
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

WORDS = ("mailbox user account quota storage over full unknown disabled inactive suspended "
         "spam blocked policy rejected reputation rate limited greylisted later again "
         "address recipient domain relay denied message content virus sender dmarc "
         "authentication required temporary failure service unavailable exceeded size "
         "invalid mailbox not found does exist no such here sorry try connection").split()
FAMILIES = {
    550: ["5.1.1", "4.1.1", "5.1.2", "5.1.6", "4.2.1", "5.1.10"],
    552: ["5.2.2", "4.2.2", "4.3.1", "5.3.4"],
    554: ["5.7.1", "5.7.0", "5.7.28", "4.7.28", "5.7.26"],
    451: ["4.7.0", "4.4.1", "4.4.2", "4.3.0", "4.7.1"],
}
CODES = [r"{c}\d\d", r"{c}5[0-2]", r"{c}21", r"{c}50", r"{c}5[04]"]


def realistic(n: int, seed: int = 1) -> dict[str, int]:
    rng = random.Random(seed)
    rules: dict[str, int] = {}
    heads: list[str] = []
    while len(rules) < n:
        value = rng.choice(sorted(FAMILIES))
        enh = rng.choice(FAMILIES[value])
        if heads and len(rules) % 200 == 199:  # a planted overlap
            head = rng.choice(heads)
            owner = next(v for v, codes in FAMILIES.items() if head in codes)
            value = rng.choice([v for v in FAMILIES if v != owner])
            enh = head
        code = rng.choice(CODES).format(c=enh[0])
        phrase = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
        head_text = "^" + code + " " + re.escape(enh) + " "
        shape = rng.random()
        if shape < 0.5:
            pattern = head_text + ".*" + phrase
        elif shape < 0.75:
            pattern = "(?i)" + head_text + r".*\b" + phrase + r"\b"
        elif shape < 0.85:
            pattern = head_text
        else:
            pattern = head_text + ".*(" + "|".join(rng.sample(WORDS, 3)) + ")"
        if pattern not in rules:
            rules[pattern] = value
            heads.append(enh)
    return {p: v for p, v in rules.items()}


def unanchored(n: int, seed: int = 2) -> dict[str, int]:
    rng = random.Random(seed)
    rules: dict[str, int] = {}
    while len(rules) < n:
        phrase = " ".join(rng.sample(WORDS, rng.randint(1, 4)))
        rules["(?i)" + phrase] = rng.choice(sorted(FAMILIES))
    return rules


def child(kind: str, n: int) -> None:
    from kumopy._lint import lint_rules

    rules = realistic(n) if kind == "realistic" else unanchored(n)
    t0 = time.process_time()
    findings = lint_rules(rules)
    cold = time.process_time() - t0
    t0 = time.process_time()
    lint_rules(rules)
    warm = time.process_time() - t0
    kinds: dict[str, int] = {}
    for f in findings:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    total = sum(1 for f in findings if f.kind == "overlap" and f.patterns)
    for f in findings:
        if f.kind == "overlap" and not f.patterns:
            total += int(f.message.split(" ", 1)[0])
    print(json.dumps({"cold": cold, "warm": warm, "kinds": kinds, "overlaps": total}))


def command(*args: str, env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Run `kumopy ARGS` in a new process: (wall s, CPU s, peak RSS MiB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "kumopy.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"kumopy {' '.join(args)} exited with {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def best_of(runs: int, *args: str, env: dict[str, str] | None = None
            ) -> tuple[float, float, float]:
    got = [command(*args, env=env) for _ in range(runs)]
    return min(w for w, _, _ in got), min(c for _, c, _ in got), max(r for _, _, r in got)


def main() -> None:
    rows = [("realistic", 100), ("realistic", 1000), ("realistic", 10_000),
            ("unanchored", 1000)]
    print(f"{'rules':>18} {'command s (CPU)':>16} {'lint cold':>10} {'lint warm':>10} "
          f"{'overlapping pairs':>18} {'peak RSS MiB':>13}  findings")
    with tempfile.TemporaryDirectory() as tmp:
        # as an installed kumopy runs: from compiled bytecode (pip writes it
        # at install time; here the first run writes it to a temporary
        # cache, whatever PYTHONDONTWRITEBYTECODE says)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pycache")
        bare = dict(env, PYTHONDONTWRITEBYTECODE="1")
        bare.pop("PYTHONPYCACHEPREFIX")
        wall, cpu, rss = best_of(3, "--version", env=bare)
        print(f"{'start-up, no .pyc':>18} {wall:7.2f} ({cpu:5.2f}) {'':>10} {'':>10} {'':>18} "
              f"{rss:13.0f}")
        warm_up = os.path.join(tmp, "warm-up.json")
        with open(warm_up, "w", encoding="utf-8") as f:
            json.dump(realistic(20), f)
        command("lint", warm_up, env=env)
        wall, cpu, rss = best_of(3, "--version", env=env)
        print(f"{'start-up':>18} {wall:7.2f} ({cpu:5.2f}) {'':>10} {'':>10} {'':>18} {rss:13.0f}")
        for kind, n in rows:
            rules = realistic(n) if kind == "realistic" else unanchored(n)
            path = os.path.join(tmp, f"{kind}-{n}.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(rules, f, indent=1)
            wall, cpu, rss = best_of(3, "lint", path, env=env)
            runs = []
            for _ in range(3):
                out = subprocess.run([sys.executable, __file__, "--child", kind, str(n)],
                                     capture_output=True, text=True, check=True, env=env)
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = runs[0]
            r["cold"] = min(x["cold"] for x in runs)
            r["warm"] = min(x["warm"] for x in runs)
            label = f"{n:,} {kind}"
            print(f"{label:>18} {wall:7.2f} ({cpu:5.2f}) {r['cold']:10.2f} {r['warm']:10.2f} "
                  f"{r['overlaps']:18,} {rss:13.0f}  {r['kinds']}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
