"""The engines behind string.find, match, gmatch and gsub when the C
matcher could run too long (see `_lpattern` for why and how it is decided).

The sandbox calls the C functions directly for calls within their limit;
it calls `PatternEngines` for the rest, with arguments already checked and
normalised (byte strings, 0-based positions).  Each call goes to RE2 when
the pattern has an RE2 form, else to the Python matcher, which checks the
budget as it goes.  Errors are Lua's (`PatternError`); the sandbox raises
them at the policy's line, and, as in Lua, a capture is only evaluated (and
can only fail) when the caller asks for it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import re2

from ._lpattern import Analysis, Matcher, PatternError, RE2Form, analyze

__all__ = ["PatternEngines", "PatternError", "analysis"]

_ANCHOR_START = re2._Anchor.ANCHOR_START
_UNANCHORED = re2._Anchor.UNANCHORED
_NULL_SPAN = (-1, -1)

_OPTIONS = re2.Options()
_OPTIONS.encoding = re2.Options.Encoding.LATIN1
_OPTIONS.log_errors = False
_OPTIONS.max_mem = 64 << 20

#: for tests: "python" or "re2" sends every call to that engine (RE2 only
#: where the pattern has an RE2 form), None chooses as usual
FORCE: str | None = None

_ANALYSES: OrderedDict[bytes, Analysis] = OrderedDict()
_COMPILED: OrderedDict[str, Any] = OrderedDict()
_CACHE_SIZE = 512


def analysis(pattern: bytes) -> Analysis:
    """The (cached) analysis of a pattern."""
    found = _ANALYSES.get(pattern)
    if found is None:
        found = _ANALYSES[pattern] = analyze(pattern)
        if len(_ANALYSES) > _CACHE_SIZE:
            _ANALYSES.popitem(last=False)
    return found


def _compiled(text: str) -> Any | None:
    """The compiled RE2 program (its `_regexp`), None when RE2 refuses it
    (too big): the Python matcher takes over."""
    if text in _COMPILED:
        return _COMPILED[text]
    try:
        program = re2.compile(text.encode("ascii"), _OPTIONS)._regexp
    except re2.error:
        program = None
    _COMPILED[text] = program
    if len(_COMPILED) > _CACHE_SIZE:
        _COMPILED.popitem(last=False)
    return program


class _Found:
    """A match: its span, and its captures on demand (Lua's get_onecapture:
    capture 0 is the whole match when there are none)."""

    __slots__ = ("start", "end", "_get", "count")

    def __init__(
        self, start: int, end: int, count: int, get: Callable[[int], bytes | int]
    ) -> None:
        self.start = start
        self.end = end
        self.count = count
        self._get = get

    def capture(self, i: int, s: bytes) -> bytes | int:
        if i >= self.count:
            if i != 0:
                raise PatternError(f"invalid capture index %{i + 1}")
            return s[self.start : self.end]
        return self._get(i)

    def captures(self, s: bytes, whole: bool) -> list[bytes | int]:
        """All captures (push_captures): the whole match when there are
        none and `whole`."""
        if self.count == 0:
            return [s[self.start : self.end]] if whole else []
        return [self._get(i) for i in range(self.count)]


class PatternEngines:
    """The slow-path engines of one Lua state (`check` is its budget,
    `reserve(nbytes, what)` its memory limit)."""

    def __init__(self, check: Callable[[], None], reserve: Callable[[int, str], None]) -> None:
        self.check = check
        self.reserve = reserve

    # -- one match --------------------------------------------------------

    def _next(self, s: bytes, p: bytes, start: int, lastmatch: int, gmatch: bool) -> _Found | None:
        """The first match at or after `start` (only at `start` for an
        anchored pattern outside gmatch) whose end is not `lastmatch` (gmatch
        and gsub skip an empty match right after the previous one)."""
        info = analysis(p)
        anchored = info.anchored and not gmatch
        form = info.re2_gmatch if gmatch else info.re2
        if FORCE == "python":
            form = None
        program = _compiled(form.text) if form is not None else None
        if program is None or form is None:
            body = p[1:] if anchored else p
            m = Matcher(s, body, self.check)
            span = m.search(start, anchored, lastmatch)
            if span is None:
                return None
            b, e = span
            return _Found(b, e, m.level, lambda i: m.capture(i, b, e))
        return self._next_re2(program, form, s, start, lastmatch, anchored)

    def _next_re2(
        self, program: Any, form: RE2Form, s: bytes, start: int, lastmatch: int, anchored: bool
    ) -> _Found | None:
        n = len(s)
        pos = start
        while pos <= n:
            spans = program.Match(_ANCHOR_START if anchored else _UNANCHORED, s, pos, n)
            if spans[0] == _NULL_SPAN:
                return None
            b, e = spans[0]
            if e != lastmatch:
                return _Found(b, e, len(spans) - 1, _re2_capture(s, spans, form.positions))
            # an empty match right after the previous one: try further on
            if anchored or b >= n:
                return None
            pos = b + 1
        return None

    # -- the entry points ---------------------------------------------------

    def find(self, s: bytes, p: bytes, init: int, find: bool) -> tuple[Any, ...]:
        """string.find (find) or string.match from 0-based `init` <= len(s)."""
        found = self._next(s, p, init, -1, gmatch=False)
        if found is None:
            return (None,)
        if find:
            return (found.start + 1, found.end, *found.captures(s, whole=False))
        return tuple(found.captures(s, whole=True))

    @staticmethod
    def plain_find(s: bytes, p: bytes, init: int) -> tuple[Any, ...]:
        at = s.find(p, init)
        if at < 0:
            return (None,)
        return (at + 1, at + len(p))

    def next_match(
        self, s: bytes, p: bytes, start: int, lastmatch: int, gmatch: bool, first_only: bool
    ) -> tuple[Any, ...]:
        """(start, end, captures...) of the next match, for gmatch and for
        gsub with a function (all captures) or a table (`first_only`: the
        first capture, or the whole match); None when there is none."""
        found = self._next(s, p, start, lastmatch, gmatch=gmatch)
        if found is None:
            return (None,)
        if first_only:
            return (found.start, found.end, found.capture(0, s))
        return (found.start, found.end, *found.captures(s, whole=True))

    def gsub(self, s: bytes, p: bytes, repl: bytes, max_n: int) -> tuple[Any, ...]:
        """string.gsub with a string replacement: (result, count)."""
        anchored = p[:1] == b"^"
        parts: list[bytes] = []
        size = 0
        src = 0
        lastmatch = -1
        n = 0
        while n < max_n:
            found = self._next(s, p, src, lastmatch, gmatch=False)
            if found is None:
                break
            n += 1
            piece = _substitute(repl, s, found)
            parts.append(s[src : found.start])
            parts.append(piece)
            size += found.start - src + len(piece)
            if n % 1024 == 0:
                self.check()
                if size > (1 << 20):
                    self.reserve(size, "string.gsub")
            src = lastmatch = found.end
            if anchored:
                break
        if n == 0:
            return (s, 0)
        parts.append(s[src:])
        size += len(s) - src
        self.reserve(size, "string.gsub")
        return (b"".join(parts), n)


def _re2_capture(
    s: bytes, spans: list[tuple[int, int]], positions: frozenset[int]
) -> Callable[[int], bytes | int]:
    def get(i: int) -> bytes | int:
        gs, ge = spans[i + 1]
        return gs + 1 if i in positions else s[gs:ge]

    return get


def _substitute(repl: bytes, s: bytes, found: _Found) -> bytes:
    """What gsub's add_s appends for one match: `repl` with %0-%9 and %%."""
    if b"%" not in repl:
        return repl
    out: list[bytes] = []
    i = 0
    n = len(repl)
    while True:
        j = repl.find(b"%", i)
        if j < 0:
            out.append(repl[i:])
            break
        out.append(repl[i:j])
        c = repl[j + 1] if j + 1 < n else 0
        if c == 0x25:
            out.append(b"%")
        elif c == 0x30:
            out.append(s[found.start : found.end])
        elif 0x31 <= c <= 0x39:
            value = found.capture(c - 0x31, s)
            out.append(value if isinstance(value, bytes) else str(value).encode())
        else:
            raise PatternError("invalid use of '%' in replacement string")
        i = j + 2
    return b"".join(out)
