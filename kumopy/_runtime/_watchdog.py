"""The watchdog: what stops a handler when the Lua hook cannot.

The budget is enforced in-process first: the Lua count hook stops Lua code
at the deadline, and Python kumo functions that loop call
`LuaState.check_deadline()`.  Two things escape that: Python code that does
not call it, and long work in C (a library call that does not return).  A
daemon thread looks at every running call a few times a second, measuring
the CPU time of the thread running it (not its own), and

* once the call is `INTERRUPT_GRACE` seconds past its budget, raises
  `BudgetInterrupt` asynchronously in that thread: Python code stops at its
  next bytecode (the runtime turns it into BudgetExceeded at the policy's
  line);
* once it is `HANG_GRACE` seconds past its budget and still running, it is
  work nothing in-process can stop: the hang handler decides (the CLI
  prints one line and exits; the pytest plugin abandons the state and
  fails the test; by default an error is logged once).

It also watches for Ctrl-C that cannot be delivered (the main thread stuck
in C, where Python cannot raise KeyboardInterrupt): `watch_sigint()` makes
the signal visible here through `signal.set_wakeup_fd`, and the interrupt
handler decides what to do when the running call does not stop within
`INTERRUPT_GRACE` seconds.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import LuaState

__all__ = [
    "HANG_GRACE",
    "BudgetInterrupt",
    "INTERRUPT_GRACE",
    "Hang",
    "handle_hangs_in_this_thread",
    "set_hang_handler",
    "set_interrupt_handler",
    "watch",
    "watch_sigint",
]

LOGGER = logging.getLogger("kumopy")


class BudgetInterrupt(BaseException):
    """Raised asynchronously in a thread whose handler is past its budget
    while it runs Python code; a BaseException so that the `except
    Exception` of a kumo function cannot swallow it."""

#: seconds between two looks at the running calls
TICK = 0.05
#: CPU seconds past the budget after which Python code is interrupted
INTERRUPT_GRACE = 0.2
#: CPU seconds past the budget after which the call is given up on
HANG_GRACE = 1.0


@dataclass(frozen=True)
class Hang:
    """A call that could not be stopped (`kind` "budget"), or that Ctrl-C
    could not reach (`kind` "interrupt")."""

    kind: str
    event: str | None
    handler: str | None
    budget: float | None
    over: float
    #: what the thread was running when given up on (a kumo function, or
    #: "C code called from Lua")
    inside: str

    def describe(self) -> str:
        what = f"the handler for '{self.event}'" if self.event else "the policy"
        if self.handler:
            what += f" (defined at {self.handler})"
        if self.kind == "interrupt":
            return (
                f"interrupted (Ctrl-C), but {what} did not stop within "
                f"{INTERRUPT_GRACE:g} seconds ({self.inside}); giving up"
            )
        return (
            f"{what} is still running {self.over:.1f} CPU seconds past its budget of "
            f"{self.budget:g} seconds, in {self.inside}, which kumopy cannot interrupt; "
            "giving up"
        )


HangHandler = Callable[["LuaState", Hang], None]


def _log_hang(state: LuaState, hang: Hang) -> None:
    if not state.isolate:  # (an isolated state's caller reports it)
        LOGGER.error("kumopy: %s", hang.describe())


_hang_handler: HangHandler = _log_hang
_interrupt_handler: HangHandler | None = None
#: hang handlers of particular threads, by thread ident
_thread_hang_handlers: dict[int, HangHandler] = {}


def set_hang_handler(fn: HangHandler | None) -> HangHandler:
    """Install what happens to a call that cannot be stopped (None: log an
    error); returns the previous handler."""
    global _hang_handler
    previous = _hang_handler
    _hang_handler = fn if fn is not None else _log_hang
    return previous


def handle_hangs_in_this_thread(fn: HangHandler | None) -> None:
    """Make `fn` what happens to a call of the calling thread that cannot be
    stopped, in place of the process-wide hang handler (None: back to that
    one).  `kumopy serve`'s workers use it to give up on one worker, not the
    process."""
    ident = threading.get_ident()
    if fn is None:
        _thread_hang_handlers.pop(ident, None)
    else:
        _thread_hang_handlers[ident] = fn


def set_interrupt_handler(fn: HangHandler | None) -> HangHandler | None:
    """Install what happens when Ctrl-C does not stop the call running in
    the main thread (see `watch_sigint`); returns the previous handler."""
    global _interrupt_handler
    previous = _interrupt_handler
    _interrupt_handler = fn
    return previous


def _thread_cpu(ident: int) -> float | None:
    """CPU time of thread `ident` (threading.get_ident()), None if gone."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except (OSError, OverflowError, ValueError):
        return None


_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = [ctypes.c_ulong, ctypes.c_void_p]
_set_async_exc.restype = ctypes.c_int


def raise_in_thread(ident: int, exc: type[BaseException] | None) -> None:
    """Raise `exc` (a class that stays alive) in thread `ident` at its next
    Python bytecode (None: cancel a pending one)."""
    # (c_void_p: None must reach the C API as NULL, not as Py_None)
    _set_async_exc(ident, id(exc) if exc is not None else None)


def _location(handler: object) -> str | None:
    location = getattr(handler, "location", None)
    return location if isinstance(location, str) else None


def _inside(ident: int) -> str:
    """What thread `ident` is running, for the report: the kumo function
    (its Python entry frame), else C code."""
    frame = sys._current_frames().get(ident)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "entry" and code.co_filename.endswith(
            os.path.join("_runtime", "_calls.py")
        ):
            name = frame.f_locals.get("name")
            if isinstance(name, str):
                return f"kumo.{name} (Python code)"
        frame = frame.f_back
    return "C code called from Lua"


class _Watchdog:
    def __init__(self) -> None:
        self.states: weakref.WeakSet[LuaState] = weakref.WeakSet()
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.thread: threading.Thread | None = None
        self.wakeup_r: int | None = None
        self.sigint_at: float | None = None

    def watch(self, state: LuaState) -> None:
        with self.lock:
            if self.pid != os.getpid():  # a forked child: the thread is gone
                self.pid = os.getpid()
                self.thread = None
            self.states.add(state)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self.run, name="kumopy-watchdog", daemon=True
                )
                self.thread.start()

    def run(self) -> None:
        while True:
            time.sleep(TICK)
            try:
                self.tick()
            except Exception:  # pragma: no cover - the watchdog must not die
                LOGGER.debug("kumopy watchdog", exc_info=True)

    def tick(self) -> None:
        self.read_sigint()
        main = threading.main_thread().ident
        main_busy = False
        for state in list(self.states):
            ident = state.call_thread
            if ident is None:
                continue
            if ident == main:
                main_busy = True
                if self.sigint_at is not None:
                    self.check_interrupt(state, ident)
            deadline = state.deadline
            if deadline is None:
                continue
            cpu = _thread_cpu(ident)
            if cpu is None:
                continue
            over = cpu - deadline
            if over > INTERRUPT_GRACE and not state.async_sent:
                state.send_interrupt(ident)
            if over > HANG_GRACE and not state.hung:
                state.hung = True
                hang = Hang(
                    "budget",
                    state.current_event,
                    _location(state.current_handler),
                    state.budget_seconds,
                    over,
                    _inside(ident),
                )
                (_thread_hang_handlers.get(ident) or _hang_handler)(state, hang)
        if not main_busy:
            # Ctrl-C arrived between calls: Python delivers it itself
            self.sigint_at = None

    # -- Ctrl-C the main thread could not receive -------------------------

    def read_sigint(self) -> None:
        fd = self.wakeup_r
        if fd is None:
            return
        try:
            data = os.read(fd, 512)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.wakeup_r = None
            return
        if signal.SIGINT in data and self.sigint_at is None:
            self.sigint_at = time.monotonic()

    def check_interrupt(self, state: LuaState, ident: int) -> None:
        assert self.sigint_at is not None
        if time.monotonic() - self.sigint_at < INTERRUPT_GRACE + 0.75:
            return
        handler = _interrupt_handler
        if handler is not None and not state.hung:
            state.hung = True
            handler(
                state,
                Hang(
                    "interrupt",
                    state.current_event,
                    _location(state.current_handler),
                    state.budget_seconds,
                    0.0,
                    _inside(ident),
                ),
            )


_WATCHDOG = _Watchdog()


def watch(state: LuaState) -> None:
    """Watch the calls of `state` (once per state)."""
    _WATCHDOG.watch(state)


def watch_sigint() -> Callable[[], None]:
    """Make Ctrl-C visible to the watchdog even while the main thread is
    stuck in C (call from the main thread; returns the undo).  Does nothing
    when another wakeup fd is installed (an asyncio loop's)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    try:
        previous = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    except ValueError:
        os.close(r)
        os.close(w)
        return lambda: None
    if previous != -1:
        signal.set_wakeup_fd(previous)
        os.close(r)
        os.close(w)
        return lambda: None
    _WATCHDOG.wakeup_r = r
    _WATCHDOG.sigint_at = None

    def undo() -> None:
        signal.set_wakeup_fd(-1)
        _WATCHDOG.wakeup_r = None
        _WATCHDOG.sigint_at = None
        os.close(r)
        os.close(w)

    return undo

