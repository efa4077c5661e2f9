"""`kumo.aaa.*` (kumod: kumo-server-common's authn_authz.rs): access
control lists and the `get_acl_definition` event.

* `make_access_control_list{rule, ...}`: an ACL; a rule is
  `{criteria = TERM, privilege = 'GET', access = 'Allow'|'Deny'}`, a TERM
  `{Identity = IDENT}`, `{AllOf = {TERM...}}`, `{AnyOf = {...}}` or
  `{Not = TERM}`, an IDENT `'Any'`, `'Authenticated'`,
  `'Unauthenticated'`, `{Individual = name}`, `{Group = name}`,
  `{Machine = ip}` or `{MachineSet = {cidr...}}`.
* `load_acl_map(KeySource)`: an ACL file (TOML, `[[acl."RESOURCE"]]`
  entries with `allow`, `privileges` and `identity.X` or `criteria.X`) as
  a memoizable map with `:get(resource)`.
* `make_http_url_resource(local_addr, url)`: the resource of an HTTP
  request, which expands to the candidates kumod tries in order
  (`http_listener/ADDR/a/b`, ..., `http_listener/*/a/b`, ...,
  `http_listener`).
* `query_resource_access(resource, auth_info, privilege)`: walks the
  candidates; for each, the ACL comes from the `get_acl_definition`
  handlers, called in order until one returns a value (`return nil` is a
  value: it means "no ACL"; a handler that returns nothing passes the turn
  on), else from kumod's built-in default ACL: when no handler answered at
  all, or one returned nil while `set_fall_back_to_acl_map(true)` (the
  default) is in force.  The first rule whose criteria match `auth_info`
  (`{peer_address=, identities={{identity=, context=}}, groups={...}}`)
  and whose privilege is the one asked decides.  The result has `allow`,
  `rule` and `resource` (nil when nothing matched).
* `set_acl_cache_ttl`, `set_check_cache_ttl`: how long an ACL, and a
  query's answer, are reused (kumod's default 300ms), on the Policy clock.

kumod also writes an audit record of every query to its accounting log
(`configure_acct_log`); kumopy checks and records that call's parameters
but keeps no such log.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .._errors import KumoError, PolicyError
from .._message._serde import one_of
from .._runtime.userdata import Userdata
from ._args import bool_arg
from ._lib import LibObject, rust_string
from ._schema import DeError, Duration, cidr_set_text, deserialize, invalid_type, lua_tree
from .secrets import load_key_source

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["DEFAULT_ACL", "http_resources", "register"]

_IDENTS_UNIT = ("Authenticated", "Unauthenticated", "Any")
_IDENTS = ("Individual", "Group", "Machine", "MachineSet", *_IDENTS_UNIT)
_TERMS = ("AllOf", "AnyOf", "Not", "Identity")
_CONTEXTS = (
    "SmtpAuthPlainAuthentication", "SmtpAuthPlainAuthorization", "HttpBasicAuth",
    "BearerToken", "ProxyAuthRfc1929", "LocalSystem", "GenericAuth",
)


def _variant(value: Any, names: tuple[str, ...], units: tuple[str, ...] = ()) -> tuple[str, Any]:
    if isinstance(value, str):
        if value in units:
            return value, None
        if value in names:
            raise DeError("invalid type: unit variant, expected newtype variant")
        raise DeError(f"unknown variant `{value}`, expected {one_of(names)}")
    if isinstance(value, list) and value:
        value = dict(enumerate(value, start=1))
    if not isinstance(value, dict) or len(value) != 1:
        raise DeError("invalid value: map, expected map with a single key")
    ((key, inner),) = value.items()
    if key not in names:
        raise DeError(f"unknown variant `{key}`, expected {one_of(names)}")
    if key in units:
        if inner == {} or inner == []:  # TOML's `identity.Any = {}`
            return key, None
        raise DeError("invalid type: newtype variant, expected unit variant")
    return key, inner


def _ident(value: Any) -> Any:
    kind, inner = _variant(value, _IDENTS, _IDENTS_UNIT)
    if inner is None and kind in _IDENTS_UNIT:
        return kind
    if kind in ("Individual", "Group"):
        if not isinstance(inner, str):
            raise invalid_type(inner, "a string")
        return {kind: inner}
    if kind == "Machine":
        if not isinstance(inner, str):
            raise invalid_type(inner, "IP address")
        try:
            return {kind: str(ipaddress.ip_address(inner))}
        except ValueError:
            raise DeError("invalid IP address syntax") from None
    from ._schema import CIDR_SET

    return {kind: cidr_set_text(CIDR_SET.de(inner))}


def _term(value: Any, depth: int = 0) -> Any:
    if depth > 64:
        raise DeError("ACL criteria nested too deeply")
    kind, inner = _variant(value, _TERMS)
    if kind == "Identity":
        return {kind: _ident(inner)}
    if kind == "Not":
        return {kind: _term(inner, depth + 1)}
    if isinstance(inner, dict):
        inner = [inner[i] for i in range(1, len(inner) + 1)] if all(
            i in inner for i in range(1, len(inner) + 1)) else None
    if not isinstance(inner, list):
        raise invalid_type(inner, "a sequence")
    return {kind: [_term(t, depth + 1) for t in inner]}


def _rule(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_type(value, "struct AccessControlRule")
    for name in ("criteria", "privilege", "access"):
        if name not in value:
            raise DeError(f"missing field `{name}`")
    privilege = value["privilege"]
    if not isinstance(privilege, str):
        raise invalid_type(privilege, "a string")
    access = value["access"]
    if access not in ("Allow", "Deny"):
        if isinstance(access, str):
            raise DeError(f"unknown variant `{access}`, expected `Allow` or `Deny`")
        raise invalid_type(access, "enum Access")
    return {"criteria": _term(value["criteria"]), "privilege": privilege, "access": access}


def _rules(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict) and not value:
        value = []
    if not isinstance(value, list):
        raise invalid_type(value, "a sequence")
    return [_rule(r) for r in value]


# -- ACL files -----------------------------------------------------------------


def build_map(data: Any) -> dict[str, list[dict[str, Any]]]:
    """An ACL file (parsed TOML) as resource -> rules, as ACLFile::build_map."""
    if not isinstance(data, dict):
        raise DeError("invalid type: expected struct ACLFile")
    for key in data:
        if key != "acl":
            raise DeError(f"unknown field `{key}`, expected `acl`")
    if "acl" not in data:
        raise DeError("missing field `acl`")
    out: dict[str, list[dict[str, Any]]] = {}
    acl = data["acl"]
    if not isinstance(acl, dict):
        raise invalid_type(acl, "a map")
    for resource, entries in acl.items():
        if not isinstance(entries, list):
            raise invalid_type(entries, "a sequence")
        rules: list[dict[str, Any]] = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise invalid_type(entry, "struct ACLFileEntry")
            for k in entry:
                if k not in ("allow", "privileges", "identity", "criteria"):
                    raise DeError(f"unknown field `{k}`")
            if not isinstance(entry.get("allow"), bool):
                raise DeError("missing field `allow`") if "allow" not in entry else \
                    invalid_type(entry["allow"], "a boolean")
            privileges = entry.get("privileges")
            if not isinstance(privileges, list) or not all(isinstance(p, str) for p in privileges):
                raise DeError("missing field `privileges`") if privileges is None else \
                    invalid_type(privileges, "a sequence of strings")
            has_id, has_crit = "identity" in entry, "criteria" in entry
            if has_id == has_crit:
                raise DeError("no variant of enum ACLFileCondition found in flattened data")
            criteria = {"Identity": _ident(entry["identity"])} if has_id else \
                _term(entry["criteria"])
            access = "Allow" if entry["allow"] else "Deny"
            for p in privileges:
                rules.append({"criteria": criteria, "privilege": p, "access": access})
        out[str(resource)] = rules
    return out


def _entry(allow: bool, privileges: list[str], identity: Any) -> dict[str, Any]:
    return {"allow": allow, "privileges": privileges, "identity": identity}


_TRUSTED = {"Group": "kumomta:http-listener-trusted-ip"}
#: kumod's compiled-in default ACL (its assets/acls/default.toml)
DEFAULT_ACL: dict[str, list[dict[str, Any]]] = build_map({"acl": {
    "http_listener/*/api/check-liveness": [_entry(True, ["GET"], {"Any": {}})],
    "http_listener/*/rapidoc": [_entry(True, ["GET"], {"Any": {}})],
    "http_listener/*/api-docs/openapi.json": [_entry(True, ["GET"], {"Any": {}})],
    "http_listener/*/api/inject": [
        _entry(True, ["POST"], _TRUSTED), _entry(True, ["POST"], {"Authenticated": {}})],
    "http_listener/*/api/admin": [_entry(True, ["GET", "DELETE", "POST"], _TRUSTED)],
    "http_listener/*/api/machine-info": [_entry(True, ["GET"], _TRUSTED)],
    "http_listener/*/metrics": [_entry(True, ["GET"], _TRUSTED)],
    "http_listener/*/metrics.json": [_entry(True, ["GET"], _TRUSTED)],
    "http_listener/*/api/xfer": [_entry(True, ["POST"], _TRUSTED)],
    "http_listener/*/publish_log_v1": [_entry(True, ["POST"], _TRUSTED)],
    "http_listener/*/tsa/status": [_entry(True, ["GET"], {"Any": {}})],
    "http_listener/*/get_config_v1": [_entry(True, ["GET"], _TRUSTED)],
    "http_listener/*/get_suspension_v1": [_entry(True, ["GET"], _TRUSTED)],
    "http_listener/*/subscribe_suspension_v1": [_entry(True, ["GET"], _TRUSTED)],
    "http_listener/*/get_bounce_v1": [_entry(True, ["GET"], _TRUSTED)],
    "http_listener/*/subscribe_event_v1": [_entry(True, ["GET"], _TRUSTED)],
}})


# -- matching ------------------------------------------------------------------


@dataclass(frozen=True)
class AuthInfo:
    peer_address: str | None = None
    identities: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def matches_identity(self, ident: Any) -> bool:
        if ident == "Any":
            return True
        if ident == "Unauthenticated":
            return not self.identities
        if ident == "Authenticated":
            return bool(self.identities)
        ((kind, value),) = ident.items()
        if kind == "Individual":
            return value in self.identities
        if kind == "Group":
            return value in self.groups
        if self.peer_address is None:
            return False
        ip = ipaddress.ip_address(self.peer_address)
        if kind == "Machine":
            return ip == ipaddress.ip_address(value)
        return any(ip in ipaddress.ip_network(n, strict=False) for n in value)

    def matches(self, term: Any) -> bool:
        ((kind, value),) = term.items()
        if kind == "Not":
            return not self.matches(value)
        if kind == "AnyOf":
            return any(self.matches(t) for t in value)
        if kind == "AllOf":
            return all(self.matches(t) for t in value)
        return self.matches_identity(value)


def _auth_info(tree: Any) -> AuthInfo:
    if isinstance(tree, list) and not tree:
        tree = {}
    if not isinstance(tree, dict):
        raise invalid_type(tree, "struct AuthInfo")
    peer = tree.get("peer_address")
    if peer is not None:
        if not isinstance(peer, str):
            raise invalid_type(peer, "IP address")
        try:
            peer = str(ipaddress.ip_address(peer))
        except ValueError:
            raise DeError("invalid IP address syntax") from None
    idents = tree.get("identities") or []
    groups = tree.get("groups") or []
    if not isinstance(idents, list) or not isinstance(groups, list):
        raise invalid_type(idents if not isinstance(idents, list) else groups, "a sequence")
    names = []
    for ident in idents:
        if not isinstance(ident, dict):
            raise invalid_type(ident, "struct Identity")
        for f in ("identity", "context"):
            if f not in ident:
                raise DeError(f"missing field `{f}`")
        if ident["context"] not in _CONTEXTS:
            raise DeError(f"unknown variant `{ident['context']}`, expected {one_of(_CONTEXTS)}")
        names.append(str(ident["identity"]))
    if not all(isinstance(g, str) for g in groups):
        raise DeError("invalid type: expected a string")
    return AuthInfo(peer, tuple(names), tuple(groups))


def query(rules: list[dict[str, Any]], info: AuthInfo, privilege: str) -> dict[str, Any] | None:
    for rule in rules:
        if info.matches(rule["criteria"]) and rule["privilege"] == privilege:
            return rule
    return None


def http_resources(local_addr: str, path: str) -> list[str]:
    """The candidate resources of an HTTP request, most specific first."""
    path = path.encode("utf-8")[:256].decode("utf-8", "ignore")
    components = path[1:].split("/", 10)[:10]
    with_addr, path_only = [], []
    while components:
        joined = "/".join(components)
        with_addr.append(f"http_listener/{local_addr}/{joined}")
        path_only.append(f"http_listener/*/{joined}")
        components.pop()
    return [*with_addr, f"http_listener/{local_addr}", *path_only, "http_listener"]


# -- Lua objects ---------------------------------------------------------------


class AccessControlList(Userdata):
    lua_type_name = "AccessControlListWrap"

    def __init__(self, rules: list[dict[str, Any]]) -> None:
        self.rules = rules


class AccessControlListMap(LibObject):
    lua_type_name = "AccessControlListMapWrap"
    memoizable = True

    def __init__(self, acl: dict[str, list[dict[str, Any]]]) -> None:
        self.acl = acl

    def _get(self, state: LuaState, resource: Any = None, *_: Any) -> Any:
        rules = self.acl.get(rust_string(resource))
        return None if rules is None else AccessControlList(rules)

    methods: ClassVar[dict[str, Any]] = {"get": _get}


class HttpResource(Userdata):
    lua_type_name = "ResourceWrap"

    def __init__(self, candidates: list[str]) -> None:
        self.candidates = candidates


class Disposition(LibObject):
    lua_type_name = "ACLQueryDisposition"

    def __init__(self, rule: dict[str, Any] | None, resource: str | None) -> None:
        self.rule = rule
        self.resource = resource

    def field(self, state: LuaState, name: str) -> Any:
        if name == "allow":
            return self.rule is not None and self.rule["access"] == "Allow"
        if name == "rule":
            return None if self.rule is None else state.to_lua(self.rule)
        if name == "resource":
            return None if self.resource is None else state.to_lua(self.resource)
        raise AttributeError(name)


@dataclass
class _AaaService:
    fall_back: bool = True
    acl_ttl: float = 0.3
    check_ttl: float = 0.3
    acl_cache: dict[str, tuple[float, Any]] = field(default_factory=dict)
    check_cache: dict[Any, tuple[float, Any]] = field(default_factory=dict)


def _service(state: LuaState) -> _AaaService:
    return state.process.service("aaa", _AaaService)


def _load_for_resource(state: LuaState, resource: str) -> list[dict[str, Any]] | None:
    svc = _service(state)
    now = state.process.clock.now()
    hit = svc.acl_cache.get(resource)
    if hit is not None and hit[0] > now:
        if isinstance(hit[1], KumoError):
            raise hit[1]
        return hit[1]  # type: ignore[no-any-return]
    try:
        value: Any = _acl_from_handlers(state, resource, svc)
    except KumoError as e:
        value = e
    if len(svc.acl_cache) >= 128:
        svc.acl_cache.pop(next(iter(svc.acl_cache)))
    svc.acl_cache[resource] = (now + svc.acl_ttl, value)
    if isinstance(value, KumoError):
        raise value
    return value  # type: ignore[no-any-return]


def _acl_from_handlers(
    state: LuaState, resource: str, svc: _AaaService
) -> list[dict[str, Any]] | None:
    registry = state.handlers
    handlers = registry.get("get_acl_definition") if registry is not None else []
    for handler in handlers:
        try:
            values = state.invoke(handler.function, resource.encode("utf-8"))
        except PolicyError as e:
            raise KumoError(e.message) from None
        if not values:
            # kumod: a handler that returns nothing at all passes the turn on
            continue
        result = values[0]
        if result is None:
            # `return nil` decides: no ACL from the handlers
            return DEFAULT_ACL.get(resource) if svc.fall_back else None
        if not isinstance(result, AccessControlList):
            kind = "table" if not isinstance(result, bytes | int | float | bool) else \
                type(result).__name__
            raise KumoError(
                f"get_acl_definition: error converting Lua {kind} to userdata "
                "AccessControlListWrap (return kumo.aaa.make_access_control_list{...} or nil)"
            )
        return result.rules
    # no handler, or none returned anything: kumod counts that as no handler
    return DEFAULT_ACL.get(resource)


def _query(state: LuaState, resource: Any = None, info: Any = None, privilege: Any = None,
           *_: Any) -> Disposition:
    if not isinstance(resource, HttpResource):
        raise KumoError(
            "error converting Lua value to userdata ResourceWrap "
            "(use kumo.aaa.make_http_url_resource)"
        )
    try:
        auth = _auth_info(lua_tree(state, info))
    except DeError as e:
        raise KumoError(str(e)) from None
    priv = rust_string(privilege)
    svc = _service(state)
    now = state.process.clock.now()
    key = (resource.candidates[0], priv, auth)
    hit = svc.check_cache.get(key)
    if hit is not None and hit[0] > now:
        return Disposition(*hit[1])
    answer: tuple[dict[str, Any] | None, str | None] = (None, None)
    for candidate in resource.candidates:
        rules = _load_for_resource(state, candidate)
        if rules is not None:
            rule = query(rules, auth, priv)
            if rule is not None:
                answer = (rule, candidate)
                break
    if len(svc.check_cache) >= 128:
        svc.check_cache.pop(next(iter(svc.check_cache)))
    svc.check_cache[key] = (now + svc.check_ttl, answer)
    return Disposition(*answer)


def _make_list(state: LuaState, rules: Any = None, *_: Any) -> AccessControlList:
    try:
        return AccessControlList(_rules(lua_tree(state, rules)))
    except DeError as e:
        raise KumoError(str(e)) from None


def _load_map(state: LuaState, source: Any = None, *_: Any) -> AccessControlListMap:
    data = load_key_source(state, source)
    import tomllib  # (imported when an ACL map is first loaded: start-up)

    try:
        parsed = tomllib.loads(data.decode("utf-8"))
        return AccessControlListMap(build_map(parsed))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, DeError) as e:
        raise KumoError(f"failed to parse acl map data: {e}") from None


def _make_resource(state: LuaState, local_addr: Any = None, url: Any = None,
                   *_: Any) -> HttpResource:
    from urllib.parse import urlsplit

    addr = rust_string(local_addr)
    host, sep, port = addr.rpartition(":")
    try:
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ValueError
        ip = ipaddress.ip_address(host[1:-1] if host.startswith("[") else host)
        if ip.version == 6 and not host.startswith("["):
            raise ValueError
    except ValueError:
        raise KumoError("invalid socket address syntax") from None
    shown = f"[{ip}]:{int(port)}" if ip.version == 6 else f"{ip}:{int(port)}"
    text = rust_string(url)
    if not text or any(c in text for c in " \t\r\n\"<>\\^`{|}"):
        raise KumoError("invalid uri character")
    path = urlsplit(text).path if "://" in text else text.split("?", 1)[0]
    return HttpResource(http_resources(shown, path or "/"))


def _set_fall_back(state: LuaState, value: Any = None, *_: Any) -> None:
    _service(state).fall_back = bool_arg(value)


def _ttl_setter(attr: str) -> Any:
    def impl(state: LuaState, value: Any = None, *_: Any) -> None:
        nanos = deserialize(state, Duration(), value)
        svc = _service(state)
        setattr(svc, attr, (nanos // 1_000_000) / 1000)
        (svc.acl_cache if attr == "acl_ttl" else svc.check_cache).clear()

    return impl


def _acct_log_schema() -> Any:
    from . import _schema as s
    from .config import MIN_FREE

    return s.Struct(
        "AuditLogParams",
        [
            s.Field("log_dir", s.Str(), s.REQUIRED),
            s.Field("max_file_size", s.Int("u64"), 1_000_000_000),
            s.Field("back_pressure", s.Int("usize"), 128_000),
            s.Field("compression_level", s.Int("i32"), 0),
            s.Field("max_segment_duration", s.Opt(Duration())),
            s.Field("min_free_space", MIN_FREE, "10%"),
            s.Field("min_free_inodes", MIN_FREE, "10%"),
            s.Field("log_authz_allow", s.Bool(), True),
            s.Field("log_authz_deny", s.Bool(), True),
            s.Field("log_authn_ok", s.Bool(), True),
            s.Field("log_authn_fail", s.Bool(), True),
        ],
    )


def _configure_acct_log(state: LuaState, params: Any = None, *_: Any) -> None:
    from .config import _record, server_config

    if any(e["kind"] == "acct" for e in server_config(state).logs):
        raise KumoError("AuditLogParams::init must not be called more than once")
    _record(state, "logs", "acct", _acct_log_schema(), params)


def register(kumo: Namespace) -> None:
    kumo.function(
        "aaa.configure_acct_log",
        _configure_acct_log,
        notes="checked and recorded (server config `logs`, kind acct); no audit log is written",
    )
    kumo.function("aaa.make_access_control_list", _make_list)
    kumo.function("aaa.load_acl_map", _load_map, notes="KeySource holding kumod's ACL TOML")
    kumo.function("aaa.make_http_url_resource", _make_resource)
    kumo.function(
        "aaa.query_resource_access",
        _query,
        notes="get_acl_definition handlers, then kumod's default ACL; no audit log",
    )
    kumo.function("aaa.set_fall_back_to_acl_map", _set_fall_back)
    kumo.function("aaa.set_acl_cache_ttl", _ttl_setter("acl_ttl"), notes="on the Policy clock")
    kumo.function("aaa.set_check_cache_ttl", _ttl_setter("check_ttl"), notes="on the Policy clock")
