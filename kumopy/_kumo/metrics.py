"""`kumo.prometheus_metrics()` and the metrics kumopy keeps (kumod:
crates/kumo-prometheus, crates/lruttl).

Each simulated kumod process (`Policy`) has one `Registry`.  kumopy keeps
the metrics of the things it models: the lruttl caches it implements
(`dkim_key_cache`, `dkim_signer_cache`: lookup, hit, miss, populated,
insert, evict, expire, error and stale counts, size), the DKIM signer
counters and timing histograms.  `prometheus_metrics()` returns them in
kumod's informal JSON shape: `{name = {help=, type=, value=}}` where a
metric with one label is `value = {label_name = {label_value = n}}`, with
several labels an array of `{label=..., ["@"]=n}`, without labels the
number itself.  `Registry.text()` gives the Prometheus text exposition
format (what kumod serves on /metrics).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from .._policy import Policy
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["LruTtlCache", "Registry", "register", "registry"]

V = TypeVar("V")

#: prometheus' default histogram buckets
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def register(kumo: Namespace) -> None:
    kumo.function(
        "prometheus_metrics",
        _prometheus_metrics,
        notes="the metrics kumopy models: its lruttl caches (DKIM keys and signers) "
        "and DKIM signing counters and timings",
    )


@dataclass
class _Family:
    name: str
    kind: str  # counter | gauge | histogram
    help: str
    labels: tuple[str, ...]
    values: dict[tuple[str, ...], Any] = field(default_factory=dict)


class _Histogram:
    def __init__(self) -> None:
        self.count = 0
        self.sum = 0.0
        self.buckets = [0] * len(DEFAULT_BUCKETS)

    def observe(self, value: float) -> None:
        self.count += 1
        self.sum += value
        for i, bound in enumerate(DEFAULT_BUCKETS):
            if value <= bound:
                self.buckets[i] += 1


class Registry:
    """The metrics of one simulated kumod process."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}

    def _family(self, name: str, kind: str, help: str, labels: tuple[str, ...]) -> _Family:
        fam = self._families.get(name)
        if fam is None:
            fam = self._families[name] = _Family(name, kind, help, labels)
        return fam

    def counter(self, name: str, help: str, **labels: str) -> None:
        """Make the counter (with these label values) exist, at 0."""
        fam = self._family(name, "counter", help, tuple(labels))
        fam.values.setdefault(tuple(labels.values()), 0)

    def inc(self, name: str, help: str = "", by: int = 1, **labels: str) -> None:
        fam = self._family(name, "counter", help, tuple(labels))
        key = tuple(labels.values())
        fam.values[key] = fam.values.get(key, 0) + by

    def set_gauge(self, name: str, value: float, help: str = "", **labels: str) -> None:
        fam = self._family(name, "gauge", help, tuple(labels))
        fam.values[tuple(labels.values())] = value

    def observe(self, name: str, seconds: float, help: str = "") -> None:
        fam = self._family(name, "histogram", help, ())
        hist = fam.values.setdefault((), _Histogram())
        hist.observe(seconds)

    def histogram(self, name: str, help: str) -> None:
        fam = self._family(name, "histogram", help, ())
        fam.values.setdefault((), _Histogram())

    def value(self, name: str, **labels: str) -> Any:
        fam = self._families.get(name)
        if fam is None:
            return None
        v = fam.values.get(tuple(labels.values()))
        return v.count if isinstance(v, _Histogram) else v

    def to_json(self) -> dict[str, Any]:
        """kumod's informal JSON shape (kumo-prometheus registry.rs)."""
        out: dict[str, Any] = {}
        for fam in sorted(self._families.values(), key=lambda f: f.name):
            entry: dict[str, Any] = {}
            if fam.help:
                entry["help"] = fam.help
            entry["type"] = fam.kind
            rows = sorted(fam.values.items())
            if not rows:
                entry["value"] = None
            elif not fam.labels:
                entry["value"] = _json_value(rows[0][1])
            elif len(fam.labels) == 1:
                entry["value"] = {fam.labels[0]: {k[0]: _json_value(v) for k, v in rows}}
            else:
                entry["value"] = [
                    {**dict(zip(fam.labels, k, strict=True)), "@": _json_value(v)}
                    for k, v in rows
                ]
            out[fam.name] = entry
        return out

    def text(self) -> str:
        """The Prometheus text exposition format."""
        lines: list[str] = []
        for fam in sorted(self._families.values(), key=lambda f: f.name):
            if fam.help:
                lines.append(f"# HELP {fam.name} {fam.help}")
            lines.append(f"# TYPE {fam.name} {fam.kind}")
            for key, v in sorted(fam.values.items()):
                labels = ",".join(
                    f'{n}="{_escape(x)}"' for n, x in zip(fam.labels, key, strict=True)
                )
                if isinstance(v, _Histogram):
                    total = 0
                    for bound, count in zip(DEFAULT_BUCKETS, v.buckets, strict=True):
                        total = count
                        lines.append(f'{fam.name}_bucket{{le="{bound}"}} {total}')
                    lines.append(f'{fam.name}_bucket{{le="+Inf"}} {v.count}')
                    lines.append(f"{fam.name}_sum {_num(v.sum)}")
                    lines.append(f"{fam.name}_count {v.count}")
                else:
                    shown = f"{{{labels}}}" if labels else ""
                    lines.append(f"{fam.name}{shown} {_num(v)}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _json_value(v: Any) -> Any:
    if isinstance(v, _Histogram):
        return {
            "count": v.count,
            "sum": v.sum,
            "avg": v.sum / v.count if v.count else 0.0,
            "bucket": [[b, float(c)] for b, c in zip(DEFAULT_BUCKETS, v.buckets, strict=True)],
        }
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def registry(process: Policy) -> Registry:
    return process.service("metrics", Registry)


def vivify(process: Policy) -> Registry:
    """The registry with every cache kumopy implements created (kumod
    creates all of its caches at startup, so their counters exist at 0)."""
    from .dkim import caches

    caches(process)
    return registry(process)


def _prometheus_metrics(state: LuaState) -> Any:
    return state.to_lua(vivify(state.process).to_json())


# -- lruttl caches ---------------------------------------------------------------

_LRUTTL_HELP = {
    "lruttl_lookup_count": "how many times a lruttl cache lookup was initiated",
    "lruttl_evict_count": "how many items a lruttl cache evicted for capacity",
    "lruttl_expire_count": "how many items a lruttl cache removed at expiry",
    "lruttl_hit_count": "how many lruttl cache lookups were hits",
    "lruttl_miss_count": "how many lruttl cache lookups were misses",
    "lruttl_insert_count": "how many times a lruttl cache was populated by insert",
    "lruttl_populated_count": "how many lookups did the work to populate an entry",
    "lruttl_error_count": "how many lruttl cache populations failed",
    "lruttl_stale_count": "how many lookups a stale value satisfied",
}


@dataclass
class _Entry(Generic[V]):
    expires: float
    value: V | None
    error: Exception | None


class LruTtlCache(Generic[V]):
    """kumod's LruCacheWithTtl for one process: least recently used
    entries evicted past `capacity`, entries expiring after their ttl, a
    failed population cached (for 60 s, as kumod does) and returned again,
    every step counted in the process's lruttl_* metrics."""

    def __init__(self, process: Policy, name: str, capacity: int) -> None:
        self.name = name
        self.capacity = capacity
        self._clock = process.clock
        self._metrics = registry(process)
        self._entries: OrderedDict[Hashable, _Entry[V]] = OrderedDict()
        for metric, help in _LRUTTL_HELP.items():
            self._metrics.counter(metric, help, cache_name=name)
        self._metrics.set_gauge(
            "lruttl_waiting_populate", 0, "tasks waiting for a lruttl entry", cache_name=name
        )
        self._size()

    def _inc(self, metric: str) -> None:
        self._metrics.inc(metric, _LRUTTL_HELP[metric], cache_name=self.name)

    def _size(self) -> None:
        self._metrics.set_gauge(
            "lruttl_cache_size", len(self._entries), "items in a lruttl cache",
            cache_name=self.name,
        )

    def get_or_try_insert(
        self, key: Hashable, ttl: Callable[[V], float], populate: Callable[[], V]
    ) -> tuple[V, bool]:
        """(value, is_fresh): the cached value, or populate() run now."""
        self._inc("lruttl_lookup_count")
        now = self._clock.now()
        entry = self._entries.get(key)
        if entry is not None and now >= entry.expires:
            del self._entries[key]
            self._inc("lruttl_expire_count")
            self._size()
            entry = None
        if entry is not None:
            self._entries.move_to_end(key)
            if entry.error is None:
                self._inc("lruttl_hit_count")
                return entry.value, False  # type: ignore[return-value]
            self._inc("lruttl_miss_count")
            raise entry.error
        self._inc("lruttl_miss_count")
        self._inc("lruttl_populated_count")
        try:
            value = populate()
        except Exception as e:
            self._inc("lruttl_error_count")
            self._store(key, _Entry(now + 60.0, None, e))
            raise
        self._store(key, _Entry(now + ttl(value), value, None))
        return value, True

    def _store(self, key: Hashable, entry: _Entry[V]) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
            self._inc("lruttl_evict_count")
        self._size()

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._entries)


class Timer:
    """Time a block into a histogram: `with Timer(reg, name, help): ...`."""

    def __init__(self, reg: Registry, name: str, help: str) -> None:
        self.reg, self.name, self.help = reg, name, help
        reg.histogram(name, help)

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            self.reg.observe(self.name, time.perf_counter() - self.start, self.help)
