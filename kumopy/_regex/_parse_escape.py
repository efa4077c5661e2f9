"""The parser's primitives: `.`, `^`, `$`, literals and escapes (`\\x`,
`\\u`, `\\U` hexadecimal, `\\p`/`\\P` Unicode classes, Perl classes,
assertions, special word boundaries)."""

from __future__ import annotations

from kumopy._regex._ast import (
    AAssert,
    ADot,
    ALit,
    APerl,
    Ast,
    AUnicode,
)
from kumopy._regex._errors import (
    E_BACKREF,
    E_ESCAPE,
    E_ESCAPE_EOF,
    E_HEX_DIGIT,
    E_HEX_EMPTY,
    E_HEX_INVALID,
    E_UNICODE_CLASS,
    E_WB_EOF,
    E_WB_UNCLOSED,
    E_WB_UNKNOWN,
    Pos,
    Span,
)
from kumopy._regex._parse_cursor import _Cursor

_META = frozenset("\\.+*?()|[]{}^$#&-~")
_SPECIAL_ESCAPES = {"a": "\x07", "f": "\x0c", "t": "\t", "n": "\n", "r": "\r", "v": "\x0b"}
_HEX = frozenset("0123456789abcdefABCDEF")


def _is_escapeable(c: str) -> bool:
    if c in _META:
        return True
    if not c.isascii():
        return False
    return not (c.isalnum() or c in "<>")


class _EscapeParser(_Cursor):
    def parse_primitive(self) -> Ast:
        c = self.p[self.i]
        if c == "\\":
            return self.parse_escape()
        sp = self.span_char()
        self.bump()
        if c == ".":
            return ADot(sp)
        if c == "^":
            return AAssert(sp, "start_line")
        if c == "$":
            return AAssert(sp, "end_line")
        return ALit(sp, c, "verbatim")

    def parse_escape(self) -> Ast:
        start = self.pos()
        if not self.bump():
            raise self.error(Span(start, self.pos()), E_ESCAPE_EOF)
        c = self.char()
        if "0" <= c <= "9":
            raise self.error(Span(start, self.span_char().end), E_BACKREF)
        if c in "xuU":
            lit = self.parse_hex()
            lit.span = Span(start, lit.span.end)
            return lit
        if c in "pP":
            uc = self.parse_unicode_class()
            uc.span = Span(start, uc.span.end)
            return uc
        if c in "dswDSW":
            sp = self.span_char()
            self.bump()
            return APerl(Span(start, sp.end), c.lower(), c.isupper())
        self.bump()
        span = Span(start, self.pos())
        if c in _META:
            return ALit(span, c, "meta")
        if _is_escapeable(c):
            return ALit(span, c, "superfluous")
        if c in _SPECIAL_ESCAPES:
            return ALit(span, _SPECIAL_ESCAPES[c], "special")
        if c == "A":
            return AAssert(span, "start_text")
        if c == "z":
            return AAssert(span, "end_text")
        if c == "b":
            kind = "word"
            if not self.eof() and self.char() == "{":
                special = self.maybe_parse_special_word_boundary(start)
                if special is not None:
                    kind = special
                    span = Span(start, self.pos())
            return AAssert(span, kind)
        if c == "B":
            return AAssert(span, "not_word")
        if c == "<":
            return AAssert(span, "word_start")
        if c == ">":
            return AAssert(span, "word_end")
        raise self.error(span, E_ESCAPE)

    def maybe_parse_special_word_boundary(self, wb_start: Pos) -> str | None:
        start = self.pos()
        if not self.bump_and_bump_space():
            raise self.error(Span(wb_start, self.pos()), E_WB_EOF)
        start_contents = self.pos()

        def valid(ch: str) -> bool:
            return ch == "-" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")

        if not valid(self.char()):
            self.set_pos(start)
            return None
        word = []
        while not self.eof() and valid(self.char()):
            word.append(self.char())
            self.bump_and_bump_space()
        if self.eof() or self.char() != "}":
            raise self.error(Span(start, self.pos()), E_WB_UNCLOSED)
        end = self.pos()
        self.bump()
        kind = {
            "start": "word_start",
            "end": "word_end",
            "start-half": "word_start_half",
            "end-half": "word_end_half",
        }.get("".join(word))
        if kind is None:
            raise self.error(Span(start_contents, end), E_WB_UNKNOWN)
        return kind

    def parse_hex(self) -> ALit:
        c = self.char()
        digits = {"x": 2, "u": 4, "U": 8}[c]
        if not self.bump_and_bump_space():
            raise self.error(self.span(), E_ESCAPE_EOF)
        if self.char() == "{":
            return self.parse_hex_brace()
        start = self.pos()
        hexdigits = []
        for k in range(digits):
            if k > 0 and not self.bump_and_bump_space():
                raise self.error(self.span(), E_ESCAPE_EOF)
            if self.char() not in _HEX:
                raise self.error(self.span_char(), E_HEX_DIGIT)
            hexdigits.append(self.char())
        self.bump_and_bump_space()
        end = self.pos()
        value = int("".join(hexdigits), 16)
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise self.error(Span(start, end), E_HEX_INVALID)
        return ALit(Span(start, end), chr(value), "hex_x" if digits == 2 else "hex")

    def parse_hex_brace(self) -> ALit:
        brace_pos = self.pos()
        start = self.span_char().end
        hexdigits = []
        while self.bump_and_bump_space() and self.char() != "}":
            if self.char() not in _HEX:
                raise self.error(self.span_char(), E_HEX_DIGIT)
            hexdigits.append(self.char())
        if self.eof():
            raise self.error(Span(brace_pos, self.pos()), E_ESCAPE_EOF)
        end = self.pos()
        self.bump_and_bump_space()
        if not hexdigits:
            raise self.error(Span(brace_pos, self.pos()), E_HEX_EMPTY)
        value = int("".join(hexdigits), 16)
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise self.error(Span(start, end), E_HEX_INVALID)
        return ALit(Span(start, self.pos()), chr(value), "hex")

    def parse_unicode_class(self) -> AUnicode:
        negated = self.char() == "P"
        if not self.bump_and_bump_space():
            raise self.error(self.span(), E_ESCAPE_EOF)
        if self.char() == "{":
            start = self.span_char().end
            chars = []
            while self.bump_and_bump_space() and self.char() != "}":
                chars.append(self.char())
            if self.eof():
                raise self.error(self.span(), E_ESCAPE_EOF)
            self.bump()
            name = "".join(chars)
            span = Span(start, self.pos())
            for op in ("!=", ":", "="):
                k = name.find(op)
                if k >= 0:
                    return AUnicode(span, negated, "value", name[:k], name[k + len(op) :], op)
            return AUnicode(span, negated, "named", name)
        start = self.pos()
        c = self.char()
        if c == "\\":
            raise self.error(self.span_char(), E_UNICODE_CLASS)
        self.bump_and_bump_space()
        return AUnicode(Span(start, self.pos()), negated, "one", c)
