"""kumod's MimePart (crates/mailparsing mimepart.rs): a MIME tree parsed
the way kumod parses it, written back byte for byte, with kumod's body
decoding, part constructors, simplified structure and rebuild.

A part keeps its raw bytes; a multipart part is split at `\\n--boundary`
(each child keeps the line ending before the next boundary) and written
as headers, the preamble, `--boundary` + child for each child, the
closing boundary and the epilogue.  Like kumod, the preamble keeps the
line feed that ended the header block and loses the one before the first
boundary, so a preamble does not survive a parse/write round trip
unchanged (kumod's behaviour, kept).
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._charset import CharsetError, decode_charset
from ._codecs import Base64Error, b64_decode, b64_encode, b64_encoded_len, qp_decode, qp_encode
from ._mimeheader import Conformance, Header, HeaderMap, MailParsingError, parse_header_block
from ._mimeparams import QUOTED_2047, MimeParameters

__all__ = ["AttachmentOptions", "MimePart", "PartPointer", "SimpleStructure"]

PartPointer = tuple[int, ...]
_CLEAN = Conformance(0)
_LONE = re.compile(rb"\r(?!\n)|(?<!\r)\n")
_CTE = {"7bit", "8bit", "binary", "quoted-printable", "base64"}


@dataclass
class AttachmentOptions:
    file_name: bytes | None = None
    inline: bool = False
    content_id: bytes | None = None


@dataclass
class Rfc2045Info:
    encoding: str
    charset: str | None
    charset_error: str | None
    content_type: MimeParameters | None
    is_text: bool
    is_multipart: bool
    attachment_options: AttachmentOptions | None
    invalid_mime_headers: bool

    @classmethod
    def of(cls, headers: HeaderMap) -> Rfc2045Info:
        invalid = False
        encoding = "7bit"
        try:
            cte = headers.get("content_transfer_encoding")
            if cte is not None:
                name = cte.value.decode("utf-8").lower()
                if name in _CTE:
                    encoding = name
                else:
                    invalid = True
        except (MailParsingError, UnicodeDecodeError):
            invalid = True
        try:
            ct = headers.get("content_type")
        except MailParsingError:
            invalid = True
            ct = None
        charset_raw = (ct.get("charset") if ct is not None else None) or b"us-ascii"
        ct_name = ct.get("name") if ct is not None else None
        charset: str | None = None
        charset_error: str | None = None
        try:
            label = charset_raw.decode("utf-8")
            decode_charset(label, b"")
            charset = label
        except UnicodeDecodeError:
            charset_error = f"non-ascii charset name {_lossy(charset_raw)}"
        except CharsetError:
            charset_error = f"unsupported charset {_lossy(charset_raw)}"
        is_text, is_multipart = (ct.is_text(), ct.is_multipart()) if ct else (True, False)
        inline = False
        cd_name = None
        try:
            cd = headers.get("content_disposition")
            if cd is not None:
                inline = cd.value == b"inline"
                cd_name = cd.get("filename")
        except MailParsingError:
            invalid = True
        content_id = None
        try:
            cid = headers.get("content_id")
            if cid is not None:
                content_id = cid.encode("utf-8", "surrogateescape")
        except MailParsingError:
            invalid = True
        file_name = cd_name if cd_name is not None else ct_name
        opts = None
        if inline or file_name is not None or content_id is not None:
            opts = AttachmentOptions(file_name, inline, content_id)
        return cls(encoding, charset, charset_error, ct, is_text, is_multipart, opts, invalid)


def _lossy(b: bytes) -> str:
    return b.decode("utf-8", "replace")


@dataclass
class SimpleStructure:
    text_part: PartPointer | None
    html_part: PartPointer | None
    amp_html_part: PartPointer | None
    header_part: PartPointer
    attachments: list[PartPointer] = field(default_factory=list)


class MimePart:
    """One part of a MIME tree (the root is the whole message)."""

    def __init__(
        self,
        data: bytes,
        headers: HeaderMap,
        body_offset: int,
        body_len: int,
        conformance: Conformance = _CLEAN,
        parts: list[MimePart] | None = None,
        intro: bytes = b"",
        outro: bytes = b"",
    ) -> None:
        self.data = data
        self.headers = headers
        self.body_offset = body_offset
        self.body_len = body_len
        self.conformance = conformance
        self.parts: list[MimePart] = parts if parts is not None else []
        self.intro = intro
        self.outro = outro

    # -- parsing ------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes) -> MimePart:
        base = Conformance(0)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            base = Conformance.NEEDS_TRANSFER_ENCODING
        return cls._parse(data, base, top=True, depth=0)

    @classmethod
    def _parse(cls, data: bytes, base: Conformance, *, top: bool, depth: int) -> MimePart:
        headers, body_offset, conformance = parse_header_block(data)
        conformance |= base
        if not data.isascii():
            conformance |= Conformance.NEEDS_TRANSFER_ENCODING
        prev = 0
        for m in re.finditer(rb"\n", data):
            if m.start() - prev > 78:
                conformance |= Conformance.LINE_TOO_LONG
                break
            prev = m.start()
        if _LONE.search(data):
            conformance |= Conformance.NON_CANONICAL_LINE_ENDINGS
        else:
            conformance &= ~Conformance.NON_CANONICAL_LINE_ENDINGS
        if top:
            conformance |= _missing_headers(headers)
        part = cls(data, headers, body_offset, len(data), conformance)
        part._split(depth)
        return part

    def _split(self, depth: int) -> None:
        info = Rfc2045Info.of(self.headers)
        if info.invalid_mime_headers:
            self.conformance |= Conformance.INVALID_MIME_HEADERS
        ct = info.content_type
        boundary = ct.get("boundary") if ct is not None else None
        if boundary is None or not info.is_multipart:
            return
        if depth > 100:
            raise MailParsingError("Mime Tree has too many child parts")
        delim = b"\n--" + boundary
        raw = self.data[max(self.body_offset - 1, 0) :]
        positions = iter(m.start() for m in re.finditer(re.escape(delim), raw))
        first = next(positions, None)
        if first is None:
            return
        self.intro = raw[:first]
        self.body_len = 0
        boundary_end = first + len(delim)
        while True:
            nl = raw.find(b"\n", boundary_end)
            if nl < 0:
                break
            part_start = nl + 1
            nxt = next(positions, None)
            part_end = nxt + 1 if nxt is not None else len(raw)
            child = MimePart._parse(
                raw[part_start:part_end], Conformance(0), top=False, depth=depth + 1
            )
            self.conformance |= child.conformance
            self.parts.append(child)
            boundary_end = part_end - 1 + len(delim)
            if boundary_end + 2 > len(raw):
                break
            if raw[boundary_end : boundary_end + 2] == b"--":
                after = raw.find(b"\n", boundary_end)
                if after >= 0:
                    self.outro = raw[after + 1 :]
                break

    # -- reading ------------------------------------------------------------

    def raw_body(self) -> bytes:
        return self.data[self.body_offset : max(self.body_len, self.body_offset)]

    def rfc2045_info(self) -> Rfc2045Info:
        return Rfc2045Info.of(self.headers)

    def body(self, settings: Mapping[str, Any] | None = None) -> tuple[str, bytes]:
        """("text", utf-8 bytes) or ("binary", bytes), as kumod decodes it."""
        info = self.rfc2045_info()
        raw = self.raw_body()
        if info.encoding == "base64":
            try:
                data = b64_decode(raw)
            except Base64Error as e:
                raise MailParsingError(f"parsing body: {e}") from None
        elif info.encoding == "quoted-printable":
            data = qp_decode(raw)
        else:
            data = raw
        if not info.is_text:
            return "binary", data
        if info.charset is None:
            raise MailParsingError(f"parsing body: {info.charset_error}")
        try:
            return "text", decode_charset(info.charset, data).encode("utf-8")
        except UnicodeDecodeError:
            pass
        if settings and settings.get("detect_encoding"):
            guess = _detect(data, settings)
            if guess is not None:
                return "text", guess.encode("utf-8")
            return "binary", data
        try:
            data.decode("utf-8")
            return "text", data
        except UnicodeDecodeError:
            return "binary", data

    # -- writing ------------------------------------------------------------

    def write(self, out: bytearray) -> None:
        eol = b"\n" if self.conformance & Conformance.NON_CANONICAL_LINE_ENDINGS else b"\r\n"
        for h in self.headers:
            out += h.write()
        out += eol
        if not self.parts:
            out += self.raw_body()
            return
        ct = self.rfc2045_info().content_type
        if ct is None:
            raise MailParsingError(
                "Unexpected MimePart structure during write_message: "
                "expected to have Content-Type when there are child parts"
            )
        boundary = ct.get("boundary")
        if boundary is None:
            raise MailParsingError(
                "Unexpected MimePart structure during write_message: "
                "expected Content-Type to have a boundary"
            )
        out += self.intro
        for p in self.parts:
            out += b"--" + boundary + eol
            p.write(out)
        out += b"--" + boundary + b"--" + eol + self.outro

    def to_message_bytes(self) -> bytes:
        out = bytearray()
        self.write(out)
        return bytes(out)

    # -- tree navigation ----------------------------------------------------

    def resolve(self, ptr: PartPointer) -> MimePart | None:
        node: MimePart = self
        for idx in ptr:
            if idx >= len(node.parts):
                return None
            node = node.parts[idx]
        return node

    def copy(self) -> MimePart:
        return MimePart(
            self.data,
            self.headers.copy(),
            self.body_offset,
            self.body_len,
            self.conformance,
            [p.copy() for p in self.parts],
            self.intro,
            self.outro,
        )

    def simplified_structure(self, my_idx: int | None = None) -> SimpleStructure:
        here: PartPointer = () if my_idx is None else (my_idx,)
        info = self.rfc2045_info()
        opts = info.attachment_options
        inline = opts.inline if opts is not None else True
        ct = info.content_type
        if ct is None:
            return SimpleStructure(here, None, None, here)
        if inline:
            if ct.value == b"text/plain":
                return SimpleStructure(here, None, None, here)
            if ct.value == b"text/html":
                return SimpleStructure(None, here, None, here)
            if ct.value == b"text/x-amp-html":
                return SimpleStructure(None, None, here, here)
        if not ct.value.startswith(b"multipart/"):
            return SimpleStructure(None, None, None, here, [here])
        out = SimpleStructure(None, None, None, here)
        for i, p in enumerate(self.parts):
            if i > 255:
                raise MailParsingError("Mime Tree has too many child parts")
            try:
                s = p.simplified_structure(i)
            except MailParsingError:
                continue
            for attr in ("text_part", "html_part", "amp_html_part"):
                found = getattr(s, attr)
                if found is None:
                    continue
                if getattr(out, attr) is None:
                    setattr(out, attr, here + found)
                else:
                    out.attachments.append(here + found)
            out.attachments.extend(here + a for a in s.attachments)
        return out

    # -- constructors -------------------------------------------------------

    @classmethod
    def new_text(cls, content_type: bytes, content: bytes) -> MimePart:
        qp = qp_encode(content)
        if qp == content:
            encoded, cte = qp, None
        elif len(qp) <= b64_encoded_len(len(content)):
            encoded, cte = qp, b"quoted-printable"
        else:
            encoded, cte = b64_encode(content), b"base64"
        if not encoded.endswith(b"\r\n"):
            encoded += b"\r\n"
        headers = HeaderMap()
        ct = MimeParameters(content_type)
        ct.set("charset", "us-ascii" if content.isascii() else "utf-8")
        headers.set_typed("content_type", ct)
        if cte is not None:
            headers.set_typed("content_transfer_encoding", MimeParameters(cte))
        return cls(encoded, headers, 0, len(encoded))

    @classmethod
    def new_binary(
        cls, content_type: bytes, content: bytes, options: AttachmentOptions | None
    ) -> MimePart:
        encoded = b64_encode(content)
        if not encoded.endswith(b"\r\n"):
            encoded += b"\r\n"
        headers = HeaderMap()
        ct = MimeParameters(content_type)
        if options is not None:
            cd = MimeParameters(b"inline" if options.inline else b"attachment")
            if options.file_name is not None:
                name = options.file_name
                cd.set("filename", name)
                ct.set("name", name, QUOTED_2047 if not name.isascii() else "none")
            headers.set_typed("content_disposition", cd)
            if options.content_id is not None:
                headers.set_typed("content_id", options.content_id.decode("utf-8", "replace"))
        headers.set_typed("content_type", ct)
        headers.set_typed("content_transfer_encoding", MimeParameters(b"base64"))
        return cls(encoded, headers, 0, len(encoded))

    @classmethod
    def new_multipart(
        cls, content_type: bytes, parts: list[MimePart], boundary: bytes | None = None
    ) -> MimePart:
        headers = HeaderMap()
        ct = MimeParameters(content_type)
        if boundary is None:
            boundary = base64.b64encode(uuid.uuid4().bytes).rstrip(b"=")
        ct.set("boundary", boundary)
        headers.set_typed("content_type", ct)
        return cls(b"", headers, 0, 0, parts=parts)

    # -- changing the body --------------------------------------------------

    def _take_body_of(self, new: MimePart) -> None:
        self.data = new.data
        self.body_offset = new.body_offset
        self.body_len = new.body_len
        self.headers.remove_all_named("Content-Type")
        self.headers.remove_all_named("Content-Transfer-Encoding")
        self.headers.headers.extend(new.headers.headers)

    def replace_text_body(self, content_type: bytes, content: bytes) -> None:
        self._take_body_of(MimePart.new_text(content_type, content))

    def replace_binary_body(self, content_type: bytes, content: bytes) -> None:
        self._take_body_of(MimePart.new_binary(content_type, content, None))

    # -- rebuild ------------------------------------------------------------

    def rebuild(self, settings: Mapping[str, Any] | None = None) -> MimePart:
        """kumod's MimePart::rebuild: every part decoded and built again,
        headers re-parsed and written in canonical form (unreadable ones
        dropped, Content-ID dropped, MIME parameters merged)."""
        info = self.rfc2045_info()
        children = [p.rebuild(settings) for p in self.parts]
        if not children:
            kind, body = self.body(settings)
            ct = info.content_type
            if kind == "text":
                rebuilt = MimePart.new_text(ct.value if ct else b"text/plain", body)
            else:
                rebuilt = MimePart.new_binary(
                    ct.value if ct else b"application/octet-stream",
                    body,
                    info.attachment_options,
                )
        else:
            if info.content_type is None:
                raise MailParsingError(
                    "parsing body: multipart message has no content-type information!?"
                )
            ct = info.content_type
            rebuilt = MimePart.new_multipart(ct.value, children, ct.get("boundary"))
        for hdr in self.headers:
            if hdr.is_named("Content-ID"):
                continue
            merged = _MERGED.get(hdr.name.lower())
            if merged is not None:
                try:
                    params = (
                        hdr.as_content_type()
                        if merged == "content_type"
                        else hdr.as_content_transfer_encoding()
                    )
                except MailParsingError:
                    continue
                dest = rebuilt.headers.get(merged)
                if dest is None:
                    continue
                for k, v in params.parameter_map().items():
                    if dest.get(k) is None:
                        dest.set(k, v)
                rebuilt.headers.set_typed(merged, dest)
                continue
            try:
                rebuilt.headers.headers.append(hdr.rebuild())
            except MailParsingError:
                pass
        return rebuilt


_MERGED = {
    b"content-type": "content_type",
    b"content-transfer-encoding": "content_transfer_encoding",
    b"content-disposition": "content_disposition",
}


def _missing_headers(headers: HeaderMap) -> Conformance:
    out = Conformance(0)
    try:
        if headers.get("date") is None:
            out |= Conformance.MISSING_DATE_HEADER
    except (MailParsingError, ValueError):
        out |= Conformance.MISSING_DATE_HEADER
    try:
        if headers.get("message_id") is None:
            out |= Conformance.MISSING_MESSAGE_ID_HEADER
    except MailParsingError:
        out |= Conformance.MISSING_MESSAGE_ID_HEADER
    try:
        if headers.get("mime_version") != b"1.0":
            out |= Conformance.MISSING_MIME_VERSION
    except MailParsingError:
        out |= Conformance.MISSING_MIME_VERSION
    return out


def _detect(data: bytes, settings: Mapping[str, Any]) -> str | None:
    """The text in the first candidate charset that decodes it (kumod asks
    charset-normalizer for its best guess; kumopy tries the candidates in
    order)."""
    from ._rebuild import _candidates

    include = settings.get("include_encodings") or []
    exclude = settings.get("exclude_encodings") or []
    for name in _candidates(include, exclude):
        try:
            return decode_charset(name, data)
        except (UnicodeDecodeError, CharsetError):
            continue
    return None


def header_of(part: MimePart, name: str) -> Header | None:
    return part.headers.get_first(name)
