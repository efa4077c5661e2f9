"""Executable lines of a Lua 5.4 source file, read from its bytecode.

The line hook reports a line when the interpreter starts executing an
instruction that belongs to it, so the lines a file *can* report are
exactly the lines its compiled functions have instructions on.  Lua keeps
that mapping in the debug information of every function prototype;
`string.dump` writes it out, and this module reads it back (the layout is
the one `lundump.c` of Lua 5.4 reads).  The `debug` library cannot give the
same answer without running the code: `activelines` needs a closure, and
nested functions only exist as closures once their enclosing code ran.
"""

from __future__ import annotations

import re
import struct
from functools import lru_cache
from typing import Any

from lupa import lua54

__all__ = ["BytecodeError", "executable_lines", "instruction_lines"]

_SIGNATURE = b"\x1bLua"
_VERSION = 0x54
_ABSLINEINFO = -0x80

# Constant type tags in a Lua 5.4 dump (lobject.h: makevariant(type, variant)).
_NIL, _FALSE, _TRUE = 0x00, 0x01, 0x11
_INT, _FLT = 0x03, 0x13
_SHRSTR, _LNGSTR = 0x04, 0x14

# Lines whose only tokens close something (`end`, `else`, `}`, `)` and
# separators) carry at most a function's implicit final return, the closure
# of a function, or the jump at the end of a `then` block; counting them
# would mark well-tested code as missed, so coverage tools leave them out.
# (A line that ends a long string, `]]`, does count: Lua puts the
# instruction that loads the string there.)
_CLOSER_ONLY = re.compile(r"^\s*(?:end|else|[)}])(?:\s*(?:end\b|[)},;]))*\s*(?:--.*)?$")


class BytecodeError(ValueError):
    """The dump is not Lua 5.4 bytecode this reader understands."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise BytecodeError("truncated bytecode")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise BytecodeError("truncated bytecode")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self) -> int:
        # big-endian groups of 7 bits; the last byte has its high bit set
        value = 0
        while True:
            b = self.byte()
            value = (value << 7) | (b & 0x7F)
            if b & 0x80:
                return value

    def string(self) -> bytes | None:
        size = self.varint()
        if size == 0:
            return None
        return self.take(size - 1)


def _read_header(r: _Reader) -> tuple[int, int, int]:
    if r.take(4) != _SIGNATURE:
        raise BytecodeError("not a Lua binary chunk")
    if r.byte() != _VERSION or r.byte() != 0:
        raise BytecodeError("not Lua 5.4 bytecode")
    r.take(6)  # LUAC_DATA
    isize, intsize, numsize = r.byte(), r.byte(), r.byte()
    r.take(intsize)  # LUAC_INT
    r.take(numsize)  # LUAC_NUM
    r.byte()  # number of upvalues of the main function
    return isize, intsize, numsize


def _read_function(r: _Reader, sizes: tuple[int, int, int], lines: set[int]) -> None:
    isize, intsize, numsize = sizes
    r.string()  # source
    linedefined = r.varint()
    r.varint()  # lastlinedefined
    r.byte()  # numparams
    is_vararg = r.byte()
    r.byte()  # maxstacksize
    ncode = r.varint()
    r.take(ncode * isize)
    for _ in range(r.varint()):  # constants
        tag = r.byte()
        if tag in (_NIL, _FALSE, _TRUE):
            continue
        if tag == _INT:
            r.take(intsize)
        elif tag == _FLT:
            r.take(numsize)
        elif tag in (_SHRSTR, _LNGSTR):
            r.string()
        else:
            raise BytecodeError(f"unknown constant tag {tag:#x}")
    r.take(r.varint() * 3)  # upvalue descriptions
    for _ in range(r.varint()):  # nested prototypes
        _read_function(r, sizes, lines)
    # debug information: a line delta per instruction, absolute anchors
    nline = r.varint()
    deltas = struct.unpack(f"{nline}b", r.take(nline))
    anchors: dict[int, int] = {}
    for _ in range(r.varint()):
        pc = r.varint()
        anchors[pc] = r.varint()
    for _ in range(r.varint()):  # local variables
        r.string()
        r.varint()
        r.varint()
    for _ in range(r.varint()):  # upvalue names
        r.string()
    line = linedefined
    for pc, delta in enumerate(deltas):
        line = anchors[pc] if delta == _ABSLINEINFO else line + delta
        # a vararg function's first instruction (VARARGPREP) does not count,
        # as in Lua's own `activelines`
        if pc == 0 and is_vararg:
            continue
        lines.add(line)


def instruction_lines(bytecode: bytes) -> set[int]:
    """Every line that has at least one instruction, over all functions."""
    r = _Reader(bytecode)
    sizes = _read_header(r)
    lines: set[int] = set()
    _read_function(r, sizes, lines)
    return lines


_runtime: Any = None


def _dump(source: bytes, name: bytes) -> bytes | None:
    global _runtime
    if _runtime is None:
        rt = lua54.LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
        _runtime = rt.execute(
            b"return function(src, name)"
            b"  local f = load(src, name, 't')"
            b"  return f and string.dump(f) or nil "
            b"end"
        )
    dumped = _runtime(source, name)
    return dumped if isinstance(dumped, bytes) else None


@lru_cache(maxsize=256)
def executable_lines(source: bytes) -> frozenset[int]:
    """The lines of a Lua source text that coverage counts: lines with
    instructions, except lines made only of closing tokens.  Empty when the
    text does not compile."""
    dumped = _dump(source, b"=coverage")
    if dumped is None:
        return frozenset()
    try:
        lines = instruction_lines(dumped)
    except BytecodeError:
        return frozenset()
    text = source.decode("utf-8", "surrogateescape").splitlines()
    return frozenset(
        n for n in lines if 1 <= n <= len(text) and not _CLOSER_ONLY.match(text[n - 1])
    )
