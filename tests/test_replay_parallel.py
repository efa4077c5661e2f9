"""`--jobs`: worker processes give the same report and --out as one job,
a dying worker stops the run with a clear error, and the default number of
jobs never spends processes on a small log."""

from __future__ import annotations

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


def test_jobs_give_the_report_and_out_of_one_job(setup: Any, tmp_path: Path) -> None:
    spec, paths = setup
    one = _run(spec, paths, 1, tmp_path)
    assert one[0]["rewritten"] > 50
    # 2 jobs on 3 files: whole files per worker; 4 jobs: batches of a stream
    for jobs in (2, 4):
        assert _run(spec, paths, jobs, tmp_path) == one
    single = _run(spec, paths[:1], 1, tmp_path)
    assert _run(spec, paths[:1], 3, tmp_path) == single


@pytest.mark.parametrize("files", [1, 3])
def test_a_worker_that_dies_stops_the_run_with_a_clear_error(setup: Any, files: int) -> None:
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
    """One file, two jobs (each process takes every other batch): a worker's
    failure ends the run with one error naming it, without waiting for the
    rest of its share."""
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
