"""Breadth-first search in the product of pattern automata and a line DFA:
the shortest subject of the DFA that every automaton accepts.

Each product state is (one state per automaton, DFA state); a step reads
one class of characters, the intersection of one transition of each.  The
character shown for a class is chosen by the DFA state's preference (digits
of a status code, letters in text), so that the shortest subject found
reads like a response.  Searches stop at a budget of product states and
then say "undecided", never "no".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from itertools import product

from .._regex._automaton import Automaton
from ._lines import Lines

__all__ = ["YES", "NO", "UNDECIDED", "nonempty", "search"]

YES, NO, UNDECIDED = "yes", "no", "undecided"


def search(autos: Sequence[Automaton], lines: Lines, *, budget: int,
           shortcut: bool = False) -> tuple[str, str | None]:
    """(YES, subject) for the shortest subject of `lines` matched by every
    automaton; (NO, None) when there is none; (UNDECIDED, None) past
    `budget` states.  With `shortcut` (two automata), stop as soon as both
    can be completed by their plugs whatever follows (one of them may need
    the end of the subject): the subject is then not the shortest."""
    classes = lines.classes
    inter = classes.inter
    pick = classes.pick
    natoms = len(autos[0].atoms)
    combos = sorted({tuple(a.gmap[x] for a in autos) for x in range(natoms)})
    start = (tuple(a.start for a in autos), 0)
    parent: dict[tuple[tuple[int, ...], int], tuple[tuple[tuple[int, ...], int] | None, str]] = {
        start: (None, "")}
    queue = deque([start])
    lives = [a.live for a in autos]
    llive = lines.live

    def path(node: tuple[tuple[int, ...], int]) -> str:
        out: list[str] = []
        cur: tuple[tuple[int, ...], int] | None = node
        while cur is not None:
            prev, c = parent[cur]
            out.append(c)
            cur = prev
        return "".join(reversed(out))

    while queue:
        node = queue.popleft()
        states, r = node
        if lines.accept[r] and all(a.eot[s] for a, s in zip(autos, states, strict=True)):
            return YES, path(node)
        if shortcut and len(autos) == 2:
            got = _completed(autos, states, lines, r)
            if got is not None:
                return YES, path(node) + got
        pref = lines.prefer[r]
        rtrans = lines.trans[r]
        for combo in combos:
            lists = [a.trans[s][g] for a, s, g in zip(autos, states, combo, strict=True)]
            if not all(lists):
                continue
            for picks in product(*lists):
                cid = picks[0][0]
                for other, _ in picks[1:]:
                    cid = inter(cid, other)
                    if cid < 0:
                        break
                if cid < 0:
                    continue
                targets = tuple(t for _, t in picks)
                if not all(live[t] for live, t in zip(lives, targets, strict=True)):
                    continue
                for rc, rt in rtrans:
                    c2 = inter(cid, rc)
                    if c2 < 0 or not llive[rt]:
                        continue
                    nxt = (targets, rt)
                    if nxt in parent:
                        continue
                    parent[nxt] = (node, pick(c2, pref))
                    if len(parent) > budget:
                        return UNDECIDED, None
                    queue.append(nxt)
    return NO, None


def _completed(autos: Sequence[Automaton], states: tuple[int, ...], lines: Lines,
               r: int) -> str | None:
    a, b = autos
    sa, sb = states
    if a.open[sa] and (b.open[sb] or b.tail[sb]):
        first, second, fs, ss = a, b, sa, sb
    elif b.open[sb] and a.tail[sa]:
        first, second, fs, ss = b, a, sb, sa
    else:
        return None
    return (lines.completion(r) + first.plug(fs)
            + second.plug(ss, at_end=not second.open[ss]))


def nonempty(auto: Automaton, lines: Lines, *, budget: int) -> bool | None:
    """Whether some subject of `lines` is accepted by `auto` (None: past the
    budget).  `search` for one automaton, without the example."""
    inter = lines.classes.inter
    width = len(lines.trans)
    seen = {auto.start * width}
    stack = [(auto.start, 0)]
    live = auto.live
    llive = lines.live
    while stack:
        s, r = stack.pop()
        if auto.eot[s] and lines.accept[r]:
            return True
        if s == auto.acc and llive[r]:
            return True
        rtrans = lines.trans[r]
        for lst in auto.trans[s]:
            for cid, t in lst:
                if not live[t]:
                    continue
                for rc, rt in rtrans:
                    key = t * width + rt
                    if key in seen or not llive[rt] or inter(cid, rc) < 0:
                        continue
                    seen.add(key)
                    if len(seen) > budget:
                        return None
                    stack.append((t, rt))
    return False
