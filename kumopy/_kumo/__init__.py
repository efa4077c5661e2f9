"""The `kumo` module, implemented in Python, one module per namespace.

`catalogue()` collects every namespace module's registrations and fills
every other name KumoMTA defines with a function that raises
`kumopy: kumo.X is not supported`.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._registry import Entry

__all__ = ["Entry", "catalogue"]

#: the namespace modules, in registration order.  They are imported by
#: `catalogue()`, not with this package: `kumopy lint` reads rule files
#: through `formats` without building a `kumo` module.  Each keeps its heavy
#: third-party libraries (dkimpy, dnspython, httpx, PyYAML, regex, ...)
#: out of its top level, importing them when first called.
NAMESPACE_MODULES = (
    "events",
    "log",
    "memoize",
    "regex_set_map",
    "serde",
    "server",
    "smtp",
    "config",
    "memory",
    "constructors",
    "message",
    "mimepart",
    "metrics",
    "inject",
    "dkim",
    "spf",
    "dmarc",
    "shaping",
    "dns",
    "dns_config",
    "domain_map",
    "cidr",
    "regex",
    "string",
    "normalize",
    "psl",
    "template",
    "encode",
    "digest",
    "crypto",
    "counter_series",
    "mpsc",
    "uuid",
    "time",
    "secrets",
    "throttle",
    "fs",
    "file_type",
    "http",
    "machine",
    "tasks",
    "proxy",
    "aaa",
    "fakes",
)


def __getattr__(name: str) -> Any:
    if name == "Entry":  # (the registry imports the Lua runtime)
        from ._registry import Entry

        return Entry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def catalogue() -> dict[str, Entry]:
    from ._registry import Namespace
    from .names import KUMO_NAMES

    ns = Namespace()
    for name in NAMESPACE_MODULES:
        import_module(f"{__name__}.{name}").register(ns.for_module(name))
    for name in KUMO_NAMES:
        if name not in ns.entries:
            ns.add_unsupported(name)
    return dict(sorted(ns.entries.items()))
