"""kumod's HTTP injection request (`/api/inject/v1`, `kumo.api.inject.*`):
the request model, template compilation and per-recipient message
generation (crates/kumod/src/http_server/inject_v1.rs).  The trace
headers are in kumopy/_message/_trace.py.

Templates are MiniJinja (the `minijinja` package binds the Rust engine
kumod uses), or `Static` (no expansion).  kumod's `Handlebars` dialect is
not available in kumopy and fails with a clear error.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _serde as de
from ._address import AddressError, EnvelopeAddress
from ._message import Message, normalize_crlf
from ._mimebuild import MessageBuilder
from ._mimeheader import Header, MailParsingError, encode_address
from ._mimepart import AttachmentOptions, MimePart
from ._rfc5322 import HeaderParseError, Mailbox, parse_addr_spec
from ._serde import SerdeError
from ._trace import TraceHeaders, http_received_header

__all__ = ["InjectError", "InjectRequest", "build_messages"]

LOCAL_AUTH_INFO: dict[str, Any] = {
    "peer_address": "127.0.0.1",
    "identities": [{"identity": "kumomta.internal", "context": "LocalSystem"}],
    "groups": [],
}
GENERATOR_QUEUE_NAME = "generator.kumomta.internal"


#: a request kumod would refuse; the text is kumod's (serde's for the
#: request's structure)
InjectError = SerdeError


@dataclass
class Recipient:
    email: str
    name: str | None = None
    substitutions: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Attachment:
    data: str
    content_type: str
    content_id: str | None = None
    file_name: str | None = None
    base64: bool = False


@dataclass
class BuilderContent:
    text_body: str | None = None
    html_body: str | None = None
    amp_html_body: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    from_: tuple[str, str | None] | None = None
    subject: str | None = None
    reply_to: tuple[str, str | None] | None = None


@dataclass
class InjectRequest:
    envelope_sender: str
    recipients: list[Recipient]
    content: str | BuilderContent
    substitutions: dict[str, Any] = field(default_factory=dict)
    deferred_spool: bool = False
    deferred_generation: bool = False
    trace_headers: TraceHeaders = field(default_factory=TraceHeaders.http_default)
    template_dialect: str = "Jinja"

    @classmethod
    def parse(cls, data: Any) -> InjectRequest:
        d = de.fields(data, "InjectV1Request", (
            "envelope_sender", "recipients", "content", "substitutions", "deferred_spool",
            "deferred_generation", "trace_headers", "template_dialect"),
            ("envelope_sender", "recipients", "content"))  # fmt: skip
        recipients = []
        for r in de.sequence(d["recipients"]):
            rd = de.fields(
                r, "Recipient", ("email", "name", "substitutions", "metadata"), ("email",)
            )
            recipients.append(Recipient(
                de.string(rd["email"]), de.opt_string(rd.get("name")),
                de.mapping(rd.get("substitutions")), de.mapping(rd.get("metadata")),
            ))  # fmt: skip
        dialect = d.get("template_dialect", "Jinja")
        if dialect not in ("Jinja", "Static", "Handlebars"):
            raise InjectError(
                f"unknown variant `{dialect}`, expected one of `Jinja`, `Static`, `Handlebars`"
            )
        return cls(
            envelope_sender=de.string(d["envelope_sender"]),
            recipients=recipients,
            content=_content(d["content"]),
            substitutions=de.mapping(d.get("substitutions")),
            deferred_spool=de.boolean(d.get("deferred_spool")),
            deferred_generation=de.boolean(d.get("deferred_generation")),
            trace_headers=_trace_headers(d.get("trace_headers")),
            template_dialect=dialect,
        )


def _trace_headers(v: Any) -> TraceHeaders:
    return TraceHeaders.http_default() if v is None else TraceHeaders.parse(v)


def _from_header(v: Any) -> tuple[str, str | None] | None:
    if v is None:
        return None
    d = de.fields(v, "FromHeader", ("email", "name"), ("email",))
    return de.string(d["email"]), de.opt_string(d.get("name"))


def _content(v: Any) -> str | BuilderContent:
    if isinstance(v, str):
        return v
    try:
        d = de.fields(v, "Builder", ("text_body", "html_body", "amp_html_body", "attachments",
                                   "headers", "from", "subject", "reply_to"), ())
        attachments = []
        for a in de.sequence(d.get("attachments")):
            ad = de.fields(a, "Attachment", ("data", "content_type", "content_id", "file_name",
                                           "base64"), ("data", "content_type"))
            attachments.append(Attachment(
                de.string(ad["data"]), de.string(ad["content_type"]),
                de.opt_string(ad.get("content_id")), de.opt_string(ad.get("file_name")),
                de.boolean(ad.get("base64")),
            ))  # fmt: skip
        headers = {k: de.string(x) for k, x in sorted(de.mapping(d.get("headers")).items())}
        return BuilderContent(
            de.opt_string(d.get("text_body")), de.opt_string(d.get("html_body")),
            de.opt_string(d.get("amp_html_body")), attachments, headers,
            _from_header(d.get("from")), de.opt_string(d.get("subject")),
            _from_header(d.get("reply_to")),
        )
    except InjectError:
        raise InjectError("data did not match any variant of untagged enum Content") from None


# -- normalize, compile, expand -------------------------------------------------


def _mailbox_text(email: str, name: str | None, what: str) -> str:
    try:
        addr = parse_addr_spec(email.encode("utf-8"))
    except HeaderParseError as e:
        raise InjectError(f"failed parsing {what}: {e}") from None
    return encode_address(Mailbox(name, addr)).decode("utf-8", "surrogateescape")


def normalize(req: InjectRequest) -> None:
    c = req.content
    if isinstance(c, str):
        return
    if c.from_ is not None:
        c.headers["From"] = _mailbox_text(*c.from_, "content.from")
    if c.reply_to is not None:
        c.headers["Reply-To"] = _mailbox_text(*c.reply_to, "content.reply_to")
    if c.subject is not None:
        c.headers["Subject"] = c.subject
    c.headers = dict(sorted(c.headers.items()))


class _Templates:
    """The request's templates in one MiniJinja environment."""

    def __init__(self, dialect: str) -> None:
        if dialect == "Handlebars":
            raise InjectError("kumopy: the Handlebars template dialect is not supported")
        self.static = dialect == "Static"
        self.sources: dict[str, str] = {}
        if not self.static:
            import minijinja

            self.env = minijinja.Environment()

    def add(self, name: str, source: str, what: str) -> None:
        self.sources[name] = source
        if self.static:
            return
        import minijinja

        try:
            self.env.add_template(name, source)
        except minijinja.TemplateError as e:
            raise InjectError(f"{what}: {_template_error(e, source)}") from None

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        if self.static:
            return self.sources[name]
        import minijinja

        try:
            return str(self.env.render_template(name, **context))
        except minijinja.TemplateError as e:
            raise InjectError(str(e.message if hasattr(e, "message") else e)) from None


def _template_error(e: Any, source: str) -> str:
    """kumod's text for a template that does not compile: `<kind>: <detail>
    (in template '<name>' line <n>: '<line>')`."""
    detail = getattr(e, "detail", None)
    message = str(getattr(e, "message", e))
    kind = message.split(": ", 1)[0] if detail and f": {detail}" in message else message
    reason = f"{kind}: {detail}" if detail else kind
    line = getattr(e, "line", None)
    lines = source.splitlines()
    if line and 1 <= line <= len(lines):
        text = lines[line - 1][:1024]
        name = getattr(e, "name", None)
        where = f"template '{name}' line" if name else "template line"
        reason += f" (in {where} {line}: '{text}')"
    return reason


@dataclass
class Compiled:
    templates: _Templates
    attached: list[MimePart]


def compile_request(req: InjectRequest) -> Compiled:
    t = _Templates(req.template_dialect)
    c = req.content
    if isinstance(c, str):
        t.add("content", c, "failed parsing field 'content' as template")
    else:
        if c.text_body is None and c.html_body is None:
            raise InjectError("at least one of text_body and/or html_body must be given")
        if c.text_body is not None:
            t.add("text_body.txt", c.text_body, "failed parsing field 'content.text_body' as "
                  "template")
        if c.html_body is not None:
            t.add("html_body.html", c.html_body, "failed parsing field 'content.html_body' as "
                  "template")
        if c.amp_html_body is not None:
            t.add("amp_html_body.html", c.amp_html_body,
                  "failed parsing field 'content.amp_html_body' as template")
        for name, value in c.headers.items():
            t.add(f"headers[{name}]", value, f"failed parsing field headers['{name}'] as template")
    return Compiled(t, _attachments(req))


def _attachments(req: InjectRequest) -> list[MimePart]:
    c = req.content
    if isinstance(c, str):
        return []
    out = []
    for a in c.attachments:
        opts = AttachmentOptions(
            a.file_name.encode("utf-8") if a.file_name is not None else None,
            a.content_id is not None,
            a.content_id.encode("utf-8") if a.content_id is not None else None,
        )
        if a.base64:
            try:
                data = base64.b64decode(a.data.encode("ascii"), validate=True)
            except ValueError as e:
                raise InjectError(f"invalid base64 attachment data: {e}") from None
        else:
            data = a.data.encode("utf-8")
        out.append(MimePart.new_binary(a.content_type.encode("utf-8"), data, opts))
    return out


def expand_for_recipient(
    compiled: Compiled, recip: Recipient, req: InjectRequest
) -> bytes:
    subst: dict[str, Any] = dict(req.substitutions)
    subst["email"] = recip.email
    if recip.name is not None:
        subst["name"] = recip.name
    try:
        to_mailbox = Mailbox(recip.name, parse_addr_spec(recip.email.encode("utf-8")))
    except HeaderParseError as e:
        raise InjectError(str(e)) from None
    subst["to_header"] = encode_address(to_mailbox).decode("utf-8", "surrogateescape")
    subst.update(recip.substitutions)
    t = compiled.templates
    c = req.content
    try:
        if isinstance(c, str):
            text = t.render("content", subst)
            try:
                msg = MimePart.parse(text.encode("utf-8"))
            except MailParsingError as e:
                raise InjectError(f"failed to parse content: {text}: {e}") from None
            try:
                msg = msg.rebuild(None)
            except MailParsingError as e:
                raise InjectError(f"failed to rebuild content {text}: {e}") from None
            if msg.headers.get("mime_version") is None:
                msg.headers.set_text("mime_version", b"1.0")
            return msg.to_message_bytes()
        builder = MessageBuilder()
        if c.text_body is not None:
            builder.text = t.render("text_body.txt", subst).encode("utf-8")
        if c.html_body is not None:
            builder.html = t.render("html_body.html", subst).encode("utf-8")
        if c.amp_html_body is not None:
            builder.amp_html = t.render("amp_html_body.html", subst).encode("utf-8")
        need_to = True
        for name in c.headers:
            if name.lower() == "to":
                need_to = False
            value = t.render(f"headers[{name}]", subst)
            builder.push(Header.new_unstructured(name, value.encode("utf-8")))
        if need_to:
            builder.headers.set_typed("to", [to_mailbox])
        for part in compiled.attached:
            builder.attach_part(part.copy())
        return builder.build().to_message_bytes()
    except MailParsingError as e:
        raise InjectError(str(e)) from None


def build_messages(
    req: InjectRequest, compiled: Compiled, *, peer: str = "127.0.0.1",
    auth_summary: str = "kumomta.internal",
) -> list[Message]:
    """kumod's build_from_v1_injection_request: one Message per recipient."""
    sender = envelope_sender(req)
    return [make_message(sender, r, req, compiled, peer, auth_summary) for r in req.recipients]


def envelope_sender(req: InjectRequest) -> EnvelopeAddress:
    try:
        return EnvelopeAddress.parse(req.envelope_sender)
    except AddressError as e:
        raise InjectError(f"envelope_sender: {e}") from None


def make_message(
    sender: EnvelopeAddress, recip: Recipient, req: InjectRequest, compiled: Compiled,
    peer: str, auth_summary: str,
) -> Message:
    try:
        recip_addr = EnvelopeAddress.parse(recip.email)
    except AddressError as e:
        raise InjectError(f"recipient email {recip.email}: {e}") from None
    generated = expand_for_recipient(compiled, recip, req)
    msg_id = uuid.uuid1().hex
    if req.trace_headers.received_header:
        generated = http_received_header(sender.domain, peer, msg_id, recip.email) + generated
    message = Message(normalize_crlf(generated), sender=sender, recipients=[recip_addr],
                      meta={}, id=msg_id)
    message.set_meta("http_auth", auth_summary)
    message.set_meta("reception_protocol", "HTTP")
    message.set_meta("received_from", peer)
    if recip.metadata:
        message.set_meta("extra", dict(recip.metadata))
    return message
