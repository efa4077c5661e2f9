"""kumo.crypto: AES blocks and AWS SigV4 (known answers from FIPS-197 /
SP 800-38A and from AWS's own SigV4 example)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kumopy import PolicyError
from kumopy._kumo.crypto import aes_decrypt, aes_encrypt, sign_v4

KEY128 = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
BLOCK = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")


def test_ecb_known_answer_with_pkcs7_padding() -> None:
    out = aes_encrypt(KEY128, "Ecb", BLOCK)
    assert out[:16].hex() == "3ad77bb40d7a3660a89ecaf32466ef97"
    assert len(out) == 32  # a whole block of padding follows
    assert aes_decrypt(KEY128, "Ecb", out) == BLOCK


def test_cbc_prepends_a_random_iv() -> None:
    a = aes_encrypt(KEY128 * 2, "Cbc", b"secret")
    b = aes_encrypt(KEY128 * 2, "Cbc", b"secret")
    assert len(a) == 32 and a[:16] != b[:16]
    assert aes_decrypt(KEY128 * 2, "Cbc", a) == b"secret"


def test_lua_round_trip_and_errors(load) -> None:
    p = load(
        r"""
        local key = { key = { key_data = '1234567890abcdef' } }
        kumo.on('t', function(algo, data)
          local enc = kumo.crypto.aes_encrypt_block(algo, data, key)
          local dec = kumo.crypto.aes_decrypt_block(algo, enc, key)
          return #enc, dec.bytes, dec.hex, tostring(dec)
        end)
        kumo.on('bad', function(which)
          if which == 'key' then
            return kumo.crypto.aes_encrypt_block('Ecb', 'x', { key = { key_data = 'short' } })
          elseif which == 'algo' then
            return kumo.crypto.aes_encrypt_block('Gcm', 'x', { key = { key_data = 'short' } })
          elseif which == 'iv' then
            return kumo.crypto.aes_decrypt_block('Cbc', 'abc', { key = { key_data = '1234567890abcdef' } })
          else
            return kumo.crypto.aes_decrypt_block('Ecb', string.rep('x', 16), { key = { key_data = '1234567890abcdef' } })
          end
        end)
        """
    )
    assert p.dispatch("t", "Ecb", "\x00\xff binary").values == (16, "\x00ÿ binary", "00c3bf2062696e617279", "00c3bf2062696e617279")
    assert p.dispatch("t", "Cbc", "").values[:2] == (32, "")
    with pytest.raises(PolicyError, match=r"Key length must be 16 or 32 bytes"):
        p.dispatch("bad", "key")
    with pytest.raises(PolicyError, match="unknown variant `Gcm`, expected `Ecb` or `Cbc`"):
        p.dispatch("bad", "algo")
    with pytest.raises(PolicyError, match="ciphertext must be prefixed by iv with len at least 16"):
        p.dispatch("bad", "iv")
    with pytest.raises(PolicyError, match="Decryption failed with AES ECB mode"):
        p.dispatch("bad", "pad")


def test_sigv4_matches_aws_documented_example() -> None:
    # the IAM ListUsers example of AWS's "create a signed request" guide
    result = sign_v4(
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        service="iam",
        method="GET",
        uri="/",
        query_params={"Action": "ListUsers", "Version": "2010-05-08"},
        headers={"Host": "iam.amazonaws.com",
                 "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        payload="",
        timestamp=datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
    )
    assert result["signature"] == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    assert result["canonical_request"].splitlines()[:3] == [
        "GET", "/", "Action=ListUsers&Version=2010-05-08"]
    assert result["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")


def test_sigv4_from_lua(load) -> None:
    p = load(
        """
        kumo.on('t', function(service, extra, secret)
          local r = kumo.crypto.aws_sign_v4 {
            access_key = { key_data = 'AK' }, secret_key = secret,
            region = 'eu-west-1', service = service, method = 'PUT',
            uri = '/a b/c+d', query_params = { ['x y'] = 'a/b' },
            headers = { Host = 'h.example', ['X-Pad'] = '  a   b  "c   d" ' },
            payload = 'body', timestamp = '2024-02-03T04:05:06Z', session_token = extra,
          }
          return r.timestamp, r.canonical_request, r.authorization
        end)
        kumo.on('nohost', function()
          return kumo.crypto.aws_sign_v4 { access_key = { key_data = 'a' }, secret_key = { key_data = 'b' },
            region = 'r', service = 's', method = 'GET', uri = '/' }
        end)
        """
    )
    (p.path.parent / "secret.txt").write_text("sekrit")
    ts, canonical, auth = p.dispatch("t", "s3", None, str(p.path.parent / "secret.txt")).values
    assert ts == "20240203T040506Z"
    lines = canonical.split("\n")
    assert lines[1] == "/a%20b/c%2Bd"
    assert lines[2] == "x%20y=a%2Fb"
    assert 'x-pad:a b "c   d"' in lines
    assert "x-amz-content-sha256:" + "230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5" in lines
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AK/20240203/eu-west-1/s3/aws4_request, "
                           "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-pad, Signature=")
    _, canonical, auth = p.dispatch("t", "sqs", "tok", str(p.path.parent / "secret.txt")).values
    assert "x-amz-security-token:tok" in canonical.split("\n")
    assert "SignedHeaders=host;x-amz-date;x-amz-security-token;x-pad," in auth
    with pytest.raises(PolicyError, match="headers must include 'host'"):
        p.dispatch("nohost")
