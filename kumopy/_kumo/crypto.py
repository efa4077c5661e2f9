"""`kumo.crypto.*` (kumod: crates/mod-crypto, crates/mod-aws-sigv4).

* `aes_encrypt_block(algo, data, {key = KeySource})` and
  `aes_decrypt_block(...)`: AES-128 or AES-256 (a 16 or 32 byte key) in
  `'Ecb'` or `'Cbc'` mode with PKCS#7 padding.  CBC output is a fresh
  random 16-byte IV followed by the ciphertext; decryption expects that
  layout.  Encryption returns the bytes as a string, decryption a
  BinaryResult (fields `bytes`, `hex`, `base64`, ...), as kumod does.
  AES comes from the `cryptography` package.
* `aws_sign_v4{...}`: an AWS Signature Version 4 for a request, with
  kumod's canonicalisation (its URI-encoding set, header value trimming,
  `x-amz-content-sha256` added for `s3` only); returns `authorization`,
  `timestamp`, `canonical_request`, `string_to_sign` and `signature`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from ._lib import bytes_arg
from ._schema import (
    KEY_SOURCE,
    REQUIRED,
    DeError,
    Enum,
    Field,
    Map,
    Opt,
    Str,
    Struct,
    deserialize,
    invalid_type,
)
from .digest import Digest
from .secrets import load_key_source

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["aes_decrypt", "aes_encrypt", "register", "sign_v4"]

_ALGO = Enum("AesAlgo", ["Ecb", "Cbc"])
_KEY_CONFIG = Struct("KeyConfig", [Field("key", KEY_SOURCE, REQUIRED)], deny_unknown_fields=False)
_IV_LEN = 16


def _cipher(key: bytes, algo: str, iv: bytes | None) -> Any:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if len(key) not in (16, 32):
        raise KumoError("Key length must be 16 or 32 bytes")
    mode = modes.ECB() if algo == "Ecb" else modes.CBC(iv or b"")
    return Cipher(algorithms.AES(key), mode)


def aes_encrypt(key: bytes, algo: str, plaintext: bytes) -> bytes:
    from cryptography.hazmat.primitives import padding

    iv = os.urandom(_IV_LEN) if algo == "Cbc" else None
    cipher = _cipher(key, algo, iv)
    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext) + padder.finalize()
    enc = cipher.encryptor()
    out = enc.update(data) + enc.finalize()
    return bytes((iv or b"") + out)


def aes_decrypt(key: bytes, algo: str, data: bytes) -> bytes:
    from cryptography.hazmat.primitives import padding

    iv = None
    if algo == "Cbc":
        if len(data) < _IV_LEN:
            raise KumoError(f"ciphertext must be prefixed by iv with len at least {_IV_LEN}")
        iv, data = data[:_IV_LEN], data[_IV_LEN:]
    cipher = _cipher(key, algo, iv)
    failed = "Decryption failed with AES ECB mode: Unspecified" if algo == "Ecb" else "Unspecified"
    if not data or len(data) % 16:
        raise KumoError(failed)
    dec = cipher.decryptor()
    padded = dec.update(data) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise KumoError(failed) from None


def _aes_args(state: LuaState, algo: Any, data: Any, config: Any) -> tuple[bytes, str, bytes]:
    name = deserialize(state, _ALGO, algo)
    payload = bytes_arg(data)
    deserialize(state, _KEY_CONFIG, config)
    key = load_key_source(state, config[b"key"])
    return key, name, payload


def _encrypt(state: LuaState, algo: Any = None, data: Any = None, config: Any = None) -> bytes:
    key, name, payload = _aes_args(state, algo, data, config)
    state.check_alloc(len(payload) + 32, "kumo.crypto.aes_encrypt_block")
    return aes_encrypt(key, name, payload)


def _decrypt(state: LuaState, algo: Any = None, data: Any = None, config: Any = None) -> Digest:
    key, name, payload = _aes_args(state, algo, data, config)
    return Digest(aes_decrypt(key, name, payload))


# -- AWS SigV4 -----------------------------------------------------------------

#: bytes kumod's URI-encoding set leaves alone (everything else, and every
#: non-ASCII byte, is %XX)
_KEEP = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~<>\\^`{|}"
)


def _uri_encode(text: str) -> str:
    return "".join(chr(b) if b in _KEEP else f"%{b:02X}" for b in text.encode("utf-8"))


def _trimall(value: str) -> str:
    """Collapse runs of SP/HT outside double quotes, trimming both ends.
    Works byte by byte, each byte becoming one character, as kumod's does."""
    out: list[str] = []
    in_quotes = pending = emitted = False
    for b in value.encode("utf-8"):
        if b == 0x22:
            if pending and emitted:
                out.append(" ")
            pending = False
            out.append('"')
            emitted = True
            in_quotes = not in_quotes
            continue
        if in_quotes:
            out.append(chr(b))
            continue
        if b in (0x20, 0x09):
            pending = True
            continue
        if pending and emitted:
            out.append(" ")
        pending = False
        out.append(chr(b))
        emitted = True
    return "".join(out)


def _timestamp_de(value: Any) -> Any:
    if not isinstance(value, str):
        raise invalid_type(value, "a formatted date and time string or a unix timestamp")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise DeError("input contains invalid characters") from None
    if parsed.tzinfo is None:
        raise DeError("premature end of input")
    return parsed.astimezone(UTC)


def _timestamp() -> Any:
    from ._schema import Custom

    return Custom("timestamp", _timestamp_de)


_SIGV4 = Struct(
    "SigV4Request",
    [
        Field("access_key", KEY_SOURCE, REQUIRED),
        Field("secret_key", KEY_SOURCE, REQUIRED),
        Field("region", Str(), REQUIRED),
        Field("service", Str(), REQUIRED),
        Field("method", Str(), REQUIRED),
        Field("uri", Str(), REQUIRED),
        Field("query_params", Map(Str()), {}),
        Field("headers", Map(Str()), {}),
        Field("payload", Str(), ""),
        Field("timestamp", Opt(_timestamp())),
        Field("session_token", Opt(Str())),
    ],
    deny_unknown_fields=False,
)


def _hmac(key: bytes, data: str) -> bytes:
    return hmac.new(key, data.encode("utf-8"), hashlib.sha256).digest()


def sign_v4(
    *,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    method: str,
    uri: str,
    query_params: dict[str, str],
    headers: dict[str, str],
    payload: str,
    timestamp: datetime,
    session_token: str | None = None,
) -> dict[str, str]:
    """The SigV4 signature of a request, as kumod computes it."""
    amz_date = timestamp.strftime("%Y%m%dT%H%M%SZ")
    date_stamp = timestamp.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    hdrs = {k.lower(): v for k, v in headers.items()}
    if "host" not in hdrs:
        raise KumoError("headers must include 'host'")
    hdrs["x-amz-date"] = amz_date
    if session_token is not None:
        hdrs["x-amz-security-token"] = session_token
    if service == "s3":
        hdrs["x-amz-content-sha256"] = payload_hash
    canonical_uri = "/" if uri == "" else "/".join(_uri_encode(p) for p in uri.split("/"))
    query = "&".join(
        f"{k}={v}"
        for k, v in sorted((_uri_encode(k), _uri_encode(v)) for k, v in query_params.items())
    )
    canonical = {k.lower(): _trimall(v) for k, v in hdrs.items()}
    names = sorted(canonical)
    header_text = "\n".join(f"{k}:{canonical[k]}" for k in names)
    signed = ";".join(names)
    canonical_request = (
        f"{method}\n{canonical_uri}\n{query}\n{header_text}\n\n{signed}\n{payload_hash}"
    )
    scope = f"{date_stamp}/{region}/{service}/aws4_request"
    string_to_sign = (
        f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n"
        f"{hashlib.sha256(canonical_request.encode('utf-8')).hexdigest()}"
    )
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), date_stamp)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return {
        "authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}",
        "timestamp": amz_date,
        "canonical_request": canonical_request,
        "string_to_sign": string_to_sign,
        "signature": signature,
    }


def _utf8_key(state: LuaState, source: Any, what: str) -> str:
    data = load_key_source(state, source)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise KumoError(
            f"{what} must be valid UTF-8: invalid utf-8 sequence of 1 bytes from index {e.start}"
        ) from None


def _aws_sign_v4(state: LuaState, request: Any = None, *_: Any) -> Any:
    req = deserialize(state, _SIGV4, request)
    access = _utf8_key(state, request[b"access_key"], "access_key")
    secret = _utf8_key(state, request[b"secret_key"], "secret_key")
    stamp = req["timestamp"] or datetime.now(UTC)
    result = sign_v4(
        access_key=access,
        secret_key=secret,
        region=req["region"],
        service=req["service"],
        method=req["method"],
        uri=req["uri"],
        query_params=req["query_params"],
        headers=req["headers"],
        payload=req["payload"],
        timestamp=stamp,
        session_token=req["session_token"],
    )
    return state.to_lua(result)


def register(kumo: Namespace) -> None:
    kumo.function(
        "crypto.aes_encrypt_block",
        _encrypt,
        notes="Ecb/Cbc, PKCS#7, 16 or 32 byte keys (cryptography); CBC prepends a random IV",
    )
    kumo.function("crypto.aes_decrypt_block", _decrypt, notes="returns a BinaryResult")
    kumo.function(
        "crypto.aws_sign_v4", _aws_sign_v4, notes="kumod's canonicalisation; keys are KeySources"
    )
