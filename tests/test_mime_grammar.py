"""Header value grammar, parameters and encoders as kumod's mailparsing
reads and writes them (kumopy/_message/_rfc5322.py, _mimeparams.py,
_mimeheader.py, _codecs.py)."""

from __future__ import annotations

import pytest

from kumopy._message._codecs import Base64Error, b64_decode, b64_encode, qp_decode, qp_encode
from kumopy._message._mimeheader import (
    Header,
    HeaderMap,
    MailParsingError,
    encode_address_list,
    encode_mailbox,
    format_rfc2822,
    parse_header_block,
    quote_string,
    wrap,
)
from kumopy._message._mimeparams import (
    QUOTED_2047,
    MimeParameter,
    MimeParameters,
    encode_auth_results,
    parse_authentication_results,
    parse_content_transfer_encoding,
    parse_content_type,
    qp_encode_header,
)
from kumopy._message._rfc5322 import (
    AddrSpec,
    Group,
    HeaderParseError,
    Mailbox,
    parse_address_list,
    parse_mailbox_list,
    parse_msg_id,
    parse_msg_id_list,
    parse_unstructured,
)

# -- addresses ----------------------------------------------------------------


def test_mailbox_forms() -> None:
    assert parse_mailbox_list(b"user@host") == [Mailbox(None, AddrSpec("user", "host"))]
    # kumod joins every phrase item, a lone "." included, with one space
    assert parse_mailbox_list(b"Joe Q. Public <jqp@example.com>") == [
        Mailbox("Joe Q . Public", AddrSpec("jqp", "example.com"))
    ]
    # comments vanish, a quoted local part loses its quotes
    assert parse_mailbox_list(b'(c) "a b"@example.com (d)') == [
        Mailbox(None, AddrSpec("a b", "example.com"))
    ]
    # obsolete route in the angle address is skipped
    assert parse_mailbox_list(b"<@relay.example:joe@example.com>") == [
        Mailbox(None, AddrSpec("joe", "example.com"))
    ]


def test_quoted_display_name_keeps_its_folding() -> None:
    # kumod keeps the folding white space inside a quoted string as written
    got = parse_mailbox_list(b'"Alpha Beta\r\n\tGamma" <a@b.example>')
    assert got[0].name == "Alpha Beta\r\n\tGamma"


def test_encoded_word_display_names() -> None:
    got = parse_mailbox_list(b"=?UTF-8?q?Andr=C3=A9_Pirard?= <andre@example.com>")
    assert got[0].name == "André Pirard"
    got = parse_mailbox_list(b"=?iso-8859-1?B?QW5kcukK?= <andre@example.com>")
    assert got[0].name == "Andr\u00e9\n"


def test_groups_and_lists() -> None:
    got = parse_address_list(b"Team: a@x.example, B <b@y.example>;, c@z.example")
    assert got == [
        Group("Team", (Mailbox(None, AddrSpec("a", "x.example")),
                       Mailbox("B", AddrSpec("b", "y.example")))),
        Mailbox(None, AddrSpec("c", "z.example")),
    ]
    assert parse_address_list(b"undisclosed-recipients:;") == [Group("undisclosed-recipients")]
    # obsolete list syntax (empty members) is tried only when the first
    # member does not parse; after a good first member an empty one fails
    assert parse_mailbox_list(b", a@x.example, , b@y.example") == [
        Mailbox(None, AddrSpec("a", "x.example")),
        Mailbox(None, AddrSpec("b", "y.example")),
    ]
    with pytest.raises(HeaderParseError):
        parse_mailbox_list(b"a@x.example,, b@y.example")


def test_bad_addresses_fail_with_kumods_prefix() -> None:
    for bad in (b"", b"no at sign", b"a@b.example,", b"<a@b.example"):
        with pytest.raises(HeaderParseError, match="^invalid header: Error at line 1"):
            parse_mailbox_list(bad)


def test_message_ids() -> None:
    assert parse_msg_id(b" <123.456@host.example> ") == "123.456@host.example"
    # not an addr-spec inside: kumod's relaxed form takes anything but angles
    assert parse_msg_id(b"<not valid at all>") == "not valid at all"
    assert parse_msg_id_list(b"<a@b>\r\n\t<c@d>") == ["a@b", "c@d"]
    with pytest.raises(HeaderParseError):
        parse_msg_id(b"missing.angles@example.com")


def test_unstructured() -> None:
    assert parse_unstructured(b"hello\r\n\tthere   world") == b"hello there world"
    # white space between two encoded words is dropped
    assert parse_unstructured(b"=?utf-8?q?a?= =?utf-8?q?b?= c") == b"ab c"
    # an encoded word that does not decode stays as text
    assert parse_unstructured(b"=?nope?q?x?=") == b"=?nope?q?x?="
    # 8-bit bytes that are not UTF-8 do not parse (callers fall back to raw)
    with pytest.raises(HeaderParseError):
        parse_unstructured(b"caf\xe9")
    assert parse_unstructured("café".encode()) == "café".encode()


# -- MIME parameters ------------------------------------------------------------


def test_content_type_parameters() -> None:
    ct = parse_content_type(b'text/plain; charset="UTF-8"; format=flowed')
    assert ct.value == b"text/plain"
    assert ct.get("CHARSET") == b"UTF-8"
    assert ct.parameter_map() == {b"charset": b"UTF-8", b"format": b"flowed"}
    # a trailing ';' is not a parameter: kumod refuses the whole value
    with pytest.raises(HeaderParseError):
        parse_content_type(b"text/plain;")


def test_rfc2231_sections_and_charsets() -> None:
    cd = parse_content_transfer_encoding(
        b"attachment; filename*1*=%C3%A9.txt; filename*0*=UTF-8''caf"
    )
    assert cd.value == b"attachment"
    assert cd.get("filename") == "café.txt".encode()
    latin = parse_content_transfer_encoding(b"attachment; name*=iso-8859-1'en'%E9t%E9")
    assert latin.get("name") == "été".encode()
    # the grammar refuses a bad escape; one set in code keeps '%' and the
    # offending character and ends the value there
    with pytest.raises(HeaderParseError):
        parse_content_transfer_encoding(b"attachment; name*=utf-8''ab%zzcd")
    bad = MimeParameters(b"attachment", [MimeParameter(b"name", b"ab%zzcd", None, b"utf-8",
                                                       None, "rfc2231")])
    assert bad.get("name") == b"ab%z"


def test_encoded_word_parameters() -> None:
    ct = parse_content_type(b'application/pdf; name="=?UTF-8?B?w6l0w6kucGRm?="')
    assert ct.get("name") == "été.pdf".encode()
    assert ct.encode() == b'application/pdf;\r\n\tname="=?UTF-8?q?=C3=A9t=C3=A9.pdf?="'


def test_parameter_encoding() -> None:
    p = MimeParameters(b"text/html")
    p.set("z", "last")
    p.set("charset", "utf-8")
    assert p.encode() == b'text/html;\r\n\tcharset="utf-8";\r\n\tz="last"'
    p = MimeParameters(b"attachment")
    p.set("filename", "naïve.txt")
    assert p.encode() == b"attachment;\r\n\tfilename*=UTF-8''na%C3%AFve.txt"
    # long values are cut into numbered sections of about 74 columns
    long = MimeParameters(b"attachment")
    long.set("filename", "é" * 40)
    lines = long.encode().split(b";\r\n\t")[1:]
    assert lines[0].startswith(b"filename*0*=UTF-8''%C3%A9")
    assert lines[1].startswith(b"filename*1*=%C3%A9")
    assert all(len(line) <= 80 for line in lines)
    assert parse_content_transfer_encoding(long.encode()).get("filename") == ("é" * 40).encode()
    # an empty value has nothing to write, as in kumod
    empty = MimeParameters(b"inline")
    empty.set("name", "")
    assert empty.encode() == b"inline"
    named = MimeParameters(b"image/png")
    named.set("name", "👾.png", QUOTED_2047)
    assert named.encode() == b'image/png;\r\n\tname="=?UTF-8?q?=F0=9F=91=BE.png?="'


# -- Authentication-Results -------------------------------------------------------


def test_authentication_results() -> None:
    ar = parse_authentication_results(
        b"mx.example.org 1; spf=pass (looks good) smtp.mailfrom=user@example.net;\r\n"
        b"\tdkim/1=fail reason=\"bad sig\" header.d=example.net header.s=sel"
    )
    assert ar.serv_id == b"mx.example.org" and ar.version == 1
    spf, dkim = ar.results
    assert (spf.method, spf.result, spf.props) == ("spf", "pass", {"smtp.mailfrom": b"user@example.net"})
    assert (dkim.method, dkim.method_version, dkim.result, dkim.reason) == ("dkim", 1, "fail", b"bad sig")
    assert dkim.props == {"header.d": b"example.net", "header.s": b"sel"}
    none = parse_authentication_results(b"mx.example.org; none")
    assert none.results == []
    assert encode_auth_results(none) == b"mx.example.org; none"
    assert encode_auth_results(ar) == (
        b"mx.example.org 1;\r\n\tspf=pass\r\n\tsmtp.mailfrom=user@example.net;\r\n"
        b'\tdkim/1=fail reason="bad sig"\r\n\theader.d=example.net\r\n\theader.s=sel'
    )


# -- encoders and wrapping ----------------------------------------------------


def test_quote_string_and_mailboxes() -> None:
    assert quote_string("plain") == b"plain"
    assert quote_string("two words") == b'"two words"'
    assert quote_string('say "hi"') == b'"say \\"hi\\""'
    assert encode_mailbox(Mailbox("Team [x]", AddrSpec("a.b", "example.com"))) == (
        b'"Team [x]" <a.b@example.com>'
    )
    assert encode_mailbox(Mailbox(None, AddrSpec("a b", "example.com"))) == b'<"a b"@example.com>'
    assert encode_mailbox(Mailbox("José", AddrSpec("j", "x.example"))) == (
        b"=?UTF-8?q?Jos=C3=A9?= <j@x.example>"
    )
    group = Group("G", (Mailbox(None, AddrSpec("a", "x")), Mailbox("B", AddrSpec("b", "y"))))
    assert encode_address_list([group]) == b"G:<a@x>,\r\n\tB <b@y>;"


def test_header_qp_encoding_folds_at_72_columns() -> None:
    text = ("é" * 30).encode()
    encoded = qp_encode_header(text)
    lines = encoded.split(b"\r\n\t")
    assert len(lines) > 1 and all(len(line) <= 72 for line in lines)
    assert parse_unstructured(encoded) == text


def test_wrap() -> None:
    assert wrap(b"hello world", 10, 15) == b"hello\r\n\tworld"
    assert wrap(b"hi there breakmepleaseIamtoolong", 10, 15) == (
        b"hi there\r\n\tbreakmepleaseIa\r\n\tmtoolong"
    )
    # vertical tab is not a break (Rust's is_ascii_whitespace)
    assert wrap(b"a\x0bb") == b"a\x0bb"


def test_new_unstructured_headers() -> None:
    assert Header.new_unstructured("Subject", b"plain").value == b"plain"
    assert Header.new_unstructured("Subject", "ünï".encode()).value == b"=?UTF-8?q?=C3=BCn=C3=AF?="
    # bytes that are not UTF-8 are wrapped as they are
    assert Header.new_unstructured("X", b"a\xff b").value == b"a\xff b"


def test_date_format() -> None:
    import datetime as dt

    when = dt.datetime(2024, 2, 5, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30)))
    assert format_rfc2822(when) == b"Mon, 5 Feb 2024 07:08:09 -0530"


# -- header block -------------------------------------------------------------


def test_header_block_keeps_separators_and_line_endings() -> None:
    headers, offset, _ = parse_header_block(b"A:  x\r\nB:y\r\n z\nC: w\r\n\r\nbody")
    assert [(h.name, h.separator, h.value) for h in headers] == [
        (b"A", b":  ", b"x"), (b"B", b":", b"y\r\n z"), (b"C", b": ", b"w"),
    ]
    assert headers.headers[1].write() == b"B:y\r\n z\n"  # a bare LF is kept as LF
    assert offset == len(b"A:  x\r\nB:y\r\n z\nC: w\r\n\r\n")
    with pytest.raises(MailParsingError, match="header block must not start with spaces"):
        parse_header_block(b" A: x\r\n\r\n")
    with pytest.raises(MailParsingError, match="lone CR in header"):
        parse_header_block(b"A: x\r\n\rB: y\r\n\r\n")
    with pytest.raises(MailParsingError, match="printable US-ASCII characters. Found 195"):
        parse_header_block("Ä: x\r\n\r\n".encode())


def test_header_map_accessors() -> None:
    hm = HeaderMap()
    hm.set_text("subject", b"first")
    hm.set_text("subject", b"second")  # replaces, as kumod does
    assert [h.value for h in hm] == [b"second"]
    with pytest.raises(MailParsingError, match="^while assigning header 'Message-ID': invalid header"):
        hm.set_text("message_id", b"no-angles")
    hm.headers.append(Header(b"From", b"not an address"))
    with pytest.raises(MailParsingError, match="^while parsing header 'From': invalid header"):
        hm.get("from")


# -- transfer encodings -----------------------------------------------------------


def test_quoted_printable_encoder() -> None:
    assert qp_encode(b"plain text") == b"plain text"
    assert qp_encode(b"a=b\r\nc") == b"a=3Db\r\nc"
    assert qp_encode(b"trailing  \r\nx") == b"trailing =20\r\nx"
    assert qp_encode(b"lone\rcr") == b"lone=0Dcr"
    assert qp_encode("é".encode()) == b"=C3=A9"
    line = b"x" * 100
    encoded = qp_encode(line)
    assert all(len(part) <= 76 for part in encoded.split(b"\r\n"))
    assert qp_decode(encoded) == line


def test_quoted_printable_decoder_is_robust() -> None:
    assert qp_decode(b"a=3Db=\r\nc") == b"a=bc"
    assert qp_decode(b"bad=zz escape") == b"bad=zz escape"
    assert qp_decode(b"trailing   \r\nnext") == b"trailing\r\nnext"
    assert qp_decode(b"lf only\n") == b"lf only\r\n"


def test_base64() -> None:
    assert b64_encode(b"\xbb\xaa") == b"u6o=\r\n"
    data = bytes(range(256))
    encoded = b64_encode(data)
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
    assert b64_decode(encoded) == data
    assert b64_decode(b" u6o=\t") == b"\xbb\xaa"
    with pytest.raises(Base64Error, match="^base64 decode: invalid length"):
        b64_decode(b"hello\n")
    with pytest.raises(Base64Error, match="invalid symbol"):
        b64_decode(b"ab!d")
