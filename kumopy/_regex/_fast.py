"""Fast path of `translate` for the common shape of rule patterns."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from kumopy._regex._errors import RUST_NFA_SIZE_LIMIT
from kumopy._regex._hir import (
    H_EMPTY,
    LOOK_END,
    LOOK_START,
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
from kumopy._regex._looks import _is_fail
from kumopy._regex._nfa_size import (
    _ALTERNATE_BYTES,
    _STATE_BYTES,
    Cost,
    _NfaCost,
)
from kumopy._regex._re2 import (
    _RE2_MAX_REPEAT,
    Translation,
    _emit,
    _esc,
)
from kumopy._regex._to_hir import parse_to_hir

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
# `eliminate_looks` and `drop_looks` do.  A group (capturing or `(?:`,
# repeated or not) is one more kind of token, translated whole by the
# general route, when it holds no assertion, no empty expression, no flag
# and no nested bracket (its captures are renumbered where the HIR of the
# whole pattern is wanted), except in a pattern with `\b`.  Anything else
# (top-level alternations, other flags, unusual escapes, nested
# repetitions, any error, sizes over the limit) takes the general route,
# which alone reports errors.  tests/test_regex_set_map.py checks that both routes
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
    #: the capture groups the token opens (numbered from 1 in `node`)
    captures: int = 0
    group: bool = False  # a parenthesized group


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
    if isinstance(h, HEmpty):  # (a group repeated {0}: the general route)
        return _EMPTY_ATOM if key[0] != "(" else None
    look: str | None = None
    if isinstance(h, HLook):
        if h.kind not in _FAST_LOOKS:
            return None
        look = h.kind
    elif key[0] == "(":  # a group (repeated or not) without assertions
        if not _plain(h):
            return None
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
        _group_scan(key, 0)[1] if key[0] == "(" else 0,
        key[0] == "(",
    )


def _plain(h: Hir) -> bool:
    """No assertion, no empty expression and no class that never matches
    anywhere in `h` (what the general route rewrites or simplifies: a
    group of anything else translates on its own as inside the pattern)."""
    t = type(h)
    if t is HLit:
        return True
    if t is HClass:
        return not _is_fail(h)
    if t is HRep or t is HCap:
        return _plain(h.sub)  # type: ignore[attr-defined]
    if t is HCat or t is HAlt:
        return all(_plain(x) for x in h.items)  # type: ignore[attr-defined]
    return False


def _group_scan(p: str, i: int) -> tuple[int, int]:
    """The index after the `)` closing the group opened at p[i], or -1
    when the group holds what the fast path leaves to the general route
    (flags, named groups, nested brackets, an unclosed group); and the
    capture groups it opens."""
    depth = 0
    captures = 0
    n = len(p)
    k = i
    while k < n:
        c = p[k]
        if c == "\\":
            k += 2
            continue
        if c == "[":
            m = _CLASS_TOKEN.match(p, k)
            if m is None:
                return -1, captures
            k = m.end()
            continue
        if c == "(":
            if p.startswith("(?", k):
                if not p.startswith("(?:", k):
                    return -1, captures
            else:
                captures += 1
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return k + 1, captures
        k += 1
    return -1, captures


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


#: The last pattern scanned and its tokens (kumopy lint asks for a
#: pattern's HIR, then for its translation: one scan serves both).
_LAST_SCAN: tuple[str, tuple[_Atom | str, ...] | None] = ("", ())


def _fast_scan(pattern: str) -> tuple[_Atom | str, ...] | None:
    """The pattern as a sequence of tokens: literal texts (outside `(?i)`)
    and translated tokens; None when it is not of the shape the fast path
    handles."""
    global _LAST_SCAN
    last = _LAST_SCAN  # (one read: another thread may replace it)
    if last[0] == pattern:
        return last[1]
    got = _scan(pattern)
    _LAST_SCAN = (pattern, got)
    return got


def _scan(pattern: str) -> tuple[_Atom | str, ...] | None:
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
            elif c == "(" and (not p.startswith("(?", i) or p.startswith("(?:", i)):
                j = _group_scan(p, i)[0]  # (translated whole, as one token)
                if j < 0:
                    return None
            else:  # alternations, flags, a repetition of nothing or of a
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
    return tuple(seq)


def _shifted(h: Hir, by: int) -> Hir:
    """`h` (a group translated alone: its captures numbered from 1) with
    `by` added to its capture numbers (the groups opened before it)."""
    t = type(h)
    if t is HCap:
        return HCap(h.index + by, h.name, _shifted(h.sub, by))  # type: ignore[attr-defined]
    if t is HRep:
        return HRep(_shifted(h.sub, by), h.min, h.max, h.greedy)  # type: ignore[attr-defined]
    if t is HCat or t is HAlt:
        return t(tuple(_shifted(x, by) for x in h.items))  # type: ignore[attr-defined]
    return h


def _fast_hir(seq: Sequence[_Atom | str]) -> Hir:
    """The HIR of a scanned pattern (what `rust_concat` makes of it)."""
    nodes: list[Hir] = []
    text: list[str] = []
    opened = 0  # capture groups so far
    for x in seq:
        if isinstance(x, str):
            text.append(x)
        elif x.lit is not None:
            text.append(x.lit)
        else:
            if text:
                nodes.append(HLit("".join(text)))
                text = []
            node = x.node
            if x.captures:
                node = _shifted(node, opened) if opened else node
                opened += x.captures
            nodes.append(node)
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
    if seq is None or (len(seq) == 1 and isinstance(seq[0], _Atom) and seq[0].group):
        return None  # (a lone group is emitted without its parentheses)
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
    if word and any(isinstance(x, _Atom) and x.group for x in seq):
        return None  # (the loose form may leave a lone group: see above)
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
