"""Which KumoMTA log records kumod offered to
`smtp_client_rewrite_delivery_status`, and the arguments it passed.

Facts from kumod (crates/kumod/src/smtp_dispatcher.rs, `deliver_message`):
the event sees the responses of a delivery attempt that the remote host
rejected (a rejected command or batch, or a non-250 RCPT reply), never a
250, and never the responses kumod makes up itself when a connection times
out or fails (their text starts with `KumoMTA internal: `).  Two of kumod's
own texts are the exception: the SMTP client's refusal to send 8-bit data
or an 8-bit envelope to a host that lacks 8BITMIME / SMTPUTF8 is reported
as a rejection, and so it is offered.  Such attempts are logged as
TransientFailure or Bounce records; records of other protocols (Maildir,
Lua, ...) never went through the SMTP client.

A record's `response` is logged after the event ran: when the handler
changed the code, the content ends with
` (kumomta: status was rewritten from OLD -> NEW)`.  Replaying such a
record undoes that first (the code goes back to OLD), so the policy sees
what kumod's handler saw; a response rewritten to 250 was logged as a
Delivery record, which is therefore replayed too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .._smtp import EnhancedStatusCode, QueueName, Response, line_received, longest_line

__all__ = ["ELIGIBLE_TYPES", "INTERNAL_PREFIX", "Eligible", "NotEligible", "examine", "quick"]

ELIGIBLE_TYPES = frozenset({"TransientFailure", "Bounce"})
INTERNAL_PREFIX = "KumoMTA internal: "
#: kumod-made texts that reach the event anyway (rfc5321 client.rs: the
#: 8-bit checks return ClientError::Rejected)
OFFERED_INTERNAL = (
    "KumoMTA internal: DATA is 8bit, destination does not support 8BITMIME.",
    "KumoMTA internal: envelope is 8bit, destination does not support SMTPUTF8.",
)
REWRITE_NOTE = "(kumomta: status was rewritten from "
_REWRITTEN = re.compile(r" \(kumomta: status was rewritten from ([0-9]+) -> ([0-9]+)\)\Z")


class NotEligible(Exception):
    """The record was not offered to the event; `reason` is a short key
    (`type`, `no response`, `250`, `internal`, `protocol`, `line too long`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Eligible:
    """What kumod passed to the event for one record."""

    id: str | None
    domain: str  # the recipient's domain, lowercased (for grouping)
    queue: QueueName
    response: Response
    line: str  # response.to_single_line(): the event's first argument
    was_rewritten: bool  # the logged response carried kumod's rewrite note


def _recipient_domain(record: dict[str, Any]) -> str:
    rcpt = record.get("recipient")
    if isinstance(rcpt, list):
        rcpt = rcpt[0] if rcpt else None
    if not isinstance(rcpt, str):
        return ""
    return rcpt.rpartition("@")[2].lower()


_ENHANCED: dict[tuple[Any, Any, Any], EnhancedStatusCode] = {}
#: queue names seen, parsed (shared with _decode)
QUEUES: dict[str, QueueName] = {}


def _all_int(key: tuple[Any, Any, Any]) -> bool:
    return key[0].__class__ is int and key[1].__class__ is int and key[2].__class__ is int


def _response(data: Any) -> Response:
    # a fast path for the common shape; Response.from_json has the checks
    if data.__class__ is dict:
        code = data.get("code")
        content = data.get("content")
        enhanced = data.get("enhanced_code")
        command = data.get("command")
        if (
            code.__class__ is int
            and 0 <= code <= 0xFFFF
            and content.__class__ is str
            and (command is None or command.__class__ is str)
        ):
            if enhanced is None:
                return Response(code, None, content, command)
            if enhanced.__class__ is dict:
                key = (enhanced.get("class"), enhanced.get("subject"), enhanced.get("detail"))
                # (a bool or float equal to a cached int must not hit)
                esc = _ENHANCED.get(key) if _all_int(key) else None
                if esc is None:
                    esc = EnhancedStatusCode.from_json(enhanced)
                    if len(_ENHANCED) < 10_000:
                        _ENHANCED[key] = esc
                return Response(code, esc, content, command)
    return Response.from_json(data)


def examine(record: Any) -> Eligible:
    """The event arguments for a parsed log record.  Raises `NotEligible`,
    or `ValueError` for a record of the right type whose fields do not have
    the log record's shape."""
    if record.__class__ is not dict:
        raise ValueError("not a JSON object")
    kind = record.get("type")
    data = record.get("response")
    if kind not in ELIGIBLE_TYPES:
        if not isinstance(kind, str):
            raise ValueError("no `type` field" if kind is None else "`type` is not a string")
        # a response the handler rewrote to 250 was logged as a Delivery
        if not (kind == "Delivery" and data.__class__ is dict
                and REWRITE_NOTE in str(data.get("content"))):
            raise NotEligible("type")
    if data is None:
        raise NotEligible("no response")
    protocol = record.get("delivery_protocol")
    if protocol is not None and protocol != "ESMTP":
        raise NotEligible("protocol")
    response = _response(data)
    content = response.content
    was_rewritten = False
    if content.endswith(")") and REWRITE_NOTE in content:
        m = _REWRITTEN.search(content)
        if m is not None and int(m.group(2)) == response.code and int(m.group(1)) <= 0xFFFF:
            content = content[: m.start()]
            response = Response(int(m.group(1)), response.enhanced_code, content,
                                response.command)
            was_rewritten = True
    if response.code == 250:
        raise NotEligible("250")
    if content.startswith(INTERNAL_PREFIX) and not content.startswith(OFFERED_INTERNAL):
        raise NotEligible("internal")
    if len(content) >= LONG_CONTENT and line_received(_longest_wire_line(response)) is False:
        raise NotEligible("line too long")
    domain = _recipient_domain(record)
    queue_name = record.get("queue")
    if isinstance(queue_name, str):
        queue = QUEUES.get(queue_name)
        if queue is None:
            queue = QueueName.parse(queue_name)
            if len(QUEUES) < 10_000:
                QUEUES[queue_name] = queue
    else:
        queue = QueueName(None, None, domain)
    ident = record.get("id")
    return Eligible(
        ident if isinstance(ident, str) else None,
        domain,
        queue,
        response,
        response.to_single_line(),
        was_rewritten,
    )


#: content from this many characters on may hold a line kumod's SMTP client
#: never receives (`quick` leaves it to `examine`)
LONG_CONTENT = 1024


def _longest_wire_line(response: Response) -> int:
    """The longest line (bytes, at least) of the reply as the remote host
    sent it: its content lines, each after the code and a separator, the
    first also after the enhanced code."""
    lines = response.content.split("\n")
    if response.enhanced_code is not None:
        lines[0] = f"{response.enhanced_code} {lines[0]}"
    return 4 + longest_line("\n".join(lines) + "\n")


#: "C.S.D " for enhanced codes seen, by (class, subject, detail) of ints
_ENHANCED_TEXT: dict[tuple[Any, Any, Any], str] = {}


def quick(record: Any) -> tuple[str, QueueName, str, int] | None:
    """`examine` for the common record, cheaply: (line, queue, domain,
    code) of a TransientFailure or Bounce record of the usual shape
    whose response is offered as it is (no rewrite note, not kumod's own
    text, no line break, a queue name seen before), or None: then
    `examine` decides.  Never wrong where it answers: every test it makes
    is one `examine` makes, on the same fields."""
    if record.__class__ is not dict:
        return None
    kind = record.get("type")
    if kind != "TransientFailure" and kind != "Bounce":
        return None
    data = record.get("response")
    if data.__class__ is not dict:
        return None
    protocol = record.get("delivery_protocol")
    if protocol is not None and protocol != "ESMTP":
        return None
    code = data.get("code")
    content = data.get("content")
    command = data.get("command")
    if (
        code.__class__ is not int
        or not 0 <= code <= 0xFFFF
        or code == 250
        or content.__class__ is not str
        or (command is not None and command.__class__ is not str)
        or content[-1:] == ")"
        or content.startswith(INTERNAL_PREFIX)
        or len(content) >= LONG_CONTENT
        or "\n" in content
        or "\r" in content
    ):
        return None
    enhanced = data.get("enhanced_code")
    if enhanced is None:
        line = f"{code} {content}"
    elif enhanced.__class__ is dict:
        key = (enhanced.get("class"), enhanced.get("subject"), enhanced.get("detail"))
        if not _all_int(key):
            return None
        text = _ENHANCED_TEXT.get(key)
        if text is None:
            try:
                text = f"{EnhancedStatusCode.from_json(enhanced)} "
            except ValueError:
                return None
            if len(_ENHANCED_TEXT) < 10_000:
                _ENHANCED_TEXT[key] = text
        line = f"{code} {text}{content}"
    else:
        return None
    name = record.get("queue")
    queue = QUEUES.get(name) if name.__class__ is str else None
    if queue is None:
        return None
    rcpt = record.get("recipient")
    if rcpt.__class__ is not str:
        domain = _recipient_domain(record)
    else:
        domain = rcpt.rpartition("@")[2].lower()
    return line, queue, domain, code
