"""The MIME rebuild behind check_fix_conformance's content fixes
(kumod: crates/mailparsing MimePart::rebuild).

Every leaf part is decoded (transfer encoding, then charset) and written
again the way kumod's builder writes it: text as UTF-8 (or US-ASCII) in
7bit, quoted-printable or base64, whichever is shortest; anything else as
base64.  Headers are written back after the new Content-Type and
Content-Transfer-Encoding: parameters of the old Content-Type that the new
one lacks are kept, Content-ID is dropped, unstructured values are
re-encoded (wrapped, or RFC 2047 when not ASCII), and a header that cannot
be read is dropped, as in kumod.  Structured headers (addresses, dates,
message ids) are kept as written when ASCII; kumod re-encodes them in its
canonical form, so their bytes may differ from kumod's.
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
from collections.abc import Mapping, Sequence
from email.message import Message as PyMessage
from email.quoprimime import body_encode
from typing import Any

from ._fold import encode_unstructured
from ._headers import parse_headers, unstructured

__all__ = ["RebuildError", "rebuild_message", "decode_8bit"]


class RebuildError(ValueError):
    pass


_STRUCTURED = {
    "from", "resent-from", "reply-to", "to", "cc", "bcc", "resent-to", "resent-cc",
    "resent-bcc", "date", "sender", "resent-sender", "message-id", "references",
}  # fmt: skip
_QTEXT = re.compile(r"[\x20-\x7e]*")


def _candidates(include: Sequence[str], exclude: Sequence[str]) -> list[str]:
    names = list(include) or ["utf-8", "iso-8859-1", "windows-1252", "shift_jis", "euc-jp"]
    excluded = {e.lower() for e in exclude}
    return [n for n in names if n.lower() not in excluded]


def decode_8bit(data: bytes, settings: Mapping[str, Any]) -> str:
    """Bytes that are not UTF-8 as text: with `detect_encoding`, the first
    candidate encoding that decodes them; otherwise lossy UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if settings.get("detect_encoding"):
        for name in _candidates(
            settings.get("include_encodings") or [], settings.get("exclude_encodings") or []
        ):
            try:
                return data.decode(name)
            except (UnicodeDecodeError, LookupError):
                continue
    return data.decode("utf-8", "replace")


def _param_text(name: str, value: str) -> str:
    if value.isascii() and _QTEXT.fullmatch(value):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f';\r\n\t{name}="{escaped}"'
    from urllib.parse import quote

    return f";\r\n\t{name}*=UTF-8''{quote(value, safe='')}"


def _mime_value(value: str, params: Mapping[str, str]) -> str:
    return value + "".join(_param_text(k, params[k]) for k in sorted(params))


def _encode_text(text: str) -> tuple[bytes, str | None]:
    raw = text.encode("utf-8")
    qp = body_encode(raw.decode("latin-1"), maxlinelen=76, eol="\r\n").encode("ascii")
    if qp == raw:
        return raw, None
    b64 = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    if len(qp) <= len(b64):
        return qp, "quoted-printable"
    return b64, "base64"


class _Part:
    def __init__(self) -> None:
        self.headers: list[tuple[str, bytes]] = []
        self.body = b""
        self.children: list[_Part] = []
        self.boundary: str | None = None
        self.intro = b""

    def to_bytes(self) -> bytes:
        out = bytearray()
        for name, value in self.headers:
            out += name.encode("ascii", "replace") + b": " + value + b"\r\n"
        out += b"\r\n"
        if not self.children:
            out += self.body
            return bytes(out)
        assert self.boundary is not None
        b = self.boundary.encode()
        for child in self.children:
            out += b"--" + b + b"\r\n" + child.to_bytes()
            if not out.endswith(b"\r\n"):
                out += b"\r\n"
        out += b"--" + b + b"--\r\n"
        return bytes(out)


def _params(part: PyMessage) -> tuple[str, dict[str, str]]:
    ctype = part.get_content_type()
    params: dict[str, str] = {}
    for key, value in (part.get_params() or [])[1:]:
        if isinstance(value, tuple):
            value = email.utils.collapse_rfc2231_value(value)
        params[key.lower()] = str(value)
    return ctype, params


def _rebuild(part: PyMessage, settings: Mapping[str, Any], child: bool = False) -> _Part:
    new = _Part()
    ctype, old_params = _params(part)
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        payload = part.get_payload()
        assert isinstance(payload, list)
        new.children = [_rebuild(p, settings, True) for p in payload if isinstance(p, PyMessage)]
        new.boundary = part.get_boundary() or "kumopy-boundary"
        params = {"boundary": new.boundary}
        head: list[tuple[str, bytes]] = []
    elif part.get_content_maintype() == "text" or part.get("Content-Type") is None:
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        charset = part.get_content_charset()
        text: str
        if charset is None or charset.lower() in ("utf-8", "us-ascii", "utf8"):
            text = decode_8bit(data, settings)
        else:
            try:
                text = data.decode(charset)
            except (LookupError, UnicodeDecodeError):
                text = decode_8bit(data, settings)
        text = re.sub(r"\r?\n", "\r\n", text)
        if child:
            # kumod's parts keep the line ending that precedes the next
            # boundary; Python's parser strips it
            text += "\r\n"
        new.body, cte = _encode_text(text)
        if not new.body.endswith(b"\r\n"):
            new.body += b"\r\n"
        params = {"charset": "us-ascii" if text.isascii() else "utf-8"}
        head = []
        if cte is not None:
            head.append(("Content-Transfer-Encoding", cte.encode()))
    else:
        if part.is_multipart():  # message/rfc822 and friends: kumod treats them as binary
            inner = part.get_payload(0)
            assert isinstance(inner, PyMessage)
            data = inner.as_bytes(policy=email.policy.compat32.clone(linesep="\r\n"))
        else:
            raw = part.get_payload(decode=True)
            assert isinstance(raw, bytes)
            data = raw
        new.body = base64.encodebytes(data).replace(b"\n", b"\r\n")
        params = {}
        head = []
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if disposition is not None or filename is not None:
            cd: dict[str, str] = {}
            if filename is not None:
                cd["filename"] = filename
                params["name"] = filename
            kind = "inline" if disposition == "inline" else "attachment"
            head.append(("Content-Disposition", _mime_value(kind, cd).encode()))
        content_id = part.get("Content-ID")
        if content_id is not None:
            head.append(("Content-ID", str(content_id).strip().encode()))
        head.append(("Content-Transfer-Encoding", b"base64"))
    for key, value in old_params.items():
        params.setdefault(key, value)
    ct_header = ("Content-Type", _mime_value(ctype, params).encode())
    if head and head[0][0] == "Content-Disposition":
        new.headers = [head[0], ct_header, *head[1:]]
    else:
        new.headers = [ct_header, *head]
    for name, value in part.raw_items():
        low = name.strip().lower()
        if low in ("content-type", "content-transfer-encoding", "content-id"):
            continue
        if low == "content-disposition":
            continue  # the rebuilt part has its own (or, for text, none)
        rebuilt = _rebuild_header(name.strip(), value, settings)
        if rebuilt is not None:
            new.headers.append(rebuilt)
    return new


def _rebuild_header(name: str, value: Any, settings: Mapping[str, Any]) -> tuple[str, bytes] | None:
    raw = str(value).encode("utf-8", "surrogateescape")
    text = unstructured(raw)
    if text is None:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            text = unstructured(decode_8bit(raw, settings).encode("utf-8"))
        if text is None:
            return None  # kumod drops a header it cannot read
    if name.lower() in _STRUCTURED and text.isascii():
        return name, re.sub(r"\s+", " ", text).strip().encode("ascii")
    return name, encode_unstructured(text.encode("utf-8", "surrogateescape"))


def rebuild_message(data: bytes, settings: Mapping[str, Any]) -> bytes:
    """The message rebuilt as kumod's check_fix_conformance does before it
    adds missing headers."""
    headers, _ = parse_headers(data)
    if any(h.problem == "NAME_ENDS_WITH_SPACE" for h in headers):
        data = re.sub(rb"(?m)^([!-9;-~]+)[ \t]+:", rb"\1:", data)
    parsed = email.message_from_bytes(data, policy=email.policy.compat32)
    return _rebuild(parsed, settings).to_bytes()
