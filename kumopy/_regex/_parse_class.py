"""The parser's bracketed character classes: `[...]`, nested classes,
ranges, ASCII classes (`[:alpha:]`) and the class operations `&&`, `--`
and `~~`."""

from __future__ import annotations

from kumopy._regex._ast import (
    AClass,
    ALit,
    APerl,
    Ast,
    AUnicode,
    CAscii,
    COp,
    CRange,
    CUnion,
)
from kumopy._regex._errors import (
    E_CLASS_ESCAPE,
    E_CLASS_RANGE,
    E_CLASS_RANGE_LITERAL,
    E_CLASS_UNCLOSED,
    RegexSyntaxError,
    Span,
)
from kumopy._regex._parse_escape import _EscapeParser
from kumopy._regex._unicode import _ASCII_CLASSES


class _ClassState:
    __slots__ = ("union", "cls", "op", "lhs")

    def __init__(
        self,
        union: CUnion | None = None,
        cls: AClass | None = None,
        op: str = "",
        lhs: Ast | None = None,
    ) -> None:
        self.union = union
        self.cls = cls
        self.op = op
        self.lhs = lhs


class _ClassParser(_EscapeParser):
    # (set by Parser.__init__, as _Cursor says) the classes open around the
    # current position
    classes: list[_ClassState]

    def parse_set_class(self) -> AClass:
        union = CUnion(self.span(), [])
        while True:
            self.bump_space()
            if self.eof():
                raise self.unclosed_class_error()
            c = self.char()
            if c == "[":
                if self.classes:
                    ascii_cls = self.maybe_parse_ascii_class()
                    if ascii_cls is not None:
                        union.push(ascii_cls)
                        continue
                union = self.push_class_open(union)
            elif c == "]":
                done = self.pop_class(union)
                if isinstance(done, AClass):
                    return done
                union = done
            elif c == "&" and self.peek() == "&":
                self.bump_if("&&")
                union = self.push_class_op("&&", union)
            elif c == "-" and self.peek() == "-":
                self.bump_if("--")
                union = self.push_class_op("--", union)
            elif c == "~" and self.peek() == "~":
                self.bump_if("~~")
                union = self.push_class_op("~~", union)
            else:
                union.push(self.parse_set_class_range())

    def unclosed_class_error(self) -> RegexSyntaxError:
        for state in reversed(self.classes):
            if state.cls is not None:
                return self.error(state.cls.span, E_CLASS_UNCLOSED)
        raise AssertionError("no open character class")

    def push_class_open(self, parent: CUnion) -> CUnion:
        start = self.pos()
        if not self.bump_and_bump_space():
            raise self.error(Span(start, self.pos()), E_CLASS_UNCLOSED)
        negated = False
        if self.char() == "^":
            negated = True
            if not self.bump_and_bump_space():
                raise self.error(Span(start, self.pos()), E_CLASS_UNCLOSED)
        union = CUnion(self.span(), [])
        while self.char() == "-":
            union.push(ALit(self.span_char(), "-", "verbatim"))
            if not self.bump_and_bump_space():
                raise self.error(Span(start, start), E_CLASS_UNCLOSED)
        if not union.items and self.char() == "]":
            union.push(ALit(self.span_char(), "]", "verbatim"))
            if not self.bump_and_bump_space():
                raise self.error(Span(start, self.pos()), E_CLASS_UNCLOSED)
        ustart = union.span.start
        cls = AClass(Span(start, self.pos()), negated, CUnion(Span(ustart, ustart), []))
        self.classes.append(_ClassState(union=parent, cls=cls))
        return union

    def pop_class_op(self, rhs: Ast) -> Ast:
        if self.classes and self.classes[-1].cls is None:
            state = self.classes.pop()
            assert state.lhs is not None
            return COp(Span(state.lhs.span.start, rhs.span.end), state.op, state.lhs, rhs)
        return rhs

    def push_class_op(self, kind: str, union: CUnion) -> CUnion:
        new_lhs = self.pop_class_op(union.into_item())
        self.classes.append(_ClassState(op=kind, lhs=new_lhs))
        return CUnion(self.span(), [])

    def pop_class(self, union: CUnion) -> CUnion | AClass:
        prevset = self.pop_class_op(union.into_item())
        state = self.classes.pop()
        cls, parent = state.cls, state.union
        assert cls is not None and parent is not None
        self.bump()
        cls.span = Span(cls.span.start, self.pos())
        cls.set = prevset
        if not self.classes:
            return cls
        parent.push(cls)
        return parent

    def parse_set_class_range(self) -> Ast:
        prim1 = self.parse_set_class_item()
        self.bump_space()
        if self.eof():
            raise self.unclosed_class_error()
        if self.char() != "-" or self.peek_space() in ("]", "-"):
            return self.into_class_set_item(prim1)
        if not self.bump_and_bump_space():
            raise self.unclosed_class_error()
        prim2 = self.parse_set_class_item()
        span = Span(prim1.span.start, prim2.span.end)
        lo = self.into_class_literal(prim1)
        hi = self.into_class_literal(prim2)
        if lo.c > hi.c:
            raise self.error(span, E_CLASS_RANGE)
        return CRange(span, lo, hi)

    def into_class_set_item(self, prim: Ast) -> Ast:
        if isinstance(prim, (ALit, APerl, AUnicode)):
            return prim
        raise self.error(prim.span, E_CLASS_ESCAPE)

    def into_class_literal(self, prim: Ast) -> ALit:
        if isinstance(prim, ALit):
            return prim
        raise self.error(prim.span, E_CLASS_RANGE_LITERAL)

    def parse_set_class_item(self) -> Ast:
        if self.char() == "\\":
            return self.parse_escape()
        sp = self.span_char()
        c = self.char()
        self.bump()
        return ALit(sp, c, "verbatim")

    def maybe_parse_ascii_class(self) -> CAscii | None:
        start = self.pos()
        negated = False
        if not self.bump() or self.char() != ":":
            self.set_pos(start)
            return None
        if not self.bump():
            self.set_pos(start)
            return None
        if self.char() == "^":
            negated = True
            if not self.bump():
                self.set_pos(start)
                return None
        name_start = self.i
        while self.char() != ":" and self.bump():
            pass
        if self.eof():
            self.set_pos(start)
            return None
        name = self.p[name_start : self.i]
        if not self.bump_if(":]"):
            self.set_pos(start)
            return None
        if name not in _ASCII_CLASSES:
            self.set_pos(start)
            return None
        return CAscii(Span(start, self.pos()), name, negated)
