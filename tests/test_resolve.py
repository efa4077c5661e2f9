"""`kumopy resolve-queue-config` and `kumopy resolve-egress-path`."""

from __future__ import annotations

import json
import tomllib

from click.testing import CliRunner

from kumopy.cli import cli

POLICY = """
local kumo = require 'kumo'
kumo.on('get_queue_config', function(domain, tenant, campaign, routing_domain)
  if tenant == 'vip' then
    return kumo.make_queue_config { egress_pool = 'vip-pool', max_retry_interval = '2h' }
  end
end)
kumo.on('get_egress_path_config', function(domain, source, site)
  if source == 'ip-1' then
    return kumo.make_egress_path { connection_limit = 4, ehlo_domain = site }
  end
  return kumo.make_egress_path {}
end)
"""

# the spec's defaults (kumo-api.md 4.8), as kumod's helper scripts print them
QUEUE_DEFAULTS = {
    "retry_interval": "20m",
    "max_retry_interval": None,
    "max_age": "7days",
    "egress_pool": None,
    "max_message_rate": None,
    "reap_interval": "10m",
    "refresh_interval": "1m",
    "timerwheel_tick_interval": None,
    "strategy": "SingletonTimerWheel",
    "refresh_strategy": "Ttl",
    "provider_name": None,
    "shrink_policy": [],
    "protocol": {"smtp": {"mx_list": [], "treat_mx_list_as_secure": False}},
}


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_resolve_queue_config_defaults(write):
    path = write("init.lua", POLICY)
    code, out, err = _run("resolve-queue-config", str(path), "example.com")
    assert code == 0, err
    assert json.loads(out) == QUEUE_DEFAULTS
    assert list(json.loads(out)) == sorted(QUEUE_DEFAULTS)


def test_resolve_queue_config_uses_queue_name_components(write):
    path = write("init.lua", POLICY)
    code, out, _ = _run("resolve-queue-config", str(path), "camp:vip@example.com")
    assert code == 0
    data = json.loads(out)
    assert data["egress_pool"] == "vip-pool" and data["max_retry_interval"] == "2h"
    code, out, _ = _run("resolve-queue-config", "--toml", str(path), "camp:vip@example.com")
    parsed = tomllib.loads(out)
    assert parsed["egress_pool"] == "vip-pool"
    assert "provider_name" not in parsed  # TOML has no null


def test_resolve_egress_path(write):
    path = write("init.lua", POLICY)
    code, out, _ = _run("resolve-egress-path", str(path), "example.com", "ip-1")
    assert code == 0
    data = json.loads(out)
    assert data["connection_limit"] == {"force_local": False, "limit": 4}
    assert data["ehlo_domain"] == "example.com"  # site name defaults to the domain
    assert data["smtp_port"] == 25 and data["enable_tls"] == "Opportunistic"
    assert data["prohibited_hosts"] == ["0.0.0.0", "127.0.0.0/8", "::/127"]
    code, out, _ = _run(
        "resolve-egress-path", str(path), "example.com", "ip-1", "--site-name", "mx.example"
    )
    assert json.loads(out)["ehlo_domain"] == "mx.example"
    code, out, _ = _run("resolve-egress-path", "--toml", str(path), "example.com")
    assert tomllib.loads(out)["connection_limit"]["limit"] == 32


def test_resolve_reports_handler_errors_without_traceback(write):
    path = write(
        "init.lua",
        "local kumo = require 'kumo'\n"
        "kumo.on('get_queue_config', function() return kumo.make_queue_config { max_age = 'x' } end)\n",
    )
    code, _, err = _run("resolve-queue-config", str(path), "example.com")
    assert code == 1
    assert 'invalid value: string "x", expected a duration' in err
    assert "init.lua:2" in err and "Traceback" not in err


def test_resolve_egress_path_uses_the_mx_site_name(write):
    path = write(
        "init.lua",
        """
        local kumo = require 'kumo'
        kumo.dns.configure_test_resolver {
          [[
        $ORIGIN example.
        @ 600 IN SOA ns.example. admin.example. 1 600 600 600 600
        shop 600 IN MX 10 mx1.mail.example.
        shop 600 IN MX 10 mx2.mail.example.
          ]],
        }
        kumo.on('get_egress_path_config', function(domain, source, site)
          return kumo.make_egress_path { ehlo_domain = site }
        end)
        """,
    )
    code, out, err = _run("resolve-egress-path", str(path), "shop.example")
    assert code == 0, err
    assert json.loads(out)["ehlo_domain"] == "(mx1|mx2).mail.example"
    # no answer: the domain itself, as the script falls back
    code, out, _ = _run("resolve-egress-path", str(path), "elsewhere.test")
    assert json.loads(out)["ehlo_domain"] == "elsewhere.test"
