"""The data phase of a session: kumod's `process_data` (a mixin of
`Session`), and the unstuffing and line checks its reader makes."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from .._kumo._schema import lua_type_of
from .._message import normalize_crlf
from .._message._trace import apply_supplemental, now_rfc2822
from ._replies import DEFERRED_QUEUE_NAME, Reply, _Abort
from ._results import Accepted
from ._trace import has_lone_cr_or_lf, report_kind

if TYPE_CHECKING:
    from .._kumo.smtp import RejectError
    from .._message import ConnectionMeta, EnvelopeAddress
    from ._engine import Reception
    from ._params import ListenerParams, RelayDisposition
    from ._replies import EventRecord, _Outcome
    from ._session import _Transaction


def unstuff(data: bytes) -> bytes:
    """Undo dot-stuffing as kumod does: `CRLF..` becomes `CRLF.` (a
    doubled dot at the very start stays)."""
    return data.replace(b"\r\n..", b"\r\n.")


class _DataMixin:
    """The host class (`Session`) provides the state and the plumbing."""

    params: ListenerParams
    meta: ConnectionMeta
    reception: Reception
    events: list[EventRecord]
    tls: bool
    tls_info: tuple[str, str] | None
    said_hello: str | None
    authentication_id: str | None
    peer: str
    peer_ip: str
    my_ip: str
    last_messages: list[Accepted]
    accepted: list[Accepted]
    _state: _Transaction | None

    if TYPE_CHECKING:

        def _write(self, code: int, text: str, command: str | None = None,
                   disconnect: str = "If421") -> Reply: ...
        def _fire(self, event: str, *args: Any) -> _Outcome: ...
        def _reject(self, rej: RejectError, command: str | None) -> Reply: ...
        def _check_relaying(self, sender: EnvelopeAddress,
                            recipient: EnvelopeAddress) -> RelayDisposition: ...

    def _process_data(self, data: bytes) -> Reply:
        from .._message import EnvelopeAddress, Message

        state = self._state
        self._state = None
        if state is None:
            raise _Abort("transaction state is impossibly not set!?")
        self.last_messages = []
        timeout = self.params.data_processing_timeout
        deadline = time.monotonic() + timeout if timeout is not None else None

        def late(what: str = "rx") -> Reply | None:
            if deadline is not None and time.monotonic() > deadline:
                return self._write(451, f"4.4.5 data_processing_timeout exceeded ({what})",
                                   "DATA")
            return None

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
        if (timed_out := late()) is not None:
            return timed_out
        if out.reject is not None:
            return self._reject(out.reject, "DATA")

        batches: list[list[str]] = []
        out = self._fire("smtp_server_split_transaction", base, self.meta)
        if (timed_out := late()) is not None:
            return timed_out
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

        datestamp = now_rfc2822()
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
                tls_info = f" ({self.tls_info[0]}:{self.tls_info[1]}) " \
                    if self.tls and self.tls_info is not None else ""
                received = (
                    f"Received: from {self.said_hello or 'unspecified'} ({self.peer_ip})\r\n"
                    f"  by {self.params.hostname} (KumoMTA {self.my_ip}) \r\n"
                    f"  with {protocol}{tls_info} id {msg_id} for <{batch[0]}>;\r\n"
                    f"  {datestamp}\r\n"
                )
                body = received.encode("utf-8") + body
            message = Message(body, sender=str(state.sender), recipients=batch,
                              meta=base.meta, id=msg_id)
            if self.params.deferred_queue:
                message.set_meta("queue", DEFERRED_QUEUE_NAME)
            else:
                out = self._fire("smtp_server_message_received", message, self.meta)
                if (timed_out := late()) is not None:
                    return timed_out
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
            if (timed_out := late("resolve")) is not None:
                return timed_out

        results: list[Accepted] = []
        relayed_any = black_holed = was_report = False
        ids = []
        for message in messages:
            apply_supplemental(message, self.params.trace_headers)
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
