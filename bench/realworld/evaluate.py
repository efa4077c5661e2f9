"""How many public third-party KumoMTA policy files `kumopy validate` accepts
unmodified (issue 13).

The list of files (repository, commit, path, and the files beside it that the
policy reads) is `files.tsv` next to this script; the files themselves are
never part of kumopy.  They are fetched at run time into a temporary
directory, from GitHub (`raw.githubusercontent.com`, skipped with a note when
offline) or, with `--mirror DIR`, from local git mirrors laid out as
`DIR/OWNER+NAME/repo` (what the search tool's `fetch` produces).

Each file is validated as a user would: `kumopy validate --json` with
`--share` (KumoMTA's policy-extras, from --share or KUMOPY_SHARE_DIR, needed),
the policy's own directory mapped for `/opt/kumomta/etc/policy` and
`/opt/kumomta/etc/tsa`, and the file's `options` column (e.g. a `--dns-zone`
for the `localhost` lookup a docker policy makes in init).  The table
printed lists each file's verdict and first error; the last line is the
count.

    python bench/realworld/evaluate.py --share ~/kumomta/assets [--mirror DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def fetch(repo: str, commit: str, path: str, mirror: Path | None) -> bytes:
    if mirror is not None:
        git = mirror / repo.replace("/", "+") / "repo"
        return subprocess.run(["git", "-C", str(git), "show", f"{commit}:{path}"],
                              capture_output=True, check=True).stdout
    with urllib.request.urlopen(RAW.format(repo=repo, commit=commit, path=path),
                                timeout=10) as response:
        return bytes(response.read())


def kumopy() -> list[str]:
    local = Path(sys.executable).parent / "kumopy"
    return [str(local)] if local.exists() else [sys.executable, "-m", "kumopy.cli"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--share", default=os.environ.get("KUMOPY_SHARE_DIR"))
    parser.add_argument("--mirror", type=Path, default=None)
    parser.add_argument("--files", type=Path, default=HERE / "files.tsv")
    args = parser.parse_args()
    if not args.share:
        print("skipped: KumoMTA's share directory is needed (--share or KUMOPY_SHARE_DIR)")
        return 0
    with args.files.open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    results = []
    with tempfile.TemporaryDirectory(prefix="kumopy-realworld-") as tmp:
        for row in rows:
            base = Path(tmp) / row["repo"] / row["commit"][:12]
            wanted = [row["path"], *filter(None, row["companions"].split(","))]
            try:
                for name in wanted:
                    dest = base / name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(fetch(row["repo"], row["commit"], name, args.mirror))
            except (urllib.error.URLError, OSError, subprocess.CalledProcessError) as e:
                if args.mirror is None:
                    print(f"skipped: cannot fetch from GitHub ({e}); offline?")
                    return 0
                raise
            policy = base / row["path"]
            folder = policy.parent
            # extra options a user gives (a zone for `localhost`, ...); a
            # relative FILE is one shipped beside this script
            extra = [
                str(HERE / word) if (HERE / word).is_file() else word
                for word in (row.get("options") or "").split()
            ]
            cmd = [*kumopy(), "validate", "--json", "--share", args.share,
                   "--map", f"/opt/kumomta/etc/policy={folder}",
                   "--map", f"/opt/kumomta/etc/tsa={folder}", *extra, str(policy)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=folder, timeout=300)
            try:
                report = json.loads(proc.stdout.strip().splitlines()[-1])
                ok, errors = bool(report["ok"]), report.get("errors") or []
            except (IndexError, ValueError, KeyError):
                ok, errors = False, [line for line in proc.stderr.splitlines() if line][-1:]
            first = errors[0] if errors else ""
            first = first.replace(str(base) + "/", "")
            results.append((f"{row['repo']}/{row['path']}", ok, first))
    width = max(len(name) for name, _, _ in results)
    for name, ok, error in results:
        print(f"{name:<{width}}  {'valid' if ok else 'FAILS'}  {error[:160]}")
    valid = sum(1 for _, ok, _ in results if ok)
    repos = len({r["repo"] for r in rows})
    print(f"{valid} of {len(results)} files from {repos} repositories validate unmodified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
