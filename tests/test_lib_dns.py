"""kumo.dns on the fake resolver; expected shapes and orders checked against
kumod's dns-resolver, mailexchanger and mod-dns-resolver crates."""

from __future__ import annotations

from typing import Any

import pytest

from kumopy import PolicyError
from kumopy._kumo.dns import factor_names, mx_hosts, resolve_mx

GMAIL = """
$ORIGIN gmail.com.
@ 300 MX 5 gmail-smtp-in.l.google.com.
@ 300 MX 20 alt2.gmail-smtp-in.l.google.com.
@ 300 MX 10 alt1.gmail-smtp-in.l.google.com.
@ 300 MX 30 ALT3.gmail-smtp-in.l.google.com.
@ 300 MX 30 alt4.gmail-smtp-in.l.google.com.
@ 300 TXT "v=spf1 " "redirect=_spf.google.com"
@ 300 TXT "second"
alias 300 CNAME gmail-smtp-in.l.google.com.
"""
GOOGLE = """
$ORIGIN google.com.
gmail-smtp-in.l 300 A 142.250.1.26
gmail-smtp-in.l 300 A 142.250.1.27
gmail-smtp-in.l 300 AAAA 2607:f8b0:4004:c1b::1a
"""
REVERSE = """
$ORIGIN 2.0.192.in-addr.arpa.
1 300 PTR mail.example.com.
"""
RBL = """
$ORIGIN bl.example.
2.0.0.127 300 A 127.0.0.2
2.0.0.127 300 TXT "listed: " "see example"
"""
ZONES = [GMAIL, GOOGLE, REVERSE, RBL]


def lua(load: Any, body: str, **options: Any) -> tuple[Any, ...]:
    options.setdefault("dns_zones", ZONES)
    p = load("local kumo = require 'kumo'\n" + body, **options)
    return tuple(p.state.to_python(v, serialize=True) for v in p.state.chunk_values)


def test_lookup_mx_has_kumods_shape_and_order(load: Any) -> None:
    (mx,) = lua(load, "return kumo.dns.lookup_mx('GMail.COM')")
    assert mx == {
        "domain_name": "gmail.com.",
        "hosts": [
            "gmail-smtp-in.l.google.com.",
            "alt1.gmail-smtp-in.l.google.com.",
            "alt2.gmail-smtp-in.l.google.com.",
            "alt3.gmail-smtp-in.l.google.com.",
            "alt4.gmail-smtp-in.l.google.com.",
        ],
        "site_name": "(alt1|alt2|alt3|alt4)?.gmail-smtp-in.l.google.com",
        "by_pref": {
            5: ["gmail-smtp-in.l.google.com."],
            10: ["alt1.gmail-smtp-in.l.google.com."],
            20: ["alt2.gmail-smtp-in.l.google.com."],
            30: ["alt3.gmail-smtp-in.l.google.com.", "alt4.gmail-smtp-in.l.google.com."],
        },
        "is_domain_literal": False,
        "is_secure": False,
        "is_mx": True,
        "mta_sts": "None",
    }


def test_name_inside_a_zone_without_mx_is_its_own_implicit_mx(load: Any) -> None:
    hosts, is_mx, site = lua(
        load,
        "local mx = kumo.dns.lookup_mx('nomx.gmail.com') return mx.hosts, mx.is_mx, mx.site_name",
    )
    assert (hosts, is_mx, site) == (["nomx.gmail.com."], False, "nomx.gmail.com")


def test_name_outside_every_zone_is_nxdomain(load: Any) -> None:
    with pytest.raises(PolicyError, match=r"MX lookup for example\.org failed after .*: NXDOMAIN"):
        lua(load, "return kumo.dns.lookup_mx('example.org')")


def test_literal_and_port(load: Any) -> None:
    (lit,) = lua(load, "return kumo.dns.lookup_mx('[127.0.0.1]')")
    assert lit["hosts"] == ["127.0.0.1"] and lit["is_domain_literal"] is True
    assert lit["by_pref"] == [["127.0.0.1"]] and lit["domain_name"] == "[127.0.0.1]"
    (ported,) = lua(load, "return kumo.dns.lookup_mx('gmail.com:2525')")
    assert ported["hosts"][0] == "gmail-smtp-in.l.google.com.:2525"
    with pytest.raises(PolicyError, match="malformed literal domain with no trailing"):
        lua(load, "return kumo.dns.lookup_mx('[127.0.0.1')")


def test_factor_names_matches_kumod() -> None:
    assert factor_names(
        ["mta5.AM0.yahoodns.net", "mta6.am0.yAHOodns.net", "mta7.am0.yahoodns.net"]
    ) == ("(mta5|mta6|mta7).am0.yahoodns.net")
    assert (
        factor_names(
            ["mta5.am0.yahoodns.net:123", "mta6.am0.yahoodns.net:456", "mta7.am0.yahoodns.net:123"]
        )
        == "(mta5|mta6|mta7).am0.yahoodns.(net:123|net:456)"
    )


def test_lookup_addr_txt_ptr_and_cname(load: Any) -> None:
    addrs, v6, txt, ptr, alias, ip = lua(
        load,
        """
        return kumo.dns.lookup_addr('gmail-smtp-in.l.google.com'),
          kumo.dns.lookup_addr('gmail-smtp-in.l.google.com', nil, 'Ipv6Only'),
          kumo.dns.lookup_txt('gmail.com'),
          kumo.dns.lookup_ptr('192.0.2.1'),
          kumo.dns.lookup_addr('alias.gmail.com'),
          kumo.dns.lookup_addr('10.0.0.1')
        """,
    )
    assert addrs == ["142.250.1.26", "142.250.1.27", "2607:f8b0:4004:c1b::1a"]
    assert v6 == ["2607:f8b0:4004:c1b::1a"]
    assert txt == ["v=spf1 redirect=_spf.google.com", "second"]
    assert ptr == ["mail.example.com."]
    assert alias == addrs
    assert ip == ["10.0.0.1"]
    with pytest.raises(PolicyError, match="unknown variant `Both`, expected one of `Ipv4Only`"):
        lua(load, "return kumo.dns.lookup_addr('gmail.com', nil, 'Both')")


def test_rbl_lookup(load: Any) -> None:
    listed = lua(load, "return kumo.dns.rbl_lookup('127.0.0.2', 'bl.example')")
    clean = lua(load, "return kumo.dns.rbl_lookup('127.0.0.3:25', 'bl.example')")
    assert listed == ("127.0.0.2", "listed: see example")
    assert clean == (None, None)
    with pytest.raises(PolicyError, match="nope is not a valid IpAddr or SocketAddr"):
        lua(load, "return kumo.dns.rbl_lookup('nope', 'bl.example')")


def test_ptr_host_and_reverse_ip_as_kumod(load: Any) -> None:
    v4, v6, rev = lua(
        load,
        "return kumo.dns.ptr_host('192.0.2.1'), kumo.dns.ptr_host('2001:db8::1'), "
        "kumo.dns.reverse_ip('10.1.2.3')",
    )
    assert v4 == "1.2.0.192.in-addr.arpa"
    assert v6 == "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
    assert rev == "3.2.1.10"
    with pytest.raises(PolicyError, match="invalid IP address syntax"):
        lua(load, "return kumo.dns.ptr_host('x')")


def test_without_a_fake_resolver_lookups_fail_clearly(load: Any) -> None:
    with pytest.raises(PolicyError, match="no DNS resolver is configured"):
        lua(load, "return kumo.dns.lookup_mx('gmail.com')", dns_zones=None)


def test_policy_configures_the_test_resolver(load: Any) -> None:
    body = """
    kumo.dns.configure_test_resolver {
      zones = { { zone = [[
$ORIGIN example.com.
@ 60 MX 10 mx.example.com.
]], secure = true } },
      servfail = { 'broken.example.com' },
    }
    local mx = kumo.dns.lookup_mx('example.com')
    return mx.hosts, mx.is_secure, kumo.dns.lookup_mx('broken.example.com').is_mx
    """
    assert lua(load, body, dns_zones=None) == (["mx.example.com."], True, False)
    with pytest.raises(PolicyError, match="untagged enum TestResolverConfig"):
        lua(load, "kumo.dns.configure_test_resolver { zones = 'x' }", dns_zones=None)
    with pytest.raises(PolicyError, match=r"\$ORIGIN was not specified"):
        lua(load, "kumo.dns.configure_test_resolver { '@ 30 IN A 1.2.3.4' }", dns_zones=None)


def test_named_test_resolver(load: Any) -> None:
    body = """
    kumo.dns.define_resolver('fixture', { Test = { [[
$ORIGIN named.test.
@ 60 MX 1 mx.named.test.
]] } })
    return kumo.dns.lookup_mx('named.test', 'fixture').hosts
    """
    assert lua(load, body) == (["mx.named.test."],)
    with pytest.raises(PolicyError, match="resolver other is not defined"):
        lua(load, "return kumo.dns.lookup_mx('gmail.com', 'other')")
    with pytest.raises(PolicyError, match="only supports `Test` resolvers"):
        lua(load, "kumo.dns.define_resolver('real', { Hickory = {} })")


def test_python_api_for_shaping(load: Any) -> None:
    p = load("local kumo = require 'kumo'", dns_zones=ZONES)
    mx = resolve_mx(p, "gmail.com")
    assert mx.site_name == "(alt1|alt2|alt3|alt4)?.gmail-smtp-in.l.google.com"
    assert mx_hosts(p, "gmail.com")[0] == "gmail-smtp-in.l.google.com."


def test_bad_zone_text_in_policy_options_is_a_value_error(load: Any) -> None:
    with pytest.raises(ValueError, match="failed to parse test zone"):
        load("local kumo = require 'kumo'", dns_zones=["$ORIGIN x.\n@ 30 IN A not-an-ip\n"])


def test_settings_are_checked(load: Any) -> None:
    lua(load, "kumo.dns.set_mx_timeout('5s') kumo.dns.set_mta_sts_enabled(false)")
    lua(load, "kumo.dns.set_mta_sts_enabled('no')")  # (a Rust bool: any value converts)
