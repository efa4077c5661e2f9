"""Lua value -> `Option<u16>` as mlua 0.11 converts it (mlua's integer
`FromLua`/`from_stack` rules, Lua 5.4 string-to-number coercion, and the
`num-traits` float-to-integer cast): `to_u16`, `lua_str2number` and
`ConversionError`."""

from __future__ import annotations

import importlib
import math
import re

_U16_MAX = 0xFFFF
_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1


class ConversionError(ValueError):
    """mlua's `FromLuaConversionError`.

    `str()` is mlua's message: `error converting Lua <from> to u16 (<detail>)`
    where `<from>` is the Lua type name mlua reports and `<detail>` is
    `out of range` or `expected number or string coercible to number`.
    """

    def __init__(self, from_type: str, to_type: str, detail: str) -> None:
        self.from_type = from_type
        self.to_type = to_type
        self.detail = detail
        super().__init__(f"error converting Lua {from_type} to {to_type} ({detail})")


_OUT_OF_RANGE = "out of range"
_NOT_COERCIBLE = "expected number or string coercible to number"

# Lua's lisspace (C locale isspace).
_LUA_SPACE = " \t\n\v\f\r"
_LUA_DEC_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_LUA_HEX_INT = re.compile(r"([+-]?)0[xX]([0-9a-fA-F]+)", re.ASCII)
# What C `strtod` consumes entirely (the forms Lua then accepts as a float);
# "inf"/"nan" are rejected by Lua before strtod is asked.
_LUA_DEC_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_LUA_HEX_FLOAT = re.compile(
    r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?", re.ASCII
)


def _wrap_i64(value: int) -> int:
    value &= 0xFFFF_FFFF_FFFF_FFFF
    return value - 2**64 if value > _I64_MAX else value


def lua_str2number(text: str | bytes) -> int | float | None:
    """Lua 5.4's string-to-number conversion (`luaO_str2num`), as used by
    `tonumber(s)` and by the C API's implicit coercion.

    Returns a Lua integer (int), a Lua float (float) or None.  Surrounding
    ASCII whitespace is allowed; any number of digits is read; decimal
    integers that overflow 64 bits become floats (infinite past 1e308);
    hexadecimal integers wrap around modulo 2**64; hexadecimal floats
    (`0x1p4`) are accepted; `inf`/`nan` and anything with other trailing text
    (including an embedded NUL) are not.
    """
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    body = text.strip(_LUA_SPACE)
    if _LUA_DEC_INT.fullmatch(body):
        # (only up to 19 significant digits can fit 64 bits: Python's int()
        # refuses more than 4,300 digits, Lua takes any number of them)
        digits = body.lstrip("+-").lstrip("0")
        if len(digits) <= 19:
            value = int(digits or "0", 10)
            if body.startswith("-"):
                value = -value
            if _I64_MIN <= value <= _I64_MAX:
                return value
        return float(body)
    hex_int = _LUA_HEX_INT.fullmatch(body)
    if hex_int:
        magnitude = int(hex_int.group(2)[-16:], 16)  # (the rest wraps away)
        return _wrap_i64(-magnitude if hex_int.group(1) == "-" else magnitude)
    # Lua refuses anything strtod would read as inf/nan; the patterns below
    # only describe finite numerals, so those never get through.
    if _LUA_DEC_FLOAT.fullmatch(body):
        return float(body)
    if _LUA_HEX_FLOAT.fullmatch(body):
        try:
            return float.fromhex(body)
        except OverflowError:
            return -math.inf if body.startswith("-") else math.inf
    return None


def _float_to_exact_integer(value: float) -> int | None:
    """Lua's float -> integer conversion in exact mode (`lua_tointegerx`)."""
    if math.isfinite(value) and value == math.floor(value) and -(2.0**63) <= value < 2.0**63:
        return int(value)
    return None


def _float_to_u16(value: float) -> int | None:
    """num-traits' `cast::<f64, u16>`: truncate values in the open interval
    (-1, 65536); NaN and everything else is None."""
    if -1.0 < value < 65536.0:
        return int(value)
    return None


def _lua_type_name(value: object) -> str:
    if isinstance(value, str | bytes):
        return "string"
    if isinstance(value, dict | list | tuple):
        return "table"
    name: object = None
    module_name = type(value).__module__
    if module_name.startswith("lupa."):
        # Each bundled Lua (lupa.lua54, lupa.lua55, ...) has its own classes
        # and its own lua_type().
        try:
            module = importlib.import_module(module_name)
            name = module.lua_type(value)
        except Exception:
            name = None
    if isinstance(name, str):
        return name
    if callable(value):
        return "function"
    return "userdata"


def to_u16(value: object) -> int | None:
    """Convert a handler's return value like mlua converts it to `Option<u16>`.

    Values are what lupa hands to Python: None (nil), bool, int (Lua
    integer), float (Lua float), str/bytes (Lua string), or Lua objects.

    * None -> None (keep the original response).
    * Integers, and floats with an exact integer value: 0..=65535, else
      `error converting Lua integer to u16 (out of range)` (mlua reads any
      integral number through `lua_tointegerx`, so `70000.0` reports
      "integer").
    * Other floats are truncated toward zero when strictly between -1 and
      65536 (`500.7` -> 500, `-0.5` -> 0); otherwise (including NaN and
      infinities) `error converting Lua number to u16 (out of range)`.
    * Strings are coerced like Lua does (`" 500 "`, `"5e2"`, `"0x1F4"`,
      `"500.0"` -> 500, `"500.7"` -> 500); non-numeric strings give
      `error converting Lua string to u16 (expected number or string
      coercible to number)`, out-of-range ones `... string to u16 (out of
      range)`.
    * Booleans, tables, functions, userdata: `error converting Lua <type> to
      u16 (expected number or string coercible to number)`.

    Only the first return value matters to mlua; pass that one.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConversionError("boolean", "u16", _NOT_COERCIBLE)
    if isinstance(value, int):
        if 0 <= value <= _U16_MAX:
            return value
        raise ConversionError("integer", "u16", _OUT_OF_RANGE)
    if isinstance(value, float):
        exact = _float_to_exact_integer(value)
        if exact is not None:
            if 0 <= exact <= _U16_MAX:
                return exact
            raise ConversionError("integer", "u16", _OUT_OF_RANGE)
        truncated = _float_to_u16(value)
        if truncated is None:
            raise ConversionError("number", "u16", _OUT_OF_RANGE)
        return truncated
    if isinstance(value, str | bytes):
        number = lua_str2number(value)
        if number is None:
            raise ConversionError("string", "u16", _NOT_COERCIBLE)
        if isinstance(number, float):
            exact = _float_to_exact_integer(number)
            if exact is None:
                truncated = _float_to_u16(number)
                if truncated is None:
                    raise ConversionError("string", "u16", _OUT_OF_RANGE)
                return truncated
            number = exact
        if 0 <= number <= _U16_MAX:
            return number
        raise ConversionError("string", "u16", _OUT_OF_RANGE)
    raise ConversionError(_lua_type_name(value), "u16", _NOT_COERCIBLE)
