"""Listener parameters (kumod's ConcreteEsmtpListenerParams), listener
domains and the relay decision."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._message._trace import TraceHeaders
from ._replies import MAX_LINE_LEN

if TYPE_CHECKING:
    from .._message import ConnectionMeta


# ---------------------------------------------------------------------------
# Listener parameters
# ---------------------------------------------------------------------------


def _ip_of(address: str) -> str:
    """The IP of an "ip:port" / "[v6]:port" socket address."""
    text = address.strip()
    if text.startswith("["):
        return text[1 : text.index("]")]
    if text.count(":") == 1:
        return text.rsplit(":", 1)[0]
    return text


def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError as e:
        raise ValueError(f"invalid CIDR {cidr!r}: {e}") from None


def cidr_contains(cidrs: Iterable[str], ip: str) -> bool:
    """Whether `ip` is in one of the CIDR blocks (kumod's CidrSet)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in _network(c) for c in cidrs if _network(c).version == addr.version)


def _prefix_match(blocks: Mapping[str, Any], ip: str) -> Any:
    """The value of the most specific CIDR block containing `ip`."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    best: tuple[int, Any] | None = None
    for cidr, value in blocks.items():
        net = _network(cidr)
        if net.version == addr.version and addr in net:
            if best is None or net.prefixlen > best[0]:
                best = (net.prefixlen, value)
    return best[1] if best else None


_GENERIC_FIELDS = frozenset(
    {
        "hostname", "relay_hosts", "banner", "batch_handling", "tls_certificate",
        "tls_private_key", "tls_required_client_ca", "deferred_spool", "deferred_queue",
        "trace_headers", "client_timeout", "data_processing_timeout", "peer", "via", "meta",
        "max_messages_per_connection", "max_recipients_per_message", "max_message_size",
        "data_buffer_size", "invalid_line_endings", "line_length_hard_limit",
        "allow_xclient", "require_proxy_protocol",
    }
)
_LISTENER_ONLY_FIELDS = frozenset({"listen", "max_connections"})
_USIZE_FIELDS = frozenset({
    "max_messages_per_connection", "max_recipients_per_message", "max_message_size",
    "data_buffer_size", "line_length_hard_limit",
})


def _usize(key: str, value: Any) -> int:
    """A usize field as serde reads it from Lua (an integer, or a float
    with no fraction)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"invalid value for `{key}`: {value!r}, expected usize")
    return value


def _seconds(key: str, value: Any) -> float:
    """A duration field (duration-serde: seconds or a humantime string)."""
    from .._duration import DurationError, parse_duration_nanos

    try:
        return parse_duration_nanos(value) / 1e9
    except (DurationError, TypeError, ValueError) as e:
        raise ValueError(f"invalid value for `{key}`: {e}") from None


@dataclass
class ListenerParams:
    """The effective parameters of one SMTP session (kumod's
    ConcreteEsmtpListenerParams), with kumod's defaults."""

    hostname: str = field(default_factory=socket.gethostname)
    relay_hosts: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1"])
    banner: str = "KumoMTA"
    batch_handling: str = "BifurcateAlways"
    deferred_spool: bool = False
    deferred_queue: bool = False
    trace_headers: TraceHeaders = field(default_factory=TraceHeaders)
    max_messages_per_connection: int = 10_000
    max_recipients_per_message: int = 1024
    max_message_size: int = 20 * 1024 * 1024
    invalid_line_endings: str = "Deny"
    line_length_hard_limit: int = MAX_LINE_LEN
    allow_xclient: bool = False
    #: seconds a read from the client may wait (kumod: 421 idle too long)
    client_timeout: float = 60.0
    #: seconds for the events of the data phase (kumod: 451 4.4.5)
    data_processing_timeout: float = 300.0
    #: bytes read at a time during DATA
    data_buffer_size: int = 128 * 1024
    #: sessions a listener serves at once (a listener-level field)
    max_connections: int = 32 * 1024

    def apply(
        self,
        params: Mapping[str, Any],
        *,
        my_ip: str,
        peer_ip: str,
        meta: ConnectionMeta | None,
        listener_level: bool = False,
    ) -> None:
        """Apply a table of listener parameters (kumod's `apply_generic`):
        set fields, copy `meta` into the connection metadata, then the
        best-matching `peer` block, then the best-matching `via` block."""
        allowed = _GENERIC_FIELDS | (_LISTENER_ONLY_FIELDS if listener_level else frozenset())
        for key in params:
            if key not in allowed:
                raise ValueError(f"unknown field `{key}` in esmtp listener parameters")
        for key, value in params.items():
            if key == "max_connections" and value is not None:
                self.max_connections = _usize(key, value)
                continue
            if value is None or key in ("peer", "via", "meta") or key in _LISTENER_ONLY_FIELDS:
                continue
            if key in _USIZE_FIELDS:
                setattr(self, key, _usize(key, value))
            elif key in ("client_timeout", "data_processing_timeout"):
                setattr(self, key, _seconds(key, value))
            elif key == "hostname":
                self.hostname = str(value)
                if meta is not None:
                    meta.set_meta("hostname", self.hostname)
            elif key == "relay_hosts":
                values = list(value.values()) if isinstance(value, Mapping) else list(value)
                for cidr in values:
                    _network(str(cidr))
                self.relay_hosts = [str(v) for v in values]
            elif key == "trace_headers":
                self.trace_headers = TraceHeaders.parse(value)
            elif key == "batch_handling":
                if value not in ("BifurcateAlways", "BatchByDomain"):
                    raise ValueError(
                        f"unknown variant `{value}`, expected `BifurcateAlways` or "
                        "`BatchByDomain`"
                    )
                self.batch_handling = value
            elif key == "invalid_line_endings":
                if value not in ("Deny", "Allow", "Fix"):
                    raise ValueError(
                        f"unknown variant `{value}`, expected one of `Deny`, `Allow`, `Fix`"
                    )
                self.invalid_line_endings = value
            elif hasattr(self, key):
                setattr(self, key, value)
        extra = params.get("meta")
        if extra and meta is not None:
            for k, v in dict(extra).items():
                meta.set_meta(str(k), v)
        for block, ip in (("peer", peer_ip), ("via", my_ip)):
            blocks = params.get(block)
            if blocks:
                found = _prefix_match(dict(blocks), ip)
                if found is not None:
                    self.apply(dict(found), my_ip=my_ip, peer_ip=peer_ip, meta=meta)


@dataclass(frozen=True)
class ListenerDomain:
    """What `get_listener_domain` returned (kumod's EsmtpDomain)."""

    relay_to: bool = False
    relay_from: tuple[str, ...] = ()
    log_oob: str = "Ignore"
    log_arf: str = "Ignore"

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ListenerDomain:
        def disposition(value: Any) -> str:
            if value is None:
                return "Ignore"
            if value is True:
                return "LogThenRelay"
            if value is False:
                return "Ignore"
            return str(value)

        relay_from = data.get("relay_from") or ()
        if isinstance(relay_from, Mapping):
            relay_from = list(relay_from.values())
        return cls(
            relay_to=bool(data.get("relay_to") or False),
            relay_from=tuple(str(c) for c in relay_from),
            log_oob=disposition(data.get("log_oob")),
            log_arf=disposition(data.get("log_arf")),
        )


@dataclass(frozen=True)
class RelayDisposition:
    relay: bool
    log_arf: str = "Ignore"
    log_oob: str = "Ignore"

    @property
    def accept_rcpt_to(self) -> bool:
        return self.relay or self.log_arf != "Ignore" or self.log_oob != "Ignore"

    def to_json(self) -> dict[str, Any]:
        return {"relay": self.relay, "log_arf": self.log_arf, "log_oob": self.log_oob}

