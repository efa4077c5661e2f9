"""kumo.dns.load_resolv_conf and the checks kumod makes of real-resolver
configurations (which kumopy never queries)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kumopy import PolicyError
from kumopy._kumo.dns_config import ROOT_TRUST_ANCHORS, parse_resolv_conf


def test_parse_resolv_conf_defaults_and_last_search_or_domain() -> None:
    cfg = parse_resolv_conf(
        "# comment\nnameserver 192.0.2.1\nnameserver fe80::1%eth0\n"
        "search a.example b.example\ndomain corp.example ; trailing\n"
    )
    assert cfg["name_servers"] == ["192.0.2.1:53", "[fe80::1]:53"]
    assert cfg["domain"] == "corp.example"
    assert cfg["search"] == ["corp.example"]  # domain came last
    assert cfg["options"] == {"ndots": 1, "timeout": "5s", "attempts": 2, "edns0": False}
    with pytest.raises(Exception, match="invalid IP address 'nope'"):
        parse_resolv_conf("nameserver nope\n")


def test_load_resolv_conf_from_lua_round_trips(load, tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 192.0.2.1\nsearch example.com\noptions ndots:3 timeout:7 attempts:4 edns0 rotate\n")
    p = load(
        """
        kumo.on('t', function()
          local cfg = kumo.dns.load_resolv_conf '/etc/resolv.conf'
          kumo.dns.configure_resolver(cfg)
          return cfg.name_servers[1], cfg.search[1], cfg.options.ndots, cfg.options.timeout,
                 cfg.options.attempts, cfg.options.edns0
        end)
        kumo.on('missing', function() return kumo.dns.load_resolv_conf '/nope/resolv.conf' end)
        """,
        path_map={"/etc/resolv.conf": str(conf)},
    )
    assert p.dispatch("t").values == ("192.0.2.1:53", "example.com", 3, "7s", 4, True)
    with pytest.raises(PolicyError, match="reading /nope/resolv.conf: No such file"):
        p.dispatch("missing")


CONFIGURE = "kumo.on('t', function(cfg) kumo.dns.configure_resolver(cfg) end)"


def test_managed_trust_anchor_is_seeded_once(load, tmp_path: Path) -> None:
    p = load(CONFIGURE)
    managed = tmp_path / "root.key"
    p.call("t", {"Unbound": {"options": {"trust_anchor_file": {"managed": str(managed)}}}})
    assert managed.read_text() == "\n".join(ROOT_TRUST_ANCHORS)
    assert "IN DS 20326 8 2" in managed.read_text()
    managed.write_text(". IN DS 1 8 2 ab\n")
    p.call("t", {"Unbound": {"options": {"trust_anchor_file": {"managed": str(managed)}}}})
    assert managed.read_text() == ". IN DS 1 8 2 ab\n"
    empty = tmp_path / "empty.key"
    empty.write_text("")
    p.call("t", {"Unbound": {"options": {"validate": True,
                                         "trust_anchor_file": {"managed": str(empty)}}}})
    assert empty.read_text().startswith(". IN DS 20326")


def test_unbound_refuses_options_it_cannot_apply(load, tmp_path: Path) -> None:
    p = load(CONFIGURE)
    with pytest.raises(PolicyError, match="option not supported by the unbound backend: "
                       "unknown field `ndots`, expected one of `validate`"):
        p.call("t", {"Unbound": {"options": {"ndots": 2}}})
    with pytest.raises(PolicyError, match="name server: 'nonsense'"):
        p.call("t", {"Unbound": {"name_servers": ["nonsense"]}})
    with pytest.raises(PolicyError, match="load_trust_anchor_file"):
        p.call("t", {"Unbound": {"options": {"trust_anchor_file": str(tmp_path / "none")}}})


def test_hickory_and_bare_configs_are_checked(load) -> None:
    p = load(CONFIGURE)
    p.call("t", {"Hickory": {"name_servers": [{"socket_addr": "10.0.0.1:53", "protocol": "tcp"}]}})
    p.call("t", "HickorySystemConfig")
    p.call("t", {"name_servers": ["10.0.0.1:53"], "options": {"timeout": "2s"}})
    with pytest.raises(PolicyError, match="unknown field `bogus`"):
        p.call("t", {"Hickory": {"bogus": 1}})
    with pytest.raises(PolicyError, match="failed to parse config as either KumoResolverConfig"):
        p.call("t", {"name_servers": ["10.0.0.1:53"], "bogus": True})


def test_configure_unbound_resolver(load, tmp_path: Path) -> None:
    p = load("kumo.on('t', function(cfg) kumo.dns.configure_unbound_resolver(cfg) end)")
    managed = tmp_path / "anchor"
    p.call("t", {"name_servers": ["10.0.0.1:53"],
                 "options": {"trust_anchor_file": {"managed": str(managed)}}})
    assert managed.read_text().startswith(". IN DS 20326 8 2 ")
    with pytest.raises(PolicyError, match="configure_unbound_resolver: option not supported"):
        p.call("t", {"options": {"attempts": 2}})
