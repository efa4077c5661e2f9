"""The header block of an RFC 5322 message, parsed the way kumod reads it.

kumod re-parses the message text for every header method; so does kumopy.
Headers keep their raw bytes (name, separator, folded value and line
ending) so that methods which rewrite the header block (remove_*,
import_* with removal) change only what they must.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from dataclasses import dataclass

__all__ = ["RawHeader", "parse_headers", "unstructured", "emit_header", "rebuild"]

_NAME = re.compile(rb"([!-9;-~]+)(:[ \t]*)")


@dataclass(frozen=True)
class RawHeader:
    name: bytes
    #: the value as written: folding kept, line ending dropped
    value: bytes
    #: every byte of the header, line ending(s) included
    raw: bytes
    #: "MISSING_COLON_VALUE" / "NAME_ENDS_WITH_SPACE" when malformed
    problem: str | None = None

    @property
    def name_str(self) -> str:
        return self.name.decode("utf-8", "replace")

    def is_named(self, name: str) -> bool:
        return self.name.lower() == name.encode("utf-8", "surrogateescape").lower()


def parse_headers(data: bytes) -> tuple[list[RawHeader], int]:
    """(headers, offset of the body).  The header block ends at the first
    empty line; the offset points just past it (len(data) when the message
    has no body separator)."""
    headers: list[RawHeader] = []
    pos = 0
    n = len(data)
    while pos < n:
        end = data.find(b"\n", pos)
        line_end = n if end < 0 else end + 1
        line = data[pos:line_end]
        if line in (b"\r\n", b"\n"):
            return headers, line_end
        if line[:1] in (b" ", b"\t") and headers:
            prev = headers[-1]
            raw = prev.raw + line
            headers[-1] = RawHeader(prev.name, _value_of(raw), raw, prev.problem)
            pos = line_end
            continue
        m = _NAME.match(line)
        if m is None:
            colon = line.find(b":")
            spaced = line[colon - 1 : colon] in (b" ", b"\t")
            if colon > 0 and line[:colon].rstrip(b" \t") and spaced:
                name = line[:colon].rstrip(b" \t")
                headers.append(RawHeader(name, _value_of(line), line, "NAME_ENDS_WITH_SPACE"))
            else:
                headers.append(RawHeader(_strip_eol(line), b"", line, "MISSING_COLON_VALUE"))
        else:
            headers.append(RawHeader(m.group(1), _value_of(line), line, None))
        pos = line_end
    return headers, n


def header_block_error(data: bytes) -> str | None:
    """The error kumod's header parser raises for this message, if any."""
    pos = 0
    n = len(data)
    first = True
    while pos < n:
        end = data.find(b"\n", pos)
        line_end = n if end < 0 else end + 1
        line = data[pos:line_end]
        if line in (b"\r\n", b"\n"):
            return None
        if line[:1] == b"\r":
            return "lone CR in header"
        if first and line[:1].isspace():
            return "header block must not start with spaces"
        first = False
        if line[:1] not in (b" ", b"\t"):
            m = re.match(rb"[^:\r\n]*", line)
            assert m is not None
            for c in m.group(0).rstrip(b" \t"):
                if not 33 <= c <= 126 and c not in (0x20, 0x09):
                    return (
                        f"header name must be comprised of printable US-ASCII characters. Found {c}"
                    )
        pos = line_end
    return None


def _strip_eol(b: bytes) -> bytes:
    if b.endswith(b"\r\n"):
        return b[:-2]
    if b.endswith(b"\n"):
        return b[:-1]
    return b


def _value_of(raw: bytes) -> bytes:
    colon = raw.find(b":")
    value = raw[colon + 1 :] if colon >= 0 else b""
    return _strip_eol(value.lstrip(b" "))


_ENCODED_WORD = re.compile(rb"=\?([^?*\s]+)(?:\*[^?\s]*)?\?([BbQq])\?([^?\s]*)\?=")
_WSP = b" \t\r\n"


class _Undecodable(Exception):
    pass


def _decode_word(charset: bytes, encoding: bytes, text: bytes) -> str:
    if encoding in (b"B", b"b"):
        try:
            raw = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise _Undecodable from None
    else:
        raw = quopri.decodestring(text.replace(b"_", b" "), header=True)
    try:
        codecs.lookup(charset.decode("ascii"))
    except (LookupError, UnicodeDecodeError):
        raise _Undecodable from None
    return raw.decode(charset.decode("ascii"), "replace")


def unstructured(value: bytes) -> str | None:
    """The value as kumod's unstructured-text parser reads it: each run of
    whitespace (folding included) becomes one space, RFC 2047 encoded words
    are decoded wherever they start and the whitespace between two of them
    is dropped.  None when the text is not UTF-8 or a word cannot be
    decoded (kumod then returns the raw value)."""
    words: list[tuple[str, str]] = []  # ("fws" | "enc" | "text", text)
    i, n = 0, len(value)
    text_start = 0

    def flush_text(end: int) -> None:
        if end > text_start:
            chunk = value[text_start:end].decode("utf-8")
            if words and words[-1][0] == "text":
                words[-1] = ("text", words[-1][1] + chunk)
            else:
                words.append(("text", chunk))

    try:
        while i < n:
            c = value[i]
            if c in _WSP:
                flush_text(i)
                while i < n and value[i] in _WSP:
                    i += 1
                text_start = i
                if not words or words[-1][0] != "fws":
                    words.append(("fws", " "))
                continue
            m = _ENCODED_WORD.match(value, i) if c == 0x3D else None  # "="
            if m is not None:
                flush_text(i)
                decoded = _decode_word(m.group(1), m.group(2), m.group(3))
                if len(words) >= 2 and words[-1][0] == "fws" and words[-2][0] == "enc":
                    words.pop()
                words.append(("enc", decoded))
                i = text_start = m.end()
                continue
            i += 1
        flush_text(n)
    except (UnicodeDecodeError, _Undecodable):
        return None
    return "".join(w for _, w in words)


def value_text(value: bytes) -> bytes:
    """What kumod's header getters return: the decoded text, or the raw
    value when it cannot be decoded."""
    text = unstructured(value)
    return value if text is None else text.encode("utf-8")


def emit_header(name: str | None, value: bytes) -> bytes:
    out = b""
    if name is not None:
        out += name.encode("utf-8", "surrogateescape") + b": "
    out += value
    if not value.endswith(b"\r\n"):
        out += b"\r\n"
    return out


def rebuild(data: bytes, keep: list[RawHeader], body_offset: int) -> bytes:
    """kumod's retain_headers: the kept headers, CRLF-terminated, an empty
    line, then the body."""
    out = bytearray()
    for h in keep:
        raw = h.raw
        if raw.endswith(b"\r\n"):
            out += raw
        elif raw.endswith(b"\n"):
            out += raw[:-1] + b"\r\n"
        else:
            out += raw + b"\r\n"
    out += b"\r\n"
    out += data[body_offset:]
    return bytes(out)
