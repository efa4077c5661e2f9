"""How namespace modules add their functions to the `kumo` module.

Each namespace module (one per KumoMTA crate: `serde`, `memoize`,
`regex_set_map`, ...) has a `register(kumo: Namespace)` function that adds
its functions.  An implementation is called as `impl(state, *lua_args)`
with the raw Lua arguments (strings as bytes) and returns a Python value
that lupa can hand to Lua (use `state.to_lua` for containers); it raises
`KumoError` to raise a Lua error in the calling policy.

Every function goes through `adapt_function` (kumopy/_kumo/_args.py) on
registration: whatever its Python signature, Lua may call it with more or
fewer arguments (mlua drops surplus ones and passes nil for missing ones),
and a converter's `ArgConversionError` reads as mlua's
`bad argument #N: ...`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import UnsupportedError
from ._args import adapt_function

if TYPE_CHECKING:
    from .._runtime import LuaState

__all__ = ["Entry", "Impl", "Namespace", "unsupported"]

Impl = Callable[..., Any]


@dataclass(frozen=True)
class Entry:
    name: str
    value: Any
    module: str
    supported: bool = True
    #: how kumopy's version differs from kumod's (for docs/api-coverage.md)
    notes: str = ""


class Namespace:
    """Collects the entries of the `kumo` table."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self._module = "?"

    def for_module(self, module: str) -> Namespace:
        self._module = module
        return self

    def function(
        self, name: str, impl: Impl, *, aliases: tuple[str, ...] = (), notes: str = ""
    ) -> None:
        """Add `kumo.<name>` (and the same function under each alias, as
        kumod exposes `kumo.json_load` and `kumo.serde.json_load`)."""
        adapted = adapt_function(impl)
        for n in (name, *aliases):
            if n in self.entries:
                raise ValueError(f"kumo.{n} registered twice")
            self.entries[n] = Entry(n, adapted, self._module, notes=notes)

    def value(self, name: str, value: Any, *, notes: str = "") -> None:
        self.entries[name] = Entry(name, value, self._module, notes=notes)


def unsupported(name: str) -> Impl:
    def impl(state: LuaState, *args: Any) -> Any:
        raise UnsupportedError(name)

    impl.__name__ = f"unsupported_{name.replace('.', '_')}"
    return impl
