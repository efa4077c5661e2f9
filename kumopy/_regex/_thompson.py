"""Thompson NFAs built from HIR, as three parallel arrays (operation, its
argument, the next state).  The exact check (_verify.py) simulates one
over characters; the search automata (_automaton.py) are built from one
whose character sets are ids in a shared class table."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from kumopy._regex._charset import Ranges, cs_single, to_index
from kumopy._regex._hir import HAlt, HCap, HCat, HClass, HEmpty, Hir, HLit, HLook, HRep

__all__ = ["CHAR", "LOOK", "MATCH", "SPLIT", "Thompson", "TooLarge"]

#: operations: read one character of a set (argument: the set), go to one
#: of several states (argument: their list), check an assertion (argument:
#: its kind), accept
CHAR, SPLIT, LOOK, MATCH = 0, 1, 2, 3


class TooLarge(Exception):
    """An automaton would exceed its size budget."""


class Thompson:
    """The NFA of `hir`: `start` is its first state, `match` the accepting
    one, `kinds` the assertions it checks.  Subclasses choose what a
    character set becomes (`char_arg`, `lit_arg`); building stops with
    TooLarge past `max_nodes` states."""

    def __init__(self, hir: Hir, max_nodes: int = sys.maxsize) -> None:
        self.max_nodes = max_nodes
        self.ops: list[int] = []
        self.args: list[object] = []
        self.nexts: list[int] = []
        self.kinds: set[str] = set()
        self.match = self._add(MATCH, None, -1)
        self.start = self._compile(hir, self.match)

    def char_arg(self, ranges: Ranges) -> object:
        """The argument of a CHAR state reading a character of `ranges`."""
        return ranges

    def lit_arg(self, c: str) -> object:
        """The argument of a CHAR state reading the character `c`."""
        return cs_single(to_index(ord(c)))

    def closure(
        self, nodes: Iterable[int], holds: Callable[[str], bool]
    ) -> tuple[bool, list[int]]:
        """What `nodes` reach without reading a character: whether MATCH is
        among it, and the CHAR states (first alternatives first); `holds`
        decides each assertion on the way."""
        ops, args, nexts = self.ops, self.args, self.nexts
        seen: set[int] = set()
        stack = list(nodes)
        chars: list[int] = []
        matched = False
        while stack:
            pc = stack.pop()
            if pc in seen:
                continue
            seen.add(pc)
            op = ops[pc]
            if op == CHAR:
                chars.append(pc)
            elif op == SPLIT:
                stack.extend(reversed(args[pc]))  # type: ignore[call-overload]
            elif op == LOOK:
                if holds(args[pc]):  # type: ignore[arg-type]
                    stack.append(nexts[pc])
            else:
                matched = True
        return matched, chars

    def _add(self, op: int, arg: object, nxt: int) -> int:
        if len(self.ops) >= self.max_nodes:
            raise TooLarge(f"more than {self.max_nodes} NFA states")
        self.ops.append(op)
        self.args.append(arg)
        self.nexts.append(nxt)
        return len(self.ops) - 1

    def _compile(self, h: Hir, nxt: int) -> int:
        """The entry state of `h`, continuing to `nxt` (built back to front)."""
        t = type(h)
        if t is HLit:
            text: str = h.text  # type: ignore[attr-defined]
            if len(self.ops) + len(text) > self.max_nodes:
                raise TooLarge(f"more than {self.max_nodes} NFA states")
            ops, args, nexts, lit = self.ops, self.args, self.nexts, self.lit_arg
            for c in reversed(text):
                ops.append(CHAR)
                args.append(lit(c))
                nexts.append(nxt)
                nxt = len(ops) - 1
            return nxt
        if t is HClass:
            return self._add(CHAR, self.char_arg(h.ranges), nxt)  # type: ignore[attr-defined]
        if t is HCat:
            for x in reversed(h.items):  # type: ignore[attr-defined]
                nxt = self._compile(x, nxt)
            return nxt
        if t is HRep:
            assert isinstance(h, HRep)
            if h.max is None:
                loop = self._add(SPLIT, None, -1)
                self.args[loop] = [self._compile(h.sub, loop), nxt]
                entry = loop
            else:
                entry = nxt
                for _ in range(h.max - h.min):
                    entry = self._add(SPLIT, [self._compile(h.sub, entry), nxt], -1)
            for _ in range(h.min):
                entry = self._compile(h.sub, entry)
            return entry
        if t is HLook:
            assert isinstance(h, HLook)
            self.kinds.add(h.kind)
            return self._add(LOOK, h.kind, nxt)
        if t is HCap:
            return self._compile(h.sub, nxt)  # type: ignore[attr-defined]
        if t is HAlt:
            targets = [self._compile(x, nxt) for x in h.items]  # type: ignore[attr-defined]
            return self._add(SPLIT, targets, -1)
        if t is HEmpty:
            return nxt
        raise TypeError(h)
