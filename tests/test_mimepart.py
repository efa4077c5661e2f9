"""kumod's MIME tree (kumopy/_message/_mimepart.py, _mimebuild.py): parsing,
writing back, body decoding, constructors, simplified structure, rebuild."""

from __future__ import annotations

import base64

import pytest

from kumopy._message._mimebuild import MessageBuilder
from kumopy._message._mimeheader import MailParsingError
from kumopy._message._mimepart import AttachmentOptions, MimePart

MULTI = (
    b"From: a@example.com\r\n"
    b"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    b"\r\n"
    b"--XX\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"caf=E9\r\n"
    b"--XX\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Disposition: attachment; filename=\"d.bin\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAEC\r\n"
    b"--XX--\r\n"
    b"epilogue\r\n"
)


def test_parse_and_write_back_byte_for_byte() -> None:
    part = MimePart.parse(MULTI)
    assert len(part.parts) == 2
    assert part.to_message_bytes() == MULTI
    assert part.outro == b"epilogue\r\n"
    lf = MULTI.replace(b"\r\n", b"\n")
    assert MimePart.parse(lf).to_message_bytes() == lf


def test_preamble_is_written_as_kumod_writes_it() -> None:
    # kumod keeps the LF that ended the header block in the preamble and
    # drops the one before the first boundary
    data = b"Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\n\r\nx\r\n--b--\r\n"
    out = MimePart.parse(data).to_message_bytes()
    assert out == (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n\npre\r--b\r\n\r\nx\r\n--b--\r\n"
    )


def test_body_decoding() -> None:
    part = MimePart.parse(MULTI)
    assert part.parts[0].body() == ("text", "café\r\n".encode())
    assert part.parts[1].body() == ("binary", b"\x00\x01\x02")
    # an undeclared charset that is not ASCII falls back to UTF-8, else binary
    assert MimePart.parse("A: b\r\n\r\nünï".encode()).body() == ("text", "ünï".encode())
    assert MimePart.parse(b"A: b\r\n\r\n\xff").body() == ("binary", b"\xff")
    bad = MimePart.parse(b"Content-Type: text/plain; charset=klingon\r\n\r\nx")
    with pytest.raises(MailParsingError, match="^parsing body: unsupported charset klingon"):
        bad.body()
    b64 = MimePart.parse(b"Content-Transfer-Encoding: base64\r\n\r\nhello\r\n")
    with pytest.raises(MailParsingError, match="^parsing body: base64 decode: invalid length"):
        b64.body()


def test_simplified_structure() -> None:
    s = MimePart.parse(MULTI).simplified_structure()
    assert s.text_part == (0,) and s.html_part is None
    assert s.attachments == [(1,)]
    info = MimePart.parse(MULTI).parts[1].rfc2045_info()
    assert info.attachment_options == AttachmentOptions(b"d.bin", False, None)
    nested = (
        b"Content-Type: multipart/mixed; boundary=o\r\n\r\n"
        b"--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n"
        b"--i\r\nContent-Type: text/plain\r\n\r\nt\r\n"
        b"--i\r\nContent-Type: text/html\r\n\r\nh\r\n--i--\r\n"
        b"--o\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--o--\r\n"
    )
    s = MimePart.parse(nested).simplified_structure()
    # the first text/plain wins; a second one is an attachment
    assert (s.text_part, s.html_part, s.attachments) == ((0, 0), (0, 1), [(1,)])


def test_new_text_picks_the_shortest_encoding() -> None:
    plain = MimePart.new_text(b"text/plain", b"hello")
    assert plain.to_message_bytes() == (
        b'Content-Type: text/plain;\r\n\tcharset="us-ascii"\r\n\r\nhello\r\n'
    )
    accented = MimePart.new_text(b"text/plain", "caf\u00e9 au lait".encode())
    assert b"Content-Transfer-Encoding: quoted-printable" in accented.to_message_bytes()
    assert b'charset="utf-8"' in accented.to_message_bytes()
    cjk = MimePart.new_text(b"text/plain", ("日本語" * 20).encode())
    assert b"Content-Transfer-Encoding: base64" in cjk.to_message_bytes()
    assert cjk.body() == ("text", ("日本語" * 20).encode())


def test_new_binary_and_multipart() -> None:
    att = MimePart.new_binary(
        b"image/png", b"\x89PNG", AttachmentOptions(b"p.png", True, b"img1@x")
    )
    text = att.to_message_bytes()
    assert text.startswith(
        b"Content-Disposition: inline;\r\n\tfilename=\"p.png\"\r\nContent-ID: <img1@x>\r\n"
        b"Content-Type: image/png;\r\n\tname=\"p.png\"\r\nContent-Transfer-Encoding: base64\r\n"
    )
    multi = MimePart.new_multipart(b"multipart/mixed", [MimePart.new_text(b"text/plain", b"x")])
    boundary = multi.rfc2045_info().content_type.get("boundary")  # type: ignore[union-attr]
    assert boundary is not None and len(boundary) == 22
    reparsed = MimePart.parse(multi.to_message_bytes())
    assert [p.body() for p in reparsed.parts] == [("text", b"x\r\n")]


def test_replace_body_keeps_other_headers() -> None:
    part = MimePart.parse(b"Subject: s\r\nContent-Type: text/html\r\n\r\nold")
    part.replace_text_body(b"text/html", b"<p>new</p>")
    assert part.to_message_bytes() == (
        b'Subject: s\r\nContent-Type: text/html;\r\n\tcharset="us-ascii"\r\n\r\n<p>new</p>\r\n'
    )


def test_rebuild() -> None:
    data = (
        b"Subject: =?utf-8?q?h=C3=A9?=\r\nFrom:  Joe <joe@example.com>\r\n"
        b"Message-ID: <1@x>\r\nContent-ID: <drop@me>\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1; format=flowed\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9"
    )
    out = MimePart.parse(data).rebuild().to_message_bytes()
    assert out == (
        b'Content-Type: text/plain;\r\n\tcharset="utf-8";\r\n\tformat="flowed"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\n"
        b"Subject: =?UTF-8?q?h=C3=A9?=\r\nFrom: Joe <joe@example.com>\r\n"
        b"Message-ID: <1@x>\r\n\r\ncaf=C3=A9\r\n"
    )
    # a multipart without a Content-Type cannot be rebuilt
    part = MimePart.parse(MULTI)
    part.parts[0].parts.append(MimePart.new_text(b"text/plain", b"x"))
    part.parts[0].headers.remove_all_named("Content-Type")
    with pytest.raises(MailParsingError, match="multipart message has no content-type"):
        part.rebuild()


def test_builder_stable_output() -> None:
    b = MessageBuilder()
    b.stable_content = True
    b.text = b"t"
    b.html = b"<b>h</b>"
    b.attach(b"application/pdf", b"%PDF", AttachmentOptions(b"a.pdf", False, None))
    root = b.build()
    text = root.to_message_bytes()
    assert text.startswith(
        b'Content-Type: multipart/mixed;\r\n\tboundary="mm-boundary"\r\n'
        b"Mime-Version: 1.0\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n\r\n--mm-boundary\r\n"
        b'Content-Type: multipart/alternative;\r\n\tboundary="ma-boundary"\r\n'
    )
    assert text.endswith(base64.b64encode(b"%PDF") + b"\r\n--mm-boundary--\r\n")
    with pytest.raises(MailParsingError, match="no text or html part was specified"):
        MessageBuilder().build()
    amp_only = MessageBuilder()
    amp_only.amp_html = b"<html amp4email></html>"
    with pytest.raises(MailParsingError, match="AMP email spec"):
        amp_only.build()


def test_deep_nesting_is_refused_not_a_crash() -> None:
    data = b""
    for depth in range(150):
        data += f"Content-Type: multipart/mixed; boundary=x{depth}y\r\n\r\n--x{depth}y\r\n".encode()
    with pytest.raises(MailParsingError, match="too many child parts"):
        MimePart.parse(data)
