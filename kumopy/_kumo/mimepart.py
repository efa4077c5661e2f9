"""`kumo.mimepart.*` and `msg:parse_mime()` (kumod: crates/mod-mimepart).

A `PartRef` is a reference into a shared MIME tree (the root plus a path
of child indexes), so `structure.text_part` and the parsed root see each
other's changes, as in kumod.  Its fields are `body` (read and assign),
`headers` (a `HeaderMap` view) and `id`; its methods `append_part`,
`get_simple_structure`, `rebuild` and `replace_body`; `tostring()` gives
the whole tree's message text.  Header values come back in the shapes
kumod's serde gives Lua (address lists as arrays of
`{name=, address={local_part=, domain=}}`, MIME parameters as
`{value=, parameters={}}`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from .._errors import KumoError
from .._message import _serde as de
from .._message._mimebuild import MessageBuilder
from .._message._mimeheader import ACCESSORS, Header, MailParsingError
from .._message._mimeparams import MimeParameters, auth_results_data
from .._message._mimepart import AttachmentOptions, MimePart, PartPointer
from .._message._rfc5322 import AddrSpec, Group, Mailbox
from .._runtime import lua_type
from ._args import bool_arg, lua_type_name
from ._lib import LibObject, bytes_arg, rust_string

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["Builder", "HeaderMapRef", "HeaderWrap", "PartRef", "register", "part_ref"]


def register(kumo: Namespace) -> None:
    kumo.function("mimepart.parse", _parse)
    kumo.function("mimepart.new_text", _new_text)
    kumo.function("mimepart.new_text_plain", _new_text_plain)
    kumo.function("mimepart.new_html", _new_html)
    kumo.function("mimepart.new_binary", _new_binary)
    kumo.function("mimepart.new_multipart", _new_multipart)
    kumo.function("mimepart.builder", lambda state: Builder())


def _wrap(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except MailParsingError as e:
        raise KumoError(str(e)) from None


# -- serde shapes -------------------------------------------------------------


def utf8_or_bytes(b: bytes) -> Any:
    """serde's BStringUtf8: a string when UTF-8, else an array of bytes."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return list(b)


def _mailbox_data(m: Mailbox) -> dict[str, Any]:
    out: dict[str, Any] = {"address": {"local_part": m.address.local_part,
                                       "domain": m.address.domain}}
    if m.name is not None:
        out["name"] = m.name
    return out


def _address_data(a: Mailbox | Group) -> dict[str, Any]:
    if isinstance(a, Group):
        return {"name": a.name, "entries": [_mailbox_data(m) for m in a.entries]}
    return _mailbox_data(a)


def mime_params_data(p: MimeParameters) -> dict[str, Any]:
    return {
        "value": utf8_or_bytes(p.value),
        "parameters": {utf8_or_bytes(k): utf8_or_bytes(v) for k, v in p.parameter_map().items()},
    }


def typed_data(kind: str, value: Any) -> Any:
    """A typed header value as kumod's serde hands it to Lua."""
    if value is None:
        return None
    if kind == "mailbox_list":
        return [_mailbox_data(m) for m in value]
    if kind == "address_list":
        return [_address_data(a) for a in value]
    if kind == "mailbox":
        return _mailbox_data(value)
    if kind in ("message_id",):
        return value
    if kind == "message_id_list":
        return list(value)
    if kind in ("mime", "mime_ct"):
        return mime_params_data(value)
    if kind == "unstructured":
        return value
    if kind == "auth_results":
        return auth_results_data(value, utf8_or_bytes)
    raise AssertionError(kind)


class _DeError(KumoError):
    pass


def _str_field(data: Any, what: str) -> str:
    if not isinstance(data, str):
        raise _DeError(f"invalid type: {de.unexpected(data)}, expected {what}")
    return data


def _struct(
    data: Any, name: str, fields: tuple[str, ...], required: tuple[str, ...]
) -> dict[str, Any]:
    try:
        return de.fields(data, name, fields, required)
    except de.SerdeError as e:
        raise _DeError(str(e)) from None


def _mailbox_from(data: Any) -> Mailbox:
    d = _struct(data, "Mailbox", ("name", "address"), ("address",))
    a = _struct(d["address"], "AddrSpec", ("local_part", "domain"), ("local_part", "domain"))
    name = d.get("name")
    return Mailbox(
        None if name is None else _str_field(name, "a string"),
        AddrSpec(_str_field(a["local_part"], "a string"), _str_field(a["domain"], "a string")),
    )


def _seq(data: Any) -> list[Any]:
    if isinstance(data, dict) and not data:
        return []
    if not isinstance(data, list):
        raise _DeError(f"invalid type: {de.unexpected(data)}, expected a sequence")
    return data


def _address_from(data: Any) -> Mailbox | Group:
    try:
        return _mailbox_from(data)
    except _DeError:
        pass
    try:
        d = _struct(data, "Group", ("name", "entries"), ("name", "entries"))
        return Group(_str_field(d["name"], "a string"),
                     tuple(_mailbox_from(m) for m in _seq(d["entries"])))
    except _DeError:
        raise _DeError("data did not match any variant of untagged enum Address") from None


def typed_from(kind: str, data: Any) -> Any:
    """A Lua table (as plain data) converted to the accessor's type."""
    if kind == "mailbox_list":
        return [_mailbox_from(m) for m in _seq(data)]
    if kind == "address_list":
        return [_address_from(a) for a in _seq(data)]
    if kind == "mailbox":
        return _mailbox_from(data)
    if kind == "message_id":
        return _str_field(data, "a string")
    if kind == "message_id_list":
        return [_str_field(x, "a string") for x in _seq(data)]
    if kind in ("mime", "mime_ct"):
        d = _struct(data, "MimeParams", ("value", "parameters"), ("value", "parameters"))
        params = MimeParameters(_bstring(d["value"]))
        parameters = d["parameters"]
        if not isinstance(parameters, dict):
            raise _DeError(f"invalid type: {de.unexpected(parameters)}, expected a map")
        for k in sorted(parameters, key=lambda x: _bstring(x)):
            params.set(_bstring(k), _bstring(parameters[k]))
        return params
    raise AssertionError(kind)


def _bstring(data: Any) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape")
    if isinstance(data, list) and all(isinstance(x, int) and 0 <= x <= 255 for x in data):
        return bytes(data)
    raise _DeError(f"invalid type: {de.unexpected(data)}, expected a byte string")


def attachment_options(state: LuaState, value: Any) -> AttachmentOptions | None:
    if value is None:
        return None
    data = state.to_python(value, serialize=True)
    try:
        d = _struct(data, "AttachmentOptions", ("file_name", "inline", "content_id"), ())
        inline = d.get("inline", False)
        if not isinstance(inline, bool):
            raise _DeError(f"invalid type: {de.unexpected(inline)}, expected a boolean")
        fn, cid = d.get("file_name"), d.get("content_id")
        return AttachmentOptions(
            None if fn is None else _bstring(fn), inline, None if cid is None else _bstring(cid)
        )
    except _DeError as e:
        raise KumoError(str(e)) from None


# -- PartRef ------------------------------------------------------------------


class _Root:
    __slots__ = ("part",)

    def __init__(self, part: MimePart) -> None:
        self.part = part


def part_ref(part: MimePart) -> PartRef:
    return PartRef(_Root(part), ())


class PartRef(LibObject):
    lua_type_name = "PartRef"

    def __init__(self, root: _Root, ptr: PartPointer) -> None:
        self.root = root
        self.ptr = ptr

    def resolve(self) -> MimePart:
        part = self.root.part.resolve(self.ptr)
        if part is None:
            raise KumoError("failed to resolve PartRef to MimePart")
        return part

    def make_ref(self, ptr: PartPointer) -> PartRef:
        return PartRef(self.root, ptr)

    def field(self, state: LuaState, name: str) -> Any:
        if name == "body":
            _, body = _wrap(lambda: self.resolve().body())
            return body
        if name == "headers":
            self.resolve()
            return HeaderMapRef(self)
        if name == "id":
            return ".".join(str(i) for i in self.ptr).encode()
        raise AttributeError(name)

    def lua_newindex(self, state: LuaState, key: Any, value: Any) -> None:
        if key == b"body":
            self.replace_body(bytes_arg(value), None)
            return
        super().lua_newindex(state, key, value)

    def replace_body(self, body: bytes, content_type: bytes | None) -> None:
        part = self.resolve()

        def apply() -> None:
            ct = content_type
            if ct is None:
                try:
                    current = part.headers.get("content_type")
                except MailParsingError:
                    current = None
                if current is not None:
                    ct = current.value
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                part.replace_binary_body(ct or b"application/octet-stream", body)
            else:
                part.replace_text_body(ct or b"text/plain", body)

        _wrap(apply)

    def lua_tostring(self, state: LuaState) -> bytes:
        return _wrap(self.root.part.to_message_bytes)  # type: ignore[no-any-return]

    def to_data(self) -> Any:
        return self.lua_tostring(None)  # type: ignore[arg-type]

    def _append_part(self, state: LuaState, other: Any = None) -> None:
        if not isinstance(other, PartRef):
            raise KumoError(f"error converting Lua {lua_type_name(other)} to userdata")
        copy = other.resolve().copy()
        self.resolve().parts.append(copy)

    def _simple_structure(self, state: LuaState) -> Any:
        part = self.resolve()
        s = _wrap(part.simplified_structure)
        attachments = []
        for ptr in s.attachments:
            ref = self.make_ref(self.ptr + ptr)
            info = ref.resolve().rfc2045_info()
            opts = info.attachment_options
            entry: dict[str, Any] = {
                "inline": opts.inline if opts is not None else True,
                "content_type": info.content_type.value if info.content_type is not None
                else b"application/octet-stream",
                "part": ref,
            }
            if opts is not None and opts.file_name is not None:
                entry["file_name"] = opts.file_name
            if opts is not None and opts.content_id is not None:
                entry["content_id"] = opts.content_id
            attachments.append(entry)
        result: dict[str, Any] = {
            "header_part": self.make_ref(self.ptr + s.header_part),
            "attachments": attachments,
        }
        if s.text_part is not None:
            result["text_part"] = self.make_ref(self.ptr + s.text_part)
        if s.html_part is not None:
            result["html_part"] = self.make_ref(self.ptr + s.html_part)
        return state.to_lua(result)

    def _rebuild(self, state: LuaState) -> PartRef:
        return part_ref(_wrap(lambda: self.root.part.rebuild(None)))

    def _replace_body(self, state: LuaState, body: Any = None, ct: Any = None) -> None:
        data = bytes_arg(body)
        content_type = None if ct is None else rust_string(ct).encode("utf-8")
        self.replace_body(data, content_type)

    methods: ClassVar[dict[str, Callable[..., Any]]] = {
        "append_part": _append_part,
        "get_simple_structure": _simple_structure,
        "rebuild": _rebuild,
        "replace_body": _replace_body,
    }


# -- HeaderMap and Header -----------------------------------------------------


class HeaderWrap(LibObject):
    lua_type_name = "HeaderWrap"

    def __init__(self, header: Header) -> None:
        self.header = header

    _VIEWS: ClassVar[dict[str, tuple[str, str]]] = {
        "mailbox_list": ("mailbox_list", "as_mailbox_list"),
        "address_list": ("address_list", "as_address_list"),
        "message_id": ("message_id", "as_message_id"),
        "message_id_list": ("message_id_list", "as_message_id_list"),
        "mime_params": ("mime", "as_content_transfer_encoding"),
        "authentication_results": ("auth_results", "as_authentication_results"),
    }

    def field(self, state: LuaState, name: str) -> Any:
        h = self.header
        if name == "name":
            return h.name
        if name == "raw_value":
            return h.value
        if name == "unstructured":
            return _wrap(h.as_unstructured)
        if name == "value":
            kind = _value_kind(h)
            getter = _GETTER_OF[kind]
            return state.to_lua(typed_data(kind, _wrap(getattr(h, getter))))
        view = self._VIEWS.get(name)
        if view is not None:
            kind, getter = view
            return state.to_lua(typed_data(kind, _wrap(getattr(h, getter))))
        raise AttributeError(name)

    def lua_tostring(self, state: LuaState) -> bytes:
        return self.header.write().decode("utf-8", "replace").encode("utf-8")

    methods: ClassVar[dict[str, Callable[..., Any]]] = {}


_GETTER_OF = {
    "mailbox_list": "as_mailbox_list", "address_list": "as_address_list",
    "mailbox": "as_mailbox", "message_id": "as_message_id",
    "message_id_list": "as_message_id_list", "unstructured": "as_unstructured",
    "mime": "as_content_transfer_encoding", "mime_ct": "as_content_type",
    "auth_results": "as_authentication_results",
}  # fmt: skip

#: what HeaderWrap.value parses each known header as (kumod's NAME_GETTER)
_VALUE_KINDS = {
    "from": "mailbox_list", "reply-to": "address_list", "to": "address_list",
    "cc": "address_list", "bcc": "address_list", "message-id": "message_id",
    "subject": "unstructured", "mime-version": "unstructured",
    "content-transfer-encoding": "mime", "content-type": "mime_ct",
    "content-disposition": "mime", "authentication-results": "auth_results",
    "resent-from": "mailbox_list", "resent-to": "address_list", "resent-cc": "address_list",
    "resent-bcc": "address_list", "resent-sender": "mailbox", "sender": "mailbox",
    "content-id": "message_id", "references": "message_id_list", "comments": "unstructured",
}  # fmt: skip


def _value_kind(h: Header) -> str:
    return _VALUE_KINDS.get(h.name.decode("utf-8", "replace").lower(), "unstructured")


#: kumod's Lua accessor methods: getter name -> (setter name, accessor it sets)
_LUA_ACCESSORS = {
    "from": ("set_from", "from"),
    "resent_from": ("set_resent_from", "from"),  # kumod's setter assigns From
    "to": ("set_to", "to"), "reply_to": ("set_reply_to", "reply_to"),
    "cc": ("set_cc", "cc"), "bcc": ("set_bcc", "bcc"),
    "resent_to": ("set_resent_to", "resent_to"), "resent_cc": ("set_resent_cc", "resent_cc"),
    "resent_bcc": ("set_resent_bcc", "resent_bcc"), "sender": ("set_sender", "sender"),
    "resent_sender": ("set_resent_sender", "resent_sender"),
    "message_id": ("set_message_id", "message_id"),
    "content_id": ("set_content_id", "content_id"),
    "references": ("set_references", "references"),
    "subject": ("set_subject", "subject"), "comments": ("set_comments", "comments"),
    "mime_version": ("set_mime_version", "mime_version"),
    "content_transfer_encoding": ("set_content_transfer_encoding", "content_transfer_encoding"),
    "content_disposition": ("set_content_disposition", "content_disposition"),
    "content_type": ("set_content_type", "content_type"),
}  # fmt: skip


class HeaderMapRef(LibObject):
    lua_type_name = "HeaderMapRef"

    def __init__(self, part: PartRef) -> None:
        self.part = part

    def lua_tostring(self, state: LuaState) -> bytes:
        return b"".join(h.write() for h in self.part.resolve().headers)

    def _append(self, state: LuaState, name: Any = None, value: Any = None) -> None:
        n, v = rust_string(name), bytes_arg(value)
        self.part.resolve().headers.append_header(n, v)

    def _prepend(self, state: LuaState, name: Any = None, value: Any = None) -> None:
        n, v = rust_string(name), bytes_arg(value)
        self.part.resolve().headers.prepend(n, v)

    def _remove_all_named(self, state: LuaState, name: Any = None) -> None:
        self.part.resolve().headers.remove_all_named(rust_string(name))

    def _get_first_named(self, state: LuaState, name: Any = None) -> Any:
        hdr = self.part.resolve().headers.get_first(rust_string(name))
        return None if hdr is None else HeaderWrap(hdr)

    def _iter(self, state: LuaState, name: Any = None) -> Any:
        want = None if name is None else bytes_arg(name).lower()
        pos = [0]
        part = self.part

        def step(st: LuaState, *_: Any) -> Any:
            headers = part.resolve().headers.headers
            while pos[0] < len(headers):
                hdr = headers[pos[0]]
                pos[0] += 1
                if want is None or hdr.name.lower() == want:
                    return HeaderWrap(hdr)
            return None

        return state.lua_function("HeaderMapRef:iter", step)

    methods: ClassVar[dict[str, Callable[..., Any]]] = {
        "append": _append,
        "prepend": _prepend,
        "remove_all_named": _remove_all_named,
        "get_first_named": _get_first_named,
        "iter": _iter,
    }


def _make_getter(accessor: str) -> Callable[..., Any]:
    kind = ACCESSORS[accessor][1]

    def getter(self: HeaderMapRef, state: LuaState) -> Any:
        value = _wrap(lambda: self.part.resolve().headers.get(accessor))
        return state.to_lua(typed_data(kind, value))

    return getter


def _make_setter(accessor: str) -> Callable[..., Any]:
    kind = ACCESSORS[accessor][1]

    def setter(self: HeaderMapRef, state: LuaState, value: Any = None) -> None:
        headers = self.part.resolve().headers
        if isinstance(value, bytes):
            text = value if kind == "unstructured" else rust_string(value).encode("utf-8")
            _wrap(lambda: headers.set_text(accessor, text))
            return
        if kind == "unstructured":
            raise KumoError(f"error converting Lua {lua_type_name(value)} to String")
        if lua_type(value) != "table":
            raise KumoError(f"error converting Lua {lua_type_name(value)} to {kind}")
        data = state.to_python(value, serialize=True)
        typed = typed_from(kind, data)
        _wrap(lambda: headers.set_typed(accessor, typed))

    return setter


for _getter, (_setter, _target) in _LUA_ACCESSORS.items():
    HeaderMapRef.methods[_getter] = _make_getter(_getter)
    HeaderMapRef.methods[_setter] = _make_setter(_target)


# -- constructors ---------------------------------------------------------------


def _parse(state: LuaState, data: Any = None) -> PartRef:
    return part_ref(_wrap(lambda: MimePart.parse(bytes_arg(data))))


def _new_text(state: LuaState, content_type: Any = None, content: Any = None) -> PartRef:
    ct = rust_string(content_type).encode("utf-8")
    body = bytes_arg(content)
    return part_ref(_wrap(lambda: MimePart.new_text(ct, body)))


def _new_text_plain(state: LuaState, content: Any = None) -> PartRef:
    body = bytes_arg(content)
    return part_ref(_wrap(lambda: MimePart.new_text(b"text/plain", body)))


def _new_html(state: LuaState, content: Any = None) -> PartRef:
    body = bytes_arg(content)
    return part_ref(_wrap(lambda: MimePart.new_text(b"text/html", body)))


def _new_binary(
    state: LuaState, content_type: Any = None, content: Any = None, options: Any = None
) -> PartRef:
    ct = rust_string(content_type).encode("utf-8")
    body = bytes_arg(content)
    opts = attachment_options(state, options)
    return part_ref(_wrap(lambda: MimePart.new_binary(ct, body, opts)))


def _new_multipart(
    state: LuaState, content_type: Any = None, parts: Any = None, boundary: Any = None
) -> PartRef:
    ct = rust_string(content_type).encode("utf-8")
    if lua_type(parts) != "table":
        raise KumoError(f"error converting Lua {lua_type_name(parts)} to Vec<PartRef>")
    children: list[MimePart] = []
    n = len(parts)
    for i in range(1, n + 1):
        p = parts[i]
        if not isinstance(p, PartRef):
            raise KumoError(f"error converting Lua {lua_type_name(p)} to userdata")
        children.append(p.resolve().copy())
    b = None if boundary is None else rust_string(boundary).encode("utf-8")
    return part_ref(_wrap(lambda: MimePart.new_multipart(ct, children, b)))


# -- the builder ----------------------------------------------------------------


class Builder(LibObject):
    lua_type_name = "Builder"

    def __init__(self) -> None:
        self.builder: MessageBuilder | None = MessageBuilder()

    def _get(self) -> MessageBuilder:
        if self.builder is None:
            raise KumoError("builder already built!")
        return self.builder

    def _set_stable(self, state: LuaState, value: Any = None) -> None:
        self._get().stable_content = bool_arg(value)

    def _text(attr: str) -> Callable[..., None]:  # type: ignore[misc]
        def impl(self: Builder, state: LuaState, text: Any = None) -> None:
            setattr(self._get(), attr, rust_string(text).encode("utf-8"))

        return impl

    def _attach(
        self, state: LuaState, content_type: Any = None, data: Any = None, opts: Any = None
    ) -> None:
        b = self._get()
        ct = rust_string(content_type).encode("utf-8")
        body = bytes_arg(data)
        options = attachment_options(state, opts)
        _wrap(lambda: b.attach(ct, body, options))

    def _attach_part(self, state: LuaState, part: Any = None) -> None:
        if not isinstance(part, PartRef):
            raise KumoError(f"error converting Lua {lua_type_name(part)} to userdata")
        copy = part.resolve().copy()
        self._get().attach_part(copy)

    def _build(self, state: LuaState) -> PartRef:
        b = self._get()
        self.builder = None
        return part_ref(_wrap(b.build))

    methods: ClassVar[dict[str, Callable[..., Any]]] = {
        "set_stable_content": _set_stable,
        "text_plain": _text("text"),
        "text_html": _text("html"),
        "text_amp_html": _text("amp_html"),
        "attach": _attach,
        "attach_part": _attach_part,
        "build": _build,
    }
