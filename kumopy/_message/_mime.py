"""A byte-preserving MIME tree for msg:append_text_plain and
msg:append_text_html (kumod: crates/mailparsing MimePart parse and
write_message, Message::append_text_plain/append_text_html).

Parts are split the way kumod splits them (at `\\n--boundary`, each part
keeping the line ending before the next boundary) and written back the
way kumod writes them, so the parts a footer does not touch come out
byte for byte.  One deliberate difference: a preamble before the first
boundary is written back intact (reading kumod's code, its copy would lose
the line ending before the first boundary).
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass, field
from email.message import Message as PyMessage

from ._headers import RawHeader, parse_headers

__all__ = ["MimeNode", "append_text", "parse_tree"]


@dataclass
class MimeNode:
    headers: list[RawHeader]
    body: bytes
    parts: list[MimeNode] = field(default_factory=list)
    intro: bytes = b""
    outro: bytes = b""
    boundary: bytes | None = None

    def header(self, name: str) -> bytes | None:
        for h in self.headers:
            if h.is_named(name):
                return h.value
        return None

    def content_type(self) -> tuple[str | None, dict[str, str]]:
        raw = self.header("Content-Type")
        if raw is None:
            return None, {}
        msg = PyMessage()
        msg["Content-Type"] = re.sub(r"\r?\n[ \t]+", " ", raw.decode("utf-8", "replace"))
        params = {k.lower(): str(v) for k, v in (msg.get_params() or [])[1:]}
        return msg.get_content_type(), params

    def is_inline(self) -> bool:
        raw = self.header("Content-Disposition")
        return raw is None or not raw.strip().lower().startswith(b"attachment")

    def to_bytes(self) -> bytes:
        out = bytearray()
        for h in self.headers:
            out += h.raw if h.raw.endswith(b"\n") else h.raw + b"\r\n"
        out += b"\r\n"
        if not self.parts:
            out += self.body
            return bytes(out)
        assert self.boundary is not None
        out += self.intro
        for p in self.parts:
            out += b"--" + self.boundary + b"\r\n" + p.to_bytes()
        out += b"--" + self.boundary + b"--\r\n" + self.outro
        return bytes(out)


def parse_tree(data: bytes) -> MimeNode:
    headers, offset = parse_headers(data)
    node = MimeNode(headers, data[offset:])
    ctype, params = node.content_type()
    boundary = params.get("boundary")
    if ctype is None or not ctype.startswith("multipart/") or not boundary:
        return node
    node.boundary = boundary.encode("utf-8", "surrogateescape")
    delim = b"\n--" + node.boundary
    raw = data[max(offset - 1, 0) :]
    positions = [m.start() for m in re.finditer(re.escape(delim), raw)]
    if not positions:
        return node
    # the preamble with its own line ending (kumod keeps the byte before
    # the body and drops the line ending before the first boundary)
    node.intro = raw[1 : positions[0] + 1] if positions[0] > 0 else b""
    for n, pos in enumerate(positions):
        end_of_delim = pos + len(delim)
        if raw[end_of_delim : end_of_delim + 2] == b"--":
            nl = raw.find(b"\n", end_of_delim)
            node.outro = raw[nl + 1 :] if nl >= 0 else b""
            break
        nl = raw.find(b"\n", end_of_delim)
        if nl < 0:
            break
        start = nl + 1
        stop = positions[n + 1] + 1 if n + 1 < len(positions) else len(raw)
        node.parts.append(parse_tree(raw[start:stop]))
    node.body = b""
    return node


def _find(node: MimeNode, want: str) -> MimeNode | None:
    """The first inline part of type `want` as kumod's simplified structure
    finds it (a part without Content-Type counts as text/plain)."""
    ctype, _ = node.content_type()
    if ctype is None:
        return node if want == "text/plain" else None
    if node.is_inline() and ctype == want:
        return node
    if ctype.startswith("multipart/"):
        for p in node.parts:
            hit = _find(p, want)
            if hit is not None:
                return hit
    return None


class MimeError(ValueError):
    pass


def _decode_body(node: MimeNode) -> str:
    cte = (node.header("Content-Transfer-Encoding") or b"7bit").strip().lower()
    body = node.body
    if cte == b"base64":
        try:
            body = base64.b64decode(re.sub(rb"\s+", b"", body))
        except (binascii.Error, ValueError) as e:
            raise MimeError(f"base64 decode: {e}") from None
    elif cte == b"quoted-printable":
        body = quopri.decodestring(body)
    _, params = node.content_type()
    charset = params.get("charset", "us-ascii")
    try:
        return body.decode("utf-8" if charset.lower() in ("us-ascii", "ascii") else charset)
    except (LookupError, UnicodeDecodeError) as e:
        raise MimeError(f"decoding text with charset {charset}: {e}") from None


def _replace_text(node: MimeNode, ctype: str, text: str) -> None:
    from ._rebuild import _encode_text, _mime_value

    encoded, cte = _encode_text(text)
    if not encoded.endswith(b"\r\n"):
        encoded += b"\r\n"
    kept = [
        h
        for h in node.headers
        if not (h.is_named("Content-Type") or h.is_named("Content-Transfer-Encoding"))
    ]
    charset = "us-ascii" if text.isascii() else "utf-8"
    value = _mime_value(ctype, {"charset": charset}).encode()
    kept.append(RawHeader(b"Content-Type", value, b"Content-Type: " + value + b"\r\n"))
    if cte is not None:
        kept.append(
            RawHeader(
                b"Content-Transfer-Encoding",
                cte.encode(),
                b"Content-Transfer-Encoding: " + cte.encode() + b"\r\n",
            )
        )
    node.headers = kept
    node.body = encoded


def append_text(data: bytes, content: str, html: bool) -> bytes | None:
    """The message with `content` added to its text/plain part (after a
    CRLF) or its text/html part (before the last `</body>`, else at the
    end); None when the message has no such part."""
    tree = parse_tree(data)
    want = "text/html" if html else "text/plain"
    node = _find(tree, want)
    if node is None:
        return None
    text = _decode_body(node)
    if html:
        idx = max(text.rfind("</body>"), -1)
        if idx < 0:
            idx = text.rfind("</BODY>")
        if idx >= 0:
            text = text[:idx] + "\r\n" + content + text[idx:]
        else:
            text = text + "\r\n" + content
    else:
        text = text + "\r\n" + content
    _replace_text(node, want, text)
    return tree.to_bytes()
