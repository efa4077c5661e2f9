"""Which subjects a rule set can be asked about, as small DFAs over classes.

* `offered_lines`: what kumod hands `smtp_client_rewrite_delivery_status`
  (`Response::to_single_line` in KumoMTA's rfc5321 crate): the reply code
  as a decimal u16 (kumod parses three characters, so 0..999 without
  leading zeros), a space, then text in which every line break has been
  replaced (no `\\r`, no `\\n`); code 250 is never offered.
* `realistic_lines`, `coded_lines`, `word_lines`: subsets used to show
  examples that read like real responses (`550 5.1.1 text`, printable
  words separated by single spaces).
* `any_lines`: every subject (maps that are not response -> code rules).

A DFA here: `trans[s]` lists `(class id, target)` with disjoint classes,
`accept[s]`, and `text[s]` for states that read any character of the
universe and stay (so that anything may be appended).
"""

from __future__ import annotations

from collections import deque

from .._regex._automaton import Classes
from .._regex._charset import Ranges, cs_difference, cs_norm

__all__ = ["Lines", "any_lines", "coded_lines", "offered_lines", "realistic_lines",
           "word_lines", "NO_BREAKS"]

UNIVERSE_ALL: Ranges = ((0, 0x10FFFF - 0x800),)
#: Every scalar value but CR and LF: the characters of an offered line.
NO_BREAKS: Ranges = cs_difference(UNIVERSE_ALL, ((0x0A, 0x0A), (0x0D, 0x0D)))
_PRINTABLE_ASCII: Ranges = ((0x21, 0x7E),)
_PRINTABLE: Ranges = cs_difference(UNIVERSE_ALL, ((0, 0x1F), (0x7F, 0x9F)))

#: How to choose a character of a wide class, by kind of state.
_TEXT_PREFER = "abcdefghijklmnopqrstuvwxyz0123456789"


def _chars(text: str) -> Ranges:
    return cs_norm((ord(c), ord(c)) for c in text)


class Lines:
    def __init__(self, classes: Classes, universe: Ranges, name: str) -> None:
        self.classes = classes
        self.universe = classes.id(universe)
        self.name = name
        self.trans: list[list[tuple[int, int]]] = []
        self.accept: list[bool] = []
        self.text: list[bool] = []
        self.prefer: list[str] = []
        self.live: list[bool] = []

    def state(self, accept: bool = False, prefer: str = _TEXT_PREFER) -> int:
        self.trans.append([])
        self.accept.append(accept)
        self.text.append(False)
        self.prefer.append(prefer)
        return len(self.trans) - 1

    def edge(self, src: int, ranges: Ranges, dst: int) -> None:
        cid = self.classes.id(ranges)
        if cid >= 0:
            self.trans[src].append((cid, dst))

    def done(self) -> Lines:
        n = len(self.trans)
        for s in range(n):
            self.text[s] = self.accept[s] and any(
                t == s and self.classes.covers(c, self.universe) for c, t in self.trans[s])
        back: list[list[int]] = [[] for _ in range(n)]
        for s in range(n):
            for _, t in self.trans[s]:
                back[t].append(s)
        live = list(self.accept)
        stack = [s for s in range(n) if live[s]]
        while stack:
            t = stack.pop()
            for s in back[t]:
                if not live[s]:
                    live[s] = True
                    stack.append(s)
        self.live = live
        return self

    def step(self, s: int, index: int) -> int:
        for cid, t in self.trans[s]:
            if self.classes.contains(cid, index):
                return t
        return -1

    def completion(self, s: int) -> str:
        """The shortest text from `s` to a state that reads anything and
        accepts (empty when `s` is one)."""
        parent: dict[int, tuple[int, str]] = {s: (-1, "")}
        queue = deque([s])
        while queue:
            x = queue.popleft()
            if self.text[x]:
                out: list[str] = []
                while x != s:
                    x, c = parent[x]
                    out.append(c)
                return "".join(reversed(out))
            for cid, t in self.trans[x]:
                if t not in parent:
                    parent[t] = (x, self.classes.pick(cid, self.prefer[x]))
                    queue.append(t)
        raise ValueError("no completion")


def offered_lines(classes: Classes) -> Lines:
    """Every line kumod can offer to the rewrite event."""
    lines = Lines(classes, NO_BREAKS, "offered")
    start, zero, d1, two, two5, d2, d3 = (lines.state(prefer=p) for p in
                                         ("5", " ", "5", "5", "1", "0", " "))
    text = lines.state(accept=True)
    space = _chars(" ")
    digits = ((0x30, 0x39),)
    lines.edge(start, _chars("13456789"), d1)
    lines.edge(start, _chars("2"), two)
    lines.edge(start, _chars("0"), zero)
    lines.edge(zero, space, text)
    for s, nxt in ((d1, d2), (d2, d3)):
        lines.edge(s, space, text)
        lines.edge(s, digits, nxt)
    lines.edge(two, space, text)
    lines.edge(two, _chars("5"), two5)
    lines.edge(two, _chars("012346789"), d2)
    lines.edge(two5, space, text)
    lines.edge(two5, _chars("123456789"), d3)  # 250 is never offered
    lines.edge(d3, space, text)
    lines.edge(text, NO_BREAKS, text)
    return lines.done()


def _words(lines: Lines, first: int, chars: Ranges) -> None:
    """`first` starts text made of words of `chars` separated by single
    spaces (non-empty, no space at either end)."""
    word = lines.state(accept=True)
    lines.edge(first, chars, word)
    lines.edge(word, _chars(" "), first)  # (first: a space reads best between words)
    lines.edge(word, chars, word)


def realistic_lines(classes: Classes) -> Lines:
    """`4xx 4.y.z words` and `5xx 5.y.z words`: status class and enhanced
    class agree, words of printable ASCII separated by single spaces."""
    lines = Lines(classes, NO_BREAKS, "realistic")
    start = lines.state(prefer="54")
    digits = ((0x30, 0x39),)
    first = lines.state()
    for cls in "54":
        c1 = lines.state(prefer="5")
        c2 = lines.state(prefer="0")
        sp = lines.state(prefer=" ")
        e0 = lines.state(prefer=cls)
        dot1 = lines.state(prefer=".")
        s1 = lines.state(prefer="1")
        s2 = lines.state(prefer=".")
        s3 = lines.state(prefer=".")
        dot2 = lines.state(prefer="1")
        t1 = lines.state(prefer=" ")
        t2 = lines.state(prefer=" ")
        t3 = lines.state(prefer=" ")
        lines.edge(start, _chars(cls), c1)
        lines.edge(c1, digits, c2)
        lines.edge(c2, digits, sp)
        lines.edge(sp, _chars(" "), e0)
        lines.edge(e0, _chars(cls), dot1)
        lines.edge(dot1, _chars("."), s1)
        lines.edge(s1, digits, s2)
        lines.edge(s2, digits, s3)
        lines.edge(s2, _chars("."), dot2)
        lines.edge(s3, _chars("."), dot2)
        lines.edge(dot2, digits, t1)
        lines.edge(t1, digits, t2)
        lines.edge(t2, digits, t3)
        for t in (t1, t2, t3):
            lines.edge(t, _chars(" "), first)
    _words(lines, first, _PRINTABLE_ASCII)
    return lines.done()


def coded_lines(classes: Classes) -> Lines:
    """A three-digit code other than 250, a space, printable text."""
    lines = Lines(classes, NO_BREAKS, "coded")
    start, d1, two, two5, d2, sp = (lines.state(prefer=p) for p in ("54", "5", "5", "1", "0",
                                                                    " "))
    text = lines.state(accept=True)
    digits = ((0x30, 0x39),)
    lines.edge(start, _chars("13456789"), d1)
    lines.edge(start, _chars("2"), two)
    lines.edge(d1, digits, d2)
    lines.edge(two, _chars("5"), two5)
    lines.edge(two, _chars("012346789"), d2)
    lines.edge(two5, _chars("123456789"), sp)
    lines.edge(d2, digits, sp)
    lines.edge(sp, _chars(" "), text)
    lines.edge(text, _PRINTABLE, text)
    return lines.done()


def word_lines(classes: Classes) -> Lines:
    """Words of printable ASCII separated by single spaces."""
    lines = Lines(classes, UNIVERSE_ALL, "words")
    _words(lines, lines.state(), _PRINTABLE_ASCII)
    return lines.done()


def any_lines(classes: Classes) -> Lines:
    lines = Lines(classes, UNIVERSE_ALL, "any")
    s = lines.state(accept=True)
    lines.edge(s, UNIVERSE_ALL, s)
    return lines.done()
