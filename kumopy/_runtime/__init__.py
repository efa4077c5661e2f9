"""One Lua 5.4 state, set up the way kumod sets up its Lua states.

A `LuaState` owns a lupa runtime (always `lupa.lua54`: KumoMTA embeds Lua
5.4, and a bare `import lupa` would give Lua 5.5), runs kumopy's Lua runtime
(`sandbox.lua` and the chunks after it) in it, builds the `kumo` module from
the Python namespace modules, and converts values at the Lua/Python boundary.

Strings cross the boundary as bytes (the runtime has no encoding) and are
decoded with `surrogateescape`, so 8-bit SMTP text never raises
UnicodeDecodeError and comes back to Lua byte for byte.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from lupa import lua54

from .._errors import (
    BudgetExceeded,
    PolicyError,
    PolicyExit,
    PolicyInterrupted,
    PolicyMemoryError,
    hide_frames_of_policy_errors,
)
from . import _chunks, _lpattern, _patterns, _popen, _tailcalls, _watchdog
from ._calls import ERR, PythonEntries
from ._convert import HEADROOM, MAX_DEPTH, SMALL, Conversions, _refusal, decode, encode
from ._isolation import CallThread
from ._report import (
    SHORTENED,
    budget_message,
    first_frame,
    python_error_text,
    source_name,
    strip_own_frames,
    text,
)
from ._watchdog import BudgetInterrupt
from .userdata import MemoizedTable, Userdata

if TYPE_CHECKING:
    from .._events import HandlerRegistry
    from .._policy import Policy

__all__ = [
    "HEADROOM",
    "MAX_DEPTH",
    "LuaState",
    "MemoizedTable",
    "SMALL",
    "Userdata",
    "decode",
    "encode",
    "lua_type",
]

__tracebackhide__ = hide_frames_of_policy_errors  # pytest: keep Lua errors' reports short
lua_type = lua54.lua_type
_LuaError = lua54.LuaError
_get_ident = threading.get_ident
_thread_time = time.thread_time
_LuaMemoryError = lua54.LuaMemoryError
_ERR = ERR  # (the name kumo modules use)

_SANDBOX_SOURCE, *_RUNTIME_SOURCES, _PATTERNS_SOURCE = map(
    _chunks.runtime_source, _chunks.RUNTIME_CHUNKS
)

# invoke_event reuses a reading of the thread's CPU clock for this long (s),
# and for no more than 1% of the budget
_CLOCK_REUSE = 0.01


# stop requests another thread can make of a running call (see poll())
_REQUEST_INTERRUPT = -1.0
_REQUEST_BUDGET = -2.0
# what poll() returns when the state is past its memory limit
_OVER_MEMORY = -3.0


class LuaCallError(PolicyError):
    """A Lua function called from Python raised an ordinary error."""

    def __init__(self, message: str, traceback: str, value: Any = None) -> None:
        super().__init__(message, traceback=traceback)
        self.value = value


class LuaState(Conversions, PythonEntries):
    """A single Lua state of a simulated kumod process.

    `process` is the `Policy` (one simulated kumod process) that owns the
    state; `map_path` and `on_print` are the process services the sandbox
    calls directly.
    """

    def __init__(
        self,
        process: Policy,
        *,
        map_path: Callable[[str], str],
        on_print: Callable[[str, str, int], None],
        package_roots: Iterable[str],
        max_memory: int | None,
        budget_seconds: float | None,
        isolate: bool = False,
    ) -> None:
        #: the simulated kumod process this state belongs to
        self.process = process
        self.budget_seconds = budget_seconds
        self.max_memory = max_memory
        #: time.thread_time() after which the running outermost call is over
        #: its budget (None: no call running, or no budget)
        self.deadline: float | None = None
        #: threading.get_ident() of the thread running the outermost call
        self.call_thread: int | None = None
        #: the event and Handler being dispatched (set by Policy, for reports)
        self.current_event: str | None = None
        self.current_handler: Any = None
        #: run outermost calls in a helper thread, so that a call that cannot
        #: be stopped can be abandoned (the pytest plugin's policies)
        self.isolate = isolate
        #: set once a call could not be stopped: the state is not used again
        self.abandoned = False
        #: the watchdog's flags (see _watchdog): an interrupt was sent to
        #: the running call; the running call was declared hung
        self.async_sent = False
        self.hung = False
        self._wd_lock = threading.Lock()
        self._runner: CallThread | None = None
        # (perf_counter, thread_time) read together by invoke_event
        self._clock_wall = -1e9
        self._clock_cpu = 0.0
        #: (invoke_event_batch) the record being run, counted from the
        #: caller's start - 1; why the record after the last one did not run
        self.batch_at = -1
        self._batch_stop: BaseException | None = None
        self._depth = 0
        self._files: dict[str, None] = {}
        #: the stack reader of the running `wants_stack` kumo function
        self._stack_reader: Any = None
        rt = lua54.LuaRuntime(
            encoding=None,
            unpack_returned_tuples=True,
            register_eval=False,
            register_builtins=False,
            attribute_handlers=(self._ud_index, self._ud_newindex),
            overflow_handler=float,
            # (kumopy checks max_memory itself: lupa's own allocations must
            # never fail, see _convert)
            max_memory=self.allocator_limit(),
        )
        self.rt = rt
        self.globals = rt.globals()
        #: a stop another thread asked of the running call (None, or one of
        #: the negative _REQUEST_* values poll() hands the Lua hook)
        self._stop_request: float | None = None
        thread_time = time.thread_time
        used = rt.get_memory_used

        def poll() -> float:
            # called by the Lua count hook every few thousand instructions;
            # being Python, it is also where Ctrl-C reaches a Lua loop, and
            # where policy code past the memory limit is stopped
            request = self._stop_request
            if request is not None:
                return request
            if max_memory is not None and used() > max_memory and self.over_limit():
                return _OVER_MEMORY
            return thread_time()

        engines = _patterns.PatternEngines(self.check_deadline, self.check_alloc)
        host = rt.table_from(
            {
                b"map_path": lambda p: encode(self._remember(map_path(decode(p)))),
                b"print": lambda text, src, line: on_print(decode(text), source_name(src), line),
                b"ERR": ERR,
                b"cpu_time": time.thread_time,
                b"tmpname": _tmpname,
                b"popen": lambda cmd, mode: _popen.popen(cmd, mode, self._time_left),
                b"popen_call": self._popen_call(_popen.call_method),
                b"poll": poll,
                b"stop_kind": _stop_kind,
                b"trust_dump": _chunks.trust,
                b"is_trusted_dump": _chunks.is_trusted,
                b"patch_tailcalls": _tailcalls.patch,
                b"pattern_limits": _pattern_limits,
                b"pattern_find": self._host_call(engines.find),
                b"pattern_plain_find": self._host_call(engines.plain_find),
                b"pattern_next": self._host_call(engines.next_match),
                b"pattern_gsub": self._host_call(engines.gsub),
            }
        )
        own = _chunks.RUNTIME_NAME
        self.api = rt.execute(_SANDBOX_SOURCE, host, name=own)
        for source in _RUNTIME_SOURCES:
            rt.execute(source, host, self.api, name=own)
        ctype = rt.execute(
            _PATTERNS_SOURCE,
            host,
            self.api[b"typearg"],
            self.api[b"getinfo"],
            self.api[b"internals"][b"hide"],
            name=own,
        )
        if not _lpattern.has_ctype():
            classes, lowered = ctype()
            _lpattern.set_ctype({k[0]: v for k, v in classes.items()}, lowered)
        self.api[b"install_error"]()
        # free references in lupa's registry: taking a Lua table or function
        # as an argument into Python then allocates nothing (see _convert)
        spare = [rt.table() for _ in range(256)]
        del spare
        self._invoke = self.api[b"invoke"]
        self._run = self.api[b"run"]
        self._run_event = self.api[b"run_event"]
        self._run_batch = self.api[b"run_batch"]
        self._batch_ctl = rt.table()
        self._shape = self.api[b"shape"]
        self._mark_array = self.api[b"mark_array"]
        self._make_array_with_holes = self.api[b"make_array_with_holes"]
        self._where = self.api[b"where"]
        self._make_function = self.api[b"make_function"]
        self._tostring = self.api[b"tostring"]
        self._set_stop = self.api[b"set_stop"]
        self._set_event = self.api[b"set_event"]
        self.api[b"extend_userdata"](
            Userdata(),
            self._ud_index,
            self._ud_newindex,
            self._ud_len,
            self._ud_pairs,
            self._ud_tostring,
        )
        # package.path: kumod's order (share first, then the policy
        # directory), in front of Lua's default path.
        package = self.globals[b"package"]
        roots = [r.rstrip("/") for r in package_roots]
        prefix = ";".join(f"{r}/?.lua;{r}/?/init.lua" for r in roots)
        package[b"path"] = encode(prefix) + b";" + package[b"path"]
        _watchdog.watch(self)
        self.kumo: Any = None
        self.handlers: HandlerRegistry | None = None
        #: the last unexpected Python exception inside a kumo function
        self.internal_error: BaseException | None = None
        #: what the policy file's top level returned (set by Policy)
        self.chunk_values: tuple[Any, ...] = ()
        #: why a Python kumo function stopped the running call for its budget
        self._stop_message: str | None = None
        #: globals created by the running handler (name, file, line), while
        #: the Policy checks for leaks; None when it does not
        self.new_globals: list[tuple[str, str, int]] | None = None

    # -- the kumo module ---------------------------------------------------

    def build_kumo(self, entries: Iterable[tuple[str, Any]]) -> Any:
        """Install `package.loaded.kumo` from (dotted name, value) pairs;
        callables become Lua functions through `wrap_function`."""
        rows = []
        for name, value in entries:
            if callable(value) and _wants_stack(value):
                fn = self.wrap_function(name, self._with_stack(value))
                rows.append(self.rt.table_from([encode(name), fn, True, True]))
            elif callable(value):
                rows.append(
                    self.rt.table_from([encode(name), self.wrap_function(name, value), True])
                )
            else:
                rows.append(self.rt.table_from([encode(name), self.to_lua(value), False]))
        self.kumo = self.api[b"build_module"](self.rt.table_from(rows))
        return self.kumo

    def lua_function(self, name: str, impl: Callable[..., Any]) -> Any:
        """A new Lua function backed by impl(state, *args) (e.g. the
        wrapper kumo.memoize returns)."""
        return self._make_function(self.wrap_function(name, impl))

    def tostring(self, value: Any) -> str:
        """Lua's own tostring() of a value."""
        return decode(self._tostring(value))

    def provide_global(self, name: str, value: Any, on_use: Callable[[str, int], None]) -> None:
        """Make `name` resolve as a global (through _G's metatable), calling
        on_use(file, line) the first time each line uses it."""
        self.api[b"provide_global"](
            encode(name), value, lambda src, line: on_use(source_name(src), int(line))
        )

    def set_global(self, name: str, value: Any) -> None:
        self.globals[encode(name)] = self.to_lua(value)

    def get_global(self, name: str) -> Any:
        return self.to_python(self.globals[encode(name)])

    # -- running Lua -------------------------------------------------------

    def _remember(self, path: str) -> str:
        """Note a file Lua may load, to undo Lua's shortening of long chunk
        names (`...ng/path/init.lua:3:`) in error messages."""
        if len(self._files) < 4096:
            self._files[path] = None
        return path

    def expand_paths(self, text: str) -> str:
        """Replace Lua's shortened `...tail:LINE:` chunk names in an error
        message or traceback with the full path of a file this state loaded."""
        if "..." not in text:
            return text

        def full(m: re.Match[str]) -> str:
            tail = m.group(1)
            for path in reversed(self._files):
                if path.endswith(tail) and os.path.exists(path):
                    return path + ":"
            return m.group(0)

        return SHORTENED.sub(full, text)

    def load_file(self, path: str, *, chunk_name: str | None = None) -> Any:
        """Compile a policy file the way kumod does: read it as UTF-8 text
        (a binary chunk, or any file that is not UTF-8, fails with kumod's
        wording), compile it with its path as the chunk name so errors read
        `path:LINE: ...`."""
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise PolicyError(f"reading policy file {path}: {e.strerror or e}") from None
        problem = _chunks.policy_source_problem(data)
        if problem is not None:
            raise PolicyError(f"reading policy file {path}: {problem}")
        name = chunk_name if chunk_name is not None else path
        self._remember(name)
        try:
            fn, err = self.api[b"compile"](data, encode("@" + name))
        except _LuaMemoryError:
            raise PolicyMemoryError(
                "not enough memory: the Lua state reached its memory limit"
            ) from None
        if fn is False:
            raise PolicyError(self.expand_paths(text(err)))
        return fn

    def set_current_event(self, event: bytes) -> None:
        """Set `_KUMO_CURRENT_EVENT` (kumod's name of the event being
        dispatched).  Raises PolicyMemoryError."""
        try:
            self._set_event(event)
        except _LuaMemoryError:
            raise PolicyMemoryError(
                "not enough memory: the Lua state reached its memory limit"
            ) from None

    def invoke(self, fn: Any, *args: Any) -> tuple[Any, ...]:
        """Call a Lua function under the budget; returns all its values.

        Raises `BudgetExceeded`, `PolicyMemoryError`, `PolicyExit`,
        `PolicyError`, or `PolicyInterrupted` (a KeyboardInterrupt)."""
        if self._depth:
            return self._invoke_nested(fn, args)
        if self.isolate or self.abandoned:
            if self.abandoned:
                raise PolicyError(
                    "kumopy: this Lua state was abandoned after a call that could not be stopped"
                )
            if self._runner is None:
                self._runner = CallThread(self)
            return self._runner.call(fn, args)
        return self.invoke_here(fn, args)

    def invoke_here(self, fn: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """An outermost call in the calling thread (the hot path of every
        event: kept to one Python frame)."""
        if self.max_memory is not None:
            self.ready_to_call(args)
        self._depth = 1
        self.call_thread = _get_ident()
        try:
            try:
                # (stop, n, values...) or (stop, -1, failure fields...)
                if self.budget_seconds is not None:
                    self.deadline = _thread_time() + self.budget_seconds
                result: Any = self._run(self.deadline, fn, *args)
            finally:
                self._depth = 0
                self.deadline = None
                self.call_thread = None
                self._stop_request = None
                if self.async_sent:
                    self._cancel_interrupt()
        except _LuaMemoryError:
            raise PolicyMemoryError(
                "not enough memory: the Lua state reached its memory limit"
            ) from None
        except BudgetInterrupt:
            # the watchdog's interrupt arrived in this method's own code
            self._end_call()
            raise self._stop_error("budget", "", ()) from None
        n = result[1]
        if n >= 0:
            stopped = result[0]
            if stopped:
                # the policy swallowed a stop somehow and went on
                raise self._stop_error(text(stopped), "", ())
            return result[2 : 2 + n]  # type: ignore[no-any-return]
        self._raise_failure(result[2:])

    def _end_call(self) -> None:
        self._depth = 0
        self.deadline = None
        self.call_thread = None
        self._stop_request = None
        if self.async_sent:
            self._cancel_interrupt()

    def _cancel_interrupt(self) -> None:
        """Cancel the watchdog's interrupt if it has not arrived yet (the
        call it was meant for is over)."""
        with self._wd_lock:
            _watchdog.raise_in_thread(_get_ident(), None)
            self.async_sent = False

    def send_interrupt(self, ident: int) -> None:
        """(watchdog) Raise BudgetInterrupt in the thread running the call,
        if it still runs it: Python code there stops at its next bytecode."""
        with self._wd_lock:
            self.async_sent = True
            if self.call_thread == ident and self.deadline is not None:
                _watchdog.raise_in_thread(ident, BudgetInterrupt)

    def _invoke_nested(self, fn: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """A call from Python code that Lua called (memoize, a custom_lua
        constructor, ...), under the budget already running."""
        if self.max_memory is not None:
            self.ready_to_call(args)
        self._depth += 1
        try:
            result: Any = self._invoke(fn, *args)
        except _LuaMemoryError:
            raise PolicyMemoryError(
                "not enough memory: the Lua state reached its memory limit"
            ) from None
        finally:
            self._depth -= 1
        if not isinstance(result, tuple):
            result = (result,)
        n = result[0]
        if n >= 0:
            return result[1 : 1 + n]  # type: ignore[no-any-return]
        self._raise_failure(result[1:])


    def invoke_event(self, event: bytes, fn: Any, *args: Any) -> tuple[Any, ...]:
        """`invoke` for the outermost call of an event handler (log
        replay's hot path): sets `_KUMO_CURRENT_EVENT` to `event` and runs
        `fn` under the budget in one crossing into Lua.  Same results and
        errors as setting the global and calling `invoke`."""
        if self._depth or self.isolate or self.abandoned:
            self.set_current_event(event)
            return self.invoke(fn, *args)
        if self.max_memory is not None:
            self.ready_to_call(args)
        budget = self.budget_seconds
        if budget is not None:
            self.deadline = self._deadline_in(budget)
        self._depth = 1
        self.call_thread = _get_ident()
        try:
            try:
                result: Any = self._run_event(self.deadline, event, fn, *args)
            finally:
                self._end_call()
        except _LuaMemoryError:
            raise PolicyMemoryError(
                "not enough memory: the Lua state reached its memory limit"
            ) from None
        except BudgetInterrupt:
            raise self._stop_error("budget", "", ()) from None
        n = result[1]
        if n >= 0:
            stopped = result[0]
            if stopped:
                raise self._stop_error(text(stopped), "", ())
            return result[2 : 2 + n]  # type: ignore[no-any-return]
        self._raise_failure(result[2:])

    @property
    def batchable(self) -> bool:
        """Whether invoke_event_batch may run now (an outermost call in
        this thread, in a state still in use)."""
        return not (self._depth or self.isolate or self.abandoned)

    def invoke_event_batch(
        self, event: bytes, fn: Any, flat: list[Any], n: int,
        hits: list[tuple[Any, int]] | None = None,
    ) -> tuple[tuple[int, ...], Any]:
        """invoke_event for n records in one crossing into Lua (log replay):
        `flat` holds each record's five arguments in turn; `fn` must return
        a u16 code or nil.  Each call is an outermost call of its own (its
        own budget, armed as invoke_event arms it, and memory check), and
        `batch_at` counts the records as they start.  Returns the results
        of the first m records (a code, or -1 for none: the calls that
        ended plainly) and, when m < n, record m's outcome: the values
        tuple invoke_event would have returned, or the exception it would
        have raised (the records after it are not run).  Raises
        PolicyError when the results are lost (the loop itself out of
        memory, or the watchdog's interrupt arriving outside a call): every
        record up to `batch_at` is then failed by it.

        With `hits` (a list of n entries), the answers of pure lookups
        (`Userdata.pure_index`: regex_set_map) are remembered in Lua for the
        batches that follow, and hits[k] becomes (map, position) of record
        k's last lookup that found something (in place of an observer of
        every lookup, which would defeat the remembering)."""
        self._depth = 1
        self.call_thread = _get_ident()
        self._batch_stop = None
        ctl = self._batch_ctl
        if hits is not None and ctl[3] is not True:
            ctl[3] = True
            # nothing is remembered once the state uses half its memory
            limit = self.max_memory
            ctl[4] = False if limit is None else limit >> 11
        elif hits is None and ctl[3] is True:
            ctl[3] = False
        try:
            try:
                result: Any = self._run_batch(self._arm_record, event, fn, ctl, n, *flat)
            finally:
                self._end_call()
        except _LuaMemoryError:
            # (the loop's own bookkeeping failed: the results of the
            # records run so far are lost with it)
            ctl[1] = None
            raise PolicyMemoryError(
                "not enough memory: the Lua state reached its memory limit"
            ) from None
        except BudgetInterrupt:
            ctl[1] = None
            raise self._stop_error("budget", "", ()) from None
        if result.__class__ is not tuple:
            result = (result,)
        if hits is not None:
            found = ctl[2]
            count = found[b"n"]
            for j in range(1, count + 1, 3):
                hits[found[j] - 1] = (found[j + 1], found[j + 2])
        m = result[0]
        codes: tuple[int, ...] = result[1 : 1 + m]
        if m >= n:
            return codes, None
        pending = ctl[1]
        ctl[1] = None
        if not pending:
            stop = self._batch_stop
            self._batch_stop = None
            return codes, stop if stop is not None else _refusal()
        fields = tuple([pending[i] for i in range(1, pending[b"n"] + 1)])
        try:
            c = fields[1]
            if c >= 0:
                stopped = fields[0]
                if stopped:
                    raise self._stop_error(text(stopped), "", ())
                return codes, fields[2 : 2 + c]
            self._raise_failure(fields[2:])
        except (PolicyError, PolicyInterrupted) as e:
            return codes, e

    def _deadline_in(self, budget: float) -> float:
        """The thread-CPU-clock deadline `budget` seconds from now.

        Reading the thread's CPU clock is a system call (~1 us, as much as a
        short handler): a reading taken less than _CLOCK_REUSE ago by wall
        clock (and less than 1% of the budget) is reused.  The thread cannot
        have used more CPU than the wall time since, so counting that time as
        spent keeps the deadline exact or that little late, never early."""
        now = time.perf_counter()
        slack = now - self._clock_wall
        if slack > _CLOCK_REUSE or slack * 100 > budget:
            self._clock_wall = now
            self._clock_cpu = _thread_time()
            slack = 0.0
        return self._clock_cpu + slack + budget

    def _arm_record(self) -> float | None | bool:
        """(Lua, before each record of a batch) Start the next record: its
        deadline as invoke_event computes it (None: no budget), or False
        when it must not run (the state past its memory limit, or a stop
        that arrived here; kept in _batch_stop)."""
        try:
            if self.async_sent:
                self._cancel_interrupt()
            self.batch_at += 1
            if self.max_memory is not None and self.over_limit():
                self._batch_stop = _refusal()
                return False
            budget = self.budget_seconds
            if budget is None:
                return None
            deadline = self.deadline = self._deadline_in(budget)
            return deadline
        except BudgetInterrupt:
            self._batch_stop = self._stop_error("budget", "", ())
            return False
        except BaseException as e:  # (Ctrl-C: raised once the batch is back)
            self._batch_stop = e
            return False

    def _raise_failure(self, fields: tuple[Any, ...]) -> NoReturn:
        """Raise the exception for a failure reported by the trampoline as
        (message, traceback, kind, extra...)."""
        message = fields[0]
        traceback = text(fields[1]) if len(fields) > 1 and fields[1] is not None else ""
        traceback = strip_own_frames(self.expand_paths(traceback))
        kind = text(fields[2]) if len(fields) > 2 else "error"
        extra = fields[3:]
        if kind in ("budget", "interrupt", "exit"):
            raise self._stop_error(kind, traceback, extra)
        if kind == "memory":
            raise PolicyMemoryError(
                "not enough memory: the Lua state reached its memory limit", traceback=traceback
            )
        value = extra[0] if extra else None
        if isinstance(value, BudgetInterrupt | KeyboardInterrupt):
            # the watchdog's (or Ctrl-C's) exception arrived while lupa was
            # converting a value, outside any kumo function: still the stop
            kind = "budget" if isinstance(value, BudgetInterrupt) else "interrupt"
            raise self._stop_error(kind, traceback, ())
        shown = self.expand_paths(text(message))
        if isinstance(value, BaseException):
            # a Python exception lupa raised into Lua (calling a userdata,
            # say): no position in its text; the traceback has one
            shown = python_error_text(value)
            file, line = first_frame(traceback)
            if file is not None:
                shown = f"{file}:{line}: {shown}"
        raise LuaCallError(shown, traceback, value)

    def _stop_error(self, kind: str, traceback: str, extra: tuple[Any, ...]) -> BaseException:
        file, line = first_frame(traceback)
        if kind == "exit" and len(extra) >= 3:
            status = int(extra[0])
            src, at = source_name(extra[1]), int(extra[2])
            if src != "?":
                file, line = src, at
            return PolicyExit(status, file=file, line=line, traceback=traceback)
        if kind == "exit":
            return PolicyExit(0, file=file, line=line, traceback=traceback)
        if kind == "interrupt":
            return PolicyInterrupted(file=file, line=line, traceback=traceback)
        message, self._stop_message = self._stop_message, None
        return BudgetExceeded(
            message or budget_message(self.budget_seconds),
            traceback=traceback,
            file=file,
            line=line,
        )

    def interrupt(self) -> None:
        """Ask the call running in this state (in another thread) to stop
        as if Ctrl-C had been pressed: it ends with PolicyInterrupted."""
        self._stop_request = _REQUEST_INTERRUPT

    # -- limits for Python code that Lua calls -----------------------------

    def _time_left(self) -> float | None:
        """CPU seconds the running handler has left (None: no budget)."""
        if self.deadline is None:
            return None
        return self.deadline - time.thread_time()

    def check_deadline(self) -> None:
        """Raise `BudgetExceeded` when the running handler is past its CPU
        budget (KeyboardInterrupt when another thread interrupted it).
        Python implementations of kumo functions that loop over
        policy-controlled input call this every so often."""
        if self._stop_request is not None:
            if self._stop_request == _REQUEST_INTERRUPT:
                raise KeyboardInterrupt
            raise BudgetExceeded(budget_message(self.budget_seconds))
        if self.deadline is not None and time.thread_time() > self.deadline:
            raise BudgetExceeded(budget_message(self.budget_seconds))

    def where(self) -> tuple[str, int]:
        """(file, line) of the policy code that called the running kumo function."""
        src, line = self._where()
        return source_name(src), int(line)

    def funcinfo(self, fn: Any) -> tuple[str, int]:
        src, line = self.api[b"funcinfo"](fn)
        return source_name(src), int(line)

    def callstack(self) -> list[str]:
        return [decode(s) for s in self.api[b"callstack"]().values()]

    def _with_stack(self, impl: Callable[..., Any]) -> Callable[..., Any]:
        """impl(state, *args) for a kumo function marked `wants_stack`: the
        Lua side passes a stack-reading function first, bound to the calling
        coroutine, which `frames()` uses while impl runs."""

        def call(state: LuaState, reader: Any, *args: Any) -> Any:
            saved, self._stack_reader = self._stack_reader, reader
            try:
                return impl(state, *args)
            finally:
                self._stack_reader = saved

        return call

    def frames(self, level: int) -> list[dict[str, Any]]:
        """The stack the running kumo function would see in kumod, from
        `level` (0: the kumo function itself), innermost first: Lua's
        `debug.getinfo` fields (strings decoded), C functions included and
        kumopy's Lua stand-ins for C functions shown as those C functions.
        Only a kumo function marked `wants_stack` (see `stack_function`)
        sees the stack of a coroutine it is called from."""
        reader = self._stack_reader if self._stack_reader is not None else self.api[b"frames"]
        out = []
        for info in reader(level).values():
            out.append(
                {decode(k): decode(v) if isinstance(v, bytes) else v for k, v in info.items()}
            )
        return out

    def userdata_metatable(self) -> Any:
        """The (protected) metatable every Python object shares in Lua, for
        kumopy's own additions (operators); the policy cannot reach it."""
        return self.api[b"userdata_metatable"]()

    def set_line_hook(self, fn: Callable[[str, int], None] | None) -> None:
        if fn is None:
            self.api[b"set_line_hook"](None)
        else:
            self.api[b"set_line_hook"](lambda src, line: fn(source_name(src), line))

    def watch_new_globals(self, fn: Callable[[str, str, int], None]) -> None:
        """Call fn(name, file, line) whenever Lua code creates a global
        variable (assigns a name that _G does not have yet)."""

        def on_new(key: Any, src: Any, line: Any) -> None:
            name = decode(key) if isinstance(key, bytes) else self.tostring(key)
            fn(name, source_name(src), int(line))

        self.api[b"watch_new_globals"](on_new)



def stack_function(impl: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a kumo function's implementation as one that reads the Lua stack
    (`LuaState.frames`), so that it sees the calling coroutine's."""
    impl.wants_stack = True  # type: ignore[attr-defined]
    return impl


def _wants_stack(value: Any) -> bool:
    while value is not None:
        if getattr(value, "wants_stack", False):
            return True
        value = getattr(value, "__wrapped__", None)
    return False


def _tmpname() -> bytes | None:
    """os.tmpname as kumod's Lua (built with LUA_USE_LINUX) does it: mkstemp
    on /tmp/lua_XXXXXX, so the file exists (empty) when the name is returned."""
    try:
        fd, path = tempfile.mkstemp(prefix="lua_", dir="/tmp")
    except OSError:
        return None
    os.close(fd)
    return encode(path)



def _pattern_limits(pattern: bytes) -> tuple[int, int, int, int]:
    """(find/match/gsub, gmatch, plain find) subject-length limits of the
    C matcher for a pattern, and the highest %n of a gsub replacement
    (patterns.lua)."""
    a = _patterns.analysis(pattern)
    if _patterns.FORCE is not None:
        return -1, -1, -1, a.replacement_captures
    return a.c_limit, a.c_limit_gmatch, a.c_limit_plain, a.replacement_captures


def _stop_kind(exc: Any) -> bytes:
    """What a Python exception raised by poll() (in the Lua hook) means:
    Ctrl-C, or the watchdog's interrupt of a call past its budget."""
    if isinstance(exc, BudgetInterrupt):
        return b"budget"
    return b"interrupt"
