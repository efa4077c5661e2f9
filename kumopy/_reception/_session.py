"""`Session`: one SMTP connection, following kumod's SmtpServerSession.

`Session.command(line)` answers one command line as kumod's loop does
(parse, then the command's checks and events); the named methods (`ehlo`,
`mail_from`, ...) build that line.  What needs the connection itself (the
message data after a 354, the STARTTLS handshake, the line after an AUTH
`334 `, timeouts) is the transport's part: `kumopy serve` reads it and
reports back with `message_content`, `tls_established`, `auth_response`
and `reply`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .._errors import PolicyError
from .._kumo._schema import lua_type_of
from .._runtime.userdata import Userdata
from .._smtp import ConversionError, to_u16
from ._auth import _AuthMixin
from ._commands import Command, Partial, parse_command, partial_reply_text
from ._data import _DataMixin
from ._params import ListenerDomain, ListenerParams, RelayDisposition, _ip_of, cidr_contains
from ._replies import (
    DEFAULT_EXTENSIONS,
    EventRecord,
    Reply,
    SessionClosed,
    _Abort,
    _Outcome,
    _summary,
)
from ._results import Accepted
from ._trace import check_line_lengths

if TYPE_CHECKING:
    from .._kumo.smtp import RejectError
    from .._message import EnvelopeAddress
    from ._engine import Reception


class _History(list[str]):
    """A transcript that keeps only its newest `limit` lines (None: all)."""

    def __init__(self, limit: int | None) -> None:
        super().__init__()
        self._limit = limit

    def append(self, item: str) -> None:
        super().append(item)
        if self._limit is not None and len(self) > 2 * self._limit:
            del self[: len(self) - self._limit]

    def extend(self, items: Any) -> None:
        for item in items:
            self.append(item)


class _EventLog(list[EventRecord]):
    """A session's event list that also notes each event in its transcript
    (and keeps only the newest `limit` events when given one)."""

    def __init__(self, transcript: list[str], limit: int | None = None) -> None:
        super().__init__()
        self._transcript = transcript
        self._limit = limit

    def append(self, record: EventRecord) -> None:
        super().append(record)
        self._transcript.append(f"E: {record}")
        if self._limit is not None and len(self) > 2 * self._limit:
            del self[: len(self) - self._limit]


@dataclass
class _Transaction:
    sender: EnvelopeAddress
    recipients: list[EnvelopeAddress] = field(default_factory=list)


def _bracketed(address: str) -> str:
    return address if address.startswith("<") else f"<{address}>"


class Session(_AuthMixin, _DataMixin):
    """One SMTP connection to the simulated kumod listener.

    Each command method returns the `Reply` kumod sends; `events` lists
    every event fired, `transcript` the conversation (`C: ...`/`S: ...`),
    `accepted` the messages accepted so far, `closed` whether kumod has
    closed the connection.  `history` bounds `transcript` and `events` to
    about that many entries (a long-lived `kumopy serve` connection).
    """

    def __init__(self, reception: Reception, *, peer: str, listener: str, tls: bool,
                 tls_available: bool = True, history: int | None = None) -> None:
        from .._message import ConnectionMeta

        self.reception = reception
        self.policy = reception.policy
        self.peer = peer
        self.listener = listener
        self.orig_peer = peer
        self.orig_listener = listener
        self.peer_ip = _ip_of(peer)
        self.my_ip = _ip_of(listener)
        self.tls = tls
        #: (protocol version, cipher) once STARTTLS completed
        self.tls_info: tuple[str, str] | None = None
        #: whether the transport can do STARTTLS (kumopy serve without a
        #: certificate cannot; kumod always can)
        self.tls_available = tls_available
        #: STARTTLS was accepted with 220: the transport does the handshake
        self.starttls_pending = False
        #: the conversation: `C: ` client lines, `S: ` server lines, `E: ` events
        self.transcript: list[str] = _History(history) if history is not None else []
        self.events: list[EventRecord] = _EventLog(self.transcript, history)
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
        self.auth_pending: str | None = None
        #: the DATA command line after a 354 (the transport reads the data)
        self.data_pending: str | None = None
        self._rcpt_count = 0
        self._domains: dict[str, ListenerDomain | None] = {}
        self.params = ListenerParams()
        self.meta = ConnectionMeta(received_from=peer, received_via=listener,
                                   hostname=self.params.hostname)
        self.meta.set_auth_info(self.auth_info)
        self.greeting = self._start()

    @property
    def in_transaction(self) -> bool:
        """MAIL FROM was accepted and no DATA, RSET or error ended it."""
        return self._state is not None

    # -- plumbing ----------------------------------------------------------

    def _fire(self, event: str, *args: Any) -> _Outcome:
        return self.reception._fire(self.events, event, *args)

    def _write(
        self, code: int, text: str, command: str | None = None, disconnect: str = "If421"
    ) -> Reply:
        """kumod's write_response: offer the reply to
        smtp_server_rewrite_response, then decide on closing."""
        if self.reception.has_handler("smtp_server_rewrite_response"):
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

    def reply(self, code: int, text: str, command: str | None = None,
              *, end: bool = False) -> Reply:
        """A reply the transport decides on (a line too long, an idle
        client, shutting down), written as kumod writes every reply;
        `end`: the session ends after it whatever the code."""
        if self.closed:
            return Reply(code, text, command, True)
        try:
            out = self._write(code, text, command)
        except _Abort as e:
            return self._technical_difficulties(e)
        return self._end(out) if end else out

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
            rejected = self._apply_listener_params()
            if rejected is not None:
                return self._end(rejected)
            out = self._fire("smtp_server_connection_accepted", self.meta)
            if out.reject is not None:
                return self._end(self._reject(out.reject, None))
        except _Abort as e:
            return self._technical_difficulties(e)
        return self._write(220, f"{self.params.hostname} {self.params.banner}")

    def _apply_listener_params(self) -> Reply | None:
        """The listener's parameters, then smtp_server_get_dynamic_parameters
        (a rejection comes back as the reply to send)."""
        try:
            base = self.reception.listener_params(self.listener)
            self.params.apply(base, my_ip=self.my_ip, peer_ip=self.peer_ip, meta=self.meta,
                              listener_level=True)
        except ValueError as e:
            raise _Abort(str(e)) from None
        if self.reception.has_handler("smtp_server_get_dynamic_parameters"):
            out = self._fire("smtp_server_get_dynamic_parameters", self.listener, self.meta)
            if out.reject is not None:
                return self._reject(out.reject, None)
            value = out.value
            if isinstance(value, Userdata):
                value = value.to_data()
            if not isinstance(value, Mapping):
                kind = "nil" if value is None else type(value).__name__
                raise _Abort(f"invalid type: {kind}, expected struct "
                             "GenericEsmtpListenerParams")
            try:
                self.params.apply(value, my_ip=self.my_ip, peer_ip=self.peer_ip, meta=self.meta)
            except ValueError as e:
                raise _Abort(str(e)) from None
        return None

    # -- one command line ---------------------------------------------------

    def command(self, line: str) -> Reply:
        """Answer one command line (without its CRLF) as kumod does."""
        return self._command(line, lambda: self._dispatch(line))

    def _dispatch(self, line: str) -> Reply:
        parsed = parse_command(line)
        if isinstance(parsed, Partial):
            return self._write(501, partial_reply_text(parsed.reason), line)
        if not isinstance(parsed, Command):
            return self._write(501, f"Syntax error in command or arguments: {parsed.text}", line)
        verb = parsed.verb
        if verb == "EHLO":
            return self._ehlo(line, parsed.arg or "")
        if verb == "HELO":
            return self._helo(line, parsed.arg or "")
        if verb == "MAIL":
            assert parsed.address is not None
            return self._mail_from(line, parsed.address)
        if verb == "RCPT":
            assert parsed.address is not None
            return self._rcpt_to(line, parsed.address)
        if verb == "DATA":
            return self._data(line)
        if verb == "RSET":
            self._state = None
            return self._write(250, "Reset state")
        if verb == "NOOP":
            return self._write(250, "the goggles do nothing")
        if verb == "QUIT":
            return self._end(self._write(221, "So long, and thanks for all the fish!"))
        if verb == "STARTTLS":
            return self._starttls(line)
        if verb == "AUTH":
            return self._process_auth(line, parsed.arg or "", parsed.initial_response)
        if verb == "XCLIENT":
            return self._xclient(parsed.params)
        # VRFY, EXPN, HELP, LHLO and unknown verbs
        return self._write(502, "5.5.1 Command unimplemented", line)

    # -- commands ----------------------------------------------------------

    def ehlo(self, domain: str) -> Reply:
        """EHLO: `smtp_server_ehlo(domain, conn_meta, extensions)`; an array
        returned replaces the advertised extensions."""
        return self.command(f"EHLO {domain}")

    def helo(self, domain: str) -> Reply:
        """HELO: `smtp_server_ehlo(domain, conn_meta)` (no extensions)."""
        return self.command(f"HELO {domain}")

    def mail_from(self, address: str) -> Reply:
        """MAIL FROM: `smtp_server_mail_from(sender, conn_meta)`; 250 `OK
        <sender>` opens the transaction."""
        return self.command(f"MAIL FROM:{_bracketed(address)}")

    def rcpt_to(self, address: str) -> Reply:
        """RCPT TO: relay check (get_listener_domain for the sender's and
        the recipient's domains), limits, then `smtp_server_rcpt_to(recipient,
        conn_meta)`; 250 `OK <recipient>`."""
        return self.command(f"RCPT TO:{_bracketed(address)}")

    def data_command(self) -> Reply:
        """The DATA command alone: 354, or 503 when the transaction is not
        ready (`data()` does both halves)."""
        return self.command("DATA")

    def data(self, content: bytes | str) -> Reply:
        """DATA and the message content (already dot-unstuffed, without the
        final `.`): the 354, then kumod's process_data."""
        first = self.data_command()
        if first.code != 354:
            return first
        return self.message_content(content)

    def message_content(self, content: bytes | str, *, checked: bool = False) -> Reply:
        """The content that followed a 354.  `checked`: the transport
        already applied kumod's size and line-length limits while reading
        it (kumopy serve); otherwise they are applied here."""
        if self.closed:
            raise SessionClosed("the connection is closed")
        raw = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        command = self.data_pending or "DATA"
        self.data_pending = None
        self.transcript.append(f"C: <{len(raw)} bytes of message data>")
        try:
            if not checked:
                if len(raw) > self.params.max_message_size:
                    return self._write(552, "5.3.4 message too big", command)
                if not check_line_lengths(raw, self.params.line_length_hard_limit):
                    return self._write(500, "5.2.3 line too long", command)
            return self._process_data(raw)
        except _Abort as e:
            return self._technical_difficulties(e)

    def rset(self) -> Reply:
        return self.command("RSET")

    def noop(self) -> Reply:
        return self.command("NOOP")

    def quit(self) -> Reply:
        return self.command("QUIT")

    def starttls(self) -> Reply:
        """STARTTLS: 220 (the transport then performs the handshake and
        calls `tls_established`), or 501 when TLS is already active."""
        return self.command("STARTTLS")

    def tls_established(self, version: str = "", cipher: str = "") -> None:
        """The STARTTLS handshake completed."""
        self.starttls_pending = False
        self.tls = True
        if version or cipher:
            self.tls_info = (version, cipher)
        if cipher:
            self.meta.set_meta("tls_cipher", cipher)
        if version:
            self.meta.set_meta("tls_protocol_version", version)

    def invalid_utf8(self) -> Reply:
        """A command line that is not UTF-8 (kumod answers before parsing)."""
        return self._command("<invalid UTF-8>",
                             lambda: self._write(501, "5.5.2 Invalid UTF-8 in command"))

    def unimplemented(self, line: str) -> Reply:
        """VRFY, EXPN, HELP and unknown commands."""
        return self.command(line)

    # -- command bodies ------------------------------------------------------

    def _ehlo(self, line: str, domain: str) -> Reply:
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

    def _helo(self, line: str, domain: str) -> Reply:
        out = self._fire("smtp_server_ehlo", domain, self.meta)
        if out.reject is not None:
            return self._reject(out.reject, line)
        reply = self._write(250, f"Hello {domain}!")
        self.meta.set_meta("ehlo_domain", domain)
        self.said_hello = domain
        return reply

    def _mail_from(self, line: str, sender: EnvelopeAddress) -> Reply:
        if self._state is not None:
            return self._write(503, "5.5.0 MAIL FROM already issued; you must RSET first", line)
        out = self._fire("smtp_server_mail_from", sender, self.meta)
        if out.reject is not None:
            return self._reject(out.reject, line)
        self._state = _Transaction(sender)
        return self._write(250, f"OK <{sender}>")

    def _rcpt_to(self, line: str, recipient: EnvelopeAddress) -> Reply:
        if self._state is None:
            return self._write(503, "5.5.0 MAIL FROM must be issued first", line)
        state = self._state
        disposition = self._check_relaying(state.sender, recipient)
        if not disposition.accept_rcpt_to:
            return self._write(550, f"5.7.1 relaying not permitted for {self.peer}", line)
        if len(state.recipients) == self.params.max_recipients_per_message:
            return self._write(452, "4.5.3 too many recipients", line)
        if self._rcpt_count == self.params.max_messages_per_connection:
            if not state.recipients:
                return self._end(self._write(
                    421,
                    f"4.5.3 {self.params.hostname} too many recipients on this connection",
                    line,
                ))
            return self._write(452, "4.5.3 too many recipients on this connection", line)
        self._rcpt_count += 1
        out = self._fire("smtp_server_rcpt_to", recipient, self.meta)
        if out.reject is not None:
            return self._reject(out.reject, line)
        reply = self._write(250, f"OK <{recipient}>")
        state.recipients.append(recipient)
        return reply

    def _data(self, line: str) -> Reply:
        if self._state is None:
            return self._write(503, "5.5.0 MAIL FROM must be issued first", line)
        if not self._state.recipients:
            return self._write(503, "5.5.0 RCPT TO must be issued first", line)
        reply = self._write(354, "Send body; end with CRLF.CRLF")
        if not reply.close:
            self.data_pending = line
        return reply

    def _starttls(self, line: str) -> Reply:
        if self.tls:
            return self._write(501, "Cannot STARTTLS as TLS is already active", line)
        if not self.tls_available:
            # kumod makes a self-signed certificate; kumopy serve needs one given
            return self._write(454, "4.7.0 TLS not available: kumopy serve runs without "
                               "--tls-cert", line)
        reply = self._write(220, "Ready to Start TLS")
        if not reply.close:
            self.starttls_pending = True
        return reply

    def _xclient(self, params: tuple[tuple[str, str | None], ...]) -> Reply:
        """kumod's process_xclient: override the peer and listener
        addresses, re-evaluate the listener parameters, then 220 again."""
        if not self.params.allow_xclient:
            return self._write(550, "insufficient authorization")
        if self._state is not None:
            return self._write(503, "mail transaction in progress")
        addr = port = dest_addr = dest_port = None
        for name, value in params:
            text = value or ""
            key = name.upper()
            if key in ("ADDR", "DESTADDR"):
                try:
                    ip = str(ipaddress.ip_address(text))
                except ValueError:
                    return self._write(501, f"{key} {text} is invalid")
                if key == "ADDR":
                    addr = ip
                else:
                    dest_addr = ip
            elif key in ("PORT", "DESTPORT"):
                if not (text.isascii() and text.isdigit() and int(text) <= 65535):
                    return self._write(501, f"{key} {text} is invalid")
                if key == "PORT":
                    port = int(text)
                else:
                    dest_port = int(text)
            else:
                return self._write(501, f"parameter {name} is not supported")

        def joined(ip: str, port_number: str) -> str:
            return f"[{ip}]:{port_number}" if ":" in ip else f"{ip}:{port_number}"

        if addr is not None or port is not None:
            new_ip = addr or self.peer_ip
            new_port = str(port) if port is not None else self.peer.rsplit(":", 1)[-1]
            self.peer = joined(new_ip, new_port)
            self.peer_ip = new_ip
            self.auth_info["peer_address"] = new_ip
            self.meta.set_auth_info(self.auth_info)
            self.meta.set_meta("orig_received_from", self.orig_peer)
            self.meta.set_meta("received_from", self.peer)
        if dest_addr is not None or dest_port is not None:
            new_ip = dest_addr or self.my_ip
            new_port = str(dest_port) if dest_port is not None \
                else self.listener.rsplit(":", 1)[-1]
            self.listener = joined(new_ip, new_port)
            self.my_ip = new_ip
            self.meta.set_meta("orig_received_via", self.orig_listener)
            self.meta.set_meta("received_via", self.listener)
        self.params = ListenerParams()
        rejected = self._apply_listener_params()
        if rejected is not None:
            return rejected
        return self._write(220, f"{self.params.hostname} {self.params.banner}")

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
            if not self.reception.has_handler("get_listener_domain"):
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

