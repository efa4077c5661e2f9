"""Positions, spans and the errors and messages of regex-syntax, worded as
it words them (users may match on them)."""

from __future__ import annotations

from typing import NamedTuple

#: The default `size_limit` of the Rust regex crate (bytes of NFA states).
RUST_NFA_SIZE_LIMIT = 10 * (1 << 20)
#: The default nesting limit of regex-syntax.
NEST_LIMIT = 250


# --------------------------------------------------------------------------
# Positions, spans and errors
# --------------------------------------------------------------------------


class Pos(NamedTuple):
    """A position in a pattern: character offset, 1-based line and column."""

    offset: int
    line: int
    column: int


class Span(NamedTuple):
    start: Pos
    end: Pos


def _lines(text: str) -> list[str]:
    """Split like Rust's `str::lines`: on `\\n`, dropping one trailing `\\r`
    per line and the empty piece after a final newline."""
    if not text:
        return []
    parts = text.split("\n")
    if text.endswith("\n"):
        parts.pop()
    return [p[:-1] if p.endswith("\r") else p for p in parts]


def format_error(pattern: str, message: str, span: Span, aux: Span | None = None) -> str:
    """Render an error the way regex-syntax displays it."""
    lines = _lines(pattern)
    line_count = len(lines) + (1 if pattern.endswith("\n") else 0)
    width = 0 if line_count <= 1 else len(str(line_count))
    by_line: list[list[Span]] = [[] for _ in range(line_count)]
    multi: list[Span] = []
    for sp in (span, aux):
        if sp is None:
            continue
        if sp.start.line == sp.end.line:
            bucket = by_line[sp.start.line - 1]
            bucket.append(sp)
            bucket.sort(key=lambda s: (s.start.offset, s.end.offset))
        else:
            multi.append(sp)
            multi.sort(key=lambda s: (s.start.offset, s.end.offset))
    out: list[str] = []
    for i, line in enumerate(lines):
        if width:
            out.append(str(i + 1).rjust(width) + ": ")
        else:
            out.append("    ")
        out.append(line + "\n")
        spans = by_line[i]
        if spans:
            notes = [" " * (4 if width == 0 else 2 + width)]
            col = 0
            for sp in spans:
                while col < sp.start.column - 1:
                    notes.append(" ")
                    col += 1
                n = max(1, sp.end.column - sp.start.column)
                notes.append("^" * n)
                col += n
            out.append("".join(notes) + "\n")
    notated = "".join(out)
    if "\n" in pattern:
        divider = "~" * 79
        text = "regex parse error:\n" + divider + "\n" + notated + divider + "\n"
        if multi:
            text += (
                "\n".join(
                    f"on line {s.start.line} (column {s.start.column}) "
                    f"through line {s.end.line} (column {s.end.column - 1})"
                    for s in multi
                )
                + "\n"
            )
        return text + "error: " + message
    return "regex parse error:\n" + notated + "error: " + message


class RegexSyntaxError(ValueError):
    """A pattern the Rust regex crate would refuse (or kumopy cannot evaluate).

    `str(err)` is the multi-line text regex-syntax produces: `regex parse
    error:`, the pattern, a caret line under the offending part and
    `error: <message>`.
    """

    def __init__(self, pattern: str, message: str, span: Span, aux: Span | None = None) -> None:
        self.pattern = pattern
        self.message = message
        self.span = span
        self.aux_span = aux
        super().__init__(format_error(pattern, message, span, aux))


class SizeLimitError(ValueError):
    """A pattern whose NFA alone exceeds the Rust crate's size limit."""

    def __init__(self) -> None:
        super().__init__(f"Compiled regex exceeds size limit of {RUST_NFA_SIZE_LIMIT} bytes.")


# Messages, worded as regex-syntax words them (users may match on them).
E_CAPTURE_LIMIT = "exceeded the maximum number of capturing groups (4294967295)"
E_CLASS_ESCAPE = "invalid escape sequence found in character class"
E_CLASS_RANGE = "invalid character class range, the start must be <= the end"
E_CLASS_RANGE_LITERAL = "invalid range boundary, must be a literal"
E_CLASS_UNCLOSED = "unclosed character class"
E_DECIMAL_EMPTY = "decimal literal empty"
E_DECIMAL_INVALID = "decimal literal invalid"
E_HEX_EMPTY = "hexadecimal literal empty"
E_HEX_INVALID = "hexadecimal literal is not a Unicode scalar value"
E_HEX_DIGIT = "invalid hexadecimal digit"
E_ESCAPE_EOF = "incomplete escape sequence, reached end of pattern prematurely"
E_ESCAPE = "unrecognized escape sequence"
E_FLAG_DANGLING = "dangling flag negation operator"
E_FLAG_DUPLICATE = "duplicate flag"
E_FLAG_NEGATION = "flag negation operator repeated"
E_FLAG_EOF = "expected flag but got end of regex"
E_FLAG = "unrecognized flag"
E_NAME_DUPLICATE = "duplicate capture group name"
E_NAME_EMPTY = "empty capture group name"
E_NAME_INVALID = "invalid capture group character"
E_NAME_EOF = "unclosed capture group name"
E_GROUP_UNCLOSED = "unclosed group"
E_GROUP_UNOPENED = "unopened group"
E_NEST = f"exceed the maximum number of nested parentheses/brackets ({NEST_LIMIT})"
E_REP_INVALID = "invalid repetition count range, the start must be <= the end"
E_REP_DECIMAL = "repetition quantifier expects a valid decimal"
E_REP_UNCLOSED = "unclosed counted repetition"
E_REP_MISSING = "repetition operator missing expression"
E_WB_UNCLOSED = (
    "special word boundary assertion is either unclosed or contains an invalid character"
)
E_WB_UNKNOWN = (
    "unrecognized special word boundary assertion, valid choices are: "
    "start, end, start-half or end-half"
)
E_WB_EOF = (
    "found either the beginning of a special word boundary or a bounded "
    "repetition on a \\b with an opening brace, but no closing brace"
)
E_UNICODE_CLASS = "invalid Unicode character class"
E_BACKREF = "backreferences are not supported"
E_LOOKAROUND = "look-around, including look-ahead and look-behind, is not supported"
E_UNICODE_NOT_ALLOWED = "Unicode not allowed here"
E_INVALID_UTF8 = "pattern can match invalid UTF-8"
E_PROPERTY = "Unicode property not found"
E_PROPERTY_VALUE = "Unicode property value not found"
E_AGE_UNSUPPORTED = (
    "kumopy cannot evaluate the Unicode Age property "
    "(valid for the Rust regex crate, but no age data is available here)"
)
