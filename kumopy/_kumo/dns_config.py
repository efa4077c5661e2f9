"""Real-resolver configuration (kumod: mod-dns-resolver's config.rs,
resolv_conf_loader.rs, unbound_backend.rs): checked as kumod checks it,
although kumopy never sends a query.

* `kumo.dns.load_resolv_conf([path])`: a resolv.conf read into kumod's
  DnsResolverConfig table (`domain`, `search`, `name_servers` as
  `IP:53`, `options` with `ndots`, `timeout`, `attempts`, `edns0`), with
  the defaults of the resolv_conf crate kumod uses (ndots 1, timeout 5s,
  attempts 2, no edns0) and the last `search`/`domain` line deciding the
  search list.  The path goes through the Policy's path map.
* `Hickory`/`Unbound` configs (and a bare DnsResolverConfig) are
  deserialised with kumod's rules; the Unbound backend refuses options it
  cannot apply, and a `trust_anchor_file = {managed = PATH}` is seeded
  with the root zone's trust anchors when missing or empty, as kumod does
  before handing it to libunbound.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from ._schema import (
    REQUIRED,
    Bool,
    DeError,
    Duration,
    Enum,
    Field,
    Int,
    Opt,
    Seq,
    Str,
    Struct,
    Untagged,
    lua_tree,
)

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["ROOT_TRUST_ANCHORS", "check_backend", "parse_resolv_conf", "register"]

#: the DS records of the root zone's key-signing keys (KSK-2017, KSK-2024),
#: as IANA publishes them: what a managed anchor file is seeded with
ROOT_TRUST_ANCHORS = (
    ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
    ". IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16",
)

_NAME_SERVER = Untagged(
    "NameServer",
    [
        Str(),
        Struct(
            "Detailed",
            [
                Field("socket_addr", Str(), REQUIRED),
                Field("protocol", Enum("Protocol", ["udp", "tcp", "udp_then_tcp"]),
                      "udp_then_tcp"),
                Field("trust_negative_responses", Bool(), True),
                Field("bind_addr", Opt(Str())),
            ],
        ),
    ],
    lambda v: v[0].ser(v[1]),
)
_TRUST_ANCHOR = Untagged(
    "TrustAnchorFile",
    [Str(), Struct("Managed", [Field("managed", Str(), REQUIRED)])],
    lambda v: v[0].ser(v[1]),
)
_OPTION_FIELDS = [
    Field("ndots", Opt(Int("usize"))),
    Field("timeout", Opt(Duration())),
    Field("attempts", Opt(Int("usize"))),
    Field("edns0", Opt(Bool())),
    Field("validate", Opt(Bool())),
    Field("ip_strategy", Opt(Enum("IpStrategy", [
        "Ipv4Only", "Ipv6Only", "Ipv4AndIpv6", "Ipv6AndIpv4", "Ipv6thenIpv4", "Ipv4thenIpv6"]))),
    Field("cache_size", Opt(Int("u64"))),
    Field("use_hosts_file", Opt(Enum("UseHostsFile", ["Always", "Auto", "Never"]))),
    Field("positive_min_ttl", Opt(Duration())),
    Field("negative_min_ttl", Opt(Duration())),
    Field("positive_max_ttl", Opt(Duration())),
    Field("negative_max_ttl", Opt(Duration())),
    Field("num_concurrent_reqs", Opt(Int("usize"))),
    Field("preserve_intermediates", Opt(Bool())),
    Field("try_tcp_on_error", Opt(Bool())),
    Field("server_ordering_strategy", Opt(Enum("ServerOrderingStrategy", [
        "QueryStatistics", "RoundRobin", "UserProvidedOrder"]))),
    Field("recursion_desired", Opt(Bool())),
    Field("case_randomization", Opt(Bool())),
    Field("trust_anchor_file", Opt(_TRUST_ANCHOR)),
]
RESOLVER_OPTIONS = Struct("ResolverOptions", _OPTION_FIELDS)
DNS_RESOLVER_CONFIG = Struct(
    "DnsResolverConfig",
    [
        Field("domain", Opt(Str())),
        Field("search", Seq(Str()), []),
        Field("name_servers", Seq(_NAME_SERVER), []),
        Field("options", RESOLVER_OPTIONS, {}),
    ],
)
_UNBOUND_OPTIONS = ("validate", "trust_anchor_file", "use_hosts_file")


def de_config(tree: Any) -> dict[str, Any]:
    """A DnsResolverConfig from a materialised Lua tree (raises DeError)."""
    return dict(DNS_RESOLVER_CONFIG.de(tree))


def _socket_addr(text: str) -> None:
    host, sep, port = text.rpartition(":")
    ok = bool(sep) and port.isdigit() and int(port) < 65536
    if ok:
        try:
            if host.startswith("[") and host.endswith("]"):
                ipaddress.IPv6Address(host[1:-1])
            else:
                ipaddress.IPv4Address(host)
        except ValueError:
            ok = False
    if not ok:
        raise KumoError(f"name server: '{text}': invalid socket address syntax")


def check_unbound(config: dict[str, Any], path: str) -> None:
    """What build_unbound_resolver checks and does before libunbound runs."""
    options = config["options"]
    extra = [k for k in RESOLVER_OPTIONS.fields if options.get(k) is not None
             and k not in _UNBOUND_OPTIONS]
    if extra:
        raise KumoError(
            f"{path}: option not supported by the unbound backend: unknown field `{extra[0]}`, "
            "expected one of `validate`, `trust_anchor_file`, `use_hosts_file`"
        )
    for _, ns in config["name_servers"]:
        addr = ns if isinstance(ns, str) else ns["socket_addr"]
        try:
            _socket_addr(addr)
        except KumoError as e:
            raise KumoError(f"{path}: {e}") from None
    anchor = options.get("trust_anchor_file")
    if isinstance(anchor, tuple):
        anchor = anchor[1]
    if isinstance(anchor, dict):
        _seed_managed(anchor["managed"], path)
    elif isinstance(anchor, str) and not os.path.isfile(anchor):
        raise KumoError(f"{path}: load_trust_anchor_file: no such file {anchor!r}")


def _seed_managed(name: str, path: str) -> None:
    try:
        needs = os.path.getsize(name) == 0
    except OSError:
        needs = True
    if needs:
        try:
            with open(name, "w") as f:
                f.write("\n".join(ROOT_TRUST_ANCHORS))
        except OSError as e:
            raise KumoError(
                f"{path}: seeding managed trust anchor file {name!r}: {e.strerror or e}"
            ) from None


def check_backend(state: LuaState, variant: str, value: Any, path: str) -> None:
    """Deserialise a Hickory/Unbound config (value: the Lua value inside the
    variant) as kumod does, raising its error; Unbound's own checks too."""
    try:
        config = de_config(lua_tree(state, value))
    except DeError as e:
        raise KumoError(str(e)) from None
    if variant == "Unbound":
        check_unbound(config, path)


# -- resolv.conf ---------------------------------------------------------------


def _hostname_domain() -> str | None:
    name = socket.gethostname()
    _, dot, rest = name.partition(".")
    return rest if dot and rest else None


def parse_resolv_conf(text: str) -> dict[str, Any]:
    """resolv.conf -> kumod's DnsResolverConfig (as plain data)."""
    name_servers: list[str] = []
    domain: str | None = None
    search: list[str] = []
    last_search_or_domain: list[str] = []
    options: dict[str, Any] = {"ndots": 1, "timeout": 5, "attempts": 2, "edns0": False}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        keyword, *args = line.split()
        if keyword == "nameserver":
            if len(args) != 1:
                raise KumoError(f"parsing resolv.conf: line {lineno}: invalid nameserver")
            try:
                ip = ipaddress.ip_address(args[0].split("%", 1)[0])
            except ValueError:
                raise KumoError(
                    f"parsing resolv.conf: line {lineno}: invalid IP address {args[0]!r}"
                ) from None
            name_servers.append(f"[{ip}]:53" if ip.version == 6 else f"{ip}:53")
        elif keyword == "domain" and args:
            domain = args[0]
            last_search_or_domain = [args[0]]
        elif keyword == "search":
            search = list(args)
            last_search_or_domain = list(args)
        elif keyword == "options":
            for opt in args:
                name, _, value = opt.partition(":")
                if name in ("ndots", "timeout", "attempts"):
                    try:
                        options[name] = int(value)
                    except ValueError:
                        raise KumoError(
                            f"parsing resolv.conf: line {lineno}: invalid option {opt!r}"
                        ) from None
                elif name == "edns0":
                    options["edns0"] = True
    del search
    return {
        "domain": domain if domain is not None else _hostname_domain(),
        "search": [s for s in last_search_or_domain if s != "--"],
        "name_servers": name_servers,
        "options": {
            "ndots": options["ndots"],
            "timeout": f"{options['timeout']}s",
            "attempts": options["attempts"],
            "edns0": options["edns0"],
        },
    }


def _load_resolv_conf(state: LuaState, path: Any = None, *_: Any) -> Any:
    from ._lib import rust_string

    name = "/etc/resolv.conf" if path is None else rust_string(path)
    real = state.process.map_path(name)
    try:
        with open(real, "rb") as f:
            data = f.read()
    except OSError as e:
        detail = f"{e.strerror} (os error {e.errno})" if e.strerror else str(e)
        raise KumoError(f"reading {name}: {detail}") from None
    config = parse_resolv_conf(data.decode("utf-8", "replace"))
    if config["domain"] is None:
        del config["domain"]
    return state.to_lua(config)


def _configure_unbound(state: LuaState, config: Any = None, *_: Any) -> None:
    from .dns import _service

    try:
        checked = de_config(lua_tree(state, config))
    except DeError as e:
        raise KumoError(str(e)) from None
    check_unbound(checked, "configure_unbound_resolver")
    _service(state.process).configured.append({"Unbound": state.to_python(config)})


def register(kumo: Namespace) -> None:
    kumo.function(
        "dns.configure_unbound_resolver",
        _configure_unbound,
        notes="checked as kumod checks it (options, name servers, trust-anchor seeding); "
        "recorded, never queried",
    )
    kumo.function(
        "dns.load_resolv_conf",
        _load_resolv_conf,
        notes="through the Policy path map; the resolv_conf crate's defaults",
    )
