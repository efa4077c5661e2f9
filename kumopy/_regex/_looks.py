"""Simplifying constructors for rewritten expressions and the elimination
of the zero-width assertions RE2 lacks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kumopy._regex._charset import (
    UNIVERSE,
    Ranges,
    cs_contains,
    cs_difference,
    cs_intersect,
    cs_is_subset,
    cs_single,
    cs_union,
    to_index,
)
from kumopy._regex._hir import (
    H_EMPTY,
    H_FAIL,
    LOOK_END,
    LOOK_END_CRLF,
    LOOK_START,
    LOOK_START_CRLF,
    NATIVE_LOOKS,
    UNICODE_WORD_LOOKS,
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
from kumopy._regex._unicode import ASCII_WORD, perl_word

# --------------------------------------------------------------------------
# Simplifying constructors for rewritten expressions (no Rust fidelity
# needed past this point: only the language matters)
# --------------------------------------------------------------------------


def _is_fail(h: Hir) -> bool:
    return isinstance(h, HClass) and not h.ranges


def s_cat(items: Iterable[Hir]) -> Hir:
    out: list[Hir] = []
    for x in items:
        if isinstance(x, HCap):
            x = x.sub
        parts = x.items if isinstance(x, HCat) else (x,)
        for y in parts:
            if isinstance(y, HEmpty):
                continue
            if _is_fail(y):
                return H_FAIL
            if isinstance(y, HLit) and out and isinstance(out[-1], HLit):
                out[-1] = HLit(out[-1].text + y.text)
            else:
                out.append(y)
    if not out:
        return H_EMPTY
    if len(out) == 1:
        return out[0]
    return HCat(tuple(out))


def s_alt(items: Iterable[Hir]) -> Hir:
    out: list[Hir] = []
    seen: set[Hir] = set()
    for x in items:
        if isinstance(x, HCap):
            x = x.sub
        parts = x.items if isinstance(x, HAlt) else (x,)
        for y in parts:
            if _is_fail(y):
                continue
            try:
                if y in seen:
                    continue
                seen.add(y)
            except TypeError:  # pragma: no cover - all nodes are hashable
                pass
            out.append(y)
    if not out:
        return H_FAIL
    if len(out) == 1:
        return out[0]
    return HAlt(tuple(out))


def s_rep(sub: Hir, lo: int, hi: int | None) -> Hir:
    if hi is not None and hi < lo:
        return H_FAIL
    if hi == 0 or isinstance(sub, HEmpty):
        return H_EMPTY
    if _is_fail(sub):
        return H_EMPTY if lo == 0 else H_FAIL
    if lo == 1 and hi == 1:
        return sub
    return HRep(sub, lo, hi)


def _opt_sub(hi: int | None, k: int) -> int | None:
    return None if hi is None else hi - k


def _maybe_alt(items: list[Hir | None]) -> Hir | None:
    got = [x for x in items if x is not None]
    if not got:
        return None
    h = s_alt(got)
    return None if _is_fail(h) else h


def _cat_or_none(items: Sequence[Hir | None]) -> Hir | None:
    if any(x is None for x in items):
        return None
    h = s_cat([x for x in items if x is not None])
    return None if _is_fail(h) else h


def eps(h: Hir) -> Hir | None:
    """The empty matches of `h` (with the native assertions they need)."""
    if isinstance(h, HEmpty):
        return h
    if isinstance(h, HLook):
        return h
    if isinstance(h, (HLit, HClass)):
        return None
    if isinstance(h, HCap):
        return eps(h.sub)
    if isinstance(h, HCat):
        return _cat_or_none([eps(x) for x in h.items])
    if isinstance(h, HAlt):
        return _maybe_alt([eps(x) for x in h.items])
    if isinstance(h, HRep):
        if h.min == 0:
            return H_EMPTY
        return eps(h.sub)
    raise TypeError(h)


def _restrict(h: Hir, charset: Ranges | None, at_end: bool) -> Hir | None:
    """Non-empty matches of `h`; with `charset`, only those whose first
    (or, with `at_end`, last) character is in it."""
    if isinstance(h, HLit):
        if charset is None:
            return h
        c = h.text[-1] if at_end else h.text[0]
        return h if cs_contains(charset, to_index(ord(c))) else None
    if isinstance(h, HClass):
        if charset is None:
            return h if h.ranges else None
        got = cs_intersect(h.ranges, charset)
        return HClass(got) if got else None
    if isinstance(h, (HEmpty, HLook)):
        return None
    if isinstance(h, HCap):
        return _restrict(h.sub, charset, at_end)
    if isinstance(h, HAlt):
        return _maybe_alt([_restrict(x, charset, at_end) for x in h.items])
    if isinstance(h, HCat):
        items = h.items
        order = range(len(items) - 1, -1, -1) if at_end else range(len(items))
        alts: list[Hir | None] = []
        skipped: list[Hir] = []  # eps() of the items passed over
        for i in order:
            r = _restrict(items[i], charset, at_end)
            if r is not None:
                if at_end:
                    alts.append(_cat_or_none([*items[:i], r, *reversed(skipped)]))
                else:
                    alts.append(_cat_or_none([*skipped, r, *items[i + 1 :]]))
            e = eps(items[i])
            if e is None:
                break
            skipped.append(e)
        return _maybe_alt(alts)
    if isinstance(h, HRep):
        r = _restrict(h.sub, charset, at_end)
        if r is None:
            return None
        rest = s_rep(h.sub, max(h.min - 1, 0), _opt_sub(h.max, 1))
        first = s_cat([rest, r] if at_end else [r, rest])
        terms: list[Hir | None] = [first]
        e = eps(h.sub)
        if h.min >= 2 and e is not None and not isinstance(e, HEmpty):
            rest2 = s_rep(h.sub, 0, _opt_sub(h.max, 2))
            terms.append(s_cat([rest2, r, e] if at_end else [e, r, rest2]))
        return _maybe_alt(terms)
    raise TypeError(h)


# --------------------------------------------------------------------------
# Elimination of the assertions RE2 does not have
# --------------------------------------------------------------------------

State = tuple[int, int]  # (previous character's atom or -1 at start, allowed next mask)

#: Size (roughly: nodes) above which a rewrite is abandoned; the pattern is
#: then matched by a looser RE2 expression plus an exact check.
ELIMINATION_BUDGET = 4000


class TooComplex(Exception):
    """The exact RE2 form of a pattern would be too large."""


def word_look_holds(kind: str, before: bool, after: bool) -> bool:
    """Whether a word-boundary assertion (`word_ascii`, `word_start_unicode`,
    ...) holds between a character that is (`before`) or is not a word
    character and one that is (`after`) or is not; the start and end of
    the text count as non-word."""
    if kind.endswith("_negate"):
        return before == after
    base = kind.rsplit("_", 1)[0]
    if base == "word":
        return before != after
    if base == "word_start":
        return (not before) and after
    if base == "word_end":
        return before and not after
    if base == "word_start_half":
        return not before
    if base == "word_end_half":
        return not after
    raise AssertionError(kind)


class _LookEliminator:
    """Rewrites an expression so that non-native assertions are replaced by
    conditions on the characters around them.

    The characters are partitioned into "atoms" that every assertion
    condition respects.  A state is (class of the previous character, set of
    classes the next character may have), and `run(node, state)` returns,
    for every state after `node`, the expression matching what `node` can
    match from `state` to that state.  At the start the previous character
    is consumed (or `\\A` asserted); at the end the required next character
    is consumed (or `\\z` asserted).  That keeps the set of subjects with a
    match unchanged.
    """

    def __init__(self, root: Hir, word_unicode: Ranges | None, special: frozenset[str]) -> None:
        self.special = special
        kinds = _collect_looks(root)
        splitters: list[Ranges] = []
        if any(k.endswith("_unicode") or k.endswith("_unicode_negate") for k in kinds & special):
            assert word_unicode is not None
            splitters.append(word_unicode)
        if any("ascii" in k for k in kinds & special):
            splitters.append(ASCII_WORD)
        if kinds & {LOOK_START_CRLF, LOOK_END_CRLF}:
            splitters += [cs_single(0x0A), cs_single(0x0D)]
        atoms: list[Ranges] = [UNIVERSE]
        for d in splitters:
            nxt: list[Ranges] = []
            for a in atoms:
                for part in (cs_intersect(a, d), cs_difference(a, d)):
                    if part:
                        nxt.append(part)
            atoms = nxt
        self.atoms = atoms
        self.k = len(atoms)
        self.eot = 1 << self.k
        self.full = (1 << (self.k + 1)) - 1
        self.word_u = [word_unicode is not None and cs_is_subset(a, word_unicode) for a in atoms]
        self.word_a = [cs_is_subset(a, ASCII_WORD) for a in atoms]
        self.is_lf = [a == cs_single(0x0A) for a in atoms]
        self.is_cr = [a == cs_single(0x0D) for a in atoms]
        self.memo: dict[tuple[int, State], dict[State, Hir]] = {}
        self.special_memo: dict[int, bool] = {}
        self.size_memo: dict[int, tuple[Hir, int]] = {}
        self.keep: list[Hir] = []  # keeps memo keys (ids) alive

    def size(self, h: Hir) -> int:
        got = self.size_memo.get(id(h))
        if got is not None:
            return got[1]
        if isinstance(h, HLit):
            n = 1 + len(h.text) // 8
        elif isinstance(h, HClass):
            n = 1 + len(h.ranges) // 4
        elif isinstance(h, (HRep, HCap)):
            n = 1 + self.size(h.sub)
        elif isinstance(h, (HCat, HAlt)):
            n = 1 + sum(self.size(x) for x in h.items)
        else:
            n = 1
        self.size_memo[id(h)] = (h, n)
        return n

    def checked(self, h: Hir) -> Hir:
        if self.size(h) > ELIMINATION_BUDGET:
            raise TooComplex()
        return h

    # -- predicates ---------------------------------------------------------
    def allowed(self, kind: str, prev: int) -> int:
        """Mask of next classes (and end of text) allowed after `prev`."""
        mask = 0
        for nxt in list(range(self.k)) + [-1]:
            if self.holds(kind, prev, nxt):
                mask |= self.eot if nxt < 0 else (1 << nxt)
        return mask

    def holds(self, kind: str, prev: int, nxt: int) -> bool:
        if kind == LOOK_START_CRLF:
            return (
                prev < 0
                or self.is_lf[prev]
                or (self.is_cr[prev] and (nxt < 0 or not self.is_lf[nxt]))
            )
        if kind == LOOK_END_CRLF:
            return (
                nxt < 0
                or self.is_cr[nxt]
                or (self.is_lf[nxt] and (prev < 0 or not self.is_cr[prev]))
            )
        table = self.word_u if "unicode" in kind else self.word_a
        return word_look_holds(kind, prev >= 0 and table[prev], nxt >= 0 and table[nxt])

    def charset(self, mask: int) -> Ranges:
        out: Ranges = ()
        for a in range(self.k):
            if mask & (1 << a):
                out = cs_union(out, self.atoms[a])
        return out

    # -- the rewrite ----------------------------------------------------------
    def has_special(self, h: Hir) -> bool:
        key = id(h)
        got = self.special_memo.get(key)
        if got is None:
            if isinstance(h, HLook):
                got = h.kind in self.special
            elif isinstance(h, (HRep, HCap)):
                got = self.has_special(h.sub)
            elif isinstance(h, (HCat, HAlt)):
                got = any(self.has_special(x) for x in h.items)
            else:
                got = False
            self.special_memo[key] = got
            self.keep.append(h)
        return got

    def run(self, h: Hir, state: State) -> dict[State, Hir]:
        key = (id(h), state)
        got = self.memo.get(key)
        if got is None:
            got = self._run(h, state)
            self.memo[key] = got
            self.keep.append(h)
        return got

    def _run(self, h: Hir, state: State) -> dict[State, Hir]:
        prev, req = state
        if not self.has_special(h):
            return self.plain(h, state)
        if isinstance(h, HLook):
            mask = req & self.allowed(h.kind, prev)
            return {(prev, mask): H_EMPTY} if mask else {}
        if isinstance(h, HCap):
            return self.run(h.sub, state)
        if isinstance(h, HAlt):
            out: dict[State, list[Hir]] = {}
            for x in h.items:
                for s, r in self.run(x, state).items():
                    out.setdefault(s, []).append(r)
            return {s: self.checked(s_alt(rs)) for s, rs in out.items()}
        if isinstance(h, HCat):
            # Runs of items without special assertions are handled as one.
            parts: list[Hir] = []
            run: list[Hir] = []
            for x in h.items:
                if self.has_special(x):
                    if run:
                        parts.append(run[0] if len(run) == 1 else HCat(tuple(run)))
                        run = []
                    parts.append(x)
                else:
                    run.append(x)
            if run:
                parts.append(run[0] if len(run) == 1 else HCat(tuple(run)))
            self.keep.extend(parts)
            return self.sequence(parts, state)
        if isinstance(h, HRep):
            copies: list[Hir] = [h.sub] * h.min
            if h.max is None:
                tail = self.sequence(copies, state)
                out2: dict[State, list[Hir]] = {}
                for s, r in tail.items():
                    for s2, r2 in self.star(h.sub, s).items():
                        out2.setdefault(s2, []).append(s_cat([r, r2]))
                return {s: self.checked(s_alt(rs)) for s, rs in out2.items()}
            optional = HAlt((H_EMPTY, h.sub))
            self.keep.append(optional)
            copies += [optional] * (h.max - h.min)
            return self.sequence(copies, state)
        raise TypeError(h)

    def sequence(self, parts: Sequence[Hir], state: State) -> dict[State, Hir]:
        cur: dict[State, Hir] = {state: H_EMPTY}
        for part in parts:
            nxt: dict[State, list[Hir]] = {}
            for s, r in cur.items():
                for s2, r2 in self.run(part, s).items():
                    nxt.setdefault(s2, []).append(s_cat([r, r2]))
            cur = {s: self.checked(s_alt(rs)) for s, rs in nxt.items()}
            if not cur:
                break
        return cur

    def plain(self, h: Hir, state: State) -> dict[State, Hir]:
        prev, req = state
        out: dict[State, Hir] = {}
        e = eps(h)
        if e is not None:
            out[state] = e
        first = None if req == self.full else self.charset(req)
        if first == ():
            return out
        ne = _restrict(h, first, False)
        if ne is None:
            return out
        for a in range(self.k):
            r = _restrict(ne, self.atoms[a], True)
            if r is not None:
                key = (a, self.full)
                cur = out.get(key)
                out[key] = r if cur is None else s_alt([cur, r])
        return out

    def star(self, sub: Hir, s0: State) -> dict[State, Hir]:
        states = [s0]
        index = {s0: 0}
        edges: list[dict[State, Hir]] = []
        i = 0
        while i < len(states):
            trans = self.run(sub, states[i])
            edges.append(trans)
            for t in trans:
                if t not in index:
                    index[t] = len(states)
                    states.append(t)
            i += 1
        n = len(states)
        m: list[list[Hir | None]] = [[None] * n for _ in range(n)]
        for si, trans in enumerate(edges):
            for t, edge in trans.items():
                j = index[t]
                old = m[si][j]
                m[si][j] = edge if old is None else s_alt([old, edge])
        for k in range(n):
            loop = _star(m[k][k])
            col = [m[i2][k] for i2 in range(n)]
            row = [m[k][j] for j in range(n)]
            for i2 in range(n):
                if col[i2] is None:
                    continue
                for j in range(n):
                    if row[j] is None:
                        continue
                    path = s_cat([col[i2], loop, row[j]])  # type: ignore[list-item]
                    cur = m[i2][j]
                    m[i2][j] = self.checked(path if cur is None else s_alt([cur, path]))
        result: dict[State, Hir] = {}
        for j in range(n):
            r: Hir | None = m[0][j]
            if j == 0:
                r = H_EMPTY if r is None else s_alt([H_EMPTY, r])
            if r is not None and not _is_fail(r):
                result[states[j]] = r
        return result

    def rewrite(self, root: Hir) -> Hir:
        from kumopy._regex._re2 import emit  # (_re2 imports this module)

        contexts = [-1] + list(range(self.k))
        bodies: dict[int, Hir] = {}
        for ctx in contexts:
            out = self.run(root, (ctx, self.full))
            alts: list[Hir] = []
            for (_, req), r in out.items():
                if req == self.full:
                    alts.append(r)
                    continue
                ends: list[Hir] = []
                if req & self.eot:
                    ends.append(HLook(LOOK_END))
                chars = self.charset(req)
                if chars:
                    ends.append(HClass(chars))
                alts.append(s_cat([r, s_alt(ends)]))
            body = s_alt(alts)
            if not _is_fail(body):
                bodies[ctx] = body
        groups: dict[str, tuple[list[int], Hir]] = {}
        for ctx, body in bodies.items():
            key = emit(body)  # the RE2 text as a structural key
            groups.setdefault(key, ([], body))[0].append(ctx)
        result: list[Hir] = []
        for ctxs, body in groups.values():
            if len(ctxs) == len(contexts):
                result.append(body)
                continue
            starts: list[Hir] = []
            if -1 in ctxs:
                starts.append(HLook(LOOK_START))
            mask = 0
            for c in ctxs:
                if c >= 0:
                    mask |= 1 << c
            if mask:
                starts.append(HClass(self.charset(mask)))
            result.append(s_cat([s_alt(starts), body]))
        return self.checked(s_alt(result))


def _star(x: Hir | None) -> Hir:
    if x is None:
        return H_EMPTY
    items = x.items if isinstance(x, HAlt) else (x,)
    kept = [y for y in items if not isinstance(y, HEmpty)]
    if not kept:
        return H_EMPTY
    return HRep(s_alt(kept), 0, None)


def _collect_looks(h: Hir) -> frozenset[str]:
    out: set[str] = set()
    stack = [h]
    while stack:
        x = stack.pop()
        t = type(x)  # (the node classes are final: no subclasses)
        if t is HLit or t is HClass:
            continue
        if t is HCat or t is HAlt:
            stack.extend(x.items)  # type: ignore[attr-defined]
        elif t is HLook:
            out.add(x.kind)  # type: ignore[attr-defined]
        elif t is HRep or t is HCap:
            stack.append(x.sub)  # type: ignore[attr-defined]
    return frozenset(out)


def _map_looks(h: Hir, mapping: dict[str, str]) -> Hir:
    if isinstance(h, HLook):
        kind = mapping.get(h.kind)
        return HLook(kind) if kind is not None else h
    if isinstance(h, HRep):
        return HRep(_map_looks(h.sub, mapping), h.min, h.max, h.greedy)
    if isinstance(h, HCap):
        return HCap(h.index, h.name, _map_looks(h.sub, mapping))
    if isinstance(h, HCat):
        return HCat(tuple(_map_looks(x, mapping) for x in h.items))
    if isinstance(h, HAlt):
        return HAlt(tuple(_map_looks(x, mapping) for x in h.items))
    return h


_ASCII_EQUIVALENT = {
    "word_unicode": "word_ascii",
    "word_unicode_negate": "word_ascii_negate",
    "word_start_unicode": "word_start_ascii",
    "word_end_unicode": "word_end_ascii",
    "word_start_half_unicode": "word_start_half_ascii",
    "word_end_half_unicode": "word_end_half_ascii",
}


def drop_looks(h: Hir, kinds: frozenset[str]) -> Hir:
    """`h` with the given assertions removed: it matches a superset of the
    subjects `h` matches."""
    if isinstance(h, HLook):
        return H_EMPTY if h.kind in kinds else h
    if isinstance(h, HRep):
        return s_rep(drop_looks(h.sub, kinds), h.min, h.max)
    if isinstance(h, HCap):
        return drop_looks(h.sub, kinds)
    if isinstance(h, HCat):
        return s_cat([drop_looks(x, kinds) for x in h.items])
    if isinstance(h, HAlt):
        return s_alt([drop_looks(x, kinds) for x in h.items])
    return h


def eliminate_looks(h: Hir, ascii_subject: bool) -> Hir:
    """An expression with only RE2's assertions that matches (somewhere in)
    the same subjects as `h`; with `ascii_subject`, only for ASCII subjects
    (where Unicode and ASCII word boundaries agree).  Raises TooComplex when
    that expression would be too large."""
    kinds = _collect_looks(h)
    if ascii_subject and kinds & UNICODE_WORD_LOOKS:
        h = _map_looks(h, _ASCII_EQUIVALENT)
        kinds = _collect_looks(h)
    special = frozenset(k for k in kinds if k not in NATIVE_LOOKS)
    if not special:
        return h
    word = perl_word() if special & UNICODE_WORD_LOOKS else None
    return _LookEliminator(h, word, special).rewrite(h)
