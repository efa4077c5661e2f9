"""Transfer encodings as kumod computes them: quoted-printable (the
quoted_printable crate's text-mode encoder, 76 columns) and base64 (RFC
2045: 76-column lines ending in CRLF, whitespace ignored when decoding,
padding required, trailing bits not checked)."""

from __future__ import annotations

import base64
import binascii

__all__ = ["b64_decode", "b64_encode", "b64_encoded_len", "qp_decode", "qp_encode"]

_LIMIT = 76
_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_B64_IGNORE = frozenset(b" \r\n\t")
_HEX = frozenset(b"0123456789abcdefABCDEF")


def qp_decode(data: bytes) -> bytes:
    """Robust quoted-printable decoding as the quoted_printable crate does
    it: bytes outside tab, CR, LF and 0x20..0x7e dropped, trailing space
    of each line dropped, `=` at a line end joining lines, a bad escape
    kept as written, lines joined with CRLF."""
    text = bytes(c for c in data if c in (9, 10, 13) or 0x20 <= c <= 0x7E)
    out = bytearray()
    lines = text.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
        trailing_newline = True
    else:
        trailing_newline = False
    pending_break = False
    for raw_line in lines:
        line = raw_line[:-1] if raw_line.endswith(b"\r") else raw_line
        line = line.rstrip(b" \t\r\n\x0b\x0c")
        if pending_break:
            out += b"\r\n"
        pending_break = True
        k = 0
        n = len(line)
        while k < n:
            c = line[k]
            if c != 0x3D:
                out.append(c)
                k += 1
                continue
            if k + 1 >= n:  # soft line break
                pending_break = False
                break
            if k + 2 >= n:
                out += line[k : k + 2]
                k += 2
                break
            hi, lo = line[k + 1], line[k + 2]
            if hi in _HEX and lo in _HEX:
                out.append(int(line[k + 1 : k + 3], 16))
            else:
                out += line[k : k + 3]
            k += 3
    if trailing_newline:
        out += b"\r\n"
    return bytes(out)


def _needs_encoding(c: int) -> bool:
    return c == 0x3D or not (c == 0x09 or 0x20 <= c <= 0x7E)


class _QPWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self.on_line = 0
        self.backup = 0

    def append(self, piece: bytes) -> None:
        if self.on_line + len(piece) > _LIMIT:
            if self.on_line == _LIMIT:
                # no room for the soft break's "=": put it before the last thing appended
                self.on_line = len(self.out) - self.backup
                self.out[self.backup : self.backup] = b"=\r\n"
            else:
                self.out += b"=\r\n"
                self.on_line = 0
        self.out += piece
        self.on_line += len(piece)
        self.backup = len(self.out) - len(piece)

    def encode_trailing_space(self) -> None:
        last = self.out[-1:] if self.out else b""
        if last in (b" ", b"\t"):
            self.on_line -= 1
            del self.out[-1]
            self.append(b"=20" if last == b" " else b"=09")

    def encode_byte(self, c: int) -> None:
        if c == 0x3D:
            self.append(b"=3D")
        elif c == 0x09 or 0x20 <= c <= 0x7E:
            self.append(bytes((c,)))
        else:
            self.append(b"=%02X" % c)


def qp_encode(data: bytes) -> bytes:
    """Quoted-printable in text mode: CRLF pairs kept as line breaks, soft
    breaks keep lines within 76 columns, trailing space and tab encoded."""
    w = _QPWriter()
    was_cr = False
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        i += 1
        if was_cr:
            if c == 0x0A:
                w.encode_trailing_space()
                w.out += b"\r\n"
                w.on_line = 0
                was_cr = False
                continue
            w.append(b"=0D")
        if c == 0x0D:
            was_cr = True
            continue
        was_cr = False
        if _LIMIT - w.on_line >= 3 and not _needs_encoding(c):
            run = 1
            max_run = _LIMIT - w.on_line - 2
            w.out.append(c)
            while i < n and run < max_run and not _needs_encoding(data[i]):
                w.out.append(data[i])
                run += 1
                i += 1
            w.on_line += run
            w.backup = len(w.out)
            continue
        w.encode_byte(c)
    if was_cr:
        w.append(b"=0D")
    else:
        w.encode_trailing_space()
    return bytes(w.out)


def b64_encode(data: bytes) -> bytes:
    text = base64.b64encode(data)
    return b"".join(text[k : k + _LIMIT] + b"\r\n" for k in range(0, len(text), _LIMIT))


def b64_encoded_len(n: int) -> int:
    chars = 4 * ((n + 2) // 3)
    return chars + 2 * ((chars + _LIMIT - 1) // _LIMIT)


class Base64Error(ValueError):
    pass


def b64_decode(data: bytes) -> bytes:
    """Decode, ignoring spaces, tabs and line breaks; Base64Error says
    where the input is wrong (kumod's `base64 decode: ...` text)."""
    clean = bytearray()
    positions: list[int] = []
    for pos, c in enumerate(data):
        if c in _B64_IGNORE:
            continue
        clean.append(c)
        positions.append(pos)
    body = bytes(clean).rstrip(b"=")
    pad = len(clean) - len(body)
    for k, c in enumerate(body):
        if c not in _B64_ALPHABET:
            raise _error(data, positions[k], "invalid symbol")
    if len(clean) % 4 or pad > 2:
        at = positions[-1] if positions else 0
        raise _error(data, at, "invalid length")
    try:
        return base64.b64decode(bytes(clean))
    except (binascii.Error, ValueError):
        raise _error(data, positions[-1] if positions else 0, "invalid padding") from None


def _error(data: bytes, pos: int, what: str) -> Base64Error:
    b = chr(data[pos]) if pos < len(data) else ""
    region = data[max(pos - 8, 0) : min(pos + 8, len(data))].decode("utf-8", "replace")
    return Base64Error(f"base64 decode: {what} at {pos} b={b!r} in {region}")
