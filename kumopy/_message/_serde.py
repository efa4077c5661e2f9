"""The few serde rules kumod's request structs follow when kumopy reads
them from plain data (JSON or a Lua table turned into Python data):
`deny_unknown_fields`, required fields, and serde's texts for a value of
the wrong type.  The full model of kumod's configuration structs is
kumopy/_kumo/_schema.py; this one serves `_message/` (the HTTP injection
request and its trace headers), which must not depend on `_kumo/`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._text import lua_number_text, rust_debug

__all__ = [
    "SerdeError",
    "boolean",
    "fields",
    "mapping",
    "one_of",
    "opt_string",
    "sequence",
    "string",
    "unexpected",
]


class SerdeError(ValueError):
    """A value kumod's serde would refuse; the text is serde's."""


def unexpected(v: Any) -> str:
    """serde's `Unexpected` text for a value (``integer `5```,
    ``string "x"`` with Rust's escapes, ``map``); numbers are written as
    Lua writes them."""
    if v is None:
        return "unit value"
    if isinstance(v, bool):
        return f"boolean `{'true' if v else 'false'}`"
    if isinstance(v, int):
        return f"integer `{v}`"
    if isinstance(v, float):
        return f"floating point `{_float_text(v)}`"
    if isinstance(v, str):
        return f"string {rust_debug(v)}"
    if isinstance(v, list):
        return "sequence"
    if isinstance(v, dict):
        return "map"
    return "unit value"


def _float_text(value: float) -> str:
    text = lua_number_text(value)
    if text in ("inf", "-inf", "nan", "-nan"):
        return {"inf": "inf", "-inf": "-inf"}.get(text, "NaN")
    return text


def one_of(names: Sequence[str]) -> str:
    """serde's `OneOf`: the names a field or variant could have had."""
    if not names:
        return "there are no fields"
    if len(names) == 1:
        return f"`{names[0]}`"
    if len(names) == 2:
        return f"`{names[0]}` or `{names[1]}`"
    return "one of " + ", ".join(f"`{n}`" for n in names)


def fields(
    data: Any, name: str, known: tuple[str, ...], required: tuple[str, ...]
) -> dict[str, Any]:
    """`data` as the struct `name` (deny_unknown_fields): a dict whose keys
    are all `known` and include every `required` one."""
    if not isinstance(data, dict):
        raise SerdeError(f"invalid type: {unexpected(data)}, expected struct {name}")
    for k in data:
        if k not in known:
            raise SerdeError(f"unknown field `{k}`, expected {one_of(known)}")
    for k in required:
        if k not in data:
            raise SerdeError(f"missing field `{k}`")
    return data


def string(v: Any) -> str:
    if not isinstance(v, str):
        raise SerdeError(f"invalid type: {unexpected(v)}, expected a string")
    return v


def opt_string(v: Any) -> str | None:
    return None if v is None else string(v)


def boolean(v: Any) -> bool:
    if v is None:
        return False
    if not isinstance(v, bool):
        raise SerdeError(f"invalid type: {unexpected(v)}, expected a boolean")
    return v


def mapping(v: Any) -> dict[str, Any]:
    """A map (an empty Lua table may come as an empty list)."""
    if v is None or v == []:
        return {}
    if not isinstance(v, dict):
        raise SerdeError(f"invalid type: {unexpected(v)}, expected a map")
    return {str(k): x for k, x in v.items()}


def sequence(v: Any) -> list[Any]:
    """A sequence (an empty Lua table may come as an empty dict; Python
    callers may give a tuple)."""
    if v is None or v == {}:
        return []
    if not isinstance(v, list | tuple):
        raise SerdeError(f"invalid type: {unexpected(v)}, expected a sequence")
    return list(v)
