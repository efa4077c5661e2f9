"""kumo.string, kumo.encode, kumo.digest and kumo.uuid (mod-string,
mod-encode, mod-digest, mod-uuid)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

import pytest

from kumopy import PolicyError


def lua(load: Any, body: str) -> tuple[Any, ...]:
    p = load("local kumo = require 'kumo'\n" + body)
    return tuple(p.state.to_python(v) for v in p.state.chunk_values)


# -- kumo.string -----------------------------------------------------------------


def test_split_family_follows_rust(load: Any) -> None:
    got = lua(
        load,
        """
        local s = kumo.string
        return s.split('a,b,,c', ','), s.split('ab', ''), s.rsplit('a.b.c', '.'),
          s.splitn('a.b.c', 2, '.'), s.rsplitn('a.b.c', 2, '.'), s.splitn('a.b', 0, '.'),
          s.split_whitespace(' a \\u{3000}b\\tc '), s.split_ascii_whitespace('a\\vb c')
        """,
    )
    assert got == (
        ["a", "b", "", "c"],
        ["", "a", "b", ""],
        ["c", "b", "a"],
        ["a", "b.c"],
        ["c", "a.b"],
        [],
        ["a", "b", "c"],
        ["a\vb", "c"],
    )


def test_replace_trim_and_prefixes(load: Any) -> None:
    got = lua(
        load,
        r"""
        local s = kumo.string
        return s.replace('aXbX', 'X', '-'), s.replacen('aXbXcX', 'X', '-', 2),
          s.trim(' \u{a0}hi\n'), s.trim_start('  hi '), s.trim_end('  hi '),
          s.starts_with('\xff\xfeabc', '\xff'), s.ends_with('abc', 'bc'), s.replace('ab', '', '.')
        """,
    )
    assert got == ("a-b-", "a-b-cX", "hi", "hi ", "  hi", True, True, ".a.b.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [  # kumo-wrap's own cases, soft width 10, hard width 15
        ("foo", "foo"),
        ("hello world ", "hello\r\n\tworld"),
        ("hello world foo bar baz woot woot", "hello\r\n\tworld foo\r\n\tbar baz\r\n\twoot woot"),
        ("hi there breakmepleaseIamtoolong", "hi there\r\n\tbreakmepleaseIa\r\n\tmtoolong"),
    ],
)
def test_wrap(load: Any, text: str, expected: str) -> None:
    assert lua(load, f"return kumo.string.wrap('{text}', 10, 15)") == (expected,)


def test_string_argument_errors(load: Any) -> None:
    with pytest.raises(PolicyError, match="error converting Lua nil to String"):
        lua(load, "return kumo.string.split('a')")
    with pytest.raises(PolicyError, match="error converting Lua integer to usize"):
        lua(load, "return kumo.string.splitn('a', -1, ',')")
    with pytest.raises(PolicyError, match=r"to String \(invalid utf-8"):
        lua(load, r"return kumo.string.trim('\xff')")


# -- kumo.encode -----------------------------------------------------------------


def test_encodings_round_trip_binary(load: Any) -> None:
    names = [
        "base32",
        "base32_nopad",
        "base32hex",
        "base32hex_nopad",
        "base64",
        "base64_nopad",
        "base64url",
        "base64url_nopad",
        "hex",
    ]
    body = "local e = kumo.encode local data = '\\0\\xff\\xfbfoobar' local out = {}\n"
    for n in names:
        body += f"out[#out + 1] = e.{n}_encode(data)\n"
        body += f"assert(e.{n}_decode(out[#out]) == data, '{n}')\n"
    body += "return out"
    (encoded,) = lua(load, body)
    import base64
    import binascii

    data = b"\0\xff\xfbfoobar"
    b32, b32h = base64.b32encode(data).decode(), base64.b32hexencode(data).decode()
    b64, b64u = base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()
    assert dict(zip(names, encoded, strict=True)) == {
        "base32": b32,
        "base32_nopad": b32.rstrip("="),
        "base32hex": b32h,
        "base32hex_nopad": b32h.rstrip("="),
        "base64": b64,
        "base64_nopad": b64.rstrip("="),
        "base64url": b64u,
        "base64url_nopad": b64u.rstrip("="),
        "hex": binascii.hexlify(data).decode(),
    }
    assert encoded[0].endswith("=") and "/" in encoded[4] and "_" in encoded[6]


def test_padding_is_stripped_for_padded_variants_only(load: Any) -> None:
    got = lua(
        load, "local e = kumo.encode return e.base64_decode('Zm8'), e.base64_decode('Zm8=====')"
    )
    assert got == ("fo", "fo")
    with pytest.raises(PolicyError, match="invalid symbol at 3"):
        lua(load, "return kumo.encode.base64_nopad_decode('Zm8=')")
    with pytest.raises(PolicyError, match="invalid symbol at 0"):
        lua(load, "return kumo.encode.hex_decode('FF')")
    with pytest.raises(PolicyError, match="invalid length"):
        lua(load, "return kumo.encode.base64_decode('Z')")
    with pytest.raises(PolicyError, match="non-zero trailing bits"):
        lua(load, "return kumo.encode.base64_decode('Zm9=')")
    with pytest.raises(PolicyError, match="parameter must be a string"):
        lua(load, "return kumo.encode.hex_encode(12)")


def test_charsets(load: Any) -> None:
    got = lua(
        load,
        r"""
        local e = kumo.encode
        return e.charset_decode('iso-8859-1', '\xe9t\xe9'), e.charset_encode('latin1', 'été'),
          e.charset_encode('ascii', 'été')
        """,
    )
    assert got == ("été", "\udce9t\udce9", "t")
    with pytest.raises(PolicyError, match="unknown charset klingon"):
        lua(load, "return kumo.encode.charset_decode('klingon', 'x')")
    with pytest.raises(PolicyError, match="did not decode from utf-8 bytes"):
        lua(load, r"return kumo.encode.charset_decode('utf-8', '\xff')")


# -- kumo.digest -----------------------------------------------------------------


def test_digest_concatenates_strings_and_json_of_other_values(load: Any) -> None:
    got = lua(
        load,
        """
        local d = kumo.digest.sha256('a', 1, {x = true}, 2.5)
        return d.hex, tostring(d), d.base64, d.base32_nopad, d.bytes
        """,
    )
    expected = hashlib.sha256(b'a1{"x":true}2.5').digest()
    assert got[0] == got[1] == expected.hex()
    assert got[4].encode("utf-8", "surrogateescape") == expected
    import base64

    assert got[2] == base64.b64encode(expected).decode()
    assert got[3] == base64.b32encode(expected).decode().rstrip("=")


@pytest.mark.parametrize(
    "name",
    [
        "sha1",
        "sha224",
        "sha256",
        "sha384",
        "sha512",
        "sha512_256",
        "sha3_256",
        "sha3_384",
        "sha3_512",
    ],
)
def test_every_hash(load: Any, name: str) -> None:
    (hexed,) = lua(load, f"return kumo.digest.{name}('hello', ' ', 'world').hex")
    assert hexed == hashlib.new(name, b"hello world").hexdigest()


def test_hmac_takes_a_keysource(load: Any, write: Any) -> None:
    key_file = write("hmac.key", "Jefe")
    got = lua(
        load,
        f"""
        local msg = 'what do ya want for nothing?'
        return kumo.digest.hmac_sha256({{ key_data = 'Jefe' }}, msg).hex,
          kumo.digest.hmac_sha1('{key_file}', msg).hex
        """,
    )
    # RFC 4231 test case 2
    assert got[0] == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert got[1] == hmac.new(b"Jefe", b"what do ya want for nothing?", "sha1").hexdigest()
    with pytest.raises(PolicyError, match="KeySource failed to load data from file `Jefe`"):
        lua(load, "return kumo.digest.hmac_sha256('Jefe', 'x')")


def test_crc32(load: Any) -> None:
    assert lua(load, "return kumo.digest.crc32('hello').hex") == ("3610a686",)


# -- kumo.uuid -------------------------------------------------------------------


def test_uuid_parse_forms_and_fields(load: Any) -> None:
    got = lua(
        load,
        """
        local u = kumo.uuid.parse('urn:uuid:67E55044-10B1-426F-9247-BB680E5FE0C8')
        local v = kumo.uuid.parse('67e5504410b1426f9247bb680e5fe0c8')
        return u.hyphenated, u.simple, u.braced, u.urn, tostring(v), #u.bytes, u == v
        """,
    )
    assert got == (
        "67e55044-10b1-426f-9247-bb680e5fe0c8",
        "67e5504410b1426f9247bb680e5fe0c8",
        "{67e55044-10b1-426f-9247-bb680e5fe0c8}",
        "urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8",
        "67e55044-10b1-426f-9247-bb680e5fe0c8",
        16,
        False,  # no __eq in kumod
    )
    with pytest.raises(PolicyError, match="invalid character"):
        lua(load, "return kumo.uuid.parse('zz')")


def test_new_uuids_have_their_versions(load: Any) -> None:
    got = lua(
        load,
        "return kumo.uuid.new_v1().hyphenated, kumo.uuid.new_v4().hyphenated, "
        "kumo.uuid.new_v6().hyphenated, kumo.uuid.new_v7().hyphenated",
    )
    assert [uuid.UUID(u).version for u in got] == [1, 4, 6, 7]
    assert len(set(got)) == 4
