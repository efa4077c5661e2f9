"""Exact check for patterns whose RE2 form is only a superset."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from kumopy._regex._charset import cs_contains, to_index
from kumopy._regex._hir import (
    LOOK_END,
    LOOK_END_CRLF,
    LOOK_END_LF,
    LOOK_START,
    LOOK_START_CRLF,
    LOOK_START_LF,
    Hir,
)
from kumopy._regex._looks import word_look_holds
from kumopy._regex._thompson import Thompson
from kumopy._regex._to_hir import parse_to_hir
from kumopy._regex._translate import translate
from kumopy._regex._unicode import perl_word

# --------------------------------------------------------------------------
# Exact check for patterns whose RE2 form is only a superset: a Thompson NFA
# simulation over the subject's characters (linear in the subject length).
# --------------------------------------------------------------------------

class Verifier(Thompson):
    """The pattern's NFA over characters, simulated in linear time."""

    def __init__(self, hir: Hir) -> None:
        super().__init__(hir)
        self._word: dict[str, bool] = {}

    def _is_word(self, c: str | None, unicode: bool) -> bool:
        if c is None:
            return False
        if c.isascii():
            return c.isalnum() or c == "_"
        if not unicode:
            return False
        got = self._word.get(c)
        if got is None:
            got = cs_contains(perl_word(), to_index(ord(c)))
            self._word[c] = got
        return got

    def _holds(self, kind: str, prev: str | None, nxt: str | None) -> bool:
        if kind == LOOK_START:
            return prev is None
        if kind == LOOK_END:
            return nxt is None
        if kind == LOOK_START_LF:
            return prev is None or prev == "\n"
        if kind == LOOK_END_LF:
            return nxt is None or nxt == "\n"
        if kind == LOOK_START_CRLF:
            return prev is None or prev == "\n" or (prev == "\r" and nxt != "\n")
        if kind == LOOK_END_CRLF:
            return nxt is None or nxt == "\r" or (nxt == "\n" and prev != "\r")
        unicode = "unicode" in kind
        return word_look_holds(kind, self._is_word(prev, unicode), self._is_word(nxt, unicode))

    def step(self, threads: Iterable[int], prev: str | None, cur: str | None) -> list[int] | None:
        """One step of the simulation, at the position between `prev` and
        `cur` (None: the start or end of the subject): None when the
        pattern matches there, else the threads waiting after `cur`."""
        matched, chars = self.closure(threads, lambda kind: self._holds(kind, prev, cur))
        if matched:
            return None
        if cur is None:
            return []
        index = to_index(ord(cur))
        args, nexts = self.args, self.nexts
        return [nexts[pc] for pc in chars if cs_contains(args[pc], index)]  # type: ignore[arg-type]

    def search(self, text: str) -> bool:
        n = len(text)
        threads: list[int] = []
        for i in range(n + 1):
            prev = text[i - 1] if i else None
            cur = text[i] if i < n else None
            waiting = self.step([*threads, self.start], prev, cur)
            if waiting is None:
                return True
            threads = waiting
        return False


@functools.lru_cache(maxsize=1024)
def _verifier(pattern: str) -> Verifier:
    return Verifier(translate(pattern).hir or parse_to_hir(pattern))
