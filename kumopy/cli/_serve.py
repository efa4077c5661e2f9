"""`kumopy serve`: a real ESMTP listener that answers like kumod.

Every command goes through the reception engine (`kumopy._reception`), so
the replies, the events fired and the queue a message lands in are the
ones `Reception(policy).session()` and `kumopy inject` report.  The
connection handling (`_reception._listener`) reads with kumod's limits and
timeouts; the policy's events run on a pool of worker threads, each with
its own Lua state.  Accepted messages are recorded (never delivered): with
a record directory, one `<id>.eml` with the message as the policy left it
and one `<id>.json` with the envelope, metadata, queue and disposition.

`SmtpServer` runs the listener on a background thread (the pytest fixture
`kumo_smtp_server` uses it and keeps the newest sessions and messages in
memory); `kumopy serve` runs it in the foreground and keeps none: a
session and its messages are freed once handled.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._reception import Accepted, EventRecord, Reception, Reply, Session
from .._reception._listener import Connection, ListenerHooks
from .._reception._params import _usize
from .._reception._workers import Workers
from ._common import CliError, common_options, echo, echo_err, load_policy

if TYPE_CHECKING:
    from .._policy import Policy

__all__ = ["DEFAULT_WORKERS", "RecordedMessage", "SmtpServer", "serve"]

#: worker threads running the policy's events (each with its own Lua state)
DEFAULT_WORKERS = max(4, os.cpu_count() or 1)


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


def _sockaddr(info: Any) -> str:
    if isinstance(info, tuple) and len(info) >= 2:
        host, port = info[0], info[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(info)


class SmtpServer(ListenerHooks):
    """kumopy's ESMTP listener for one policy, on a background thread.

    `start()` binds `host:port` (port 0 picks a free one; read `port`
    afterwards), `stop()` closes it (clients still connected get kumod's
    `421 4.3.2 <host> shutting down`).  The newest `keep` sessions and
    recorded messages stay in `sessions` and `messages` (None: all of
    them, 0: none); with `record_dir` every message is written there.
    `on_event`, `on_message` and `on_log` are called for every event fired,
    every recorded message and every line for the operator (from the
    worker threads and the event loop).
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
        on_log: Callable[[str], None] | None = None,
        workers: int = DEFAULT_WORKERS,
        keep: int | None = 1000,
        history: int | None = 2000,
    ) -> None:
        self.policy = policy
        self.host = host
        self.port = port
        self.record_dir = Path(record_dir) if record_dir is not None else None
        self.reception = Reception(policy, params=params, hostname=hostname, on_event=on_event,
                                   startup=True)
        self.tls_context = tls_context
        self.on_message = on_message
        self.on_log = on_log
        self.workers = max(1, workers)
        self.keep = keep
        self.history = history
        self._messages: collections.deque[RecordedMessage] = collections.deque(maxlen=keep)
        self._sessions: collections.deque[Session] = collections.deque(maxlen=keep)
        #: unexpected Python errors inside the engine (kumopy bugs, leaked
        #: globals under the test harness), newest 100
        self._errors: collections.deque[BaseException] = collections.deque(maxlen=100)
        #: (a worker stuck in C past its budget is replaced, not waited for)
        self.executor = Workers(self.workers, "kumopy-worker")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._active = 0
        listener = self.reception.listener_params(f"{host}:{port}")
        limit = listener.get("max_connections")
        self.max_connections = 32 * 1024 if limit is None else _usize("max_connections", limit)
        self.listener_hostname = str(listener.get("hostname") or socket.gethostname())

    # -- what tests read -------------------------------------------------------

    @property
    def messages(self) -> list[RecordedMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def sessions(self) -> list[Session]:
        with self._lock:
            return list(self._sessions)

    @property
    def errors(self) -> list[BaseException]:
        with self._lock:
            return list(self._errors)

    # -- ListenerHooks (worker threads and the event loop) ---------------------

    def open_session(self, peer: str, listener: str, tls_available: bool) -> Session:
        session = self.reception.session(peer=peer, listener=listener,
                                         tls_available=tls_available, history=self.history)
        if self.keep != 0:
            with self._lock:
                self._sessions.append(session)
        return session

    def run(self, session: Session | None, call: Callable[[], Any]) -> Any:
        """One engine step on a worker.  An exception that is not kumod
        behaviour (a leaked global under the test harness, a kumopy bug)
        is kept in `errors`, logged in one line and answered with kumod's
        421 technical difficulties."""
        try:
            return call()
        except Exception as e:
            with self._lock:
                self._errors.append(e)
            self.log(f"{session.peer if session else 'connection'}: "
                     f"{type(e).__name__}: {e}")
            if session is None:
                raise
            return session.abort(f"{type(e).__name__}: {e}")

    def message_done(self, session: Session, reply: Reply) -> None:
        if reply.code == 250:
            for accepted in session.last_messages:
                self._record_one(session, accepted, str(reply))
        # the session no longer needs them: recorded (or refused)
        session.last_messages = []
        session.accepted.clear()

    def log(self, text: str) -> None:
        if self.on_log is not None:
            self.on_log(text)

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
        if self.keep != 0:
            with self._lock:
                self._messages.append(rec)
        if self.on_message is not None:
            self.on_message(rec)

    # -- connections (event loop) ----------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._active >= self.max_connections:
            # kumod's best effort, outside write_response
            with contextlib.suppress(Exception):
                writer.write(f"421 4.3.2 {self.listener_hostname} too many concurrent sessions. "
                             "Try later\r\n".encode())
                await asyncio.wait_for(writer.drain(), 2.0)
            with contextlib.suppress(Exception):
                writer.close()
            return
        self._active += 1
        if task is not None:
            self._tasks.add(task)
        try:
            peer = _sockaddr(writer.get_extra_info("peername"))
            mine = _sockaddr(writer.get_extra_info("sockname"))
            await Connection(self, reader, writer, peer, mine).run()
        except asyncio.CancelledError:
            pass
        finally:
            self._active -= 1
            if task is not None:
                self._tasks.discard(task)

    def _exception_handler(self, loop: asyncio.AbstractEventLoop,
                           context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, ssl.SSLError | ConnectionError):
            return  # the connection already reported it
        what = f"{type(error).__name__}: {error}" if error is not None else ""
        self.log(" ".join(p for p in (str(context.get("message", "")), what) if p))

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._exception_handler)
        self._server = await asyncio.start_server(self._handle, self.host, self.port,
                                                  limit=64 * 1024)
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])

    # -- lifecycle ---------------------------------------------------------------

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
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=3)
            if self._server is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._server.wait_closed(), 2)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), loop).result(8)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(5)
        self._thread = None
        self.executor.shutdown(wait=False, cancel_futures=True)

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
                if len(self._messages) >= count:
                    return list(self._messages)
            time.sleep(0.01)
        return self.messages


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


def _listener_tls_context(server: SmtpServer) -> ssl.SSLContext | None:
    """The certificate and key the policy's listener names
    (`tls_certificate` / `tls_private_key` as file paths, through --map, or
    `{ key_data = '...' }`), or None when it names none."""
    params = server.reception.listener_params(f"{server.host}:{server.port}")
    cert, key = params.get("tls_certificate"), params.get("tls_private_key")
    if cert is None and key is None:
        return None

    def pem(source: Any, what: str) -> str:
        if isinstance(source, str):
            return server.policy.map_path(source)
        if isinstance(source, Mapping) and isinstance(source.get("key_data"), str):
            path = os.path.join(tmp, what)
            Path(path).write_text(source["key_data"])
            return path
        raise CliError(f"listener {what}: kumopy serve reads a file path or key_data, "
                       f"not {source!r}")

    with tempfile.TemporaryDirectory(prefix="kumopy-tls-") as tmp:
        if cert is None or key is None:
            return None  # kumod then makes the missing half; kumopy a whole new pair
        cert_path, key_path = pem(cert, "tls_certificate"), pem(key, "tls_private_key")
        return _tls_context(cert_path, key_path)


def _self_signed_context(hostname: str) -> ssl.SSLContext | None:
    """What kumod does without a certificate: a self-signed one for the
    listener's hostname, made at start-up (here with the openssl command;
    None when it is not installed, and STARTTLS then gets 454)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    with tempfile.TemporaryDirectory(prefix="kumopy-tls-") as tmp:
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        name = hostname if hostname.isascii() and hostname.isprintable() else "localhost"
        try:
            subprocess.run(
                [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
                 "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
                 "-keyout", key, "-out", cert],
                check=True, capture_output=True, timeout=30,
            )
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
        except (OSError, subprocess.SubprocessError, ssl.SSLError):
            return None
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
              help="PEM certificate for STARTTLS (with --tls-key) [default: a self-signed "
              "one for the listener's hostname, as kumod makes].")
@click.option("--tls-key", default=None, type=click.Path(exists=True, dir_okay=False),
              help="PEM private key for STARTTLS.")
@click.option("--workers", type=click.IntRange(min=1, max=256), default=DEFAULT_WORKERS,
              show_default=True,
              help="Worker threads running the policy's events, each with its own Lua state.")
@click.option("-v", "--verbose", is_flag=True, help="Print every event fired.")
@common_options
def serve(policy: str, listen: str, record_dir: str | None, hostname: str | None,
          tls_cert: str | None, tls_key: str | None, workers: int, verbose: bool) -> None:
    """Run an ESMTP listener that enforces POLICY's SMTP server events.

    Clients get the replies kumod would send, rejections included; messages
    are accepted into the queue kumod would pick but never delivered: with
    --record DIR each one is written as DIR/<id>.eml (the message after the
    policy ran) and DIR/<id>.json (sender, recipients, queue, disposition,
    metadata).  One line per accepted message goes to stdout:
    `<id> queue=<queue> <disposition> from=<sender> to=<recipients>`.
    The listener's limits and timeouts are kumod's (max_message_size,
    line_length_hard_limit, client_timeout, ...), set in the policy's
    kumo.start_esmtp_listener or smtp_server_get_dynamic_parameters.
    Stop with Ctrl-C.
    """
    host, port = _listen_arg(listen)
    # the event loop hands each command to a worker thread and back: a short
    # GIL switch interval keeps those hand-offs from waiting 5 ms each
    sys.setswitchinterval(0.0005)
    loaded = load_policy(policy)
    context = _tls_context(tls_cert, tls_key)
    out_lock = threading.Lock()

    def on_event(record: EventRecord) -> None:
        if verbose:
            echo_err(f"kumopy: event: {record}")

    def on_message(rec: RecordedMessage) -> None:
        line = (f"{rec.id} queue={rec.queue} {rec.disposition} from=<{rec.sender}> "
                f"to={','.join('<' + r + '>' for r in rec.recipients)}")
        with out_lock:
            echo(line)

    def on_log(text: str) -> None:
        with out_lock:
            echo_err(f"kumopy: serve: {text}")

    try:
        server = SmtpServer(loaded, host=host, port=port, record_dir=record_dir,
                            hostname=hostname, tls_context=context, on_event=on_event,
                            on_message=on_message, on_log=on_log, workers=workers,
                            keep=0, history=200)
    except ValueError as e:
        raise CliError(f"{policy}: listener parameters: {e}") from None
    if server.tls_context is None:
        server.tls_context = (_listener_tls_context(server)
                              or _self_signed_context(server.listener_hostname))
    try:
        server.start()
    except OSError as e:
        raise CliError(f"cannot listen on {listen}: {e.strerror or e}") from None
    echo_err(f"kumopy: serving {policy} on {server.host}:{server.port} (Ctrl-C to stop)")
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        sys.stdout.flush()
