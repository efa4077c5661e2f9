"""Text that crossed from Lua.

Lua strings are bytes; kumopy decodes them with `surrogateescape`, so bytes
that are not UTF-8 survive as lone surrogates (U+DC80..U+DCFF) in a Python
`str`.  Wherever kumod would refuse such a string (serde, durations, regex
subjects, SMTP reply lines), kumopy asks `is_utf8`.
"""

from __future__ import annotations

__all__ = ["is_utf8"]


def is_utf8(text: str) -> bool:
    """True when `text` encodes to UTF-8, i.e. carries no escaped bytes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
