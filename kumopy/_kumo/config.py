"""Server configuration calls of `init` (kumod: mod_kumo.rs, spool.rs,
logging/, kumo-server-common): listeners, spools, logs, log hooks, the
bounce classifier, accounting, Redis throttles, thread pools and other
tuning knobs.

kumopy checks each call's parameters the way kumod deserialises them (same
field names, types, defaults and error text) and records what the policy
would start in the process's `ServerConfig`, but never starts anything: no
port is opened, no directory created, no file written.  That is what
`kumod --validate` does too.
"""

from __future__ import annotations

import glob as _glob
import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from .._errors import KumoError
from . import _schema as s
from ._args import lua_type_name, string_arg
from ._schema import REQUIRED, Field
from .constructors import LISTENER_DOMAIN  # noqa: F401  (re-exported for docs)

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["ServerConfig", "server_config"]

_SECS = 1_000_000_000

# -- schemas -------------------------------------------------------------------------


def _min_free_de(value: Any) -> Any:
    if isinstance(value, str):
        if value.endswith("%"):
            n = value[:-1]
            if n.isdigit() and n.isascii() and int(n) <= 255:
                return value
            reason = (
                "invalid digit found in string"
                if n and not n.isdigit()
                else (
                    "cannot parse integer from empty string"
                    if not n
                    else "number too large to fit in target type"
                )
            )
            raise s.DeError(f"invalid MinFree percentage specifier. {reason}")
        if value.isdigit() and value.isascii():
            return int(value)
        reason = (
            "cannot parse integer from empty string"
            if not value
            else "invalid digit found in string"
        )
        raise s.DeError(f"invalid MinFree size specifier. {reason}")
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise s.DeError(
                f"invalid MinFree size specifier. {value} could not be converted to u64"
            )
        return value
    raise s.DeError(
        "invalid MinFree specifier. Value must be either a percentage string like '10%' or "
        "the size expressed as an integer"
    )


MIN_FREE = s.Custom('"N%" or a byte count', _min_free_de)

_GENERIC_ESMTP_FIELDS = [
    Field("hostname", s.Opt(s.Str())),
    Field("relay_hosts", s.Opt(s.CIDR_SET)),
    Field("banner", s.Opt(s.Str())),
    Field("batch_handling", s.Opt(s.Enum("BatchHandling", ["BifurcateAlways", "BatchByDomain"]))),
    Field("tls_certificate", s.Opt(s.KEY_SOURCE)),
    Field("tls_private_key", s.Opt(s.KEY_SOURCE)),
    Field("tls_required_client_ca", s.Opt(s.KEY_SOURCE)),
    Field("deferred_spool", s.Opt(s.Bool())),
    Field("deferred_queue", s.Opt(s.Bool())),
    Field("trace_headers", s.Opt(s.AnyValue())),
    Field("client_timeout", s.Opt(s.Duration())),
    Field("data_processing_timeout", s.Opt(s.Duration())),
    Field("peer", s.Opt(s.AnyValue())),
    Field("via", s.Opt(s.AnyValue())),
    Field("meta", s.Opt(s.Map(s.AnyValue()))),
    Field("max_messages_per_connection", s.Opt(s.Int())),
    Field("max_recipients_per_message", s.Opt(s.Int())),
    Field("max_message_size", s.Opt(s.Int())),
    Field("data_buffer_size", s.Opt(s.Int())),
    Field(
        "invalid_line_endings", s.Opt(s.Enum("ConformanceDisposition", ["Deny", "Allow", "Fix"]))
    ),
    Field("line_length_hard_limit", s.Opt(s.Int())),
    Field("allow_xclient", s.Opt(s.Bool())),
    Field("require_proxy_protocol", s.Opt(s.Bool())),
]
GENERIC_ESMTP = s.Struct("GenericEsmtpListenerParams", _GENERIC_ESMTP_FIELDS)

ESMTP_LISTENER = s.Struct(
    "EsmtpListenerParams",
    [
        Field("listen", s.Str(), "127.0.0.1:2025"),
        Field("max_connections", s.Int(), 32 * 1024),
    ],
    flatten=[GENERIC_ESMTP],
)


def _hostname() -> str:
    return socket.gethostname() or "localhost"


HTTP_LISTENER = s.Struct(
    "HttpListenerParams",
    [
        Field("hostname", s.Str(), None),  # filled with gethostname() when absent
        Field("listen", s.Str(), "127.0.0.1:8000"),
        Field("use_tls", s.Bool(), False),
        Field("request_body_limit", s.Opt(s.Int())),
        Field("tls_certificate", s.Opt(s.KEY_SOURCE)),
        Field("tls_private_key", s.Opt(s.KEY_SOURCE)),
        Field("trusted_hosts", s.CIDR_SET, s.cidr_set("127.0.0.1", "::1")),
    ],
)

SPOOL = s.Struct(
    "DefineSpoolParams",
    [
        Field("name", s.Str(), REQUIRED),
        Field("path", s.Str(), REQUIRED),
        Field("kind", s.Enum("SpoolKind", ["LocalDisk", "RocksDB"]), "LocalDisk"),
        Field("flush", s.Bool(), False),
        Field("rocks_params", s.Opt(s.AnyValue())),
        Field("min_free_space", MIN_FREE, "10%"),
        Field("min_free_inodes", MIN_FREE, "10%"),
    ],
)

RECORD_TYPE = s.Enum(
    "RecordType",
    [
        "Reception",
        "Delivery",
        "Bounce",
        "TransientFailure",
        "Expiration",
        "AdminBounce",
        "OOB",
        "Feedback",
        "Rejection",
        "AdminRebind",
        "DeferredInjectionRebind",
        "Delayed",
        "Any",
    ],
)
LOG_RECORD = s.Struct(
    "LogRecordParams",
    [
        Field("suffix", s.Opt(s.Str())),
        Field("log_dir", s.Opt(s.Str())),
        Field("enable", s.Bool(), True),
        Field("template", s.Opt(s.Str())),
        Field("segment_header", s.Str(), ""),
    ],
)
LOCAL_LOGS = s.Struct(
    "LogFileParams",
    [
        Field("log_dir", s.Str(), REQUIRED),
        Field("max_file_size", s.Int("u64"), 1_000_000_000),
        Field("back_pressure", s.Int(), 128_000),
        Field("compression_level", s.Int("i32"), 0),
        Field("max_segment_duration", s.Opt(s.Duration())),
        Field("meta", s.Seq(s.Str()), []),
        Field("headers", s.Seq(s.Str()), []),
        Field("per_record", s.Map(LOG_RECORD, key=RECORD_TYPE), {}),
        Field("filter_event", s.Opt(s.Str())),
        Field("min_free_space", MIN_FREE, "10%"),
        Field("min_free_inodes", MIN_FREE, "10%"),
    ],
)
LOG_HOOK = s.Struct(
    "LogHookParams",
    [
        Field("name", s.Str(), REQUIRED),
        Field("back_pressure", s.Int(), 128_000),
        Field("meta", s.Seq(s.Str()), []),
        Field("headers", s.Seq(s.Str()), []),
        Field("per_record", s.Map(LOG_RECORD, key=RECORD_TYPE), {}),
        Field("deferred_spool", s.Bool(), False),
    ],
)
DISPOSITION_HOOK = s.Struct(
    "DispHookParams",
    [
        Field("name", s.Str(), REQUIRED),
        Field("per_record", s.Map(LOG_RECORD, key=RECORD_TYPE), {}),
    ],
)
BOUNCE_CLASSIFIER = s.Struct(
    "ClassifierParams",
    [
        Field("files", s.Seq(s.Str()), REQUIRED),
        Field("back_pressure", s.Int(), 128 * 1024),
        Field("pool_size", s.Int(), max(1, (os.cpu_count() or 16) // 4)),
        Field("cache_size", s.Int(), 1024),
        Field("uncategorized_cache_size", s.Int(), 1024),
    ],
)

# -- the record -----------------------------------------------------------------------


@dataclass
class ServerConfig:
    """What the policy's start-up code asked kumod to start or set."""

    listeners: list[dict[str, Any]] = field(default_factory=list)
    spools: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    log_hooks: list[dict[str, Any]] = field(default_factory=list)
    bounce_classifiers: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    monitor_globs: list[str] = field(
        default_factory=lambda: ["/opt/kumomta/etc/**/*.{lua,json,toml,yaml}"]
    )
    warnings: list[str] = field(default_factory=list)

    def esmtp_listeners(self) -> list[dict[str, Any]]:
        return [entry["params"] for entry in self.listeners if entry["kind"] == "esmtp"]

    def http_listeners(self) -> list[dict[str, Any]]:
        return [entry["params"] for entry in self.listeners if entry["kind"] == "http"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "listeners": self.listeners,
            "spools": self.spools,
            "logs": self.logs,
            "log_hooks": self.log_hooks,
            "bounce_classifiers": self.bounce_classifiers,
            "settings": self.settings,
        }

    def is_empty(self) -> bool:
        return not any(self.to_dict().values())

    def summary_lines(self) -> list[str]:
        """One human-readable line per thing the policy would start."""
        lines = []
        for entry in self.listeners:
            p = entry["params"]
            if entry["kind"] == "esmtp":
                extra = f" hostname={p['hostname']}" if p.get("hostname") else ""
                relay = p.get("relay_hosts")
                relay_text = f" relay_hosts={','.join(relay)}" if relay else ""
                lines.append(f"esmtp listener {p['listen']}{extra}{relay_text}  ({entry['where']})")
            else:
                tls = " tls" if p["use_tls"] else ""
                lines.append(
                    f"http listener {p['listen']}{tls} trusted_hosts={','.join(p['trusted_hosts'])}"
                    f"  ({entry['where']})"
                )
        for entry in self.spools:
            p = entry["params"]
            lines.append(f"spool {p['name']} {p['kind']} {p['path']}  ({entry['where']})")
        for entry in self.logs:
            p = entry["params"]
            lines.append(f"local logs {p['log_dir']}  ({entry['where']})")
        for entry in self.log_hooks:
            p = entry["params"]
            lines.append(f"{entry['kind']} {p['name']}  ({entry['where']})")
        for entry in self.bounce_classifiers:
            p = entry["params"]
            lines.append(f"bounce classifier {', '.join(p['files'])}  ({entry['where']})")
        for name, value in self.settings.items():
            lines.append(f"set {name} = {value!r}")
        return lines


def server_config(state: LuaState) -> ServerConfig:
    return state.process.service("server_config", ServerConfig)


def _where(state: LuaState) -> str:
    file, line = state.where()
    return f"{file}:{line}"


def _record(
    state: LuaState, bucket: str, kind: str, schema: s.Struct, params: Any
) -> dict[str, Any]:
    value = s.deserialize(state, schema, params)
    data = schema.ser(value)
    entry = {"kind": kind, "params": data, "where": _where(state)}
    getattr(server_config(state), bucket).append(entry)
    return cast("dict[str, Any]", data)


# -- functions -----------------------------------------------------------------------

_NOT_STARTED = "checked and recorded, never started (as under kumod --validate)"


def register(kumo: Namespace) -> None:
    kumo.function("start_esmtp_listener", start_esmtp_listener, notes=_NOT_STARTED)
    kumo.function("start_http_listener", start_http_listener, notes=_NOT_STARTED)
    kumo.function("define_spool", define_spool, notes=_NOT_STARTED + "; no directory is created")
    kumo.function("configure_local_logs", configure_local_logs, notes=_NOT_STARTED)
    kumo.function("configure_log_hook", configure_log_hook, notes=_NOT_STARTED)
    kumo.function(
        "configure_log_disposition_hook", configure_log_disposition_hook, notes=_NOT_STARTED
    )
    kumo.function(
        "configure_bounce_classifier",
        configure_bounce_classifier,
        notes="parameters checked and recorded; rule files are not compiled",
    )
    kumo.function("configure_accounting_db_path", configure_accounting_db_path, notes="recorded")
    kumo.function(
        "configure_redis_throttles",
        configure_redis_throttles,
        notes="recorded; no Redis connection (throttles stay in memory)",
    )
    kumo.function(
        "set_diagnostic_log_filter",
        set_diagnostic_log_filter,
        notes="recorded; the filter syntax is only checked loosely",
    )
    for name in (
        "set_httpinject_threads",
        "set_smtpsrv_threads",
        "set_qmaint_threads",
        "set_ready_qmaint_threads",
        "set_readyq_threads",
        "set_spoolin_threads",
        "set_logging_threads",
        "set_max_spare_lua_contexts",
        "set_max_lua_context_use_count",
        "set_max_lua_context_age",
        "set_memory_hard_limit",
        "set_memory_low_thresh",
        "set_memory_soft_limit",
    ):
        kumo.function(name, _usize_setting(name), notes="recorded")
    kumo.function("set_lua_gc_on_put", _int_setting("set_lua_gc_on_put", "u8"), notes="recorded")
    kumo.function(
        "set_httpinject_recipient_rate_limit", set_httpinject_recipient_rate_limit, notes="recorded"
    )
    kumo.function(
        "set_timeq_spawn_reinsertion",
        set_timeq_spawn_reinsertion,
        notes="deprecated no-op; records kumod's warning",
    )
    kumo.function(
        "suspend_delivery_when_spool_unhealthy",
        suspend_delivery_when_spool_unhealthy,
        notes="recorded",
    )
    kumo.function("set_lruttl_cache_capacity", set_lruttl_cache_capacity, notes="recorded")
    kumo.function("set_config_monitor_globs", set_config_monitor_globs, notes="recorded")
    kumo.function(
        "eval_config_monitor_globs",
        eval_config_monitor_globs,
        notes="expands the globs through the path map and returns the paths the policy would see",
    )
    for name in ("get_memory_hard_limit", "get_memory_soft_limit", "get_memory_low_thresh"):
        kumo.function(
            name, _getter(name.replace("get_", "set_")), notes="the recorded value or nil"
        )


def start_esmtp_listener(state: LuaState, params: Any = None, *_: Any) -> None:
    _record(state, "listeners", "esmtp", ESMTP_LISTENER, params)


def start_http_listener(state: LuaState, params: Any = None, *_: Any) -> None:
    data = _record(state, "listeners", "http", HTTP_LISTENER, params)
    if data["hostname"] is None:
        data["hostname"] = _hostname()


def define_spool(state: LuaState, params: Any = None, *_: Any) -> None:
    _record(state, "spools", "spool", SPOOL, params)


def configure_local_logs(state: LuaState, params: Any = None, *_: Any) -> None:
    _record(state, "logs", "local_logs", LOCAL_LOGS, params)


def configure_log_hook(state: LuaState, params: Any = None, *_: Any) -> None:
    _record(state, "log_hooks", "log hook", LOG_HOOK, params)


def configure_log_disposition_hook(state: LuaState, params: Any = None, *_: Any) -> None:
    _record(state, "log_hooks", "log disposition hook", DISPOSITION_HOOK, params)


def configure_bounce_classifier(state: LuaState, params: Any = None, *_: Any) -> None:
    _record(state, "bounce_classifiers", "bounce_classifier", BOUNCE_CLASSIFIER, params)


def configure_accounting_db_path(state: LuaState, path: Any = None, *_: Any) -> None:
    server_config(state).settings["accounting_db_path"] = string_arg(path)


def configure_redis_throttles(state: LuaState, params: Any = None, *_: Any) -> None:
    tree = s.lua_tree(state, params)
    if not isinstance(tree, dict) or "node" not in tree:
        raise KumoError(
            f"deserialize error: missing field `node`, while processing {s.json_of(tree)}"
        )
    server_config(state).settings["redis_throttles"] = s._plain(tree)


def set_diagnostic_log_filter(state: LuaState, text: Any = None, *_: Any) -> None:
    server_config(state).settings["diagnostic_log_filter"] = string_arg(text)


def _to_int(value: Any, kind: str) -> int:
    """mlua's integer conversion (strings holding numbers convert)."""
    lo, hi = s._INT_RANGES[kind]
    n: Any = value
    if isinstance(value, bytes):
        try:
            n = int(value.decode().strip(), 0)
        except ValueError:
            try:
                n = float(value.decode().strip())
            except ValueError:
                raise KumoError(f"error converting Lua string to {kind}") from None
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    if isinstance(n, bool) or not isinstance(n, int):
        raise KumoError(f"error converting Lua {lua_type_name(value)} to {kind}")
    if not lo <= n <= hi:
        raise KumoError(f"error converting Lua integer to {kind} (out of range)")
    return n


def _usize_setting(name: str) -> Any:
    return _int_setting(name, "usize")


def _int_setting(name: str, kind: str) -> Any:
    key = name.removeprefix("set_")

    def setter(state: LuaState, value: Any = None, *_: Any) -> None:
        server_config(state).settings[key] = _to_int(value, kind)

    setter.__name__ = name
    return setter


def _getter(setting: str) -> Any:
    key = setting.removeprefix("set_")

    def getter(state: LuaState, *_: Any) -> Any:
        return server_config(state).settings.get(key)

    return getter


def set_httpinject_recipient_rate_limit(state: LuaState, spec: Any = None, *_: Any) -> None:
    if spec is None:
        server_config(state).settings.pop("httpinject_recipient_rate_limit", None)
        return
    text = string_arg(spec)
    try:
        parsed = s.throttle_spec(text)
    except ValueError as e:
        raise KumoError(str(e)) from None
    server_config(state).settings["httpinject_recipient_rate_limit"] = s.throttle_text(parsed)


def set_timeq_spawn_reinsertion(state: LuaState, value: Any = None, *_: Any) -> None:
    if not isinstance(value, bool):
        raise KumoError(f"error converting Lua {lua_type_name(value)} to boolean")
    server_config(state).warnings.append(
        "set_timeq_spawn_reinsertion is deprecated and has no effect; remove it from your "
        "configuration"
    )


def suspend_delivery_when_spool_unhealthy(state: LuaState, value: Any = None, *_: Any) -> None:
    if not isinstance(value, bool):
        raise KumoError(f"error converting Lua {lua_type_name(value)} to boolean")
    server_config(state).settings["suspend_delivery_when_spool_unhealthy"] = value


_LRUTTL_CACHES = frozenset(
    {
        "egress_source_sources",
        "egress_source_pools",
        "mod_filesystem_glob_cache",
        "dns_resolver_mx",
        "dns_resolver_ipv4",
        "dns_resolver_ipv6",
        "dns_resolver_ip",
        "dkim_signer_cache",
        "smtp_server_tls_config",
        "kumod_dkim_signer",
    }
)


def set_lruttl_cache_capacity(
    state: LuaState, name: Any = None, capacity: Any = None, *_: Any
) -> None:
    cache = string_arg(name)
    size = _to_int(capacity, "usize")
    server_config(state).settings.setdefault("lruttl_cache_capacity", {})[cache] = size


def set_config_monitor_globs(state: LuaState, globs: Any = None, *_: Any) -> None:
    tree = s.lua_tree(state, globs)
    if isinstance(tree, dict) and not tree:
        tree = []
    if not isinstance(tree, list) or not all(isinstance(g, str) for g in tree):
        raise KumoError(f"error converting Lua {lua_type_name(globs)} to Vec<String>")
    server_config(state).monitor_globs = list(tree)


def _expand_braces(pattern: str) -> list[str]:
    start = pattern.find("{")
    end = pattern.find("}", start)
    if start < 0 or end < 0:
        return [pattern]
    head, body, tail = pattern[:start], pattern[start + 1 : end], pattern[end + 1 :]
    out = []
    for alt in body.split(","):
        out.extend(_expand_braces(head + alt + tail))
    return out


def eval_config_monitor_globs(state: LuaState, *_: Any) -> Any:
    process = state.process
    found: set[str] = set()
    for pattern in server_config(state).monitor_globs:
        for expanded in _expand_braces(pattern):
            mapped = process.map_path(expanded)
            for hit in _glob.glob(mapped, recursive=True):
                found.add(_unmap(process, expanded, mapped, hit))
    return state.to_lua(sorted(found))


def _unmap(process: Any, pattern: str, mapped: str, hit: str) -> str:
    """The path the policy would see for a file found under a mapped glob."""
    if mapped == pattern:
        return hit
    # find the longest common literal prefix of the mapped pattern
    prefix_len = 0
    for a, b in zip(pattern[::-1], mapped[::-1], strict=False):
        if a != b:
            break
        prefix_len += 1
    mapped_root = mapped[: len(mapped) - prefix_len]
    policy_root = pattern[: len(pattern) - prefix_len]
    if hit.startswith(mapped_root):
        return policy_root + hit[len(mapped_root) :]
    return hit
