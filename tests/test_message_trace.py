"""The one implementation of kumod's trace headers and header folding
(kumopy/_message/_trace.py, _fold.py), as SMTP reception, HTTP injection
and `kumo.string.wrap` use it."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from kumopy import Policy
from kumopy._message import Message
from kumopy._message._fold import encode_unstructured, wrap
from kumopy._message._serde import SerdeError
from kumopy._message._trace import TraceHeaders, apply_supplemental, now_rfc2822
from kumopy._reception import Reception


def test_wrap_splits_at_rust_ascii_whitespace_only() -> None:
    # u8::is_ascii_whitespace: space, tab, LF, FF, CR; not vertical tab
    assert wrap(b"a\x0bb c", 3, 10) == b"a\x0bb\r\n\tc"
    assert wrap(b"a\x0cb\rc\nd\te", 2, 10) == b"a\r\n\tb\r\n\tc\r\n\td\r\n\te"
    assert wrap(b"  ") == b""


def test_encode_unstructured_as_new_unstructured() -> None:
    assert encode_unstructured(b"plain words") == b"plain words"
    assert encode_unstructured(" ".join(["word"] * 20).encode()).count(b"\r\n\t") == 1
    assert encode_unstructured("caf\u00e9 au lait".encode()) == b"=?UTF-8?q?caf=C3=A9_au_lait?="
    # bytes that are not UTF-8 are folded as they are
    assert encode_unstructured(b"caf\xe9 au lait") == b"caf\xe9 au lait"


def test_trace_headers_parse_follows_serde() -> None:
    assert TraceHeaders.parse({}) == TraceHeaders()
    assert TraceHeaders().received_header and not TraceHeaders.http_default().received_header
    parsed = TraceHeaders.parse({"header_name": "X-T", "include_meta_names": ("a", "b")})
    assert parsed.header_name == "X-T" and parsed.include_meta_names == ["a", "b"]
    with pytest.raises(SerdeError, match=re.escape(
        "unknown field `header`, expected one of `received_header`, `supplemental_header`, "
        "`header_name`, `include_meta_names`"
    )):  # fmt: skip
        TraceHeaders.parse({"header": "X"})
    with pytest.raises(SerdeError, match='invalid type: string "yes", expected a boolean'):
        TraceHeaders.parse({"received_header": "yes"})
    with pytest.raises(SerdeError, match="expected struct TraceHeaders"):
        TraceHeaders.parse("X-T")


def test_received_header_date_is_chronos_rfc2822() -> None:
    # chrono's to_rfc2822: day of month not padded, numeric zone
    assert re.fullmatch(r"[A-Z][a-z]{2}, [1-9][0-9]? [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000",
                        now_rfc2822())  # fmt: skip


def _payload(message: Message, name: str) -> dict[str, object]:
    value = message.get_first_named_header_value(name)
    assert value is not None
    decoded: dict[str, object] = json.loads(base64.b64decode("".join(value.split())))
    return decoded


def test_apply_supplemental_folds_at_75_columns() -> None:
    msg = Message(b"Subject: s\r\n\r\nb", sender="s@x.example",
                  recipients=["r@x.example", "q@x.example"], meta={"k": "v" * 100})  # fmt: skip
    apply_supplemental(msg, TraceHeaders(include_meta_names=["k"]))
    head = msg.data.split(b"\r\nSubject:")[0]
    assert head.startswith(b"X-KumoRef: ")
    assert all(len(line.lstrip(b"\t")) <= 75 for line in head[11:].split(b"\r\n"))
    assert _payload(msg, "X-KumoRef") == {
        "_@_": "\\_/", "recipient": ["r@x.example", "q@x.example"], "k": "v" * 100
    }
    apply_supplemental(msg, TraceHeaders(supplemental_header=False, header_name="X-None"))
    assert msg.get_first_named_header_value("X-None") is None


DYNAMIC = """
local kumo = require 'kumo'
kumo.on('smtp_server_get_dynamic_parameters', function(listener, conn_meta)
  return { trace_headers = { received_header = false, header_name = 'X-Ref',
                             include_meta_names = { 'tier' } },
           meta = { tier = 'gold' } }
end)
"""


def test_listener_trace_headers_from_dynamic_parameters(tmp_path: Path) -> None:
    path = tmp_path / "p.lua"
    path.write_text(DYNAMIC)
    session = Reception(Policy.load(path)).session(peer="127.0.0.1:1000")
    session.mail_from("a@x.example")
    session.rcpt_to("b@y.example")
    assert session.data(b"Subject: s\r\n\r\nbody\r\n").code == 250
    (accepted,) = session.accepted
    message = accepted.message
    assert message.get_first_named_header_value("Received") is None
    assert _payload(message, "X-Ref") == {"_@_": "\\_/", "recipient": "b@y.example",
                                          "tier": "gold"}  # fmt: skip


def test_listener_trace_headers_refused_as_serde_refuses(tmp_path: Path) -> None:
    path = tmp_path / "p.lua"
    path.write_text(DYNAMIC.replace("header_name", "header"))
    session = Reception(Policy.load(path), hostname="h").session(peer="127.0.0.1:1000")
    assert str(session.greeting) == "421 4.3.0 h technical difficulties" and session.closed
