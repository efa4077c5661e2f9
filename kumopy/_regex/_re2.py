"""RE2 syntax for HIR, and the `Translation` of a pattern."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from kumopy._regex._charset import (
    _SURROGATE_LO,
    UNIVERSE,
    Ranges,
    cs_negate,
    to_cp,
)
from kumopy._regex._hir import (
    LOOK_END,
    LOOK_END_LF,
    LOOK_START,
    LOOK_START_LF,
    HAlt,
    HCap,
    HCat,
    HClass,
    HEmpty,
    Hir,
    HLit,
    HLook,
    HRep,
)
from kumopy._regex._looks import (
    _collect_looks,
    _restrict,
    eps,
    s_alt,
    s_cat,
)

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
    """RE2 syntax with the language of `h` (what a set map matches):
    capture groups and laziness dropped, long counted repetitions split."""
    out: list[str] = []
    _emit(h, "alt", _RE2_MAX_REPEAT, out)
    return "".join(out)


class NotExpressible(Exception):
    """`h` uses something RE2 cannot express with the same match positions."""


#: Unicode word boundaries, written as RE2's ASCII ones (the same on ASCII text)
_ASCII_EQUIVALENT = {"word_unicode": r"\b", "word_unicode_negate": r"\B"}


@dataclass
class _Exact:
    """Emission that keeps match positions and capture groups (kumo.regex)."""

    ascii_only: bool = False


def emit_exact(h: Hir) -> tuple[str, bool]:
    """RE2 syntax with the match positions and capture groups of `h`, and
    whether it is exact only for ASCII text (Unicode word boundaries are
    written as RE2's ASCII ones).  Raises NotExpressible when RE2 lacks an
    assertion `h` uses or a repetition count is above RE2's limit."""
    out: list[str] = []
    exact = _Exact()
    # no budget: one RE2 operator per repetition, never split (splitting
    # would move match positions); RE2 refuses nested counts it cannot take
    _emit(h, "alt", 1 << 62, out, exact)
    return "".join(out), exact.ascii_only


def _emit(h: Hir, ctx: str, budget: int, out: list[str], exact: _Exact | None = None) -> None:
    """Append RE2 syntax for `h`.  ctx says what the text is embedded in
    ("alt", "cat" or "atom", the operand of a repetition); `budget` keeps
    nested counted repetitions within RE2's limit on their product.  With
    `exact`, capture groups and lazy repetitions are kept."""
    if isinstance(h, HCap):
        if exact is None:
            _emit(h.sub, ctx, budget, out)
            return
        out.append(f"(?P<{h.name}>" if h.name is not None else "(")
        _emit(h.sub, "alt", budget, out, exact)
        out.append(")")
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
        text = _look_syntax(h.kind, exact)
        out.append("(?:" + text + ")" if ctx == "atom" else text)
    elif isinstance(h, HAlt):
        wrap = ctx != "alt"
        if wrap:
            out.append("(?:")
        for i, x in enumerate(h.items):
            if i:
                out.append("|")
            _emit(x, "cat", budget, out, exact)
        if wrap:
            out.append(")")
    elif isinstance(h, HCat):
        wrap = ctx == "atom"
        if wrap:
            out.append("(?:")
        for x in h.items:
            _emit(x, "cat", budget, out, exact)
        if wrap:
            out.append(")")
    elif isinstance(h, HRep):
        _emit_rep(h, ctx, budget, out, exact)
    else:  # pragma: no cover
        raise TypeError(h)


def _look_syntax(kind: str, exact: _Exact | None) -> str:
    if exact is not None and kind not in _LOOK_SYNTAX:
        if kind not in _ASCII_EQUIVALENT:
            raise NotExpressible(kind)
        exact.ascii_only = True
        return _ASCII_EQUIVALENT[kind]
    return _LOOK_SYNTAX[kind]


def _repeat_op(lo: int, hi: int | None) -> str:
    if hi is None:
        return "*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}"
    if lo == 0 and hi == 1:
        return "?"
    return f"{{{lo}}}" if lo == hi else f"{{{lo},{hi}}}"


def _emit_rep(h: HRep, ctx: str, budget: int, out: list[str], exact: _Exact | None) -> None:
    lo, hi, sub = h.min, h.max, h.sub
    if exact is not None and max(lo, hi or 0) > _RE2_MAX_REPEAT:
        raise NotExpressible("repetition count")
    count = lo if hi is None else hi
    if count <= 1 or count <= budget:
        inner = budget if count <= 1 else budget // count
        wrap = ctx == "atom"
        if wrap:
            out.append("(?:")
        _emit(sub, "atom", inner, out, exact)
        out.append(_repeat_op(lo, hi))
        if exact is not None and not h.greedy:
            out.append("?")
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
        from kumopy._regex._verify import _verifier  # (it translates patterns)

        return _verifier(self.pattern).search(subject)



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
