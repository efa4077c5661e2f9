"""JSON: serde_json's reader (after json_comments) and mlua + serde_json's writer."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Final

from ._common import (
    _I64_MIN,
    _U64_MAX,
    UNMETERED,
    FormatError,
    Meter,
    _as_utf8,
    _echo,
    _format_float,
    _Guard,
    _lua_type_name,
    _read_file,
    _to_bytes,
)
from ._json_comments import (
    _BACKSLASH,
    _INVALID_DATA,
    _QUOTE,
    _SLASH,
    _STRIP_OK_AT_EOF,
    _run_end,
    _Strip,
    _strip_comments,
    _strip_step,
)

# ---------------------------------------------------------------------------
# JSON parsing: serde_json's from_reader over json_comments' StripComments
# ---------------------------------------------------------------------------

_RECURSION_LIMIT: Final = 128
#: Lua memory of one array element or object entry, about (for the Meter)
_VALUE_BYTES: Final = 64
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

    def __init__(self, source: _JsonSource, meter: Meter = UNMETERED) -> None:
        self._src = source
        self._remaining_depth = _RECURSION_LIMIT
        self._meter = meter

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
            self._meter.add(_VALUE_BYTES)

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
            self._meter.add(_VALUE_BYTES + len(key))

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


def _parse_json_bytes(raw: bytes, label: str, meter: Meter = UNMETERED) -> object:
    try:
        return _JsonParser(_JsonSource(raw), meter).document()
    except _JsonError as err:
        raise FormatError(f"parsing {label} as json: {err.render()}") from None


def parse_json(text: str, *, source: str | None = None, meter: Meter = UNMETERED) -> object:
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
    label = source if source is not None else _echo(text)
    return _parse_json_bytes(_to_bytes(text), label, meter)


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


def _json_string(text: str) -> str:
    return '"' + text.translate(_JSON_ESCAPES) + '"'


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
