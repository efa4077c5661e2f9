"""Real DNS with --network: kumo.dns and MX resolution through dnspython,
against a small DNS server on loopback that this test runs."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import dns.rrset
import pytest
from click.testing import CliRunner

from kumopy import PolicyError
from kumopy.cli import cli

RECORDS = {
    ("example.test.", "MX"): ["10 mx1.example.test.", "20 mx2.example.test."],
    ("mx1.example.test.", "A"): ["192.0.2.10"],
}


@pytest.fixture
def dns_server() -> Iterator[tuple[str, int, list[str]]]:
    """A UDP DNS server on 127.0.0.1 answering RECORDS (NXDOMAIN otherwise);
    yields (ip, port, names asked)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    asked: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except OSError:
                continue
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            q = query.question[0]
            name, kind = q.name.to_text().lower(), dns.rdatatype.to_text(q.rdtype)
            asked.append(f"{name} {kind}")
            found = RECORDS.get((name, kind))
            if found:
                reply.answer.append(dns.rrset.from_text_list(name, 300, "IN", kind, found))
            elif not any(n == name for n, _ in RECORDS):
                reply.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", sock.getsockname()[1], asked
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()


POLICY = """
kumo.on('init', function()
  kumo.dns.configure_resolver { name_servers = { '%s' } }
end)
kumo.on('t', function(domain)
  local mx = kumo.dns.lookup_mx(domain)
  return mx.site_name, mx.hosts, kumo.dns.lookup_addr('mx1.example.test')
end)
"""


def test_with_network_lookups_use_the_configured_name_server(load: Any, dns_server: Any) -> None:
    ip, port, asked = dns_server
    p = load(POLICY % f"{ip}:{port}", network=True)
    p.dispatch("init")
    site, hosts, addrs = p.dispatch("t", "example.test").values
    assert site == "(mx1|mx2).example.test"
    assert hosts == ["mx1.example.test.", "mx2.example.test."]
    assert addrs == ["192.0.2.10"]
    assert "example.test. MX" in asked
    with pytest.raises(PolicyError, match="NXDOMAIN"):
        p.dispatch("t", "nope.test")


def test_without_network_nothing_is_asked(load: Any, dns_server: Any) -> None:
    ip, port, asked = dns_server
    p = load(POLICY % f"{ip}:{port}")
    p.dispatch("init")
    with pytest.raises(PolicyError, match="--dns-zone FILE .* --network"):
        p.dispatch("t", "example.test")
    assert asked == []


def test_dns_zone_beats_the_network(load: Any, dns_server: Any, tmp_path: Path) -> None:
    ip, port, asked = dns_server
    zone = "$ORIGIN example.test.\n@ 300 IN MX 5 only.example.test.\n"
    p = load(POLICY % f"{ip}:{port}", network=True, dns_zones=[zone])
    p.dispatch("init")
    assert p.dispatch("t", "example.test").values[0] == "only.example.test"
    assert not any("MX" in a for a in asked)


def test_network_dns_from_the_cli(tmp_path: Path, dns_server: Any) -> None:
    ip, port, _ = dns_server
    policy = tmp_path / "init.lua"
    policy.write_text(
        "local kumo = require 'kumo'\n"
        f"kumo.dns.configure_resolver {{ name_servers = {{ '{ip}:{port}' }} }}\n"
        "kumo.on('main', function(d) print(kumo.dns.lookup_mx(d).site_name) end)\n"
    )
    result = CliRunner().invoke(cli, ["script", "--network", str(policy), "example.test"])
    assert result.exit_code == 0, result.output
    assert "(mx1|mx2).example.test" in result.output


def test_addresses_come_from_the_hosts_file_first_as_hickory_does(tmp_path: Path) -> None:
    from kumopy._kumo._netdns import NetworkResolver

    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost\n# comment\n"
                     "192.0.2.7 mta.internal mta  # trailing\n")
    resolver = NetworkResolver([("127.0.0.1", 9)], hosts_file=str(hosts))
    assert [r.address for r in resolver.get("localhost.", 1).records] == ["127.0.0.1"]
    assert [r.address for r in resolver.get("localhost.", 28).records] == ["::1"]
    assert [r.address for r in resolver.get("MTA.internal.", 1).records] == ["192.0.2.7"]
