"""Rust `regex` syntax for kumopy: parse, validate and translate to RE2.

KumoMTA compiles the keys of `kumo.regex_set_map.new` with the Rust `regex`
crate (regex 1.13, regex-syntax 0.8).  This module accepts exactly that
syntax and gives it the same meaning, but matches with RE2 (google-re2), so
that lookups stay linear-time and fast.  The work is done in four steps:

1. **parse** the pattern with the grammar of regex-syntax: every construct
   Rust accepts is accepted (including nested classes, class set operations,
   `(?<name>..)`, `\\b{start}`, `\\<`, nested repetitions such as `a++`, which
   in Rust means `(a+)+` and is not a possessive quantifier), and every
   construct Rust rejects is rejected with the text regex-syntax reports
   (pattern, caret line, `error: ...`);
2. **translate** the syntax tree to a small intermediate form with Rust's
   semantics: flags are resolved, case-insensitive matching becomes explicit
   simple-case-folding classes, `\\d \\s \\w .` and `\\p{..}` become explicit
   Unicode code point sets, `^`/`$` become text or line anchors;
3. **eliminate** the zero-width assertions RE2 lacks (`\\b{start}`,
   `\\b{end}` and their halves, CRLF-mode line anchors) by rewriting the
   expression so that the neighbouring characters are consumed instead of
   looked at.  This is exact for the question a set map asks (does the
   pattern match anywhere in the subject?), not for match positions.
   Unicode `\\b`/`\\B` equal RE2's ASCII ones on ASCII text; for other text
   (and when a rewrite would be too large) the RE2 expression is only a
   superset and `Translation.exact` (a linear-time NFA simulation in Python)
   confirms its candidates;
4. **emit** RE2 syntax: explicit classes, `(?:..)` groups, `\\A`, `\\z`,
   `(?m:^)`, `(?m:$)`, `\\b` (ASCII) and repetitions within RE2's counting
   limits, avoiding RE2 rewrites that would change the meaning.

Unicode data (property sets, simple case folding) comes from the `regex`
package, restricted to the Unicode version of the Rust tables (16.0): code
points first assigned in Unicode 17.0 are treated as unassigned.  The Age
property (`\\p{age=3.0}`) is refused: there is no data for it here.

The module also estimates the size of the Thompson NFA the Rust crate would
build (`nfa_size`, `set_nfa_size`), so that rule sets too large for kumod's
default limit (10 MiB) are refused here as well.

Patterns of the most common shape (a flat sequence of literals, `.`, simple
escapes and classes, anchors, `\\b` and repetitions of single items) take a
fast path that combines remembered translations of their tokens instead of
running the steps above on the whole pattern; it gives the same result.
"""

from __future__ import annotations

import bisect
import functools
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "RUST_NFA_SIZE_LIMIT",
    "RegexSyntaxError",
    "SizeLimitError",
    "Translation",
    "set_nfa_size",
    "translate",
]

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


# --------------------------------------------------------------------------
# Code point sets
#
# A set is a tuple of inclusive (lo, hi) ranges, sorted and merged, over
# "scalar indexes": code points with the surrogate block cut out (a code
# point >= 0xE000 has index cp - 0x800).  Every index is a Unicode scalar
# value, the ranges never need splitting around surrogates, and negation is
# a plain complement.
# --------------------------------------------------------------------------

Ranges = tuple[tuple[int, int], ...]

_SURROGATE_LO = 0xD800
_GAP = 0x800
MAX_INDEX = 0x10FFFF - _GAP
UNIVERSE: Ranges = ((0, MAX_INDEX),)
BYTE_UNIVERSE: Ranges = ((0, 0xFF),)
EMPTY: Ranges = ()


def to_index(cp: int) -> int:
    return cp if cp < _SURROGATE_LO else cp - _GAP


def to_cp(index: int) -> int:
    return index if index < _SURROGATE_LO else index + _GAP


def cs_norm(ranges: Iterable[tuple[int, int]]) -> Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def cs_union(a: Ranges, b: Ranges) -> Ranges:
    if not a:
        return b
    if not b:
        return a
    return cs_norm(a + b)


def cs_intersect(a: Ranges, b: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def cs_negate(a: Ranges, universe: Ranges = UNIVERSE) -> Ranges:
    return cs_difference(universe, a)


def cs_difference(a: Ranges, b: Ranges) -> Ranges:
    if not b or not a:
        return a
    out: list[tuple[int, int]] = []
    j = 0
    for lo, hi in a:
        cur = lo
        while j < len(b) and b[j][1] < cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= hi:
            if b[k][0] > cur:
                out.append((cur, b[k][0] - 1))
            cur = max(cur, b[k][1] + 1)
            k += 1
        if cur <= hi:
            out.append((cur, hi))
    return tuple(out)


def cs_symmetric_difference(a: Ranges, b: Ranges) -> Ranges:
    return cs_union(cs_difference(a, b), cs_difference(b, a))


def cs_is_subset(a: Ranges, b: Ranges) -> bool:
    return not cs_difference(a, b)


def cs_contains(a: Ranges, index: int) -> bool:
    i = bisect.bisect_right(a, (index, 0x7FFFFFFF)) - 1
    return i >= 0 and a[i][0] <= index <= a[i][1]


def cs_single(index: int) -> Ranges:
    return ((index, index),)


# --------------------------------------------------------------------------
# Unicode data
# --------------------------------------------------------------------------

# Code points first assigned in Unicode 17.0 (from the Unicode Character
# Database, DerivedAge 17.0).  The Rust crate's tables are Unicode 16.0, so
# these are treated as unassigned.
_NEW_IN_UNICODE_17 = (
    "558 58b-58c 5c8-5c9 88f b53-b54 c5c cdc 1acf-1af0 208f 209d-209f 20c1-20c4 "
    "2b96 2e60-2e63 a7ce-a7cf a7d2 a7d4 a7dd a7e2 a7f1 ab6c-ab6d fbc3-fbd2 "
    "fd90-fd91 fdc8-fdce 107bb-107bf 10940-10959 10ec5-10ec7 10ec9-10eee "
    "10ef0-10efb 11b0a 11b60-11b67 11db0-11ddb 11de0-11de9 11df0-11df1 1246f "
    "12475-1247f 12550-12686 16ea0-16eb8 16ebb-16ed3 16ff2-16ff6 187f8-187ff "
    "18cd6-18cda 18d09-18d20 18d80-18df2 18e00-19191 191a0-191d2 1b123-1b128 "
    "1b168 1ccfa-1ccfc 1ceba-1ced0 1ced2-1ced4 1cedd-1cefd 1d127-1d128 "
    "1d1eb-1d1ff 1d250-1d281 1d6a6 1db00-1db1c 1df1f-1df24 1df2b-1df81 "
    "1df90-1df96 1dfcd-1dfff 1e6c0-1e6de 1e6e0-1e6f5 1e6fe-1e6ff 1f1ae "
    "1f6d8-1f6d9 1f777-1f77a 1f7da-1f7db 1f7f1-1f7ff 1f8d0-1f8d8 1fa54-1fa57 "
    "1fa8a-1fa8e 1fac8 1facc-1facd 1fadd 1faea-1faeb 1faef 1faf9-1fafa 1fbfa "
    "2b73a-2b73f 2b81e 2cea2-2cead 323b0-33479 3d000-3fc3f"
)


def _parse_hex_ranges(text: str) -> Ranges:
    out = []
    for item in text.split():
        lo, _, hi = item.partition("-")
        a = int(lo, 16)
        b = int(hi or lo, 16)
        out.append((to_index(a), to_index(b)))
    return cs_norm(out)


class _UnicodeData:
    """Lazily computed Unicode sets (thread-safe, computed once each)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._all: str | None = None
        self._sets: dict[str, Ranges] = {}
        self._fold: tuple[list[int], dict[int, tuple[int, ...]]] | None = None
        self.new17 = _parse_hex_ranges(_NEW_IN_UNICODE_17)

    def _all_chars(self) -> str:
        if self._all is None:
            self._all = "".join(map(chr, range(_SURROGATE_LO))) + "".join(
                map(chr, range(0xE000, 0x110000))
            )
        return self._all

    def query(self, regex_class: str) -> Ranges:
        """Code points matching a `regex`-module class expression (indexes),
        without the characters new in Unicode 17."""
        with self._lock:
            got = self._sets.get(regex_class)
            if got is None:
                import regex as _re  # the `regex` package: Unicode data source

                text = self._all_chars()
                ranges = [
                    (m.start(), m.end() - 1) for m in _re.finditer("(?:" + regex_class + ")+", text)
                ]
                got = cs_difference(cs_norm(ranges), self.new17)
                self._sets[regex_class] = got
            return got

    def fold_table(self) -> tuple[list[int], dict[int, tuple[int, ...]]]:
        """Simple case folding orbits: index -> the other members of its orbit."""
        with self._lock:
            if self._fold is None:
                import regex as _re

                try:
                    from regex import _regex as _native
                except ImportError:  # pragma: no cover - regex always ships it
                    _native = None
                candidates = self.query(
                    r"[\p{Cased}\p{Changes_When_Casemapped}\p{Changes_When_Casefolded}]"
                )
                flags = _re.IGNORECASE | _re.UNICODE
                # Dotted/dotless I are Turkic special cases, not simple folding.
                excluded = {0x130, 0x131}
                table: dict[int, tuple[int, ...]] = {}
                new17 = self.new17
                for lo, hi in candidates:
                    for index in range(lo, hi + 1):
                        cp = to_cp(index)
                        if cp in excluded:
                            continue
                        if _native is not None:
                            cases = _native.get_all_cases(flags, cp)
                        else:  # pragma: no cover
                            cases = [cp]
                        others = tuple(
                            sorted(
                                to_index(c)
                                for c in cases
                                if c != cp
                                and c not in excluded
                                and not cs_contains(new17, to_index(c))
                            )
                        )
                        if others:
                            table[index] = others
                self._fold = (sorted(table), table)
            return self._fold


UNICODE = _UnicodeData()


def cs_case_fold(a: Ranges) -> Ranges:
    """Add the simple case folding equivalents of every member."""
    keys, table = UNICODE.fold_table()
    extra: list[tuple[int, int]] = []
    for lo, hi in a:
        i = bisect.bisect_left(keys, lo)
        while i < len(keys) and keys[i] <= hi:
            for other in table[keys[i]]:
                extra.append((other, other))
            i += 1
    if not extra:
        return a
    return cs_norm(a + tuple(extra))


def has_case_mapping(index: int) -> bool:
    _, table = UNICODE.fold_table()
    return index in table


def ascii_case_fold(a: Ranges) -> Ranges:
    """Case folding of a byte class: ASCII letters only."""
    extra: list[tuple[int, int]] = []
    for lo, hi in a:
        for up_lo, up_hi, delta in ((0x41, 0x5A, 0x20), (0x61, 0x7A, -0x20)):
            s, e = max(lo, up_lo), min(hi, up_hi)
            if s <= e:
                extra.append((s + delta, e + delta))
    return cs_norm(a + tuple(extra)) if extra else a


def perl_digit() -> Ranges:
    return UNICODE.query(r"\p{General_Category=Decimal_Number}")


def perl_space() -> Ranges:
    return UNICODE.query(r"\p{White_Space}")


def perl_word() -> Ranges:
    return UNICODE.query(
        r"[\p{Alphabetic}\p{General_Category=Mark}\p{General_Category=Decimal_Number}"
        r"\p{General_Category=Connector_Punctuation}\p{Join_Control}]"
    )


ASCII_WORD: Ranges = cs_norm([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)])
ASCII_DIGIT: Ranges = ((0x30, 0x39),)
ASCII_SPACE: Ranges = cs_norm([(0x09, 0x0D), (0x20, 0x20)])

_ASCII_CLASSES: dict[str, Ranges] = {
    "alnum": cs_norm([(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)]),
    "alpha": cs_norm([(0x41, 0x5A), (0x61, 0x7A)]),
    "ascii": ((0, 0x7F),),
    "blank": cs_norm([(0x09, 0x09), (0x20, 0x20)]),
    "cntrl": cs_norm([(0, 0x1F), (0x7F, 0x7F)]),
    "digit": ASCII_DIGIT,
    "graph": ((0x21, 0x7E),),
    "lower": ((0x61, 0x7A),),
    "print": ((0x20, 0x7E),),
    "punct": cs_norm([(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)]),
    "space": ASCII_SPACE,
    "upper": ((0x41, 0x5A),),
    "word": ASCII_WORD,
    "xdigit": cs_norm([(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)]),
}

# Rust's `char::is_whitespace` (the White_Space property); used by the
# parser for `(?x)` mode and around repetition counts.
_WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _alphabetic(c: str) -> bool:
    if c.isascii():
        return c.isalpha()
    return cs_contains(UNICODE.query(r"\p{Alphabetic}"), to_index(ord(c)))


def _alphanumeric(c: str) -> bool:
    if c.isascii():
        return c.isalnum()
    index = to_index(ord(c))
    return cs_contains(UNICODE.query(r"\p{Alphabetic}"), index) or cs_contains(
        UNICODE.query(r"\p{General_Category=Number}"), index
    )


# --------------------------------------------------------------------------
# Unicode property names (Unicode 16.0 PropertyAliases / PropertyValueAliases,
# as far as the Rust crate consults them).  One line per canonical name,
# followed by its extra aliases in normalized form.  `*` marks the binary
# properties the crate supports; `!` marks values it knows but has no table
# for (they fail with "Unicode property value not found").
# --------------------------------------------------------------------------

_PROPERTY_NAMES = """
*ASCII_Hex_Digit ahex
Age
*Alphabetic alpha
Bidi_Class bc
*Bidi_Control bidic
*Bidi_Mirrored bidim
Bidi_Mirroring_Glyph bmg
Bidi_Paired_Bracket bpb
Bidi_Paired_Bracket_Type bpt
Block blk
Canonical_Combining_Class ccc
Case_Folding cf
*Case_Ignorable ci
*Cased
*Changes_When_Casefolded cwcf
*Changes_When_Casemapped cwcm
*Changes_When_Lowercased cwl
Changes_When_NFKC_Casefolded cwkcf
*Changes_When_Titlecased cwt
*Changes_When_Uppercased cwu
Composition_Exclusion ce
*Dash
Decomposition_Mapping dm
Decomposition_Type dt
*Default_Ignorable_Code_Point di
*Deprecated dep
*Diacritic dia
East_Asian_Width ea
*Emoji
*Emoji_Component ecomp
*Emoji_Modifier emod
*Emoji_Modifier_Base ebase
*Emoji_Presentation epres
Equivalent_Unified_Ideograph equideo
Expands_On_NFC xonfc
Expands_On_NFD xonfd
Expands_On_NFKC xonfkc
Expands_On_NFKD xonfkd
*Extended_Pictographic extpict
*Extender ext
FC_NFKC_Closure fcnfkc
Full_Composition_Exclusion compex
General_Category gc
*Grapheme_Base grbase
Grapheme_Cluster_Break gcb
*Grapheme_Extend grext
*Grapheme_Link grlink
Hangul_Syllable_Type hst
*Hex_Digit hex
*Hyphen
*IDS_Binary_Operator idsb
*IDS_Trinary_Operator idst
*IDS_Unary_Operator idsu
*ID_Compat_Math_Continue
*ID_Compat_Math_Start
*ID_Continue idc
*ID_Start ids
ISO_Comment isc ocomment
*Ideographic ideo
Indic_Conjunct_Break incb
Indic_Positional_Category inpc
Indic_Syllabic_Category insc
Jamo_Short_Name jsn
*Join_Control joinc
Joining_Group jg
Joining_Type jt
Line_Break lb
*Logical_Order_Exception loe
*Lowercase lower
Lowercase_Mapping lc
*Math
*Modifier_Combining_Mark mcm
NFC_Quick_Check nfcqc
NFD_Quick_Check nfdqc
NFKC_Casefold nfkccf
NFKC_Quick_Check nfkcqc
NFKC_Simple_Casefold nfkcscf
NFKD_Quick_Check nfkdqc
Name na
Name_Alias
*Noncharacter_Code_Point nchar
Numeric_Type nt
Numeric_Value nv
*Other_Alphabetic oalpha
*Other_Default_Ignorable_Code_Point odi
*Other_Grapheme_Extend ogrext
*Other_ID_Continue oidc
*Other_ID_Start oids
*Other_Lowercase olower
*Other_Math omath
*Other_Uppercase oupper
*Pattern_Syntax patsyn
*Pattern_White_Space patws
*Prepended_Concatenation_Mark pcm
*Quotation_Mark qmark
*Radical
*Regional_Indicator ri
Script sc
Script_Extensions scx
Sentence_Break sb
*Sentence_Terminal sterm
Simple_Case_Folding scf sfc
Simple_Lowercase_Mapping slc
Simple_Titlecase_Mapping stc
Simple_Uppercase_Mapping suc
*Soft_Dotted sd
*Terminal_Punctuation term
Titlecase_Mapping tc
Unicode_1_Name na1
*Unified_Ideograph uideo
*Uppercase upper
Uppercase_Mapping uc
*Variation_Selector vs
Vertical_Orientation vo
*White_Space space wspace
Word_Break wb
*XID_Continue xidc
*XID_Start xids
kAccountingNumeric cjkaccountingnumeric
kCompatibilityVariant cjkcompatibilityvariant
kEH_Cat
kEH_Desc
kEH_HG
kEH_IFAO
kEH_JSesh
kEH_NoMirror
kEH_NoRotate
kIICore cjkiicore
kIRG_GSource cjkirggsource
kIRG_HSource cjkirghsource
kIRG_JSource cjkirgjsource
kIRG_KPSource cjkirgkpsource
kIRG_KSource cjkirgksource
kIRG_MSource cjkirgmsource
kIRG_SSource cjkirgssource
kIRG_TSource cjkirgtsource
kIRG_UKSource cjkirguksource
kIRG_USource cjkirgusource
kIRG_VSource cjkirgvsource
kOtherNumeric cjkothernumeric
kPrimaryNumeric cjkprimarynumeric
kRSUnicode cjkrsunicode unicoderadicalstroke urs
"""
_GC_VALUES = """
Cased_Letter lc
Close_Punctuation pe
Connector_Punctuation pc
Control cc cntrl
Currency_Symbol sc
Dash_Punctuation pd
Decimal_Number digit nd
Enclosing_Mark me
Final_Punctuation pf
Format cf
Initial_Punctuation pi
Letter l
Letter_Number nl
Line_Separator zl
Lowercase_Letter ll
Mark combiningmark m
Math_Symbol sm
Modifier_Letter lm
Modifier_Symbol sk
Nonspacing_Mark mn
Number n
Open_Punctuation ps
Other c
Other_Letter lo
Other_Number no
Other_Punctuation po
Other_Symbol so
Paragraph_Separator zp
Private_Use co
Punctuation p punct
Separator z
Space_Separator zs
Spacing_Mark mc
!Surrogate cs
Symbol s
Titlecase_Letter lt
Unassigned cn
Uppercase_Letter lu
"""
_SCRIPT_VALUES = """
Adlam adlm
Ahom
Anatolian_Hieroglyphs hluw
Arabic arab
Armenian armn
Avestan avst
Balinese bali
Bamum bamu
Bassa_Vah bass
Batak batk
Bengali beng
Bhaiksuki bhks
Bopomofo bopo
Brahmi brah
Braille brai
Buginese bugi
Buhid buhd
Canadian_Aboriginal cans
Carian cari
Caucasian_Albanian aghb
Chakma cakm
Cham
Cherokee cher
Chorasmian chrs
Common zyyy
Coptic copt qaac
Cuneiform xsux
Cypriot cprt
Cypro_Minoan cpmn
Cyrillic cyrl
Deseret dsrt
Devanagari deva
Dives_Akuru diak
Dogra dogr
Duployan dupl
Egyptian_Hieroglyphs egyp
Elbasan elba
Elymaic elym
Ethiopic ethi
Garay gara
Georgian geor
Glagolitic glag
Gothic goth
Grantha gran
Greek grek
Gujarati gujr
Gunjala_Gondi gong
Gurmukhi guru
Gurung_Khema gukh
Han hani
Hangul hang
Hanifi_Rohingya rohg
Hanunoo hano
Hatran hatr
Hebrew hebr
Hiragana hira
Imperial_Aramaic armi
Inherited qaai zinh
Inscriptional_Pahlavi phli
Inscriptional_Parthian prti
Javanese java
Kaithi kthi
Kannada knda
Katakana kana
!Katakana_Or_Hiragana hrkt
Kawi
Kayah_Li kali
Kharoshthi khar
Khitan_Small_Script kits
Khmer khmr
Khojki khoj
Khudawadi sind
Kirat_Rai krai
Lao laoo
Latin latn
Lepcha lepc
Limbu limb
Linear_A lina
Linear_B linb
Lisu
Lycian lyci
Lydian lydi
Mahajani mahj
Makasar maka
Malayalam mlym
Mandaic mand
Manichaean mani
Marchen marc
Masaram_Gondi gonm
Medefaidrin medf
Meetei_Mayek mtei
Mende_Kikakui mend
Meroitic_Cursive merc
Meroitic_Hieroglyphs mero
Miao plrd
Modi
Mongolian mong
Mro mroo
Multani mult
Myanmar mymr
Nabataean nbat
Nag_Mundari nagm
Nandinagari nand
New_Tai_Lue talu
Newa
Nko nkoo
Nushu nshu
Nyiakeng_Puachue_Hmong hmnp
Ogham ogam
Ol_Chiki olck
Ol_Onal onao
Old_Hungarian hung
Old_Italic ital
Old_North_Arabian narb
Old_Permic perm
Old_Persian xpeo
Old_Sogdian sogo
Old_South_Arabian sarb
Old_Turkic orkh
Old_Uyghur ougr
Oriya orya
Osage osge
Osmanya osma
Pahawh_Hmong hmng
Palmyrene palm
Pau_Cin_Hau pauc
Phags_Pa phag
Phoenician phnx
Psalter_Pahlavi phlp
Rejang rjng
Runic runr
Samaritan samr
Saurashtra saur
Sharada shrd
Shavian shaw
Siddham sidd
SignWriting sgnw
Sinhala sinh
Sogdian sogd
Sora_Sompeng sora
Soyombo soyo
Sundanese sund
Sunuwar sunu
Syloti_Nagri sylo
Syriac syrc
Tagalog tglg
Tagbanwa tagb
Tai_Le tale
Tai_Tham lana
Tai_Viet tavt
Takri takr
Tamil taml
Tangsa tnsa
Tangut tang
Telugu telu
Thaana thaa
Thai
Tibetan tibt
Tifinagh tfng
Tirhuta tirh
Todhri todr
Toto
Tulu_Tigalari tutg
Ugaritic ugar
!Unknown zzzz
Vai vaii
Vithkuqi vith
Wancho wcho
Warang_Citi wara
Yezidi yezi
Yi yiii
Zanabazar_Square zanb
"""
_AGE_VALUES = """
Unassigned na
V10_0 10.0
V11_0 11.0
V12_0 12.0
V12_1 12.1
V13_0 13.0
V14_0 14.0
V15_0 15.0
V15_1 15.1
V16_0 16.0
V1_1 1.1
V2_0 2.0
V2_1 2.1
V3_0 3.0
V3_1 3.1
V3_2 3.2
V4_0 4.0
V4_1 4.1
V5_0 5.0
V5_1 5.1
V5_2 5.2
V6_0 6.0
V6_1 6.1
V6_2 6.2
V6_3 6.3
V7_0 7.0
V8_0 8.0
V9_0 9.0
"""
_GCB_VALUES = """
CR
Control cn
!E_Base eb
!E_Base_GAZ ebg
!E_Modifier em
Extend ex
!Glue_After_Zwj gaz
L
LF
LV
LVT
!Other xx
Prepend pp
Regional_Indicator ri
SpacingMark sm
T
V
ZWJ
"""
_WB_VALUES = """
ALetter le
CR
Double_Quote dq
!E_Base eb
!E_Base_GAZ ebg
!E_Modifier em
Extend
ExtendNumLet ex
Format fo
!Glue_After_Zwj gaz
Hebrew_Letter hl
Katakana ka
LF
MidLetter ml
MidNum mn
MidNumLet mb
Newline nl
Numeric nu
!Other xx
Regional_Indicator ri
Single_Quote sq
WSegSpace
ZWJ
"""
_SB_VALUES = """
ATerm at
CR
Close cl
Extend ex
Format fo
LF
Lower lo
Numeric nu
OLetter le
!Other xx
SContinue sc
STerm st
Sep se
Sp
Upper up
"""


def _norm_name(name: str) -> str:
    """Loose matching of property names and values: drop spaces, `_`, `-`
    and non-ASCII, lowercase, drop a leading `is` (`isc` stays `isc`)."""
    starts_is = len(name.encode("utf-8")) >= 2 and name[:2].lower() == "is"
    body = name[2:] if starts_is else name
    out = "".join(c.lower() for c in body if c not in " _-" and c.isascii())
    if starts_is and out == "c":
        return "isc"
    return out


def _alias_table(text: str) -> tuple[dict[str, str], set[str], set[str]]:
    aliases: dict[str, str] = {}
    starred: set[str] = set()
    banged: set[str] = set()
    for line in text.strip().splitlines():
        words = line.split()
        canon = words[0]
        if canon[0] == "*":
            canon = canon[1:]
            starred.add(canon)
        elif canon[0] == "!":
            canon = canon[1:]
            banged.add(canon)
        aliases[_norm_name(canon)] = canon
        for alias in words[1:]:
            aliases[alias] = canon
    return aliases, starred, banged


class _PropertyTables:
    def __init__(self) -> None:
        self.props, self.binary, _ = _alias_table(_PROPERTY_NAMES)
        self.values: dict[str, tuple[dict[str, str], set[str]]] = {}
        for prop, text in (
            ("General_Category", _GC_VALUES),
            ("Script", _SCRIPT_VALUES),
            ("Script_Extensions", _SCRIPT_VALUES),
            ("Age", _AGE_VALUES),
            ("Grapheme_Cluster_Break", _GCB_VALUES),
            ("Word_Break", _WB_VALUES),
            ("Sentence_Break", _SB_VALUES),
        ):
            table, _, missing = _alias_table(text)
            self.values[prop] = (table, missing)


@functools.lru_cache(maxsize=1)
def _tables() -> _PropertyTables:
    return _PropertyTables()


class _PropertyError(Exception):
    pass


_GC_SPECIAL = {"any": "Any", "assigned": "Assigned", "ascii": "ASCII"}
_BYVALUE_KEY = {
    "Script_Extensions": "scx",
    "Grapheme_Cluster_Break": "gcb",
    "Word_Break": "wb",
    "Sentence_Break": "sb",
}


def _gencat_set(canon: str) -> Ranges:
    if canon == "Surrogate":
        raise _PropertyError(E_PROPERTY_VALUE)
    if canon == "Any":
        return UNIVERSE
    if canon == "ASCII":
        return ((0, 0x7F),)
    if canon == "Assigned":
        return cs_negate(_gencat_set("Unassigned"))
    got = UNICODE.query(r"\p{General_Category=" + canon + "}")
    if canon in ("Unassigned", "Other"):
        got = cs_union(got, UNICODE.new17)
    return got


def unicode_property(kind: str, name: str, value: str) -> Ranges:
    """Resolve `\\pX` (kind "one"), `\\p{Name}` ("named") or `\\p{name=value}`
    ("value") like regex-syntax; raises `_PropertyError(message)`."""
    t = _tables()
    if kind == "value":
        pn = _norm_name(name)
        pv = _norm_name(value)
        canon = t.props.get(pn)
        if canon is None:
            raise _PropertyError(E_PROPERTY)
        if canon == "General_Category":
            gc = _GC_SPECIAL.get(pv) or t.values["General_Category"][0].get(pv)
            if gc is None:
                raise _PropertyError(E_PROPERTY_VALUE)
            return _gencat_set(gc)
        if canon not in t.values:
            raise _PropertyError(E_PROPERTY_VALUE)
        table, missing = t.values[canon]
        val = table.get(pv)
        if val is None or val in missing:
            raise _PropertyError(E_PROPERTY_VALUE)
        if canon == "Script":
            return UNICODE.query(r"\p{Script=" + val + "}")
        if canon == "Age":
            if val == "Unassigned":
                raise _PropertyError(E_PROPERTY_VALUE)
            raise _PropertyError(E_AGE_UNSUPPORTED)
        return UNICODE.query(r"\p{" + _BYVALUE_KEY[canon] + "=" + val + "}")
    norm = _norm_name(name)
    if norm not in ("cf", "sc", "lc"):
        canon = t.props.get(norm)
        if canon is not None:
            if canon not in t.binary:
                raise _PropertyError(E_PROPERTY)
            return UNICODE.query(r"\p{" + canon + "}")
    gc = _GC_SPECIAL.get(norm) or t.values["General_Category"][0].get(norm)
    if gc is not None:
        return _gencat_set(gc)
    table, missing = t.values["Script"]
    sc = table.get(norm)
    if sc is not None:
        if sc in missing:
            raise _PropertyError(E_PROPERTY_VALUE)
        return UNICODE.query(r"\p{Script=" + sc + "}")
    raise _PropertyError(E_PROPERTY)


# --------------------------------------------------------------------------
# Abstract syntax
# --------------------------------------------------------------------------


class Ast:
    __slots__ = ("span",)

    def __init__(self, span: Span) -> None:
        self.span = span


class AEmpty(Ast):
    __slots__ = ()


class AFlags(Ast):
    """`(?flags)`; items are (span, flag char or "-")."""

    __slots__ = ("items",)

    def __init__(self, span: Span, items: list[tuple[Span, str]]) -> None:
        super().__init__(span)
        self.items = items


class ALit(Ast):
    """A literal character.  kind: verbatim, meta, superfluous, special,
    hex_x (a fixed two-digit `\\xNN`), hex (other hex escapes)."""

    __slots__ = ("c", "kind")

    def __init__(self, span: Span, c: str, kind: str) -> None:
        super().__init__(span)
        self.c = c
        self.kind = kind


class ALits(Ast):
    """A run of two or more verbatim characters (a parsing shortcut; the
    same as a concatenation of `ALit`s)."""

    __slots__ = ("text",)

    def __init__(self, span: Span, text: str) -> None:
        super().__init__(span)
        self.text = text


class ADot(Ast):
    __slots__ = ()


class AAssert(Ast):
    __slots__ = ("kind",)

    def __init__(self, span: Span, kind: str) -> None:
        super().__init__(span)
        self.kind = kind


class APerl(Ast):
    __slots__ = ("kind", "negated")

    def __init__(self, span: Span, kind: str, negated: bool) -> None:
        super().__init__(span)
        self.kind = kind
        self.negated = negated


class AUnicode(Ast):
    """`\\pX`, `\\p{name}`, `\\p{name=value}` (op "=", ":" or "!=")."""

    __slots__ = ("negated", "kind", "name", "value", "op")

    def __init__(
        self, span: Span, negated: bool, kind: str, name: str, value: str = "", op: str = ""
    ) -> None:
        super().__init__(span)
        self.negated = negated
        self.kind = kind
        self.name = name
        self.value = value
        self.op = op

    def is_negated(self) -> bool:
        return (not self.negated) if self.op == "!=" else self.negated


class AClass(Ast):
    """A bracketed class `[...]`; `set` is a class set item or `COp`."""

    __slots__ = ("negated", "set")

    def __init__(self, span: Span, negated: bool, cset: Ast) -> None:
        super().__init__(span)
        self.negated = negated
        self.set = cset


class ARep(Ast):
    __slots__ = ("op_span", "min", "max", "greedy", "sub")

    def __init__(
        self, span: Span, op_span: Span, lo: int, hi: int | None, greedy: bool, sub: Ast
    ) -> None:
        super().__init__(span)
        self.op_span = op_span
        self.min = lo
        self.max = hi
        self.greedy = greedy
        self.sub = sub


class AGroup(Ast):
    """kind: "cap" (numbered), "named", "noncap" (flags may be attached)."""

    __slots__ = ("kind", "index", "name", "flags", "sub")

    def __init__(
        self,
        span: Span,
        kind: str,
        index: int = 0,
        name: str = "",
        flags: list[tuple[Span, str]] | None = None,
    ) -> None:
        super().__init__(span)
        self.kind = kind
        self.index = index
        self.name = name
        self.flags = flags
        self.sub: Ast = AEmpty(span)


class AConcat(Ast):
    __slots__ = ("items",)

    def __init__(self, span: Span, items: list[Ast]) -> None:
        super().__init__(span)
        self.items = items

    def into_ast(self) -> Ast:
        if not self.items:
            return AEmpty(self.span)
        if len(self.items) == 1 and not isinstance(self.items[0], ALits):
            return self.items[0]
        return self


class AAlt(Ast):
    __slots__ = ("items",)

    def __init__(self, span: Span, items: list[Ast]) -> None:
        super().__init__(span)
        self.items = items


# Class set items (inside brackets); literals, Perl and Unicode classes and
# nested brackets reuse ALit, APerl, AUnicode and AClass.
class CEmpty(Ast):
    __slots__ = ()


class CRange(Ast):
    __slots__ = ("lo", "hi")

    def __init__(self, span: Span, lo: ALit, hi: ALit) -> None:
        super().__init__(span)
        self.lo = lo
        self.hi = hi


class CAscii(Ast):
    __slots__ = ("name", "negated")

    def __init__(self, span: Span, name: str, negated: bool) -> None:
        super().__init__(span)
        self.name = name
        self.negated = negated


class CUnion(Ast):
    __slots__ = ("items",)

    def __init__(self, span: Span, items: list[Ast]) -> None:
        super().__init__(span)
        self.items = items

    def push(self, item: Ast) -> None:
        if not self.items:
            self.span = Span(item.span.start, self.span.end)
        self.span = Span(self.span.start, item.span.end)
        self.items.append(item)

    def into_item(self) -> Ast:
        if not self.items:
            return CEmpty(self.span)
        if len(self.items) == 1:
            return self.items[0]
        return self


class COp(Ast):
    """Class set operation: kind "&&", "--" or "~~"."""

    __slots__ = ("kind", "lhs", "rhs")

    def __init__(self, span: Span, kind: str, lhs: Ast, rhs: Ast) -> None:
        super().__init__(span)
        self.kind = kind
        self.lhs = lhs
        self.rhs = rhs


# --------------------------------------------------------------------------
# Parser (the grammar of regex-syntax 0.8, default options: octal off,
# nest limit 250, no empty minimum in counted repetitions)
# --------------------------------------------------------------------------

_META = frozenset("\\.+*?()|[]{}^$#&-~")
# Characters with a meaning at the top level of a pattern (outside classes).
_TOP_SPECIAL = frozenset("\\.+*?()|[{^$\n")
_REPEAT_OPS = frozenset("?*+{")
_SPECIAL_ESCAPES = {"a": "\x07", "f": "\x0c", "t": "\t", "n": "\n", "r": "\r", "v": "\x0b"}
_HEX = frozenset("0123456789abcdefABCDEF")
_FLAG_CHARS = frozenset("imsUuRx")


def _is_escapeable(c: str) -> bool:
    if c in _META:
        return True
    if not c.isascii():
        return False
    return not (c.isalnum() or c in "<>")


class _GroupState:
    __slots__ = ("concat", "group", "ignore_ws", "alt")

    def __init__(
        self, concat: AConcat | None, group: AGroup | None, ignore_ws: bool, alt: AAlt | None
    ) -> None:
        self.concat = concat
        self.group = group
        self.ignore_ws = ignore_ws
        self.alt = alt


class _ClassState:
    __slots__ = ("union", "cls", "op", "lhs")

    def __init__(
        self,
        union: CUnion | None = None,
        cls: AClass | None = None,
        op: str = "",
        lhs: Ast | None = None,
    ) -> None:
        self.union = union
        self.cls = cls
        self.op = op
        self.lhs = lhs


class Parser:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.n = len(pattern)
        self.i = 0
        self.line = 1
        self.col = 1
        self.ignore_ws = False
        self.capture_index = 0
        self.capture_names: dict[str, Span] = {}
        self.groups: list[_GroupState] = []
        self.classes: list[_ClassState] = []

    # -- low level --------------------------------------------------------
    def error(self, span: Span, message: str, aux: Span | None = None) -> RegexSyntaxError:
        return RegexSyntaxError(self.p, message, span, aux)

    def pos(self) -> Pos:
        return Pos(self.i, self.line, self.col)

    def set_pos(self, pos: Pos) -> None:
        self.i, self.line, self.col = pos

    def span(self) -> Span:
        p = Pos(self.i, self.line, self.col)
        return Span(p, p)

    def span_char(self) -> Span:
        start = Pos(self.i, self.line, self.col)
        if self.p[self.i] == "\n":
            end = Pos(self.i + 1, self.line + 1, 1)
        else:
            end = Pos(self.i + 1, self.line, self.col + 1)
        return Span(start, end)

    def eof(self) -> bool:
        return self.i >= self.n

    def char(self) -> str:
        return self.p[self.i]

    def bump(self) -> bool:
        if self.i >= self.n:
            return False
        if self.p[self.i] == "\n":
            self.line += 1
            self.col = 1
        else:
            self.col += 1
        self.i += 1
        return self.i < self.n

    def bump_if(self, prefix: str) -> bool:
        if self.p.startswith(prefix, self.i):
            for _ in prefix:
                self.bump()
            return True
        return False

    def bump_space(self) -> None:
        if not self.ignore_ws:
            return
        while self.i < self.n:
            c = self.p[self.i]
            if c in _WHITESPACE:
                self.bump()
            elif c == "#":
                self.bump()
                while self.i < self.n:
                    c = self.p[self.i]
                    self.bump()
                    if c == "\n":
                        break
            else:
                break

    def bump_and_bump_space(self) -> bool:
        if not self.bump():
            return False
        self.bump_space()
        return self.i < self.n

    def peek(self) -> str | None:
        if self.i + 1 < self.n:
            return self.p[self.i + 1]
        return None

    def peek_space(self) -> str | None:
        if not self.ignore_ws:
            return self.peek()
        if self.i >= self.n:
            return None
        start = self.i + 1
        in_comment = False
        for k in range(start, self.n):
            c = self.p[k]
            if c in _WHITESPACE:
                continue
            if not in_comment and c == "#":
                in_comment = True
            elif in_comment and c == "\n":
                in_comment = False
            else:
                start = k
                break
        return self.p[start] if start < self.n else None

    # -- top level ----------------------------------------------------------
    def parse(self) -> Ast:
        concat = AConcat(self.span(), [])
        while True:
            self.bump_space()
            if self.i >= self.n:
                break
            c = self.p[self.i]
            if c == "(":
                concat = self.push_group(concat)
            elif c == ")":
                concat = self.pop_group(concat)
            elif c == "|":
                concat = self.push_alternate(concat)
            elif c == "[":
                concat.items.append(self.parse_set_class())
            elif c == "?":
                concat = self.parse_uncounted_repetition(concat, 0, 1)
            elif c == "*":
                concat = self.parse_uncounted_repetition(concat, 0, None)
            elif c == "+":
                concat = self.parse_uncounted_repetition(concat, 1, None)
            elif c == "{":
                concat = self.parse_counted_repetition(concat)
            elif c not in _TOP_SPECIAL and not self.ignore_ws:
                # Fast path: a run of verbatim characters (the last one is
                # kept apart when a repetition operator follows it).
                p, i, n = self.p, self.i, self.n
                j = i + 1
                while j < n and p[j] not in _TOP_SPECIAL:
                    j += 1
                if j < n and p[j] in _REPEAT_OPS:
                    j -= 1
                if j - i >= 2:
                    start = Pos(i, self.line, self.col)
                    self.i = j
                    self.col += j - i
                    concat.items.append(ALits(Span(start, self.pos()), p[i:j]))
                else:
                    concat.items.append(self.parse_primitive())
            else:
                concat.items.append(self.parse_primitive())
        ast = self.pop_group_end(concat)
        _check_nesting(self, ast)
        return ast

    def push_alternate(self, concat: AConcat) -> AConcat:
        concat.span = Span(concat.span.start, self.pos())
        if self.groups and self.groups[-1].alt is not None:
            alt = self.groups[-1].alt
            alt.items.append(concat.into_ast())
        else:
            self.groups.append(
                _GroupState(
                    None,
                    None,
                    False,
                    AAlt(Span(concat.span.start, self.pos()), [concat.into_ast()]),
                )
            )
        self.bump()
        return AConcat(self.span(), [])

    def push_group(self, concat: AConcat) -> AConcat:
        result = self.parse_group()
        if isinstance(result, AFlags):
            state = _flag_state(result.items, "x")
            if state is not None:
                self.ignore_ws = state
            concat.items.append(result)
            return concat
        old = self.ignore_ws
        new = old
        if result.flags is not None:
            state = _flag_state(result.flags, "x")
            if state is not None:
                new = state
        self.groups.append(_GroupState(concat, result, old, None))
        self.ignore_ws = new
        return AConcat(self.span(), [])

    def pop_group(self, group_concat: AConcat) -> AConcat:
        alt: AAlt | None = None
        if not self.groups:
            raise self.error(self.span_char(), E_GROUP_UNOPENED)
        top = self.groups.pop()
        if top.alt is not None:
            alt = top.alt
            if not self.groups or self.groups[-1].group is None:
                raise self.error(self.span_char(), E_GROUP_UNOPENED)
            top = self.groups.pop()
        prior, group = top.concat, top.group
        assert prior is not None and group is not None
        self.ignore_ws = top.ignore_ws
        group_concat.span = Span(group_concat.span.start, self.pos())
        self.bump()
        group.span = Span(group.span.start, self.pos())
        if alt is not None:
            alt.span = Span(alt.span.start, group_concat.span.end)
            alt.items.append(group_concat.into_ast())
            group.sub = alt
        else:
            group.sub = group_concat.into_ast()
        prior.items.append(group)
        return prior

    def pop_group_end(self, concat: AConcat) -> Ast:
        concat.span = Span(concat.span.start, self.pos())
        if not self.groups:
            return concat.into_ast()
        top = self.groups.pop()
        if top.alt is not None:
            top.alt.span = Span(top.alt.span.start, self.pos())
            top.alt.items.append(concat.into_ast())
            ast: Ast = top.alt
        else:
            assert top.group is not None
            raise self.error(top.group.span, E_GROUP_UNCLOSED)
        if self.groups:
            g = self.groups.pop().group
            assert g is not None
            raise self.error(g.span, E_GROUP_UNCLOSED)
        return ast

    # -- repetitions --------------------------------------------------------
    def _pop_repeatable(self, concat: AConcat) -> Ast:
        if not concat.items or isinstance(concat.items[-1], (AEmpty, AFlags)):
            raise self.error(self.span(), E_REP_MISSING)
        return concat.items.pop()

    def parse_uncounted_repetition(self, concat: AConcat, lo: int, hi: int | None) -> AConcat:
        op_start = self.pos()
        ast = self._pop_repeatable(concat)
        greedy = True
        if self.bump() and self.p[self.i] == "?":
            greedy = False
            self.bump()
        end = self.pos()
        concat.items.append(
            ARep(Span(ast.span.start, end), Span(op_start, end), lo, hi, greedy, ast)
        )
        return concat

    def parse_counted_repetition(self, concat: AConcat) -> AConcat:
        start = self.pos()
        ast = self._pop_repeatable(concat)
        if not self.bump_and_bump_space():
            raise self.error(Span(start, self.pos()), E_REP_UNCLOSED)
        count_start = self.parse_decimal()
        if self.eof():
            raise self.error(Span(start, self.pos()), E_REP_UNCLOSED)
        hi: int | None
        if self.char() == ",":
            if not self.bump_and_bump_space():
                raise self.error(Span(start, self.pos()), E_REP_UNCLOSED)
            if self.char() != "}":
                lo = _decimal_or_raise(self, count_start)
                hi = _decimal_or_raise(self, self.parse_decimal())
            else:
                lo = _decimal_or_raise(self, count_start)
                hi = None
        else:
            lo = _decimal_or_raise(self, count_start)
            hi = lo
        if self.eof() or self.char() != "}":
            raise self.error(Span(start, self.pos()), E_REP_UNCLOSED)
        greedy = True
        if self.bump_and_bump_space() and self.char() == "?":
            greedy = False
            self.bump()
        op_span = Span(start, self.pos())
        if hi is not None and lo > hi:
            raise self.error(op_span, E_REP_INVALID)
        concat.items.append(ARep(Span(ast.span.start, self.pos()), op_span, lo, hi, greedy, ast))
        return concat

    def parse_decimal(self) -> int | tuple[Span, str]:
        """A decimal, or (span, message) when there is none (the caller
        decides whether that is an error)."""
        while self.i < self.n and self.p[self.i] in _WHITESPACE:
            self.bump()
        start = self.pos()
        digits = []
        while self.i < self.n and "0" <= self.p[self.i] <= "9":
            digits.append(self.p[self.i])
            self.bump_and_bump_space()
        span = Span(start, self.pos())
        while self.i < self.n and self.p[self.i] in _WHITESPACE:
            self.bump_and_bump_space()
        if not digits:
            return (span, E_REP_DECIMAL)
        value = int("".join(digits))
        if value > 0xFFFFFFFF:
            return (span, E_DECIMAL_INVALID)
        return value

    # -- groups and flags ---------------------------------------------------
    def parse_group(self) -> AFlags | AGroup:
        open_span = self.span_char()
        self.bump()
        self.bump_space()
        if self.bump_if("?=") or self.bump_if("?!") or self.bump_if("?<=") or self.bump_if("?<!"):
            raise self.error(Span(open_span.start, self.pos()), E_LOOKAROUND)
        inner_span = self.span()
        if self.bump_if("?P<") or self.bump_if("?<"):
            index = self.next_capture_index(open_span)
            name = self.parse_capture_name()
            return AGroup(open_span, "named", index, name)
        if self.bump_if("?"):
            if self.eof():
                raise self.error(open_span, E_GROUP_UNCLOSED)
            flags = self.parse_flags()
            char_end = self.char()
            self.bump()
            if char_end == ")":
                if not flags:
                    raise self.error(inner_span, E_REP_MISSING)
                return AFlags(Span(open_span.start, self.pos()), flags)
            return AGroup(open_span, "noncap", flags=flags)
        index = self.next_capture_index(open_span)
        return AGroup(open_span, "cap", index)

    def next_capture_index(self, span: Span) -> int:
        if self.capture_index >= 0xFFFFFFFF:
            raise self.error(span, E_CAPTURE_LIMIT)
        self.capture_index += 1
        return self.capture_index

    def parse_capture_name(self) -> str:
        if self.eof():
            raise self.error(self.span(), E_NAME_EOF)
        start = self.pos()
        while True:
            c = self.char()
            if c == ">":
                break
            first = self.i == start.offset
            ok = c == "_" or (_alphabetic(c) if first else (c in ".[]" or _alphanumeric(c)))
            if not ok:
                raise self.error(self.span_char(), E_NAME_INVALID)
            if not self.bump():
                break
        end = self.pos()
        if self.eof():
            raise self.error(self.span(), E_NAME_EOF)
        self.bump()
        name = self.p[start.offset : end.offset]
        if not name:
            raise self.error(Span(start, start), E_NAME_EMPTY)
        span = Span(start, end)
        if name in self.capture_names:
            raise self.error(span, E_NAME_DUPLICATE, self.capture_names[name])
        self.capture_names[name] = span
        return name

    def parse_flags(self) -> list[tuple[Span, str]]:
        items: list[tuple[Span, str]] = []
        last_negation: Span | None = None
        while self.char() != ":" and self.char() != ")":
            c = self.char()
            sp = self.span_char()
            if c == "-":
                last_negation = sp
            else:
                last_negation = None
                if c not in _FLAG_CHARS:
                    raise self.error(sp, E_FLAG)
            for osp, oc in items:
                if oc == c:
                    raise self.error(sp, E_FLAG_NEGATION if c == "-" else E_FLAG_DUPLICATE, osp)
            items.append((sp, c))
            if not self.bump():
                raise self.error(self.span(), E_FLAG_EOF)
        if last_negation is not None:
            raise self.error(last_negation, E_FLAG_DANGLING)
        return items

    # -- primitives and escapes -------------------------------------------
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

    # -- bracketed classes ----------------------------------------------------
    def parse_set_class(self) -> AClass:
        union = CUnion(self.span(), [])
        while True:
            self.bump_space()
            if self.eof():
                raise self.unclosed_class_error()
            c = self.char()
            if c == "[":
                if self.classes:
                    ascii_cls = self.maybe_parse_ascii_class()
                    if ascii_cls is not None:
                        union.push(ascii_cls)
                        continue
                union = self.push_class_open(union)
            elif c == "]":
                done = self.pop_class(union)
                if isinstance(done, AClass):
                    return done
                union = done
            elif c == "&" and self.peek() == "&":
                self.bump_if("&&")
                union = self.push_class_op("&&", union)
            elif c == "-" and self.peek() == "-":
                self.bump_if("--")
                union = self.push_class_op("--", union)
            elif c == "~" and self.peek() == "~":
                self.bump_if("~~")
                union = self.push_class_op("~~", union)
            else:
                union.push(self.parse_set_class_range())

    def unclosed_class_error(self) -> RegexSyntaxError:
        for state in reversed(self.classes):
            if state.cls is not None:
                return self.error(state.cls.span, E_CLASS_UNCLOSED)
        raise AssertionError("no open character class")

    def push_class_open(self, parent: CUnion) -> CUnion:
        start = self.pos()
        if not self.bump_and_bump_space():
            raise self.error(Span(start, self.pos()), E_CLASS_UNCLOSED)
        negated = False
        if self.char() == "^":
            negated = True
            if not self.bump_and_bump_space():
                raise self.error(Span(start, self.pos()), E_CLASS_UNCLOSED)
        union = CUnion(self.span(), [])
        while self.char() == "-":
            union.push(ALit(self.span_char(), "-", "verbatim"))
            if not self.bump_and_bump_space():
                raise self.error(Span(start, start), E_CLASS_UNCLOSED)
        if not union.items and self.char() == "]":
            union.push(ALit(self.span_char(), "]", "verbatim"))
            if not self.bump_and_bump_space():
                raise self.error(Span(start, self.pos()), E_CLASS_UNCLOSED)
        ustart = union.span.start
        cls = AClass(Span(start, self.pos()), negated, CUnion(Span(ustart, ustart), []))
        self.classes.append(_ClassState(union=parent, cls=cls))
        return union

    def pop_class_op(self, rhs: Ast) -> Ast:
        if self.classes and self.classes[-1].cls is None:
            state = self.classes.pop()
            assert state.lhs is not None
            return COp(Span(state.lhs.span.start, rhs.span.end), state.op, state.lhs, rhs)
        return rhs

    def push_class_op(self, kind: str, union: CUnion) -> CUnion:
        new_lhs = self.pop_class_op(union.into_item())
        self.classes.append(_ClassState(op=kind, lhs=new_lhs))
        return CUnion(self.span(), [])

    def pop_class(self, union: CUnion) -> CUnion | AClass:
        prevset = self.pop_class_op(union.into_item())
        state = self.classes.pop()
        cls, parent = state.cls, state.union
        assert cls is not None and parent is not None
        self.bump()
        cls.span = Span(cls.span.start, self.pos())
        cls.set = prevset
        if not self.classes:
            return cls
        parent.push(cls)
        return parent

    def parse_set_class_range(self) -> Ast:
        prim1 = self.parse_set_class_item()
        self.bump_space()
        if self.eof():
            raise self.unclosed_class_error()
        if self.char() != "-" or self.peek_space() in ("]", "-"):
            return self.into_class_set_item(prim1)
        if not self.bump_and_bump_space():
            raise self.unclosed_class_error()
        prim2 = self.parse_set_class_item()
        span = Span(prim1.span.start, prim2.span.end)
        lo = self.into_class_literal(prim1)
        hi = self.into_class_literal(prim2)
        if lo.c > hi.c:
            raise self.error(span, E_CLASS_RANGE)
        return CRange(span, lo, hi)

    def into_class_set_item(self, prim: Ast) -> Ast:
        if isinstance(prim, (ALit, APerl, AUnicode)):
            return prim
        raise self.error(prim.span, E_CLASS_ESCAPE)

    def into_class_literal(self, prim: Ast) -> ALit:
        if isinstance(prim, ALit):
            return prim
        raise self.error(prim.span, E_CLASS_RANGE_LITERAL)

    def parse_set_class_item(self) -> Ast:
        if self.char() == "\\":
            return self.parse_escape()
        sp = self.span_char()
        c = self.char()
        self.bump()
        return ALit(sp, c, "verbatim")

    def maybe_parse_ascii_class(self) -> CAscii | None:
        start = self.pos()
        negated = False
        if not self.bump() or self.char() != ":":
            self.set_pos(start)
            return None
        if not self.bump():
            self.set_pos(start)
            return None
        if self.char() == "^":
            negated = True
            if not self.bump():
                self.set_pos(start)
                return None
        name_start = self.i
        while self.char() != ":" and self.bump():
            pass
        if self.eof():
            self.set_pos(start)
            return None
        name = self.p[name_start : self.i]
        if not self.bump_if(":]"):
            self.set_pos(start)
            return None
        if name not in _ASCII_CLASSES:
            self.set_pos(start)
            return None
        return CAscii(Span(start, self.pos()), name, negated)


def _decimal_or_raise(parser: Parser, value: int | tuple[Span, str]) -> int:
    if isinstance(value, int):
        return value
    raise parser.error(value[0], value[1])


def _flag_state(items: Sequence[tuple[Span, str]], flag: str) -> bool | None:
    negated = False
    for _, c in items:
        if c == "-":
            negated = True
        elif c == flag:
            return not negated
    return None


def _check_nesting(parser: Parser, ast: Ast) -> None:
    """regex-syntax's nest limit: groups, repetitions, concatenations,
    alternations and (nested) classes, unions and class operations each add
    one level."""

    def visit(node: Ast, depth: int) -> None:
        if isinstance(node, (ARep, AGroup, AConcat, AAlt, AClass, CUnion, COp)):
            depth += 1
            if depth > NEST_LIMIT:
                raise parser.error(node.span, E_NEST)
        if isinstance(node, ARep):
            visit(node.sub, depth)
        elif isinstance(node, AGroup):
            visit(node.sub, depth)
        elif isinstance(node, (AConcat, AAlt, CUnion)):
            for item in node.items:
                visit(item, depth)
        elif isinstance(node, AClass):
            visit(node.set, depth)
        elif isinstance(node, COp):
            visit(node.lhs, depth)
            visit(node.rhs, depth)

    visit(ast, 0)


# --------------------------------------------------------------------------
# Intermediate form (mirrors regex-syntax's HIR and its simplifying
# constructors, so that the NFA size estimate below follows the Rust crate)
# --------------------------------------------------------------------------


class Hir:
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class HEmpty(Hir):
    pass


@dataclass(frozen=True, slots=True)
class HLit(Hir):
    """A non-empty literal string."""

    text: str


@dataclass(frozen=True, slots=True)
class HClass(Hir):
    """One character from a set (scalar indexes); `ranges == ()` never
    matches.  `ascii_bytes` marks a class built in `(?-u)` mode."""

    ranges: Ranges
    ascii_bytes: bool = False


@dataclass(frozen=True, slots=True)
class HLook(Hir):
    kind: str


@dataclass(frozen=True, slots=True)
class HRep(Hir):
    sub: Hir
    min: int
    max: int | None
    greedy: bool = True


@dataclass(frozen=True, slots=True)
class HCap(Hir):
    index: int
    name: str | None
    sub: Hir


@dataclass(frozen=True, slots=True)
class HCat(Hir):
    items: tuple[Hir, ...]


@dataclass(frozen=True, slots=True)
class HAlt(Hir):
    items: tuple[Hir, ...]


H_EMPTY = HEmpty()
H_FAIL = HClass((), True)

# Look kinds.  Native ones are evaluated by RE2 itself.
LOOK_START = "start"  # \A (and ^ without m)
LOOK_END = "end"  # \z (and $ without m)
LOOK_START_LF = "start_lf"
LOOK_END_LF = "end_lf"
LOOK_START_CRLF = "start_crlf"
LOOK_END_CRLF = "end_crlf"
NATIVE_LOOKS = frozenset(
    {LOOK_START, LOOK_END, LOOK_START_LF, LOOK_END_LF, "word_ascii", "word_ascii_negate"}
)
UNICODE_WORD_LOOKS = frozenset(
    {
        "word_unicode",
        "word_unicode_negate",
        "word_start_unicode",
        "word_end_unicode",
        "word_start_half_unicode",
        "word_end_half_unicode",
    }
)


def _utf8_len(index: int) -> int:
    cp = to_cp(index)
    return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4


def hir_min_len(h: Hir) -> int | None:
    """regex-syntax's `minimum_len` (bytes; None for a class that cannot
    match)."""
    if isinstance(h, HLit):
        return len(h.text.encode("utf-8"))
    if isinstance(h, HClass):
        if not h.ranges:
            return None
        return 1 if h.ascii_bytes else _utf8_len(h.ranges[0][0])
    if isinstance(h, (HEmpty, HLook)):
        return 0
    if isinstance(h, HRep):
        m = hir_min_len(h.sub)
        return None if m is None else m * h.min
    if isinstance(h, HCap):
        return hir_min_len(h.sub)
    if isinstance(h, HCat):
        total = 0
        for x in h.items:
            m = hir_min_len(x)
            if m is None:
                return None
            total += m
        return total
    if isinstance(h, HAlt):
        best: int | None = None
        for x in h.items:
            m = hir_min_len(x)
            if m is None:
                return None
            if best is None or m < best:
                best = m
        return best
    raise TypeError(h)


def hir_max_len(h: Hir) -> int | None:
    """regex-syntax's `maximum_len` (None: unbounded or cannot match)."""
    if isinstance(h, HLit):
        return len(h.text.encode("utf-8"))
    if isinstance(h, HClass):
        if not h.ranges:
            return None
        return 1 if h.ascii_bytes else _utf8_len(h.ranges[-1][1])
    if isinstance(h, (HEmpty, HLook)):
        return 0
    if isinstance(h, HRep):
        if h.max is None:
            return None
        m = hir_max_len(h.sub)
        return None if m is None else m * h.max
    if isinstance(h, HCap):
        return hir_max_len(h.sub)
    if isinstance(h, HCat):
        total = 0
        for x in h.items:
            m = hir_max_len(x)
            if m is None:
                return None
            total += m
        return total
    if isinstance(h, HAlt):
        best: int | None = None
        for x in h.items:
            m = hir_max_len(x)
            if m is None:
                return None
            if best is None or m > best:
                best = m
        return best
    raise TypeError(h)


def hir_look_prefix(h: Hir) -> frozenset[str]:
    """regex-syntax's `look_set_prefix`: assertions every match begins with."""
    if isinstance(h, HLook):
        return frozenset((h.kind,))
    if isinstance(h, HRep):
        return hir_look_prefix(h.sub) if h.min > 0 else frozenset()
    if isinstance(h, HCap):
        return hir_look_prefix(h.sub)
    if isinstance(h, HCat):
        out: frozenset[str] = frozenset()
        for x in h.items:
            out |= hir_look_prefix(x)
            mx = hir_max_len(x)
            if mx is None or mx > 0:
                break
        return out
    if isinstance(h, HAlt):
        sets = [hir_look_prefix(x) for x in h.items]
        return frozenset.intersection(*sets) if sets else frozenset()
    return frozenset()


def hir_look_suffix(h: Hir) -> frozenset[str]:
    if isinstance(h, HLook):
        return frozenset((h.kind,))
    if isinstance(h, HRep):
        return hir_look_suffix(h.sub) if h.min > 0 else frozenset()
    if isinstance(h, HCap):
        return hir_look_suffix(h.sub)
    if isinstance(h, HCat):
        out: frozenset[str] = frozenset()
        for x in reversed(h.items):
            out |= hir_look_suffix(x)
            mx = hir_max_len(x)
            if mx is None or mx > 0:
                break
        return out
    if isinstance(h, HAlt):
        sets = [hir_look_suffix(x) for x in h.items]
        return frozenset.intersection(*sets) if sets else frozenset()
    return frozenset()


def rust_class(ranges: Ranges, ascii_bytes: bool) -> Hir:
    if not ranges:
        return H_FAIL
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return HLit(chr(to_cp(ranges[0][0])))
    return HClass(ranges, ascii_bytes)


def rust_concat(subs: Iterable[Hir]) -> Hir:
    new: list[Hir] = []
    lit: list[str] = []

    def add(x: Hir) -> None:
        if isinstance(x, HLit):
            lit.append(x.text)
        elif isinstance(x, HEmpty):
            pass
        else:
            if lit:
                new.append(HLit("".join(lit)))
                lit.clear()
            new.append(x)

    for sub in subs:
        if isinstance(sub, HCat):
            for sub2 in sub.items:
                add(sub2)
        else:
            add(sub)
    if lit:
        new.append(HLit("".join(lit)))
    if not new:
        return H_EMPTY
    if len(new) == 1:
        return new[0]
    return HCat(tuple(new))


def rust_alternation(subs: Iterable[Hir]) -> Hir:
    new: list[Hir] = []
    for sub in subs:
        if isinstance(sub, HAlt):
            new.extend(sub.items)
        else:
            new.append(sub)
    if not new:
        return H_FAIL
    if len(new) == 1:
        return new[0]
    if all(isinstance(x, HLit) and len(x.text) == 1 for x in new):
        chars = cs_norm(
            (to_index(ord(x.text)), to_index(ord(x.text))) for x in new if isinstance(x, HLit)
        )
        return rust_class(chars, False)
    if all(isinstance(x, HClass) for x in new):
        union: Ranges = ()
        for x in new:
            assert isinstance(x, HClass)
            union = cs_union(union, x.ranges)
        return rust_class(union, False)
    lifted = _lift_common_prefix(new)
    if lifted is not None:
        return lifted
    return HAlt(tuple(new))


def _lift_common_prefix(hirs: list[Hir]) -> Hir | None:
    first = hirs[0]
    if not isinstance(first, HCat) or not first.items:
        return None
    prefix: tuple[Hir, ...] = first.items
    for h in hirs[1:]:
        if not isinstance(h, HCat):
            return None
        n = 0
        for x, y in zip(prefix, h.items, strict=False):
            if x != y:
                break
            n += 1
        prefix = prefix[:n]
        if not prefix:
            return None
    n = len(prefix)
    suffixes = []
    for h in hirs:
        assert isinstance(h, HCat)
        suffixes.append(rust_concat(h.items[n:]))
    return rust_concat(list(prefix) + [rust_alternation(suffixes)])


def rust_repetition(sub: Hir, lo: int, hi: int | None, greedy: bool) -> Hir:
    if hir_max_len(sub) == 0:
        lo = min(lo, 1)
        hi = 1 if hi is None else min(hi, 1)
    if lo == 0 and hi == 0:
        return H_EMPTY
    if lo == 1 and hi == 1:
        return sub
    return HRep(sub, lo, hi, greedy)


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


# --------------------------------------------------------------------------
# Simplifying constructors for rewritten expressions (no Rust fidelity
# needed past this point: only the language matters)
# --------------------------------------------------------------------------


def _is_fail(h: Hir) -> bool:
    return isinstance(h, HClass) and not h.ranges


def s_cat(items: Iterable[Hir]) -> Hir:
    out: list[Hir] = []
    for x in items:
        if isinstance(x, HCap):
            x = x.sub
        parts = x.items if isinstance(x, HCat) else (x,)
        for y in parts:
            if isinstance(y, HEmpty):
                continue
            if _is_fail(y):
                return H_FAIL
            if isinstance(y, HLit) and out and isinstance(out[-1], HLit):
                out[-1] = HLit(out[-1].text + y.text)
            else:
                out.append(y)
    if not out:
        return H_EMPTY
    if len(out) == 1:
        return out[0]
    return HCat(tuple(out))


def s_alt(items: Iterable[Hir]) -> Hir:
    out: list[Hir] = []
    seen: set[Hir] = set()
    for x in items:
        if isinstance(x, HCap):
            x = x.sub
        parts = x.items if isinstance(x, HAlt) else (x,)
        for y in parts:
            if _is_fail(y):
                continue
            try:
                if y in seen:
                    continue
                seen.add(y)
            except TypeError:  # pragma: no cover - all nodes are hashable
                pass
            out.append(y)
    if not out:
        return H_FAIL
    if len(out) == 1:
        return out[0]
    return HAlt(tuple(out))


def s_rep(sub: Hir, lo: int, hi: int | None) -> Hir:
    if hi is not None and hi < lo:
        return H_FAIL
    if hi == 0 or isinstance(sub, HEmpty):
        return H_EMPTY
    if _is_fail(sub):
        return H_EMPTY if lo == 0 else H_FAIL
    if lo == 1 and hi == 1:
        return sub
    return HRep(sub, lo, hi)


def _opt_sub(hi: int | None, k: int) -> int | None:
    return None if hi is None else hi - k


def _maybe_alt(items: list[Hir | None]) -> Hir | None:
    got = [x for x in items if x is not None]
    if not got:
        return None
    h = s_alt(got)
    return None if _is_fail(h) else h


def _cat_or_none(items: Sequence[Hir | None]) -> Hir | None:
    if any(x is None for x in items):
        return None
    h = s_cat([x for x in items if x is not None])
    return None if _is_fail(h) else h


def eps(h: Hir) -> Hir | None:
    """The empty matches of `h` (with the native assertions they need)."""
    if isinstance(h, HEmpty):
        return h
    if isinstance(h, HLook):
        return h
    if isinstance(h, (HLit, HClass)):
        return None
    if isinstance(h, HCap):
        return eps(h.sub)
    if isinstance(h, HCat):
        return _cat_or_none([eps(x) for x in h.items])
    if isinstance(h, HAlt):
        return _maybe_alt([eps(x) for x in h.items])
    if isinstance(h, HRep):
        if h.min == 0:
            return H_EMPTY
        return eps(h.sub)
    raise TypeError(h)


def _restrict(h: Hir, charset: Ranges | None, at_end: bool) -> Hir | None:
    """Non-empty matches of `h`; with `charset`, only those whose first
    (or, with `at_end`, last) character is in it."""
    if isinstance(h, HLit):
        if charset is None:
            return h
        c = h.text[-1] if at_end else h.text[0]
        return h if cs_contains(charset, to_index(ord(c))) else None
    if isinstance(h, HClass):
        if charset is None:
            return h if h.ranges else None
        got = cs_intersect(h.ranges, charset)
        return HClass(got) if got else None
    if isinstance(h, (HEmpty, HLook)):
        return None
    if isinstance(h, HCap):
        return _restrict(h.sub, charset, at_end)
    if isinstance(h, HAlt):
        return _maybe_alt([_restrict(x, charset, at_end) for x in h.items])
    if isinstance(h, HCat):
        items = h.items
        order = range(len(items) - 1, -1, -1) if at_end else range(len(items))
        alts: list[Hir | None] = []
        skipped: list[Hir] = []  # eps() of the items passed over
        for i in order:
            r = _restrict(items[i], charset, at_end)
            if r is not None:
                if at_end:
                    alts.append(_cat_or_none([*items[:i], r, *reversed(skipped)]))
                else:
                    alts.append(_cat_or_none([*skipped, r, *items[i + 1 :]]))
            e = eps(items[i])
            if e is None:
                break
            skipped.append(e)
        return _maybe_alt(alts)
    if isinstance(h, HRep):
        r = _restrict(h.sub, charset, at_end)
        if r is None:
            return None
        rest = s_rep(h.sub, max(h.min - 1, 0), _opt_sub(h.max, 1))
        first = s_cat([rest, r] if at_end else [r, rest])
        terms: list[Hir | None] = [first]
        e = eps(h.sub)
        if h.min >= 2 and e is not None and not isinstance(e, HEmpty):
            rest2 = s_rep(h.sub, 0, _opt_sub(h.max, 2))
            terms.append(s_cat([rest2, r, e] if at_end else [e, r, rest2]))
        return _maybe_alt(terms)
    raise TypeError(h)


# --------------------------------------------------------------------------
# Elimination of the assertions RE2 does not have
# --------------------------------------------------------------------------

State = tuple[int, int]  # (previous character's atom or -1 at start, allowed next mask)

#: Size (roughly: nodes) above which a rewrite is abandoned; the pattern is
#: then matched by a looser RE2 expression plus an exact check.
ELIMINATION_BUDGET = 4000


class TooComplex(Exception):
    """The exact RE2 form of a pattern would be too large."""


def word_look_holds(kind: str, before: bool, after: bool) -> bool:
    """Whether a word-boundary assertion (`word_ascii`, `word_start_unicode`,
    ...) holds between a character that is (`before`) or is not a word
    character and one that is (`after`) or is not; the start and end of
    the text count as non-word."""
    if kind.endswith("_negate"):
        return before == after
    base = kind.rsplit("_", 1)[0]
    if base == "word":
        return before != after
    if base == "word_start":
        return (not before) and after
    if base == "word_end":
        return before and not after
    if base == "word_start_half":
        return not before
    if base == "word_end_half":
        return not after
    raise AssertionError(kind)


class _LookEliminator:
    """Rewrites an expression so that non-native assertions are replaced by
    conditions on the characters around them.

    The characters are partitioned into "atoms" that every assertion
    condition respects.  A state is (class of the previous character, set of
    classes the next character may have), and `run(node, state)` returns,
    for every state after `node`, the expression matching what `node` can
    match from `state` to that state.  At the start the previous character
    is consumed (or `\\A` asserted); at the end the required next character
    is consumed (or `\\z` asserted).  That keeps the set of subjects with a
    match unchanged.
    """

    def __init__(self, root: Hir, word_unicode: Ranges | None, special: frozenset[str]) -> None:
        self.special = special
        kinds = _collect_looks(root)
        splitters: list[Ranges] = []
        if any(k.endswith("_unicode") or k.endswith("_unicode_negate") for k in kinds & special):
            assert word_unicode is not None
            splitters.append(word_unicode)
        if any("ascii" in k for k in kinds & special):
            splitters.append(ASCII_WORD)
        if kinds & {LOOK_START_CRLF, LOOK_END_CRLF}:
            splitters += [cs_single(0x0A), cs_single(0x0D)]
        atoms: list[Ranges] = [UNIVERSE]
        for d in splitters:
            nxt: list[Ranges] = []
            for a in atoms:
                for part in (cs_intersect(a, d), cs_difference(a, d)):
                    if part:
                        nxt.append(part)
            atoms = nxt
        self.atoms = atoms
        self.k = len(atoms)
        self.eot = 1 << self.k
        self.full = (1 << (self.k + 1)) - 1
        self.word_u = [word_unicode is not None and cs_is_subset(a, word_unicode) for a in atoms]
        self.word_a = [cs_is_subset(a, ASCII_WORD) for a in atoms]
        self.is_lf = [a == cs_single(0x0A) for a in atoms]
        self.is_cr = [a == cs_single(0x0D) for a in atoms]
        self.memo: dict[tuple[int, State], dict[State, Hir]] = {}
        self.special_memo: dict[int, bool] = {}
        self.size_memo: dict[int, tuple[Hir, int]] = {}
        self.keep: list[Hir] = []  # keeps memo keys (ids) alive

    def size(self, h: Hir) -> int:
        got = self.size_memo.get(id(h))
        if got is not None:
            return got[1]
        if isinstance(h, HLit):
            n = 1 + len(h.text) // 8
        elif isinstance(h, HClass):
            n = 1 + len(h.ranges) // 4
        elif isinstance(h, (HRep, HCap)):
            n = 1 + self.size(h.sub)
        elif isinstance(h, (HCat, HAlt)):
            n = 1 + sum(self.size(x) for x in h.items)
        else:
            n = 1
        self.size_memo[id(h)] = (h, n)
        return n

    def checked(self, h: Hir) -> Hir:
        if self.size(h) > ELIMINATION_BUDGET:
            raise TooComplex()
        return h

    # -- predicates ---------------------------------------------------------
    def allowed(self, kind: str, prev: int) -> int:
        """Mask of next classes (and end of text) allowed after `prev`."""
        mask = 0
        for nxt in list(range(self.k)) + [-1]:
            if self.holds(kind, prev, nxt):
                mask |= self.eot if nxt < 0 else (1 << nxt)
        return mask

    def holds(self, kind: str, prev: int, nxt: int) -> bool:
        if kind == LOOK_START_CRLF:
            return (
                prev < 0
                or self.is_lf[prev]
                or (self.is_cr[prev] and (nxt < 0 or not self.is_lf[nxt]))
            )
        if kind == LOOK_END_CRLF:
            return (
                nxt < 0
                or self.is_cr[nxt]
                or (self.is_lf[nxt] and (prev < 0 or not self.is_cr[prev]))
            )
        table = self.word_u if "unicode" in kind else self.word_a
        return word_look_holds(kind, prev >= 0 and table[prev], nxt >= 0 and table[nxt])

    def charset(self, mask: int) -> Ranges:
        out: Ranges = ()
        for a in range(self.k):
            if mask & (1 << a):
                out = cs_union(out, self.atoms[a])
        return out

    # -- the rewrite ----------------------------------------------------------
    def has_special(self, h: Hir) -> bool:
        key = id(h)
        got = self.special_memo.get(key)
        if got is None:
            if isinstance(h, HLook):
                got = h.kind in self.special
            elif isinstance(h, (HRep, HCap)):
                got = self.has_special(h.sub)
            elif isinstance(h, (HCat, HAlt)):
                got = any(self.has_special(x) for x in h.items)
            else:
                got = False
            self.special_memo[key] = got
            self.keep.append(h)
        return got

    def run(self, h: Hir, state: State) -> dict[State, Hir]:
        key = (id(h), state)
        got = self.memo.get(key)
        if got is None:
            got = self._run(h, state)
            self.memo[key] = got
            self.keep.append(h)
        return got

    def _run(self, h: Hir, state: State) -> dict[State, Hir]:
        prev, req = state
        if not self.has_special(h):
            return self.plain(h, state)
        if isinstance(h, HLook):
            mask = req & self.allowed(h.kind, prev)
            return {(prev, mask): H_EMPTY} if mask else {}
        if isinstance(h, HCap):
            return self.run(h.sub, state)
        if isinstance(h, HAlt):
            out: dict[State, list[Hir]] = {}
            for x in h.items:
                for s, r in self.run(x, state).items():
                    out.setdefault(s, []).append(r)
            return {s: self.checked(s_alt(rs)) for s, rs in out.items()}
        if isinstance(h, HCat):
            # Runs of items without special assertions are handled as one.
            parts: list[Hir] = []
            run: list[Hir] = []
            for x in h.items:
                if self.has_special(x):
                    if run:
                        parts.append(run[0] if len(run) == 1 else HCat(tuple(run)))
                        run = []
                    parts.append(x)
                else:
                    run.append(x)
            if run:
                parts.append(run[0] if len(run) == 1 else HCat(tuple(run)))
            self.keep.extend(parts)
            return self.sequence(parts, state)
        if isinstance(h, HRep):
            copies: list[Hir] = [h.sub] * h.min
            if h.max is None:
                tail = self.sequence(copies, state)
                out2: dict[State, list[Hir]] = {}
                for s, r in tail.items():
                    for s2, r2 in self.star(h.sub, s).items():
                        out2.setdefault(s2, []).append(s_cat([r, r2]))
                return {s: self.checked(s_alt(rs)) for s, rs in out2.items()}
            optional = HAlt((H_EMPTY, h.sub))
            self.keep.append(optional)
            copies += [optional] * (h.max - h.min)
            return self.sequence(copies, state)
        raise TypeError(h)

    def sequence(self, parts: Sequence[Hir], state: State) -> dict[State, Hir]:
        cur: dict[State, Hir] = {state: H_EMPTY}
        for part in parts:
            nxt: dict[State, list[Hir]] = {}
            for s, r in cur.items():
                for s2, r2 in self.run(part, s).items():
                    nxt.setdefault(s2, []).append(s_cat([r, r2]))
            cur = {s: self.checked(s_alt(rs)) for s, rs in nxt.items()}
            if not cur:
                break
        return cur

    def plain(self, h: Hir, state: State) -> dict[State, Hir]:
        prev, req = state
        out: dict[State, Hir] = {}
        e = eps(h)
        if e is not None:
            out[state] = e
        first = None if req == self.full else self.charset(req)
        if first == ():
            return out
        ne = _restrict(h, first, False)
        if ne is None:
            return out
        for a in range(self.k):
            r = _restrict(ne, self.atoms[a], True)
            if r is not None:
                key = (a, self.full)
                cur = out.get(key)
                out[key] = r if cur is None else s_alt([cur, r])
        return out

    def star(self, sub: Hir, s0: State) -> dict[State, Hir]:
        states = [s0]
        index = {s0: 0}
        edges: list[dict[State, Hir]] = []
        i = 0
        while i < len(states):
            trans = self.run(sub, states[i])
            edges.append(trans)
            for t in trans:
                if t not in index:
                    index[t] = len(states)
                    states.append(t)
            i += 1
        n = len(states)
        m: list[list[Hir | None]] = [[None] * n for _ in range(n)]
        for si, trans in enumerate(edges):
            for t, edge in trans.items():
                j = index[t]
                old = m[si][j]
                m[si][j] = edge if old is None else s_alt([old, edge])
        for k in range(n):
            loop = _star(m[k][k])
            col = [m[i2][k] for i2 in range(n)]
            row = [m[k][j] for j in range(n)]
            for i2 in range(n):
                if col[i2] is None:
                    continue
                for j in range(n):
                    if row[j] is None:
                        continue
                    path = s_cat([col[i2], loop, row[j]])  # type: ignore[list-item]
                    cur = m[i2][j]
                    m[i2][j] = self.checked(path if cur is None else s_alt([cur, path]))
        result: dict[State, Hir] = {}
        for j in range(n):
            r: Hir | None = m[0][j]
            if j == 0:
                r = H_EMPTY if r is None else s_alt([H_EMPTY, r])
            if r is not None and not _is_fail(r):
                result[states[j]] = r
        return result

    def rewrite(self, root: Hir) -> Hir:
        contexts = [-1] + list(range(self.k))
        bodies: dict[int, Hir] = {}
        for ctx in contexts:
            out = self.run(root, (ctx, self.full))
            alts: list[Hir] = []
            for (_, req), r in out.items():
                if req == self.full:
                    alts.append(r)
                    continue
                ends: list[Hir] = []
                if req & self.eot:
                    ends.append(HLook(LOOK_END))
                chars = self.charset(req)
                if chars:
                    ends.append(HClass(chars))
                alts.append(s_cat([r, s_alt(ends)]))
            body = s_alt(alts)
            if not _is_fail(body):
                bodies[ctx] = body
        groups: dict[str, tuple[list[int], Hir]] = {}
        for ctx, body in bodies.items():
            key = emit(body)
            groups.setdefault(key, ([], body))[0].append(ctx)
        result: list[Hir] = []
        for ctxs, body in groups.values():
            if len(ctxs) == len(contexts):
                result.append(body)
                continue
            starts: list[Hir] = []
            if -1 in ctxs:
                starts.append(HLook(LOOK_START))
            mask = 0
            for c in ctxs:
                if c >= 0:
                    mask |= 1 << c
            if mask:
                starts.append(HClass(self.charset(mask)))
            result.append(s_cat([s_alt(starts), body]))
        return self.checked(s_alt(result))


def _star(x: Hir | None) -> Hir:
    if x is None:
        return H_EMPTY
    items = x.items if isinstance(x, HAlt) else (x,)
    kept = [y for y in items if not isinstance(y, HEmpty)]
    if not kept:
        return H_EMPTY
    return HRep(s_alt(kept), 0, None)


def _collect_looks(h: Hir) -> frozenset[str]:
    out: set[str] = set()
    stack = [h]
    while stack:
        x = stack.pop()
        if isinstance(x, HLook):
            out.add(x.kind)
        elif isinstance(x, (HRep, HCap)):
            stack.append(x.sub)
        elif isinstance(x, (HCat, HAlt)):
            stack.extend(x.items)
    return frozenset(out)


def _map_looks(h: Hir, mapping: dict[str, str]) -> Hir:
    if isinstance(h, HLook):
        kind = mapping.get(h.kind)
        return HLook(kind) if kind is not None else h
    if isinstance(h, HRep):
        return HRep(_map_looks(h.sub, mapping), h.min, h.max, h.greedy)
    if isinstance(h, HCap):
        return HCap(h.index, h.name, _map_looks(h.sub, mapping))
    if isinstance(h, HCat):
        return HCat(tuple(_map_looks(x, mapping) for x in h.items))
    if isinstance(h, HAlt):
        return HAlt(tuple(_map_looks(x, mapping) for x in h.items))
    return h


_ASCII_EQUIVALENT = {
    "word_unicode": "word_ascii",
    "word_unicode_negate": "word_ascii_negate",
    "word_start_unicode": "word_start_ascii",
    "word_end_unicode": "word_end_ascii",
    "word_start_half_unicode": "word_start_half_ascii",
    "word_end_half_unicode": "word_end_half_ascii",
}


def drop_looks(h: Hir, kinds: frozenset[str]) -> Hir:
    """`h` with the given assertions removed: it matches a superset of the
    subjects `h` matches."""
    if isinstance(h, HLook):
        return H_EMPTY if h.kind in kinds else h
    if isinstance(h, HRep):
        return s_rep(drop_looks(h.sub, kinds), h.min, h.max)
    if isinstance(h, HCap):
        return drop_looks(h.sub, kinds)
    if isinstance(h, HCat):
        return s_cat([drop_looks(x, kinds) for x in h.items])
    if isinstance(h, HAlt):
        return s_alt([drop_looks(x, kinds) for x in h.items])
    return h


def eliminate_looks(h: Hir, ascii_subject: bool) -> Hir:
    """An expression with only RE2's assertions that matches (somewhere in)
    the same subjects as `h`; with `ascii_subject`, only for ASCII subjects
    (where Unicode and ASCII word boundaries agree).  Raises TooComplex when
    that expression would be too large."""
    kinds = _collect_looks(h)
    if ascii_subject and kinds & UNICODE_WORD_LOOKS:
        h = _map_looks(h, _ASCII_EQUIVALENT)
        kinds = _collect_looks(h)
    special = frozenset(k for k in kinds if k not in NATIVE_LOOKS)
    if not special:
        return h
    word = perl_word() if special & UNICODE_WORD_LOOKS else None
    return _LookEliminator(h, word, special).rewrite(h)


# --------------------------------------------------------------------------
# RE2 syntax
# --------------------------------------------------------------------------

_RE2_MAX_REPEAT = 1000
_LOOK_SYNTAX = {
    LOOK_START: r"\A",
    LOOK_END: r"\z",
    LOOK_START_LF: "(?m:^)",
    LOOK_END_LF: "(?m:$)",
    "word_ascii": r"\b",
    "word_ascii_negate": r"\B",
}


def _esc(cp: int) -> str:
    if cp < 0x80:
        c = chr(cp)
        if c.isalnum():
            return c
        if 0x20 <= cp < 0x7F:
            return "\\" + c
        return f"\\x{cp:02x}"
    return f"\\x{{{cp:x}}}"


def _cp_ranges(ranges: Ranges) -> list[tuple[int, int]]:
    out = []
    for lo, hi in ranges:
        a, b = to_cp(lo), to_cp(hi)
        if a < _SURROGATE_LO <= b:
            out.append((a, _SURROGATE_LO - 1))
            out.append((0xE000, b))
        else:
            out.append((a, b))
    return out


def _class_items(ranges: list[tuple[int, int]]) -> str:
    parts = []
    for a, b in ranges:
        if a == b:
            parts.append(_esc(a))
        elif b == a + 1:
            parts.append(_esc(a) + _esc(b))
        else:
            parts.append(_esc(a) + "-" + _esc(b))
    return "".join(parts)


@functools.lru_cache(maxsize=512)
def emit_class(ranges: Ranges) -> str:
    if not ranges:
        return r"[^\x00-\x{10ffff}]"
    if ranges == UNIVERSE:
        return "(?s:.)"
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return _esc(to_cp(ranges[0][0]))
    if (
        len(ranges) == 2
        and ranges[0][0] == ranges[0][1]
        and ranges[1] == (ranges[0][0] + 32, ranges[0][0] + 32)
        and 0x41 <= ranges[0][0] <= 0x5A
    ):
        # RE2 turns a class such as [Kk] into a case-folded literal, which
        # can then pick up U+212A KELVIN SIGN (or U+017F for [Ss]) when RE2
        # merges it with other alternatives; an alternation keeps it exact.
        c = chr(ranges[0][0])
        return f"(?:{c}|{c.lower()})"
    direct = _cp_ranges(ranges)
    negated = _cp_ranges(cs_negate(ranges))
    if len(negated) < len(direct):
        return "[^" + _class_items(negated) + "]"
    return "[" + _class_items(direct) + "]"


def emit(h: Hir) -> str:
    out: list[str] = []
    _emit(h, "alt", _RE2_MAX_REPEAT, out)
    return "".join(out)


def _emit(h: Hir, ctx: str, budget: int, out: list[str]) -> None:
    """Append RE2 syntax for `h`.  ctx says what the text is embedded in
    ("alt", "cat" or "atom", the operand of a repetition); `budget` keeps
    nested counted repetitions within RE2's limit on their product."""
    if isinstance(h, HCap):
        _emit(h.sub, ctx, budget, out)
    elif isinstance(h, HLit):
        if ctx == "atom" and len(h.text) > 1:
            out.append("(?:")
            out.extend(_esc(ord(c)) for c in h.text)
            out.append(")")
        else:
            out.extend(_esc(ord(c)) for c in h.text)
    elif isinstance(h, HClass):
        out.append(emit_class(h.ranges))
    elif isinstance(h, HEmpty):
        if ctx == "atom":
            out.append("(?:)")
    elif isinstance(h, HLook):
        text = _LOOK_SYNTAX[h.kind]
        out.append("(?:" + text + ")" if ctx == "atom" else text)
    elif isinstance(h, HAlt):
        wrap = ctx != "alt"
        if wrap:
            out.append("(?:")
        for i, x in enumerate(h.items):
            if i:
                out.append("|")
            _emit(x, "cat", budget, out)
        if wrap:
            out.append(")")
    elif isinstance(h, HCat):
        wrap = ctx == "atom"
        if wrap:
            out.append("(?:")
        for x in h.items:
            _emit(x, "cat", budget, out)
        if wrap:
            out.append(")")
    elif isinstance(h, HRep):
        _emit_rep(h, ctx, budget, out)
    else:  # pragma: no cover
        raise TypeError(h)


def _emit_rep(h: HRep, ctx: str, budget: int, out: list[str]) -> None:
    lo, hi, sub = h.min, h.max, h.sub
    count = lo if hi is None else hi
    if count <= 1 or count <= budget:
        inner = budget if count <= 1 else budget // count
        wrap = ctx == "atom"
        if wrap:
            out.append("(?:")
        _emit(sub, "atom", inner, out)
        if hi is None:
            out.append("*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}")
        elif lo == 0 and hi == 1:
            out.append("?")
        elif lo == hi:
            out.append(f"{{{lo}}}")
        else:
            out.append(f"{{{lo},{hi}}}")
        if wrap:
            out.append(")")
        return
    # Too many copies for one RE2 repetition: split into chunks (the
    # language is the same: X{a}X{b} = X{a+b} and X{0,a}X{0,b} = X{0,a+b}).
    pieces: list[Hir] = []
    remaining = lo
    while remaining > 0:
        n = min(remaining, budget)
        pieces.append(HRep(sub, n, n))
        remaining -= n
    if hi is None:
        pieces.append(HRep(sub, 0, None))
    else:
        remaining = hi - lo
        while remaining > 0:
            n = min(remaining, budget)
            pieces.append(HRep(sub, 0, n))
            remaining -= n
    wrap = ctx == "atom"
    if wrap:
        out.append("(?:")
    for piece in pieces:
        if isinstance(piece, HRep) and piece.min == piece.max == 1:
            _emit(sub, "cat", budget, out)
        else:
            _emit(piece, "cat", budget, out)
    if wrap:
        out.append(")")


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Translation:
    """A pattern in Rust syntax and what RegexSetMap needs to match it.

    `re2` is an RE2 expression that matches (somewhere in) exactly the
    subjects the Rust pattern matches when `ascii_exact` and the subject is
    ASCII, or for every subject when `unicode_exact`.  Otherwise it matches
    a superset, and `exact()` (a linear-time Python check) decides; `loose`
    is then a superset expression valid for every subject.
    `nfa_forward`/`nfa_reverse` estimate the bytes this pattern adds to the
    Rust crate's NFAs; `anchored_start`/`anchored_end` tell whether every
    match must begin at the start (end) of the subject.
    """

    pattern: str
    re2: str
    ascii_exact: bool
    unicode_exact: bool
    loose: str | None
    hir: Hir | None
    nfa_forward: int
    nfa_reverse: int
    anchored_start: bool
    anchored_end: bool

    def exact(self, subject: str) -> bool:
        """Whether the pattern matches somewhere in `subject` (exact)."""
        if self.hir is None:
            raise ValueError("no exact check needed for " + repr(self.pattern))
        return _verifier(self.pattern).search(subject)


def parse_to_hir(pattern: str) -> Hir:
    """Parse and translate `pattern`; raises RegexSyntaxError."""
    ast = Parser(pattern).parse()
    return Translator(pattern).translate(ast)


#: How many translations `translate` keeps: well above the size of rule sets
#: kumod accepts (a few thousand typical rules reach its NFA size limit), so
#: that rebuilding a set (every memoize period) translates nothing.  (An
#: LRU cache smaller than a set being rebuilt would miss on every pattern.)
TRANSLATE_CACHE_SIZE = 16384


@functools.lru_cache(maxsize=TRANSLATE_CACHE_SIZE)
def translate(pattern: str) -> Translation:
    """Translate a Rust-syntax pattern; raises RegexSyntaxError, or
    SizeLimitError when the pattern alone is too large for the Rust crate.

    Results are cached: rule sets are typically rebuilt from the same
    patterns again and again (every memoize period of a policy).
    """
    fast = _translate_fast(pattern)
    if fast is not None:
        return fast
    return _translate_full(pattern)


def _translate_full(pattern: str) -> Translation:
    """`translate` by the general route: parse, translate, eliminate
    assertions, emit."""
    hir = parse_to_hir(pattern)
    fwd, rev = nfa_size(hir)
    if max(fwd, rev) > RUST_NFA_SIZE_LIMIT:
        raise SizeLimitError()
    kinds = _collect_looks(hir)
    ascii_exact = True
    try:
        re2 = _emit_on_boundaries(eliminate_looks(hir, ascii_subject=True))
    except TooComplex:
        ascii_exact = False
        re2 = _emit_on_boundaries(drop_looks(hir, kinds - NATIVE_LOOKS))
    unicode_exact = ascii_exact and not (kinds & UNICODE_WORD_LOOKS)
    loose = None
    if not unicode_exact:
        if ascii_exact:
            loose = _emit_on_boundaries(drop_looks(hir, kinds - NATIVE_LOOKS))
        else:
            loose = re2
    return Translation(
        pattern=pattern,
        re2=re2,
        ascii_exact=ascii_exact,
        unicode_exact=unicode_exact,
        loose=loose,
        hir=None if unicode_exact else hir,
        nfa_forward=fwd,
        nfa_reverse=rev,
        anchored_start=LOOK_START in hir_look_prefix(hir),
        anchored_end=LOOK_END in hir_look_suffix(hir),
    )


# --------------------------------------------------------------------------
# Fast path for the common shape of rule patterns
#
# Most bounce rules are a flat sequence of literal text, `.`, escapes such
# as `\.` and `\d`, simple bracketed classes, `^`, `$`, `\b` and (lazy or
# counted) repetitions of one such item, possibly after `(?i)`.  Such a
# pattern is a top-level concatenation, which the general route translates
# item by item (`rust_concat` of each item's HIR, each depending only on the
# flags in force), emits item by item, and whose NFA cost is that of its
# parts put end to end (`_NfaCost._concat`).  So each distinct token (`\d+`,
# `[45]`, `.*`, a letter under `(?i)`) is translated once, on its own, by
# the general route, and remembered with its RE2 text and NFA costs; a
# pattern is then only cut into tokens (where the parser cuts it: a
# repetition takes the one item before it, a class ends at its first
# unescaped `]`) and the results are combined as the general route combines
# them.  The only assertion needing a rewrite is `\b`: RE2's ASCII `\b`,
# exact on ASCII subjects, and dropped from the loose form, as
# `eliminate_looks` and `drop_looks` do.  Anything else (groups,
# alternations, other flags, unusual escapes, nested repetitions, any
# error, sizes over the limit) takes the general route, which alone
# reports errors.  tests/test_regex_set_map.py checks that both routes
# agree.
# --------------------------------------------------------------------------


class _Atom(NamedTuple):
    """One token of a pattern, translated: its HIR, its text if that is a
    literal, the assertion kind it is (if any), its forward and reverse NFA
    costs, its RE2 text and its text in the loose form (where Unicode word
    boundaries are dropped)."""

    node: Hir
    lit: str | None
    look: str | None
    fwd: Cost
    rev: Cost
    re2: str
    loose: str


_EMPTY_ATOM = _Atom(H_EMPTY, "", None, (1, 0, False), (1, 0, False), "", "")
_FAST_LOOKS = frozenset({LOOK_START, LOOK_END, "word_unicode"})
_FAST_SPECIAL = frozenset("\\.+*?()|[{^$")
_FAST_REPEAT = frozenset("?*+{")
# A run of verbatim characters (everything but the top-level specials).
_LIT_RUN = re.compile(r"[^\\.+*?()|\[{^$]+")
# A bracketed class without nested brackets (and not starting with `]`).
_CLASS_TOKEN = re.compile(r"\[\^?(?:[^\\\[\]]|\\.)+\]", re.DOTALL)
_COUNTED_OP = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
# Translated tokens, without and with `(?i)`; None: not for the fast path.
_ATOMS: tuple[dict[str, _Atom | None], dict[str, _Atom | None]] = ({}, {})
_ATOMS_MAX = 16384


class _EscapeTable(dict[int, str]):
    """`str.translate` table: a character -> its RE2 text (`_esc`)."""

    def __missing__(self, cp: int) -> str:
        text = _esc(cp)
        self[cp] = text
        return text


_ESCAPES = _EscapeTable()


def _make_atom(ci: bool, key: str) -> _Atom | None:
    """The token `key` (under `(?i)` with `ci`) translated on its own by the
    general route, or None when the fast path cannot use it."""
    try:
        h = parse_to_hir("(?i)" + key if ci else key)
    except Exception:  # an error (or any surprise): the general route decides
        return None
    if isinstance(h, HEmpty):
        return _EMPTY_ATOM
    look: str | None = None
    if isinstance(h, HLook):
        if h.kind not in _FAST_LOOKS:
            return None
        look = h.kind
    elif isinstance(h, HRep):
        if not isinstance(h.sub, (HLit, HClass)) or _is_fail(h.sub):
            return None
    elif not isinstance(h, (HLit, HClass)) or _is_fail(h):
        return None
    out: list[str] = []
    if look == "word_unicode":  # `\b` on ASCII subjects; dropped from `loose`
        _emit(HLook("word_ascii"), "cat", _RE2_MAX_REPEAT, out)
        loose = ""
    else:
        _emit(h, "cat", _RE2_MAX_REPEAT, out)
        loose = "".join(out)
    return _Atom(
        h,
        h.text if isinstance(h, HLit) else None,
        look,
        _NfaCost(False).cost(h),
        _NfaCost(True).cost(h),
        "".join(out),
        loose,
    )


def _atom(ci: bool, key: str) -> _Atom | None:
    memo = _ATOMS[ci]
    try:
        return memo[key]
    except KeyError:
        pass
    got = _make_atom(ci, key)
    if len(memo) >= _ATOMS_MAX:
        memo.clear()
    memo[key] = got
    return got


def _fast_scan(pattern: str) -> list[_Atom | str] | None:
    """The pattern as a sequence of tokens: literal texts (outside `(?i)`)
    and translated tokens; None when it is not of the shape the fast path
    handles."""
    seq: list[_Atom | str] = []
    p = pattern
    n = len(p)
    i = 0
    ci = False
    special = _FAST_SPECIAL
    repeat = _FAST_REPEAT
    atom = _atom
    piece: _Atom | None
    while i < n:
        c = p[i]
        if c in special:
            if c == "\\":
                j = i + 2
            elif c == "[":
                m = _CLASS_TOKEN.match(p, i)
                if m is None:
                    return None
                j = m.end()
            elif c == "." or c == "^" or c == "$":
                j = i + 1
            elif p.startswith("(?i)", i):
                ci = True
                i += 4
                continue
            elif p.startswith("(?-i)", i):
                ci = False
                i += 5
                continue
            else:  # groups, alternations, a repetition of nothing or of a
                return None  # repetition
        else:
            m = _LIT_RUN.match(p, i)
            assert m is not None
            j = m.end()
            if j < n and p[j] in repeat:
                j -= 1  # the last character is repeated on its own
            if j > i:
                if ci:
                    for ch in p[i:j]:
                        piece = atom(True, ch)
                        if piece is None:
                            return None
                        seq.append(piece)
                else:
                    seq.append(p[i:j])
                i = j
                continue
            j = i + 1
        if j < n and p[j] in repeat:
            if p[j] == "{":
                m = _COUNTED_OP.match(p, j)
                if m is None:
                    return None
                k = m.end()
            else:
                k = j + 1
            if k < n and p[k] == "?":
                k += 1
            j = k  # (a repetition operator after this one is refused above)
        piece = atom(ci, p[i:j])
        if piece is None:
            return None
        if piece is not _EMPTY_ATOM:
            seq.append(piece)
        i = j
    return seq


def _fast_hir(seq: Sequence[_Atom | str]) -> Hir:
    """The HIR of a scanned pattern (what `rust_concat` makes of it)."""
    nodes: list[Hir] = []
    text: list[str] = []
    for x in seq:
        if isinstance(x, str):
            text.append(x)
        elif x.lit is not None:
            text.append(x.lit)
        else:
            if text:
                nodes.append(HLit("".join(text)))
                text = []
            nodes.append(x.node)
    if text:
        nodes.append(HLit("".join(text)))
    if not nodes:
        return H_EMPTY
    return nodes[0] if len(nodes) == 1 else HCat(tuple(nodes))


def _translate_fast(pattern: str) -> Translation | None:
    """`translate` for patterns of the common shape (see above), or None."""
    if not pattern.isascii():
        try:
            pattern.encode("utf-8")
        except UnicodeEncodeError:
            return None
    seq = _fast_scan(pattern)
    if seq is None:
        return None
    # The NFA cost of a concatenation (`_NfaCost._concat`) in each direction:
    # the parts' states and heap, plus an alternate for each part that
    # follows (in that direction) a part ending in a union.  Literal text
    # costs one state per byte, in pieces or merged.
    A = _ALTERNATE_BYTES
    texts: list[str] = []
    escapes = _ESCAPES
    lits = fs = fh = rs = rh = 0
    fu = ru = word = anchored_start = anchored_end = False
    first = leading = True
    for x in seq:
        if isinstance(x, str):
            lits += len(x) if x.isascii() else len(x.encode("utf-8"))
            if fu:
                fh += A
                fu = False
            texts.append(x.translate(escapes))
            leading = anchored_end = False
        else:
            s, hp, u = x.fwd
            fs += s
            fh += hp + A if fu else hp
            fu = u
            s, hp, u = x.rev
            rs += s
            rh += hp
            if u:  # reversed, this part comes just before the previous one
                if first:  # or last
                    ru = True
                else:
                    rh += A
            texts.append(x.re2)
            look = x.look
            if look is None:
                leading = anchored_end = False
            elif look == LOOK_START:
                anchored_start = anchored_start or leading
            elif look == LOOK_END:
                anchored_end = True
            else:
                word = True
        first = False
    if first:
        fs = rs = 1  # the empty expression
    fwd = (fs + lits + 1) * _STATE_BYTES + fh + (A if fu else 0)
    rev = (rs + lits + 1) * _STATE_BYTES + rh + (A if ru else 0)
    if fwd > RUST_NFA_SIZE_LIMIT or rev > RUST_NFA_SIZE_LIMIT:
        return None  # the general route raises
    loose: str | None = None
    hir: Hir | None = None
    if word:
        loose = "".join(
            t if isinstance(x, str) else x.loose for t, x in zip(texts, seq, strict=True)
        )
        hir = _fast_hir(seq)
    return Translation(
        pattern=pattern,
        re2="".join(texts),
        ascii_exact=True,
        unicode_exact=not word,
        loose=loose,
        hir=hir,
        nfa_forward=fwd,
        nfa_reverse=rev,
        anchored_start=anchored_start,
        anchored_end=anchored_end,
    )


def _emit_on_boundaries(h: Hir) -> str:
    """RE2 syntax for `h`, keeping empty matches on character boundaries.

    RE2 looks at bytes: `(?-u:\\B)` also holds between the bytes of one
    multi-byte character, where Rust never reports a match.  Every other
    assertion RE2 evaluates is false there, and a match that consumes text
    starts on a boundary, so only empty matches involving `\\B` need the
    guard: they are required to follow the start or a whole character.
    """
    if "word_ascii_negate" not in _collect_looks(h):
        return emit(h)
    e = eps(h)
    if e is None or "word_ascii_negate" not in _collect_looks(e):
        return emit(h)
    guard = s_alt([HLook(LOOK_START), HClass(UNIVERSE)])
    parts: list[Hir] = [s_cat([guard, e])]
    ne = _restrict(h, None, False)
    if ne is not None:
        parts.insert(0, ne)
    return emit(s_alt(parts))


# --------------------------------------------------------------------------
# Exact check for patterns whose RE2 form is only a superset: a Thompson NFA
# simulation over the subject's characters (linear in the subject length).
# --------------------------------------------------------------------------

_CHAR, _SPLIT, _LOOK, _MATCH = 0, 1, 2, 3


class Verifier:
    def __init__(self, hir: Hir) -> None:
        self.ops: list[int] = []
        self.args: list[object] = []
        self.nexts: list[int] = []
        match = self._add(_MATCH, None, -1)
        self.start = self._compile(hir, match)
        self._word: dict[str, bool] = {}

    def _add(self, op: int, arg: object, nxt: int) -> int:
        self.ops.append(op)
        self.args.append(arg)
        self.nexts.append(nxt)
        return len(self.ops) - 1

    def _compile(self, h: Hir, nxt: int) -> int:
        if isinstance(h, HEmpty):
            return nxt
        if isinstance(h, HLit):
            for c in reversed(h.text):
                nxt = self._add(_CHAR, cs_single(to_index(ord(c))), nxt)
            return nxt
        if isinstance(h, HClass):
            return self._add(_CHAR, h.ranges, nxt)
        if isinstance(h, HLook):
            return self._add(_LOOK, h.kind, nxt)
        if isinstance(h, HCap):
            return self._compile(h.sub, nxt)
        if isinstance(h, HCat):
            for x in reversed(h.items):
                nxt = self._compile(x, nxt)
            return nxt
        if isinstance(h, HAlt):
            targets = [self._compile(x, nxt) for x in h.items]
            return self._add(_SPLIT, targets, -1)
        if isinstance(h, HRep):
            if h.max is None:
                loop = self._add(_SPLIT, None, -1)
                body = self._compile(h.sub, loop)
                self.args[loop] = [body, nxt]
                entry = loop
            else:
                entry = nxt
                for _ in range(h.max - h.min):
                    entry = self._add(_SPLIT, [self._compile(h.sub, entry), nxt], -1)
            for _ in range(h.min):
                entry = self._compile(h.sub, entry)
            return entry
        raise TypeError(h)

    def _is_word(self, c: str | None, unicode: bool) -> bool:
        if c is None:
            return False
        if c.isascii():
            return c.isalnum() or c == "_"
        if not unicode:
            return False
        got = self._word.get(c)
        if got is None:
            got = cs_contains(perl_word(), to_index(ord(c)))
            self._word[c] = got
        return got

    def _holds(self, kind: str, prev: str | None, nxt: str | None) -> bool:
        if kind == LOOK_START:
            return prev is None
        if kind == LOOK_END:
            return nxt is None
        if kind == LOOK_START_LF:
            return prev is None or prev == "\n"
        if kind == LOOK_END_LF:
            return nxt is None or nxt == "\n"
        if kind == LOOK_START_CRLF:
            return prev is None or prev == "\n" or (prev == "\r" and nxt != "\n")
        if kind == LOOK_END_CRLF:
            return nxt is None or nxt == "\r" or (nxt == "\n" and prev != "\r")
        unicode = "unicode" in kind
        return word_look_holds(kind, self._is_word(prev, unicode), self._is_word(nxt, unicode))

    def search(self, text: str) -> bool:
        ops, args, nexts = self.ops, self.args, self.nexts
        n = len(text)
        threads: list[int] = []
        for i in range(n + 1):
            prev = text[i - 1] if i else None
            cur = text[i] if i < n else None
            seen: set[int] = set()
            stack = threads + [self.start]
            chars: list[int] = []
            while stack:
                pc = stack.pop()
                if pc in seen:
                    continue
                seen.add(pc)
                op = ops[pc]
                if op == _CHAR:
                    chars.append(pc)
                elif op == _SPLIT:
                    stack.extend(args[pc])  # type: ignore[arg-type]
                elif op == _LOOK:
                    if self._holds(args[pc], prev, cur):  # type: ignore[arg-type]
                        stack.append(nexts[pc])
                else:
                    return True
            if cur is None:
                return False
            index = to_index(ord(cur))
            threads = [nexts[pc] for pc in chars if cs_contains(args[pc], index)]  # type: ignore[arg-type]
        return False


@functools.lru_cache(maxsize=1024)
def _verifier(pattern: str) -> Verifier:
    return Verifier(translate(pattern).hir or parse_to_hir(pattern))


# --------------------------------------------------------------------------
# Size of the Rust crate's NFAs
#
# The regex crate refuses a set whose Thompson NFA (built by regex-automata,
# forward and, for its lazy DFA, reverse) would use more than `size_limit`
# bytes (10 MiB by default): 32 bytes per state, plus 8 bytes per transition
# of a sparse state and 4 per alternative of a union.  The estimate below
# follows how regex-automata 0.4 compiles each construct; it ignores hash
# collisions in the compiler's UTF-8 suffix caches (which can only make the
# real NFA a little larger).
# --------------------------------------------------------------------------

_STATE_BYTES = 32
_TRANSITION_BYTES = 8
_ALTERNATE_BYTES = 4

Cost = tuple[int, int, bool]  # (states, heap bytes, fragment ends in a union)


def _utf8_sequences(lo: int, hi: int) -> list[list[tuple[int, int]]]:
    """Split the code point range [lo, hi] into sequences of byte ranges
    that together match exactly its UTF-8 encodings (ascending order)."""
    out: list[list[tuple[int, int]]] = []
    stack = [(lo, hi)]
    limits = (0x7F, 0x7FF, 0xFFFF)
    while stack:
        a, b = stack.pop()
        while True:
            if a < 0xE000 and b > 0xD7FF:  # never encode surrogates
                stack.append((0xE000, b))
                b = 0xD7FF
                continue
            if a > b:
                break
            split = False
            for top in limits:  # one encoded length at a time
                if a <= top < b:
                    stack.append((top + 1, b))
                    b = top
                    split = True
                    break
            if split:
                continue
            if b <= 0x7F:
                out.append([(a, b)])
                break
            for i in (1, 2, 3):  # equal leading bytes, full trailing ranges
                m = (1 << (6 * i)) - 1
                if (a & ~m) != (b & ~m):
                    if a & m:
                        stack.append(((a | m) + 1, b))
                        b = a | m
                        split = True
                        break
                    if (b & m) != m:
                        stack.append((b & ~m, b))
                        b = (b & ~m) - 1
                        split = True
                        break
            if split:
                continue
            ea, eb = chr(a).encode("utf-8"), chr(b).encode("utf-8")
            out.append(list(zip(ea, eb, strict=True)))
            break
    return out


def _class_sequences(ranges: Ranges) -> list[list[tuple[int, int]]]:
    seqs: list[list[tuple[int, int]]] = []
    for lo, hi in ranges:
        seqs.extend(_utf8_sequences(to_cp(lo), to_cp(hi)))
    return seqs


@functools.lru_cache(maxsize=1024)
def _unicode_class_cost(ranges: Ranges, reverse: bool) -> tuple[int, int]:
    if reverse:
        # A union whose alternatives are chains of byte ranges, sharing
        # identical (range, continuation) links.
        keys: dict[tuple[int, int, int], int] = {}
        seqs = _class_sequences(ranges)
        for seq in seqs:
            end = -1
            for rng in seq:
                key = (end, rng[0], rng[1])
                got = keys.get(key)
                if got is None:
                    got = len(keys)
                    keys[key] = got
                end = got
        return 2 + len(keys), _ALTERNATE_BYTES * len(seqs)
    # Forward: an incrementally minimized automaton of the sequences.
    compiled: dict[tuple[tuple[int, int, int], ...], int] = {}
    heap = 0
    next_id = [1]  # 0 is the target state
    uncompiled: list[tuple[list[tuple[int, int, int]], tuple[int, int] | None]] = [([], None)]

    def compile_node(node: list[tuple[int, int, int]]) -> int:
        nonlocal heap
        key = tuple(node)
        got = compiled.get(key)
        if got is None:
            got = next_id[0]
            next_id[0] += 1
            compiled[key] = got
            heap += _TRANSITION_BYTES * len(node)
        return got

    def freeze(k: int, target: int) -> None:
        trans, last = uncompiled[k]
        if last is not None:
            trans.append((last[0], last[1], target))
            uncompiled[k] = (trans, None)

    def compile_from(start: int) -> None:
        nxt = 0
        while start + 1 < len(uncompiled):
            freeze(len(uncompiled) - 1, nxt)
            trans, _ = uncompiled.pop()
            nxt = compile_node(trans)
        freeze(len(uncompiled) - 1, nxt)

    for seq in _class_sequences(ranges):
        prefix = 0
        for rng, (_, last) in zip(seq, uncompiled, strict=False):
            if last != rng:
                break
            prefix += 1
        compile_from(prefix)
        uncompiled[-1] = (uncompiled[-1][0], seq[prefix])
        for rng in seq[prefix + 1 :]:
            uncompiled.append(([], rng))
    compile_from(0)
    compile_node(uncompiled.pop()[0])
    return next_id[0], heap


def _literal_trie_cost(literals: Sequence[bytes]) -> Cost:
    """regex-automata's trie for an alternation of literals."""
    # Each trie node: transitions (byte, child) and "chunks" cut by matches.
    trans: list[list[tuple[int, int]]] = [[]]
    chunks: list[list[int]] = [[]]  # end offsets of closed chunks
    for lit in literals:
        node = 0
        for b in lit:
            start = chunks[node][-1] if chunks[node] else 0
            active = trans[node][start:]
            child = next((c for byte, c in active if byte == b), None)
            if child is None:
                child = len(trans)
                trans.append([])
                chunks.append([])
                trans[node].append((b, child))
                # keep the active chunk sorted by byte
                trans[node][start:] = sorted(trans[node][start:])
            node = child
        if not (not trans[node] and chunks[node]):
            chunks[node].append(len(trans[node]))
    # Every node with transitions becomes a union of one state per chunk
    # (a byte range, or a sparse state when the chunk has several bytes),
    # with an extra alternative (the match) between consecutive chunks.
    states, heap = 1, 0  # the shared end state
    for node in range(len(trans)):
        if not trans[node]:
            continue  # leaves are the end state
        bounds = [0, *chunks[node], len(trans[node])]
        alternates = len(bounds) - 2  # matches between chunks
        for i in range(len(bounds) - 1):
            width = bounds[i + 1] - bounds[i]
            if width:
                states += 1
                alternates += 1
                if width > 1:
                    heap += _TRANSITION_BYTES * width
        states += 1
        heap += _ALTERNATE_BYTES * alternates
    return states, heap, False


class _NfaCost:
    def __init__(self, reverse: bool) -> None:
        self.reverse = reverse
        self.memo: dict[int, tuple[Hir, Cost]] = {}

    def cost(self, h: Hir) -> Cost:
        got = self.memo.get(id(h))
        if got is None:
            got = (h, self._cost(h))
            self.memo[id(h)] = got
        return got[1]

    def _concat(self, parts: Sequence[Cost]) -> Cost:
        if not parts:
            return 1, 0, False
        states = heap = 0
        prev_union = False
        for i, (s, hp, end_union) in enumerate(parts):
            states += s
            heap += hp
            if i and prev_union:
                heap += _ALTERNATE_BYTES
            prev_union = end_union
        return states, heap, prev_union

    def _exactly(self, sub: Hir, n: int) -> Cost:
        if n == 0:
            return 1, 0, False
        s, hp, u = self.cost(sub)
        # n copies, each end patched to the next start
        extra = _ALTERNATE_BYTES * (n - 1) if u else 0
        return s * n, hp * n + extra, u

    def _cost(self, h: Hir) -> Cost:
        A = _ALTERNATE_BYTES
        if isinstance(h, HEmpty):
            return 1, 0, False
        if isinstance(h, HLit):
            return len(h.text.encode("utf-8")), 0, False
        if isinstance(h, HLook):
            return 1, 0, False
        if isinstance(h, HCap):
            return self.cost(h.sub)
        if isinstance(h, HClass):
            if h.ascii_bytes or not h.ranges or h.ranges[-1][1] <= 0x7F:
                return 2, _TRANSITION_BYTES * len(h.ranges), False
            s, hp = _unicode_class_cost(h.ranges, self.reverse)
            return s, hp, False
        if isinstance(h, HCat):
            items = list(reversed(h.items)) if self.reverse else list(h.items)
            return self._concat([self.cost(x) for x in items])
        if isinstance(h, HAlt):
            if len(h.items) >= 2 and all(isinstance(x, HLit) for x in h.items):
                lits = [x.text.encode("utf-8") for x in h.items if isinstance(x, HLit)]
                if self.reverse:
                    lits = [lit[::-1] for lit in lits]
                return _literal_trie_cost(lits)
            states, heap = 2, 0
            for x in h.items:
                s, hp, u = self.cost(x)
                states += s
                heap += hp + A + (A if u else 0)
            return states, heap, False
        if isinstance(h, HRep):
            sub, lo, hi = h.sub, h.min, h.max
            s, hp, u = self.cost(sub)
            if lo == 0 and hi == 1:
                return s + 2, hp + 2 * A + (A if u else 0), False
            if hi is None:
                if lo == 0:
                    min_len = hir_min_len(sub)
                    if min_len is not None and min_len > 0:
                        return s + 1, hp + A + (A if u else 0), True
                    return s + 3, hp + 4 * A + (A if u else 0), False
                if lo == 1:
                    return s + 1, hp + 2 * A if u else hp + A, True
                ps, php, pu = self._exactly(sub, lo - 1)
                states = ps + s + 1
                heap = php + hp + (A if pu else 0) + (A if u else 0) + A
                return states, heap, True
            if lo == hi:
                return self._exactly(sub, lo)
            ps, php, pu = self._exactly(sub, lo)
            states = ps + 1 + (hi - lo) * (s + 1)
            heap = php + (hi - lo) * (hp + 2 * A)
            heap += A if pu else 0  # prefix end -> first union
            heap += (hi - lo - 1) * (A if u else 0)  # copy end -> next union
            heap += A if u else 0  # last copy end -> empty
            return states, heap, False
        raise TypeError(h)


def nfa_size(hir: Hir) -> tuple[int, int]:
    """Bytes one pattern adds to the crate's forward and reverse NFAs
    (its own states plus its match state and links)."""
    out = []
    for reverse in (False, True):
        s, hp, u = _NfaCost(reverse).cost(hir)
        s += 1  # the match state
        hp += _ALTERNATE_BYTES if u else 0
        out.append(s * _STATE_BYTES + hp)
    return out[0], out[1]


def set_nfa_size(translations: Sequence[Translation]) -> tuple[int, int]:
    """Estimated peak size of the crate's (forward, reverse) NFA builders
    for a set of patterns."""
    n = len(translations)
    totals = []
    for reverse in (False, True):
        total = sum(t.nfa_reverse if reverse else t.nfa_forward for t in translations)
        if n == 0:
            total += _STATE_BYTES
        elif n > 1:
            total += 2 * _STATE_BYTES + n * _ALTERNATE_BYTES
        anchored = all(t.anchored_end if reverse else t.anchored_start for t in translations)
        if anchored:
            total += _STATE_BYTES
        else:
            total += 3 * _STATE_BYTES + _TRANSITION_BYTES + 2 * _ALTERNATE_BYTES
        totals.append(total)
    return totals[0], totals[1]
