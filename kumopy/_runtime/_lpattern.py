"""Lua 5.4 patterns in Python: the matcher, its cost, and its RE2 form.

Lua's C matcher (lstrlib.c) cannot be interrupted: no hook runs inside it,
and a pattern such as the trim idiom `^%s*(.-)%s*$` takes time polynomial in
the subject (a catastrophic one, exponential).  kumopy keeps the C matcher
for every call it is sure to finish quickly and gives the others to one of
two engines that honour the budget (see `_patterns`):

* `Matcher`, a transcription of the C matcher's algorithm into Python: the
  same backtracking order, the same recursion-depth accounting ("pattern too
  complex"), the same errors at the same moment (Lua reports a malformed
  pattern only when the matcher reaches the bad part), and it checks the
  budget as it goes;
* RE2, for the patterns whose meaning RE2 can express (`translate`): Lua's
  matcher explores alternatives in exactly the priority order of a
  leftmost-first (Perl) engine, so a pattern made of single-byte classes with
  `* + - ?`, captures, position captures and anchors has the same matches
  and captures as its RE2 form, found in linear time.

`analyze` works out, once per pattern, how long a subject the C matcher may
take (`Limits`) from an upper bound of the number of steps it can take.

Character classes (`%a`, `%s`, ...) depend on the C library's ctype tables,
so the sets are read from the running Lua once (`set_ctype`) rather than
assumed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import comb

__all__ = [
    "Analysis",
    "Matcher",
    "RE2Form",
    "PatternError",
    "analyze",
    "set_ctype",
    "translate",
]

L_ESC = 0x25  # '%'
MAXCCALLS = 200
MAXCAPTURES = 32
CAP_UNFINISHED = -1
CAP_POSITION = -2
#: most steps a call handed to the C matcher may take (a few ms of C)
C_STEPS = 20_000_000
#: deepest recursion a pattern may reach to be given to RE2 (Lua raises
#: "pattern too complex" at MAXCCALLS; RE2 would not)
RE2_MAX_DEPTH = MAXCCALLS - 10

_DIGITS = frozenset(b"0123456789")


class PatternError(Exception):
    """An error the C matcher raises (the message is Lua's, without the
    position, which the caller adds)."""


# -- character classes ----------------------------------------------------

#: class letter -> 256 flags, from the running Lua's C library (set_ctype)
_CLASSES: dict[int, bytes] = {}
_ISLOWER = bytes(256)
_TOLOWER = bytes(range(256))


def set_ctype(classes: dict[int, bytes], lower: bytes) -> None:
    """Install the ctype tables: `classes` maps each class letter of
    "acdglpsuwxz" to the 256 bytes c for which `%<letter>` matches c (as a
    string of those bytes), `lower` is string.lower of bytes 0..255."""
    global _ISLOWER, _TOLOWER
    for letter, members in classes.items():
        flags = bytearray(256)
        for c in members:
            flags[c] = 1
        _CLASSES[letter] = bytes(flags)
    _ISLOWER = _CLASSES[ord("l")]
    _TOLOWER = lower


def has_ctype() -> bool:
    return bool(_CLASSES)


def match_class(c: int, cl: int) -> bool:
    flags = _CLASSES.get(_TOLOWER[cl])
    if flags is None:
        return cl == c
    res = flags[c] == 1
    return res if _ISLOWER[cl] else not res


def _at(p: bytes, i: int) -> int:
    """p[i], or 0 at the end: the C matcher reads the terminating NUL."""
    return p[i] if i < len(p) else 0


def classend(p: bytes, i: int) -> int:
    """Index just past the single-character class starting at p[i]."""
    plen = len(p)
    c = p[i]
    i += 1
    if c == L_ESC:
        if i >= plen:
            raise PatternError("malformed pattern (ends with '%')")
        return i + 1
    if c == 0x5B:  # '['
        if _at(p, i) == 0x5E:  # '^'
            i += 1
        while True:  # look for a ']'
            if i >= plen:
                raise PatternError("malformed pattern (missing ']')")
            c2 = p[i]
            i += 1
            if c2 == L_ESC and i < plen:
                i += 1  # skip escapes (e.g. '%]')
            if _at(p, i) == 0x5D:
                break
        return i + 1
    return i


def matchbracketclass(c: int, p: bytes, i: int, ec: int) -> bool:
    """Whether byte c is in the set p[i] ('[') .. p[ec] (']')."""
    sig = True
    if _at(p, i + 1) == 0x5E:
        sig = False
        i += 1
    while True:
        i += 1
        if i >= ec:
            return not sig
        ch = p[i]
        if ch == L_ESC:
            i += 1
            if match_class(c, _at(p, i)):
                return sig
        elif _at(p, i + 1) == 0x2D and i + 2 < ec:  # a range x-y
            i += 2
            if p[i - 2] <= c <= p[i]:
                return sig
        elif ch == c:
            return sig


def class_flags(p: bytes, i: int, ep: int) -> bytes:
    """256 flags: the bytes the single-character class p[i:ep] matches."""
    ch = p[i]
    if ch == 0x2E:  # '.'
        return b"\x01" * 256
    if ch == L_ESC:
        cl = _at(p, i + 1)
        return bytes(1 if match_class(c, cl) else 0 for c in range(256))
    if ch == 0x5B:
        return bytes(1 if matchbracketclass(c, p, i, ep - 1) else 0 for c in range(256))
    flags = bytearray(256)
    flags[ch] = 1
    return bytes(flags)


# -- the matcher ----------------------------------------------------------


class Matcher:
    """Lua's matcher over one subject and one pattern (the pattern without
    the anchor, when the caller handles it).  `check` is called every few
    thousand steps (the budget)."""

    __slots__ = (
        "src", "n", "p", "plen", "level", "cap_init", "cap_len", "depth", "steps",
        "check", "flags",
    )

    def __init__(self, src: bytes, p: bytes, check: Callable[[], None]) -> None:
        self.src = src
        self.n = len(src)
        self.p = p
        self.plen = len(p)
        self.level = 0
        self.cap_init = [0] * MAXCAPTURES
        self.cap_len = [0] * MAXCAPTURES
        self.depth = MAXCCALLS
        self.steps = 0
        self.check = check
        self.flags: dict[int, bytes] = {}

    def _flags(self, pi: int, ep: int) -> bytes:
        f = self.flags.get(pi)
        if f is None:
            f = self.flags[pi] = class_flags(self.p, pi, ep)
        return f

    def match(self, s: int, pi: int) -> int | None:
        """End of a match of p[pi:] at s (None: no match)."""
        if self.depth == 0:
            raise PatternError("pattern too complex")
        self.depth -= 1
        self.steps += 1
        if self.steps & 0xFFF == 0:
            self.check()
        p, plen, src, n = self.p, self.plen, self.src, self.n
        res: int | None = s
        while pi != plen:
            pc = p[pi]
            if pc == 0x28:  # '('
                if _at(p, pi + 1) == 0x29:  # position capture
                    res = self.start_capture(s, pi + 2, CAP_POSITION)
                else:
                    res = self.start_capture(s, pi + 1, CAP_UNFINISHED)
                break
            if pc == 0x29:  # ')'
                res = self.end_capture(s, pi + 1)
                break
            if pc == 0x24 and pi + 1 == plen:  # '$' at the end
                res = s if s == n else None
                break
            if pc == L_ESC:
                nx = _at(p, pi + 1)
                if nx == 0x62:  # %b
                    e = self.matchbalance(s, pi + 2)
                    if e is not None:
                        s = e
                        pi += 4
                        continue
                    res = None
                    break
                if nx == 0x66:  # %f
                    pi += 2
                    if _at(p, pi) != 0x5B:
                        raise PatternError("missing '[' after '%f' in pattern")
                    ep = classend(p, pi)
                    previous = src[s - 1] if s > 0 else 0
                    current = src[s] if s < n else 0
                    if not matchbracketclass(previous, p, pi, ep - 1) and matchbracketclass(
                        current, p, pi, ep - 1
                    ):
                        pi = ep
                        continue
                    res = None
                    break
                if nx in _DIGITS:  # back-reference %0-%9
                    e = self.match_capture(s, nx)
                    if e is not None:
                        s = e
                        pi += 2
                        continue
                    res = None
                    break
            # a single-character class, with an optional suffix
            ep = classend(p, pi)
            epc = _at(p, ep)
            flags = self._flags(pi, ep)
            if not (s < n and flags[src[s]]):
                if epc in (0x2A, 0x3F, 0x2D):  # '*', '?', '-': accept empty
                    pi = ep + 1
                    continue
                res = None  # '+' or no suffix
                break
            if epc == 0x3F:  # '?'
                r = self.match(s + 1, ep + 1)
                if r is not None:
                    res = r
                    break
                pi = ep + 1
                continue
            if epc == 0x2B:  # '+'
                res = self.max_expand(s + 1, flags, ep)
                break
            if epc == 0x2A:  # '*'
                res = self.max_expand(s, flags, ep)
                break
            if epc == 0x2D:  # '-'
                res = self.min_expand(s, flags, ep)
                break
            s += 1
            pi = ep
        else:
            res = s
        self.depth += 1
        return res

    def max_expand(self, s: int, flags: bytes, ep: int) -> int | None:
        src, n = self.src, self.n
        i = 0
        while s + i < n and flags[src[s + i]]:
            i += 1
        while i >= 0:
            r = self.match(s + i, ep + 1)
            if r is not None:
                return r
            i -= 1
        return None

    def min_expand(self, s: int, flags: bytes, ep: int) -> int | None:
        src, n = self.src, self.n
        while True:
            r = self.match(s, ep + 1)
            if r is not None:
                return r
            if s < n and flags[src[s]]:
                s += 1
            else:
                return None

    def start_capture(self, s: int, pi: int, what: int) -> int | None:
        level = self.level
        if level >= MAXCAPTURES:
            raise PatternError("too many captures")
        self.cap_init[level] = s
        self.cap_len[level] = what
        self.level = level + 1
        r = self.match(s, pi)
        if r is None:
            self.level -= 1
        return r

    def end_capture(self, s: int, pi: int) -> int | None:
        level = self.level - 1
        while level >= 0:
            if self.cap_len[level] == CAP_UNFINISHED:
                break
            level -= 1
        else:
            raise PatternError("invalid pattern capture")
        self.cap_len[level] = s - self.cap_init[level]
        r = self.match(s, pi)
        if r is None:
            self.cap_len[level] = CAP_UNFINISHED
        return r

    def match_capture(self, s: int, digit: int) -> int | None:
        index = digit - 0x31
        if index < 0 or index >= self.level or self.cap_len[index] == CAP_UNFINISHED:
            raise PatternError(f"invalid capture index %{index + 1}")
        length = self.cap_len[index]
        if length < 0 or self.n - s < length:  # (a position capture never matches)
            return None
        start = self.cap_init[index]
        if self.src[start : start + length] == self.src[s : s + length]:
            return s + length
        return None

    def matchbalance(self, s: int, pi: int) -> int | None:
        p = self.p
        if pi >= self.plen - 1:
            raise PatternError("malformed pattern (missing arguments to '%b')")
        src, n = self.src, self.n
        if (src[s] if s < n else 0) != p[pi]:
            return None
        b, e = p[pi], p[pi + 1]
        cont = 1
        s += 1
        while s < n:
            ch = src[s]
            if ch == e:
                cont -= 1
                if cont == 0:
                    return s + 1
            elif ch == b:
                cont += 1
            s += 1
        return None

    # -- results ------------------------------------------------------------

    def capture(self, i: int, s: int, e: int) -> bytes | int:
        if i >= self.level:
            if i != 0:
                raise PatternError(f"invalid capture index %{i + 1}")
            return self.src[s:e]
        length = self.cap_len[i]
        start = self.cap_init[i]
        if length == CAP_UNFINISHED:
            raise PatternError("unfinished capture")
        if length == CAP_POSITION:
            return start + 1
        return self.src[start : start + length]

    def captures(self, s: int, e: int, whole: bool) -> list[bytes | int]:
        """What Lua returns for a match s..e: the captures, or the whole
        match when there are none and `whole`."""
        count = 1 if (self.level == 0 and whole) else self.level
        return [self.capture(i, s, e) for i in range(count)]

    def first_literal(self) -> int | None:
        """The byte every match must start with, when the pattern's first
        item is a literal that must match once (used to skip positions
        quickly: they fail at once, without reaching anything else)."""
        p = self.p
        if not p:
            return None
        c = p[0]
        if c == L_ESC and len(p) >= 4 and p[1] == 0x62:  # %bxy
            return p[2]
        if c in b"^$*+?.([%-)" or c == 0x5D:
            return None
        if _at(p, 1) in (0x2A, 0x3F, 0x2D):  # may match empty
            return None
        return c

    def search(self, start: int, anchor: bool, lastmatch: int = -1) -> tuple[int, int] | None:
        """The first match at a position >= start (only at start when
        `anchor`) whose end is not `lastmatch`, as gmatch and gsub skip an
        empty match right after the previous one."""
        n = self.n
        first = None if anchor else self.first_literal()
        s1 = start
        while True:
            if first is not None:
                s1 = self.src.find(bytes((first,)), s1)
                if s1 < 0:
                    return None
            self.level = 0
            e = self.match(s1, 0)
            if e is not None and e != lastmatch:
                return s1, e
            if anchor or s1 >= n:
                return None
            s1 += 1


# -- analysis ---------------------------------------------------------------


@dataclass(frozen=True)
class Analysis:
    """What the router needs to know about a pattern."""

    #: longest subject the C matcher gets for find/match/gsub, for gmatch,
    #: and for a plain find (-1: never: the pattern could make it raise an
    #: error, which would carry the sandbox's position, not the policy's)
    c_limit: int
    c_limit_gmatch: int
    c_limit_plain: int
    #: the highest %n a gsub replacement may use with this pattern
    replacement_captures: int
    #: the RE2 form (without the anchor) for find/match/gsub, and for
    #: gmatch ('^' is literal there); None: use the Python matcher
    re2: RE2Form | None
    re2_gmatch: RE2Form | None
    anchored: bool


@dataclass(frozen=True)
class RE2Form:
    """A pattern's RE2 text and which of its captures are positions `()`."""

    text: str
    positions: frozenset[int]


@dataclass
class _Items:
    branching: int = 0  # '*', '+', '-' items with something after them
    optional: int = 0  # '?' items with something after them
    scans: int = 0  # %b and back-references (a linear scan each)
    captures: int = 0
    depth: int = 1  # upper bound of the C matcher's recursion
    translatable: bool = True
    #: no error the C matcher could raise (malformed, bad back-reference,
    #: unfinished capture, too many captures, too complex)
    well_formed: bool = True


def _scan(p: bytes) -> _Items:
    """Walk the pattern's items the way the matcher reaches them."""
    items = _walk(p)
    if items.captures > MAXCAPTURES or items.depth > RE2_MAX_DEPTH:
        items.well_formed = False
    if not items.well_formed:
        items.translatable = False
    return items


def _walk(p: bytes) -> _Items:
    items = _Items()
    plen = len(p)
    i = 0
    closed: list[bool] = []  # per capture: closed (or a position) yet?
    while i < plen:
        c = p[i]
        if c == 0x28:
            items.captures += 1
            items.depth += 1
            if _at(p, i + 1) == 0x29:
                closed.append(True)
                i += 2
            else:
                closed.append(False)
                i += 1
            continue
        if c == 0x29:
            for k in range(len(closed) - 1, -1, -1):
                if not closed[k]:
                    closed[k] = True
                    break
            else:
                items.well_formed = False
            items.depth += 1
            i += 1
            continue
        if c == 0x24 and i + 1 == plen:
            i += 1
            continue
        if c == L_ESC:
            nx = _at(p, i + 1)
            if nx == 0x62:
                items.translatable = False
                items.scans += 1
                if i + 3 >= plen:
                    items.well_formed = False
                i += 4
                continue
            if nx == 0x66:
                items.translatable = False
                if _at(p, i + 2) != 0x5B:
                    items.well_formed = False
                    return items
                try:
                    i = classend(p, i + 2)
                except PatternError:
                    items.well_formed = False
                    return items
                continue
            if nx in _DIGITS:
                items.translatable = False
                items.scans += 1
                index = nx - 0x31
                if index < 0 or index >= len(closed) or not closed[index]:
                    items.well_formed = False
                i += 2
                continue
        try:
            ep = classend(p, i)
        except PatternError:
            items.well_formed = False
            return items
        suffix = _at(p, ep)
        if suffix in (0x2A, 0x2B, 0x2D, 0x3F):
            items.depth += 1
            rest = p[ep + 1 :]
            if rest.strip(b")"):  # (only closing captures after: no backtracking)
                if suffix == 0x3F:
                    items.optional += 1
                else:
                    items.branching += 1
            i = ep + 1
        else:
            i = ep
    if not all(closed):
        items.well_formed = False
    return items


def _c_limit(items: _Items, plen: int, unanchored: bool) -> int:
    """Longest subject for which the C matcher's steps stay within C_STEPS.

    The matcher's items consume disjoint, consecutive parts of the subject,
    so the ways it can try to split n bytes among E expanding items (one more
    for the start positions of an unanchored search) are at most
    C(n+E, E); a '?' doubles them at most; each way costs the pattern's
    length plus the linear scans of %b and back-references.
    """
    e = items.branching + (1 if unanchored else 0)
    q = items.optional

    def steps(n: int) -> int:
        ways = comb(n + e + q, e + q)
        if q < 60:
            ways = min(ways, (1 << q) * comb(n + e, e))
        return ways * (plen + 2 + items.scans * (n + 1))

    if steps(0) > C_STEPS:
        return -1
    lo, hi = 0, 1
    while hi < (1 << 40) and steps(hi) <= C_STEPS:
        lo, hi = hi, hi * 2
    if hi >= (1 << 40):
        return 1 << 40
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if steps(mid) <= C_STEPS:
            lo = mid
        else:
            hi = mid
    return lo


def analyze(pattern: bytes) -> Analysis:
    anchored = pattern[:1] == b"^"
    body = pattern[1:] if anchored else pattern
    items = _scan(body)
    whole = items if not anchored else _scan(pattern)
    limit = _c_limit(items, len(body), unanchored=not anchored) if items.well_formed else -1
    limit_gmatch = _c_limit(whole, len(pattern), unanchored=True) if whole.well_formed else -1
    plain = C_STEPS // (len(pattern) + 1)
    return Analysis(
        c_limit=limit,
        c_limit_gmatch=limit_gmatch,
        c_limit_plain=plain,
        replacement_captures=max(items.captures, 1),
        re2=translate(body) if items.translatable else None,
        re2_gmatch=translate(pattern) if whole.translatable else None,
        anchored=anchored,
    )


# -- RE2 ------------------------------------------------------------------


def _re2_class(flags: bytes) -> str:
    members = [c for c in range(256) if flags[c]]
    if not members:
        return r"[^\x00-\xff]"
    if len(members) == 1:
        return f"\\x{members[0]:02x}"
    ranges: list[str] = []
    start = prev = members[0]
    for c in members[1:] + [-1]:
        if c == prev + 1:
            prev = c
            continue
        ranges.append(f"\\x{start:02x}" if start == prev else f"\\x{start:02x}-\\x{prev:02x}")
        start = prev = c
    return "[" + "".join(ranges) + "]"


_QUANTIFIER = {0x2A: "*", 0x2B: "+", 0x2D: "*?", 0x3F: "?"}


def translate(p: bytes) -> RE2Form | None:
    """The RE2 (Latin-1) form of a statically well-formed pattern without
    %b, %f and back-references (the anchor, if any, already removed), or
    None.  `$` at the end becomes \\z; every class becomes an explicit
    byte set, so the ctype tables decide, as in the C matcher."""
    items = _scan(p)
    if not items.translatable:
        return None
    out: list[str] = []
    positions: set[int] = set()
    captures = 0
    plen = len(p)
    i = 0
    while i < plen:
        c = p[i]
        if c == 0x28:
            if _at(p, i + 1) == 0x29:
                positions.add(captures)
                out.append("()")
                i += 2
            else:
                out.append("(")
                i += 1
            captures += 1
            continue
        if c == 0x29:
            out.append(")")
            i += 1
            continue
        if c == 0x24 and i + 1 == plen:
            out.append(r"\z")
            i += 1
            continue
        ep = classend(p, i)
        atom = _re2_class(class_flags(p, i, ep))
        suffix = _at(p, ep)
        if suffix in _QUANTIFIER:
            out.append(atom + _QUANTIFIER[suffix])
            i = ep + 1
        else:
            out.append(atom)
            i = ep
    return RE2Form("".join(out), frozenset(positions))
