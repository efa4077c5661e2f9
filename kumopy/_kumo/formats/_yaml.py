"""YAML: serde_yaml 0.9's rules over libyaml events."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import yaml
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.scanner import Scanner

from ._common import (
    _U64_MAX,
    UNMETERED,
    FormatError,
    Meter,
    _as_utf8,
    _echo,
    _format_float,
    _Guard,
    _lua_type_name,
    _read_file,
    _to_bytes,
)

# ---------------------------------------------------------------------------
# YAML (serde_yaml 0.9 on libyaml events)
# ---------------------------------------------------------------------------

_YAML_NS: Final = "tag:yaml.org,2002:"
_YAML_MAX_DEPTH: Final = 128
#: Lua memory of one value, about (for the Meter)
_NODE_BYTES: Final = 64
_YAML_REPEAT_FACTOR: Final = 100
_YAML_NULLS: Final = frozenset({"null", "Null", "NULL", "~"})
_YAML_TRUE: Final = frozenset({"true", "True", "TRUE"})
_YAML_FALSE: Final = frozenset({"false", "False", "FALSE"})
_RADIX_DIGITS: Final = {
    10: re.compile(r"[0-9]+"),
    16: re.compile(r"[0-9a-fA-F]+"),
    8: re.compile(r"[0-7]+"),
    2: re.compile(r"[01]+"),
}
_RUST_FLOAT: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class _PurePythonParser(Reader, Scanner, Parser):  # type: ignore[misc,unused-ignore]
    def __init__(self, stream: bytes) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)


class _PurePythonDumper(yaml.Dumper):  # type: ignore[misc,unused-ignore]
    """PyYAML's emitter nudged towards libyaml's choices."""

    def check_empty_document(self) -> bool:
        return False  # libyaml never writes "---" for an empty root scalar

    def write_plain(self, text: str, split: bool = True) -> None:
        super().write_plain(text, split)
        self.open_ended = False  # nor "..." after a root plain scalar


# serde_yaml runs libyaml (transpiled to Rust); PyYAML's C extension wraps the
# same library, which gives the same events, parse errors and output.
_YAML_PARSER: Any
_YAML_DUMPER: Any
try:
    from yaml.cyaml import CDumper, CParser  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _YAML_PARSER, _YAML_DUMPER = _PurePythonParser, _PurePythonDumper
else:
    _YAML_PARSER, _YAML_DUMPER = CParser, CDumper


class _YamlFailure(Exception):
    """A serde_yaml error, already rendered."""

    @classmethod
    def at(cls, message: str, mark: Any, path: str = ".") -> _YamlFailure:
        """A serde-level error with serde_yaml's path prefix and position."""
        if path != ".":
            message = f"{path}: {message}"
        if mark.line or mark.column:
            message += f" at line {mark.line + 1} column {mark.column + 1}"
        return cls(message)


class _YamlValueError(Exception):
    """A scalar conversion error (gets a path and position later)."""


@dataclass(eq=False)
class _YamlNode:
    """One node of a document, as serde_yaml's loader records it."""

    kind: str  # "scalar", "sequence", "mapping" or "alias"
    mark: Any  # libyaml start mark (0-based line and column)
    tag: str | None = None  # explicit tag, if any
    text: str = ""  # scalar text
    plain: bool = False  # scalar written without quotes or block style
    children: list[_YamlNode] = field(default_factory=list)  # mapping: k, v, k, v...
    target: _YamlNode | None = None  # what an alias refers to
    #: once converted: (value, alias jumps, metered bytes, deepest collection
    #: below it), so that every alias of it costs one step, not a new walk
    converted: tuple[object, int, int, int] | None = None


class _YamlDocumentReader:
    """Turns libyaml events into one document's nodes, with serde_yaml's anchors.

    Anchors may be redefined (the latest definition wins) and an alias may
    refer to a collection still being read (which makes it recursive).
    """

    def __init__(self, raw: bytes) -> None:
        self._parser = _YAML_PARSER(raw)
        self._anchors: dict[str, _YamlNode] = {}
        self.events = 0

    def close(self) -> None:
        self._parser.dispose()

    def _event(self) -> Any:
        self.events += 1
        return self._parser.get_event()

    def document(self) -> _YamlNode | None:
        """The next document's root, or None at the end of the stream."""
        event = self._event()
        if isinstance(event, yaml.StreamStartEvent):
            event = self._event()
        if isinstance(event, yaml.StreamEndEvent):
            return None
        self._anchors.clear()
        root = self._node(self._event())
        self._event()  # DocumentEndEvent
        return root

    def _node(self, event: Any) -> _YamlNode:
        if isinstance(event, yaml.AliasEvent):
            target = self._anchors.get(event.anchor) if event.anchor is not None else None
            if target is None:
                raise _YamlFailure.at("unknown anchor", event.start_mark)
            return _YamlNode("alias", event.start_mark, target=target)
        if isinstance(event, yaml.ScalarEvent):
            node = _YamlNode(
                "scalar", event.start_mark, event.tag, event.value, plain=not event.style
            )
        else:
            kind = "sequence" if isinstance(event, yaml.SequenceStartEvent) else "mapping"
            node = _YamlNode(kind, event.start_mark, event.tag)
        if event.anchor is not None:
            self._anchors[event.anchor] = node
        if node.kind != "scalar":
            while not isinstance(child := self._event(), yaml.CollectionEndEvent):
                node.children.append(self._node(child))
        return node


def _render_marked(err: yaml.MarkedYAMLError) -> str:
    """libyaml's error layout: ``problem at line L column C, context at ...``."""

    def where(mark: Any) -> str:
        if mark is None or (mark.line == 0 and mark.column == 0):
            return ""
        return f" at line {mark.line + 1} column {mark.column + 1}"

    text = f"{err.problem}{where(err.problem_mark)}"
    if err.context:
        text += f", {err.context}"
        problem, context = err.problem_mark, err.context_mark
        if context is not None and (
            problem is None or (context.line, context.column) != (problem.line, problem.column)
        ):
            text += where(context)
    return text


def _rust_radix_int(text: str, radix: int) -> int | None:
    """Rust's ``from_str_radix``: optional sign, then digits only."""
    sign = 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if not _RADIX_DIGITS[radix].fullmatch(text):
        return None
    if len(text.lstrip("0")) > _TOO_MANY_DIGITS[radix]:
        # beyond any 128-bit integer (and beyond what int() converts)
        return sign * _BEYOND_128_BITS
    return sign * int(text, radix)


#: more digits than any 128-bit integer has, per radix
_TOO_MANY_DIGITS: Final = {10: 40, 16: 33, 8: 44, 2: 129}
_BEYOND_128_BITS: Final = 1 << 130


def _digits_but_not_number(text: str) -> bool:
    """Leading zeros make digits a string in YAML 1.2 (serde_yaml's rule)."""
    body = text[1:] if text[:1] in ("+", "-") else text
    return len(body) > 1 and body[0] == "0" and _RADIX_DIGITS[10].fullmatch(body[1:]) is not None


def _yaml_unsigned(text: str, limit: int) -> int | None:
    body = text[1:] if text.startswith("+") else text
    for prefix, radix in (("0x", 16), ("0o", 8), ("0b", 2)):
        if body.startswith(prefix):
            rest = body[2:]
            if rest[:1] in ("+", "-"):
                return None
            number = _rust_radix_int(rest, radix)
            if number is not None and 0 <= number <= limit:
                return number
    if body[:1] in ("+", "-") or _digits_but_not_number(text):
        return None
    number = _rust_radix_int(body, 10)
    return number if number is not None and 0 <= number <= limit else None


def _yaml_negative(text: str, bits: int) -> int | None:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    for prefix, radix in (("-0x", 16), ("-0o", 8), ("-0b", 2)):
        if text.startswith(prefix):
            number = _rust_radix_int("-" + text[3:], radix)
            if number is not None and low <= number <= high:
                return number
    if _digits_but_not_number(text):
        return None
    number = _rust_radix_int(text, 10)
    return number if number is not None and low <= number <= high else None


_NOT_AN_INT: Final = object()


def _yaml_int(text: str) -> object:
    """serde_yaml's visit_int into a serde_json::Value."""
    number = _yaml_unsigned(text, _U64_MAX)
    if number is None:
        number = _yaml_negative(text, 64)
    if number is not None:
        return number
    if _yaml_unsigned(text, 2**128 - 1) is not None or _yaml_negative(text, 128) is not None:
        raise _YamlValueError("JSON number out of range")
    return _NOT_AN_INT


def _yaml_float(text: str) -> float | None:
    """serde_yaml's parse_f64: None when not a float or not finite."""
    body = text
    if text.startswith("+"):
        body = text[1:]
        if body[:1] in ("+", "-"):
            return None
    if body in (".inf", ".Inf", ".INF"):
        return math.inf
    if text in ("-.inf", "-.Inf", "-.INF"):
        return -math.inf
    if text in (".nan", ".NaN", ".NAN"):
        return math.nan
    if _RUST_FLOAT.fullmatch(body):
        value = float(body)
        return value if math.isfinite(value) else None
    return None


def _json_float(value: float) -> float | None:
    """serde_json::Value holds no NaN or infinity: those become null."""
    return value if math.isfinite(value) else None


def _yaml_plain_scalar(text: str) -> object:
    """serde_yaml's visit_untagged_scalar."""
    if not text or text in _YAML_NULLS:
        return None
    if text in _YAML_TRUE:
        return True
    if text in _YAML_FALSE:
        return False
    number = _yaml_int(text)
    if number is not _NOT_AN_INT:
        return number
    if not _digits_but_not_number(text):
        value = _yaml_float(text)
        if value is not None:
            return _json_float(value)
    return text


def _yaml_tagged_scalar(tag: str, text: str) -> object:
    if tag == _YAML_NS + "bool":
        if text in _YAML_TRUE or text in _YAML_FALSE:
            return text in _YAML_TRUE
        raise _YamlValueError(f'invalid value: string "{text}", expected a boolean')
    if tag == _YAML_NS + "int":
        number = _yaml_int(text)
        if number is _NOT_AN_INT:
            raise _YamlValueError(f'invalid value: string "{text}", expected an integer')
        return number
    if tag == _YAML_NS + "float":
        value = _yaml_float(text)
        if value is None:
            raise _YamlValueError(f'invalid value: string "{text}", expected a float')
        return _json_float(value)
    if tag == _YAML_NS + "null":
        if text in _YAML_NULLS:
            return None
        raise _YamlValueError(f'invalid value: string "{text}", expected null')
    return text


def _yaml_scalar(node: _YamlNode) -> object:
    if node.tag is None:
        return _yaml_plain_scalar(node.text) if node.plain else node.text
    return _yaml_tagged_scalar(node.tag, node.text)


def _yaml_child_path(parent: str, key: str | int) -> str:
    """serde_yaml's Path display: ``.``, ``a.b``, ``.[0]``, ``a[1].b``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return key if parent == "." else f"{parent}.{key}"


class _YamlConverter:
    """serde_json::Value's visitor driven by serde_yaml's deserializer."""

    def __init__(self, jump_limit: int, meter: Meter | None = None) -> None:
        self._jumps_left = jump_limit
        self._meter = meter if meter is not None else Meter()

    def convert(self, node: _YamlNode, path: str = ".", depth: int = 0) -> object:
        return self._convert(node, path, depth)[0]

    def _convert(self, node: _YamlNode, path: str, depth: int) -> tuple[object, int]:
        """The value of `node` and how deep (relative to `depth`) its
        deepest collection lies (-1: none)."""
        while node.target is not None:
            self._jumps_left -= 1
            if self._jumps_left < 0:
                raise _YamlFailure("repetition limit exceeded")
            node = node.target
        cached = node.converted
        if cached is not None and depth + cached[3] < _YAML_MAX_DEPTH:
            # the same node again (through an alias): serde_yaml walks it
            # again, counting its jumps; the value is the same
            value, jumps, nbytes, deepest = cached
            self._jumps_left -= jumps
            if self._jumps_left < 0:
                raise _YamlFailure("repetition limit exceeded")
            self._meter.add(nbytes)
            return value, deepest
        jumps_before, bytes_before = self._jumps_left, self._meter.total
        value, deepest = self._convert_node(node, path, depth)
        node.converted = (
            value,
            jumps_before - self._jumps_left,
            self._meter.total - bytes_before,
            deepest,
        )
        return value, deepest

    def _convert_node(self, node: _YamlNode, path: str, depth: int) -> tuple[object, int]:
        if node.tag is not None and node.tag.startswith("!"):
            # serde_yaml hands local tags to the visitor as an enum
            message = "invalid type: enum, expected any valid JSON value"
            raise _YamlFailure.at(message, node.mark, path)
        # every value counts, the ones an alias repeats too ("billion laughs")
        self._meter.add(_NODE_BYTES + len(node.text))
        if node.kind == "scalar":
            try:
                return _yaml_scalar(node), -1
            except _YamlValueError as err:
                raise _YamlFailure.at(str(err), node.mark, path) from None
        if depth >= _YAML_MAX_DEPTH:
            raise _YamlFailure.at("recursion limit exceeded", node.mark)
        deepest = 0
        if node.kind == "sequence":
            items = []
            for index, item in enumerate(node.children):
                value, below = self._convert(item, _yaml_child_path(path, index), depth + 1)
                items.append(value)
                deepest = max(deepest, below + 1)
            return items, deepest
        entries: dict[str, object] = {}
        for key_node, value_node in zip(node.children[::2], node.children[1::2], strict=True):
            key = self._key(key_node, path)
            value, below = self._convert(value_node, _yaml_child_path(path, key), depth + 1)
            entries[key] = value
            deepest = max(deepest, below + 1)
        return dict(sorted(entries.items())), deepest

    def _key(self, node: _YamlNode, path: str) -> str:
        while node.target is not None:
            node = node.target
        if node.kind != "scalar":
            kind = "sequence" if node.kind == "sequence" else "map"
            raise _YamlFailure.at(f"invalid type: {kind}, expected a string key", node.mark, path)
        return node.text


def _parse_yaml_bytes(raw: bytes, meter: Meter = UNMETERED) -> object:
    reader = _YamlDocumentReader(raw)
    try:
        try:
            root = reader.document()
        except yaml.reader.ReaderError as err:
            where = f" at position {err.position}" if err.position else ""
            raise _YamlFailure(f"{err.reason}{where}") from None
        except yaml.MarkedYAMLError as err:
            raise _YamlFailure(_render_marked(err)) from None
        if root is None:
            return None
        # serde_yaml stops alias expansion ("billion laughs") at 100 jumps
        # per event of the document.
        value = _YamlConverter(_YAML_REPEAT_FACTOR * reader.events, meter).convert(root)
        try:
            another = reader.document() is not None
        except yaml.YAMLError:
            another = True
        if another:
            raise _YamlFailure(
                "deserializing from YAML containing more than one document is not supported"
            )
        return value
    finally:
        reader.close()


def parse_yaml(text: str, *, source: str | None = None, meter: Meter = UNMETERED) -> object:
    """``kumo.serde.yaml_parse``: one YAML document through serde_json::Value.

    Plain scalars follow serde_yaml (YAML 1.2 style): ``null``/``~``/empty,
    ``true``/``false`` (three spellings), decimal/``0x``/``0o``/``0b``
    integers, floats; ``yes``, ``on``, ``0755``, ``1_000`` stay strings;
    ``.nan``/``.inf`` become ``None`` (JSON has no such numbers).  Keys are
    the scalar's text; merge keys (``<<``) are not applied; local tags
    (``!foo``) are an error; anchors may be redefined.  Events and syntax
    errors come from libyaml, as in serde_yaml, when PyYAML is built with
    it (otherwise from PyYAML's Python parser, whose wording differs).
    """
    label = source if source is not None else _echo(text)
    try:
        return _parse_yaml_bytes(_to_bytes(text), meter)
    except RecursionError:
        raise FormatError(f"parsing {label} as yaml: recursion limit exceeded") from None
    except _YamlFailure as err:
        raise FormatError(f"parsing {label} as yaml: {err}") from None


def load_yaml(path: str) -> object:
    """``kumo.serde.yaml_load``: read and parse a YAML file."""
    return parse_yaml(_read_file(path).decode("utf-8", "surrogateescape"), source=path)


# -- encoding (serde_yaml's emitter choices, PyYAML's emitter) ---------------

_BYTES_IN_YAML: Final = "serialization and deserialization of bytes in YAML is not implemented"
_YAML_WIDTH: Final = -1  # serde_yaml's setting: no line width limit


def _yaml_string_style(text: str) -> str | None:
    """serde_yaml's scalar style for a string (None: let the emitter choose)."""
    if "\n" in text:
        return "|"
    if _digits_but_not_number(text):
        return "'"
    try:
        resolved = _yaml_plain_scalar(text)
    except _YamlValueError:
        return "'"
    return None if resolved == text and isinstance(resolved, str) else "'"


def _yaml_float_text(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return _format_float(value, exponent_plus=False)


class _YamlEvents:
    def __init__(self) -> None:
        self.events: list[yaml.Event] = []
        self._active: set[int] = set()

    def _scalar(self, text: str, style: str | None) -> None:
        self.events.append(yaml.ScalarEvent(None, None, (True, True), text, style=style))

    def value(self, value: object) -> None:
        if value is None:
            self._scalar("null", None)
        elif isinstance(value, bool):
            self._scalar("true" if value else "false", None)
        elif isinstance(value, int):
            self._scalar(str(value), None)
        elif isinstance(value, float):
            self._scalar(_yaml_float_text(value), None)
        elif isinstance(value, str | bytes | bytearray):
            text = _as_utf8(value)
            if text is None:
                raise FormatError(_BYTES_IN_YAML)
            self._scalar(text, _yaml_string_style(text))
        elif isinstance(value, Mapping):
            with _Guard(self._active, id(value)):
                self.events.append(yaml.MappingStartEvent(None, None, True, flow_style=False))
                for key, item in value.items():
                    self.value(key)
                    self.value(item)
                self.events.append(yaml.MappingEndEvent())
        elif isinstance(value, list | tuple):
            with _Guard(self._active, id(value)):
                self.events.append(yaml.SequenceStartEvent(None, None, True, flow_style=False))
                for item in value:
                    self.value(item)
                self.events.append(yaml.SequenceEndEvent())
        else:
            raise FormatError(f"cannot serialize <{_lua_type_name(value)}>")


def encode_yaml(value: object) -> str:
    """``kumo.serde.yaml_encode``: block-style YAML as serde_yaml writes it.

    Strings that would read back as another type (``"true"``, ``"1"``,
    ``""``, ``"007"``) are single-quoted, strings with newlines use literal
    blocks when possible; floats print like ryu (``1.0``, ``1e16``,
    ``.nan``).  Empty containers print as ``{}`` / ``[]``.  Non-UTF-8
    strings are an error, as in serde_yaml.
    """
    builder = _YamlEvents()
    builder.value(value)
    events = [
        yaml.StreamStartEvent(),
        yaml.DocumentStartEvent(explicit=False),
        *builder.events,
        yaml.DocumentEndEvent(explicit=False),
        yaml.StreamEndEvent(),
    ]
    return str(yaml.emit(events, Dumper=_YAML_DUMPER, width=_YAML_WIDTH, allow_unicode=True))
