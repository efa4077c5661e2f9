"""kumod's trace headers (smtp_server.rs `TraceHeaders`), shared by SMTP
reception, HTTP injection and `kumo.apply_supplemental_trace_header`: the
struct as serde reads it, the date stamp of a Received header, the
Received header of an HTTP injection, and the supplemental trace header."""

from __future__ import annotations

import base64
import datetime as _dt
import json
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _serde as de
from ._fold import wrap
from ._mimeheader import format_rfc2822

if TYPE_CHECKING:
    from ._message import Message

__all__ = ["TraceHeaders", "apply_supplemental", "http_received_header", "now_rfc2822"]

_FIELDS = ("received_header", "supplemental_header", "header_name", "include_meta_names")


@dataclass
class TraceHeaders:
    """kumod's TraceHeaders, with its defaults (an HTTP injection request
    that gives none uses `http_default()`: no Received header)."""

    received_header: bool = True
    supplemental_header: bool = True
    header_name: str = "X-KumoRef"
    include_meta_names: list[str] = field(default_factory=list)

    @classmethod
    def http_default(cls) -> TraceHeaders:
        """kumod's HttpTraceHeaders default: injector addresses masked."""
        return cls(received_header=False)

    @classmethod
    def parse(cls, data: Any) -> TraceHeaders:
        """The struct as serde reads it (deny_unknown_fields, every field
        defaulted); refusals raise `SerdeError` with serde's text."""
        d = de.fields(data, "TraceHeaders", _FIELDS, ())
        return cls(
            received_header=de.boolean(d["received_header"]) if "received_header" in d else True,
            supplemental_header=de.boolean(d["supplemental_header"])
            if "supplemental_header" in d
            else True,
            header_name=de.string(d["header_name"]) if "header_name" in d else "X-KumoRef",
            include_meta_names=[de.string(x) for x in de.sequence(d.get("include_meta_names"))],
        )


def now_rfc2822() -> str:
    """The date stamp of a Received header (chrono's `Utc::now().to_rfc2822()`)."""
    return format_rfc2822(_dt.datetime.now(_dt.UTC)).decode()


def http_received_header(sender_domain: str, peer: str, msg_id: str, recipient: str) -> bytes:
    """The Received header kumod prepends to a message it generates for
    an HTTP injection request (inject_v1.rs)."""
    return (
        f"Received: from {sender_domain} ({peer})\r\n"
        f"  by {socket.gethostname()} (KumoMTA)\r\n"
        f"  with HTTP id {msg_id} for <{recipient}>;\r\n"
        f"  {now_rfc2822()}\r\n"
    ).encode()


def apply_supplemental(message: Message, trace: TraceHeaders) -> None:
    """Prepend the supplemental trace header: base64 of the JSON
    `{"_@_":"\\\\_/","recipient":...}` plus the chosen meta values, folded
    at 75 columns."""
    if not trace.supplemental_header:
        return
    obj: dict[str, Any] = {"_@_": "\\_/"}
    recips = [str(r) for r in message.recipients]
    obj["recipient"] = recips[0] if len(recips) == 1 else recips
    for name in trace.include_meta_names:
        obj[name] = message.get_meta(name)
    # serde_json's Map: keys sorted, compact, non-ASCII kept as is
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    value = base64.b64encode(text.encode("utf-8", "surrogateescape"))
    message.prepend_header(trace.header_name, wrap(value, 75, 75))
