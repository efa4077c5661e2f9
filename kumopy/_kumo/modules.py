"""The `require`-able modules kumod's daemons register outside `kumo`:
`sqlite` (crates/mod-sqlite), `redis` (crates/mod-redis), `tsa`
(crates/tsa-daemon) and `proxy` (crates/proxy-server).

Each module of kumopy's that implements one has a `register_module(ns)`
function adding the module's functions (names relative to the module);
`module_catalogue()` collects them and fills every other function kumod's
module has (names.OTHER_MODULES) with one raising
`kumopy: MODULE.NAME is not supported`.  `install(state)` puts them in
`package.loaded`, as kumod's `get_or_create_module` does (no global).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from ._registry import Entry, Namespace
from .names import OTHER_MODULES

if TYPE_CHECKING:
    from .._runtime import LuaState

__all__ = ["ModuleUnsupportedError", "install", "module_catalogue"]


class ModuleUnsupportedError(KumoError):
    """A function of a non-`kumo` module that kumopy does not implement."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"kumopy: {name} is not supported")


def _unsupported(name: str) -> Any:
    def impl(state: LuaState, *args: Any) -> Any:
        raise ModuleUnsupportedError(name)

    impl.__name__ = f"unsupported_{name.replace('.', '_')}"
    return impl


@cache
def module_catalogue() -> dict[str, dict[str, Entry]]:
    """module name -> {function name -> Entry}, for every module kumod's
    daemons provide."""
    from . import proxy, redis, sqlite, tsa

    out: dict[str, dict[str, Entry]] = {}
    for module in (proxy, redis, sqlite, tsa):
        short = module.__name__.rsplit(".", 1)[-1]
        ns = Namespace().for_module(short)
        module.register_module(ns)
        entries = dict(ns.entries)
        for name in OTHER_MODULES.get(short, ()):
            if name not in entries:
                entries[name] = Entry(
                    name, _unsupported(f"{short}.{name}"), "unsupported", supported=False
                )
        out[short] = dict(sorted(entries.items()))
    return out


def install(state: LuaState) -> None:
    """Set package.loaded.<module> for every module of the catalogue, and
    let the `kumo` table remember missing names (kumopy._kumo.hints)."""
    from .hints import watch_kumo

    watch_kumo(state)
    loaded = state.globals[b"package"][b"loaded"]
    for module, entries in module_catalogue().items():
        table = state.rt.table()
        for name, entry in entries.items():
            value = entry.value
            if callable(value):
                value = state.lua_function(f"{module}.{name}", value)
            else:
                value = state.to_lua(value)
            table[name.encode()] = value
        loaded[module.encode()] = table
