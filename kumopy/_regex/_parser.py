"""The parser: the grammar of regex-syntax 0.8 (default options), with its
error messages."""

from __future__ import annotations

from collections.abc import Sequence

from kumopy._regex._ast import (
    AAlt,
    AAssert,
    AClass,
    AConcat,
    ADot,
    AEmpty,
    AFlags,
    AGroup,
    ALit,
    ALits,
    APerl,
    ARep,
    Ast,
    AUnicode,
    CAscii,
    COp,
    CRange,
    CUnion,
)
from kumopy._regex._errors import (
    E_BACKREF,
    E_CAPTURE_LIMIT,
    E_CLASS_ESCAPE,
    E_CLASS_RANGE,
    E_CLASS_RANGE_LITERAL,
    E_CLASS_UNCLOSED,
    E_DECIMAL_INVALID,
    E_ESCAPE,
    E_ESCAPE_EOF,
    E_FLAG,
    E_FLAG_DANGLING,
    E_FLAG_DUPLICATE,
    E_FLAG_EOF,
    E_FLAG_NEGATION,
    E_GROUP_UNCLOSED,
    E_GROUP_UNOPENED,
    E_HEX_DIGIT,
    E_HEX_EMPTY,
    E_HEX_INVALID,
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
    E_UNICODE_CLASS,
    E_WB_EOF,
    E_WB_UNCLOSED,
    E_WB_UNKNOWN,
    NEST_LIMIT,
    Pos,
    RegexSyntaxError,
    Span,
)
from kumopy._regex._unicode import (
    _ASCII_CLASSES,
    _WHITESPACE,
    _alphabetic,
    _alphanumeric,
)

# --------------------------------------------------------------------------
# Parser (the grammar of regex-syntax 0.8, default options: octal off,
# nest limit 250, no empty minimum in counted repetitions)
# --------------------------------------------------------------------------

_META = frozenset("\\.+*?()|[]{}^$#&-~")
# Characters with a meaning at the top level of a pattern (outside classes).
_TOP_SPECIAL = frozenset("\\.+*?()|[{^$\n")
_REPEAT_OPS = frozenset("?*+{")
_SPECIAL_ESCAPES = {"a": "\x07", "f": "\x0c", "t": "\t", "n": "\n", "r": "\r", "v": "\x0b"}
_HEX = frozenset("0123456789abcdefABCDEF")
_FLAG_CHARS = frozenset("imsUuRx")


def _is_escapeable(c: str) -> bool:
    if c in _META:
        return True
    if not c.isascii():
        return False
    return not (c.isalnum() or c in "<>")


class _GroupState:
    __slots__ = ("concat", "group", "ignore_ws", "alt")

    def __init__(
        self, concat: AConcat | None, group: AGroup | None, ignore_ws: bool, alt: AAlt | None
    ) -> None:
        self.concat = concat
        self.group = group
        self.ignore_ws = ignore_ws
        self.alt = alt


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


class Parser:
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
        self.classes: list[_ClassState] = []

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

    # -- primitives and escapes -------------------------------------------
    def parse_primitive(self) -> Ast:
        c = self.p[self.i]
        if c == "\\":
            return self.parse_escape()
        sp = self.span_char()
        self.bump()
        if c == ".":
            return ADot(sp)
        if c == "^":
            return AAssert(sp, "start_line")
        if c == "$":
            return AAssert(sp, "end_line")
        return ALit(sp, c, "verbatim")

    def parse_escape(self) -> Ast:
        start = self.pos()
        if not self.bump():
            raise self.error(Span(start, self.pos()), E_ESCAPE_EOF)
        c = self.char()
        if "0" <= c <= "9":
            raise self.error(Span(start, self.span_char().end), E_BACKREF)
        if c in "xuU":
            lit = self.parse_hex()
            lit.span = Span(start, lit.span.end)
            return lit
        if c in "pP":
            uc = self.parse_unicode_class()
            uc.span = Span(start, uc.span.end)
            return uc
        if c in "dswDSW":
            sp = self.span_char()
            self.bump()
            return APerl(Span(start, sp.end), c.lower(), c.isupper())
        self.bump()
        span = Span(start, self.pos())
        if c in _META:
            return ALit(span, c, "meta")
        if _is_escapeable(c):
            return ALit(span, c, "superfluous")
        if c in _SPECIAL_ESCAPES:
            return ALit(span, _SPECIAL_ESCAPES[c], "special")
        if c == "A":
            return AAssert(span, "start_text")
        if c == "z":
            return AAssert(span, "end_text")
        if c == "b":
            kind = "word"
            if not self.eof() and self.char() == "{":
                special = self.maybe_parse_special_word_boundary(start)
                if special is not None:
                    kind = special
                    span = Span(start, self.pos())
            return AAssert(span, kind)
        if c == "B":
            return AAssert(span, "not_word")
        if c == "<":
            return AAssert(span, "word_start")
        if c == ">":
            return AAssert(span, "word_end")
        raise self.error(span, E_ESCAPE)

    def maybe_parse_special_word_boundary(self, wb_start: Pos) -> str | None:
        start = self.pos()
        if not self.bump_and_bump_space():
            raise self.error(Span(wb_start, self.pos()), E_WB_EOF)
        start_contents = self.pos()

        def valid(ch: str) -> bool:
            return ch == "-" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")

        if not valid(self.char()):
            self.set_pos(start)
            return None
        word = []
        while not self.eof() and valid(self.char()):
            word.append(self.char())
            self.bump_and_bump_space()
        if self.eof() or self.char() != "}":
            raise self.error(Span(start, self.pos()), E_WB_UNCLOSED)
        end = self.pos()
        self.bump()
        kind = {
            "start": "word_start",
            "end": "word_end",
            "start-half": "word_start_half",
            "end-half": "word_end_half",
        }.get("".join(word))
        if kind is None:
            raise self.error(Span(start_contents, end), E_WB_UNKNOWN)
        return kind

    def parse_hex(self) -> ALit:
        c = self.char()
        digits = {"x": 2, "u": 4, "U": 8}[c]
        if not self.bump_and_bump_space():
            raise self.error(self.span(), E_ESCAPE_EOF)
        if self.char() == "{":
            return self.parse_hex_brace()
        start = self.pos()
        hexdigits = []
        for k in range(digits):
            if k > 0 and not self.bump_and_bump_space():
                raise self.error(self.span(), E_ESCAPE_EOF)
            if self.char() not in _HEX:
                raise self.error(self.span_char(), E_HEX_DIGIT)
            hexdigits.append(self.char())
        self.bump_and_bump_space()
        end = self.pos()
        value = int("".join(hexdigits), 16)
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise self.error(Span(start, end), E_HEX_INVALID)
        return ALit(Span(start, end), chr(value), "hex_x" if digits == 2 else "hex")

    def parse_hex_brace(self) -> ALit:
        brace_pos = self.pos()
        start = self.span_char().end
        hexdigits = []
        while self.bump_and_bump_space() and self.char() != "}":
            if self.char() not in _HEX:
                raise self.error(self.span_char(), E_HEX_DIGIT)
            hexdigits.append(self.char())
        if self.eof():
            raise self.error(Span(brace_pos, self.pos()), E_ESCAPE_EOF)
        end = self.pos()
        self.bump_and_bump_space()
        if not hexdigits:
            raise self.error(Span(brace_pos, self.pos()), E_HEX_EMPTY)
        value = int("".join(hexdigits), 16)
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise self.error(Span(start, end), E_HEX_INVALID)
        return ALit(Span(start, self.pos()), chr(value), "hex")

    def parse_unicode_class(self) -> AUnicode:
        negated = self.char() == "P"
        if not self.bump_and_bump_space():
            raise self.error(self.span(), E_ESCAPE_EOF)
        if self.char() == "{":
            start = self.span_char().end
            chars = []
            while self.bump_and_bump_space() and self.char() != "}":
                chars.append(self.char())
            if self.eof():
                raise self.error(self.span(), E_ESCAPE_EOF)
            self.bump()
            name = "".join(chars)
            span = Span(start, self.pos())
            for op in ("!=", ":", "="):
                k = name.find(op)
                if k >= 0:
                    return AUnicode(span, negated, "value", name[:k], name[k + len(op) :], op)
            return AUnicode(span, negated, "named", name)
        start = self.pos()
        c = self.char()
        if c == "\\":
            raise self.error(self.span_char(), E_UNICODE_CLASS)
        self.bump_and_bump_space()
        return AUnicode(Span(start, self.pos()), negated, "one", c)

    # -- bracketed classes ----------------------------------------------------
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
