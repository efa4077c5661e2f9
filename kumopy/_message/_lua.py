"""Methods of userdata objects (`obj:method(...)`), one Lua function per
(state, class, method), created on first use.

A class lists its methods in `LUA_METHODS[cls]` as name -> impl, called as
impl(state, obj, *lua_args); `lua_method` is what the class's lua_index
returns for a method name.  The kumo namespace modules in `PROVIDERS` fill
the table when they are imported; a Policy imports them when a function of
theirs is first called (kumopy/_kumo/_lazy.py), so `lua_method` imports
them itself the first time it is asked for the methods of a class it has
none for (a message the host made, before the policy called any
`kumo.message` function).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._errors import KumoError

if TYPE_CHECKING:
    from .._runtime import LuaState

__all__ = ["LUA_METHODS", "PROVIDERS", "bound_method", "lua_method"]

MethodImpl = Callable[..., Any]
LUA_METHODS: dict[type, dict[bytes, MethodImpl]] = {}
PROVIDERS = ("kumopy._kumo.message",)
_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple[type, bytes], Any]] = weakref.WeakKeyDictionary()


def lua_method(state: LuaState, cls: type, key: Any) -> Any:
    if not isinstance(key, bytes):
        raise KumoError(f"attempt to get an unknown field of {cls.__name__}")
    methods = LUA_METHODS.get(cls)
    if methods is None:
        from importlib import import_module

        for module in PROVIDERS:
            import_module(module)
        methods = LUA_METHODS.get(cls, {})
    impl = methods.get(key)
    if impl is None:
        raise KumoError(f"attempt to get an unknown field '{key.decode('utf-8', 'replace')}'")
    return bound_method(state, cls, key, impl)


def bound_method(
    state: LuaState,
    cls: type,
    key: bytes,
    impl: MethodImpl,
    target: Callable[..., Any] | None = None,
) -> Any:
    """The Lua function for method `key` of `cls` in `state`, created on
    first use: it checks `self` (mlua's error text when called with `.`
    instead of `:`) and calls impl(state, self, *lua_args).  The namespace
    userdata (kumopy/_kumo/_lib.py) share it.

    Arguments follow mlua's rules (kumopy/_kumo/_args.py): surplus ones
    are dropped and missing ones are nil, judged by the signature of
    `target` (default `impl`), whose first two parameters are the state and
    the object in some order; a failed conversion reads `bad argument #N
    to `Type.method`: ...` (`self` is argument #1)."""
    per_state = _CACHE.get(state)
    if per_state is None:
        per_state = _CACHE[state] = {}
    fn = per_state.get((cls, key))
    if fn is not None:
        return fn
    from .._kumo._args import ArgConversionError, ArgSpec

    name = key.decode()
    type_name = getattr(cls, "lua_type_name", cls.__name__)
    spec = ArgSpec.of(target if target is not None else impl, skip=2)
    where = f"{type_name}.{name}"

    def call(st: LuaState, this: Any = None, *args: Any) -> Any:
        if not isinstance(this, cls):
            raise KumoError(
                f"bad argument `self` to method `{where}`: error converting "
                f"Lua {_kind(this)} to userdata (call it as obj:{name}(...))"
            )
        if spec is None:
            return impl(st, this, *args)
        args = spec.fit(args)
        try:
            return impl(st, this, *args)
        except ArgConversionError as e:
            raise spec.bad_argument(e, args, first=2, to=where) from None

    fn = per_state[(cls, key)] = state.lua_function(f"{type_name}:{name}", call)
    return fn


def _kind(value: Any) -> str:
    from .._kumo._args import lua_type_name

    return lua_type_name(value)
