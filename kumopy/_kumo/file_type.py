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

from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from .._filetype import FileTypePanic, load
from ._lib import bytes_arg, rust_string, to_lua_checked

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["register"]

NOTES = (
    "needs the file type database built from the file_type 0.8.11 crate's source "
    "(`kumopy file-type build`)"
)


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
    return to_lua_checked(state, found.as_result(), "kumo.file_type.from_bytes' result")


def _from_extension(state: LuaState, extension: Any = None) -> Any:
    key = rust_string(extension)
    found = [f.as_result() for f in load().from_extension(key)]
    return to_lua_checked(state, found, "kumo.file_type.from_extension's result")


def _from_media_type(state: LuaState, media_type: Any = None) -> Any:
    key = rust_string(media_type)
    found = [f.as_result() for f in load().from_media_type(key)]
    return to_lua_checked(state, found, "kumo.file_type.from_media_type's result")


def register(kumo: Namespace) -> None:
    kumo.function("file_type.from_bytes", _from_bytes, notes=NOTES)
    kumo.function("file_type.from_extension", _from_extension, notes=NOTES)
    kumo.function("file_type.from_media_type", _from_media_type, notes=NOTES)
