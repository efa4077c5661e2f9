"""`kumo.on` and `kumo.get_event_registrars` (kumod: kumo-server-common)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from .._events import Handler
from ._args import function_arg, string_arg

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace


def register(kumo: Namespace) -> None:
    kumo.function(
        "on",
        on,
        notes="kumod's rules (Single/Multiple, duplicate Single is an error naming the first "
        "handler, no registration inside handlers other than main); the inside-a-handler "
        "message is worded by kumopy",
    )
    kumo.function(
        "get_event_registrars",
        get_event_registrars,
        notes="call stacks as `file:line` strings, innermost first; kumopy skips C frames",
    )


def on(state: LuaState, name: Any = None, func: Any = None) -> None:
    event = string_arg(name)
    fn = function_arg(func)
    current = state.globals[b"_KUMO_CURRENT_EVENT"]
    if isinstance(current, bytes) and current != b"main":
        raise KumoError(
            f"kumo.on('{event}', ...) was called while the event "
            f"'{current.decode('utf-8', 'replace')}' was being handled (or after it ran in this "
            "Lua state); kumod refuses this because handlers must be registered when the "
            "policy is loaded, so move the kumo.on call to the top level of the policy"
        )
    assert state.handlers is not None
    source, line = state.funcinfo(fn)
    state.handlers.register(
        Handler(event, fn, source=source, line=line, registrar=tuple(state.callstack()))
    )


def get_event_registrars(state: LuaState, name: Any = None) -> Any:
    event = string_arg(name)
    assert state.handlers is not None
    handlers = state.handlers.get(event)
    if not handlers:
        return None
    # kumod keeps plain tables in the Lua registry (no array marker)
    return state.table_from(
        [state.table_from([s.encode("utf-8", "surrogateescape") for s in h.registrar])
         for h in handlers]
    )
