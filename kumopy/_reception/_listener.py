"""The ESMTP listener behind `kumopy serve`: kumod's connection loop on
asyncio, with every policy event run on a pool of worker threads.

One coroutine per connection reads what kumod's `SmtpServerSession` reads,
with its limits: command lines end at CRLF and are refused past
`line_length_hard_limit` (the buffer is dropped, never grown), the data
after a 354 is read `data_buffer_size` bytes at a time and discarded once
it passes `max_message_size` (kumod then answers 552 at the final dot),
every read waits at most `client_timeout` (then `421 4.3.2 <host> idle too
long`), and `max_connections` sessions are served at once.  The Session
(the policy's events) runs on a worker thread, each with its own Lua
state, so a handler that burns its CPU budget holds one worker, never the
event loop: other clients keep being served.

Nothing raises out of a connection: an unexpected error is one log line
(`on_error`) and kumod's `421 4.3.0 <host> technical difficulties`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ._data import unstuff
from ._replies import Reply
from ._trace import check_line_lengths
from ._workers import WorkerAbandoned

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["Connection", "ListenerHooks"]

T = TypeVar("T")

#: verbs whose answer may run a policy event (besides rewriting the reply)
_EVENT_VERBS = frozenset({"EHLO", "HELO", "MAIL", "RCPT", "AUTH", "XCLIENT"})

_CRLF = b"\r\n"
_END_OF_DATA = b"\r\n.\r\n"


class _Event:
    """What a read ended with, when it is not a line."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


DISCONNECTED = _Event("disconnected")
TIMED_OUT = _Event("timed out")
TOO_LONG = _Event("too long")
TOO_BIG = _Event("too big")
INVALID_UTF8 = _Event("invalid UTF-8")


class ListenerHooks:
    """What a connection needs from the server that owns it."""

    executor: Executor
    tls_context: ssl.SSLContext | None

    def open_session(self, peer: str, listener: str, tls_available: bool) -> Session:
        raise NotImplementedError

    def run(self, session: Session | None, call: Callable[[], T]) -> T:
        """Run `call` (engine work) on a worker thread's behalf; called on
        the worker."""
        raise NotImplementedError

    def message_done(self, session: Session, reply: Reply) -> None:
        """After a data phase (on the worker): record what was accepted."""

    def session_done(self, session: Session) -> None:
        """The connection is over (on the event loop)."""

    def log(self, text: str) -> None:
        """One line for the operator."""


class Connection:
    """One client connection: kumod's command loop for one socket."""

    def __init__(self, hooks: ListenerHooks, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, peer: str, listener: str) -> None:
        self.hooks = hooks
        self.reader = reader
        self.writer = writer
        self.peer = peer
        self.listener = listener
        self.session: Session | None = None
        self.buffer = bytearray()
        self.reading_command = False

    # -- plumbing ------------------------------------------------------------

    async def work(self, call: Callable[[], T], *, inline: bool = False) -> T:
        """Run engine work on the worker pool (`inline`: on the event loop,
        for work that fires no policy event)."""
        session = self.session
        if inline:
            return self.hooks.run(session, call)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.hooks.executor,
                                              lambda: self.hooks.run(session, call))
        except WorkerAbandoned as e:
            # the handler is stuck in C (a new worker took over): kumod's 421
            # for a failed handler, logged as kumod logs it, and the end
            if session is None:
                raise
            error = str(e)
            reply = await loop.run_in_executor(self.hooks.executor,
                                               lambda: session.abort(error))
            return cast(T, reply)

    def fires_no_event(self, line: str | None = None) -> bool:
        """Whether answering `line` (None: a reply of the transport's own)
        runs no Lua: no smtp_server_rewrite_response handler, and a verb
        whose answer fires nothing (RSET, NOOP, QUIT, the 354 to DATA, 502s
        and syntax errors)."""
        session = self.session
        if session is None or session.reception.has_handler("smtp_server_rewrite_response"):
            return False
        if line is None:
            return True
        verb = line.split(" ", 1)[0].upper()
        return verb not in _EVENT_VERBS

    async def send(self, reply: Reply) -> None:
        if reply.command is not None and reply.command.startswith("Error in SmtpServerSession"):
            # what kumod logs before its 421 technical difficulties
            self.hooks.log(f"{self.peer}: {reply.command}")
        data = reply.wire().encode("utf-8", "surrogateescape")
        if data:
            self.writer.write(data)
            await self.writer.drain()

    @property
    def params(self) -> Any:
        assert self.session is not None
        return self.session.params

    async def _read(self, size: int) -> bytes | _Event:
        try:
            chunk = await asyncio.wait_for(self.reader.read(max(1, size)),
                                           self.params.client_timeout)
        except TimeoutError:
            return TIMED_OUT
        except (ConnectionError, OSError, ssl.SSLError):
            return DISCONNECTED
        return chunk if chunk else DISCONNECTED

    async def read_line(self, override_limit: int | None = None) -> str | _Event:
        """kumod's read_line: a line ends at CRLF; one longer than
        `line_length_hard_limit` is TOO_LONG (its bytes are dropped as they
        arrive, the buffer never grows past the limit)."""
        limit = self.params.line_length_hard_limit
        too_long = False
        while True:
            i = self.buffer.find(_CRLF)
            if i >= 0:
                raw = bytes(self.buffer[:i])
                del self.buffer[: i + 2]
                if i > limit or too_long:
                    return TOO_LONG
                try:
                    return raw.decode("utf-8")
                except UnicodeDecodeError:
                    return INVALID_UTF8
            if len(self.buffer) > (override_limit if override_limit is not None else limit):
                self.buffer.clear()
                too_long = True
            chunk = await self._read(min(1024, max(limit, 1)))
            if isinstance(chunk, _Event):
                return chunk
            self.buffer += chunk

    async def read_data(self) -> bytes | _Event:
        """kumod's read_data: up to CRLF.CRLF, unstuffed; TOO_BIG once the
        buffer reaches `max_message_size` (the rest is read and dropped),
        TOO_LONG when a line passes `line_length_hard_limit`."""
        max_size = self.params.max_message_size
        chunk_size = self.params.data_buffer_size
        too_big = False
        next_index = 0
        while True:
            i = self.buffer.find(_END_OF_DATA, next_index)
            if i >= 0:
                if too_big:
                    del self.buffer[: i + 5]
                    return TOO_BIG
                data = bytes(self.buffer[: i + 2])
                del self.buffer[: i + 5]
                data = unstuff(data)
                if not check_line_lengths(data, self.params.line_length_hard_limit):
                    return TOO_LONG
                return data
            size = len(self.buffer)
            next_index = max(0, size - 5)
            if size >= max_size:
                too_big = True
                del self.buffer[:next_index]
                next_index = 0
            chunk = await self._read(chunk_size)
            if isinstance(chunk, _Event):
                return chunk
            self.buffer += chunk

    # -- the session -----------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._serve()
        except asyncio.CancelledError:
            await self._shutting_down()
            raise
        except Exception as e:  # a kumopy bug or a broken socket: one line, 421
            self.hooks.log(f"{self.peer}: {type(e).__name__}: {e}")
            session = self.session
            if session is not None and not session.closed:
                with contextlib.suppress(Exception):
                    await self.send(session.abort(f"{type(e).__name__}: {e}"))
        finally:
            with contextlib.suppress(Exception):
                self.writer.close()
            if self.session is not None:
                self.hooks.session_done(self.session)

    async def _shutting_down(self) -> None:
        session = self.session
        if session is None or session.closed:
            return
        # written directly: a worker may still be busy with this session
        reply = Reply(421, f"4.3.2 {session.params.hostname} shutting down", None, True)
        with contextlib.suppress(Exception):
            self.writer.write(reply.wire().encode("utf-8", "surrogateescape"))
            await asyncio.wait_for(self.writer.drain(), 1.0)

    async def _serve(self) -> None:
        hooks = self.hooks
        tls_available = hooks.tls_context is not None
        self.session = await self.work(
            lambda: hooks.open_session(self.peer, self.listener, tls_available))
        session = self.session
        await self.send(session.greeting)
        while not session.closed:
            self.reading_command = True
            item = await self.read_line()
            self.reading_command = False
            if item is DISCONNECTED:
                return
            if item is TIMED_OUT:
                text = f"4.3.2 {session.params.hostname} idle too long"
                await self.send(await self.work(
                    lambda: session.reply(421, text, end=True)))  # noqa: B023
                return
            if item is TOO_LONG:
                reply = await self.work(lambda: session.reply(500, "5.2.3 line too long"),
                                        inline=self.fires_no_event())
            elif item is INVALID_UTF8:
                reply = await self.work(session.invalid_utf8, inline=self.fires_no_event())
            else:
                assert isinstance(item, str)
                reply = await self.work(lambda line=item: session.command(line),  # type: ignore[misc]
                                        inline=self.fires_no_event(item))
            await self.send(reply)
            if session.closed:
                return
            if session.data_pending is not None:
                await self._data_phase(session)
            elif session.starttls_pending:
                if not await self._starttls(session):
                    return
            elif session.auth_pending is not None:
                await self._auth_continuation(session)

    async def _data_phase(self, session: Session) -> None:
        command = session.data_pending or "DATA"
        data = await self.read_data()
        if data is DISCONNECTED:
            session.data_pending = None
            return
        host = session.params.hostname
        if isinstance(data, _Event):
            session.data_pending = None
            if data is TIMED_OUT:
                reply = await self.work(lambda: session.reply(
                    421, f"4.3.2 {host} idle too long", command, end=True))
            elif data is TOO_BIG:
                reply = await self.work(lambda: session.reply(552, "5.3.4 message too big",
                                                              command))
            else:
                reply = await self.work(lambda: session.reply(500, "5.2.3 line too long",
                                                              command))
            await self.send(reply)
            return
        content = data

        def process() -> Reply:
            out = session.message_content(content, checked=True)
            self.hooks.message_done(session, out)
            return out

        await self.send(await self.work(process))

    async def _auth_continuation(self, session: Session) -> None:
        line = session.auth_pending or "AUTH"
        item = await self.read_line(override_limit=16384)
        host = session.params.hostname
        if item is DISCONNECTED:
            session.auth_pending = None
            session.closed = True
            return
        if isinstance(item, _Event):
            session.auth_pending = None
            if item is TIMED_OUT:
                reply = await self.work(lambda: session.reply(
                    421, f"4.3.2 {host} idle too long", line, end=True))
            elif item is TOO_LONG:
                reply = await self.work(lambda: session.reply(
                    500, "5.5.6 authentication exchange line too long", line))
            else:
                reply = await self.work(lambda: session.reply(
                    501, "5.5.2 Invalid UTF-8 in authentication exchange", line))
            await self.send(reply)
            return
        response = item
        await self.send(await self.work(lambda: session.auth_response(response)))

    async def _starttls(self, session: Session) -> bool:
        context = self.hooks.tls_context
        assert context is not None
        # RFC 3207: nothing the client pipelined before the handshake counts
        self.buffer.clear()
        pending = getattr(self.reader, "_buffer", None)
        if isinstance(pending, bytearray):
            pending.clear()
        try:
            await asyncio.wait_for(self.writer.start_tls(context),
                                   session.params.client_timeout)
        except (TimeoutError, ssl.SSLError, ConnectionError, OSError) as e:
            session.starttls_pending = False
            self.hooks.log(f"{self.peer}: TLS handshake failed: {type(e).__name__}: {e}")
            session.closed = True
            return False
        ssl_object = self.writer.get_extra_info("ssl_object")
        version = cipher = ""
        if ssl_object is not None:
            version = str(ssl_object.version() or "")
            info = ssl_object.cipher()
            cipher = str(info[0]) if info else ""
        session.tls_established(version, cipher)
        return True
