"""`kumo.secrets.load(source)` (kumod: crates/data-loader, `KeySource`).

A KeySource is one of:

* a string: a file path, read through the Policy's path map;
* `{key_data = "..."}`: the bytes themselves (a string, or an array of
  byte values);
* `{event_name = "x", event_args = {...}}`: the string returned by the
  policy's handler for event `x`, called with the arguments;
* `{vault_mount = ..., vault_path = ...}`: HashiCorp Vault, which kumopy
  does not reach (the error says so).

The same sources are accepted wherever kumod takes a KeySource
(`kumo.digest.hmac_*`, DKIM signers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import KumoError, PolicyError
from .._runtime import lua_type

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["load_key_source", "register"]

_UNTAGGED = "data did not match any variant of untagged enum KeySource"


def _key_data(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, list) and all(
        isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in value
    ):
        return bytes(value)
    raise KumoError(_UNTAGGED)


def load_key_source(state: LuaState, source: Any) -> bytes:
    """The bytes a KeySource names (raises KumoError as kumod words it)."""
    if isinstance(source, bytes):
        path = source.decode("utf-8", "surrogateescape")
        real = state.process.map_path(path)
        try:
            with open(real, "rb") as f:
                return f.read()
        except OSError as e:
            detail = f"{e.strerror} (os error {e.errno})" if e.strerror else str(e)
            raise KumoError(f"KeySource failed to load data from file `{path}`: {detail}") from None
    if lua_type(source) != "table":
        raise KumoError(_UNTAGGED)
    data = state.to_python(source)
    if not isinstance(data, dict):
        raise KumoError(_UNTAGGED)
    if "key_data" in data:
        return _key_data(data["key_data"])
    if "vault_mount" in data and "vault_path" in data:
        raise KumoError(
            "kumopy: a Vault KeySource is not supported (kumopy does not reach Vault); use "
            "{key_data=...} or a file in tests"
        )
    if isinstance(data.get("event_name"), str) and "event_args" in data:
        args = data["event_args"]
        if isinstance(args, dict) and not args:
            args = []
        if not isinstance(args, list):
            raise KumoError(_UNTAGGED)
        event = data["event_name"]
        registry = state.handlers
        handlers = registry.get(event) if registry is not None else []
        if not handlers:
            raise KumoError(f"{event} event has no handler defined")
        try:
            values = state.invoke(handlers[0].function, *[state.to_lua(a) for a in args])
        except PolicyError as e:
            raise KumoError(e.message) from None
        result = values[0] if values else None
        if isinstance(result, bytes):
            return result
        raise KumoError(
            f"error converting Lua {lua_type(result) or type(result).__name__} to String"
        )
    raise KumoError(_UNTAGGED)


def register(kumo: Namespace) -> None:
    kumo.function(
        "secrets.load",
        lambda state, source=None: load_key_source(state, source),
        notes="file (through the path map), key_data and event sources; Vault raises "
        "'not supported'",
    )
