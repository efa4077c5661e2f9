"""`Policy`: one simulated kumod process running one policy file.

kumod runs a policy in a pool of Lua states: each state executes the whole
policy file from the top, has its own globals and its own `kumo.on`
registrations, while memoize caches, the config epoch and the validation
flag belong to the process.  A `Policy` is that process: it owns the
process-wide services and the Lua state(s), and dispatches events with
kumod's rules.  Two `Policy` objects never share anything, so tests stay
isolated.

By default one Lua state is reused for every event, as a pool of one; a
state whose handler raised is dropped and replaced (kumod does not return
such states to its pool).  With `fresh_state_per_event=True` every event
runs in a new state, which exposes handlers that rely on globals set by an
earlier event.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ._clock import Clock, SystemClock
from ._errors import GlobalLeakError, KumoError, PolicyError, hide_frames_of_policy_errors
from ._events import EVENTS, Handler, HandlerRegistry, event_spec, suggest_event
from ._kumo import catalogue
from ._kumo import constructors as _constructors
from ._kumo.config import ServerConfig
from ._runtime import LuaState, encode
from ._smtp import ConversionError, QueueName, Response, rewrite_failure_message, to_u16
from ._text import is_utf8

__all__ = ["DEFAULT_SHARE_DIR", "CallResult", "LogEntry", "Policy", "ValidationReport"]

DEFAULT_SHARE_DIR = "/opt/kumomta/share"
DEFAULT_BUDGET_SECONDS = 5.0
DEFAULT_MAX_MEMORY = 512 * 1024 * 1024

LOGGER = logging.getLogger("kumopy")
_REWRITE_EVENT = "smtp_client_rewrite_delivery_status"
_REWRITE_EVENT_B = _REWRITE_EVENT.encode()
__tracebackhide__ = hide_frames_of_policy_errors  # pytest: keep Lua errors' reports short
T = TypeVar("T")


@dataclass(frozen=True)
class LogEntry:
    """One line the policy logged (kumo.log_*) or printed."""

    level: int
    file: str
    line: int
    message: str
    kind: str = "log"  # "log" or "print"

    @property
    def levelname(self) -> str:
        return "PRINT" if self.kind == "print" else logging.getLevelName(self.level)

    def __str__(self) -> str:
        return f"{self.levelname} {self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class CallResult:
    """What dispatching one event produced.

    `handled` is kumod's "handler_was_defined": False when no handler is
    registered, or every handler of a Multiple event returned nothing.
    `values` are the Lua values the deciding handler returned (converted to
    Python); `handler` is that handler.
    """

    event: str
    args: tuple[Any, ...]
    handled: bool
    values: tuple[Any, ...] = ()
    handler: Handler | None = field(default=None, compare=False)

    @property
    def value(self) -> Any:
        """The first returned value, or None (nil / nothing)."""
        return self.values[0] if self.values else None


@dataclass
class ValidationReport:
    """The outcome of `Policy.validate()` (kumod --validate)."""

    ok: bool
    events: list[str]
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: what the start-up handlers asked kumod to start (listeners, spools,
    #: logs, ...), as `ServerConfig.to_dict()`
    server: dict[str, Any] = field(default_factory=dict)


def _normalise(path: str) -> str:
    return os.path.normpath(path)


class Policy:
    """A KumoMTA policy loaded into kumopy (one simulated kumod process)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        share_dir: str | os.PathLike[str] | None = None,
        policy_dir: str | os.PathLike[str] | None = None,
        path_map: Mapping[str, str | os.PathLike[str]] | None = None,
        clock: Clock | None = None,
        kumod_strict: bool = False,
        budget_seconds: float | None = DEFAULT_BUDGET_SECONDS,
        max_memory: int | None = DEFAULT_MAX_MEMORY,
        fresh_state_per_event: bool = False,
        validating: bool = False,
        capture_output: bool = False,
        setup_state: Callable[[LuaState], None] | None = None,
        check_globals: bool = False,
        allowed_globals: Iterable[str] = (),
        dns_zones: Iterable[str | Mapping[str, Any]] | None = None,
        fakes: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        self.path = Path(path)
        self.share_dir = str(share_dir) if share_dir is not None else DEFAULT_SHARE_DIR
        self.policy_dir = (
            str(policy_dir) if policy_dir is not None else str(self.path.resolve().parent)
        )
        self.path_map = {_normalise(str(k)): str(v) for k, v in (path_map or {}).items()}
        if share_dir is not None and _normalise(self.share_dir) != DEFAULT_SHARE_DIR:
            # a local copy of KumoMTA's share directory also answers the
            # absolute /opt/kumomta/share/... paths that policy-extras
            # helpers open (shaping.toml, for one), unless mapped otherwise
            self.path_map.setdefault(DEFAULT_SHARE_DIR, self.share_dir)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.kumod_strict = kumod_strict
        self.budget_seconds = budget_seconds
        self.max_memory = max_memory
        self.fresh_state_per_event = fresh_state_per_event
        self.validating = validating
        self.capture_output = capture_output
        #: called with every new Lua state once `kumo` is installed, before
        #: the policy file runs (test harnesses install hooks with it)
        self.setup_state = setup_state
        #: make dispatch() raise GlobalLeakError when a handler (of any
        #: event but `main`) creates a global not in `allowed_globals`
        self.check_globals = check_globals
        self.allowed_globals = frozenset(allowed_globals)
        #: the result of the most recent dispatch() that returned
        self.last_call: CallResult | None = None
        self._new_globals: list[tuple[str, str, int]] | None = None
        #: process-wide config epoch (kumo.bump_config_epoch)
        self.config_epoch = 0
        #: set by kumo.validation_failed()
        self.validation_failed = False
        #: what the policy logged and printed (when capture_output is set)
        self.output: list[LogEntry] = []
        #: observers of every kumo.* call: fn(name, args)
        self.call_observers: list[Callable[[str, tuple[Any, ...]], None]] = []
        #: "file:line" of every policy line that used the global `kumo`
        #: instead of `require 'kumo'` (kumod has no such global)
        self.global_kumo_uses: list[str] = []
        self._services: dict[str, Any] = {}
        #: test doubles for kumo functions kumopy does not run (network
        #: clients): dotted name -> Python callable (see docs/library.md)
        self.fakes: dict[str, Callable[..., Any]] = dict(fakes or {})
        if dns_zones is not None:
            from ._kumo.dns import configure_test_resolver

            configure_test_resolver(self, dns_zones)
        self._state: LuaState | None = None
        #: (state, handler) of `_rewrite_code`'s prepared call path
        self._prepared: tuple[LuaState, Handler | None] | None = None
        self._state = self._new_state()

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        share_dir: str | os.PathLike[str] | None = None,
        path_map: Mapping[str, str | os.PathLike[str]] | None = None,
        clock: Clock | None = None,
        kumod_strict: bool = False,
        **options: Any,
    ) -> Policy:
        """Load a policy file: run its top level and register its handlers.

        `path_map` maps absolute paths the policy names (a file, or a
        directory prefix) to local paths, for every loader (kumo.json_load
        and the other serde loaders, require, dofile, loadfile, io.open).
        Raises `PolicyError` when the policy fails to load.
        """
        return cls(
            path,
            share_dir=share_dir,
            path_map=path_map,
            clock=clock,
            kumod_strict=kumod_strict,
            **options,
        )

    def __repr__(self) -> str:
        return f"<Policy {str(self.path)!r}>"

    # -- process services --------------------------------------------------

    def service(self, name: str, factory: Callable[[], T]) -> T:
        """Process-wide state of a namespace module, created on first use."""
        try:
            return self._services[name]  # type: ignore[no-any-return]
        except KeyError:
            value = self._services[name] = factory()
            return value

    def map_path(self, path: str) -> str:
        """The local path for a path named by the policy."""
        if not self.path_map:
            return path
        norm = _normalise(path)
        hit = self.path_map.get(norm)
        if hit is not None:
            return hit
        parent = norm
        while True:
            head = os.path.dirname(parent)
            if head == parent:
                return path
            parent = head
            target = self.path_map.get(parent)
            if target is not None:
                return os.path.join(target, os.path.relpath(norm, parent))

    def bump_config_epoch(self) -> None:
        self.config_epoch += 1

    def record_log(self, level: int, file: str, line: int, message: str) -> None:
        if self.capture_output:
            self.output.append(LogEntry(level, file, line, message))

    def _note_global_kumo(self, file: str, line: int) -> None:
        where = f"{file}:{line}"
        if where not in self.global_kumo_uses:
            self.global_kumo_uses.append(where)

    def _on_print(self, text: str, file: str, line: int) -> None:
        if self.capture_output:
            self.output.append(LogEntry(logging.INFO, file, line, text, kind="print"))
        else:
            sys.stdout.write(text + "\n")

    # -- Lua states --------------------------------------------------------

    def _new_state(self) -> LuaState:
        state = LuaState(
            self,
            map_path=self.map_path,
            on_print=self._on_print,
            package_roots=[self.share_dir, self.policy_dir],
            max_memory=self.max_memory,
            budget_seconds=self.budget_seconds,
        )
        state.handlers = HandlerRegistry()
        kumo = state.build_kumo((e.name, e.value) for e in catalogue().values())
        if not self.kumod_strict:
            state.provide_global("kumo", kumo, self._note_global_kumo)
        if self.validating:
            state.globals[b"_VALIDATING_CONFIG"] = True
        if self.check_globals:
            state.watch_new_globals(self._on_new_global)
        if self.setup_state is not None:
            self.setup_state(state)
        chunk = state.load_file(str(self.path))
        state.chunk_values = state.invoke(chunk)
        return state

    def _on_new_global(self, name: str, file: str, line: int) -> None:
        if self._new_globals is not None and name not in self.allowed_globals:
            self._new_globals.append((name, file, line))

    def _invoke_handler(
        self, state: LuaState, event: str, handler: Handler, args: list[Any]
    ) -> tuple[Any, ...]:
        watch = self.check_globals and event != "main"
        outer = self._new_globals
        self._new_globals = [] if watch else None
        try:
            values = state.invoke(handler.function, *args)
            created = self._new_globals
        finally:
            self._new_globals = outer
        if created:
            names = tuple(dict.fromkeys(name for name, _, _ in created))
            _, file, line = created[0]
            raise GlobalLeakError(
                names, event=event, handler=handler.location, file=file, line=line
            )
        return values

    def _current_state(self) -> LuaState:
        if self._state is None or self.fresh_state_per_event:
            self._state = self._new_state()
        return self._state

    @contextmanager
    def _using_state(self) -> Iterator[LuaState]:
        state = self._current_state()
        try:
            yield state
        except PolicyError:
            # kumod drops a state whose event raised instead of reusing it
            if self._state is state:
                self._state = None
            raise

    @property
    def state(self) -> LuaState:
        """The Lua state the next event will run in (loads one if needed)."""
        return self._current_state()

    # -- events ------------------------------------------------------------

    def handlers(self, event: str) -> list[Handler]:
        """The handlers registered for `event`, in registration order."""
        registry = self.state.handlers
        assert registry is not None
        return registry.get(event)

    def events(self) -> list[str]:
        """Every event name the policy registered a handler for."""
        registry = self.state.handlers
        assert registry is not None
        return registry.events()

    def dispatch(self, event: str, *args: Any) -> CallResult:
        """Fire `event` with kumod's rules and report what happened.

        Multiple events call their handlers in order until one returns at
        least one value; a Single event's handler result is used as is.
        Raises `PolicyError` (with `.event` set) when a handler fails.
        """
        # the hot path of every event (log replay runs it per record): no
        # context manager, no per-call closures
        state = self._current_state()
        try:
            return self._dispatch_in(state, event, args)
        except PolicyError:
            # kumod drops a state whose event raised instead of reusing it
            if self._state is state:
                self._state = None
            raise

    def _dispatch_in(self, state: LuaState, event: str, args: tuple[Any, ...]) -> CallResult:
        state.globals[b"_KUMO_CURRENT_EVENT"] = event.encode("utf-8")
        registry = state.handlers
        assert registry is not None
        handlers = registry.get(event)
        to_lua = state.to_lua
        lua_args = [encode(a) if a.__class__ is str else to_lua(a) for a in args]
        spec = EVENTS.get(event)
        multiple = spec is not None and spec.multiple
        check_globals = self.check_globals
        for handler in handlers:
            try:
                if check_globals:
                    values = self._invoke_handler(state, event, handler, lua_args)
                else:
                    values = state.invoke(handler.function, *lua_args)
            except GlobalLeakError:
                raise
            except PolicyError as e:
                e.event = event
                e.handler = handler.location
                raise
            if values or not multiple:
                to_python = state.to_python
                try:
                    converted = tuple([to_python(v) for v in values])
                except KumoError as e:
                    raise PolicyError(
                        f"cannot convert the value returned by the handler: {e}",
                        event=event,
                        file=handler.source,
                        line=handler.line,
                    ) from None
                self.last_call = CallResult(event, args, True, converted, handler)
                return self.last_call
        self.last_call = CallResult(event, args, False)
        return self.last_call

    def call(self, event: str, *args: Any) -> Any:
        """Fire `event` and return the handler's first value as Python
        (None for nil, for no value, or when no handler is registered)."""
        return self.dispatch(event, *args).value


    # -- kumod entry points ------------------------------------------------

    def validate(self) -> ValidationReport:
        """What `kumod --validate` does after loading: run the `pre_init`,
        `init` and `validate_config` handlers, then fail if any raised or
        called `kumo.validation_failed()`.  Configuration calls (listeners,
        spools, logs, ...) are checked and recorded, never started; the
        report's `server` (and `self.server_config`) says what would have
        been started.  Load the policy with `validating=True` so
        `_VALIDATING_CONFIG` is set while its top level runs."""
        errors: list[str] = []
        # read before any handler runs: a failing handler drops the state,
        # and asking afterwards would run the policy's top level again
        events = self.events()
        for event in ("pre_init", "init", "validate_config"):
            try:
                self.dispatch(event)
            except PolicyError as e:
                errors.append(str(e))
                break
        if self.validation_failed:
            errors.append("Validation failed (kumo.validation_failed() was called)")
        warnings = [w for name in events if (w := _event_warning(name))]
        warnings.extend(
            f"{where}: uses the global `kumo`, which kumod does not define; "
            "add `local kumo = require 'kumo'` at the top of the file"
            for where in self.global_kumo_uses
        )
        server = self.server_config
        warnings.extend(server.warnings)
        return ValidationReport(not errors, events, warnings, errors, server.to_dict())

    # -- configuration resolution (kumopy._kumo.config / .constructors) -------

    @property
    def server_config(self) -> ServerConfig:
        """What the policy's start-up handlers configured so far (listeners,
        spools, logs, hooks, settings); filled by `validate()`."""
        return self.service("server_config", ServerConfig)

    def _resolve(self, event: str, fn: Callable[[LuaState], T]) -> T:
        with self._using_state() as state:
            state.globals[b"_KUMO_CURRENT_EVENT"] = event.encode("utf-8")
            try:
                return fn(state)
            except KumoError as e:
                raise PolicyError(str(e), event=event) from None
            except PolicyError as e:
                if e.event is None:
                    e.event = event
                registry = state.handlers
                handlers = registry.get(event) if registry is not None else []
                if getattr(e, "handler", None) is None and len(handlers) == 1:
                    e.handler = handlers[0].location
                raise

    def resolve_queue_config(self, queue: QueueName | str) -> dict[str, Any]:
        """The queue configuration kumod would use for `queue`
        (`campaign:tenant@domain!routing_domain`): the get_queue_config
        chain called with the parsed components, defaults filled in, as
        plain data (durations as humantime strings, unset fields None)."""
        name = queue.format() if isinstance(queue, QueueName) else queue
        return self._resolve(
            "get_queue_config",
            lambda st: _constructors.sorted_keys(
                _constructors.QUEUE_CONFIG.ser(_constructors._queue_config_data(st, name))
            ),
        )

    def resolve_egress_path(
        self, routing_domain: str, source: str = "unspecified", site_name: str | None = None
    ) -> dict[str, Any]:
        """get_egress_path_config(routing_domain, source, site_name) with
        defaults filled in.  Without `site_name`, the domain's MX site name
        when the fake resolver answers, else the domain itself (what
        KumoMTA's resolve-shaping-domain script does)."""
        site = site_name if site_name is not None else self.site_name(routing_domain)
        return self._resolve(
            "get_egress_path_config",
            lambda st: _constructors.sorted_keys(
                _constructors.EGRESS_PATH.ser(
                    _constructors.egress_path_data(st, routing_domain, source, site)
                )
            ),
        )

    def site_name(self, domain: str) -> str:
        """The MX site name of `domain` from the fake resolver, or the
        domain itself when the lookup fails (kumopy never queries real DNS)."""
        from ._kumo import dns

        try:
            return dns.resolve_mx(self, domain).site_name
        except KumoError:
            return domain

    def resolve_egress_source(self, name: str) -> dict[str, Any]:
        """get_egress_source(name) as plain data ("unspecified" is built in)."""
        return self._resolve(
            "get_egress_source",
            lambda st: _constructors.EGRESS_SOURCE.ser(_constructors.egress_source_data(st, name)),
        )

    def resolve_egress_pool(self, name: str | None) -> dict[str, Any]:
        """get_egress_pool(name) as plain data; every member source is
        resolved too, as kumod does."""
        return self._resolve(
            "get_egress_pool",
            lambda st: _constructors.EGRESS_POOL.ser(_constructors.egress_pool_data(st, name)),
        )

    def listener_domain(
        self, domain: str, listener: str = "0.0.0.0:25", conn_meta: Any = None
    ) -> dict[str, Any] | None:
        """get_listener_domain(domain, listener, conn_meta): the
        make_listener_domain result as plain data, or None when there is no
        handler or it returned nil."""
        return self._resolve(
            "get_listener_domain",
            lambda st: _constructors.listener_domain_data(st, domain, listener, conn_meta),
        )

    def run_script(self, *args: str) -> CallResult:
        """What `kumod --script` does: call the `main` handler with each
        argument as a separate string (pre_init and init do not run)."""
        return self.dispatch("main", *args)

    def rewrite_delivery_status(
        self,
        response: Response | str,
        queue: QueueName | str = "example.com",
        *,
        raise_errors: bool = False,
    ) -> Response:
        """Offer a remote response to `smtp_client_rewrite_delivery_status`
        exactly as kumod's SMTP dispatcher does.

        `response` is a `Response` or SMTP reply text (single or
        multi-line); `queue` the message's queue name
        (`campaign:tenant@domain!routing_domain`).  A 250 is never offered.
        The handler receives the single-line response, domain, tenant,
        campaign and routing domain (the domain when there is none); nil or
        no value keeps the response, a code (as mlua converts it to u16)
        replaces it with ` (kumomta: status was rewritten from X -> Y)`
        appended (`rewritten_from` set).  A handler error or an
        unconvertible result is logged and the response kept, as kumod
        does, unless `raise_errors` is set.
        """
        resp = Response.parse(response) if isinstance(response, str) else response
        q = QueueName.parse(queue) if isinstance(queue, str) else queue
        if resp.code == 250:
            return resp
        return self._offer_response(resp, resp.to_single_line(), q, raise_errors)

    def _offer_response(
        self, resp: Response, line: str, q: QueueName, raise_errors: bool
    ) -> Response:
        """rewrite_delivery_status for a non-250 `resp` whose single line
        the caller already has (log replay computes it once per record)."""
        if not is_utf8(line):
            # kumod's SMTP client refuses a reply line that is not UTF-8 (a
            # protocol error, never offered to this event)
            LOGGER.warning(
                "response is not valid UTF-8; kumod would fail the connection instead of "
                "offering it to smtp_client_rewrite_delivery_status: %r",
                line.encode("utf-8", "surrogateescape"),
            )
            return resp
        event = "smtp_client_rewrite_delivery_status"
        try:
            result = self.dispatch(event, line, *q.rewrite_event_args())
            code = to_u16(result.value) if result.handled else None
        except GlobalLeakError:
            raise  # a test-harness check, not a handler failure kumod would log
        except PolicyError as e:
            if raise_errors:
                raise
            self._rewrite_failed(str(e))
            return resp
        except ConversionError as e:
            if raise_errors:
                raise PolicyError(str(e), event=event) from None
            self._rewrite_failed(str(e))
            return resp
        return resp if code is None else resp.with_code(code)

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
        state = self._state
        if state is None:
            state = self._current_state()
        prepared = self._prepared
        if prepared is None or prepared[0] is not state or prepared[1] is None:
            registry = state.handlers
            assert registry is not None
            handlers = registry.get(event)
            prepared = self._prepared = (state, handlers[0] if handlers else None)
        handler = prepared[1]
        if handler is None:
            return None
        try:
            try:
                values = state.invoke_event(_REWRITE_EVENT_B, handler.function, line, *args)
            except PolicyError as e:
                e.event = event
                e.handler = handler.location
                raise
            if not values:
                return None
            value = values[0]
            if len(values) > 1 or not (value is None or value.__class__ is int):
                to_python = state.to_python
                try:
                    value = tuple([to_python(v) for v in values])[0]
                except KumoError as e:
                    raise PolicyError(
                        f"cannot convert the value returned by the handler: {e}",
                        event=event,
                        file=handler.source,
                        line=handler.line,
                    ) from None
        except PolicyError:
            # kumod drops a state whose event raised instead of reusing it
            if self._state is state:
                self._state = None
            raise
        try:
            return to_u16(value)
        except ConversionError as e:
            raise PolicyError(str(e), event=event) from None

    def _rewrite_failed(self, error: str) -> None:
        message = rewrite_failure_message(error)
        LOGGER.error("%s", message)
        if self.capture_output:
            self.output.append(LogEntry(logging.ERROR, "kumod", 0, message))


def _event_warning(name: str) -> str | None:
    if event_spec(name) is not None:
        return None
    hint = suggest_event(name)
    if hint is not None:
        return f"'{name}' is not a KumoMTA event (did you mean '{hint}'?)"
    return (
        f"'{name}' is not a KumoMTA event; it only runs if something fires it "
        "(kumo.spawn_task, a custom_lua constructor, a log hook)"
    )
