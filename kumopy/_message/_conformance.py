"""msg:check_fix_conformance (crates/mailparsing MessageConformance).

Checks every flag kumod defines except INVALID_MIME_HEADERS (kumopy does
not parse MIME parts).  Fixes the missing Date, Message-ID and
Mime-Version headers and non-canonical line endings; fixes that need
kumod's MIME rebuild (LINE_TOO_LONG, NEEDS_TRANSFER_ENCODING, header
syntax) raise `kumopy: ... is not supported`.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from ._headers import RawHeader, emit_header, parse_headers, rebuild, unstructured

if TYPE_CHECKING:
    from ._message import Message

__all__ = ["FLAGS", "check_fix", "conformance", "parse_flags"]

FLAGS = (
    "MISSING_COLON_VALUE",
    "NON_CANONICAL_LINE_ENDINGS",
    "NAME_ENDS_WITH_SPACE",
    "LINE_TOO_LONG",
    "NEEDS_TRANSFER_ENCODING",
    "MISSING_DATE_HEADER",
    "MISSING_MESSAGE_ID_HEADER",
    "MISSING_MIME_VERSION",
    "INVALID_MIME_HEADERS",
)
_MISSING_HEADERS = {"MISSING_DATE_HEADER", "MISSING_MESSAGE_ID_HEADER", "MISSING_MIME_VERSION"}
_FIXABLE = _MISSING_HEADERS | {"NON_CANONICAL_LINE_ENDINGS"}
#: fixed by rebuilding the MIME tree (kumopy/_message/_rebuild.py)
_REBUILT = {"LINE_TOO_LONG", "NEEDS_TRANSFER_ENCODING", "NAME_ENDS_WITH_SPACE"}
_SETTINGS = ("detect_encoding", "include_encodings", "exclude_encodings", "message_id")
_MSGID = re.compile(r"\s*<[^<>\s@]+@[^<>\s@]+>\s*")


class ConformanceError(ValueError):
    pass


def parse_flags(text: str) -> set[str]:
    out = set()
    for name in text.split("|"):
        if not name:
            continue
        if name not in FLAGS:
            possible = ", ".join(sorted(f"'{f}'" for f in FLAGS))
            raise ConformanceError(
                f"invalid MessageConformance flag '{name}', possible values are {possible}"
            )
        out.add(name)
    return out


def _first(headers: list[RawHeader], name: str) -> RawHeader | None:
    for h in headers:
        if h.is_named(name):
            return h
    return None


def _has_lone_cr_or_lf(data: bytes) -> bool:
    return bool(re.search(rb"\r(?!\n)|(?<!\r)\n", data))


def conformance(data: bytes) -> set[str]:
    """The conformance flags kumod's parser would set on this message."""
    headers, _ = parse_headers(data)
    found: set[str] = {h.problem for h in headers if h.problem}
    if not data.isascii():
        found.add("NEEDS_TRANSFER_ENCODING")
    prev = 0
    for m in re.finditer(rb"\n", data):
        if m.start() - prev > 78:
            found.add("LINE_TOO_LONG")
            break
        prev = m.start()
    if _has_lone_cr_or_lf(data):
        found.add("NON_CANONICAL_LINE_ENDINGS")
    date = _first(headers, "Date")
    if date is None or not _valid_date(date.value):
        found.add("MISSING_DATE_HEADER")
    mid = _first(headers, "Message-ID")
    if mid is None or not _MSGID.fullmatch(_text(mid.value)):
        found.add("MISSING_MESSAGE_ID_HEADER")
    mv = _first(headers, "Mime-Version")
    if mv is None or _text(mv.value).strip() != "1.0":
        found.add("MISSING_MIME_VERSION")
    return found


def _text(value: bytes) -> str:
    text = unstructured(value)
    return text if text is not None else value.decode("utf-8", "replace")


def _valid_date(value: bytes) -> bool:
    try:
        parsedate_to_datetime(_text(value))
    except (TypeError, ValueError, IndexError):
        return False
    return True


def _set_header(data: bytes, name: str, value: str) -> bytes:
    headers, body_offset = parse_headers(data)
    line = emit_header(name, value.encode("utf-8"))
    for i, h in enumerate(headers):
        if h.is_named(name):
            headers[i] = RawHeader(h.name, value.encode(), h.name + b": " + line[len(name) + 2 :])
            return rebuild(data, headers, body_offset)
    headers.append(RawHeader(name.encode(), value.encode(), line))
    return rebuild(data, headers, body_offset)


def check_fix(msg: Message, check: str, fix: str, settings: Mapping[str, Any] | None) -> str | None:
    checks = parse_flags(check)
    fixes = parse_flags(fix)
    opts = dict(settings or {})
    for key in opts:
        if key not in _SETTINGS:
            expected = ", ".join(f"`{k}`" for k in _SETTINGS)
            raise ConformanceError(f"unknown field `{key}`, expected one of {expected}")
    data = msg.data
    found = conformance(data)
    problems = (checks - fixes) & found
    if problems:
        return "Message has conformance issues: " + "|".join(sorted(problems))
    to_fix = fixes & found
    if not to_fix:
        return None
    unsupported = sorted(to_fix - _FIXABLE - _REBUILT)
    if unsupported:
        raise KumoError(
            f"kumopy: message:check_fix_conformance fixing {'|'.join(unsupported)} is not supported"
        )
    if to_fix - _MISSING_HEADERS:
        # kumod rebuilds the whole MIME tree for anything but missing headers
        from ._message import normalize_crlf
        from ._rebuild import rebuild_message

        data = rebuild_message(normalize_crlf(data), opts)
    if "MISSING_DATE_HEADER" in to_fix:
        now = _dt.datetime.now(_dt.UTC)
        data = _set_header(data, "Date", format_datetime(now))
    if "MISSING_MIME_VERSION" in to_fix:
        data = _set_header(data, "Mime-Version", "1.0")
    if "MISSING_MESSAGE_ID_HEADER" in to_fix:
        message_id = opts.get("message_id")
        if message_id is None:
            message_id = f"{msg.id}@{msg.sender.domain}"
        data = _set_header(data, "Message-ID", f"<{message_id}>")
    msg.set_data(data)
    return None
