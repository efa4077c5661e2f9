"""The message, connection metadata and address objects as Lua policies
use them (kumod: `impl UserData for Message`, ConnectionMetaData,
EnvelopeAddress, HeaderAddressList), including error paths."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kumopy import ConnectionMeta, Message, PolicyError

DATA = (
    b"From: Joe <joe@example.com>\r\n"
    b"To: ann@dest.example\r\n"
    b"Subject: =?utf-8?b?aMOpbGxv?=\r\n"
    b"X-Tenant: acme\r\n"
    b"\r\n"
    b"Body\r\n"
)


@pytest.fixture
def run(load: Any) -> Any:
    """run(lua_body, msg=None, conn=None) -> the handler's return values."""

    def _run(body: str, msg: Message | None = None, conn: ConnectionMeta | None = None) -> Any:
        policy = load(
            "local kumo = require 'kumo'\n"
            "kumo.on('smtp_server_message_received', function(msg, conn)\n"
            f"{body}\nend)\n"
        )
        if msg is None:
            msg = Message(DATA, sender="joe@example.com", recipients="ann@dest.example")
        if conn is None:
            conn = ConnectionMeta(received_from="192.0.2.7:5555", hostname="mx.test")
        return policy.dispatch("smtp_server_message_received", msg, conn).values

    return _run


def test_envelope_methods(run: Any) -> None:
    msg = Message(DATA, sender="Joe@Example.com", recipients=["a@x.example", "b@y.example"])
    got = run(
        "local r = msg:recipient()\n"
        "local s = msg:sender()\n"
        "return s.user, s.domain, s.email, tostring(s), #r, r[2].domain, "
        "#msg:recipient_list(), msg:id(), msg:num_attempts()",
        msg,
    )
    assert got[:7] == (
        "Joe",
        "Example.com",
        "Joe@Example.com",
        "Joe@Example.com",
        2,
        "y.example",
        2,
    )
    assert got[7] == msg.id and got[8] == 0


def test_recipient_single_and_none(run: Any) -> None:
    assert run("return msg:recipient().email") == ("ann@dest.example",)
    empty = Message(DATA, sender="", recipients=[])
    assert run("return msg:recipient(), #msg:recipient_list()", empty) == (None, 0)


def test_set_recipient_and_sender(run: Any) -> None:
    msg = Message(DATA, sender="a@b.example", recipients="c@d.example")
    run(
        "msg:set_recipient({'x@one.example', msg:sender(), '<y@two.example>'})\n"
        "msg:set_sender('<>')",
        msg,
    )
    assert [str(r) for r in msg.recipients] == ["x@one.example", "a@b.example", "y@two.example"]
    assert str(msg.sender) == ""
    run("msg:set_recipient('solo@z.example')", msg)
    assert [str(r) for r in msg.recipients] == ["solo@z.example"]
    with pytest.raises(PolicyError, match="invalid envelope address 'not an address'"):
        run("msg:set_recipient('not an address')", msg)
    with pytest.raises(PolicyError, match="error converting Lua boolean to EnvelopeAddress"):
        run("msg:set_sender(true)", msg)


def test_meta_round_trip_and_json_rules(run: Any) -> None:
    msg = Message(DATA, sender="", recipients="a@b.example", meta={"pre": [1, "x"]})
    got = run(
        "msg:set_meta('tenant', 'acme')\n"
        "msg:set_meta('n', nil)\n"
        "msg:set_meta('empty', {})\n"
        "msg:set_meta('obj', {a = {1, 2}, b = true})\n"
        "local pre = msg:get_meta('pre')\n"
        "return pre[1], pre[2], #pre, msg:get_meta('n'), msg:get_meta('nope'), "
        "kumo.json_encode(msg:get_meta('obj'))",
        msg,
    )
    assert got[:5] == (1, "x", 2, None, None)
    assert json.loads(got[5]) == {"a": [1, 2], "b": True}
    assert msg.meta == {
        "pre": [1, "x"],
        "tenant": "acme",
        "n": None,
        "empty": {},
        "obj": {"a": [1, 2], "b": True},
    }


def test_meta_errors(run: Any) -> None:
    with pytest.raises(PolicyError, match="error converting Lua nil to String"):
        run("msg:get_meta(nil)")
    with pytest.raises(PolicyError, match="cannot serialize <function>"):
        run("msg:set_meta('f', function() end)")


def test_connection_meta(run: Any) -> None:
    conn = ConnectionMeta(received_from="192.0.2.7:5555", hostname="mx.test")
    got = run(
        "conn:set_meta('x_tier', {level = 2})\n"
        "return conn:get_meta('received_from'), conn:get_meta('hostname'), "
        "conn:get_meta('reception_protocol'), conn:get_meta('received_via'), "
        "conn:get_meta('absent')",
        conn=conn,
    )
    assert got == ("192.0.2.7:5555", "mx.test", "ESMTP", "127.0.0.1:25", None)
    assert conn.get_meta("x_tier") == {"level": 2}
    conn.set_auth_info(
        {
            "peer_address": "192.0.2.7",
            "identities": [{"identity": "joe", "context": "SmtpAuthPlainAuthentication"}],
            "groups": [],
        }
    )
    got = run(
        "local a = conn:auth_info()\n"
        "return a.peer_address, #a.identities, a.identities[1].identity, #a.groups",
        conn=conn,
    )
    assert got == ("192.0.2.7", 1, "joe", 0)


def test_auth_info_defaults_to_peer_address(run: Any) -> None:
    got = run("local a = conn:auth_info() return a.peer_address, #a.identities")
    assert got == ("192.0.2.7", 0)


def test_queue_name_from_lua(run: Any) -> None:
    assert run(
        "msg:set_meta('tenant', 'acme') msg:set_meta('campaign', 'c')\nreturn msg:queue_name()"
    ) == ("c:acme@dest.example",)
    with pytest.raises(PolicyError) as info:
        run("msg:set_meta('tenant', 42)\nlocal q = msg:queue_name()\nreturn q")
    assert "expected 'tenant' to be a string value, got Ok(Number(42))" in str(info.value)
    assert info.value.line == 4


def test_header_methods(run: Any) -> None:
    msg = Message(DATA, sender="", recipients="a@b.example")
    got = run(
        "local subj = msg:get_first_named_header_value('subject')\n"
        "msg:prepend_header('X-Pre', 'p')\n"
        "msg:append_header('X-Post', 'q')\n"
        "msg:append_header('X-Enc', 'ünï', true)\n"
        "local all = msg:get_all_headers()\n"
        "local vals = msg:get_all_named_header_values('x-post')\n"
        "msg:import_x_headers({'X-Tenant'})\n"
        "msg:remove_x_headers({'x-pre'})\n"
        "msg:remove_all_named_headers('To')\n"
        "return subj, all[1][1], all[1][2], #all, vals[1], all[#all][2], "
        "msg:get_first_named_header_value('nope')",
        msg,
    )
    assert got == ("héllo", "X-Pre", "p", 7, "q", "ünï", None)
    assert msg.get_meta("x_tenant") == "acme"
    names = [n for n, _ in msg.headers]
    assert names == ["From", "Subject", "X-Tenant", "X-Post", "X-Enc"]
    run("msg:remove_x_headers()", msg)
    assert [n for n, _ in msg.headers] == ["From", "Subject"]


def test_address_header_objects(run: Any) -> None:
    got = run(
        "local f = msg:from_header()\n"
        "local t = msg:to_header()\n"
        "return f.user, f.domain, f.name, f.email, t.name, #t.list, t.list[1].email, "
        "msg:get_address_header('Cc')"
    )
    assert got == (
        "joe",
        "example.com",
        "Joe",
        "joe@example.com",
        None,
        1,
        "ann@dest.example",
        None,
    )
    multi = Message(b"To: a@x.example, b@y.example\r\n\r\n", sender="", recipients="a@b")
    with pytest.raises(PolicyError, match="is not a simple single address"):
        run("return msg:to_header().domain", multi)
    assert run("return #msg:to_header().list", multi) == (2,)


def test_data_methods(run: Any) -> None:
    msg = Message(DATA, sender="", recipients="a@b.example")
    got = run(
        "local d = msg:get_data()\nmsg:set_data('Subject: new\\r\\n\\r\\nbody')\nreturn #d", msg
    )
    assert got == (len(DATA),)
    assert msg.data == b"Subject: new\r\n\r\nbody"


def test_scheduling_from_lua(run: Any) -> None:
    msg = Message(
        b'X-Sched: {"first_attempt":"2030-05-01T10:00:00+02:00"}\r\n\r\nb',
        sender="",
        recipients="a@b.example",
    )
    got = run(
        "local s = msg:import_scheduling_header('X-Sched', true)\n"
        "return s.first_attempt, msg:get_first_named_header_value('X-Sched')",
        msg,
    )
    assert got == ("2030-05-01T10:00:00+02:00", None)
    assert msg.scheduling == {"first_attempt": "2030-05-01T10:00:00+02:00"}
    bad = Message(b"X-Sched: {oops\r\n\r\n", sender="", recipients="a@b.example")
    with pytest.raises(PolicyError, match="from header X-Sched is not a valid Scheduling header"):
        run("msg:import_scheduling_header('X-Sched', false)", bad)
    # (a missing `remove` is false, as mlua converts nil to a bool)
    with pytest.raises(PolicyError, match="from header X-Sched is not a valid Scheduling header"):
        run("msg:import_scheduling_header('X-Sched')", bad)


def test_check_fix_conformance_from_lua(run: Any) -> None:
    msg = Message(DATA, sender="s@sender.example", recipients="a@b.example")
    got = run(
        "local before = msg:check_fix_conformance('MISSING_DATE_HEADER', '')\n"
        "local after = msg:check_fix_conformance('MISSING_DATE_HEADER', "
        "'MISSING_DATE_HEADER|MISSING_MESSAGE_ID_HEADER')\n"
        "return before, after",
        msg,
    )
    assert got == ("Message has conformance issues: MISSING_DATE_HEADER", None)
    assert msg.get_first_named_header_value("Message-ID") == f"<{msg.id}@sender.example>"
    with pytest.raises(PolicyError, match="invalid MessageConformance flag 'BOGUS'"):
        run("msg:check_fix_conformance('BOGUS', '')")


def test_make_message(run: Any) -> None:
    got = run(
        "local m = kumo.make_message('s@a.example', 'r@B.example', 'Subject: hi\\r\\n\\r\\nx')\n"
        "return m:sender().email, m:recipient().email, m:queue_name(), "
        "m:get_first_named_header_value('Subject'), kumo.json_encode(m:get_meta('x') or {}), "
        "#m:id()"
    )
    assert got == ("s@a.example", "r@B.example", "b.example", "hi", "{}", 32)
    with pytest.raises(PolicyError, match="invalid envelope address 'bad'"):
        run("kumo.make_message('bad', 'r@b', '')")
    with pytest.raises(PolicyError, match="error converting Lua nil to String"):
        run("kumo.make_message('a@b', nil, '')")


def test_unknown_unsupported_and_misused_methods(run: Any) -> None:
    with pytest.raises(PolicyError, match="attempt to get an unknown field 'nope'"):
        run("msg:nope()")
    for name in ("parse_rfc3464",):
        with pytest.raises(PolicyError, match=f"kumopy: message:{name} is not supported"):
            run(f"msg:{name}()")
    with pytest.raises(PolicyError, match="bad argument `self` to method `Message.get_meta`"):
        run("msg.get_meta('x')")


def test_noop_spool_methods_and_attempts(run: Any) -> None:
    msg = Message(DATA, sender="", recipients="a@b.example")
    assert run(
        "msg:save() msg:set_force_sync(true) msg:increment_num_attempts()\n"
        "return msg:shrink(), msg:num_attempts()",
        msg,
    ) == (False, 1)
    assert msg.num_attempts == 1 and msg.force_sync is True


def test_set_due_and_set_scheduling(run: Any) -> None:
    msg = Message(DATA, sender="", recipients="a@b.example")
    got = run(
        "local due = msg:set_due('2030-01-02T03:04:05+01:00')\n"
        "local s = msg:set_scheduling({dow = 'Mon', tz = 'UTC', start = '09:00', ['end'] = '17:00'})\n"
        "local cleared = msg:set_due(nil)\n"
        "return due, s.dow, s.start, cleared",
        msg,
    )
    assert got == ("2030-01-02T02:04:05Z", "Mon", "09:00:00", None)
    assert msg.scheduling == {"dow": "Mon", "tz": "UTC", "start": "09:00:00", "end": "17:00:00"}
    with pytest.raises(PolicyError, match="tz, start, end are missing"):
        run("msg:set_scheduling({dow = 'Mon'})", msg)
    with pytest.raises(PolicyError, match="not an RFC 3339 date"):
        run("msg:set_due('tomorrow')", msg)


def test_import_headers_from_lua(run: Any) -> None:
    msg = Message(DATA, sender="", recipients="a@b.example")
    run(
        "msg:import_headers({{name = 'X-Tenant', target = 'tenant', remove = true},"
        " {name = 'Subject', transform = 'kebab_case'}})",
        msg,
    )
    assert msg.meta == {"tenant": "acme", "subject": "héllo"}
    assert msg.get_first_named_header_value("X-Tenant") is None
    with pytest.raises(PolicyError, match="`target` cannot be used with wildcard"):
        run("msg:import_headers({{name = 'X-*', target = 'x'}})")


def test_sequences_are_plain_tables(run: Any) -> None:
    # mlua turns a Vec into a plain table (no JSON array marker); get_meta
    # arrays carry the marker like kumo.json_parse results
    msg = Message(DATA, sender="", recipients=["a@x.example", "b@y.example"], meta={"l": [1]})
    got = run(
        "return getmetatable(msg:recipient_list()), getmetatable(msg:get_all_headers()), "
        "getmetatable(msg:to_header().list), getmetatable(msg:recipient()), "
        "getmetatable(msg:get_meta('l'))",
        msg,
    )
    assert got == (None, None, None, None, False)


def test_append_text_from_lua(run: Any) -> None:
    msg = Message(b"Subject: s\r\n\r\nhello", sender="", recipients="a@b.example")
    assert run("return msg:append_text_plain('footer'), msg:append_text_html('x')", msg) == (
        True,
        False,
    )
    assert msg.data.endswith(b"\r\n\r\nhello\r\nfooter\r\n")
    with pytest.raises(PolicyError, match="error converting Lua nil to String"):
        run("msg:append_text_plain()", msg)


def test_header_parse_errors_are_lua_errors(run: Any) -> None:
    bad = Message(b" Subject: x\r\n\r\n", sender="", recipients="a@b.example")
    for call in (
        "msg:get_first_named_header_value('Subject')",
        "msg:get_all_headers()",
        "msg:remove_x_headers()",
        "msg:from_header()",
    ):
        with pytest.raises(PolicyError) as info:
            run(call, bad)
        assert info.value.message.endswith("header block must not start with spaces")
        assert "internal error" not in info.value.message
