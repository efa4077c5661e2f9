"""tsa-daemon and KumoProxy policies: `require 'tsa'`, `require 'proxy'`,
and `kumopy validate` starting them the way their daemons do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kumopy import Policy, PolicyError
from kumopy.cli import cli

SHAPING = """
[default]
connection_limit = 3

["example.com"]
mx_rollup = false
max_message_rate = "50/s"
"""

TSA_POLICY = """
local tsa = require 'tsa'
local kumo = require 'kumo'

kumo.on('tsa_init', function()
  tsa.configure_tsa_db_path '/var/spool/kumomta/tsa-test.db'
  tsa.start_http_listener {
    listen = '0.0.0.0:8008',
    trusted_hosts = { '127.0.0.1', '::1' },
  }
end)

local cached_load = kumo.memoize(kumo.shaping.load, {
  name = 'tsa_load_shaping_data', ttl = '5 minutes', capacity = 4,
})

kumo.on('tsa_load_shaping_data', function()
  return cached_load { '/opt/kumomta/etc/policy/shaping.toml' }
end)
"""


def _write(tmp_path: Path, policy: str = TSA_POLICY) -> tuple[Path, dict[str, str]]:
    (tmp_path / "shaping.toml").write_text(SHAPING)
    path = tmp_path / "tsa_init.lua"
    path.write_text(policy)
    return path, {"/opt/kumomta/etc/policy": str(tmp_path)}


def test_validate_runs_a_tsa_policy_like_tsa_daemon(tmp_path: Path) -> None:
    path, path_map = _write(tmp_path)
    policy = Policy.load(path, path_map=path_map, validating=True)
    report = policy.validate()
    assert report.ok, report.errors
    assert report.warnings == []
    (listener,) = report.server["listeners"]
    assert listener["kind"] == "http" and listener["params"]["listen"] == "0.0.0.0:8008"
    assert report.server["settings"]["tsa_db_path"] == "/var/spool/kumomta/tsa-test.db"


def test_tsa_load_shaping_data_must_return_shaping(tmp_path: Path) -> None:
    path, path_map = _write(tmp_path, TSA_POLICY.replace(
        "return cached_load { '/opt/kumomta/etc/policy/shaping.toml' }", "return 42"))
    report = Policy.load(path, path_map=path_map, validating=True).validate()
    assert not report.ok
    assert "in tsa_load_shaping_data event: the handler returned int" in report.errors[0]
    assert "tsa_init.lua:" in report.errors[0]


def test_a_broken_tsa_init_fails_at_the_users_line(tmp_path: Path) -> None:
    path, path_map = _write(tmp_path, TSA_POLICY.replace("listen = '0.0.0.0:8008',",
                                                         "listen = '0.0.0.0:8008', bogus = 1,"))
    report = Policy.load(path, path_map=path_map, validating=True).validate()
    assert not report.ok
    assert report.errors[0].startswith("in tsa_init event: ")
    assert "tsa_init.lua:7:" in report.errors[0] and "unknown field `bogus`" in report.errors[0]


def test_validate_cli_with_a_tsa_policy(tmp_path: Path) -> None:
    path, _ = _write(tmp_path)
    result = CliRunner().invoke(cli, [
        "validate", "--fail-on-warning", "--json",
        "--map", f"/opt/kumomta/etc/policy={tmp_path}", str(path),
    ])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert {e["name"] for e in report["events"]} == {"tsa_init", "tsa_load_shaping_data"}


def test_the_shaping_file_missing_names_the_map_option(tmp_path: Path) -> None:
    path = tmp_path / "tsa_init.lua"
    path.write_text(TSA_POLICY)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0  # tsa-daemon starts with shaping errors too
    assert "kumopy: warning: shaping data: local shaping source" in result.output
    failed = CliRunner().invoke(cli, ["validate", "--fail-on-warning", str(path)])
    assert failed.exit_code == 1
    assert "/opt/kumomta/etc/policy/shaping.toml" in result.output
    assert "--map /opt/kumomta/etc/policy=" in result.output


def test_proxy_module_records_listeners(load: Any) -> None:
    p = load("""
        local proxy = require 'proxy'
        kumo.on('proxy_init', function()
          proxy.start_proxy_listener { listen = '0.0.0.0:5000', timeout = '30s' }
          proxy.start_http_listener { listen = '127.0.0.1:8080' }
        end)
    """)
    p.dispatch("proxy_init")
    kinds = [(e["kind"], e["params"]["listen"]) for e in p.server_config.listeners]
    assert kinds == [("proxy", "0.0.0.0:5000"), ("http", "127.0.0.1:8080")]
    assert p.server_config.listeners[0]["params"]["timeout"] == "30s"
    with pytest.raises(PolicyError, match="missing field `listen`"):
        p.state.invoke(p.state.rt.eval("function() require('proxy').start_proxy_listener {} end"))


def test_modules_are_not_globals_as_in_kumod(load: Any) -> None:
    p = load("kumo.on('t', function() return sqlite, redis, tsa, proxy end)")
    assert p.dispatch("t").values == (None, None, None, None)


# -- --fail-on-warning with KumoMTA's helpers ---------------------------------


def test_events_registered_by_helpers_are_not_warnings(tmp_path: Path) -> None:
    share = tmp_path / "share"
    (share / "policy-extras").mkdir(parents=True)
    (share / "policy-extras" / "hooks.lua").write_text(
        "local kumo = require 'kumo'\n"
        "local M = {}\n"
        "function M.setup()\n"
        "  kumo.on('kumo.tsa.config.monitor', function() end)\n"
        "  kumo.on('make.webhook.log_hook', function() end)\n"
        "end\n"
        "return M\n"
    )
    policy = tmp_path / "init.lua"
    policy.write_text(
        "local kumo = require 'kumo'\n"
        "require('policy-extras.hooks').setup()\n"
        "kumo.on('init', function()\n"
        "  kumo.configure_log_hook { name = 'audit' }\n"
        "end)\n"
        "kumo.on('make.audit', function() end)\n"
    )
    ok = CliRunner().invoke(cli, ["validate", "--fail-on-warning", "--share", str(share),
                                  str(policy)])
    assert ok.exit_code == 0, ok.output
    # the user's own unknown event names are still warnings
    with policy.open("a") as f:
        f.write("kumo.on('smtp_server_mesage_received', function() end)\n")
    bad = CliRunner().invoke(cli, ["validate", "--fail-on-warning", "--share", str(share),
                                   str(policy)])
    assert bad.exit_code == 1
    assert "did you mean 'smtp_server_message_received'" in bad.output


@pytest.mark.skipif("KUMOMTA_POLICY_EXTRAS" not in __import__("os").environ,
                    reason="needs KumoMTA's policy-extras (KUMOMTA_POLICY_EXTRAS)")
def test_stock_shaping_and_log_hook_helpers_pass_fail_on_warning(tmp_path: Path) -> None:
    import os

    share = Path(os.environ["KUMOMTA_POLICY_EXTRAS"]).parent
    (tmp_path / "shaping.toml").write_text('["example.com"]\nmx_rollup = false\n')
    policy = tmp_path / "init.lua"
    policy.write_text(
        "local kumo = require 'kumo'\n"
        "local shaping = require 'policy-extras.shaping'\n"
        "local log_hooks = require 'policy-extras.log_hooks'\n"
        "local shaper = shaping:setup_with_automation {\n"
        "  publish = { 'http://127.0.0.1:8008' }, subscribe = { 'http://127.0.0.1:8008' },\n"
        "  extra_files = { '/opt/kumomta/etc/policy/shaping.toml' },\n"
        "}\n"
        "log_hooks:new_json { name = 'webhook', url = 'http://127.0.0.1:4242/log' }\n"
        "kumo.on('init', function()\n"
        "  kumo.start_esmtp_listener { listen = '0:25' }\n"
        "  shaper.setup_publish()\n"
        "end)\n"
        "kumo.on('get_egress_path_config', shaper.get_egress_path_config)\n"
    )
    result = CliRunner().invoke(cli, [
        "validate", "--fail-on-warning", "--share", str(share),
        "--map", f"/opt/kumomta/etc/policy={tmp_path}", str(policy)])
    assert result.exit_code == 0, result.output
    assert "kumo.tsa.config.monitor" in result.stdout


def test_available_parallelism_is_this_machines_cpus(load: Any) -> None:
    import os

    p = load("kumo.on('t', function() return kumo.available_parallelism() end)")
    assert p.call("t") == len(os.sched_getaffinity(0))


def test_available_parallelism_honours_kumods_variable(load: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("KUMO_AVAILABLE_PARALLELISM", "3")
    p = load("kumo.on('t', function() return kumo.available_parallelism() end)")
    assert p.call("t") == 3
    monkeypatch.setenv("KUMO_AVAILABLE_PARALLELISM", "many")
    with pytest.raises(PolicyError, match="failed to parse KUMO_AVAILABLE_PARALLELISM"):
        p.call("t")


def test_enable_memory_callstack_tracking_is_recorded(load: Any) -> None:
    p = load("kumo.on('init', function() kumo.enable_memory_callstack_tracking(true) end)")
    p.dispatch("init")
    assert p.server_config.settings["memory_callstack_tracking"] is True
