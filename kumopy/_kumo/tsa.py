"""`require 'tsa'`: the module tsa-daemon registers (kumod:
crates/tsa-daemon/src/mod_auto.rs).

A tsa-daemon policy (`/opt/kumomta/etc/tsa/init.lua`) registers
`tsa_load_shaping_data` (returns the `kumo.shaping.load` result) and
`tsa_init` (starts the HTTP listener, may move the database).  kumopy checks
and records the calls and starts nothing: `tsa.start_http_listener` is
recorded as an HTTP listener (the same parameters as kumod's
`kumo.start_http_listener`), `tsa.configure_tsa_db_path` as the
`tsa_db_path` setting.  `Policy.validate()` runs the two events in
tsa-daemon's order when the policy registers `tsa_init` (see
docs/real-world.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._lib import rust_string
from .config import server_config, start_http_listener

if TYPE_CHECKING:
    from .._policy import Policy
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["DEFAULT_DB_PATH", "register_module", "start_daemon"]

#: tsa-daemon's database when the policy does not move it
DEFAULT_DB_PATH = "/var/spool/kumomta/tsa.db"

_NOT_STARTED = "checked and recorded, never started (as under kumod --validate)"


def register_module(ns: Namespace) -> None:
    ns.function("start_http_listener", _start_http_listener, notes=_NOT_STARTED)
    ns.function(
        "configure_tsa_db_path",
        _configure_tsa_db_path,
        notes="recorded (the `tsa_db_path` setting); no database is opened",
    )


def _start_http_listener(state: LuaState, params: Any = None, *_: Any) -> None:
    start_http_listener(state, params)


def _configure_tsa_db_path(state: LuaState, path: Any = None, *_: Any) -> None:
    server_config(state).settings["tsa_db_path"] = rust_string(path)


def start_daemon(policy: Policy) -> list[str]:
    """tsa-daemon's start-up (crates/tsa-daemon main.rs perform_init): load
    the shaping data through `tsa_load_shaping_data` (a handler is required
    and must return the `kumo.shaping.load` result), then run `tsa_init`.
    Returns the errors, in tsa-daemon's words."""
    from .._errors import PolicyError
    from .shaping import Shaping

    event = "tsa_load_shaping_data"
    if not policy.handlers(event):
        return [
            f"in {event} event: no handler is registered for {event}; tsa-daemon needs it to "
            "return the shaping data (kumo.shaping.load{...})"
        ]
    try:
        result = policy.dispatch(event)
    except PolicyError as e:
        return [f"in {event} event: {e}"]
    value = result.value
    if not isinstance(value, Shaping):
        shown = "nil" if value is None else type(value).__name__
        where = f" (handler defined at {result.handler.location})" if result.handler else ""
        return [
            f"in {event} event: the handler returned {shown}{where}; tsa-daemon expects the "
            "result of kumo.shaping.load"
        ]
    from .hints import path_hint

    for problem in value.errors:
        hint = path_hint(problem)
        policy.server_config.warnings.append(
            f"shaping data: {problem}" + (f" ({hint})" if hint else "")
        )
    try:
        policy.dispatch("tsa_init")
    except PolicyError as e:
        return [f"in tsa_init event: {e}"]
    settings = policy.server_config.settings
    settings.setdefault("tsa_db_path", DEFAULT_DB_PATH)
    return []
