"""KumoMTA duration values: humantime 2.4.0 grammar and duration-serde rules."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kumopy._duration import (
    DurationError,
    HumantimeError,
    format_duration,
    format_duration_nanos,
    parse_duration,
    parse_duration_nanos,
    parse_humantime,
    rust_debug_str,
)

NS = 1
US = 1_000
MS = 1_000_000
SEC = 1_000_000_000
MINUTE = 60 * SEC
HOUR = 3_600 * SEC
DAY = 86_400 * SEC
WEEK = 7 * DAY
MONTH = 2_630_016 * SEC
YEAR = 31_557_600 * SEC

UNSUPPORTED = (
    "supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years "
    "(and few variations)"
)
OVERFLOW = (
    "number is too large or cannot be represented without a lack of precision "
    "(values below 1ns are not supported)"
)
NEGATIVE_INT = (
    "duration must either be a string or a positive integer specifying the number "
    "of seconds. (error: out of range integral type conversion attempted)"
)


# -- units ------------------------------------------------------------------

UNIT_SPELLINGS = {
    NS: ["nanos", "nsec", "ns"],
    US: ["usec", "us", "µs"],
    MS: ["millis", "msec", "ms"],
    SEC: ["seconds", "second", "secs", "sec", "s"],
    MINUTE: ["minutes", "minute", "min", "mins", "m"],
    HOUR: ["hours", "hour", "hr", "hrs", "h"],
    DAY: ["days", "day", "d"],
    WEEK: ["weeks", "week", "wk", "wks", "w"],
    MONTH: ["months", "month", "M"],
    YEAR: ["years", "year", "yr", "yrs", "y"],
}


@pytest.mark.parametrize(
    ("unit", "scale"),
    [(unit, scale) for scale, units in UNIT_SPELLINGS.items() for unit in units],
)
def test_every_unit_spelling(unit: str, scale: int) -> None:
    assert parse_humantime(f"7{unit}") == 7 * scale
    assert parse_humantime(f"7 {unit}") == 7 * scale


def test_units_are_case_sensitive() -> None:
    assert parse_humantime("1m") == MINUTE
    assert parse_humantime("1M") == MONTH
    with pytest.raises(HumantimeError, match="unknown time unit"):
        parse_humantime("5 Minutes")


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("0", 0),
        ("5 minutes", 5 * MINUTE),
        ("1h30m", HOUR + 30 * MINUTE),
        ("1h 30m", HOUR + 30 * MINUTE),
        ("2 hours 37 min", 2 * HOUR + 37 * MINUTE),
        ("  2h  ", 2 * HOUR),
        ("20 min 17 nsec ", 20 * MINUTE + 17),
        ("1 2s", 12 * SEC),  # whitespace inside a number is skipped
        ("1.5h", 90 * MINUTE),
        ("4.2s", 4 * SEC + 200 * MS),
        ("0.5h", 30 * MINUTE),
        ("1. 5s", 1500 * MS),
        ("1 .5s", 1500 * MS),
        ("3.001us", 3001),
        ("31.000001ms", 31_000_001),
        ("1.123456789s", SEC + 123_456_789),
        ("1.5d", 36 * HOUR),
        ("12.1min", 726 * SEC),
        ("1.234s0.345ms0.678us0ns", SEC + 234_345_678),
        ("18446744073709551615ns", 18_446_744_073_709_551_615),
        ("5µs", 5 * US),
        ("1h\n", HOUR),
        ("0s", 0),
        ("00", None),
    ],
)
def test_parse_humantime(text: str, nanos: int | None) -> None:
    if nanos is None:
        with pytest.raises(HumantimeError):
            parse_humantime(text)
    else:
        assert parse_humantime(text) == nanos


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "value was empty"),
        ("   ", "value was empty"),
        ("\r", "value was empty"),
        ("\0", "expected number at 0"),
        (".1s", "expected number at 0"),
        ("µs", "expected number at 0"),
        ("5s  x", "expected number at 3"),  # the offset where the scan started
        ("1~", "invalid character at 1"),
        ("1Nå", "invalid character at 2"),
        ("5s,3m", "invalid character at 2"),
        ("-5s", "expected number at 0"),
        ("5_000s", "invalid character at 1"),
        ("1.s", "invalid character at 1"),
        ("1..s", "invalid character at 1"),
        ("1.", "invalid character at 1"),
        ("1. s", "invalid character at 3"),
        ("1.5-s", "invalid character at 3"),
        ("é5s", "expected number at 0"),
        ("5sé", "invalid character at 2"),
        ("5s 1é", "invalid character at 4"),  # byte offsets
        ("123", "time unit needed, for example 123sec or 123ms"),
        ("10 months 1", "time unit needed, for example 1sec or 1ms"),
        ("1.5", "time unit needed, for example 1sec or 1ms"),
        ("10nights", f'unknown time unit "nights", {UNSUPPORTED}'),
        ("5 Minutes", f'unknown time unit "Minutes", {UNSUPPORTED}'),
        ("222nsec221nanosmsec7s5msec572s", f'unknown time unit "nanosmsec", {UNSUPPORTED}'),
        ("0.000123456789s", OVERFLOW),
        ("17.5nsec", OVERFLOW),
        ("3.0001us", OVERFLOW),
        ("31.0000001ms", OVERFLOW),
        ("1.0000000002s", OVERFLOW),
        ("0.001h", OVERFLOW),  # 3.6s: hours' fractions must be whole seconds
        ("0.00000005d", OVERFLOW),
        ("100000000000000000000ns", OVERFLOW),
        ("100000000000000ms", OVERFLOW),
        ("10000000000000y", OVERFLOW),
        ("18446744073709551615s 1s", OVERFLOW),
        ("1ns 18446744073709551615ns", OVERFLOW),
        ("0." + "0" * 20 + "1s", OVERFLOW),
    ],
)
def test_humantime_errors(text: str, message: str) -> None:
    with pytest.raises(HumantimeError) as info:
        parse_humantime(text)
    assert str(info.value) == message


def test_order_dependent_overflow_like_humantime() -> None:
    # Carries are normalised after each span, so this order is fine...
    assert parse_humantime("18446744073709551615ns 1ns") == 18_446_744_073_709_551_616
    # ...while the reverse order overflows the nanosecond accumulator.
    with pytest.raises(HumantimeError):
        parse_humantime("1ns 18446744073709551615ns")


# -- values from Lua (duration-serde) ----------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0.0),
        (15, 15.0),
        (15.0, 15.0),
        (1.5, 1.5),
        (-0.0, 0.0),
        (1e-20, 0.0),
        ("15 seconds", 15.0),
        ("5 minutes", 300.0),
        ("1h 30m", 5400.0),
        ("32ms", 0.032),
    ],
)
def test_parse_duration_accepts(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


def test_float_seconds_round_to_nearest_nanosecond() -> None:
    assert parse_duration_nanos(4.2e-7) == 420
    assert parse_duration_nanos(2.7) == 2 * SEC + 700 * MS
    assert parse_duration_nanos(0.999e-9) == 1
    assert parse_duration_nanos(0.4e-9) == 0


def test_bad_string_message() -> None:
    with pytest.raises(DurationError) as info:
        parse_duration("5 Minutes")
    assert str(info.value) == 'invalid value: string "5 Minutes", expected a duration'
    assert info.value.detail == f'unknown time unit "Minutes", {UNSUPPORTED}'


def test_bad_string_is_rust_debug_quoted() -> None:
    with pytest.raises(DurationError) as info:
        parse_duration('a "b"\n\t\\')
    assert str(info.value) == r'invalid value: string "a \"b\"\n\t\\", expected a duration'


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, NEGATIVE_INT),
        (2**64, NEGATIVE_INT),
        (-1.5, "cannot convert float seconds to Duration: value is negative"),
        (-1e-20, "cannot convert float seconds to Duration: value is negative"),
        (math.nan, "cannot convert float seconds to Duration: value is either too big or NaN"),
        (math.inf, "cannot convert float seconds to Duration: value is either too big or NaN"),
        (2.0**64, "cannot convert float seconds to Duration: value is either too big or NaN"),
        (True, "invalid type: boolean `true`, expected a duration"),
        (False, "invalid type: boolean `false`, expected a duration"),
        (None, "invalid type: unit value, expected a duration"),
        ({"a": 1}, "invalid type: map, expected a duration"),
        ({}, "invalid type: map, expected a duration"),
        ([1, 2], "invalid type: sequence, expected a duration"),
        ("5m\udcff", "invalid type: byte array, expected a duration"),
        (b"5m", "invalid type: byte array, expected a duration"),
        (print, "unsupported value type `function`"),
        (object(), "unsupported value type `userdata`"),
    ],
)
def test_parse_duration_rejects(value: object, message: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(value)
    assert str(info.value) == message
    assert info.value.detail is None


def test_duration_error_is_a_value_error() -> None:
    assert issubclass(DurationError, ValueError)
    assert issubclass(HumantimeError, ValueError)


def test_rust_debug_str() -> None:
    assert rust_debug_str("plain 'x'") == "\"plain 'x'\""
    assert rust_debug_str("\0\r") == '"\\0\\r"'
    assert rust_debug_str("\x1b\u200b") == '"\\u{1b}\\u{200b}"'
    assert rust_debug_str("e\u0301") == '"e\\u{301}"'
    assert rust_debug_str("é ü") == '"é ü"'


# -- humantime::format_duration ---------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.0, "0s"),
        (60, "1m"),
        (1200, "20m"),
        (5400, "1h 30m"),
        (9420, "2h 37m"),
        (86_400, "1day"),
        (604_800, "7days"),
        (2_630_016, "1month"),
        (2 * 2_630_016, "2months"),
        (31_557_600, "1year"),
        (2 * 31_557_600 + 86_400 + 1, "2years 1day 1s"),
        (0.032, "32ms"),
        (1.5, "1s 500ms"),
        (0.000123, "123us"),
        (3661.000001001, "1h 1m 1s 1us 1ns"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_duration_nanos() -> None:
    assert format_duration_nanos(7) == "7ns"
    assert format_duration_nanos(SEC + 2 * MS + 3 * US + 4) == "1s 2ms 3us 4ns"


@pytest.mark.parametrize("bad", [-1, -0.5, math.nan, math.inf])
def test_format_duration_rejects(bad: float) -> None:
    with pytest.raises(DurationError):
        format_duration(bad)


@given(st.integers(min_value=0, max_value=253_370_764_800 * SEC + SEC - 1))
def test_format_then_parse_round_trips(nanos: int) -> None:
    assert parse_humantime(format_duration_nanos(nanos)) == nanos


@given(st.integers(min_value=0, max_value=10**12))
def test_integer_seconds_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds
    assert parse_duration(seconds) == seconds


@given(st.floats(min_value=0, max_value=1e12, allow_nan=False))
def test_float_seconds_within_half_a_nanosecond(seconds: float) -> None:
    nanos = parse_duration_nanos(seconds)
    assert abs(nanos - seconds * SEC) <= 0.5 + abs(seconds) * SEC * 2**-52


@given(st.text(alphabet="0123456789 .hmsdwyMµnu~", max_size=20))
def test_parser_only_raises_humantime_errors(text: str) -> None:
    try:
        assert parse_humantime(text) >= 0
    except HumantimeError:
        pass
