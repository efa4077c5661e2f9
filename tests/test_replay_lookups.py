"""Rule-map lookups answered inside Lua while replay runs a batch: a
subject seen before is not sent to Python again, yet every record still
gets its own answer and its own deciding rule, and nothing a policy can
observe changes (tables stay new on every lookup, errors stay errors)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kumopy import PolicyError
from kumopy._kumo.regex_set_map import LuaRegexSetMap

ARGS = (b"d.example", b"t", b"c", b"r.example")

POLICY = """
local kumo = require 'kumo'
local rules = kumo.memoize(function()
  return kumo.regex_set_map.new({
    ['^450 .*unknown'] = 550,
    ['^452 .*quota'] = 552,
    ['^421 .*table'] = { code = 421 },
  })
end, { name = 'rules', ttl = '5 minutes', capacity = 1 })
kumo.on('smtp_client_rewrite_delivery_status', function(r)
  local m = rules()
  local v = m[r]
  if type(v) == 'userdata' then
    -- kumod converts the value again on every lookup
    return rawequal(v, m[r]) and 500 or 501
  end
  return v
end)
"""


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """The subjects that reached Python's lookup."""
    seen: list[bytes] = []
    real = LuaRegexSetMap.lua_lookup

    def lookup(self: LuaRegexSetMap, state: Any, key: Any) -> Any:
        seen.append(key)
        return real(self, state, key)

    monkeypatch.setattr(LuaRegexSetMap, "lua_lookup", lookup)
    yield seen


def _batch(policy: Any, lines: list[bytes]) -> tuple[list[Any], list[str | None]]:
    found: list[Any] = [None] * len(lines)
    results = policy._rewrite_batch(lines, [ARGS] * len(lines), found)
    assert results is not None
    return results, [None if f is None else f[0].patterns[f[1] - 1] for f in found]


def test_a_subject_seen_before_is_answered_in_lua(load: Any, lookups: list[bytes]) -> None:
    policy = load(POLICY)
    lines = [b"450 user unknown", b"452 over quota", b"250 fine"] * 200
    results, hits = _batch(policy, lines)
    assert results == [550, 552, None] * 200
    assert hits == ["^450 .*unknown", "^452 .*quota", None] * 200
    assert sorted(set(lookups)) == sorted(set(lines)) and len(lookups) == 3
    # and across batches, as long as the map lives
    results, _ = _batch(policy, lines[:3])
    assert results == [550, 552, None] and len(lookups) == 3


def test_outside_a_batch_every_lookup_reaches_python(load: Any, lookups: list[bytes]) -> None:
    policy = load(POLICY)
    for _ in range(3):
        assert policy._rewrite_code(b"450 user unknown", ARGS) == 550
    assert len(lookups) == 3


def test_table_values_are_never_remembered(load: Any, lookups: list[bytes]) -> None:
    policy = load(POLICY)
    results, hits = _batch(policy, [b"421 a table"] * 5)
    assert results == [501] * 5  # two lookups, two different userdata
    assert hits == ["^421 .*table"] * 5
    assert len(lookups) == 10


def test_an_error_is_raised_again_for_every_record(load: Any, lookups: list[bytes]) -> None:
    policy = load(POLICY)
    results, _ = _batch(policy, [b"450 \xff unknown"] * 4)
    assert all(isinstance(r, PolicyError) for r in results)
    assert all("error converting Lua string to String" in str(r) for r in results)
    assert len(lookups) == 4


def test_number_keys_reach_python_every_time(load: Any, lookups: list[bytes]) -> None:
    policy = load(POLICY.replace("local v = m[r]", "local v = m[450] or m[r]"))
    results, _ = _batch(policy, [b"450 user unknown"] * 3)
    assert results == [550] * 3
    assert lookups.count(450) == 3  # type: ignore[comparison-overlap]
    assert lookups.count(b"450 user unknown") == 1


def test_nothing_is_remembered_past_half_the_memory_limit(
        load: Any, lookups: list[bytes]) -> None:
    policy = load(POLICY.replace("kumo.on(", (
        "BIG = {}\nfor i = 1, 20 do BIG[i] = string.rep(string.char(64 + i), 1024 * 1024) end\n"
        "kumo.on(")),
                  max_memory=32 * 1024 * 1024)
    results, _ = _batch(policy, [b"450 user unknown"] * 5)
    assert results == [550] * 5
    assert len(lookups) == 5


def test_a_replaced_map_is_asked_again(load: Any, lookups: list[bytes], clock: Any) -> None:
    policy = load(POLICY)
    _batch(policy, [b"450 user unknown"] * 2)
    assert len(lookups) == 1
    clock.advance(301)  # the memoized map expires: a new map, new answers
    _batch(policy, [b"450 user unknown"] * 2)
    assert len(lookups) == 2
