"""kumo.counter_series and kumo.mpsc."""

from __future__ import annotations

import pytest

from kumopy import FakeClock, PolicyError


def test_counter_series_buckets_follow_the_clock(load, clock: FakeClock) -> None:
    p = load(
        """
        local s = kumo.counter_series.define { name = 'x', num_buckets = 3, bucket_size = '2s' }
        kumo.on('inc', function(n) s:increment(n) return s:sum(), s:sum_over('2s') end)
        kumo.on('delta', function(n) s:delta(n) return s:sum() end)
        kumo.on('observe', function(n) s:observe(n) return s:sum() end)
        """,
        clock=clock,
    )
    assert p.dispatch("inc", 5).values == (5, 5)
    clock.advance(2)
    assert p.dispatch("inc", 1).values == (6, 1)  # a new bucket
    clock.advance(1.5)
    assert p.dispatch("inc", 1).values == (7, 2)  # still the same bucket
    clock.advance(2)
    assert p.dispatch("inc", 10).values == (17, 10)
    clock.advance(2)
    # the oldest bucket (5) has rotated out and the new one starts empty
    assert p.dispatch("inc", 0).values == (12, 0)
    assert p.dispatch("delta", -100).values == (12,)  # never below zero
    assert p.dispatch("observe", 4).values == (16,)
    clock.advance(60)
    assert p.dispatch("inc", 0).values == (0, 0)


def test_counter_series_is_shared_by_name_and_reshaped(load) -> None:
    p = load(
        """
        kumo.on('t', function(buckets, size, initial)
          local s = kumo.counter_series.define {
            name = 'shared', num_buckets = buckets, bucket_size = size, initial_value = initial }
          s:increment(1)
          return s:sum()
        end)
        kumo.on('bad', function(params) return kumo.counter_series.define(params) end)
        """
    )
    assert p.dispatch("t", 4, "1m", 10).value == 11
    assert p.dispatch("t", 4, 60, 99).value == 12  # same shape: initial ignored
    assert p.dispatch("t", 4, "59.5s", 99).value == 13  # rounded up to 60s
    assert p.dispatch("t", 2, "60s", 7).value == 8  # new shape: fresh series
    with pytest.raises(PolicyError, match="num_buckets must be >= 1"):
        p.dispatch("t", 0, "1s", None)
    with pytest.raises(PolicyError, match="unknown field `bogus`"):
        p.dispatch("bad", {"name": "a", "num_buckets": 1, "bucket_size": 1, "bogus": 1})
    with pytest.raises(PolicyError, match="missing field `bucket_size`"):
        p.dispatch("bad", {"name": "a", "num_buckets": 1})


def test_counter_series_survives_a_new_lua_state(load) -> None:
    p = load(
        """
        kumo.on('t', function()
          local s = kumo.counter_series.define { name = 'n', num_buckets = 1, bucket_size = 5 }
          s:increment(1)
          return s:sum()
        end)
        """,
        fresh_state_per_event=True,
    )
    assert [p.dispatch("t").value for _ in range(3)] == [1, 2, 3]


def test_mpsc_order_bounds_and_values(load) -> None:
    p = load(
        """
        kumo.on('t', function()
          local q = kumo.mpsc.define 'q'
          q:send 'a'
          q:send { x = 1, list = { 1, 2 } }
          assert(kumo.mpsc.define('q', 1):try_send(3), 'unbounded: a later buffer is ignored')
          local first, second = q:recv(), q:try_recv()
          local rest = q:recv_many(10)
          local b = kumo.mpsc.define('b', 1)
          local ok1, ok2 = b:try_send(1), b:try_send(2)
          local timed, err = pcall(b.send_timeout, b, 'x', 0.01)
          local full, err2 = pcall(b.send, b, 'x')
          local bad, err3 = pcall(q.send, q, q)
          return first, second.x, second.list[2], #rest, rest[1], q:len(), q:is_empty(),
                 ok1, ok2, timed, err, full, err2, bad, err3
        end)
        """
    )
    values = p.dispatch("t").values
    assert values[:10] == ("a", 1, 2, 1, 3, 0, True, True, False, False)
    assert "timed out waiting on send operation" in values[10]
    assert values[11] is False and "send on the full queue 'b' would wait forever" in values[12]
    assert values[13] is False and "cannot memoize" in values[14]


def test_mpsc_recv_on_empty_queue_is_an_error_not_a_hang(load) -> None:
    p = load(
        """
        kumo.on('recv', function() return kumo.mpsc.define('e'):recv() end)
        kumo.on('closed', function()
          local q = kumo.mpsc.define('c')
          q:send(1)
          q:close()
          local ok, err = pcall(q.send, q, 2)
          return q:recv(), q:recv(), q:is_closed(), ok, err
        end)
        """
    )
    with pytest.raises(PolicyError, match="recv on the empty queue 'e' would wait forever"):
        p.dispatch("recv")
    one, none, closed, ok, err = p.dispatch("closed").values
    assert (one, none, closed, ok) == (1, None, True, False)
    assert "cannot send to closed channel" in err
