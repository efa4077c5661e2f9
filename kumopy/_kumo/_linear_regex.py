"""Linear-time matching for `kumo.regex` patterns without fancy features.

fancy-regex (behind kumod's `kumo.regex.compile`) hands every pattern that
uses no backreference, look-around, atomic group or possessive repetition
to the Rust `regex` crate, whose matching time is linear in the haystack.
kumopy does the same: such a pattern is parsed with kumopy's Rust-syntax
parser (`kumopy._regex.syntax`, regex-syntax's grammar and meaning) and
its HIR is written out as an RE2 expression with the same capture groups
(`emit_exact`: the set map's RE2 emitter, kumopy/_regex/_re2.py, in the
mode that keeps match positions),
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

from .._regex._re2 import NotExpressible, emit_exact
from .._regex.syntax import RegexSyntaxError, SizeLimitError, parse_to_hir

__all__ = ["LinearPattern", "linear_pattern"]

# a repetition operator followed by `+`: possessive in fancy-regex (atomic),
# a nested repetition in the regex crate; fancy-regex's reading wins
_POSSESSIVE = re.compile(r"(?<!\\)(?:[*+?]|\{[0-9,]+\})\+")


@dataclass(frozen=True)
class LinearPattern:
    """An RE2 program with the pattern's meaning and capture groups.

    `ascii_only`: the program is exact only for ASCII haystacks (the
    pattern has Unicode word boundaries, written as RE2's ASCII ones)."""

    program: Any
    ascii_only: bool


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
    try:
        text, ascii_only = emit_exact(hir)
    except (NotExpressible, RecursionError):
        return None
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 64 << 20
    try:
        program = re2.compile(text.encode("utf-8"), options)
    except re2.error:
        return None
    if program.groups != groups:
        return None
    return LinearPattern(program, ascii_only)
