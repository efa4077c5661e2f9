"""A real DNS resolver for `kumo.dns` and MX resolution, used only when the
network is allowed (--network, `Policy.load(network=True)`,
`kumo_network = true`) and no fake resolver is configured.

It answers the same questions as kumopy's TestResolver (`get(name, rdtype)`
-> records, NXDOMAIN, SERVFAIL) through dnspython: the name servers the
policy gave `kumo.dns.configure_resolver{name_servers = {...}}` (or a
`Hickory`/`Unbound` config's), else the system's (/etc/resolv.conf).  As
Hickory does by default, address lookups answer from /etc/hosts first (so
`localhost` and the machine's own name resolve as they do for kumod).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver

__all__ = ["NetworkResolver", "name_servers_of"]

TIMEOUT = 5.0
HOSTS_FILE = "/etc/hosts"


def read_hosts(path: str = HOSTS_FILE) -> dict[tuple[str, int], list[Any]]:
    """(fqdn, A|AAAA) -> rdata, from a hosts file (missing file: empty)."""
    out: dict[tuple[str, int], list[Any]] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return out
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            ip = ipaddress.ip_address(fields[0].split("%", 1)[0])
        except ValueError:
            continue
        kind = dns.rdatatype.A if ip.version == 4 else dns.rdatatype.AAAA
        rdata = dns.rdata.from_text(dns.rdataclass.IN, kind, str(ip))
        for name in fields[1:]:
            key = (name.lower().rstrip(".") + ".", int(kind))
            out.setdefault(key, []).append(rdata)
    return out


def _server(entry: Any) -> tuple[str, int] | None:
    text = entry
    if isinstance(entry, dict):
        text = entry.get("socket_addr") or entry.get("addr") or entry.get("address")
    if not isinstance(text, str):
        return None
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit():
        return host.strip("[]"), int(port)
    return text.strip("[]"), 53


def name_servers_of(config: Any) -> list[tuple[str, int]]:
    """The (ip, port) name servers of a configure_resolver/define_resolver
    config (`{name_servers=...}`, `{Hickory={name_servers=...}}`, ...)."""
    if isinstance(config, dict):
        if "name_servers" in config and isinstance(config["name_servers"], list):
            return [s for s in (_server(e) for e in config["name_servers"]) if s is not None]
        for key in ("Hickory", "Unbound"):
            if isinstance(config.get(key), dict):
                return name_servers_of(config[key])
    return []


class _Answer:
    def __init__(self, records: list[Any], nxdomain: bool = False,
                 servfail: bool = False) -> None:
        self.records = records
        self.nxdomain = nxdomain
        self.servfail = servfail
        self.secure = False


class NetworkResolver:
    """dnspython behind kumopy's resolver interface."""

    def __init__(
        self, servers: list[tuple[str, int]] | None = None, hosts_file: str = HOSTS_FILE
    ) -> None:
        self.hosts = read_hosts(hosts_file)
        if servers:
            self.resolver = dns.resolver.Resolver(configure=False)
            self.resolver.nameservers = [ip for ip, _ in servers]
            self.resolver.port = servers[0][1]
        else:
            self.resolver = dns.resolver.Resolver()
        self.resolver.lifetime = TIMEOUT
        self.resolver.timeout = TIMEOUT

    def get(self, name: str, rdtype: int) -> _Answer:
        local = self.hosts.get((name.lower(), int(rdtype)))
        if local:
            return _Answer(list(local))
        try:
            answer = self.resolver.resolve(name, dns.rdatatype.RdataType(rdtype),
                                           raise_on_no_answer=False,
                                           search=False)
        except dns.resolver.NXDOMAIN:
            return _Answer([], nxdomain=True)
        except (dns.resolver.NoNameservers, dns.exception.Timeout):
            return _Answer([], servfail=True)
        except dns.exception.DNSException:
            return _Answer([], servfail=True)
        return _Answer(list(answer.rrset) if answer.rrset is not None else [])
