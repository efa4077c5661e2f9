"""The start-up flow of `kumod --validate` and the server configuration
calls of `init`: parameters checked as kumod does, recorded, never
started."""

from __future__ import annotations

import json
import socket
import textwrap

import pytest
from click.testing import CliRunner

from kumopy import Policy
from kumopy.cli import cli

MINIMAL = """
local kumo = require 'kumo'
kumo.on('init', function()
  kumo.start_esmtp_listener { listen = '0.0.0.0:25' }
  kumo.start_http_listener { listen = '127.0.0.1:8000' }
  kumo.define_spool { name = 'data', path = '/var/spool/kumomta/data' }
  kumo.define_spool { name = 'meta', path = '/var/spool/kumomta/meta' }
  kumo.configure_local_logs { log_dir = '/var/log/kumomta', max_segment_duration = '10s' }
end)
"""


def _validate(write, source: str) -> tuple[Policy, object]:
    path = write("init.lua", source)
    policy = Policy.load(path, validating=True, capture_output=True)
    return policy, policy.validate()


def test_minimal_policy_is_recorded_not_started(write, tmp_path):
    policy, report = _validate(write, MINIMAL)
    assert report.ok, report.errors
    server = policy.server_config
    esmtp = server.esmtp_listeners()
    assert [p["listen"] for p in esmtp] == ["0.0.0.0:25"]
    assert esmtp[0]["trace_headers"] is None and esmtp[0]["peer"] is None
    assert esmtp[0]["max_connections"] == 32 * 1024
    assert esmtp[0]["hostname"] is None
    http = server.http_listeners()[0]
    assert http["trusted_hosts"] == ["127.0.0.1", "::1"]
    assert http["hostname"] == socket.gethostname()
    assert [s["params"]["name"] for s in server.spools] == ["data", "meta"]
    assert server.spools[0]["params"]["kind"] == "LocalDisk"
    assert server.spools[0]["params"]["min_free_space"] == "10%"
    log = server.logs[0]["params"]
    assert log["max_segment_duration"] == "10s" and log["back_pressure"] == 128_000
    assert report.server["spools"] == server.spools


def test_spool_and_log_directories_are_not_created(write, tmp_path):
    spool, logs = tmp_path / "spool" / "data", tmp_path / "logs"
    _, report = _validate(
        write,
        "local kumo = require 'kumo'\nkumo.on('init', function()\n"
        f"  kumo.define_spool {{ name = 'data', path = '{spool}' }}\n"
        f"  kumo.configure_local_logs {{ log_dir = '{logs}' }}\n"
        "end)\n",
    )
    assert report.ok, report.errors
    assert not spool.exists() and not logs.exists()


def test_order_and_validation_flag(write):
    policy, report = _validate(
        write,
        """
        local kumo = require 'kumo'
        ORDER = {}
        table.insert(ORDER, 'top:' .. tostring(_VALIDATING_CONFIG))
        kumo.on('pre_init', function() table.insert(ORDER, 'pre_init 1') end)
        kumo.on('pre_init', function() table.insert(ORDER, 'pre_init 2') end)
        kumo.on('init', function() table.insert(ORDER, 'init') end)
        kumo.on('validate_config', function() table.insert(ORDER, 'validate') end)
        kumo.on('t', function() return ORDER end)
        """,
    )
    assert report.ok
    assert policy.call("t") == ["top:true", "pre_init 1", "pre_init 2", "init", "validate"]


def test_validation_failed_fails(write):
    _, report = _validate(
        write,
        """
        local kumo = require 'kumo'
        kumo.on('validate_config', function() kumo.validation_failed() end)
        """,
    )
    assert not report.ok
    assert any("Validation failed" in e for e in report.errors)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            "kumo.start_esmtp_listener { listen = '0.0.0.0:25', relay_host = {} }",
            "deserialize error: unknown field `relay_host`, while processing",
        ),
        (
            "kumo.start_http_listener { listen = 8000 }",
            "deserialize error: invalid type: integer `8000`, expected a string",
        ),
        (
            "kumo.define_spool { name = 'data' }",
            'deserialize error: missing field `path`, while processing {"name":"data"}',
        ),
        (
            "kumo.define_spool { name = 'd', path = '/x', kind = 'Rocks' }",
            "unknown variant `Rocks`, expected `LocalDisk` or `RocksDB`",
        ),
        (
            "kumo.configure_local_logs { log_dir = '/l', max_segment_duration = 'soon' }",
            'invalid value: string "soon", expected a duration',
        ),
        (
            "kumo.configure_local_logs { log_dir = '/l', per_record = { Bogus = {} } }",
            "unknown variant `Bogus`",
        ),
        (
            "kumo.configure_bounce_classifier { file = {} }",
            "unknown field `file`, expected one of `files`, `back_pressure`, `pool_size`, "
            "`cache_size`, `uncategorized_cache_size`",
        ),
        (
            "kumo.configure_log_hook { name = 'h', headers = 'Subject' }",
            "invalid type: string, expected table",
        ),
        ("kumo.set_smtpsrv_threads('many')", "error converting Lua string to usize"),
        (
            "kumo.start_esmtp_listener { peer = { ['10.0.0.0/8'] = { relay_host = {} } } }",
            "unknown field `relay_host`, expected one of `hostname`, `relay_hosts`",
        ),
        (
            "kumo.start_esmtp_listener { trace_headers = { header = 'X' } }",
            "unknown field `header`, expected one of `received_header`, `supplemental_header`, "
            "`header_name`, `include_meta_names`",
        ),
        (
            "kumo.configure_redis_throttles { node = 6379 }",
            "data did not match any variant of untagged enum NodeSpec",
        ),
        (
            "kumo.set_lruttl_cache_capacity('no_such_cache', 10)",
            "could not set capacity for cache no_such_cache as that is not a pre-defined lruttl "
            "cache name",
        ),
        ("kumo.set_httpinject_recipient_rate_limit('5/fortnight')", "unknown period quantity"),
        (
            "kumo.start_esmtp_listener { relay_hosts = { 'not-an-ip' } }",
            "not-an-ip: not-an-ip is not a valid CIDR: invalid IP address syntax",
        ),
        (
            "kumo.start_http_listener { trusted_hosts = { '10.0.0.1/8' } }",
            "10.0.0.1/8 is not a valid CIDR: host part of address was not zero. "
            "Did you mean 10.0.0.0/8?",
        ),
    ],
)
def test_bad_parameters_fail_validation(write, call, message):
    _, report = _validate(
        write, f"local kumo = require 'kumo'\nkumo.on('init', function()\n  {call}\nend)\n"
    )
    assert not report.ok
    assert message in report.errors[0], report.errors[0]
    assert "init.lua:3" in report.errors[0]


def test_settings_are_recorded(write):
    policy, report = _validate(
        write,
        """
        local kumo = require 'kumo'
        kumo.on('init', function()
          kumo.set_readyq_threads(8)
          kumo.set_max_lua_context_age(60)
          kumo.configure_accounting_db_path '/var/spool/kumomta/accounting.db'
          kumo.set_diagnostic_log_filter 'kumod=info'
          kumo.set_memory_soft_limit(1024)
          assert(kumo.get_memory_soft_limit() == 1024)
          kumo.set_timeq_spawn_reinsertion(true)
          kumo.set_lruttl_cache_capacity('dns_resolver_mx', 4096)
          kumo.configure_redis_throttles { node = 'redis://10.0.0.5/', connect_timeout = '2s' }
        end)
        """,
    )
    assert report.ok, report.errors
    settings = policy.server_config.settings
    assert settings["readyq_threads"] == 8
    assert settings["accounting_db_path"] == "/var/spool/kumomta/accounting.db"
    assert settings["diagnostic_log_filter"] == "kumod=info"
    assert settings["lruttl_cache_capacity"] == {"dns_resolver_mx": 4096}
    (redis,) = policy.server_config.redis
    assert redis["params"]["node"] == "redis://10.0.0.5/"
    assert redis["params"]["connect_timeout"] == "2s"
    assert any("set_timeq_spawn_reinsertion is deprecated" in w for w in report.warnings)


def test_eval_config_monitor_globs_through_path_map(tmp_path):
    etc = tmp_path / "etc"
    (etc / "policy").mkdir(parents=True)
    (etc / "policy" / "init.lua").write_text("")
    (etc / "policy" / "queues.toml").write_text("")
    (etc / "policy" / "notes.txt").write_text("")
    policy_file = tmp_path / "p.lua"
    policy_file.write_text(
        textwrap.dedent(
            """
            local kumo = require 'kumo'
            kumo.on('t', function() return kumo.eval_config_monitor_globs() end)
            """
        )
    )
    policy = Policy.load(policy_file, path_map={"/opt/kumomta/etc": etc})
    assert policy.call("t") == [
        "/opt/kumomta/etc/policy/init.lua",
        "/opt/kumomta/etc/policy/queues.toml",
    ]


def test_cli_validate_prints_what_would_start(write):
    path = write("init.lua", MINIMAL)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "esmtp listener 0.0.0.0:25" in result.stdout
    assert "spool meta LocalDisk /var/spool/kumomta/meta" in result.stdout
    result = CliRunner().invoke(cli, ["validate", "--json", str(path)])
    data = json.loads(result.stdout)
    assert data["ok"] is True
    assert [entry["kind"] for entry in data["server"]["listeners"]] == ["esmtp", "http"]
    assert data["server"]["logs"][0]["params"]["log_dir"] == "/var/log/kumomta"


def test_cli_validate_reports_bad_listener(write):
    path = write(
        "init.lua",
        "local kumo = require 'kumo'\n"
        "kumo.on('init', function() kumo.start_esmtp_listener { listen = '0.0.0.0:25', tls = true } end)\n",
    )
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert "unknown field `tls`" in result.stderr
    assert "Traceback" not in result.stderr


def test_listener_peer_overrides_are_checked_recursively(write):
    policy, report = _validate(
        write,
        """
        local kumo = require 'kumo'
        kumo.on('init', function()
          kumo.start_esmtp_listener {
            listen = '0.0.0.0:25',
            trace_headers = { supplemental_header = false },
            peer = { ['10.0.0.0/8'] = { max_message_size = 1024, client_timeout = '30s' } },
          }
        end)
        """,
    )
    assert report.ok, report.errors
    (listener,) = policy.server_config.esmtp_listeners()
    assert listener["trace_headers"] == {
        "received_header": True,
        "supplemental_header": False,
        "header_name": "X-KumoRef",
        "include_meta_names": [],
    }
    peer = listener["peer"]["10.0.0.0/8"]
    assert peer["max_message_size"] == 1024 and peer["client_timeout"] == "30s"
    assert peer["hostname"] is None
