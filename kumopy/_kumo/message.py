"""`kumo.make_message` and the Lua methods of Message, ConnectionMetaData
and the address objects (kumod: crates/message, crates/kumod
smtp_server.rs).

The methods convert arguments as mlua does (strings for names, JSON rules
for metadata values) and raise kumod's error texts.  Methods kumopy does
not implement raise `kumopy: message:X is not supported`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from .._message import (
    AddressError,
    ConnectionMeta,
    EnvelopeAddress,
    Message,
    MessageError,
)
from .._message._conformance import ConformanceError
from .._message._lua import LUA_METHODS
from .._message._scheduling import SchedulingError, parse_scheduling
from .._runtime import decode, encode, lua_type
from ._args import ArgConversionError, bool_arg, lua_type_name, opt_bool_arg, string_arg

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["register"]


def register(kumo: Namespace) -> None:
    kumo.function(
        "make_message",
        make_message,
        notes="one recipient and empty meta, as in kumod; the id is a fresh uuid1 hex",
    )


def _bytes_arg(value: Any, what: str = "String") -> bytes:
    if isinstance(value, bytes):
        return value
    return string_arg(value, what).encode("utf-8", "surrogateescape")


def _address(text: str) -> EnvelopeAddress:
    try:
        return EnvelopeAddress.parse(text)
    except AddressError as e:
        raise KumoError(str(e)) from None


def make_message(
    state: LuaState, sender: Any = None, recipient: Any = None, body: Any = None
) -> Message:
    s = string_arg(sender)
    r = string_arg(recipient)
    data = _bytes_arg(body)
    return Message(data, sender=_address(s), recipients=[_address(r)], meta={})


# -- metadata (shared by Message and ConnectionMetaData) ----------------------


def _json_value(state: LuaState, value: Any) -> Any:
    """Lua -> JSON as kumod's set_meta converts (serde_json::to_value of an
    mlua Value): nil is null, empty tables are objects, functions fail."""
    return state.to_python(value, serialize=True, empty_array_as_list=False)


def _get_meta(state: LuaState, this: Any, key: Any = None) -> Any:
    name = string_arg(key)
    return state.to_lua(this._meta.get(name))


def _set_meta(state: LuaState, this: Any, key: Any = None, value: Any = None) -> None:
    name = string_arg(key)
    this._meta[name] = _json_value(state, value)


# -- envelope ---------------------------------------------------------------


def _envelope_arg(state: LuaState, value: Any) -> EnvelopeAddress:
    if isinstance(value, bytes):
        return _address(decode(value))
    if isinstance(value, EnvelopeAddress):
        return value
    raise ArgConversionError(value, "EnvelopeAddress")


def _set_recipient(state: LuaState, msg: Message, value: Any = None) -> None:
    if isinstance(value, bytes | EnvelopeAddress):
        msg.set_recipients([_envelope_arg(state, value)])
        return
    if lua_type(value) == "table":
        items = [v for _, v in sorted(value.items(), key=lambda kv: _index(kv[0]))]
        msg.set_recipients([_envelope_arg(state, v) for v in items])
        return
    raise ArgConversionError(value, "EnvelopeAddress")


def _index(key: Any) -> float:
    if isinstance(key, int | float) and not isinstance(key, bool):
        return float(key)
    raise KumoError("error converting Lua table to Vec<EnvelopeAddress>: not a sequence")


def _seq(state: LuaState, items: list[Any]) -> Any:
    """A plain Lua sequence (mlua's Vec -> table: no JSON array marker)."""
    return state.table_from(items)


def _recipient(state: LuaState, msg: Message) -> Any:
    rcpts = msg.recipients
    if not rcpts:
        return None
    if len(rcpts) == 1:
        return rcpts[0]
    return _seq(state, rcpts)


def _queue_name(state: LuaState, msg: Message) -> Any:
    try:
        return encode(msg.queue_name())
    except MessageError as e:
        raise KumoError(str(e)) from None


# -- headers ----------------------------------------------------------------


def _header_args(name: Any, value: Any, encode_flag: Any) -> tuple[str, bytes, bool]:
    n = string_arg(name)
    v = _bytes_arg(value)
    return n, v, opt_bool_arg(encode_flag, False)


def _prepend_header(
    state: LuaState, msg: Message, name: Any = None, value: Any = None, enc: Any = None
) -> None:
    n, v, e = _header_args(name, value, enc)
    msg.prepend_header(n, v, e)


def _append_header(
    state: LuaState, msg: Message, name: Any = None, value: Any = None, enc: Any = None
) -> None:
    n, v, e = _header_args(name, value, enc)
    try:
        msg.append_header(n, v, e)
    except MessageError as err:
        raise KumoError(str(err)) from None


def _first_header(state: LuaState, msg: Message, name: Any = None) -> Any:
    from .._message._headers import value_text

    raw = msg.first_header_raw(string_arg(name))
    return None if raw is None else value_text(raw)


def _all_named(state: LuaState, msg: Message, name: Any = None) -> Any:
    from .._message._headers import value_text

    n = string_arg(name)
    return _seq(state, [value_text(h.value) for h in msg._headers()[0] if h.is_named(n)])


def _all_headers(state: LuaState, msg: Message) -> Any:
    from .._message._headers import value_text

    return _seq(
        state,
        [_seq(state, [h.name, value_text(h.value)]) for h in msg._headers()[0]],
    )


def _optional_names(value: Any) -> list[str]:
    if value is None:
        return []
    if lua_type(value) != "table":
        raise ArgConversionError(value, "Vec<String>")
    return [string_arg(v) for _, v in sorted(value.items(), key=lambda kv: _index(kv[0]))]


def _wrap(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (MessageError, AddressError, SchedulingError, ConformanceError) as e:
        raise KumoError(str(e)) from None


def _import_headers(state: LuaState, msg: Message, specs: Any = None) -> None:
    data = state.to_python(specs, serialize=True)
    if not isinstance(data, list):
        if data == {}:
            data = []
        else:
            raise KumoError(f"invalid type: {lua_type_name(specs)}, expected a sequence")
    for spec in data:
        if not isinstance(spec, dict):
            raise KumoError("invalid type: expected struct ImportHeaderSpec")
    _wrap(lambda: msg.import_headers(data))


def _address_header(state: LuaState, msg: Message, name: str) -> Any:
    return _wrap(lambda: msg.address_header(name))


def _import_scheduling_header(
    state: LuaState, msg: Message, name: Any = None, remove: Any = None
) -> Any:
    n = string_arg(name)
    drop = bool_arg(remove)
    return state.to_lua(_wrap(lambda: msg.import_scheduling_header(n, drop)))


def _set_scheduling(state: LuaState, msg: Message, params: Any = None) -> Any:
    spec = state.to_python(params, serialize=True) if params is not None else None
    if spec is not None and not isinstance(spec, dict):
        # serde's complaint about a value that is not a table
        return _wrap(lambda: parse_scheduling(spec))
    return state.to_lua(_wrap(lambda: msg.set_scheduling(spec)))


def _set_due(state: LuaState, msg: Message, due: Any = None) -> Any:
    if due is None:
        msg.due = None
        return None
    text = string_arg(due, "DateTime<Utc>")
    try:
        parsed = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise KumoError(
            f"input contains invalid characters: {text!r} is not an RFC 3339 date"
        ) from None
    if parsed.tzinfo is None:
        raise KumoError(f"premature end of input: {text!r} has no time zone")
    msg.due = parsed.astimezone(_dt.UTC).isoformat().replace("+00:00", "Z")
    return encode(msg.due)


def _check_fix(
    state: LuaState, msg: Message, check: Any = None, fix: Any = None, settings: Any = None
) -> Any:
    c = string_arg(check)
    f = string_arg(fix)
    opts = None
    if settings is not None:
        opts = state.to_python(settings, serialize=True)
        if not isinstance(opts, dict):
            raise KumoError("invalid type: expected struct CheckFixSettings")
    result = _wrap(lambda: msg.check_fix_conformance(c, f, opts))
    return None if result is None else encode(result)


def _dkim_sign(state: LuaState, msg: Message, signer: Any = None) -> None:
    from .dkim import Signer

    if not isinstance(signer, Signer):
        raise ArgConversionError(signer, "Signer")
    try:
        msg.dkim_sign(signer)
    except KumoError:
        raise
    except ValueError as e:
        raise KumoError(str(e)) from None


def _dkim_verify(state: LuaState, msg: Message, resolver: Any = None) -> Any:
    import dns.rdatatype

    from .._message._auth import dkim_verify
    from .dns import _resolver, _txt, fully_qualify

    name = None if resolver is None else string_arg(resolver)
    r = _resolver(state, name)

    def lookup(qname: str) -> list[str] | None:
        return _txt(r.get(fully_qualify(qname), int(dns.rdatatype.TXT)))

    return state.to_lua(dkim_verify(msg.data, lookup))


def _add_authentication_results(
    state: LuaState, msg: Message, serv_id: Any = None, results: Any = None
) -> None:
    from .._message._auth import AuthResultError, check_results, encode_authentication_results

    sid = string_arg(serv_id)
    try:
        checked = check_results(state.to_python(results, serialize=True))
    except AuthResultError as e:
        raise KumoError(str(e)) from None
    msg.prepend_header("Authentication-Results", encode_authentication_results(sid, checked))


def _arc() -> Any:
    from . import arc  # ARC lives in its own module (kumopy/_kumo/arc.py)

    return arc


def _unsupported(name: str) -> Callable[..., Any]:
    def impl(state: LuaState, this: Any, *args: Any) -> Any:
        raise KumoError(f"kumopy: message:{name} is not supported")

    return impl


def _set_data(state: LuaState, msg: Message, data: Any = None) -> None:
    msg.set_data(_bytes_arg(data))


def _set_sender(state: LuaState, msg: Message, value: Any = None) -> None:
    msg.set_sender(_envelope_arg(state, value))


def _set_force_sync(state: LuaState, msg: Message, value: Any = None) -> None:
    msg.force_sync = bool_arg(value)


_MESSAGE_METHODS: dict[str, Callable[..., Any]] = {
    "get_meta": _get_meta,
    "set_meta": _set_meta,
    "get_data": lambda state, msg: msg.data,
    "set_data": _set_data,
    "id": lambda state, msg: encode(msg.id),
    "sender": lambda state, msg: msg.sender,
    "set_sender": _set_sender,
    "recipient": _recipient,
    "recipient_list": lambda state, msg: _seq(state, msg.recipients),
    "set_recipient": _set_recipient,
    "num_attempts": lambda state, msg: msg.num_attempts,
    "increment_num_attempts": lambda state, msg: msg.increment_num_attempts(),
    "queue_name": _queue_name,
    "set_due": _set_due,
    "set_scheduling": _set_scheduling,
    "import_scheduling_header": _import_scheduling_header,
    "prepend_header": _prepend_header,
    "append_header": _append_header,
    "get_first_named_header_value": _first_header,
    "get_all_named_header_values": _all_named,
    "get_all_headers": _all_headers,
    "get_address_header": lambda state, msg, name=None: _address_header(
        state, msg, string_arg(name)
    ),
    "from_header": lambda state, msg: _address_header(state, msg, "From"),
    "to_header": lambda state, msg: _address_header(state, msg, "To"),
    "remove_all_named_headers": lambda state, msg, name=None: msg.remove_all_named_headers(
        string_arg(name)
    ),
    "remove_x_headers": lambda state, msg, names=None: msg.remove_x_headers(_optional_names(names)),
    "import_x_headers": lambda state, msg, names=None: _wrap(
        lambda: msg.import_x_headers(_optional_names(names))
    ),
    "import_headers": _import_headers,
    "check_fix_conformance": _check_fix,
    "dkim_sign": _dkim_sign,
    "append_text_plain": lambda state, msg, content=None: _wrap(
        lambda: msg.append_text_plain(string_arg(content))
    ),
    "append_text_html": lambda state, msg, content=None: _wrap(
        lambda: msg.append_text_html(string_arg(content))
    ),
    "dkim_verify": _dkim_verify,
    "arc_verify": lambda state, msg, *args: _arc().lua_arc_verify(state, msg, *args),
    "arc_seal": lambda state, msg, *args: _arc().lua_arc_seal(state, msg, *args),
    "add_authentication_results": _add_authentication_results,
    "set_force_sync": _set_force_sync,
    # kumod saves to and shrinks from the spool; kumopy has no spool, the
    # message stays in memory
    "save": lambda state, msg: None,
    "shrink": lambda state, msg: False,
    "shrink_data": lambda state, msg: False,
}
def _parse_mime(state: LuaState, msg: Message) -> Any:
    from .._message._mimepart import MimePart
    from .mimepart import part_ref

    try:
        return part_ref(MimePart.parse(msg.data))
    except ValueError as e:
        raise KumoError(str(e)) from None


_MESSAGE_METHODS["parse_mime"] = _parse_mime
for _name in (
    "parse_rfc3464",
    "parse_rfc5965",
):
    _MESSAGE_METHODS[_name] = _unsupported(_name)

LUA_METHODS[Message] = {k.encode(): v for k, v in _MESSAGE_METHODS.items()}


def _auth_info(state: LuaState, conn: ConnectionMeta) -> Any:
    # kumod hands back a read-only copy (SerdeWrappedValue of AuthInfo)
    info = conn.auth_info
    return state.to_lua(
        {
            "peer_address": info.get("peer_address"),
            "identities": list(info.get("identities", [])),
            "groups": list(info.get("groups", [])),
        }
    )


LUA_METHODS[ConnectionMeta] = {
    b"get_meta": _get_meta,
    b"set_meta": _set_meta,
    b"auth_info": _auth_info,
}

#: Message methods kumopy implements / leaves out (for the docs and tests)
SUPPORTED_METHODS = tuple(sorted(k for k, v in _MESSAGE_METHODS.items() if v.__name__ != "impl"))
UNSUPPORTED_METHODS = tuple(sorted(k for k, v in _MESSAGE_METHODS.items() if v.__name__ == "impl"))
