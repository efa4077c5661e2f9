"""`kumo.domain_map.new([map])` (kumod: crates/domain-map).

A map keyed by domain names where a `*.suffix` key answers for names below
`suffix`.  kumod stores the keys in a tree of labels, right to left, and
kumopy keeps the same tree so every corner behaves alike:

* an exact key wins; `example.com` does not match `*.example.com`;
* the wildcard applies at the level where the walk finds no label, so
  `*.example.com` answers `a.b.example.com` too;
* a deeper key creates nodes that block the wildcard: with `*.example.com`
  and `a.b.example.com` defined, `b.example.com` and `x.b.example.com` are
  nil (no fall back to the outer wildcard);
* keys are case-sensitive, with no trailing-dot normalisation.

The userdata supports `map[domain]` and `map[domain] = value` only (no
`pairs`, no `#`), as in kumod; it can be memoized.  Values follow memoize's
rules (tables come back as MemoizedTable userdata).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .._runtime import lua_type
from .._runtime.userdata import Userdata
from ._args import ArgConversionError
from ._lib import rust_string

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["DomainMap", "register"]

_UNSET = object()


class _Node:
    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.value: Any = _UNSET
        self.children: dict[str, _Node] = {}


class DomainMap(Userdata):
    """kumod's DomainMap (a tree of labels, right to left)."""

    lua_type_name = "DomainMap"
    memoizable = True

    def __init__(self) -> None:
        self._top: dict[str, _Node] = {}

    def insert(self, key: str, value: Any) -> None:
        level = self._top
        labels = key.split(".")[::-1]
        for i, label in enumerate(labels):
            node = level.get(label)
            if node is None:
                node = level[label] = _Node()
            if i == len(labels) - 1:
                node.value = value
                return
            level = node.children

    def get(self, key: str, default: Any = None) -> Any:
        level = self._top
        labels = key.split(".")[::-1]
        for i, label in enumerate(labels):
            node = level.get(label)
            if node is None:
                wild = level.get("*")
                if wild is None or wild.value is _UNSET:
                    return default
                return wild.value
            if i == len(labels) - 1:
                return default if node.value is _UNSET else node.value
            level = node.children
        return default

    def items(self) -> Iterator[tuple[str, Any]]:
        """Every key with a value (sorted), as kumod serialises the map."""
        out: dict[str, Any] = {}

        def walk(level: dict[str, _Node], stack: list[str]) -> None:
            for label, node in level.items():
                path = [label, *stack]
                if node.value is not _UNSET:
                    out[".".join(path)] = node.value
                walk(node.children, path)

        walk(self._top, [])
        return iter(sorted(out.items()))

    # -- Lua ---------------------------------------------------------------

    def lua_index(self, state: LuaState, key: Any) -> Any:
        value = self.get(rust_string(key))
        if value is None or value.__class__ in (int, float, bool):
            return value
        return state.cache_value_to_lua(value)

    def lua_newindex(self, state: LuaState, key: Any, value: Any) -> None:
        self.insert(rust_string(key), state.to_cache_value(value))

    def to_data(self) -> Any:
        from .._runtime.userdata import _materialize

        return {k: _materialize(v) for k, v in self.items()}

    # memoize hashes memoizable userdata by identity (as kumod does by value)


def register(kumo: Namespace) -> None:
    kumo.function(
        "domain_map.new",
        new,
        notes="kumod's label tree and wildcard rules; only indexing and assignment, as in kumod",
    )


def new(state: LuaState, rules: Any = None) -> DomainMap:
    dmap = DomainMap()
    if rules is None:
        return dmap
    if lua_type(rules) != "table":
        raise ArgConversionError(rules, "HashMap<String, Value>")
    for k, v in rules.items():
        dmap.insert(rust_string(k), state.to_cache_value(v))
    return dmap
