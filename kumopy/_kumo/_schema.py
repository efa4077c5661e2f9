"""A small model of serde deserialisation, as kumod applies it to the
parameter tables of its configuration functions and `make_*` constructors.

kumod turns a Lua table into a Rust struct with mlua's serde deserializer
(`config::from_lua_value`); errors read exactly like serde's:

* ``unknown field `x`, expected one of `a`, `b` `` (``expected `a` `` for
  one field, ``expected `a` or `b` `` for two; just ``unknown field `x` ``
  when the struct flattens another one);
* ``invalid type: integer `5`, expected a string``;
* ``invalid value: string "x", expected a duration``;
* ``missing field `name` ``;
* ``unknown variant `X`, expected one of `A`, `B` ``;
* ``data did not match any variant of untagged enum Name``.

`deserialize(state, schema, value)` wraps the message the way kumod does:
``deserialize error: <message>, while processing <JSON of the input>``.

A schema is a tree of `Type` objects.  `Type.de(value)` takes the input as
plain Python data (`lua_tree`), returns the Rust-side value (Python data
with defaults filled in) and `Type.ser(value)` gives what kumod's
serialisation produces (durations as humantime strings, unset optional
fields as None), which is what Lua sees through `__index`/`__pairs` and what
`kumopy resolve-*` prints.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .._duration import (
    NANOS_PER_SEC,
    DurationError,
    format_duration_nanos,
    parse_duration_nanos,
)
from .._errors import KumoError
from .._message._serde import one_of
from .._message._serde import unexpected as serde_unexpected
from .._runtime import decode, lua_type
from .._runtime.userdata import Userdata
from ._args import lua_type_name
from .formats import encode_json

if TYPE_CHECKING:
    from .._runtime import LuaState

__all__ = [
    "DeError",
    "Type",
    "Field",
    "Struct",
    "copy_tree",
    "deserialize",
    "duration_seconds",
    "invalid_type",
    "invalid_value",
    "json_of",
    "lua_tree",
    "not_a_table",
    "unexpected",
    "NULL",
]


class DeError(Exception):
    """A serde error message (without kumod's wrapping)."""


class _Null:
    """mlua's null sentinel in the input tree (a JSON null)."""

    def __repr__(self) -> str:
        return "NULL"


NULL: Any = _Null()

# -- Lua -> plain tree --------------------------------------------------------


def lua_tree(state: LuaState, value: Any, _depth: int = 0) -> Any:
    """A Lua value as the plain data serde sees after kumod's
    `materialize_to_lua_value` (userdata expanded through their data)."""
    from .constructors import NullSentinel

    if isinstance(value, bytes):
        return decode(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, NullSentinel):
        return NULL
    if isinstance(value, Userdata):
        try:
            return value.to_data()
        except KumoError:
            return _Opaque("userdata")
    kind = lua_type(value)
    if kind == "table":
        if _depth > 128:
            raise DeError("recursive table detected")
        n, marked = state._shape(value)
        items: dict[Any, Any] = {}
        for k, v in value.items():
            items[lua_tree(state, k, _depth + 1)] = lua_tree(state, v, _depth + 1)
        if n > 0 and len(items) == n and all(i in items for i in range(1, n + 1)):
            return [items[i] for i in range(1, n + 1)]
        if marked and not items:
            return []
        return items
    return _Opaque(kind or "userdata")


@dataclass(frozen=True)
class _Opaque:
    """A function, thread or userdata without data."""

    kind: str


def unexpected(value: Any) -> str:
    """serde's `Unexpected` text for an input value (``integer `5```,
    ``string "x"``, ``map``, ``Option value`` for `NULL`, ...)."""
    return "Option value" if value is NULL else serde_unexpected(value)


def lua_type_of(value: Any) -> str:
    """mlua's type name of an input value (for "expected table" errors);
    nil, booleans and numbers are named as `lua_type_name` names them."""
    if value is NULL:
        return "lightuserdata"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | dict):
        return "table"
    if isinstance(value, _Opaque):
        return value.kind
    return lua_type_name(value)


def not_a_table(value: Any) -> DeError:
    """mlua's deserialize_map/deserialize_seq on a value that is not a table."""
    return DeError(f"invalid type: {lua_type_of(value)}, expected table")


def invalid_type(value: Any, expected: str) -> DeError:
    return DeError(f"invalid type: {unexpected(value)}, expected {expected}")


def invalid_value(value: Any, expected: str) -> DeError:
    return DeError(f"invalid value: {unexpected(value)}, expected {expected}")


# -- types -----------------------------------------------------------------------


class Type:
    #: what serde says it expected ("a string", "u16", ...)
    expecting = "a value"

    def de(self, value: Any) -> Any:
        raise NotImplementedError

    def ser(self, value: Any) -> Any:
        return value

    def describe(self) -> str:
        return self.expecting


class Str(Type):
    expecting = "a string"

    def de(self, value: Any) -> Any:
        if isinstance(value, str):
            return value
        raise invalid_type(value, self.expecting)


class Bool(Type):
    expecting = "a boolean"

    def de(self, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        raise invalid_type(value, self.expecting)


_INT_RANGES = {
    "u8": (0, 2**8 - 1),
    "u16": (0, 2**16 - 1),
    "u32": (0, 2**32 - 1),
    "u64": (0, 2**64 - 1),
    "usize": (0, 2**64 - 1),
    "i32": (-(2**31), 2**31 - 1),
    "i64": (-(2**63), 2**63 - 1),
}


class Int(Type):
    def __init__(self, kind: str = "usize") -> None:
        self.kind = kind
        self.expecting = kind

    def de(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            lo, hi = _INT_RANGES[self.kind]
            if lo <= value <= hi:
                return value
            raise invalid_value(value, self.kind)
        raise invalid_type(value, self.kind)


class Duration(Type):
    """duration-serde: integer/float seconds or a humantime string; kept
    as integer nanoseconds, serialised with humantime's format."""

    expecting = "a duration"

    def de(self, value: Any) -> Any:
        if value is None or value is NULL or isinstance(value, list | dict | _Opaque):
            raise invalid_type(value, self.expecting)
        try:
            return parse_duration_nanos(value)
        except DurationError as e:
            raise DeError(str(e)) from None

    def ser(self, value: Any) -> Any:
        return format_duration_nanos(value)


def duration_seconds(nanos: int) -> float:
    """A deserialised `Duration` (integer nanoseconds) in seconds, exactly as
    `parse_duration` gives them."""
    return float(Fraction(nanos, NANOS_PER_SEC))


class Opt(Type):
    def __init__(self, inner: Type) -> None:
        self.inner = inner
        self.expecting = inner.expecting

    def de(self, value: Any) -> Any:
        if value is None or value is NULL:
            return None
        return self.inner.de(value)

    def ser(self, value: Any) -> Any:
        return None if value is None else self.inner.ser(value)

    def describe(self) -> str:
        return f"{self.inner.describe()} (optional)"


class Seq(Type):
    expecting = "a sequence"

    def __init__(self, inner: Type) -> None:
        self.inner = inner

    def de(self, value: Any) -> Any:
        if isinstance(value, dict):
            # mlua reads only the sequence part of a table (1..#t)
            seq: list[Any] = []
            while len(seq) + 1 in value:
                seq.append(value[len(seq) + 1])
            value = seq
        if not isinstance(value, list):
            raise not_a_table(value)
        return [self.inner.de(v) for v in value]

    def ser(self, value: Any) -> Any:
        return [self.inner.ser(v) for v in value]

    def describe(self) -> str:
        return f"list of {self.inner.describe()}"


class Map(Type):
    expecting = "a map"

    def __init__(self, inner: Type, key: Type | None = None) -> None:
        self.inner = inner
        self.key = key or Str()

    def de(self, value: Any) -> Any:
        if isinstance(value, list):
            value = {i: v for i, v in enumerate(value, start=1)}
        if not isinstance(value, dict):
            raise not_a_table(value)
        return {self.key.de(k): self.inner.de(v) for k, v in value.items()}

    def ser(self, value: Any) -> Any:
        return {self.key.ser(k): self.inner.ser(v) for k, v in value.items()}

    def describe(self) -> str:
        return f"map of {self.inner.describe()}"


class AnyValue(Type):
    """serde_json::Value: anything JSON can hold."""

    def de(self, value: Any) -> Any:
        return _plain(value)


def _plain(value: Any) -> Any:
    if value is NULL:
        return None
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, _Opaque):
        return None
    return value


class Enum(Type):
    """A Rust enum of unit variants (deserialised from its name)."""

    def __init__(self, name: str, variants: Sequence[str]) -> None:
        self.name = name
        self.variants = tuple(variants)
        self.expecting = f"enum {name}"

    def de(self, value: Any) -> Any:
        if isinstance(value, str):
            if value in self.variants:
                return value
            raise DeError(f"unknown variant `{value}`, expected {one_of(self.variants)}")
        if isinstance(value, list) and value:
            value = {i: v for i, v in enumerate(value, start=1)}
        if isinstance(value, dict | list):
            if len(value) != 1 or isinstance(value, list):
                raise DeError("invalid value: map, expected map with a single key")
            (key,) = value
            if not isinstance(key, str):
                raise DeError(f"error converting Lua {lua_type_of(key)} to String")
            if key in self.variants:
                raise DeError("invalid type: newtype variant, expected unit variant")
            raise DeError(f"unknown variant `{key}`, expected {one_of(self.variants)}")
        raise DeError("bad enum value")

    def describe(self) -> str:
        return " | ".join(self.variants)


class Custom(Type):
    """A string (or other scalar) parsed by a function; `parse` raises
    DeError with the custom message kumod's TryFrom gives."""

    def __init__(
        self,
        name: str,
        parse: Callable[[Any], Any],
        ser: Callable[[Any], Any] = lambda v: v,
        expecting: str = "a string",
    ) -> None:
        self.name = name
        self._parse = parse
        self._ser = ser
        self.expecting = expecting

    def de(self, value: Any) -> Any:
        return self._parse(value)

    def ser(self, value: Any) -> Any:
        return self._ser(value)

    def describe(self) -> str:
        return self.name


REQUIRED: Any = object()


@dataclass(frozen=True)
class Field:
    name: str
    type: Type
    default: Any = None  # the Rust-side default value, or REQUIRED
    #: serde(skip_serializing): accepted but never shown
    skip_serializing: bool = False
    doc: str = ""


class Struct(Type):
    def __init__(
        self,
        name: str,
        fields: Sequence[Field],
        *,
        flatten: Sequence[Struct] = (),
        deny_unknown_fields: bool = True,
    ) -> None:
        self.name = name
        self.fields = {f.name: f for f in fields}
        self.flatten = tuple(flatten)
        self.deny_unknown_fields = deny_unknown_fields
        self.expecting = f"struct {name}"

    def all_fields(self) -> dict[str, Field]:
        out = dict(self.fields)
        for sub in self.flatten:
            out.update(sub.all_fields())
        return out

    def de(self, value: Any) -> Any:
        if isinstance(value, list):
            value = {i: v for i, v in enumerate(value, start=1)}
        if not isinstance(value, dict):
            raise not_a_table(value)
        out: dict[str, Any] = {}
        rest: dict[Any, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                if isinstance(key, int) and not isinstance(key, bool) and not self.flatten:
                    raise invalid_type(key, "field identifier")
                rest[key] = item
                continue
            field = self.fields.get(key)
            if field is None:
                if self.flatten:
                    rest[key] = item
                    continue
                if self.deny_unknown_fields:
                    raise DeError(f"unknown field `{key}`, expected {one_of(list(self.fields))}")
                continue
            if field.default is not REQUIRED and item is None:
                out[key] = copy_tree(field.default)
                continue
            out[key] = field.type.de(item)
        for name, field in self.fields.items():
            if name not in out:
                if field.default is REQUIRED:
                    raise DeError(f"missing field `{name}`")
                out[name] = copy_tree(field.default)
        for sub in self.flatten:
            mine = {k: v for k, v in rest.items() if k in sub.all_fields()}
            for k in mine:
                rest.pop(k)
            out.update(sub.de(mine))
        if rest and self.deny_unknown_fields:
            key = next(iter(rest))
            raise DeError(f"unknown field `{key}`")
        return out

    def ser(self, value: Any) -> Any:
        out: dict[str, Any] = {}
        for name, field in self.fields.items():
            if not field.skip_serializing:
                out[name] = field.type.ser(value[name])
        for sub in self.flatten:
            out.update(sub.ser(value))
        return out

    def describe(self) -> str:
        return f"table ({self.name})"


def copy_tree(value: Any) -> Any:
    """A copy of plain data: lists and dicts copied all the way down."""
    if isinstance(value, list):
        return [copy_tree(v) for v in value]
    if isinstance(value, dict):
        return {k: copy_tree(v) for k, v in value.items()}
    return value


class Untagged(Type):
    def __init__(self, name: str, variants: Sequence[Type], ser_fn: Callable[[Any], Any]) -> None:
        self.name = name
        self.variants = tuple(variants)
        self._ser = ser_fn

    def de(self, value: Any) -> Any:
        for variant in self.variants:
            try:
                return (variant, variant.de(value))
            except DeError:
                continue
        raise DeError(f"data did not match any variant of untagged enum {self.name}")

    def ser(self, value: Any) -> Any:
        return self._ser(value)

    def describe(self) -> str:
        return self.name


# -- common kumod value types -------------------------------------------------------


def _cidr_parse(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    t = text.strip()
    if t.startswith("[") and t.endswith("]"):
        t = t[1:-1]
    try:
        return ipaddress.ip_network(t, strict=False)
    except ValueError as e:
        raise ValueError(str(e)) from None


def _cidr_set_de(value: Any) -> Any:
    """kumod's CidrSet: a list of strings, each parsed strictly (host bits
    must be zero), every problem reported at once."""
    texts = Seq(Str()).de(value)
    nets: list[Any] = []
    problems = []
    for t in texts:
        try:
            nets.extend(_parse_cidr(t))
        except (ValueError, KumoError) as e:
            problems.append(f"{t}: {e}")
    if problems:
        raise DeError(", ".join(problems))
    return nets


def _parse_cidr(text: str) -> list[Any]:
    try:
        from .cidr import _plain_cidr  # kumo.cidr's parser, kumod's error text
    except ImportError:  # pragma: no cover - kumo.cidr is part of kumopy
        return [_cidr_parse(text)]
    return list(_plain_cidr(text))


def cidr_set_text(nets: Sequence[Any]) -> list[str]:
    """How kumod's CidrSet prints: merged, IPv4 before IPv6, in address
    order, host entries without their prefix length."""
    v4 = [n for n in nets if n.version == 4]
    v6 = [n for n in nets if n.version == 6]
    out: list[str] = []
    for group in (v4, v6):
        for net in ipaddress.collapse_addresses(group):
            if net.prefixlen == net.max_prefixlen:
                out.append(str(net.network_address))
            else:
                out.append(str(net))
    return out


CIDR_SET = Custom("list of CIDR strings", _cidr_set_de, cidr_set_text, "a sequence")


def cidr_set(*texts: str) -> list[Any]:
    return [_cidr_parse(t) for t in texts]


def _throttle_de(value: Any) -> Any:
    if not isinstance(value, str):
        raise invalid_type(value, "a string")
    try:
        return throttle_spec(value)
    except ValueError as e:
        raise DeError(str(e)) from None


def _parse_separated(text: str) -> int:
    cleaned = text.replace("_", "").replace(",", "")
    if not cleaned.isdigit() or not cleaned.isascii():
        reason = (
            "cannot parse integer from empty string"
            if not cleaned
            else "invalid digit found in string"
        )
        raise ValueError(f"invalid limit '{text}': {reason}")
    return int(cleaned)


def throttle_spec(text: str) -> tuple[int, int, int | None, bool]:
    """Parse `[local:]LIMIT/[N]PERIOD[,max_burst=B]` as kumod's ThrottleSpec."""
    force_local = text.startswith("local:")
    s = text[6:] if force_local else text
    burst = None
    if ",max_burst=" in s:
        s, burst_text = s.split(",max_burst=", 1)
        burst = _parse_separated(burst_text)
    if "/" not in s:
        raise ValueError(f"expected 'limit/period', got {s}")
    limit_text, period = s.split("/", 1)
    digits = ""
    idx = 0
    while idx < len(period) and period[idx].isascii() and period[idx].isdigit():
        digits += period[idx]
        idx += 1
    if idx == len(period):
        raise ValueError(f"invalid period quantity {period}")
    scale = int(digits) if digits else 1
    unit = period[idx:]
    seconds = {
        "h": 3600,
        "hr": 3600,
        "hour": 3600,
        "m": 60,
        "min": 60,
        "minute": 60,
        "s": 1,
        "sec": 1,
        "second": 1,
        "d": 86400,
        "day": 86400,
    }.get(unit)
    if seconds is None:
        raise ValueError(f"unknown period quantity {unit}")
    limit = _parse_separated(limit_text)
    if limit == 0:
        raise ValueError(f"invalid ThrottleSpec `{s}`: limit must be greater than 0!")
    return (limit, seconds * scale, burst, force_local)


def throttle_text(spec: tuple[int, int, int | None, bool]) -> str:
    limit, period, burst, force_local = spec
    unit = {86400: "d", 3600: "h", 60: "m", 1: "s"}.get(period)
    scale = "" if unit else str(period)
    unit = unit or "s"
    tail = f",max_burst={burst}" if burst is not None else ""
    return f"{'local:' if force_local else ''}{limit}/{scale}{unit}{tail}"


THROTTLE = Custom('throttle spec (e.g. "100/h")', _throttle_de, throttle_text)


def _limit_de(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise DeError("limit must be 1 or larger")
        return {"limit": value, "force_local": False}
    if isinstance(value, str):
        force_local = value.startswith("local:")
        s = value[6:] if force_local else value
        cleaned = s.replace("_", "").replace(",", "")
        if not cleaned.isdigit() or not cleaned.isascii():
            reason = (
                "cannot parse integer from empty string"
                if not cleaned
                else "invalid digit found in string"
            )
            raise DeError(f"invalid limit '{cleaned}': {reason}")
        limit = int(cleaned)
        if limit == 0:
            raise DeError(f"invalid LimitSpec `{s}`: limit must be greater than 0!")
        return {"limit": limit, "force_local": force_local}
    if isinstance(value, list):
        value = {i: v for i, v in enumerate(value, start=1)}
    if isinstance(value, dict):
        # the struct form its Serialize produces (so JSON round-trips work)
        out: dict[str, Any] = {"force_local": False}
        for key, item in value.items():
            name = Str().de(key)
            if name == "limit":
                out["limit"] = Int("u64").de(item)
            elif name == "force_local":
                out["force_local"] = Bool().de(item)
            else:
                raise DeError(f"unknown field `{name}`, expected `limit` or `force_local`")
        if "limit" not in out:
            raise DeError("missing field `limit`")
        return {"limit": out["limit"], "force_local": out["force_local"]}
    raise invalid_type(value, "string or numeric limit spec")


LIMIT = Custom(
    'limit (integer or "local:N")', _limit_de, lambda v: dict(v), "string or numeric limit spec"
)


def _ip_de(value: Any) -> Any:
    if not isinstance(value, str):
        raise invalid_type(value, "IP address")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise DeError("invalid IP address syntax") from None


IP_ADDR = Custom("IP address", _ip_de, expecting="IP address")


def _key_source() -> Type:
    data = Struct("KeySourceData", [Field("key_data", Str(), REQUIRED)], deny_unknown_fields=False)
    vault = Struct(
        "KeySourceVault",
        [
            Field("vault_address", Opt(Str())),
            Field("vault_token", Opt(Str())),
            Field("vault_mount", Str(), REQUIRED),
            Field("vault_path", Str(), REQUIRED),
            Field("vault_key", Str(), "key"),
        ],
        deny_unknown_fields=False,
    )
    event = Struct(
        "KeySourceEvent",
        [Field("event_name", Str(), REQUIRED), Field("event_args", Seq(AnyValue()), REQUIRED)],
        deny_unknown_fields=False,
    )
    return Untagged("KeySource", [Str(), data, vault, event], lambda v: v[0].ser(v[1]))


KEY_SOURCE = _key_source()


# -- kumod's wrapping ----------------------------------------------------------


def deserialize(state: LuaState, schema: Type, value: Any) -> Any:
    """Deserialise a Lua value as kumod's `config::from_lua_value` does;
    raises KumoError with kumod's text on failure."""
    try:
        tree = lua_tree(state, value)
    except DeError as e:
        raise KumoError(f"deserialize error: {e}") from None
    try:
        return schema.de(tree)
    except DeError as e:
        raise KumoError(f"deserialize error: {e}, while processing {json_of(tree)}") from None


def json_of(tree: Any) -> str:
    """serde_json text of a materialised Lua value (mlua's serializer)."""
    try:
        return encode_json(_plain(tree))
    except Exception as e:  # pragma: no cover - defensive
        return f"<unable to encode as json: {e}>"
