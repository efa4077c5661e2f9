"""Text that crossed from Lua.

Lua strings are bytes; kumopy decodes them with `surrogateescape`, so bytes
that are not UTF-8 survive as lone surrogates (U+DC80..U+DCFF) in a Python
`str`.  Wherever kumod would refuse such a string (serde, durations, regex
subjects, SMTP reply lines), kumopy asks `is_utf8`.  Error texts show
numbers as Lua writes them (`lua_number_text`) and strings as Rust's Debug
writes them (`rust_debug`).
"""

from __future__ import annotations

import unicodedata
from typing import Any, Final

__all__ = ["is_utf8", "json_debug", "lua_number_text", "rust_debug"]


def is_utf8(text: str) -> bool:
    """True when `text` encodes to UTF-8, i.e. carries no escaped bytes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def lua_number_text(value: int | float) -> str:
    """How Lua 5.4 turns a number into a string."""
    if isinstance(value, int):
        return str(value)
    if value != value:
        return "nan" if str(value) == "nan" else "-nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    text = f"{value:.14g}"
    if all(c in "-0123456789" for c in text):
        text += ".0"
    return text


_DEBUG_ESCAPES: Final = {
    "\0": "\\0",
    "\t": "\\t",
    "\r": "\\r",
    "\n": "\\n",
    '"': '\\"',
    "\\": "\\\\",
}
_NOT_PRINTABLE: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})
_GRAPHEME_EXTEND: Final = frozenset({"Mn", "Me"})


def _debug_char(char: str) -> str:
    escaped = _DEBUG_ESCAPES.get(char)
    if escaped is not None:
        return escaped
    if char == " ":
        return char
    category = unicodedata.category(char)
    if category in _NOT_PRINTABLE or category in _GRAPHEME_EXTEND:
        return f"\\u{{{ord(char):x}}}"
    return char


def rust_debug(text: str) -> str:
    """``format!("{:?}", text)`` for a Rust ``&str``: quoted and escaped.

    Printability is decided from Python's Unicode tables, which approximate
    Rust's (they may differ for recently assigned code points).
    """
    return '"' + "".join(_debug_char(char) for char in text) + '"'


def json_debug(value: Any) -> str:
    """serde_json::Value as Rust's ``{:?}`` shows it (kumod's error
    messages do): ``Null``, ``Bool(true)``, ``Number(1)``,
    ``String("x")``, ``Array [..]``, ``Object {"k": ..}``."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return f"Bool({'true' if value else 'false'})"
    if isinstance(value, int | float):
        return f"Number({value})"
    if isinstance(value, str):
        return f"String({rust_debug(value)})"
    if isinstance(value, list):
        return "Array [" + ", ".join(json_debug(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{rust_debug(str(k))}: {json_debug(v)}" for k, v in value.items())
        return "Object {" + inner + "}"
    return repr(value)
