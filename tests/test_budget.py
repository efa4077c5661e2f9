"""Runaway handlers are stopped and the host stays usable."""

from __future__ import annotations

import pytest

from kumopy import BudgetExceeded, PolicyError, PolicyMemoryError

RUNAWAYS = {
    "plain": "while true do end",
    "pcall": "while true do pcall(function() while true do end end) end",
    "xpcall": "while true do xpcall(function() while true do end end, function(e) return e end) end",
    "error_rethrown": (
        "while true do local ok, e = pcall(function() while true do end end) "
        "error(tostring(e)) end"
    ),
    "coroutine_wrap": "local f = coroutine.wrap(function() while true do end end) f()",
    "coroutine_resume": (
        "while true do local co = coroutine.create(function() while true do end end) "
        "coroutine.resume(co) end"
    ),
    "recursion_in_pcall": "local function f() pcall(f) end while true do f() end",
}


@pytest.mark.parametrize("name", sorted(RUNAWAYS))
def test_runaway_handler_is_stopped(load, name):
    p = load(
        f"""
        kumo.on('loop', function()
          {RUNAWAYS[name]}
        end)
        kumo.on('ok', function() return 'still usable' end)
        """,
        budget_seconds=0.2,
    )
    with pytest.raises(BudgetExceeded) as info:
        p.call("loop")
    assert info.value.event == "loop"
    assert "CPU budget of 0.2 seconds" in str(info.value)
    assert p.call("ok") == "still usable"


def test_budget_error_names_the_line(load):
    p = load("kumo.on('loop', function()\n  while true do end\nend)", budget_seconds=0.1)
    with pytest.raises(BudgetExceeded) as info:
        p.call("loop")
    assert info.value.line == 2 and "init.lua:2:" in str(info.value)


def test_runaway_top_level_is_stopped(load):
    with pytest.raises(BudgetExceeded):
        load("while true do end", budget_seconds=0.1)


def test_runaway_inside_memoized_function_is_not_cached(load):
    p = load(
        """
        local slow = kumo.memoize(function(n)
          if n == 0 then while true do end end
          return n
        end, {name = 'slow', ttl = 60, capacity = 10})
        kumo.on('t', function(n) return slow(n) end)
        """,
        budget_seconds=0.1,
    )
    with pytest.raises(BudgetExceeded):
        p.call("t", 0)
    assert p.call("t", 5) == 5


def test_budget_is_per_event_not_cumulative(load):
    p = load(
        "kumo.on('work', function() local x = 0 for i = 1, 1e5 do x = x + i end return x end)",
        budget_seconds=1.0,
    )
    for _ in range(50):
        assert p.call("work") == 5000050000


def test_memory_limit_stops_allocation(load):
    p = load(
        """
        kumo.on('hog', function()
          local t = {}
          for i = 1, 1e9 do t[i] = string.rep('x', 1024) .. i end
        end)
        kumo.on('ok', function() return #string.rep('y', 1000) end)
        """,
        max_memory=32 * 1024 * 1024,
    )
    with pytest.raises(PolicyMemoryError) as info:
        p.call("hog")
    assert isinstance(info.value, PolicyError) and "memory" in str(info.value)
    assert p.call("ok") == 1000


def test_memory_error_cannot_be_swallowed_by_pcall(load):
    p = load(
        """
        kumo.on('hog', function()
          while true do
            pcall(function() local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1024) .. i end end)
          end
        end)
        """,
        max_memory=32 * 1024 * 1024,
        budget_seconds=10,
    )
    with pytest.raises(PolicyMemoryError):
        p.call("hog")
