"""`kumo.shaping.load(files [, options])`: a subset of kumod's traffic
shaping data model (crates/kumo-api-types/src/shaping.rs), enough for the
`policy-extras.shaping` helper to resolve egress paths.

Modelled as kumod does it: TOML/JSON files merged in order (`replace_base`
replaces an entry instead of merging it), the `default` block, per-domain
blocks with `mx_rollup = false`, per-site blocks (`mx_rollup = true`, the
default: keyed by the domain's MX site name from kumopy's fake resolver;
a failed lookup drops the block and is reported at the `dns_fail` level),
`[provider.*]` blocks matched by `DomainSuffix`, `MXSuffix` and `HostName`
rules (every MX host must match), per-source overrides (`sources`), the
merge order of `get_egress_path_config`, the throttle tables that merge
instead of being replaced, the `ShapingMergeOptions` check levels, and the
rule that every merged entry must be a valid EgressPathConfig (otherwise
loading fails).

Provider blocks add `provider_name` and their shared limits to every
matching domain's egress path, as kumod does: `provider_connection_limit`
becomes `additional_connection_limits["shaping-provider-NAME-SOURCE-limit"]`,
`provider_max_message_rate` `additional_message_rate_throttles[...-rate]`,
and a source's `provider_source_selection_rate`
`additional_source_selection_rates[...-selection-rate]`.  `automation` rules
are checked at load (kumopy/_kumo/_automation.py) and `match_rules(record)`
applies them as kumod does.

Not modelled: remote (http) shaping files (reported at `remote_load`).
`hash()` is a SHA-256 of kumopy's own view of the data, not kumod's value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from .._runtime.userdata import Userdata
from . import _schema as s
from . import dns
from ._args import ArgConversionError, adapt_function, string_arg
from ._automation import Rule, parse_rules
from .constructors import EGRESS_PATH, to_lua_with_null
from .formats import FormatError, parse_json, parse_toml
from .serde import read_text

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

_ENTRY_KEYS = {"mx_rollup", "replace_base", "automation", "sources"}
_PROVIDER_KEYS = {
    "provider_connection_limit",
    "provider_max_message_rate",
    "match",
    "replace_base",
    "automation",
    "sources",
}
_MERGEABLE = {
    "additional_connection_limits",
    "additional_message_rate_throttles",
    "additional_source_selection_rates",
}


def register(kumo: Namespace) -> None:
    kumo.function(
        "shaping.load",
        load,
        notes="local TOML/JSON files, default/domain/site/provider blocks (provider_name and "
        "the provider_* shared limits), sources, replace_base, automation rules and "
        "match_rules; MX through kumopy's resolver; no remote (http) files",
    )


def merge_params(target: dict[str, Any], source: dict[str, Any]) -> None:
    """kumod's toml_table_merge_from."""
    for key, value in source.items():
        existing = target.get(key)
        if key in _MERGEABLE and isinstance(existing, dict) and isinstance(value, dict):
            existing.update(value)
        else:
            target[key] = s.copy_tree(value)


class _Entry:
    def __init__(self, raw: dict[str, Any], keys: set[str], name: str = "") -> None:
        self.name = name
        self.params = {k: s.copy_tree(v) for k, v in raw.items() if k not in keys}
        self.sources: dict[str, dict[str, Any]] = {
            str(k): s.copy_tree(v) for k, v in (raw.get("sources") or {}).items()
        }
        self.mx_rollup = bool(raw.get("mx_rollup", True))
        self.matches: list[dict[str, str]] = list(raw.get("match") or [])
        self.automation: list[Rule] = parse_rules(raw.get("automation"), name)
        #: provider blocks: the shared limits every matching domain gets
        self.connection_limit: Any = None
        self.max_message_rate: str | None = None
        if "provider_connection_limit" in raw:
            try:
                self.connection_limit = s.LIMIT.de(raw["provider_connection_limit"])
            except s.DeError as e:
                raise KumoError(f"provider {name}: provider_connection_limit: {e}") from None
        if "provider_max_message_rate" in raw:
            try:
                spec = s.throttle_spec(str(raw["provider_max_message_rate"]))
            except ValueError as e:
                raise KumoError(f"provider {name}: provider_max_message_rate: {e}") from None
            self.max_message_rate = s.throttle_text(spec)

    def merge(self, other: _Entry, replace: bool) -> None:
        """kumod's merge_from (PartialEntry / ProviderEntry): rules and
        match lists append; `replace_base` replaces.  kumod keeps the first
        file's provider_max_message_rate (its merge does not carry it over)."""
        if replace:
            self.params, self.sources, self.matches = other.params, other.sources, other.matches
            self.automation = other.automation
            self.connection_limit = other.connection_limit
            return
        if other.connection_limit is not None:
            self.connection_limit = other.connection_limit
        merge_params(self.params, other.params)
        for name, tbl in other.sources.items():
            if name in self.sources:
                merge_params(self.sources[name], tbl)
            else:
                self.sources[name] = tbl
        self.matches = self.matches + other.matches
        self.automation = self.automation + other.automation

    def apply_provider_params(self, source: str, target: dict[str, Any]) -> None:
        """kumod's apply_provider_params_to: provider_name and the shared
        limits named `shaping-provider-NAME-SOURCE-{limit,rate,selection-rate}`."""
        implied: dict[str, Any] = {"provider_name": self.name}
        prefix = f"shaping-provider-{self.name}-{source}"
        if self.connection_limit is not None:
            limit = self.connection_limit
            text = f"{'local:' if limit['force_local'] else ''}{limit['limit']}"
            implied["additional_connection_limits"] = {f"{prefix}-limit": text}
        if self.max_message_rate is not None:
            implied["additional_message_rate_throttles"] = {
                f"{prefix}-rate": self.max_message_rate
            }
        rate = target.pop("provider_source_selection_rate", None)
        if rate is not None:
            implied["additional_source_selection_rates"] = {f"{prefix}-selection-rate": rate}
        merge_params(target, implied)


MxLookup = Callable[[str], "list[str] | None"]


class Shaping(Userdata):
    """The loaded shaping data (kumod: a memoizable Shaping userdata)."""

    lua_type_name = "userdata"
    memoizable = True

    def __init__(self, mx_lookup: MxLookup) -> None:
        self.by_site: dict[str, _Entry] = {}
        self.by_domain: dict[str, _Entry] = {}
        self.by_provider: dict[str, _Entry] = {}
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.hash = ""
        self._mx_lookup = mx_lookup

    # -- lookups --------------------------------------------------------------

    def _provider_matches(self, entry: _Entry, domain: str) -> bool:
        need_mx = False
        for rule in entry.matches:
            if "DomainSuffix" in rule and domain.removesuffix(".").endswith(rule["DomainSuffix"]):
                return True
            if "MXSuffix" in rule or "HostName" in rule:
                need_mx = True
        if not need_mx:
            return False
        hosts = self._mx_lookup(domain)
        if not hosts:
            return False
        for host in hosts:
            bare = host.removesuffix(".")
            ok = any(
                ("MXSuffix" in r and bare.endswith(r["MXSuffix"]))
                or ("HostName" in r and bare == r["HostName"].removesuffix("."))
                for r in entry.matches
            )
            if not ok:
                return False
        return True

    def egress_path_params(self, domain: str, source: str, site: str) -> dict[str, Any]:
        params: dict[str, Any] = {}
        default = self.by_domain.get("default")
        if default is not None:
            merge_params(params, default.params)
        with_sources = []
        for prov in self.by_provider.values():
            if self._provider_matches(prov, domain):
                merge_params(params, prov.params)
                prov.apply_provider_params(source, params)
                if prov.sources:
                    with_sources.append(prov)
        for prov in with_sources:
            if source in prov.sources:
                merge_params(params, prov.sources[source])
                prov.apply_provider_params(source, params)
        by_site, by_domain = self.by_site.get(site), self.by_domain.get(domain)
        if by_site is not None:
            merge_params(params, by_site.params)
        if by_domain is not None:
            merge_params(params, by_domain.params)
        if by_site is not None and source in by_site.sources:
            merge_params(params, by_site.sources[source])
        if by_domain is not None and source in by_domain.sources:
            merge_params(params, by_domain.sources[source])
        return params

    def referenced_sources(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for kind, table in (("site", self.by_site), ("domain", self.by_domain)):
            for name, entry in table.items():
                for src in entry.sources:
                    out.setdefault(src, []).append(f"{kind}:{name}")
        return dict(sorted(out.items()))

    # -- Lua side -------------------------------------------------------------------

    def lua_index(self, state: LuaState, key: Any) -> Any:
        name = key.decode() if isinstance(key, bytes) else None
        methods: dict[str, Callable[..., Any]] = {
            "get_egress_path_config": self._lua_get_egress_path_config,
            "get_errors": lambda st, *_: st.to_lua(list(self.errors)),
            "get_warnings": lambda st, *_: st.to_lua(list(self.warnings)),
            "get_referenced_sources": lambda st, *_: st.to_lua(self.referenced_sources()),
            "match_rules": self._lua_match_rules,
            "hash": lambda st, *_: st.to_lua(self.hash),
        }
        if name in methods:
            return state.lua_function(f"Shaping:{name}", adapt_function(methods[name]))
        return None

    def _lua_get_egress_path_config(
        self,
        state: LuaState,
        _self: Any = None,
        domain: Any = None,
        source: Any = None,
        site: Any = None,
        *_: Any,
    ) -> Any:
        params = self.egress_path_params(string_arg(domain), string_arg(source), string_arg(site))
        return to_lua_with_null(state, params)

    def match_rules(self, recipient: str, response: Any, source: str, site: str) -> list[Rule]:
        """kumod's Shaping::match_rules for one log record: the automation
        rules of the default block, matching providers, the site and the
        domain whose patterns match the response."""
        domain = recipient.rpartition("@")[2].strip("<>").lower()
        site_name = site.removeprefix(f"{source}->").removesuffix("@smtp_client")
        line = response.to_single_line()
        internal = response.content.startswith("KumoMTA internal: ")
        out: list[Rule] = []
        default = self.by_domain.get("default")
        if default is not None:
            out += [r.with_rollup() for r in default.automation if r.matches(internal, line)]
        for prov in self.by_provider.values():
            if self._provider_matches(prov, domain):
                out += [r for r in prov.automation if r.matches(internal, line)]
        by_site = self.by_site.get(site_name)
        if by_site is not None:
            out += [r.with_rollup() for r in by_site.automation if r.matches(internal, line)]
        by_domain = self.by_domain.get(domain)
        if by_domain is not None:
            out += [r for r in by_domain.automation if r.matches(internal, line)]
        return out

    def _lua_match_rules(self, state: LuaState, _self: Any = None, record: Any = None,
                         *_: Any) -> Any:
        from .._smtp import Response

        data = s.lua_tree(state, record)
        if not isinstance(data, dict):
            raise KumoError(f"invalid type: {s.unexpected(data)}, expected struct JsonLogRecord")
        for name in ("recipient", "response", "site"):
            if name not in data:
                raise KumoError(f"missing field `{name}`")
        recipients = data["recipient"]
        recipient = recipients[0] if isinstance(recipients, list) and recipients else recipients
        if not isinstance(recipient, str) or not recipient:
            raise KumoError("no recipients!?")
        if recipient.lower() == "postmaster":
            return state.to_lua([])
        try:
            response = Response.from_json(data["response"])
        except (TypeError, ValueError, KeyError) as e:
            raise KumoError(f"response: {e}") from None
        source = data.get("egress_source") or "unspecified"
        rules = self.match_rules(recipient, response, str(source), str(data["site"]))
        return to_lua_with_null(state, [r.to_data() for r in rules])

    def __str__(self) -> str:
        return f"Shaping: 0x{id(self):012x}"


def _dns_lookup(state: LuaState) -> MxLookup:
    policy = state.process

    def lookup(domain: str) -> list[str] | None:
        try:
            return dns.mx_hosts(policy, domain)
        except KumoError:
            return None

    return lookup


CHECK_LEVEL = s.Enum("CheckLevel", ["Ignore", "Warn", "Error"])
MERGE_OPTIONS = s.Struct(
    "ShapingMergeOptions",
    [
        s.Field("provider_overlap", CHECK_LEVEL, "Ignore"),
        s.Field("dns_fail", CHECK_LEVEL, "Ignore"),
        s.Field("null_mx", CHECK_LEVEL, "Ignore"),
        s.Field("aliased_site", CHECK_LEVEL, "Ignore"),
        s.Field("skip_remote", s.Bool(), False),
        s.Field("remote_load", CHECK_LEVEL, "Ignore"),
        s.Field("local_load", CHECK_LEVEL, "Error"),
        s.Field("http_timeout", s.Opt(s.Duration())),
    ],
)


class _Collector:
    def __init__(self, shaping: Shaping) -> None:
        self.shaping = shaping

    def push(self, level: str, message: str) -> None:
        if level == "Warn":
            self.shaping.warnings.append(message)
        elif level == "Error":
            self.shaping.errors.append(message)


def _read_file(
    state: LuaState, path: str, opts: dict[str, Any], out: _Collector
) -> dict[str, Any] | None:
    """kumod's Shaping::load_from_file: None when the file is skipped."""
    if path.startswith(("http://", "https://")):
        if opts["skip_remote"]:
            out.push("Warn", f"Ignoring {path} because skip_remote is set to true")
        else:
            out.push(
                opts["remote_load"],
                f"remote shaping source {path} error: kumopy does not fetch remote shaping "
                "data (kumod would make an HTTP request)",
            )
        return None
    try:
        text = read_text(state, path)
    except KumoError as e:
        detail = str(e).removeprefix(f"reading file {path}: ")
        detail = detail.split(": ", 1)[1] if detail.startswith(f"reading file {path} (") else detail
        out.push(
            opts["local_load"],
            f"local shaping source {path} error: loading data from file {path}: {detail}",
        )
        return None
    parsers: list[tuple[str, Callable[..., Any]]]
    if path.endswith(".toml"):
        parsers = [("toml", parse_toml)]
    elif path.endswith(".json"):
        parsers = [("json", parse_json)]
    else:
        parsers = [("toml", parse_toml), ("json", parse_json)]
    problems = []
    for kind, parse in parsers:
        try:
            data = parse(text, source=path)
        except FormatError as e:
            if len(parsers) == 1:
                raise KumoError(f"parsing {kind} from file {path}: {e}") from None
            problems.append(f"as {kind}: {e}")
            continue
        if not isinstance(data, dict):
            raise KumoError(f"parsing {kind} from file {path}: expected a table")
        return data
    out.push(opts["local_load"], f"parsing {path}: {', '.join(problems)}")
    return None


def _single_label(domain: str) -> bool:
    try:
        return len(dns.fully_qualify(domain).rstrip(".").split(".")) == 1
    except KumoError:
        return False


def load(state: LuaState, files: Any = None, options: Any = None, *_: Any) -> Shaping:
    tree = s.lua_tree(state, files)
    if isinstance(tree, dict) and not tree:
        tree = []
    if not isinstance(tree, list) or not all(isinstance(f, str) for f in tree):
        raise ArgConversionError(files, "Vec<String>")
    if options is None:
        opts = MERGE_OPTIONS.de({})
    else:
        try:
            opts = MERGE_OPTIONS.de(s.lua_tree(state, options))
        except s.DeError as e:
            raise KumoError(f"deserialize error: {e}") from None
    shaping = Shaping(_dns_lookup(state))
    out = _Collector(shaping)
    loaded = [d for d in (_read_file(state, p, opts, out) for p in tree) if d is not None]

    # MX lookups of every mx_rollup domain block
    mx: dict[str, Any] = {}
    for data in loaded:
        for name, raw in data.items():
            if name in ("default", "provider") or not isinstance(raw, dict):
                continue
            if raw.get("mx_rollup", True):
                try:
                    mx[name] = dns.resolve_mx(state.process, name)
                except KumoError as e:
                    mx[name] = e

    site_aliases: dict[str, list[str]] = {}
    for data in loaded:
        for name, raw in data.items():
            if not isinstance(raw, dict):
                raise KumoError(
                    f"invalid type: {s.unexpected(raw)}, expected struct PartialEntry "
                    f"(shaping entry '{name}')"
                )
            if name == "provider":
                for prov_name, prov_raw in raw.items():
                    _add(shaping.by_provider, str(prov_name), prov_raw, _PROVIDER_KEYS)
                continue
            if name == "default":
                _add(shaping.by_domain, name, raw, _ENTRY_KEYS)
                continue
            if _single_label(name):
                out.push(
                    "Warn",
                    f"Entry for domain '{name}' consists of a single DNS label. Domain names "
                    f'in TOML sections need to be quoted like \'["{name}.com"]` otherwise the '
                    "'.' will create a nested table rather than being added to the domain name.",
                )
            if not raw.get("mx_rollup", True):
                _add(shaping.by_domain, name, raw, _ENTRY_KEYS)
                continue
            found = mx.get(name)
            if isinstance(found, KumoError) or found is None:
                out.push(
                    opts["dns_fail"],
                    f"error resolving MX for {name}: {found}. "
                    "Ignoring the shaping config for that domain.",
                )
                continue
            if not found.site_name:
                out.push(
                    opts["null_mx"],
                    f"domain {name} has a NULL MX and cannot be used with mx_rollup=true. "
                    "Ignoring the shaping config for that domain.",
                )
                continue
            site_aliases.setdefault(found.site_name, []).append(name)
            _add(shaping.by_site, found.site_name, raw, _ENTRY_KEYS)

    _check(shaping)
    if opts["aliased_site"] != "Ignore":
        for site, aliases in site_aliases.items():
            if len(aliases) > 1:
                out.push(
                    opts["aliased_site"],
                    f"multiple domain blocks alias to the same site: {site}: {', '.join(aliases)}",
                )
    if opts["provider_overlap"] != "Ignore":
        for domain in mx:
            matching = [
                n
                for n, prov in shaping.by_provider.items()
                if shaping._provider_matches(prov, domain)
            ]
            if matching:
                out.push(
                    opts["provider_overlap"],
                    f"domain {domain} is also matched by provider(s): {', '.join(matching)}",
                )
    digest = hashlib.sha256()
    for kind, table in (
        ("by_site", shaping.by_site),
        ("by_domain", shaping.by_domain),
        ("by_provider", shaping.by_provider),
    ):
        digest.update(kind.encode())
        for name, entry in table.items():
            digest.update(name.encode())
            digest.update(repr((entry.params, entry.sources, entry.matches)).encode())
    shaping.hash = digest.hexdigest()
    return shaping


def _add(table: dict[str, _Entry], key: str, raw: Any, keys: set[str]) -> None:
    if not isinstance(raw, dict):
        raise KumoError(f"invalid type: {s.unexpected(raw)}, expected a table (entry '{key}')")
    entry = _Entry(raw, keys, key)
    existing = table.get(key)
    if existing is None:
        table[key] = entry
    else:
        existing.merge(entry, bool(raw.get("replace_base")))


def _check(shaping: Shaping) -> None:
    """kumod's finish()/finish_params(): every merged entry (and each of its
    sources) must be a valid EgressPathConfig, or loading fails."""
    for kind, table in (
        ("site", shaping.by_site),
        ("domain", shaping.by_domain),
        ("provider", shaping.by_provider),
    ):
        for name, entry in table.items():
            what = "provider" if kind == "provider" else "domain"
            checks = [("params", entry.params)] + [
                (f"source '{src}'", p) for src, p in entry.sources.items()
            ]
            for label, params in checks:
                cleaned = {k: v for k, v in params.items() if k != "provider_source_selection_rate"}
                try:
                    EGRESS_PATH.de(cleaned)
                except s.DeError as e:
                    raise KumoError(
                        f"{kind}: {name}: interpreting {what} '{name}' {label} "
                        f"{s.json_of(cleaned)} as EgressPathConfig: {e}"
                    ) from None
