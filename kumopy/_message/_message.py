"""The message object kumod hands to policies (crates/message message.rs).

A `Message` holds what kumod's Message holds: an id, the envelope sender
and recipients, a JSON object of metadata, the RFC 5322 text, scheduling,
a due time and an attempt counter.  The same object is the Python API and
the userdata Lua sees: its Lua methods live in kumopy/_kumo/message.py.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from .._runtime.userdata import Userdata
from .._text import json_debug
from ._address import AddressError, EnvelopeAddress, HeaderAddress, HeaderAddressList
from ._fold import encode_unstructured
from ._headers import (
    RawHeader,
    emit_header,
    header_block_error,
    parse_headers,
    rebuild,
    unstructured,
    value_text,
)
from ._lua import lua_method
from ._scheduling import SchedulingError, loads, parse_scheduling

if TYPE_CHECKING:
    from .._runtime import LuaState

__all__ = ["ConnectionMeta", "Message", "MessageError", "normalize_crlf"]


class MessageError(KumoError, ValueError):
    """A message operation kumod would fail, with kumod's error text (in a
    policy it is a Lua error at the calling line)."""


def normalize_crlf(data: bytes) -> bytes:
    """Every line ending as CRLF (what kumod's SMTP server does to DATA)."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def _as_bytes(data: bytes | str) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape")
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise TypeError(f"message data must be bytes or str, got {type(data).__name__}")


def _check_json(value: Any, where: str) -> Any:
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise TypeError(f"{where}: value is not JSON data: {e}") from None


class _MetaMixin:
    _meta: dict[str, Any]

    def get_meta(self, key: str) -> Any:
        """The metadata value (a copy), None when absent or JSON null."""
        return copy.deepcopy(self._meta.get(key))

    def set_meta(self, key: str, value: Any) -> None:
        """Store JSON data under key (None stores JSON null; the key stays)."""
        if not isinstance(key, str):
            raise TypeError(f"meta key must be a str, got {type(key).__name__}")
        self._meta[key] = _check_json(value, f"set_meta({key!r})")

    @property
    def meta(self) -> dict[str, Any]:
        """A copy of every metadata key."""
        return copy.deepcopy(self._meta)


class ConnectionMeta(_MetaMixin, Userdata):
    """kumod's connection metadata object (smtp_server.rs
    ConnectionMetaData): a JSON object shared by every event of one SMTP
    session.  kumod sets `reception_protocol`, `received_via`,
    `received_from` and `hostname` at accept time, `ehlo_domain` after
    EHLO/HELO, `authn_id`/`authz_id` after AUTH, `tls_*` after STARTTLS."""

    lua_type_name = "ConnectionMetaData"

    def __init__(
        self,
        *,
        received_from: str = "127.0.0.1:0",
        received_via: str = "127.0.0.1:25",
        hostname: str | None = None,
        reception_protocol: str = "ESMTP",
        **extra: Any,
    ) -> None:
        if hostname is None:
            import socket

            hostname = socket.gethostname()
        self._meta = {}
        self.set_meta("reception_protocol", reception_protocol)
        self.set_meta("received_via", received_via)
        self.set_meta("received_from", received_from)
        self.set_meta("hostname", hostname)
        for k, v in extra.items():
            self.set_meta(k, v)
        peer = received_from.rsplit(":", 1)[0].strip("[]") if ":" in received_from else None
        #: kumod's AuthInfo for the session (conn_meta:auth_info()): the peer
        #: address, authenticated identities and groups
        self.auth_info: dict[str, Any] = {"peer_address": peer, "identities": [], "groups": []}

    def set_auth_info(self, info: Mapping[str, Any]) -> None:
        """Replace the session's AuthInfo (peer_address, identities, groups)."""
        data = _check_json(dict(info), "set_auth_info")
        self.auth_info = {
            "peer_address": data.get("peer_address"),
            "identities": list(data.get("identities", [])),
            "groups": list(data.get("groups", [])),
        }

    def lua_index(self, state: LuaState, key: Any) -> Any:
        return lua_method(state, ConnectionMeta, key)

    def __repr__(self) -> str:
        return f"ConnectionMeta({self._meta!r})"


def _parse_recipients(
    recipients: str | EnvelopeAddress | Iterable[str | EnvelopeAddress],
) -> list[EnvelopeAddress]:
    if isinstance(recipients, str | EnvelopeAddress):
        recipients = [recipients]
    out = []
    for r in recipients:
        out.append(r if isinstance(r, EnvelopeAddress) else EnvelopeAddress.parse(r))
    return out


class Message(_MetaMixin, Userdata):
    """A message as kumod's policies see it.

    `Message(data, sender=..., recipients=..., meta=...)` builds one from
    RFC 5322 text (bytes kept as given; str is UTF-8 encoded);
    `Message.from_parts` builds the text from headers and a body;
    `Message.received` copies connection metadata into the message meta
    as kumod's SMTP server does.  Pass the object itself to
    `Policy.dispatch`: Lua's changes show on it afterwards.
    """

    lua_type_name = "Message"

    def __init__(
        self,
        data: bytes | str,
        *,
        sender: str | EnvelopeAddress,
        recipients: str | EnvelopeAddress | Iterable[str | EnvelopeAddress],
        meta: Mapping[str, Any] | None = None,
        id: str | None = None,
    ) -> None:
        self._data = _as_bytes(data)
        self._sender = (
            sender if isinstance(sender, EnvelopeAddress) else EnvelopeAddress.parse(sender)
        )
        self._recipients = _parse_recipients(recipients)
        if meta is not None and not isinstance(meta, Mapping):
            raise TypeError("metadata must be a json object")
        self._meta = {}
        for k, v in (meta or {}).items():
            self.set_meta(k, v)
        self._id = id if id is not None else uuid.uuid1().hex
        self.num_attempts = 0
        #: the Scheduling spec set by import_scheduling_header/set_scheduling
        self.scheduling: dict[str, Any] | None = None
        #: the due time set by msg:set_due (RFC 3339 text) or None
        self.due: str | None = None
        self.force_sync = False

    @classmethod
    def new_dirty(
        cls,
        sender: str | EnvelopeAddress,
        recipients: str | EnvelopeAddress | Iterable[str | EnvelopeAddress],
        data: bytes | str,
        meta: Mapping[str, Any] | None = None,
        id: str | None = None,
    ) -> Message:
        """kumod's Message::new_dirty argument order (sender, recipients,
        data, meta, id)."""
        return cls(data, sender=sender, recipients=recipients, meta=meta, id=id)

    @classmethod
    def from_parts(
        cls,
        sender: str,
        recipients: str | Sequence[str],
        *,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        body: str | bytes = "",
        meta: Mapping[str, Any] | None = None,
    ) -> Message:
        """Build CRLF-terminated RFC 5322 text from headers and a body."""
        items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        text = b"".join(emit_header(n, _as_bytes(v)) for n, v in items)
        body_bytes = normalize_crlf(_as_bytes(body))
        return cls(text + b"\r\n" + body_bytes, sender=sender, recipients=recipients, meta=meta)

    @classmethod
    def received(
        cls,
        data: bytes | str,
        sender: str,
        recipients: str | Sequence[str],
        conn_meta: ConnectionMeta | None = None,
    ) -> Message:
        """A message as kumod's SMTP server builds it after DATA: its
        metadata is a copy of the connection metadata."""
        return cls(
            data,
            sender=sender,
            recipients=recipients,
            meta=conn_meta.meta if conn_meta is not None else None,
        )

    # -- identity and envelope ------------------------------------------------

    @property
    def id(self) -> str:
        return self._id

    @property
    def sender(self) -> EnvelopeAddress:
        return self._sender

    def set_sender(self, sender: str | EnvelopeAddress) -> None:
        self._sender = (
            sender if isinstance(sender, EnvelopeAddress) else EnvelopeAddress.parse(sender)
        )

    @property
    def recipients(self) -> list[EnvelopeAddress]:
        return list(self._recipients)

    def set_recipients(
        self, recipients: str | EnvelopeAddress | Iterable[str | EnvelopeAddress]
    ) -> None:
        self._recipients = _parse_recipients(recipients)

    def _meta_string(self, key: str) -> str | None:
        value = self._meta.get(key)
        if value is None or isinstance(value, str):
            return value
        raise MessageError(f"expected '{key}' to be a string value, got Ok({json_debug(value)})")

    def queue_name(self) -> str:
        """kumod's Message::get_queue_name: meta `queue` when set, else
        `campaign:tenant@domain!routing_domain` from meta and the first
        recipient's domain (lowercased)."""
        queue = self._meta_string("queue")
        if queue is not None:
            return queue
        from .._smtp import QueueName

        campaign = self._meta_string("campaign")
        tenant = self._meta_string("tenant")
        if not self._recipients:
            raise MessageError("recipient list is empty!?")
        domain = self._recipients[0].domain.lower()
        routing = self._meta_string("routing_domain")
        return QueueName(campaign, tenant, domain, routing).format()

    # -- data --------------------------------------------------------------

    @property
    def data(self) -> bytes:
        return self._data

    def set_data(self, data: bytes | str) -> None:
        self._data = _as_bytes(data)

    def _headers(self) -> tuple[list[RawHeader], int]:
        problem = header_block_error(self._data)
        if problem is not None:
            raise MessageError(problem)
        return parse_headers(self._data)

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Every header as (name, decoded value), like msg:get_all_headers()."""
        return [
            (h.name_str, value_text(h.value).decode("utf-8", "surrogateescape"))
            for h in self._headers()[0]
        ]

    def get_first_named_header_value(self, name: str) -> str | None:
        raw = self.first_header_raw(name)
        return None if raw is None else value_text(raw).decode("utf-8", "surrogateescape")

    def first_header_raw(self, name: str) -> bytes | None:
        for h in self._headers()[0]:
            if h.is_named(name):
                return h.value
        return None

    def get_all_named_header_values(self, name: str) -> list[str]:
        return [
            value_text(h.value).decode("utf-8", "surrogateescape")
            for h in self._headers()[0]
            if h.is_named(name)
        ]

    def prepend_header(self, name: str | None, value: str | bytes, encode: bool = False) -> None:
        self._data = emit_header(name, self._value(name, value, encode)) + self._data

    def append_header(self, name: str | None, value: str | bytes, encode: bool = False) -> None:
        idx = self._data.find(b"\r\n\r\n")
        if idx < 0:
            raise MessageError("append_header could not find the end of the header block")
        head, body = self._data[: idx + 2], self._data[idx + 2 :]
        self._data = head + emit_header(name, self._value(name, value, encode)) + body

    @staticmethod
    def _value(name: str | None, value: str | bytes, encode: bool) -> bytes:
        if encode and name is not None:
            return encode_unstructured(_as_bytes(value))
        return _as_bytes(value)

    def retain_headers(self, keep: Any) -> None:
        headers, body_offset = self._headers()
        kept = [h for i, h in enumerate(headers) if keep(i, h)]
        self._data = rebuild(self._data, kept, body_offset)

    def remove_all_named_headers(self, name: str) -> None:
        self.retain_headers(lambda _i, h: not h.is_named(name))

    def remove_x_headers(self, names: Sequence[str] = ()) -> None:
        if names:
            self.retain_headers(lambda _i, h: not any(h.is_named(n) for n in names))
        else:
            self.retain_headers(lambda _i, h: h.name[:2] not in (b"X-", b"x-"))

    def import_x_headers(self, names: Sequence[str] = ()) -> None:
        specs = [{"name": n} for n in names] if names else [{"name": "X-*"}]
        self.import_headers(specs)

    def import_headers(self, specs: Sequence[Mapping[str, Any]]) -> None:
        compiled = [_ImportSpec(dict(s)) for s in specs]
        headers, _ = self._headers()
        found: list[dict[str, Any]] = [{} for _ in compiled]
        remove: set[int] = set()
        for idx, h in enumerate(headers):
            for n, spec in enumerate(compiled):
                if spec.matches(h.name):
                    key = spec.target_key(h.name.decode("utf-8", "replace"))
                    text = unstructured(h.value)
                    if text is None:
                        raise MessageError(f"header {h.name_str} is not valid UTF-8 text")
                    acc = found[n]
                    if spec.mode == "first":
                        acc.setdefault(key, text)
                    elif spec.mode == "last":
                        acc[key] = text
                    else:
                        acc.setdefault(key, []).append(text)
                    if spec.remove:
                        remove.add(idx)
                    break
        for acc in found:
            for key in sorted(acc):
                self._meta[key] = acc[key]
        if remove:
            self.retain_headers(lambda i, _h: i not in remove)

    def address_header(self, name: str) -> HeaderAddressList | None:
        """kumod's get_address_header: the first header of that name parsed
        as an RFC 5322 address list (kumopy/_message/_rfc5322.py)."""
        from ._address import HeaderGroup
        from ._mimeheader import MailParsingError, parse_header_block
        from ._rfc5322 import Group

        try:
            headers, _, _ = parse_header_block(self._data)
            hdr = headers.get_first(name)
            if hdr is None:
                return None
            parsed = hdr.as_address_list()
        except MailParsingError as e:
            raise AddressError(str(e)) from None
        entries: list[HeaderAddress | HeaderGroup] = []
        for a in parsed:
            if isinstance(a, Group):
                members = tuple(
                    HeaderAddress(m.name, m.address.local_part, m.address.domain)
                    for m in a.entries
                )
                entries.append(HeaderGroup(a.name or None, members))
            else:
                entries.append(HeaderAddress(a.name, a.address.local_part, a.address.domain))
        return HeaderAddressList(entries)

    def from_header(self) -> HeaderAddressList | None:
        return self.address_header("From")

    def to_header(self) -> HeaderAddressList | None:
        return self.address_header("To")

    # -- scheduling ----------------------------------------------------------

    def set_scheduling(self, spec: Mapping[str, Any] | None) -> dict[str, Any] | None:
        self.scheduling = None if spec is None else parse_scheduling(dict(spec))
        return copy.deepcopy(self.scheduling)

    def import_scheduling_header(self, name: str, remove: bool = False) -> dict[str, Any] | None:
        raw = self.first_header_raw(name)
        if raw is None:
            return None
        value = value_text(raw)
        try:
            sched = loads(value)
        except SchedulingError as e:
            shown = value.decode("utf-8", "replace")
            raise MessageError(
                f"{shown} from header {name} is not a valid Scheduling header: {e}"
            ) from None
        self.scheduling = sched
        if remove:
            self.remove_all_named_headers(name)
        return copy.deepcopy(sched)

    # -- misc ----------------------------------------------------------------

    def increment_num_attempts(self) -> None:
        self.num_attempts += 1

    def check_fix_conformance(
        self, check: str, fix: str, settings: Mapping[str, Any] | None = None
    ) -> str | None:
        """None when the message conforms (after the fixes), else kumod's
        `Message has conformance issues: FLAGS` text."""
        from ._conformance import check_fix

        return check_fix(self, check, fix, settings)

    def append_text_plain(self, content: str) -> bool:
        """Add `content` on a new line at the end of the text/plain part;
        False when there is none (kumod's msg:append_text_plain)."""
        return self._append_text(content, html=False)

    def append_text_html(self, content: str) -> bool:
        """Insert `content` before `</body>` of the text/html part (at its
        end when there is no `</body>`); False when there is none."""
        return self._append_text(content, html=True)

    def _append_text(self, content: str, *, html: bool) -> bool:
        from ._mime import MimeError, append_text

        try:
            new = append_text(self._data, content, html)
        except MimeError as e:
            raise MessageError(str(e)) from None
        if new is None:
            return False
        self._data = new
        return True

    def dkim_sign(self, signer: Any) -> None:
        """Prepend the DKIM-Signature `signer` (from kumo.dkim.*) makes."""
        header = signer.sign(self._data)
        self._data = header + self._data

    def lua_index(self, state: LuaState, key: Any) -> Any:
        return lua_method(state, Message, key)

    def to_dict(self) -> dict[str, Any]:
        """Everything a report needs, as JSON data."""
        try:
            queue: str = self.queue_name()
        except MessageError as e:
            queue = f"error: {e}"
        return {
            "id": self.id,
            "sender": str(self.sender),
            "recipients": [str(r) for r in self._recipients],
            "meta": self.meta,
            "headers": [list(h) for h in self.headers],
            "queue": queue,
            "scheduling": copy.deepcopy(self.scheduling),
            "due": self.due,
            "num_attempts": self.num_attempts,
            "data": self._data.decode("utf-8", "surrogateescape"),
        }

    def __repr__(self) -> str:
        rcpts = [str(r) for r in self._recipients]
        return f"<Message {self.id} from {str(self.sender)!r} to {rcpts!r}>"


class _ImportSpec:
    """One import_headers spec (name, match, transform, target, remove)."""

    _FIELDS = ("name", "match", "transform", "target", "remove")

    def __init__(self, spec: dict[str, Any]) -> None:
        for key in spec:
            if key not in self._FIELDS:
                expected = ", ".join(f"`{f}`" for f in self._FIELDS)
                raise MessageError(f"unknown field `{key}`, expected one of {expected}")
        if "name" not in spec:
            raise MessageError("missing field `name`")
        pat = spec["name"]
        if not isinstance(pat, str):
            raise MessageError(f"invalid type for `name`: expected a string, got {pat!r}")
        if not pat:
            raise MessageError("import_headers: header name pattern must not be empty")
        stars = pat.count("*")
        self.prefix: bytes | None = None
        self.exact: bytes | None = None
        if stars == 0:
            self.exact = pat.encode().lower()
        elif not pat.endswith("*") or stars > 1:
            raise MessageError(
                "import_headers: only a single trailing `*` is supported in pattern "
                + json.dumps(pat)
            )
        elif pat == "*":
            raise MessageError("import_headers: bare `*` patterns are not supported")
        else:
            self.prefix = pat[:-1].encode().lower()
        self.mode = spec.get("match", "last")
        if self.mode not in ("first", "last", "all"):
            raise MessageError(
                f"unknown variant `{self.mode}`, expected one of `first`, `last`, `all`"
            )
        self.transform = spec.get("transform", "snake_case")
        if self.transform not in ("snake_case", "kebab_case", "camel_case", "pascal_case"):
            raise MessageError(
                f"unknown variant `{self.transform}`, expected one of `snake_case`, "
                "`kebab_case`, `camel_case`, `pascal_case`"
            )
        self.target = spec.get("target")
        if self.target is not None and self.prefix is not None:
            raise MessageError(
                f"import_headers: `target` cannot be used with wildcard pattern {json.dumps(pat)}"
            )
        self.remove = bool(spec.get("remove", False))

    def matches(self, name: bytes) -> bool:
        low = name.lower()
        if self.exact is not None:
            return low == self.exact
        assert self.prefix is not None
        return low.startswith(self.prefix)

    def target_key(self, name: str) -> str:
        if self.target is not None:
            return str(self.target)
        parts = name.split("-")
        if self.transform == "snake_case":
            return "".join("_" if c == "-" else c.lower() if c.isascii() else c for c in name)
        if self.transform == "kebab_case":
            return "-".join(p.lower() for p in parts)
        if self.transform == "camel_case":
            return "".join(p.lower() if i == 0 else _title(p) for i, p in enumerate(parts))
        return "".join(_title(p) for p in parts)


def _title(s: str) -> str:
    return s[:1].upper() + s[1:].lower() if s else ""
