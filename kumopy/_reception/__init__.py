"""The reception path of kumod: SMTP sessions, HTTP injection, requeue and
log-hook records, driven through a policy's events.

One engine for three doors: the Python API (`Reception(policy).session()`),
`kumopy serve` (a real ESMTP listener) and `kumopy inject` (one message,
no network) all run the state machine below, which follows kumod's
`SmtpServerSession` (crates/kumod/src/smtp_server.rs):

* which event fires at which command, with which arguments;
* what becomes of a handler failure: `kumo.reject`/`kumo.disconnect` give
  the SMTP reply they name (and close the connection as their mode says),
  any other error `421 4.3.0 <hostname> technical difficulties` and the end
  of the session (a rejection inside `get_listener_domain` included);
* relaying: a recipient is accepted when the peer is in the listener's
  `relay_hosts`, in the sender domain's `relay_from`, or the recipient
  domain has `relay_to` (or logs ARF/OOB reports);
* the queue a message lands in: `msg:queue_name()` after
  `smtp_server_message_received`, resolved through `get_queue_config`.

Nothing is spooled or delivered: accepted messages are returned (and
`kumopy serve` records them).  Replies pass through
`smtp_server_rewrite_response` as kumod's `write_response` does.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_EXTENSIONS",
    "DEFERRED_QUEUE_NAME",
    "GENERATOR_QUEUE_NAME",
    "MAX_LINE_LEN",
    "SPECIAL_QUEUES",
    "Accepted",
    "DeferredInjectResult",
    "EventRecord",
    "HttpInjectResult",
    "ListenerDomain",
    "ListenerParams",
    "LogRecordResult",
    "Reception",
    "RelayDisposition",
    "Reply",
    "RequeueResult",
    "Session",
    "SessionClosed",
    "TimeDelta",
    "TraceHeaders",
    "check_line_lengths",
    "cidr_contains",
    "has_lone_cr_or_lf",
    "normalize_crlf",
    "report_kind",
]

# The engine's names; the private helpers the single-module engine had at
# its top level stay importable from here too (code written against it).
from .._message import normalize_crlf
from .._message._trace import TraceHeaders
from ._engine import Reception, _queue_args, _summarize_http_auth
from ._params import (
    _GENERIC_FIELDS,
    _LISTENER_ONLY_FIELDS,
    ListenerDomain,
    ListenerParams,
    RelayDisposition,
    _ip_of,
    _network,
    _prefix_match,
    cidr_contains,
)
from ._replies import (
    DEFAULT_EXTENSIONS,
    DEFERRED_QUEUE_NAME,
    GENERATOR_QUEUE_NAME,
    MAX_LINE_LEN,
    SPECIAL_QUEUES,
    EventRecord,
    Reply,
    SessionClosed,
    _Abort,
    _Outcome,
    _rust_lines,
    _summary,
)
from ._results import (
    Accepted,
    DeferredInjectResult,
    HttpInjectResult,
    LogRecordResult,
    RequeueResult,
    TimeDelta,
)
from ._session import Session, _EventLog, _Transaction
from ._trace import check_line_lengths, has_lone_cr_or_lf, report_kind

__all__ += [
    "_GENERIC_FIELDS",
    "_LISTENER_ONLY_FIELDS",
    "_Abort",
    "_EventLog",
    "_Outcome",
    "_Transaction",
    "_ip_of",
    "_network",
    "_prefix_match",
    "_queue_args",
    "_rust_lines",
    "_summarize_http_auth",
    "_summary",
]
