"""Translation of the syntax tree to HIR: flags resolved, classes made
explicit (regex-syntax's translator, default flags)."""

from __future__ import annotations

from collections.abc import Sequence

from kumopy._regex._ast import (
    AAlt,
    AAssert,
    AClass,
    AConcat,
    ADot,
    AEmpty,
    AFlags,
    AGroup,
    ALit,
    ALits,
    APerl,
    ARep,
    Ast,
    AUnicode,
    CAscii,
    CEmpty,
    COp,
    CRange,
    CUnion,
)
from kumopy._regex._charset import (
    BYTE_UNIVERSE,
    UNIVERSE,
    Ranges,
    cs_difference,
    cs_intersect,
    cs_negate,
    cs_single,
    cs_symmetric_difference,
    cs_union,
    to_index,
)
from kumopy._regex._errors import (
    E_INVALID_UTF8,
    E_UNICODE_NOT_ALLOWED,
    RegexSyntaxError,
    Span,
)
from kumopy._regex._hir import (
    H_EMPTY,
    LOOK_END,
    LOOK_END_CRLF,
    LOOK_END_LF,
    LOOK_START,
    LOOK_START_CRLF,
    LOOK_START_LF,
    HCap,
    Hir,
    HLit,
    HLook,
    rust_alternation,
    rust_class,
    rust_concat,
    rust_repetition,
)
from kumopy._regex._parser import Parser
from kumopy._regex._unicode import (
    _ASCII_CLASSES,
    ASCII_DIGIT,
    ASCII_SPACE,
    ASCII_WORD,
    _PropertyError,
    ascii_case_fold,
    cs_case_fold,
    has_case_mapping,
    perl_digit,
    perl_space,
    perl_word,
    unicode_property,
)

# --------------------------------------------------------------------------
# Translation of the syntax tree (regex-syntax's translator, default flags)
# --------------------------------------------------------------------------

# Flags: case_insensitive, multi_line, dot_matches_new_line, swap_greed,
# unicode, crlf; each None (unset), True or False.
Flags = tuple[bool | None, ...]
_FLAG_INDEX = {"i": 0, "m": 1, "s": 2, "U": 3, "u": 4, "R": 5}
_NO_FLAGS: Flags = (None, None, None, None, None, None)


def _merge_flags(items: Sequence[tuple[Span, str]], old: Flags) -> Flags:
    new: list[bool | None] = [None] * 6
    enable = True
    for _, c in items:
        if c == "-":
            enable = False
        elif c in _FLAG_INDEX:
            new[_FLAG_INDEX[c]] = enable
    return tuple(o if n is None else n for n, o in zip(new, old, strict=True))


class Translator:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.flags: Flags = _NO_FLAGS

    def error(self, span: Span, message: str) -> RegexSyntaxError:
        return RegexSyntaxError(self.pattern, message, span)

    @property
    def ci(self) -> bool:
        return self.flags[0] is True

    @property
    def unicode(self) -> bool:
        return self.flags[4] is not False

    def translate(self, ast: Ast) -> Hir:
        if isinstance(ast, AConcat):
            return rust_concat([self.translate(x) for x in ast.items])
        if isinstance(ast, ALit):
            return self.literal(ast)
        if isinstance(ast, ALits):
            if not self.ci:
                return HLit(ast.text)
            return rust_concat([self.literal(ALit(ast.span, c, "verbatim")) for c in ast.text])
        if isinstance(ast, AAlt):
            return rust_alternation([self.translate(x) for x in ast.items])
        if isinstance(ast, ARep):
            sub = self.translate(ast.sub)
            greedy = (not ast.greedy) if self.flags[3] is True else ast.greedy
            return rust_repetition(sub, ast.min, ast.max, greedy)
        if isinstance(ast, AGroup):
            old = self.flags
            if ast.flags is not None:
                self.flags = _merge_flags(ast.flags, old)
            sub = self.translate(ast.sub)
            self.flags = old
            if ast.kind == "noncap":
                return sub
            return HCap(ast.index, ast.name if ast.kind == "named" else None, sub)
        if isinstance(ast, AFlags):
            self.flags = _merge_flags(ast.items, self.flags)
            return H_EMPTY
        if isinstance(ast, AEmpty):
            return H_EMPTY
        if isinstance(ast, ADot):
            return self.dot(ast)
        if isinstance(ast, AAssert):
            return HLook(self.look_kind(ast.kind))
        if isinstance(ast, APerl):
            if self.unicode:
                return rust_class(self.perl_unicode(ast), False)
            return rust_class(self.perl_bytes(ast), True)
        if isinstance(ast, AUnicode):
            return rust_class(self.unicode_class(ast), False)
        if isinstance(ast, AClass):
            ranges = self.bracketed(ast)
            return rust_class(ranges, not self.unicode)
        raise TypeError(ast)

    # -- literals and simple items -------------------------------------------
    def literal_char(self, lit: ALit) -> str:
        """The character a literal stands for (errors for `(?-u)\\x80`..)."""
        if self.unicode or lit.kind != "hex_x" or ord(lit.c) > 0xFF:
            return lit.c
        if ord(lit.c) <= 0x7F:
            return lit.c
        raise self.error(lit.span, E_INVALID_UTF8)

    def literal(self, lit: ALit) -> Hir:
        c = self.literal_char(lit)
        if not self.ci:
            return HLit(c)
        index = to_index(ord(c))
        if self.unicode:
            if not has_case_mapping(index):
                return HLit(c)
            return rust_class(cs_case_fold(cs_single(index)), False)
        if c.isascii() and c.isalpha():
            return rust_class(ascii_case_fold(cs_single(index)), True)
        return HLit(c)

    def dot(self, ast: ADot) -> Hir:
        if not self.unicode:
            raise self.error(ast.span, E_INVALID_UTF8)
        if self.flags[2] is True:
            return rust_class(UNIVERSE, False)
        if self.flags[5] is True:
            return rust_class(cs_negate(((0x0A, 0x0A), (0x0D, 0x0D))), False)
        return rust_class(cs_negate(((0x0A, 0x0A),)), False)

    def look_kind(self, kind: str) -> str:
        multi = self.flags[1] is True
        crlf = self.flags[5] is True
        suffix = "unicode" if self.unicode else "ascii"
        if kind == "start_line":
            return (LOOK_START_CRLF if crlf else LOOK_START_LF) if multi else LOOK_START
        if kind == "end_line":
            return (LOOK_END_CRLF if crlf else LOOK_END_LF) if multi else LOOK_END
        if kind == "start_text":
            return LOOK_START
        if kind == "end_text":
            return LOOK_END
        if kind == "word":
            return "word_" + suffix
        if kind == "not_word":
            return "word_" + suffix + "_negate"
        # word_start, word_end, word_start_half, word_end_half
        return kind + "_" + suffix

    # -- classes ----------------------------------------------------------------
    def fold_negate(self, ranges: Ranges, negated: bool, span: Span) -> Ranges:
        if self.unicode:
            if self.ci:
                ranges = cs_case_fold(ranges)
            if negated:
                ranges = cs_negate(ranges)
            return ranges
        if self.ci:
            ranges = ascii_case_fold(ranges)
        if negated:
            ranges = cs_negate(ranges, BYTE_UNIVERSE)
        if ranges and ranges[-1][1] > 0x7F:
            raise self.error(span, E_INVALID_UTF8)
        return ranges

    def perl_unicode(self, ast: APerl) -> Ranges:
        ranges = {"d": perl_digit, "s": perl_space, "w": perl_word}[ast.kind]()
        return cs_negate(ranges) if ast.negated else ranges

    def perl_bytes(self, ast: APerl) -> Ranges:
        ranges = {"d": ASCII_DIGIT, "s": ASCII_SPACE, "w": ASCII_WORD}[ast.kind]
        if ast.negated:
            raise self.error(ast.span, E_INVALID_UTF8)
        return ranges

    def unicode_class(self, ast: AUnicode) -> Ranges:
        if not self.unicode:
            raise self.error(ast.span, E_UNICODE_NOT_ALLOWED)
        try:
            ranges = unicode_property(ast.kind, ast.name, ast.value)
        except _PropertyError as exc:
            raise self.error(ast.span, str(exc)) from None
        return self.fold_negate(ranges, ast.is_negated(), ast.span)

    def class_literal(self, lit: ALit) -> int:
        c = self.literal_char(lit)
        if self.unicode or c.isascii():
            return to_index(ord(c))
        raise self.error(lit.span, E_UNICODE_NOT_ALLOWED)

    def bracketed(self, ast: AClass) -> Ranges:
        return self.fold_negate(self.class_set(ast.set), ast.negated, ast.span)

    def class_set(self, node: Ast) -> Ranges:
        if isinstance(node, CUnion):
            out: Ranges = ()
            for item in node.items:
                out = cs_union(out, self.class_set(item))
            return out
        if isinstance(node, ALit):
            return cs_single(self.class_literal(node))
        if isinstance(node, CRange):
            lo = self.class_literal(node.lo)
            hi = self.class_literal(node.hi)
            return ((lo, hi),)
        if isinstance(node, CEmpty):
            return ()
        if isinstance(node, CAscii):
            return self.fold_negate(_ASCII_CLASSES[node.name], node.negated, node.span)
        if isinstance(node, AUnicode):
            return self.unicode_class(node)
        if isinstance(node, APerl):
            return self.perl_unicode(node) if self.unicode else self.perl_bytes(node)
        if isinstance(node, AClass):
            return self.bracketed(node)
        if isinstance(node, COp):
            lhs = self.class_set(node.lhs)
            rhs = self.class_set(node.rhs)
            if self.ci:
                fold = cs_case_fold if self.unicode else ascii_case_fold
                rhs = fold(rhs)
                lhs = fold(lhs)
            if node.kind == "&&":
                return cs_intersect(lhs, rhs)
            if node.kind == "--":
                return cs_difference(lhs, rhs)
            return cs_symmetric_difference(lhs, rhs)
        raise TypeError(node)


def parse_to_hir(pattern: str) -> Hir:
    """Parse and translate `pattern`; raises RegexSyntaxError."""
    ast = Parser(pattern).parse()
    return Translator(pattern).translate(ast)
