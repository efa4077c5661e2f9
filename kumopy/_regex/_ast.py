"""The abstract syntax tree the parser builds (mirrors regex-syntax's Ast)."""

from __future__ import annotations

from kumopy._regex._errors import Span

# --------------------------------------------------------------------------
# Abstract syntax
# --------------------------------------------------------------------------


class Ast:
    __slots__ = ("span",)

    def __init__(self, span: Span) -> None:
        self.span = span


class AEmpty(Ast):
    __slots__ = ()


class AFlags(Ast):
    """`(?flags)`; items are (span, flag char or "-")."""

    __slots__ = ("items",)

    def __init__(self, span: Span, items: list[tuple[Span, str]]) -> None:
        super().__init__(span)
        self.items = items


class ALit(Ast):
    """A literal character.  kind: verbatim, meta, superfluous, special,
    hex_x (a fixed two-digit `\\xNN`), hex (other hex escapes)."""

    __slots__ = ("c", "kind")

    def __init__(self, span: Span, c: str, kind: str) -> None:
        super().__init__(span)
        self.c = c
        self.kind = kind


class ALits(Ast):
    """A run of two or more verbatim characters (a parsing shortcut; the
    same as a concatenation of `ALit`s)."""

    __slots__ = ("text",)

    def __init__(self, span: Span, text: str) -> None:
        super().__init__(span)
        self.text = text


class ADot(Ast):
    __slots__ = ()


class AAssert(Ast):
    __slots__ = ("kind",)

    def __init__(self, span: Span, kind: str) -> None:
        super().__init__(span)
        self.kind = kind


class APerl(Ast):
    __slots__ = ("kind", "negated")

    def __init__(self, span: Span, kind: str, negated: bool) -> None:
        super().__init__(span)
        self.kind = kind
        self.negated = negated


class AUnicode(Ast):
    """`\\pX`, `\\p{name}`, `\\p{name=value}` (op "=", ":" or "!=")."""

    __slots__ = ("negated", "kind", "name", "value", "op")

    def __init__(
        self, span: Span, negated: bool, kind: str, name: str, value: str = "", op: str = ""
    ) -> None:
        super().__init__(span)
        self.negated = negated
        self.kind = kind
        self.name = name
        self.value = value
        self.op = op

    def is_negated(self) -> bool:
        return (not self.negated) if self.op == "!=" else self.negated


class AClass(Ast):
    """A bracketed class `[...]`; `set` is a class set item or `COp`."""

    __slots__ = ("negated", "set")

    def __init__(self, span: Span, negated: bool, cset: Ast) -> None:
        super().__init__(span)
        self.negated = negated
        self.set = cset


class ARep(Ast):
    __slots__ = ("op_span", "min", "max", "greedy", "sub")

    def __init__(
        self, span: Span, op_span: Span, lo: int, hi: int | None, greedy: bool, sub: Ast
    ) -> None:
        super().__init__(span)
        self.op_span = op_span
        self.min = lo
        self.max = hi
        self.greedy = greedy
        self.sub = sub


class AGroup(Ast):
    """kind: "cap" (numbered), "named", "noncap" (flags may be attached)."""

    __slots__ = ("kind", "index", "name", "flags", "sub")

    def __init__(
        self,
        span: Span,
        kind: str,
        index: int = 0,
        name: str = "",
        flags: list[tuple[Span, str]] | None = None,
    ) -> None:
        super().__init__(span)
        self.kind = kind
        self.index = index
        self.name = name
        self.flags = flags
        self.sub: Ast = AEmpty(span)


class AConcat(Ast):
    __slots__ = ("items",)

    def __init__(self, span: Span, items: list[Ast]) -> None:
        super().__init__(span)
        self.items = items

    def into_ast(self) -> Ast:
        if not self.items:
            return AEmpty(self.span)
        if len(self.items) == 1 and not isinstance(self.items[0], ALits):
            return self.items[0]
        return self


class AAlt(Ast):
    __slots__ = ("items",)

    def __init__(self, span: Span, items: list[Ast]) -> None:
        super().__init__(span)
        self.items = items


# Class set items (inside brackets); literals, Perl and Unicode classes and
# nested brackets reuse ALit, APerl, AUnicode and AClass.
class CEmpty(Ast):
    __slots__ = ()


class CRange(Ast):
    __slots__ = ("lo", "hi")

    def __init__(self, span: Span, lo: ALit, hi: ALit) -> None:
        super().__init__(span)
        self.lo = lo
        self.hi = hi


class CAscii(Ast):
    __slots__ = ("name", "negated")

    def __init__(self, span: Span, name: str, negated: bool) -> None:
        super().__init__(span)
        self.name = name
        self.negated = negated


class CUnion(Ast):
    __slots__ = ("items",)

    def __init__(self, span: Span, items: list[Ast]) -> None:
        super().__init__(span)
        self.items = items

    def push(self, item: Ast) -> None:
        if not self.items:
            self.span = Span(item.span.start, self.span.end)
        self.span = Span(self.span.start, item.span.end)
        self.items.append(item)

    def into_item(self) -> Ast:
        if not self.items:
            return CEmpty(self.span)
        if len(self.items) == 1:
            return self.items[0]
        return self


class COp(Ast):
    """Class set operation: kind "&&", "--" or "~~"."""

    __slots__ = ("kind", "lhs", "rhs")

    def __init__(self, span: Span, kind: str, lhs: Ast, rhs: Ast) -> None:
        super().__init__(span)
        self.kind = kind
        self.lhs = lhs
        self.rhs = rhs
