"""Signature matching with the `file_type` crate's semantics (0.8.11:
`format/regex.rs`, `format/byte_sequence.rs`, `format/signature.rs`).

A signature is a list of byte sequences, all of which must match; a byte
sequence is a position (BOF, EOF or Variable), an optional offset and a
PRONOM-style pattern of tokens.  The crate's matcher is not a regular
expression engine, and these details of it are kept because they change
answers:

* an alternation `(a|b)` commits to its first alternative that matches;
  the tokens after it never make it try the next one;
* `*` (any bytes) tries the rest of the pattern at every index from the
  current one up to, not including, the end of the data;
* `{m-n}` skips m bytes, then tries the rest of the pattern at each of the
  next n indexes (not n - m + 1), and the index it reports on success is
  the sum of the index it tried and the rest's end index (only observable
  after an alternation holding such a token);
* `[a:b]` and `[!a:b]` compare as many bytes as `a` has but advance one;
  where fewer bytes remain the crate indexes past the end of its slice and
  panics (`FileTypePanic` here);
* an EOF sequence starts at `len(data) - (len(pattern text) // 2 +
  offset)`, where the pattern text is the pattern's display form (`{2}` is
  3 characters), or at `len(data)` when that would be negative.

Two speed-ups keep the answers: where the rest of a pattern starts with a
literal, only the indexes where that literal occurs are tried, and the
indexes past the end of the data (which no rest can match) are not.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

__all__ = [
    "ByteSequence",
    "FileTypePanic",
    "Signature",
    "USIZE_MAX",
    "compile_tokens",
    "display",
    "tokens_match_at",
]

USIZE_MAX = 2**64 - 1

# token kinds (the first element of a compiled token tuple)
LITERAL = 0
NOT_LITERAL = 1
RANGE = 2
NOT_RANGE = 3
ANY = 4
ANY_WILDCARD = 5
SINGLE_WILDCARD = 6
WILDCARD_COUNT = 7
WILDCARD_COUNT_RANGE = 8

#: the data file's token names -> kinds
KIND_NAMES = {
    "Literal": LITERAL,
    "NotLiteral": NOT_LITERAL,
    "Range": RANGE,
    "NotRange": NOT_RANGE,
    "Any": ANY,
    "AnyWildcard": ANY_WILDCARD,
    "SingleWildcard": SINGLE_WILDCARD,
    "WildcardCount": WILDCARD_COUNT,
    "WildcardCountRange": WILDCARD_COUNT_RANGE,
}

Token = tuple[Any, ...]
Tokens = tuple[Token, ...]

_FAIL = (False, 0)


class FileTypePanic(Exception):
    """Where the crate's matcher would panic (index out of range)."""


def compile_tokens(raw: Sequence[Any]) -> Tokens:
    """The data file's token lists (`["Literal", "cafebabe"]`, ...) as
    tuples the matcher runs."""
    out: list[Token] = []
    for item in raw:
        kind = KIND_NAMES.get(item[0], -1)
        if kind < 0:
            raise ValueError(f"unknown regex token {item[0]!r}")
        if kind in (LITERAL, NOT_LITERAL):
            out.append((kind, bytes.fromhex(item[1])))
        elif kind in (RANGE, NOT_RANGE):
            out.append((kind, bytes.fromhex(item[1]), bytes.fromhex(item[2])))
        elif kind == ANY:
            out.append((kind, tuple(compile_tokens(alt) for alt in item[1])))
        elif kind == WILDCARD_COUNT:
            out.append((kind, int(item[1])))
        elif kind == WILDCARD_COUNT_RANGE:
            out.append((kind, int(item[1]), USIZE_MAX if item[2] is None else int(item[2])))
        else:
            out.append((kind,))
    return tuple(out)


def display(tokens: Tokens) -> str:
    """The pattern's display form (the crate's `Display for Regex`)."""
    parts = []
    for tok in tokens:
        kind = tok[0]
        if kind == LITERAL:
            parts.append(tok[1].hex().upper())
        elif kind == NOT_LITERAL:
            parts.append(f"[!{tok[1].hex().upper()}]")
        elif kind == RANGE:
            parts.append(f"[{tok[1].hex().upper()}:{tok[2].hex().upper()}]")
        elif kind == NOT_RANGE:
            parts.append(f"[!{tok[1].hex().upper()}:{tok[2].hex().upper()}]")
        elif kind == ANY:
            parts.append("(" + "|".join(display(alt) for alt in tok[1]) + ")")
        elif kind == ANY_WILDCARD:
            parts.append("*")
        elif kind == SINGLE_WILDCARD:
            parts.append("??")
        elif kind == WILDCARD_COUNT:
            parts.append(f"{{{tok[1]}}}")
        else:
            high = "*" if tok[2] == USIZE_MAX else str(tok[2])
            parts.append(f"{{{tok[1]}-{high}}}")
    return "".join(parts)


def _starts(tokens: Tokens, data: bytes, lo: int, hi: int) -> Iterator[int]:
    """The indexes in [lo, hi) where `tokens` can match: every one, or
    where their leading literal occurs."""
    first = tokens[0] if tokens else None
    if first is not None and first[0] == LITERAL and first[1]:
        needle = first[1]
        at = data.find(needle, lo)
        while 0 <= at < hi:
            yield at
            at = data.find(needle, at + 1)
    else:
        yield from range(lo, hi)


def tokens_match_at(tokens: Tokens, data: bytes, start: int) -> tuple[bool, int]:
    """(matched, end index) of `tokens` against `data` from `start`."""
    n = len(data)
    i = start
    count = len(tokens)
    ti = 0
    while ti < count:
        tok = tokens[ti]
        kind = tok[0]
        if kind == LITERAL:
            end = i + len(tok[1])
            if end > n or data[i:end] != tok[1]:
                return _FAIL
            i = end
        elif kind == ANY:
            if i >= n:
                return _FAIL
            for alternative in tok[1]:
                matched, end = tokens_match_at(alternative, data, i)
                if matched:
                    i = end
                    break
            else:
                return _FAIL
        elif kind == ANY_WILDCARD:
            if ti == count - 1:
                return (True, i)
            rest = tokens[ti + 1 :]
            for j in _starts(rest, data, i, n):
                matched, end = tokens_match_at(rest, data, j)
                if matched:
                    return (True, end)
            return _FAIL
        elif kind == NOT_LITERAL:
            end = i + len(tok[1])
            if end > n or data[i:end] == tok[1]:
                return _FAIL
            i = end
        elif kind == RANGE or kind == NOT_RANGE:
            if i >= n:
                return _FAIL
            width = len(tok[1])
            if i + width > n:
                raise FileTypePanic(
                    f"range end index {i + width} out of range for slice of length {n}"
                )
            value = data[i : i + width]
            inside = tok[1] <= value <= tok[2]
            if inside != (kind == RANGE):
                return _FAIL
            i += 1
        elif kind == SINGLE_WILDCARD:
            if i >= n:
                return _FAIL
            i += 1
        elif kind == WILDCARD_COUNT:
            if i + tok[1] > n:
                return _FAIL
            i += tok[1]
        else:  # WILDCARD_COUNT_RANGE
            low, high = tok[1], tok[2]
            if n < i + low:
                return _FAIL
            i += low
            stop = n if high == USIZE_MAX else i + high
            rest = tokens[ti + 1 :]
            # past the end of the data no rest of a pattern matches
            for j in _starts(rest, data, i, min(stop, n + 1)):
                matched, end = tokens_match_at(rest, data, j)
                if matched:
                    return (True, j + end)
            return _FAIL
        ti += 1
    return (True, i)


class ByteSequence:
    """A pattern at a position (the crate's `ByteSequence`)."""

    __slots__ = ("offset", "position", "text_length", "tokens")

    def __init__(self, position: str, offset: int | None, tokens: Tokens) -> None:
        if position not in ("BOF", "EOF", "Variable"):
            raise ValueError(f"unknown position type {position!r}")
        self.position = position
        self.offset = offset or 0
        self.tokens = tokens
        self.text_length = len(display(tokens)) if position == "EOF" else 0

    def is_match(self, data: bytes) -> bool:
        if self.position == "BOF":
            return tokens_match_at(self.tokens, data, self.offset)[0]
        n = len(data)
        if self.position == "EOF":
            back = self.text_length // 2 + self.offset
            start = n - back if back <= n else n
            return tokens_match_at(self.tokens, data, start)[0]
        for j in _starts(self.tokens, data, self.offset, n):
            if tokens_match_at(self.tokens, data, j)[0]:
                return True
        return False


class Signature:
    """Byte sequences that must all match (the crate's `Signature`)."""

    __slots__ = ("sequences",)

    def __init__(self, sequences: Sequence[ByteSequence]) -> None:
        self.sequences = tuple(sequences)

    def is_match(self, data: bytes) -> bool:
        return all(seq.is_match(data) for seq in self.sequences)
