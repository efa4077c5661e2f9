"""`kumo.file_type.*` (kumod: crates/mod-file-type, over the Rust crate
`file_type` 0.8.11 with its default features plus `httpd` and `iana`).

* `from_bytes(data)` -> the one format the content matches best (the
  crate's signatures, priorities and order), else "Binary" or "Text";
* `from_extension(ext)` / `from_media_type(type)` -> every format with that
  extension / media type, in the crate's order (an empty table when none;
  exact, case-sensitive keys).

Each format is a table `{name=..., extensions={...}, media_types={...}}`.
The answers come from kumopy's file type database, converted from the
crate's source by `kumopy file-type build --crate-src DIR`
(kumopy/_filetype); without it every call fails with one line naming the
missing file and that command.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from .._filetype import FileFormat, FileTypePanic, load
from ._lib import (
    LUA_SLOT_BYTES,
    LUA_STRING_BYTES,
    LUA_TABLE_BYTES,
    bytes_arg,
    check_result,
    rust_string,
)

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["register"]

NOTES = (
    "needs the file type database built from the file_type 0.8.11 crate's source "
    "(`kumopy file-type build`)"
)

#: per Lua state: the Lua function that gives built result tables the array
#: marker mlua gives a serialized Vec
_MARKERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

_MARK = b"""
local setmetatable, array_mt = setmetatable, ...
return function(t, many)
  local formats = many and t or { t }
  for i = 1, #formats do
    local f = formats[i]
    setmetatable(f.extensions, array_mt)
    setmetatable(f.media_types, array_mt)
  end
  if many then setmetatable(t, array_mt) end
  return t
end
"""


def _marker(state: LuaState) -> Any:
    mark = _MARKERS.get(state)
    if mark is None:
        mark = _MARKERS[state] = state.rt.execute(_MARK, state.api[b"ARRAY_MT"])
    return mark


def _size(f: FileFormat) -> int:
    """About how many bytes of Lua memory one result table takes, never less."""
    strings = (f.name, *f.extensions, *f.media_types)
    return (3 * LUA_TABLE_BYTES + LUA_SLOT_BYTES * (len(strings) + 3)
            + sum(LUA_STRING_BYTES + len(s.encode()) for s in strings))


def _to_lua(state: LuaState, found: FileFormat | Sequence[FileFormat], what: str) -> Any:
    """kumod's result tables, built in one conversion (the strings, tables
    and array markers of `state.to_lua`, made faster for thousands of
    formats: application/octet-stream names over 4,000)."""
    many = not isinstance(found, FileFormat)
    formats: Sequence[FileFormat] = [found] if isinstance(found, FileFormat) else found
    if state.max_memory is not None:
        check_result(state, sum(_size(f) for f in formats) + LUA_TABLE_BYTES, what)
    value: Any = [f.encoded() for f in formats] if many else formats[0].encoded()
    return _marker(state)(state.rt.table_from(value, recursive=True), many)


def _from_bytes(state: LuaState, data: Any = None) -> Any:
    raw = bytes_arg(data)
    db = load()
    try:
        found = db.from_bytes(raw)
    except FileTypePanic as e:
        raise KumoError(
            f"kumopy: the file_type crate panics on this content ({e}); "
            "kumod's call would fail with a Rust panic"
        ) from None
    return _to_lua(state, found, "kumo.file_type.from_bytes' result")


def _from_extension(state: LuaState, extension: Any = None) -> Any:
    key = rust_string(extension)
    return _to_lua(state, load().from_extension(key), "kumo.file_type.from_extension's result")


def _from_media_type(state: LuaState, media_type: Any = None) -> Any:
    key = rust_string(media_type)
    return _to_lua(state, load().from_media_type(key), "kumo.file_type.from_media_type's result")


def register(kumo: Namespace) -> None:
    kumo.function("file_type.from_bytes", _from_bytes, notes=NOTES)
    kumo.function("file_type.from_extension", _from_extension, notes=NOTES)
    kumo.function("file_type.from_media_type", _from_media_type, notes=NOTES)
