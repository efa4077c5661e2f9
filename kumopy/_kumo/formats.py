"""The data formats behind ``kumo.serde`` (KumoMTA's ``crates/mod-serde``).

Everything here works on plain Python values: ``dict``, ``list``, ``str``,
``int``, ``float``, ``bool`` and ``None``.  A ``str`` holding lone surrogates
(decoded with ``errors="surrogateescape"``) stands for a Lua string that is
not valid UTF-8.  Conversion to and from Lua values is the caller's job.

JSON is reproduced closely:

* comments are blanked out exactly as the ``json_comments`` 0.2.2 reader
  does (``//`` and ``#`` to the end of the line, ``/* */`` blocks, each
  comment byte becoming a space; a stray ``/`` or an unterminated string or
  block comment is an I/O "invalid data" error);
* parsing follows serde_json 1.0's ``from_reader`` byte by byte, so what is
  accepted, which numbers become integers or floats (including serde_json's
  default, not always correctly rounded, float conversion) and the error
  texts with their line/column numbers match kumod;
* encoding follows mlua + serde_json: compact output keeps the dict's order,
  pretty output sorts keys and indents by two spaces, floats print like
  serde_json (``1.0``, ``1e-7``, ``1e+16``), non-finite floats as ``null``.

YAML goes through libyaml, the C library serde_yaml is a translation of
(via PyYAML's extension), with serde_yaml's rules for turning nodes into
values.  TOML is an approximation on ``tomllib`` (TOML 1.0, where kumod
reads TOML 1.1) with toml-rs's output layout; see :func:`parse_toml`.

All failures raise :class:`FormatError`, whose text is the message kumod
would report (``parsing <source> as json: expected value at line 1
column 1``, ``reading file <path>: No such file or directory (os error 2)``).
"""

from __future__ import annotations

import datetime as _dt
import enum
import math
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import yaml
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.scanner import Scanner

from .._text import is_utf8

__all__ = [
    "TOML_DATETIME_KEY",
    "FormatError",
    "encode_json",
    "encode_toml",
    "encode_yaml",
    "load_json",
    "load_toml",
    "load_yaml",
    "parse_json",
    "parse_toml",
    "parse_yaml",
    "strip_json_comments",
]


class FormatError(ValueError):
    """A value or document kumod's serde functions would reject."""


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------

# kumod embeds the whole input text in parse errors of json_parse and
# friends.  Very long texts are cut here (keeping the start) and marked with
# an ellipsis so error messages stay readable; the rest of the message is
# unchanged.
_MAX_ECHO: Final = 2000
_ELLIPSIS: Final = "…"


def _echo(text: str) -> str:
    if len(text) <= _MAX_ECHO:
        return text
    return text[:_MAX_ECHO] + _ELLIPSIS


def _to_bytes(text: str) -> bytes:
    """The bytes a (possibly non-UTF-8) Lua string was decoded from."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # Lone surrogates outside U+DC80..U+DCFF cannot come from Lua; keep
        # them as their (invalid) three-byte encodings.
        return text.encode("utf-8", "surrogatepass")


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as err:
        if err.strerror and err.errno is not None:
            detail = f"{err.strerror} (os error {err.errno})"
        else:
            detail = str(err)
        raise FormatError(f"reading file {path}: {detail}") from None


def _lua_type_name(value: object) -> str:
    """What mlua calls a value it cannot serialize."""
    return "function" if callable(value) else "userdata"


# ---------------------------------------------------------------------------
# Float formatting
# ---------------------------------------------------------------------------


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-tripping digits of a finite, non-zero ``abs(value)``.

    Returns the digit string (no leading or trailing zeros) and the decimal
    exponent of its first digit, so ``1234.5`` gives ``("12345", 3)``.
    """
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    return digits, len(digits) - 1 + exponent


def _positional(digits: str, point: int) -> str:
    """Digits with the decimal point after digit number ``point + 1``."""
    if point < 0:
        return "0." + "0" * (-point - 1) + digits
    if point + 1 >= len(digits):
        return digits + "0" * (point + 1 - len(digits))
    return digits[: point + 1] + "." + digits[point + 1 :]


def _format_float(value: float, *, exponent_plus: bool) -> str:
    """Finite float as serde_json (zmij) or serde_yaml (ryu) print it.

    Shortest round-trip digits; positional notation when the first digit's
    exponent is in -5..=15 (integral values get ``.0``), scientific
    otherwise (``1e-7``, ``1.5e+16`` for zmij / ``1.5e16`` for ryu).
    """
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0.0"
    digits, exponent = _shortest_digits(value)
    if -5 <= exponent <= 15:
        text = _positional(digits, exponent)
        return sign + (text if "." in text else text + ".0")
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exp_sign = "-" if exponent < 0 else ("+" if exponent_plus else "")
    return f"{sign}{mantissa}e{exp_sign}{abs(exponent)}"


def _rust_display_float(value: float) -> str:
    """Rust's ``format!("{}", f64)`` for a finite non-zero float (never scientific)."""
    sign = "-" if value < 0 else ""
    digits, exponent = _shortest_digits(value)
    return sign + _positional(digits, exponent)


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


# ---------------------------------------------------------------------------
# JSON parsing: serde_json's from_reader over json_comments' StripComments
# ---------------------------------------------------------------------------

_RECURSION_LIMIT: Final = 128
_U64_MAX: Final = 2**64 - 1
_I32_MAX: Final = 2**31 - 1
_I32_MIN: Final = -(2**31)
_POW10: Final = tuple(float(f"1e{exp}") for exp in range(309))

_JSON_WS: Final = frozenset(b" \n\t\r")
_WS_RUN: Final = re.compile(rb"[ \n\t\r]*")
_PLAIN_STRING_RUN: Final = re.compile(rb'[^"\\\x00-\x1f]*')
_HEX_DIGITS: Final = frozenset(b"0123456789abcdefABCDEF")
_SIMPLE_ESCAPES: Final = {
    _QUOTE: b'"',
    _BACKSLASH: b"\\",
    _SLASH: b"/",
    ord("b"): b"\x08",
    ord("f"): b"\x0c",
    ord("n"): b"\n",
    ord("r"): b"\r",
    ord("t"): b"\t",
}
_CONTROL_IN_STRING: Final = "control character (\\u0000-\\u001F) found while parsing a string"


class _JsonError(Exception):
    """A serde_json error; ``line == 0`` means it carries no position."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def render(self) -> str:
        if self.line == 0:
            return self.message
        return f"{self.message} at line {self.line} column {self.column}"


class _JsonSource:
    """The byte stream serde_json sees, with its one-byte peek slot.

    Bytes come from the comment-stripped input.  Once json_comments has
    failed it keeps failing in its stuck state while later reads go on with
    the following bytes; those reads still matter because serde_json reads a
    little more before it attaches a position to the error.  Line and column
    count every byte successfully pulled, including the peeked one.
    """

    def __init__(self, raw: bytes) -> None:
        stripped, failure = _strip_comments(raw)
        self._raw = raw
        self._failure = failure
        self._data = bytes(stripped if failure is None else stripped[: failure.index])
        self._limit = len(self._data)
        self._resume_at = failure.index if failure else len(raw)
        self._resume_state = failure.state if failure else _Strip.TOP
        self._pulled = 0
        self._extra = bytearray()
        self._peeked: int | None = None

    # -- the byte iterator -------------------------------------------------

    def _pull(self) -> int | None:
        if self._pulled < self._limit:
            byte = self._data[self._pulled]
            self._pulled += 1
            return byte
        if self._failure is None:
            return None
        return self._pull_after_failure()

    def _pull_after_failure(self) -> int | None:
        if self._resume_at >= len(self._raw):
            if self._resume_state in _STRIP_OK_AT_EOF:
                return None
            raise _JsonError(_INVALID_DATA)
        byte = self._raw[self._resume_at]
        self._resume_at += 1
        step = _strip_step(self._resume_state, byte)
        if step is None:
            raise _JsonError(_INVALID_DATA)
        self._resume_state, out = step
        self._extra.append(out)
        return out

    # -- serde_json's Read interface ----------------------------------------

    def peek(self) -> int | None:
        if self._peeked is None:
            self._peeked = self._pull()
        return self._peeked

    def peek_or_null(self) -> int:
        byte = self.peek()
        return 0 if byte is None else byte

    def next(self) -> int | None:
        byte = self._peeked
        if byte is not None:
            self._peeked = None
            return byte
        return self._pull()

    def discard(self) -> None:
        self._peeked = None

    def error(self, message: str) -> _JsonError:
        consumed = self._data[: self._pulled] + bytes(self._extra)
        line = consumed.count(b"\n") + 1
        column = len(consumed) - (consumed.rfind(b"\n") + 1)
        return _JsonError(message, line, column)

    # -- bulk helpers (same effect as serde_json's byte loops) ---------------

    def skip_whitespace(self) -> int | None:
        """serde_json's parse_whitespace: next non-blank byte (left peeked)."""
        while True:
            byte = self._peeked
            if byte is None:
                if self._pulled < self._limit:
                    self._pulled = _run_end(_WS_RUN, self._data, self._pulled)
                byte = self.peek()
                if byte is None:
                    return None
            if byte not in _JSON_WS:
                return byte
            self._peeked = None

    def plain_string_run(self) -> bytes:
        """Consume string bytes that need no special handling."""
        if self._peeked is not None or self._pulled >= self._limit:
            return b""
        start = self._pulled
        self._pulled = _run_end(_PLAIN_STRING_RUN, self._data, start)
        return self._data[start : self._pulled]


def _is_digit(byte: int) -> bool:
    return 0x30 <= byte <= 0x39


def _u64_overflows(significand: int, digit: int) -> bool:
    return significand * 10 + digit > _U64_MAX


class _JsonParser:
    """serde_json's Deserializer driving serde_json::Value's visitor."""

    def __init__(self, source: _JsonSource) -> None:
        self._src = source
        self._remaining_depth = _RECURSION_LIMIT

    def document(self) -> object:
        value = self._value()
        if self._src.skip_whitespace() is not None:
            raise self._src.error("trailing characters")
        return value

    # -- values -------------------------------------------------------------

    def _value(self) -> object:
        src = self._src
        byte = src.skip_whitespace()
        if byte is None:
            raise src.error("EOF while parsing a value")
        if byte == ord("n"):
            src.discard()
            self._ident(b"ull")
            return None
        if byte == ord("t"):
            src.discard()
            self._ident(b"rue")
            return True
        if byte == ord("f"):
            src.discard()
            self._ident(b"alse")
            return False
        if byte == ord("-"):
            src.discard()
            return self._integer(positive=False)
        if _is_digit(byte):
            return self._integer(positive=True)
        if byte == _QUOTE:
            src.discard()
            return self._string()
        if byte == ord("["):
            return self._container(self._array_items, self._end_array)
        if byte == ord("{"):
            return self._container(self._object_items, self._end_object)
        raise src.error("expected value")

    def _ident(self, rest: bytes) -> None:
        for expected in rest:
            byte = self._src.next()
            if byte is None:
                raise self._src.error("EOF while parsing a value")
            if byte != expected:
                raise self._src.error("expected ident")

    def _container(self, items: Callable[[], object], end: Callable[[], None]) -> object:
        self._remaining_depth -= 1
        if self._remaining_depth == 0:
            raise self._src.error("recursion limit exceeded")
        self._src.discard()
        result: object = None
        failure: _JsonError | None = None
        try:
            result = items()
        except _JsonError as err:
            failure = err
        self._remaining_depth += 1
        # serde_json checks the closing bracket even after a failure; that
        # read moves the position it then gives errors that lack one.
        try:
            end()
        except _JsonError as err:
            failure = failure or err
        if failure is not None:
            if failure.line == 0:
                failure = self._src.error(failure.message)
            raise failure
        return result

    def _array_items(self) -> list[object]:
        src = self._src
        items: list[object] = []
        while True:
            byte = src.skip_whitespace()
            if byte is None:
                raise src.error("EOF while parsing a list")
            if byte == ord("]"):
                return items
            if items:
                if byte != ord(","):
                    raise src.error("expected `,` or `]`")
                src.discard()
                byte = src.skip_whitespace()
                if byte == ord("]"):
                    raise src.error("trailing comma")
                if byte is None:
                    raise src.error("EOF while parsing a value")
            items.append(self._value())

    def _end_array(self) -> None:
        src = self._src
        byte = src.skip_whitespace()
        if byte == ord("]"):
            src.discard()
            return
        if byte == ord(","):
            src.discard()
            try:
                after = src.skip_whitespace()
            except _JsonError:
                after = None
            raise src.error("trailing comma" if after == ord("]") else "trailing characters")
        if byte is None:
            raise src.error("EOF while parsing a list")
        raise src.error("trailing characters")

    def _object_items(self) -> dict[str, object]:
        src = self._src
        entries: dict[str, object] = {}
        first = True
        while True:
            byte = src.skip_whitespace()
            if byte is None:
                raise src.error("EOF while parsing an object")
            if byte == ord("}"):
                # serde_json::Map is a BTreeMap: keys come out sorted.
                return dict(sorted(entries.items()))
            if first:
                first = False
                if byte != _QUOTE:
                    raise src.error("key must be a string")
            elif byte == ord(","):
                src.discard()
                byte = src.skip_whitespace()
                if byte == ord("}"):
                    raise src.error("trailing comma")
                if byte is None:
                    raise src.error("EOF while parsing a value")
                if byte != _QUOTE:
                    raise src.error("key must be a string")
            else:
                raise src.error("expected `,` or `}`")
            src.discard()
            key = self._string()
            byte = src.skip_whitespace()
            if byte is None:
                raise src.error("EOF while parsing an object")
            if byte != ord(":"):
                raise src.error("expected `:`")
            src.discard()
            entries[key] = self._value()

    def _end_object(self) -> None:
        src = self._src
        byte = src.skip_whitespace()
        if byte == ord("}"):
            src.discard()
            return
        if byte == ord(","):
            raise src.error("trailing comma")
        if byte is None:
            raise src.error("EOF while parsing an object")
        raise src.error("trailing characters")

    # -- strings ------------------------------------------------------------

    def _string(self) -> str:
        src = self._src
        buf = bytearray()
        while True:
            buf += src.plain_string_run()
            byte = src.next()
            if byte is None:
                raise src.error("EOF while parsing a string")
            if byte == _QUOTE:
                try:
                    return buf.decode("utf-8")
                except UnicodeDecodeError:
                    raise src.error("invalid unicode code point") from None
            if byte == _BACKSLASH:
                self._escape(buf)
            elif byte < 0x20:
                raise src.error(_CONTROL_IN_STRING)
            else:
                buf.append(byte)

    def _escape(self, buf: bytearray) -> None:
        src = self._src
        byte = src.next()
        if byte is None:
            raise src.error("EOF while parsing a string")
        simple = _SIMPLE_ESCAPES.get(byte)
        if simple is not None:
            buf += simple
            return
        if byte != ord("u"):
            raise src.error("invalid escape")
        unit = self._hex4()
        if 0xDC00 <= unit <= 0xDFFF:
            raise src.error("lone leading surrogate in hex escape")
        if not 0xD800 <= unit <= 0xDBFF:
            buf += chr(unit).encode("utf-8")
            return
        for expected in (_BACKSLASH, ord("u")):
            byte = src.peek()
            if byte is None:
                raise src.error("EOF while parsing a string")
            src.discard()
            if byte != expected:
                raise src.error("unexpected end of hex escape")
        low = self._hex4()
        if not 0xDC00 <= low <= 0xDFFF:
            raise src.error("lone leading surrogate in hex escape")
        buf += chr(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)).encode("utf-8")

    def _hex4(self) -> int:
        src = self._src
        digits = bytearray()
        for _ in range(4):
            byte = src.next()
            if byte is None:
                raise src.error("EOF while parsing a string")
            digits.append(byte)
        if not all(byte in _HEX_DIGITS for byte in digits):
            raise src.error("invalid escape")
        return int(digits, 16)

    # -- numbers (serde_json without the float_roundtrip feature) -----------

    def _integer(self, *, positive: bool) -> int | float:
        src = self._src
        byte = src.next()
        if byte is None:
            raise src.error("EOF while parsing a value")
        if byte == ord("0"):
            if _is_digit(src.peek_or_null()):
                raise src.error("invalid number")
            return self._number(positive, 0)
        if not _is_digit(byte):
            raise src.error("invalid number")
        significand = byte - 0x30
        while _is_digit(peeked := src.peek_or_null()):
            digit = peeked - 0x30
            if _u64_overflows(significand, digit):
                return self._long_integer(positive, significand)
            src.discard()
            significand = significand * 10 + digit
        return self._number(positive, significand)

    def _number(self, positive: bool, significand: int) -> int | float:
        peeked = self._src.peek_or_null()
        if peeked == ord("."):
            return self._decimal(positive, significand, 0)
        if peeked in (ord("e"), ord("E")):
            return self._exponent(positive, significand, 0)
        if positive:
            return significand
        if significand == 0 or significand > 2**63:
            # serde_json turns -0 and negatives beyond i64 into floats.
            return -float(significand)
        return -significand

    def _decimal(self, positive: bool, significand: int, exponent_before: int) -> float:
        src = self._src
        src.discard()
        exponent_after = 0
        while _is_digit(peeked := src.peek_or_null()):
            digit = peeked - 0x30
            if _u64_overflows(significand, digit):
                return self._decimal_overflow(
                    positive, significand, exponent_before + exponent_after
                )
            src.discard()
            significand = significand * 10 + digit
            exponent_after -= 1
        if exponent_after == 0:
            if src.peek() is None:
                raise src.error("EOF while parsing a value")
            raise src.error("invalid number")
        exponent = exponent_before + exponent_after
        if src.peek_or_null() in (ord("e"), ord("E")):
            return self._exponent(positive, significand, exponent)
        return self._from_parts(positive, significand, exponent)

    def _decimal_overflow(self, positive: bool, significand: int, exponent: int) -> float:
        src = self._src
        while _is_digit(src.peek_or_null()):
            src.discard()
        if src.peek_or_null() in (ord("e"), ord("E")):
            return self._exponent(positive, significand, exponent)
        return self._from_parts(positive, significand, exponent)

    def _long_integer(self, positive: bool, significand: int) -> float:
        src = self._src
        exponent = 0
        while True:
            peeked = src.peek_or_null()
            if _is_digit(peeked):
                src.discard()
                exponent += 1
            elif peeked == ord("."):
                return self._decimal(positive, significand, exponent)
            elif peeked in (ord("e"), ord("E")):
                return self._exponent(positive, significand, exponent)
            else:
                return self._from_parts(positive, significand, exponent)

    def _exponent(self, positive: bool, significand: int, starting: int) -> float:
        src = self._src
        src.discard()
        positive_exp = True
        sign = src.peek_or_null()
        if sign == ord("+"):
            src.discard()
        elif sign == ord("-"):
            src.discard()
            positive_exp = False
        byte = src.next()
        if byte is None:
            raise src.error("EOF while parsing a value")
        if not _is_digit(byte):
            raise src.error("invalid number")
        exp = byte - 0x30
        while _is_digit(peeked := src.peek_or_null()):
            src.discard()
            digit = peeked - 0x30
            if exp * 10 + digit > _I32_MAX:
                return self._exponent_overflow(positive, significand == 0, positive_exp)
            exp = exp * 10 + digit
        final = starting + exp if positive_exp else starting - exp
        return self._from_parts(positive, significand, max(_I32_MIN, min(_I32_MAX, final)))

    def _exponent_overflow(
        self, positive: bool, zero_significand: bool, positive_exp: bool
    ) -> float:
        src = self._src
        if not zero_significand and positive_exp:
            raise src.error("number out of range")
        while _is_digit(src.peek_or_null()):
            src.discard()
        return 0.0 if positive else -0.0

    def _from_parts(self, positive: bool, significand: int, exponent: int) -> float:
        # serde_json's default conversion: multiply or divide by a power of
        # ten held in an f64.  Not always correctly rounded, but that is
        # what kumod computes.
        value = float(significand)
        while True:
            magnitude = abs(exponent)
            if magnitude < len(_POW10):
                if exponent >= 0:
                    value *= _POW10[magnitude]
                    if math.isinf(value):
                        raise self._src.error("number out of range")
                else:
                    value /= _POW10[magnitude]
                break
            if value == 0.0:
                break
            if exponent >= 0:
                raise self._src.error("number out of range")
            value /= 1e308
            exponent += 308
        return value if positive else -value


def _parse_json_bytes(raw: bytes, label: str) -> object:
    try:
        return _JsonParser(_JsonSource(raw)).document()
    except _JsonError as err:
        raise FormatError(f"parsing {label} as json: {err.render()}") from None


def parse_json(text: str, *, source: str | None = None) -> object:
    """``kumo.json_parse``: parse JSON with comments, as kumod does.

    Objects come back as dicts with sorted keys (serde_json's map is a
    BTreeMap), ``null`` as ``None``; integers that fit u64 (or i64 when
    negative) as ``int``, all other numbers as ``float`` (``-0`` is
    ``-0.0``).  Errors read ``parsing <text> as json: <serde_json message>``
    where ``<text>`` is the whole input as in kumod, cut to its first
    2000 characters plus an ellipsis when longer; pass ``source`` (a file
    name) to name the input instead.  Text holding lone surrogates is parsed
    as the bytes it stands for, as json_load does with a file (kumod's
    json_parse refuses a non-UTF-8 Lua string when converting its argument,
    before parsing).
    """
    return _parse_json_bytes(_to_bytes(text), source if source is not None else _echo(text))


def load_json(path: str) -> object:
    """``kumo.json_load``: read and parse a JSON (with comments) file."""
    return _parse_json_bytes(_read_file(path), path)


# ---------------------------------------------------------------------------
# JSON encoding: mlua's serializer feeding serde_json
# ---------------------------------------------------------------------------

_JSON_ESCAPES: Final[dict[int, str]] = {
    **{code: f"\\u{code:04x}" for code in range(0x20)},
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    _QUOTE: '\\"',
    _BACKSLASH: "\\\\",
}
_I64_MIN: Final = -(2**63)


def _json_string(text: str) -> str:
    return '"' + text.translate(_JSON_ESCAPES) + '"'


def _as_utf8(value: str | bytes | bytearray) -> str | None:
    """The text of a Lua string, or None when it is not valid UTF-8."""
    if isinstance(value, str):
        return value if is_utf8(value) else None
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _json_key(key: object) -> str:
    """serde_json's map-key serializer applied to a Lua table key."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        if not math.isfinite(key):
            raise FormatError("float key must be finite (got NaN or +/-inf)")
        if key.is_integer() and _I64_MIN <= key < 2**63:
            # Lua stores integral float keys as integers.
            return str(int(key))
        return _format_float(key, exponent_plus=True)
    if isinstance(key, str | bytes | bytearray):
        text = _as_utf8(key)
        if text is not None:
            return text
    raise FormatError("key must be a string")


class _JsonWriter:
    def __init__(self, *, pretty: bool) -> None:
        self._pretty = pretty
        self._parts: list[str] = []
        self._active: set[int] = set()

    def render(self, value: object) -> str:
        self._value(value, 0)
        return "".join(self._parts)

    def _value(self, value: object, depth: int) -> None:
        out = self._parts
        if value is None:
            out.append("null")
        elif isinstance(value, bool):
            out.append("true" if value else "false")
        elif isinstance(value, int):
            out.append(str(value))
        elif isinstance(value, float):
            out.append(_format_float(value, exponent_plus=True) if math.isfinite(value) else "null")
        elif isinstance(value, str | bytes | bytearray):
            text = _as_utf8(value)
            if text is not None:
                out.append(_json_string(text))
            else:
                # mlua serializes a non-UTF-8 string as bytes: an array of numbers.
                self._sequence(list(_to_bytes(value) if isinstance(value, str) else value), depth)
        elif isinstance(value, Mapping):
            with self._guard(value):
                self._object(value, depth)
        elif isinstance(value, list | tuple):
            with self._guard(value):
                self._sequence(value, depth)
        else:
            raise FormatError(f"cannot serialize <{_lua_type_name(value)}>")

    def _guard(self, container: object) -> _Guard:
        return _Guard(self._active, id(container))

    def _separator(self, first: bool, depth: int) -> None:
        if self._pretty:
            self._parts.append(("\n" if first else ",\n") + "  " * depth)
        elif not first:
            self._parts.append(",")

    def _closing(self, bracket: str, depth: int) -> None:
        if self._pretty:
            self._parts.append("\n" + "  " * depth)
        self._parts.append(bracket)

    def _sequence(self, items: list[object] | tuple[object, ...], depth: int) -> None:
        if not items:
            self._parts.append("[]")
            return
        self._parts.append("[")
        for index, item in enumerate(items):
            self._separator(index == 0, depth + 1)
            self._value(item, depth + 1)
        self._closing("]", depth)

    def _object(self, mapping: Mapping[object, object], depth: int) -> None:
        entries: Iterator[tuple[str, object]] = ((_json_key(k), v) for k, v in mapping.items())
        if self._pretty:
            # kumod goes through serde_json::Value (a BTreeMap): keys sorted,
            # a later duplicate (say 1 and "1") replacing an earlier one.
            entries = iter(sorted(dict(entries).items()))
        first = True
        for key, item in entries:
            if first:
                self._parts.append("{")
            self._separator(first, depth + 1)
            first = False
            self._parts.append(_json_string(key) + (": " if self._pretty else ":"))
            self._value(item, depth + 1)
        if first:
            self._parts.append("{}")
        else:
            self._closing("}", depth)


@dataclass
class _Guard:
    """Refuse self-referencing structures the way mlua does."""

    active: set[int]
    key: int

    def __enter__(self) -> None:
        if self.key in self.active:
            raise FormatError("recursive table detected")
        self.active.add(self.key)

    def __exit__(self, *exc: object) -> None:
        self.active.discard(self.key)


def encode_json(value: object, *, pretty: bool = False) -> str:
    """``kumo.json_encode`` / ``json_encode_pretty`` of an already converted value.

    Dicts become objects (compact: in the dict's order; pretty: keys sorted),
    lists and tuples arrays; the caller decides how Lua tables map to these
    (kumod: raw length > 0 means array, otherwise object, so ``{}`` for any
    empty table).  Keys: strings as is, integers and booleans as their text,
    finite floats as serde_json prints them, anything else is an error.
    Non-UTF-8 strings (lone surrogates) become arrays of byte values.
    """
    return _JsonWriter(pretty=pretty).render(value)


# ---------------------------------------------------------------------------
# TOML
# ---------------------------------------------------------------------------

TOML_DATETIME_KEY: Final = "$__toml_private_datetime"
"""The key under which a TOML date/time reaches Lua.

toml-rs serializes its Datetime as a one-field struct; mlua turns that into a
table ``{ ["$__toml_private_datetime"] = "1979-05-27T07:32:00Z" }``, so that
is what :func:`parse_toml` returns for dates and times.
"""

_I64_MAX: Final = 2**63 - 1
_TOML_POSITION: Final = re.compile(
    r"^(?P<msg>.*) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$", re.DOTALL
)


class _TomlProblem(Exception):
    """A TOML error already rendered the way toml-rs prints it."""


def _toml_offset(value: _dt.timedelta) -> str:
    minutes = int(value.total_seconds()) // 60
    if minutes == 0:
        return "Z"
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02}:{minutes:02}"


def _toml_time(value: _dt.time | _dt.datetime) -> str:
    text = f"{value.hour:02}:{value.minute:02}:{value.second:02}"
    if value.microsecond:
        text += "." + f"{value.microsecond:06}".rstrip("0")
    return text


def _toml_datetime_text(value: _dt.date | _dt.time) -> str:
    if isinstance(value, _dt.datetime):
        text = f"{value.date().isoformat()}T{_toml_time(value)}"
        offset = value.utcoffset()
        return text if offset is None else text + _toml_offset(offset)
    if isinstance(value, _dt.date):
        return value.isoformat()
    return _toml_time(value)


def _from_tomllib(value: object, path: list[str]) -> object:
    if isinstance(value, dict):
        return {k: _from_tomllib(v, [*path, k]) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_tomllib(item, path) for item in value]
    if isinstance(value, _dt.date | _dt.time):
        return {TOML_DATETIME_KEY: _toml_datetime_text(value)}
    if isinstance(value, int) and not isinstance(value, bool) and not _I64_MIN <= value <= _I64_MAX:
        keys = f"in `{'.'.join(path)}`\n" if path else ""
        raise _TomlProblem(f"integer number overflowed\n{keys}")
    return value


def _toml_position(text: str, index: int) -> tuple[int, int]:
    """toml-rs's translate_position: 0-based (line, column in characters)."""
    if not text:
        return 0, index
    safe = min(index, len(text) - 1)
    line_start = text.rfind("\n", 0, safe) + 1
    return text.count("\n", 0, line_start), safe - line_start + (index - safe)


def _toml_snippet(text: str, index: int, message: str) -> str:
    line, column = _toml_position(text, index)
    number = str(line + 1)
    gutter = " " * (len(number) + 1)
    content = text.split("\n")[line]
    return (
        f"TOML parse error at line {line + 1}, column {column + 1}\n"
        f"{gutter}|\n"
        f"{number} | {content}\n"
        f"{gutter}|{' ' * (column + 1)}^\n"
        f"{message}\n"
    )


def _tomllib_problem(text: str, err: tomllib.TOMLDecodeError) -> str:
    match = _TOML_POSITION.match(str(err))
    if match is None:
        return f"{err}\n"
    if match["line"] is None:
        index = len(text)
    else:
        lines = text.split("\n")
        index = sum(len(part) + 1 for part in lines[: int(match["line"]) - 1])
        index += int(match["col"]) - 1
    return _toml_snippet(text, index, match["msg"])


def parse_toml(text: str, *, source: str | None = None) -> object:
    """``kumo.toml_parse``: a TOML document as nested dicts and lists.

    Dates and times come back as ``{TOML_DATETIME_KEY: "<RFC 3339 text>"}``
    (see :data:`TOML_DATETIME_KEY`).  Parsing uses Python's ``tomllib``, so:
    only TOML 1.0 is accepted (kumod's toml 0.9 also takes TOML 1.1: inline
    tables over several lines, ``\\xHH`` and ``\\e`` escapes, times without
    seconds); date/time text is rebuilt with microsecond precision and an
    offset of zero always prints as ``Z``; error messages have toml-rs's
    layout (``TOML parse error at line L, column C`` plus the source line
    and a caret) but tomllib's wording.  With ``source`` (a file name) a
    non-UTF-8 text reproduces kumod's read failure.
    """
    label = source if source is not None else _echo(text)
    if not is_utf8(text):
        if source is not None:
            raise FormatError(f"reading file {source}: stream did not contain valid UTF-8")
        raise FormatError(f"parsing {label} as toml: stream did not contain valid UTF-8")
    try:
        return _from_tomllib(tomllib.loads(text), [])
    except tomllib.TOMLDecodeError as err:
        problem = _tomllib_problem(text, err)
    except _TomlProblem as err:
        problem = str(err)
    raise FormatError(f"parsing {label} as toml: {problem}")


def load_toml(path: str) -> object:
    """``kumo.toml_load``: read and parse a TOML file."""
    return parse_toml(_read_file(path).decode("utf-8", "surrogateescape"), source=path)


# -- encoding (toml 0.9's document serializer over mlua values) -------------

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")


def _toml_not_a_table(value: object) -> FormatError:
    """toml-rs's complaint about a document that is not a table."""
    if value is None:
        kind = "unit"
    elif isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, int):
        kind = "i64"
    elif isinstance(value, float):
        kind = "f64"
    elif isinstance(value, str | bytes | bytearray):
        kind = "str" if _as_utf8(value) is not None else "bytes"
    elif isinstance(value, list | tuple):
        kind = "array"
    else:
        return FormatError(f"cannot serialize <{_lua_type_name(value)}>")
    return FormatError(f"unsupported {kind} type")


@dataclass
class _StringMetrics:
    max_single_run: int = 0
    max_double_run: int = 0
    control: bool = False
    backslash: bool = False
    newline: bool = False

    @classmethod
    def of(cls, text: str) -> _StringMetrics:
        metrics = cls()
        single = double = 0
        for char in text:
            single = single + 1 if char == "'" else 0
            double = double + 1 if char == '"' else 0
            metrics.max_single_run = max(metrics.max_single_run, single)
            metrics.max_double_run = max(metrics.max_double_run, double)
            if char == "\\":
                metrics.backslash = True
            elif char == "\n":
                metrics.newline = True
            elif char != "\t" and (char < " " or char == "\x7f"):
                metrics.control = True
        return metrics


_TOML_ESCAPES: Final = {"\b": "\\b", "\t": "\\t", "\f": "\\f", "\r": "\\r", "\\": "\\\\"}


def _toml_escape(text: str, *, multiline: bool) -> str:
    parts: list[str] = []
    quotes = 0
    max_quotes = 2 if multiline else 0
    for char in text:
        quotes = quotes + 1 if char == '"' else 0
        if char == '"':
            parts.append('\\"' if quotes > max_quotes else char)
        elif char == "\n":
            parts.append(char if multiline else "\\n")
        elif char in _TOML_ESCAPES:
            parts.append(_TOML_ESCAPES[char])
        elif char < " " or char == "\x7f":
            parts.append(f"\\u{ord(char):04X}")
        else:
            parts.append(char)
    return "".join(parts)


def _toml_multiline_basic(text: str, newline: bool) -> str:
    return '"""' + ("\n" if newline else "") + _toml_escape(text, multiline=True) + '"""'


def _toml_string(text: str) -> str:
    """toml_writer's default choice of string flavour for a value."""
    m = _StringMetrics.of(text)
    if not (m.control or m.backslash or m.max_double_run or m.newline):
        return '"' + _toml_escape(text, multiline=False) + '"'
    if not (m.control or m.max_single_run or m.newline):
        return "'" + text + "'"
    if not (m.control or m.backslash or m.max_double_run > 2):
        return _toml_multiline_basic(text, m.newline)
    if not (m.control or m.max_single_run > 2):
        return "'''" + ("\n" if m.newline else "") + text + "'''"
    if m.newline:
        return _toml_multiline_basic(text, True)
    return '"' + _toml_escape(text, multiline=False) + '"'


def _toml_key_text(text: str) -> str:
    """toml_writer's default choice for a key: bare, basic, literal, escaped."""
    if _BARE_KEY.fullmatch(text):
        return text
    m = _StringMetrics.of(text)
    control = m.control or m.newline
    if not (control or m.backslash or m.max_double_run):
        return '"' + _toml_escape(text, multiline=False) + '"'
    if not (control or m.max_single_run):
        return "'" + text + "'"
    return '"' + _toml_escape(text, multiline=False) + '"'


def _toml_key(key: object) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float) and key.is_integer() and _I64_MIN <= key <= _I64_MAX:
        return str(int(key))
    if isinstance(key, str | bytes | bytearray):
        text = _as_utf8(key)
        if text is not None:
            return _toml_key_text(text)
    raise FormatError("map key was not a string")


def _toml_float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = _rust_display_float(value)
    return text + ".0" if value.is_integer() else text


class _TomlStrategy(enum.Enum):
    VALUE = enum.auto()
    TABLE = enum.auto()
    ARRAY_OF_TABLES = enum.auto()
    SKIP = enum.auto()


def _toml_strategy(value: object, *, in_map: bool) -> _TomlStrategy:
    if value is None:
        return _TomlStrategy.SKIP if in_map else _TomlStrategy.VALUE
    if isinstance(value, Mapping):
        return _TomlStrategy.TABLE
    if isinstance(value, list | tuple) and value:
        if all(isinstance(item, Mapping) for item in value):
            return _TomlStrategy.ARRAY_OF_TABLES
    return _TomlStrategy.VALUE


@dataclass
class _TomlTable:
    path: list[str] | None
    array: bool = False
    body: list[str] = field(default_factory=list)
    has_children: bool = False

    def required(self) -> bool:
        if self.path is None:
            return bool(self.body)
        return self.array or bool(self.body) or not self.has_children

    def render(self) -> str:
        if self.path is None:
            return "".join(self.body)
        name = ".".join(self.path)
        header = f"[[{name}]]" if self.array else f"[{name}]"
        return header + "\n" + "".join(self.body)


class _TomlWriter:
    def __init__(self, *, pretty: bool) -> None:
        self._pretty = pretty
        self._tables: list[_TomlTable] = []
        self._active: set[int] = set()

    def document(self, value: object) -> str:
        if not isinstance(value, Mapping):
            raise _toml_not_a_table(value)
        root = self._new_table(None)
        self._fill(root, value)
        return "\n".join(table.render() for table in self._tables if table.required())

    def _new_table(self, path: list[str] | None, *, array: bool = False) -> _TomlTable:
        table = _TomlTable(path, array)
        self._tables.append(table)
        return table

    def _fill(self, table: _TomlTable, mapping: Mapping[object, object]) -> None:
        with _Guard(self._active, id(mapping)):
            for key, item in mapping.items():
                name = _toml_key(key)
                strategy = _toml_strategy(item, in_map=True)
                if strategy is _TomlStrategy.SKIP:
                    continue
                if strategy is _TomlStrategy.VALUE:
                    table.body.append(f"{name} = {self._inline(item)}\n")
                    continue
                table.has_children = True
                path = [*(table.path or []), name]
                if strategy is _TomlStrategy.TABLE:
                    assert isinstance(item, Mapping)
                    self._fill(self._new_table(path), item)
                else:
                    assert isinstance(item, list | tuple)
                    for element in item:
                        self._fill(self._new_table(path, array=True), element)

    def _inline(self, value: object) -> str:
        if value is None:
            raise FormatError("unsupported unit type")
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return _toml_float(value)
        if isinstance(value, str | bytes | bytearray):
            text = _as_utf8(value)
            if text is not None:
                return _toml_string(text)
            raw = _to_bytes(value) if isinstance(value, str) else bytes(value)
            return self._inline_array(list(raw))
        if isinstance(value, Mapping):
            with _Guard(self._active, id(value)):
                entries = [
                    f"{_toml_key(k)} = {self._inline(v)}" for k, v in value.items() if v is not None
                ]
            return "{ " + ", ".join(entries) + " }" if entries else "{}"
        if isinstance(value, list | tuple):
            with _Guard(self._active, id(value)):
                return self._inline_array(list(value))
        raise FormatError(f"cannot serialize <{_lua_type_name(value)}>")

    def _inline_array(self, items: list[object]) -> str:
        rendered = [self._inline(item) for item in items]
        if self._pretty and len(rendered) >= 2:
            return "[\n" + "".join(f"    {item},\n" for item in rendered) + "]"
        return "[" + ", ".join(rendered) + "]"


def encode_toml(value: object, *, pretty: bool = False) -> str:
    """``kumo.toml_encode`` / ``toml_encode_pretty`` (toml 0.9 layout).

    The top level must be a dict (``unsupported <type> type`` otherwise).
    Scalars and inline values of a table come first, then its sub-tables as
    ``[a.b]`` sections and lists of dicts as ``[[a]]`` sections; a table
    holding only sub-tables gets no header of its own.  ``None`` values in
    dicts are dropped (mlua's null), elsewhere they are an error.  Pretty
    output only spreads arrays of two or more items over several lines.
    """
    return _TomlWriter(pretty=pretty).document(value)


# ---------------------------------------------------------------------------
# YAML (serde_yaml 0.9 on libyaml events)
# ---------------------------------------------------------------------------

_YAML_NS: Final = "tag:yaml.org,2002:"
_YAML_MAX_DEPTH: Final = 128
_YAML_REPEAT_FACTOR: Final = 100
_YAML_NULLS: Final = frozenset({"null", "Null", "NULL", "~"})
_YAML_TRUE: Final = frozenset({"true", "True", "TRUE"})
_YAML_FALSE: Final = frozenset({"false", "False", "FALSE"})
_RADIX_DIGITS: Final = {
    10: re.compile(r"[0-9]+"),
    16: re.compile(r"[0-9a-fA-F]+"),
    8: re.compile(r"[0-7]+"),
    2: re.compile(r"[01]+"),
}
_RUST_FLOAT: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class _PurePythonParser(Reader, Scanner, Parser):  # type: ignore[misc,unused-ignore]
    def __init__(self, stream: bytes) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)


class _PurePythonDumper(yaml.Dumper):  # type: ignore[misc,unused-ignore]
    """PyYAML's emitter nudged towards libyaml's choices."""

    def check_empty_document(self) -> bool:
        return False  # libyaml never writes "---" for an empty root scalar

    def write_plain(self, text: str, split: bool = True) -> None:
        super().write_plain(text, split)
        self.open_ended = False  # nor "..." after a root plain scalar


# serde_yaml runs libyaml (transpiled to Rust); PyYAML's C extension wraps the
# same library, which gives the same events, parse errors and output.
_YAML_PARSER: Any
_YAML_DUMPER: Any
try:
    from yaml.cyaml import CDumper, CParser  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _YAML_PARSER, _YAML_DUMPER = _PurePythonParser, _PurePythonDumper
else:
    _YAML_PARSER, _YAML_DUMPER = CParser, CDumper


class _YamlFailure(Exception):
    """A serde_yaml error, already rendered."""

    @classmethod
    def at(cls, message: str, mark: Any, path: str = ".") -> _YamlFailure:
        """A serde-level error with serde_yaml's path prefix and position."""
        if path != ".":
            message = f"{path}: {message}"
        if mark.line or mark.column:
            message += f" at line {mark.line + 1} column {mark.column + 1}"
        return cls(message)


class _YamlValueError(Exception):
    """A scalar conversion error (gets a path and position later)."""


@dataclass(eq=False)
class _YamlNode:
    """One node of a document, as serde_yaml's loader records it."""

    kind: str  # "scalar", "sequence", "mapping" or "alias"
    mark: Any  # libyaml start mark (0-based line and column)
    tag: str | None = None  # explicit tag, if any
    text: str = ""  # scalar text
    plain: bool = False  # scalar written without quotes or block style
    children: list[_YamlNode] = field(default_factory=list)  # mapping: k, v, k, v...
    target: _YamlNode | None = None  # what an alias refers to


class _YamlDocumentReader:
    """Turns libyaml events into one document's nodes, with serde_yaml's anchors.

    Anchors may be redefined (the latest definition wins) and an alias may
    refer to a collection still being read (which makes it recursive).
    """

    def __init__(self, raw: bytes) -> None:
        self._parser = _YAML_PARSER(raw)
        self._anchors: dict[str, _YamlNode] = {}
        self.events = 0

    def close(self) -> None:
        self._parser.dispose()

    def _event(self) -> Any:
        self.events += 1
        return self._parser.get_event()

    def document(self) -> _YamlNode | None:
        """The next document's root, or None at the end of the stream."""
        event = self._event()
        if isinstance(event, yaml.StreamStartEvent):
            event = self._event()
        if isinstance(event, yaml.StreamEndEvent):
            return None
        self._anchors.clear()
        root = self._node(self._event())
        self._event()  # DocumentEndEvent
        return root

    def _node(self, event: Any) -> _YamlNode:
        if isinstance(event, yaml.AliasEvent):
            target = self._anchors.get(event.anchor) if event.anchor is not None else None
            if target is None:
                raise _YamlFailure.at("unknown anchor", event.start_mark)
            return _YamlNode("alias", event.start_mark, target=target)
        if isinstance(event, yaml.ScalarEvent):
            node = _YamlNode(
                "scalar", event.start_mark, event.tag, event.value, plain=not event.style
            )
        else:
            kind = "sequence" if isinstance(event, yaml.SequenceStartEvent) else "mapping"
            node = _YamlNode(kind, event.start_mark, event.tag)
        if event.anchor is not None:
            self._anchors[event.anchor] = node
        if node.kind != "scalar":
            while not isinstance(child := self._event(), yaml.CollectionEndEvent):
                node.children.append(self._node(child))
        return node


def _render_marked(err: yaml.MarkedYAMLError) -> str:
    """libyaml's error layout: ``problem at line L column C, context at ...``."""

    def where(mark: Any) -> str:
        if mark is None or (mark.line == 0 and mark.column == 0):
            return ""
        return f" at line {mark.line + 1} column {mark.column + 1}"

    text = f"{err.problem}{where(err.problem_mark)}"
    if err.context:
        text += f", {err.context}"
        problem, context = err.problem_mark, err.context_mark
        if context is not None and (
            problem is None or (context.line, context.column) != (problem.line, problem.column)
        ):
            text += where(context)
    return text


def _rust_radix_int(text: str, radix: int) -> int | None:
    """Rust's ``from_str_radix``: optional sign, then digits only."""
    sign = 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if not _RADIX_DIGITS[radix].fullmatch(text):
        return None
    return sign * int(text, radix)


def _digits_but_not_number(text: str) -> bool:
    """Leading zeros make digits a string in YAML 1.2 (serde_yaml's rule)."""
    body = text[1:] if text[:1] in ("+", "-") else text
    return len(body) > 1 and body[0] == "0" and _RADIX_DIGITS[10].fullmatch(body[1:]) is not None


def _yaml_unsigned(text: str, limit: int) -> int | None:
    body = text[1:] if text.startswith("+") else text
    for prefix, radix in (("0x", 16), ("0o", 8), ("0b", 2)):
        if body.startswith(prefix):
            rest = body[2:]
            if rest[:1] in ("+", "-"):
                return None
            number = _rust_radix_int(rest, radix)
            if number is not None and 0 <= number <= limit:
                return number
    if body[:1] in ("+", "-") or _digits_but_not_number(text):
        return None
    number = _rust_radix_int(body, 10)
    return number if number is not None and 0 <= number <= limit else None


def _yaml_negative(text: str, bits: int) -> int | None:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    for prefix, radix in (("-0x", 16), ("-0o", 8), ("-0b", 2)):
        if text.startswith(prefix):
            number = _rust_radix_int("-" + text[3:], radix)
            if number is not None and low <= number <= high:
                return number
    if _digits_but_not_number(text):
        return None
    number = _rust_radix_int(text, 10)
    return number if number is not None and low <= number <= high else None


_NOT_AN_INT: Final = object()


def _yaml_int(text: str) -> object:
    """serde_yaml's visit_int into a serde_json::Value."""
    number = _yaml_unsigned(text, _U64_MAX)
    if number is None:
        number = _yaml_negative(text, 64)
    if number is not None:
        return number
    if _yaml_unsigned(text, 2**128 - 1) is not None or _yaml_negative(text, 128) is not None:
        raise _YamlValueError("JSON number out of range")
    return _NOT_AN_INT


def _yaml_float(text: str) -> float | None:
    """serde_yaml's parse_f64: None when not a float or not finite."""
    body = text
    if text.startswith("+"):
        body = text[1:]
        if body[:1] in ("+", "-"):
            return None
    if body in (".inf", ".Inf", ".INF"):
        return math.inf
    if text in ("-.inf", "-.Inf", "-.INF"):
        return -math.inf
    if text in (".nan", ".NaN", ".NAN"):
        return math.nan
    if _RUST_FLOAT.fullmatch(body):
        value = float(body)
        return value if math.isfinite(value) else None
    return None


def _json_float(value: float) -> float | None:
    """serde_json::Value holds no NaN or infinity: those become null."""
    return value if math.isfinite(value) else None


def _yaml_plain_scalar(text: str) -> object:
    """serde_yaml's visit_untagged_scalar."""
    if not text or text in _YAML_NULLS:
        return None
    if text in _YAML_TRUE:
        return True
    if text in _YAML_FALSE:
        return False
    number = _yaml_int(text)
    if number is not _NOT_AN_INT:
        return number
    if not _digits_but_not_number(text):
        value = _yaml_float(text)
        if value is not None:
            return _json_float(value)
    return text


def _yaml_tagged_scalar(tag: str, text: str) -> object:
    if tag == _YAML_NS + "bool":
        if text in _YAML_TRUE or text in _YAML_FALSE:
            return text in _YAML_TRUE
        raise _YamlValueError(f'invalid value: string "{text}", expected a boolean')
    if tag == _YAML_NS + "int":
        number = _yaml_int(text)
        if number is _NOT_AN_INT:
            raise _YamlValueError(f'invalid value: string "{text}", expected an integer')
        return number
    if tag == _YAML_NS + "float":
        value = _yaml_float(text)
        if value is None:
            raise _YamlValueError(f'invalid value: string "{text}", expected a float')
        return _json_float(value)
    if tag == _YAML_NS + "null":
        if text in _YAML_NULLS:
            return None
        raise _YamlValueError(f'invalid value: string "{text}", expected null')
    return text


def _yaml_scalar(node: _YamlNode) -> object:
    if node.tag is None:
        return _yaml_plain_scalar(node.text) if node.plain else node.text
    return _yaml_tagged_scalar(node.tag, node.text)


def _yaml_child_path(parent: str, key: str | int) -> str:
    """serde_yaml's Path display: ``.``, ``a.b``, ``.[0]``, ``a[1].b``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return key if parent == "." else f"{parent}.{key}"


class _YamlConverter:
    """serde_json::Value's visitor driven by serde_yaml's deserializer."""

    def __init__(self, jump_limit: int) -> None:
        self._jumps_left = jump_limit

    def convert(self, node: _YamlNode, path: str = ".", depth: int = 0) -> object:
        while node.target is not None:
            self._jumps_left -= 1
            if self._jumps_left < 0:
                raise _YamlFailure("repetition limit exceeded")
            node = node.target
        if node.tag is not None and node.tag.startswith("!"):
            # serde_yaml hands local tags to the visitor as an enum
            message = "invalid type: enum, expected any valid JSON value"
            raise _YamlFailure.at(message, node.mark, path)
        if node.kind == "scalar":
            try:
                return _yaml_scalar(node)
            except _YamlValueError as err:
                raise _YamlFailure.at(str(err), node.mark, path) from None
        if depth >= _YAML_MAX_DEPTH:
            raise _YamlFailure.at("recursion limit exceeded", node.mark)
        if node.kind == "sequence":
            return [
                self.convert(item, _yaml_child_path(path, index), depth + 1)
                for index, item in enumerate(node.children)
            ]
        entries: dict[str, object] = {}
        for key_node, value_node in zip(node.children[::2], node.children[1::2], strict=True):
            key = self._key(key_node, path)
            entries[key] = self.convert(value_node, _yaml_child_path(path, key), depth + 1)
        return dict(sorted(entries.items()))

    def _key(self, node: _YamlNode, path: str) -> str:
        while node.target is not None:
            node = node.target
        if node.kind != "scalar":
            kind = "sequence" if node.kind == "sequence" else "map"
            raise _YamlFailure.at(f"invalid type: {kind}, expected a string key", node.mark, path)
        return node.text


def _parse_yaml_bytes(raw: bytes) -> object:
    reader = _YamlDocumentReader(raw)
    try:
        try:
            root = reader.document()
        except yaml.reader.ReaderError as err:
            where = f" at position {err.position}" if err.position else ""
            raise _YamlFailure(f"{err.reason}{where}") from None
        except yaml.MarkedYAMLError as err:
            raise _YamlFailure(_render_marked(err)) from None
        if root is None:
            return None
        # serde_yaml stops alias expansion ("billion laughs") at 100 jumps
        # per event of the document.
        value = _YamlConverter(_YAML_REPEAT_FACTOR * reader.events).convert(root)
        try:
            another = reader.document() is not None
        except yaml.YAMLError:
            another = True
        if another:
            raise _YamlFailure(
                "deserializing from YAML containing more than one document is not supported"
            )
        return value
    finally:
        reader.close()


def parse_yaml(text: str, *, source: str | None = None) -> object:
    """``kumo.serde.yaml_parse``: one YAML document through serde_json::Value.

    Plain scalars follow serde_yaml (YAML 1.2 style): ``null``/``~``/empty,
    ``true``/``false`` (three spellings), decimal/``0x``/``0o``/``0b``
    integers, floats; ``yes``, ``on``, ``0755``, ``1_000`` stay strings;
    ``.nan``/``.inf`` become ``None`` (JSON has no such numbers).  Keys are
    the scalar's text; merge keys (``<<``) are not applied; local tags
    (``!foo``) are an error; anchors may be redefined.  Events and syntax
    errors come from libyaml, as in serde_yaml, when PyYAML is built with
    it (otherwise from PyYAML's Python parser, whose wording differs).
    """
    label = source if source is not None else _echo(text)
    try:
        return _parse_yaml_bytes(_to_bytes(text))
    except RecursionError:
        raise FormatError(f"parsing {label} as yaml: recursion limit exceeded") from None
    except _YamlFailure as err:
        raise FormatError(f"parsing {label} as yaml: {err}") from None


def load_yaml(path: str) -> object:
    """``kumo.serde.yaml_load``: read and parse a YAML file."""
    return parse_yaml(_read_file(path).decode("utf-8", "surrogateescape"), source=path)


# -- encoding (serde_yaml's emitter choices, PyYAML's emitter) ---------------

_BYTES_IN_YAML: Final = "serialization and deserialization of bytes in YAML is not implemented"
_YAML_WIDTH: Final = -1  # serde_yaml's setting: no line width limit


def _yaml_string_style(text: str) -> str | None:
    """serde_yaml's scalar style for a string (None: let the emitter choose)."""
    if "\n" in text:
        return "|"
    if _digits_but_not_number(text):
        return "'"
    try:
        resolved = _yaml_plain_scalar(text)
    except _YamlValueError:
        return "'"
    return None if resolved == text and isinstance(resolved, str) else "'"


def _yaml_float_text(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return _format_float(value, exponent_plus=False)


class _YamlEvents:
    def __init__(self) -> None:
        self.events: list[yaml.Event] = []
        self._active: set[int] = set()

    def _scalar(self, text: str, style: str | None) -> None:
        self.events.append(yaml.ScalarEvent(None, None, (True, True), text, style=style))

    def value(self, value: object) -> None:
        if value is None:
            self._scalar("null", None)
        elif isinstance(value, bool):
            self._scalar("true" if value else "false", None)
        elif isinstance(value, int):
            self._scalar(str(value), None)
        elif isinstance(value, float):
            self._scalar(_yaml_float_text(value), None)
        elif isinstance(value, str | bytes | bytearray):
            text = _as_utf8(value)
            if text is None:
                raise FormatError(_BYTES_IN_YAML)
            self._scalar(text, _yaml_string_style(text))
        elif isinstance(value, Mapping):
            with _Guard(self._active, id(value)):
                self.events.append(yaml.MappingStartEvent(None, None, True, flow_style=False))
                for key, item in value.items():
                    self.value(key)
                    self.value(item)
                self.events.append(yaml.MappingEndEvent())
        elif isinstance(value, list | tuple):
            with _Guard(self._active, id(value)):
                self.events.append(yaml.SequenceStartEvent(None, None, True, flow_style=False))
                for item in value:
                    self.value(item)
                self.events.append(yaml.SequenceEndEvent())
        else:
            raise FormatError(f"cannot serialize <{_lua_type_name(value)}>")


def encode_yaml(value: object) -> str:
    """``kumo.serde.yaml_encode``: block-style YAML as serde_yaml writes it.

    Strings that would read back as another type (``"true"``, ``"1"``,
    ``""``, ``"007"``) are single-quoted, strings with newlines use literal
    blocks when possible; floats print like ryu (``1.0``, ``1e16``,
    ``.nan``).  Empty containers print as ``{}`` / ``[]``.  Non-UTF-8
    strings are an error, as in serde_yaml.
    """
    builder = _YamlEvents()
    builder.value(value)
    events = [
        yaml.StreamStartEvent(),
        yaml.DocumentStartEvent(explicit=False),
        *builder.events,
        yaml.DocumentEndEvent(explicit=False),
        yaml.StreamEndEvent(),
    ]
    return str(yaml.emit(events, Dumper=_YAML_DUMPER, width=_YAML_WIDTH, allow_unicode=True))
