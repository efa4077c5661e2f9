"""Size of the Rust crate's NFAs (regex-automata 0.4's compiler)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from kumopy._regex._charset import Ranges, to_cp
from kumopy._regex._hir import (
    HAlt,
    HCap,
    HCat,
    HClass,
    HEmpty,
    Hir,
    HLit,
    HLook,
    HRep,
    hir_min_len,
)
from kumopy._regex._re2 import Translation

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
    # Each trie node: its transitions, cut into "chunks" by the matches that
    # end there; only the last chunk's transitions can be followed (by
    # byte), and only their number in each chunk counts below.
    active: list[dict[int, int]] = [{}]  # the open chunk: byte -> child
    count: list[int] = [0]  # transitions of each node
    chunks: list[list[int]] = [[]]  # end offsets of closed chunks
    for lit in literals:
        node = 0
        for b in lit:
            child = active[node].get(b)
            if child is None:
                child = len(count)
                active.append({})
                count.append(0)
                chunks.append([])
                active[node][b] = child
                count[node] += 1
            node = child
        if count[node] or not chunks[node]:
            chunks[node].append(count[node])
            active[node] = {}
    # Every node with transitions becomes a union of one state per chunk
    # (a byte range, or a sparse state when the chunk has several bytes),
    # with an extra alternative (the match) between consecutive chunks.
    states, heap = 1, 0  # the shared end state
    for node in range(len(count)):
        if not count[node]:
            continue  # leaves are the end state
        bounds = [0, *chunks[node], count[node]]
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
