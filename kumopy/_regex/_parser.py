"""The parser: the grammar of regex-syntax 0.8 (default options), with its
error messages.

`Parser` is built in layers, one module each: `_parse_cursor` (the
position, moving over characters, whitespace and comments in `x` mode),
`_parse_escape` (literals, escapes, Unicode and Perl classes, assertions),
`_parse_class` (bracketed classes); this module has the top level
(alternation, groups, flags, repetitions) and the nesting check."""

from __future__ import annotations

from collections.abc import Sequence

from kumopy._regex._ast import (
    AAlt,
    AClass,
    AConcat,
    AEmpty,
    AFlags,
    AGroup,
    ALits,
    ARep,
    Ast,
    COp,
    CUnion,
)
from kumopy._regex._errors import (
    E_CAPTURE_LIMIT,
    E_DECIMAL_INVALID,
    E_FLAG,
    E_FLAG_DANGLING,
    E_FLAG_DUPLICATE,
    E_FLAG_EOF,
    E_FLAG_NEGATION,
    E_GROUP_UNCLOSED,
    E_GROUP_UNOPENED,
    E_LOOKAROUND,
    E_NAME_DUPLICATE,
    E_NAME_EMPTY,
    E_NAME_EOF,
    E_NAME_INVALID,
    E_NEST,
    E_REP_DECIMAL,
    E_REP_INVALID,
    E_REP_MISSING,
    E_REP_UNCLOSED,
    NEST_LIMIT,
    Pos,
    Span,
)
from kumopy._regex._parse_class import _ClassParser
from kumopy._regex._unicode import _WHITESPACE, _alphabetic, _alphanumeric

# --------------------------------------------------------------------------
# Parser (the grammar of regex-syntax 0.8, default options: octal off,
# nest limit 250, no empty minimum in counted repetitions)
# --------------------------------------------------------------------------

# Characters with a meaning at the top level of a pattern (outside classes).
_TOP_SPECIAL = frozenset("\\.+*?()|[{^$\n")
_REPEAT_OPS = frozenset("?*+{")
_FLAG_CHARS = frozenset("imsUuRx")


class _GroupState:
    __slots__ = ("concat", "group", "ignore_ws", "alt")

    def __init__(
        self, concat: AConcat | None, group: AGroup | None, ignore_ws: bool, alt: AAlt | None
    ) -> None:
        self.concat = concat
        self.group = group
        self.ignore_ws = ignore_ws
        self.alt = alt


class Parser(_ClassParser):
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.n = len(pattern)
        self.i = 0
        self.line = 1
        self.col = 1
        self.ignore_ws = False
        self.capture_index = 0
        self.capture_names: dict[str, Span] = {}
        self.groups: list[_GroupState] = []
        self.classes = []

    # -- top level ----------------------------------------------------------
    def parse(self) -> Ast:
        concat = AConcat(self.span(), [])
        while True:
            self.bump_space()
            if self.i >= self.n:
                break
            c = self.p[self.i]
            if c == "(":
                concat = self.push_group(concat)
            elif c == ")":
                concat = self.pop_group(concat)
            elif c == "|":
                concat = self.push_alternate(concat)
            elif c == "[":
                concat.items.append(self.parse_set_class())
            elif c == "?":
                concat = self.parse_uncounted_repetition(concat, 0, 1)
            elif c == "*":
                concat = self.parse_uncounted_repetition(concat, 0, None)
            elif c == "+":
                concat = self.parse_uncounted_repetition(concat, 1, None)
            elif c == "{":
                concat = self.parse_counted_repetition(concat)
            elif c not in _TOP_SPECIAL and not self.ignore_ws:
                # Fast path: a run of verbatim characters (the last one is
                # kept apart when a repetition operator follows it).
                p, i, n = self.p, self.i, self.n
                j = i + 1
                while j < n and p[j] not in _TOP_SPECIAL:
                    j += 1
                if j < n and p[j] in _REPEAT_OPS:
                    j -= 1
                if j - i >= 2:
                    start = Pos(i, self.line, self.col)
                    self.i = j
                    self.col += j - i
                    concat.items.append(ALits(Span(start, self.pos()), p[i:j]))
                else:
                    concat.items.append(self.parse_primitive())
            else:
                concat.items.append(self.parse_primitive())
        ast = self.pop_group_end(concat)
        _check_nesting(self, ast)
        return ast

    def push_alternate(self, concat: AConcat) -> AConcat:
        concat.span = Span(concat.span.start, self.pos())
        if self.groups and self.groups[-1].alt is not None:
            alt = self.groups[-1].alt
            alt.items.append(concat.into_ast())
        else:
            self.groups.append(
                _GroupState(
                    None,
                    None,
                    False,
                    AAlt(Span(concat.span.start, self.pos()), [concat.into_ast()]),
                )
            )
        self.bump()
        return AConcat(self.span(), [])

    def push_group(self, concat: AConcat) -> AConcat:
        result = self.parse_group()
        if isinstance(result, AFlags):
            state = _flag_state(result.items, "x")
            if state is not None:
                self.ignore_ws = state
            concat.items.append(result)
            return concat
        old = self.ignore_ws
        new = old
        if result.flags is not None:
            state = _flag_state(result.flags, "x")
            if state is not None:
                new = state
        self.groups.append(_GroupState(concat, result, old, None))
        self.ignore_ws = new
        return AConcat(self.span(), [])

    def pop_group(self, group_concat: AConcat) -> AConcat:
        alt: AAlt | None = None
        if not self.groups:
            raise self.error(self.span_char(), E_GROUP_UNOPENED)
        top = self.groups.pop()
        if top.alt is not None:
            alt = top.alt
            if not self.groups or self.groups[-1].group is None:
                raise self.error(self.span_char(), E_GROUP_UNOPENED)
            top = self.groups.pop()
        prior, group = top.concat, top.group
        assert prior is not None and group is not None
        self.ignore_ws = top.ignore_ws
        group_concat.span = Span(group_concat.span.start, self.pos())
        self.bump()
        group.span = Span(group.span.start, self.pos())
        if alt is not None:
            alt.span = Span(alt.span.start, group_concat.span.end)
            alt.items.append(group_concat.into_ast())
            group.sub = alt
        else:
            group.sub = group_concat.into_ast()
        prior.items.append(group)
        return prior

    def pop_group_end(self, concat: AConcat) -> Ast:
        concat.span = Span(concat.span.start, self.pos())
        if not self.groups:
            return concat.into_ast()
        top = self.groups.pop()
        if top.alt is not None:
            top.alt.span = Span(top.alt.span.start, self.pos())
            top.alt.items.append(concat.into_ast())
            ast: Ast = top.alt
        else:
            assert top.group is not None
            raise self.error(top.group.span, E_GROUP_UNCLOSED)
        if self.groups:
            g = self.groups.pop().group
            assert g is not None
            raise self.error(g.span, E_GROUP_UNCLOSED)
        return ast

    # -- repetitions --------------------------------------------------------
    def _pop_repeatable(self, concat: AConcat) -> Ast:
        if not concat.items or isinstance(concat.items[-1], (AEmpty, AFlags)):
            raise self.error(self.span(), E_REP_MISSING)
        return concat.items.pop()

    def parse_uncounted_repetition(self, concat: AConcat, lo: int, hi: int | None) -> AConcat:
        op_start = self.pos()
        ast = self._pop_repeatable(concat)
        greedy = True
        if self.bump() and self.p[self.i] == "?":
            greedy = False
            self.bump()
        end = self.pos()
        concat.items.append(
            ARep(Span(ast.span.start, end), Span(op_start, end), lo, hi, greedy, ast)
        )
        return concat

    def parse_counted_repetition(self, concat: AConcat) -> AConcat:
        start = self.pos()
        ast = self._pop_repeatable(concat)
        if not self.bump_and_bump_space():
            raise self.error(Span(start, self.pos()), E_REP_UNCLOSED)
        count_start = self.parse_decimal()
        if self.eof():
            raise self.error(Span(start, self.pos()), E_REP_UNCLOSED)
        hi: int | None
        if self.char() == ",":
            if not self.bump_and_bump_space():
                raise self.error(Span(start, self.pos()), E_REP_UNCLOSED)
            if self.char() != "}":
                lo = _decimal_or_raise(self, count_start)
                hi = _decimal_or_raise(self, self.parse_decimal())
            else:
                lo = _decimal_or_raise(self, count_start)
                hi = None
        else:
            lo = _decimal_or_raise(self, count_start)
            hi = lo
        if self.eof() or self.char() != "}":
            raise self.error(Span(start, self.pos()), E_REP_UNCLOSED)
        greedy = True
        if self.bump_and_bump_space() and self.char() == "?":
            greedy = False
            self.bump()
        op_span = Span(start, self.pos())
        if hi is not None and lo > hi:
            raise self.error(op_span, E_REP_INVALID)
        concat.items.append(ARep(Span(ast.span.start, self.pos()), op_span, lo, hi, greedy, ast))
        return concat

    def parse_decimal(self) -> int | tuple[Span, str]:
        """A decimal, or (span, message) when there is none (the caller
        decides whether that is an error)."""
        while self.i < self.n and self.p[self.i] in _WHITESPACE:
            self.bump()
        start = self.pos()
        digits = []
        while self.i < self.n and "0" <= self.p[self.i] <= "9":
            digits.append(self.p[self.i])
            self.bump_and_bump_space()
        span = Span(start, self.pos())
        while self.i < self.n and self.p[self.i] in _WHITESPACE:
            self.bump_and_bump_space()
        if not digits:
            return (span, E_REP_DECIMAL)
        value = int("".join(digits))
        if value > 0xFFFFFFFF:
            return (span, E_DECIMAL_INVALID)
        return value

    # -- groups and flags ---------------------------------------------------
    def parse_group(self) -> AFlags | AGroup:
        open_span = self.span_char()
        self.bump()
        self.bump_space()
        if self.bump_if("?=") or self.bump_if("?!") or self.bump_if("?<=") or self.bump_if("?<!"):
            raise self.error(Span(open_span.start, self.pos()), E_LOOKAROUND)
        inner_span = self.span()
        if self.bump_if("?P<") or self.bump_if("?<"):
            index = self.next_capture_index(open_span)
            name = self.parse_capture_name()
            return AGroup(open_span, "named", index, name)
        if self.bump_if("?"):
            if self.eof():
                raise self.error(open_span, E_GROUP_UNCLOSED)
            flags = self.parse_flags()
            char_end = self.char()
            self.bump()
            if char_end == ")":
                if not flags:
                    raise self.error(inner_span, E_REP_MISSING)
                return AFlags(Span(open_span.start, self.pos()), flags)
            return AGroup(open_span, "noncap", flags=flags)
        index = self.next_capture_index(open_span)
        return AGroup(open_span, "cap", index)

    def next_capture_index(self, span: Span) -> int:
        if self.capture_index >= 0xFFFFFFFF:
            raise self.error(span, E_CAPTURE_LIMIT)
        self.capture_index += 1
        return self.capture_index

    def parse_capture_name(self) -> str:
        if self.eof():
            raise self.error(self.span(), E_NAME_EOF)
        start = self.pos()
        while True:
            c = self.char()
            if c == ">":
                break
            first = self.i == start.offset
            ok = c == "_" or (_alphabetic(c) if first else (c in ".[]" or _alphanumeric(c)))
            if not ok:
                raise self.error(self.span_char(), E_NAME_INVALID)
            if not self.bump():
                break
        end = self.pos()
        if self.eof():
            raise self.error(self.span(), E_NAME_EOF)
        self.bump()
        name = self.p[start.offset : end.offset]
        if not name:
            raise self.error(Span(start, start), E_NAME_EMPTY)
        span = Span(start, end)
        if name in self.capture_names:
            raise self.error(span, E_NAME_DUPLICATE, self.capture_names[name])
        self.capture_names[name] = span
        return name

    def parse_flags(self) -> list[tuple[Span, str]]:
        items: list[tuple[Span, str]] = []
        last_negation: Span | None = None
        while self.char() != ":" and self.char() != ")":
            c = self.char()
            sp = self.span_char()
            if c == "-":
                last_negation = sp
            else:
                last_negation = None
                if c not in _FLAG_CHARS:
                    raise self.error(sp, E_FLAG)
            for osp, oc in items:
                if oc == c:
                    raise self.error(sp, E_FLAG_NEGATION if c == "-" else E_FLAG_DUPLICATE, osp)
            items.append((sp, c))
            if not self.bump():
                raise self.error(self.span(), E_FLAG_EOF)
        if last_negation is not None:
            raise self.error(last_negation, E_FLAG_DANGLING)
        return items


def _decimal_or_raise(parser: Parser, value: int | tuple[Span, str]) -> int:
    if isinstance(value, int):
        return value
    raise parser.error(value[0], value[1])


def _flag_state(items: Sequence[tuple[Span, str]], flag: str) -> bool | None:
    negated = False
    for _, c in items:
        if c == "-":
            negated = True
        elif c == flag:
            return not negated
    return None


def _check_nesting(parser: Parser, ast: Ast) -> None:
    """regex-syntax's nest limit: groups, repetitions, concatenations,
    alternations and (nested) classes, unions and class operations each add
    one level."""

    # (a loop, not a recursive closure: that would be a reference cycle
    # keeping the parser alive until the garbage collector runs)
    stack: list[tuple[object, int]] = [(ast, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (ARep, AGroup, AConcat, AAlt, AClass, CUnion, COp)):
            depth += 1
            if depth > NEST_LIMIT:
                raise parser.error(node.span, E_NEST)
        if isinstance(node, (ARep, AGroup)):
            stack.append((node.sub, depth))
        elif isinstance(node, (AConcat, AAlt, CUnion)):
            stack.extend((item, depth) for item in reversed(node.items))
        elif isinstance(node, AClass):
            stack.append((node.set, depth))
        elif isinstance(node, COp):
            stack.append((node.rhs, depth))
            stack.append((node.lhs, depth))
