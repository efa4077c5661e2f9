"""Replies as kumod writes them, the event log and the errors that end a
session."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._kumo.smtp import RejectError
from .._runtime.userdata import Userdata

if TYPE_CHECKING:
    pass


DEFERRED_QUEUE_NAME = "deferred_smtp_inject.kumomta.internal"
GENERATOR_QUEUE_NAME = "generator.kumomta.internal"
#: queue names kumod resolves without calling get_queue_config
SPECIAL_QUEUES = frozenset({"null", DEFERRED_QUEUE_NAME, GENERATOR_QUEUE_NAME})

DEFAULT_EXTENSIONS = ("PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8")
MAX_LINE_LEN = 998


class SessionClosed(RuntimeError):
    """A command was sent on a session whose connection kumod has closed."""


# ---------------------------------------------------------------------------
# Replies and the event log
# ---------------------------------------------------------------------------


def _rust_lines(text: str) -> list[str]:
    """Rust's `str::lines()`: split at `\\n`, drop one trailing `\\r` per
    line, no final empty line."""
    if not text:
        return []
    parts = text.split("\n")
    if parts[-1] == "":
        parts.pop()
    return [p[:-1] if p.endswith("\r") else p for p in parts]


@dataclass(frozen=True)
class Reply:
    """One SMTP reply as kumod writes it.

    `text` is the reply text without the code (lines separated by `\\n`);
    `command` the command kumod associates with it (the command line for
    most rejections, `"DATA"` in the data phase, None for successes);
    `close` whether kumod closes the connection after it; `follow_up` the
    extra `421 <host> disconnecting due to previous error` line that
    `kumo.disconnect(..., "FollowWith421")` adds.
    """

    code: int
    text: str
    command: str | None = None
    close: bool = False
    follow_up: str | None = None

    def lines(self) -> list[str]:
        """The lines on the wire, without CRLF (`250-...`, `250 ...`)."""
        body = _rust_lines(self.text)
        out = [
            f"{self.code}{' ' if i == len(body) - 1 else '-'}{line}"
            for i, line in enumerate(body)
        ]
        if self.follow_up is not None:
            out.append(self.follow_up)
        return out

    def wire(self) -> str:
        return "".join(line + "\r\n" for line in self.lines())

    @property
    def ok(self) -> bool:
        """A positive (2xx/3xx) reply."""
        return 200 <= self.code < 400

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "text": self.text,
            "command": self.command,
            "close": self.close,
            "lines": self.lines(),
        }


@dataclass
class EventRecord:
    """One event the reception path fired.

    `outcome` is "ok" (the handler returned), "no handler", "rejected"
    (`kumo.reject`/`kumo.disconnect`; see `reject`) or "error" (see
    `error`).  `args` and `value` are JSON-friendly summaries.
    """

    event: str
    args: list[Any]
    outcome: str
    value: Any = None
    reject: RejectError | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.event, "args": self.args, "outcome": self.outcome}
        if self.outcome == "ok":
            out["value"] = self.value
        if self.reject is not None:
            out["reject"] = {
                "code": self.reject.code,
                "message": self.reject.message,
                "disconnect": self.reject.disconnect,
            }
        if self.error is not None:
            out["error"] = self.error
        return out

    def __str__(self) -> str:
        args = ", ".join(json.dumps(a, ensure_ascii=False) for a in self.args)
        head = f"{self.event}({args})"
        if self.outcome == "rejected" and self.reject is not None:
            return f"{head} -> rejected: {self.reject} ({self.reject.disconnect})"
        if self.outcome == "error":
            return f"{head} -> error: {self.error}"
        if self.outcome == "no handler":
            return f"{head} -> no handler"
        if self.value is None:
            return f"{head} -> ok"
        shown = json.dumps(self.value, ensure_ascii=False)
        if len(shown) > 160:
            shown = shown[:157] + "..."
        return f"{head} -> {shown}"


def _summary(value: Any) -> Any:
    """A JSON-friendly view of an event argument or result."""
    from .._message import ConnectionMeta, EnvelopeAddress, Message

    if isinstance(value, Message):
        return f"<Message {value.id}>"
    if isinstance(value, ConnectionMeta):
        return "<ConnectionMetaData>"
    if isinstance(value, EnvelopeAddress):
        return str(value)
    if isinstance(value, Userdata):
        try:
            return _summary(value.to_data())
        except Exception:
            return f"<{value.lua_type_name}>"
    if isinstance(value, Mapping):
        return {str(k): _summary(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_summary(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return f"<{type(value).__name__}>"


class _Abort(Exception):
    """An ordinary error that ends kumod's session with 421 technical
    difficulties (`Error in SmtpServerSession: ...`)."""


@dataclass
class _Outcome:
    handled: bool
    values: tuple[Any, ...] = ()
    reject: RejectError | None = None

    @property
    def value(self) -> Any:
        return self.values[0] if self.values else None

