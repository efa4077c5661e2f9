"""`kumo.counter_series.define{...}` (kumod: crates/mod-counter-series,
kumo-counter-series): a named, process-wide ring of time buckets.

`define{name, num_buckets, bucket_size, initial_value}` returns a handle on
the series called `name`; defining the same name with the same shape
returns the same series (its counts kept, `initial_value` ignored), a
different shape replaces it with a fresh one.  `bucket_size` is rounded up
to whole seconds.  Methods: `increment(n)`, `delta(n)` (may be negative;
never below 0), `observe(value)` (sets the current bucket), `sum()` and
`sum_over(duration)` (the newest buckets covering the duration, at least
one).  Time is the Policy's clock, so a FakeClock moves buckets along.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .._errors import KumoError
from ._lib import LibObject, int_arg
from ._schema import REQUIRED, Duration, Field, Int, Opt, Str, Struct, deserialize

if TYPE_CHECKING:
    from .._clock import Clock
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["CounterSeries", "register"]

_U64 = (0, 2**64 - 1)


@dataclass
class CounterSeries:
    """kumo-counter-series' CounterSeries over a process clock."""

    num_buckets: int
    bucket_size: int  # whole seconds
    clock: Clock
    initial: int = 0
    buckets: list[int] = field(init=False)
    current: int = field(init=False, default=0)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.buckets = [0] * self.num_buckets
        self.buckets[0] = self.initial
        self.updated = self.clock.now()

    def _rotate(self) -> int:
        elapsed = math.floor(max(0.0, self.clock.now() - self.updated))
        slots = elapsed // self.bucket_size
        if slots > 0:
            n = len(self.buckets)
            self.current = (slots + self.current) % n
            self.updated = self.clock.now()
            for prune in range(min(slots, n)):
                self.buckets[(self.current - prune) % n] = 0
        return self.current

    def increment(self, n: int) -> None:
        i = self._rotate()
        self.buckets[i] = min(self.buckets[i] + n, _U64[1])

    def delta(self, n: int) -> None:
        i = self._rotate()
        self.buckets[i] = max(0, min(self.buckets[i] + n, _U64[1]))

    def observe(self, value: int) -> None:
        self.buckets[self._rotate()] = value

    def sum(self) -> int:
        self._rotate()
        return sum(self.buckets) % 2**64

    def sum_over(self, seconds: int) -> int:
        i = self._rotate()
        count = max(1, min(-(-seconds // self.bucket_size), len(self.buckets)))
        return sum(self.buckets[(i - k) % len(self.buckets)] for k in range(count))


_DEFINE = Struct(
    "DefineParams",
    [
        Field("name", Str(), REQUIRED),
        Field("num_buckets", Int("u8"), REQUIRED),
        Field("bucket_size", Duration(), REQUIRED),
        Field("initial_value", Opt(Int("u64"))),
    ],
)


class LuaCounterSeries(LibObject):
    lua_type_name = "LuaCounterSeries"

    def __init__(self, series: CounterSeries) -> None:
        self.series = series

    def _increment(self, state: LuaState, n: Any = None, *_: Any) -> None:
        self.series.increment(int_arg(n, "u64", *_U64))

    def _delta(self, state: LuaState, n: Any = None, *_: Any) -> None:
        self.series.delta(int_arg(n, "i64", -(2**63), 2**63 - 1))

    def _observe(self, state: LuaState, n: Any = None, *_: Any) -> None:
        self.series.observe(int_arg(n, "u64", *_U64))

    def _sum(self, state: LuaState, *_: Any) -> int:
        return self.series.sum()

    def _sum_over(self, state: LuaState, duration: Any = None, *_: Any) -> int:
        nanos = deserialize(state, Duration(), duration)
        return self.series.sum_over(nanos // 1_000_000_000)

    methods: ClassVar[dict[str, Any]] = {
        "increment": _increment,
        "delta": _delta,
        "observe": _observe,
        "sum": _sum,
        "sum_over": _sum_over,
    }


def define(state: LuaState, params: Any = None, *_: Any) -> LuaCounterSeries:
    p = deserialize(state, _DEFINE, params)
    seconds = -(-p["bucket_size"] // 1_000_000_000)  # rounded up
    num = p["num_buckets"]
    cache: dict[str, CounterSeries] = state.process.service("counter_series", dict)
    cached = cache.get(p["name"])
    if cached is not None and cached.num_buckets == num and cached.bucket_size == seconds:
        return LuaCounterSeries(cached)
    if num == 0:
        raise KumoError("num_buckets must be >= 1")
    if seconds == 0:
        raise KumoError("bucket_size must be >= 1 second")
    series = CounterSeries(num, seconds, state.process.clock, p["initial_value"] or 0)
    cache[p["name"]] = series
    return LuaCounterSeries(series)


def register(kumo: Namespace) -> None:
    kumo.function(
        "counter_series.define",
        define,
        notes="process-wide by name; buckets move with the Policy's clock",
    )
