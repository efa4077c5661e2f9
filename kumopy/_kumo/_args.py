"""Argument conversion shared by the namespace modules, with mlua-shaped
error messages ("error converting Lua nil to String")."""

from __future__ import annotations

from typing import Any

from .._errors import KumoError
from .._runtime import decode, lua_type
from .._runtime.userdata import Userdata

__all__ = ["lua_type_name", "string_arg", "function_arg"]


def lua_type_name(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, bytes):
        return "string"
    if isinstance(value, Userdata):
        return "userdata"
    return lua_type(value) or "userdata"


def lua_number_text(value: int | float) -> str:
    """How Lua 5.4 turns a number into a string."""
    if isinstance(value, int):
        return str(value)
    if value != value:
        return "nan" if str(value) == "nan" else "-nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    text = f"{value:.14g}"
    if all(c in "-0123456789" for c in text):
        text += ".0"
    return text


def string_arg(value: Any, what: str = "String") -> str:
    """A Lua string (numbers coerce, as mlua does)."""
    if isinstance(value, bytes):
        return decode(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return lua_number_text(value)
    raise KumoError(f"error converting Lua {lua_type_name(value)} to {what}")


def function_arg(value: Any) -> Any:
    if lua_type(value) != "function":
        raise KumoError(f"error converting Lua {lua_type_name(value)} to function")
    return value
