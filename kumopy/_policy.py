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
such states to its pool).  The state belongs to the thread that uses it:
a thread that dispatches events (a `kumopy serve` worker) gets its own
state, loaded from the top of the policy, while the process-wide services
stay shared, as kumod's pool of Lua states shares one process.  With
`fresh_state_per_event=True` every event runs in a new state, which
exposes handlers that rely on globals set by an earlier event.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from . import _validate
from ._clock import Clock, SystemClock
from ._defaults import DEFAULT_BUDGET_SECONDS, DEFAULT_MAX_MEMORY, DEFAULT_SHARE_DIR, POLICY_DIR
from ._errors import (
    GlobalLeakError,
    KumoError,
    PolicyError,
    PolicyExit,
    PolicyInterrupted,
    PolicyMemoryError,
    hide_frames_of_policy_errors,
)
from ._events import (
    EVENTS,
    Handler,
    HandlerRegistry,
    UnknownEventError,
    closest_name,
    is_fired_by_kumod,
)
from ._kumo import catalogue, policy_catalogue
from ._kumo import constructors as _constructors
from ._kumo.config import ServerConfig
from ._kumo.modules import install as _install_modules
from ._rewrite_calls import RewriteCalls, handler_values
from ._runtime import LuaState, encode
from ._smtp import ConversionError, QueueName, Response, rewrite_failure_message, to_u16
from ._text import is_utf8
from ._validate import ProbeCall, ValidationReport

__all__ = [
    "DEFAULT_SHARE_DIR",
    "CallResult",
    "LogEntry",
    "Policy",
    "ProbeCall",
    "ValidationReport",
]


LOGGER = logging.getLogger("kumopy")
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


def _normalise(path: str) -> str:
    return os.path.normpath(path)


class Policy(RewriteCalls):
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
        package_dirs: Iterable[str | os.PathLike[str]] = (),
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
        network: bool = False,
        http_base: str | None = None,
        isolate_calls: bool = False,
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
        #: directories searched by `require` before the share directory
        #: (a debug build of kumod puts `assets` there)
        self.package_dirs = [str(d) for d in package_dirs]
        self.budget_seconds = budget_seconds
        self.max_memory = max_memory
        #: run each outermost Lua call in a helper thread, so that a call
        #: that cannot be stopped (C code past budget + grace) is abandoned
        #: with BudgetExceeded instead of blocking the caller for ever
        self.isolate_calls = isolate_calls
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
        #: per-thread: the Lua state in use
        self._local = threading.local()
        self._services_lock = threading.RLock()  # factories may need other services
        #: process-wide config epoch (kumo.bump_config_epoch)
        self.config_epoch = 0
        #: set by kumo.validation_failed()
        self.validation_failed = False
        #: what the policy logged and printed (when capture_output is set)
        self.output: list[LogEntry] = []
        self._captured = 0
        self._dropped = 0
        #: observers of every kumo.* call: fn(name, args)
        self.call_observers: list[Callable[[str, tuple[Any, ...]], None]] = []
        #: "file:line" of every policy line that used the global `kumo`
        #: instead of `require 'kumo'` (kumod has no such global)
        self.global_kumo_uses: list[str] = []
        self._services: dict[str, Any] = {}
        #: test doubles for kumo functions kumopy does not run (network
        #: clients): dotted name -> Python callable (see docs/library.md)
        self.fakes: dict[str, Callable[..., Any]] = _checked_fakes(fakes or {})
        #: whether the policy's DNS, HTTP and Redis calls may reach real
        #: servers (off by default: kumopy never touches the network)
        self.network = network
        #: route every kumo.http request to this loopback base URL (tests)
        self.http_base = http_base
        #: the HTTP requests the policy sent (kumopy._kumo.http.HttpRequestRecord)
        self.http_requests: list[Any] = []
        if dns_zones is not None:
            from ._kumo.dns import configure_test_resolver

            configure_test_resolver(self, dns_zones)
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

    # -- per-thread state ----------------------------------------------------

    @property
    def _state(self) -> LuaState | None:
        return getattr(self._local, "state", None)

    @_state.setter
    def _state(self, state: LuaState | None) -> None:
        self._local.state = state

    # -- process services --------------------------------------------------

    def service(self, name: str, factory: Callable[[], T]) -> T:
        """Process-wide state of a namespace module, created on first use."""
        try:
            return self._services[name]  # type: ignore[no-any-return]
        except KeyError:
            with self._services_lock:  # one instance even when threads race
                if name not in self._services:
                    self._services[name] = factory()
                return self._services[name]  # type: ignore[no-any-return]

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

    def package_roots(self) -> list[str]:
        """The directories `package.path` searches, in order, before Lua's
        defaults.  kumod's are the share directory then
        /opt/kumomta/etc/policy; unless `kumod_strict`, the policy's own
        directory (`policy_dir`) comes between them, so that a policy kept
        outside /opt/kumomta/etc/policy finds its modules without a path map."""
        roots = [*self.package_dirs, self.share_dir]
        if not self.kumod_strict and _normalise(self.policy_dir) != POLICY_DIR:
            roots.append(self.policy_dir)
        roots.append(POLICY_DIR)
        return roots

    def bump_config_epoch(self) -> None:
        self.config_epoch += 1

    def record_log(self, level: int, file: str, line: int, message: str) -> None:
        if self.capture_output:
            self._capture(LogEntry(level, file, line, message))

    def _capture(self, entry: LogEntry) -> None:
        """Append to `output`, which holds at most about max_memory bytes of
        text (default 512 MiB): a policy printing in a loop must not take
        the host's memory without bound.  Beyond that, one warning entry
        says that (and how much) was dropped."""
        size = len(entry.message) + 64
        self._captured += size
        limit = self.max_memory if self.max_memory is not None else DEFAULT_MAX_MEMORY
        if self._captured > limit:
            # `output` may have been cleared meanwhile: count what it holds
            self._captured = sum(len(e.message) + 64 for e in self.output) + size
            if self._captured > limit:
                self._captured -= size
                self._dropped += 1
                note = (
                    f"kumopy: captured output reached {limit} bytes; "
                    f"{self._dropped} later line(s) dropped"
                )
                last = self.output[-1] if self.output else None
                if last is not None and last.file == "kumopy" and last.message.startswith(
                    "kumopy: captured output reached"
                ):
                    self.output[-1] = LogEntry(logging.WARNING, "kumopy", 0, note)
                else:
                    self.output.append(LogEntry(logging.WARNING, "kumopy", 0, note))
                return
        self.output.append(entry)

    def _note_global_kumo(self, file: str, line: int) -> None:
        where = f"{file}:{line}"
        if where not in self.global_kumo_uses:
            self.global_kumo_uses.append(where)

    def _on_print(self, text: str, file: str, line: int) -> None:
        if self.capture_output:
            self._capture(LogEntry(logging.INFO, file, line, text, kind="print"))
        else:
            sys.stdout.write(text + "\n")

    # -- Lua states --------------------------------------------------------

    def _new_state(self) -> LuaState:
        state = LuaState(
            self,
            map_path=self.map_path,
            on_print=self._on_print,
            package_roots=self.package_roots(),
            max_memory=self.max_memory,
            budget_seconds=self.budget_seconds,
            isolate=self.isolate_calls,
        )
        state.handlers = HandlerRegistry()
        kumo = state.build_kumo((e.name, e.value) for e in policy_catalogue().values())
        _install_modules(state)
        if not self.kumod_strict:
            state.provide_global("kumo", kumo, self._note_global_kumo)
        if self.validating:
            state.globals[b"_VALIDATING_CONFIG"] = True
        if self.check_globals:
            state.watch_new_globals(
                lambda name, file, line: self._on_new_global(state, name, file, line)
            )
        if self.setup_state is not None:
            self.setup_state(state)
        chunk = state.load_file(str(self.path))
        try:
            state.chunk_values = state.invoke(chunk)
        except PolicyError as e:
            _explain(self, state, e)
            raise
        return state

    def _on_new_global(self, state: LuaState, name: str, file: str, line: int) -> None:
        # the list belongs to the state: its calls may run on a helper
        # thread (isolate_calls), and serve's threads each have their own
        if state.new_globals is not None and name not in self.allowed_globals:
            state.new_globals.append((name, file, line))

    def _invoke_handler(
        self, state: LuaState, event: str, handler: Handler, args: list[Any]
    ) -> tuple[Any, ...]:
        watch = self.check_globals and event != "main"
        outer = state.new_globals
        state.new_globals = [] if watch else None
        try:
            values = state.invoke(handler.function, *args)
            created = state.new_globals
        finally:
            state.new_globals = outer
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
        except (PolicyError, PolicyInterrupted):
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
        Raises `PolicyError` (with `.event` set) when a handler fails, and
        `UnknownEventError` when `event` is neither an event kumod fires nor
        a name the policy registered a handler for (a misspelling).
        """
        # the hot path of every event (log replay runs it per record): no
        # context manager, no per-call closures
        state = self._current_state()
        try:
            return self._dispatch_in(state, event, args)
        except (PolicyError, PolicyInterrupted):
            # kumod drops a state whose event raised instead of reusing it
            if self._state is state:
                self._state = None
            raise

    def _dispatch_in(self, state: LuaState, event: str, args: tuple[Any, ...]) -> CallResult:
        registry = state.handlers
        assert registry is not None
        handlers = registry.get(event)
        if not handlers and event not in EVENTS and not is_fired_by_kumod(event):
            # neither kumod nor the policy knows the name: a misspelling,
            # never a silent "no handler" (checked before the state counts
            # the event as dispatched)
            raise UnknownEventError(event, registry.events())
        state.set_current_event(event.encode("utf-8"))
        state.current_event = event
        to_lua = state.to_lua
        try:
            lua_args = [encode(a) if a.__class__ is str else to_lua(a) for a in args]
        except KumoError as e:
            raise PolicyError(
                f"cannot pass the arguments to the handler: {e}", event=event
            ) from None
        except PolicyMemoryError as e:
            raise PolicyMemoryError(
                f"cannot pass the arguments to the handler: {e}", event=event
            ) from None
        spec = EVENTS.get(event)
        multiple = spec is not None and spec.multiple
        check_globals = self.check_globals
        for handler in handlers:
            state.current_handler = handler
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
                _explain(self, state, e)
                raise
            except PolicyInterrupted as e:
                e.event = event
                raise
            if values or not multiple:
                converted = handler_values(state, values, event, handler)
                self.last_call = CallResult(event, args, True, converted, handler)
                return self.last_call
        self.last_call = CallResult(event, args, False)
        return self.last_call

    def call(self, event: str, *args: Any) -> Any:
        """Fire `event` and return the handler's first value as Python
        (None for nil, for no value, or when no handler is registered for
        an event kumod fires).  Raises like `dispatch`, so a misspelt event
        name is an `UnknownEventError`, never None."""
        return self.dispatch(event, *args).value


    # -- kumod entry points ------------------------------------------------

    def validate(self, *, probe: bool = True) -> ValidationReport:
        """What `kumod --validate` does after loading: run the `pre_init`,
        `init` and `validate_config` handlers, then fail if any raised or
        called `kumo.validation_failed()`.  Configuration calls (listeners,
        spools, logs, ...) are checked and recorded, never started; the
        report's `server` (and `self.server_config`) says what would have
        been started.  Load the policy with `validating=True` so
        `_VALIDATING_CONFIG` is set while its top level runs.

        Then, unless `probe` is false, the probe calls kumod does not make
        (`kumopy._validate.PROBES`): each probed event the policy handles
        is fired once with documented arguments, so that rules which cannot
        load or compile fail validation instead of every later call; they
        are listed in the report's `probes`, and their failures are errors."""
        return _validate.validate(self, probe=probe)

    def _registered_by_helpers(self, event: str) -> bool:
        """Whether every handler of `event` comes from the share directory
        (KumoMTA's policy-extras helpers)."""
        handlers = self.handlers(event)
        share = self.share_dir.rstrip("/") + "/"
        return bool(handlers) and all(
            h.source.startswith(share) or "/policy-extras/" in h.source for h in handlers
        )

    # -- configuration resolution (kumopy._kumo.config / .constructors) -------

    @property
    def server_config(self) -> ServerConfig:
        """What the policy's start-up handlers configured so far (listeners,
        spools, logs, hooks, settings); filled by `validate()`."""
        return self.service("server_config", ServerConfig)

    def _resolve(self, event: str, fn: Callable[[LuaState], T]) -> T:
        with self._using_state() as state:
            state.set_current_event(event.encode("utf-8"))
            try:
                return fn(state)
            except KumoError as e:
                raise PolicyError(str(e), event=event) from None
            except PolicyError as e:
                _explain(self, state, e)
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
        except (GlobalLeakError, PolicyExit):
            # a test-harness check, or os.exit (kumod's process would end):
            # not a handler failure kumod would log
            raise
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

    def _rewrite_failed(self, error: str) -> None:
        message = rewrite_failure_message(error)
        LOGGER.error("%s", message)
        if self.capture_output:
            self.output.append(LogEntry(logging.ERROR, "kumod", 0, message))


def _checked_fakes(fakes: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """`fakes` by the name the kumo function looks itself up under (without
    `kumo.`); a name that cannot be faked is an error, so a typo cannot
    silently leave the real (unsupported) function in place."""
    from ._kumo.fakes import FAKEABLE

    out: dict[str, Callable[..., Any]] = {}
    for name, fake in fakes.items():
        short = name[len("kumo."):] if name.startswith("kumo.") else name
        if short not in FAKEABLE:
            listed = ", ".join(FAKEABLE)
            if short in catalogue():
                raise ValueError(f"fakes: kumo.{short} cannot be faked; the functions that "
                                 f"can be are the network clients: {listed}")
            hint = closest_name(short, FAKEABLE)
            also = f" (did you mean '{hint}'?)" if hint is not None else ""
            raise ValueError(f"fakes: {name!r} is not a kumo function{also}; the functions "
                             f"that can be faked are: {listed}")
        if not callable(fake):
            raise TypeError(f"fakes: the fake for {name!r} is not callable")
        out[short] = fake
    return out


def _explain(policy: Policy, state: LuaState, e: PolicyError) -> None:
    """Append kumopy's explanation to a plain Lua error (kumopy._kumo.hints)."""
    if type(e).__name__ in ("BudgetExceeded", "PolicyMemoryError", "GlobalLeakError"):
        return
    from ._kumo.hints import explain

    e.message = explain(policy, e.message, e.traceback, e.file, state)

