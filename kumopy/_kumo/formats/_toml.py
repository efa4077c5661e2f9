"""TOML: parsing and toml 0.9's document serializer."""

from __future__ import annotations

import datetime as _dt
import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import rtoml

from ..._text import is_utf8
from ._common import (
    _I64_MAX,
    _I64_MIN,
    UNMETERED,
    FormatError,
    Meter,
    _as_utf8,
    _echo,
    _Guard,
    _lua_type_name,
    _read_file,
    _rust_display_float,
    _to_bytes,
)

# ---------------------------------------------------------------------------
# TOML
# ---------------------------------------------------------------------------

TOML_DATETIME_KEY: Final = "$__toml_private_datetime"
"""The key under which a TOML date/time reaches Lua.

toml-rs serializes its Datetime as a one-field struct; mlua turns that into a
table ``{ ["$__toml_private_datetime"] = "1979-05-27T07:32:00Z" }``, so that
is what :func:`parse_toml` returns for dates and times.
"""

# rtoml's rendering of a toml-rs error: "<message> at line L column C"
_TOML_POSITION: Final = re.compile(
    r"^(?P<msg>.*) at line (?P<line>\d+) column (?P<col>\d+)$", re.DOTALL
)
#: deeper documents than this are refused before they reach Lua (toml-rs's
#: own parser stops nesting far earlier; this guards the conversion)
_MAX_DEPTH: Final = 1000


class _TomlProblem(Exception):
    """A TOML error already rendered the way toml-rs prints it."""


def _toml_offset(value: _dt.timedelta) -> str:
    minutes = int(value.total_seconds()) // 60
    if minutes == 0:
        return "Z"
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02}:{minutes:02}"


def _toml_time(value: _dt.time | _dt.datetime) -> str:
    text = f"{value.hour:02}:{value.minute:02}:{value.second:02}"
    if value.microsecond:
        text += "." + f"{value.microsecond:06}".rstrip("0")
    return text


def _toml_datetime_text(value: _dt.date | _dt.time) -> str:
    if isinstance(value, _dt.datetime):
        text = f"{value.date().isoformat()}T{_toml_time(value)}"
        offset = value.utcoffset()
        return text if offset is None else text + _toml_offset(offset)
    if isinstance(value, _dt.date):
        return value.isoformat()
    return _toml_time(value)


def _from_toml(value: object, path: list[str], depth: int = 0) -> object:
    """rtoml's values as mlua hands toml::Value to Lua."""
    if depth > _MAX_DEPTH:
        raise _TomlProblem("recursion limit exceeded\n")
    if isinstance(value, dict):
        return {k: _from_toml(v, [*path, k], depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_toml(item, path, depth + 1) for item in value]
    if isinstance(value, _dt.date | _dt.time):
        return {TOML_DATETIME_KEY: _toml_datetime_text(value)}
    if isinstance(value, int) and not isinstance(value, bool) and not _I64_MIN <= value <= _I64_MAX:
        keys = f"in `{'.'.join(path)}`\n" if path else ""
        raise _TomlProblem(f"integer number overflowed\n{keys}")
    return value


def _toml_position(text: str, index: int) -> tuple[int, int]:
    """toml-rs's translate_position: 0-based (line, column in characters)."""
    if not text:
        return 0, index
    safe = min(index, len(text) - 1)
    line_start = text.rfind("\n", 0, safe) + 1
    return text.count("\n", 0, line_start), safe - line_start + (index - safe)


def _toml_snippet(text: str, index: int, message: str) -> str:
    line, column = _toml_position(text, index)
    number = str(line + 1)
    gutter = " " * (len(number) + 1)
    content = text.split("\n")[line]
    return (
        f"TOML parse error at line {line + 1}, column {column + 1}\n"
        f"{gutter}|\n"
        f"{number} | {content}\n"
        f"{gutter}|{' ' * (column + 1)}^\n"
        f"{message}\n"
    )


def _rtoml_problem(text: str, message: str) -> str:
    match = _TOML_POSITION.match(message)
    if match is None:
        return f"{message}\n"
    lines = text.split("\n")
    line = min(int(match["line"]), len(lines))
    index = sum(len(part) + 1 for part in lines[: line - 1]) + int(match["col"]) - 1
    return _toml_snippet(text, index, match["msg"])


def parse_toml(text: str, *, source: str | None = None, meter: Meter = UNMETERED) -> object:
    """``kumo.toml_parse``: a TOML document as nested dicts and lists.

    Dates and times come back as ``{TOML_DATETIME_KEY: "<RFC 3339 text>"}``
    (see :data:`TOML_DATETIME_KEY`).  Parsing is done by the Rust ``toml``
    crate kumod uses (through ``rtoml``), so TOML 1.1 is accepted (inline
    tables over several lines, ``\\xHH`` and ``\\e`` escapes, times
    without seconds), nesting is bounded by the crate's recursion limit and
    time is linear in the input.  Errors have toml-rs's layout (``TOML
    parse error at line L, column C``, the source line and a caret, then
    the crate's message); date/time text is rebuilt with microsecond
    precision and an offset of zero always prints as ``Z``.  With
    ``source`` (a file name) a non-UTF-8 text reproduces kumod's read
    failure.
    """
    label = source if source is not None else _echo(text)
    if not is_utf8(text):
        if source is not None:
            raise FormatError(f"reading file {source}: stream did not contain valid UTF-8")
        raise FormatError(f"parsing {label} as toml: stream did not contain valid UTF-8")
    meter.add(len(text))  # the parsed document takes at least as much
    try:
        return _from_toml(rtoml.loads(text), [])
    except rtoml.TomlParsingError as err:
        problem = _rtoml_problem(text, str(err))
    except _TomlProblem as err:
        problem = str(err)
    raise FormatError(f"parsing {label} as toml: {problem}")


def load_toml(path: str) -> object:
    """``kumo.toml_load``: read and parse a TOML file."""
    return parse_toml(_read_file(path).decode("utf-8", "surrogateescape"), source=path)


# -- encoding (toml 0.9's document serializer over mlua values) -------------

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")


def _toml_not_a_table(value: object) -> FormatError:
    """toml-rs's complaint about a document that is not a table."""
    if value is None:
        kind = "unit"
    elif isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, int):
        kind = "i64"
    elif isinstance(value, float):
        kind = "f64"
    elif isinstance(value, str | bytes | bytearray):
        kind = "str" if _as_utf8(value) is not None else "bytes"
    elif isinstance(value, list | tuple):
        kind = "array"
    else:
        return FormatError(f"cannot serialize <{_lua_type_name(value)}>")
    return FormatError(f"unsupported {kind} type")


@dataclass
class _StringMetrics:
    max_single_run: int = 0
    max_double_run: int = 0
    control: bool = False
    backslash: bool = False
    newline: bool = False

    @classmethod
    def of(cls, text: str) -> _StringMetrics:
        metrics = cls()
        single = double = 0
        for char in text:
            single = single + 1 if char == "'" else 0
            double = double + 1 if char == '"' else 0
            metrics.max_single_run = max(metrics.max_single_run, single)
            metrics.max_double_run = max(metrics.max_double_run, double)
            if char == "\\":
                metrics.backslash = True
            elif char == "\n":
                metrics.newline = True
            elif char != "\t" and (char < " " or char == "\x7f"):
                metrics.control = True
        return metrics


_TOML_ESCAPES: Final = {"\b": "\\b", "\t": "\\t", "\f": "\\f", "\r": "\\r", "\\": "\\\\"}


def _toml_escape(text: str, *, multiline: bool) -> str:
    parts: list[str] = []
    quotes = 0
    max_quotes = 2 if multiline else 0
    for char in text:
        quotes = quotes + 1 if char == '"' else 0
        if char == '"':
            parts.append('\\"' if quotes > max_quotes else char)
        elif char == "\n":
            parts.append(char if multiline else "\\n")
        elif char in _TOML_ESCAPES:
            parts.append(_TOML_ESCAPES[char])
        elif char < " " or char == "\x7f":
            parts.append(f"\\u{ord(char):04X}")
        else:
            parts.append(char)
    return "".join(parts)


def _toml_multiline_basic(text: str, newline: bool) -> str:
    return '"""' + ("\n" if newline else "") + _toml_escape(text, multiline=True) + '"""'


def _toml_string(text: str) -> str:
    """toml_writer's default choice of string flavour for a value."""
    m = _StringMetrics.of(text)
    if not (m.control or m.backslash or m.max_double_run or m.newline):
        return '"' + _toml_escape(text, multiline=False) + '"'
    if not (m.control or m.max_single_run or m.newline):
        return "'" + text + "'"
    if not (m.control or m.backslash or m.max_double_run > 2):
        return _toml_multiline_basic(text, m.newline)
    if not (m.control or m.max_single_run > 2):
        return "'''" + ("\n" if m.newline else "") + text + "'''"
    if m.newline:
        return _toml_multiline_basic(text, True)
    return '"' + _toml_escape(text, multiline=False) + '"'


def _toml_key_text(text: str) -> str:
    """toml_writer's default choice for a key: bare, basic, literal, escaped."""
    if _BARE_KEY.fullmatch(text):
        return text
    m = _StringMetrics.of(text)
    control = m.control or m.newline
    if not (control or m.backslash or m.max_double_run):
        return '"' + _toml_escape(text, multiline=False) + '"'
    if not (control or m.max_single_run):
        return "'" + text + "'"
    return '"' + _toml_escape(text, multiline=False) + '"'


def _toml_key(key: object) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float) and key.is_integer() and _I64_MIN <= key <= _I64_MAX:
        return str(int(key))
    if isinstance(key, str | bytes | bytearray):
        text = _as_utf8(key)
        if text is not None:
            return _toml_key_text(text)
    raise FormatError("map key was not a string")


def _toml_float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = _rust_display_float(value)
    return text + ".0" if value.is_integer() else text


class _TomlStrategy(enum.Enum):
    VALUE = enum.auto()
    TABLE = enum.auto()
    ARRAY_OF_TABLES = enum.auto()
    SKIP = enum.auto()


def _toml_strategy(value: object, *, in_map: bool) -> _TomlStrategy:
    if value is None:
        return _TomlStrategy.SKIP if in_map else _TomlStrategy.VALUE
    if isinstance(value, Mapping):
        return _TomlStrategy.TABLE
    if isinstance(value, list | tuple) and value:
        if all(isinstance(item, Mapping) for item in value):
            return _TomlStrategy.ARRAY_OF_TABLES
    return _TomlStrategy.VALUE


@dataclass
class _TomlTable:
    path: list[str] | None
    array: bool = False
    body: list[str] = field(default_factory=list)
    has_children: bool = False

    def required(self) -> bool:
        if self.path is None:
            return bool(self.body)
        return self.array or bool(self.body) or not self.has_children

    def render(self) -> str:
        if self.path is None:
            return "".join(self.body)
        name = ".".join(self.path)
        header = f"[[{name}]]" if self.array else f"[{name}]"
        return header + "\n" + "".join(self.body)


class _TomlWriter:
    def __init__(self, *, pretty: bool) -> None:
        self._pretty = pretty
        self._tables: list[_TomlTable] = []
        self._active: set[int] = set()

    def document(self, value: object) -> str:
        if not isinstance(value, Mapping):
            raise _toml_not_a_table(value)
        root = self._new_table(None)
        self._fill(root, value)
        return "\n".join(table.render() for table in self._tables if table.required())

    def _new_table(self, path: list[str] | None, *, array: bool = False) -> _TomlTable:
        table = _TomlTable(path, array)
        self._tables.append(table)
        return table

    def _fill(self, table: _TomlTable, mapping: Mapping[object, object]) -> None:
        with _Guard(self._active, id(mapping)):
            for key, item in mapping.items():
                name = _toml_key(key)
                strategy = _toml_strategy(item, in_map=True)
                if strategy is _TomlStrategy.SKIP:
                    continue
                if strategy is _TomlStrategy.VALUE:
                    table.body.append(f"{name} = {self._inline(item)}\n")
                    continue
                table.has_children = True
                path = [*(table.path or []), name]
                if strategy is _TomlStrategy.TABLE:
                    assert isinstance(item, Mapping)
                    self._fill(self._new_table(path), item)
                else:
                    assert isinstance(item, list | tuple)
                    for element in item:
                        self._fill(self._new_table(path, array=True), element)

    def _inline(self, value: object) -> str:
        if value is None:
            raise FormatError("unsupported unit type")
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return _toml_float(value)
        if isinstance(value, str | bytes | bytearray):
            text = _as_utf8(value)
            if text is not None:
                return _toml_string(text)
            raw = _to_bytes(value) if isinstance(value, str) else bytes(value)
            return self._inline_array(list(raw))
        if isinstance(value, Mapping):
            with _Guard(self._active, id(value)):
                entries = [
                    f"{_toml_key(k)} = {self._inline(v)}" for k, v in value.items() if v is not None
                ]
            return "{ " + ", ".join(entries) + " }" if entries else "{}"
        if isinstance(value, list | tuple):
            with _Guard(self._active, id(value)):
                return self._inline_array(list(value))
        raise FormatError(f"cannot serialize <{_lua_type_name(value)}>")

    def _inline_array(self, items: list[object]) -> str:
        rendered = [self._inline(item) for item in items]
        if self._pretty and len(rendered) >= 2:
            return "[\n" + "".join(f"    {item},\n" for item in rendered) + "]"
        return "[" + ", ".join(rendered) + "]"


def encode_toml(value: object, *, pretty: bool = False) -> str:
    """``kumo.toml_encode`` / ``toml_encode_pretty`` (toml 0.9 layout).

    The top level must be a dict (``unsupported <type> type`` otherwise).
    Scalars and inline values of a table come first, then its sub-tables as
    ``[a.b]`` sections and lists of dicts as ``[[a]]`` sections; a table
    holding only sub-tables gets no header of its own.  ``None`` values in
    dicts are dropped (mlua's null), elsewhere they are an error.  Pretty
    output only spreads arrays of two or more items over several lines.
    """
    return _TomlWriter(pretty=pretty).document(value)
