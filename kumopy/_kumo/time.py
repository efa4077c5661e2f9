"""`kumo.time.*` and `kumo.sleep` (kumod: crates/mod-time), on the
Policy's clock.

`kumo.time.now()` reads the process clock: with the default clock it is
the real UTC time; with a `FakeClock` it is `clock.now()` taken as Unix
seconds (`FakeClock(start=1_700_000_000)` starts in November 2023), and
`kumo.sleep(s)` / `kumo.time.sleep(s)` advance the fake clock instead of
sleeping.  `elapsed` and timers measure on the same clock.

Time objects (chrono `DateTime<Utc>`, nanosecond precision) have the
fields `year`, `month`, `day`, `hour`, `minute`, `second`,
`unix_timestamp`, `unix_timestamp_millis`, `rfc2822`, `rfc3339`,
`elapsed`, the method `format(strftime)`, `==`, `t + delta`, `t - delta`
and `t1 - t2` (a TimeDelta).  TimeDelta objects have `seconds` (float),
`milliseconds`, `microseconds`, `nanoseconds`, `human`, `==`, `+`, `-`.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import math
import re
import time as _time
from email.utils import parsedate_tz
from typing import TYPE_CHECKING, Any, ClassVar

from .._clock import SystemClock
from .._duration import HumantimeError, format_duration_nanos, parse_humantime
from .._errors import BudgetExceeded, KumoError
from ._args import ArgConversionError
from ._lib import LibObject, enable_operators, float_arg, int_arg, rust_string

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["Time", "TimeDelta", "now_nanos", "register"]

NS = 1_000_000_000
_MIN_NS = -8_334_632_851_200 * NS  # chrono's range, roughly years -262143..262142
_MAX_NS = 8_210_298_412_799 * NS
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def now_nanos(state: LuaState) -> int:
    clock = state.process.clock
    if isinstance(clock, SystemClock):
        return _time.time_ns()
    return round(clock.now() * NS)


def _frac(nanos: int) -> str:
    """chrono's automatic fraction: nothing, 3, 6 or 9 digits."""
    if nanos == 0:
        return ""
    if nanos % 1_000_000 == 0:
        return f".{nanos // 1_000_000:03d}"
    if nanos % 1_000 == 0:
        return f".{nanos // 1_000:06d}"
    return f".{nanos:09d}"


class Time(LibObject):
    lua_type_name = "Time"

    def __init__(self, nanos: int) -> None:
        if not _MIN_NS <= nanos <= _MAX_NS:
            raise KumoError("invalid timestamp")
        self.nanos = nanos

    @property
    def dt(self) -> _dt.datetime:
        secs = self.nanos // NS
        return _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(seconds=secs)

    @property
    def subsec(self) -> int:
        return self.nanos % NS

    def field(self, state: LuaState, name: str) -> Any:
        d = self.dt
        if name in ("year", "month", "day", "hour", "minute", "second"):
            return getattr(d, name)
        if name == "unix_timestamp":
            return self.nanos // NS
        if name == "unix_timestamp_millis":
            return self.nanos // 1_000_000
        if name == "rfc3339":
            return state.to_lua(d.strftime("%Y-%m-%dT%H:%M:%S") + _frac(self.subsec) + "+00:00")
        if name == "rfc2822":
            return state.to_lua(
                f"{_WEEKDAYS[d.weekday()]}, {d.day} {_MONTHS[d.month - 1]} {d.year:04d} "
                f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} +0000"
            )
        if name == "elapsed":
            enable_operators(state)
            return TimeDelta(now_nanos(state) - self.nanos)
        raise AttributeError(name)

    def format(self, state: LuaState, fmt: Any = None) -> Any:
        return state.to_lua(strftime(self, rust_string(fmt)))

    methods: ClassVar[dict[str, Any]] = {"format": format}

    def lua_eq(self, state: LuaState, other: Any) -> bool:
        return isinstance(other, Time) and other.nanos == self.nanos

    def lua_add(self, state: LuaState, other: Any) -> Time:
        if not isinstance(other, TimeDelta):
            raise ArgConversionError(other, "userdata")
        return _checked_time(self.nanos + other.nanos)

    def lua_sub(self, state: LuaState, other: Any) -> Any:
        if isinstance(other, Time):
            return TimeDelta(self.nanos - other.nanos)
        if isinstance(other, TimeDelta):
            return _checked_time(self.nanos - other.nanos)
        raise KumoError(
            "could not represent argument as either Time (userdata is not expected type) or "
            "TimeDelta (userdata is not expected type"
        )

    def __str__(self) -> str:
        return self.dt.strftime("%Y-%m-%d %H:%M:%S") + _frac(self.subsec) + " UTC"


def _checked_time(nanos: int) -> Time:
    if not _MIN_NS <= nanos <= _MAX_NS:
        raise KumoError("time would overflow")
    return Time(nanos)


def _trunc_div(n: int, d: int) -> int:
    """Integer division rounding toward zero, as chrono's num_* do."""
    q = abs(n) // d
    return q if n >= 0 else -q


class TimeDelta(LibObject):
    lua_type_name = "TimeDelta"

    def __init__(self, nanos: int) -> None:
        self.nanos = nanos

    def _human(self) -> str:
        if self.nanos < 0:
            raise KumoError("value out of range")
        return format_duration_nanos(self.nanos)

    def field(self, state: LuaState, name: str) -> Any:
        if name == "seconds":
            return self.nanos / NS
        if name == "milliseconds":
            return _trunc_div(self.nanos, 1_000_000)
        if name == "microseconds":
            return _trunc_div(self.nanos, 1_000)
        if name == "nanoseconds":
            return self.nanos if -(2**63) <= self.nanos < 2**63 else None
        if name == "human":
            return state.to_lua(self._human())
        raise AttributeError(name)

    def lua_eq(self, state: LuaState, other: Any) -> bool:
        return isinstance(other, TimeDelta) and other.nanos == self.nanos

    def lua_add(self, state: LuaState, other: Any) -> Any:
        if not isinstance(other, TimeDelta):
            raise ArgConversionError(other, "userdata")
        return TimeDelta(self.nanos + other.nanos)

    def lua_sub(self, state: LuaState, other: Any) -> Any:
        if not isinstance(other, TimeDelta):
            raise ArgConversionError(other, "userdata")
        return TimeDelta(self.nanos - other.nanos)

    def __str__(self) -> str:
        try:
            return self._human()
        except KumoError:
            return f"-{format_duration_nanos(-self.nanos)}"


_SPEC = re.compile(r"%(\.?[369]?f|:z|[-_0]?[a-zA-Z%+])")


def strftime(t: Time, fmt: str) -> str:
    """chrono's strftime for the common specifiers (chrono's `%f` is
    nanoseconds; `%.f`/`%.3f`/`%.6f`/`%.9f` fractions; `%s` timestamp)."""
    d = t.dt
    sub = t.subsec

    def one(m: re.Match[str]) -> str:
        spec = m.group(1)
        if spec == "f":
            return f"{sub:09d}"
        if spec == ".f":
            return _frac(sub)
        if spec in ("3f", ".3f"):
            return ("." if spec[0] == "." else "") + f"{sub // 1_000_000:03d}"
        if spec in ("6f", ".6f"):
            return ("." if spec[0] == "." else "") + f"{sub // 1_000:06d}"
        if spec in ("9f", ".9f"):
            return ("." if spec[0] == "." else "") + f"{sub:09d}"
        if spec == "s":
            return str(t.nanos // NS)
        if spec == "z":
            return "+0000"
        if spec == ":z":
            return "+00:00"
        if spec == "Z":
            return "UTC"
        if spec == "+":
            return d.strftime("%Y-%m-%dT%H:%M:%S") + _frac(sub) + "+00:00"
        if spec == "e":
            return f"{d.day:2d}"
        if len(spec) == 2 and spec[0] in "-_0":
            base = d.strftime("%" + spec[1])
            if spec[0] == "-":
                return base.lstrip("0") or "0"
            if spec[0] == "_":
                return base.replace("0", " ", 1) if base.startswith("0") else base
            return base
        if spec == "%":
            return "%"
        try:
            return d.strftime("%" + spec)
        except ValueError:
            return m.group(0)

    return _SPEC.sub(one, fmt)


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)


def parse_rfc3339(text: str) -> Time:
    m = _RFC3339.fullmatch(text)
    if m is None:
        probe = "2000-01-01T00:00:00Z"
        if len(text) < len(probe) and re.fullmatch(r"[0-9:Tt+\-. Zz]*", text):
            raise KumoError("premature end of input")
        raise KumoError("input contains invalid characters")
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7) or ""
    nanos = int((frac[1:] + "000000000")[:9]) if frac else 0
    tz = m.group(8)
    offset = 0
    if tz not in ("Z", "z"):
        sign = -1 if tz[0] == "-" else 1
        offset = sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
        if int(tz[1:3]) > 23 or int(tz[4:6]) > 59:
            raise KumoError("input is out of range")
    if s == 60:
        s = 59  # chrono keeps a leap second in the fraction; close enough
        nanos += NS
    try:
        base = calendar.timegm(_dt.datetime(y, mo, d, h, mi, s).timetuple())
    except ValueError:
        raise KumoError("input is out of range") from None
    return Time((base - offset) * NS + nanos)


def parse_rfc2822(text: str) -> Time:
    parsed = parsedate_tz(text)
    if parsed is None:
        raise KumoError(f"invalid RFC 2822 date: {text}")
    offset = parsed[9] or 0
    try:
        base = calendar.timegm((*parsed[:6], 0, 0, 0))
    except (ValueError, OverflowError):
        raise KumoError(f"invalid RFC 2822 date: {text}") from None
    return Time((base - offset) * NS)


def _from_unix(state: LuaState, seconds: Any = None) -> Time:
    enable_operators(state)
    if isinstance(seconds, int) and not isinstance(seconds, bool):
        if abs(seconds) > _MAX_NS // NS:
            raise KumoError("invalid timestamp")
        return Time(seconds * NS)
    if isinstance(seconds, float):
        if not math.isfinite(seconds) or abs(seconds) > _MAX_NS // NS:
            raise KumoError("invalid timestamp")
        whole = math.trunc(seconds)
        # Rust's `as u32` saturates: a negative fraction becomes 0
        nanos = max(0, int((seconds - whole) * 1e9))
        return Time(whole * NS + nanos)
    raise KumoError("timestamp must be either an integer or floating point number of seconds")


def _with_ymd_hms(state: LuaState, *args: Any) -> Time:
    enable_operators(state)
    padded = list(args[:6]) + [None] * (6 - len(args[:6]))
    year = int_arg(padded[0], "i32", -(2**31), 2**31 - 1)
    rest = [int_arg(v, "u32", 0, 2**32 - 1) for v in padded[1:]]
    mo, d, h, mi, s = rest
    try:
        base = calendar.timegm(_dt.datetime(year, mo, d, h, mi, s).timetuple())
    except (ValueError, OverflowError):
        raise KumoError("time cannot be represented due to a gap in local time") from None
    return Time(base * NS)


#: std::time::Duration's limit: u64::MAX seconds (and a bit)
_STD_DURATION_LIMIT = 2.0**64
#: chrono::TimeDelta's limit: i64::MAX milliseconds
_TIMEDELTA_MAX_NANOS = (2**63 - 1) * 1_000_000


def _std_duration_nanos(seconds: float) -> int:
    """Rust's `Duration::from_secs_f64` (whose panic kumod would hit) in
    nanoseconds: negative, NaN or too large values are refused with the
    panic's text."""
    if seconds < 0:
        raise KumoError("cannot convert float seconds to Duration: value is negative")
    if not seconds < _STD_DURATION_LIMIT:  # NaN and infinity too
        raise KumoError("cannot convert float seconds to Duration: value is either too big or NaN")
    return round(seconds * NS)


def _parse_duration(state: LuaState, value: Any = None) -> TimeDelta:
    enable_operators(state)
    if isinstance(value, bool) or value is None:
        raise KumoError("invalid duration value")
    if isinstance(value, int):
        if abs(value) > 2**63 // 1000:
            raise KumoError("seconds out of range")
        return TimeDelta(value * NS)
    if isinstance(value, float):
        nanos = _std_duration_nanos(value)
        if nanos > _TIMEDELTA_MAX_NANOS:
            # chrono::TimeDelta::from_std
            raise KumoError("Source duration value is out of range for the target type")
        return TimeDelta(nanos)
    if isinstance(value, bytes):
        try:
            return TimeDelta(parse_humantime(rust_string(value)))
        except HumantimeError as e:
            raise KumoError(str(e)) from None
    raise KumoError("invalid duration value")


def _sleep(state: LuaState, seconds: Any = None) -> None:
    nanos = _std_duration_nanos(float_arg(seconds))
    clock = state.process.clock
    advance = getattr(clock, "advance", None)
    if advance is not None:
        advance(nanos / NS)
        return
    budget = state.budget_seconds
    if state.deadline is not None and budget is not None and nanos / NS > budget:
        # sleeping uses no CPU time: a long sleep would outlast the budget
        # without ever tripping it
        raise BudgetExceeded(
            f"kumopy: kumo.sleep({nanos / NS:g}) would sleep longer than the handler's "
            f"CPU budget of {budget:g} seconds; stopped"
        )
    remaining = nanos / NS
    while remaining > 0:  # time.sleep() refuses more than time_t can hold
        step = min(remaining, 86400.0)
        _time.sleep(step)
        remaining -= step


class Timer(LibObject):
    lua_type_name = "Timer"

    def __init__(self, label: str, start: int) -> None:
        self.label = label
        self.start = start
        self.running = True

    def done(self, state: LuaState, *_: Any) -> Any:
        if not self.running:
            return None
        self.running = False
        return (now_nanos(state) - self.start) / NS

    def lua_close(self, state: LuaState) -> None:
        self.done(state)

    methods: ClassVar[dict[str, Any]] = {"done": done}


def _start_timer(state: LuaState, label: Any = None) -> Timer:
    enable_operators(state)
    return Timer(rust_string(label), now_nanos(state))


def _now(state: LuaState, *_: Any) -> Time:
    enable_operators(state)
    return Time(now_nanos(state))


def _parse_rfc3339(state: LuaState, text: Any = None) -> Time:
    enable_operators(state)
    return parse_rfc3339(rust_string(text))


def _parse_rfc2822(state: LuaState, text: Any = None) -> Time:
    enable_operators(state)
    return parse_rfc2822(rust_string(text))


def register(kumo: Namespace) -> None:
    clock = "on the Policy clock (FakeClock: clock.now() as Unix seconds)"
    kumo.function("time.now", _now, notes=clock)
    kumo.function("time.from_unix_timestamp", _from_unix)
    kumo.function("time.with_ymd_hms", _with_ymd_hms)
    kumo.function(
        "time.parse_rfc3339",
        _parse_rfc3339,
        notes="chrono's grammar; error texts are chrono's main ones",
    )
    kumo.function(
        "time.parse_rfc2822",
        _parse_rfc2822,
        notes="Python's email.utils parser (kumod: mailparsing); error text differs",
    )
    kumo.function("time.parse_duration", _parse_duration)
    kumo.function(
        "time.sleep",
        _sleep,
        aliases=("sleep",),
        notes="a FakeClock is advanced instead of sleeping",
    )
    kumo.function(
        "time.start_timer",
        _start_timer,
        notes="done()/<close> return the elapsed seconds on the Policy clock; no metrics",
    )
