"""JSON, TOML and YAML for policies (kumod: crates/mod-serde).

`kumo.json_load` and `kumo.serde.json_load` (and the other pairs) are one
function exposed twice, as in kumod.  Files are read through the process
path map, so a policy that loads `/opt/kumomta/etc/policy/rules.json` reads
the mapped local file; error messages name the path the policy used.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from .._runtime import encode as to_lua_string
from . import formats
from ._args import string_arg
from ._lib import LUA_STRING_BYTES, check_result, to_lua_checked

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
    """Read a file the policy named, through the path map (its size counts
    against the state's memory limit before it is read)."""
    real = state.process.map_path(path)
    try:
        with open(real, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            check_result(state, size, f"reading file {path}")
            data = f.read()
    except OSError as e:
        where = path if real == path else f"{path} (mapped to {real})"
        detail = f"{e.strerror} (os error {e.errno})" if e.strerror else str(e)
        raise KumoError(f"reading file {where}: {detail}") from None
    return data.decode("utf-8", "surrogateescape")


def meter(state: LuaState, fmt: str) -> formats.Meter:
    """A parser's meter for `state`: it stops the parser when the handler
    is past its CPU budget or the value would not fit the memory limit."""
    what = f"the parsed {fmt.upper()} value"

    def check(total: int) -> None:
        state.check_deadline()
        check_result(state, total, what)

    return formats.Meter(check)


def _result(state: LuaState, fmt: str, value: Any, m: formats.Meter) -> Any:
    """The parsed value as a Lua value, if it fits the memory limit: the
    YAML meter counted every value (aliases repeated); the others are
    measured here."""
    what = f"the parsed {fmt.upper()} value"
    if fmt == "yaml":
        check_result(state, m.total, what)
        return state.to_lua(value)
    return to_lua_checked(state, value, what)


def _loader(fmt: str) -> Callable[..., Any]:
    parse = _PARSERS[fmt]

    def load(state: LuaState, path: Any = None) -> Any:
        p = string_arg(path)
        text = read_text(state, p)
        m = meter(state, fmt)
        try:
            value = parse(text, source=p, meter=m)
        except formats.FormatError as e:
            raise KumoError(str(e)) from None
        return _result(state, fmt, value, m)

    return load


def _parser(fmt: str) -> Callable[..., Any]:
    parse = _PARSERS[fmt]

    def parse_text(state: LuaState, text: Any = None) -> Any:
        t = string_arg(text)
        m = meter(state, fmt)
        try:
            value = parse(t, meter=m)
        except formats.FormatError as e:
            raise KumoError(str(e)) from None
        return _result(state, fmt, value, m)

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
            text = render(data)
        except formats.FormatError as e:
            raise KumoError(str(e)) from None
        except RecursionError:
            raise KumoError("recursion limit exceeded") from None
        check_result(state, len(text) + LUA_STRING_BYTES, f"the {fmt.upper()} text")
        return to_lua_string(text)

    return encode
