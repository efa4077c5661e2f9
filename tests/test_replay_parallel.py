"""`--jobs`: worker processes give the same report and --out as one job,
a dying worker stops the run with a clear error, and the default number of
jobs never spends processes on a small log."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from kumopy import Policy
from kumopy._replay import ReplayError, ReplaySpec, default_jobs, replay
from kumopy._replay._engine import JOB_BYTES, cores
from kumopy._replay._sample import write_log

RULES_PATH = "/opt/kumomta/etc/policy/dsn_rewrite.json"
POLICY = """
local kumo = require 'kumo'
local rules = kumo.regex_set_map.new(kumo.json_load('/opt/kumomta/etc/policy/dsn_rewrite.json'))
kumo.on('smtp_client_rewrite_delivery_status', function(response)
  if string.find(response, '#1%d$') and die then die() end
  return rules[response]
end)
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[ReplaySpec, list[str]]:
    (tmp_path / "rules.json").write_text(json.dumps({r"^45[0-9] .*#1[0-9]$": 552,
                                                      r"(?i)quota.* #[0-9]*7$": 550}))
    (tmp_path / "init.lua").write_text(POLICY)
    paths = []
    for i in range(3):
        path = tmp_path / f"seg{i}.zst"
        write_log(str(path), 6_000, seed=i, compress=True, match_range=100)
        paths.append(str(path))
    spec = ReplaySpec(str(tmp_path / "init.lua"),
                      path_map=((RULES_PATH, str(tmp_path / "rules.json")),))
    return spec, paths


def _run(spec: ReplaySpec, paths: list[str], jobs: int, tmp_path: Path) -> tuple[Any, str]:
    out = tmp_path / f"out-{jobs}-{len(paths)}.jsonl"
    with out.open("w") as f:
        report = replay(spec, paths, jobs=jobs, out=f)
    data = report.to_json()
    for key in ("seconds", "records_per_second", "jobs"):
        data.pop(key)
    return data, out.read_text()


def test_jobs_give_the_report_and_out_of_one_job(
        setup: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kumopy._replay import _engine

    spec, paths = setup
    one = _run(spec, paths, 1, tmp_path)
    assert one[0]["rewritten"] > 50
    # pieces the main process reads, to whichever worker has room
    for jobs in (2, 4):
        assert _run(spec, paths, jobs, tmp_path) == one
    # past SPREAD_JOBS, given as many files: whole files per worker
    monkeypatch.setattr(_engine, "SPREAD_JOBS", 1)
    assert _run(spec, paths, 2, tmp_path) == one
    assert _run(spec, paths, 4, tmp_path) == one
    single = _run(spec, paths[:1], 1, tmp_path)
    assert _run(spec, paths[:1], 3, tmp_path) == single


@pytest.mark.parametrize("files", [1, 3])
@pytest.mark.parametrize("spread_jobs", [8, 1])
def test_a_worker_that_dies_stops_the_run_with_a_clear_error(
        setup: Any, files: int, spread_jobs: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from kumopy._replay import _engine

    monkeypatch.setattr(_engine, "SPREAD_JOBS", spread_jobs)
    spec, paths = setup
    # the policy of the parent (inherited by forked workers) can kill a worker
    parent = os.getpid()

    def die() -> None:
        if os.getpid() != parent:
            os._exit(7)

    policy = Policy.load(spec.policy, path_map=dict(spec.path_map),
                         setup_state=lambda st: st.set_global("die", die))
    with pytest.raises(ReplayError, match=r"replay worker \d died \(exit 7\)"):
        replay(spec, paths[:files], jobs=2, policy=policy)


def test_default_jobs_is_one_for_a_small_log(setup: Any, tmp_path: Path) -> None:
    _, paths = setup
    assert default_jobs(paths) == 1  # a few hundred kilobytes
    big = tmp_path / "big"
    big.write_bytes(b"\n" * (3 * JOB_BYTES))
    assert default_jobs([str(big)]) == min(cores(), 3)
    assert default_jobs(["s3://bucket/a", "s3://bucket/b"]) == min(cores(), 2)


def test_a_worker_that_fails_in_a_shared_file_stops_the_run(
        setup: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """One file, two jobs (the worker gets pieces through shared memory): a
    worker's failure ends the run with one error naming it."""
    from kumopy._replay import _engine

    spec, paths = setup
    parent = os.getpid()
    real = _engine.Worker.run

    def run(self: Any, batch: Any) -> Any:
        if os.getpid() != parent:
            raise RuntimeError("worker broke")
        return real(self, batch)

    monkeypatch.setattr(_engine.Worker, "run", run)
    with pytest.raises(ReplayError, match=r"(?s)replay worker 1 failed.*worker broke"):
        replay(spec, paths[:1], jobs=2)


@pytest.mark.parametrize("seed", range(4))
def test_pieces_in_other_processes_keep_the_files_line_numbers(
        setup: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """One messy file (blank, broken and over-long lines, a zstd stream
    cut short), small reads and pieces so that each worker gets many, some
    through the pipe (larger than a slot): 1, 2 and 3 jobs give the same
    report, --out and problems, and the problems are at the lines where
    the bad lines were written."""
    import random

    import zstandard

    from kumopy._replay import _parallel, _reader, _scan
    from kumopy._replay._sample import records

    spec, _ = setup
    rng = random.Random(seed)
    monkeypatch.setattr(_reader, "READ_SIZE", 4096)
    monkeypatch.setattr(_reader, "OUT_SIZE", rng.choice((3000, 8192)))
    monkeypatch.setattr(_scan, "BATCH_BYTES", rng.choice((2000, 9000)))
    monkeypatch.setattr(_parallel, "SLOT", 9000)  # (larger pieces: the pipe)
    lines = [json.dumps(r, separators=(",", ":")).encode()
             for r in records(3_000, seed, 100)]
    bad = {}  # line number -> what the problem says
    for _ in range(12):
        at = rng.randrange(len(lines))
        kind = rng.choice(["blank", "junk", "long", "mid", "cut"])
        # (a long line grows too long across steps; a mid one may be
        # found too long within one step, by the process that replays it)
        size = {"long": 20_000, "mid": 5_000}.get(kind, 0)
        line = {"blank": b"", "junk": b"junk", "cut": b'{"type":"Bounce","id":"x'}.get(
            kind, b'{"type":"Bounce","x":"' + b"y" * size + b'"}')
        lines.insert(at, line)
        bad = {n + (n > at): text for n, text in bad.items()}
        if kind != "blank":
            bad[at + 1] = {"junk": "not a JSON object", "cut": "incomplete JSON object",
                           }.get(kind, "line longer than 4,000 bytes")
    data = b"\n".join(lines) + b"\n"
    cut = rng.random() < 0.5
    packed = zstandard.ZstdCompressor().compress(data)
    path = tmp_path / "log.zst"
    path.write_bytes(packed[: len(packed) * 9 // 10] if cut else packed)
    spec = dataclasses.replace(spec, max_line=4_000)

    def run(jobs: int) -> tuple[Any, str, list[str]]:
        problems: list[str] = []
        out = tmp_path / f"out{jobs}.jsonl"
        with out.open("w") as f:
            report = replay(spec, [str(path)], jobs=jobs, out=f,
                            on_problem=lambda p: problems.append(str(p)))
        data = report.to_json()
        for key in ("seconds", "records_per_second", "jobs"):
            data.pop(key)
        return data, out.read_text(), problems

    one = run(1)
    assert one[0]["rewritten"] > 5
    at = {int(p.split(":")[1]): p for p in one[2]}
    last = max(at) if cut else None
    assert set(at) <= set(bad) | {last}
    for n, text in bad.items():
        if last is None or n < last:
            assert text in at[n], (n, at.get(n))
    if cut:
        assert "zstd data ends in the middle of a frame after line" in at[last]
    for line in one[1].splitlines():  # --out names the line the record is on
        record = json.loads(line)
        assert json.loads(lines[record["line"] - 1])["id"] == record["id"]
    for jobs in (2, 3):
        assert run(jobs) == one


def test_large_pieces_and_large_parts_cross_the_pipes_without_a_deadlock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every piece through the pipe (no slot is large enough) while every
    record is rewritten (each part larger than a pipe's buffer): the run
    ends, with the report of one job."""
    import signal

    from kumopy._replay import _parallel, _reader, _scan

    (tmp_path / "init.lua").write_text(
        "local kumo = require 'kumo'\n"
        "kumo.on('smtp_client_rewrite_delivery_status', function() return 599 end)\n")
    path = tmp_path / "log"
    write_log(str(path), 30_000, seed=3)
    monkeypatch.setattr(_parallel, "SLOT", 1)
    monkeypatch.setattr(_reader, "READ_SIZE", 4 << 20)
    monkeypatch.setattr(_scan, "BATCH_BYTES", 1 << 20)
    spec = ReplaySpec(str(tmp_path / "init.lua"))
    one = _run(spec, [str(path)], 1, tmp_path)
    # (each part: more than a pipe's buffer holds)
    assert len(one[1]) > 5 * 300_000

    def stuck(*_: object) -> None:
        raise TimeoutError("the replay is stuck")

    signal.signal(signal.SIGALRM, stuck)
    signal.alarm(30)
    try:
        assert _run(spec, [str(path)], 2, tmp_path) == one
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


@pytest.mark.parametrize("spread_jobs", [8, 1])
def test_the_processes_share_what_they_learn_of_the_rules(
        setup: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spread_jobs: int) -> None:
    """A response one process has matched against the rules, the others
    take from the shared answers instead of asking RE2 again: across the
    processes, few responses are matched twice (each process alone would
    match every response it meets), and the report is one job's."""
    from kumopy._regex._shared import Answers
    from kumopy._replay import _engine, _parallel, _scan

    spec, paths = setup
    monkeypatch.setattr(_engine, "SPREAD_JOBS", spread_jobs)
    monkeypatch.setattr(_scan, "BATCH_BYTES", 20_000)  # (many pieces)
    seen: list[list[tuple[int, int, bytes, int]]] = []

    class Kept(Answers):
        def close(self) -> None:  # (what every process wrote, at the end)
            seen.append(list(self.entries()))
            super().close()

    monkeypatch.setattr(_parallel, "Answers", Kept)
    one = _run(spec, paths, 1, tmp_path)
    assert _run(spec, paths, 3, tmp_path) == one
    (entries,) = seen
    regions = {region for region, _, _, _ in entries}
    assert len(regions) >= 2  # (the main process and at least one worker)
    distinct = {(key, subject): answer for _, key, subject, answer in entries}
    assert len(distinct) > 200
    # the same response written by two processes: only when both met it
    # before either had written it
    assert len(entries) - len(distinct) < len(distinct) // 10
    assert {a for _, _, _, a in entries} & {0} and max(a for _, _, _, a in entries) > 0
