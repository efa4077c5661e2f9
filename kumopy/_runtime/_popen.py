"""`io.popen` for the sandbox.

kumod's Lua is built with LUA_USE_LINUX, so `io.popen(cmd [, mode])` runs
`/bin/sh -c cmd` with a pipe to its stdout (mode "r") or stdin ("w").
lupa's Lua is built without it; this gives the policy a handle with the
file methods Lua's popen handles have: `read` (formats "a", "l", "L", "n"
or a byte count, with or without the "*" of Lua 5.1), `lines`, `write`,
`flush`, `setvbuf`, `seek` (fails, as on a pipe) and `close`, which
returns `true, "exit", 0` or `nil, "exit", code` (`"signal"` when the
command was killed).  `io.type` does not know these handles (it returns
nil); everything else behaves as in kumod.  Under a CPU budget, waiting on
the command (which costs no CPU time) is limited to the budget left, in
wall-clock time: past it the command is killed and the handler stops with
the budget error.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .userdata import Userdata

if TYPE_CHECKING:
    from . import LuaState

__all__ = ["PopenFile", "popen"]

_NUMBER = re.compile(
    rb"([-+]?(?:0[xX][0-9a-fA-F.]+(?:[pP][-+]?\d+)?|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))"
)


class PopenFile(Userdata):
    lua_type_name = "FILE*"

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        mode: str,
        time_left: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.proc = proc
        self.mode = mode
        self.closed = False
        self._peek = b""
        self._eof = False
        #: seconds the running handler may still wait (None: no budget)
        self._time_left = time_left

    def _wait(self, fd: int, write: bool) -> None:
        """Wait until fd is ready; a handler with a CPU budget may not wait
        longer than the budget it has left (waiting uses no CPU time, so the
        budget's own check would never fire)."""
        left = self._time_left()
        if left is None:
            return
        ready = select.select([] if write else [fd], [fd] if write else [], [], max(left, 0))
        if not (ready[0] or ready[1]):
            self._kill()
            raise _Budget("kumopy: io.popen waited longer than the handler's CPU budget")

    def _kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            self.proc.kill()

    def _fill(self) -> bool:
        """Read more of the command's output into the buffer; False at EOF."""
        if self._eof or self.proc.stdout is None:
            return False
        fd = self.proc.stdout.fileno()
        self._wait(fd, write=False)
        data = os.read(fd, 65536)
        if not data:
            self._eof = True
            return False
        self._peek += data
        return True

    # -- reading ----------------------------------------------------------------

    def _stream(self) -> Any:
        if self.closed:
            raise _LuaError("attempt to use a closed file")
        return self.proc.stdout if self.mode == "r" else None

    def _byte(self) -> bytes:
        if not self._peek:
            self._fill()
        b, self._peek = self._peek[:1], self._peek[1:]
        return b

    def _line(self, keep: bool) -> bytes | None:
        if self._stream() is None:
            return None
        while b"\n" not in self._peek and self._fill():
            pass
        if not self._peek:
            return None
        cut = self._peek.find(b"\n")
        end = len(self._peek) if cut < 0 else cut + 1
        data, self._peek = self._peek[:end], self._peek[end:]
        return data if keep or not data.endswith(b"\n") else data[:-1]

    def _read_one(self, fmt: Any) -> Any:
        stream = self._stream()
        if isinstance(fmt, int | float) and not isinstance(fmt, bool):
            n = int(fmt)
            if stream is None:
                return None
            if n == 0:
                return b"" if self._has_more() else None
            while len(self._peek) < n and self._fill():
                pass
            data, self._peek = self._peek[:n], self._peek[n:]
            return data or None
        f = fmt.decode("latin-1") if isinstance(fmt, bytes) else str(fmt)
        f = f.lstrip("*")[:1]
        if f == "a":
            if stream is None:
                return b""
            while self._fill():
                pass
            data, self._peek = self._peek, b""
            return data
        if f in ("l", "L"):
            return self._line(f == "L")
        if f == "n":
            c = self._byte()
            while c and c.isspace():
                c = self._byte()
            buf = b""
            while c and re.match(rb"[0-9a-fA-FxX.+\-pPeE]", c) and len(buf) < 200:
                buf += c
                c = self._byte()
            self._peek = c + self._peek
            m = _NUMBER.fullmatch(buf)
            if m is None:
                return None
            text = m.group(1).decode()
            try:
                if re.fullmatch(r"\d+|0[xX][0-9a-fA-F]+", text):
                    return int(text, 0)
                return float.fromhex(text) if text[:2].lower() == "0x" else float(text)
            except ValueError:
                return None
        raise _LuaError("bad argument #1 to 'read' (invalid format)")

    def _has_more(self) -> bool:
        return bool(self._peek) or (self._stream() is not None and self._fill())

    def read(self, *formats: Any) -> tuple[Any, ...]:
        out: list[Any] = []
        for fmt in formats or (b"l",):
            value = self._read_one(fmt)
            out.append(value)
            if value is None:
                break
        return tuple(out)

    # -- writing / closing ------------------------------------------------------------

    def write(self, *values: Any) -> None:
        if self.closed:
            raise _LuaError("attempt to use a closed file")
        if self.mode != "w" or self.proc.stdin is None:
            return
        fd = self.proc.stdin.fileno()
        for v in values:
            if isinstance(v, bytes):
                data = v
            elif isinstance(v, int | float) and not isinstance(v, bool):
                data = str(v).encode()
            else:
                raise _LuaError("bad argument #1 to 'write' (string expected)")
            while data:
                self._wait(fd, write=True)
                data = data[os.write(fd, data):]

    def close(self) -> tuple[Any, ...]:
        if self.closed:
            raise _LuaError("attempt to use a closed file")
        self.closed = True
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        left = self._time_left()
        try:
            code = self.proc.wait(None if left is None else max(left, 0.0))
        except subprocess.TimeoutExpired:
            self._kill()
            self.proc.wait()
            raise _Budget(
                "kumopy: io.popen's command outlived the handler's CPU budget"
            ) from None
        if code < 0:
            return (None, b"signal", -code)
        return (True if code == 0 else None, b"exit", code)

    def __del__(self) -> None:
        # a handle the policy never closed: close the pipes, and do not let a
        # command that goes on running hold kumopy up (Lua's own collector
        # would wait for it)
        if getattr(self, "closed", True):
            return
        self.closed = True
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        try:
            self.proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            self._kill()
            try:
                self.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass

    def lua_index(self, state: LuaState, key: Any) -> Any:
        name = key.decode("latin-1") if isinstance(key, bytes) else None
        if name not in _METHODS:
            return None
        return state.api[b"popen_method"](name.encode())

    def __str__(self) -> str:
        return "file (closed)" if self.closed else f"file (0x{id(self):x})"


class _LuaError(Exception):
    """A Lua error raised by a handle method (message as Lua words it)."""


class _Budget(Exception):
    """The handler ran out of budget while waiting on the command."""


_METHODS = ("read", "lines", "write", "close", "flush", "setvbuf", "seek")


def call_method(obj: Any, name: bytes, *args: Any) -> tuple[Any, ...]:
    """(ok, values...) or (False, message) for the sandbox's wrappers."""
    if not isinstance(obj, PopenFile):
        return (False, b"bad argument #1 (FILE* expected)")
    try:
        method = name.decode()
        if method == "read":
            return (True, *obj.read(*args))
        if method == "write":
            obj.write(*args)
            return (True, obj)
        if method == "close":
            return (True, *obj.close())
        if method == "seek":
            obj._stream()
            return (True, None, b"Illegal seek", 29)
        obj._stream()  # flush / setvbuf: nothing buffered on our side
        return (True, True) if method == "setvbuf" else (True, obj)
    except _LuaError as e:
        return (False, str(e).encode())
    except _Budget as e:
        return (False, str(e).encode(), True)
    except OSError as e:
        return (True, None, (e.strerror or str(e)).encode(), e.errno or 0)


def popen(
    command: bytes, mode: bytes, time_left: Callable[[], float | None] = lambda: None
) -> Any:
    """Start `/bin/sh -c command`; (handle) or (None, message, errno)."""
    m = mode.decode("latin-1")
    if m not in ("r", "w"):
        return (False, b"bad argument #2 to 'popen' (invalid mode)")
    try:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command.decode("utf-8", "surrogateescape")],
            stdin=subprocess.PIPE if m == "w" else None,
            stdout=subprocess.PIPE if m == "r" else None,
            bufsize=0,
            # its own process group, so that a command stopped at the budget
            # takes its children (which hold our pipes) with it
            start_new_session=True,
        )
    except OSError as e:
        return (True, None, (e.strerror or str(e)).encode(), e.errno or 0)
    return (True, PopenFile(proc, m, time_left))
