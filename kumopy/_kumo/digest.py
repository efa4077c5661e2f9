"""`kumo.digest.*` (kumod: crates/mod-digest).

`kumo.digest.sha256(...)` (and sha1, sha224, sha384, sha512, sha512_256,
sha3_*) hash the concatenation of their arguments: strings as their raw
bytes, any other value as its JSON text (so `sha256(1)` hashes `1` and
`sha256({a=1})` hashes `{"a":1}`).  `crc32(...)` does the same with
CRC-32 (big-endian bytes).  `hmac_sha*(key, msg)` take the key as a
KeySource (a file path string, `{key_data=...}`, ...; see kumo.secrets.load)
and the message as a string.

All return a digest object with the fields `hex`, `base32`,
`base32_nopad`, `base32hex`, `base32hex_nopad`, `base64`, `base64_nopad`,
`base64url`, `base64url_nopad` and `bytes`; `tostring(d)` is the hex text.
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from . import formats
from ._lib import LibObject, bytes_arg
from .encode import ENCODINGS

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["Digest", "register"]

_ALGOS = {
    "sha1": "sha1",
    "sha224": "sha224",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "sha512_256": "sha512_256",
    "sha3_256": "sha3_256",
    "sha3_384": "sha3_384",
    "sha3_512": "sha3_512",
}
_HMACS = ("sha1", "sha224", "sha256", "sha384", "sha512")


class Digest(LibObject):
    """kumod's BinaryResult."""

    lua_type_name = "BinaryResult"

    def __init__(self, data: bytes) -> None:
        self.data = data

    def field(self, state: LuaState, name: str) -> Any:
        if name == "bytes":
            return self.data
        if name in ENCODINGS:
            return state.to_lua(ENCODINGS[name].encode(self.data))
        raise AttributeError(name)

    def __str__(self) -> str:
        return self.data.hex()


def _feed(state: LuaState, args: tuple[Any, ...], update: Callable[[bytes], None]) -> None:
    for value in args:
        if isinstance(value, bytes):
            update(value)
        else:
            data = state.to_python(value, serialize=True, empty_array_as_list=False)
            try:
                update(formats.encode_json(data).encode("utf-8"))
            except formats.FormatError as e:
                raise KumoError(str(e)) from None


def _hasher(algo: str) -> Callable[..., Any]:
    def impl(state: LuaState, *args: Any) -> Digest:
        h = hashlib.new(algo)
        _feed(state, args, h.update)
        return Digest(h.digest())

    return impl


def _crc32(state: LuaState, *args: Any) -> Digest:
    crc = 0

    def update(data: bytes) -> None:
        nonlocal crc
        crc = zlib.crc32(data, crc)

    _feed(state, args, update)
    return Digest(crc.to_bytes(4, "big"))


def _hmac(algo: str) -> Callable[..., Any]:
    def impl(state: LuaState, key: Any = None, msg: Any = None) -> Digest:
        from .secrets import load_key_source

        key_bytes = load_key_source(state, key)
        message = bytes_arg(msg)
        return Digest(hmac.new(key_bytes, message, algo).digest())

    return impl


def register(kumo: Namespace) -> None:
    for name, algo in _ALGOS.items():
        kumo.function(f"digest.{name}", _hasher(algo))
    for name in _HMACS:
        kumo.function(f"digest.hmac_{name}", _hmac(name), notes="KeySource: see secrets.load")
    kumo.function("digest.crc32", _crc32)
