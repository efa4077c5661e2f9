"""Running a state's calls in a helper thread, so that a call that cannot be
stopped can be abandoned (the pytest plugin's policies use it)."""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING, Any, NoReturn

from .._errors import BudgetExceeded, PolicyInterrupted, hide_frames_of_policy_errors
from . import _watchdog

if TYPE_CHECKING:
    from . import LuaState

__all__ = ["CallThread"]

__tracebackhide__ = hide_frames_of_policy_errors  # pytest: keep Lua errors' reports short


class CallThread:
    """Runs the outermost calls of an isolated state in a helper thread.

    The caller waits; when the watchdog declares the call hung (past its
    budget and the grace, in code nothing can interrupt), the caller stops
    waiting, the state is abandoned with the thread still stuck in it, and
    the call fails with BudgetExceeded: a test run goes on.  Ctrl-C while
    waiting interrupts the call (and is raised once it has stopped)."""

    def __init__(self, state: LuaState) -> None:
        self.state = state
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self.run, name="kumopy-lua-call", daemon=True)
        self.thread.start()

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            fn, args, box, done = job
            try:
                box.append((True, self.state.invoke_here(fn, args)))
            except BaseException as e:  # handed to the waiting thread
                box.append((False, e))
            finally:
                done.set()

    def call(self, fn: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        state = self.state
        box: list[tuple[bool, Any]] = []
        done = threading.Event()
        self.jobs.put((fn, args, box, done))
        interrupted_at: float | None = None
        while True:
            try:
                if done.wait(0.05):
                    break
            except KeyboardInterrupt:
                if interrupted_at is None:
                    interrupted_at = time.monotonic()
                    state.interrupt()
                continue
            if state.hung:
                self.abandon(interrupted=False)
            if interrupted_at is not None and (
                time.monotonic() - interrupted_at > _watchdog.INTERRUPT_GRACE + 0.75
            ):
                self.abandon(interrupted=True)
        ok, value = box[0]
        if ok:
            if interrupted_at is not None:
                raise PolicyInterrupted(event=state.current_event)
            return value  # type: ignore[no-any-return]
        raise value

    def abandon(self, *, interrupted: bool) -> NoReturn:
        state = self.state
        state.abandoned = True
        state._runner = None
        self.jobs.put(None)  # the thread ends if it ever gets out
        if interrupted:
            raise PolicyInterrupted(event=state.current_event)
        # (dispatch adds the event and where the handler was defined)
        raise BudgetExceeded(
            f"kumopy: handler exceeded its CPU budget of {state.budget_seconds:g} seconds "
            "and could not be stopped (it is running code kumopy cannot interrupt); its "
            "Lua state was abandoned"
        )
