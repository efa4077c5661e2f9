"""`Reception`: one simulated kumod process's reception side."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._errors import GlobalLeakError, PolicyError
from .._kumo.smtp import reject_of
from .._message import normalize_crlf
from .._message._trace import TraceHeaders, apply_supplemental, http_received_header
from .._smtp import QueueName
from ._params import RelayDisposition
from ._replies import DEFERRED_QUEUE_NAME, SPECIAL_QUEUES, EventRecord, _Abort, _Outcome, _summary
from ._results import (
    Accepted,
    DeferredInjectResult,
    HttpInjectResult,
    LogRecordResult,
    RequeueResult,
    TimeDelta,
)

if TYPE_CHECKING:
    from .._message import Message
    from .._policy import Policy
    from ._session import Session


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
        self._events = frozenset(policy.events())
        if startup:
            self.start()

    def has_handler(self, event: str) -> bool:
        """Whether the policy registered a handler for `event` (read once
        from the policy's top level and `init`: every Lua state registers
        the same, and asking does not load a state on the calling thread)."""
        return event in self._events

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
        self._events = frozenset(self.policy.events())

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
        tls_available: bool = True,
        history: int | None = None,
    ) -> Session:
        """Open an SMTP session from `peer` ("ip:port") to the listener at
        `listener` ("ip:port").  The greeting (or the rejection of the
        connection) is in `session.greeting`.  `tls=True` behaves as if
        STARTTLS had completed (AUTH PLAIN is offered and allowed);
        `tls_available=False` answers STARTTLS with 454; `history` bounds
        the session's transcript and event list."""
        from ._session import Session

        return Session(self, peer=peer, listener=listener, tls=tls,
                       tls_available=tls_available, history=history)

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
        from .._message import EnvelopeAddress, Message

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
                body = http_received_header(sender_addr.domain, peer, msg_id, recip) + body
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
                    apply_supplemental(message, trace)
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
        from .._message import ConnectionMeta

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

