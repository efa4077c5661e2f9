"""`Session`: one SMTP connection, following kumod's SmtpServerSession."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .._errors import PolicyError
from .._kumo._schema import lua_type_of
from .._kumo.smtp import RejectError
from .._runtime.userdata import Userdata
from .._smtp import ConversionError, to_u16
from ._params import ListenerDomain, ListenerParams, RelayDisposition, _ip_of, cidr_contains
from ._replies import (
    DEFAULT_EXTENSIONS,
    DEFERRED_QUEUE_NAME,
    EventRecord,
    Reply,
    SessionClosed,
    _Abort,
    _Outcome,
    _summary,
)
from ._results import Accepted
from ._trace import (
    _apply_supplemental,
    _now_rfc2822,
    check_line_lengths,
    has_lone_cr_or_lf,
    normalize_crlf,
    report_kind,
)

if TYPE_CHECKING:
    from .._message import EnvelopeAddress, Message
    from ._engine import Reception


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
        from .._message import ConnectionMeta

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
        from .._message import EnvelopeAddress

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
        from .._message import EnvelopeAddress

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
        from .._message import EnvelopeAddress, Message

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
