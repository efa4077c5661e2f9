"""The SMTP response model: `Response` and `EnhancedStatusCode`, as kumod's
SMTP client assembles a (possibly multi-line) reply from a remote server,
renders it as the single line handed to `smtp_client_rewrite_delivery_status`,
rewrites its code and serialises it in log records; the reply lines it reads
and their length limit, and the errors for a reply it would not accept
(`crates/rfc5321/src/client_types.rs`, `parse_response_line` in
`crates/rfc5321/src/client.rs`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_U8_MAX = 0xFF
_U16_MAX = 0xFFFF

# Rust's `str::parse::<uN>()` accepts an optional leading `+` and ASCII digits
# only (no `-`, no whitespace, no underscores); the value must fit the type.
_RUST_UNSIGNED = re.compile(r"\+?[0-9]+", re.ASCII)


def _parse_rust_unsigned(text: str, maximum: int) -> int | None:
    if _RUST_UNSIGNED.fullmatch(text) is None:
        return None
    value = int(text, 10)
    return value if value <= maximum else None


def _check_uint(name: str, value: object, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    if not 0 <= value <= maximum:
        raise ValueError(f"{name} must be in 0..={maximum}, got {value}")
    return value


def remove_line_breaks(text: str) -> str:
    """Replace every CRLF pair, lone CR and lone LF with a single space.

    This is what KumoMTA does to a response's content when rendering it as a
    single line and when serialising it into a log record.  (The event's
    documentation page claims CRLF becomes the two characters `\\r\\n`; the
    code, and its `remove_crlf` unit test, use a space.)
    """
    return text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


# ---------------------------------------------------------------------------
# Enhanced status codes
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EnhancedStatusCode:
    """An RFC 3463 enhanced status code such as `5.1.1`.

    Field ranges follow KumoMTA's types: `class_` is a u8, `subject` and
    `detail` are u16.  The constructor accepts any class in range (log records
    may carry anything); only `parse_prefix` restricts it to 2, 4 or 5.
    """

    class_: int
    subject: int
    detail: int

    def __post_init__(self) -> None:
        _check_uint("class", self.class_, _U8_MAX)
        _check_uint("subject", self.subject, _U16_MAX)
        _check_uint("detail", self.detail, _U16_MAX)

    def __str__(self) -> str:
        return f"{self.class_}.{self.subject}.{self.detail}"

    @classmethod
    def parse_prefix(cls, text: str) -> tuple[EnhancedStatusCode, str] | None:
        """Recognise an enhanced code at the start of a reply line's text.

        Mirrors kumod: the text is cut at the first two `.` and then at the
        first space; each number is parsed like Rust's unsigned `parse` (an
        optional `+`, ASCII digits, leading zeros allowed, class <= 255,
        subject/detail <= 65535); the class must be 2, 4 or 5; and a space
        must follow the detail.  Returns the code and the text after that
        space (possibly empty), or None: `"5.1.1"` alone, `"3.0.0 x"`,
        `"2.0.0.1 x"` and `"5.1.1\\tx"` are all not recognised.
        """
        pieces = text.split(".", 2)
        if len(pieces) != 3:
            return None
        class_ = _parse_rust_unsigned(pieces[0], _U8_MAX)
        if class_ not in (2, 4, 5):
            return None
        subject = _parse_rust_unsigned(pieces[1], _U16_MAX)
        if subject is None:
            return None
        detail_and_rest = pieces[2].split(" ", 1)
        if len(detail_and_rest) != 2:
            return None
        detail = _parse_rust_unsigned(detail_and_rest[0], _U16_MAX)
        if detail is None:
            return None
        return cls(class_, subject, detail), detail_and_rest[1]

    @classmethod
    def parse(cls, text: str) -> EnhancedStatusCode:
        """Parse a bare code such as `"4.2.2"` with the same rules as `parse_prefix`."""
        parsed = cls.parse_prefix(text + " ")
        if parsed is None or parsed[1] != "":
            raise ValueError(
                f"invalid enhanced status code {text!r}: expected CLASS.SUBJECT.DETAIL "
                "with class 2, 4 or 5"
            )
        return parsed[0]

    def to_json(self) -> dict[str, int]:
        """The log-record shape: `{"class": 5, "subject": 1, "detail": 1}`."""
        return {"class": self.class_, "subject": self.subject, "detail": self.detail}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> EnhancedStatusCode:
        """Inverse of `to_json` (unknown keys are ignored, as serde does)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"enhanced_code must be an object or null, got {data!r}")
        values: list[int] = []
        for key, maximum in (("class", _U8_MAX), ("subject", _U16_MAX), ("detail", _U16_MAX)):
            if key not in data:
                raise ValueError(f"enhanced_code: missing field `{key}` in {dict(data)!r}")
            values.append(_json_uint(f"enhanced_code.{key}", data[key], maximum))
        return cls(values[0], values[1], values[2])


def _json_uint(name: str, value: object, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValueError(f"{name}: expected an integer in 0..={maximum}, got {value!r}")
    return value


# ---------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------


class MalformedResponse(ValueError):
    """`Response.parse` was given text kumod's SMTP client would not accept.

    `line` is the offending reply line; `kumod_error` is the error text kumod
    itself produces for it (`Malformed Response: <line>`).  In kumod such a
    reply is a client error, not a rejection: the recipients get a synthetic
    `400 KumoMTA internal: failed to send message: Malformed Response: ...`,
    which is *not* offered to `smtp_client_rewrite_delivery_status`.
    """

    def __init__(self, reason: str, *, line: str, text: str) -> None:
        self.reason = reason
        self.line = line
        self.text = text
        super().__init__(f"malformed SMTP response {text!r}: {reason} (line {line!r})")

    @property
    def kumod_error(self) -> str:
        return f"Malformed Response: {self.line}"


class ResponseTooLong(MalformedResponse):
    """A reply line kumod's SMTP client never receives: it reads the socket
    4,096 bytes (`MAX_LINE_LEN`) at a time and gives up on a line once it
    holds more than that without the line's end (`ClientError::
    ResponseTooLong`, "Response line is too long").  Like a malformed reply,
    it is a client error, never offered to
    `smtp_client_rewrite_delivery_status`."""

    def __init__(self, size: int, *, line: str, text: str) -> None:
        self.size = size
        self.reason = (
            f"a line of {size:,} bytes: kumod's SMTP client never receives a line over "
            f"{_NEVER_RECEIVED - 1:,} bytes: Response line is too long"
        )
        self.line = line
        self.text = text
        ValueError.__init__(self, f"SMTP response {text[:60]!r}...: {self.reason}")

    @property
    def kumod_error(self) -> str:
        return "Response line is too long"


#: kumod's SMTP client's read size and line limit (rfc5321 client.rs)
MAX_LINE_LEN = 4096
# What that means for a line of N bytes (without its CRLF): the client holds
# at most N + 1 bytes of it before seeing its end, so up to 4,095 bytes a
# line always gets through.  Reads add up to 4,096 bytes to what it holds,
# and it refuses the line as soon as it holds more than 4,096 bytes without
# the end: a line that fits two reads (N + 2 <= 8,192) gets through when it
# happens to arrive in large enough pieces, a longer one never does.
_ALWAYS_RECEIVED = MAX_LINE_LEN - 1
_NEVER_RECEIVED = 2 * MAX_LINE_LEN - 1


def line_received(size: int) -> bool | None:
    """Whether kumod's SMTP client receives a reply line of `size` bytes
    (without its CRLF): True always, False never (`ResponseTooLong`), None
    when that depends on how the line arrives (4,096 to 8,190 bytes)."""
    if size <= _ALWAYS_RECEIVED:
        return True
    if size >= _NEVER_RECEIVED:
        return False
    return None


def _line_size(line: str) -> int:
    if len(line) <= _ALWAYS_RECEIVED // 4:  # (4 bytes per character at most)
        return len(line)
    return len(line.encode("utf-8", "surrogateescape"))


class _Line:
    __slots__ = ("code", "final", "content", "original")

    def __init__(self, code: int, final: bool, content: str, original: str) -> None:
        self.code = code
        self.final = final
        self.content = content
        self.original = original


def _parse_reply_line(line: str, text: str) -> _Line:
    if len(line) > _ALWAYS_RECEIVED // 4:
        size = _line_size(line)
        if size >= _NEVER_RECEIVED:
            raise ResponseTooLong(size, line=line, text=text)
    # kumod: at least 4 bytes, byte 3 is ' ' (last line) or '-' (more follow),
    # bytes 0..3 parse as a u16 (so "+50 x" is code 50 and "050" is 50).
    # Working on characters instead of UTF-8 bytes gives the same verdicts:
    # a non-ASCII character among the first four makes the line malformed
    # either way.
    if len(line) < 4 or line[3] not in " -":
        raise MalformedResponse(
            "expected a 3-digit code followed by ' ' or '-'", line=line, text=text
        )
    code = _parse_rust_unsigned(line[:3], _U16_MAX)
    if code is None:
        raise MalformedResponse(
            "expected a 3-digit code followed by ' ' or '-'", line=line, text=text
        )
    return _Line(code, line[3] == " ", line[4:], line)


def _split_wire_lines(text: str) -> list[str]:
    """Split like kumod's socket reader: only a CR immediately followed by LF
    ends a line, scanning a CR together with the byte after it (so in
    `"a\\r\\r\\nb"` the CRLF is not seen as a line end)."""
    lines: list[str] = []
    start = 0
    i = 0
    n = len(text)
    while i < n:
        if text[i] != "\r":
            i += 1
            continue
        if i + 1 < n and text[i + 1] == "\n":
            lines.append(text[start:i])
            start = i + 2
        i += 2
    if start < n:
        lines.append(text[start:])
    return lines


def _rust_lines(text: str) -> list[str]:
    """Rust's `str::lines()`: split on LF, drop one CR before each LF, no
    trailing empty line."""
    pieces = text.split("\n")
    if pieces and pieces[-1] == "":
        pieces.pop()
        terminated = len(pieces)
    else:
        terminated = len(pieces) - 1
    return [p[:-1] if i < terminated and p.endswith("\r") else p for i, p in enumerate(pieces)]


def _reply_lines(text: str) -> list[str]:
    """The lines of a reply as `Response.parse` reads them."""
    if "\r\n" in text:
        return _split_wire_lines(text)
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines


def longest_line(text: str) -> int:
    """The size in bytes of the longest line of a reply (as `Response.parse`
    splits it), for `line_received`."""
    if len(text) <= _ALWAYS_RECEIVED // 4:
        return len(text)
    return max((_line_size(line) for line in _reply_lines(text)), default=0)


@dataclass(frozen=True)
class Response:
    """An SMTP response as kumod's SMTP client represents it.

    `content` is the reply text without the code and without the enhanced
    status code; lines of a multi-line reply are joined with `"\\n"`.
    `command` is the encoded SMTP command it answered (for example
    `"RCPT TO:<user@example.com>\\r\\n"` or `".\\r\\n"`), or None.
    `rewritten_from` is kumopy bookkeeping, not a KumoMTA field: `with_code`
    sets it to the previous code.  It does not take part in equality or
    hashing, which therefore compare exactly the four KumoMTA fields.
    """

    code: int
    enhanced_code: EnhancedStatusCode | None
    content: str
    command: str | None = None
    rewritten_from: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _check_uint("code", self.code, _U16_MAX)
        if self.enhanced_code is not None and not isinstance(
            self.enhanced_code, EnhancedStatusCode
        ):
            raise TypeError(
                f"enhanced_code must be an EnhancedStatusCode or None, got {self.enhanced_code!r}"
            )
        if not isinstance(self.content, str):
            raise TypeError(f"content must be a str, got {type(self.content).__name__}")
        if self.command is not None and not isinstance(self.command, str):
            raise TypeError(f"command must be a str or None, got {type(self.command).__name__}")
        if self.rewritten_from is not None:
            _check_uint("rewritten_from", self.rewritten_from, _U16_MAX)

    # -- construction ------------------------------------------------------

    @classmethod
    def parse(cls, text: str, *, command: str | None = None) -> Response:
        """Build a Response from a reply as a remote server sends it.

        `text` is one reply line (`"452 4.2.2 Mailbox full"`) or a complete
        multi-line reply.  When the text contains CRLF it is split exactly as
        kumod reads the socket (only CRLF ends a line; a lone LF or CR stays
        inside the line's content).  Text without any CRLF is split on LF, for
        convenience.  One trailing line terminator is allowed.

        Assembly follows kumod: the enhanced code is looked for on the first
        line only (see `EnhancedStatusCode.parse_prefix`); each further line is
        appended after a `"\\n"`, with the first line's enhanced code and one
        space (`"5.1.1 "`, canonical form) stripped from its start when
        present.  A continuation line carrying a different enhanced code keeps
        it in its text.  A line whose 3-digit code differs from the first
        line's is an error in kumod (`Malformed Response: <line>`), and so it
        is here.

        Raises `MalformedResponse` (a `ValueError`) for empty text, a line
        without a valid code, a differing code, a last line that still says
        `-` (kumod would wait for more), or text after the final line; its
        subclass `ResponseTooLong` for a line kumod's SMTP client never
        receives (8,191 bytes or more; see `line_received`).
        """
        if not isinstance(text, str):
            raise TypeError(f"Response.parse expects a str, got {type(text).__name__}")
        lines = _reply_lines(text)
        if not lines or lines == [""]:
            raise MalformedResponse("empty response", line="", text=text)

        first = _parse_reply_line(lines[0], text)
        enhanced: EnhancedStatusCode | None = None
        content = first.content
        recognised = EnhancedStatusCode.parse_prefix(first.content)
        if recognised is not None:
            enhanced, content = recognised
        prefix = f"{enhanced} " if enhanced is not None else None
        parts = [content]

        current = first
        for raw in lines[1:]:
            if current.final:
                raise MalformedResponse(
                    "text follows the final line of the reply", line=raw, text=text
                )
            current = _parse_reply_line(raw, text)
            if current.code != first.code:
                raise MalformedResponse(
                    f"code {current.code} differs from the first line's {first.code}",
                    line=current.original,
                    text=text,
                )
            piece = current.content
            if prefix is not None and piece.startswith(prefix):
                piece = piece[len(prefix) :]
            parts.append(piece)
        if not current.final:
            raise MalformedResponse(
                "the last line is a continuation line ('-' after the code)",
                line=current.original,
                text=text,
            )
        return cls(first.code, enhanced, "\n".join(parts), command)

    @classmethod
    def with_code_and_message(cls, code: int, message: str) -> Response:
        """How kumod turns a status and message it sends itself (for example
        from `kumo.reject(code, message)`) into a Response for Rejection log
        records: the message is split into lines (LF or CRLF) and assembled
        like a multi-line reply with that code, so a leading `"5.7.1 "` in the
        message becomes the enhanced code.  kumod crashes on an empty message;
        here that is a ValueError."""
        _check_uint("code", code, _U16_MAX)
        lines = _rust_lines(message)
        if not lines:
            raise ValueError("with_code_and_message: the message is empty")
        enhanced: EnhancedStatusCode | None = None
        content = lines[0]
        recognised = EnhancedStatusCode.parse_prefix(lines[0])
        if recognised is not None:
            enhanced, content = recognised
        parts = [content]
        prefix = f"{enhanced} " if enhanced is not None else None
        for line in lines[1:]:
            if prefix is not None and line.startswith(prefix):
                line = line[len(prefix) :]
            parts.append(line)
        return cls(code, enhanced, "\n".join(parts))

    # -- rendering ---------------------------------------------------------

    def to_single_line(self) -> str:
        """`"<code> "` + `"<class>.<subject>.<detail> "` (when there is an
        enhanced code) + the content with every CRLF, lone LF and lone CR
        replaced by one space.  This is the first argument of
        `smtp_client_rewrite_delivery_status`."""
        enhanced = f"{self.enhanced_code} " if self.enhanced_code is not None else ""
        return f"{self.code} {enhanced}{remove_line_breaks(self.content)}"

    def __str__(self) -> str:
        return self.to_single_line()

    def is_transient(self) -> bool:
        return 400 <= self.code < 500

    def is_permanent(self) -> bool:
        return 500 <= self.code < 600

    # -- rewriting ---------------------------------------------------------

    def with_code(self, new_code: int) -> Response:
        """Apply a code returned by `smtp_client_rewrite_delivery_status`.

        Same code: this very object is returned.  Otherwise the code changes,
        `rewrite_annotation(old, new)` is appended to the content, and the
        enhanced code and command stay as they were (so a 452 4.2.2 rewritten
        to 500 reads `500 4.2.2 ...`).  kumod does no range check: any u16 is
        accepted, including 250.
        """
        _check_uint("new_code", new_code, _U16_MAX)
        if new_code == self.code:
            return self
        return Response(
            code=new_code,
            enhanced_code=self.enhanced_code,
            content=self.content + rewrite_annotation(self.code, new_code),
            command=self.command,
            rewritten_from=self.code,
        )

    # -- log records -------------------------------------------------------

    def to_json(self) -> dict[str, object]:
        """The `response` object of a KumoMTA log record.

        Keys `code`, `enhanced_code` (an object or None), `content`,
        `command`.  As in kumod's serialiser, line breaks in `content` are
        replaced by spaces (`remove_line_breaks`).  `rewritten_from` is not
        part of the record.
        """
        return {
            "code": self.code,
            "enhanced_code": (
                self.enhanced_code.to_json() if self.enhanced_code is not None else None
            ),
            "content": remove_line_breaks(self.content),
            "command": self.command,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Response:
        """Read a log record's `response` object.

        `code` and `content` are required; a missing `enhanced_code` or
        `command` means None; unknown keys are ignored; numbers must be JSON
        integers in range (no booleans, no floats).  `content` is taken as is.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"response must be an object, got {data!r}")
        for key in ("code", "content"):
            if key not in data:
                raise ValueError(f"response: missing field `{key}` in {dict(data)!r}")
        code = _json_uint("response.code", data["code"], _U16_MAX)
        content = data["content"]
        if not isinstance(content, str):
            raise ValueError(f"response.content: expected a string, got {content!r}")
        raw_enhanced = data.get("enhanced_code")
        enhanced: EnhancedStatusCode | None = None
        if raw_enhanced is not None:
            if not isinstance(raw_enhanced, Mapping):
                raise ValueError(
                    f"response.enhanced_code: expected an object or null, got {raw_enhanced!r}"
                )
            enhanced = EnhancedStatusCode.from_json(raw_enhanced)
        command = data.get("command")
        if command is not None and not isinstance(command, str):
            raise ValueError(f"response.command: expected a string or null, got {command!r}")
        return cls(code, enhanced, content, command)


def rewrite_annotation(old_code: int, new_code: int) -> str:
    """The text kumod appends to a rewritten response's content."""
    return f" (kumomta: status was rewritten from {old_code} -> {new_code})"

