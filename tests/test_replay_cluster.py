"""`kumopy replay --cluster`: the same report and --out as one job, on a
Dask LocalCluster of two worker processes (loopback only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kumopy._replay import ReplayError, ReplaySpec, replay
from kumopy._replay._sample import write_log
from kumopy.cli import cli

distributed = pytest.importorskip("distributed")

RULES_PATH = "/opt/kumomta/etc/policy/dsn_rewrite.json"
POLICY = """
local kumo = require 'kumo'
local load = kumo.memoize(function()
  return kumo.regex_set_map.new(kumo.json_load('/opt/kumomta/etc/policy/dsn_rewrite.json'))
end, {name = 'rules', ttl = '5 minutes', capacity = 1})
kumo.on('smtp_client_rewrite_delivery_status', function(response)
  if string.find(response, '#42$') then error('handler failed on #42') end
  return load()[response]
end)
"""


@pytest.fixture(scope="module")
def cluster() -> Any:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  worker_dashboard_address=None) as c:
        yield c


@pytest.fixture
def logs(tmp_path: Path) -> tuple[ReplaySpec, list[str]]:
    (tmp_path / "rules.json").write_text(json.dumps({r"^45[0-9] .*#1[0-9]$": 552,
                                                      r"(?i)quota.* #[0-9]*7$": 550}))
    (tmp_path / "init.lua").write_text(POLICY)
    paths = []
    for i in range(4):
        path = tmp_path / f"2025010{i}-000000.zst"
        write_log(str(path), 4_000, seed=10 + i, compress=True, match_range=100)
        paths.append(str(path))
    (tmp_path / "broken.log").write_text('{"type":"Bounce", oops}\nnot json\n')
    paths.append(str(tmp_path / "broken.log"))
    spec = ReplaySpec(str(tmp_path / "init.lua"),
                      path_map=((RULES_PATH, str(tmp_path / "rules.json")),))
    return spec, paths


def _run(spec: ReplaySpec, paths: list[str], tmp_path: Path, **kw: Any) -> tuple[Any, str, list[str]]:
    out = tmp_path / "out.jsonl"
    problems: list[str] = []
    with out.open("w") as f:
        report = replay(spec, paths, out=f, on_problem=lambda p: problems.append(str(p)), **kw)
    data = report.to_json()
    for key in ("seconds", "records_per_second", "jobs", "cluster"):
        data.pop(key, None)
    return data, out.read_text(), problems


def test_cluster_gives_the_report_and_out_of_one_job(cluster: Any, logs: Any,
                                                     tmp_path: Path) -> None:
    spec, paths = logs
    one = _run(spec, paths, tmp_path, jobs=1)
    on_cluster = _run(spec, paths, tmp_path, cluster=cluster.scheduler_address)
    assert on_cluster == one
    data, out, problems = one
    assert data["rewritten"] > 50 and data["errors"] > 0 and data["malformed"] == 2
    assert out.count("\n") == data["rewritten"] and len(problems) > 2


def test_cli_cluster_option(cluster: Any, logs: Any, tmp_path: Path) -> None:
    spec, paths = logs
    out = tmp_path / "cli.jsonl"
    args = ["replay", spec.policy, *paths[:4], "--cluster", cluster.scheduler_address,
            "--map", f"{RULES_PATH}={dict(spec.path_map)[RULES_PATH]}", "--json",
            "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    lines = [x for x in result.output.splitlines() if x.startswith("{")]
    assert lines, result.output
    report = json.loads(lines[0])
    assert report.get("cluster") == cluster.scheduler_address, result.output
    assert report["jobs"] == 2 and report["files"] == 4
    local = _run(spec, paths[:4], tmp_path, jobs=1)
    assert out.read_text() == local[1]
    assert CliRunner().invoke(cli, args + ["--jobs", "2"]).exit_code == 2  # not both


def test_unreachable_scheduler_is_a_clear_error(logs: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from kumopy._replay import _cluster

    monkeypatch.setattr(_cluster, "CONNECT_TIMEOUT", "2s")
    spec, paths = logs
    with pytest.raises(ReplayError, match="cannot reach the Dask scheduler"):
        replay(spec, paths[:1], cluster="tcp://127.0.0.1:9")
