"""kumo.domain_map.new and kumo.cidr.make_map; cases from the domain-map and
cidr-map crates' own tests."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kumopy import PolicyError


def lua(load: Any, body: str, **options: Any) -> tuple[Any, ...]:
    p = load("local kumo = require 'kumo'\n" + body, **options)
    return tuple(p.state.to_python(v, serialize=True) for v in p.state.chunk_values)


def test_domain_map_wildcards_as_the_crate_test(load: Any) -> None:
    got = lua(
        load,
        """
        local m = kumo.domain_map.new {
          ['*.example.com'] = 42, ['example.com'] = 24, ['omg.wtf.woot.example.com'] = 128 }
        return m['foo.com'], m['example.com'], m['lemon.example.com'],
          m['lemon.cake.example.com'], m['woot.example.com'], m['wtf.woot.example.com'],
          m['omg.wtf.woot.example.com']
        """,
    )
    assert got == (None, 24, 42, 42, None, None, 128)


def test_domain_map_assignment_blocks_outer_wildcard_and_is_case_sensitive(load: Any) -> None:
    got = lua(
        load,
        """
        local m = kumo.domain_map.new()
        m['*.example.com'] = 'wild'
        local before = m['x.b.example.com']
        m['a.b.example.com'] = { relay = true }
        return before, m['x.b.example.com'], m['b.example.com'], m['a.b.example.com'].relay,
          m['A.EXAMPLE.COM'], m['x.example.com.']
        """,
    )
    assert got == ("wild", None, None, True, None, None)


def test_domain_map_errors_and_no_pairs(load: Any) -> None:
    with pytest.raises(PolicyError, match="error converting Lua boolean to String"):
        lua(load, "local m = kumo.domain_map.new() return m[true]")
    with pytest.raises(PolicyError, match="to HashMap<String, Value>"):
        lua(load, "return kumo.domain_map.new('x')")
    with pytest.raises(PolicyError, match="cannot be iterated"):
        lua(load, "for k in pairs(kumo.domain_map.new{a=1}) do end")


def test_domain_map_can_be_memoized(load: Any) -> None:
    got = lua(
        load,
        """
        local calls = 0
        local get = kumo.memoize(function()
          calls = calls + 1
          return kumo.domain_map.new { ['*.example.com'] = 'x' }
        end, { name = 'dm', ttl = '5m', capacity = 4 })
        return get()['a.example.com'], get()['b.example.com'], calls
        """,
    )
    assert got == ("x", "x", 1)


CIDR = """
local c = kumo.cidr.make_map {
  ['127.0.0.1'] = 'loopbackv4', ['::1'] = 'loopbackv6', ['192.168.1.0/24'] = '.1',
  ['192.168.1.24'] = '.1', ['192.168.3.0/28'] = '.3', ['192.168.3.2'] = '.3.split',
  ['10.0.3.0/24'] = '10.3',
}
"""


def test_cidr_map_longest_prefix_as_the_crate_test(load: Any) -> None:
    got = lua(
        load,
        CIDR
        + """
        return c['127.0.0.1'], c['127.0.0.2'], c['::1'], c['192.168.2.1'], c['192.168.1.100'],
          c['192.168.3.0'], c['192.168.3.16'], c['192.168.3.2'], c['10.0.3.7:25'],
          c['[::1]:25'], c['192.168.3.0/30']
        """,
    )
    assert got == (
        "loopbackv4",
        None,
        "loopbackv6",
        None,
        ".1",
        ".3",
        None,
        ".3.split",
        "10.3",
        "loopbackv6",
        ".3",
    )


def test_cidr_assignment_overwrites_the_covered_blocks(load: Any) -> None:
    got = lua(
        load,
        """
        local c = kumo.cidr.make_map()
        c['10.1.0.0/16'] = 'narrow'
        c['10.0.0.0/8'] = 'wide'
        local a = c['10.1.2.3']
        c['10.1.0.0/16'] = 'narrow again'
        return a, c['10.1.2.3'], c['10.2.0.0'], c['::ffff:10.1.2.3']
        """,
    )
    assert got == ("wide", "narrow again", "wide", None)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "10.0.0.1/24",
            "10.0.0.1/24 is not a valid CIDR: host part of address was not zero. "
            "Did you mean 10.0.0.0/24?",
        ),
        ("foo", "foo is not a valid CIDR"),
        ("foo:25", "failed to parse 'foo', the :-delimited portion of 'foo:25', as an IP address"),
        ("1.2.3.4/33", "Network length 33 is too long for Ipv4"),
    ],
)
def test_cidr_errors(load: Any, key: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        lua(load, f"return kumo.cidr.make_map {{ ['{key}'] = 1 }}")
    assert message in str(info.value)
    with pytest.raises(PolicyError) as info:
        lua(load, f"return kumo.cidr.make_map()['{key}']")
    assert message in str(info.value)


# kumod's trie replaces the whole subtree below an inserted prefix, so the map
# behaves like painting: each insertion sets every address it covers.
_PREFIXES = [
    f"10.0.0.{base}/{length}"
    for length in range(28, 33)
    for base in range(0, 16, 2 ** (32 - length))
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_PREFIXES), st.integers(0, 3)), max_size=12))
def test_cidr_map_paints_like_kumods_trie(inserts: list[tuple[str, int]]) -> None:
    import ipaddress

    from kumopy._kumo.cidr import CidrMap, parse_cidr

    cmap = CidrMap()
    painted: dict[int, int] = {}
    for prefix, value in inserts:
        for net in parse_cidr(prefix):
            cmap.insert(net, value)
        net = ipaddress.ip_network(prefix)
        for addr in net:
            painted[int(addr) & 15] = value
    for last in range(16):
        probe = parse_cidr(f"10.0.0.{last}")[0]
        assert cmap.get(probe) == painted.get(last)
