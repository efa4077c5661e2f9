"""kumod's SMTP command grammar (`kumopy._reception._commands`): what each
line parses to, checked against crates/rfc5321's parser rules, and a
property-based fuzz that no input makes the parser raise."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kumopy._reception._commands import (
    Command,
    Partial,
    Unparsable,
    normalize_domain,
    parse_command,
    partial_reply_text,
)


@pytest.mark.parametrize(
    ("line", "domain"),
    [
        ("EHLO client.example", "client.example"),
        ("ehlo Client.EXAMPLE", "client.example"),  # IDNA lower-cases
        ("EHLO [10.0.0.1]", "[10.0.0.1]"),
        ("EHLO [IPv6:::1]", "[IPv6:::1]"),
        ("EHLO [IPv6:2001:DB8::1]", "[IPv6:2001:db8::1]"),
        ("EHLO [future:something]", "[future:something]"),
        ("EHLO münchen.de", "xn--mnchen-3ya.de"),
        ("EHLO straße.de", "xn--strae-oqa.de"),  # non-transitional, as kumod's idna crate
        ("EHLO under_score.EXAMPLE", "under_score.EXAMPLE"),  # not IDNA: kept as written
        ("EHLO\tx", "x"),
        ("EHLO foo-", "foo-"),
    ],
)
def test_greeting_domains(line: str, domain: str) -> None:
    assert parse_command(line) == Command("EHLO", domain)
    helo = "HELO" + line[4:]
    assert parse_command(helo) == Command("HELO", domain)


@pytest.mark.parametrize(
    "line",
    [
        "EHLO foo\rX-Injected: yes",  # a bare CR never reaches the Received header
        "EHLO foo\nX-Injected: yes",
        "EHLO a b c",
        "EHLO foo\x00bar",
        "EHLO",
        "EHLO [999.999.999.999]",
        "EHLO [IPv6:not-an-ipv6]",
        "EHLO [010.0.0.1]",  # leading zeros: Rust refuses the address
        "EHLO [1.2.3.4.5]",
        "EHLO !!invalid!!",
        "EHLO foo..bar",
        "EHLO foo.",
        "EHLO " + "a" * 64 + ".example",  # a label over 63 octets
        "EHLO " + ".".join(["a" * 60] * 5),  # a name over 255 octets
        "HELO a b",
    ],
)
def test_greeting_junk_is_partial(line: str) -> None:
    parsed = parse_command(line)
    assert isinstance(parsed, Partial) and parsed.reason == "syntax"
    assert partial_reply_text(parsed.reason) == "Syntax error in command or arguments"


@pytest.mark.parametrize(
    ("line", "address", "params"),
    [
        ("MAIL FROM:<alice@good.example>", "alice@good.example", ()),
        ("mail from:<>", "", ()),
        ("MAIL FROM: <alice@Good.Example>", "alice@good.example", ()),  # stray space tolerated
        ("MAIL FROM:alice@good.example", "alice@good.example", ()),  # bare mailbox tolerated
        ("MAIL FROM:<@route.example,@b.example:alice@good.example>", "alice@good.example", ()),
        ("MAIL FROM:<alice@good.example> SIZE=1000 BODY=8BITMIME",
         "alice@good.example", (("SIZE", "1000"), ("BODY", "8BITMIME"))),
        ("MAIL FROM:<\"a b\"@good.example>", "\"a b\"@good.example", ()),
        ("MAIL FROM:<a@[192.0.2.1]>", "a@[192.0.2.1]", ()),
    ],
)
def test_mail_from(line: str, address: str, params: tuple[tuple[str, str], ...]) -> None:
    parsed = parse_command(line)
    assert isinstance(parsed, Command) and parsed.verb == "MAIL"
    assert parsed.address is not None and str(parsed.address) == address
    assert parsed.params == params


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("MAIL FROM:<nobody>", Partial("MAIL", "sender")),
        ("MAIL FROM:<a@b>x", Partial("MAIL", "sender")),
        ("MAIL FROM:<a@b>  ", Partial("MAIL", "sender")),  # trailing blanks: as kumod
        ("MAIL FROM:<a@b> =junk", Partial("MAIL", "syntax")),
        ("MAIL FROM:", Partial("MAIL", "syntax")),
        ("MAIL TO:<a@b>", Partial("MAIL", "syntax")),
        ("MAIL", Partial("MAIL", "syntax")),
        ("RCPT TO:<>", Partial("RCPT", "recipient")),
        ("RCPT TO:<a@b\r>", Partial("RCPT", "recipient")),
        ("RCPT FROM:<a@b>", Partial("RCPT", "syntax")),
    ],
)
def test_mail_and_rcpt_refusals(line: str, parsed: Partial) -> None:
    assert parse_command(line) == parsed


def test_reply_texts_of_partial_addresses() -> None:
    assert partial_reply_text("sender") == "5.1.7 Bad sender's mailbox address syntax"
    assert partial_reply_text("recipient") == "5.1.3 Invalid recipient address syntax"


def test_rcpt_to_postmaster_and_bare_mailbox() -> None:
    parsed = parse_command("RCPT TO:<postMaster>")
    assert isinstance(parsed, Command) and str(parsed.address) == "Postmaster"
    parsed = parse_command("RCPT TO:bob@dest.example NOTIFY=NEVER")
    assert isinstance(parsed, Command) and str(parsed.address) == "bob@dest.example"
    assert parsed.params == (("NOTIFY", "NEVER"),)


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("AUTH PLAIN", Command("AUTH", "PLAIN")),
        ("auth plain", Command("AUTH", "plain")),  # the mechanism keeps its case
        ("AUTH PLAIN AGFAYg==", Command("AUTH", "PLAIN", initial_response="AGFAYg==")),
        ("AUTH PLAIN =", Command("AUTH", "PLAIN", initial_response="=")),
        ("AUTH PLAIN a b", Partial("AUTH")),
        ("AUTH", Partial("AUTH")),
        ("NOOP", Command("NOOP")),
        ("NOOP hello", Command("NOOP", "hello")),
        ("NOOP hello world", Partial("NOOP")),
        ("HELP", Command("HELP")),
        ("VRFY \"a b\"", Command("VRFY", "\"a b\"")),
        ("DATA", Command("DATA")),
        ("DATA now", Partial("DATA")),
        ("QUIT", Command("QUIT")),
        ("STARTTLS", Command("STARTTLS")),
        ("STARTTLS junk", Partial("STARTTLS")),
        ("RSET\n", Command("RSET")),  # one trailing LF is stripped
        ("LHLO x.example", Command("LHLO", "x.example")),
        ("XCLIENT ADDR=192.0.2.1 PORT=25", Command("XCLIENT", params=(("ADDR", "192.0.2.1"), ("PORT", "25")))),
        ("XCLIENT NAME=a+2Bb", Command("XCLIENT", params=(("NAME", "a+b"),))),
        ("XCLIENT", Partial("XCLIENT")),
        ("FOO", Command("UNKNOWN", "FOO")),
        ("EHLOX foo", Command("UNKNOWN", "EHLOX foo")),
    ],
)
def test_other_commands(line: str, parsed: Command | Partial) -> None:
    assert parse_command(line) == parsed


def test_a_line_without_a_command_word_explains_like_kumod() -> None:
    parsed = parse_command("QUIT.")
    assert isinstance(parsed, Unparsable)
    assert parsed.text == (
        "Error at line 1, in Eof:\nQUIT.\n    ^\n\n"
        "Error at line 1, in Alt:\nQUIT.\n^____\n\n"
        "while parsing unknown-command\n"
        "Error at line 1, in Alt:\nQUIT.\n^____\n\n"
        "while parsing command-verb\n"
    )
    empty = parse_command("")
    assert isinstance(empty, Unparsable)
    assert empty.text.startswith("Error in TakeWhile1, got empty input\n\n")
    assert empty.text.endswith("Error in command-verb, got empty input\n\n")
    tab = parse_command("\tEHLO x")
    assert isinstance(tab, Unparsable)
    assert tab.text.startswith("Error at line 1, in TakeWhile1:\n\u2409EHLO x\n^______\n\n"
                               "while parsing command-word\n")


def test_normalize_domain() -> None:
    assert normalize_domain("Example.COM") == "example.com"
    assert normalize_domain("a_b.Example") == "a_b.Example"
    assert normalize_domain("a" * 64) is None
    assert normalize_domain("xn--mnchen-3ya.de") == "xn--mnchen-3ya.de"


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_any_text_parses_to_a_clean_result(line: str) -> None:
    parsed = parse_command(line)
    assert isinstance(parsed, Command | Partial | Unparsable)
    if isinstance(parsed, Command) and parsed.verb in ("EHLO", "HELO", "LHLO"):
        # a greeting domain never carries a line break or a control character
        assert parsed.arg is not None
        assert not any(ord(c) < 0x20 or c == "\x7f" for c in parsed.arg)


_VERBS = st.sampled_from(["EHLO ", "HELO ", "MAIL FROM:", "RCPT TO:", "AUTH ", "XCLIENT ",
                          "NOOP ", "mail from: <", "rcpt to:<", "EHLO [", "EHLO [IPv6:"])
_PIECES = st.lists(st.sampled_from(list("aZ09.-_@<>[]:\"\\+=, \t\r\n\x00é€ßİ")
                                   + ["IPv6:", "xn--", "192.0.2.1", "::1", "a@b.c"]),
                   max_size=30).map("".join)


@settings(max_examples=600, deadline=None)
@given(_VERBS, _PIECES)
def test_fuzz_commands_with_structured_junk(verb: str, rest: str) -> None:
    parsed = parse_command(verb + rest)
    assert isinstance(parsed, Command | Partial | Unparsable)
    if isinstance(parsed, Command) and parsed.address is not None:
        text = str(parsed.address)
        assert "\r" not in text and "\n" not in text


_ENGINE: list[object] = []


def _engine_session() -> object:
    """One Reception (a small policy with a handler per command event),
    made once for the whole fuzz run."""
    if not _ENGINE:
        import tempfile
        from pathlib import Path

        from kumopy import Policy
        from kumopy._reception import Reception

        directory = Path(tempfile.mkdtemp(prefix="kumopy-fuzz-"))
        policy = directory / "init.lua"
        policy.write_text(
            "local kumo = require 'kumo'\n"
            "kumo.on('smtp_server_ehlo', function(d) if d == 'bad.example' then "
            "kumo.reject(550, 'no') end end)\n"
            "kumo.on('smtp_server_mail_from', function(s) end)\n"
            "kumo.on('smtp_server_rcpt_to', function(r) end)\n"
        )
        _ENGINE.append(Reception(Policy.load(policy), params={"hostname": "mx.test"}))
    reception = _ENGINE[0]
    return reception.session(tls=True)  # type: ignore[attr-defined]


_LINES = st.one_of(
    st.text(max_size=120),
    st.tuples(_VERBS, _PIECES).map("".join),
    st.sampled_from(["EHLO x.example", "MAIL FROM:<a@b.example>", "RCPT TO:<c@d.example>",
                     "DATA", "RSET", "AUTH PLAIN", "AUTH PLAIN =", "STARTTLS", "QUIT"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES, min_size=1, max_size=8))
def test_fuzz_the_engine_answers_every_line_with_a_reply(lines: list[str]) -> None:
    """A session fed any sequence of command lines answers each with a
    reply kumod could send (a 2xx-5xx code), and never raises."""
    from kumopy._reception import Reply

    session: Any = _engine_session()
    for line in lines:
        if session.closed:
            session = _engine_session()
        if session.auth_pending is not None:
            reply = session.auth_response(line)
        else:
            reply = session.command(line)
        session.data_pending = None  # the transport would read the data here
        assert isinstance(reply, Reply)
        assert 200 <= reply.code < 600
        assert all("\r" not in out and "\n" not in out for out in reply.lines())
