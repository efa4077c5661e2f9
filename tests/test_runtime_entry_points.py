"""Every place where Lua calls into Python turns whatever Python raises into
a Lua error at the policy's line (docs/security.md, "Lua runtime"): kumo
functions, the userdata metamethods (index, assignment, `#`, `pairs`,
`tostring`), userdata methods and the sandbox's pattern services.

An exception that is not an `Exception` (pyo3's PanicException from a Rust
library is a BaseException) is an error like any other, or the budget's
stop when the handler has run out of CPU time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from kumopy import BudgetExceeded, Policy, PolicyError
from kumopy._runtime import Userdata


class FakePanic(BaseException):
    """What pyo3 raises when Rust code panics (a BaseException)."""


def _burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


class Hostile(Userdata):
    lua_type_name = "Hostile"

    def __init__(self, burn: float = 0.0) -> None:
        self.burn = burn

    def _fail(self) -> Any:
        if self.burn:
            _burn(self.burn)
        raise FakePanic("rust panicked: index out of bounds")

    def lua_index(self, state: Any, key: Any) -> Any:
        return self._fail()

    def lua_newindex(self, state: Any, key: Any, value: Any) -> None:
        self._fail()

    def lua_len(self, state: Any) -> int:
        return int(self._fail())

    def lua_items(self, state: Any) -> Iterator[tuple[Any, Any]]:
        self._fail()
        yield (None, None)

    def lua_tostring(self, state: Any) -> bytes:
        return bytes(self._fail())


USES = {
    "index": "local v = ud.x",
    "newindex": "ud.x = 1",
    "len": "local n = #ud",
    "pairs": "for k, v in pairs(ud) do end",
    "tostring": "local s = tostring(ud)",
}


def _policy(load: Any, use: str) -> Policy:
    return load(
        "local kumo = require 'kumo'\n"
        "kumo.on('t', function()\n"
        f"  {use}\n"
        "  return 'not reached'\n"
        "end)\n"
        "kumo.on('caught', function()\n"
        f"  local ok, e = pcall(function() {use} end)\n"
        "  return ok, e\n"
        "end)\n"
        "kumo.on('ok', function() return 'still usable' end)\n",
        budget_seconds=0.3,
    )


@pytest.mark.parametrize("use", list(USES))
def test_a_base_exception_in_a_metamethod_is_a_lua_error(load: Any, use: str) -> None:
    policy = _policy(load, USES[use])
    policy.state.globals[b"ud"] = Hostile()
    with pytest.raises(PolicyError) as e:
        policy.call("t")
    assert not isinstance(e.value, BudgetExceeded)
    assert e.value.line == 3, e.value
    assert "rust panicked: index out of bounds" in e.value.message
    assert policy.call("ok") == "still usable"


@pytest.mark.parametrize("use", list(USES))
def test_the_policy_can_catch_it_like_kumods_error(load: Any, use: str) -> None:
    policy = _policy(load, USES[use])
    policy.state.globals[b"ud"] = Hostile()
    ok, message = policy.dispatch("caught").values
    assert ok is False
    assert "rust panicked" in message


@pytest.mark.parametrize("use", list(USES))
def test_a_base_exception_past_the_budget_is_the_stop(load: Any, use: str) -> None:
    policy = _policy(load, USES[use])
    policy.state.globals[b"ud"] = Hostile(burn=0.5)
    with pytest.raises(BudgetExceeded):
        policy.call("caught")  # (pcall cannot catch the stop)
    assert policy.call("ok") == "still usable"


def test_a_base_exception_in_a_userdata_method(load: Any) -> None:
    from kumopy._message._lua import bound_method

    def explode(state: Any, this: Any) -> Any:
        raise FakePanic("method panicked")

    policy = load(
        "local kumo = require 'kumo'\n"
        "kumo.on('t', function()\n"
        "  local r = boom(ud)\n"
        "  return r\n"
        "end)\n"
    )
    state = policy.state
    state.globals[b"boom"] = bound_method(state, Hostile, b"explode", explode)
    state.globals[b"ud"] = Hostile()
    with pytest.raises(PolicyError) as e:
        policy.call("t")
    assert e.value.line == 3
    assert "method panicked" in e.value.message


def test_a_base_exception_in_a_pattern_service(load: Any, monkeypatch: Any) -> None:
    from kumopy._runtime import _patterns

    def explode(self: Any, *args: Any) -> Any:
        raise FakePanic("matcher panicked")

    monkeypatch.setattr(_patterns.PatternEngines, "find", explode)
    monkeypatch.setattr(_patterns, "FORCE", "python")
    policy = load(
        "local kumo = require 'kumo'\n"
        "kumo.on('t', function(s)\n"
        "  return s:find('(a+)b')\n"
        "end)\n"
    )
    with pytest.raises(PolicyError) as e:
        policy.call("t", "aab")
    assert e.value.line == 3
    assert "matcher panicked" in e.value.message
