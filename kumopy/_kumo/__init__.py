"""The `kumo` module, implemented in Python, one module per namespace.

`catalogue()` collects every namespace module's registrations and fills
every other name KumoMTA defines with a function that raises
`kumopy: kumo.X is not supported`.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._registry import Entry

__all__ = ["EAGER", "Entry", "catalogue", "module_entries", "policy_catalogue"]

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


#: the namespace modules a `Policy` imports when it builds its `kumo` table:
#: the ones whose entries are not all plain functions (values, a function
#: that reads the stack, the fakes' entries) and the ones a policy's load
#: needs anyway (`proxy` also makes `require 'proxy'`).  Every other
#: module's functions are in the table from the start (their names come from
#: `_lazy.LAZY`) and the module is imported when one of them is first
#: called.
EAGER = ("events", "log", "memoize", "serde", "server", "config", "constructors", "fs",
         "tasks", "fakes", "proxy")


_REGISTERED: dict[str, dict[str, Entry]] = {}
_REGISTERING = threading.RLock()


def module_entries(module: str) -> dict[str, Entry]:
    """What namespace module `module` registers (imported, and registered
    once per process, whichever thread asks first: `catalogue` and a
    Policy's lazy functions share the same functions)."""
    entries = _REGISTERED.get(module)
    if entries is None:
        from ._registry import Namespace

        with _REGISTERING:
            entries = _REGISTERED.get(module)
            if entries is None:
                ns = Namespace().for_module(module)
                import_module(f"{__name__}.{module}").register(ns)
                entries = _REGISTERED[module] = ns.entries
    return entries


@cache
def catalogue() -> dict[str, Entry]:
    """Every `kumo` name: each namespace module's registrations, and
    every other name KumoMTA defines as not supported."""
    entries: dict[str, Entry] = {}
    for module in NAMESPACE_MODULES:
        _merge(entries, module_entries(module))
    return _complete(entries)


@cache
def policy_catalogue() -> dict[str, Entry]:
    """`catalogue()` as a Policy's `kumo` table is built from, without
    importing the namespace modules outside `EAGER`: their functions are
    `LazyFunction`s, which import the module when first called."""
    from ._lazy import LAZY, LazyFunction
    from ._registry import Entry

    entries: dict[str, Entry] = {}
    for module in NAMESPACE_MODULES:
        names = LAZY.get(module)
        if module in EAGER or names is None:
            _merge(entries, module_entries(module))
        else:
            _merge(entries, {n: Entry(n, LazyFunction(module, n), module) for n in names})
    return _complete(entries)


def _merge(entries: dict[str, Entry], more: dict[str, Entry]) -> None:
    for name, entry in more.items():
        if name in entries:
            raise ValueError(f"kumo.{name} registered twice")
        entries[name] = entry


def _complete(entries: dict[str, Entry]) -> dict[str, Entry]:
    from ._registry import Entry, unsupported
    from .names import KUMO_NAMES

    for name in KUMO_NAMES:
        if name not in entries:
            entries[name] = Entry(name, unsupported(name), "unsupported", supported=False)
    return dict(sorted(entries.items()))
