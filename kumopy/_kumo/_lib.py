"""Shared pieces of the library namespaces (regex, time, uuid, digest, ...):
userdata with methods (`obj:method(...)`), fields and Lua operators.

A `LibObject` subclass lists its methods in `methods` (name -> function called
as fn(self, state, *lua_args)) and answers fields in `field()`.  Lua
operators (`==`, `+`, `-`, `<close>`) on userdata are routed to `lua_eq`,
`lua_add`, `lua_sub` and `lua_close`: the metamethods are added to the
shared metatable of Python objects the first time a state creates such an
object (`enable_operators`).

Results count against the state's memory limit: `lua_size` estimates
(from above) what a Python value takes once it is a Lua value, and
`to_lua_checked` / `check_result` refuse a result that would take the state
past its limit before it is built (`LuaState.check_alloc`), as Lua's own
allocator refuses its allocations.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from .._errors import KumoError
from .._message._lua import bound_method
from .._regex.setmap import utf8_error
from .._runtime import decode
from .._runtime.userdata import Userdata
from ._args import (
    EXPECTED_NUMBER,
    EXPECTED_STRING,
    OUT_OF_RANGE,
    ArgConversionError,
    lua_number_text,
    lua_tonumber,
    lua_type_name,
)

if TYPE_CHECKING:
    from .._runtime import LuaState

__all__ = [
    "LibObject",
    "check_result",
    "lua_size",
    "to_lua_checked",
    "enable_operators",
    "int_arg",
    "rust_string",
    "bytes_arg",
    "float_arg",
    "usize_arg",
]

Method = Callable[..., Any]

_OPERATORS_ON: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


class LibObject(Userdata):
    """Userdata with methods and read-only fields."""

    methods: ClassVar[dict[str, Method]] = {}

    def field(self, state: LuaState, name: str) -> Any:
        """The value of field `name`; raise AttributeError when there is none."""
        raise AttributeError(name)

    def lua_index(self, state: LuaState, key: Any) -> Any:
        if not isinstance(key, bytes):
            return None
        name = decode(key)
        if name in self.methods:
            return _method(state, type(self), key)
        try:
            return self.field(state, name)
        except AttributeError:
            return None

    def lua_newindex(self, state: LuaState, key: Any, value: Any) -> None:
        shown = decode(key) if isinstance(key, bytes) else lua_type_name(key)
        raise KumoError(
            f"attempt to set field '{shown}' of a {self.lua_type_name}: it is read-only"
        )


def _method(state: LuaState, cls: type[LibObject], key: bytes) -> Any:
    impl = cls.methods[decode(key)]
    return bound_method(state, cls, key, lambda st, this, *args: impl(this, st, *args), impl)


def enable_operators(state: LuaState) -> None:
    """Route `==`, `+`, `-` and `<close>` on Python userdata to their
    lua_eq/lua_add/lua_sub/lua_close methods (once per state)."""
    if _OPERATORS_ON.get(state):
        return
    _OPERATORS_ON[state] = True

    def eq(st: LuaState, a: Any = None, b: Any = None) -> bool:
        f = getattr(a, "lua_eq", None)
        return bool(f(st, b)) if f is not None else False

    def binop(op: str) -> Callable[..., Any]:
        def impl(st: LuaState, a: Any = None, b: Any = None) -> Any:
            f = getattr(a, op, None)
            if f is not None:
                return f(st, b)
            rf = getattr(b, op + "_right", None)
            if rf is not None:
                return rf(st, a)
            raise KumoError("attempt to perform arithmetic on a userdata value")

        return impl

    def close(st: LuaState, obj: Any = None, *_: Any) -> None:
        f = getattr(obj, "lua_close", None)
        if f is not None:
            f(st)

    setup = state.rt.execute(
        b"local mt, eq, add, sub, close = ...\n"
        b"if type(mt) ~= 'table' then return end\n"
        b"if mt.__eq == nil then mt.__eq = eq end\n"
        b"if mt.__add == nil then mt.__add = add end\n"
        b"if mt.__sub == nil then mt.__sub = sub end\n"
        b"if mt.__close == nil then mt.__close = close end\n"
        b"return true",
        state.userdata_metatable(),
        state.lua_function("__eq", eq),
        state.lua_function("__add", binop("lua_add")),
        state.lua_function("__sub", binop("lua_sub")),
        state.lua_function("__close", close),
    )
    del setup


# -- memory accounting for results -----------------------------------------------

#: Lua 5.4 on 64-bit, rounded up: a string's header, a table's header, one
#: array slot or hash node (tables grow by doubling: counted twice)
LUA_STRING_BYTES = 40
LUA_TABLE_BYTES = 64
LUA_SLOT_BYTES = 32
LUA_NODE_BYTES = 64


def lua_size(value: Any, limit: int | None = None) -> int:
    """About how many bytes of Lua memory `value` (as `LuaState.to_lua`
    converts it) takes, never less; stops counting past `limit`."""
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if v is None or isinstance(v, bool | int | float):
            continue
        if isinstance(v, str | bytes | bytearray):
            total += LUA_STRING_BYTES + len(v) * (
                3 if isinstance(v, str) and not v.isascii() else 1
            )
        elif isinstance(v, dict):
            total += LUA_TABLE_BYTES + LUA_NODE_BYTES * len(v)
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            total += LUA_TABLE_BYTES + LUA_SLOT_BYTES * len(v)
            stack.extend(v)
        if limit is not None and total > limit:
            break
    return total


def _room(state: LuaState) -> int | None:
    if state.max_memory is None:
        return None
    return state.max_memory - (state.rt.get_memory_used() or 0) + 1


def check_result(state: LuaState, nbytes: int, what: str) -> None:
    """Refuse to build a result of about `nbytes` bytes of Lua memory that
    would take the state past its memory limit."""
    state.check_alloc(nbytes, what)


def to_lua_checked(state: LuaState, value: Any, what: str) -> Any:
    """`state.to_lua(value)` after checking that it fits the memory limit."""
    if state.max_memory is not None:
        state.check_alloc(lua_size(value, _room(state)), what)
    return state.to_lua(value)


# -- argument conversion (mlua's FromLua shapes) -------------------------------


def rust_string(value: Any, what: str = "String") -> str:
    """A Lua value converted to a Rust `String`: strings must be valid
    UTF-8, numbers coerce."""
    if isinstance(value, bytes):
        if not value.isascii():
            problem = utf8_error(value)
            if problem is not None:
                raise ArgConversionError(value, what, problem)
        return decode(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return lua_number_text(value)
    raise ArgConversionError(value, what, EXPECTED_STRING)


def bytes_arg(value: Any, what: str = "string") -> bytes:
    """A Lua value converted to an `mlua::String` (raw bytes; numbers coerce)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return lua_number_text(value).encode()
    raise ArgConversionError(value, what, EXPECTED_STRING)


def int_arg(value: Any, what: str, lo: int, hi: int) -> int:
    """A Lua value converted to a Rust integer type (`what` = "usize", ...)
    the way mlua 0.11 converts it: integers and integral floats must be in
    range; other floats are truncated toward zero (num-traits' cast) when
    that lands in range; strings coerce as Lua coerces them."""
    kind = lua_type_name(value)
    number: Any = value
    if isinstance(value, bytes):
        number = lua_tonumber(value)
    elif isinstance(value, bool) or not isinstance(value, int | float):
        number = None
    if number is None:
        raise ArgConversionError(value, what, EXPECTED_NUMBER)
    if isinstance(number, float):
        if (
            math.isfinite(number)
            and number == math.floor(number)
            and -(2.0**63) <= number < 2.0**63
        ):
            number = int(number)
            if kind == "number":
                kind = "integer"  # lua_tointegerx reads an integral float as an integer
        elif math.isfinite(number) and lo - 1 < number < hi + 1:
            return int(number)
        else:
            raise ArgConversionError(value, what, OUT_OF_RANGE, kind=kind)
    if not lo <= number <= hi:
        raise ArgConversionError(value, what, OUT_OF_RANGE, kind=kind)
    return int(number)


def float_arg(value: Any, what: str = "f64") -> float:
    """A Lua value converted to a Rust float (numbers; strings coerce)."""
    number: Any = None
    if isinstance(value, bytes):
        number = lua_tonumber(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = value
    if number is None:
        raise ArgConversionError(value, what, EXPECTED_NUMBER)
    return float(number)


def usize_arg(value: Any) -> int:
    return int_arg(value, "usize", 0, 2**64 - 1)
