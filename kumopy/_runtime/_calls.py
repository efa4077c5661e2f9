"""Where Lua calls Python: kumo functions, the userdata metamethods, and the
sandbox's services (the pattern engines, io.popen's handles).

Every entry point answers Lua with its result or with an (ERR, message)
pair that the Lua side raises as a string error at the policy's line, and
they share the rules (`_entry_failed`): whatever Python raises is an error
(also a BaseException such as pyo3's PanicException from a Rust library),
except Ctrl-C and the watchdog's interrupt, which are stops the policy
cannot catch, and any failure after the handler's budget ran out, which is
the budget's stop.  Each entry point also keeps lupa's own allocations
within the memory limit (see _convert): it refuses to run while the state
is past `max_memory`, and refuses a result string too large to push.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._errors import (
    BudgetExceeded,
    KumoError,
    PolicyError,
    PolicyExit,
    PolicyMemoryError,
    split_position,
)
from . import _lpattern
from ._convert import MEMORY, encode
from ._watchdog import BudgetInterrupt
from .userdata import Userdata

if TYPE_CHECKING:
    from .._policy import Policy

__all__ = ["ERR", "PythonEntries"]

#: the first value of a reply that failed: the Lua side raises the message
ERR = object()
_MEMORY_REPLY = (ERR, MEMORY)


class PythonEntries:
    """The Lua-to-Python half of `LuaState` (a mixin)."""

    process: Policy
    rt: Any
    max_memory: int | None
    internal_error: BaseException | None
    _stop_message: str | None
    _set_stop: Any

    if TYPE_CHECKING:

        def check_deadline(self) -> None: ...
        def to_python(self, value: Any) -> Any: ...
        def fits(self, values: Any) -> bool: ...
        def over_limit(self) -> bool: ...
        def reclaim(self) -> None: ...
        def table_from(self, *args: Any, recursive: bool = False) -> Any: ...

    # -- kumo functions ----------------------------------------------------------

    def wrap_function(self, name: str, impl: Callable[..., Any]) -> Callable[..., Any]:
        """The Python side of `kumo.<name>`: calls impl(state, *args) and
        reports errors to the Lua wrapper instead of raising through lupa."""
        state = self
        observers = self.process.call_observers
        limit = self.max_memory
        used = self.rt.get_memory_used
        what = f"kumo.{name}"

        def entry(*args: Any) -> Any:
            if limit is not None and used() > limit and state.over_limit():
                return _MEMORY_REPLY
            try:
                if observers:
                    converted = tuple(state.to_python(a) for a in args)
                    for observer in observers:
                        observer(name, converted)
                result = impl(state, *args)
                # (measuring a large result takes time: the watchdog's stop
                # may arrive here too)
                if limit is None or state.fits(result):
                    return result
            except BaseException as e:  # also pyo3's PanicException (Rust libraries)
                return state._entry_failed(e, what)
            return _MEMORY_REPLY

        entry.__name__ = what
        return entry

    # -- the shared rules ----------------------------------------------------------

    def _entry_failed(self, e: BaseException, what: str) -> tuple[Any, ...]:
        """The reply to Lua for an exception raised by Python code that Lua
        called (`what` names it in an internal error)."""
        if isinstance(e, KeyboardInterrupt | BudgetInterrupt):
            return self._stop_reply(e)
        if not isinstance(e, PolicyError):
            # a stop that reached a library's callback comes back as that
            # library's error (MiniJinja's panic, say): it is still the stop
            try:
                self.check_deadline()
            except BudgetExceeded as stop:
                return self._error_reply(stop, what)
            except KeyboardInterrupt as stop:
                return self._stop_reply(stop)
        reply = self._error_reply(e, what)
        if reply[1] == MEMORY and self.max_memory is not None:
            # what the failed build made is held by its frames: let them go,
            # and collect it, so that Lua can raise the error at the policy's line
            e.__traceback__ = None
            e.__context__ = None
            self.reclaim()
        return reply

    def _error_reply(self, e: BaseException, what: str) -> tuple[Any, ...]:
        """The (ERR, message) pair the Lua side turns into a Lua error at
        the policy's line."""
        if isinstance(e, KumoError):
            if e.positioned:
                return ERR, encode(str(e)), 0  # raised as is: no second position
            return ERR, encode(str(e))
        if isinstance(e, PolicyMemoryError):
            return _MEMORY_REPLY
        if isinstance(e, BudgetExceeded):
            # (check_deadline, or a nested call that ran out): the policy
            # must not be able to catch it; a specific reason (kumo.sleep
            # longer than the budget, say) is kept for the final error
            self._stop_message = e.message
            return ERR, self._set_stop(b"budget")
        if isinstance(e, PolicyExit):
            return ERR, self._set_stop(b"exit")
        if isinstance(e, PolicyError):
            # Lua code called back by a kumo function failed: its message
            # already names the failing line, keep that one position only
            if split_position(e.message)[0] is not None:
                return ERR, encode(e.message), 0
            return ERR, encode(e.message)
        if isinstance(e, RecursionError):
            return ERR, encode(f"{what}: nesting too deep to convert")
        if isinstance(e, MemoryError):
            return _MEMORY_REPLY
        # a bug in kumopy or a library it uses: keep it visible
        self.internal_error = e
        return ERR, encode(f"kumopy internal error in {what}: {type(e).__name__}: {e}")

    def _stop_reply(self, e: BaseException) -> tuple[Any, Any]:
        """(ERR, stop) for Ctrl-C or the watchdog's interrupt arriving in
        Python code that Lua called: the Lua side raises a stop the policy
        cannot catch."""
        kind = b"interrupt" if isinstance(e, KeyboardInterrupt) else b"budget"
        return ERR, self._set_stop(kind)

    # -- the sandbox's services ----------------------------------------------------

    def _host_call(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A Python service the sandbox calls: Lua errors (PatternError),
        failures and stops come back as (ERR, message) like a kumo
        function's."""
        limit = self.max_memory

        def call(*args: Any) -> Any:
            if limit is not None and self.over_limit():
                return _MEMORY_REPLY
            try:
                result = fn(*args)
            except _lpattern.PatternError as e:
                return ERR, encode(str(e))
            except BaseException as e:
                return self._entry_failed(e, "string pattern")
            if limit is None or self.fits(result):
                return result
            return _MEMORY_REPLY

        return call

    def _popen_call(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """io.popen's handle methods (their own failure protocol: (False,
        message)) within the memory limit."""
        limit = self.max_memory

        def call(*args: Any) -> Any:
            if limit is not None and self.over_limit():
                return False, MEMORY
            result = fn(*args)
            if limit is None or self.fits(result):
                return result
            return False, MEMORY

        return call

    # -- userdata dispatch (lupa attribute handlers and metamethods) ---------------

    # Each of these runs as a metamethod of every Python object Lua sees.  A
    # failure comes back as (ERR, message) so that the sandbox raises it as
    # a Lua string error at the policy's line, as kumod's userdata errors
    # are, rather than as a Python exception object.

    def _ud_index(self, obj: Any, key: Any) -> Any:
        limit = self.max_memory
        if limit is not None and self.rt.get_memory_used() > limit and self.over_limit():
            return _MEMORY_REPLY
        position = None
        try:
            if isinstance(obj, Userdata):
                if obj.pure_index:
                    # (the position lets Lua remember the answer in a batch)
                    result, position = obj.lua_lookup(self, key)  # type: ignore[arg-type]
                else:
                    result = obj.lua_index(self, key)  # type: ignore[arg-type]
            else:
                raise KumoError("attempt to index a userdata value")
        except BaseException as e:
            return self._entry_failed(e, "userdata index")
        if limit is not None and result.__class__ is bytes and not self.fits(result):
            return _MEMORY_REPLY
        if position is None:
            return result
        return result, None, position

    def _ud_newindex(self, obj: Any, key: Any, value: Any) -> Any:
        if self.over_limit():
            return _MEMORY_REPLY
        try:
            if isinstance(obj, Userdata):
                obj.lua_newindex(self, key, value)  # type: ignore[arg-type]
                return None
            raise KumoError("attempt to index a userdata value")
        except BaseException as e:
            return self._entry_failed(e, "userdata assignment")

    def _ud_len(self, obj: Any) -> Any:
        if self.over_limit():
            return _MEMORY_REPLY
        try:
            if isinstance(obj, Userdata):
                return obj.lua_len(self)  # type: ignore[arg-type]
            raise KumoError("attempt to get length of a userdata value")
        except BaseException as e:
            return self._entry_failed(e, "userdata length")

    def _ud_pairs(self, obj: Any) -> Any:
        if self.over_limit():
            return _MEMORY_REPLY
        try:
            if not isinstance(obj, Userdata):
                raise KumoError("userdata cannot be iterated with pairs")
            keys, values = [], []
            for k, v in obj.lua_items(self):  # type: ignore[arg-type]
                keys.append(k)
                values.append(v)
            return self.table_from(keys), self.table_from(values)
        except BaseException as e:
            return self._entry_failed(e, "userdata pairs")

    def _ud_tostring(self, obj: Any) -> Any:
        if self.over_limit():
            return _MEMORY_REPLY
        try:
            if isinstance(obj, Userdata):
                result = obj.lua_tostring(self)  # type: ignore[arg-type]
            else:
                result = encode(str(obj))
        except BaseException as e:
            return self._entry_failed(e, "userdata tostring")
        if self.fits(result):
            return result
        return _MEMORY_REPLY
