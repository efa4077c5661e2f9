"""Linear-time matching for `kumo.regex` patterns without fancy features.

fancy-regex (behind kumod's `kumo.regex.compile`) hands every pattern that
uses no backreference, look-around, atomic group or possessive repetition
to the Rust `regex` crate, whose matching time is linear in the haystack.
kumopy does the same: such a pattern is parsed with kumopy's Rust-syntax
parser (`kumopy._regex.syntax`, regex-syntax's grammar and meaning) and
its HIR is written out as an RE2 expression with the same capture groups,
so that `(a|aa)+$` over a long run of `a`s takes microseconds instead of
exponential time.  Patterns that need a feature RE2 lacks (Unicode-aware
`\\b` on non-ASCII text, `\\b{start}`, CRLF line anchors, repetition
counts above 1000) keep the backtracking engine, under a bound (see
kumopy/_kumo/regex.py).

Matching works on the UTF-8 bytes of the haystack (Rust's `str` is UTF-8
too), so positions are byte offsets.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import re2

from .._regex.syntax import (
    HAlt,
    HCap,
    HCat,
    HClass,
    HEmpty,
    Hir,
    HLit,
    HLook,
    HRep,
    RegexSyntaxError,
    SizeLimitError,
    emit_class,
    parse_to_hir,
)

__all__ = ["LinearPattern", "linear_pattern"]

#: RE2's largest repetition count
_MAX_REPEAT = 1000
_NATIVE = {
    "start": r"\A",
    "end": r"\z",
    "start_lf": "(?m:^)",
    "end_lf": "(?m:$)",
    "word_ascii": r"\b",
    "word_ascii_negate": r"\B",
}
#: Unicode word boundaries: the same as RE2's ASCII ones on ASCII text
_ASCII_EQUIVALENT = {"word_unicode": r"\b", "word_unicode_negate": r"\B"}
# a repetition operator followed by `+`: possessive in fancy-regex (atomic),
# a nested repetition in the regex crate; fancy-regex's reading wins
_POSSESSIVE = re.compile(r"(?<!\\)(?:[*+?]|\{[0-9,]+\})\+")


class _NotLinear(Exception):
    """The HIR uses something RE2 cannot express with the same meaning."""


@dataclass(frozen=True)
class LinearPattern:
    """An RE2 program with the pattern's meaning and capture groups.

    `ascii_only`: the program is exact only for ASCII haystacks (the
    pattern has Unicode word boundaries, written as RE2's ASCII ones)."""

    program: Any
    ascii_only: bool


def _escape_char(c: str) -> str:
    cp = ord(c)
    if cp < 0x80:
        if c.isalnum():
            return c
        if 0x20 <= cp < 0x7F:
            return "\\" + c
        return f"\\x{cp:02x}"
    return f"\\x{{{cp:x}}}"


def _emit(h: Hir, out: list[str], flags: dict[str, bool]) -> None:
    if isinstance(h, HLit):
        out.extend(_escape_char(c) for c in h.text)
    elif isinstance(h, HClass):
        out.append(emit_class(h.ranges))
    elif isinstance(h, HEmpty):
        out.append("(?:)")
    elif isinstance(h, HLook):
        if h.kind in _NATIVE:
            out.append(_NATIVE[h.kind])
        elif h.kind in _ASCII_EQUIVALENT:
            flags["ascii_only"] = True
            out.append(_ASCII_EQUIVALENT[h.kind])
        else:
            raise _NotLinear(h.kind)
    elif isinstance(h, HCap):
        out.append(f"(?P<{h.name}>" if h.name is not None else "(")
        _emit(h.sub, out, flags)
        out.append(")")
    elif isinstance(h, HCat):
        out.append("(?:")
        for item in h.items:
            _emit(item, out, flags)
        out.append(")")
    elif isinstance(h, HAlt):
        out.append("(?:")
        for i, item in enumerate(h.items):
            if i:
                out.append("|")
            _emit(item, out, flags)
        out.append(")")
    elif isinstance(h, HRep):
        if h.min > _MAX_REPEAT or (h.max is not None and h.max > _MAX_REPEAT):
            raise _NotLinear("repetition count")
        out.append("(?:")
        _emit(h.sub, out, flags)
        out.append(")")
        if (h.min, h.max) == (0, None):
            op = "*"
        elif (h.min, h.max) == (1, None):
            op = "+"
        elif (h.min, h.max) == (0, 1):
            op = "?"
        elif h.max is None:
            op = f"{{{h.min},}}"
        else:
            op = f"{{{h.min},{h.max}}}"
        out.append(op if h.greedy else op + "?")
    else:
        raise _NotLinear(type(h).__name__)


@functools.lru_cache(maxsize=1024)
def linear_pattern(pattern: str, groups: int) -> LinearPattern | None:
    """The RE2 form of `pattern`, or None when it needs backtracking (or
    RE2 cannot take it).  `groups` is the number of capture groups the
    backtracking engine found: the RE2 program must agree."""
    if _POSSESSIVE.search(pattern):
        return None
    try:
        hir = parse_to_hir(pattern)
    except (RegexSyntaxError, SizeLimitError, RecursionError):
        return None  # a fancy feature (or a syntax only fancy-regex takes)
    flags = {"ascii_only": False}
    out: list[str] = []
    try:
        _emit(hir, out, flags)
    except (_NotLinear, RecursionError):
        return None
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 64 << 20
    try:
        program = re2.compile("".join(out).encode("utf-8"), options)
    except re2.error:
        return None
    if program.groups != groups:
        return None
    return LinearPattern(program, flags["ascii_only"])
