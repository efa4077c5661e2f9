"""Provider shaping as kumod resolves it: provider blocks matched by MX
suffix or domain suffix add provider_name and their shared limits; automation
rules are checked at load and applied by match_rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kumopy import PolicyError
from kumopy.cli import cli

SHAPING = """
[default]
connection_limit = 10

[provider."google"]
match = [{MXSuffix = ".google.com"}, {MXSuffix = ".googlemail.com"}]
provider_connection_limit = 5
provider_max_message_rate = "120/s"
max_deliveries_per_connection = 50

[provider."google".sources."ip-2"]
provider_source_selection_rate = "500/d,max_burst=1"

[[provider."google".automation]]
regex = "\\\\[RateLimit\\\\]"
action = "Suspend"
duration = "1h"

[provider."vanity"]
match = [{DomainSuffix = ".example.org"}]
max_message_rate = "7/s"

[[default.automation]]
regex = ["KumoMTA internal: .*", "4\\\\.7\\\\.0 throttled"]
action = [{SetConfig = {name = "connection_limit", value = 1}}, "SuspendTenant"]
trigger = {Threshold = "3/h"}
duration = "30m"
"""

ZONES = [
    "$ORIGIN gmail.com.\n@ 300 IN MX 5 gmail-smtp-in.l.google.com.\n"
    "@ 300 IN MX 10 alt1.gmail-smtp-in.l.google.com.\n",
    "$ORIGIN mixed.test.\n@ 300 IN MX 5 aspmx.l.google.com.\n@ 300 IN MX 9 mx.other.test.\n",
]

POLICY = """
local shaping_data = kumo.shaping.load { '%s' }
kumo.on('get_egress_path_config', function(domain, source, site)
  return kumo.make_egress_path(shaping_data:get_egress_path_config(domain, source, site))
end)
kumo.on('rules', function(record)
  return shaping_data:match_rules(record)
end)
"""


def _load(load: Any, tmp_path: Path, text: str = SHAPING) -> Any:
    (tmp_path / "shaping.toml").write_text(text)
    return load(POLICY % (tmp_path / "shaping.toml"), dns_zones=ZONES)


def test_provider_block_adds_name_and_shared_limits(load: Any, tmp_path: Path) -> None:
    p = _load(load, tmp_path)
    path = p.resolve_egress_path("gmail.com")
    assert path["provider_name"] == "google"
    assert path["max_deliveries_per_connection"] == 50
    assert path["connection_limit"] == {"limit": 10, "force_local": False}
    assert path["additional_connection_limits"] == {
        "shaping-provider-google-unspecified-limit": {"limit": 5, "force_local": False}}
    assert path["additional_message_rate_throttles"] == {
        "shaping-provider-google-unspecified-rate": "120/s"}
    with_source = p.resolve_egress_path("gmail.com", "ip-2")
    assert with_source["additional_source_selection_rates"] == {
        "shaping-provider-google-ip-2-selection-rate": "500/d,max_burst=1"}
    assert "shaping-provider-google-ip-2-limit" in with_source["additional_connection_limits"]


def test_every_mx_host_must_match_and_domain_suffix_needs_no_dns(load: Any, tmp_path: Path) -> None:
    p = _load(load, tmp_path)
    assert p.resolve_egress_path("mixed.test")["provider_name"] is None  # one MX is elsewhere
    vanity = p.resolve_egress_path("shop.example.org")  # no DNS zone for it: suffix rule
    assert vanity["provider_name"] == "vanity" and vanity["max_message_rate"] == "7/s"


def test_match_rules_applies_automation(load: Any, tmp_path: Path) -> None:
    p = _load(load, tmp_path)
    record = {
        "recipient": ["user@gmail.com"], "site": "unspecified->(alt1|)?.gmail-smtp-in.l.google.com@smtp_client",
        "response": {"code": 421, "enhanced_code": {"class": 4, "subject": 7, "detail": 0},
                     "content": "[RateLimit] slow down", "command": None},
    }
    (rule,) = p.call("rules", record)
    assert rule["action"] == ["Suspend"] and rule["duration"] == "1h"
    assert rule["trigger"] == "Immediate" and rule["regex"] == ["\\[RateLimit\\]"]
    record["response"]["content"] = "throttled"
    (rule,) = p.call("rules", record)
    assert rule["trigger"] == {"Threshold": "3/h"}
    assert rule["action"] == [{"SetConfig": {"name": "connection_limit", "value": 1}},
                              "SuspendTenant"]
    record["response"]["content"] = "KumoMTA internal: failed"
    assert p.call("rules", record) in ([], {})  # internal responses need match_internal


def test_bad_automation_fails_the_load(load: Any, tmp_path: Path) -> None:
    bad = SHAPING.replace('action = "Suspend"', 'action = "Explode"')
    with pytest.raises(PolicyError, match="google: automation rule 1: unknown variant `Explode`"):
        _load(load, tmp_path, bad)
    bad = SHAPING.replace('value = 1}', 'value = "lots"}')
    with pytest.raises(PolicyError, match="SetConfig connection_limit"):
        _load(load, tmp_path, bad)


def test_resolve_egress_path_cli_shows_the_provider(tmp_path: Path) -> None:
    (tmp_path / "shaping.toml").write_text(SHAPING)
    policy = tmp_path / "init.lua"
    policy.write_text("local kumo = require 'kumo'\n" + POLICY % "/opt/kumomta/etc/policy/shaping.toml")
    zone = tmp_path / "gmail.zone"
    zone.write_text(ZONES[0])
    result = CliRunner().invoke(cli, [
        "resolve-egress-path", "--map", f"/opt/kumomta/etc/policy={tmp_path}",
        "--dns-zone", str(zone), str(policy), "gmail.com"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["provider_name"] == "google"
    assert list(data["additional_connection_limits"]) == [
        "shaping-provider-google-unspecified-limit"]
