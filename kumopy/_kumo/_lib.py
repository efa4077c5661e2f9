"""Shared pieces of the library namespaces (regex, time, uuid, digest, ...):
userdata with methods (`obj:method(...)`), fields and Lua operators.

A `LibObject` subclass lists its methods in `methods` (name -> function called
as fn(self, state, *lua_args)) and answers fields in `field()`.  Lua
operators (`==`, `+`, `-`, `<close>`) on userdata are routed to `lua_eq`,
`lua_add`, `lua_sub` and `lua_close`: the metamethods are added to the
shared metatable of Python objects the first time a state creates such an
object (`enable_operators`).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from .._errors import KumoError
from .._message._lua import bound_method
from .._regex.setmap import utf8_error
from .._runtime import decode
from .._runtime.userdata import Userdata
from ._args import lua_number_text, lua_type_name

if TYPE_CHECKING:
    from .._runtime import LuaState

__all__ = [
    "LibObject",
    "enable_operators",
    "int_arg",
    "rust_string",
    "bytes_arg",
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
    return bound_method(state, cls, key, lambda st, this, *args: impl(this, st, *args))


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


# -- argument conversion (mlua's FromLua shapes) -------------------------------


def rust_string(value: Any, what: str = "String") -> str:
    """A Lua value converted to a Rust `String`: strings must be valid
    UTF-8, numbers coerce."""
    if isinstance(value, bytes):
        if not value.isascii():
            problem = utf8_error(value)
            if problem is not None:
                raise KumoError(f"error converting Lua string to {what} ({problem})")
        return decode(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return lua_number_text(value)
    raise KumoError(f"error converting Lua {lua_type_name(value)} to {what}")


def bytes_arg(value: Any, what: str = "String") -> bytes:
    """A Lua value converted to an `mlua::String` (raw bytes; numbers coerce)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return lua_number_text(value).encode()
    raise KumoError(f"error converting Lua {lua_type_name(value)} to {what}")


def int_arg(value: Any, what: str, lo: int, hi: int) -> int:
    """A Lua value converted to a Rust integer type (`what` = "usize", ...)."""
    if isinstance(value, bool) or value is None:
        raise KumoError(f"error converting Lua {lua_type_name(value)} to {what}")
    if isinstance(value, float):
        if not value.is_integer():
            raise KumoError(f"error converting Lua number to {what} (out of range)")
        value = int(value)
    elif isinstance(value, bytes):
        try:
            text = decode(value).strip()
            number = float(text) if any(c in text for c in ".eEnN") else int(text, 0)
        except ValueError:
            raise KumoError(f"error converting Lua string to {what}") from None
        return int_arg(number, what, lo, hi)
    if not isinstance(value, int):
        raise KumoError(f"error converting Lua {lua_type_name(value)} to {what}")
    if not lo <= value <= hi:
        raise KumoError(f"error converting Lua integer to {what} (out of range)")
    return value


def usize_arg(value: Any) -> int:
    return int_arg(value, "usize", 0, 2**64 - 1)
