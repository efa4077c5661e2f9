"""The parser's cursor: its position in the pattern (offset, line,
column), moving over characters and, in `x` mode, over whitespace and
comments, and building its errors.  `_parse_escape`, `_parse_class` and
`_parser` build the grammar on it."""

from __future__ import annotations

from kumopy._regex._errors import Pos, RegexSyntaxError, Span
from kumopy._regex._unicode import _WHITESPACE


class _Cursor:
    # (set by Parser.__init__, which sets every layer's state itself: a
    # super().__init__ call made each parse about 0.4% slower)
    p: str  # the pattern
    n: int  # its length
    i: int  # the offset of the current character
    line: int  # its line (from 1)
    col: int  # and column (from 1)
    ignore_ws: bool  # the `x` flag is on

    # -- low level --------------------------------------------------------
    def error(self, span: Span, message: str, aux: Span | None = None) -> RegexSyntaxError:
        return RegexSyntaxError(self.p, message, span, aux)

    def pos(self) -> Pos:
        return Pos(self.i, self.line, self.col)

    def set_pos(self, pos: Pos) -> None:
        self.i, self.line, self.col = pos

    def span(self) -> Span:
        p = Pos(self.i, self.line, self.col)
        return Span(p, p)

    def span_char(self) -> Span:
        start = Pos(self.i, self.line, self.col)
        if self.p[self.i] == "\n":
            end = Pos(self.i + 1, self.line + 1, 1)
        else:
            end = Pos(self.i + 1, self.line, self.col + 1)
        return Span(start, end)

    def eof(self) -> bool:
        return self.i >= self.n

    def char(self) -> str:
        return self.p[self.i]

    def bump(self) -> bool:
        if self.i >= self.n:
            return False
        if self.p[self.i] == "\n":
            self.line += 1
            self.col = 1
        else:
            self.col += 1
        self.i += 1
        return self.i < self.n

    def bump_if(self, prefix: str) -> bool:
        if self.p.startswith(prefix, self.i):
            for _ in prefix:
                self.bump()
            return True
        return False

    def bump_space(self) -> None:
        if not self.ignore_ws:
            return
        while self.i < self.n:
            c = self.p[self.i]
            if c in _WHITESPACE:
                self.bump()
            elif c == "#":
                self.bump()
                while self.i < self.n:
                    c = self.p[self.i]
                    self.bump()
                    if c == "\n":
                        break
            else:
                break

    def bump_and_bump_space(self) -> bool:
        if not self.bump():
            return False
        self.bump_space()
        return self.i < self.n

    def peek(self) -> str | None:
        if self.i + 1 < self.n:
            return self.p[self.i + 1]
        return None

    def peek_space(self) -> str | None:
        if not self.ignore_ws:
            return self.peek()
        if self.i >= self.n:
            return None
        start = self.i + 1
        in_comment = False
        for k in range(start, self.n):
            c = self.p[k]
            if c in _WHITESPACE:
                continue
            if not in_comment and c == "#":
                in_comment = True
            elif in_comment and c == "\n":
                in_comment = False
            else:
                start = k
                break
        return self.p[start] if start < self.n else None
