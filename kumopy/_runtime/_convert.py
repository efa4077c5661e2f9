"""Values crossing between Lua and Python, within the state's memory limit.

lupa builds Lua values from Python ones (`table_from`, setting a table's
items, pushing a function's results or a call's arguments) with Lua API
calls that are not protected: when the state's allocator refuses one, Lua
raises its memory error by a long jump to the nearest protected call, over
the Python frames in between.  Outside a call that aborts the process
("PANIC: unprotected error in call to Lua API"); inside one it leaves the
thread holding the GIL twice, and the process deadlocks.  So kumopy never
lets lupa's own allocations fail:

* the allocator's limit is `max_memory` plus `HEADROOM`; `max_memory` itself
  is checked by kumopy: by the Lua hook every few thousand instructions, on
  every entry into Python from Lua, at the start of every call from Python,
  and around everything Python builds in Lua;
* Python builds Lua values (`to_lua`, `table_from`, `building()`) with the
  allocator's limit lifted, counting them from below as they are made and
  measuring the state afterwards: a value that takes the state past
  `max_memory` is dropped, the state collected, and PolicyMemoryError
  raised (the policy sees `not enough memory` at its line);
* what lupa pushes without asking (a function's result, a call's
  arguments) is checked first when it is larger than `SMALL`; smaller
  values fit in the headroom, since kumopy only runs Python code when the
  state is within `max_memory`.

Only the policy's own Lua code can take the state past `max_memory` (up to
the allocator's limit, where Lua refuses the allocation itself, in a
protected call); kumopy reports that as `not enough memory` too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from lupa import lua54

from .._errors import KumoError, PolicyMemoryError
from .userdata import CacheKey, MemoizedTable, Userdata

__all__ = ["HEADROOM", "MAX_DEPTH", "SMALL", "Conversions", "decode", "encode"]

T = TypeVar("T")
_lua_type = lua54.lua_type

#: bytes the allocator allows past `max_memory` (what lupa allocates while
#: Python runs must never fail)
HEADROOM = 4 * 1024 * 1024
#: a result or argument up to this size (bytes) is pushed without a check
SMALL = 4096
#: deepest nesting of tables converted between Lua and Python
MAX_DEPTH = 128

# Lua 5.4's sizes on 64-bit (lobject.h, ltable.c), counted from below: a
# string's header, a table's header, an array slot, a hash node
_STRING = 25
_TABLE = 56
_SLOT = 16
_NODE = 32

MEMORY = b"not enough memory"


def decode(value: bytes) -> str:
    """Lua string -> Python str, never failing on 8-bit data."""
    return value.decode("utf-8", "surrogateescape")


def encode(value: str) -> bytes:
    """Python str -> Lua string (inverse of `decode`)."""
    return value.encode("utf-8", "surrogateescape")


def _refusal() -> PolicyMemoryError:
    return PolicyMemoryError("not enough memory: the Lua state reached its memory limit")


class Conversions:
    """The conversion half of `LuaState` (a mixin: it needs `rt`,
    `max_memory` and the sandbox's array helpers)."""

    rt: Any
    max_memory: int | None
    _shape: Any
    _mark_array: Any
    _make_array_with_holes: Any
    #: a build with the allocator's limit lifted is under way
    _building: bool = False
    #: while building: bytes left before `max_memory`, counted from below
    _room: int = 0
    #: while building: the state was collected to make room
    _collected: bool = False

    # -- the memory limit ---------------------------------------------------

    def allocator_limit(self) -> int | None:
        """What the Lua allocator itself refuses past (None: no limit)."""
        return None if self.max_memory is None else self.max_memory + HEADROOM

    def over_limit(self) -> bool:
        """Whether the state uses more than `max_memory`, even after a full
        collection (Lua's heap holds garbage too: up to as much again as
        its live data between two collections)."""
        limit = self.max_memory
        if limit is None or (self.rt.get_memory_used() or 0) <= limit:
            return False
        self.reclaim()
        return (self.rt.get_memory_used() or 0) > limit

    def check_alloc(self, nbytes: int, what: str) -> None:
        """Raise `PolicyMemoryError` when building a result of about `nbytes`
        bytes would take the state past its memory limit.  Python
        implementations call this before building a large result, so that
        the limit covers them as it covers Lua's own allocations."""
        if self.max_memory is None or nbytes <= 0:
            return
        used = self.rt.get_memory_used() or 0
        if used + nbytes > self.max_memory:
            raise PolicyMemoryError(
                f"not enough memory: {what} would need {nbytes} bytes, beyond the "
                f"state's memory limit of {self.max_memory} bytes"
            )

    def fits(self, values: Any) -> bool:
        """Whether the strings lupa will push for `values` (a function's
        result, or a tuple of results or arguments) fit the memory limit."""
        if values.__class__ is bytes:
            n = len(values)
        elif values.__class__ is tuple:
            n = 0
            for v in values:
                if v.__class__ is bytes:
                    n += len(v)
        else:
            return True
        limit = self.max_memory
        if n <= SMALL or limit is None:
            return True
        if (self.rt.get_memory_used() or 0) + n + 1024 <= limit:
            return True
        self.reclaim()
        return (self.rt.get_memory_used() or 0) + n + 1024 <= limit

    def ready_to_call(self, args: tuple[Any, ...]) -> None:
        """Before Python calls a Lua function with `args`: the state must be
        within `max_memory` (collected if need be) and large string
        arguments must fit, since lupa pushes them unchecked.  Raises
        PolicyMemoryError."""
        if not self.fits(args):
            raise PolicyMemoryError(
                "not enough memory: the arguments of the call would take the Lua state "
                "past its memory limit"
            )
        if self.over_limit():
            raise _refusal()

    def reclaim(self) -> None:
        """Collect the state's garbage (after a refused build, whose values
        the failure's frames held), with the allocator's limit lifted."""
        if self.max_memory is None:
            return
        rt = self.rt
        if self._building:  # (the limit is lifted already)
            rt.gccollect()
            return
        rt.set_max_memory(0)
        try:
            rt.gccollect()
        finally:
            rt.set_max_memory(self.max_memory + HEADROOM)

    def _built(self, build: Callable[[], T]) -> T:
        """build(), which makes Lua values, with the allocator's limit
        lifted; PolicyMemoryError (the values dropped) when the state ends
        up past `max_memory`."""
        rt = self.rt
        limit = self.max_memory
        assert limit is not None
        self._room = limit - (rt.get_memory_used() or 0)
        self._collected = False
        self._building = True
        rt.set_max_memory(0)
        result: Any = None
        try:
            result = build()
            if (rt.get_memory_used() or 0) > limit:
                rt.gccollect()  # (what is over may be garbage)
                if (rt.get_memory_used() or 0) > limit:
                    raise _refusal()
        except BaseException:
            result = None
            rt.gccollect()
            raise
        finally:
            self._building = False
            rt.set_max_memory(limit + HEADROOM)
        return result  # type: ignore[no-any-return]

    @contextmanager
    def building(self) -> Iterator[None]:
        """Make Lua values (`rt.table()` and item assignment, say) with the
        allocator's limit lifted; PolicyMemoryError at the end when they
        took the state past `max_memory` (the caller's values are dropped
        as the error unwinds)."""
        if self.max_memory is None or self._building:
            yield
            return
        rt = self.rt
        limit = self.max_memory
        self._room = limit - (rt.get_memory_used() or 0)
        self._collected = False
        self._building = True
        rt.set_max_memory(0)
        try:
            yield
        finally:
            self._building = False
            if (rt.get_memory_used() or 0) > limit:
                rt.gccollect()  # (what is over may be garbage)
            over = (rt.get_memory_used() or 0) > limit
            rt.set_max_memory(limit + HEADROOM)
        if over:
            raise _refusal()

    def table_from(self, *args: Any, recursive: bool = False) -> Any:
        """lupa's `table_from`, within the memory limit."""
        if self.max_memory is None or self._building:
            return self.rt.table_from(*args, recursive=recursive)
        return self._built(lambda: self.rt.table_from(*args, recursive=recursive))

    def _spend_room(self, nbytes: int) -> None:
        """Count `nbytes` of what a build makes (from below): refused when it
        cannot fit, after collecting the garbage once."""
        self._room -= nbytes
        if self._room < 0:
            if self._collected or self.max_memory is None:
                raise _refusal()
            self._collected = True
            self.rt.gccollect()
            self._room = self.max_memory - (self.rt.get_memory_used() or 0)
            if self._room < 0:
                raise _refusal()

    # -- Python -> Lua ----------------------------------------------------------

    def to_lua(self, value: Any, _depth: int = 0) -> Any:
        """Python value -> Lua value (dicts and lists become tables; lists
        carry the array marker as JSON arrays do in kumod).  Raises
        KumoError for data nested deeper than MAX_DEPTH (or cyclic), and
        PolicyMemoryError for a value that does not fit the memory limit."""
        if value is None or isinstance(value, bool | int | float | bytes):
            return value
        if isinstance(value, str):
            return encode(value)
        if isinstance(value, Mapping | list | tuple):
            if self.max_memory is None:
                return self._to_lua(value, _depth, False)
            if self._building:
                return self._to_lua(value, _depth, True)
            return self._built(lambda: self._to_lua(value, _depth, True))
        return value  # Userdata, Lua objects

    def _to_lua(self, value: Any, depth: int, count: bool) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str | bytes):
            data = encode(value) if isinstance(value, str) else value
            if count:
                self._spend_room(_STRING + len(data))
            return data
        if isinstance(value, Mapping | list | tuple):
            if depth >= MAX_DEPTH:
                raise KumoError(
                    f"cannot convert a value nested deeper than {MAX_DEPTH} levels to Lua"
                )
            d = depth + 1
            rt = self.rt
            if isinstance(value, Mapping):
                if count:
                    self._spend_room(_TABLE + _NODE * len(value))
                return rt.table_from(
                    {self._to_lua(k, d, count): self._to_lua(v, d, count) for k, v in value.items()}
                )
            if count:
                self._spend_room(_TABLE + _SLOT * len(value))
            items = [self._to_lua(v, d, count) for v in value]
            if None in value:
                return self._make_array_with_holes(rt.table_from(items), len(items))
            return self._mark_array(rt.table_from(items))
        return value

    # -- Lua -> Python ----------------------------------------------------------

    def to_python(
        self,
        value: Any,
        *,
        serialize: bool = False,
        empty_array_as_list: bool = True,
    ) -> Any:
        """Lua value -> Python value.

        A table with a positive raw length becomes a list of that length
        (other keys dropped, holes None), an empty table with the array
        marker a list when `empty_array_as_list`, any other table a dict.
        With `serialize`, functions and userdata without data raise
        KumoError the way kumod's serializer refuses them.  Tables nested
        deeper than MAX_DEPTH (or cyclic) raise KumoError; a result that
        would take more Python memory than the state's memory limit raises
        PolicyMemoryError.
        """
        if isinstance(value, bytes):
            return decode(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        budget = [self.max_memory if self.max_memory is not None else -1]
        return self._to_python(value, serialize, empty_array_as_list, 0, budget)

    def _to_python(
        self, value: Any, serialize: bool, empty_array_as_list: bool, depth: int,
        budget: list[int],
    ) -> Any:
        if isinstance(value, bytes):
            if budget[0] >= 0:
                self._spend(budget, len(value) + 64)
            return decode(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        kind = _lua_type(value)
        if kind == "table":
            if depth >= MAX_DEPTH:
                raise KumoError(
                    f"cannot serialize a recursive table (nesting deeper than {MAX_DEPTH})"
                )
            n, marked = self._shape(value)
            d = depth + 1
            items: dict[Any, Any] = {}
            for k, v in value.items():
                if budget[0] >= 0:
                    self._spend(budget, 128)
                items[self._to_python(k, False, True, d, budget)] = self._to_python(
                    v, serialize, empty_array_as_list, d, budget
                )
            if n > 0:
                return [items.get(i) for i in range(1, n + 1)]
            if marked and empty_array_as_list and not items:
                return []
            if serialize:
                for k in items:
                    if isinstance(k, bool) or not isinstance(k, str | int | float):
                        raise KumoError(f"cannot serialize a table key of type {type(k).__name__}")
            return items
        if kind is None and isinstance(value, Userdata):
            return value.to_data() if serialize else value
        if serialize:
            raise KumoError(f"cannot serialize <{kind or type(value).__name__}>")
        return value

    def _spend(self, budget: list[int], nbytes: int) -> None:
        budget[0] -= nbytes
        if budget[0] < 0:
            raise PolicyMemoryError(
                f"not enough memory: converting a Lua value to Python would take more than "
                f"the state's memory limit of {self.max_memory} bytes"
            )

    # -- memoize / regex_set_map value model ("CacheValue" in kumod) ------------

    def cache_key(self, key: Any) -> CacheKey | None:
        if isinstance(key, bytes):
            return decode(key)
        if isinstance(key, bool):
            return None
        if isinstance(key, int):
            return key
        if isinstance(key, float) and key.is_integer():
            return int(key)
        return None

    def to_cache_value(self, value: Any, _depth: int = 0) -> Any:
        """Lua value -> the immutable value model memoize caches hold."""
        if isinstance(value, bytes):
            return decode(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, MemoizedTable):
            return value.data
        if isinstance(value, Userdata):
            if getattr(value, "memoizable", False):
                return value
            raise KumoError(f"cannot memoize a {value.lua_type_name} value")
        kind = _lua_type(value)
        if kind == "table":
            if _depth > 128:
                raise KumoError("cannot memoize a recursive table (nesting deeper than 128)")
            out: dict[CacheKey, Any] = {}
            for k, v in value.items():
                ck = self.cache_key(k)
                if ck is None:
                    shown = self.to_python(k) if _lua_type(k) is None else kind
                    raise KumoError(
                        f"table key {shown!r} cannot be used as a key in a memoizable table"
                    )
                out[ck] = self.to_cache_value(v, _depth + 1)
            return out
        raise KumoError(f"cannot memoize a Lua {kind or type(value).__name__} value")

    def cache_value_to_lua(self, value: Any) -> Any:
        if isinstance(value, dict):
            return MemoizedTable(value)
        if isinstance(value, str):
            return encode(value)
        return value

