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

import base64
import ipaddress
import json
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from ._errors import GlobalLeakError, PolicyError
from ._kumo._schema import lua_type_of
from ._kumo.smtp import RejectError, reject_of
from ._runtime.userdata import Userdata
from ._smtp import ConversionError, QueueName, to_u16

if TYPE_CHECKING:
    from ._message import ConnectionMeta, EnvelopeAddress, Message
    from ._policy import Policy

__all__ = [
    "DEFERRED_QUEUE_NAME",
    "GENERATOR_QUEUE_NAME",
    "Accepted",
    "DeferredInjectResult",
    "EventRecord",
    "HttpInjectResult",
    "ListenerParams",
    "LogRecordResult",
    "Reception",
    "Reply",
    "RequeueResult",
    "Session",
    "SessionClosed",
]

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
    from ._message import ConnectionMeta, EnvelopeAddress, Message

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


# ---------------------------------------------------------------------------
# Listener parameters
# ---------------------------------------------------------------------------


def _ip_of(address: str) -> str:
    """The IP of an "ip:port" / "[v6]:port" socket address."""
    text = address.strip()
    if text.startswith("["):
        return text[1 : text.index("]")]
    if text.count(":") == 1:
        return text.rsplit(":", 1)[0]
    return text


def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError as e:
        raise ValueError(f"invalid CIDR {cidr!r}: {e}") from None


def cidr_contains(cidrs: Iterable[str], ip: str) -> bool:
    """Whether `ip` is in one of the CIDR blocks (kumod's CidrSet)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in _network(c) for c in cidrs if _network(c).version == addr.version)


def _prefix_match(blocks: Mapping[str, Any], ip: str) -> Any:
    """The value of the most specific CIDR block containing `ip`."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    best: tuple[int, Any] | None = None
    for cidr, value in blocks.items():
        net = _network(cidr)
        if net.version == addr.version and addr in net:
            if best is None or net.prefixlen > best[0]:
                best = (net.prefixlen, value)
    return best[1] if best else None


@dataclass
class TraceHeaders:
    received_header: bool = True
    supplemental_header: bool = True
    header_name: str = "X-KumoRef"
    include_meta_names: list[str] = field(default_factory=list)

    @classmethod
    def from_data(cls, data: Any) -> TraceHeaders:
        if not isinstance(data, Mapping):
            raise ValueError(f"trace_headers: expected a table, got {data!r}")
        known = {"received_header", "supplemental_header", "header_name", "include_meta_names"}
        for key in data:
            if key not in known:
                raise ValueError(
                    f"trace_headers: unknown field `{key}`, expected one of "
                    + ", ".join(f"`{k}`" for k in sorted(known))
                )
        out = cls()
        for key, value in data.items():
            if key == "include_meta_names":
                out.include_meta_names = [str(v) for v in (value or [])]
            else:
                setattr(out, key, value)
        return out


_GENERIC_FIELDS = frozenset(
    {
        "hostname", "relay_hosts", "banner", "batch_handling", "tls_certificate",
        "tls_private_key", "tls_required_client_ca", "deferred_spool", "deferred_queue",
        "trace_headers", "client_timeout", "data_processing_timeout", "peer", "via", "meta",
        "max_messages_per_connection", "max_recipients_per_message", "max_message_size",
        "data_buffer_size", "invalid_line_endings", "line_length_hard_limit",
        "allow_xclient", "require_proxy_protocol",
    }
)
_LISTENER_ONLY_FIELDS = frozenset({"listen", "max_connections"})


@dataclass
class ListenerParams:
    """The effective parameters of one SMTP session (kumod's
    ConcreteEsmtpListenerParams), with kumod's defaults."""

    hostname: str = field(default_factory=socket.gethostname)
    relay_hosts: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1"])
    banner: str = "KumoMTA"
    batch_handling: str = "BifurcateAlways"
    deferred_spool: bool = False
    deferred_queue: bool = False
    trace_headers: TraceHeaders = field(default_factory=TraceHeaders)
    max_messages_per_connection: int = 10_000
    max_recipients_per_message: int = 1024
    max_message_size: int = 20 * 1024 * 1024
    invalid_line_endings: str = "Deny"
    line_length_hard_limit: int = MAX_LINE_LEN
    allow_xclient: bool = False

    def apply(
        self,
        params: Mapping[str, Any],
        *,
        my_ip: str,
        peer_ip: str,
        meta: ConnectionMeta | None,
        listener_level: bool = False,
    ) -> None:
        """Apply a table of listener parameters (kumod's `apply_generic`):
        set fields, copy `meta` into the connection metadata, then the
        best-matching `peer` block, then the best-matching `via` block."""
        allowed = _GENERIC_FIELDS | (_LISTENER_ONLY_FIELDS if listener_level else frozenset())
        for key in params:
            if key not in allowed:
                raise ValueError(f"unknown field `{key}` in esmtp listener parameters")
        for key, value in params.items():
            if value is None or key in ("peer", "via", "meta") or key in _LISTENER_ONLY_FIELDS:
                continue
            if key == "hostname":
                self.hostname = str(value)
                if meta is not None:
                    meta.set_meta("hostname", self.hostname)
            elif key == "relay_hosts":
                values = list(value.values()) if isinstance(value, Mapping) else list(value)
                for cidr in values:
                    _network(str(cidr))
                self.relay_hosts = [str(v) for v in values]
            elif key == "trace_headers":
                self.trace_headers = TraceHeaders.from_data(value)
            elif key == "batch_handling":
                if value not in ("BifurcateAlways", "BatchByDomain"):
                    raise ValueError(
                        f"unknown variant `{value}`, expected `BifurcateAlways` or "
                        "`BatchByDomain`"
                    )
                self.batch_handling = value
            elif key == "invalid_line_endings":
                if value not in ("Deny", "Allow", "Fix"):
                    raise ValueError(
                        f"unknown variant `{value}`, expected one of `Deny`, `Allow`, `Fix`"
                    )
                self.invalid_line_endings = value
            elif hasattr(self, key):
                setattr(self, key, value)
        extra = params.get("meta")
        if extra and meta is not None:
            for k, v in dict(extra).items():
                meta.set_meta(str(k), v)
        for block, ip in (("peer", peer_ip), ("via", my_ip)):
            blocks = params.get(block)
            if blocks:
                found = _prefix_match(dict(blocks), ip)
                if found is not None:
                    self.apply(dict(found), my_ip=my_ip, peer_ip=peer_ip, meta=meta)


@dataclass(frozen=True)
class ListenerDomain:
    """What `get_listener_domain` returned (kumod's EsmtpDomain)."""

    relay_to: bool = False
    relay_from: tuple[str, ...] = ()
    log_oob: str = "Ignore"
    log_arf: str = "Ignore"

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ListenerDomain:
        def disposition(value: Any) -> str:
            if value is None:
                return "Ignore"
            if value is True:
                return "LogThenRelay"
            if value is False:
                return "Ignore"
            return str(value)

        relay_from = data.get("relay_from") or ()
        if isinstance(relay_from, Mapping):
            relay_from = list(relay_from.values())
        return cls(
            relay_to=bool(data.get("relay_to") or False),
            relay_from=tuple(str(c) for c in relay_from),
            log_oob=disposition(data.get("log_oob")),
            log_arf=disposition(data.get("log_arf")),
        )


@dataclass(frozen=True)
class RelayDisposition:
    relay: bool
    log_arf: str = "Ignore"
    log_oob: str = "Ignore"

    @property
    def accept_rcpt_to(self) -> bool:
        return self.relay or self.log_arf != "Ignore" or self.log_oob != "Ignore"

    def to_json(self) -> dict[str, Any]:
        return {"relay": self.relay, "log_arf": self.log_arf, "log_oob": self.log_oob}


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


# ---------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------


def _now_rfc2822() -> str:
    return format_datetime(datetime.now(UTC))


def wrap_header_value(value: str, soft: int = 75, hard: int = 75) -> str:
    """kumod's header folding (kumo-wrap `wrap_impl`): fill words up to
    `soft` columns, split longer words every `hard` characters, continue
    lines with CRLF TAB."""
    result = ""
    line = ""
    for word in value.split():
        if len(line) + len(word) < soft:
            line = f"{line} {word}" if line else word
            continue
        if line:
            result += ("\t" if result else "") + line + "\r\n"
            line = ""
        if len(word) <= hard:
            line = word
        else:
            for c in word:
                line += c
                if len(line) >= hard:
                    result += ("\t" if result else "") + line + "\r\n"
                    line = ""
    if line:
        result += ("\t" if result else "") + line
    return result


def has_lone_cr_or_lf(data: bytes) -> bool:
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        if b == 0x0D:
            if i + 1 >= n or data[i + 1] != 0x0A:
                return True
            i += 2
            continue
        if b == 0x0A:
            return True
        i += 1
    return False


def normalize_crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def check_line_lengths(data: bytes, limit: int) -> bool:
    return all(len(line) <= limit for line in data.split(b"\r\n"))


def report_kind(message: Message) -> str | None:
    """"arf" for an RFC 5965 feedback report, "oob" for an RFC 3464
    delivery status report, else None (kumopy looks at the top-level
    Content-Type only; kumod parses the whole report)."""
    ctype = (message.get_first_named_header_value("Content-Type") or "").lower()
    if not ctype.startswith("multipart/report"):
        return None
    compact = ctype.replace(" ", "").replace('"', "")
    if "report-type=feedback-report" in compact:
        return "arf"
    if "report-type=delivery-status" in compact:
        return "oob"
    return None


class Reception:
    """The reception side of one simulated kumod process.

    `params` are the esmtp listener parameters (the table given to
    `kumo.start_esmtp_listener`); without them kumopy uses the first
    esmtp listener the policy's `init` starts, if it can tell, else
    kumod's defaults.  Queue configurations resolved through
    `get_queue_config` are remembered for the life of the object, as
    kumod's QueueManager keeps its queues.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        params: Mapping[str, Any] | None = None,
        hostname: str | None = None,
        on_event: Callable[[EventRecord], None] | None = None,
        startup: bool = False,
    ) -> None:
        self.policy = policy
        self.params: dict[str, Any] | None = dict(params) if params is not None else None
        self.hostname = hostname
        self.on_event = on_event
        self._queues: dict[str, Any] = {}
        self._started = False
        if startup:
            self.start()

    def start(self) -> None:
        """Run the policy's `pre_init` and `init` handlers once, as kumod
        does before it listens (so the listeners `init` starts supply the
        SMTP parameters).  A failing handler raises PolicyError."""
        if self._started:
            return
        self._started = True
        for event in ("pre_init", "init"):
            if self.policy.handlers(event):
                self.policy.dispatch(event)

    # -- event dispatch ----------------------------------------------------

    def _fire(self, log: list[EventRecord], event: str, *args: Any) -> _Outcome:
        """Dispatch like kumod's call_callback: a rejection comes back in
        the outcome, any other failure raises _Abort."""
        summary = [_summary(a) for a in args]
        try:
            result = self.policy.dispatch(event, *args)
        except GlobalLeakError:
            raise
        except PolicyError as e:
            rej = reject_of(e)
            if rej is not None:
                record = EventRecord(event, summary, "rejected", reject=rej, error=None)
                self._note(log, record)
                return _Outcome(True, (), rej)
            self._note(log, EventRecord(event, summary, "error", error=str(e)))
            raise _Abort(str(e)) from e
        if not result.handled:
            self._note(log, EventRecord(event, summary, "no handler"))
            return _Outcome(False)
        value = _summary(result.value) if len(result.values) <= 1 else _summary(result.values)
        self._note(log, EventRecord(event, summary, "ok", value=value))
        return _Outcome(True, result.values)

    def _note(self, log: list[EventRecord], record: EventRecord) -> None:
        log.append(record)
        if self.on_event is not None:
            self.on_event(record)

    def resolve_queue(self, queue: str, log: list[EventRecord]) -> None:
        """kumod's QueueManager::resolve: special queues need nothing,
        others run get_queue_config once per process."""
        if queue in SPECIAL_QUEUES or queue in self._queues:
            return
        resolver = getattr(self.policy, "resolve_queue_config", None)
        try:
            if resolver is not None:
                config = resolver(queue)
                self._note(log, EventRecord("get_queue_config", _queue_args(queue), "ok",
                                            value=_summary(config)))
            else:
                config = self._fire(log, "get_queue_config", *_queue_args(queue)).value
        except _Abort as e:
            raise _Abort(f"QueueManager::resolve({queue}) failed: {e}") from e
        except PolicyError as e:
            self._note(log, EventRecord("get_queue_config", _queue_args(queue), "error",
                                        error=str(e)))
            raise _Abort(f"QueueManager::resolve({queue}) failed: {e}") from e
        self._queues[queue] = config

    # -- sessions ----------------------------------------------------------

    def session(
        self,
        *,
        peer: str = "127.0.0.1:50000",
        listener: str = "127.0.0.1:25",
        tls: bool = False,
    ) -> Session:
        """Open an SMTP session from `peer` ("ip:port") to the listener at
        `listener` ("ip:port").  The greeting (or the rejection of the
        connection) is in `session.greeting`.  `tls=True` behaves as if
        STARTTLS had completed (AUTH PLAIN is offered and allowed)."""
        return Session(self, peer=peer, listener=listener, tls=tls)

    def listener_params(self, listener: str) -> dict[str, Any]:
        """The listener parameters of a session: `params` if given, else
        the esmtp listener `init` started on `listener` (or the first one),
        with the `hostname` override applied."""
        out = dict(self.params) if self.params is not None else self._policy_listener(listener)
        if self.hostname is not None:
            out["hostname"] = self.hostname
        return out

    def _policy_listener(self, listener: str) -> dict[str, Any]:
        config = getattr(self.policy, "server_config", None)
        finder = getattr(config, "esmtp_listeners", None) if config is not None else None
        if finder is None:
            return {}
        listeners = [dict(e) for e in finder() if isinstance(e, Mapping)]
        for entry in listeners:
            if entry.get("listen") == listener:
                return entry
        return listeners[0] if listeners else {}

    # -- HTTP injection ----------------------------------------------------

    def http_inject(
        self,
        content: bytes | str,
        *,
        sender: str,
        recipients: str | Sequence[str],
        auth_info: Mapping[str, Any] | None = None,
        peer: str = "127.0.0.1",
        received_header: bool = True,
        supplemental_header: bool = True,
        hostname: str | None = None,
    ) -> HttpInjectResult:
        """The per-recipient part of kumod's `/api/inject/v1` for content
        that is already a complete message: build the message (Received
        header, CRLF line endings, meta `http_auth`, `reception_protocol`,
        `received_from`), fire `http_message_generated(message,
        auth_info)`, then queue it unless its queue is `null`.  A failure
        (a rejection included) fails that recipient with
        `"<recipient>: <error>"`, as the inject response reports it."""
        from ._message import EnvelopeAddress, Message

        result = HttpInjectResult()
        info = dict(auth_info) if auth_info is not None else {
            "peer_address": peer, "identities": [], "groups": []
        }
        recips = [recipients] if isinstance(recipients, str) else list(recipients)
        raw = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        sender_addr = EnvelopeAddress.parse(sender)
        trace = TraceHeaders(received_header=received_header,
                             supplemental_header=supplemental_header)
        for recip in recips:
            msg_id = uuid.uuid4().hex
            body = raw
            if received_header:
                host = socket.gethostname()
                body = (
                    f"Received: from {sender_addr.domain} ({peer})\r\n"
                    f"  by {host} (KumoMTA)\r\n"
                    f"  with HTTP id {msg_id} for <{recip}>;\r\n"
                    f"  {_now_rfc2822()}\r\n"
                ).encode() + body
            body = normalize_crlf(body)
            try:
                message = Message(body, sender=sender, recipients=[recip], meta={}, id=msg_id)
                message.set_meta("http_auth", _summarize_http_auth(info))
                message.set_meta("reception_protocol", "HTTP")
                message.set_meta("received_from", peer)
                if hostname is not None:
                    message.set_meta("hostname", hostname)
                outcome = self._fire(result.events, "http_message_generated", message, info)
                if outcome.reject is not None:
                    raise _Abort(str(outcome.reject))
                queue = message.queue_name()
                if queue != "null":
                    _apply_supplemental(trace, message)
                    self.resolve_queue(queue, result.events)
                    result.accepted.append(
                        Accepted(message, queue, "queued", RelayDisposition(True))
                    )
                else:
                    result.accepted.append(
                        Accepted(message, queue, "null", RelayDisposition(True))
                    )
                result.success_count += 1
            except (_Abort, ValueError) as e:
                result.fail_count += 1
                result.failed_recipients.append(recip)
                result.errors.append(f"{recip}: {e}")
        return result

    # -- requeue / log hooks -----------------------------------------------

    def requeue(
        self,
        message: Message,
        response: str,
        *,
        insert_context: Sequence[str] = ("LoggedTransientFailure",),
        increment_attempts: bool = True,
        delay_seconds: float | None = None,
    ) -> RequeueResult:
        """kumod's QueueManager::requeue_message after a transient failure:
        fire `requeue_message(message, response, insert_context,
        increment_attempts, delay)` and work out where the message goes."""
        log: list[EventRecord] = []
        before = message.queue_name()
        delay = TimeDelta(delay_seconds) if delay_seconds is not None else None
        try:
            outcome = self._fire(
                log, "requeue_message", message, response, list(insert_context),
                increment_attempts, delay,
            )
        except _Abort as e:
            return RequeueResult("error", before, before, error=str(e), events=log)
        if outcome.reject is not None:
            return RequeueResult("bounced", before, before, reject=outcome.reject, events=log)
        after = message.queue_name()
        if after != before or increment_attempts:
            # kumod counts the attempt here (once, even when both apply)
            message.increment_num_attempts()
        if after != before:
            self.resolve_queue(after, log)
            return RequeueResult("requeued", before, after, due_now=True, events=log)
        return RequeueResult("requeued", before, before, events=log)

    def deferred_inject(self, message: Message) -> DeferredInjectResult:
        """kumod's DeferredSmtpInjectionDispatcher for one message: clear
        the `queue` meta, fire `smtp_server_message_deferred_inject(message,
        conn_meta)` with connection metadata rebuilt from the message's
        metadata (changes to it are discarded), then queue the message."""
        from ._message import ConnectionMeta

        log: list[EventRecord] = []
        message.set_meta("queue", None)
        meta = message.meta
        conn = ConnectionMeta(
            received_from=str(meta.get("received_from") or ""),
            received_via=str(meta.get("received_via") or ""),
            hostname=str(meta.get("hostname") or ""),
            reception_protocol=str(meta.get("reception_protocol") or ""),
        )
        for key, value in meta.items():
            conn.set_meta(key, value)
        identities = []
        if isinstance(meta.get("authn_id"), str):
            identities.append({"identity": meta["authn_id"],
                               "context": "SmtpAuthPlainAuthentication"})
        if isinstance(meta.get("authz_id"), str):
            identities.append({"identity": meta["authz_id"],
                               "context": "SmtpAuthPlainAuthorization"})
        peer: str | None
        try:  # kumod parses the whole "ip:port" text as an IP: usually None
            peer = str(ipaddress.ip_address(str(meta.get("received_from"))))
        except ValueError:
            peer = None
        conn.set_auth_info({"peer_address": peer, "identities": identities, "groups": []})
        try:
            outcome = self._fire(log, "smtp_server_message_deferred_inject", message, conn)
        except _Abort as e:
            message.set_meta("queue", DEFERRED_QUEUE_NAME)
            return DeferredInjectResult("transient", 450, str(e), events=log)
        if outcome.reject is not None:
            rej = outcome.reject
            if rej.code >= 500:
                return DeferredInjectResult("bounced", rej.code, rej.message, events=log)
            message.set_meta("queue", DEFERRED_QUEUE_NAME)
            return DeferredInjectResult("transient", rej.code, rej.message, events=log)
        try:
            queue = message.queue_name()
            self.resolve_queue(queue, log)
        except (_Abort, ValueError) as e:
            message.set_meta("queue", DEFERRED_QUEUE_NAME)
            return DeferredInjectResult("transient", 450, str(e), events=log)
        return DeferredInjectResult("queued", 250, "ok", queue, events=log)

    def should_enqueue_log_record(self, message: Message, hook_name: str) -> LogRecordResult:
        """The log-hook decision: fire `should_enqueue_log_record(message,
        hook_name)` (false when no handler returns a value); when true, the
        message goes to `msg:queue_name()`."""
        log: list[EventRecord] = []
        try:
            outcome = self._fire(log, "should_enqueue_log_record", message, hook_name)
        except _Abort as e:
            return LogRecordResult(False, error=str(e), events=log)
        if outcome.reject is not None:
            return LogRecordResult(False, error=str(outcome.reject), events=log)
        value = outcome.value
        enqueue = bool(outcome.handled and value is not None and value is not False)
        if not enqueue:
            return LogRecordResult(False, events=log)
        try:
            queue = message.queue_name()
            self.resolve_queue(queue, log)
        except (_Abort, ValueError) as e:
            return LogRecordResult(True, error=str(e), events=log)
        return LogRecordResult(True, queue=queue, events=log)


def _queue_args(queue: str) -> list[Any]:
    q = QueueName.parse(queue)
    return [q.domain, q.tenant, q.campaign, q.routing_domain]


def _summarize_http_auth(info: Mapping[str, Any]) -> str:
    identities = list(info.get("identities") or [])
    for ident in identities:
        if isinstance(ident, Mapping) and ident.get("context") == "HttpBasicAuth":
            return str(ident.get("identity", ""))
    if identities and isinstance(identities[0], Mapping):
        return str(identities[0].get("identity", ""))
    peer = info.get("peer_address")
    return str(peer) if peer else ""


def _apply_supplemental(trace: TraceHeaders, message: Message) -> None:
    if not trace.supplemental_header:
        return
    obj: dict[str, Any] = {"_@_": "\\_/"}
    recips = [str(r) for r in message.recipients]
    obj["recipient"] = recips[0] if len(recips) == 1 else recips
    for name in trace.include_meta_names:
        obj[name] = message.get_meta(name)
    # serde_json without preserve_order: keys sorted, compact separators
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    value = base64.b64encode(text.encode("utf-8")).decode("ascii")
    message.prepend_header(trace.header_name, wrap_header_value(value, 75, 75))


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


# ---------------------------------------------------------------------------
# One SMTP session
# ---------------------------------------------------------------------------


class _EventLog(list[EventRecord]):
    """A session's event list that also notes each event in its transcript."""

    def __init__(self, transcript: list[str]) -> None:
        super().__init__()
        self._transcript = transcript

    def append(self, record: EventRecord) -> None:
        super().append(record)
        self._transcript.append(f"E: {record}")


@dataclass
class _Transaction:
    sender: EnvelopeAddress
    recipients: list[EnvelopeAddress] = field(default_factory=list)


class Session:
    """One SMTP connection to the simulated kumod listener.

    Each command method returns the `Reply` kumod sends; `events` lists
    every event fired, `transcript` the conversation (`C: ...`/`S: ...`),
    `accepted` the messages accepted so far, `closed` whether kumod has
    closed the connection.
    """

    def __init__(self, reception: Reception, *, peer: str, listener: str, tls: bool) -> None:
        from ._message import ConnectionMeta

        self.reception = reception
        self.policy = reception.policy
        self.peer = peer
        self.listener = listener
        self.peer_ip = _ip_of(peer)
        self.my_ip = _ip_of(listener)
        self.tls = tls
        #: the conversation: `C: ` client lines, `S: ` server lines, `E: ` events
        self.transcript: list[str] = []
        self.events: list[EventRecord] = _EventLog(self.transcript)
        self.accepted: list[Accepted] = []
        #: the messages of the most recent DATA (accepted or not)
        self.last_messages: list[Accepted] = []
        self.closed = False
        self.said_hello: str | None = None
        self.authentication_id: str | None = None
        self.authorization_id: str | None = None
        self.auth_info: dict[str, Any] = {
            "peer_address": self.peer_ip, "identities": [], "groups": []
        }
        self._state: _Transaction | None = None
        self._auth_pending: str | None = None
        self._rcpt_count = 0
        self._domains: dict[str, ListenerDomain | None] = {}
        self.params = ListenerParams()
        self.meta = ConnectionMeta(received_from=peer, received_via=listener,
                                   hostname=self.params.hostname)
        self.meta.set_auth_info(self.auth_info)
        self.greeting = self._start()

    # -- plumbing ----------------------------------------------------------

    def _fire(self, event: str, *args: Any) -> _Outcome:
        return self.reception._fire(self.events, event, *args)

    def _write(
        self, code: int, text: str, command: str | None = None, disconnect: str = "If421"
    ) -> Reply:
        """kumod's write_response: offer the reply to
        smtp_server_rewrite_response, then decide on closing."""
        if "smtp_server_rewrite_response" in self.policy.events():
            try:
                out = self._fire("smtp_server_rewrite_response", code, text, command, self.meta)
                if out.reject is None and out.handled:
                    new_code = to_u16(out.values[0]) if out.values else None
                    new_text = out.values[1] if len(out.values) > 1 else None
                    if new_text is not None and not isinstance(new_text, str):
                        if isinstance(new_text, int | float) and not isinstance(new_text, bool):
                            new_text = str(new_text)
                        else:
                            raise ConversionError("table", "String", "expected string")
                    code = new_code if new_code is not None else code
                    text = new_text if new_text is not None else text
            except (_Abort, ConversionError):
                # kumod logs "Error while calling smtp_server_message_received"
                # (sic) and keeps the original reply
                pass
        follow_up = None
        if disconnect == "If421":
            close = code == 421
        elif disconnect == "FollowWith421":
            close = True
            if code != 421:
                follow_up = f"421 {self.params.hostname} disconnecting due to previous error"
        else:
            close = True
        reply = Reply(code, text, command, close, follow_up)
        self.transcript.extend(f"S: {line}" for line in reply.lines())
        if close:
            self.closed = True
        return reply

    def _end(self, reply: Reply) -> Reply:
        """kumod returns from the session after this reply: the connection
        closes whatever the code."""
        self.closed = True
        return replace(reply, close=True)

    def _reject(self, rej: RejectError, command: str | None) -> Reply:
        return self._write(rej.code, rej.message, command, rej.disconnect)

    def _technical_difficulties(self, error: _Abort) -> Reply:
        self._state = None
        return self._write(
            421,
            f"4.3.0 {self.params.hostname} technical difficulties",
            f"Error in SmtpServerSession: {error}",
        )

    def abort(self, error: str) -> Reply:
        """End the session with kumod's `421 4.3.0 <hostname> technical
        difficulties` for an error outside the policy's control."""
        if self.closed:
            return Reply(421, f"4.3.0 {self.params.hostname} technical difficulties", None, True)
        return self._technical_difficulties(_Abort(error))

    def _command(self, line: str, run: Callable[[], Reply]) -> Reply:
        if self.closed:
            raise SessionClosed(f"the connection is closed; cannot send {line!r}")
        self.transcript.append(f"C: {line}")
        try:
            return run()
        except _Abort as e:
            return self._technical_difficulties(e)

    # -- connection --------------------------------------------------------

    def _start(self) -> Reply:
        try:
            base = self.reception.listener_params(self.listener)
            self.params.apply(base, my_ip=self.my_ip, peer_ip=self.peer_ip, meta=self.meta,
                              listener_level=True)
        except ValueError as e:
            return self._technical_difficulties(_Abort(str(e)))
        try:
            if "smtp_server_get_dynamic_parameters" in self.policy.events():
                out = self._fire("smtp_server_get_dynamic_parameters", self.listener, self.meta)
                if out.reject is not None:
                    return self._end(self._reject(out.reject, None))
                value = out.value
                if isinstance(value, Userdata):
                    value = value.to_data()
                if not isinstance(value, Mapping):
                    kind = "nil" if value is None else type(value).__name__
                    raise _Abort(f"invalid type: {kind}, expected struct "
                                 "GenericEsmtpListenerParams")
                try:
                    self.params.apply(value, my_ip=self.my_ip, peer_ip=self.peer_ip,
                                      meta=self.meta)
                except ValueError as e:
                    raise _Abort(str(e)) from None
            out = self._fire("smtp_server_connection_accepted", self.meta)
            if out.reject is not None:
                return self._end(self._reject(out.reject, None))
        except _Abort as e:
            return self._technical_difficulties(e)
        return self._write(220, f"{self.params.hostname} {self.params.banner}")

    # -- commands ----------------------------------------------------------

    def ehlo(self, domain: str) -> Reply:
        """EHLO: `smtp_server_ehlo(domain, conn_meta, extensions)`; an array
        returned replaces the advertised extensions."""
        line = f"EHLO {domain}"

        def run() -> Reply:
            extensions = list(DEFAULT_EXTENSIONS)
            extensions.append("AUTH PLAIN" if self.tls else "STARTTLS")
            if self.params.allow_xclient:
                extensions.append("XCLIENT ADDR PORT DESTADDR DESTPORT")
            out = self._fire("smtp_server_ehlo", domain, self.meta, list(extensions))
            if out.reject is not None:
                return self._reject(out.reject, line)
            value = out.value
            if value is not None:
                if isinstance(value, Mapping) and not value:
                    value = []
                if not isinstance(value, list):
                    raise _Abort(f"error converting Lua {lua_type_of(value)} to Vec<String>")
                extensions = [str(v) for v in value]
            reply = self._write(
                250, f"{self.params.hostname} Aloha {domain}\n" + "\n".join(extensions)
            )
            self.meta.set_meta("ehlo_domain", domain)
            self.said_hello = domain
            return reply

        return self._command(line, run)

    def helo(self, domain: str) -> Reply:
        """HELO: `smtp_server_ehlo(domain, conn_meta)` (no extensions)."""
        line = f"HELO {domain}"

        def run() -> Reply:
            out = self._fire("smtp_server_ehlo", domain, self.meta)
            if out.reject is not None:
                return self._reject(out.reject, line)
            reply = self._write(250, f"Hello {domain}!")
            self.meta.set_meta("ehlo_domain", domain)
            self.said_hello = domain
            return reply

        return self._command(line, run)

    def auth_plain(self, authc: str, password: str, authz: str = "") -> Reply:
        """AUTH PLAIN with an initial response: `smtp_server_auth_plain(authz,
        authc, password, conn_meta)` (authz is authc when empty); true or
        an AuthInfo gives 235, false 535."""
        token = base64.b64encode(f"{authz}\0{authc}\0{password}".encode()).decode()
        return self.auth("PLAIN", token)

    def auth(self, mechanism: str, initial_response: str | None) -> Reply:
        """`AUTH <mechanism> [initial-response]`.  Without an initial
        response kumod answers `334 ` and waits: send it with
        `auth_response()`."""
        line = f"AUTH {mechanism}" + (f" {initial_response}" if initial_response else "")

        def run() -> Reply:
            refused = self._auth_refused(mechanism, line)
            if refused is not None:
                return refused
            if initial_response is None:
                self._auth_pending = line
                return self._write(334, " ")
            return self._auth_plain(line, initial_response)

        return self._command(line, run)

    def auth_response(self, response: str) -> Reply:
        """The line that follows a `334 ` during AUTH."""
        line = self._auth_pending
        if line is None:
            raise RuntimeError("auth_response() without a pending AUTH (call auth() first)")
        self._auth_pending = None
        return self._command(response, lambda: self._auth_plain(line, response))

    def _auth_refused(self, mechanism: str, line: str) -> Reply | None:
        if self.authentication_id is not None:
            return self._write(503, "5.5.1 AUTH me once, can't get authed again!", line)
        if self._state is not None:
            return self._write(503, "5.5.1 AUTH not permitted inside a transaction", line)
        if mechanism != "PLAIN":
            return self._write(504, f"5.5.4 AUTH {mechanism} not supported", line)
        if not self.tls:
            return self._write(524, f"5.7.11 AUTH {mechanism} requires an encrypted channel", line)
        return None

    def _auth_plain(self, line: str, response: str) -> Reply:
        if response == "*":
            return self._write(501, "5.5.0 AUTH cancelled by client", line)
        try:
            payload = base64.b64decode(response.encode(), validate=True)
        except ValueError:
            return self._write(501, "5.5.2 Invalid base64 response", response)
        fields = payload.split(b"\0")
        if len(fields) != 3:
            return self._write(501, "5.5.2 Invalid decoded PLAIN response", response)
        try:
            authz, authc, password = (f.decode("utf-8") for f in fields)
        except UnicodeDecodeError:
            return self._write(501, "5.5.2 Invalid UTF8 in decoded PLAIN response", response)
        authz = authz or authc
        out = self._fire("smtp_server_auth_plain", authz, authc, password, self.meta)
        if out.reject is not None:
            return self._reject(out.reject, response)
        value = out.value if out.handled else False
        if isinstance(value, Userdata):
            value = value.to_data()
        if value is True:
            self.authorization_id, self.authentication_id = authz, authc
            self.meta.set_meta("authz_id", authz)
            self.meta.set_meta("authn_id", authc)
            self.auth_info["identities"].extend([
                {"identity": authz, "context": "SmtpAuthPlainAuthorization"},
                {"identity": authc, "context": "SmtpAuthPlainAuthentication"},
            ])
            self.meta.set_auth_info(self.auth_info)
            return self._write(235, "2.7.0 AUTH OK!")
        if value is False:
            return self._write(535, "5.7.8 AUTH invalid", response)
        if isinstance(value, Mapping):
            self._merge_auth_info(value)
            return self._write(235, "2.7.0 AUTH OK!")
        raise _Abort(
            f"data did not match any variant of untagged enum AuthKindResult "
            f"(got {lua_type_of(value)})"
        )

    def _merge_auth_info(self, info: Mapping[str, Any]) -> None:
        identities = list(info.get("identities") or [])
        if not identities:
            raise _Abort(
                "smtp_server_auth_plain returned an AuthInfo with an empty identities list, "
                "which is not supported"
            )
        seen_authc = seen_authz = False
        for ident in identities:
            context = ident.get("context") if isinstance(ident, Mapping) else None
            name = str(ident.get("identity")) if isinstance(ident, Mapping) else ""
            if context == "SmtpAuthPlainAuthentication":
                seen_authc = True
                self.authentication_id = name
            elif context == "SmtpAuthPlainAuthorization":
                seen_authz = True
                self.authorization_id = name
        if not seen_authc:
            first = identities[0]
            self.authentication_id = str(first.get("identity")) if isinstance(first, Mapping) \
                else None
        if not seen_authz:
            self.authorization_id = self.authentication_id
        self.meta.set_meta("authz_id", self.authorization_id)
        self.meta.set_meta("authn_id", self.authentication_id)
        self.auth_info["identities"].extend(identities)
        self.auth_info["groups"].extend(list(info.get("groups") or []))
        self.meta.set_auth_info(self.auth_info)

    def mail_from(self, address: str) -> Reply:
        """MAIL FROM: `smtp_server_mail_from(sender, conn_meta)`; 250 `OK
        <sender>` opens the transaction."""
        from ._message import EnvelopeAddress

        shown = address if address.startswith("<") else f"<{address}>"
        line = f"MAIL FROM:{shown}"

        def run() -> Reply:
            if self._state is not None:
                return self._write(
                    503, "5.5.0 MAIL FROM already issued; you must RSET first", line
                )
            try:
                sender = EnvelopeAddress.parse(address)
            except ValueError:
                return self._write(501, "5.1.7 Bad sender's mailbox address syntax", line)
            out = self._fire("smtp_server_mail_from", sender, self.meta)
            if out.reject is not None:
                return self._reject(out.reject, line)
            self._state = _Transaction(sender)
            return self._write(250, f"OK <{sender}>")

        return self._command(line, run)

    def rcpt_to(self, address: str) -> Reply:
        """RCPT TO: relay check (get_listener_domain for the sender's and
        the recipient's domains), limits, then `smtp_server_rcpt_to(recipient,
        conn_meta)`; 250 `OK <recipient>`."""
        from ._message import EnvelopeAddress

        shown = address if address.startswith("<") else f"<{address}>"
        line = f"RCPT TO:{shown}"

        def run() -> Reply:
            if self._state is None:
                return self._write(503, "5.5.0 MAIL FROM must be issued first", line)
            try:
                recipient = EnvelopeAddress.parse(address)
            except ValueError:
                return self._write(501, "5.1.3 Invalid recipient address syntax", line)
            if recipient.kind == "null":
                return self._write(501, "5.1.3 Invalid recipient address syntax", line)
            state = self._state
            disposition = self._check_relaying(state.sender, recipient)
            if not disposition.accept_rcpt_to:
                return self._write(550, f"5.7.1 relaying not permitted for {self.peer}", line)
            if len(state.recipients) == self.params.max_recipients_per_message:
                return self._write(452, "4.5.3 too many recipients", line)
            if self._rcpt_count == self.params.max_messages_per_connection:
                if not state.recipients:
                    return self._write(
                        421,
                        f"4.5.3 {self.params.hostname} too many recipients on this connection",
                        line,
                    )
                return self._write(452, "4.5.3 too many recipients on this connection", line)
            self._rcpt_count += 1
            out = self._fire("smtp_server_rcpt_to", recipient, self.meta)
            if out.reject is not None:
                return self._reject(out.reject, line)
            reply = self._write(250, f"OK <{recipient}>")
            state.recipients.append(recipient)
            return reply

        return self._command(line, run)

    def data_command(self) -> Reply:
        """The DATA command alone: 354, or 503 when the transaction is not
        ready (used by `kumopy serve`; `data()` does both halves)."""
        line = "DATA"

        def run() -> Reply:
            if self._state is None:
                return self._write(503, "5.5.0 MAIL FROM must be issued first", line)
            if not self._state.recipients:
                return self._write(503, "5.5.0 RCPT TO must be issued first", line)
            return self._write(354, "Send body; end with CRLF.CRLF")

        return self._command(line, run)

    def data(self, content: bytes | str) -> Reply:
        """DATA and the message content (already dot-unstuffed, without the
        final `.`): the 354, then kumod's process_data."""
        first = self.data_command()
        if first.code != 354:
            return first
        return self.message_content(content)

    def message_content(self, content: bytes | str) -> Reply:
        """The content that followed a 354."""
        if self.closed:
            raise SessionClosed("the connection is closed")
        raw = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        self.transcript.append(f"C: <{len(raw)} bytes of message data>")
        try:
            return self._process_data(raw)
        except _Abort as e:
            return self._technical_difficulties(e)

    def rset(self) -> Reply:
        def run() -> Reply:
            self._state = None
            return self._write(250, "Reset state")

        return self._command("RSET", run)

    def noop(self) -> Reply:
        return self._command("NOOP", lambda: self._write(250, "the goggles do nothing"))

    def quit(self) -> Reply:
        def run() -> Reply:
            return self._end(self._write(221, "So long, and thanks for all the fish!"))

        return self._command("QUIT", run)

    def unimplemented(self, line: str) -> Reply:
        """VRFY, EXPN, HELP and unknown commands."""
        return self._command(line, lambda: self._write(502, "5.5.1 Command unimplemented", line))

    def reply_to(self, line: str, code: int, text: str) -> Reply:
        """Answer `line` with a reply of kumopy's own (no kumod
        counterpart, e.g. STARTTLS when `kumopy serve` has no certificate)."""
        return self._command(line, lambda: self._write(code, text, line))

    def starttls(self) -> Reply:
        """STARTTLS accepted (the caller then performs the handshake and
        sets `tls`)."""
        if self.tls:
            return self._command("STARTTLS", lambda: self._write(
                501, "Cannot STARTTLS as TLS is already active", "STARTTLS"))
        return self._command("STARTTLS", lambda: self._write(220, "Ready to Start TLS"))

    def invalid_utf8(self) -> Reply:
        """A command line that is not UTF-8 (kumod answers before parsing)."""
        return self._command("<invalid UTF-8>",
                             lambda: self._write(501, "5.5.2 Invalid UTF-8 in command"))

    def syntax_error(self, line: str, reason: str) -> Reply:
        return self._command(
            line,
            lambda: self._write(501, f"Syntax error in command or arguments: {reason}", line),
        )

    # -- relaying ----------------------------------------------------------

    def _lookup_listener_domain(self, domain: str) -> ListenerDomain | None:
        if domain in self._domains:
            return self._domains[domain]
        finder = getattr(self.policy, "listener_domain", None)
        args = [domain, self.listener, "<ConnectionMetaData>"]
        if finder is not None:
            try:
                data = finder(domain, self.listener, self.meta)
            except PolicyError as e:
                self.reception._note(self.events, EventRecord(
                    "get_listener_domain", args, "error", error=str(e)))
                raise _Abort(str(e)) from e
            self.reception._note(self.events, EventRecord(
                "get_listener_domain", args, "ok" if data is not None else "no handler",
                value=_summary(data)))
        else:
            if "get_listener_domain" not in self.policy.events():
                data = None
            else:
                out = self._fire("get_listener_domain", domain, self.listener, self.meta)
                if out.reject is not None:
                    # kumod does not intercept a rejection here
                    raise _Abort(str(out.reject))
                data = out.value
                if isinstance(data, Userdata):
                    data = data.to_data()
                if data is not None and not isinstance(data, Mapping):
                    raise _Abort(f"error converting Lua {lua_type_of(data)} to EsmtpDomain")
        value = ListenerDomain.from_data(data) if data is not None else None
        while len(self._domains) > 16:
            self._domains.pop(next(iter(self._domains)))
        self._domains[domain] = value
        return value

    def _check_relaying(
        self, sender: EnvelopeAddress, recipient: EnvelopeAddress
    ) -> RelayDisposition:
        hosts = cidr_contains(self.params.relay_hosts, self.peer_ip)
        relay_from = False
        dom = self._lookup_listener_domain(sender.domain)
        if dom is not None:
            relay_from = cidr_contains(dom.relay_from, self.peer_ip)
        relay_to: bool | None = None
        log_arf = log_oob = "Ignore"
        dom = self._lookup_listener_domain(recipient.domain)
        if dom is not None:
            relay_to = dom.relay_to
            log_arf, log_oob = dom.log_arf, dom.log_oob
        return RelayDisposition(hosts or relay_from or relay_to is True, log_arf, log_oob)

    # -- the data phase ----------------------------------------------------

    def _process_data(self, data: bytes) -> Reply:
        from ._message import EnvelopeAddress, Message

        state = self._state
        self._state = None
        if state is None:
            raise _Abort("transaction state is impossibly not set!?")
        self.last_messages = []
        if len(data) > self.params.max_message_size:
            return self._write(552, "5.3.4 message too big", "DATA")
        if not check_line_lengths(data, self.params.line_length_hard_limit):
            return self._write(500, "5.2.3 line too long", "DATA")
        if has_lone_cr_or_lf(data):
            if self.params.invalid_line_endings == "Deny":
                return self._write(
                    552, "5.6.0 message data must use CRLF for line endings", "DATA"
                )
            if self.params.invalid_line_endings == "Fix":
                data = normalize_crlf(data)
        recipients = [str(r) for r in state.recipients]
        base = Message(data, sender=str(state.sender), recipients=recipients,
                       meta=self.meta.meta)
        out = self._fire("smtp_server_data", base, self.meta)
        if out.reject is not None:
            return self._reject(out.reject, "DATA")

        batches: list[list[str]] = []
        out = self._fire("smtp_server_split_transaction", base, self.meta)
        if out.reject is not None:
            return self._reject(out.reject, "DATA")
        if out.handled and out.value is not None:
            value = out.value
            if isinstance(value, list):
                for batch in value:
                    items = batch if isinstance(batch, list) else []
                    converted = []
                    for item in items:
                        if isinstance(item, EnvelopeAddress):
                            converted.append(str(item))
                        elif isinstance(item, str):
                            try:
                                converted.append(str(EnvelopeAddress.parse(item)))
                            except ValueError as e:
                                raise _Abort(str(e)) from None
                        else:
                            raise _Abort(
                                f"error converting Lua {lua_type_of(item)} to EnvelopeAddress"
                            )
                    batches.append(converted)
        elif self.params.batch_handling == "BatchByDomain":
            by_domain: dict[str, list[str]] = {}
            for r in base.recipients:
                by_domain.setdefault(r.domain.lower(), []).append(str(r))
            batches = list(by_domain.values())
        else:
            batches = [[str(r)] for r in base.recipients]

        datestamp = _now_rfc2822()
        messages: list[Message] = []
        for batch in batches:
            if not batch:
                raise _Abort("smtp_server_split_transaction returned an empty batch")
            msg_id = uuid.uuid4().hex
            body = base.data
            if self.params.trace_headers.received_header:
                if self.authentication_id is not None:
                    protocol = "ESMTPSA" if self.tls else "ESMTP"
                else:
                    protocol = "ESMTPS" if self.tls else "ESMTP"
                received = (
                    f"Received: from {self.said_hello or 'unspecified'} ({self.peer_ip})\r\n"
                    f"  by {self.params.hostname} (KumoMTA {self.my_ip}) \r\n"
                    f"  with {protocol} id {msg_id} for <{batch[0]}>;\r\n"
                    f"  {datestamp}\r\n"
                )
                body = received.encode("utf-8") + body
            message = Message(body, sender=str(state.sender), recipients=batch,
                              meta=base.meta, id=msg_id)
            if self.params.deferred_queue:
                message.set_meta("queue", DEFERRED_QUEUE_NAME)
            else:
                out = self._fire("smtp_server_message_received", message, self.meta)
                if out.reject is not None:
                    return self._reject(out.reject, "DATA")
            messages.append(message)

        # resolve every queue before committing to anything
        for message in messages:
            try:
                queue = message.queue_name()
            except ValueError as e:
                raise _Abort(str(e)) from None
            self.reception.resolve_queue(queue, self.events)

        results: list[Accepted] = []
        relayed_any = black_holed = was_report = False
        ids = []
        for message in messages:
            _apply_supplemental(self.params.trace_headers, message)
            ids.append(message.id)
            queue = message.queue_name()
            disposition = self._check_relaying(message.sender, message.recipients[0])
            relay_this = disposition.relay
            kind = None
            if disposition.log_arf != "Ignore" or disposition.log_oob != "Ignore":
                kind = report_kind(message)
            if kind == "arf" and disposition.log_arf != "Ignore":
                was_report = True
                relay_this = disposition.log_arf == "LogThenRelay"
            elif kind == "oob" and disposition.log_oob != "Ignore":
                was_report = True
                relay_this = disposition.log_oob == "LogThenRelay"
            if queue == "null":
                black_holed = True
                what = "null"
            elif relay_this:
                relayed_any = True
                what = "deferred" if queue == DEFERRED_QUEUE_NAME else "queued"
            else:
                what = "not relayed"
            results.append(Accepted(message, queue, what, disposition))
        self.last_messages = results
        if not black_holed and not relayed_any and not was_report:
            return self._write(550, "5.7.1 relaying not permitted", "DATA")
        self.accepted.extend(results)
        return self._write(250, "OK ids=" + " ".join(ids), "DATA")
