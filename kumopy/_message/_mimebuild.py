"""kumod's MessageBuilder (crates/mailparsing builder.rs): text, HTML and
AMP HTML alternatives, inline parts in multipart/related, attachments in
multipart/mixed, then Mime-Version and Date.

With `stable_content` the boundaries are fixed (`ma-boundary`,
`mr-boundary`, `mm-boundary`) and the Date is Tue, 1 Jul 2003 10:52:37
+0200, as in kumod, so output can be compared byte for byte.
"""

from __future__ import annotations

import datetime as _dt

from ._mimeheader import Header, HeaderMap, MailParsingError
from ._mimepart import AttachmentOptions, MimePart

__all__ = ["MessageBuilder", "STABLE_DATE"]

STABLE_DATE = _dt.datetime(2003, 7, 1, 10, 52, 37, tzinfo=_dt.timezone(_dt.timedelta(hours=2)))


class MessageBuilder:
    def __init__(self) -> None:
        self.text: bytes | None = None
        self.html: bytes | None = None
        self.amp_html: bytes | None = None
        self.headers = HeaderMap()
        self.inline: list[MimePart] = []
        self.attached: list[MimePart] = []
        self.stable_content = False

    def attach(self, content_type: bytes, data: bytes, opts: AttachmentOptions | None) -> None:
        part = MimePart.new_binary(content_type, data, opts)
        (self.inline if opts is not None and opts.inline else self.attached).append(part)

    def attach_part(self, part: MimePart) -> None:
        try:
            cd = part.headers.get("content_disposition")
            inline = cd is not None and cd.value == b"inline"
        except MailParsingError:
            inline = False
        (self.inline if inline else self.attached).append(part)

    def push(self, header: Header) -> None:
        self.headers.headers.append(header)

    def _boundary(self, stable: bytes) -> bytes | None:
        return stable if self.stable_content else None

    def build(self) -> MimePart:
        text = MimePart.new_text(b"text/plain", self.text) if self.text is not None else None
        html = MimePart.new_text(b"text/html", self.html) if self.html is not None else None
        amp = (
            MimePart.new_text(b"text/x-amp-html", self.amp_html)
            if self.amp_html is not None
            else None
        )
        if text is not None and html is not None and amp is not None:
            # the plain HTML part stays last: some clients show only the last one
            alternatives = [text, amp, html]
        else:
            alternatives = [p for p in (text, html, amp) if p is not None]
            if amp is not None and text is None:
                alternatives = [amp, html] if html is not None else [amp]
        if not alternatives:
            raise MailParsingError("Error building message: no text or html part was specified")
        if len(alternatives) == 1 and amp is not None:
            raise MailParsingError(
                "Error building message: the AMP email spec requires at least one non-amp "
                "part to be present in the message"
            )
        if len(alternatives) == 1:
            content = alternatives[0]
        else:
            content = MimePart.new_multipart(
                b"multipart/alternative", alternatives, self._boundary(b"ma-boundary")
            )
        if self.inline:
            content = MimePart.new_multipart(
                b"multipart/related", [content, *self.inline], self._boundary(b"mr-boundary")
            )
        root = content
        if self.attached:
            root = MimePart.new_multipart(
                b"multipart/mixed", [content, *self.attached], self._boundary(b"mm-boundary")
            )
        root.headers.headers.extend(self.headers.headers)
        if root.headers.get("mime_version") is None:
            root.headers.set_text("mime_version", b"1.0")
        if root.headers.get("date") is None:
            when = STABLE_DATE if self.stable_content else _dt.datetime.now(_dt.UTC)
            root.headers.set_typed("date", when)
        return root
