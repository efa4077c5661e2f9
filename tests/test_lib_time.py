"""kumo.time, kumo.sleep and kumo.make_throttle on the Policy clock
(mod-time, throttle crates)."""

from __future__ import annotations

from typing import Any

import pytest

from kumopy import FakeClock, PolicyError
from kumopy._kumo.throttle import explain

T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC


def lua(load: Any, body: str, **options: Any) -> tuple[Any, ...]:
    p = load("local kumo = require 'kumo'\n" + body, **options)
    return tuple(p.state.to_python(v) for v in p.state.chunk_values)


def test_now_and_sleep_follow_the_fake_clock(load: Any) -> None:
    clock = FakeClock(T0)
    got = lua(
        load,
        """
        local t = kumo.time.now()
        kumo.sleep(90)
        kumo.time.sleep(0.5)
        return t.unix_timestamp, kumo.time.now().unix_timestamp_millis, t.elapsed.seconds,
          t.elapsed.human, tostring(t)
        """,
        clock=clock,
    )
    assert got == (T0, (T0 + 90.5) * 1000, 90.5, "1m 30s 500ms", "2023-11-14 22:13:20 UTC")
    assert clock.now() == T0 + 90.5


def test_time_fields_and_formats(load: Any) -> None:
    got = lua(
        load,
        """
        local t = kumo.time.from_unix_timestamp(1700000000.25)
        return t.year, t.month, t.day, t.hour, t.minute, t.second, t.rfc3339, t.rfc2822,
          t:format('%Y-%m-%d %H:%M:%S%.3f %z'), tostring(t), t:format('%s %e %-m')
        """,
    )
    assert got == (
        2023,
        11,
        14,
        22,
        13,
        20,
        "2023-11-14T22:13:20.250+00:00",
        "Tue, 14 Nov 2023 22:13:20 +0000",
        "2023-11-14 22:13:20.250 +0000",
        "2023-11-14 22:13:20.250 UTC",
        "1700000000 14 11",
    )


def test_arithmetic_and_comparison(load: Any) -> None:
    got = lua(
        load,
        """
        local a = kumo.time.parse_rfc3339('2023-11-14T23:13:20+01:00')
        local b = kumo.time.with_ymd_hms(2023, 11, 14, 22, 13, 20)
        local d = kumo.time.parse_duration('1h 30m')
        local later = b + d
        return a == b, (later - b).seconds, tostring(later - d), (d + d).human,
          (d - kumo.time.parse_duration(1800)).milliseconds, tostring(d),
          kumo.time.parse_rfc2822('Tue, 14 Nov 2023 22:13:20 +0000') == b
        """,
    )
    assert got == (True, 5400.0, "2023-11-14 22:13:20 UTC", "3h", 3_600_000, "1h 30m", True)


def test_time_errors(load: Any) -> None:
    with pytest.raises(PolicyError, match="timestamp must be either an integer or floating point"):
        lua(load, "return kumo.time.from_unix_timestamp('1')")
    with pytest.raises(PolicyError, match="input contains invalid characters"):
        lua(load, "return kumo.time.parse_rfc3339('yesterday')")
    with pytest.raises(PolicyError, match="premature end of input"):
        lua(load, "return kumo.time.parse_rfc3339('2023-11-14')")
    with pytest.raises(PolicyError, match="gap in local time"):
        lua(load, "return kumo.time.with_ymd_hms(2023, 13, 1, 0, 0, 0)")
    with pytest.raises(PolicyError, match="invalid duration value"):
        lua(load, "return kumo.time.parse_duration(true)")
    with pytest.raises(PolicyError, match="value is negative"):
        lua(load, "kumo.sleep(-1)")


def test_timer_measures_on_the_clock(load: Any) -> None:
    clock = FakeClock(T0)
    got = lua(
        load,
        """
        local t = kumo.time.start_timer('x')
        kumo.sleep(2)
        local first, second = t:done(), t:done()
        do
          local closed <close> = kumo.time.start_timer('y')
        end
        return first, second
        """,
        clock=clock,
    )
    assert got == (2.0, None)


# -- kumo.make_throttle ------------------------------------------------------------


def test_explain_matches_kumod() -> None:
    assert explain((100, 3600, None, False)) == (
        "100/h\nimplied burst rate 100 every 36s, or: 3/s, 167/m, 10,000/h, 240,000/d in that "
        "period.\noverall rate 0.028/s, 2/m, 100/h, 2,400/d"
    )
    assert explain((500, 86400, 10, False)) == (
        "500/d,max_burst=10\nexplicit burst rate 10 every 2m 52s 800ms, or: 0.058/s, 4/m, "
        "209/h, 5,000/d in that period.\noverall rate 0.006/s, 0.347/m, 21/h, 500/d"
    )


def test_throttle_gcra_on_the_fake_clock(load: Any) -> None:
    clock = FakeClock(T0)
    p = load(
        """
        local kumo = require 'kumo'
        local th = kumo.make_throttle('per-second', '2/s')
        function check() return th:throttle() end
        function wait() return th:sleep_if_throttled() end
        """,
        clock=clock,
    )

    def check() -> dict[str, Any]:
        fn = p.state.globals[b"check"]
        (value,) = p.state.invoke(fn)
        result: dict[str, Any] = p.state.to_python(value, serialize=True)
        return result

    first, second, third = check(), check(), check()
    assert (first["throttled"], first["remaining"], first["limit"]) == (False, 1, 2)
    assert (second["throttled"], second["remaining"]) == (False, 0)
    assert third["throttled"] is True
    assert third["retry_after"] == {"secs": 1, "nanos": 0}
    assert first["retry_after"] is None
    clock.advance(0.5)
    assert check()["throttled"] is False
    assert p.state.invoke(p.state.globals[b"wait"]) == (True,)
    assert clock.now() > T0 + 0.5


def test_throttle_spec_errors(load: Any) -> None:
    with pytest.raises(PolicyError, match="limit must be greater than 0"):
        lua(load, "return kumo.make_throttle('x', '0/s')")
    with pytest.raises(PolicyError, match="unknown period quantity fortnight"):
        lua(load, "return kumo.make_throttle('x', '1/fortnight')")
    with pytest.raises(PolicyError, match="expected 'limit/period'"):
        lua(load, "return kumo.make_throttle('x', '10')")
