"""kumod's Scheduling spec (crates/message scheduling.rs): `dow`, `tz`,
`start`, `end` (a daily delivery window, all four or none), `first_attempt`
and `expires` (RFC 3339 timestamps)."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["SchedulingError", "parse_scheduling"]

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WINDOW = ("dow", "tz", "start", "end")


class SchedulingError(ValueError):
    pass


def _time(label: str, value: Any) -> _dt.time:
    if not isinstance(value, str):
        raise SchedulingError(f"{label}: invalid type: expected a time string")
    for fmt in ("%H:%M:%S", "%H:%M"):
        try:
            return _dt.datetime.strptime(value, fmt).time()
        except ValueError:
            pass
    raise SchedulingError(f"{label}: input contains invalid characters")


def _stamp(label: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SchedulingError(f"{label}: invalid type: expected an RFC 3339 date-time")
    try:
        parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SchedulingError(f"{label}: input contains invalid characters") from None
    if parsed.tzinfo is None:
        raise SchedulingError(f"{label}: premature end of input")
    return parsed.isoformat()


def parse_scheduling(spec: Any) -> dict[str, Any]:
    """Validate a Scheduling spec (plain data); returns it normalised as
    kumod serialises it back."""
    if not isinstance(spec, dict):
        raise SchedulingError(
            f"invalid type: {type(spec).__name__}, expected a map containing the Scheduling spec"
        )
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "dow":
            if not isinstance(value, str):
                raise SchedulingError("dow: invalid type: expected a string")
            for day in value.split(","):
                if not any(day.lower() in (d.lower(), d[:3].lower()) for d in _DAYS):
                    raise SchedulingError(f"dow: invalid day '{day}'")
            out["dow"] = value
        elif key == "tz":
            try:
                ZoneInfo(str(value))
            except (ZoneInfoNotFoundError, ValueError):
                raise SchedulingError(f"tz: '{value}' is not a valid timezone") from None
            out["tz"] = value
        elif key in ("start", "end"):
            out[key] = _time(key, value).isoformat()
        elif key in ("first_attempt", "expires"):
            out[key] = _stamp(key, value)
        else:
            raise SchedulingError(f"invalid field name {key}")
    present = [k for k in _WINDOW if k in out]
    if present:
        missing = [k for k in _WINDOW if k not in out]
        if missing:
            is_are = "is" if len(missing) == 1 else "are"
            raise SchedulingError(
                "scheduling restrictions requires all restriction fields to be present. "
                f"{', '.join(missing)} {is_are} missing"
            )
        if _time("start", out["start"]) >= _time("end", out["end"]):
            raise SchedulingError(
                "'start' must be before 'end' and define a time window within a given day. "
                f"start={out['start']}, end={out['end']}"
            )
    return out


def loads(text: bytes) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise SchedulingError(str(e)) from None
    return parse_scheduling(value)
