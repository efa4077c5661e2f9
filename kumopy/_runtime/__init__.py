"""One Lua 5.4 state, set up the way kumod sets up its Lua states.

A `LuaState` owns a lupa runtime (always `lupa.lua54`: KumoMTA embeds Lua
5.4, and a bare `import lupa` would give Lua 5.5), runs the sandbox chunk
(`sandbox.lua`) in it, builds the `kumo` module from the Python namespace
modules, and converts values at the Lua/Python boundary.

Strings cross the boundary as bytes (the runtime has no encoding) and are
decoded with `surrogateescape`, so 8-bit SMTP text never raises
UnicodeDecodeError and comes back to Lua byte for byte.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from lupa import lua54

from .._errors import (
    BudgetExceeded,
    KumoError,
    PolicyError,
    PolicyMemoryError,
    hide_frames_of_policy_errors,
)
from .userdata import CacheKey, MemoizedTable, Userdata

if TYPE_CHECKING:
    from .._events import HandlerRegistry
    from .._policy import Policy

__all__ = ["LuaState", "Userdata", "MemoizedTable", "decode", "encode", "lua_type"]

__tracebackhide__ = hide_frames_of_policy_errors  # pytest: keep Lua errors' reports short
lua_type = lua54.lua_type
_LuaError = lua54.LuaError
_LuaMemoryError = lua54.LuaMemoryError

_SANDBOX_SOURCE = resources.files(__package__).joinpath("sandbox.lua").read_bytes()

# invoke_event reuses a reading of the thread's CPU clock for this long (s),
# and for no more than 1% of the budget
_CLOCK_REUSE = 0.01

# A failure reported by a Python implementation of a kumo function: the Lua
# wrapper sees this object as the first return value and raises the message.
_ERR = object()


def decode(value: bytes) -> str:
    """Lua string -> Python str, never failing on 8-bit data."""
    return value.decode("utf-8", "surrogateescape")


def encode(value: str) -> bytes:
    """Python str -> Lua string (inverse of `decode`)."""
    return value.encode("utf-8", "surrogateescape")


class LuaCallError(PolicyError):
    """A Lua function called from Python raised an ordinary error."""

    def __init__(self, message: str, traceback: str, value: Any = None) -> None:
        super().__init__(message, traceback=traceback)
        self.value = value


class LuaState:
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
    ) -> None:
        #: the simulated kumod process this state belongs to
        self.process = process
        self.budget_seconds = budget_seconds
        self.max_memory = max_memory
        #: time.thread_time() after which the running outermost call is over
        #: its budget (None: no call running, or no budget)
        self.deadline: float | None = None
        # (perf_counter, thread_time) read together by invoke_event
        self._clock_wall = -1e9
        self._clock_cpu = 0.0
        self._depth = 0
        self._files: dict[str, None] = {}
        rt = lua54.LuaRuntime(
            encoding=None,
            unpack_returned_tuples=True,
            register_eval=False,
            register_builtins=False,
            attribute_handlers=(self._ud_index, self._ud_newindex),
            overflow_handler=float,
            max_memory=max_memory,
        )
        self.rt = rt
        self.globals = rt.globals()
        host = rt.table_from(
            {
                b"map_path": lambda p: encode(self._remember(map_path(decode(p)))),
                b"print": lambda text, src, line: on_print(decode(text), _source(src), line),
                b"ERR": _ERR,
                b"cpu_time": time.thread_time,
            }
        )
        self.api = rt.execute(_SANDBOX_SOURCE, host, name=b"=[kumopy]")
        self._invoke = self.api[b"invoke"]
        self._run = self.api[b"run"]
        self._run_event = self.api[b"run_event"]
        self._shape = self.api[b"shape"]
        self._mark_array = self.api[b"mark_array"]
        self._make_array_with_holes = self.api[b"make_array_with_holes"]
        self._where = self.api[b"where"]
        self._make_function = self.api[b"make_function"]
        self._tostring = self.api[b"tostring"]
        self.api[b"extend_userdata"](
            Userdata(), self._ud_index, self._ud_newindex, self._ud_len, self._ud_pairs
        )
        # package.path: kumod's order (share first, then the policy
        # directory), in front of Lua's default path.
        package = self.globals[b"package"]
        roots = [r.rstrip("/") for r in package_roots]
        prefix = ";".join(f"{r}/?.lua;{r}/?/init.lua" for r in roots)
        package[b"path"] = encode(prefix) + b";" + package[b"path"]
        self.kumo: Any = None
        self.handlers: HandlerRegistry | None = None
        #: the last unexpected Python exception inside a kumo function
        self.internal_error: BaseException | None = None
        #: what the policy file's top level returned (set by Policy)
        self.chunk_values: tuple[Any, ...] = ()

    # -- the kumo module ---------------------------------------------------

    def build_kumo(self, entries: Iterable[tuple[str, Any]]) -> Any:
        """Install `package.loaded.kumo` from (dotted name, value) pairs;
        callables become Lua functions through `wrap_function`."""
        rows = []
        for name, value in entries:
            if callable(value):
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

    def wrap_function(self, name: str, impl: Callable[..., Any]) -> Callable[..., Any]:
        """The Python side of `kumo.<name>`: calls impl(state, *args) and
        reports errors to the Lua wrapper instead of raising through lupa."""
        state = self
        observers = self.process.call_observers

        def entry(*args: Any) -> Any:
            if observers:
                converted = tuple(state.to_python(a) for a in args)
                for observer in observers:
                    observer(name, converted)
            try:
                return impl(state, *args)
            except Exception as e:
                return state._error_reply(e, f"kumo.{name}")

        entry.__name__ = f"kumo.{name}"
        return entry

    def _error_reply(self, e: Exception, what: str) -> tuple[Any, bytes]:
        """The (ERR, message) pair the Lua side turns into a Lua error at
        the policy's line, for an exception raised by Python code that Lua
        called (a kumo function or a userdata metamethod)."""
        if isinstance(e, KumoError):
            return _ERR, encode(str(e))
        if isinstance(e, PolicyMemoryError):
            return _ERR, b"not enough memory"
        if isinstance(e, PolicyError):
            return _ERR, encode(e.message)
        # a bug in kumopy: keep it visible
        self.internal_error = e
        return _ERR, encode(f"kumopy internal error in {what}: {type(e).__name__}: {e}")

    def provide_global(self, name: str, value: Any, on_use: Callable[[str, int], None]) -> None:
        """Make `name` resolve as a global (through _G's metatable), calling
        on_use(file, line) the first time each line uses it."""
        self.api[b"provide_global"](
            encode(name), value, lambda src, line: on_use(_source(src), int(line))
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

        return _SHORTENED.sub(full, text)

    def load_file(self, path: str, *, chunk_name: str | None = None) -> Any:
        """Compile a Lua file; the chunk name is its path so errors read
        `path:LINE: ...`."""
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise PolicyError(f"reading policy file {path}: {e.strerror or e}") from None
        name = chunk_name if chunk_name is not None else path
        self._remember(name)
        try:
            return self.rt.compile(data, name=encode("@" + name))
        except _LuaError as e:
            raise PolicyError(self.expand_paths(_text(e.args[0] if e.args else e))) from None

    def invoke(self, fn: Any, *args: Any) -> tuple[Any, ...]:
        """Call a Lua function under the budget; returns all its values.

        Raises `BudgetExceeded`, `PolicyMemoryError` or `PolicyError`."""
        outer = self._depth == 0
        self._depth += 1
        try:
            if outer:
                # (tripped, n, values...) or (tripped, -1, error fields...)
                if self.budget_seconds is not None:
                    self.deadline = time.thread_time() + self.budget_seconds
                result: Any = self._run(self.budget_seconds, fn, *args)
                tripped = result[0]
                start = 1
            else:
                result = self._invoke(fn, *args)
                if not isinstance(result, tuple):
                    result = (result,)
                tripped = False
                start = 0
        except _LuaMemoryError:
            raise PolicyMemoryError(
                "not enough memory: the Lua state reached its memory limit"
            ) from None
        finally:
            self._depth -= 1
            if outer:
                self.deadline = None
        n = result[start]
        if n >= 0:
            if tripped:
                # the handler swallowed the budget error somehow and went on
                raise BudgetExceeded(_budget_message(self.budget_seconds))
            return result[start + 1 : start + 1 + n]  # type: ignore[no-any-return]
        self._raise_failure(result[start:])

    def invoke_event(self, event: bytes, fn: Any, *args: Any) -> tuple[Any, ...]:
        """`invoke` for the outermost call of an event handler (log
        replay's hot path): sets `_KUMO_CURRENT_EVENT` to `event` and runs
        `fn` under the budget in one crossing into Lua.  Same results and
        errors as setting the global and calling `invoke`."""
        if self._depth:
            self.globals[b"_KUMO_CURRENT_EVENT"] = event
            return self.invoke(fn, *args)
        budget = self.budget_seconds
        deadline = None
        if budget is not None:
            # Reading the thread's CPU clock is a system call (~1 us, as
            # much as a short handler): reuse a reading taken less than
            # _CLOCK_REUSE ago by wall clock (and less than 1% of the
            # budget).  The thread cannot have used more CPU than the wall
            # time since, so counting that time as spent keeps the deadline
            # exact or that little late, never early.
            now = time.perf_counter()
            slack = now - self._clock_wall
            if slack > _CLOCK_REUSE or slack * 100 > budget:
                self._clock_wall = now
                self._clock_cpu = time.thread_time()
                slack = 0.0
            deadline = self._clock_cpu + slack + budget
        self.deadline = deadline
        self._depth = 1
        try:
            result: Any = self._run_event(deadline, event, fn, *args)
        except _LuaMemoryError:
            raise PolicyMemoryError(
                "not enough memory: the Lua state reached its memory limit"
            ) from None
        finally:
            self._depth = 0
            self.deadline = None
        n = result[1]
        if n >= 0:
            if result[0]:
                raise BudgetExceeded(_budget_message(budget))
            return result[2 : 2 + n]  # type: ignore[no-any-return]
        self._raise_failure(result[1:])

    def _raise_failure(self, result: Any) -> NoReturn:
        """Raise the error a trampoline reported as (-1, message,
        traceback, kind, value)."""
        message = self.expand_paths(_text(result[1]))
        traceback = _text(result[2]) if len(result) > 2 and result[2] is not None else ""
        traceback = _strip_own_frames(self.expand_paths(traceback))
        kind = _text(result[3]) if len(result) > 3 else "error"
        if kind == "budget":
            file, line = _first_frame(traceback)
            raise BudgetExceeded(
                _budget_message(self.budget_seconds), traceback=traceback, file=file, line=line
            )
        if kind == "memory":
            raise PolicyMemoryError(
                "not enough memory: the Lua state reached its memory limit", traceback=traceback
            )
        raise LuaCallError(message, traceback, result[4] if len(result) > 4 else None)

    # -- limits for Python code that Lua calls -----------------------------

    def check_deadline(self) -> None:
        """Raise `BudgetExceeded` when the running handler is past its CPU
        budget.  Python implementations of kumo functions that loop over
        policy-controlled input call this every so often."""
        if self.deadline is not None and time.thread_time() > self.deadline:
            raise BudgetExceeded(_budget_message(self.budget_seconds))

    def check_alloc(self, nbytes: int, what: str) -> None:
        """Raise `PolicyMemoryError` when building a result of about `nbytes`
        bytes would take the state past its memory limit.  Python
        implementations call this before building a large result, so that
        the limit covers them as it covers Lua's own allocations."""
        if self.max_memory is None or nbytes <= 0:
            return
        used = self.rt.get_memory_used() or 0
        if used + nbytes > self.max_memory:
            raise PolicyMemoryError(
                f"not enough memory: {what} would need {nbytes} bytes, beyond the "
                f"state's memory limit of {self.max_memory} bytes"
            )

    def where(self) -> tuple[str, int]:
        """(file, line) of the policy code that called the running kumo function."""
        src, line = self._where()
        return _source(src), int(line)

    def funcinfo(self, fn: Any) -> tuple[str, int]:
        src, line = self.api[b"funcinfo"](fn)
        return _source(src), int(line)

    def callstack(self) -> list[str]:
        return [decode(s) for s in self.api[b"callstack"]().values()]

    # -- conversions -------------------------------------------------------

    def to_lua(self, value: Any) -> Any:
        """Python value -> Lua value (dicts and lists become tables; lists
        carry the array marker as JSON arrays do in kumod)."""
        if value is None or isinstance(value, bool | int | float | bytes):
            return value
        if isinstance(value, str):
            return encode(value)
        if isinstance(value, Mapping):
            return self.rt.table_from({self.to_lua(k): self.to_lua(v) for k, v in value.items()})
        if isinstance(value, list | tuple):
            items = [self.to_lua(v) for v in value]
            if None in value:
                return self._make_array_with_holes(self.rt.table_from(items), len(items))
            return self._mark_array(self.rt.table_from(items))
        return value  # Userdata, Lua objects

    def to_python(
        self,
        value: Any,
        *,
        serialize: bool = False,
        empty_array_as_list: bool = True,
        _depth: int = 0,
    ) -> Any:
        """Lua value -> Python value.

        A table with a positive raw length becomes a list of that length
        (other keys dropped, holes None), an empty table with the array
        marker a list when `empty_array_as_list`, any other table a dict.
        With `serialize`, functions and userdata without data raise
        KumoError the way kumod's serializer refuses them.
        """
        if isinstance(value, bytes):
            return decode(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        kind = lua_type(value)
        if kind == "table":
            if _depth > 128:
                raise KumoError("cannot serialize a recursive table (nesting deeper than 128)")
            n, marked = self._shape(value)
            items = {
                self.to_python(k, _depth=_depth + 1): self.to_python(
                    v,
                    serialize=serialize,
                    empty_array_as_list=empty_array_as_list,
                    _depth=_depth + 1,
                )
                for k, v in value.items()
            }
            if n > 0:
                return [items.get(i) for i in range(1, n + 1)]
            if marked and empty_array_as_list and not items:
                return []
            if serialize:
                for k in items:
                    if isinstance(k, bool) or not isinstance(k, str | int | float):
                        raise KumoError(f"cannot serialize a table key of type {type(k).__name__}")
            return items
        if kind is None and isinstance(value, Userdata):
            return value.to_data() if serialize else value
        if serialize:
            raise KumoError(f"cannot serialize <{kind or type(value).__name__}>")
        return value

    # memoize / regex_set_map value model ("CacheValue" in kumod)

    def cache_key(self, key: Any) -> CacheKey | None:
        if isinstance(key, bytes):
            return decode(key)
        if isinstance(key, bool):
            return None
        if isinstance(key, int):
            return key
        if isinstance(key, float) and key.is_integer():
            return int(key)
        return None

    def to_cache_value(self, value: Any, _depth: int = 0) -> Any:
        """Lua value -> the immutable value model memoize caches hold."""
        if isinstance(value, bytes):
            return decode(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, MemoizedTable):
            return value.data
        if isinstance(value, Userdata):
            if getattr(value, "memoizable", False):
                return value
            raise KumoError(f"cannot memoize a {value.lua_type_name} value")
        kind = lua_type(value)
        if kind == "table":
            if _depth > 128:
                raise KumoError("cannot memoize a recursive table (nesting deeper than 128)")
            out: dict[CacheKey, Any] = {}
            for k, v in value.items():
                ck = self.cache_key(k)
                if ck is None:
                    shown = self.to_python(k) if lua_type(k) is None else kind
                    raise KumoError(
                        f"table key {shown!r} cannot be used as a key in a memoizable table"
                    )
                out[ck] = self.to_cache_value(v, _depth + 1)
            return out
        raise KumoError(f"cannot memoize a Lua {kind or type(value).__name__} value")

    def cache_value_to_lua(self, value: Any) -> Any:
        if isinstance(value, dict):
            return MemoizedTable(value)
        if isinstance(value, str):
            return encode(value)
        return value

    # -- userdata dispatch (lupa attribute handlers and metamethods) --------

    # Each of these runs as a metamethod of every Python object Lua sees.
    # A failure comes back as (ERR, message) so that the sandbox raises it
    # as a Lua string error at the policy's line, as kumod's userdata
    # errors are, rather than as a Python exception object.

    def _ud_index(self, obj: Any, key: Any) -> Any:
        try:
            if isinstance(obj, Userdata):
                return obj.lua_index(self, key)
            raise KumoError("attempt to index a userdata value")
        except Exception as e:
            return self._error_reply(e, "userdata index")

    def _ud_newindex(self, obj: Any, key: Any, value: Any) -> Any:
        try:
            if isinstance(obj, Userdata):
                obj.lua_newindex(self, key, value)
                return None
            raise KumoError("attempt to index a userdata value")
        except Exception as e:
            return self._error_reply(e, "userdata assignment")

    def _ud_len(self, obj: Any) -> Any:
        try:
            if isinstance(obj, Userdata):
                return obj.lua_len(self)
            raise KumoError("attempt to get length of a userdata value")
        except Exception as e:
            return self._error_reply(e, "userdata length")

    def _ud_pairs(self, obj: Any) -> Any:
        try:
            if not isinstance(obj, Userdata):
                raise KumoError("userdata cannot be iterated with pairs")
            keys, values = [], []
            for k, v in obj.lua_items(self):
                keys.append(k)
                values.append(v)
            return self.rt.table_from(keys), self.rt.table_from(values)
        except Exception as e:
            return self._error_reply(e, "userdata pairs")

    def set_line_hook(self, fn: Callable[[str, int], None] | None) -> None:
        if fn is None:
            self.api[b"set_line_hook"](None)
        else:
            self.api[b"set_line_hook"](lambda src, line: fn(_source(src), line))

    def watch_new_globals(self, fn: Callable[[str, str, int], None]) -> None:
        """Call fn(name, file, line) whenever Lua code creates a global
        variable (assigns a name that _G does not have yet)."""

        def on_new(key: Any, src: Any, line: Any) -> None:
            name = decode(key) if isinstance(key, bytes) else self.tostring(key)
            fn(name, _source(src), int(line))

        self.api[b"watch_new_globals"](on_new)



def _source(src: Any) -> str:
    """Lua `source` ("@path" for files) -> the path a user recognises."""
    s = decode(src) if isinstance(src, bytes) else str(src)
    return s[1:] if s[:1] in ("@", "=") else s


# a chunk name Lua shortened to fit LUA_IDSIZE, followed by a line number
_SHORTENED = re.compile(r"\.\.\.([^\s:'\"]+):(?=\d+:)")

_FRAME = re.compile(r"^\s*(?P<file>[^\s:][^:]*):(?P<line>\d+):", re.MULTILINE)


def _strip_own_frames(traceback: str) -> str:
    """Drop the frames of kumopy's own trampoline from a Lua traceback."""
    return "\n".join(
        line
        for line in traceback.splitlines()
        if "[kumopy]" not in line and "'raw_xpcall'" not in line and "'raw_pcall'" not in line
    )


def _first_frame(traceback: str) -> tuple[str | None, int | None]:
    """The innermost policy frame of a Lua traceback."""
    for m in _FRAME.finditer(traceback):
        if m.group("file") != "[kumopy]":
            return m.group("file"), int(m.group("line"))
    return None, None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return decode(value)
    return str(value)


def _budget_message(seconds: float | None) -> str:
    return f"kumopy: handler exceeded its CPU budget of {seconds:g} seconds and was stopped"
