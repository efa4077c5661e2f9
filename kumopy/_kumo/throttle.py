"""`kumo.make_throttle(name, spec)` (kumod: crates/kumod mod_kumo.rs and
crates/throttle), in memory on the Policy's clock.

kumod's throttles without Redis are GCRA limiters (the redis-cell
algorithm) kept per process under the key
`lua-user-throttle-<name>:<limit>:<burst>:<period>`; kumopy keeps them per
Policy and reads time from the Policy clock, so with a `FakeClock` a test
controls exactly when the limit opens again.  `sleep_if_throttled()`
advances a FakeClock (or sleeps on the real clock) until allowed.

Methods: `throttle()` -> `{throttled, limit, remaining, reset_after,
retry_after}` (durations as `{secs=, nanos=}` tables, retry_after the null
sentinel when not throttled, as kumod's serializer gives them),
`sleep_if_throttled()` -> whether it had to wait, `explain()` -> kumod's
explanation text, `delay_message_if_throttled(msg)` is not supported.
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from .._clock import SystemClock
from .._errors import KumoError
from ._lib import LibObject, rust_string
from ._schema import throttle_spec, throttle_text

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["ThrottleResult", "gcra", "register"]

NS = 1_000_000_000


@dataclass(frozen=True)
class ThrottleResult:
    throttled: bool
    limit: int
    remaining: int
    reset_after: int  # whole seconds
    retry_after: int | None  # whole seconds


def _whole_seconds_ceil(nanos: int) -> int:
    """kumod: whole seconds, plus one when there are leftover milliseconds."""
    secs = int(nanos / NS)
    millis = int((nanos - secs * NS) / 1_000_000)
    return secs + 1 if millis > 0 else secs


def gcra(
    store: dict[str, int],
    key: str,
    now: int,
    limit: int,
    period: int,
    max_burst: int,
    quantity: int = 1,
) -> ThrottleResult:
    """One redis-cell rate_limit call (times in nanoseconds)."""
    burst = min(max_burst, limit - 1)
    emission = (period * NS) // limit
    tolerance = emission * (burst + 1)
    increment = emission * quantity
    tat = store.get(key, now)
    new_tat = (now if now > tat else tat) + increment
    allow_at = new_tat - tolerance
    diff = now - allow_at
    retry_after = -NS
    if diff < 0:
        if increment <= tolerance:
            retry_after = -diff
        ttl = tat - now
        throttled = True
    else:
        ttl = new_tat - now
        store[key] = new_tat
        throttled = False
    nxt = tolerance - ttl
    remaining = 0
    if nxt > -emission:
        em_us = int(emission / 1000) or 1
        remaining = int(int(nxt / 1000) / em_us)
    retry = _whole_seconds_ceil(retry_after)
    reset = _whole_seconds_ceil(ttl)
    return ThrottleResult(
        throttled=throttled,
        limit=burst + 1,
        remaining=max(remaining, 0),
        reset_after=max(reset, 0),
        retry_after=None if retry <= 0 else retry,
    )


def _now(state: LuaState) -> int:
    clock = state.process.clock
    if isinstance(clock, SystemClock):
        return _time.monotonic_ns()
    return round(clock.now() * NS)


def _number(n: float) -> str:
    if n < 1.0:
        return f"{n:.3f}"
    return f"{math.ceil(n):,}"


def _rates(rate: float) -> str:
    return (
        f"{_number(rate)}/s, {_number(rate * 60)}/m, {_number(rate * 3600)}/h, "
        f"{_number(rate * 86400)}/d"
    )


def explain(spec: tuple[int, int, int | None, bool]) -> str:
    from .._duration import format_duration_nanos

    limit, period, max_burst, _local = spec
    burst = max_burst if max_burst is not None else limit
    interval_ns = round(period * NS / max(limit, 1))
    spec_rate = limit / period
    burst_rate = burst / (interval_ns / NS)
    kind = "implied" if max_burst is None else "explicit"
    return (
        f"{throttle_text(spec)}\n{kind} burst rate {burst} every "
        f"{format_duration_nanos(interval_ns)}, or: {_rates(burst_rate)} in that period.\n"
        f"overall rate {_rates(spec_rate)}"
    )


class UserThrottle(LibObject):
    lua_type_name = "UserThrottle"

    def __init__(self, name: str, spec: tuple[int, int, int | None, bool]) -> None:
        self.name = name
        self.spec = spec

    @property
    def key(self) -> str:
        limit, period, burst, _ = self.spec
        return f"{self.name}:{limit}:{burst if burst is not None else limit}:{period}"

    def check(self, state: LuaState) -> ThrottleResult:
        limit, period, burst, local = self.spec
        max_burst = burst if burst is not None else limit
        if not local:
            from .redis import gcra_in_redis, throttle_backend

            client = throttle_backend(state).get("client")
            if client is not None:
                # shared with every process using the server: wall-clock time
                clock = state.process.clock
                now = (
                    _time.time_ns()
                    if isinstance(clock, SystemClock)
                    else round(clock.now() * NS)
                )
                return gcra_in_redis(  # type: ignore[no-any-return]
                    client,
                    self.key,
                    now,
                    lambda store: gcra(store, self.key, now, limit, period, max_burst),
                )
        store: dict[str, int] = state.process.service("throttle", dict)
        return gcra(store, self.key, _now(state), limit, period, max_burst)

    def throttle(self, state: LuaState, *_: Any) -> Any:
        from .constructors import to_lua_with_null

        r = self.check(state)
        return to_lua_with_null(
            state,
            {
                "throttled": r.throttled,
                "limit": r.limit,
                "remaining": r.remaining,
                "reset_after": {"secs": r.reset_after, "nanos": 0},
                "retry_after": None
                if r.retry_after is None
                else {"secs": r.retry_after, "nanos": 0},
            },
        )

    def sleep_if_throttled(self, state: LuaState, *_: Any) -> bool:
        waited = False
        for _attempt in range(10_000):
            r = self.check(state)
            if r.retry_after is None:
                return waited
            waited = True
            advance = getattr(state.process.clock, "advance", None)
            if advance is not None:
                advance(float(r.retry_after))
            else:
                _time.sleep(r.retry_after)
        raise KumoError("sleep_if_throttled: the throttle never opened")

    def explain(self, state: LuaState, *_: Any) -> Any:
        return state.to_lua(explain(self.spec))

    def delay(self, state: LuaState, *_: Any) -> Any:
        raise KumoError("kumopy: UserThrottle:delay_message_if_throttled is not supported")

    methods: ClassVar[dict[str, Any]] = {
        "throttle": throttle,
        "sleep_if_throttled": sleep_if_throttled,
        "explain": explain,
        "delay_message_if_throttled": delay,
    }


def _make_throttle(state: LuaState, name: Any = None, spec: Any = None) -> UserThrottle:
    n = rust_string(name)
    text = rust_string(spec)
    try:
        parsed = throttle_spec(text)
    except ValueError as e:
        raise KumoError(str(e)) from None
    return UserThrottle(f"lua-user-throttle-{n}", parsed)


def register(kumo: Namespace) -> None:
    kumo.function(
        "make_throttle",
        _make_throttle,
        notes="in-memory GCRA (kumod's local limiter) per Policy, on the Policy clock; "
        "with configure_redis_throttles and --network, kept in that Redis server; "
        "delay_message_if_throttled "
        "not supported",
    )
