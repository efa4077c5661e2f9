"""The worker threads behind `kumopy serve`: each runs policy events in its
own Lua state, and one stuck in code nothing can interrupt is given up on
instead of the process.

A handler past its CPU budget is stopped in-process (the Lua hook, the
watchdog's interrupt of Python code).  Work in C that never returns to
Python (a library call) cannot be stopped: once the watchdog declares such
a call hung (`_watchdog.HANG_GRACE` CPU seconds past the budget), the
worker's job fails at once with `WorkerAbandoned` (the connection answers
kumod's `421 4.3.0 <host> technical difficulties`), its Lua state is marked
abandoned, and a new worker takes its place.  The stuck thread is a daemon:
if it ever gets out of the C call, its Lua state refuses to run more policy
code, its job's result is dropped and it ends.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any, TypeVar

from .._runtime import _watchdog

if TYPE_CHECKING:
    from .._runtime import LuaState

__all__ = ["WorkerAbandoned", "Workers"]

T = TypeVar("T")


class WorkerAbandoned(Exception):
    """The job's worker was stuck in code kumopy cannot interrupt and was
    given up on; the message says what it was running."""


class Workers(Executor):
    """A fixed number of daemon worker threads (an `Executor` for
    `loop.run_in_executor`); `abandoned` counts the workers given up on."""

    def __init__(self, size: int, name: str = "kumopy-worker") -> None:
        self.size = max(1, size)
        self.name = name
        self.abandoned = 0
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue())
        self._lock = threading.Lock()
        #: the job each busy worker runs, by thread ident
        self._running: dict[int, Future[Any]] = {}
        self._given_up: set[int] = set()
        self._threads: dict[int, threading.Thread] = {}
        self._started = 0
        self._shutdown = False
        for _ in range(self.size):
            self._start_one()

    def _start_one(self) -> None:
        self._started += 1
        thread = threading.Thread(target=self._work, name=f"{self.name}_{self._started}",
                                  daemon=True)
        thread.start()

    # -- Executor ------------------------------------------------------------

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._jobs.put((future, lambda: fn(*args, **kwargs)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            threads = [t for i, t in self._threads.items() if i not in self._given_up]
        if cancel_futures:
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
        for _ in threads:
            self._jobs.put(None)
        if wait:
            for thread in threads:
                thread.join()

    # -- the workers -----------------------------------------------------------

    def _work(self) -> None:
        ident = threading.get_ident()
        with self._lock:
            self._threads[ident] = threading.current_thread()
        _watchdog.handle_hangs_in_this_thread(self._hang)
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                future, call = job
                if not future.set_running_or_notify_cancel():
                    continue
                with self._lock:
                    self._running[ident] = future
                ok = True
                try:
                    result: Any = call()
                except BaseException as e:  # handed to the waiting coroutine
                    ok, result = False, e
                with self._lock:
                    self._running.pop(ident, None)
                    given_up = ident in self._given_up
                if given_up:
                    return  # (replaced: the job already failed)
                if ok:
                    future.set_result(result)
                else:
                    future.set_exception(result)
                del result, future, call, job
        finally:
            _watchdog.handle_hangs_in_this_thread(None)
            with self._lock:
                self._threads.pop(ident, None)

    def _hang(self, state: LuaState, hang: _watchdog.Hang) -> None:
        """(the watchdog's thread) A worker's call cannot be stopped: fail
        its job, abandon its Lua state and start a worker in its place."""
        ident = state.call_thread
        with self._lock:
            future = self._running.pop(ident, None) if ident is not None else None
            if future is None or ident in self._given_up:
                return
            assert ident is not None
            self._given_up.add(ident)
            self.abandoned += 1
            state.abandoned = True  # (its thread may get out: it runs no more Lua)
            if not self._shutdown:
                self._start_one()
        future.set_exception(
            WorkerAbandoned(f"{hang.describe()}; abandoned its worker and started another"))
