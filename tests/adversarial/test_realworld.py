"""Production policies brought over as they are: the mistakes and gaps a new
user meets get one clear line that says what to do (issue 13)."""

from __future__ import annotations

from pathlib import Path

from ._harness import assert_clear_failure, run_kumopy, write_policy


def test_a_name_kumomta_removed_says_when_and_what_instead(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, (
        "local kumo = require 'kumo'\n"
        "kumo.on('init', function()\n"
        "  kumo.define_egress_source { name = 'ip-1', source_address = '10.0.0.1' }\n"
        "end)\n"
    ))
    out = run_kumopy("validate", policy)
    assert_clear_failure(
        out, "init.lua:3:", "kumo.define_egress_source was removed from KumoMTA in "
        "2023.06.22-51b72a83", "make_egress_source")


def test_a_name_kumomta_never_had_gets_a_did_you_mean(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, (
        "local kumo = require 'kumo'\n"
        "kumo.on('main', function()\n"
        "  return kumo.dns.lookup_mxx('example.com')\n"
        "end)\n"
    ))
    out = run_kumopy("script", policy)
    assert_clear_failure(out, "kumo.dns.lookup_mxx does not exist in KumoMTA",
                         "did you mean kumo.dns.lookup_mx?")


def test_an_unknown_namespace_is_explained_too(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, (
        "local kumo = require 'kumo'\n"
        "kumo.on('main', function()\n"
        "  kumo.timer.after(5, function() end)\n"
        "end)\n"
    ))
    out = run_kumopy("script", policy)
    assert_clear_failure(out, "init.lua:3:", "kumo.timer does not exist in KumoMTA")


def test_a_missing_helper_module_names_share(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, (
        "local kumo = require 'kumo'\n"
        "local shaping = require 'policy-extras.shaping'\n"
    ))
    out = run_kumopy("validate", policy)
    assert_clear_failure(out, "module 'policy-extras.shaping' not found", "--share DIR",
                         "/opt/kumomta/share in an install")


def test_a_missing_opt_kumomta_file_names_map(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, (
        "local kumo = require 'kumo'\n"
        "local data = kumo.serde.json_load '/opt/kumomta/etc/policy/tenants.json'\n"
    ))
    out = run_kumopy("validate", policy)
    assert_clear_failure(out, "init.lua:2:", "--map /opt/kumomta/etc/policy=LOCAL_DIR")


def test_an_error_inside_a_helper_names_the_users_call(tmp_path: Path) -> None:
    share = tmp_path / "share"
    write_policy(share / "policy-extras", (
        "local M = {}\n"
        "function M:setup(files)\n"
        "  if type(files) ~= 'table' then\n"
        "    error('files must be a table', 2)\n"
        "  end\n"
        "  for _, f in ipairs(files) do\n"
        "    assert(f:find('%.toml$'), 'not a toml file: ' .. f)\n"
        "  end\n"
        "end\n"
        "return M\n"
    ), name="helper.lua")
    policy = write_policy(tmp_path, (
        "local kumo = require 'kumo'\n"
        "local helper = require 'policy-extras.helper'\n"
        "\n"
        "helper:setup { '/etc/a.toml', '/etc/b.json' }\n"
    ))
    out = run_kumopy("validate", "--share", share, policy)
    assert_clear_failure(out, "helper.lua:7:", "not a toml file: /etc/b.json",
                         f"called from {policy}:4")


def test_network_is_off_by_default_and_says_how_to_allow(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, (
        "local kumo = require 'kumo'\n"
        "kumo.on('main', function()\n"
        "  local client = kumo.http.build_client {}\n"
        "  local response = client:get('http://192.0.2.1/'):send()\n"
        "  return response:status_code()\n"
        "end)\n"
    ))
    out = run_kumopy("script", policy)
    assert_clear_failure(out, "init.lua:4:", "network access is off",
                         "HTTP GET request to http://192.0.2.1/ was not sent", "--network")


def test_a_bad_dns_zone_file_is_a_usage_error(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, "local kumo = require 'kumo'\n")
    zone = tmp_path / "bad.zone"
    zone.write_text("example.com. 300 IN MX 10 mx.example.com.\n")
    out = run_kumopy("validate", "--dns-zone", zone, policy)
    assert out.returncode == 2
    assert "--dns-zone" in out.stderr and "bad.zone" in out.stderr and "$ORIGIN" in out.stderr
    assert "Traceback" not in out.stderr
    missing = run_kumopy("validate", "--dns-zone", tmp_path / "nope.zone", policy)
    assert missing.returncode == 2 and "nope.zone" in missing.stderr


def test_sqlite_errors_are_one_line(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, (
        "local kumo = require 'kumo'\n"
        "local sqlite = require 'sqlite'\n"
        "kumo.on('main', function(path)\n"
        "  local db = sqlite.open(path)\n"
        "  db:execute('SELEC nonsense')\n"
        "end)\n"
    ))
    out = run_kumopy("script", policy, tmp_path / "x.db")
    assert_clear_failure(out, "init.lua:5:", "syntax error")
