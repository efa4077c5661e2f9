"""json_comments 0.2.2: comment stripping in front of kumod's JSON reader."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

from ._common import (
    FormatError,
    _to_bytes,
)

# ---------------------------------------------------------------------------
# json_comments 0.2.2
# ---------------------------------------------------------------------------


class _Strip(enum.Enum):
    """States of json_comments' byte filter."""

    TOP = enum.auto()
    STRING = enum.auto()
    ESCAPE = enum.auto()
    SLASH = enum.auto()  # after a '/', expecting '/' or '*'
    BLOCK = enum.auto()
    BLOCK_STAR = enum.auto()  # in a block comment, after a '*'
    LINE = enum.auto()


# States in which end of input is not an error.
_STRIP_OK_AT_EOF: Final = frozenset({_Strip.TOP, _Strip.LINE})

_SPACE: Final = 0x20
_NEWLINE: Final = 0x0A
_QUOTE: Final = 0x22
_HASH: Final = 0x23
_STAR: Final = 0x2A
_SLASH: Final = 0x2F
_BACKSLASH: Final = 0x5C


def _strip_step(state: _Strip, byte: int) -> tuple[_Strip, int] | None:
    """Feed one byte; return (new state, output byte), or None for invalid data."""
    if state is _Strip.TOP:
        if byte == _QUOTE:
            return _Strip.STRING, byte
        if byte == _SLASH:
            return _Strip.SLASH, _SPACE
        if byte == _HASH:
            return _Strip.LINE, _SPACE
        return _Strip.TOP, byte
    if state is _Strip.STRING:
        if byte == _QUOTE:
            return _Strip.TOP, byte
        if byte == _BACKSLASH:
            return _Strip.ESCAPE, byte
        return _Strip.STRING, byte
    if state is _Strip.ESCAPE:
        return _Strip.STRING, byte
    if state is _Strip.SLASH:
        if byte == _STAR:
            return _Strip.BLOCK, _SPACE
        if byte == _SLASH:
            return _Strip.LINE, _SPACE
        return None
    if state is _Strip.BLOCK:
        return (_Strip.BLOCK_STAR if byte == _STAR else _Strip.BLOCK), _SPACE
    if state is _Strip.BLOCK_STAR:
        if byte == _SLASH:
            return _Strip.TOP, _SPACE
        return (_Strip.BLOCK_STAR if byte == _STAR else _Strip.BLOCK), _SPACE
    # _Strip.LINE
    if byte == _NEWLINE:
        return _Strip.TOP, byte
    return _Strip.LINE, _SPACE


@dataclass(frozen=True)
class _StripFailure:
    """Where json_comments reports invalid data.

    ``index`` is the input byte whose processing fails (``len(input)`` when
    the input ends in the middle of a string or comment) and ``state`` the
    state the filter is stuck in from then on.
    """

    index: int
    state: _Strip


_INVALID_DATA: Final = "invalid data"  # Display of io::ErrorKind::InvalidData
_TOP_RUN: Final = re.compile(rb'[^"/#]*')
_STRING_RUN: Final = re.compile(rb'(?:[^"\\]+|\\.)*', re.DOTALL)


def _run_end(pattern: re.Pattern[bytes], data: bytes, pos: int) -> int:
    """End of the run ``pattern`` (which also matches the empty string) finds at ``pos``."""
    run = pattern.match(data, pos)
    assert run is not None
    return run.end()


def _strip_comments(raw: bytes) -> tuple[bytearray, _StripFailure | None]:
    """Blank out comments; equivalent to running :func:`_strip_step` over ``raw``.

    The output has the same length as the input.  On failure the output is
    only meaningful before ``failure.index``.
    """
    out = bytearray(raw)
    size = len(raw)
    pos = 0
    while True:
        pos = _run_end(_TOP_RUN, raw, pos)
        if pos >= size:
            return out, None
        lead = raw[pos]
        if lead == _QUOTE:
            end = _run_end(_STRING_RUN, raw, pos + 1)
            if end >= size or raw[end] != _QUOTE:
                # Input ends inside the string (possibly right after a backslash).
                state = _Strip.ESCAPE if end < size else _Strip.STRING
                return out, _StripFailure(size, state)
            pos = end + 1
            continue
        if lead == _SLASH and pos + 1 >= size:
            out[pos] = _SPACE
            return out, _StripFailure(size, _Strip.SLASH)
        if lead == _SLASH and raw[pos + 1] == _STAR:
            close = raw.find(b"*/", pos + 2)
            if close < 0:
                out[pos:] = b" " * (size - pos)
                return out, _StripFailure(size, _Strip.BLOCK)
            out[pos : close + 2] = b" " * (close + 2 - pos)
            pos = close + 2
            continue
        if lead == _SLASH and raw[pos + 1] != _SLASH:
            out[pos] = _SPACE
            return out, _StripFailure(pos + 1, _Strip.SLASH)
        # '#' or '//': blank to the end of the line, keeping the newline.
        newline = raw.find(b"\n", pos)
        end = size if newline < 0 else newline
        out[pos:end] = b" " * (end - pos)
        pos = end


def strip_json_comments(text: str) -> str:
    """Blank out ``//``, ``#`` and ``/* */`` comments as json_comments 0.2.2 does.

    Outside double-quoted strings (backslash escapes honoured) every byte of a
    comment becomes a space, so byte offsets are preserved; line comments keep
    their terminating newline, but newlines *inside* block comments become
    spaces too (kumod's line numbers after such a comment are shifted, and so
    are ours).  A multi-byte character in a comment turns into several
    spaces.  A ``/`` followed by anything but ``/`` or ``*``, a ``/`` at the
    very end, or input ending inside a string or block comment raise
    :class:`FormatError` (``invalid data``, the I/O error kumod reports).
    """
    stripped, failure = _strip_comments(_to_bytes(text))
    if failure is not None:
        raise FormatError(_INVALID_DATA)
    return bytes(stripped).decode("utf-8", "surrogateescape")
