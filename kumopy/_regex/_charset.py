"""Code point sets: sorted, merged tuples of inclusive ranges over scalar
indexes (see `to_index`)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable

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
