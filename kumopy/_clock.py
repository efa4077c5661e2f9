"""Clocks: the time source of one simulated kumod process.

Everything in kumopy that depends on time (memoize TTLs and the 60 second
error cache, for now) asks the process clock, so a test can swap in a
`FakeClock` and move time forward without sleeping.
"""

from __future__ import annotations

import time
from typing import Protocol

from ._duration import parse_duration

__all__ = ["Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    """Anything with a monotonic `now()` in seconds."""

    def now(self) -> float: ...


class SystemClock:
    """The real monotonic clock."""

    def now(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that only moves when told to.

    >>> clock = FakeClock()
    >>> clock.advance("5 minutes")
    >>> clock.now()
    300.0
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, amount: float | int | str) -> None:
        """Move time forward by seconds or a KumoMTA duration string (`"1h 30m"`)."""
        seconds = parse_duration(amount)
        self._now += seconds

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now!r})"
