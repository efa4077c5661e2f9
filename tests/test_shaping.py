"""kumo.shaping.load: the subset kumopy models (no policy-extras needed)."""

from __future__ import annotations

import pytest

from kumopy import PolicyError

SHAPING = """
["default"]
connection_limit = 10
additional_connection_limits = { "global" = 100 }

["example.com"]
mx_rollup = false
connection_limit = 3
additional_connection_limits = { "per-domain" = 5 }

["example.com".sources."ip-1"]
connection_limit = 1

[provider."corp"]
match = [{ DomainSuffix = ".corp.example" }]
max_deliveries_per_connection = 7
"""

OVERRIDE = """
["example.com"]
mx_rollup = false
replace_base = true
max_message_rate = "5/s"
"""

BAD = """
["bad.example"]
mx_rollup = false
connection_limit = "lots"
"""


def _policy(load, write):
    write("data/shaping.toml", SHAPING)
    write("data/override.toml", OVERRIDE)
    write("data/bad.toml", BAD)
    return load(
        """
        local kumo = require 'kumo'
        kumo.on('t', function(files, domain, source)
          local s = kumo.shaping.load(files)
          return { s:get_egress_path_config(domain, source, domain), s:get_errors(),
                   s:get_referenced_sources() }
        end)
        """,
        path_map={"/opt/kumomta/etc": write("data/.keep", "").parent},
    )


def test_merge_order_and_sources(load, write):
    policy = _policy(load, write)
    files = ["/opt/kumomta/etc/shaping.toml"]
    params, errors, refs = policy.call("t", files, "example.com", "ip-1")
    assert params["connection_limit"] == 1  # domain source beats domain beats default
    # throttle tables merge instead of being replaced
    assert params["additional_connection_limits"] == {"global": 100, "per-domain": 5}
    assert errors == []
    assert refs == {"ip-1": ["domain:example.com"]}
    params, _, _ = policy.call("t", files, "x.corp.example", "ip-2")
    assert params == {
        "connection_limit": 10,
        "additional_connection_limits": {"global": 100},
        "max_deliveries_per_connection": 7,
        "provider_name": "corp",  # kumod names the matching provider
    }


def test_replace_base(load, write):
    policy = _policy(load, write)
    files = ["/opt/kumomta/etc/shaping.toml", "/opt/kumomta/etc/override.toml"]
    params, errors, _ = policy.call("t", files, "example.com", "ip-1")
    assert params["max_message_rate"] == "5/s"
    assert params["connection_limit"] == 10  # the replaced entry's limit is gone
    assert errors == []


def test_invalid_entry_fails_the_load(load, write):
    policy = _policy(load, write)
    with pytest.raises(PolicyError) as info:
        policy.call("t", ["/opt/kumomta/etc/bad.toml"], "bad.example", "ip-1")
    message = str(info.value)
    assert "domain: bad.example: interpreting domain 'bad.example' params" in message
    assert "invalid limit 'lots'" in message


def test_missing_local_file_is_reported_at_local_load_level(load, write):
    policy = _policy(load, write)
    params, errors, _ = policy.call("t", ["/opt/kumomta/etc/nope.toml"], "example.com", "ip-1")
    assert params == {}
    assert len(errors) == 1
    assert errors[0].startswith(
        "local shaping source /opt/kumomta/etc/nope.toml error: loading data from file "
        "/opt/kumomta/etc/nope.toml: No such file or directory"
    ), errors


ZONE = """
$ORIGIN example.
@ 600 IN SOA ns.example. admin.example. 1 600 600 600 600
mail-a 600 IN MX 10 mx1.bigmail.example.
mail-a 600 IN MX 20 mx2.bigmail.example.
mail-b 600 IN MX 10 mx1.bigmail.example.
mail-b 600 IN MX 20 mx2.bigmail.example.
vanity 600 IN MX 10 mx1.bigmail.example.
vanity 600 IN MX 20 in.other.example.
"""

DNS_SHAPING = """
["mail-a.example"]
connection_limit = 4

["mail-b.example"]
max_deliveries_per_connection = 9

["unknown.invalid"]
connection_limit = 1

[provider."bigmail"]
match = [{ MXSuffix = ".bigmail.example" }]
max_message_rate = "50/s"
"""


def test_sites_and_providers_through_the_fake_resolver(load, write):
    write("data/shaping.toml", DNS_SHAPING)
    policy = load(
        """
        local kumo = require 'kumo'
        kumo.on('t', function(domain, site)
          local s = kumo.shaping.load({ '/opt/kumomta/etc/shaping.toml' },
            { dns_fail = 'Warn', aliased_site = 'Warn' })
          return { s:get_egress_path_config(domain, 'ip-1', site), s:get_warnings() }
        end)
        """,
        path_map={"/opt/kumomta/etc": write("data/.keep", "").parent},
        dns_zones=[ZONE],
    )
    site = "(mx1|mx2).bigmail.example"
    params, warnings = policy.call("t", "mail-a.example", site)
    # both domain blocks roll up into the same site and merge
    assert params == {
        "max_message_rate": "50/s",
        "connection_limit": 4,
        "max_deliveries_per_connection": 9,
        "provider_name": "bigmail",
    }
    assert any("unknown.invalid" in w and "Ignoring the shaping config" in w for w in warnings)
    assert any(
        w.startswith("multiple domain blocks alias to the same site: " + site) for w in warnings
    )
    # a vanity domain whose MX hosts are not all bigmail's does not match
    params, _ = policy.call("t", "vanity.example", "vanity-site")
    assert params == {}
