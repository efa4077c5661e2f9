"""Network clients kumopy does not run, unless a test provides a fake.

`kumo.http.connect_websocket`,
`kumo.amqp.build_client`, `kumo.amqp.basic_publish`,
`kumo.kafka.build_producer` and `kumo.nats.connect` raise
`kumopy: kumo.X is not supported` unless the Policy was given a fake for
that name: `Policy.load(path, fakes={"amqp.build_client": fn})`
(`kumo.http.build_client` is implemented, kumopy/_kumo/http.py, and takes a
fake the same way).  The fake
is called with the Lua arguments as Python values and its result goes back
to Lua (dicts and lists as tables).  To hand Lua an object with methods,
return a `FakeObject`: its callable members are methods
(`client:get(url)` calls `get(url)`), the rest fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .._errors import KumoError, UnsupportedError
from .._runtime import decode
from .._runtime.userdata import Userdata

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["FAKEABLE", "FAKE_ONLY", "FakeObject", "register"]

#: network clients kumopy only runs with a fake
FAKE_ONLY = (
    "http.connect_websocket",
    "amqp.build_client",
    "amqp.basic_publish",
    "kafka.build_producer",
    "nats.connect",
)
#: every name `Policy(fakes=...)` accepts: the fake-only clients, and
#: `http.build_client`, which runs for real but yields to a fake
FAKEABLE = ("http.build_client", *FAKE_ONLY)


class FakeObject(Userdata):
    """An object a fake hands to Lua: callable members are methods."""

    lua_type_name = "FakeObject"

    def __init__(self, **members: Any) -> None:
        self.members = members

    def lua_index(self, state: LuaState, key: Any) -> Any:
        name = decode(key) if isinstance(key, bytes) else key
        if name not in self.members:
            return None
        value = self.members[name]
        if callable(value) and not isinstance(value, Userdata):
            return state.lua_function(f"FakeObject:{name}", _method(self, value))
        return _to_lua(state, value)

    def lua_items(self, state: LuaState) -> Iterator[tuple[Any, Any]]:
        for k, v in self.members.items():
            if not callable(v):
                yield state.to_lua(k), _to_lua(state, v)

    def to_data(self) -> Any:
        return {k: v for k, v in self.members.items() if not callable(v)}

    def __repr__(self) -> str:
        return f"FakeObject({', '.join(self.members)})"


def _method(obj: FakeObject, fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(state: LuaState, *args: Any) -> Any:
        if args and args[0] is obj:
            args = args[1:]
        return _call(state, fn, args)

    return call


def _to_lua(state: LuaState, value: Any) -> Any:
    if isinstance(value, Userdata):
        return value
    if isinstance(value, tuple):
        return tuple(_to_lua(state, v) for v in value)
    return state.to_lua(value)


def _call(state: LuaState, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    try:
        result = fn(*(state.to_python(a) for a in args))
    except KumoError:
        raise
    except Exception as e:  # the fake said no: a Lua error, as a failing client gives
        raise KumoError(f"{type(e).__name__}: {e}") from None
    return _to_lua(state, result)


def _fakeable(name: str) -> Callable[..., Any]:
    def impl(state: LuaState, *args: Any) -> Any:
        fake = getattr(state.process, "fakes", {}).get(name)
        if fake is None:
            raise UnsupportedError(name)
        return _call(state, fake, args)

    return impl


def register(kumo: Namespace) -> None:
    from ._registry import Entry

    for name in FAKE_ONLY:
        # listed as not supported: it only works with a fake
        kumo.entries[name] = Entry(
            name,
            _fakeable(name),
            "fakes",
            supported=False,
            notes="a test can provide a fake: Policy(fakes={...}) (docs/library.md)",
        )
