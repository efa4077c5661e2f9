"""Python objects that Lua sees as kumod userdata.

kumod hands policies userdata for memoized tables, regex maps and config
objects.  lupa already shows Python objects to Lua as userdata, so kumopy
implements each kind as a subclass of `Userdata`; the state routes Lua's
`obj[k]`, `obj[k] = v`, `#obj` and `pairs(obj)` to the methods below, and
nothing else of the Python object is reachable from Lua.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .._errors import KumoError

if TYPE_CHECKING:
    from . import LuaState

__all__ = ["CacheKey", "MemoizedTable", "Userdata"]

CacheKey = int | str


class Userdata:
    """Base class of every Python object exposed to Lua as kumo userdata."""

    #: the name Lua error messages use for this type
    lua_type_name = "userdata"

    #: True when `lua_index` is a pure function of the key (the same key
    #: always gives the same value, nothing else happens): it is then
    #: reached through `lua_lookup`, and Lua may answer a key it has seen
    #: without asking again (only while kumopy replay runs a batch)
    pure_index = False

    def lua_index(self, state: LuaState, key: Any) -> Any:
        raise KumoError(f"attempt to index a {self.lua_type_name} value")

    def lua_lookup(self, state: LuaState, key: Any) -> tuple[Any, int | None]:
        """(For `pure_index` types) `lua_index`'s value and a position
        telling what decided it: an integer > 0, 0 for nothing, negative
        (minus the position) for an answer that must not be remembered
        (a new userdata each time, say), None when there is nothing to
        tell.  Lua remembers only the answers to string keys."""
        return self.lua_index(state, key), None

    def lua_newindex(self, state: LuaState, key: Any, value: Any) -> None:
        raise KumoError(f"attempt to assign to a field of a {self.lua_type_name} value")

    def lua_len(self, state: LuaState) -> int:
        raise KumoError(f"attempt to get length of a {self.lua_type_name} value")

    def lua_items(self, state: LuaState) -> Iterator[tuple[Any, Any]]:
        raise KumoError(f"{self.lua_type_name} cannot be iterated with pairs")

    def lua_tostring(self, state: LuaState) -> bytes:
        """What Lua's tostring() gives (bytes: need not be UTF-8)."""
        return str(self).encode("utf-8", "surrogateescape")

    def to_data(self) -> Any:
        """Plain Python data for serialisation (JSON, memoize keys)."""
        raise KumoError(
            f"cannot serialize a {self.lua_type_name} value because it has no __pairs metamethod"
        )

    def __str__(self) -> str:
        return f"{self.lua_type_name}: 0x{id(self):012x}"


class MemoizedTable(Userdata):
    """A table that came out of a memoize cache (or a regex_set_map value).

    Mirrors kumod's MemoizedTable: indexing a nested table gives a new
    object each time, `#t` is the number of entries, `pairs` visits every
    entry (kumopy: in insertion order; kumod: unspecified), and assignment
    changes only this one returned object (copy on write), never the cache.
    """

    lua_type_name = "MemoizedTable"
    __slots__ = ("_data", "_owned")

    def __init__(self, data: dict[CacheKey, Any]) -> None:
        self._data = data
        self._owned = False

    def lua_index(self, state: LuaState, key: Any) -> Any:
        k = state.cache_key(key)
        if k is None:
            return None
        return state.cache_value_to_lua(self._data.get(k))

    def lua_newindex(self, state: LuaState, key: Any, value: Any) -> None:
        k = state.cache_key(key)
        if k is None:
            raise KumoError("table key cannot be used as a key in a memoizable table")
        if not self._owned:
            self._data = dict(self._data)
            self._owned = True
        if value is None:
            self._data.pop(k, None)
        else:
            self._data[k] = state.to_cache_value(value)

    def lua_len(self, state: LuaState) -> int:
        return len(self._data)

    def lua_items(self, state: LuaState) -> Iterator[tuple[Any, Any]]:
        for k, v in self._data.items():
            yield state.to_lua(k), state.cache_value_to_lua(v)

    def to_data(self) -> Any:
        return _materialize(self._data)

    @property
    def data(self) -> dict[CacheKey, Any]:
        return self._data


def _materialize(data: Any) -> Any:
    """Turn a cached table into plain data the way kumod's materialise step
    does: a table whose keys start a sequence 1..n becomes a list of that
    sequence; anything else stays a dict."""
    if not isinstance(data, dict):
        return data
    n = 0
    while (n + 1) in data:
        n += 1
    if n > 0:
        return [_materialize(data[i]) for i in range(1, n + 1)]
    return {k: _materialize(v) for k, v in data.items()}
