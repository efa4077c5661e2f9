"""`kumo.uuid.*` (kumod: crates/mod-uuid).

`parse(text)` accepts the forms the uuid crate accepts (hyphenated,
simple, braced, urn); `new_v1`, `new_v4`, `new_v6` and `new_v7` make new
UUIDs.  The object has the fields `hyphenated`, `simple`, `braced`, `urn`
and `bytes`; `tostring(u)` is the hyphenated form.
"""

from __future__ import annotations

import os
import re
import time
import uuid as _uuid
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from ._lib import LibObject, rust_string

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["Uuid", "new_v6", "new_v7", "register"]


class Uuid(LibObject):
    lua_type_name = "WrappedUuid"

    def __init__(self, value: _uuid.UUID) -> None:
        self.value = value

    def field(self, state: LuaState, name: str) -> Any:
        u = self.value
        if name == "hyphenated":
            return state.to_lua(str(u))
        if name == "simple":
            return state.to_lua(u.hex)
        if name == "braced":
            return state.to_lua("{" + str(u) + "}")
        if name == "urn":
            return state.to_lua(u.urn)
        if name == "bytes":
            return u.bytes
        raise AttributeError(name)

    def __str__(self) -> str:
        return str(self.value)


_HEX = re.compile(r"[0-9a-fA-F]{32}")
_HYPHENATED = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def parse(text: str) -> _uuid.UUID:
    body = text
    if body.startswith("urn:uuid:"):
        body = body[9:]
    elif body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    if _HEX.fullmatch(body) or _HYPHENATED.fullmatch(body):
        return _uuid.UUID(body)
    for i, c in enumerate(text):
        if c not in "0123456789abcdefABCDEF-{}urn:id":
            raise KumoError(
                "invalid character: expected an optional prefix of `urn:uuid:` followed by "
                f"[0-9a-fA-F-], found `{c}` at {i + 1}"
            )
    raise KumoError(
        f"invalid length: expected length 32 for simple format, found {len(body)}"
        if "-" not in body
        else "invalid group count: expected 5, found " + str(body.count("-") + 1)
    )


def new_v7() -> _uuid.UUID:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 68) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return _uuid.UUID(int=value)


def new_v6() -> _uuid.UUID:
    v1 = _uuid.uuid1()
    ts = v1.time  # 60-bit timestamp
    value = ((ts >> 12) & ((1 << 48) - 1)) << 80
    value |= 0x6 << 76
    value |= (ts & 0xFFF) << 64
    value |= v1.int & ((1 << 64) - 1)
    return _uuid.UUID(int=value)


def register(kumo: Namespace) -> None:
    kumo.function(
        "uuid.parse",
        lambda st, s=None: Uuid(parse(rust_string(s))),
        notes="error messages approximate the uuid crate's",
    )
    kumo.function("uuid.new_v1", lambda st, *_: Uuid(_uuid.uuid1()))
    kumo.function("uuid.new_v4", lambda st, *_: Uuid(_uuid.uuid4()))
    kumo.function("uuid.new_v6", lambda st, *_: Uuid(new_v6()))
    kumo.function("uuid.new_v7", lambda st, *_: Uuid(new_v7()))
