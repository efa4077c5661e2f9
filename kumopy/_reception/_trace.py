"""Trace headers and the checks kumod makes on message data."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from ._params import TraceHeaders

if TYPE_CHECKING:
    from .._message import Message


def _now_rfc2822() -> str:
    return format_datetime(datetime.now(UTC))


def wrap_header_value(value: str, soft: int = 75, hard: int = 75) -> str:
    """kumod's header folding (kumo-wrap `wrap_impl`): fill words up to
    `soft` columns, split longer words every `hard` characters, continue
    lines with CRLF TAB."""
    result = ""
    line = ""
    for word in value.split():
        if len(line) + len(word) < soft:
            line = f"{line} {word}" if line else word
            continue
        if line:
            result += ("\t" if result else "") + line + "\r\n"
            line = ""
        if len(word) <= hard:
            line = word
        else:
            for c in word:
                line += c
                if len(line) >= hard:
                    result += ("\t" if result else "") + line + "\r\n"
                    line = ""
    if line:
        result += ("\t" if result else "") + line
    return result


def has_lone_cr_or_lf(data: bytes) -> bool:
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        if b == 0x0D:
            if i + 1 >= n or data[i + 1] != 0x0A:
                return True
            i += 2
            continue
        if b == 0x0A:
            return True
        i += 1
    return False


def normalize_crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def check_line_lengths(data: bytes, limit: int) -> bool:
    return all(len(line) <= limit for line in data.split(b"\r\n"))


def report_kind(message: Message) -> str | None:
    """"arf" for an RFC 5965 feedback report, "oob" for an RFC 3464
    delivery status report, else None (kumopy looks at the top-level
    Content-Type only; kumod parses the whole report)."""
    ctype = (message.get_first_named_header_value("Content-Type") or "").lower()
    if not ctype.startswith("multipart/report"):
        return None
    compact = ctype.replace(" ", "").replace('"', "")
    if "report-type=feedback-report" in compact:
        return "arf"
    if "report-type=delivery-status" in compact:
        return "oob"
    return None



def _apply_supplemental(trace: TraceHeaders, message: Message) -> None:
    if not trace.supplemental_header:
        return
    obj: dict[str, Any] = {"_@_": "\\_/"}
    recips = [str(r) for r in message.recipients]
    obj["recipient"] = recips[0] if len(recips) == 1 else recips
    for name in trace.include_meta_names:
        obj[name] = message.get_meta(name)
    # serde_json without preserve_order: keys sorted, compact separators
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    value = base64.b64encode(text.encode("utf-8")).decode("ascii")
    message.prepend_header(trace.header_name, wrap_header_value(value, 75, 75))
