"""The intermediate form (HIR) and its properties (lengths, look sets),
built with regex-syntax's simplifying constructors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import final

from kumopy._regex._charset import (
    Ranges,
    cs_norm,
    cs_union,
    to_cp,
    to_index,
)

# --------------------------------------------------------------------------
# Intermediate form (mirrors regex-syntax's HIR and its simplifying
# constructors, so that the NFA size estimate below follows the Rust crate)
# --------------------------------------------------------------------------


class Hir:
    __slots__ = ()


@final  # (code dispatches on `type(node) is ...`)
@dataclass(frozen=True, slots=True)
class HEmpty(Hir):
    pass


@final
@dataclass(frozen=True, slots=True)
class HLit(Hir):
    """A non-empty literal string."""

    text: str


@final
@dataclass(frozen=True, slots=True)
class HClass(Hir):
    """One character from a set (scalar indexes); `ranges == ()` never
    matches.  `ascii_bytes` marks a class built in `(?-u)` mode."""

    ranges: Ranges
    ascii_bytes: bool = False


@final
@dataclass(frozen=True, slots=True)
class HLook(Hir):
    kind: str


@final
@dataclass(frozen=True, slots=True)
class HRep(Hir):
    sub: Hir
    min: int
    max: int | None
    greedy: bool = True


@final
@dataclass(frozen=True, slots=True)
class HCap(Hir):
    index: int
    name: str | None
    sub: Hir


@final
@dataclass(frozen=True, slots=True)
class HCat(Hir):
    items: tuple[Hir, ...]


@final
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
    return _len_bound(h, False)


def hir_max_len(h: Hir) -> int | None:
    """regex-syntax's `maximum_len` (None: unbounded or cannot match)."""
    return _len_bound(h, True)


def _len_bound(h: Hir, upper: bool) -> int | None:
    """The least (or, with `upper`, the greatest) length in bytes of a
    match of `h`; None when there is no such bound or no match."""
    if isinstance(h, HLit):
        return len(h.text.encode("utf-8"))
    if isinstance(h, HClass):
        if not h.ranges:
            return None
        return 1 if h.ascii_bytes else _utf8_len(h.ranges[-1][1] if upper else h.ranges[0][0])
    if isinstance(h, (HEmpty, HLook)):
        return 0
    if isinstance(h, HRep):
        count = h.max if upper else h.min
        if count is None:
            return None
        m = _len_bound(h.sub, upper)
        return None if m is None else m * count
    if isinstance(h, HCap):
        return _len_bound(h.sub, upper)
    if isinstance(h, HCat | HAlt):
        bounds = []
        for x in h.items:
            m = _len_bound(x, upper)
            if m is None:
                return None
            bounds.append(m)
        if isinstance(h, HCat):
            return sum(bounds)
        return (max if upper else min)(bounds, default=None)
    raise TypeError(h)


def hir_look_prefix(h: Hir) -> frozenset[str]:
    """regex-syntax's `look_set_prefix`: assertions every match begins with."""
    return _look_set(h, False)


def hir_look_suffix(h: Hir) -> frozenset[str]:
    """regex-syntax's `look_set_suffix`: assertions every match ends with."""
    return _look_set(h, True)


def _look_set(h: Hir, suffix: bool) -> frozenset[str]:
    if isinstance(h, HLook):
        return frozenset((h.kind,))
    if isinstance(h, HRep):
        return _look_set(h.sub, suffix) if h.min > 0 else frozenset()
    if isinstance(h, HCap):
        return _look_set(h.sub, suffix)
    if isinstance(h, HCat):
        out: frozenset[str] = frozenset()
        for x in reversed(h.items) if suffix else h.items:
            out |= _look_set(x, suffix)
            mx = hir_max_len(x)
            if mx is None or mx > 0:
                break
        return out
    if isinstance(h, HAlt):
        sets = [_look_set(x, suffix) for x in h.items]
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
