"""`kumo.dns` (kumod: crates/mod-dns-resolver, dns-resolver, mailexchanger),
answering from a fake resolver only.

kumopy never sends a DNS query.  Lookups answer from zone-file text, the
same text kumod's `kumo.dns.configure_test_resolver` takes, given either by
the policy (`kumo.dns.configure_test_resolver{...}`, `define_resolver` with
a `Test` resolver) or by the test (`Policy.load(..., dns_zones=[...])`, or
`configure_test_resolver(policy, zones)` from Python).  Without one, every
lookup fails with an error saying so.

The test resolver behaves like kumod's `TestResolver`: the zone is found by
walking up the queried name's labels (no zone -> NXDOMAIN); a name inside a
zone without records of the type answers "no records" (NOERROR); one CNAME
is followed; names listed in `servfail` answer SERVFAIL (no records).  MX
resolution is kumod's `MailExchanger::resolve`: hosts lowercased with their
trailing dot, grouped and sorted by preference then name, the implicit MX
(the domain itself) when there are no MX records, `site_name` factored as
kumod does (`(alt1|alt2)?.gmail-smtp-in.l.google.com`).

Python API (used by `kumo.shaping.load`): `resolve_mx(policy, domain)` ->
`MailExchanger`, `mx_hosts(policy, domain)`, `DnsError`,
`configure_test_resolver(policy, zones, servfail=())`.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from .._runtime import encode, lua_type
from ._args import ArgConversionError, bool_arg
from ._lib import rust_string

if TYPE_CHECKING:
    from .._policy import Policy
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = [
    "DnsError",
    "MailExchanger",
    "TestResolver",
    "configure_test_resolver",
    "mx_hosts",
    "resolve_mx",
]

ZoneSpec = str | Mapping[str, Any]

# Record types by number (RFC 1035, RFC 3596: dnspython's RdataType values),
# so that dnspython's heavier modules are imported only when a zone is
# parsed or a name checked.
_A, _CNAME, _PTR, _MX, _TXT, _AAAA = 1, 5, 12, 15, 16, 28


class DnsError(KumoError):
    """A DNS lookup failed (or no fake resolver is configured)."""


NO_RESOLVER = (
    "kumopy: no DNS resolver is configured and kumopy queries real DNS only with the network "
    "allowed; give zone files with --dns-zone FILE (or Policy.load(..., dns_zones=[...]), "
    "or kumo.dns.configure_test_resolver{...} in the policy), or allow real lookups with "
    "--network"
)


@dataclass
class _Answer:
    records: list[Any]
    nxdomain: bool = False
    secure: bool = False
    servfail: bool = False


@dataclass
class _Zone:
    records: dict[tuple[str, int], list[Any]]
    secure: bool


def _key(name: str) -> str:
    """A name as a case-insensitive, fully qualified key."""
    n = name.lower()
    return n if n.endswith(".") else n + "."


def _parent(name: str) -> str | None:
    """example.com. -> com. -> . -> None"""
    if name == ".":
        return None
    head, _, rest = name.partition(".")
    return rest if rest else "."


class TestResolver:
    """kumod's TestResolver: in-memory zones parsed from zone-file text."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.zones: dict[str, _Zone] = {}
        self.servfail: set[str] = set()

    def add_zone(self, text: str, *, secure: bool = False) -> None:
        import dns.zone

        try:
            zone = dns.zone.from_text(text, origin=None, relativize=False, check_origin=False)
        except dns.zone.UnknownOrigin:
            raise DnsError(
                "failed to parse test zone: $ORIGIN was not specified (the zone text must "
                "start with a `$ORIGIN example.com.` line)"
            ) from None
        except dns.exception.DNSException as e:
            raise DnsError(f"failed to parse test zone: {e}") from None
        records: dict[tuple[str, int], list[Any]] = {}
        for name, _ttl, rdata in zone.iterate_rdatas():
            records.setdefault((_key(name.to_text()), int(rdata.rdtype)), []).append(rdata)
        assert zone.origin is not None
        self.zones[_key(zone.origin.to_text())] = _Zone(records, secure)

    def add_servfail(self, name: str) -> None:
        self.servfail.add(_key(name))

    def get(self, name: str, rdtype: int, _depth: int = 0) -> _Answer:
        full = _key(name)
        if full in self.servfail:
            return _Answer([], servfail=True)
        authority: str | None = full
        zone = None
        while authority is not None:
            zone = self.zones.get(authority)
            if zone is not None:
                break
            authority = _parent(authority)
        if zone is None:
            return _Answer([], nxdomain=True)
        records = zone.records.get((full, rdtype))
        if records is None:
            cname = zone.records.get((full, _CNAME))
            if rdtype != _CNAME and cname and _depth < 16:
                answer = self.get(cname[0].target.to_text(), rdtype, _depth + 1)
                answer.secure = answer.secure and zone.secure
                return answer
            return _Answer([], secure=zone.secure)
        return _Answer(list(records), secure=zone.secure)


class _DnsService:
    def __init__(self) -> None:
        #: the default resolver (None: nothing configured)
        self.default: TestResolver | None = None
        #: True when the test configured the resolver (the policy's
        #: configure_resolver calls then leave it alone)
        self.from_test = False
        self.named: dict[str, TestResolver] = {}
        #: non-test configure_resolver calls the policy made, as data
        self.configured: list[Any] = []


def _service(policy: Policy) -> _DnsService:
    return policy.service("dns", _DnsService)


def _build(zones: Iterable[ZoneSpec], servfail: Iterable[str] = ()) -> TestResolver:
    resolver = TestResolver()
    for zone in zones:
        if isinstance(zone, str):
            resolver.add_zone(zone)
        elif isinstance(zone, Mapping) and isinstance(zone.get("zone"), str):
            resolver.add_zone(zone["zone"], secure=bool(zone.get("secure", False)))
        else:
            raise DnsError(
                f"a test zone must be zone-file text or {{zone=..., secure=...}}, not {zone!r}"
            )
    for name in servfail:
        resolver.add_servfail(name)
    return resolver


def configure_test_resolver(
    policy: Policy, zones: Iterable[ZoneSpec], *, servfail: Iterable[str] = ()
) -> None:
    """Answer this process's DNS lookups from `zones` (zone-file text, or
    {"zone": text, "secure": bool}); names in `servfail` answer SERVFAIL.
    Later `configure_resolver` calls of the policy do not replace it."""
    try:
        resolver = _build(list(zones), list(servfail))
    except DnsError as e:
        raise ValueError(str(e)) from None
    svc = _service(policy)
    svc.default = resolver
    svc.from_test = True


def _resolver(state_or_policy: Any, name: str | None = None) -> TestResolver:
    policy = getattr(state_or_policy, "process", state_or_policy)
    svc = _service(policy)
    if name is not None:
        r = svc.named.get(name)
        if r is None:
            raise DnsError(f"resolver {name} is not defined")
        return r
    if svc.default is None:
        network = _network_resolver(policy, svc)
        if network is not None:
            return network  # type: ignore[no-any-return]
        raise DnsError(NO_RESOLVER)
    return svc.default


def _network_resolver(policy: Any, svc: _DnsService) -> Any:
    """With the network allowed and no fake resolver: a real resolver using
    the name servers the policy configured, else the system's (_netdns)."""
    if not getattr(policy, "network", False):
        return None
    from ._netdns import NetworkResolver, name_servers_of

    servers = name_servers_of(svc.configured[-1]) if svc.configured else []
    cached = getattr(svc, "network_resolver", None)
    if cached is None or cached[0] != servers:
        cached = (servers, NetworkResolver(servers))
        svc.network_resolver = cached  # type: ignore[attr-defined]
    return cached[1]


# -- names ------------------------------------------------------------------


def fully_qualify(domain: str) -> str:
    """kumod's fully_qualify: lowercased, IDNA, with the trailing dot."""
    import dns.name

    try:
        name = dns.name.from_text(domain)
    except (dns.exception.DNSException, UnicodeError) as e:
        raise DnsError(f"invalid DNS name {domain}: {e}") from None
    return name.to_text().lower()


def _labels(fqdn: str) -> list[str]:
    return [] if fqdn == "." else fqdn.rstrip(".").split(".")


def has_colon_port(text: str) -> tuple[str, int] | None:
    label, sep, port = text.rpartition(":")
    if not sep or ":" in label or not port.isdigit() or not port.isascii():
        return None
    value = int(port)
    return (label, value) if value < 65536 else None


def factor_names(names: Iterable[str]) -> str:
    """kumod's site_name: the hosts' labels factored into an alternation,
    right to left (`(alt1|alt2)?.gmail-smtp-in.l.google.com`)."""
    split: list[list[str]] = []
    for raw in names:
        cracked = has_colon_port(raw)
        host, port = cracked if cracked else (raw, None)
        try:
            fq = fully_qualify(host)
        except DnsError:
            continue
        fields = _labels(fq)
        if port is not None and fields:
            fields[-1] += f":{port}"
        fields.reverse()
        split.append(fields)
    width = max((len(f) for f in split), default=0)
    elements: list[list[str]] = []
    for fields in split:
        for i, value in enumerate([*fields, *["?"] * (width - len(fields))]):
            if i < len(elements):
                if value not in elements[i]:
                    elements[i].append(value)
            else:
                elements.append([value])
    out = []
    for ele in elements:
        optional = "?" in ele
        items = [e for e in ele if e != "?"]
        text = items[0] if len(items) == 1 else "(" + "|".join(items) + ")"
        out.append(text + ("?" if optional else ""))
    out.reverse()
    return ".".join(out)


def _rust_duration_debug(seconds: float) -> str:
    ns = int(seconds * 1e9)
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return f"{ns / 1e3:g}µs"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:g}ms"
    return f"{ns / 1e9:g}s"


# -- MX ---------------------------------------------------------------------


@dataclass(frozen=True)
class MailExchanger:
    """kumod's MailExchanger (what kumo.dns.lookup_mx returns)."""

    domain_name: str
    hosts: list[str]
    site_name: str
    by_pref: dict[int, list[str]] = field(default_factory=dict)
    is_domain_literal: bool = False
    is_secure: bool = False
    is_mx: bool = True
    mta_sts: str = "None"

    def to_data(self) -> dict[str, Any]:
        return {
            "domain_name": self.domain_name,
            "hosts": list(self.hosts),
            "site_name": self.site_name,
            "by_pref": {k: list(v) for k, v in self.by_pref.items()},
            "is_domain_literal": self.is_domain_literal,
            "is_secure": self.is_secure,
            "is_mx": self.is_mx,
            "mta_sts": self.mta_sts,
        }


def _literal(domain: str, port: int | None, original: str) -> MailExchanger:
    if not domain.endswith("]"):
        raise DnsError(f"domain_name `{domain}` is a malformed literal domain with no trailing `]`")
    literal = domain[1:-1].lower()
    inner = has_colon_port(literal)
    if inner is not None:
        if port is not None:
            raise DnsError(
                f"invalid address: `{domain}` specifies a port both inside and outside a "
                "literal address enclosed in square brackets"
            )
        literal, port = inner
    text = literal[5:] if literal.startswith("ipv6:") else literal
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        kind = "ipv6 address" if literal.startswith("ipv6:") else "address"
        raise DnsError(f"invalid {kind}: `{text}`: invalid IP address syntax") from None
    if literal.startswith("ipv6:") and ip.version != 6:
        raise DnsError(f"invalid ipv6 address: `{text}`: invalid IPv6 address syntax")
    if port is None:
        shown = str(ip)
    else:
        shown = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
    return MailExchanger(
        domain_name=original,
        hosts=[shown],
        site_name=shown,
        by_pref={1: [shown]},
        is_domain_literal=True,
        is_secure=False,
        is_mx=False,
    )


def resolve_mx(policy: Any, domain: str, resolver: str | None = None) -> MailExchanger:
    """kumod's MailExchanger::resolve for `domain` through the fake
    resolver (`policy` is the Policy, or a LuaState of it)."""
    start = time.perf_counter()
    cracked = has_colon_port(domain)
    name, port = cracked if cracked else (domain, None)
    if name.startswith("["):
        return _literal(name, port, domain)
    fqdn = fully_qualify(name)
    answer = _resolver(policy, resolver).get(fqdn, _MX)
    if not answer.records:
        if answer.nxdomain:
            elapsed = _rust_duration_debug(time.perf_counter() - start)
            raise DnsError(f"MX lookup for {domain} failed after {elapsed}: NXDOMAIN")
        groups: dict[int, list[str]] = {1: [fqdn]}
        is_mx = False
    else:
        groups = {}
        for mx in answer.records:
            groups.setdefault(int(mx.preference), []).append(mx.exchange.to_text().lower())
        is_mx = True
    by_pref: dict[int, list[str]] = {}
    hosts: list[str] = []
    for pref in sorted(groups):
        names = sorted(groups[pref])
        if port is not None:
            names = [f"{h}:{port}" for h in names]
        by_pref[pref] = names
        hosts.extend(names)
    return MailExchanger(
        domain_name=fqdn,
        hosts=hosts,
        site_name=factor_names(hosts),
        by_pref=by_pref,
        is_domain_literal=False,
        is_secure=answer.secure,
        is_mx=is_mx,
    )


def mx_hosts(policy: Any, domain: str) -> list[str]:
    """The MX hosts of `domain` in kumod's order (see resolve_mx)."""
    return list(resolve_mx(policy, domain).hosts)


def lookup_addr(
    policy: Any, name: str, resolver: str | None = None, strategy: str = "Ipv4AndIpv6"
) -> list[str]:
    if name.startswith("["):
        if not name.endswith("]"):
            raise DnsError(
                f"domain_name `{name}` is a malformed literal domain with no trailing `]`"
            )
        literal = name[1:-1].lower()
        text = literal[5:] if literal.startswith("ipv6:") else literal
        try:
            return [str(ipaddress.ip_address(text))]
        except ValueError:
            raise DnsError(f"invalid address: `{text}`: invalid IP address syntax") from None
    try:
        return [str(ipaddress.ip_address(name))]
    except ValueError:
        pass
    r = _resolver(policy, resolver)
    fqdn = fully_qualify(name)

    def family(rdtype: int) -> list[str]:
        return [str(ipaddress.ip_address(rd.address)) for rd in r.get(fqdn, rdtype).records]

    def v4() -> list[str]:
        return family(_A)

    def v6() -> list[str]:
        return family(_AAAA)

    if strategy == "Ipv4Only":
        return v4()
    if strategy == "Ipv6Only":
        return v6()
    if strategy == "Ipv6ThenIpv4":
        return v6() or v4()
    if strategy == "Ipv4ThenIpv6":
        return v4() or v6()
    return v4() + v6()


def _txt(answer: _Answer) -> list[str]:
    return [
        b"".join(rd.strings).decode("utf-8", "replace")
        for rd in answer.records
        if int(rd.rdtype) == _TXT
    ]


def reverse_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if ip.version == 4:
        return ".".join(reversed(str(ip).split(".")))
    nibbles = ip.packed.hex()
    return ".".join(reversed(nibbles))


def ptr_host(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return reverse_ip(ip) + (".in-addr.arpa" if ip.version == 4 else ".ip6.arpa")


# -- the Lua functions --------------------------------------------------------

_STRATEGIES = ("Ipv4Only", "Ipv6Only", "Ipv4AndIpv6", "Ipv6ThenIpv4", "Ipv4ThenIpv6")
_NOTES = (
    "answers from a fake resolver (configure_test_resolver / --dns-zone / Policy dns_zones), "
    "or real DNS with --network; "
)


def register(kumo: Namespace) -> None:
    kumo.function(
        "dns.lookup_mx",
        _lookup_mx,
        notes=_NOTES + 'no MX cache, no MTA-STS (mta_sts is always "None")',
    )
    kumo.function("dns.lookup_addr", _lookup_addr, notes=_NOTES.rstrip("; "))
    kumo.function("dns.lookup_txt", _lookup_txt, notes=_NOTES.rstrip("; "))
    kumo.function("dns.lookup_ptr", _lookup_ptr, notes=_NOTES.rstrip("; "))
    kumo.function("dns.rbl_lookup", _rbl_lookup, notes=_NOTES.rstrip("; "))
    kumo.function("dns.ptr_host", _ptr_host)
    kumo.function("dns.reverse_ip", _reverse_ip)
    kumo.function(
        "dns.configure_test_resolver",
        _configure_test_resolver,
        notes="as kumod; a resolver given by the test (Policy dns_zones) is replaced too",
    )
    kumo.function(
        "dns.define_resolver",
        _define_resolver,
        notes="only `Test` (and `Aggregate` of `Test`) resolvers; others raise 'not supported'",
    )
    kumo.function(
        "dns.configure_resolver",
        _configure_resolver,
        notes="a `Test` config installs the fake resolver; a real resolver config's "
        "name_servers are used only with the network allowed (--network)",
    )
    for name in (
        "set_mx_concurrency_limit",
        "set_mx_timeout",
        "set_mx_negative_cache_ttl",
        "set_mta_sts_enabled",
    ):
        kumo.function(
            f"dns.{name}", _setting(name), notes="argument checked and recorded; no effect"
        )


def _opt_name(value: Any) -> str | None:
    return None if value is None else rust_string(value)


def _ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    text = rust_string(value)
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise KumoError("invalid IP address syntax") from None


def _lookup_mx(state: LuaState, domain: Any = None, resolver: Any = None) -> Any:
    from .constructors import to_lua_with_null

    mx = resolve_mx(state, rust_string(domain), _opt_name(resolver))
    return to_lua_with_null(state, mx.to_data())


def _lookup_addr(
    state: LuaState, name: Any = None, resolver: Any = None, strategy: Any = None
) -> Any:
    domain = rust_string(name)
    res = _opt_name(resolver)
    how = "Ipv4AndIpv6"
    if strategy is not None:
        how = rust_string(strategy, "IpLookupStrategy")
        if how not in _STRATEGIES:
            expected = ", ".join(f"`{s}`" for s in _STRATEGIES)
            raise KumoError(f"unknown variant `{how}`, expected one of {expected}")
    return state.to_lua(lookup_addr(state, domain, res, how))


def _lookup_txt(state: LuaState, name: Any = None, resolver: Any = None) -> Any:
    domain = rust_string(name)
    r = _resolver(state, _opt_name(resolver))
    return state.to_lua(_txt(r.get(fully_qualify(domain), _TXT)))


def _lookup_ptr(state: LuaState, ip: Any = None, resolver: Any = None) -> Any:
    r = _resolver(state, _opt_name(resolver))
    addr = _ip(ip)
    answer = r.get(ptr_host(addr), _PTR)
    return state.to_lua([rd.target.to_text() for rd in answer.records])


def _rbl_lookup(
    state: LuaState, ip: Any = None, bl_domain: Any = None, resolver: Any = None
) -> Any:
    text = rust_string(ip)
    zone = rust_string(bl_domain)
    r = _resolver(state, _opt_name(resolver))
    host = text
    cracked = has_colon_port(text)
    if text.startswith("[") and "]" in text:
        host = text[1 : text.index("]")]
    elif cracked is not None:
        host = cracked[0]
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise KumoError(f"{text} is not a valid IpAddr or SocketAddr") from None
    name = fully_qualify(f"{reverse_ip(addr)}.{zone}.")
    found = [
        rd.address
        for t in (_A, _AAAA)
        for rd in r.get(name, t).records
    ]
    if not found:
        return None, None
    txt = "".join(_txt(r.get(name, _TXT)))
    return state.to_lua(str(ipaddress.ip_address(found[0]))), state.to_lua(txt)


def _ptr_host(state: LuaState, ip: Any = None) -> Any:
    return state.to_lua(ptr_host(_ip(ip)))


def _reverse_ip(state: LuaState, ip: Any = None) -> Any:
    return state.to_lua(reverse_ip(_ip(ip)))


def _zones_from_lua(state: LuaState, config: Any, what: str) -> TestResolver:
    bad = KumoError(f"data did not match any variant of untagged enum {what}")
    if lua_type(config) != "table":
        raise bad
    data = state.to_python(config)
    servfail: list[Any] = []
    if isinstance(data, dict):
        if "zones" not in data or not set(data) <= {"zones", "servfail"}:
            raise bad
        zones, servfail = data["zones"], data.get("servfail") or []
    else:
        zones = data
    if isinstance(zones, dict) and not zones:
        zones = []
    if not isinstance(zones, list) or not isinstance(servfail, list | dict):
        raise bad
    if isinstance(servfail, dict):
        servfail = []
    for z in zones:
        ok = isinstance(z, str) or (
            isinstance(z, dict) and isinstance(z.get("zone"), str) and set(z) <= {"zone", "secure"}
        )
        if not ok or not all(isinstance(s, str) for s in servfail):
            raise bad
    return _build(zones, servfail)


def _configure_test_resolver(state: LuaState, config: Any = None) -> None:
    svc = _service(state.process)
    svc.default = _zones_from_lua(state, config, "TestResolverConfig")


def _resolver_config(state: LuaState, value: Any, path: str) -> TestResolver | None:
    data = state.to_python(value) if lua_type(value) == "table" or isinstance(value, bytes) \
        else value
    if isinstance(data, str):
        data = {data: None}
    if not isinstance(data, dict) or len(data) != 1:
        raise KumoError(
            "invalid type: expected enum KumoResolverConfig (a table with one of Hickory, "
            "HickorySystemConfig, Unbound, Test, Aggregate)"
        )
    ((variant, inner),) = data.items()
    if variant == "Test":
        return _zones_from_lua(
            state, value[b"Test"] if lua_type(value) == "table" else None, "TestResolverConfig"
        )
    if variant == "Aggregate" and isinstance(inner, list):
        merged = TestResolver()
        for idx, _child in enumerate(inner):
            child = _resolver_config(
                state, value[b"Aggregate"][idx + 1], f"{path}.Aggregate[{idx}]"
            )
            if child is None:
                return None
            for k, z in child.zones.items():
                merged.zones.setdefault(k, z)
            merged.servfail |= child.servfail
        return merged
    if variant in ("Hickory", "Unbound"):
        from .dns_config import check_backend

        inner_value = value[encode(variant)] if lua_type(value) == "table" else None
        check_backend(state, variant, inner_value, path)
        return None
    if variant == "HickorySystemConfig":
        return None
    raise KumoError(
        f"unknown variant `{variant}`, expected one of `Hickory`, `HickorySystemConfig`, "
        "`Unbound`, `Test`, `Aggregate`"
    )


def _define_resolver(state: LuaState, name: Any = None, config: Any = None) -> None:
    resolver_name = rust_string(name)
    resolver = _resolver_config(state, config, f"define_resolver({resolver_name!r})")
    if resolver is None:
        raise KumoError(
            "kumopy: kumo.dns.define_resolver only supports `Test` resolvers (kumopy never "
            "queries real DNS)"
        )
    _service(state.process).named[resolver_name] = resolver


def _configure_resolver(state: LuaState, config: Any = None) -> None:
    svc = _service(state.process)
    if lua_type(config) != "table" and not isinstance(config, bytes):
        raise ArgConversionError(config, "table")
    data = state.to_python(config)
    if isinstance(data, dict) and set(data) == {"Test"}:
        svc.default = _zones_from_lua(state, config[b"Test"], "TestResolverConfig")
        return
    try:
        _resolver_config(state, config, "configure_resolver")
    except KumoError as err1:
        # kumod then tries the table as a bare DnsResolverConfig (Hickory)
        from ._schema import DeError, lua_tree
        from .dns_config import de_config

        try:
            de_config(lua_tree(state, config))
        except DeError as err2:
            raise KumoError(
                f"failed to parse config as either KumoResolverConfig ({err1}) or "
                f"DnsResolverConfig ({err2})"
            ) from None
    svc.configured.append(data)


def _setting(name: str) -> Any:
    def impl(state: LuaState, value: Any = None) -> None:
        if name == "set_mta_sts_enabled":
            value = bool_arg(value)
        elif name == "set_mx_concurrency_limit":
            from ._lib import usize_arg

            usize_arg(value)
        else:
            from .._duration import parse_duration

            try:
                parse_duration(state.to_python(value))
            except ValueError as e:
                raise KumoError(str(e)) from None

    return impl
