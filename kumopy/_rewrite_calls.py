"""The rewrite event's call paths for log replay (a mixin of `Policy`):
`_rewrite_code` offers one response on a path prepared once per Lua state,
`_rewrite_batch` offers many, BATCH records per crossing into Lua; both
decide what `Policy._offer_response` decides with raise_errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._errors import KumoError, PolicyError, PolicyInterrupted, hide_frames_of_policy_errors
from ._smtp import ConversionError, to_u16

if TYPE_CHECKING:
    from ._events import Handler
    from ._policy import CallResult
    from ._runtime import LuaState

__tracebackhide__ = hide_frames_of_policy_errors  # pytest: keep Lua errors' reports short

_REWRITE_EVENT = "smtp_client_rewrite_delivery_status"
_REWRITE_EVENT_B = _REWRITE_EVENT.encode()
#: records `_rewrite_batch` offers in one crossing into Lua
BATCH = 256


def handler_values(
    state: LuaState, values: Sequence[Any], event: str, handler: Handler
) -> tuple[Any, ...]:
    """The Python values of what `handler` returned for `event`; a value
    kumopy cannot convert is the handler's error, at its definition."""
    to_python = state.to_python
    try:
        return tuple([to_python(v) for v in values])
    except KumoError as e:
        raise PolicyError(
            f"cannot convert the value returned by the handler: {e}",
            event=event,
            file=handler.source,
            line=handler.line,
        ) from None


class RewriteCalls:
    """The prepared paths of smtp_client_rewrite_delivery_status."""

    #: the state `_rewrite_batch` is running records in
    batch_state: LuaState | None = None

    if TYPE_CHECKING:  # (Policy's)
        fresh_state_per_event: bool
        check_globals: bool
        _prepared: tuple[LuaState, Handler | None] | None

        @property
        def _state(self) -> LuaState | None: ...

        @_state.setter
        def _state(self, state: LuaState | None) -> None: ...

        def _current_state(self) -> LuaState: ...

        def dispatch(self, event: str, *args: Any) -> CallResult: ...

    def _rewrite_code(self, line: bytes, args: tuple[bytes | None, ...]) -> int | None:
        """The code `smtp_client_rewrite_delivery_status` returns for a
        non-250 response (its single line as UTF-8 bytes; `args` the event's
        other four arguments as Lua strings or nil), None to keep it: what
        `_offer_response` decides with `raise_errors`, on a call path
        prepared once per Lua state (log replay runs it for every record).
        `last_call` is not updated.  Raises `PolicyError`."""
        event = _REWRITE_EVENT
        if self.fresh_state_per_event or self.check_globals:
            try:
                result = self.dispatch(event, line, *args)
                return to_u16(result.value) if result.handled else None
            except ConversionError as e:
                raise PolicyError(str(e), event=event) from None
        state, handler = self._rewrite_handler()
        if handler is None:
            return None
        state.current_event = event  # (for the watchdog's reports)
        state.current_handler = handler
        try:
            values = state.invoke_event(_REWRITE_EVENT_B, handler.function, line, *args)
        except (PolicyError, PolicyInterrupted) as e:
            return self._rewrite_result(state, handler, e)
        return self._rewrite_result(state, handler, values)

    def _rewrite_handler(self) -> tuple[LuaState, Handler | None]:
        """The Lua state `_rewrite_code` runs in and its prepared handler."""
        state = self._state
        if state is None:
            state = self._current_state()
        prepared = self._prepared
        if prepared is None or prepared[0] is not state or prepared[1] is None:
            registry = state.handlers
            assert registry is not None
            handlers = registry.get(_REWRITE_EVENT)
            prepared = self._prepared = (state, handlers[0] if handlers else None)
        return prepared

    def _rewrite_result(self, state: LuaState, handler: Handler, outcome: Any) -> int | None:
        """The code for one call's outcome (its values, or the exception
        the call raised), with kumod's conversion checks.  Raises
        `PolicyError`."""
        event = _REWRITE_EVENT
        try:
            if isinstance(outcome, BaseException):
                if isinstance(outcome, PolicyError):
                    outcome.event = event
                    outcome.handler = handler.location
                raise outcome
            values = outcome
            if not values:
                return None
            value = values[0]
            if len(values) > 1 or not (value is None or value.__class__ is int):
                value = handler_values(state, values, event, handler)[0]
        except (PolicyError, PolicyInterrupted):
            # kumod drops a state whose event raised instead of reusing it
            if self._state is state:
                self._state = None
            raise
        try:
            return to_u16(value)
        except ConversionError as e:
            raise PolicyError(str(e), event=event) from None

    def _rewrite_batch(
        self, lines: Sequence[bytes], args: Sequence[tuple[bytes | None, ...]],
        hits: list[tuple[Any, int] | None] | None = None,
    ) -> list[int | None | PolicyError] | None:
        """`_rewrite_code` for many records, BATCH at a time in one
        crossing into Lua (each call still an outermost call of its own,
        with its budget): the code or the PolicyError of each record, in
        order.  None when this policy's options need one dispatch per call.
        While it runs, `batch_state.batch_at` is the index of the record
        being run (for observers).  With `hits` (one entry per line), the
        records run in batches set theirs as `invoke_event_batch` does
        (pure lookups are then remembered in Lua; the records run one at a
        time are left to the caller's observer)."""
        if self.fresh_state_per_event or self.check_globals:
            return None
        results: list[int | None | PolicyError] = []
        i, n = 0, len(lines)
        while i < n:
            state, handler = self._rewrite_handler()
            if handler is None:
                results.extend([None] * (n - i))
                break
            self.batch_state = state
            state.current_event = _REWRITE_EVENT
            state.current_handler = handler
            if not state.batchable:  # pragma: no cover - (only nested or isolated states)
                state.batch_at = i
                try:
                    results.append(self._rewrite_code(lines[i], args[i]))
                except PolicyError as e:
                    results.append(e)
                i += 1
                continue
            end = min(n, i + BATCH)
            flat: list[Any] = []
            for k in range(i, end):
                flat.append(lines[k])
                flat.extend(args[k])
            if state.max_memory is not None and not state.fits(tuple(flat)):
                # too much to push at once: one checked call per record
                for k in range(i, end):
                    self.batch_state, _ = self._rewrite_handler()
                    self.batch_state.batch_at = k
                    try:
                        results.append(self._rewrite_code(lines[k], args[k]))
                    except PolicyError as e:
                        results.append(e)
                i = end
                continue
            state.batch_at = i - 1
            found: list[Any] | None = None if hits is None else [None] * (end - i)
            try:
                codes, outcome = state.invoke_event_batch(
                    _REWRITE_EVENT_B, handler.function, flat, end - i, found
                )
            except PolicyError as e:
                last = max(state.batch_at, i)
                try:
                    self._rewrite_result(state, handler, e)
                except PolicyError:
                    pass
                results.extend([e] * (last + 1 - i))
                i = last + 1
                continue
            if found is not None and hits is not None:
                for k, hit in enumerate(found):
                    if hit is not None:
                        hits[i + k] = hit
            results.extend([None if c < 0 else c for c in codes])
            i += len(codes)
            if i < end:
                try:
                    results.append(self._rewrite_result(state, handler, outcome))
                except PolicyError as e:
                    results.append(e)
                i += 1
        return results
