"""How kumod writes a header value it makes: kumo-wrap's folding
(`wrap_impl`) and mailparsing's `Header::new_unstructured` (ASCII text
folded, UTF-8 text as RFC 2047 encoded words)."""

from __future__ import annotations

from ._mimeparams import qp_encode_header

__all__ = ["HARD_WIDTH", "SOFT_WIDTH", "encode_unstructured", "wrap"]

SOFT_WIDTH = 75
HARD_WIDTH = 900
#: what Rust's `u8::is_ascii_whitespace` accepts (no vertical tab)
_ASCII_WS = b" \t\n\x0c\r"


def wrap(value: bytes, soft: int = SOFT_WIDTH, hard: int = HARD_WIDTH) -> bytes:
    """kumo-wrap: fill lines with words up to `soft` bytes, let a longer
    word overflow but cut it every `hard` bytes; words are split at ASCII
    white space and continuation lines start with a tab."""
    result = bytearray()
    line = bytearray()

    def flush() -> None:
        if result:
            result.extend(b"\t")
        result.extend(line)
        result.extend(b"\r\n")
        line.clear()

    start = 0
    n = len(value)
    while start <= n:
        end = start
        while end < n and value[end] not in _ASCII_WS:
            end += 1
        word = value[start:end]
        start = end + 1
        if not word:
            continue
        if len(line) + len(word) < soft:
            if line:
                line.extend(b" ")
            line.extend(word)
            continue
        if line:
            flush()
        if len(word) <= hard:
            line.extend(word)
        else:
            for c in word:
                line.append(c)
                if len(line) >= hard:
                    flush()
    if line:
        if result:
            result.extend(b"\t")
        result.extend(line)
    return bytes(result)


def encode_unstructured(value: bytes) -> bytes:
    """kumod's Header::new_unstructured for a value: ASCII folded by
    `wrap`, UTF-8 text as `q` encoded words, other bytes folded as they
    are."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return wrap(value)
    return wrap(value) if text.isascii() else qp_encode_header(value)
