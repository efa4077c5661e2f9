"""The cost of kumo.file_type: loading the database and one lookup.

Prints the data file's size, how long a first load takes (read + decode
the header; formats are decoded on first use) and what decoding every
format costs, then the median microseconds per call, from Lua, of
`from_extension`, `from_media_type` and `from_bytes` (on a few contents),
next to `kumo.log_debug` (a kumo function that returns at once) measured
in the same run: compare the ratios, not the absolute numbers.

The database is $KUMOPY_FILE_TYPE_DB when set (build the real one with
`kumopy file-type build --crate-src DIR`), else one built from the test
fixture crate (a handful of formats: only the call overhead shows).

Run: `make bench` or `python bench/bench_filetype.py`.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from kumopy import Policy
from kumopy._filetype import _db, build

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "file_type_crate"
LOOP = 2_000
REPEATS = 7

POLICY = """
local kumo = require 'kumo'
kumo.on('time', function(which, arg, n)
  local f = ({
    noop = kumo.log_debug,
    ext = kumo.file_type.from_extension,
    mt = kumo.file_type.from_media_type,
    bytes = kumo.file_type.from_bytes,
  })[which]
  local t0 = os.clock()
  for i = 1, n do f(arg) end
  return os.clock() - t0
end)
"""

CONTENTS = {
    "from_bytes (PNG header, 64 KiB)": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 65_000,
    "from_bytes (text, 64 KiB)": b"hello, world\n" * 5_000,
    "from_bytes (MZ, 1 MiB, no PE)": b"MZ" + b"\x90" * (1 << 20),
}


def median_us(policy: Policy, which: str, arg: object, n: int) -> float:
    samples = [policy.dispatch("time", which, arg, n).value / n * 1e6 for _ in range(REPEATS)]
    return statistics.median(samples)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(os.environ.get(_db.ENV_VAR) or Path(tmp) / "fixture.jsonl")
        if not os.environ.get(_db.ENV_VAR):
            build(FIXTURE, db_path)
            os.environ[_db.ENV_VAR] = str(db_path)
            print(f"(no ${_db.ENV_VAR}: using the fixture crate's {db_path.stat().st_size} bytes)")
        loads = []
        for _ in range(5):
            _db._cache.clear()
            t0 = time.perf_counter()
            db = _db.load(db_path)
            loads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        db.check()
        decode_all = time.perf_counter() - t0
        print(f"database: {db_path} ({db_path.stat().st_size / 1e6:.2f} MB, {len(db)} formats)")
        print(f"first load (median of 5): {statistics.median(loads) * 1e3:.1f} ms; "
              f"decoding every format: {decode_all * 1e3:.1f} ms")

        path = Path(tmp) / "init.lua"
        path.write_text(POLICY)
        policy = Policy.load(path)
        rows = [("kumo.log_debug (floor)", median_us(policy, "noop", "x", LOOP))]
        rows.append(("from_extension('png')", median_us(policy, "ext", "png", LOOP)))
        rows.append(("from_extension('nope')", median_us(policy, "ext", "nope", LOOP)))
        rows.append(("from_media_type('image/png')", median_us(policy, "mt", "image/png", LOOP)))
        for label, content in CONTENTS.items():
            rows.append((label, median_us(policy, "bytes", content, max(20, LOOP // 20))))
        floor = rows[0][1]
        width = max(len(r[0]) for r in rows)
        print(f"{'call from Lua':<{width}}  {'us/call':>9}  {'x floor':>8}")
        for label, us in rows:
            print(f"{label:<{width}}  {us:9.2f}  {us / floor:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
