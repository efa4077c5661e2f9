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
    if len(autos) == 2:
        return _search2(autos[0], autos[1], lines, budget, shortcut)
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


def _search2(a: Automaton, b: Automaton, lines: Lines, budget: int,
             shortcut: bool) -> tuple[str, str | None]:
    """`search` for two automata: the same search, in the same order, with
    product states packed into ints."""
    classes = lines.classes
    inter_memo = classes.inter_memo
    inter = classes.inter
    pick = classes.pick
    natoms = len(a.atoms)
    combos = sorted({(a.gmap[x], b.gmap[x]) for x in range(natoms)})
    nb = len(b.nodes)
    nr = len(lines.trans)
    a_trans, b_trans, a_live, b_live = a.trans, b.trans, a.live, b.live
    a_eot, b_eot = a.eot, b.eot
    l_trans, l_live, l_accept, l_prefer = lines.trans, lines.live, lines.accept, lines.prefer
    # for each line state: its live transitions
    r_out = [[(rc, rt) for rc, rt in l_trans[r] if l_live[rt]] for r in range(nr)]
    start = (a.start * nb + b.start) * nr
    parent: dict[int, tuple[int, str]] = {start: (-1, "")}
    queue = deque([start])

    def path(node: int) -> str:
        out: list[str] = []
        while node != -1:
            node, c = parent[node]
            out.append(c)
        return "".join(reversed(out))

    while queue:
        node = queue.popleft()
        sab, r = divmod(node, nr)
        sa, sb = divmod(sab, nb)
        if l_accept[r] and a_eot[sa] and b_eot[sb]:
            return YES, path(node)
        if shortcut:
            got = _completed((a, b), (sa, sb), lines, r)
            if got is not None:
                return YES, path(node) + got
        pref = l_prefer[r]
        rtrans = r_out[r]
        ta, tb = a_trans[sa], b_trans[sb]
        for ga, gb in combos:
            la, lb = ta[ga], tb[gb]
            if not la or not lb:
                continue
            for ca, xa in la:
                if not a_live[xa]:
                    continue
                for cb, xb in lb:
                    if ca == cb:
                        cid = ca
                    else:
                        cid = inter_memo.get((ca, cb) if ca < cb else (cb, ca), -2)
                        if cid == -2:
                            cid = inter(ca, cb)
                        if cid < 0:
                            continue
                    if not b_live[xb]:
                        continue
                    base = (xa * nb + xb) * nr
                    for rc, rt in rtrans:
                        nxt = base + rt
                        if nxt in parent:
                            continue
                        if rc == cid:
                            c2 = cid
                        else:
                            c2 = inter_memo.get((rc, cid) if rc < cid else (cid, rc), -2)
                            if c2 == -2:
                                c2 = inter(cid, rc)
                            if c2 < 0:
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
