"""The checks kumod makes on message data (the trace headers are in
kumopy/_message/_trace.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._message import Message


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
