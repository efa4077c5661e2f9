"""Which pairs of patterns with different values match a common subject:
decided on automata, not searched for.

Every pattern becomes a search automaton (`kumopy._regex._automaton`);
a pair overlaps when the product of the two automata and of the DFA of the
subjects that can be offered (`_lines`) accepts something.  Deciding every
pair by a product search would cost N^2/2 searches, so the work is shared:

1. **Free patterns** (`START` is open: the pattern matches after any text
   followed by its plug, e.g. every unanchored substring rule) overlap each
   other, and every live pattern that is not anchored at both ends: put
   one's match after (or, when it has no start assertion, before) the
   other's.  These pairs are proven without a search, and counted with bit
   sets, so 10,000 unanchored rules cost no 50 million searches.
2. **Heads**: for every other pattern, the sets of characters its match can
   have at positions 0, 1, ... of the subject until it becomes open (or
   ends, or reaches a limit).  A recursive partition of the patterns by
   those sets and by the offered-line DFA puts two patterns in a common
   group exactly when some subject prefix is allowed by both; patterns
   whose groups never meet cannot overlap.  When both heads are exact (each
   prefix of the group leads the automaton to one set of states, which is
   open), sharing a group proves the overlap.
3. The remaining pairs that share a group (or a free pattern and a pattern
   anchored at both ends) are decided by a product search, which stops
   early once both automata are open.

Searches and automata have budgets; what exceeds them is reported as
undecided, never as "no overlap".
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._regex._automaton import NO_SPLIT, Atoms, Automaton, Classes, TooLarge
from .._regex._charset import Ranges, cs_difference, cs_intersect
from .._regex._hir import HCap, HCat, Hir, HLook
from .._regex._looks import _collect_looks
from ._lines import (
    NO_BREAKS,
    UNIVERSE_ALL,
    Lines,
    any_lines,
    coded_lines,
    offered_lines,
    realistic_lines,
    word_lines,
)
from ._search import UNDECIDED, YES, nonempty, search

__all__ = ["Decision", "OverlapEngine"]

_START_KINDS = frozenset({"start", "start_lf", "start_crlf"})
_END_KINDS = frozenset({"end", "end_lf", "end_crlf"})
#: Positions of a head followed before a pattern counts as closed.
HEAD_DEPTH = 48
#: Product states of one decision search, and of one example search.
SEARCH_BUDGET = 60_000
EXAMPLE_BUDGET = 6_000
#: Pairs decided by a product search at most (the rest are undecided).
MAX_SEARCHES = 20_000


@dataclass
class _Head:
    sets: list[int]
    exact: bool
    kind: str | None  # "open", "tail" or None (closed)


@dataclass
class Decision:
    """What the engine found: `pairs` (listed overlapping pairs of indexes,
    in order, at most `limit`), `total` (all overlapping pairs),
    `undecided_pairs`, `undecided_patterns` (index -> reason) and
    `never` (indexes of patterns no subject matches)."""

    pairs: list[tuple[int, int]] = field(default_factory=list)
    total: int = 0
    undecided_pairs: list[tuple[int, int, str]] = field(default_factory=list)
    undecided_patterns: dict[int, str] = field(default_factory=dict)
    never: set[int] = field(default_factory=set)
    searches: int = 0


class OverlapEngine:
    """The automata of one rule set.  `hirs[i]` is pattern i's HIR, `keys[i]`
    the value it maps to (None: not compared), `rewrite`: subjects are the
    lines kumod offers to the rewrite event (else any text)."""

    def __init__(self, hirs: Sequence[Hir], keys: Sequence[Any], *, rewrite: bool) -> None:
        self.classes = Classes()
        self.rewrite = rewrite
        universe: Ranges = NO_BREAKS if rewrite else UNIVERSE_ALL
        kinds: set[str] = {"word_ascii"}  # the whole-word examples use ASCII boundaries
        self.kinds = [_collect_looks(h) for h in hirs]
        for k in self.kinds:
            kinds |= k
        word = None
        if any("unicode" in k for k in kinds):
            from .._regex._unicode import perl_word

            word = perl_word()
        self.atoms = Atoms(self.classes, universe, kinds, word)
        self.lines = offered_lines(self.classes) if rewrite else any_lines(self.classes)
        self.hirs = list(hirs)
        self.keys = list(keys)
        self.autos: list[Automaton | None] = []
        self.too_large: dict[int, str] = {}
        for i, h in enumerate(hirs):
            try:
                self.autos.append(Automaton(h, self.atoms))
            except TooLarge as e:
                self.autos.append(None)
                self.too_large[i] = str(e)
        self._tiers: list[tuple[Lines, bool]] | None = None
        self._whole: dict[int, Automaton | None] = {}
        self._heads: dict[int, _Head] = {}

    # -- single patterns ------------------------------------------------------
    def matches_nothing(self, i: int) -> bool | None:
        """Whether no subject matches pattern i (None: undecided)."""
        auto = self.autos[i]
        if auto is None:
            return None
        if auto.open[auto.start]:
            # a free pattern matches `u + plug` for any offered prefix `u`
            # (the plug is text of the universe, which every line may end with)
            return False
        head = self.head(i)
        if head.exact and head.kind is not None and self._offered(head.sets):
            # every prefix its sets allow leads to an open (or tail) state,
            # and one of them starts a line: that prefix, the line's
            # shortest completion and the plug are a matching line (the
            # proof `_leaf` makes for two patterns)
            return False
        got = nonempty(auto, self.lines, budget=SEARCH_BUDGET)
        return None if got is None else not got

    def _offered(self, sets: Sequence[int]) -> bool:
        """Whether some line can start with a character of each set in turn."""
        lines, inter = self.lines, self.classes.inter
        level = {0}
        for cid in sets:
            level = {t for r in level for rc, t in lines.trans[r]
                     if lines.live[t] and inter(rc, cid) >= 0}
            if not level:
                return False
        return True

    def head(self, i: int) -> _Head:
        """Pattern i's head (its automaton exists and is not free)."""
        got = self._heads.get(i)
        if got is None:
            auto = self.autos[i]
            assert auto is not None
            got = self._heads[i] = self._head(auto)
        return got

    def _head(self, auto: Automaton) -> _Head:
        classes = self.classes
        universe = self.atoms.universe
        is_open, tail, eot, trans, live = auto.open, auto.tail, auto.eot, auto.trans, auto.live
        level: Sequence[int] = (auto.start,)
        sets: list[int] = []
        exact = True
        for _ in range(HEAD_DEPTH + 1):
            if len(level) == 1:  # (the common case, without sets)
                s = level[0]
                if is_open[s]:
                    return _Head(sets, exact, "open")
                if tail[s]:
                    return _Head(sets, exact, "tail")
                if eot[s] or len(sets) == HEAD_DEPTH:
                    return _Head(sets, exact, None)
                out = [(cid, t) for lst in trans[s] for cid, t in lst if live[t]]
            else:
                if any(is_open[s] for s in level):
                    return _Head(sets, exact, "open")
                if any(tail[s] for s in level):
                    return _Head(sets, exact, "tail")
                if any(eot[s] for s in level) or len(sets) == HEAD_DEPTH:
                    return _Head(sets, exact, None)
                out = [(cid, t) for s in level for lst in trans[s] for cid, t in lst if live[t]]
            if not out:
                return _Head(sets, exact, None)
            if len(out) == 1:
                union, t = out[0]
                if classes.covers(union, universe):
                    return _Head(sets, exact, None)
                sets.append(union)
                level = (t,)
                continue
            union = classes.union(cid for cid, _ in out)
            if classes.covers(union, universe):
                return _Head(sets, exact, None)
            exact = exact and all(cid == union for cid, _ in out)
            sets.append(union)
            level = tuple(frozenset(t for _, t in out))
        return _Head(sets, False, None)

    # -- all pairs ------------------------------------------------------------
    def decide(self, live: Sequence[int], *, limit: int | None,
               prefer: Collection[tuple[int, int]] = ()) -> Decision:
        """Decide every pair of `live` (indexes of patterns that can match)
        whose keys differ.  `prefer` are pairs `(i, j)`, `i < j`, to list
        first if they overlap (pairs seen in a corpus)."""
        out = Decision(undecided_patterns=dict(self.too_large))
        idx = [i for i in live if self.autos[i] is not None and self.keys[i] is not None]
        if len(idx) < 2:
            return out
        n = len(self.keys)
        bit = [0] * n
        by_key: dict[Any, int] = {}
        eligible = 0
        for i in idx:
            bit[i] = 1 << i
            eligible |= bit[i]
            by_key[self.keys[i]] = by_key.get(self.keys[i], 0) | bit[i]

        def diff(i: int) -> int:
            return eligible & ~by_key[self.keys[i]]

        free = 0
        embeddable = 0
        heads: dict[int, _Head] = {}
        for i in idx:
            auto = self.autos[i]
            assert auto is not None
            if auto.open[auto.start]:
                free |= bit[i]
                continue
            kinds = self.kinds[i]
            if not (kinds & _START_KINDS) or not (kinds & _END_KINDS):
                embeddable |= bit[i]
            heads[i] = self.head(i)
        proven = [0] * n
        candidates = [0] * n
        for i in idx:
            if free & bit[i]:
                proven[i] = free | embeddable
            elif embeddable & bit[i]:
                proven[i] = free
            else:
                candidates[i] = free
        self._partition(sorted(heads), heads, proven, candidates, bit, diff)
        # product searches for the pairs not proven either way
        searches = 0
        for i in idx:
            cand = candidates[i] & diff(i) & ~proven[i]
            for j in _bits(cand):
                if j <= i and candidates[j] & bit[i]:
                    continue  # seen from j's side
                if proven[i] & bit[j]:
                    continue
                a, b = self.autos[i], self.autos[j]
                assert a is not None and b is not None
                if searches >= MAX_SEARCHES:
                    out.undecided_pairs.append(
                        (min(i, j), max(i, j),
                         f"more than {MAX_SEARCHES} pairs needed a product search"))
                    continue
                searches += 1
                verdict, _ = search([a, b], self.lines, budget=SEARCH_BUDGET, shortcut=True)
                if verdict == YES:
                    proven[i] |= bit[j]
                    proven[j] |= bit[i]
                elif verdict == UNDECIDED:
                    out.undecided_pairs.append(
                        (min(i, j), max(i, j),
                         f"the product of their automata exceeds {SEARCH_BUDGET} states"))
        out.searches = searches
        total = 0
        for i in idx:
            total += (proven[i] & diff(i)).bit_count()
        out.total = total // 2
        listed: list[tuple[int, int]] = []
        for i, j in sorted(prefer):
            if i < j and (eligible >> i) & 1 and ((proven[i] & diff(i)) >> j) & 1:
                listed.append((i, j))
        chosen = set(listed)
        for i in idx:
            if limit is not None and len(listed) >= limit:
                break
            for j in _bits(proven[i] & diff(i) & ~((bit[i] << 1) - 1)):
                if (i, j) not in chosen:
                    listed.append((i, j))
                    if limit is not None and len(listed) >= limit:
                        break
        out.pairs = sorted(listed) if limit is None else sorted(listed[:max(limit, 0)])
        out.undecided_pairs.sort()
        return out

    def _partition(self, items: list[int], heads: dict[int, _Head], proven: list[int],
                   candidates: list[int], bit: list[int], diff: Callable[[int], int]) -> None:
        """Group the patterns by the subject prefixes their heads allow (and
        the offered-line DFA): record proven pairs and candidates."""
        classes = self.classes
        lines = self.lines
        keys = self.keys
        sets_of = {i: h.sets for i, h in heads.items()}
        stack: list[tuple[list[int], int, int]] = [(items, 0, 0)]
        while stack:
            group, depth, r = stack.pop()
            if len(group) < 2:
                continue
            first = keys[group[0]]
            if all(keys[i] is first or keys[i] == first for i in group):
                continue  # one value (compared as a set compares them)
            # the patterns whose head goes on, by their set at this depth
            # (in group order), and those whose head has ended
            active: list[int] = []
            exhausted: list[int] = []
            by_set: dict[int, list[int]] = {}
            for i in group:
                sets = sets_of[i]
                if len(sets) > depth:
                    active.append(i)
                    same = by_set.get(sets[depth])
                    if same is None:
                        by_set[sets[depth]] = [i]
                    else:
                        same.append(i)
                else:
                    exhausted.append(i)
            if not active:
                self._leaf(group, heads, proven, candidates, bit, diff)
                continue
            splitters = set(by_set)
            splitters.update(cid for cid, _ in lines.trans[r])
            blocks: list[Ranges] = [classes.ranges[self.atoms.universe]]
            for cid in splitters:
                cut = classes.ranges[cid]
                nxt: list[Ranges] = []
                for blk in blocks:
                    inside = cs_intersect(blk, cut)
                    if inside:
                        nxt.append(inside)
                        outside = cs_difference(blk, cut)
                        if outside:
                            nxt.append(outside)
                    else:
                        nxt.append(blk)
                blocks = nxt
            children: dict[tuple[int, tuple[int, ...]], None] = {}
            alone = False
            for blk in blocks:
                rep = blk[0][0]
                r2 = lines.step(r, rep)
                if r2 < 0 or not lines.live[r2]:
                    continue
                within = [cid for cid in by_set if classes.contains(cid, rep)]
                if len(within) == 1:
                    members = tuple(by_set[within[0]])
                else:
                    chosen = set(within)
                    members = tuple(i for i in active if sets_of[i][depth] in chosen)
                if members:
                    children[(r2, members)] = None
                else:
                    alone = True
            if alone and len(exhausted) > 1:
                self._leaf(exhausted, heads, proven, candidates, bit, diff)
            for r2, members in children:
                stack.append((exhausted + list(members), depth + 1, r2))

    @staticmethod
    def _leaf(group: list[int], heads: dict[int, _Head], proven: list[int],
              candidates: list[int], bit: list[int], diff: Callable[[int], int]) -> None:
        opened = tails = everyone = 0
        for i in group:
            h = heads[i]
            everyone |= bit[i]
            if h.exact and h.kind == "open":
                opened |= bit[i]
            elif h.exact and h.kind == "tail":
                tails |= bit[i]
        for i in group:
            if opened & bit[i]:
                proven[i] |= opened | tails
            elif tails & bit[i]:
                proven[i] |= opened
                candidates[i] |= tails & diff(i)
            else:
                candidates[i] |= everyone & diff(i)
        for i in _bits(everyone & ~(opened | tails)):
            for j in _bits(candidates[i]):
                candidates[j] |= bit[i]

    # -- examples ---------------------------------------------------------------
    def example(self, i: int, j: int, check: Callable[[str], bool]) -> str | None:
        """A subject both patterns match, as realistic as found within the
        budgets: an enhanced-code response in words, with each pattern's
        match as whole words if possible; `check` confirms it."""
        a, b = self.autos[i], self.autos[j]
        assert a is not None and b is not None
        for lines, whole in self.tiers():
            pair: list[Automaton] = [a, b]
            if whole:
                wa, wb = self.whole(i), self.whole(j)
                if wa is None or wb is None:
                    continue
                pair = [wa, wb]
            verdict, text = search(pair, lines, budget=EXAMPLE_BUDGET)
            if verdict == YES and text is not None and check(text):
                return text
        verdict, text = search([a, b], self.lines, budget=SEARCH_BUDGET, shortcut=True)
        if verdict == YES and text is not None and check(text):
            return text
        return None

    def tiers(self) -> list[tuple[Lines, bool]]:
        if self._tiers is None:
            c = self.classes
            if self.rewrite:
                real, coded = realistic_lines(c), coded_lines(c)
                self._tiers = [(real, True), (real, False), (coded, True), (coded, False),
                               (self.lines, False)]
            else:
                words = word_lines(c)
                self._tiers = [(words, True), (words, False), (self.lines, False)]
        return self._tiers

    def whole(self, i: int) -> Automaton | None:
        """Pattern i with its match required not to cut a word in two (its
        first and last characters, when word characters, have no word
        character beside them outside the match)."""
        if i not in self._whole:
            h = HCat((HLook(NO_SPLIT), HCap(0, None, self.hirs[i]), HLook(NO_SPLIT)))
            try:
                self._whole[i] = Automaton(h, self.atoms)
            except TooLarge:
                self._whole[i] = None
        return self._whole[i]


def _bits(x: int) -> Iterator[int]:
    """The indexes of the set bits of x, ascending."""
    while x:
        low = x & -x
        yield low.bit_length() - 1
        x ^= low
