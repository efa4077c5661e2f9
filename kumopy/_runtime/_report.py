"""How the runtime words what Lua reports: chunk names, tracebacks, the
position of an error, the budget message."""

from __future__ import annotations

import re
from typing import Any

from ._chunks import RUNTIME_NAME

__all__ = [
    "SHORTENED",
    "budget_message",
    "first_frame",
    "python_error_text",
    "source_name",
    "strip_own_frames",
    "text",
]


def text(value: Any) -> str:
    """A Lua string (bytes, possibly 8-bit) or other value as Python text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def source_name(src: Any) -> str:
    """Lua `source` ("@path" for files) -> the path a user recognises."""
    s = text(src)
    return s[1:] if s[:1] in ("@", "=") else s


#: a chunk name Lua shortened to fit LUA_IDSIZE, followed by a line number
SHORTENED = re.compile(r"\.\.\.([^\s:'\"]+):(?=\d+:)")

_FRAME = re.compile(r"^\s*(?P<file>[^\s:(][^:\n]*):(?P<line>\d+):", re.MULTILINE)


#: how a traceback names the frames of kumopy's runtime (all its chunks)
_OWN = RUNTIME_NAME[1:].decode()


def strip_own_frames(traceback: str) -> str:
    """Drop the frames of kumopy's own trampoline from a Lua traceback (and
    name Lua's error function as Lua does, behind kumopy's `error`)."""
    return "\n".join(
        _RAW_ERROR.sub("[C]: in function 'error'", line)
        for line in traceback.splitlines()
        if _OWN not in line and "'raw_xpcall'" not in line and "'raw_pcall'" not in line
    )


_RAW_ERROR = re.compile(r"\[C\]: in \w+ 'raw_error'")


def first_frame(traceback: str) -> tuple[str | None, int | None]:
    """The innermost policy frame of a Lua traceback."""
    for m in _FRAME.finditer(traceback):
        if m.group("file") != _OWN:
            return m.group("file"), int(m.group("line"))
    return None, None


def python_error_text(e: BaseException) -> str:
    """How a Python exception raised through lupa reads in a policy error:
    kumod's wording where Lua would have raised the error itself."""
    if isinstance(e, TypeError) and "object is not callable" in str(e):
        return "attempt to call a userdata value"
    return str(e) or type(e).__name__


def budget_message(seconds: float | None) -> str:
    return f"kumopy: handler exceeded its CPU budget of {seconds:g} seconds and was stopped"
