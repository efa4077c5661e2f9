"""The event catalogue and the per-state handler registry.

KumoMTA's rules (crates/kumo-server-common `kumo.on`, crates/config
`CallbackSignature::call`):

* seven events accept several handlers ("Multiple"); every other name,
  including names kumod has never heard of, accepts one ("Single");
* registering a second handler for a Single event is an error naming where
  the first handler was defined;
* `kumo.on` while an event other than `main` is being (or has been)
  dispatched in the state is an error;
* Multiple handlers run in registration order until one returns at least
  one value (a bare `return` passes on, `return nil` stops the chain).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ._errors import KumoError

__all__ = [
    "EVENTS",
    "EventSpec",
    "Handler",
    "HandlerRegistry",
    "UnknownEventError",
    "closest_name",
    "event_spec",
    "is_fired_by_kumod",
    "suggest_event",
]


@dataclass(frozen=True)
class EventSpec:
    """What KumoMTA passes to an event and expects back."""

    name: str
    args: tuple[str, ...]
    returns: str
    multiple: bool = False
    documented: bool = True
    summary: str = ""


def _e(
    name: str,
    args: str,
    returns: str,
    summary: str,
    *,
    multiple: bool = False,
    documented: bool = True,
) -> EventSpec:
    return EventSpec(
        name, tuple(a for a in args.split(", ") if a), returns, multiple, documented, summary
    )


_CATALOGUE = [
    _e(
        "get_acl_definition",
        "resource",
        "ACL or nil",
        "supply the access control list for a resource",
        multiple=True,
    ),
    _e(
        "get_egress_path_config",
        "routing_domain, egress_source, site_name",
        "kumo.make_egress_path{}",
        "shaping and connection parameters for a source->site path",
    ),
    _e(
        "get_egress_pool",
        "pool_name",
        "kumo.make_egress_pool{} (required)",
        "define a named egress pool",
    ),
    _e(
        "get_egress_source",
        "source_name",
        "kumo.make_egress_source{} (required)",
        "define a named egress source",
    ),
    _e(
        "get_listener_domain",
        "domain, listener, conn_meta",
        "kumo.make_listener_domain{} or nil",
        "relay, OOB and FBL policy for a domain",
    ),
    _e(
        "get_queue_config",
        "domain, tenant, campaign, routing_domain",
        "kumo.make_queue_config{}",
        "configuration of a scheduled queue",
        multiple=True,
    ),
    _e(
        "http_message_generated",
        "message, auth_info",
        "ignored",
        "per-message policy for HTTP-injected mail",
    ),
    _e(
        "http_server_validate_auth_basic",
        "user, password",
        "boolean or AuthInfo",
        "validate HTTP Basic credentials",
    ),
    _e("init", "", "ignored", "one-time setup: listeners, spools, logs"),
    _e("pre_init", "", "ignored", "runs before init (used by helper modules)", multiple=True),
    _e("proxy_init", "", "ignored", "proxy-server only: start proxy listeners"),
    _e(
        "proxy_server_auth_rfc1929",
        "username, password, conn_meta",
        "boolean or AuthInfo",
        "proxy-server only: SOCKS5 authentication",
    ),
    _e("rebind_message", "message, data", "ignored", "re-route a message on `kcli rebind`"),
    _e(
        "requeue_message",
        "message, smtp_response, insert_context, increment_attempts, delay",
        "nothing to continue; any value stops the chain",
        "re-route a message after a transient failure",
        multiple=True,
    ),
    _e(
        "should_enqueue_log_record",
        "message, hook_name",
        "boolean",
        "decide whether a log-hook record is queued",
        multiple=True,
    ),
    _e("shutdown_logging", "", "ignored", "flush custom loggers before shutdown"),
    _e(
        "smtp_client_rewrite_delivery_status",
        "response, domain, tenant, campaign, routing_domain",
        "integer SMTP code or nil",
        "rewrite the status code of a remote SMTP response",
    ),
    _e(
        "smtp_server_auth_plain",
        "authz, authc, password, conn_meta",
        "boolean or AuthInfo",
        "AUTH PLAIN",
    ),
    _e(
        "smtp_server_connection_accepted",
        "conn_meta",
        "ignored",
        "accept or reject a connection before the banner",
    ),
    _e(
        "smtp_server_data",
        "message, conn_meta",
        "ignored",
        "whole-transaction policy before recipients are split",
    ),
    _e(
        "smtp_server_ehlo",
        "domain, conn_meta, extensions",
        "array of extensions or nil",
        "validate HELO/EHLO",
    ),
    _e(
        "smtp_server_get_dynamic_parameters",
        "listener, conn_meta",
        "table of listener parameters",
        "per-connection listener configuration",
    ),
    _e("smtp_server_mail_from", "sender, conn_meta", "ignored", "validate MAIL FROM"),
    _e(
        "smtp_server_message_deferred_inject",
        "message, conn_meta",
        "ignored",
        "per-message policy when the deferred queue is enabled",
    ),
    _e("smtp_server_message_received", "message, conn_meta", "ignored", "main reception policy"),
    _e("smtp_server_rcpt_to", "recipient, conn_meta", "ignored", "validate RCPT TO"),
    _e(
        "smtp_server_rewrite_response",
        "status, response, command, conn_meta",
        "status, response (either may be nil)",
        "rewrite responses sent to SMTP clients",
    ),
    _e(
        "smtp_server_split_transaction",
        "message, conn_meta",
        "array of recipient arrays or nil",
        "custom recipient batching",
    ),
    _e("spool_message_enumerated", "message", "ignored", "fix up spooled messages at startup"),
    _e(
        "throttle_insert_ready_queue",
        "message",
        "nothing to continue",
        "apply throttles before a message enters a ready queue",
        multiple=True,
    ),
    _e("tsa_init", "", "ignored", "tsa-daemon only: database and HTTP listener"),
    _e(
        "tsa_load_shaping_data",
        "",
        "kumo.shaping.load() result",
        "tsa-daemon only: automation rules",
    ),
    _e(
        "xfer_message_received",
        "message, auth_info",
        "ignored",
        "adapt a message transferred from another node",
    ),
    # events without a reference page
    _e(
        "main",
        "...script arguments",
        "ignored (an error fails the script)",
        "entry point of `kumod --script` / `kumopy script`",
        documented=False,
    ),
    _e(
        "validate_config",
        "",
        "nothing to continue",
        "checks run by `kumod --validate` / `kumopy validate`",
        multiple=True,
        documented=False,
    ),
    _e(
        "http_server_validate_auth_bearer",
        "token",
        "boolean or AuthInfo",
        "validate an HTTP bearer token",
        documented=False,
    ),
]

EVENTS: dict[str, EventSpec] = {spec.name: spec for spec in _CATALOGUE}

MULTIPLE_EVENTS = frozenset(name for name, spec in EVENTS.items() if spec.multiple)


def event_spec(name: str) -> EventSpec | None:
    """The catalogue entry for `name`, or None for a custom event name."""
    spec = EVENTS.get(name)
    if spec is None and name.startswith("log_disposition_"):
        return EventSpec(
            name,
            ("message", "log_record"),
            "ignored",
            False,
            False,
            "log disposition hook (kumo.configure_log_disposition_hook)",
        )
    return spec


def suggest_event(name: str) -> str | None:
    """The closest catalogue name, for did-you-mean warnings."""
    close = difflib.get_close_matches(name, EVENTS.keys(), n=1, cutoff=0.75)
    return close[0] if close else None


def closest_name(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to `name` (a likely misspelling), or None."""
    close = difflib.get_close_matches(name, [c for c in candidates if c != name], n=1,
                                      cutoff=0.75)
    return close[0] if close else None


class UnknownEventError(LookupError):
    """An event was named that KumoMTA never fires and the policy registers
    no handler for: almost always a misspelling.

    kumod fires the events of the catalogue (and `log_disposition_<hook>`)
    itself; any other name runs only when something fires it by that name
    (`kumo.spawn_task`, a log hook's `filter_event`, a custom_lua
    constructor, a keysource `event_name`), and that needs a handler
    registered under it.  `event` is the name, `suggestion` the closest
    known or registered name (or None).
    """

    def __init__(self, event: str, registered: Iterable[str] = ()) -> None:
        self.event = event
        self.suggestion = closest_name(event, [*EVENTS, *registered])
        message = (
            f"'{event}' is not an event KumoMTA fires and the policy registers no handler "
            "for it"
        )
        if self.suggestion is not None:
            message += f" (did you mean '{self.suggestion}'?)"
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


def is_fired_by_kumod(name: str) -> bool:
    """Whether kumod fires `name` itself (the catalogue, log disposition hooks)."""
    return name in EVENTS or event_spec(name) is not None


@dataclass(frozen=True)
class Handler:
    """One `kumo.on` registration in one Lua state."""

    event: str
    function: Any = field(repr=False, compare=False)
    source: str = "?"
    line: int = 0
    registrar: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}"


class HandlerRegistry:
    """The handlers registered in one Lua state (kumod keeps them in the
    state's registry, so every state has its own)."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    def register(self, handler: Handler) -> None:
        name = handler.event
        existing = self._handlers.get(name)
        if name in MULTIPLE_EVENTS:
            self._handlers.setdefault(name, []).append(handler)
            return
        if existing:
            first = existing[0]
            raise KumoError(f"{name} event already has a handler defined at {first.location}")
        self._handlers[name] = [handler]

    def get(self, name: str) -> list[Handler]:
        return list(self._handlers.get(name, ()))

    def events(self) -> list[str]:
        return list(self._handlers)

    def __contains__(self, name: object) -> bool:
        return name in self._handlers
