"""Answers of `RegexSetMap.first_index` shared by forked processes.

RE2 builds its matching automaton lazily, state by state, as subjects come:
a response never seen before costs tens of microseconds, one seen before
about one.  The processes of one `kumopy replay --jobs N` meet the same
responses, and each would pay that price for every one of them.  With an
`Answers` table made before the fork, a process that has matched a subject
writes the answer where the others read it.

The table is plain shared memory (an anonymous `mmap`), cut into one region
per process: each process writes only into its own region (so two writers
never race for a slot) and reads the others'.  A region is an
open-addressing table of slots and an arena holding the subjects' bytes.
A slot is four 64-bit words: a check, the map's key, where its subject
lies in the arena (offset and length), and the answer (the index plus
one, 0 for no match).  The check is written last and is a hash of the
map's key, the subject's bytes and the answer; a reader takes an answer only when
the map's key and the subject's bytes are equal to its own and the check
agrees with what it read.  So an answer is never taken from a slot that is
half written, whatever order another core's stores become visible in.

Only processes forked from the one that made the table may share it: the
hashes come from Python's `hash`, whose secret a forked child inherits.
A full region stops taking answers; its process keeps asking RE2.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator

__all__ = ["Answers"]

_SLOT = struct.Struct("<QQQQ")  # check, map key, offset << 32 | length, answer
assert _SLOT.size == 32
_REST = struct.Struct("<QQQ")  # the slot after its check
_MASK = (1 << 64) - 1
#: slots of a region tried for one subject before giving up
_PROBES = 8


def _check(key: int, data: bytes, answer: int) -> int:
    return (hash((key, data, answer)) & _MASK) | 1  # (0: an empty slot)


class Answers:
    """`regions` regions of shared answers; `use(k)` makes region k this
    process's own (the one it writes)."""

    def __init__(self, regions: int, *, slots: int = 1 << 16,
                 arena: int = 4 << 20) -> None:
        if slots & (slots - 1):
            raise ValueError("slots must be a power of two")
        self._slots = slots
        self._table = slots * _SLOT.size
        self._arena = arena
        self._region = self._table + arena
        self._regions = regions
        self._mm = mmap.mmap(-1, regions * self._region)
        self._own = -1
        self._used = 0  # bytes of this process's arena taken
        #: (table, arena) offsets of the regions `get` reads
        self._read = [(r * self._region, r * self._region + self._table)
                      for r in range(regions)]

    def use(self, region: int) -> None:
        """Write into `region` from now on (a new process: its own)."""
        if not 0 <= region < self._regions:
            raise ValueError(f"no region {region}")
        self._own = region
        self._used = 0
        # (what this process wrote, its Lua state remembers, or RE2 answers
        # again from the automaton it built: only the others' are read)
        self._read = [(r * self._region, r * self._region + self._table)
                      for r in range(self._regions) if r != region]

    def close(self) -> None:
        self._mm.close()

    def get(self, key: int, data: bytes) -> int:
        """The answer to `data` in map `key` (index + 1, 0: none), or -1
        when no other process has written it."""
        mm = self._mm
        mask = self._slots - 1
        first = hash((key, data))
        size = len(data)
        unpack = _SLOT.unpack_from
        for base, arena in self._read:
            for probe in range(_PROBES):
                check, other, place, answer = unpack(mm, base + ((first + probe) & mask) * 32)
                if check == 0:
                    break
                if other != key or place & 0xFFFF_FFFF != size:
                    continue
                offset = arena + (place >> 32)
                if mm[offset:offset + size] == data and check == _check(key, data, answer):
                    return int(answer)
        return -1

    def put(self, key: int, data: bytes, answer: int) -> None:
        """Note `answer` (index + 1, 0: none) to `data` in map `key`, in
        this process's region, when there is room."""
        region = self._own
        size = len(data)
        if region < 0 or self._used + size > self._arena:
            return
        mm = self._mm
        slots = self._slots
        base = region * self._region
        first = hash((key, data)) & (slots - 1)
        for probe in range(_PROBES):
            at = base + ((first + probe) & (slots - 1)) * _SLOT.size
            if mm[at:at + 8] != b"\0\0\0\0\0\0\0\0":
                continue
            offset = self._used
            start = base + self._table + offset
            mm[start:start + size] = data
            self._used = offset + size
            _REST.pack_into(mm, at + 8, key & _MASK, offset << 32 | size, answer)
            mm[at:at + 8] = _check(key, data, answer).to_bytes(8, "little")
            return

    def entries(self) -> Iterator[tuple[int, int, bytes, int]]:
        """(region, map key, subject, answer) of every answer written."""
        mm = self._mm
        for region in range(self._regions):
            base = region * self._region
            arena = base + self._table
            for slot in range(self._slots):
                check, key, place, answer = _SLOT.unpack_from(mm, base + slot * _SLOT.size)
                if check:
                    offset = arena + (place >> 32)
                    yield region, key, mm[offset:offset + (place & 0xFFFF_FFFF)], answer
