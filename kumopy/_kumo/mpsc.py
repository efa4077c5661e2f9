"""`kumo.mpsc.define(name [, buffer])` (kumod: crates/mod-mpsc): a named,
process-wide queue of memoizable values.

Without `buffer` the queue is unbounded; with it, `send`/`try_send` fail
once `buffer` values wait.  Methods: `send(v)`, `try_send(v)` (true/false),
`send_timeout(v, seconds)`, `recv()`, `try_recv()` (nil when empty),
`recv_many(limit)`, `len()`, `is_empty()`, `close()`, `is_closed()`.
Values are copied as kumo.memoize copies them (tables, strings, numbers,
booleans and memoizable objects such as cidr maps); anything else is an
error.  Defining an existing name returns that queue, whatever `buffer` says.

kumod's producers and consumers run concurrently; in kumopy nothing else
runs while a handler waits.  So a wait that kumod would end only when
another task acted fails at once with a clear error: `send` on a full
queue, `recv`/`recv_many` on an empty open queue.  `send_timeout` on a
full queue fails with kumod's timeout error without waiting.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .._errors import KumoError
from ._args import lua_type_name, string_arg
from ._lib import LibObject, usize_arg

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["register"]


@dataclass
class _Queue:
    name: str
    bound: int | None
    items: deque[Any] = field(default_factory=deque)
    closed: bool = False

    def full(self) -> bool:
        return self.bound is not None and len(self.items) >= self.bound


def _value(state: LuaState, value: Any) -> Any:
    return state.to_cache_value(value)


class QueueHandle(LibObject):
    lua_type_name = "QueueHandle"

    def __init__(self, queue: _Queue) -> None:
        self.queue = queue

    def _open(self) -> _Queue:
        if self.queue.closed:
            raise KumoError("cannot send to closed channel")
        return self.queue

    def _send(self, state: LuaState, value: Any = None, *_: Any) -> None:
        q = self._open()
        item = _value(state, value)
        if q.full():
            raise KumoError(
                f"kumopy: send on the full queue '{q.name}' would wait forever: nothing "
                "receives while a handler waits (use try_send or send_timeout)"
            )
        q.items.append(item)

    def _try_send(self, state: LuaState, value: Any = None, *_: Any) -> bool:
        q = self._open()
        item = _value(state, value)
        if q.full():
            return False
        q.items.append(item)
        return True

    def _send_timeout(self, state: LuaState, value: Any = None, seconds: Any = None,
                      *_: Any) -> None:
        q = self._open()
        item = _value(state, value)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise KumoError(f"error converting Lua {lua_type_name(seconds)} to f32")
        if q.full():
            raise KumoError("timed out waiting on send operation")
        q.items.append(item)

    def _recv(self, state: LuaState, *_: Any) -> Any:
        q = self.queue
        if q.items:
            return state.cache_value_to_lua(q.items.popleft())
        if q.closed:
            return None
        raise KumoError(
            f"kumopy: recv on the empty queue '{q.name}' would wait forever: nothing "
            "sends while a handler waits (use try_recv)"
        )

    def _try_recv(self, state: LuaState, *_: Any) -> Any:
        q = self.queue
        return state.cache_value_to_lua(q.items.popleft()) if q.items else None

    def _recv_many(self, state: LuaState, limit: Any = None, *_: Any) -> Any:
        q = self.queue
        n = usize_arg(limit)
        if n and not q.items and not q.closed:
            raise KumoError(
                f"kumopy: recv_many on the empty queue '{q.name}' would wait forever: "
                "nothing sends while a handler waits (use try_recv)"
            )
        out = [state.cache_value_to_lua(q.items.popleft()) for _ in range(min(n, len(q.items)))]
        return state.table_from(out)

    def _len(self, state: LuaState, *_: Any) -> int:
        return len(self.queue.items)

    def _is_empty(self, state: LuaState, *_: Any) -> bool:
        return not self.queue.items

    def _close(self, state: LuaState, *_: Any) -> None:
        self.queue.closed = True

    def _is_closed(self, state: LuaState, *_: Any) -> bool:
        return self.queue.closed

    methods: ClassVar[dict[str, Any]] = {
        "send": _send,
        "try_send": _try_send,
        "send_timeout": _send_timeout,
        "recv": _recv,
        "try_recv": _try_recv,
        "recv_many": _recv_many,
        "len": _len,
        "is_empty": _is_empty,
        "close": _close,
        "is_closed": _is_closed,
    }

    def __str__(self) -> str:
        return f"QueueHandle: {self.queue.name}"


def define(state: LuaState, name: Any = None, buffer: Any = None, *_: Any) -> QueueHandle:
    text = string_arg(name)
    bound = None if buffer is None else usize_arg(buffer)
    queues: dict[str, _Queue] = state.process.service("mpsc", dict)
    queue = queues.get(text)
    if queue is None:
        if bound == 0:
            raise KumoError("mpsc bounded channel requires buffer > 0")
        queue = queues[text] = _Queue(text, bound)
    return QueueHandle(queue)


def register(kumo: Namespace) -> None:
    kumo.function(
        "mpsc.define",
        define,
        notes="process-wide; a wait no other task could end (send on a full queue, recv on "
        "an empty one) is an error instead of a hang",
    )

