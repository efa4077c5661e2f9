"""`kumo.make_queue_config`, `make_egress_path`, `make_egress_source`,
`make_egress_pool`, `make_listener_domain` and the `kumo.invoke_get_*`
functions (kumod: crates/kumod/src/mod_kumo.rs and the structs it
deserialises).

Each constructor checks its table with kumod's field names, types and
defaults (see `_schema`) and returns a userdata object:

* queue configs, egress paths and listener domains can be indexed,
  iterated with `pairs` (keys in sorted order, as kumod's serde_json map)
  and measured with `#`; unset optional fields are mlua's null sentinel
  (a truthy userdata), durations humantime strings;
* egress sources and pools cannot be indexed, as in kumod.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from .._errors import KumoError
from .._runtime.userdata import Userdata
from .._text import rust_debug
from . import _schema as s
from ._args import lua_type_name, string_arg
from ._schema import REQUIRED, Field

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = [
    "ConfigObject",
    "NULL_SENTINEL",
    "NullSentinel",
    "QUEUE_CONFIG",
    "EGRESS_PATH",
    "EGRESS_SOURCE",
    "EGRESS_POOL",
    "LISTENER_DOMAIN",
]


class NullSentinel(Userdata):
    """mlua's null sentinel: a truthy light userdata standing for JSON
    null / an unset optional field."""

    lua_type_name = "userdata"

    def to_data(self) -> Any:
        return None

    def __str__(self) -> str:
        return "userdata: 0x0000000000000000"


NULL_SENTINEL = NullSentinel()

_SECS = 1_000_000_000


def _secs(n: int) -> int:
    return n * _SECS


# -- schemas ---------------------------------------------------------------------

MEMORY_REDUCTION = s.Enum("MemoryReductionPolicy", ["ShrinkDataAndMeta", "ShrinkData", "NoShrink"])
REFRESH_STRATEGY = s.Enum("ConfigRefreshStrategy", ["Ttl", "Epoch"])
QUEUE_STRATEGY = s.Enum(
    "QueueStrategy", ["TimerWheel", "SkipList", "SingletonTimerWheel", "SingletonTimerWheelV2"]
)

_RESOLVED_ADDRESS = s.Struct(
    "ResolvedAddress",
    [Field("name", s.Str(), REQUIRED), Field("addr", s.Str(), REQUIRED)],
    deny_unknown_fields=False,
)
_MX_ENTRY = s.Untagged("MxListEntry", [s.Str(), _RESOLVED_ADDRESS], lambda v: v[0].ser(v[1]))

_SMTP_PROTOCOL = s.Struct(
    "SmtpProtocol",
    [
        Field("mx_list", s.Seq(_MX_ENTRY), []),
        Field("treat_mx_list_as_secure", s.Bool(), False),
    ],
    deny_unknown_fields=False,
)
_LUA_PROTOCOL = s.Struct(
    "LuaDeliveryProtocol",
    [
        Field("constructor", s.Str(), REQUIRED),
        Field("batch_size", s.Int(), 1),
        Field("min_batch_size", s.Int(), 1),
        Field("max_batch_latency", s.Duration(), 0),
    ],
    deny_unknown_fields=False,
)
_PROTO_SMTP = s.Struct("Smtp", [Field("smtp", _SMTP_PROTOCOL, REQUIRED)], deny_unknown_fields=False)
_PROTO_MAILDIR = s.Struct(
    "Maildir",
    [
        Field("maildir_path", s.Str(), REQUIRED),
        Field("dir_mode", s.Opt(s.Int("u32"))),
        Field("file_mode", s.Opt(s.Int("u32"))),
    ],
    deny_unknown_fields=False,
)
_PROTO_LUA = s.Struct(
    "Lua", [Field("custom_lua", _LUA_PROTOCOL, REQUIRED)], deny_unknown_fields=False
)
_PROTO_XFER = s.Struct("Xfer", [Field("xfer", s.AnyValue(), REQUIRED)], deny_unknown_fields=False)
DELIVERY_PROTO = s.Untagged(
    "DeliveryProto",
    [_PROTO_SMTP, _PROTO_MAILDIR, _PROTO_LUA, _PROTO_XFER],
    lambda v: v[0].ser(v[1]),
)
_DEFAULT_PROTO = (_PROTO_SMTP, {"smtp": {"mx_list": [], "treat_mx_list_as_secure": False}})

_SHRINK_POLICY = s.Struct(
    "QueueShrinkPolicy",
    [Field("interval", s.Duration(), REQUIRED), Field("policy", MEMORY_REDUCTION, REQUIRED)],
)

QUEUE_CONFIG = s.Struct(
    "QueueConfig",
    [
        Field("retry_interval", s.Duration(), _secs(20 * 60)),
        Field("max_retry_interval", s.Opt(s.Duration())),
        Field("max_age", s.Duration(), _secs(7 * 86400)),
        Field("egress_pool", s.Opt(s.Str())),
        Field("max_message_rate", s.Opt(s.THROTTLE)),
        Field("protocol", DELIVERY_PROTO, _DEFAULT_PROTO),
        Field("reap_interval", s.Duration(), _secs(600)),
        Field("refresh_interval", s.Duration(), _secs(60)),
        Field("timerwheel_tick_interval", s.Opt(s.Duration())),
        Field("strategy", QUEUE_STRATEGY, "SingletonTimerWheel"),
        Field("refresh_strategy", REFRESH_STRATEGY, "Ttl"),
        Field("provider_name", s.Opt(s.Str())),
        Field("shrink_policy", s.Seq(_SHRINK_POLICY), []),
    ],
)

CLIENT_TIMEOUTS = s.Struct(
    "SmtpClientTimeouts",
    [
        Field("connect_timeout", s.Duration(), _secs(60)),
        Field("banner_timeout", s.Duration(), _secs(60)),
        Field("ehlo_timeout", s.Duration(), _secs(300)),
        Field("mail_from_timeout", s.Duration(), _secs(300)),
        Field("rcpt_to_timeout", s.Duration(), _secs(300)),
        Field("data_timeout", s.Duration(), _secs(300)),
        Field("data_dot_timeout", s.Duration(), _secs(300)),
        Field("rset_timeout", s.Duration(), _secs(5)),
        Field("idle_timeout", s.Duration(), _secs(5)),
        Field("starttls_timeout", s.Duration(), _secs(5)),
        Field("auth_timeout", s.Duration(), _secs(60)),
    ],
)

TLS = s.Enum(
    "Tls", ["Opportunistic", "OpportunisticInsecure", "Required", "RequiredInsecure", "Disabled"]
)
WAKEUP = s.Enum("WakeupStrategy", ["Aggressive", "Relaxed"])
RECONNECT = s.Enum(
    "ReconnectStrategy", ["TerminateSession", "ReconnectSameHost", "ConnectNextHost"]
)
IP_LOOKUP = s.Enum(
    "IpLookupStrategy", ["Ipv4Only", "Ipv6Only", "Ipv4AndIpv6", "Ipv6ThenIpv4", "Ipv4ThenIpv6"]
)

EGRESS_PATH = s.Struct(
    "EgressPathConfig",
    [
        Field("connection_limit", s.LIMIT, {"limit": 32, "force_local": False}),
        Field("additional_connection_limits", s.Map(s.LIMIT), {}),
        Field("enable_tls", TLS, "Opportunistic"),
        Field("enable_mta_sts", s.Bool(), True),
        Field("enable_dane", s.Bool(), False),
        Field("enable_pipelining", s.Bool(), True),
        Field("enable_rset", s.Bool(), True),
        Field("tls_prefer_openssl", s.Bool(), False),
        Field("tls_certificate", s.Opt(s.KEY_SOURCE)),
        Field("tls_private_key", s.Opt(s.KEY_SOURCE)),
        Field("openssl_cipher_list", s.Opt(s.Str())),
        Field("openssl_cipher_suites", s.Opt(s.Str())),
        Field("openssl_options", s.Opt(s.Str()), skip_serializing=True),
        Field("rustls_cipher_suites", s.Seq(s.Str()), [], skip_serializing=True),
        Field("system_shutdown_timeout", s.Opt(s.Duration())),
        Field("max_ready", s.Int(), 1024),
        Field("consecutive_connection_failures_before_delay", s.Int(), 100),
        Field("smtp_port", s.Int("u16"), 25),
        Field("smtp_auth_plain_username", s.Opt(s.Str())),
        Field("smtp_auth_plain_password", s.Opt(s.KEY_SOURCE)),
        Field("allow_smtp_auth_plain_without_tls", s.Bool(), False),
        Field("allow_smtp_auth_plain_without_valid_certificate", s.Bool(), False),
        Field("max_message_rate", s.Opt(s.THROTTLE)),
        Field("additional_message_rate_throttles", s.Map(s.THROTTLE), {}),
        Field("source_selection_rate", s.Opt(s.THROTTLE)),
        Field("additional_source_selection_rates", s.Map(s.THROTTLE), {}),
        Field("max_connection_rate", s.Opt(s.THROTTLE)),
        Field("max_deliveries_per_connection", s.Int(), 1024),
        Field("max_recipients_per_batch", s.Int(), 100),
        Field("prohibited_hosts", s.CIDR_SET, s.cidr_set("127.0.0.0/8", "::1", "0.0.0.0", "::")),
        Field("skip_hosts", s.CIDR_SET, []),
        Field("ip_lookup_strategy", IP_LOOKUP, "Ipv4AndIpv6"),
        Field("ehlo_domain", s.Opt(s.Str())),
        Field("aggressive_connection_opening", s.Bool(), False),
        Field("refresh_interval", s.Duration(), _secs(60)),
        Field("refresh_strategy", REFRESH_STRATEGY, "Ttl"),
        Field("dispatcher_wakeup_strategy", WAKEUP, "Aggressive"),
        Field("maintainer_wakeup_strategy", WAKEUP, "Aggressive"),
        Field("provider_name", s.Opt(s.Str())),
        Field("remember_broken_tls", s.Opt(s.Duration())),
        Field("opportunistic_tls_reconnect_on_failed_handshake", s.Bool(), False),
        Field("use_lmtp", s.Bool(), False),
        Field("reconnect_strategy", RECONNECT, "ConnectNextHost"),
        Field("readyq_pool_name", s.Opt(s.Str())),
        Field("low_memory_reduction_policy", MEMORY_REDUCTION, "ShrinkDataAndMeta"),
        Field("no_memory_reduction_policy", MEMORY_REDUCTION, "ShrinkDataAndMeta"),
        Field("try_next_host_on_transport_error", s.Bool(), False),
        Field("ignore_8bit_checks", s.Bool(), False),
        Field("dispatcher_progress_watchdog_timeout", s.Opt(s.Duration())),
    ],
    flatten=[CLIENT_TIMEOUTS],
)

_TRIGGER = s.Untagged(
    "Trigger",
    [
        s.Enum("Trigger", ["Immediate"]),
        s.Struct(
            "Threshold", [Field("Threshold", s.AnyValue(), REQUIRED)], deny_unknown_fields=False
        ),
    ],
    lambda v: v[0].ser(v[1]),
)
_SUSPEND_ON_FAILURE = s.Struct(
    "SuspendOnFailure",
    [
        Field("trigger", _TRIGGER, (_TRIGGER.variants[0], "Immediate")),
        Field("duration", s.Duration(), REQUIRED),
    ],
)


def _socket_addr_de(value: Any) -> Any:
    """kumod's ResolvableSocketAddr: ip:port, [v6]:port, /unix/path or
    host:port with a syntactically valid host name."""
    import ipaddress
    import re

    text = s.Str().de(value)
    if text.startswith("/"):
        return text
    m = re.fullmatch(r"\[([^\]]+)\]:(\d+)|([0-9.]+):(\d+)", text)
    if m:
        host, port = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        try:
            ipaddress.ip_address(host)
            if int(port) <= 65535:
                return text
        except ValueError:
            pass
    prefix = (
        f"failed to parse {rust_debug(text)} as a resolvable socket address: "
        "not an IP socket (invalid socket address syntax); "
        "not a unix socket path (unix domain path must be absolute); not host:port ("
    )
    if ":" not in text:
        raise s.DeError(prefix + "missing :port suffix)")
    host, port = text.rsplit(":", 1)
    if not (port.isdigit() and port.isascii() and int(port) <= 65535):
        raise s.DeError(prefix + f"invalid port {rust_debug(port)})")
    if not host:
        raise s.DeError(prefix + 'invalid hostname "": hostname is empty)')
    for ch in host:
        if not (ch.isalnum() or ch in "-_.*"):
            raise s.DeError(
                prefix + f"invalid hostname {rust_debug(host)}: unrecognized char: {ch})"
            )
    return text


_SOCKET_ADDR = s.Custom("host:port", _socket_addr_de)

EGRESS_SOURCE = s.Struct(
    "EgressSource",
    [
        Field("name", s.Str(), REQUIRED),
        Field("ehlo_domain", s.Opt(s.Str())),
        Field("source_address", s.Opt(s.IP_ADDR)),
        Field("remote_port", s.Opt(s.Int("u16"))),
        Field("ha_proxy_server", s.Opt(_SOCKET_ADDR)),
        Field("ha_proxy_source_address", s.Opt(s.IP_ADDR)),
        Field("socks5_proxy_server", s.Opt(_SOCKET_ADDR)),
        Field("socks5_proxy_source_address", s.Opt(s.IP_ADDR)),
        Field("socks5_proxy_username", s.Opt(s.Str())),
        Field("socks5_proxy_password", s.Opt(s.KEY_SOURCE)),
        Field("suspend_when_unplumbed", s.Opt(_SUSPEND_ON_FAILURE)),
        Field("suspend_when_proxy_unhealthy", s.Opt(_SUSPEND_ON_FAILURE)),
        Field("ttl", s.Duration(), _secs(60)),
    ],
)

_POOL_ENTRY = s.Struct(
    "EgressPoolEntry", [Field("name", s.Str(), REQUIRED), Field("weight", s.Int("u32"), 1)]
)
EGRESS_POOL = s.Struct(
    "EgressPool",
    [
        Field("name", s.Str(), REQUIRED),
        Field("entries", s.Seq(_POOL_ENTRY), []),
        Field("ttl", s.Duration(), _secs(60)),
    ],
)


def _disposition_de(value: Any) -> Any:
    expected = "a boolean value or one of 'Ignore', 'LogThenDrop' or 'LogThenRelay'"
    if isinstance(value, bool):
        return "LogThenRelay" if value else "Ignore"
    if isinstance(value, str):
        if value in ("Ignore", "LogThenDrop", "LogThenRelay"):
            return value
        raise s.invalid_value(value, expected)
    raise s.invalid_type(value, expected)


LOG_DISPOSITION = s.Custom("Ignore | LogThenDrop | LogThenRelay (or a boolean)", _disposition_de)

LISTENER_DOMAIN = s.Struct(
    "EsmtpDomain",
    [
        Field("log_oob", LOG_DISPOSITION, "Ignore"),
        Field("log_arf", LOG_DISPOSITION, "Ignore"),
        Field("relay_to", s.Bool(), False),
        Field("relay_from", s.CIDR_SET, []),
        Field("ttl", s.Duration(), _secs(60)),
    ],
)


# -- the userdata -------------------------------------------------------------------


class ConfigObject(Userdata):
    """A deserialised kumod config struct as Lua sees it."""

    def __init__(self, schema: s.Struct, value: dict[str, Any], *, indexable: bool) -> None:
        self.schema = schema
        self.value = value
        self.indexable = indexable

    lua_type_name = "userdata"

    def data(self) -> dict[str, Any]:
        """kumod's serialised form: sorted keys, None for unset fields."""
        return cast("dict[str, Any]", sorted_keys(self.schema.ser(self.value)))

    def lua_index(self, state: LuaState, key: Any) -> Any:
        if not self.indexable:
            return super().lua_index(state, key)
        if not isinstance(key, bytes):
            return None
        data = self.schema.ser(self.value)
        name = key.decode("utf-8", "surrogateescape")
        if name not in data:
            return None
        return to_lua_with_null(state, data[name])

    def lua_len(self, state: LuaState) -> int:
        if not self.indexable:
            return super().lua_len(state)
        return 0  # a map-shaped table has no sequence part

    def lua_items(self, state: LuaState) -> Iterator[tuple[Any, Any]]:
        if not self.indexable:
            yield from super().lua_items(state)
            return
        for k, v in self.data().items():
            yield state.to_lua(k), to_lua_with_null(state, v)

    def to_data(self) -> Any:
        # kumod materialises the object through __pairs: values become Lua
        # tables, and an empty array loses its marker on the way ({} again)
        if not self.indexable:
            return super().to_data()
        return _empty_lists_as_maps(self.data())

    def __str__(self) -> str:
        return f"{self.schema.name}: 0x{id(self):012x}"


def _empty_lists_as_maps(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _empty_lists_as_maps(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_empty_lists_as_maps(v) for v in value] if value else {}
    return value


def sorted_keys(value: Any) -> Any:
    """serde_json::to_value's map order (a BTreeMap: keys sorted)."""
    if isinstance(value, dict):
        return {k: sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(v) for v in value]
    return value


def to_lua_with_null(state: LuaState, value: Any) -> Any:
    """lua.to_value(): JSON-shaped data with null as the null sentinel."""
    if value is None:
        return NULL_SENTINEL
    if isinstance(value, dict):
        return state.table_from(
            {state.to_lua(k): to_lua_with_null(state, v) for k, v in value.items()}
        )
    if isinstance(value, list):
        return state.to_lua([NULL_SENTINEL if v is None else v for v in value])
    return state.to_lua(value)


_KINDS: dict[str, tuple[s.Struct, bool]] = {
    "make_queue_config": (QUEUE_CONFIG, True),
    "make_egress_path": (EGRESS_PATH, True),
    "make_listener_domain": (LISTENER_DOMAIN, True),
    "make_egress_source": (EGRESS_SOURCE, False),
    "make_egress_pool": (EGRESS_POOL, False),
}


def construct(state: LuaState, name: str, params: Any) -> ConfigObject:
    schema, indexable = _KINDS[name]
    value = s.deserialize(state, schema, params)
    return ConfigObject(schema, value, indexable=indexable)


def register(kumo: Namespace) -> None:
    for name, (schema, indexable) in _KINDS.items():
        kumo.function(
            name,
            _constructor(name),
            notes=(
                f"checks {schema.name}'s fields, types, enums and durations with kumod's serde "
                "error text; "
                + (
                    "indexable, `pairs` in sorted key order, unset fields are the null sentinel"
                    if indexable
                    else "opaque userdata, as in kumod"
                )
            ),
        )
    kumo.function(
        "invoke_get_queue_config",
        invoke_get_queue_config,
        notes="parses the queue name and runs the get_queue_config chain in the calling "
        "state (kumod: a pooled state); special queues (null, generator, deferred) as kumod",
    )
    kumo.function("invoke_get_egress_path_config", invoke_get_egress_path_config)
    kumo.function(
        "format_queue_config_toml",
        _toml_formatter(QUEUE_CONFIG),
        notes="sorted keys, unset fields left out; kumopy's TOML layout (toml_encode_pretty)",
    )
    kumo.function(
        "format_egress_path_config_toml",
        _toml_formatter(EGRESS_PATH),
        notes="sorted keys, unset fields left out; kumopy's TOML layout (toml_encode_pretty)",
    )
    kumo.function(
        "invoke_get_egress_source",
        invoke_get_egress_source,
        notes="no egress_source_sources cache: the handler runs on every call",
    )
    kumo.function(
        "invoke_get_egress_pool",
        invoke_get_egress_pool,
        notes="no egress_source_pools cache; member sources are resolved too, as kumod does",
    )


def _constructor(name: str) -> Any:
    def make(state: LuaState, params: Any = None, *_: Any) -> ConfigObject:
        return construct(state, name, params)

    make.__name__ = name
    return make


# -- resolution (shared by invoke_* and Policy's Python API) ---------------------------


class ResolveError(KumoError):
    """A get_* handler failed or returned the wrong type."""


def expect_object(value: Any, schema: s.Struct) -> ConfigObject:
    """mlua's FromLua for a kumod userdata type."""
    if isinstance(value, ConfigObject):
        if value.schema is schema:
            return value
        raise ResolveError("userdata is not expected type")
    raise ResolveError(f"error converting Lua {lua_type_name(value)} to {schema.name}")


GENERATOR_QUEUE = "generator.kumomta.internal"
DEFERRED_QUEUE = "deferred_smtp_inject.kumomta.internal"


def special_queue_config(name: str) -> dict[str, Any] | None:
    """kumod's built-in queues, resolved without get_queue_config
    (Queue::call_get_queue_config)."""
    if name == GENERATOR_QUEUE:
        return _builtin_queue({"retry_interval": 10})
    if name == DEFERRED_QUEUE:
        return _builtin_queue({"retry_interval": 60})
    if name.endswith(XFER_SUFFIX):
        target = name[: -len(XFER_SUFFIX)]
        if _is_url(target):
            value = QUEUE_CONFIG.de({"retry_interval": 10})
            value["protocol"] = (_PROTO_XFER, {"xfer": {"target": _normalise_url(target)}})
            return cast("dict[str, Any]", value)
    if name == "null":
        return _builtin_queue({"retry_interval": 10, "max_retry_interval": 10})
    return None


XFER_SUFFIX = ".xfer.kumomta.internal"


def _builtin_queue(params: dict[str, Any]) -> dict[str, Any]:
    value = QUEUE_CONFIG.de(params)
    # HttpInjectionGenerator, DeferredSmtpInjection and Null are unit
    # variants of the untagged DeliveryProto: they serialise as null
    value["protocol"] = (_NULL_PROTO, None)
    return cast("dict[str, Any]", value)


def _is_url(text: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return bool(parts.scheme) and text.startswith(parts.scheme + ":")


def _normalise_url(text: str) -> str:
    """The url crate's serialisation: an empty path becomes "/"."""
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.netloc and not parts.path and not parts.query and not parts.fragment:
        return text + "/"
    return text


class _UnitVariant(s.Type):
    def de(self, value: Any) -> Any:  # pragma: no cover - never deserialised
        raise s.DeError("unit variant")

    def ser(self, value: Any) -> Any:
        return None


_NULL_PROTO = _UnitVariant()


def _queue_config_data(state: LuaState, queue_name: str) -> dict[str, Any]:
    from .._smtp import QueueName

    special = special_queue_config(queue_name)
    if special is not None:
        return special
    q = QueueName.parse(queue_name)
    result = _dispatch(state, "get_queue_config", q.domain, q.tenant, q.campaign, q.routing_domain)
    if result is _NO_HANDLER:
        return cast("dict[str, Any]", QUEUE_CONFIG.de({}))
    return expect_object(result, QUEUE_CONFIG).value


_NO_HANDLER = object()


def _dispatch(state: LuaState, event: str, *args: Any) -> Any:
    """Call an event's handlers in this state with kumod's chaining rules;
    returns the deciding value (converted) or _NO_HANDLER."""
    from .._events import EVENTS

    registry = state.handlers
    assert registry is not None
    handlers = registry.get(event)
    multiple = event in EVENTS and EVENTS[event].multiple
    lua_args = [state.to_lua(a) for a in args]
    for handler in handlers:
        values = state.invoke(handler.function, *lua_args)
        if values or not multiple:
            return values[0] if values else None
    return _NO_HANDLER


def invoke_get_queue_config(state: LuaState, name: Any = None, *_: Any) -> Any:
    queue = string_arg(name)
    value = _queue_config_data(state, queue)
    return to_lua_with_null(state, QUEUE_CONFIG.ser(value))


def egress_path_data(state: LuaState, domain: str, source: str, site: str) -> dict[str, Any]:
    result = _dispatch(state, "get_egress_path_config", domain, source, site)
    if result is _NO_HANDLER:
        return cast("dict[str, Any]", EGRESS_PATH.de({}))
    return expect_object(result, EGRESS_PATH).value


def invoke_get_egress_path_config(
    state: LuaState, domain: Any = None, source: Any = None, site: Any = None, *_: Any
) -> Any:
    d, src, st = string_arg(domain), string_arg(source), string_arg(site)
    return to_lua_with_null(state, EGRESS_PATH.ser(egress_path_data(state, d, src, st)))


def egress_source_data(state: LuaState, name: str) -> dict[str, Any]:
    if name == "unspecified":
        return cast("dict[str, Any]", EGRESS_SOURCE.de({"name": "unspecified"}))
    result = _dispatch(state, "get_egress_source", name)
    if result is _NO_HANDLER:
        raise ResolveError(
            f"get_egress_source '{name}': Event get_egress_source has not been registered"
        )
    try:
        return expect_object(result, EGRESS_SOURCE).value
    except ResolveError as e:
        raise ResolveError(f"get_egress_source '{name}': {e}") from None


def egress_pool_data(state: LuaState, name: str | None) -> dict[str, Any]:
    if name is None or name == "unspecified":
        default = {"name": "unspecified", "entries": [{"name": "unspecified"}]}
        return cast("dict[str, Any]", EGRESS_POOL.de(default))
    result = _dispatch(state, "get_egress_pool", name)
    if result is _NO_HANDLER:
        raise ResolveError(
            f"resolving egress pool '{name}': Event get_egress_pool has not been registered"
        )
    try:
        value = expect_object(result, EGRESS_POOL).value
    except ResolveError as e:
        raise ResolveError(f"resolving egress pool '{name}': {e}") from None
    for entry in value["entries"]:
        try:
            egress_source_data(state, entry["name"])
        except ResolveError as e:
            raise ResolveError(f"resolving egress pool '{name}': {e}") from None
    return value


def invoke_get_egress_source(state: LuaState, name: Any = None, *_: Any) -> Any:
    return to_lua_with_null(state, EGRESS_SOURCE.ser(egress_source_data(state, string_arg(name))))


def invoke_get_egress_pool(state: LuaState, name: Any = None, *_: Any) -> Any:
    pool = None if name is None else string_arg(name)
    return to_lua_with_null(state, EGRESS_POOL.ser(egress_pool_data(state, pool)))


def listener_domain_data(
    state: LuaState, domain: str, listener: str, conn_meta: Any
) -> dict[str, Any] | None:
    """get_listener_domain: None when unhandled or nil, else the data."""
    result = _dispatch(state, "get_listener_domain", domain, listener, conn_meta)
    if result is _NO_HANDLER or result is None:
        return None
    obj = expect_object(result, LISTENER_DOMAIN)
    return cast("dict[str, Any]", sorted_keys(LISTENER_DOMAIN.ser(obj.value)))


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value if v is not None]
    return value


def _toml_formatter(schema: s.Struct) -> Any:
    def format_toml(state: LuaState, value: Any = None, *_: Any) -> Any:
        from .formats import FormatError, encode_toml

        if isinstance(value, ConfigObject) and value.schema is schema:
            data = value.value
        else:
            data = s.deserialize(state, schema, value)
        try:
            return state.to_lua(encode_toml(_drop_none(sorted_keys(schema.ser(data))), pretty=True))
        except FormatError as e:
            raise KumoError(str(e)) from None

    return format_toml
