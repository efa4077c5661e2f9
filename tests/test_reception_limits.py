"""The reception engine's kumod limits and commands through its Python API
(no network): the command grammar on `Session.command`, message size and
line limits, data_processing_timeout, XCLIENT, STARTTLS without a
certificate, bounded history, mistyped listener parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from kumopy import Policy
from kumopy._reception import Reception

POLICY = """\
local kumo = require 'kumo'
kumo.on('smtp_server_rewrite_response', function(status, response, command, conn_meta)
  if command and command:find 'REWRITE' then
    return nil, response .. ' [' .. command .. ']'
  end
end)
kumo.on('smtp_server_data', function(msg, conn_meta)
  if msg:get_first_named_header_value('X-Spin') then
    local t = os.clock()
    while os.clock() - t < 0.05 do end
  end
end)
"""

MESSAGE = b"Subject: hi\r\n\r\nhello\r\n"


def reception(tmp_path: Path, **params: object) -> Reception:
    path = tmp_path / "init.lua"
    path.write_text(POLICY)
    return Reception(Policy.load(path), params={"hostname": "mx.test", **params})


def test_the_api_parses_commands_as_kumod(tmp_path: Path) -> None:
    session = reception(tmp_path).session()
    assert str(session.ehlo("a b")) == "501 Syntax error in command or arguments"
    assert str(session.ehlo("x\rX-Injected: 1")) == "501 Syntax error in command or arguments"
    assert str(session.ehlo("Mixed.Example")).startswith("250-mx.test Aloha mixed.example")
    assert session.said_hello == "mixed.example"
    assert str(session.command("MAIL FROM:<a@b.example> SIZE=100")) == "250 OK <a@b.example>"
    assert str(session.command("RCPT TO:<>")) == "501 5.1.3 Invalid recipient address syntax"
    assert str(session.command("HELP me")) == "502 5.5.1 Command unimplemented"
    lines = str(session.command("QUIT.")).splitlines()
    assert lines[0] == "501-Syntax error in command or arguments: Error at line 1, in Eof:"
    assert lines[-1] == "501 while parsing command-verb"


def test_the_reply_command_is_the_line_as_sent(tmp_path: Path) -> None:
    session = reception(tmp_path).session()
    reply = session.command("REWRITE me")
    assert (reply.code, reply.text) == (502, "5.5.1 Command unimplemented [REWRITE me]")
    assert reply.command == "REWRITE me"


def test_too_big_keeps_the_transaction_as_kumod(tmp_path: Path) -> None:
    session = reception(tmp_path, max_message_size=100, line_length_hard_limit=50).session()
    session.ehlo("client.example")
    session.mail_from("a@good.example")
    session.rcpt_to("b@dest.example")
    assert str(session.data(MESSAGE + b"x" * 200)) == "552 5.3.4 message too big"
    assert str(session.data(b"Subject: " + b"y" * 60 + b"\r\n\r\n")) == "500 5.2.3 line too long"
    assert session.in_transaction
    assert session.data(MESSAGE).code == 250
    assert not session.in_transaction


def test_data_processing_timeout(tmp_path: Path) -> None:
    session = reception(tmp_path, data_processing_timeout="1ms").session()
    session.ehlo("client.example")
    session.mail_from("a@good.example")
    session.rcpt_to("b@dest.example")
    reply = session.data(b"X-Spin: 1\r\n" + MESSAGE)
    assert str(reply) == "451 4.4.5 data_processing_timeout exceeded (rx)"
    assert session.accepted == []


def test_xclient(tmp_path: Path) -> None:
    refused = reception(tmp_path).session()
    assert str(refused.command("XCLIENT ADDR=192.0.2.7")) == "550 insufficient authorization"
    session = reception(tmp_path, allow_xclient=True).session(peer="127.0.0.1:4000")
    ehlo = session.ehlo("client.example")
    assert "XCLIENT ADDR PORT DESTADDR DESTPORT" in ehlo.lines()[-1]
    assert str(session.command("XCLIENT ADDR=192.0.2.7 PORT=2500")) == "220 mx.test KumoMTA"
    assert session.meta.get_meta("received_from") == "192.0.2.7:2500"
    assert session.meta.get_meta("orig_received_from") == "127.0.0.1:4000"
    assert str(session.command("XCLIENT ADDR=nonsense")) == "501 ADDR nonsense is invalid"
    assert str(session.command("XCLIENT NAME=x")) == "501 parameter NAME is not supported"
    session.mail_from("a@good.example")
    assert str(session.command("XCLIENT PORT=1")) == "503 mail transaction in progress"


def test_starttls_without_a_certificate(tmp_path: Path) -> None:
    session = reception(tmp_path).session(tls_available=False)
    reply = session.starttls()
    assert reply.code == 454 and not session.starttls_pending
    session = reception(tmp_path).session()
    assert str(session.starttls()) == "220 Ready to Start TLS"
    assert session.starttls_pending
    session.tls_established("TLSv1.3", "TLS_AES_128_GCM_SHA256")
    assert session.tls and session.meta.get_meta("tls_cipher") == "TLS_AES_128_GCM_SHA256"
    assert str(session.starttls()) == "501 Cannot STARTTLS as TLS is already active"


def test_history_is_bounded(tmp_path: Path) -> None:
    session = reception(tmp_path).session(history=10)
    for _ in range(100):
        session.noop()
    assert len(session.transcript) <= 20
    assert session.transcript[-1] == "S: 250 the goggles do nothing"


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"max_message_size": "big"}, "max_message_size"),
        ({"client_timeout": "soon"}, "client_timeout"),
        ({"line_length_hard_limit": -1}, "line_length_hard_limit"),
    ],
)
def test_mistyped_listener_parameters(tmp_path: Path, params: dict[str, object],
                                      why: str) -> None:
    session = reception(tmp_path, **params).session()
    assert str(session.greeting) == "421 4.3.0 mx.test technical difficulties"
    assert session.closed
    assert why in (session.greeting.command or "")
