"""`kumo.regex_set_map.new([map])` (kumod: crates/regex-set-map).

Builds a `RegexSetMap` from a table of pattern -> value and hands it to Lua
as userdata whose only operation is `map[subject]`: an unanchored search of
every pattern at once, returning the value of a matching pattern or nil.
Patterns use Rust regex syntax and are rejected exactly where the Rust
crate rejects them (`compiling rules: ...`).

Deterministic choice: kumod returns the value of the lowest-index matching
pattern, and its index order comes from a randomly seeded hash map (mlua
collects the table into a `HashMap<String, Value>`), so when patterns with
different values match the same subject its answer can change between
restarts.  kumopy applies `RegexSetMap`'s one rule: the first matching
pattern in sorted order of the pattern text.  `matches()` on the Python
object lists every matching pattern.

Values follow memoize's rules (tables come back as MemoizedTable userdata),
and the map itself is memoizable, as in kumod.

Observation (kumopy only): `observe_lookups(callback)` calls
`callback(map, index, subject)` after every `map[subject]` made by Lua
inside the block (`index` is the chosen pattern's position in
`map.patterns`, or None when nothing matched); `observe_builds(callback)`
calls `callback(map, where)` for every map a policy builds.  `kumopy replay`,
`explain` and `validate` use them to tell which rule decided a response
without matching it a second time; every map built is also remembered,
weakly, in the `regex_set_map.built` service of its Policy.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from .._regex import RegexSetError, RegexSetMap
from .._regex.setmap import utf8_error
from .._runtime import encode, lua_type
from .._runtime.userdata import Userdata
from ._args import ArgConversionError, lua_number_text, lua_type_name

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace


def register(kumo: Namespace) -> None:
    kumo.function(
        "regex_set_map.new",
        new,
        notes="RE2 set matcher with Rust regex syntax and semantics (linear time); when "
        "patterns with different values match, kumopy returns the first in sorted pattern "
        "order (kumod: unspecified); a subject that is not valid UTF-8 is an error, as in kumod",
    )


#: callback(map, index, subject) for each lookup, or None (hot path: one
#: global read per lookup when nobody observes)
LookupObserver = Callable[["LuaRegexSetMap", "int | None", "bytes | str"], None]
BuildObserver = Callable[["LuaRegexSetMap", str], None]
_lookup_observer: LookupObserver | None = None
#: Policy.service name of the list of (FILE:LINE, weakref to map) built so far
BUILT_SERVICE = "regex_set_map.built"
_build_observers: list[BuildObserver] = []


@contextmanager
def observe_lookups(callback: LookupObserver) -> Iterator[None]:
    """Call `callback(map, index, subject)` after every Lua `map[subject]`
    made inside the block (in this process; blocks nest, the innermost
    observer wins)."""
    global _lookup_observer
    outer = _lookup_observer
    _lookup_observer = callback
    try:
        yield
    finally:
        _lookup_observer = outer


@contextmanager
def observe_builds(callback: BuildObserver) -> Iterator[None]:
    """Call `callback(map, where)` for every map `kumo.regex_set_map.new`
    builds inside the block (`where` is the policy's FILE:LINE)."""
    _build_observers.append(callback)
    try:
        yield
    finally:
        _build_observers.remove(callback)


class LuaRegexSetMap(RegexSetMap, Userdata):
    """A RegexSetMap as Lua sees it: userdata indexed by subject."""

    lua_type_name = "RegexSetMap"
    memoizable = True

    pure_index = True

    def lua_index(self, state: LuaState, key: Any) -> Any:
        return self.lua_lookup(state, key)[0]

    def lua_lookup(self, state: LuaState, key: Any) -> tuple[Any, int | None]:
        subject: bytes | str
        if key.__class__ is bytes:
            if not key.isascii():
                problem = utf8_error(key)
                if problem is not None:
                    raise KumoError(f"error converting Lua string to String ({problem})")
            subject = key
        elif isinstance(key, int | float) and not isinstance(key, bool):
            subject = lua_number_text(key)
        else:
            raise ArgConversionError(key, "String")
        index = self.first_index(subject)
        observer = _lookup_observer
        if observer is not None:
            observer(self, index, subject)
        # (position: index + 1; Lua remembers the answer to a string key)
        if index is None:
            return None, 0
        value = self._values[index]
        if value is None or value.__class__ in (int, float, bool):
            return value, index + 1
        if value.__class__ is str:
            return encode(value), index + 1
        # (a table is a new userdata on every lookup, as kumod's is: never
        # remembered, which a negative position says)
        return state.cache_value_to_lua(value), -(index + 1)

    def lua_newindex(self, state: LuaState, key: Any, value: Any) -> None:
        raise KumoError("attempt to assign to a RegexSetMap: it is read-only")


def _built_list() -> list[tuple[str, weakref.ref[LuaRegexSetMap]]]:
    return []


def new(state: LuaState, rules: Any = None) -> LuaRegexSetMap:
    items: dict[str, Any] = {}
    if rules is not None:
        if lua_type(rules) != "table":
            raise KumoError(
                f"error converting Lua {lua_type_name(rules)} to HashMap<String, Value>"
            )
        for k, v in rules.items():
            if isinstance(k, bytes):
                key = k.decode("utf-8", "surrogateescape")
            elif isinstance(k, int | float) and not isinstance(k, bool):
                key = lua_number_text(k)
            else:
                raise ArgConversionError(k, "String")
            items[key] = state.to_cache_value(v)
    try:
        built = LuaRegexSetMap(items)
    except RegexSetError as e:
        raise KumoError(str(e)) from None
    except ValueError as e:
        raise KumoError(f"compiling rules: {e}") from None
    file, line = state.where()
    where = f"{file}:{line}"
    # every map this simulated process built (weakly: kumopy validate lints them)
    state.process.service(BUILT_SERVICE, _built_list).append((where, weakref.ref(built)))
    for observer in tuple(_build_observers):
        observer(built, where)
    return built
