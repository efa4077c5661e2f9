"""`kumo.cidr.make_map([map])` (kumod: crates/cidr-map).

A map keyed by CIDR blocks (IPv4 and IPv6, or a bare address for a /32 or
/128), looked up with an address: `map['10.1.2.3']` answers the value of
the most specific block that contains it.  Keys and lookups may carry a
port (`10.0.0.1:25`, `[::1]:25`), which is ignored, and a lookup with a
CIDR looks up its first address.  Keys must have their host bits clear,
as kumod's parser demands (`10.0.0.1/24 is not a valid CIDR: host part of
address was not zero. Did you mean 10.0.0.0/24?`).

kumod's map is a bit trie where an insertion overwrites everything below
the inserted prefix: assigning `map['10.0.0.0/8'] = v` after
`map['10.1.0.0/16'] = w` makes `10.1.2.3` answer `v`.  kumopy keeps that
rule.  For the constructor's table, whose iteration order kumod takes from
a randomly seeded hash map, kumopy inserts shorter prefixes first, so the
longest prefix wins, the only order-independent reading.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from .._runtime import lua_type
from .._runtime.userdata import Userdata
from ._args import ArgConversionError
from ._lib import rust_string

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["CidrMap", "parse_cidr", "register"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _plain_cidr(text: str) -> list[Network]:
    if text == "any":
        return [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
    addr, slash, length = text.partition("/")
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        if slash:
            raise KumoError(
                f"{text} is not a valid CIDR: couldn't parse address in network: "
                "invalid IP address syntax"
            ) from None
        raise KumoError(f"{text} is not a valid CIDR: invalid IP address syntax") from None
    if not slash:
        return [ipaddress.ip_network(ip)]
    bits = 32 if ip.version == 4 else 128
    if not length.isdigit() or not length.isascii():
        raise KumoError(
            f"{text} is not a valid CIDR: couldn't parse length in network: invalid digit "
            "found in string"
        )
    n = int(length)
    if n > bits:
        raise KumoError(
            f"{text} is not a valid CIDR: invalid length for network: Network length {n} is "
            f"too long for {'Ipv4' if ip.version == 4 else 'Ipv6'} (maximum: {bits})"
        )
    try:
        return [ipaddress.ip_network(f"{ip}/{n}")]
    except ValueError:
        loose = ipaddress.ip_network(f"{ip}/{n}", strict=False)
        raise KumoError(
            f"{text} is not a valid CIDR: host part of address was not zero. "
            f"Did you mean {_show(loose)}?"
        ) from None


def _show(net: Network) -> str:
    full = 32 if net.version == 4 else 128
    return str(net.network_address) if net.prefixlen == full else str(net)


@functools.lru_cache(maxsize=4096)
def parse_cidr(text: str) -> tuple[Network, ...]:
    """kumod's parse_cidr_from_ip_and_or_port (`any` gives both families)."""
    try:
        return tuple(_plain_cidr(text))
    except KumoError as err:
        if text.startswith("[") and "]" in text[1:]:
            ip = text[1:].split("]", 1)[0]
            try:
                return tuple(_plain_cidr(ip))
            except KumoError as inner:
                raise KumoError(
                    f"failed to parse '{ip}', the []-enclosed portion of '{text}', as an IP "
                    f"address: {inner}"
                ) from None
        if ":" in text:
            ip = text.rsplit(":", 1)[0]
            try:
                return tuple(_plain_cidr(ip))
            except KumoError as inner:
                raise KumoError(
                    f"failed to parse '{ip}', the :-delimited portion of '{text}', as an IP "
                    f"address: {inner}"
                ) from None
        raise err from None


class CidrMap(Userdata):
    """kumod's CidrMap: later insertions overwrite the blocks they cover."""

    lua_type_name = "CidrMap"
    memoizable = True

    def __init__(self) -> None:
        # (network, value) in insertion order; a lookup takes the last
        # inserted block containing the address, which is what kumod's
        # overwrite-the-subtree insertion amounts to
        self._entries: list[tuple[Network, Any]] = []

    def insert(self, net: Network, value: Any) -> None:
        self._entries = [(n, v) for n, v in self._entries if not _covers(net, n)]
        self._entries.append((net, value))

    def get(self, net: Network, default: Any = None) -> Any:
        probe = net.network_address
        for n, v in reversed(self._entries):
            if n.version == probe.version and probe in n:
                return v
        return default

    def items(self) -> list[tuple[str, Any]]:
        return [(_show(n), v) for n, v in self._entries]

    def lua_index(self, state: LuaState, key: Any) -> Any:
        nets = parse_cidr(rust_string(key))
        value = self.get(nets[0])
        if value is None or value.__class__ in (int, float, bool):
            return value
        return state.cache_value_to_lua(value)

    def lua_newindex(self, state: LuaState, key: Any, value: Any) -> None:
        nets = parse_cidr(rust_string(key))
        stored = state.to_cache_value(value)
        for net in nets:
            self.insert(net, stored)

    def to_data(self) -> Any:
        from .._runtime.userdata import _materialize

        return {k: _materialize(v) for k, v in sorted(self.items())}


def _covers(outer: Network, inner: Network) -> bool:
    return outer.version == inner.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def register(kumo: Namespace) -> None:
    kumo.function(
        "cidr.make_map",
        make_map,
        notes="kumod's overwrite-on-insert rule; the constructor's table is inserted shortest "
        "prefix first (kumod: hash order), so the longest prefix wins",
    )


def make_map(state: LuaState, rules: Any = None) -> CidrMap:
    cmap = CidrMap()
    if rules is None:
        return cmap
    if lua_type(rules) != "table":
        raise ArgConversionError(rules, "HashMap<String, Value>")
    parsed = []
    for k, v in rules.items():
        nets = parse_cidr(rust_string(k))
        parsed.append((nets, state.to_cache_value(v)))
    parsed.sort(key=lambda item: item[0][0].prefixlen)
    for nets, value in parsed:
        for net in nets:
            cmap.insert(net, value)
    return cmap
