"""`kumo.encode.*` (kumod: crates/mod-encode, on the data-encoding crate).

Encoders take a Lua string (anything else: `parameter must be a string`)
and return text; decoders take text and return a binary-safe Lua string.
Decoding is as strict as data-encoding: symbols outside the alphabet, an
impossible length or non-zero trailing bits are errors.  For the padded
variants kumod first strips any number of trailing `=`, so
`base64_decode` accepts missing or excess padding; the `_nopad` variants
reject `=`.  Hex decodes lowercase only, as HEXLOWER does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from ._args import opt_bool_arg
from ._lib import LUA_STRING_BYTES, bytes_arg, check_result, rust_string

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["ENCODINGS", "decode", "encode", "register"]

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B32HEX = "0123456789ABCDEFGHIJKLMNOPQRSTUV"
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64URL = _B64[:-2] + "-_"


class _Enc:
    def __init__(
        self,
        alphabet: str,
        pad: bool,
        block: int,
        valid_tails: frozenset[int],
        enc: Callable[[bytes], bytes],
        dec: Callable[[bytes], bytes],
    ) -> None:
        self.alphabet = alphabet
        self.pad = pad
        self.block = block
        self.valid_tails = valid_tails
        self._enc = enc
        self._dec = dec

    def encode(self, data: bytes) -> str:
        text = self._enc(data).decode("ascii")
        return text if self.pad else text.rstrip("=")

    def decode(self, text: bytes) -> bytes:
        if self.pad:
            text = text.rstrip(b"=")
        for i, byte in enumerate(text):
            if chr(byte) not in self.alphabet:
                raise KumoError(f"invalid symbol at {i}")
        tail = len(text) % self.block
        if tail not in self.valid_tails:
            raise KumoError(f"invalid length at {len(text) - tail}")
        padded = text + b"=" * ((-len(text)) % self.block if self.block > 2 else 0)
        try:
            data = self._dec(padded)
        except (binascii.Error, ValueError) as e:
            raise KumoError(str(e)) from None
        if self.encode(data).rstrip("=").encode() != text:
            raise KumoError(f"non-zero trailing bits at {max(len(text) - 1, 0)}")
        return data


_B32_TAILS = frozenset({0, 2, 4, 5, 7})
_B64_TAILS = frozenset({0, 2, 3})


def _b32hex_enc(data: bytes) -> bytes:
    return base64.b32hexencode(data)


ENCODINGS: dict[str, _Enc] = {
    "base32": _Enc(_B32, True, 8, _B32_TAILS, base64.b32encode, base64.b32decode),
    "base32_nopad": _Enc(_B32, False, 8, _B32_TAILS, base64.b32encode, base64.b32decode),
    "base32hex": _Enc(_B32HEX, True, 8, _B32_TAILS, _b32hex_enc, base64.b32hexdecode),
    "base32hex_nopad": _Enc(_B32HEX, False, 8, _B32_TAILS, _b32hex_enc, base64.b32hexdecode),
    "base64": _Enc(
        _B64, True, 4, _B64_TAILS, base64.b64encode, lambda b: base64.b64decode(b, validate=True)
    ),
    "base64_nopad": _Enc(
        _B64, False, 4, _B64_TAILS, base64.b64encode, lambda b: base64.b64decode(b, validate=True)
    ),
    "base64url": _Enc(
        _B64URL, True, 4, _B64_TAILS, base64.urlsafe_b64encode, base64.urlsafe_b64decode
    ),
    "base64url_nopad": _Enc(
        _B64URL, False, 4, _B64_TAILS, base64.urlsafe_b64encode, base64.urlsafe_b64decode
    ),
    "hex": _Enc("0123456789abcdef", False, 2, frozenset({0}), binascii.hexlify, binascii.unhexlify),
}


def encode(name: str, data: bytes) -> str:
    return ENCODINGS[name].encode(data)


def decode(name: str, text: bytes) -> bytes:
    return ENCODINGS[name].decode(text)


def register(kumo: Namespace) -> None:
    for name in ENCODINGS:
        kumo.function(f"encode.{name}_encode", _encoder(name))
        kumo.function(
            f"encode.{name}_decode",
            _decoder(name),
            notes="error positions follow data-encoding's rules approximately",
        )
    kumo.function(
        "encode.charset_decode",
        _charset_decode,
        notes="Python codecs (kumod: charset-normalizer-rs); names and error texts may differ",
    )
    kumo.function(
        "encode.charset_encode",
        _charset_encode,
        notes="Python codecs (kumod: charset-normalizer-rs); names and error texts may differ",
    )


def _charset(name: str) -> str:
    import codecs

    try:
        return codecs.lookup(name).name
    except LookupError:
        raise KumoError(f"unknown charset {name}") from None


def _charset_decode(state: LuaState, charset: Any = None, data: Any = None) -> Any:
    name = rust_string(charset)
    raw = bytes_arg(data)
    codec = _charset(name)
    try:
        return state.to_lua(raw.decode(codec))
    except UnicodeDecodeError as e:
        raise KumoError(f"input string did not decode from {name} bytes: {e.reason}") from None


def _charset_encode(
    state: LuaState, charset: Any = None, text: Any = None, ignore_errors: Any = None
) -> Any:
    name = rust_string(charset)
    value = rust_string(text)
    ignore = opt_bool_arg(ignore_errors, True)
    codec = _charset(name)
    try:
        return value.encode(codec, "ignore" if ignore else "strict")
    except UnicodeEncodeError as e:
        raise KumoError(f"input string did not encode into {name} bytes: {e.reason}") from None


def _encoder(name: str) -> Callable[..., Any]:
    def impl(state: LuaState, data: Any = None) -> Any:
        if not isinstance(data, bytes):
            raise KumoError("parameter must be a string")
        # base32 and hex outgrow their input: check before encoding
        check_result(state, 2 * len(data) + LUA_STRING_BYTES, f"the {name} text")
        return state.to_lua(encode(name, data))

    return impl


def _decoder(name: str) -> Callable[..., Any]:
    def impl(state: LuaState, text: Any = None) -> Any:
        return decode(name, rust_string(text).encode("utf-8"))

    return impl
