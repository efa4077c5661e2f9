"""Exact check for patterns whose RE2 form is only a superset."""

from __future__ import annotations

import functools

from kumopy._regex._charset import cs_contains, cs_single, to_index
from kumopy._regex._hir import (
    LOOK_END,
    LOOK_END_CRLF,
    LOOK_END_LF,
    LOOK_START,
    LOOK_START_CRLF,
    LOOK_START_LF,
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
from kumopy._regex._looks import word_look_holds
from kumopy._regex._to_hir import parse_to_hir
from kumopy._regex._translate import translate
from kumopy._regex._unicode import perl_word

# --------------------------------------------------------------------------
# Exact check for patterns whose RE2 form is only a superset: a Thompson NFA
# simulation over the subject's characters (linear in the subject length).
# --------------------------------------------------------------------------

_CHAR, _SPLIT, _LOOK, _MATCH = 0, 1, 2, 3


class Verifier:
    def __init__(self, hir: Hir) -> None:
        self.ops: list[int] = []
        self.args: list[object] = []
        self.nexts: list[int] = []
        match = self._add(_MATCH, None, -1)
        self.start = self._compile(hir, match)
        self._word: dict[str, bool] = {}

    def _add(self, op: int, arg: object, nxt: int) -> int:
        self.ops.append(op)
        self.args.append(arg)
        self.nexts.append(nxt)
        return len(self.ops) - 1

    def _compile(self, h: Hir, nxt: int) -> int:
        if isinstance(h, HEmpty):
            return nxt
        if isinstance(h, HLit):
            for c in reversed(h.text):
                nxt = self._add(_CHAR, cs_single(to_index(ord(c))), nxt)
            return nxt
        if isinstance(h, HClass):
            return self._add(_CHAR, h.ranges, nxt)
        if isinstance(h, HLook):
            return self._add(_LOOK, h.kind, nxt)
        if isinstance(h, HCap):
            return self._compile(h.sub, nxt)
        if isinstance(h, HCat):
            for x in reversed(h.items):
                nxt = self._compile(x, nxt)
            return nxt
        if isinstance(h, HAlt):
            targets = [self._compile(x, nxt) for x in h.items]
            return self._add(_SPLIT, targets, -1)
        if isinstance(h, HRep):
            if h.max is None:
                loop = self._add(_SPLIT, None, -1)
                body = self._compile(h.sub, loop)
                self.args[loop] = [body, nxt]
                entry = loop
            else:
                entry = nxt
                for _ in range(h.max - h.min):
                    entry = self._add(_SPLIT, [self._compile(h.sub, entry), nxt], -1)
            for _ in range(h.min):
                entry = self._compile(h.sub, entry)
            return entry
        raise TypeError(h)

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

    def search(self, text: str) -> bool:
        ops, args, nexts = self.ops, self.args, self.nexts
        n = len(text)
        threads: list[int] = []
        for i in range(n + 1):
            prev = text[i - 1] if i else None
            cur = text[i] if i < n else None
            seen: set[int] = set()
            stack = threads + [self.start]
            chars: list[int] = []
            while stack:
                pc = stack.pop()
                if pc in seen:
                    continue
                seen.add(pc)
                op = ops[pc]
                if op == _CHAR:
                    chars.append(pc)
                elif op == _SPLIT:
                    stack.extend(args[pc])  # type: ignore[arg-type]
                elif op == _LOOK:
                    if self._holds(args[pc], prev, cur):  # type: ignore[arg-type]
                        stack.append(nexts[pc])
                else:
                    return True
            if cur is None:
                return False
            index = to_index(ord(cur))
            threads = [nexts[pc] for pc in chars if cs_contains(args[pc], index)]  # type: ignore[arg-type]
        return False


@functools.lru_cache(maxsize=1024)
def _verifier(pattern: str) -> Verifier:
    return Verifier(translate(pattern).hir or parse_to_hir(pattern))
