"""Tests for kumopy._smtp: responses, the rewrite rule, mlua's u16 conversion
and the queue-name grammar, checked against KumoMTA's behaviour."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kumopy._smtp import (
    ConversionError,
    EnhancedStatusCode,
    MalformedResponse,
    QueueName,
    Response,
    apply_rewrite,
    lua_str2number,
    remove_line_breaks,
    rewrite_annotation,
    rewrite_event_args,
    rewrite_failure_message,
    to_u16,
)

ESC = EnhancedStatusCode

GMAIL_LINES = [
    "550-5.1.1 The email account that you tried to reach does not exist. Please try",
    "550-5.1.1 double-checking the recipient's email address for typos or",
    "550-5.1.1 unnecessary spaces. For more information, go to",
    "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123.45 - gsmtp",
]
GMAIL_CONTENT = (
    "The email account that you tried to reach does not exist. Please try\n"
    "double-checking the recipient's email address for typos or\n"
    "unnecessary spaces. For more information, go to\n"
    " https://support.google.com/mail/?p=NoSuchUser a1si123.45 - gsmtp"
)
GMAIL_SINGLE = (
    "550 5.1.1 The email account that you tried to reach does not exist. Please try "
    "double-checking the recipient's email address for typos or "
    "unnecessary spaces. For more information, go to "
    " https://support.google.com/mail/?p=NoSuchUser a1si123.45 - gsmtp"
)


# ---------------------------------------------------------------------------
# remove_line_breaks (KumoMTA's remove_crlf cases)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello\r\nthere\r\n", "hello there "),
        ("hello\r", "hello "),
        ("hello\nthere\r\n", "hello there "),
        ("hello\r\nthere\n", "hello there "),
        ("hello\r\r\r\nthere\n", "hello   there "),
        ("\n\r", "  "),
        ("no breaks", "no breaks"),
        ("", ""),
    ],
)
def test_remove_line_breaks(text: str, expected: str) -> None:
    assert remove_line_breaks(text) == expected


# ---------------------------------------------------------------------------
# EnhancedStatusCode
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.0.1 w00t", (ESC(2, 0, 1), "w00t")),
        ("3.0.0 w00t", None),  # class 3 is not defined
        ("2.0.0.1 w00t", None),
        ("2.0.0.1w00t", None),
        ("5.1.1", None),  # no space after the detail
        ("5.1.1 ", (ESC(5, 1, 1), "")),
        ("5.1.1  two spaces", (ESC(5, 1, 1), " two spaces")),
        ("5.1.1\ttab", None),
        ("4.7.1 a.b.c", (ESC(4, 7, 1), "a.b.c")),
        ("1.0.0 x", None),
        ("6.0.0 x", None),
        ("0.0.0 x", None),
        ("+5.1.1 x", (ESC(5, 1, 1), "x")),  # Rust's parse accepts a leading '+'
        ("05.001.010 x", (ESC(5, 1, 10), "x")),  # and leading zeros
        ("-5.1.1 x", None),
        ("5.65535.65535 x", (ESC(5, 65535, 65535), "x")),
        ("5.65536.1 x", None),
        ("5.1.65536 x", None),
        ("256.1.1 x", None),  # does not fit a u8
        ("258.1.1 x", None),
        ("5..1 x", None),
        ("5.1. x", None),
        (".1.1 x", None),
        ("5.1 1 x", None),
        ("5.1.1_x", None),
        ("5.1.1x y", None),
        ("５.1.1 x", None),  # non-ASCII digit
        ("", None),
    ],
)
def test_enhanced_parse_prefix(text: str, expected: tuple[EnhancedStatusCode, str] | None) -> None:
    assert ESC.parse_prefix(text) == expected


def test_enhanced_str_and_parse() -> None:
    code = ESC.parse("4.2.2")
    assert code == ESC(4, 2, 2)
    assert str(code) == "4.2.2"
    assert str(ESC.parse("05.01.001")) == "5.1.1"
    for bad in ["3.0.0", "4.2", "4.2.2 x", "x", ""]:
        with pytest.raises(ValueError, match="invalid enhanced status code"):
            ESC.parse(bad)


def test_enhanced_ranges() -> None:
    assert ESC(3, 0, 0).class_ == 3  # any u8 is representable (log records)
    with pytest.raises(ValueError):
        ESC(256, 0, 0)
    with pytest.raises(ValueError):
        ESC(5, 65536, 0)
    with pytest.raises(ValueError):
        ESC(5, 0, -1)
    with pytest.raises(TypeError):
        ESC(True, 0, 0)


def test_enhanced_json() -> None:
    assert ESC(5, 1, 1).to_json() == {"class": 5, "subject": 1, "detail": 1}
    assert ESC.from_json({"class": 4, "subject": 2, "detail": 2, "x": 1}) == ESC(4, 2, 2)
    with pytest.raises(ValueError, match="missing field `detail`"):
        ESC.from_json({"class": 4, "subject": 2})
    with pytest.raises(ValueError, match="enhanced_code.class"):
        ESC.from_json({"class": 4.0, "subject": 2, "detail": 2})


# ---------------------------------------------------------------------------
# Response.parse
# ---------------------------------------------------------------------------


def test_parse_single_line() -> None:
    r = Response.parse("452 4.2.2 Mailbox full")
    assert r == Response(452, ESC(4, 2, 2), "Mailbox full", None)
    assert r.to_single_line() == "452 4.2.2 Mailbox full"
    assert r.command is None and r.rewritten_from is None


def test_parse_keeps_command() -> None:
    r = Response.parse("250 ok", command="RCPT TO:<a@example.com>\r\n")
    assert r.command == "RCPT TO:<a@example.com>\r\n"


@pytest.mark.parametrize("sep", ["\r\n", "\n"])
@pytest.mark.parametrize("trailing", [True, False])
def test_parse_gmail_multiline(sep: str, trailing: bool) -> None:
    text = sep.join(GMAIL_LINES) + (sep if trailing else "")
    r = Response.parse(text)
    assert r.code == 550
    assert r.enhanced_code == ESC(5, 1, 1)
    assert r.content == GMAIL_CONTENT
    assert r.to_single_line() == GMAIL_SINGLE


# The multi-line cases of KumoMTA's client tests.
@pytest.mark.parametrize(
    ("lines", "enhanced", "content"),
    [
        (["220-woot", "220-more", "220 done"], None, "woot\nmore\ndone"),
        (["220-4.1.0 woot", "220-more", "220 done"], ESC(4, 1, 0), "woot\nmore\ndone"),
        (["220-4.1.0 woot", "220-4.1.0 more", "220 done"], ESC(4, 1, 0), "woot\nmore\ndone"),
        (
            ["220-4.1.0 woot", "220-4.1.0 more", "220 5.5.5 done"],
            ESC(4, 1, 0),
            "woot\nmore\n5.5.5 done",
        ),
        # only the canonical "c.s.d " prefix is stripped from continuation lines
        (["550-05.1.1 a", "550 05.1.1 b"], ESC(5, 1, 1), "a\n05.1.1 b"),
        (["550-5.1.1 a", "550 5.1.1"], ESC(5, 1, 1), "a\n5.1.1"),
        (["550-5.1.1 a", "550 5.1.1 "], ESC(5, 1, 1), "a\n"),
        # the enhanced code is looked for on the first line only
        (["550-no code here", "550 5.1.1 b"], None, "no code here\n5.1.1 b"),
        (["550-", "550 x"], None, "\nx"),
    ],
)
def test_parse_multiline_builder(
    lines: list[str], enhanced: EnhancedStatusCode | None, content: str
) -> None:
    r = Response.parse("\r\n".join(lines))
    assert (r.code, r.enhanced_code, r.content) == (int(lines[0][:3]), enhanced, content)


@pytest.mark.parametrize(
    ("lines", "bad_line"),
    [
        (["220-woot", "221-more", "220 done"], "221-more"),
        (["220-woot", "220-more", "221 done"], "221 done"),
    ],
)
def test_parse_code_mismatch_is_malformed(lines: list[str], bad_line: str) -> None:
    with pytest.raises(MalformedResponse) as info:
        Response.parse("\r\n".join(lines))
    assert info.value.line == bad_line
    assert info.value.kumod_error == f"Malformed Response: {bad_line}"
    assert "differs" in str(info.value)


@pytest.mark.parametrize(
    ("line", "code", "content"),
    [
        ("220 woot", 220, "woot"),
        ("220 ", 220, ""),
        ("220  two", 220, " two"),
        ("050 x", 50, "x"),
        ("+50 x", 50, "x"),  # Rust's u16 parse accepts '+'
        ("999 x", 999, "x"),
        ("000 x", 0, "x"),
    ],
)
def test_parse_reply_line_grammar(line: str, code: int, content: str) -> None:
    r = Response.parse(line)
    assert (r.code, r.content) == (code, content)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "\r\n",
        "220",
        "22",
        "220_woot",
        "not really",
        "abc ok",
        "-50 x",
        "2 0 x",
        " 220 x",
        "é20 x",
        "2é0 x",
        "220-woot",  # never finished: kumod would keep reading
        "220-woot\r\n220-more\r\n",
        "220 done\r\n220 again",  # text after the final line
        "220 done\n\n",
        "220-a\r\n\r\n220 b",  # an empty line inside the reply
    ],
)
def test_parse_invalid(text: str) -> None:
    with pytest.raises(MalformedResponse) as info:
        Response.parse(text)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "\n" not in message and "\r" not in message
    assert repr(text) in message


def test_parse_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        Response.parse(b"250 ok")  # type: ignore[arg-type]


def test_lone_lf_and_cr_inside_a_wire_line() -> None:
    # With CRLF present the text is read like the socket: only CRLF ends a line.
    r = Response.parse("550 first\nsecond\rthird\r\n")
    assert r.content == "first\nsecond\rthird"
    assert r.to_single_line() == "550 first second third"


def test_cr_cr_lf_is_not_a_line_end_on_the_wire() -> None:
    # kumod's reader looks at a CR together with the byte after it, so the
    # CRLF in "\r\r\n" is missed and everything stays on one line.
    r = Response.parse("250 a\r\r\nb")
    assert r.content == "a\r\r\nb"
    assert r.to_single_line() == "250 a  b"


def test_no_enhanced_code() -> None:
    r = Response.parse("421 Service not available")
    assert r.enhanced_code is None
    assert r.to_single_line() == "421 Service not available"


def test_class_3_enhanced_code_is_not_recognised() -> None:
    r = Response.parse("354 3.0.0 go ahead")
    assert r.enhanced_code is None
    assert r.content == "3.0.0 go ahead"
    assert r.to_single_line() == "354 3.0.0 go ahead"


def test_enhanced_code_without_text_is_not_recognised() -> None:
    r = Response.parse("250 2.0.0")
    assert r.enhanced_code is None
    assert r.content == "2.0.0"
    r = Response.parse("250 2.0.0 ")
    assert r.enhanced_code == ESC(2, 0, 0)
    assert r.content == ""
    assert r.to_single_line() == "250 2.0.0 "


def test_enhanced_class_need_not_match_code() -> None:
    r = Response.parse("250 5.1.1 odd but accepted")
    assert r.enhanced_code == ESC(5, 1, 1)


def test_single_line_normalises_content_line_breaks() -> None:
    r = Response(550, ESC(5, 1, 1), "a\r\nb\nc\rd\r\r\ne")
    assert r.to_single_line() == "550 5.1.1 a b c d  e"
    assert str(r) == r.to_single_line()


def test_response_field_checks() -> None:
    with pytest.raises(ValueError):
        Response(70000, None, "x")
    with pytest.raises(TypeError):
        Response(True, None, "x")
    with pytest.raises(TypeError):
        Response(250, None, b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Response(250, "2.0.0", "x")  # type: ignore[arg-type]


def test_transient_permanent() -> None:
    assert Response(452, None, "").is_transient()
    assert not Response(452, None, "").is_permanent()
    assert Response(550, None, "").is_permanent()
    assert not Response(600, None, "").is_permanent()


def test_with_code_and_message() -> None:
    r = Response.with_code_and_message(550, "5.7.1 relaying not permitted")
    assert r == Response(550, ESC(5, 7, 1), "relaying not permitted")
    r = Response.with_code_and_message(451, "4.7.1 first\r\n4.7.1 second\nthird\n")
    assert r == Response(451, ESC(4, 7, 1), "first\nsecond\nthird")
    r = Response.with_code_and_message(421, "no code\r")
    assert r.content == "no code\r"  # a bare CR at the very end is not a line ending
    with pytest.raises(ValueError):
        Response.with_code_and_message(550, "")


# ---------------------------------------------------------------------------
# with_code (the rewrite rule)
# ---------------------------------------------------------------------------


QUOTA = Response(
    452,
    ESC(4, 2, 2),
    "The email account that you tried to reach is over quota.",
    "RCPT TO:<user@example.com>\r\n",
)


def test_with_code_same_returns_self() -> None:
    assert QUOTA.with_code(452) is QUOTA


def test_with_code_different() -> None:
    r = QUOTA.with_code(500)
    assert r.code == 500
    assert r.enhanced_code == ESC(4, 2, 2)
    assert r.command == "RCPT TO:<user@example.com>\r\n"
    assert r.rewritten_from == 452
    assert r.content == (
        "The email account that you tried to reach is over quota."
        " (kumomta: status was rewritten from 452 -> 500)"
    )
    assert r.to_single_line() == (
        "500 4.2.2 The email account that you tried to reach is over quota."
        " (kumomta: status was rewritten from 452 -> 500)"
    )
    assert rewrite_annotation(452, 500) == " (kumomta: status was rewritten from 452 -> 500)"


def test_with_code_accepts_any_u16() -> None:
    assert QUOTA.with_code(250).code == 250
    assert QUOTA.with_code(0).code == 0
    assert QUOTA.with_code(65535).code == 65535
    with pytest.raises(ValueError):
        QUOTA.with_code(65536)
    with pytest.raises(TypeError):
        QUOTA.with_code(True)


def test_with_code_twice_and_multiline_content() -> None:
    r = Response.parse("550-5.1.1 a\r\n550 5.1.1 b").with_code(450).with_code(550)
    assert r.content == (
        "a\nb (kumomta: status was rewritten from 550 -> 450)"
        " (kumomta: status was rewritten from 450 -> 550)"
    )
    assert r.rewritten_from == 450
    assert r.to_single_line().startswith("550 5.1.1 a b (kumomta")


def test_equality_ignores_rewritten_from() -> None:
    r = QUOTA.with_code(500)
    copy = Response.from_json(r.to_json())
    assert copy.rewritten_from is None
    assert copy == r
    assert hash(copy) == hash(r)


def test_apply_rewrite() -> None:
    assert apply_rewrite(QUOTA, None) is QUOTA
    assert apply_rewrite(QUOTA, 452) is QUOTA
    assert apply_rewrite(QUOTA, "452") is QUOTA
    assert apply_rewrite(QUOTA, 500.7).code == 500
    with pytest.raises(ConversionError):
        apply_rewrite(QUOTA, True)


def test_rewrite_failure_message() -> None:
    err = ConversionError("boolean", "u16", "expected number or string coercible to number")
    assert rewrite_failure_message(str(err)) == (
        "smtp_client_rewrite_delivery_status event failed: error converting Lua boolean"
        " to u16 (expected number or string coercible to number). Preserving original DSN"
    )


# ---------------------------------------------------------------------------
# JSON (log record) shape
# ---------------------------------------------------------------------------


def test_to_json_shape() -> None:
    r = Response.parse("\r\n".join(GMAIL_LINES), command=".\r\n")
    data = r.to_json()
    assert list(data) == ["code", "enhanced_code", "content", "command"]
    assert data == {
        "code": 550,
        "enhanced_code": {"class": 5, "subject": 1, "detail": 1},
        "content": GMAIL_SINGLE[len("550 5.1.1 ") :],
        "command": ".\r\n",
    }
    assert Response(421, None, "x").to_json() == {
        "code": 421,
        "enhanced_code": None,
        "content": "x",
        "command": None,
    }


def test_from_json() -> None:
    record: dict[str, Any] = {
        "code": 500,
        "enhanced_code": {"class": 4, "subject": 2, "detail": 2},
        "content": "over quota. (kumomta: status was rewritten from 452 -> 500)",
        "command": "RCPT TO:<user@example.com>\r\n",
        "extra": "ignored",
    }
    r = Response.from_json(record)
    assert r.to_single_line() == (
        "500 4.2.2 over quota. (kumomta: status was rewritten from 452 -> 500)"
    )
    assert Response.from_json({"code": 250, "content": "ok"}) == Response(250, None, "ok")
    assert Response.from_json({"code": 250, "content": "a\nb"}).content == "a\nb"


@pytest.mark.parametrize(
    ("record", "match"),
    [
        ({"content": "x"}, "missing field `code`"),
        ({"code": 250}, "missing field `content`"),
        ({"code": True, "content": "x"}, "response.code"),
        ({"code": 250.0, "content": "x"}, "response.code"),
        ({"code": 70000, "content": "x"}, "response.code"),
        ({"code": 250, "content": 1}, "response.content"),
        ({"code": 250, "content": "x", "command": 1}, "response.command"),
        ({"code": 250, "content": "x", "enhanced_code": "2.0.0"}, "response.enhanced_code"),
    ],
)
def test_from_json_invalid(record: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Response.from_json(record)


# ---------------------------------------------------------------------------
# to_u16 (mlua 0.11 Option<u16>)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (500, 500),
        (0, 0),
        (65535, 65535),
        (500.0, 500),
        (500.7, 500),
        (500.9999, 500),
        (-0.0, 0),
        (-0.5, 0),  # num-traits: anything in (-1, 65536) truncates
        (-0.999, 0),
        (65535.5, 65535),
        ("500", 500),
        (" 500 ", 500),
        ("\t500\n", 500),
        ("+500", 500),
        ("0500", 500),
        ("5e2", 500),
        ("500.0", 500),
        ("500.", 500),
        ("0x1F4", 500),
        ("0X1f4", 500),
        ("0x1F4.0", 500),
        ("0x1.f4p8", 500),
        ("500.7", 500),
        ("-0.5", 0),
        (b"500", 500),
        ("-0", 0),
        ("0" * 5000 + "250", 250),
    ],
)
def test_to_u16_accepts(value: object, expected: int | None) -> None:
    assert to_u16(value) == expected


NOT_NUM = "expected number or string coercible to number"


@pytest.mark.parametrize(
    ("value", "from_type", "detail"),
    [
        (True, "boolean", NOT_NUM),
        (False, "boolean", NOT_NUM),
        (-1, "integer", "out of range"),
        (70000, "integer", "out of range"),
        (65536, "integer", "out of range"),
        (2**63 - 1, "integer", "out of range"),
        (-1.0, "integer", "out of range"),  # integral floats go through lua_tointegerx
        (70000.0, "integer", "out of range"),
        (1e18, "integer", "out of range"),
        (-1.5, "number", "out of range"),
        (65536.5, "number", "out of range"),
        (1e300, "number", "out of range"),
        (math.inf, "number", "out of range"),
        (-math.inf, "number", "out of range"),
        (math.nan, "number", "out of range"),
        ("70000", "string", "out of range"),
        ("-1", "string", "out of range"),
        ("1e300", "string", "out of range"),
        ("1e400", "string", "out of range"),  # strtod overflows to inf
        ("0xFFFFFFFFFFFFFFFF", "string", "out of range"),  # wraps to -1
        ("-1.5", "string", "out of range"),
        ("abc", "string", NOT_NUM),
        ("", "string", NOT_NUM),
        ("   ", "string", NOT_NUM),
        ("5 00", "string", NOT_NUM),
        ("500x", "string", NOT_NUM),
        ("0x", "string", NOT_NUM),
        ("1e", "string", NOT_NUM),
        ("inf", "string", NOT_NUM),
        ("nan", "string", NOT_NUM),
        ("1_000", "string", NOT_NUM),
        ("５００", "string", NOT_NUM),
        ("500\x00", "string", NOT_NUM),
        ("- 5", "string", NOT_NUM),
        ("9" * 5000, "string", "out of range"),  # a float: inf
        ("0x" + "f" * 5000, "string", "out of range"),  # wraps to -1
        ({}, "table", NOT_NUM),
        ([500], "table", NOT_NUM),
        (print, "function", NOT_NUM),
        (object(), "userdata", NOT_NUM),
    ],
)
def test_to_u16_rejects(value: object, from_type: str, detail: str) -> None:
    with pytest.raises(ConversionError) as info:
        to_u16(value)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == f"error converting Lua {from_type} to u16 ({detail})"
    assert info.value.from_type == from_type


def test_conversion_error_wording() -> None:
    with pytest.raises(ConversionError, match=r"^error converting Lua boolean to u16 \("):
        to_u16(True)
    with pytest.raises(ConversionError, match=r"^error converting Lua integer to u16 \(out of"):
        to_u16(-1)


@given(st.integers(min_value=0, max_value=65535))
def test_to_u16_integer_and_string_agree(n: int) -> None:
    assert to_u16(n) == n
    assert to_u16(str(n)) == n
    assert to_u16(float(n)) == n
    assert to_u16(hex(n)) == n


@given(st.floats(min_value=-0.999999, max_value=65535.999999))
def test_to_u16_truncates_in_range_floats(x: float) -> None:
    assert to_u16(x) == int(x)
    assert to_u16(repr(x)) == int(x)


# ---------------------------------------------------------------------------
# Lua string coercion, checked against a real Lua 5.4 when lupa is present
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10", 10),
        ("  -10  ", -10),
        ("0x10", 16),
        ("-0x10", -16),
        ("0xffffffffffffffff", -1),
        ("0x10000000000000000", 0),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
        ("9223372036854775808", 9.223372036854775808e18),
        ("1.5", 1.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e2", 100.0),
        ("0x1p4", 16.0),
        ("0x.8", 0.5),
        ("0x1p99999", math.inf),
        ("1e400", math.inf),
        ("inf", None),
        ("-inf", None),
        ("nan", None),
        (".", None),
        ("e1", None),
        ("0x1p", None),
        ("", None),
        # any number of digits (Python's int() refuses more than 4,300)
        ("9" * 5000, math.inf),
        ("-" + "9" * 5000, -math.inf),
        ("0" * 5000 + "5", 5),
        ("-" + "0" * 5000 + "5", -5),
        ("0x" + "f" * 5000 + "10", -240),  # wraps modulo 2**64
        ("1" * 5000 + ".5", math.inf),
    ],
)
def test_lua_str2number(text: str, expected: int | float | None) -> None:
    got = lua_str2number(text)
    assert got == expected
    assert type(got) is type(expected)


def _lua54() -> Any:
    lua54 = pytest.importorskip("lupa.lua54")
    return lua54.LuaRuntime()


NUMERIC_TEXT = st.text(alphabet="0123456789abcdefxXpP.+-e \t\n\r\v\finN", max_size=10)


@given(NUMERIC_TEXT)
def test_lua_str2number_matches_real_lua(text: str) -> None:
    lua = _LUA.get()
    convert = lua.eval(
        "function(s) local n = tonumber(s); return n, n ~= nil and math.type(n) or nil end"
    )
    number, kind = convert(text)
    got = lua_str2number(text)
    if number is None:
        assert got is None
    else:
        assert got == number
        assert ("integer" if isinstance(got, int) else "float") == kind


@given(NUMERIC_TEXT)
def test_lua_tointeger_matches_real_lua(text: str) -> None:
    # lua_tointegerx (exact conversion) is what mlua tries first.
    lua = _LUA.get()
    expected = lua.eval("math.tointeger")(text)
    got = lua_str2number(text)
    if isinstance(got, float):
        got = int(got) if math.isfinite(got) and got == int(got) and abs(got) < 2.0**63 else None
    assert got == expected


class _LazyLua:
    def __init__(self) -> None:
        self._lua: Any = None

    def get(self) -> Any:
        if self._lua is None:
            self._lua = _lua54()
        return self._lua


_LUA = _LazyLua()


@pytest.mark.parametrize(
    "text",
    ["9" * 5000, "-" + "9" * 5000, "0" * 5000 + "5", "  " + "0" * 4400 + "65535 ",
     "0x" + "f" * 5000 + "10", "1" * 5000 + ".5", "0." + "1" * 5000, "0x1p" + "9" * 5000],
)
def test_long_numerals_match_real_lua(text: str) -> None:
    lua = _LUA.get()
    convert = lua.eval(
        "function(s) local n = tonumber(s); return n, n ~= nil and math.type(n) or nil end"
    )
    number, kind = convert(text)
    got = lua_str2number(text)
    assert got == number
    assert ("integer" if isinstance(got, int) else "float") == kind


def test_to_u16_with_real_lua_values() -> None:
    lua = _LUA.get()
    assert to_u16(lua.eval("500")) == 500
    assert to_u16(lua.eval("500.7")) == 500
    assert to_u16(lua.eval("'500'")) == 500
    assert to_u16(lua.eval("nil")) is None
    for code, kind in [("{}", "table"), ("function() end", "function"), ("true", "boolean")]:
        with pytest.raises(ConversionError, match=f"^error converting Lua {kind} to u16"):
            to_u16(lua.eval(code))
    with pytest.raises(ConversionError, match="Lua integer to u16 .out of range"):
        to_u16(lua.eval("70000"))


# ---------------------------------------------------------------------------
# Queue names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "campaign", "tenant", "domain", "routing"),
    [
        # KumoMTA's own cases
        ("foo.com", None, None, "foo.com", None),
        ("tenant@foo.com", None, "tenant", "foo.com", None),
        ("campaign:@foo.com", "campaign", "", "foo.com", None),
        ("campaign:tenant@foo.com", "campaign", "tenant", "foo.com", None),
        ("campaign:tenant@foo.com!routing.com", "campaign", "tenant", "foo.com", "routing.com"),
        ("foo.com:2025", None, None, "foo.com:2025", None),
        ("foo.com!routing.com:2025", None, None, "foo.com", "routing.com:2025"),
        ("tenant@foo.com!routing.com:2025", None, "tenant", "foo.com", "routing.com:2025"),
        ("campaign:@foo.com!routing.com:2025", "campaign", "", "foo.com", "routing.com:2025"),
        (
            "campaign:tenant@foo.com!routing.com:2025",
            "campaign",
            "tenant",
            "foo.com",
            "routing.com:2025",
        ),
        # short forms from the brief
        ("c:@d", "c", "", "d", None),
        ("t@d", None, "t", "d", None),
        ("d", None, None, "d", None),
        ("c:t@d!r", "c", "t", "d", "r"),
        # first-separator rules, no validation, no lowercasing
        ("a@b@c", None, "a", "b@c", None),
        ("a:b:c@d", "a", "b:c", "d", None),
        ("a!b@c", None, "a!b", "c", None),
        ("c:t!x", None, None, "c:t", "x"),
        ("d!r1!r2", None, None, "d", "r1!r2"),
        ("d!", None, None, "d", ""),
        ("@d", None, "", "d", None),
        (":@d", "", "", "d", None),
        ("t@", None, "t", "", None),
        ("", None, None, "", None),
        ("Tenant@EXAMPLE.com", None, "Tenant", "EXAMPLE.com", None),
        ("[10.0.0.1]", None, None, "[10.0.0.1]", None),
    ],
)
def test_queue_name_parse(
    name: str, campaign: str | None, tenant: str | None, domain: str, routing: str | None
) -> None:
    q = QueueName.parse(name)
    assert q == QueueName(campaign, tenant, domain, routing)
    assert q.format() == name


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("c", "t", "d", None), "c:t@d"),
        (("c", None, "d", None), "c:@d"),
        (("c", "", "d", None), "c:@d"),
        ((None, "t", "d", None), "t@d"),
        ((None, None, "d", None), "d"),
        ((None, "", "d", None), "@d"),
        (("c", "t", "d", "r"), "c:t@d!r"),
        (("c", None, "d", "r:25"), "c:@d!r:25"),
        ((None, None, "d", "r"), "d!r"),
    ],
)
def test_queue_name_format(
    parts: tuple[str | None, str | None, str, str | None], expected: str
) -> None:
    q = QueueName(*parts)
    assert q.format() == expected
    assert str(q) == expected


def test_parse_and_format_are_not_inverses() -> None:
    q = QueueName("c", None, "d", None)
    assert QueueName.parse(q.format()) == QueueName("c", "", "d", None)


def test_queue_name_rewrite_event_args() -> None:
    assert QueueName.parse("d").rewrite_event_args() == ("d", None, None, "d")
    assert QueueName.parse("t@d").rewrite_event_args() == ("d", "t", None, "d")
    assert QueueName.parse("c:@d").rewrite_event_args() == ("d", "", "c", "d")
    assert QueueName.parse("c:t@d!r:2025").rewrite_event_args() == ("d", "t", "c", "r:2025")
    assert QueueName.parse("d!").rewrite_event_args() == ("d", None, None, "")


def test_full_rewrite_event_args() -> None:
    r = Response.parse("452-4.2.2 over\r\n452 4.2.2 quota")
    assert rewrite_event_args(r, "c:t@gmail.com") == (
        "452 4.2.2 over quota",
        "gmail.com",
        "t",
        "c",
        "gmail.com",
    )
    assert rewrite_event_args(r, QueueName.parse("gmail.com!mx.example")) == (
        "452 4.2.2 over quota",
        "gmail.com",
        None,
        None,
        "mx.example",
    )


def test_queue_name_types() -> None:
    with pytest.raises(TypeError):
        QueueName.parse(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        QueueName(None, None, 1)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

PIECE = st.text(alphabet=st.characters(blacklist_characters="@:!"), max_size=8)


@given(st.text(max_size=30))
def test_format_of_parse_is_identity(name: str) -> None:
    assert QueueName.parse(name).format() == name


@given(
    st.one_of(st.none(), PIECE),
    st.one_of(st.none(), PIECE),
    PIECE,
    st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_characters="@"), max_size=8)),
)
def test_parse_of_format_round_trips(
    campaign: str | None, tenant: str | None, domain: str, routing: str | None
) -> None:
    q = QueueName(campaign, tenant, domain, routing)
    parsed = QueueName.parse(q.format())
    expected_tenant = "" if campaign is not None and tenant is None else tenant
    assert parsed == QueueName(campaign, expected_tenant, domain, routing)


LINE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"),
    max_size=20,
)


@given(
    st.integers(min_value=200, max_value=599),
    st.one_of(
        st.none(),
        st.builds(
            ESC,
            st.sampled_from([2, 4, 5]),
            st.integers(0, 999),
            st.integers(0, 999),
        ),
    ),
    st.lists(LINE_TEXT, min_size=1, max_size=4),
    st.sampled_from(["\r\n", "\n"]),
    st.booleans(),
)
def test_wire_round_trip(
    code: int,
    enhanced: EnhancedStatusCode | None,
    lines: list[str],
    sep: str,
    repeat_code: bool,
) -> None:
    # A first line that already looks like an enhanced code would be read as one.
    if enhanced is None and ESC.parse_prefix(lines[0]) is not None:
        lines = ["x" + lines[0], *lines[1:]]
    wire = []
    for i, line in enumerate(lines):
        mark = " " if i == len(lines) - 1 else "-"
        prefix = f"{enhanced} " if enhanced is not None and (i == 0 or repeat_code) else ""
        wire.append(f"{code}{mark}{prefix}{line}")
    text = sep.join(wire)
    r = Response.parse(text)
    if enhanced is not None and not repeat_code:
        # A continuation line that starts with the code itself is stripped too.
        expected_lines = [lines[0]] + [
            ln[len(f"{enhanced} ") :] if ln.startswith(f"{enhanced} ") else ln for ln in lines[1:]
        ]
    else:
        expected_lines = lines
    assert r == Response(code, enhanced, "\n".join(expected_lines))
    expected_single = f"{code} " + (f"{enhanced} " if enhanced else "")
    assert r.to_single_line() == expected_single + " ".join(expected_lines)
    assert Response.from_json(r.to_json()).to_single_line() == r.to_single_line()


@given(st.integers(0, 65535), st.integers(0, 65535), LINE_TEXT)
def test_with_code_property(old: int, new: int, content: str) -> None:
    r = Response(old, ESC(4, 0, 0), content, "DATA\r\n")
    out = r.with_code(new)
    if old == new:
        assert out is r
    else:
        assert out.code == new and out.rewritten_from == old
        assert out.content == content + f" (kumomta: status was rewritten from {old} -> {new})"
        assert (out.enhanced_code, out.command) == (r.enhanced_code, r.command)


def test_mixed_line_endings_follow_wire_rules() -> None:
    # Once a CRLF is present, a bare LF no longer separates reply lines.
    r = Response.parse("550-a\n550-b\r\n550 c")
    assert r.content == "a\n550-b\nc"
    with pytest.raises(MalformedResponse, match="continuation"):
        Response.parse("550-a\n550 b\r\n")
