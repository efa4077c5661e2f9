"""Duration values as KumoMTA accepts and prints them.

KumoMTA reads every duration-typed option (``ttl``, ``max_age``,
``retry_interval``, timeouts, ...) through its ``duration-serde`` crate, which
accepts

* an integer number of seconds (negative values are refused),
* a float number of seconds (converted with Rust's
  ``Duration::from_secs_f64``: rounded to the nearest nanosecond, ties to
  even; negative, NaN and infinite values make kumod panic, here they raise),
* a string in the grammar of the ``humantime`` crate (version 2.4.0), e.g.
  ``"5 minutes"``, ``"1h30m"``, ``"1.5d"``.

When KumoMTA prints a duration back it uses ``humantime::format_duration``
(``"20m"``, ``"7days"``, ``"1h 30m"``).  Both directions are implemented here
on exact integer nanoseconds; the float API is a thin layer on top.

Errors are :class:`DurationError` whose text is the message kumod produces
(serde's ``invalid value: string "x", expected a duration`` and friends).  For
strings, humantime's own explanation, which kumod discards, is kept in
:attr:`DurationError.detail`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Final, NoReturn

from ._text import is_utf8
from ._text import rust_debug as rust_debug_str

__all__ = [
    "DurationError",
    "HumantimeError",
    "format_duration",
    "format_duration_nanos",
    "parse_duration",
    "parse_duration_nanos",
    "parse_humantime",
    "rust_debug_str",
]

NANOS_PER_SEC: Final = 1_000_000_000
_U64_MAX: Final = 2**64 - 1

_SECS_PER_MINUTE: Final = 60
_SECS_PER_HOUR: Final = 3_600
_SECS_PER_DAY: Final = 86_400
_SECS_PER_WEEK: Final = 7 * _SECS_PER_DAY
# humantime's calendar approximations: a month is 30.44 days, a year 365.25 days.
_SECS_PER_MONTH: Final = 2_630_016
_SECS_PER_YEAR: Final = 31_557_600

_EXPECTED: Final = "expected a duration"

# Texts of humantime 2.4.0's error variants.
_MSG_EMPTY: Final = "value was empty"
_MSG_OVERFLOW: Final = (
    "number is too large or cannot be represented without a lack of precision "
    "(values below 1ns are not supported)"
)
_SUPPORTED_UNITS: Final = (
    "ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations)"
)

# Texts of Rust's std errors that duration-serde lets through.
_MSG_NEGATIVE_INT: Final = (
    "duration must either be a string or a positive integer specifying the number "
    "of seconds. (error: out of range integral type conversion attempted)"
)
_MSG_FLOAT_NEGATIVE: Final = "cannot convert float seconds to Duration: value is negative"
_MSG_FLOAT_RANGE: Final = "cannot convert float seconds to Duration: value is either too big or NaN"


class HumantimeError(ValueError):
    """A string that humantime's ``parse_duration`` rejects.

    ``str()`` is humantime's own message, e.g. ``time unit needed, for example
    5sec or 5ms``.
    """


class DurationError(ValueError):
    """A value that KumoMTA would not accept as a duration.

    ``str()`` is the message kumod reports.  ``detail`` carries humantime's
    explanation when the value was a string kumod could not parse (kumod
    itself does not show it), otherwise ``None``.
    """

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


# ---------------------------------------------------------------------------
# humantime grammar
# ---------------------------------------------------------------------------

# unit name -> (factor, factor applies to seconds?) for the integer part of a
# span, and the same for its fractional part (None: fractions not allowed).
_UnitRule = tuple[tuple[int, bool], tuple[int, bool] | None]

_NANO_RULE: Final[_UnitRule] = ((1, False), None)
_MICRO_RULE: Final[_UnitRule] = ((1_000, False), (1_000, False))
_MILLI_RULE: Final[_UnitRule] = ((1_000_000, False), (1_000_000, False))
_SECOND_RULE: Final[_UnitRule] = ((1, True), (NANOS_PER_SEC, False))
_MINUTE_RULE: Final[_UnitRule] = ((_SECS_PER_MINUTE, True), (60 * NANOS_PER_SEC, False))


def _whole_seconds_rule(factor: int) -> _UnitRule:
    return ((factor, True), (factor, True))


_UNITS: Final[dict[str, _UnitRule]] = {
    **dict.fromkeys(("nanos", "nsec", "ns"), _NANO_RULE),
    **dict.fromkeys(("usec", "us", "µs"), _MICRO_RULE),
    **dict.fromkeys(("millis", "msec", "ms"), _MILLI_RULE),
    **dict.fromkeys(("seconds", "second", "secs", "sec", "s"), _SECOND_RULE),
    **dict.fromkeys(("minutes", "minute", "min", "mins", "m"), _MINUTE_RULE),
    **dict.fromkeys(("hours", "hour", "hr", "hrs", "h"), _whole_seconds_rule(_SECS_PER_HOUR)),
    **dict.fromkeys(("days", "day", "d"), _whole_seconds_rule(_SECS_PER_DAY)),
    **dict.fromkeys(("weeks", "week", "wk", "wks", "w"), _whole_seconds_rule(_SECS_PER_WEEK)),
    **dict.fromkeys(("months", "month", "M"), _whole_seconds_rule(_SECS_PER_MONTH)),
    **dict.fromkeys(("years", "year", "yr", "yrs", "y"), _whole_seconds_rule(_SECS_PER_YEAR)),
}

# Rust's char::is_whitespace (the Unicode White_Space property).  Python's
# str.isspace() differs (it accepts U+001C..U+001F, which Rust does not).
_WHITESPACE: Final = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _is_unit_char(char: str) -> bool:
    return ("a" <= char <= "z") or ("A" <= char <= "Z") or char == "µ"


def _checked(value: int) -> int:
    """Mimic u64 checked arithmetic: refuse results that do not fit."""
    if value > _U64_MAX:
        raise HumantimeError(_MSG_OVERFLOW)
    return value


class _HumantimeScanner:
    """One pass over a duration string, accumulating (seconds, nanoseconds).

    Positions are kept as character indices and reported as UTF-8 byte
    offsets, as humantime does.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        offsets = [0]
        for char in text:
            offsets.append(offsets[-1] + len(char.encode("utf-8", "surrogatepass")))
        self._byte_offsets = offsets
        self._secs = 0
        self._nanos = 0

    def _take(self) -> str | None:
        if self._pos >= len(self._text):
            return None
        char = self._text[self._pos]
        self._pos += 1
        return char

    def _invalid_character(self, index: int) -> HumantimeError:
        return HumantimeError(f"invalid character at {self._byte_offsets[index]}")

    def _first_digit(self) -> int | None:
        """Skip whitespace and read the digit that starts the next span."""
        start = self._pos
        while (char := self._take()) is not None:
            if _is_digit(char):
                return int(char)
            if char not in _WHITESPACE:
                raise HumantimeError(f"expected number at {self._byte_offsets[start]}")
        return None

    def _fraction(self, mark: int) -> tuple[tuple[int, int], int]:
        """Digits after a '.'; returns ((numerator, denominator), mark)."""
        numerator, denominator = 0, 1
        while (char := self._take()) is not None:
            if _is_digit(char):
                denominator = _checked(denominator * 10)
                numerator = _checked(numerator * 10 + int(char))
            elif _is_unit_char(char):
                break
            elif char not in _WHITESPACE:
                raise self._invalid_character(mark)
            mark = self._pos
        if denominator == 1:
            raise self._invalid_character(mark)
        return (numerator, denominator), mark

    def run(self) -> int:
        number = self._first_digit()
        if number is None:
            raise HumantimeError(_MSG_EMPTY)
        while True:
            fraction: tuple[int, int] | None = None
            mark = self._pos
            while (char := self._take()) is not None:
                if _is_digit(char):
                    number = _checked(number * 10 + int(char))
                elif _is_unit_char(char):
                    break
                elif char == ".":
                    fraction, mark = self._fraction(mark)
                    break
                elif char not in _WHITESPACE:
                    raise self._invalid_character(mark)
                mark = self._pos
            unit_start = mark
            mark = self._pos
            next_number: int | None = None
            while (char := self._take()) is not None:
                if _is_digit(char):
                    next_number = int(char)
                    break
                if char in _WHITESPACE:
                    break
                if not _is_unit_char(char):
                    raise self._invalid_character(mark)
                mark = self._pos
            self._add_span(number, fraction, self._text[unit_start:mark])
            if next_number is None:
                next_number = self._first_digit()
                if next_number is None:
                    return self._secs * NANOS_PER_SEC + self._nanos
            number = next_number

    def _add_span(self, number: int, fraction: tuple[int, int] | None, unit: str) -> None:
        rule = _UNITS.get(unit)
        if rule is None:
            if not unit:
                raise HumantimeError(f"time unit needed, for example {number}sec or {number}ms")
            raise HumantimeError(f'unknown time unit "{unit}", supported units: {_SUPPORTED_UNITS}')
        whole, partial = rule
        factor, in_seconds = whole
        amount = _checked(number * factor)
        self._accumulate(amount if in_seconds else 0, 0 if in_seconds else amount)
        if fraction is None:
            return
        if partial is None:
            raise HumantimeError(_MSG_OVERFLOW)
        numerator, denominator = fraction
        factor, in_seconds = partial
        scaled = _checked(numerator * factor)
        if scaled % denominator:
            raise HumantimeError(_MSG_OVERFLOW)
        amount = scaled // denominator
        self._accumulate(amount if in_seconds else 0, 0 if in_seconds else amount)

    def _accumulate(self, secs: int, nanos: int) -> None:
        nanos = _checked(self._nanos + nanos)
        if nanos >= NANOS_PER_SEC:
            secs = _checked(secs + nanos // NANOS_PER_SEC)
            nanos %= NANOS_PER_SEC
        # humantime 2.4.0 leaves a carry of exactly one second to
        # Duration::new, which panics where this reports an overflow; the
        # two only differ at the very top of the u64 range.
        self._secs = _checked(self._secs + secs)
        self._nanos = nanos


def parse_humantime(text: str) -> int:
    """Parse ``text`` with humantime's grammar; return integer nanoseconds.

    Raises :class:`HumantimeError` with humantime's message on failure.
    """
    if text == "0":
        return 0
    return _HumantimeScanner(text).run()


# ---------------------------------------------------------------------------
# Conversions of Lua-side values (duration-serde's visitor)
# ---------------------------------------------------------------------------


def _float_to_nanos(value: float) -> int:
    """Rust's ``Duration::from_secs_f64`` on exact integers."""
    if value < 0:
        raise DurationError(_MSG_FLOAT_NEGATIVE)
    if math.isnan(value) or math.isinf(value) or value >= 2.0**64:
        raise DurationError(_MSG_FLOAT_RANGE)
    # Fraction.__round__ rounds half to even, like the std implementation.
    return round(Fraction(value) * NANOS_PER_SEC)


def _invalid_type(unexpected: str) -> DurationError:
    return DurationError(f"invalid type: {unexpected}, {_EXPECTED}")


def parse_duration_nanos(value: object) -> int:
    """Convert a Lua-side duration value to integer nanoseconds.

    Accepts what KumoMTA's duration deserializer accepts: ``int`` seconds,
    ``float`` seconds and humantime strings.  Strings holding lone surrogates
    stand for Lua strings that are not valid UTF-8; mlua hands those to serde
    as bytes, which a duration refuses.  Raises :class:`DurationError`.
    """
    if isinstance(value, bool):
        _reject_type(value)
    if isinstance(value, int):
        if value < 0 or value > _U64_MAX:
            raise DurationError(_MSG_NEGATIVE_INT)
        return value * NANOS_PER_SEC
    if isinstance(value, float):
        return _float_to_nanos(value)
    if isinstance(value, str) and is_utf8(value):
        try:
            return parse_humantime(value)
        except HumantimeError as err:
            raise DurationError(
                f"invalid value: string {rust_debug_str(value)}, {_EXPECTED}", detail=str(err)
            ) from None
    _reject_type(value)


def _reject_type(value: object) -> NoReturn:
    if isinstance(value, bool):
        raise _invalid_type(f"boolean `{'true' if value else 'false'}`")
    if value is None:
        raise _invalid_type("unit value")
    if isinstance(value, str | bytes | bytearray):
        raise _invalid_type("byte array")
    if isinstance(value, Mapping):
        raise _invalid_type("map")
    if isinstance(value, list | tuple):
        raise _invalid_type("sequence")
    kind = "function" if callable(value) else "userdata"
    raise DurationError(f"unsupported value type `{kind}`")


def parse_duration(value: object) -> float:
    """Convert a Lua-side duration value to seconds (see :func:`parse_duration_nanos`)."""
    return float(Fraction(parse_duration_nanos(value), NANOS_PER_SEC))


# ---------------------------------------------------------------------------
# humantime::format_duration
# ---------------------------------------------------------------------------


def format_duration_nanos(nanos: int) -> str:
    """``humantime::format_duration`` of a non-negative nanosecond count."""
    if nanos < 0:
        raise DurationError(_MSG_FLOAT_NEGATIVE)
    secs, subsec = divmod(nanos, NANOS_PER_SEC)
    if secs == 0 and subsec == 0:
        return "0s"
    years, rest = divmod(secs, _SECS_PER_YEAR)
    months, rest = divmod(rest, _SECS_PER_MONTH)
    days, rest = divmod(rest, _SECS_PER_DAY)
    hours, rest = divmod(rest, _SECS_PER_HOUR)
    minutes, seconds = divmod(rest, _SECS_PER_MINUTE)
    millis, rest = divmod(subsec, 1_000_000)
    micros, nanosec = divmod(rest, 1_000)

    parts: list[str] = []
    for amount, name in ((years, "year"), (months, "month"), (days, "day")):
        if amount:
            parts.append(f"{amount}{name}{'s' if amount > 1 else ''}")
    for amount, name in (
        (hours, "h"),
        (minutes, "m"),
        (seconds, "s"),
        (millis, "ms"),
        (micros, "us"),
        (nanosec, "ns"),
    ):
        if amount:
            parts.append(f"{amount}{name}")
    return " ".join(parts)


def format_duration(seconds: float) -> str:
    """``humantime::format_duration`` of a number of seconds.

    Integers are exact; floats are first rounded to whole nanoseconds the way
    ``Duration::from_secs_f64`` does.  Negative, NaN and infinite values raise
    :class:`DurationError`.
    """
    if isinstance(seconds, int) and not isinstance(seconds, bool):
        if seconds < 0:
            raise DurationError(_MSG_NEGATIVE_INT)
        return format_duration_nanos(seconds * NANOS_PER_SEC)
    return format_duration_nanos(_float_to_nanos(float(seconds)))
