"""Text that crossed from Lua.

Lua strings are bytes; kumopy decodes them with `surrogateescape`, so bytes
that are not UTF-8 survive as lone surrogates (U+DC80..U+DCFF) in a Python
`str`.  Wherever kumod would refuse such a string (serde, durations, regex
subjects, SMTP reply lines), kumopy asks `is_utf8`.  Error texts show
numbers as Lua writes them (`lua_number_text`) and strings as Rust's Debug
writes them (`rust_debug`).
"""

from __future__ import annotations

__all__ = ["is_utf8", "lua_number_text", "rust_debug"]


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


def rust_debug(text: str) -> str:
    """How Rust's Debug writes a `str` (quoted, escaped)."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
