"""kumo.memoize: parameters, keys, TTL, error caching, sharing, values."""

from __future__ import annotations

import pytest

from kumopy import PolicyError

COUNTING = """
calls = 0
local f = kumo.memoize(function(...)
  calls = calls + 1
  return select('#', ...) == 0 and 'none' or ...
end, {{name = 'counting', ttl = {ttl}, capacity = {capacity}}})
kumo.on('get', function(...) return f(...) end)
kumo.on('calls', function() return calls end)
"""


def counting(load, ttl="'5 minutes'", capacity=10, **options):
    return load(COUNTING.format(ttl=ttl, capacity=capacity), **options)


def test_second_call_is_served_from_cache(load):
    p = counting(load)
    assert p.call("get", "a") == "a"
    assert p.call("get", "a") == "a"
    assert p.call("calls") == 1
    p.call("get", "b")
    assert p.call("calls") == 2


def test_entry_expires_after_ttl(load, clock):
    p = counting(load, ttl="'5 minutes'")
    p.call("get", "a")
    clock.advance("4 minutes")
    p.call("get", "a")
    assert p.call("calls") == 1
    clock.advance(61)
    p.call("get", "a")
    assert p.call("calls") == 2


def test_integer_ttl_is_seconds(load, clock):
    p = counting(load, ttl="10")
    p.call("get", "a")
    clock.advance(9.5)
    p.call("get", "a")
    clock.advance(1)
    p.call("get", "a")
    assert p.call("calls") == 2


def test_capacity_evicts_least_recently_used(load):
    p = counting(load, capacity=2)
    for key in ("a", "b", "a", "c", "a", "b"):
        p.call("get", key)
    # a, b, (a hit), c evicts b, (a hit), b again
    assert p.call("calls") == 4


@pytest.mark.parametrize(
    "first, second, same",
    [
        ((), (None,), True),  # f() is f(nil)
        ((1, 2), ([1, 2],), True),  # several args key as an array
        ((1,), (1.0,), False),  # "1" vs "1.0"
        (({"a": 1, "b": 2},), ({"b": 2, "a": 1},), True),  # by content, keys sorted
        (("x",), ("y",), False),
    ],
)
def test_key_is_the_json_form_of_the_arguments(load, first, second, same):
    p = counting(load)
    p.call("get", *first)
    p.call("get", *second)
    assert p.call("calls") == (1 if same else 2)


def test_errors_are_cached_for_60_seconds_regardless_of_ttl(load, clock, write, tmp_path):
    rules = tmp_path / "data.json"
    p = load(
        f"""
        local f = kumo.memoize(function()
          print('populating')
          local f = io.open('{rules}')
          if not f then error('no data yet') end
          f:close()
          return 'loaded'
        end, {{name = 'errors', ttl = 1, capacity = 1}})
        kumo.on('get', function() return f() end)
        """
    )

    def populations():
        return sum(1 for e in p.output if e.message == "populating")

    # a failing handler drops its Lua state (as kumod does), so count
    # populations through the process-wide captured output
    for _ in range(3):
        with pytest.raises(PolicyError, match="no data yet"):
            p.call("get")
    assert populations() == 1
    rules.write_text("{}")
    clock.advance(59)
    with pytest.raises(PolicyError, match="no data yet"):
        p.call("get")
    clock.advance(2)
    assert p.call("get") == "loaded"
    assert populations() == 2


def test_cache_is_shared_by_name_across_lua_states(load):
    p = load(
        """
        local f = kumo.memoize(function(x) populations = (populations or 0) + 1 return x end,
                               {name = 'shared', ttl = 60, capacity = 4})
        kumo.on('get', function(x) return f(x) end)
        kumo.on('populations', function() return populations or 0 end)
        """,
        fresh_state_per_event=True,
    )
    p.call("get", "k")
    # every event runs in a new state, so the Lua global is gone, but the
    # process-wide cache still holds the value
    p.call("get", "k")
    assert p.call("populations") == 0


def test_same_name_different_params_replaces_the_cache(load):
    p = load(
        """
        n = 0
        local a = kumo.memoize(function() n = n + 1 return n end, {name = 'c', ttl = 60, capacity = 2})
        local b = kumo.memoize(function() n = n + 1 return n end, {name = 'c', ttl = 60, capacity = 2})
        kumo.on('a', function() return a() end)
        kumo.on('b', function() return b() end)
        kumo.on('replace', function()
          return kumo.memoize(function() return 'new' end, {name = 'c', ttl = 30, capacity = 2})()
        end)
        """
    )
    assert (p.call("a"), p.call("b")) == (1, 1)  # identical params share entries
    assert p.call("replace") == "new"


def test_two_policies_never_share_caches(load):
    a = counting(load)
    b = counting(load, name="b.lua")
    a.call("get", "x")
    b.call("get", "x")
    assert (a.call("calls"), b.call("calls")) == (1, 1)


def test_invalidate_with_epoch(load):
    p = load(
        """
        n = 0
        local f = kumo.memoize(function() n = n + 1 return n end,
          {name = 'e', ttl = 60, capacity = 2, invalidate_with_epoch = true})
        local g = kumo.memoize(function() n = n + 1 return n end,
          {name = 's', ttl = 60, capacity = 2, invalidate_with_epoch = true,
           allow_stale_reads = true})
        kumo.on('f', function() return f() end)
        kumo.on('g', function() return g() end)
        kumo.on('bump', function() kumo.bump_config_epoch() end)
        """
    )
    assert p.call("f") == 1 and p.call("f") == 1
    g1 = p.call("g")
    p.call("bump")
    assert p.call("f") == 3
    assert p.call("g") == g1  # allow_stale_reads keeps the epoch out of the key


def test_multiple_return_values_come_back_as_one_table(load):
    p = load(
        """
        local f = kumo.memoize(function() return 1, 'two', 3.0 end, {name = 'm', ttl = 60, capacity = 1})
        kumo.on('t', function()
          local v = f()
          return type(v), v[1], v[2], v[3], math.type(v[3]), select('#', f())
        end)
        """
    )
    assert p.dispatch("t").values == ("userdata", 1, "two", 3.0, "float", 1)


def test_zero_return_values_give_nil(load):
    p = load(
        """
        local f = kumo.memoize(function() end, {name = 'z', ttl = 60, capacity = 1})
        kumo.on('t', function() return select('#', f()), f() end)
        """
    )
    assert p.dispatch("t").values == (1, None)


def test_tables_come_back_as_memoized_userdata(load):
    p = load(
        """
        local f = kumo.memoize(function()
          return {name = 'x', list = {10, 20, 30}, nested = {deep = {value = 1}}}
        end, {name = 'tables', ttl = 60, capacity = 1})
        kumo.on('t', function()
          local v = f()
          local keys = {}
          for k in pairs(v) do keys[#keys + 1] = k end
          table.sort(keys)
          local items = {}
          for i, x in ipairs(v.list) do items[i] = x end
          return type(v), #v, v.name, #v.list, table.concat(items, ','),
                 v.nested == v.nested, v.nested.deep.value, table.concat(keys, ',')
        end)
        kumo.on('mutate', function()
          local v = f()
          v.name = 'changed'
          local w = f()
          return v.name, w.name
        end)
        """
    )
    assert p.dispatch("t").values == ("userdata", 3, "x", 3, "10,20,30", False, 1,
                                      "list,name,nested")
    assert p.dispatch("mutate").values == ("changed", "x")


def test_memoized_tables_encode_to_json(load):
    p = load(
        """
        local f = kumo.memoize(function() return {a = {1, 2}} end, {name = 'j', ttl = 60, capacity = 1})
        kumo.on('t', function() return kumo.json_encode(f()) end)
        """
    )
    assert p.call("t") == '{"a":[1,2]}'


def test_functions_cannot_be_memoized(load):
    p = load(
        """
        local f = kumo.memoize(function() return function() end end,
                               {name = 'fn', ttl = 60, capacity = 1})
        kumo.on('t', function() return f() end)
        """
    )
    with pytest.raises(PolicyError, match="cannot memoize"):
        p.call("t")


def test_function_arguments_cannot_be_keys(load):
    p = counting(load)
    p_src = p  # noqa: F841
    q = load(
        """
        local f = kumo.memoize(function(x) return 1 end, {name = 'k', ttl = 60, capacity = 1})
        kumo.on('t', function() return f(print) end)
        """,
        name="k.lua",
    )
    with pytest.raises(PolicyError, match="cannot serialize"):
        q.call("t")


@pytest.mark.parametrize(
    "params, message",
    [
        (
            "{name = 'x', ttl = 60, capacity = 1, colour = 'red'}",
            "deserialize error: unknown field `colour`, expected one of `ttl`, `capacity`, "
            "`name`, `invalidate_with_epoch`, `retry_on_populate_timeout`, "
            "`populate_timeout`, `allow_stale_reads`, while processing {",
        ),
        ("{name = 'x', capacity = 1}", "deserialize error: missing field `ttl`"),
        ("{name = 'x', ttl = 60}", "deserialize error: missing field `capacity`"),
        ("{ttl = 60, capacity = 1}", "deserialize error: missing field `name`"),
        ("{name = 'x', ttl = 'soon', capacity = 1}", "expected a duration"),
        ("{name = 'x', ttl = 60, capacity = 'many'}", 'invalid type: string "many", expected usize'),
        ("{name = 'x', ttl = 60, capacity = 1, allow_stale_reads = 'yes'}",
         'invalid type: string "yes", expected a boolean'),
        ("{name = 'dns_resolver_mx', ttl = 60, capacity = 1}", "user.dns_resolver_mx"),
    ],
)
def test_invalid_params_are_rejected(load, params, message):
    with pytest.raises(PolicyError) as info:
        load(f"kumo.memoize(function() end, {params})")
    assert message in str(info.value)
    assert info.value.line == 1


def test_memoize_requires_a_function(load):
    with pytest.raises(PolicyError, match="error converting Lua string to function"):
        load("kumo.memoize('nope', {name = 'x', ttl = 1, capacity = 1})")


# The cache key of scalar arguments is computed without json.dumps; it must
# be the very text the general path (kumod's JSON of the arguments) gives.
import json  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kumopy._kumo import memoize as _memoize_module  # noqa: E402

_scalars = st.one_of(
    st.text().filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)).map(
        lambda t: t.encode("utf-8")
    ),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
)


@given(st.lists(_scalars, max_size=4))
def test_scalar_argument_keys_match_the_json_of_the_arguments(args):
    params = _memoize_module.MemoizeParams(name="k", ttl=1.0, capacity=1)
    key = _memoize_module._key(None, params, tuple(args))
    values = [a.decode("utf-8") if isinstance(a, bytes) else a for a in args]
    subject = None if not values else values[0] if len(values) == 1 else values
    assert key == (None, json.dumps(subject, separators=(",", ":"), ensure_ascii=False))


# --------------------------------------------------------------------------
# How a failed population reads (one position, the memoized function's name)
# --------------------------------------------------------------------------

_FAILING = """
local load_rules = kumo.memoize(function(domain)
  local rules = kumo.json_load('/nonexistent/rules.json')
  return rules
end, {name = 'rules_for', ttl = '5 minutes', capacity = 4})
kumo.on('t', function(domain)
  local rules = load_rules(domain)
  return rules
end)
kumo.on('p', function(domain)
  local ok, err = pcall(load_rules, domain)
  return err
end)
"""


def test_a_failed_population_has_one_position_the_failing_line(load):
    p = load(_FAILING)
    with pytest.raises(PolicyError) as info:
        p.call("t", "example.com")
    text = str(info.value)
    assert info.value.line == 2  # the json_load line, not the caller's (line 6)
    assert text.count("init.lua:") == 1, text
    assert "init.lua:2: reading file /nonexistent/rules.json" in text
    # what a policy sees inside pcall has the same single position
    seen = p.call("p", "example.com")
    assert seen.count("init.lua:") == 1 and "init.lua:2: reading file" in seen, seen


def test_a_failed_population_is_logged_by_the_memoized_name(load, caplog):
    p = load(_FAILING)
    with caplog.at_level("ERROR", logger="kumopy"), pytest.raises(PolicyError):
        p.call("t", "example.com")
    [record] = [r for r in caplog.records if r.name.startswith("kumopy")]
    message = record.getMessage()
    assert "'rules_for'" in message, message
    assert '"example.com"' in message  # the arguments it was called with
    assert "null" not in message and message.count("init.lua:") == 1, message


def test_a_population_without_arguments_does_not_show_the_cache_key(load, caplog):
    p = load(_FAILING.replace("= load_rules(domain)", "= load_rules()"))
    with caplog.at_level("ERROR", logger="kumopy"), pytest.raises(PolicyError):
        p.call("t")
    [record] = [r for r in caplog.records if r.name.startswith("kumopy")]
    assert "null" not in record.getMessage()
    assert "'rules_for'" in record.getMessage()


# -- calls without arguments: the Lua wrapper answers from its copy (the
# front) only when the cache itself would give the same answer ---------------

FRONT = """
calls = 0
local f = kumo.memoize(function(...)
  calls = calls + 1
  if select('#', ...) == 0 then return kumo.regex_set_map.new {{ ['^4'] = 'four' }} end
  return ...
end, {{name = 'front', ttl = {ttl}, capacity = {capacity}}})
kumo.on('get', function(...) local v = f(...) return type(v) == 'userdata' and v['451'] or v end)
kumo.on('twice', function() return rawequal(f(), f()) end)
kumo.on('calls', function() return calls end)
"""


def front(load, ttl="'5 minutes'", capacity=1, **options):
    return load(FRONT.format(ttl=ttl, capacity=capacity), **options)


def test_no_argument_hits_expire_exactly_at_the_ttl(load, clock):
    p = front(load, ttl="10")
    assert p.call("get") == "four"
    clock.advance(9.5)
    assert (p.call("get"), p.call("get"), p.call("calls")) == ("four", "four", 1)
    clock.advance(0.5)  # now == the expiry: the cache counts it expired
    assert (p.call("get"), p.call("calls")) == ("four", 2)
    assert p.call("twice") is True  # (lupa: one userdata per Python object)


def test_another_key_takes_the_no_argument_call_back_to_the_cache(load):
    p = front(load, capacity=1)
    p.call("get")
    p.call("get", "a")  # capacity 1: evicts the no-argument entry
    assert (p.call("get"), p.call("calls")) == ("four", 3)


def test_no_argument_hits_keep_the_lru_order(load):
    p = front(load, capacity=2)
    # hits on both keys; the last, on (), makes "a" the least recently used
    for args in ((), ("a",), (), ("a",), (), ("b",)):
        p.call("get", *args)
    assert p.call("calls") == 3
    p.call("get")  # still cached: "b" evicted "a", not it
    assert p.call("calls") == 3
    p.call("get", "a")
    assert p.call("calls") == 4


def test_an_insertion_from_another_lua_state_is_seen(load):
    """States (threads) share the cache; a state's copy is not used once
    another state changed the cache."""
    import threading

    p = front(load, capacity=1)

    def in_thread(*args: str) -> None:
        worker = threading.Thread(target=p.call, args=("get", *args))
        worker.start()
        worker.join()

    in_thread()
    in_thread()  # (its state's copy: one population so far)
    p.call("get", "a")  # another state evicts the entry
    in_thread()
    populations = p.call("calls")  # (a global of the main thread's state)
    assert populations == 1  # the main state populated "a" only
    p.call("get")
    assert p.call("calls") == 1  # the thread re-populated the entry: a hit here


def test_no_argument_errors_and_tables_are_not_kept(load, clock, caplog):
    p = load(
        """
        local bad = kumo.memoize(function() error('broken') end,
                                 {name = 'bad', ttl = 600, capacity = 1})
        local tbl = kumo.memoize(function() return {x = 1} end,
                                 {name = 'tbl', ttl = 600, capacity = 1})
        kumo.on('bad', function() return bad() end)
        kumo.on('tbl', function() local t = tbl() t.x = 2 return tbl().x end)
        """
    )
    def populations() -> int:
        return sum("memoized function 'bad' failed" in r.getMessage() for r in caplog.records)

    for _ in range(2):
        with pytest.raises(PolicyError, match="broken"):
            p.call("bad")
    assert populations() == 1
    clock.advance(61)  # errors are cached 60 seconds whatever the ttl
    with pytest.raises(PolicyError, match="broken"):
        p.call("bad")
    assert populations() == 2
    assert p.call("tbl") == 1 and p.call("tbl") == 1


def test_call_observers_see_every_no_argument_call(load):
    p = front(load)
    seen: list[str] = []
    p.call("get")
    p.call_observers.append(lambda name, args: seen.append(name))
    p.call("get")
    p.call("get")
    assert seen.count("memoize[front]") == 2


def test_a_stop_in_the_clock_is_a_stop(write):
    """Ctrl-C arriving while a hit reads the policy clock stops the call as
    it does anywhere else in the host."""
    from kumopy import FakeClock, Policy, PolicyInterrupted

    class Clock(FakeClock):
        armed = False

        def now(self) -> float:
            if self.armed:
                self.armed = False
                raise KeyboardInterrupt
            return super().now()

    clock = Clock()
    p = Policy.load(write("init.lua", FRONT.format(ttl=60, capacity=1)), clock=clock,
                    capture_output=True)
    assert p.call("get") == "four"
    clock.armed = True
    with pytest.raises(PolicyInterrupted):
        p.call("get")
    assert p.call("get") == "four"
