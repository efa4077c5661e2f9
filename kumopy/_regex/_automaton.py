"""Search automata for Rust-semantics patterns, for deciding questions about
their languages (does some subject match both of two patterns?).

A pattern's HIR (from kumopy's own parser, so flags, case folding, Unicode
classes and the crate's assertions mean what they mean in Rust) is
compiled to a Thompson NFA and then to an epsilon-free NFA for *search*
semantics: the automaton accepts a subject when the pattern matches
anywhere in it, as `RegexSet::matches` asks.

* The alphabet is Unicode scalar values (kumod's subjects are `&str`), or a
  subset of it (`universe`), handled as code point sets, never one
  character at a time: every transition carries a class (an id in a shared
  `Classes` table) and products intersect classes.
* Zero-width assertions (`^ $ \\A \\z`, the multi-line and CRLF forms,
  `\\b \\B` and the `\\b{start}`-style ones, Unicode or ASCII) are decided
  on the neighbouring characters: a state remembers the "look class" of the
  previous character (`kappa`: start of text, or a group of atoms such as
  word/non-word), and each transition is taken for one look class of the
  next character (its group), so an assertion between two characters is
  evaluated when the second one is read, and at the end of the subject for
  the end of text.  The atoms (ASCII word characters, other word
  characters, `\\n`, `\\r`, the rest) are shared by every automaton of one
  run; each pattern groups them only as far as its own assertions need.
* Once the pattern has matched, the automaton is in `ACC`, a sink that
  reads anything: search semantics.  Before any match, `START` reads any
  character and stays (the unanchored prefix).

Nothing is determinized: questions about several patterns are answered on
the product of their NFAs (polynomial in their sizes), so there is no
exponential blow-up; only a size budget (`TooLarge`).
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable, Sequence

from kumopy._regex._charset import (
    Ranges,
    cs_difference,
    cs_intersect,
    cs_norm,
    to_cp,
    to_index,
)
from kumopy._regex._hir import Hir
from kumopy._regex._looks import word_look_holds
from kumopy._regex._thompson import CHAR, MATCH, Thompson, TooLarge

__all__ = ["Atoms", "Automaton", "Classes", "TooLarge", "BOT", "EOT", "NO_SPLIT"]

BOT = -1  # kappa: the start of the subject (no previous character)
EOT = -1  # lambda: the end of the subject (no next character)
_START = -1  # node id of the unanchored start
_ACC = -2  # node id of the accepting sink

#: Default budgets: NFA nodes of one pattern, states of its automaton.
MAX_NODES = 20_000
MAX_STATES = 40_000


class Classes:
    """Interned code point sets (scalar indexes), with memoized intersection
    and a choice of a readable member."""

    def __init__(self) -> None:
        self.ranges: list[Ranges] = []
        self.starts: list[list[int]] = []
        self._ids: dict[Ranges, int] = {}
        self._inter: dict[tuple[int, int], int] = {}
        #: the memo of `inter`, keyed by (smaller id, larger id), for hot loops
        self.inter_memo = self._inter
        self._pick: dict[tuple[int, str], str] = {}
        self._covers: dict[tuple[int, int], bool] = {}
        self._within: dict[tuple[Ranges, Ranges], int] = {}
        self._union: dict[tuple[int, ...], int] = {}
        self._chars: dict[Ranges, dict[str, int]] = {}

    def id(self, ranges: Ranges) -> int:
        """The id of a set; -1 for the empty set."""
        if not ranges:
            return -1
        got = self._ids.get(ranges)
        if got is None:
            got = len(self.ranges)
            self.ranges.append(ranges)
            self.starts.append([lo for lo, _ in ranges])
            self._ids[ranges] = got
        return got

    def within(self, ranges: Ranges, universe: Ranges) -> int:
        """The id of `ranges` cut to `universe` (memoized)."""
        key = (ranges, universe)
        got = self._within.get(key)
        if got is None:
            got = self._within[key] = self.id(cs_intersect(ranges, universe))
        return got

    def char_ids(self, universe: Ranges) -> dict[str, int]:
        """A memo of character -> id of the set of that character cut to
        `universe` (-1 outside it), for the caller to fill."""
        got = self._chars.get(universe)
        if got is None:
            got = self._chars[universe] = {}
        return got

    def inter(self, a: int, b: int) -> int:
        if a == b:
            return a
        key = (a, b) if a < b else (b, a)
        got = self._inter.get(key)
        if got is None:
            got = self.id(cs_intersect(self.ranges[a], self.ranges[b]))
            self._inter[key] = got
        return got

    def union(self, ids: Iterable[int]) -> int:
        key = tuple(sorted(set(ids)))
        got = self._union.get(key)
        if got is None:
            if len(key) == 1:
                got = key[0]
            else:
                got = self.id(cs_norm(r for i in key for r in self.ranges[i]))
            self._union[key] = got
        return got

    def contains(self, cid: int, index: int) -> bool:
        i = bisect.bisect_right(self.starts[cid], index) - 1
        return i >= 0 and self.ranges[cid][i][1] >= index

    def covers(self, big: int, small: int) -> bool:
        if big == small:
            return True
        key = (big, small)
        got = self._covers.get(key)
        if got is None:
            got = self._covers[key] = not cs_difference(self.ranges[small], self.ranges[big])
        return got

    def pick(self, cid: int, prefer: str = "") -> str:
        """A member of the set: the first of `prefer` in it, else a printable
        ASCII character, else the lowest member."""
        key = (cid, prefer)
        got = self._pick.get(key)
        if got is None:
            got = self._choose(cid, prefer)
            self._pick[key] = got
        return got

    def _choose(self, cid: int, prefer: str) -> str:
        for c in prefer:
            if self.contains(cid, to_index(ord(c))):
                return c
        ranges = self.ranges[cid]
        for lo, hi in ranges:
            if lo <= 0x7E and hi >= 0x21:
                return chr(max(lo, 0x21))
        for lo, hi in ranges:
            cp = to_cp(lo)
            if cp >= 0xA1 or (lo <= 0xA1 <= hi):
                return chr(max(cp, 0xA1))
        return chr(to_cp(ranges[0][0]))


# Attribute bits of an atom.
_WORD_U, _WORD_A, _LF, _CR = 1, 2, 4, 8


class Atoms:
    """A partition of the alphabet that every assertion respects: each atom
    is word or not (Unicode and ASCII), `\\n`, `\\r` or neither.  Only the
    distinctions some pattern needs are made (`needs`: look kinds)."""

    def __init__(self, classes: Classes, universe: Ranges, kinds: Iterable[str],
                 word_unicode: Ranges | None = None) -> None:
        kinds = set(kinds)
        splitters: list[tuple[Ranges, int]] = []
        if any("unicode" in k for k in kinds):
            assert word_unicode is not None
            splitters.append((word_unicode, _WORD_U))
        if any("ascii" in k for k in kinds) or any("unicode" in k for k in kinds):
            splitters.append((cs_norm([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]),
                              _WORD_A))
        if any(k.endswith("_lf") or k.endswith("_crlf") for k in kinds):
            splitters.append((((0x0A, 0x0A),), _LF))
        if any(k.endswith("_crlf") for k in kinds):
            splitters.append((((0x0D, 0x0D),), _CR))
        parts: list[tuple[Ranges, int]] = [(universe, 0)]
        for ranges, bit in splitters:
            nxt: list[tuple[Ranges, int]] = []
            for part, bits in parts:
                inside = cs_intersect(part, ranges)
                outside = cs_difference(part, ranges)
                if inside:
                    nxt.append((inside, bits | bit))
                if outside:
                    nxt.append((outside, bits))
            parts = nxt
        # an ASCII word character is a Unicode word character too
        self.bits = [b | (_WORD_U if b & _WORD_A else 0) for _, b in parts]
        self.ids = [classes.id(r) for r, _ in parts]
        self.universe = classes.id(universe)
        self.classes = classes
        self.space = self.atom_of(0x20)
        self._groups: dict[int, tuple[list[int], list[int], list[int]]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def groups(self, need: int) -> tuple[list[int], list[int], list[int]]:
        """For an automaton whose assertions look at the atom bits `need`:
        the group of each atom (`gmap`), each group's bits and class."""
        got = self._groups.get(need)
        if got is None:
            keys: dict[int, int] = {}
            gmap: list[int] = []
            gbits: list[int] = []
            for bits in self.bits:
                key = bits & need
                if key not in keys:
                    keys[key] = len(gbits)
                    gbits.append(bits)
                gmap.append(keys[key])
            gclass = [self.classes.union(self.ids[a] for a in range(len(self))
                                         if gmap[a] == g) for g in range(len(gbits))]
            assert min(gclass) >= 0  # (atoms are not empty)
            got = self._groups[need] = (gmap, gbits, gclass)
        return got

    def atom_of(self, index: int) -> int:
        for a, cid in enumerate(self.ids):
            if self.classes.contains(cid, index):
                return a
        return -1


#: An assertion of kumopy's own (not Rust syntax): the two neighbouring
#: characters are not both ASCII word characters (no word is cut in two).
NO_SPLIT = "no_split_ascii"


def _kind_bits(kind: str) -> int:
    if kind == NO_SPLIT:
        return _WORD_A
    if kind.startswith("word"):
        return _WORD_U | _WORD_A if "unicode" in kind else _WORD_A
    if kind.endswith("_crlf"):
        return _LF | _CR
    if kind.endswith("_lf"):
        return _LF
    return 0


def _holds(kind: str, prev: int, nxt: int) -> bool:
    """Whether an assertion holds between a previous character with atom
    bits `prev` (BOT: start) and a next one `nxt` (EOT: end)."""
    if kind == "start":
        return prev == BOT
    if kind == "end":
        return nxt == EOT
    if kind == "start_lf":
        return prev == BOT or bool(prev & _LF)
    if kind == "end_lf":
        return nxt == EOT or bool(nxt & _LF)
    if kind == "start_crlf":
        return prev == BOT or bool(prev & _LF) or (
            bool(prev & _CR) and (nxt == EOT or not nxt & _LF))
    if kind == "end_crlf":
        return nxt == EOT or bool(nxt & _CR) or (
            bool(nxt & _LF) and (prev == BOT or not prev & _CR))
    if kind == NO_SPLIT:
        return not (prev != BOT and prev & _WORD_A and nxt != EOT and nxt & _WORD_A)
    bit = _WORD_U if "unicode" in kind else _WORD_A
    return word_look_holds(kind, prev != BOT and bool(prev & bit), nxt != EOT and bool(nxt & bit))


class _Nfa(Thompson):
    """The Thompson NFA of a pattern over class ids (cut to `universe`)."""

    def __init__(self, hir: Hir, classes: Classes, universe: Ranges, max_nodes: int) -> None:
        self.classes = classes
        self.universe = universe
        self._chars = classes.char_ids(universe)
        super().__init__(hir, max_nodes)

    def char_arg(self, ranges: Ranges) -> object:
        return self.classes.within(ranges, self.universe)

    def lit_arg(self, c: str) -> object:
        cid = self._chars.get(c)
        if cid is None:
            i = to_index(ord(c))
            cid = self._chars[c] = self.classes.within(((i, i),), self.universe)
        return cid


class Automaton:
    """The epsilon-free search automaton of one pattern.

    States are ints; `trans[s][g]` lists `(class id, target)` for the next
    character's group `g` (`gmap[atom]`), `eot[s]` tells whether the
    pattern has matched when the subject ends in `s`.  `live[s]`: some
    continuation is accepted; `open[s]`: `s` reads anything and stays
    (like `.*`), and from there a match can be completed whatever was
    read, so for every `u`, `u + plug(s)` leads to `ACC`; `tail[s]`: the
    same, but the match needs the end of the subject (`u + plug(s)` is
    accepted when nothing follows).
    """

    def __init__(self, hir: Hir, atoms: Atoms, *, max_nodes: int = MAX_NODES,
                 max_states: int = MAX_STATES) -> None:
        classes = atoms.classes
        self.classes = classes
        self.atoms = atoms
        nfa = _Nfa(hir, classes, classes.ranges[atoms.universe], max_nodes)
        self.kinds = frozenset(nfa.kinds)
        need = 0
        for k in nfa.kinds:
            need |= _kind_bits(k)
        # groups of atoms this pattern's assertions do not tell apart
        gmap, gbits, gclass = atoms.groups(need)
        self.gmap = gmap
        ngroups = self.ngroups = len(gbits)
        self.gclass = gclass
        self.space_group = gmap[atoms.space] if atoms.space >= 0 else 0
        ops, args, nexts = nfa.ops, nfa.args, nfa.nexts
        # without assertions, a closure does not depend on the neighbours
        looks = bool(nfa.kinds)
        closures: dict[object, tuple[bool, tuple[int, ...]]] = {}

        def closure(node: int, prev: int, nxt: int) -> tuple[bool, tuple[int, ...]]:
            key = (node, prev, nxt) if looks else node
            got = closures.get(key)
            if got is not None:
                return got
            pbits = BOT if prev == BOT else gbits[prev]
            nbits = EOT if nxt == EOT else gbits[nxt]
            matched, reached = nfa.closure((node,), lambda kind: _holds(kind, pbits, nbits))
            chars = [pc for pc in reached if args[pc] != -1]
            got = (matched, tuple(chars))
            closures[key] = got
            return got

        # states are (NFA node, look class of the previous character), numbered
        # in the order they are first reached and expanded in that order
        width = ngroups + 1
        ids: dict[int, int] = {}
        nodes: list[tuple[int, int]] = []
        self.nodes = nodes
        trans: list[list[list[tuple[int, int]]]] = []
        self.trans = trans
        eot: list[bool] = []
        self.eot = eot

        def state(node: int, kappa: int) -> int:
            key = (node + 2) * width + kappa + 1
            got = ids.get(key)
            if got is None:
                got = len(nodes)
                if got >= max_states:
                    raise TooLarge(f"more than {max_states} automaton states")
                ids[key] = got
                nodes.append((node, kappa))
            return got

        universe = atoms.universe
        inter = classes.inter
        union = classes.union
        groups = range(ngroups)
        root = nfa.start
        self.start = state(_START, BOT)
        acc = self.acc = state(_ACC, 0)
        acc_trans = [[(gclass[g], acc)] if gclass[g] >= 0 else [] for g in groups]
        loopable: list[int] = []
        s = 0
        while s < len(nodes):
            node, kappa = nodes[s]
            s += 1
            if node == _ACC:
                eot.append(True)
                trans.append(acc_trans)
                loopable.append(s - 1)
                continue
            entry = root if node == _START else node
            op = ops[entry]
            if op == CHAR and node != _START:
                # the common case: the closure is the character itself
                eot.append(False)
                cls: int = args[entry]  # type: ignore[assignment]
                if cls == -1:
                    trans.append([[] for _ in groups])
                    continue
                target = nexts[entry]
                base = (target + 2) * width + 1
                per_group: list[list[tuple[int, int]]] = []
                for g in groups:
                    gc = gclass[g]
                    cid = cls if gc == universe else inter(cls, gc)
                    if cid < 0:
                        per_group.append([])
                        continue
                    t = ids.get(base + g)
                    if t is None:  # (state(), inlined)
                        t = len(nodes)
                        if t >= max_states:
                            raise TooLarge(f"more than {max_states} automaton states")
                        ids[base + g] = t
                        nodes.append((target, g))
                    per_group.append([(cid, t)])
                trans.append(per_group)
                continue
            loopable.append(s - 1)
            if op == MATCH:  # matched already: everything is accepted
                eot.append(True)
                trans.append(acc_trans)
                continue
            eot.append(closure(entry, kappa, EOT)[0])
            per_group = []
            for g in groups:
                gc = gclass[g]
                if gc < 0:
                    per_group.append([])
                    continue
                matched, chars = closure(entry, kappa, g)
                if matched:  # the pattern matched before this character
                    per_group.append([(gc, acc)])
                    continue
                out: dict[int, list[int]] = {}
                for pc in chars:
                    cid = inter(args[pc], gc)  # type: ignore[arg-type]
                    if cid >= 0:
                        out.setdefault(state(nexts[pc], g), []).append(cid)
                if node == _START:  # (last: searches try to start a match first)
                    out.setdefault(state(_START, g), []).append(gc)
                per_group.append([(cids[0] if len(cids) == 1 else union(cids), t)
                                  for t, cids in out.items()])
            trans.append(per_group)
        self._analyse(ids, width, loopable)

    def _analyse(self, ids: dict[int, int], width: int, loopable: list[int]) -> None:
        """`live`, `loop_space`, `done`, `open` and `tail` (`loopable`: the
        states that may read anything and stay; a state entered on a
        character node moves to the next node)."""
        n = len(self.nodes)
        trans = self.trans
        back: list[list[int]] = [[] for _ in range(n)]
        for s in range(n):
            for lst in trans[s]:
                for _, t in lst:
                    back[t].append(s)
        eot = self.eot
        live = self.live = _coreach(back, [s for s in range(n) if eot[s]])
        covers = self.classes.covers
        gclass = self.gclass
        groups = [(g, c) for g, c in enumerate(gclass) if c >= 0]
        space = self.space_group
        loop_space = self.loop_space = [-1] * n
        for s in loopable:
            base = (self.nodes[s][0] + 2) * width + 1
            per = trans[s]
            for g, want in groups:
                target = ids.get(base + g)
                if target is None:
                    break
                for c, t in per[g]:
                    if t == target and covers(c, want):
                        break
                else:
                    break
            else:
                loop_space[s] = ids.get(base + space, -1)
        # a state that accepts whatever comes next, nothing included, has
        # matched already
        acc = self.acc
        done = self.done = [False] * n
        for s in range(n):
            if eot[s]:
                per = trans[s]
                done[s] = all(len(per[g]) == 1 and per[g][0] == (want, acc)
                              for g, want in groups)
        is_open = self.open = list(done)
        tail = self.tail = list(done)
        reach_acc: list[bool] | None = None  # (made when first needed)
        for s in loopable:
            ls = loop_space[s]
            if ls >= 0 and not done[s]:
                if reach_acc is None:
                    reach_acc = _coreach(back, [self.acc])
                is_open[s] = reach_acc[ls]
                tail[s] = live[ls]
        self._plugs: dict[tuple[int, bool], str] = {}

    def plug(self, s: int, at_end: bool = False, prefer: str = "") -> str:
        """For an open (with `at_end`: tail) state: the text that completes a
        match after anything: a space, then the shortest way to `ACC` (to
        an accepting end)."""
        if self.done[s]:
            return ""
        key = (s, at_end)
        got = self._plugs.get(key)
        if got is None:
            start = self.loop_space[s]
            assert start >= 0
            path = self.shortest(start, at_end=at_end, prefer=prefer)
            assert path is not None
            got = " " + path
            self._plugs[key] = got
        return got

    def shortest(self, start: int, *, at_end: bool, prefer: str = "") -> str | None:
        """The shortest text leading from `start` to `ACC` (or, with
        `at_end`, to a state accepting at the end)."""
        goal = (lambda s: self.eot[s]) if at_end else (lambda s: s == self.acc)
        parent: dict[int, tuple[int, str]] = {start: (-1, "")}
        queue = deque([start])
        while queue:
            s = queue.popleft()
            if goal(s):
                out: list[str] = []
                while s != start:
                    s, c = parent[s]
                    out.append(c)
                # the characters were appended walking back
                return "".join(reversed(out))
            for g in range(self.ngroups):
                for cid, t in self.trans[s][g]:
                    if t not in parent and self.live[t]:
                        parent[t] = (s, self.classes.pick(cid, prefer))
                        queue.append(t)
        return None

    def step(self, states: Iterable[int], index: int, atom: int) -> frozenset[int]:
        """The live states after reading the character `index` (of `atom`)."""
        g = self.gmap[atom]
        contains = self.classes.contains
        live = self.live
        return frozenset(t for s in states for cid, t in self.trans[s][g]
                         if live[t] and contains(cid, index))


def _coreach(back: list[list[int]], seeds: list[int]) -> list[bool]:
    """The states from which one of `seeds` can be reached (`back`: the
    sources of each state's transitions)."""
    mark = [False] * len(back)
    stack = seeds
    for s in stack:
        mark[s] = True
    while stack:
        t = stack.pop()
        for s in back[t]:
            if not mark[s]:
                mark[s] = True
                stack.append(s)
    return mark


def classes_of(states: Sequence[int], auto: Automaton) -> list[int]:
    """The classes on the live transitions out of `states`."""
    out: list[int] = []
    for s in states:
        for lst in auto.trans[s]:
            for cid, t in lst:
                if auto.live[t]:
                    out.append(cid)
    return out


def accepts(auto: Automaton, text: str) -> bool:
    """Whether the automaton accepts `text` (the pattern matches somewhere in
    it); for tests and checks, one character at a time."""
    states: frozenset[int] = frozenset((auto.start,))
    atoms = auto.atoms
    for c in text:
        index = to_index(ord(c))
        atom = atoms.atom_of(index)
        if atom < 0:
            return False
        states = auto.step(states, index, atom)
        if not states:
            return False
        if auto.acc in states:
            return True
    return any(auto.eot[s] for s in states)
