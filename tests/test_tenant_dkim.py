"""The worked example of docs/messages.md (policies/tenant-dkim): tenant
from a header, unknown tenants rejected, DKIM signing; through the Python
API, `kumopy inject` and a real SMTP session against `kumopy serve`.

Keys are generated at run time (the example's shipped keys are test-only
and unused here) and the signatures are checked with dkimpy, an
independent verifier, against the generated public keys."""

from __future__ import annotations

import base64
import json
import shutil
import smtplib
from pathlib import Path
from typing import Any

import dkim
import nacl.signing
import pytest
from click.testing import CliRunner

from kumopy import Policy
from kumopy._reception import Reception
from kumopy.cli import cli

EXAMPLE = Path(__file__).resolve().parent.parent / "policies" / "tenant-dkim"
POLICY = EXAMPLE / "init.lua"
PKCS8_ED25519 = bytes.fromhex("302e020100300506032b657004220420")


class Keys:
    """Fresh Ed25519 keys for the example's tenants, laid out as the
    policy expects them under /opt/kumomta/etc/dkim."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.records: dict[str, bytes] = {}
        tenants = json.loads((EXAMPLE / "tenants.json").read_text())
        for config in tenants.values():
            key = nacl.signing.SigningKey.generate()
            pem = (b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(PKCS8_ED25519 + bytes(key))
                   + b"-----END PRIVATE KEY-----\n")
            path = root / config["domain"] / f"{config['selector']}.key"
            path.parent.mkdir(parents=True)
            path.write_bytes(pem)
            public = base64.b64encode(bytes(key.verify_key)).decode()
            name = f"{config['selector']}._domainkey.{config['domain']}."
            self.records[name] = f"v=DKIM1; k=ed25519; p={public}".encode()

    def dns(self, name: bytes | str, timeout: int = 5) -> bytes | None:
        text = name.decode() if isinstance(name, bytes) else name
        return self.records.get(text if text.endswith(".") else text + ".")

    def verifies(self, data: bytes) -> bool:
        try:
            return bool(dkim.DKIM(data).verify(dnsfunc=self.dns))
        except dkim.ValidationError:
            return False

    @property
    def path_map(self) -> dict[str, str]:
        return {"/opt/kumomta/etc/policy": str(EXAMPLE), "/opt/kumomta/etc/dkim": str(self.root)}


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    root = tmp_path / "dkim"
    root.mkdir()
    return Keys(root)


def eml(name: str) -> bytes:
    return (EXAMPLE / "messages" / name).read_bytes().replace(b"\n", b"\r\n")


def test_python_api_accepts_signs_and_queues(keys: Keys) -> None:
    reception = Reception(Policy.load(POLICY, path_map=keys.path_map), startup=True)
    session = reception.session(peer="10.1.2.3:40000")  # in the listener's relay_hosts
    assert str(session.greeting) == "220 mx.example.com KumoMTA"
    session.ehlo("injector.example")
    session.mail_from("news@acme.example")
    session.rcpt_to("user@example.net")
    reply = session.data(eml("acme.eml"))
    assert reply.code == 250
    [accepted] = session.accepted
    msg = accepted.message
    assert accepted.queue == "acme@example.net"
    assert msg.get_first_named_header_value("X-Tenant") is None
    signature = msg.get_first_named_header_value("DKIM-Signature") or ""
    assert "d=acme.example" in signature and "s=s2026" in signature
    assert keys.verifies(msg.data)
    tampered = msg.data.replace(b"Everything must go.", b"Nothing must go.")
    assert not keys.verifies(tampered)


def test_python_api_rejects_unknown_and_missing_tenant(keys: Keys) -> None:
    reception = Reception(Policy.load(POLICY, path_map=keys.path_map), startup=True)
    session = reception.session()
    session.mail_from("someone@initech.example")
    session.rcpt_to("user@example.net")
    assert str(session.data(eml("unknown-tenant.eml"))) == "550 5.7.1 unknown tenant initech"
    session.mail_from("someone@initech.example")
    session.rcpt_to("user@example.net")
    no_header = eml("unknown-tenant.eml").replace(b"X-Tenant: initech\r\n", b"")
    assert str(session.data(no_header)) == "550 5.7.1 missing X-Tenant header"
    assert session.accepted == []


def test_relaying_is_limited_to_relay_hosts(keys: Keys) -> None:
    reception = Reception(Policy.load(POLICY, path_map=keys.path_map), startup=True)
    session = reception.session(peer="198.51.100.20:40000")
    session.mail_from("news@acme.example")
    reply = session.rcpt_to("user@example.net")
    assert str(reply) == "550 5.7.1 relaying not permitted for 198.51.100.20:40000"


def inject(keys: Keys, message: str, sender: str, *extra: str) -> Any:
    args = ["inject", str(POLICY), str(EXAMPLE / "messages" / message), "-f", sender,
            "-r", "user@example.net", *extra]
    for src, dst in keys.path_map.items():
        args += ["--map", f"{src}={dst}"]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_kumopy_inject(keys: Keys) -> None:
    good = inject(keys, "acme.eml", "news@acme.example", "--json")
    assert good.exit_code == 0, good.output
    out = json.loads(good.output)
    [msg] = out["messages"]
    assert msg["queue"] == "acme@example.net"
    assert msg["changes"]["meta"] == {"tenant": "acme"}
    added = [h["name"] for h in msg["changes"]["headers"]["added"]]
    assert "DKIM-Signature" in added
    bad = inject(keys, "unknown-tenant.eml", "someone@initech.example")
    assert bad.exit_code == 1
    assert bad.output.splitlines()[-1] == "reply  550 5.7.1 unknown tenant initech"


def test_kumopy_serve_smtp_session(keys: Keys, kumo_smtp_server: Any) -> None:
    server = kumo_smtp_server(POLICY, path_map=keys.path_map)
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as conn:
        code, text = conn.ehlo("injector.example")
        assert text.decode().splitlines()[0] == "mx.example.com Aloha injector.example"
        conn.sendmail("news@acme.example", ["user@example.net"], eml("acme.eml"))
        with pytest.raises(smtplib.SMTPDataError) as info:
            conn.sendmail("someone@initech.example", ["user@example.net"],
                          eml("unknown-tenant.eml"))
        assert (info.value.smtp_code, info.value.smtp_error) == (
            550, b"5.7.1 unknown tenant initech")
    [rec] = server.wait_for_messages(1)
    assert (rec.queue, rec.meta["tenant"]) == ("acme@example.net", "acme")
    assert rec.eml_path is not None
    assert keys.verifies(rec.eml_path.read_bytes())


def test_shipped_test_keys_match_their_dns_records(tmp_path: Path) -> None:
    """The example runs with its own test-only keys too (as in the docs)."""
    shipped = EXAMPLE / "keys"
    root = tmp_path / "keys"
    shutil.copytree(shipped, root)
    records = {}
    for txt in root.glob("*/*.dns.txt"):
        name, _, value = txt.read_text().partition(" IN TXT ")
        records[name] = value.strip().strip('"').encode()
    path_map = {"/opt/kumomta/etc/policy": str(EXAMPLE), "/opt/kumomta/etc/dkim": str(root)}
    reception = Reception(Policy.load(POLICY, path_map=path_map), startup=True)
    session = reception.session()
    session.mail_from("news@acme.example")
    session.rcpt_to("user@example.net")
    assert session.data(eml("acme.eml")).code == 250

    def dns(name: bytes | str, timeout: int = 5) -> bytes | None:
        text = name.decode() if isinstance(name, bytes) else name
        return records.get(text)

    assert dkim.DKIM(session.accepted[0].message.data).verify(dnsfunc=dns)
