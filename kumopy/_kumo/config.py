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
import re
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from .._errors import KumoError
from . import _schema as s
from ._args import ArgConversionError, bool_arg, lua_type_name, string_arg
from ._schema import REQUIRED, Field
from .constructors import LISTENER_DOMAIN  # noqa: F401  (re-exported for docs)
from .fs import expand_braces
from .memoize import BUILTIN_CACHES

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

TRACE_HEADERS = s.Struct(
    "TraceHeaders",
    [
        Field("received_header", s.Bool(), True),
        Field("supplemental_header", s.Bool(), True),
        Field("header_name", s.Str(), "X-KumoRef"),
        Field("include_meta_names", s.Seq(s.Str()), []),
    ],
)


def _cidr_key_de(value: Any) -> Any:
    text = s.Str().de(value)
    try:
        nets = s._parse_cidr(text)
    except KumoError as e:
        raise s.DeError(str(e)) from None
    return s.cidr_set_text(nets)[0] if len(nets) == 1 else text


CIDR_KEY = s.Custom("CIDR", _cidr_key_de)


class _Lazy(s.Type):
    """A type defined later (the listener's `peer`/`via` maps nest it)."""

    def __init__(self, get: Any) -> None:
        self._get = get

    def de(self, value: Any) -> Any:
        return self._get().de(value)

    def ser(self, value: Any) -> Any:
        return self._get().ser(value)

    def describe(self) -> str:
        return "table (GenericEsmtpListenerParams)"


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
    Field("trace_headers", s.Opt(TRACE_HEADERS)),
    Field("client_timeout", s.Opt(s.Duration())),
    Field("data_processing_timeout", s.Opt(s.Duration())),
    Field("peer", s.Opt(s.Map(_Lazy(lambda: GENERIC_ESMTP), key=CIDR_KEY))),
    Field("via", s.Opt(s.Map(_Lazy(lambda: GENERIC_ESMTP), key=CIDR_KEY))),
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
GENERIC_ESMTP: s.Struct = s.Struct("GenericEsmtpListenerParams", _GENERIC_ESMTP_FIELDS)

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
        "XferOut",
        "XferIn",
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

_NODE_SPEC = s.Untagged("NodeSpec", [s.Str(), s.Seq(s.Str())], lambda v: v[0].ser(v[1]))
REDIS_CONN = s.Struct(
    "RedisConnKey",
    [
        Field("node", _NODE_SPEC, REQUIRED),
        Field("read_from_replicas", s.Bool(), False),
        Field("username", s.Opt(s.Str())),
        Field("password", s.Opt(s.Str())),
        Field("cluster", s.Opt(s.Bool())),
        Field("pool_size", s.Opt(s.Int())),
        Field("connect_timeout", s.Opt(s.Duration())),
        Field("recycle_timeout", s.Opt(s.Duration())),
        Field("wait_timeout", s.Opt(s.Duration())),
        Field("response_timeout", s.Opt(s.Duration())),
    ],
    deny_unknown_fields=False,
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
    redis: list[dict[str, Any]] = field(default_factory=list)
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
            "redis": self.redis,
            "settings": self.settings,
        }

    def summary_lines(self) -> list[str]:
        """One human-readable line per thing the policy would start."""
        lines = []
        for entry in self.listeners:
            p = entry["params"]
            if entry["kind"] == "proxy":
                lines.append(f"proxy listener {p['listen']}  ({entry['where']})")
            elif entry["kind"] == "esmtp":
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
        for entry in self.redis:
            p = entry["params"]
            node = p["node"] if isinstance(p["node"], str) else ", ".join(p["node"])
            lines.append(f"redis throttles {node}  ({entry['where']})")
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
        notes="checked and recorded; with the network allowed (--network) kumopy connects "
        "and pings the server as kumod does, and make_throttle's limits live there",
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
    # kumod also connects and pings the server here, even under --validate;
    # kumopy does so only with the network allowed (then make_throttle's
    # limits live in that server: kumopy/_kumo/throttle.py)
    _record(state, "redis", "redis_throttles", REDIS_CONN, params)
    from .redis import use_for_throttles

    use_for_throttles(state, params)


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
    bool_arg(value)  # (any value: kumod ignores it)
    server_config(state).warnings.append(
        "set_timeq_spawn_reinsertion is deprecated and has no effect; remove it from your "
        "configuration"
    )


def suspend_delivery_when_spool_unhealthy(state: LuaState, value: Any = None, *_: Any) -> None:
    server_config(state).settings["suspend_delivery_when_spool_unhealthy"] = bool_arg(value)


def set_lruttl_cache_capacity(
    state: LuaState, name: Any = None, capacity: Any = None, *_: Any
) -> None:
    cache = string_arg(name)
    size = _to_int(capacity, "usize")
    if cache not in BUILTIN_CACHES:
        raise KumoError(
            f"could not set capacity for cache {cache} as that is not a pre-defined lruttl "
            "cache name"
        )
    server_config(state).settings.setdefault("lruttl_cache_capacity", {})[cache] = size


def set_config_monitor_globs(state: LuaState, globs: Any = None, *_: Any) -> None:
    tree = s.lua_tree(state, globs)
    if isinstance(tree, dict) and not tree:
        tree = []
    if not isinstance(tree, list) or not all(isinstance(g, str) for g in tree):
        raise ArgConversionError(globs, "Vec<String>")
    server_config(state).monitor_globs = list(tree)


def eval_config_monitor_globs(state: LuaState, *_: Any) -> Any:
    process = state.process
    found: set[str] = set()
    for pattern in server_config(state).monitor_globs:
        for expanded in expand_braces(pattern):
            found.update(_glob_policy_paths(process, expanded))
    return state.to_lua(sorted(found))


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            out.append("[" + pattern[i + 1 : end].replace("!", "^", 1) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _glob_policy_paths(process: Any, pattern: str) -> set[str]:
    """The files matching `pattern` as the policy names them: files under
    the path map's targets are reported under the mapped (policy) paths."""
    matcher = _glob_regex(pattern)
    parts = pattern.split("/")
    literal = []
    for part in parts:
        if any(c in part for c in "*?["):
            break
        literal.append(part)
    root = "/".join(literal) or "/"
    found: set[str] = set()
    # the unmapped file system
    if process.map_path(root) == root:
        found.update(h for h in _glob.glob(pattern, recursive=True) if os.path.isfile(h))
    # every mapping at or below the pattern's literal root (or covering it)
    sources = dict(process.path_map)
    mapped_root = process.map_path(root)
    if mapped_root != root:
        sources[root] = mapped_root
    for src, dst in sources.items():
        if not (
            src == root or src.startswith(root.rstrip("/") + "/") or root.startswith(src + "/")
        ):
            continue
        if os.path.isfile(dst):
            if matcher.match(src):
                found.add(src)
            continue
        for dirpath, _dirs, files in os.walk(dst):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), dst)
                visible = os.path.normpath(os.path.join(src, rel))
                if matcher.match(visible):
                    found.add(visible)
    return found
