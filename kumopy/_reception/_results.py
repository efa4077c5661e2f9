"""What the reception paths hand back: accepted messages and the results of
the HTTP, requeue, deferred-injection and log-hook paths."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._kumo.smtp import RejectError
from .._runtime.userdata import Userdata
from ._params import RelayDisposition
from ._replies import EventRecord

if TYPE_CHECKING:
    from .._message import Message


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclass
class Accepted:
    """One message of a transaction that kumod accepted (250 to DATA).

    `disposition` is "queued" (inserted into `queue`), "null" (the `null`
    queue: discarded), "not relayed" (accepted only to log an ARF/OOB
    report, or not relayable), or "deferred" (`deferred_queue`).
    """

    message: Message
    queue: str
    disposition: str
    relay: RelayDisposition

    def to_json(self) -> dict[str, Any]:
        msg = self.message
        return {
            "id": msg.id,
            "sender": str(msg.sender),
            "recipients": [str(r) for r in msg.recipients],
            "queue": self.queue,
            "disposition": self.disposition,
            "relay": self.relay.to_json(),
            "meta": msg.meta,
        }


@dataclass
class HttpInjectResult:
    """kumod's inject response (`success_count`, `fail_count`,
    `failed_recipients`, `errors`) plus the generated messages."""

    success_count: int = 0
    fail_count: int = 0
    failed_recipients: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)


@dataclass
class RequeueResult:
    """What kumod does with a message after `requeue_message`.

    `outcome`: "requeued" (into `queue`, `queue_before` when unchanged),
    "bounced" (`kumo.reject` in a handler: a Bounce with `reject`), or
    "error" (the handler failed; kumod logs it and reuses the current
    queue).
    """

    outcome: str
    queue_before: str
    queue: str
    reject: RejectError | None = None
    error: str | None = None
    due_now: bool = False
    events: list[EventRecord] = field(default_factory=list)


@dataclass
class DeferredInjectResult:
    """What kumod's deferred-injection queue does with a message that a
    `deferred_queue` listener accepted: `smtp_server_message_deferred_inject`
    ran and the message was "queued" (into `queue`), "bounced" (a
    rejection with code >= 500) or is "transient" (retried later in the
    deferred queue; any other failure becomes `450 <error>`)."""

    outcome: str
    code: int
    response: str
    queue: str | None = None
    events: list[EventRecord] = field(default_factory=list)


@dataclass
class LogRecordResult:
    enqueue: bool
    queue: str | None = None
    error: str | None = None
    events: list[EventRecord] = field(default_factory=list)



class TimeDelta(Userdata):
    """The `delay` argument of requeue_message (kumod's TimeDelta)."""

    lua_type_name = "TimeDelta"

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)

    def lua_index(self, state: Any, key: Any) -> Any:
        name = key.decode() if isinstance(key, bytes) else key
        if name == "seconds":
            return self.seconds
        if name == "milliseconds":
            return int(self.seconds * 1000)
        if name == "microseconds":
            return int(self.seconds * 1_000_000)
        if name == "nanoseconds":
            return int(self.seconds * 1_000_000_000)
        return None

    def to_data(self) -> Any:
        return self.seconds

    def __str__(self) -> str:
        return f"{self.seconds:g}s"
