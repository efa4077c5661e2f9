"""`kumopy serve` over real SMTP sessions on loopback: the
`kumo_smtp_server` fixture (the listener in a thread) driven with smtplib,
and the command itself in a subprocess.  Policy: tests/reception/init.lua.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

POLICY = Path(__file__).resolve().parent / "reception" / "init.lua"
CONFIG_PATH = "/opt/kumomta/etc/policy/reception.json"

MESSAGE = (
    b"From: Alice <alice@good.example>\r\n"
    b"To: bob@dest.example\r\n"
    b"Subject: hello\r\n"
    b"X-Tenant: acme\r\n"
    b"\r\n"
    b"Hi Bob\r\n"
    b".leading dot survives\r\n"
)

Start = Callable[..., Any]


@pytest.fixture
def start(kumo_smtp_server: Any, tmp_path: Path) -> Start:
    def _start(**config: Any) -> Any:
        settings = {"tenants": ["acme"], "blocked_peers": []}
        settings.update(config)
        path = tmp_path / "reception.json"
        path.write_text(json.dumps(settings))
        return kumo_smtp_server(POLICY, hostname="mx.test", path_map={CONFIG_PATH: path})

    return _start


@pytest.fixture
def client() -> Iterator[Callable[[Any], smtplib.SMTP]]:
    opened: list[smtplib.SMTP] = []

    def connect(server: Any) -> smtplib.SMTP:
        conn = smtplib.SMTP("127.0.0.1", server.port, timeout=10)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        try:
            conn.close()
        except OSError:
            pass


def test_accepted_message_is_recorded(start: Start, client: Any) -> None:
    server = start()
    conn = client(server)
    code, text = conn.ehlo("client.example")
    assert code == 250
    assert text.decode().splitlines()[0] == "mx.test Aloha client.example"
    assert "SMTPUTF8" in text.decode().splitlines()
    assert conn.mail("alice@good.example") == (250, b"OK <alice@good.example>")
    assert conn.rcpt("bob@dest.example") == (250, b"OK <bob@dest.example>")
    code, text = conn.data(MESSAGE)
    assert code == 250
    [rec] = server.wait_for_messages(1)
    assert text.decode() == f"OK ids={rec.id}"
    assert (rec.queue, rec.disposition) == ("acme@dest.example", "queued")
    assert rec.meta["tenant"] == "acme"
    assert rec.meta["received_from"].startswith("127.0.0.1:")
    assert rec.meta["received_via"] == f"127.0.0.1:{server.port}"
    # the files the recorder wrote
    assert rec.eml_path is not None and rec.json_path is not None
    eml = rec.eml_path.read_bytes()
    assert eml.startswith(b"X-KumoRef: ")
    assert b"\r\nReceived: from client.example (127.0.0.1)\r\n  by mx.test (KumoMTA 127.0.0.1)" in eml
    assert b"X-Tenant" not in eml
    assert eml.endswith(b"X-Screened-By: mx.test\r\n\r\nHi Bob\r\n.leading dot survives\r\n")
    recorded = json.loads(rec.json_path.read_text())
    assert recorded["queue"] == "acme@dest.example"
    assert recorded["recipients"] == ["bob@dest.example"]
    assert recorded["reply"] == f"250 OK ids={rec.id}"


def test_rejections_on_the_wire(start: Start, client: Any) -> None:
    server = start()
    conn = client(server)
    assert conn.ehlo("bad.example") == (550, b"5.7.1 go away bad.example")
    assert conn.ehlo("client.example")[0] == 250
    assert conn.mail("x@spam.example") == (550, b"5.7.1 sender x@spam.example rejected")
    conn.rset()
    assert conn.mail("alice@good.example")[0] == 250
    assert conn.rcpt("nobody@dest.example") == (
        550, b"5.1.1 no such user nobody@dest.example (see https://example.com/policy)")
    assert conn.rcpt("bob@dest.example")[0] == 250
    code, text = conn.data(MESSAGE.replace(b"X-Tenant: acme", b"X-Tenant: nope"))
    assert (code, text) == (550, b"5.7.1 unknown tenant nope")
    # a new transaction on the same connection: smtp_server_data rejects
    assert conn.mail("alice@good.example")[0] == 250
    assert conn.rcpt("bob@dest.example")[0] == 250
    assert conn.data(b"X-Block: 1\r\n" + MESSAGE) == (554, b"5.7.1 content blocked")
    assert conn.docmd("VRFY", "bob") == (502, b"5.5.1 Command unimplemented")
    assert conn.noop() == (250, b"the goggles do nothing")
    assert conn.quit() == (221, b"So long, and thanks for all the fish!")
    assert server.messages == []
    [session] = server.sessions
    rejected = [e.event for e in session.events if e.outcome == "rejected"]
    assert rejected == ["smtp_server_ehlo", "smtp_server_mail_from", "smtp_server_rcpt_to",
                        "smtp_server_message_received", "smtp_server_data"]


def test_connection_rejected_before_the_banner(start: Start) -> None:
    server = start(blocked_peers=["127.0.0.1"])
    with pytest.raises(smtplib.SMTPConnectError) as info:
        smtplib.SMTP("127.0.0.1", server.port, timeout=10)
    assert info.value.smtp_code == 550
    assert info.value.smtp_error == b"5.7.1 connections from 127.0.0.1 are not welcome"
    # and the server hangs up
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data == b"550 5.7.1 connections from 127.0.0.1 are not welcome\r\n"


def test_disconnect_closes_the_socket(start: Start, client: Any) -> None:
    server = start()
    conn = client(server)
    conn.ehlo("client.example")
    assert conn.mail("x@abuse.example") == (421, b"4.7.0 bye")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        conn.noop()


def test_technical_difficulties_end_the_session(start: Start, client: Any) -> None:
    server = start()
    conn = client(server)
    conn.ehlo("client.example")
    conn.mail("alice@good.example")
    assert conn.rcpt("bob@broken.example") == (421, b"4.3.0 mx.test technical difficulties")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        conn.noop()


def test_two_recipients_two_queues(start: Start, client: Any) -> None:
    server = start()
    conn = client(server)
    conn.ehlo("client.example")
    refused = conn.sendmail("alice@good.example", ["bob@dest.example", "carol@other.example"],
                            b"X-Campaign: spring\r\n" + MESSAGE)
    assert refused == {}
    records = server.wait_for_messages(2)
    assert sorted(r.queue for r in records) == ["spring:acme@dest.example",
                                               "spring:acme@other.example"]
    assert sorted(p.name for p in server.record_dir.iterdir()) == sorted(
        [f"{r.id}.eml" for r in records] + [f"{r.id}.json" for r in records])


def _make_cert(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=mx.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def test_auth_plain_after_starttls(kumo_smtp_server: Any, tmp_path: Path) -> None:
    cert, key = _make_cert(tmp_path)
    config = tmp_path / "reception.json"
    config.write_text(json.dumps({"tenants": ["acme"], "blocked_peers": []}))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = kumo_smtp_server(POLICY, hostname="mx.test", tls_context=context,
                              path_map={CONFIG_PATH: config})
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as conn:
        conn.ehlo("client.example")
        assert conn.has_extn("starttls")
        # AUTH before TLS is refused as kumod refuses it
        assert conn.docmd("AUTH", "PLAIN AGFsaWNlAHNlY3JldA==")[0] == 524
        client_context = ssl.create_default_context()
        client_context.check_hostname = False
        client_context.verify_mode = ssl.CERT_NONE
        assert conn.starttls(context=client_context)[0] == 220
        conn.ehlo("client.example")
        assert conn.has_extn("auth")
        with pytest.raises(smtplib.SMTPAuthenticationError) as info:
            conn.login("alice", "wrong")
        assert info.value.smtp_code == 535
        # AUTH PLAIN without an initial response: 334, then the credentials
        assert conn.docmd("AUTH", "PLAIN") == (334, b"")  # "334  ", smtplib strips
        assert conn.docmd(base64.b64encode(b"\0mallory\0x").decode()) == (
            454, b"4.7.0 try again later")
        assert conn.login("alice", "secret") == (235, b"2.7.0 AUTH OK!")
        conn.sendmail("alice@good.example", ["bob@dest.example"], MESSAGE)
    [rec] = server.wait_for_messages(1)
    assert rec.meta["authn_id"] == "alice"
    assert "tls_cipher" in rec.meta
    # kumod names the TLS version and cipher: "with ESMTPSA (TLSv1.3:<cipher>)  id"
    assert re.search(rb"with ESMTPSA \(TLSv1\.[23]:[A-Z0-9_-]+\)  id ", rec.data)


def test_kumopy_serve_command(tmp_path: Path) -> None:
    config = tmp_path / "reception.json"
    config.write_text(json.dumps({"tenants": ["acme"], "blocked_peers": []}))
    record = tmp_path / "out"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kumopy.cli", "serve", str(POLICY), "--listen", "127.0.0.1:0",
         "--record", str(record), "--hostname", "mx.test",
         "--map", f"{CONFIG_PATH}={config}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stderr is not None and proc.stdout is not None
        line = proc.stderr.readline()
        m = re.search(r"on 127\.0\.0\.1:(\d+)", line)
        assert m is not None, line
        port = int(m.group(1))
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as conn:
            conn.sendmail("alice@good.example", ["bob@dest.example"], MESSAGE)
            with pytest.raises(smtplib.SMTPDataError) as info:
                conn.sendmail("alice@good.example", ["bob@dest.example"],
                              MESSAGE.replace(b"acme", b"nope"))
            assert info.value.smtp_code == 550
        out = proc.stdout.readline()
        assert re.match(r"^[0-9a-f]{32} queue=acme@dest\.example queued "
                        r"from=<alice@good\.example> to=<bob@dest\.example>$", out.strip()), out
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(list(record.glob("*.json"))) < 1:
            time.sleep(0.05)
        [saved] = list(record.glob("*.json"))
        assert json.loads(saved.read_text())["queue"] == "acme@dest.example"
    finally:
        proc.terminate()
        proc.wait(10)


def test_invalid_utf8_command(start: Start, client: Any) -> None:
    server = start()
    conn = client(server)
    conn.ehlo("client.example")
    conn.send(b"MAIL FROM:<caf\xe9@good.example>\r\n")
    assert conn.getreply() == (501, b"5.5.2 Invalid UTF-8 in command")
    assert conn.mail("alice@good.example")[0] == 250


@pytest.mark.parametrize(
    ("listen", "why"),
    [("nonsense", "is not HOST:PORT"), ("127.0.0.1:99999", "out of range (0-65535)")],
)
def test_bad_listen_address_is_a_usage_error(listen: str, why: str) -> None:
    from click.testing import CliRunner

    from kumopy.cli import EXIT_USAGE, cli

    policy = Path(__file__).parent / "reception" / "init.lua"
    r = CliRunner().invoke(cli, ["serve", str(policy), "--listen", listen])
    assert r.exit_code == EXIT_USAGE and why in r.output
    assert "Traceback" not in r.output


def test_kumopy_serve_makes_a_self_signed_certificate_as_kumod(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the certificate")
    config = tmp_path / "reception.json"
    config.write_text(json.dumps({"tenants": ["acme"], "blocked_peers": []}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kumopy.cli", "serve", str(POLICY), "--listen", "127.0.0.1:0",
         "--hostname", "mx.test", "--map", f"{CONFIG_PATH}={config}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        assert proc.stderr is not None
        m = re.search(r"on 127\.0\.0\.1:(\d+)", proc.stderr.readline())
        assert m is not None
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", int(m.group(1)), timeout=10) as conn:
            conn.ehlo("client.example")
            assert conn.starttls(context=context)[0] == 220
            assert conn.sock is not None
            cert = conn.sock.getpeercert(binary_form=True)  # type: ignore[attr-defined]
            assert cert
            conn.ehlo("client.example")
            assert conn.has_extn("auth")
            assert conn.login("alice", "secret") == (235, b"2.7.0 AUTH OK!")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in err


def test_kumopy_serve_uses_the_listeners_certificate(tmp_path: Path) -> None:
    cert, key = _make_cert(tmp_path)
    policy = tmp_path / "init.lua"
    policy.write_text(
        "local kumo = require 'kumo'\n"
        "kumo.on('init', function()\n"
        "  kumo.start_esmtp_listener { listen = '127.0.0.1:0', hostname = 'mx.test',\n"
        "    tls_certificate = '/opt/kumomta/etc/tls/cert.pem',\n"
        "    tls_private_key = '/opt/kumomta/etc/tls/key.pem' }\n"
        "end)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "kumopy.cli", "serve", str(policy), "--listen", "127.0.0.1:0",
         "--map", f"/opt/kumomta/etc/tls={tmp_path}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.search(r"on 127\.0\.0\.1:(\d+)", line)
        assert m is not None, line + proc.stderr.read()
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", int(m.group(1)), timeout=10) as conn:
            conn.ehlo("client.example")
            assert conn.starttls(context=context)[0] == 220
            der = conn.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
        assert ssl.DER_cert_to_PEM_cert(der).split() == cert.read_text().split()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in err
