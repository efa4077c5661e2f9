"""`require 'proxy'`: the module KumoProxy registers (kumod:
crates/proxy-server/src/mod_proxy.rs), and its `kumo.start_proxy_listener`
alias.

Both listeners are checked against kumod's parameter types and recorded,
never started (KumoProxy itself skips starting them under --validate).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _schema as s
from .config import _record, start_http_listener

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["PROXY_LISTENER", "register", "register_module"]

Field = s.Field
_NS = 1_000_000_000  # Duration fields hold nanoseconds

TCP_KEEPALIVE = s.Struct(
    "TcpKeepaliveParams",
    [
        Field("enabled", s.Bool(), True),
        Field("time", s.Duration(), 300 * _NS),
        Field("interval", s.Duration(), 30 * _NS),
        Field("retries", s.Int(), 3),
    ],
)

PROXY_LISTENER = s.Struct(
    "ProxyListenerParams",
    [
        Field("listen", s.Str(), s.REQUIRED),
        Field("hostname", s.Str(), None),
        Field("timeout", s.Duration(), 60 * _NS),
        Field("use_splice", s.Bool(), True),
        Field("use_tls", s.Bool(), False),
        Field("tls_certificate", s.Opt(s.KEY_SOURCE)),
        Field("tls_private_key", s.Opt(s.KEY_SOURCE)),
        Field("require_auth", s.Bool(), False),
        Field("tcp_keepalive", TCP_KEEPALIVE, TCP_KEEPALIVE.de({})),
    ],
)

_NOT_STARTED = "checked and recorded, never started (KumoProxy does not start it under --validate)"


def register(kumo: Namespace) -> None:
    kumo.function(
        "start_proxy_listener",
        start_proxy_listener,
        notes=_NOT_STARTED
        + "; KumoProxy only (kept for compatibility, use proxy.start_proxy_listener)",
    )


def register_module(ns: Namespace) -> None:
    ns.function("start_proxy_listener", start_proxy_listener, notes=_NOT_STARTED)
    ns.function("start_http_listener", _start_http_listener, notes=_NOT_STARTED)


def start_proxy_listener(state: LuaState, params: Any = None, *_: Any) -> None:
    data = _record(state, "listeners", "proxy", PROXY_LISTENER, params)
    if data.get("hostname") is None:
        import socket

        data["hostname"] = socket.gethostname() or "localhost"


def _start_http_listener(state: LuaState, params: Any = None, *_: Any) -> None:
    start_http_listener(state, params)
