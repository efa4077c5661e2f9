"""`kumo.api.inject.build_v1` / `inject_v1` and
`kumo.apply_supplemental_trace_header` (kumod: http_server/inject_v1.rs)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kumopy import Message
from kumopy._kumo.inject import injected_messages

HEADER = "local kumo = require 'kumo'\n"


def test_build_v1_builder_content(load: Any) -> None:
    policy = load(
        HEADER
        + "kumo.on('test_event', function()\n"
        "  local msgs = kumo.api.inject.build_v1 {\n"
        "    envelope_sender = 'bounce@example.com',\n"
        "    recipients = { { email = 'ann@x.example', name = 'Ann',\n"
        "                     substitutions = { color = 'red' }, metadata = { id = 7 } } },\n"
        "    substitutions = { color = 'blue', shape = 'round' },\n"
        "    content = {\n"
        "      text_body = 'Hi {{ name }}, {{ color }} {{ shape }} to {{ to_header }}',\n"
        "      subject = 'About {{ color }}',\n"
        "      from = { email = 'news@example.com', name = 'News Desk' },\n"
        "      headers = { ['X-Campaign'] = 'c-{{ shape }}' },\n"
        "    },\n"
        "  }\n"
        "  local m = msgs[1]\n"
        "  local mime = m:parse_mime()\n"
        "  return #msgs, m:sender().email, m:recipient().email, mime.body,\n"
        "    m:get_first_named_header_value('Subject'), m:from_header().name,\n"
        "    m:get_first_named_header_value('To'), m:get_first_named_header_value('X-Campaign'),\n"
        "    m:get_meta('http_auth'), m:get_meta('reception_protocol'),\n"
        "    m:get_meta('received_from'), m:get_meta('extra').id,\n"
        "    m:get_first_named_header_value('Received'), m:get_first_named_header_value('X-KumoRef')\n"
        "end)\n"
    )
    got = policy.dispatch("test_event").values
    assert got == (
        1, "bounce@example.com", "ann@x.example",
        "Hi Ann, red round to Ann <ann@x.example>\r\n",
        "About red", "News Desk", "Ann <ann@x.example>", "c-round",
        "kumomta.internal", "HTTP", "127.0.0.1", 7, None, None,
    )  # fmt: skip


def test_build_v1_rfc822_content_is_rebuilt(load: Any) -> None:
    policy = load(
        HEADER
        + "kumo.on('test_event', function()\n"
        "  local msgs = kumo.api.inject.build_v1 {\n"
        "    envelope_sender = 'b@example.com',\n"
        "    recipients = { { email = 'a@x.example' }, { email = 'c@x.example' } },\n"
        "    content = 'Subject: hi {{ email }}\\nFrom: <f@example.com>\\n\\nbody',\n"
        "    trace_headers = { supplemental_header = false },\n"
        "  }\n"
        "  return msgs[1]:get_data(), msgs[2]:get_first_named_header_value('Subject')\n"
        "end)\n"
    )
    data, subject = policy.dispatch("test_event").values
    # trace_headers given: received_header defaults to true (kumod's serde default)
    assert data.startswith("Received: from example.com (127.0.0.1)\r\n  by ")
    assert "\r\n  with HTTP id " in data and " for <a@x.example>;\r\n" in data
    assert data.endswith(
        'Content-Type: text/plain;\r\n\tcharset="us-ascii"\r\nSubject: hi a@x.example\r\n'
        "From: <f@example.com>\r\nMime-Version: 1.0\r\n\r\nbody\r\n"
    )
    assert subject == "hi c@x.example"


def test_build_v1_errors_are_error_values(load: Any) -> None:
    policy = load(
        HEADER
        + "kumo.on('test_event', function(req)\n"
        "  local ok, err = pcall(kumo.api.inject.build_v1, req)\n"
        "  return ok, type(err), tostring(err)\n"
        "end)\n"
    )

    def err(request: dict[str, Any]) -> str:
        ok, kind, text = policy.dispatch("test_event", request).values
        assert ok is False and kind == "userdata"
        return str(text)

    base = {"envelope_sender": "b@example.com", "recipients": [{"email": "a@x.example"}]}
    text = err({**base, "content": {"html_body": "{% if %}"}})
    assert text.startswith(
        "failed parsing field 'content.html_body' as template: syntax error: "
        "unexpected end of block (in template 'html_body.html' "
        "line 1: '{% if %}')\nstack traceback:\n"
    )
    assert err({**base, "content": {"subject": "x"}}) .startswith(
        "at least one of text_body and/or html_body must be given\n"
    )
    assert err({**base, "content": 7}).startswith(
        "data did not match any variant of untagged enum Content\n"
    )
    assert err({**base, "envelope_sender": "nope", "content": "x"}).startswith(
        "envelope_sender: invalid envelope address 'nope'"
    )
    assert err({**base, "content": "x", "colour": 1}).startswith("unknown field `colour`")
    assert err({**base, "content": "x", "template_dialect": "Handlebars"}).startswith(
        "kumopy: the Handlebars template dialect is not supported"
    )


def test_static_dialect_does_not_expand(load: Any) -> None:
    policy = load(
        HEADER
        + "kumo.on('test_event', function()\n"
        "  local m = kumo.api.inject.build_v1 { envelope_sender = 'b@e.example',\n"
        "    recipients = { { email = 'a@x.example' } }, template_dialect = 'Static',\n"
        "    content = { text_body = '{{ not expanded }}' } }[1]\n"
        "  return m:parse_mime().body\n"
        "end)\n"
    )
    assert policy.dispatch("test_event").values == ("{{ not expanded }}\r\n",)


def test_inject_v1_fires_the_event_and_queues(load: Any) -> None:
    policy = load(
        HEADER
        + "kumo.on('http_message_generated', function(msg, auth)\n"
        "  if msg:recipient().email == 'reject@x.example' then kumo.reject(550, 'no thanks') end\n"
        "  if msg:recipient().email == 'null@x.example' then msg:set_meta('queue', 'null') end\n"
        "  msg:set_meta('tenant', auth.identities[1].identity)\n"
        "end)\n"
        "kumo.on('test_event', function()\n"
        "  return kumo.serde.json_encode(kumo.api.inject.inject_v1 {\n"
        "    envelope_sender = 'b@example.com',\n"
        "    recipients = { { email = 'ok@x.example' }, { email = 'reject@x.example' },\n"
        "                   { email = 'null@x.example' }, { email = 'bad address' } },\n"
        "    content = { text_body = 'hi' },\n"
        "    trace_headers = { received_header = false, include_meta_names = { 'tenant' } },\n"
        "  })\n"
        "end)\n"
    )
    result = json.loads(policy.dispatch("test_event").values[0])
    assert result["success_count"] == 2 and result["fail_count"] == 2
    assert result["failed_recipients"] == ["reject@x.example", "bad address"]
    assert result["errors"][0] == "reject@x.example: 550 no thanks"
    assert result["errors"][1].startswith("bad address: recipient email bad address: ")
    queued = injected_messages(policy)
    assert [str(m.recipients[0]) for m in queued] == ["ok@x.example"]
    ref = queued[0].get_first_named_header_value("X-KumoRef")
    assert ref is not None
    payload = json.loads(base64.b64decode(ref.replace(" ", "")))
    assert payload == {"_@_": "\\_/", "recipient": "ok@x.example", "tenant": "kumomta.internal"}


def test_deferred_generation_returns_zero_counts(load: Any) -> None:
    policy = load(
        HEADER
        + "kumo.on('test_event', function()\n"
        "  local r = kumo.api.inject.inject_v1 { envelope_sender = 'b@e.example',\n"
        "    recipients = { { email = 'a@x.example' } }, deferred_generation = true,\n"
        "    content = 'Subject: x\\n\\ny' }\n"
        "  return r.success_count, r.fail_count, #r.errors\n"
        "end)\n"
    )
    assert policy.dispatch("test_event").values == (0, 0, 0)


def _expected_ref(obj: dict[str, Any]) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    b64 = base64.b64encode(text.encode()).decode()
    # one token folded every 75 characters with CRLF TAB
    return "\r\n\t".join(b64[i : i + 75] for i in range(0, len(b64), 75))


@pytest.mark.parametrize(
    ("params", "meta", "name", "payload"),
    [
        ("nil", {}, "X-KumoRef", {"recipient": "r@x.example"}),
        ("{ header_name = 'X-T' }", {}, "X-T", {"recipient": "r@x.example"}),
        ("{ include_meta_names = { 'a', 'missing' } }", {"a": "v" * 90}, "X-KumoRef",
         {"recipient": "r@x.example", "a": "v" * 90, "missing": None}),
    ],
)
def test_apply_supplemental_trace_header(
    load: Any, params: str, meta: dict[str, Any], name: str, payload: dict[str, Any]
) -> None:
    policy = load(
        HEADER
        + "kumo.on('test_event', function(msg)\n"
        f"  kumo.apply_supplemental_trace_header(msg, {params})\n"
        "end)\n"
    )
    msg = Message(b"Subject: s\r\n\r\nb", sender="s@x.example", recipients="r@x.example",
                  meta=meta)
    policy.dispatch("test_event", msg)
    expected = _expected_ref({"_@_": "\\_/", **payload})
    assert msg.data == f"{name}: {expected}\r\nSubject: s\r\n\r\nb".encode()


def test_apply_supplemental_trace_header_refuses_unknown_fields(load: Any) -> None:
    from kumopy import PolicyError

    policy = load(
        HEADER
        + "kumo.on('test_event', function(msg)\n"
        "  kumo.apply_supplemental_trace_header(msg, { header = 'X' })\n"
        "end)\n"
    )
    msg = Message(b"S: s\r\n\r\nb", sender="s@x.example", recipients="r@x.example")
    with pytest.raises(PolicyError, match="unknown field `header`"):
        policy.dispatch("test_event", msg)
