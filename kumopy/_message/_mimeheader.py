"""Headers of a MIME part as kumod's mailparsing models them: a name, the
separator exactly as written, and the raw value (folding kept), read with
kumod's header-block state machine and written back byte for byte.

Typed views (`as_mailbox_list`, `as_content_type`, ...) parse the raw
value with kumod's grammar (kumopy/_message/_rfc5322.py); new headers are
built as kumod builds them: unstructured text wrapped at 75 columns (or
RFC 2047-encoded when not ASCII), structured values written in kumod's
canonical form.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from ._fold import encode_unstructured, wrap
from ._mimeparams import (
    AuthenticationResults,
    MimeParameters,
    parse_authentication_results,
    parse_content_transfer_encoding,
    parse_content_type,
    qp_encode_header,
)
from ._rfc5322 import (
    AddrSpec,
    Group,
    HeaderParseError,
    Mailbox,
    is_atext_byte,
    is_qtext_byte,
    parse_address_list,
    parse_mailbox,
    parse_mailbox_list,
    parse_msg_id,
    parse_msg_id_list,
    parse_unstructured,
)

__all__ = [
    "Conformance",
    "Header",
    "HeaderMap",
    "MailParsingError",
    "encode_address_list",
    "encode_mailbox",
    "parse_header_block",
    "wrap",
]


class MailParsingError(ValueError):
    """kumod's MailParsingError: the text is what a policy sees."""


class Conformance(enum.IntFlag):
    MISSING_COLON_VALUE = 0x1
    NON_CANONICAL_LINE_ENDINGS = 0x2
    NAME_ENDS_WITH_SPACE = 0x4
    LINE_TOO_LONG = 0x8
    NEEDS_TRANSFER_ENCODING = 0x10
    MISSING_DATE_HEADER = 0x20
    MISSING_MESSAGE_ID_HEADER = 0x40
    MISSING_MIME_VERSION = 0x80
    INVALID_MIME_HEADERS = 0x100


NONE = Conformance(0)
_ASCII_WS = b" \t\n\x0c\r"


# -- encoders (kumod's EncodeHeaderValue) ---------------------------------------


def quote_string(s: str) -> bytes:
    raw = s.encode("utf-8", "surrogateescape")
    if all(is_atext_byte(c) for c in raw):
        return raw
    out = bytearray(b'"')
    for ch in s:
        b = ch.encode("utf-8", "surrogateescape")
        if ord(ch) <= 0xFF and ord(ch) < 0x80:
            c = ord(ch)
            if c not in _ASCII_WS and not is_qtext_byte(c) and not is_atext_byte(c):
                out += b"\\"
        out += b
    return bytes(out + b'"')


def encode_addr_spec(a: AddrSpec) -> bytes:
    local = a.local_part.encode("utf-8", "surrogateescape")
    if all(is_atext_byte(c) or c == 0x2E for c in local):
        out = bytearray(local)
    else:
        out = bytearray(b'"')
        for c in local:
            if c in b'"\\':
                out += b"\\"
            out.append(c)
        out += b'"'
    return bytes(out + b"@" + a.domain.encode("utf-8", "surrogateescape"))


def encode_mailbox(m: Mailbox) -> bytes:
    addr = b"<" + encode_addr_spec(m.address) + b">"
    if m.name is None:
        return addr
    name = (
        quote_string(m.name)
        if m.name.isascii()
        else qp_encode_header(m.name.encode("utf-8", "surrogateescape"))
    )
    return name + b" " + addr


def encode_mailbox_list(items: list[Mailbox] | tuple[Mailbox, ...]) -> bytes:
    return b",\r\n\t".join(encode_mailbox(m) for m in items)


def encode_address(a: Mailbox | Group) -> bytes:
    if isinstance(a, Group):
        return a.name.encode("utf-8", "surrogateescape") + b":" + encode_mailbox_list(
            a.entries
        ) + b";"
    return encode_mailbox(a)


def encode_address_list(items: list[Mailbox | Group]) -> bytes:
    return b",\r\n\t".join(encode_address(a) for a in items)


def encode_msg_id(mid: str) -> bytes:
    return b"<" + mid.encode("utf-8", "surrogateescape") + b">"


def encode_msg_id_list(ids: list[str]) -> bytes:
    return b"\r\n\t".join(encode_msg_id(i) for i in ids)


def format_rfc2822(when: _dt.datetime) -> bytes:
    """chrono's to_rfc2822: day of month unpadded, numeric zone."""
    assert when.tzinfo is not None
    offset = when.utcoffset() or _dt.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[when.weekday()]
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
             "Dec")[when.month - 1]  # fmt: skip
    return (
        f"{day}, {when.day} {month} {when.year:04d} {when:%H:%M:%S} "
        f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    ).encode()


def parse_date(value: bytes) -> _dt.datetime:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        raise MailParsingError("8-bit found when 7-bit is required") from None
    parsed = email.utils.parsedate_tz(text)
    if parsed is None:
        raise MailParsingError("Error parsing Date header: input contains invalid characters")
    try:
        naive = _dt.datetime(*parsed[:6])
    except ValueError as e:
        raise MailParsingError(f"Error parsing Date header: {e}") from None
    tz = _dt.timezone(_dt.timedelta(seconds=parsed[9] or 0))
    return naive.replace(tzinfo=tz)


# -- the header ---------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    name: bytes
    value: bytes
    separator: bytes = b": "
    conformance: Conformance = NONE

    @classmethod
    def new_unstructured(cls, name: str | bytes, value: bytes) -> Header:
        """kumod's Header::new_unstructured: ASCII wrapped, UTF-8 text as
        encoded words, other bytes wrapped as they are."""
        return cls(_b(name), encode_unstructured(value))

    @property
    def name_str(self) -> str:
        return self.name.decode("utf-8", "surrogateescape")

    def is_named(self, name: str | bytes) -> bool:
        return self.name.lower() == _b(name).lower()

    def write(self) -> bytes:
        eol = b"\n" if self.conformance & Conformance.NON_CANONICAL_LINE_ENDINGS else b"\r\n"
        return self.name + self.separator + self.value + eol

    def to_header_string(self) -> bytes:
        return self.write()

    # typed views: each raises MailParsingError with kumod's text
    def _typed(self, fn: Callable[[bytes], Any]) -> Any:
        try:
            return fn(self.value)
        except HeaderParseError as e:
            raise MailParsingError(str(e)) from None

    def as_unstructured(self) -> bytes:
        return self._typed(parse_unstructured)  # type: ignore[no-any-return]

    def as_mailbox_list(self) -> list[Mailbox]:
        return self._typed(parse_mailbox_list)  # type: ignore[no-any-return]

    def as_mailbox(self) -> Mailbox:
        return self._typed(parse_mailbox)  # type: ignore[no-any-return]

    def as_address_list(self) -> list[Mailbox | Group]:
        return self._typed(parse_address_list)  # type: ignore[no-any-return]

    def as_message_id(self) -> str:
        return self._typed(parse_msg_id)  # type: ignore[no-any-return]

    as_content_id = as_message_id

    def as_message_id_list(self) -> list[str]:
        return self._typed(parse_msg_id_list)  # type: ignore[no-any-return]

    def as_content_type(self) -> MimeParameters:
        return self._typed(parse_content_type)  # type: ignore[no-any-return]

    def as_content_transfer_encoding(self) -> MimeParameters:
        return self._typed(parse_content_transfer_encoding)  # type: ignore[no-any-return]

    as_content_disposition = as_content_transfer_encoding

    def as_authentication_results(self) -> AuthenticationResults:
        return self._typed(parse_authentication_results)  # type: ignore[no-any-return]

    def as_date(self) -> _dt.datetime:
        return parse_date(self.value)

    def rebuild(self) -> Header:
        """kumod's Header::rebuild: parse by the header's known schema and
        write the parsed form again (canonical names for known headers)."""
        canonical, kind = self.name_str, "unstructured"
        for known, known_kind in _SCHEMA.items():
            if self.is_named(known):
                canonical, kind = known, known_kind
                break
        try:
            value = getattr(self, _GETTERS[kind])()
        except MailParsingError as e:
            raise MailParsingError(
                f"invalid header: rebuilding '{self.name_str}' header: {e}"
            ) from None
        if kind == "unstructured":
            return Header.new_unstructured(canonical, value)
        return Header(canonical.encode(), encode_value(kind, value))


def _b(name: str | bytes) -> bytes:
    return name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name


def encode_value(kind: str, value: Any) -> bytes:
    if kind == "mailbox_list":
        return encode_mailbox_list(value)
    if kind == "address_list":
        return encode_address_list(value)
    if kind == "mailbox":
        return encode_mailbox(value)
    if kind == "message_id":
        return encode_msg_id(value)
    if kind == "message_id_list":
        return encode_msg_id_list(value)
    if kind in ("mime", "mime_ct"):
        return value.encode()  # type: ignore[no-any-return]
    if kind == "date":
        return format_rfc2822(value)
    raise AssertionError(kind)


#: kumod's known headers and how their values are typed
_SCHEMA: dict[str, str] = {
    "From": "mailbox_list", "Resent-From": "mailbox_list", "Reply-To": "address_list",
    "To": "address_list", "Cc": "address_list", "Bcc": "address_list",
    "Resent-To": "address_list", "Resent-Cc": "address_list", "Resent-Bcc": "address_list",
    "Date": "date", "Sender": "mailbox", "Resent-Sender": "mailbox",
    "Message-ID": "message_id", "Content-ID": "message_id", "Content-Type": "mime_ct",
    "Content-Transfer-Encoding": "mime", "Content-Disposition": "mime",
    "References": "message_id_list", "Subject": "unstructured", "Comments": "unstructured",
    "Mime-Version": "unstructured",
}  # fmt: skip
_GETTERS = {
    "mailbox_list": "as_mailbox_list", "address_list": "as_address_list",
    "mailbox": "as_mailbox", "message_id": "as_message_id", "message_id_list":
    "as_message_id_list", "date": "as_date", "mime": "as_content_transfer_encoding",
    "mime_ct": "as_content_type", "unstructured": "as_unstructured",
    "auth_results": "as_authentication_results",
}  # fmt: skip


# -- the header block -----------------------------------------------------------


def _parse_one(block: bytes, start: int) -> tuple[Header, int]:
    """kumod's Header::parse over block[start:]: (header, bytes used)."""
    n = len(block)
    if start >= n:
        raise MailParsingError("invalid header: empty header string")
    conformance = NONE
    name_end: int | None = None
    value_start = value_end = 0
    idx = 0
    state = "initial"
    saw_cr = False
    line_start = 0
    max_line = 0
    c = block[start]
    while True:
        if state == "initial":
            if c in _ASCII_WS:
                raise MailParsingError("invalid header: header cannot start with space")
            state = "name"
            continue
        if state == "name":
            if c == 0x3A:
                if name_end is None:
                    name_end = idx
                state = "separator"
            elif c in (0x20, 0x09):
                if name_end is None:
                    name_end = idx
                conformance |= Conformance.NAME_ENDS_WITH_SPACE
            elif c == 0x0A:
                conformance |= Conformance.MISSING_COLON_VALUE
                name_end = idx
                max_line = max(max_line, idx - line_start)
                value_start = value_end = idx
                idx += 1
                break
            elif c != 0x0D and not 33 <= c <= 126:
                raise MailParsingError(
                    "invalid header: header name must be comprised of printable "
                    f"US-ASCII characters. Found {_rust_u8(c)}"
                )
        elif state == "separator":
            if c != 0x20:
                value_start = value_end = idx
                state = "value"
                continue
        elif state == "value":
            if c == 0x0A:
                if not saw_cr:
                    conformance |= Conformance.NON_CANONICAL_LINE_ENDINGS
                state = "newline"
                saw_cr = False
                max_line = max(max_line, idx - line_start)
                line_start = idx + 1
            elif c != 0x0D:
                value_end = idx + 1
                saw_cr = False
            else:
                saw_cr = True
        elif state == "newline":
            if c in (0x20, 0x09):
                state = "value"
                continue
            break
        idx += 1
        if start + idx >= n:
            break
        c = block[start + idx]
    max_line = max(max_line, idx - line_start)
    if max_line > 78:
        conformance |= Conformance.LINE_TOO_LONG
    if name_end is None:
        conformance |= Conformance.MISSING_COLON_VALUE
        name_end = idx
    base = start
    name = block[base : base + name_end]
    value = block[base + value_start : base + max(value_end, value_start)]
    separator = block[base + name_end : base + max(value_start, name_end)]
    return Header(name, value, separator, conformance), idx


def _rust_u8(c: int) -> str:
    """Rust's {:?} of a u8."""
    return str(c)


def parse_header_block(data: bytes) -> tuple[HeaderMap, int, Conformance]:
    """kumod's Header::parse_headers: (headers, body offset, conformance)."""
    conformance = NONE
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        conformance |= Conformance.NEEDS_TRANSFER_ENCODING
    headers: list[Header] = []
    idx = 0
    n = len(data)
    while idx < n:
        b = data[idx]
        if b == 0x0A:
            idx += 1
            conformance |= Conformance.NON_CANONICAL_LINE_ENDINGS
            break
        if b == 0x0D:
            if idx + 1 < n and data[idx + 1] == 0x0A:
                idx += 2
                break
            raise MailParsingError("invalid header: lone CR in header")
        if not headers and b in _ASCII_WS:
            raise MailParsingError("invalid header: header block must not start with spaces")
        header, used = _parse_one(data, idx)
        conformance |= header.conformance
        headers.append(header)
        idx += used
    return HeaderMap(headers), idx, conformance


# -- the header map -------------------------------------------------------------

#: accessor name -> (header name, kind) as kumod's HeaderMap defines them
ACCESSORS: dict[str, tuple[str, str]] = {
    "from": ("From", "mailbox_list"), "resent_from": ("Resent-From", "mailbox_list"),
    "to": ("To", "address_list"), "reply_to": ("Reply-To", "address_list"),
    "cc": ("Cc", "address_list"), "bcc": ("Bcc", "address_list"),
    "resent_to": ("Resent-To", "address_list"), "resent_cc": ("Resent-Cc", "address_list"),
    "resent_bcc": ("Resent-Bcc", "address_list"), "date": ("Date", "date"),
    "sender": ("Sender", "mailbox"), "resent_sender": ("Resent-Sender", "mailbox"),
    "message_id": ("Message-ID", "message_id"), "content_id": ("Content-ID", "message_id"),
    "references": ("References", "message_id_list"), "subject": ("Subject", "unstructured"),
    "comments": ("Comments", "unstructured"),
    "content_transfer_encoding": ("Content-Transfer-Encoding", "mime"),
    "mime_version": ("Mime-Version", "unstructured"),
    "content_disposition": ("Content-Disposition", "mime"),
    "content_type": ("Content-Type", "mime_ct"),
    "authentication_results": ("Authentication-Results", "auth_results"),
}  # fmt: skip


class HeaderMap:
    """The ordered headers of one part (names may repeat)."""

    def __init__(self, headers: list[Header] | None = None) -> None:
        self.headers: list[Header] = list(headers or [])

    def __iter__(self) -> Iterator[Header]:
        return iter(self.headers)

    def __len__(self) -> int:
        return len(self.headers)

    def copy(self) -> HeaderMap:
        return HeaderMap(self.headers)

    def iter_named(self, name: str | bytes) -> Iterator[Header]:
        key = _b(name).lower()
        return (h for h in self.headers if h.name.lower() == key)

    def get_first(self, name: str | bytes) -> Header | None:
        return next(self.iter_named(name), None)

    def remove_all_named(self, name: str | bytes) -> None:
        key = _b(name).lower()
        self.headers = [h for h in self.headers if h.name.lower() != key]

    def prepend(self, name: str | bytes, value: bytes) -> None:
        self.headers.insert(0, Header.new_unstructured(name, value))

    def append_header(self, name: str | bytes, value: bytes) -> None:
        self.headers.append(Header.new_unstructured(name, value))

    def get(self, accessor: str) -> Any:
        """The typed value of kumod's HeaderMap accessor (None when absent)."""
        header_name, kind = ACCESSORS[accessor]
        hdr = self.get_first(header_name)
        if hdr is None:
            return None
        try:
            return getattr(hdr, _GETTERS[kind])()
        except MailParsingError as e:
            raise MailParsingError(
                f"while parsing header '{header_name}': {e}"
            ) from None

    def set_text(self, accessor: str, value: bytes) -> None:
        """Assign from text: build an unstructured header and check that it
        parses as the accessor's type (kumod's `set_*(&str)`)."""
        header_name, kind = ACCESSORS[accessor]
        idx = self._index(header_name)
        name = self.headers[idx].name if idx is not None else header_name.encode()
        hdr = Header.new_unstructured(name, value)
        try:
            getattr(hdr, _GETTERS[kind])()
        except MailParsingError as e:
            raise MailParsingError(
                f"while assigning header '{header_name}': {e}"
            ) from None
        self._put(idx, hdr)

    def set_typed(self, accessor: str, value: Any) -> None:
        """Assign a typed value, written in kumod's canonical form."""
        header_name, kind = ACCESSORS[accessor]
        encoded = encode_value(kind, value)
        idx = self._index(header_name)
        if idx is not None:
            self.headers[idx] = replace(self.headers[idx], value=encoded)
        else:
            self.headers.append(Header(header_name.encode(), encoded))

    def _index(self, header_name: str) -> int | None:
        key = header_name.encode().lower()
        for i, h in enumerate(self.headers):
            if h.name.lower() == key:
                return i
        return None

    def _put(self, idx: int | None, hdr: Header) -> None:
        if idx is None:
            self.headers.append(hdr)
        else:
            self.headers[idx] = hdr
