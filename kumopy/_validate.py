"""What `Policy.validate()` and `kumopy validate` check.

First what `kumod --validate` does: load the policy with
`_VALIDATING_CONFIG` set, run its `pre_init`, `init` and `validate_config`
handlers, and fail if one raised or called `kumo.validation_failed()`.

kumod stops there, so a policy whose rules cannot work passes it: the rules
file is missing, or holds a pattern the Rust regex crate refuses, and every
delivery attempt then fails.  Such rules are mostly loaded lazily, on the
first call of a handler.  kumopy therefore adds *probe calls*: after the
start-up handlers, each event of `PROBES` that the policy handles is fired
once, in the same state, with fixed, documented arguments, and a failure
there (a loader or rule map that fails, or a result kumod cannot use) is an
error like a failing `init`.  The probes are listed in the report;
`validate(probe=False)` (`kumopy validate --no-probe`) skips them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._errors import GlobalLeakError, PolicyError
from ._events import event_spec, suggest_event
from ._smtp import ConversionError, to_u16

if TYPE_CHECKING:
    from ._policy import CallResult, Policy

__all__ = ["PROBES", "Probe", "ProbeCall", "ValidationReport", "run_probes", "validate"]


@dataclass(frozen=True)
class ProbeCall:
    """One probe call made by `Policy.validate()`: the event, the arguments
    the handler received, and what it returned (`value`) or the error."""

    event: str
    args: tuple[Any, ...]
    ok: bool
    value: Any = None
    error: str | None = None

    def call_text(self) -> str:
        """The call as Lua would write it: `event('text', nil, 42)`."""
        return f"{self.event}({', '.join(_lua_text(a) for a in self.args)})"

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.event, "args": list(self.args), "ok": self.ok,
                "value": self.value, "error": self.error}


@dataclass
class ValidationReport:
    """The outcome of `Policy.validate()` (kumod --validate, plus probes)."""

    ok: bool
    events: list[str]
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: what the start-up handlers asked kumod to start (listeners, spools,
    #: logs, ...), as `ServerConfig.to_dict()`
    server: dict[str, Any] = field(default_factory=dict)
    #: the probe calls made after the start-up handlers (none with
    #: `probe=False`, or when a start-up handler failed)
    probes: list[ProbeCall] = field(default_factory=list)


@dataclass(frozen=True)
class Probe:
    """An event fired once after the start-up handlers, if the policy
    handles it: `args` are what the handler receives; `check` turns the
    result into what kumod would use, raising ValueError where kumod fails."""

    event: str
    args: tuple[Any, ...]
    check: Callable[[Any], Any] | None = None


#: The response the rewrite probe offers: a deferral no rule should need
#: to match; what matters is that loading and compiling the rules works.
PROBE_RESPONSE = "451 4.0.0 kumopy validate probe"

#: Every probe, in order.  kumod passes smtp_client_rewrite_delivery_status
#: (response, domain, tenant, campaign, routing_domain) and converts the
#: result to a u16 status code (nil keeps the response).
PROBES: tuple[Probe, ...] = (
    Probe(
        "smtp_client_rewrite_delivery_status",
        (PROBE_RESPONSE, "example.com", None, None, "example.com"),
        to_u16,
    ),
)

#: kumo functions that read a data file (their first argument is its path)
_LOADERS = frozenset({
    "json_load", "toml_load", "yaml_load", "serde.json_load", "serde.toml_load",
    "serde.yaml_load",
})


def validate(policy: Policy, *, probe: bool = True) -> ValidationReport:
    """`Policy.validate()`: the start-up handlers, then (unless `probe` is
    false, or a handler failed) the probe calls."""
    errors: list[str] = []
    # read before any handler runs: a failing handler drops the state,
    # and asking afterwards would run the policy's top level again
    events = policy.events()
    helper_events = {name for name in events if policy._registered_by_helpers(name)}
    loaded: list[str] = []
    with _watch_loaders(policy, loaded):
        if _is_tsa_policy(events):
            from ._kumo.tsa import start_daemon

            errors.extend(start_daemon(policy))
        else:
            for event in ("pre_init", "init", "validate_config"):
                try:
                    policy.dispatch(event)
                except PolicyError as e:
                    errors.append(str(e))
                    break
    if policy.validation_failed:
        errors.append("Validation failed (kumo.validation_failed() was called)")
    # the events KumoMTA's own helpers register (kumo.tsa.config.monitor,
    # make.webhook.log_hook, ...) and the make.NAME of a configured log
    # hook are fired by kumod or the helpers: not the user's mistakes
    hooks = {f"make.{e['params'].get('name')}" for e in policy.server_config.log_hooks}
    warnings = [
        w
        for name in events
        if name not in helper_events and name not in hooks and (w := _event_warning(name))
    ]
    warnings.extend(
        f"{where}: uses the global `kumo`, which kumod does not define; "
        "add `local kumo = require 'kumo'` at the top of the file"
        for where in policy.global_kumo_uses
    )
    server = policy.server_config
    warnings.extend(server.warnings)
    report = ValidationReport(not errors, events, warnings, errors, server.to_dict())
    if probe and report.ok:
        run_probes(policy, report, loaded)
    return report


def run_probes(policy: Policy, report: ValidationReport, loaded: list[str] | None = None) -> None:
    """Make the probe calls the policy has handlers for, adding each to
    `report.probes` and each failure to `report.errors`."""
    loaded = [] if loaded is None else loaded
    for spec in PROBES:
        if not policy.handlers(spec.event):
            continue
        before = len(loaded)
        with _watch_loaders(policy, loaded):
            call = _probe(policy, spec)
        report.probes.append(call)
        if call.error is not None:
            report.errors.append(_probe_error(policy, call, loaded[before:] or loaded))
            report.ok = False


def _probe(policy: Policy, spec: Probe) -> ProbeCall:
    try:
        result: CallResult = policy.dispatch(spec.event, *spec.args)
    except GlobalLeakError:
        raise  # a test-harness check, not a failure of the policy
    except PolicyError as e:
        return ProbeCall(spec.event, spec.args, False, error=str(e))
    value = result.value
    if spec.check is not None and result.handled:
        try:
            value = spec.check(value)
        except ConversionError as e:
            where = result.handler.location if result.handler is not None else policy.path
            return ProbeCall(
                spec.event, spec.args, False, value,
                f"{where}: the handler returned {_lua_text(value)}, which kumod cannot use: "
                f"{e} (in event '{spec.event}')",
            )
    return ProbeCall(spec.event, spec.args, True, value)


def _probe_error(policy: Policy, call: ProbeCall, loaded: list[str]) -> str:
    message = f"{call.error} during the probe call {call.call_text()}"
    if "compiling rules: " in (call.error or "") and loaded:
        # name the rules file too: that is what the user has to fix
        shown = []
        for path in dict.fromkeys(loaded):
            local = policy.map_path(path)
            same = os.path.normpath(local) == os.path.normpath(path)
            shown.append(path if same else f"{path} (read from {local})")
        message += f"; the rules came from {', '.join(shown)}"
    return message


@contextmanager
def _watch_loaders(policy: Policy, into: list[str]) -> Iterator[None]:
    """Record the paths the kumo loaders read inside the block."""

    def observe(name: str, args: tuple[Any, ...]) -> None:
        if name in _LOADERS and args and isinstance(args[0], str):
            into.append(args[0])

    policy.call_observers.append(observe)
    try:
        yield
    finally:
        policy.call_observers.remove(observe)


def _lua_text(value: Any) -> str:
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return repr(value)


def _is_tsa_policy(events: list[str]) -> bool:
    """A tsa-daemon policy registers its events and none of kumod's start-up
    events (kumod never fires tsa_init; tsa-daemon never fires init)."""
    return bool({"tsa_init", "tsa_load_shaping_data"} & set(events)) and not (
        {"init", "pre_init"} & set(events)
    )


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
