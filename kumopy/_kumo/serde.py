"""JSON, TOML and YAML for policies (kumod: crates/mod-serde).

`kumo.json_load` and `kumo.serde.json_load` (and the other pairs) are one
function exposed twice, as in kumod.  Files are read through the process
path map, so a policy that loads `/opt/kumomta/etc/policy/rules.json` reads
the mapped local file; error messages name the path the policy used.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from .._runtime import encode as to_lua_string
from . import formats
from ._args import string_arg

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace


_LOAD_NOTES = "reads through the Policy path map; errors name the path the policy used"
_PARSE_NOTES = "the error embeds the input text, shortened when it is long"


def register(kumo: Namespace) -> None:
    for fmt in ("json", "toml"):
        kumo.function(
            f"{fmt}_load", _loader(fmt), aliases=(f"serde.{fmt}_load",), notes=_LOAD_NOTES
        )
        kumo.function(
            f"{fmt}_parse", _parser(fmt), aliases=(f"serde.{fmt}_parse",), notes=_PARSE_NOTES
        )
        kumo.function(f"{fmt}_encode", _encoder(fmt, False), aliases=(f"serde.{fmt}_encode",))
        kumo.function(
            f"{fmt}_encode_pretty", _encoder(fmt, True), aliases=(f"serde.{fmt}_encode_pretty",)
        )
    kumo.function(
        "serde.toml_encode_pretty_compact",
        _encoder("toml", True),
        notes="same output as toml_encode_pretty",
    )
    kumo.function("serde.yaml_load", _loader("yaml"), notes=_LOAD_NOTES + " (PyYAML safe_load)")
    kumo.function("serde.yaml_parse", _parser("yaml"), notes="PyYAML safe_load")
    kumo.function("serde.yaml_encode", _encoder("yaml", False), notes="PyYAML safe_dump")


_PARSERS: dict[str, Callable[..., Any]] = {
    "json": formats.parse_json,
    "toml": formats.parse_toml,
    "yaml": formats.parse_yaml,
}


def read_text(state: LuaState, path: str) -> str:
    """Read a file the policy named, through the path map."""
    real = state.process.map_path(path)
    try:
        with open(real, "rb") as f:
            data = f.read()
    except OSError as e:
        where = path if real == path else f"{path} (mapped to {real})"
        detail = f"{e.strerror} (os error {e.errno})" if e.strerror else str(e)
        raise KumoError(f"reading file {where}: {detail}") from None
    return data.decode("utf-8", "surrogateescape")


def _loader(fmt: str) -> Callable[..., Any]:
    parse = _PARSERS[fmt]

    def load(state: LuaState, path: Any = None) -> Any:
        p = string_arg(path)
        text = read_text(state, p)
        try:
            value = parse(text, source=p)
        except formats.FormatError as e:
            raise KumoError(str(e)) from None
        return state.to_lua(value)

    return load


def _parser(fmt: str) -> Callable[..., Any]:
    parse = _PARSERS[fmt]

    def parse_text(state: LuaState, text: Any = None) -> Any:
        t = string_arg(text)
        try:
            value = parse(t)
        except formats.FormatError as e:
            raise KumoError(str(e)) from None
        return state.to_lua(value)

    return parse_text


def _encoder(fmt: str, pretty: bool) -> Callable[..., Any]:
    render: Callable[[Any], str]
    if fmt == "json":
        render = functools.partial(formats.encode_json, pretty=pretty)
    elif fmt == "toml":
        render = functools.partial(formats.encode_toml, pretty=pretty)
    else:
        render = formats.encode_yaml

    def encode(state: LuaState, value: Any = None) -> Any:
        # kumod materialises the value first: userdata expand through
        # __pairs and the array marker of empty arrays is lost ({} again)
        data = state.to_python(value, serialize=True, empty_array_as_list=False)
        try:
            return to_lua_string(render(data))
        except formats.FormatError as e:
            raise KumoError(str(e)) from None

    return encode
