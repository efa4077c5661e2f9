"""`kumo.mimepart.*` and `msg:parse_mime()` as policies use them: part
references, header maps and headers, the builder, error texts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kumopy import Message, PolicyError


@pytest.fixture
def run(load: Any) -> Any:
    """run(lua_body, msg=None) -> the values the body returns."""

    def _run(body: str, msg: Message | None = None) -> Any:
        policy = load(
            "local kumo = require 'kumo'\n"
            "kumo.on('test_event', function(msg)\n"
            f"{body}\nend)\n"
        )
        return policy.dispatch("test_event", msg).values

    return _run


def test_parse_mime_round_trip_and_aliasing(run: Any) -> None:
    data = b"Subject: hi\r\nX-Bin: \xff\r\n\r\nbody \xfe"
    msg = Message(data, sender="a@example.com", recipients="b@example.com")
    text, alias, same = run(
        "local root = msg:parse_mime()\n"
        "local s = root:get_simple_structure()\n"
        "s.text_part.body = 'new'\n"
        "return tostring(kumo.mimepart.parse(msg:get_data())), tostring(root),"
        " s.header_part.id == root.id",
        msg,
    )
    # tostring gives bytes, UTF-8 or not
    assert text == data.decode("utf-8", "surrogateescape")
    # the structure's text part is the root itself: the change shows there
    assert alias.endswith("Content-Type: text/plain;\r\n\tcharset=\"us-ascii\"\r\n\r\nnew\r\n")
    assert same is True
    # parse_mime is a copy: the message itself is unchanged
    assert msg.data == data


def test_header_views(run: Any) -> None:
    got = run(
        "local p = kumo.mimepart.parse('To: A <a@x.example>, G: b@y.example;\\r\\n'"
        " .. 'Content-Type: text/plain; charset=\"utf-8\"\\r\\n'"
        " .. 'References: <1@x> <2@y>\\r\\nX-Other: =?utf-8?q?caf=C3=A9?=\\r\\n\\r\\nb')\n"
        "local out = {}\n"
        "for h in p.headers:iter() do out[#out + 1] = {h.name, h.value} end\n"
        "local ct = p.headers:get_first_named('content-type')\n"
        "local only = {}\n"
        "for h in p.headers:iter('x-other') do only[#only + 1] = h.raw_value end\n"
        "return kumo.serde.json_encode(out), ct.raw_value, tostring(ct), #only, "
        "p.headers:content_type().parameters.charset",
    )
    values = json.loads(got[0])
    assert values == [
        ["To", [{"name": "A", "address": {"local_part": "a", "domain": "x.example"}},
                {"name": "G", "entries": [{"address": {"local_part": "b",
                                                       "domain": "y.example"}}]}]],
        ["Content-Type", {"value": "text/plain", "parameters": {"charset": "utf-8"}}],
        ["References", ["1@x", "2@y"]],
        ["X-Other", "café"],
    ]
    assert got[1:] == (
        'text/plain; charset="utf-8"',
        'Content-Type: text/plain; charset="utf-8"\r\n',
        1,
        "utf-8",
    )


def test_accessors_set_and_validate(run: Any) -> None:
    got = run(
        "local p = kumo.mimepart.new_text_plain('x')\n"
        "local h = p.headers\n"
        "h:set_to('Ann <ann@x.example>')\n"
        "h:set_cc({ { address = { local_part = 'c', domain = 'y.example' } } })\n"
        "h:set_subject('s')\n"
        "h:set_references({ 'a@b', 'c@d' })\n"
        "local ok, err = pcall(h.set_sender, h, 'not an address')\n"
        "local ok2, err2 = pcall(h.set_cc, h, { { bogus = 1 } })\n"
        "return h:get_first_named('To').raw_value, h:get_first_named('Cc').raw_value,"
        " h:subject(), h:get_first_named('References').raw_value, ok, err, ok2, err2,"
        " h:sender(), h:to()[1].name",
    )
    assert got[:5] == ("Ann <ann@x.example>", "<c@y.example>", "s", "<a@b>\r\n\t<c@d>", False)
    assert "while assigning header 'Sender': invalid header" in got[5]
    assert got[6] is False
    assert "data did not match any variant of untagged enum Address" in got[7]
    assert got[8:] == (None, "Ann")


def test_builder_and_constructors(run: Any) -> None:
    got = run(
        "local b = kumo.mimepart.builder()\n"
        "b:set_stable_content(true)\n"
        "b:text_plain('plain')\n"
        "b:attach('image/gif', 'GIF89a', { file_name = 'p.gif', inline = true,"
        " content_id = 'pix@x' })\n"
        "local root = b:build()\n"
        "local ok, err = pcall(b.build, b)\n"
        "local s = root:get_simple_structure()\n"
        "local a = s.attachments[1]\n"
        "local m = kumo.mimepart.new_multipart('multipart/mixed',"
        " { kumo.mimepart.new_html('<p>h</p>') }, 'BB')\n"
        "m:append_part(kumo.mimepart.new_text('text/csv', 'a,b'))\n"
        "return tostring(root):sub(1, 60), ok, err, a.file_name, a.inline, a.content_id,"
        " a.content_type, a.part.body, #m:get_simple_structure().attachments, tostring(m)",
    )
    assert got[0] == 'Content-Type: multipart/related;\r\n\tboundary="mr-boundary"\r\nM'
    assert got[1:9] == (False, got[2], "p.gif", True, "pix@x", "image/gif", "GIF89a", 1)
    assert "builder already built!" in got[2]
    assert got[9] == (
        'Content-Type: multipart/mixed;\r\n\tboundary="BB"\r\n\r\n'
        '--BB\r\nContent-Type: text/html;\r\n\tcharset="us-ascii"\r\n\r\n<p>h</p>\r\n'
        '--BB\r\nContent-Type: text/csv;\r\n\tcharset="us-ascii"\r\n\r\na,b\r\n--BB--\r\n'
    )


def test_replace_body_binary_and_rebuild(run: Any) -> None:
    got = run(
        "local p = kumo.mimepart.parse('Content-Type: text/plain\\r\\n\\r\\nx')\n"
        "p:replace_body('\\xff\\xfe', 'application/x-thing')\n"
        "local r = p:rebuild()\n"
        "return tostring(p), r.body == '\\xff\\xfe', r.headers:content_type().value",
    )
    assert got == (
        "Content-Type: application/x-thing\r\nContent-Transfer-Encoding: base64\r\n\r\n//4=\r\n",
        True,
        "application/x-thing",
    )


def test_errors_name_the_problem(run: Any) -> None:
    with pytest.raises(PolicyError, match="parsing body: base64 decode"):
        run("return kumo.mimepart.parse('Content-Transfer-Encoding: base64\\r\\n\\r\\n!!').body")
    with pytest.raises(PolicyError, match="header block must not start with spaces"):
        run("return kumo.mimepart.parse(' bad')")
    # serde's OneOf: "one of" and no Oxford comma for three or more fields
    with pytest.raises(PolicyError, match="unknown field `size`, expected one of `file_name`, "
                       "`inline`, `content_id`"):  # fmt: skip
        run("return kumo.mimepart.new_binary('a/b', 'x', { size = 1 })")
    with pytest.raises(PolicyError, match="error converting Lua nil to String"):
        run("return kumo.mimepart.new_text(nil, 'x')")
    with pytest.raises(PolicyError, match="error converting Lua string to userdata"):
        run("return kumo.mimepart.new_multipart('multipart/mixed', { 'no' })")


def test_authentication_results_field(run: Any) -> None:
    got = run(
        "local p = kumo.mimepart.parse('Authentication-Results: mx.example; "
        "dkim=pass header.d=example.com\\r\\n\\r\\n')\n"
        "local ar = p.headers:get_first_named('Authentication-Results').authentication_results\n"
        "return ar.serv_id, ar.results[1].method, ar.results[1].result,"
        " ar.results[1].props['header.d'], ar.version",
    )
    assert got == ("mx.example", "dkim", "pass", "example.com", None)
