"""`kumopy serve`: a real ESMTP listener (aiosmtpd) that answers like kumod.

Every command goes through the reception engine (`kumopy._reception`), so
the replies, the events fired and the queue a message lands in are the
ones `Reception(policy).session()` and `kumopy inject` report.  Accepted
messages are recorded (never delivered): one `<id>.eml` with the message
as the policy left it and one `<id>.json` with the envelope, metadata,
queue and disposition.

`SmtpServer` runs the listener in a background thread (the pytest fixture
`kumo_smtp_server` uses it); `kumopy serve` runs it in the foreground.
All Lua runs on the server's event-loop thread, one command at a time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from aiosmtpd.smtp import SMTP

from .._reception import Accepted, EventRecord, Reception, Reply, Session
from ._common import CliError, common_options, echo, echo_err, load_policy

if TYPE_CHECKING:
    from .._policy import Policy

__all__ = ["RecordedMessage", "SmtpServer", "serve"]

_AISMTPD_354 = "354 End data"
_AISMTPD_UNKNOWN = re.compile(r'^500 Error: command "(?P<cmd>[^"]*)" not recognized')
_AISMTPD_STARTTLS = "220 Ready to start TLS"


@dataclass
class RecordedMessage:
    """One accepted message as `kumopy serve` recorded it."""

    id: str
    sender: str
    recipients: list[str]
    queue: str
    disposition: str
    meta: dict[str, Any]
    data: bytes
    peer: str
    reply: str
    relay: dict[str, Any] = field(default_factory=dict)
    eml_path: Path | None = None
    json_path: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sender": self.sender,
            "recipients": self.recipients,
            "queue": self.queue,
            "disposition": self.disposition,
            "relay": self.relay,
            "meta": self.meta,
            "peer": self.peer,
            "reply": self.reply,
        }


class _KumoSMTP(SMTP):
    """aiosmtpd's protocol with every command answered by the engine."""

    def __init__(self, server: SmtpServer, **kwargs: Any) -> None:
        super().__init__(_NoHandler(), **kwargs)
        self._server = server
        self._engine: Session | None = None
        self._greeted = False
        self._pending: Reply | None = None  # reply that replaces aiosmtpd's own text
        self._final: Reply | None = None

    # -- plumbing ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._engine is None:
            peer = _sockaddr(transport.get_extra_info("peername"))
            mine = _sockaddr(transport.get_extra_info("sockname"))
            self._engine = self._server.open_session(peer, mine)
        else:
            # STARTTLS finished: the engine now sees an encrypted channel
            self._engine.tls = True
            cipher = transport.get_extra_info("cipher")
            if isinstance(cipher, tuple) and len(cipher) >= 2:
                self._engine.meta.set_meta("tls_cipher", str(cipher[0]))
                self._engine.meta.set_meta("tls_protocol_version", str(cipher[1]))
        super().connection_made(transport)

    @property
    def engine(self) -> Session:
        assert self._engine is not None
        return self._engine

    async def _send(self, reply: Reply) -> None:
        text = "\r\n".join(reply.lines())
        if text:
            await super().push(text)
        if reply.close and self.transport is not None:
            self.transport.close()

    async def push(self, status: Any) -> None:
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else str(status)
        if not self._greeted and text.startswith("220 "):
            self._greeted = True
            await self._send(self.engine.greeting)
            return
        if self._pending is not None and (
            text.startswith(_AISMTPD_354) or text.startswith(_AISMTPD_STARTTLS)
        ):
            reply, self._pending = self._pending, None
            await super().push("\r\n".join(reply.lines()))
            return
        unknown = _AISMTPD_UNKNOWN.match(text)
        if unknown is not None and not self.engine.closed:
            await self._send(self.engine.unimplemented(unknown.group("cmd")))
            return
        await super().push(status)

    def _run(self, call: Callable[[], Reply]) -> Reply:
        return self._server.run_engine(self.engine, call)

    async def _not_utf8(self, arg: str | None) -> bool:
        """aiosmtpd keeps bytes that are not UTF-8 as surrogate escapes;
        kumod refuses such a command line."""
        if arg is not None and any("\udc80" <= c <= "\udcff" for c in arg):
            await self._send(self._run(self.engine.invalid_utf8))
            return True
        return False

    # -- commands ----------------------------------------------------------

    async def smtp_EHLO(self, arg: str | None) -> None:
        if await self._not_utf8(arg):
            return
        if not arg:
            await self._send(self._run(lambda: self.engine.syntax_error("EHLO", "missing domain")))
            return
        reply = self._run(lambda: self.engine.ehlo(arg))
        if reply.code == 250:
            assert self.session is not None
            self.session.host_name = arg
            self.session.extended_smtp = True
        await self._send(reply)

    async def smtp_HELO(self, arg: str | None) -> None:
        if await self._not_utf8(arg):
            return
        if not arg:
            await self._send(self._run(lambda: self.engine.syntax_error("HELO", "missing domain")))
            return
        reply = self._run(lambda: self.engine.helo(arg))
        if reply.code == 250:
            assert self.session is not None
            self.session.host_name = arg
        await self._send(reply)

    async def smtp_MAIL(self, arg: str | None) -> None:
        if await self._not_utf8(arg):
            return
        path = _path_arg(arg, "FROM:")
        if path is None:
            line = f"MAIL {arg or ''}".strip()
            reason = "expected FROM:<path>"
            await self._send(self._run(lambda: self.engine.syntax_error(line, reason)))
            return
        reply = self._run(lambda: self.engine.mail_from(path))
        if reply.code == 250:
            assert self.envelope is not None
            self.envelope.mail_from = path
        await self._send(reply)

    async def smtp_RCPT(self, arg: str | None) -> None:
        if await self._not_utf8(arg):
            return
        path = _path_arg(arg, "TO:")
        if path is None:
            line = f"RCPT {arg or ''}".strip()
            reason = "expected TO:<path>"
            await self._send(self._run(lambda: self.engine.syntax_error(line, reason)))
            return
        reply = self._run(lambda: self.engine.rcpt_to(path))
        if reply.code == 250:
            assert self.envelope is not None
            self.envelope.rcpt_tos.append(path)
        await self._send(reply)

    async def smtp_DATA(self, arg: str | None) -> None:
        reply = self._run(self.engine.data_command)
        if reply.code != 354:
            await self._send(reply)
            return
        assert self.session is not None and self.envelope is not None
        # aiosmtpd's own checks must pass: kumod needs neither HELO nor SIZE
        self.session.host_name = self.session.host_name or "unspecified"
        if not self.envelope.rcpt_tos:
            self.envelope.rcpt_tos.append("unspecified")
        self._pending = reply
        self._final = None
        await super().smtp_DATA(None)
        final = self._final
        self._set_rset_state()  # type: ignore[no-untyped-call]
        if final is not None and final.close and self.transport is not None:
            self.transport.close()

    async def deliver(self, content: bytes) -> str:
        """Called by aiosmtpd with the message content (via _NoHandler)."""
        reply = self._run(lambda: self.engine.message_content(content))
        self._final = reply
        self._server.record(self.engine, reply)
        return "\r\n".join(reply.lines())

    async def smtp_RSET(self, arg: str | None) -> None:
        self._set_rset_state()  # type: ignore[no-untyped-call]
        await self._send(self._run(self.engine.rset))

    async def smtp_NOOP(self, arg: str | None) -> None:
        await self._send(self._run(self.engine.noop))

    async def smtp_QUIT(self, arg: str | None) -> None:
        reply = self._run(self.engine.quit)
        await self._send(reply)
        if self.transport is not None:
            self.transport.close()

    async def smtp_AUTH(self, arg: str | None) -> None:
        if await self._not_utf8(arg):
            return
        mechanism, _, initial = (arg or "").partition(" ")
        initial_response = initial.strip() or None
        reply = self._run(lambda: self.engine.auth(mechanism.upper(), initial_response))
        await self._send(reply)
        if reply.code != 334:
            return
        raw = await self._reader.readline()
        if not raw:
            return
        try:
            response = raw.rstrip(b"\r\n").decode("utf-8")
        except UnicodeDecodeError:
            response = "*"  # kumod: 501 for invalid UTF-8 in the exchange; cancel here
        await self._send(self._run(lambda: self.engine.auth_response(response)))

    async def smtp_STARTTLS(self, arg: str | None) -> None:
        if self.engine.tls:
            await self._send(self._run(self.engine.starttls))
            return
        if self.tls_context is None:
            await self._send(self._run(lambda: self.engine.reply_to(
                "STARTTLS", 454, "4.7.0 TLS not available: kumopy serve runs without --tls-cert")))
            return
        self._pending = self._run(self.engine.starttls)
        await super().smtp_STARTTLS(arg or "")

    async def smtp_VRFY(self, arg: str | None) -> None:
        await self._send(self._run(lambda: self.engine.unimplemented(f"VRFY {arg or ''}".strip())))

    async def smtp_EXPN(self, arg: str | None) -> None:
        await self._send(self._run(lambda: self.engine.unimplemented(f"EXPN {arg or ''}".strip())))

    async def smtp_HELP(self, arg: str | None) -> None:
        await self._send(self._run(lambda: self.engine.unimplemented(f"HELP {arg or ''}".strip())))


class _NoHandler:
    async def handle_DATA(self, server: _KumoSMTP, session: Any, envelope: Any) -> str:
        content = envelope.original_content or b""
        return await server.deliver(bytes(content))


def _sockaddr(info: Any) -> str:
    if isinstance(info, tuple) and len(info) >= 2:
        host, port = info[0], info[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(info)


def _path_arg(arg: str | None, prefix: str) -> str | None:
    """The path of `FROM:<path> [params]` / `TO:<path> [params]`."""
    if not arg or not arg.upper().startswith(prefix):
        return None
    rest = arg[len(prefix):].strip()
    if rest.startswith("<"):
        end = rest.find(">")
        if end < 0:
            return None
        return rest[: end + 1]
    return rest.split(" ", 1)[0] if rest else None


class SmtpServer:
    """kumopy's ESMTP listener for one policy, on a background thread.

    `start()` binds `host:port` (port 0 picks a free one; read `port`
    afterwards), `stop()` closes it.  Accepted messages are kept in
    `messages` and, with `record_dir`, written there.  `on_event` and
    `on_message` are called (on the server thread) for every event fired
    and every recorded message.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        record_dir: str | os.PathLike[str] | None = None,
        params: Mapping[str, Any] | None = None,
        hostname: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        on_event: Callable[[EventRecord], None] | None = None,
        on_message: Callable[[RecordedMessage], None] | None = None,
    ) -> None:
        self.policy = policy
        self.host = host
        self.port = port
        self.record_dir = Path(record_dir) if record_dir is not None else None
        self.reception = Reception(policy, params=params, hostname=hostname, on_event=on_event,
                                   startup=True)
        self.tls_context = tls_context
        self.on_message = on_message
        self.messages: list[RecordedMessage] = []
        self.sessions: list[Session] = []
        #: an unexpected Python error inside the engine (a kumopy bug)
        self.errors: list[BaseException] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- engine glue (server thread) ---------------------------------------

    def open_session(self, peer: str, listener: str) -> Session:
        session = self.reception.session(peer=peer, listener=listener)
        self.sessions.append(session)
        return session

    def run_engine(self, session: Session, call: Callable[[], Reply]) -> Reply:
        """Run one engine step; an exception that is not kumod behaviour (a
        leaked global under the test harness, a kumopy bug) is kept in
        `errors` and answered with 421 technical difficulties."""
        try:
            return call()
        except Exception as e:
            self.errors.append(e)
            return session.abort(f"{type(e).__name__}: {e}")

    def record(self, session: Session, reply: Reply) -> None:
        if reply.code != 250:
            return
        for accepted in session.last_messages:
            self._record_one(session, accepted, str(reply))

    def _record_one(self, session: Session, accepted: Accepted, reply: str) -> None:
        msg = accepted.message
        rec = RecordedMessage(
            id=msg.id,
            sender=str(msg.sender),
            recipients=[str(r) for r in msg.recipients],
            queue=accepted.queue,
            disposition=accepted.disposition,
            meta=msg.meta,
            data=msg.data,
            peer=session.peer,
            reply=reply,
            relay=accepted.relay.to_json(),
        )
        if self.record_dir is not None:
            self.record_dir.mkdir(parents=True, exist_ok=True)
            rec.eml_path = self.record_dir / f"{msg.id}.eml"
            rec.json_path = self.record_dir / f"{msg.id}.json"
            rec.eml_path.write_bytes(rec.data)
            rec.json_path.write_text(
                json.dumps(rec.to_json(), indent=2, ensure_ascii=False, default=str) + "\n",
                encoding="utf-8",
            )
        with self._lock:
            self.messages.append(rec)
        if self.on_message is not None:
            self.on_message(rec)

    # -- lifecycle ---------------------------------------------------------

    def _factory(self) -> _KumoSMTP:
        assert self._loop is not None
        return _KumoSMTP(
            self,
            data_size_limit=None,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname="kumopy",
            tls_context=self.tls_context,
            auth_require_tls=True,
            loop=self._loop,
        )

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._factory, self.host, self.port)
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])

    def start(self, timeout: float = 10.0) -> SmtpServer:
        """Start listening on a background thread; returns self."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open())
            except BaseException as e:
                failure.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="kumopy-smtp", daemon=True)
        self._thread.start()
        ready.wait(timeout)
        if failure:
            raise failure[0]
        if not ready.is_set():
            raise RuntimeError(f"the SMTP server did not start within {timeout:g}s")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        try:
            asyncio.run_coroutine_threadsafe(close(), loop).result(5)
        except Exception:
            pass
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(5)
        self._thread = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[RecordedMessage]:
        """Wait until at least `count` messages were recorded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.01)
        with self._lock:
            return list(self.messages)


def _tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise CliError("--tls-cert and --tls-key go together")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise CliError(f"cannot load the TLS certificate {cert} / key {key}: {e}") from None
    return context


def _listen_arg(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(f"{text!r} is not HOST:PORT", param_hint="'--listen'")
    if int(port) > 65535:
        raise click.BadParameter(f"port {port} is out of range (0-65535)",
                                 param_hint="'--listen'")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


@click.command(short_help="Run an SMTP listener that answers like kumod.")
@click.argument("policy", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--listen", default="127.0.0.1:2525", show_default=True, metavar="HOST:PORT",
              help="Address to listen on (port 0 picks a free port).")
@click.option("--record", "record_dir", type=click.Path(file_okay=False), default=None,
              help="Write every accepted message to DIR as <id>.eml and <id>.json.")
@click.option("--hostname", default=None,
              help="The listener hostname (default: the policy's listener, else this host).")
@click.option("--tls-cert", default=None, type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate for STARTTLS (with --tls-key).")
@click.option("--tls-key", default=None, type=click.Path(exists=True, dir_okay=False),
              help="PEM private key for STARTTLS.")
@click.option("-v", "--verbose", is_flag=True, help="Print every event fired.")
@common_options
def serve(policy: str, listen: str, record_dir: str | None, hostname: str | None,
          tls_cert: str | None, tls_key: str | None, verbose: bool) -> None:
    """Run an ESMTP listener that enforces POLICY's SMTP server events.

    Clients get the replies kumod would send, rejections included; messages
    are accepted into the queue kumod would pick but never delivered: with
    --record DIR each one is written as DIR/<id>.eml (the message after the
    policy ran) and DIR/<id>.json (sender, recipients, queue, disposition,
    metadata).  One line per accepted message goes to stdout:
    `<id> queue=<queue> <disposition> from=<sender> to=<recipients>`.
    Stop with Ctrl-C.
    """
    host, port = _listen_arg(listen)
    if not verbose:
        # aiosmtpd's own log ("unrecognised: FOO"): kumod-style replies say it all
        logging.getLogger("mail.log").setLevel(logging.ERROR)
    loaded = load_policy(policy)
    context = _tls_context(tls_cert, tls_key)

    def on_event(record: EventRecord) -> None:
        if verbose:
            echo_err(f"kumopy: event: {record}")

    def on_message(rec: RecordedMessage) -> None:
        echo(f"{rec.id} queue={rec.queue} {rec.disposition} from=<{rec.sender}> "
             f"to={','.join('<' + r + '>' for r in rec.recipients)}")

    server = SmtpServer(loaded, host=host, port=port, record_dir=record_dir,
                        hostname=hostname, tls_context=context,
                        on_event=on_event, on_message=on_message)
    try:
        server.start()
    except OSError as e:
        raise CliError(f"cannot listen on {listen}: {e.strerror or e}") from None
    echo_err(f"kumopy: serving {policy} on {server.host}:{server.port} (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
