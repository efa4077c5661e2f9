"""Hostile SMTP clients against `kumopy serve` (a subprocess on loopback).

Each case checks the reply kumod gives, that the server keeps serving a
well-behaved client, and (at the end) that nothing reached the console but
one-line log entries: no traceback, a clean exit on Ctrl-C.  Memory cases
read the server's peak RSS from /proc.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ._harness import write_policy
from ._serve import Client, Served, make_cert, start_serve

POLICY = """\
local kumo = require 'kumo'
kumo.on('init', function()
  kumo.start_esmtp_listener {
    listen = '127.0.0.1:0',
    hostname = 'mx.test',
    client_timeout = '3s',
    max_message_size = 1048576,
    max_recipients_per_message = 5,
  }
end)
kumo.on('smtp_server_ehlo', function(domain, conn_meta, extensions)
  if domain == 'slow.example' then
    local n = 0
    while true do n = n + 1 end
  end
end)
"""

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("serve-hostile")
    policy = write_policy(directory, POLICY)
    cert = make_cert(directory)
    args = ["--budget", "1", "--workers", "4"]
    if cert is not None:
        args += ["--tls-cert", str(cert[0]), "--tls-key", str(cert[1])]
    server = start_serve(directory, policy, *args)
    server.tls = cert is not None  # type: ignore[attr-defined]
    yield server
    server.stop()


def greeted(served: Served) -> Client:
    c = served.client()
    code, lines = c.reply()
    assert (code, lines) == (220, ["mx.test KumoMTA"])
    return c


def tls_client(served: Served, c: Client) -> None:
    if not getattr(served, "tls", False):
        pytest.skip("openssl is needed to make a test certificate")
    assert c.cmd(b"STARTTLS\r\n") == (220, "Ready to Start TLS")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    c.sock = context.wrap_socket(c.sock)


def test_cr_in_ehlo_never_reaches_a_header(served: Served) -> None:
    c = greeted(served)
    assert c.cmd(b"EHLO foo\rX-Injected: yes\r\n") == (
        501, "Syntax error in command or arguments")
    assert c.cmd(b"EHLO foo\nX-Injected: yes\r\n")[0] == 501
    assert c.cmd(b"EHLO good.example\r\n") == (250, "mx.test Aloha good.example")
    assert c.cmd(b"MAIL FROM:<a@good.example>\r\n")[0] == 250
    assert c.cmd(b"RCPT TO:<b@dest.example>\r\n")[0] == 250
    assert c.cmd(b"DATA\r\n")[0] == 354
    code, text = c.cmd(b"Subject: x\r\n\r\nbody\r\n.\r\n")
    assert code == 250
    msg_id = text.split("=", 1)[1]
    eml = (served.record / f"{msg_id}.eml").read_bytes()
    assert b"X-Injected" not in eml
    assert b"Received: from good.example (127.0.0.1)\r\n" in eml
    c.close()


@pytest.mark.parametrize(
    ("line", "code", "text"),
    [
        (b"EHLO a b c", 501, "Syntax error in command or arguments"),
        (b"EHLO", 501, "Syntax error in command or arguments"),
        (b"HELO two words", 501, "Syntax error in command or arguments"),
        (b"EHLO [999.1.1.1]", 501, "Syntax error in command or arguments"),
        (b"EHLO foo\x00bar", 501, "Syntax error in command or arguments"),
        (b"MAIL FROM:<a\x00b@good.example>", 501, "5.1.7 Bad sender's mailbox address syntax"),
        (b"EHLO caf\xe9.example", 501, "5.5.2 Invalid UTF-8 in command"),
        (b"EHLO m\xc3\xbcnchen.example", 250, "mx.test Aloha xn--mnchen-3ya.example"),
        (b"\x00", 501, "Syntax error in command or arguments: Error at line 1, in TakeWhile1:"),
    ],
)
def test_junk_commands_get_kumods_replies(served: Served, line: bytes, code: int,
                                          text: str) -> None:
    c = greeted(served)
    assert c.cmd(line + b"\r\n") == (code, text)
    assert c.cmd(b"NOOP\r\n") == (250, "the goggles do nothing")
    c.close()


def test_over_long_lines_are_refused_and_dropped(served: Served) -> None:
    c = greeted(served)
    assert c.cmd(b"NOOP " + b"x" * 10_000 + b"\r\n") == (500, "5.2.3 line too long")
    # a line with no CRLF at all: read and dropped as it comes, memory flat
    before = served.status("VmHWM")
    chunk = b"y" * MiB
    for _ in range(64):
        c.send(chunk)
    assert c.cmd(b"\r\n") == (500, "5.2.3 line too long")
    assert served.status("VmHWM") - before < 32 * 1024
    assert c.cmd(b"NOOP\r\n")[0] == 250
    c.close()
    served.normal_transaction()


def test_data_over_max_message_size_is_not_buffered(served: Served) -> None:
    c = greeted(served)
    c.cmd(b"EHLO big.example\r\n")
    c.cmd(b"MAIL FROM:<a@good.example>\r\n")
    c.cmd(b"RCPT TO:<b@dest.example>\r\n")
    assert c.cmd(b"DATA\r\n")[0] == 354
    before = served.status("VmHWM")
    line = b"z" * 78 + b"\r\n"
    chunk = line * (MiB // len(line))
    for _ in range(100):  # 100 MiB against a 1 MiB limit
        c.send(chunk)
    assert c.cmd(b".\r\n") == (552, "5.3.4 message too big")
    # kumod buffers at most max_message_size plus one read
    assert served.status("VmHWM") - before < 32 * 1024
    # the transaction survives a refused DATA, as in kumod
    assert c.cmd(b"DATA\r\n")[0] == 354
    assert c.cmd(b"Subject: small\r\n\r\nok\r\n.\r\n")[0] == 250
    c.close()


def test_data_line_too_long_and_bare_lf(served: Served) -> None:
    c = greeted(served)
    c.cmd(b"EHLO x.example\r\n")
    c.cmd(b"MAIL FROM:<a@good.example>\r\n")
    c.cmd(b"RCPT TO:<b@dest.example>\r\n")
    assert c.cmd(b"DATA\r\n")[0] == 354
    assert c.cmd(b"Subject: x\r\n\r\n" + b"w" * 2000 + b"\r\n.\r\n") == (
        500, "5.2.3 line too long")
    assert c.cmd(b"DATA\r\n")[0] == 354
    assert c.cmd(b"Subject: x\r\n\r\nbare\nlf\r\n.\r\n") == (
        552, "5.6.0 message data must use CRLF for line endings")
    c.close()


def test_too_many_recipients(served: Served) -> None:
    c = greeted(served)
    c.cmd(b"EHLO x.example\r\n")
    c.cmd(b"MAIL FROM:<a@good.example>\r\n")
    for n in range(5):
        assert c.cmd(b"RCPT TO:<r%d@dest.example>\r\n" % n)[0] == 250
    assert c.cmd(b"RCPT TO:<r5@dest.example>\r\n") == (452, "4.5.3 too many recipients")
    c.close()


def test_idle_client_gets_kumods_421(served: Served) -> None:
    c = greeted(served)
    c.sock.settimeout(20)
    started = time.monotonic()
    assert c.reply() == (421, ["4.3.2 mx.test idle too long"])
    assert time.monotonic() - started >= 2.5
    assert c.closed_by_server()


def test_slowloris_does_not_hold_up_others(served: Served) -> None:
    c = greeted(served)
    stop = threading.Event()

    def drip() -> None:
        try:
            for byte in b"EHLO slowly.example":
                if stop.is_set():
                    return
                c.send(bytes([byte]))
                time.sleep(0.3)
        except OSError:
            pass

    dripper = threading.Thread(target=drip)
    dripper.start()
    try:
        for n in range(3):
            served.normal_transaction(f"during slowloris {n}")
    finally:
        stop.set()
        dripper.join()
    c.close()


def test_a_handler_burning_its_budget_stalls_nobody(served: Served) -> None:
    slow = greeted(served)
    result: list[tuple[int, str]] = []
    finished: list[float] = []

    def hostile() -> None:
        result.append(slow.cmd(b"EHLO slow.example\r\n"))
        finished.append(time.monotonic())

    t = threading.Thread(target=hostile)
    t.start()
    time.sleep(0.2)  # the handler is spinning now
    served.normal_transaction("while a handler spins")
    done_normal = time.monotonic()
    t.join(60)
    assert result == [(421, "4.3.0 mx.test technical difficulties")]
    assert done_normal < finished[0]  # served before the spinning handler ended
    assert slow.closed_by_server()


def test_garbage_after_starttls(served: Served) -> None:
    if not getattr(served, "tls", False):
        pytest.skip("openssl is needed to make a test certificate")
    c = greeted(served)
    c.cmd(b"EHLO x.example\r\n")
    assert c.cmd(b"STARTTLS\r\n") == (220, "Ready to Start TLS")
    c.send(b"\x16\x03\x01\x00\x05garbage that is no TLS ClientHello\r\n" * 20)
    assert c.closed_by_server()
    served.normal_transaction("after a broken handshake")


def test_plaintext_pipelined_after_starttls_is_discarded(served: Served) -> None:
    c = greeted(served)
    c.cmd(b"EHLO x.example\r\n")
    if not getattr(served, "tls", False):
        pytest.skip("openssl is needed to make a test certificate")
    # RFC 3207: commands sent before the handshake must not count after it
    c.send(b"STARTTLS\r\nMAIL FROM:<injected@good.example>\r\n")
    assert c.reply() == (220, ["Ready to Start TLS"])
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    c.sock = context.wrap_socket(c.sock)
    assert c.cmd(b"EHLO x.example\r\n")[0] == 250
    assert c.cmd(b"MAIL FROM:<real@good.example>\r\n") == (250, "OK <real@good.example>")
    c.close()


def test_auth_continuation_over_64k(served: Served) -> None:
    c = greeted(served)
    c.cmd(b"EHLO x.example\r\n")
    tls_client(served, c)
    assert c.cmd(b"EHLO x.example\r\n")[0] == 250
    assert c.cmd(b"AUTH PLAIN\r\n") == (334, " ")  # kumod: "334  "
    assert c.cmd(b"A" * (70 * 1024) + b"\r\n") == (
        500, "5.5.6 authentication exchange line too long")
    assert c.cmd(b"AUTH PLAIN\r\n") == (334, " ")  # kumod: "334  "
    assert c.cmd(b"not base64!\r\n") == (501, "5.5.2 Invalid base64 response")
    assert c.cmd(b"NOOP\r\n")[0] == 250
    c.close()


def test_sessions_and_messages_are_freed_once_handled(served: Served) -> None:
    for n in range(30):  # warm every worker's Lua state and the allocator
        served.normal_transaction(f"warm {n}")
    before = served.status("VmRSS")
    body = (b"b" * 78 + b"\r\n") * 1300  # about 100 KiB
    for n in range(300):  # 30 MiB of messages in all
        served.normal_transaction(f"message {n}", body)
    # kumopy serve keeps nothing per session or message in memory: the
    # record directory has them
    assert served.status("VmRSS") - before < 16 * 1024
    assert len(list(served.record.glob("*.eml"))) >= 330


def test_zz_the_console_only_has_one_line_entries(served: Served) -> None:
    served.normal_transaction("last")
    rc, stderr = served.stop()
    assert rc == 0, stderr
    assert "Traceback" not in stderr, stderr
    for line in stderr.splitlines():
        assert line.startswith("kumopy: "), stderr
    # the spinning handler was reported as kumod reports it, in one line
    # naming the event and the policy line
    spun = [ln for ln in stderr.splitlines() if "Error in SmtpServerSession" in ln]
    assert len(spun) == 1 and "init.lua:" in spun[0] and "smtp_server_ehlo" in spun[0], stderr
    # the broken handshake was reported, once, as one line
    if getattr(served, "tls", False):
        assert sum("TLS handshake failed" in ln for ln in stderr.splitlines()) == 1, stderr


def test_stopping_the_server_says_shutting_down(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, POLICY)
    server = start_serve(tmp_path, policy)
    c = greeted(server)
    rc, stderr = server.stop()
    assert c.reply() == (421, ["4.3.2 mx.test shutting down"])
    assert rc == 0 and "Traceback" not in stderr
