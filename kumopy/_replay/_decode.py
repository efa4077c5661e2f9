"""Decoding the common eligible record without building the whole record.

A TransientFailure or Bounce line is about a kilobyte of JSON of which the
replay needs six fields.  msgspec decodes those into typed structs and
validates the rest of the line (JSON syntax) without building it, about
three times faster than parsing the whole record with orjson.  It is a
fast path only: `decode` answers None for anything but a record of the
common shape that is offered as it is, and the caller then parses the line
with orjson and `examine` decides, with the usual messages.

msgspec and orjson accept the same ASCII lines but one kind: a number
beyond the range of a double (such as `1e400`) in a field replay does not
read, which JSON allows and orjson refuses; such a line is taken as the
record it is.  A line that is not ASCII takes the orjson path, so invalid
UTF-8 anywhere in a line is still reported.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .._smtp import EnhancedStatusCode, QueueName
from ._records import INTERNAL_PREFIX, LONG_CONTENT, OFFERED_INTERNAL, QUEUES

__all__ = ["decode"]


class _Enhanced(msgspec.Struct):
    class_: int = msgspec.field(name="class")
    subject: int
    detail: int


class _Response(msgspec.Struct):
    code: int
    content: str
    enhanced_code: _Enhanced | None = None
    command: str | None = None


class _Record(msgspec.Struct):
    type: str
    response: _Response | None = None
    id: Any = None
    recipient: Any = None
    queue: Any = None
    delivery_protocol: Any = None


_decode = msgspec.json.Decoder(_Record).decode
_DecodeError = msgspec.DecodeError
#: "C.S.D " by (class, subject, detail)
_ENHANCED_TEXT: dict[tuple[int, int, int], str | None] = {}


def _enhanced_text(e: _Enhanced) -> str | None:
    key = (e.class_, e.subject, e.detail)
    try:
        return _ENHANCED_TEXT[key]
    except KeyError:
        pass
    try:
        text: str | None = f"{EnhancedStatusCode(*key)} "
    except ValueError:
        text = None  # out of range: examine reports it
    if len(_ENHANCED_TEXT) < 10_000:
        _ENHANCED_TEXT[key] = text
    return text


def decode(raw: bytes) -> tuple[str, QueueName, str, int] | str | None:
    """(line, queue, domain, code) of an eligible record of the common
    shape (see `_records.quick`); "internal" for a record of that shape
    that `examine` would not offer because kumod itself wrote its
    response; or None: the caller then takes the general path."""
    if not raw.isascii():
        return None
    try:
        record = _decode(raw)
    except (_DecodeError, RecursionError):  # msgspec's depth limit is a RecursionError
        return None
    kind = record.type
    if kind != "TransientFailure" and kind != "Bounce":
        return None
    response = record.response
    if response is None:
        return None
    protocol = record.delivery_protocol
    if protocol is not None and protocol != "ESMTP":
        return None
    code = response.code
    content = response.content
    if content.startswith(INTERNAL_PREFIX):
        # examine's tests, in its order, up to its "internal"
        enhanced = response.enhanced_code
        if (
            0 <= code <= 0xFFFF
            and content[-1:] != ")"
            and code != 250
            and not content.startswith(OFFERED_INTERNAL)
            and (enhanced is None or _enhanced_text(enhanced) is not None)
        ):
            return "internal"
        return None
    if (
        not 0 <= code <= 0xFFFF
        or code == 250
        or content[-1:] == ")"
        or content.startswith(INTERNAL_PREFIX)
        or len(content) >= LONG_CONTENT
        or "\n" in content
        or "\r" in content
    ):
        return None
    enhanced = response.enhanced_code
    if enhanced is None:
        line = f"{code} {content}"
    else:
        text = _enhanced_text(enhanced)
        if text is None:
            return None
        line = f"{code} {text}{content}"
    name = record.queue
    queue = QUEUES.get(name) if name.__class__ is str else None
    if queue is None:
        return None
    rcpt = record.recipient
    if rcpt.__class__ is str:
        domain = rcpt.rpartition("@")[2].lower()
    elif rcpt.__class__ is list and rcpt and rcpt[0].__class__ is str:
        domain = rcpt[0].rpartition("@")[2].lower()
    else:
        return None
    return line, queue, domain, code
