"""`kumo.api.inject.build_v1`, `kumo.api.inject.inject_v1` and
`kumo.apply_supplemental_trace_header` (kumod: crates/kumod
http_server/inject_v1.rs, mod_kumo.rs, smtp_server.rs).

`build_v1(request)` returns one Message per recipient, built as kumod's
HTTP injection builds them.  `inject_v1(request)` also fires
`http_message_generated(message, auth_info)` for each (as the local
system, peer 127.0.0.1), adds the supplemental trace header and queues
the message (kumopy keeps it in memory: `injected_messages(policy)`),
returning kumod's response `{success_count, fail_count,
failed_recipients, errors}`.

Errors from these two functions are error values, as kumod's are: `pcall`
returns an object whose `tostring` is the message followed by a line
break and a traceback, with no `FILE:LINE:` in front.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import BudgetExceeded, KumoError, PolicyError, PolicyMemoryError
from .._message import Message
from .._message._inject import (
    LOCAL_AUTH_INFO,
    InjectError,
    InjectRequest,
    build_messages,
    compile_request,
    envelope_sender,
    make_message,
    normalize,
)
from .._message._trace import TraceHeaders, apply_supplemental
from .._runtime import _ERR
from .._runtime.userdata import Userdata
from ._args import lua_type_name

if TYPE_CHECKING:
    from .._policy import Policy
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["ErrorValue", "injected_messages", "register"]


def register(kumo: Namespace) -> None:
    kumo.function(
        "api.inject.build_v1",
        _build_v1,
        notes="MiniJinja and Static templates (Handlebars: not supported); "
        "errors are error values as in kumod",
    )
    kumo.function(
        "api.inject.inject_v1",
        _inject_v1,
        notes="fires http_message_generated in the same process and keeps queued messages "
        "in memory; deferred_generation returns kumod's all-zero response",
    )
    kumo.function("apply_supplemental_trace_header", _apply_supplemental_trace_header)


class ErrorValue(Userdata):
    """An error raised as a value (kumod's mlua error object): `tostring`
    gives the message, a line break and a short traceback."""

    lua_type_name = "Error"

    def __init__(self, message: str, function: str, where: tuple[str, int]) -> None:
        self.message = message
        self.function = function
        self.where = where

    def lua_index(self, state: LuaState, key: Any) -> Any:
        return None

    def __str__(self) -> str:
        file, line = self.where
        return (
            f"{self.message}\nstack traceback:\n\t[C]: in function '{self.function}'"
            f"\n\t{file}:{line}: in main chunk"
        )


def _raise(state: LuaState, function: str, message: str) -> tuple[Any, ErrorValue]:
    return _ERR, ErrorValue(message, function, state.where())


def _request(state: LuaState, value: Any) -> InjectRequest:
    data = state.to_python(value, serialize=True, empty_array_as_list=False)
    req = InjectRequest.parse(data)
    return req


def _build_v1(state: LuaState, request: Any = None) -> Any:
    try:
        req = _request(state, request)
        envelope_sender(req)
        normalize(req)
        compiled = compile_request(req)
        messages = build_messages(req, compiled)
    except (InjectError, KumoError) as e:
        return _raise(state, "kumo.api.inject.build_v1", str(e))
    return state.table_from(messages)


def injected_messages(policy: Policy) -> list[Message]:
    """The messages `kumo.api.inject.inject_v1` queued in this process."""
    return policy.service("inject.queued", list)


def _inject_v1(state: LuaState, request: Any = None) -> Any:
    try:
        req = _request(state, request)
        sender = envelope_sender(req)
        normalize(req)
        compiled = compile_request(req)
    except (InjectError, KumoError) as e:
        return _raise(state, "kumo.api.inject.inject_v1", str(e))
    result: dict[str, Any] = {
        "success_count": 0, "fail_count": 0, "failed_recipients": [], "errors": [],
    }  # fmt: skip
    if req.deferred_generation:
        return state.to_lua(result)
    process = state.process
    for recip in req.recipients:
        try:
            message = make_message(sender, recip, req, compiled, "127.0.0.1", "kumomta.internal")
            _deliver(process, message, req.trace_headers)
            result["success_count"] += 1
        except (BudgetExceeded, PolicyMemoryError):
            raise
        except Exception as e:  # kumod: any failure fails this recipient only
            result["fail_count"] += 1
            result["failed_recipients"].append(recip.email)
            result["errors"].append(f"{recip.email}: {_reason(e)}")
    return state.to_lua(result)


def _reason(e: Exception) -> str:
    from .smtp import reject_of

    rej = reject_of(e)
    if rej is not None:
        return str(rej)
    return e.message if isinstance(e, PolicyError) else str(e)


def _deliver(process: Policy, message: Message, trace: TraceHeaders) -> None:
    """kumod's process_recipient after the message is made: the event,
    then (unless the queue is `null`) the trace header and the queue."""
    from .._reception import Reception

    process.dispatch("http_message_generated", message, dict(LOCAL_AUTH_INFO))
    queue = message.queue_name()
    if queue == "null":
        return
    apply_supplemental(message, trace)
    reception = process.service("inject.reception", lambda: Reception(process))
    reception.resolve_queue(queue, [])
    injected_messages(process).append(message)


def _apply_supplemental_trace_header(
    state: LuaState, message: Any = None, params: Any = None
) -> None:
    if not isinstance(message, Message):
        raise KumoError(f"error converting Lua {lua_type_name(message)} to userdata")
    try:
        trace = (
            TraceHeaders()
            if params is None
            else TraceHeaders.parse(state.to_python(params, serialize=True))
        )
    except InjectError as e:
        raise KumoError(str(e)) from None
    apply_supplemental(message, trace)
