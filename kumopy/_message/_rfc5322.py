"""Header value grammar (RFC 5322, 2047, 2045/2231, 8601) as kumod's
mailparsing crate parses it.

kumod's parser is a set of nom combinators; this module follows the same
grammar with the same choices: alternatives tried in the same order,
repetitions greedy without backtracking, the whole value consumed.  So
the values a policy sees (display names with folding kept inside quoted
strings, phrases joined by single spaces, encoded words decoded, RFC 2231
continuations joined) match kumod's, and so does what fails to parse.

Every parser is a function `(data, pos) -> (value, new_pos)` raising
`_Fail` at the position where it gave up.  `parse_with` runs one over a
whole value and raises `HeaderParseError` whose text is kumod's
`invalid header: ...` form (the detail after that prefix is kumopy's own).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ._charset import CharsetError, decode_charset
from ._codecs import qp_decode

__all__ = [
    "AddrSpec",
    "Group",
    "HeaderParseError",
    "Mailbox",
    "parse_address_list",
    "parse_mailbox",
    "parse_mailbox_list",
    "parse_msg_id",
    "parse_msg_id_list",
    "parse_unstructured",
    "parse_with",
]

T = TypeVar("T")


class HeaderParseError(ValueError):
    """A header value that kumod's grammar rejects."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"invalid header: {detail}")
        self.detail = detail


class _Fail(Exception):
    __slots__ = ("pos", "context")

    def __init__(self, pos: int, context: str) -> None:
        self.pos = pos
        self.context = context


Parser = Callable[[bytes, int], tuple[Any, int]]


# -- character classes ---------------------------------------------------------


def _set(*ranges: tuple[int, int], extra: bytes = b"") -> frozenset[int]:
    out = set(extra)
    for lo, hi in ranges:
        out.update(range(lo, hi + 1))
    return frozenset(out)


_OBS_NO_WS_CTL = _set((0x01, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x7F))
_ATEXT = frozenset(
    b"!#$%&'*+-/=?^_`{|}~abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)
_CTEXT = _set((0x21, 0x27), (0x2A, 0x5B), (0x5D, 0x7E)) | _OBS_NO_WS_CTL
_DTEXT = _set((0x21, 0x5A), (0x5E, 0x7E)) | _OBS_NO_WS_CTL
_QTEXT = _set((0x21, 0x21), (0x23, 0x5B), (0x5D, 0x7E)) | _OBS_NO_WS_CTL
_VCHAR = _set((0x21, 0x7E))
_QUOTED_PAIR = _set((0x00, 0x00), extra=b"\r\n ") | _OBS_NO_WS_CTL | _VCHAR
_CTL = _set((0x00, 0x1F), (0x7F, 0x7F))
_ESPECIAL = frozenset(b"()<>@,;:/[]?.=")
_TSPECIAL = frozenset(b'()<>@,;:\\"/[]?=')
_CHAR = _set((0x01, 0x7F))
TOKEN = frozenset(c for c in _CHAR if c != 0x20 and c not in _ESPECIAL and c not in _CTL)
MIME_TOKEN = frozenset(c for c in _CHAR if c != 0x20 and c not in _CTL and c not in _TSPECIAL)
ATTRIBUTE_CHAR = frozenset(c for c in MIME_TOKEN if c not in b"*'%")
_OBS_UTEXT = _set((0x00, 0x00)) | _OBS_NO_WS_CTL | _VCHAR
_WSP = frozenset(b" \t")
_TOKEN_NO_STAR = TOKEN - {0x2A}
_VCHAR_NO_Q = _VCHAR - {0x3F}


def is_atext_byte(c: int) -> bool:
    """atext including any non-ASCII byte (kumod's byte-level check)."""
    return c in _ATEXT or c >= 0x80


def is_qtext_byte(c: int) -> bool:
    return c in _QTEXT or c >= 0x80


def is_quoted_pair_byte(c: int) -> bool:
    return c in _QUOTED_PAIR or c >= 0x80


# -- primitives ---------------------------------------------------------------


def _utf8_len(s: bytes, i: int) -> int:
    """Length of the valid non-ASCII UTF-8 character at s[i], else 0."""
    if i >= len(s):
        return 0
    c = s[i]
    if c < 0xC2:
        return 0
    n = 2 if c < 0xE0 else 3 if c < 0xF0 else 4 if c < 0xF5 else 0
    if n == 0 or i + n > len(s):
        return 0
    try:
        s[i : i + n].decode("utf-8")
    except UnicodeDecodeError:
        return 0
    return n


def _char_end(s: bytes, i: int, chars: Container[int]) -> int:
    """The end of the character at s[i] when it is a byte of `chars` or a
    valid non-ASCII UTF-8 character; else i."""
    if i < len(s) and s[i] in chars:
        return i + 1
    return i + _utf8_len(s, i)


def _tag(s: bytes, i: int, t: bytes) -> int:
    if s.startswith(t, i):
        return i + len(t)
    raise _Fail(i, f'expected "{t.decode()}"')


def _take_while(s: bytes, i: int, chars: frozenset[int]) -> int:
    n = len(s)
    while i < n and s[i] in chars:
        i += 1
    return i


def _take_while1(s: bytes, i: int, chars: frozenset[int], ctx: str) -> int:
    j = _take_while(s, i, chars)
    if j == i:
        raise _Fail(i, ctx)
    return j


def _run(s: bytes, i: int, chars: frozenset[int], ctx: str) -> int:
    """many1 of (a run of `chars` | one valid non-ASCII UTF-8 character)."""
    j = i
    n = len(s)
    while j < n:
        c = s[j]
        if c in chars:
            j += 1
            continue
        k = _utf8_len(s, j)
        if k == 0:
            break
        j += k
    if j == i:
        raise _Fail(i, ctx)
    return j


def _opt(p: Parser, s: bytes, i: int) -> tuple[Any, int]:
    try:
        return p(s, i)
    except _Fail:
        return None, i


def _many0(p: Parser, s: bytes, i: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    while True:
        try:
            v, j = p(s, i)
        except _Fail:
            return out, i
        if j == i:  # nom refuses a repetition that consumes nothing
            raise _Fail(i, "many0")
        out.append(v)
        i = j


def _many1(p: Parser, s: bytes, i: int) -> tuple[list[Any], int]:
    v, j = p(s, i)
    rest, k = _many0(p, s, j)
    return [v, *rest], k


def _alt(s: bytes, i: int, *parsers: Parser) -> tuple[Any, int]:
    last: _Fail | None = None
    for p in parsers:
        try:
            return p(s, i)
        except _Fail as e:
            last = e
    assert last is not None
    raise last


# -- whitespace and comments --------------------------------------------------


def _wsp(s: bytes, i: int) -> tuple[None, int]:
    return None, _take_while1(s, i, _WSP, "wsp")


def _newline(s: bytes, i: int) -> tuple[None, int]:
    j = i + 1 if s.startswith(b"\r", i) else i
    return None, _tag(s, j, b"\n")


def _fws(s: bytes, i: int) -> tuple[bytes, int]:
    """Folding white space; the value is the raw span."""
    j = i
    while True:  # (wsp* newline)*, greedy
        k = _take_while(s, j, _WSP)
        if s.startswith(b"\r\n", k):
            j = k + 2
        elif s.startswith(b"\n", k):
            j = k + 1
        else:
            break
    k = _take_while(s, j, _WSP)
    if k > j:
        return s[i:k], k
    j = _take_while1(s, i, _WSP, "obs_fws")
    _, j = _newline(s, j)
    j = _take_while1(s, j, _WSP, "obs_fws")
    return s[i:j], j


def _quoted_pair(s: bytes, i: int) -> tuple[bytes, int]:
    j = _tag(s, i, b"\\")
    k = _char_end(s, j, _QUOTED_PAIR)
    if k == j:
        raise _Fail(j, "quoted_pair")
    return s[j:k], k


def _ccontent(s: bytes, i: int) -> tuple[None, int]:
    k = _char_end(s, i, _CTEXT)
    if k > i:
        return None, k
    try:
        return None, _quoted_pair(s, i)[1]
    except _Fail:
        pass
    try:
        return _comment(s, i)
    except _Fail:
        pass
    return None, encoded_word(s, i)[1]


def _comment(s: bytes, i: int) -> tuple[None, int]:
    j = _tag(s, i, b"(")

    def item(s: bytes, k: int) -> tuple[None, int]:
        _, k = _opt(_fws, s, k)
        return _ccontent(s, k)

    _, j = _many0(item, s, j)
    _, j = _opt(_fws, s, j)
    return None, _tag(s, j, b")")


def cfws(s: bytes, i: int) -> tuple[None, int]:
    try:
        def fws_comment(s: bytes, k: int) -> tuple[None, int]:
            _, k = _opt(_fws, s, k)
            return _comment(s, k)

        _, j = _many1(fws_comment, s, i)
        _, j = _opt(_fws, s, j)
        return None, j
    except _Fail:
        pass
    return None, _fws(s, i)[1]


def _ocfws(s: bytes, i: int) -> int:
    return _opt(cfws, s, i)[1]


# -- RFC 2047 encoded words ---------------------------------------------------


def _b64_strict(text: bytes) -> bytes:
    if len(text) % 4:
        raise ValueError("invalid length")
    return base64.b64decode(text, validate=True)


def encoded_word(s: bytes, i: int) -> tuple[str, int]:
    start = i
    j = _tag(s, i, b"=?")
    k = _take_while1(s, j, _TOKEN_NO_STAR, "charset")
    charset = s[j:k]
    if s.startswith(b"*", k):
        k = _take_while1(s, k + 1, _TOKEN_NO_STAR, "language")
    k = _tag(s, k, b"?")
    e = _take_while1(s, k, _TOKEN_NO_STAR, "encoding")
    enc = s[k:e]
    e = _tag(s, e, b"?")
    t = _run(s, e, _VCHAR_NO_Q, "encoded_text")
    text = s[e:t]
    end = _tag(s, t, b"?=")
    if enc in (b"B", b"b"):
        try:
            raw = _b64_strict(text)
        except (ValueError, binascii.Error):
            raise _Fail(start, "encoded_word: base64 decode failed") from None
    elif enc in (b"Q", b"q"):
        munged = text.replace(b"_", b" ")
        raw = qp_decode(munged)
        if munged.endswith(b" ") and not raw.endswith(b" "):
            raw += b" "
    else:
        raise _Fail(start, "encoded_word: invalid encoding")
    try:
        decoded = decode_charset(charset.decode("utf-8"), raw)
    except (UnicodeDecodeError, CharsetError):
        raise _Fail(start, "encoded_word: cannot decode") from None
    return decoded, end


# -- words and phrases --------------------------------------------------------


def atext(s: bytes, i: int) -> tuple[bytes, int]:
    j = _run(s, i, _ATEXT, "atext")
    return s[i:j], j


def atom(s: bytes, i: int) -> tuple[bytes, int]:
    i = _ocfws(s, i)
    text, j = atext(s, i)
    return text, _ocfws(s, j)


def _text_char(s: bytes, i: int, allowed: Container[int]) -> tuple[bytes, int]:
    """One character of quoted text: a byte of `allowed`, a UTF-8
    character or a quoted pair."""
    k = _char_end(s, i, allowed)
    if k > i:
        return s[i:k], k
    return _quoted_pair(s, i)


def _qcontent(s: bytes, i: int) -> tuple[bytes, int]:
    return _text_char(s, i, _QTEXT)


def quoted_string(s: bytes, i: int) -> tuple[bytes, int]:
    """The content of a quoted string, escapes removed and folding kept."""
    return _enclosed(s, i, b'"', _qcontent, b'"')


def _enclosed(s: bytes, i: int, open_: bytes, content: Parser, close: bytes) -> tuple[bytes, int]:
    """[CFWS] open_ *([FWS] content) [FWS] close [CFWS] (RFC 5322's
    quoted-string and domain-literal): what lies between the delimiters,
    folding kept."""
    j = _tag(s, _ocfws(s, i), open_)
    out = bytearray()
    while True:
        f, k = _opt(_fws, s, j)
        try:
            piece, k2 = content(s, k)
        except _Fail:
            break
        if f is not None:
            out += f
        out += piece
        j = k2
    f, j = _opt(_fws, s, j)
    if f is not None:
        out += f
    j = _tag(s, j, close)
    return bytes(out), _ocfws(s, j)


def word(s: bytes, i: int) -> tuple[bytes, int]:
    return _alt(s, i, atom, quoted_string)


def _word_or_encoded(s: bytes, i: int) -> tuple[bytes, int]:
    try:
        text, j = encoded_word(s, i)
        return text.encode("utf-8"), j
    except _Fail:
        return word(s, i)


def phrase(s: bytes, i: int) -> tuple[str, int]:
    first, j = _word_or_encoded(s, i)
    items = [first]
    while True:
        try:
            _, k = cfws(s, j)
        except _Fail:
            try:
                w, k = _word_or_encoded(s, j)
                items.append(w)
            except _Fail:
                if s.startswith(b".", j):
                    items.append(b".")
                    k = j + 1
                else:
                    break
        if k == j:
            raise _Fail(j, "phrase")
        j = k
    return b" ".join(items).decode("utf-8", "surrogateescape"), j


# -- addresses ----------------------------------------------------------------


@dataclass(frozen=True)
class AddrSpec:
    local_part: str
    domain: str


@dataclass(frozen=True)
class Mailbox:
    name: str | None
    address: AddrSpec


@dataclass(frozen=True)
class Group:
    name: str
    entries: tuple[Mailbox, ...] = field(default_factory=tuple)


Address = Mailbox | Group


def dot_atom_text(s: bytes, i: int) -> tuple[bytes, int]:
    return _dotted(s, i, atext)


def dot_atom(s: bytes, i: int) -> tuple[bytes, int]:
    i = _ocfws(s, i)
    text, j = dot_atom_text(s, i)
    return text, _ocfws(s, j)


def _dotted(s: bytes, i: int, p: Parser) -> tuple[bytes, int]:
    """`p` ("." `p`)*: the longest run of dot-separated `p`s."""
    first, j = p(s, i)
    out = bytearray(first)
    while s.startswith(b".", j):
        try:
            more, k = p(s, j + 1)
        except _Fail:
            break
        out += b"." + more
        j = k
    return bytes(out), j


def local_part(s: bytes, i: int) -> tuple[bytes, int]:
    return _alt(s, i, lambda s, i: _dotted(s, i, word), dot_atom, quoted_string)


def _dcontent(s: bytes, i: int) -> tuple[bytes, int]:
    return _text_char(s, i, _DTEXT)


def _domain_literal(s: bytes, i: int) -> tuple[bytes, int]:
    inner, j = _enclosed(s, i, b"[", _dcontent, b"]")
    return b"[" + inner + b"]", j


def domain(s: bytes, i: int) -> tuple[bytes, int]:
    return _alt(s, i, dot_atom, _domain_literal, lambda s, i: _dotted(s, i, atom))


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def addr_spec(s: bytes, i: int) -> tuple[AddrSpec, int]:
    lp, j = local_part(s, i)
    j = _tag(s, j, b"@")
    dom, k = domain(s, j)
    return AddrSpec(_text(lp), _text(dom)), k


def _obs_route(s: bytes, i: int) -> tuple[None, int]:
    def cfws_or_comma(s: bytes, k: int) -> tuple[None, int]:
        if s.startswith(b",", k):
            return None, k + 1
        return cfws(s, k)

    _, j = _many0(cfws_or_comma, s, i)
    j = _tag(s, j, b"@")
    _, j = domain(s, j)

    def more(s: bytes, k: int) -> tuple[None, int]:
        k = _tag(s, k, b",")
        k = _ocfws(s, k)
        if s.startswith(b"@", k):
            try:
                return None, domain(s, k + 1)[1]
            except _Fail:
                pass
        return None, k

    _, j = _many0(more, s, j)
    return None, _tag(s, j, b":")


def angle_addr(s: bytes, i: int) -> tuple[AddrSpec, int]:
    j = _tag(s, _ocfws(s, i), b"<")
    try:
        addr, k = addr_spec(s, j)
        k = _tag(s, k, b">")
        return addr, _ocfws(s, k)
    except _Fail:
        pass
    _, k = _obs_route(s, j)
    addr, k = addr_spec(s, k)
    k = _tag(s, k, b">")
    return addr, _ocfws(s, k)


def mailbox(s: bytes, i: int) -> tuple[Mailbox, int]:
    try:
        name, j = _opt(phrase, s, i)
        addr, k = angle_addr(s, j)
        return Mailbox(name, addr), k
    except _Fail:
        pass
    addr, k = addr_spec(s, i)
    return Mailbox(None, addr), k


def _separated_list1(p: Parser, s: bytes, i: int) -> tuple[list[Any], int]:
    first, j = p(s, i)
    out = [first]
    while s.startswith(b",", j):
        try:
            v, k = p(s, j + 1)
        except _Fail:
            break
        out.append(v)
        j = k
    return out, j


def _obs_list(p: Parser, s: bytes, i: int) -> tuple[list[Any], int]:
    def leading_comma(s: bytes, k: int) -> tuple[None, int]:
        return None, _tag(s, _ocfws(s, k), b",")

    def entry(s: bytes, k: int) -> tuple[list[Any], int]:
        _, k = _many0(leading_comma, s, k)
        first, k = p(s, k)
        items = [first]

        def after(s: bytes, m: int) -> tuple[Any, int]:
            m = _tag(s, m, b",")
            try:
                return p(s, m)
            except _Fail:
                return None, cfws(s, m)[1]

        more, k = _many0(after, s, k)
        items.extend(x for x in more if x is not None)
        return items, k

    groups, j = _many1(entry, s, i)
    return [x for g in groups for x in g], j


def mailbox_list(s: bytes, i: int) -> tuple[list[Mailbox], int]:
    try:
        return _separated_list1(mailbox, s, i)
    except _Fail:
        return _obs_list(mailbox, s, i)


def _group_list(s: bytes, i: int) -> tuple[list[Mailbox], int]:
    try:
        return mailbox_list(s, i)
    except _Fail:
        pass
    try:
        return [], cfws(s, i)[1]
    except _Fail:
        pass

    def comma(s: bytes, k: int) -> tuple[None, int]:
        return None, _tag(s, _ocfws(s, k), b",")

    _, j = _many1(comma, s, i)
    return [], _ocfws(s, j)


def group(s: bytes, i: int) -> tuple[Group, int]:
    name, j = phrase(s, i)
    j = _tag(s, j, b":")
    entries, j = _opt(_group_list, s, j)
    j = _tag(s, j, b";")
    return Group(name, tuple(entries or ())), _ocfws(s, j)


def address(s: bytes, i: int) -> tuple[Address, int]:
    return _alt(s, i, mailbox, group)


def address_list(s: bytes, i: int) -> tuple[list[Address], int]:
    try:
        return _separated_list1(address, s, i)
    except _Fail:
        return _obs_list(address, s, i)


# -- message ids --------------------------------------------------------------


def _no_fold_literal(s: bytes, i: int) -> tuple[bytes, int]:
    j = _tag(s, i, b"[")
    try:
        j = _run(s, j, _DTEXT, "dtext")
    except _Fail:
        pass
    j = _tag(s, j, b"]")
    return s[i:j], j


def _strict_msg_id(s: bytes, i: int) -> tuple[str, int]:
    j = _tag(s, _ocfws(s, i), b"<")
    left, j = _alt(s, j, dot_atom_text, local_part)
    j = _tag(s, j, b"@")
    right, j = _alt(s, j, dot_atom_text, _no_fold_literal, domain)
    j = _tag(s, j, b">")
    return _text(left + b"@" + right), _ocfws(s, j)


def _relaxed_msg_id(s: bytes, i: int) -> tuple[str, int]:
    j = _tag(s, _ocfws(s, i), b"<")
    k = j
    while k < len(s) and s[k] not in b"<>":
        k += 1
    inner = s[j:k]
    k = _tag(s, k, b">")
    return _text(inner), _ocfws(s, k)


def msg_id(s: bytes, i: int) -> tuple[str, int]:
    return _alt(s, i, _strict_msg_id, _relaxed_msg_id)


def msg_id_list(s: bytes, i: int) -> tuple[list[str], int]:
    return _many1(msg_id, s, i)


# -- unstructured -------------------------------------------------------------


def _obs_utext(s: bytes, i: int) -> tuple[bytes, int]:
    k = _char_end(s, i, _OBS_UTEXT)
    if k == i:
        raise _Fail(i, "obs_utext")
    return s[i:k], k


_CRLF = frozenset(b"\r\n")


def unstructured(s: bytes, i: int) -> tuple[bytes, int]:
    words: list[tuple[str, bytes]] = []  # ("enc" | "text" | "fws", bytes)
    n = len(s)
    while i < n:
        j = _take_while(s, i, _CRLF)
        item: tuple[str, bytes] | None = None
        try:
            text, k = encoded_word(s, j)
            item = ("enc", text.encode("utf-8"))
        except _Fail:
            try:
                raw, k = _obs_utext(s, j)
                item = ("text", raw)
            except _Fail:
                pass
        if item is not None:
            k = _take_while(s, k, _CRLF)
        else:
            try:
                _, k = _fws(s, i)
            except _Fail:
                break
            item = ("fws", b" ")
        if k == i:
            break
        i = k
        kind, value = item
        if kind == "enc":
            if len(words) >= 2 and words[-1][0] == "fws" and words[-2][0] == "enc":
                words.pop()
            words.append(item)
        elif kind == "fws":
            if not words or words[-1][0] != "fws":
                words.append(item)
        elif words and words[-1][0] == "text":
            words[-1] = ("text", words[-1][1] + value)
        else:
            words.append(item)
    return b"".join(w for _, w in words), i


# -- running a parser over a whole value --------------------------------------


def parse_with(data: bytes, parser: Callable[[bytes, int], tuple[T, int]]) -> T:
    """Run `parser` over all of `data` (kumod's all_consuming)."""
    try:
        value, end = parser(data, 0)
    except _Fail as e:
        raise HeaderParseError(_explain(data, e.pos, e.context)) from None
    except RecursionError:
        # kumod's recursive parser would overflow its stack; kumopy refuses
        raise HeaderParseError(_explain(data, 0, "comment (nested too deeply)")) from None
    if end != len(data):
        raise HeaderParseError(_explain(data, end, "Eof"))
    return value


def _explain(data: bytes, pos: int, context: str) -> str:
    line_start = data.rfind(b"\n", 0, pos) + 1
    line_no = data.count(b"\n", 0, pos) + 1
    line_end = data.find(b"\n", pos)
    line = data[line_start : line_end if line_end >= 0 else len(data)].rstrip(b"\r")
    col = pos - line_start
    if len(line) > 160:  # show the neighbourhood of a very long line
        start = max(col - 80, 0)
        line = line[start : start + 160]
        col -= start
    shown = line.decode("utf-8", "replace")
    return f"Error at line {line_no}, in {context}:\n{shown}\n{' ' * col}^\n\n"


def parse_mailbox_list(data: bytes) -> list[Mailbox]:
    return parse_with(data, mailbox_list)


def parse_mailbox(data: bytes) -> Mailbox:
    return parse_with(data, mailbox)


def parse_address_list(data: bytes) -> list[Address]:
    return parse_with(data, address_list)


def parse_msg_id(data: bytes) -> str:
    return parse_with(data, msg_id)


def parse_msg_id_list(data: bytes) -> list[str]:
    return parse_with(data, msg_id_list)


def parse_unstructured(data: bytes) -> bytes:
    return parse_with(data, unstructured)


def parse_addr_spec(data: bytes) -> AddrSpec:
    return parse_with(data, addr_spec)
