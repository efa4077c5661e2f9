"""Keep the caller's frame in `return string.find(...)` and the like.

kumopy replaces some of Lua's C functions with Lua functions (the pattern
functions route runaway matches away from the C matcher; setmetatable,
load, os.exit and friends guard the runtime).  A C function called as
`return f(...)` keeps its caller's frame, so Lua reports its errors at the
caller's line; a Lua function called that way replaces the caller's frame
(a proper tail call), and the line is lost.  So that a policy's errors read
as they do in kumod (`init.lua:12: malformed pattern ...`), kumopy compiles
such calls as ordinary calls: in the bytecode of every chunk it loads, a
TAILCALL whose function was just fetched by one of those names becomes a
CALL (all results), which the RETURN the compiler always emits after it
passes back unchanged.  Nothing else changes: other tail calls (a policy's
own tail recursion) stay tail calls.

The dump format and opcodes are Lua 5.4's (lundump.c, lopcodes.h);
`patch` returns None when the dump is not what it expects.
"""

from __future__ import annotations

import struct

__all__ = ["NAMES", "patch"]

#: functions kumopy implements in Lua that a policy may call in tail position
NAMES = frozenset(
    {b"find", b"match", b"gmatch", b"gsub", b"dump", b"setmetatable", b"exit", b"load",
     b"loadfile", b"dofile", b"error", b"pcall", b"xpcall", b"resume", b"close", b"print",
     b"collectgarbage", b"popen", b"traceback"}
)

_HEADER = b"\x1bLua\x54\x00\x19\x93\r\n\x1a\n"
_HEADER_SIZE = len(_HEADER) + 3 + 8 + 8

_OP_GETTABUP, _OP_GETFIELD, _OP_SELF, _OP_CALL, _OP_TAILCALL = 11, 14, 20, 68, 69
# opcodes whose A is not a register they write: SETUPVAL, SETTABUP,
# SETTABLE, SETI, SETFIELD, MMBIN*, CLOSE, TBC, JMP, the comparisons and
# TEST, TAILCALL, the RETURNs, TFORPREP, SETLIST, VARARGPREP, EXTRAARG
_NO_WRITE = frozenset(
    {10, 15, 16, 17, 18, 46, 47, 48, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66,
     69, 70, 71, 72, 75, 78, 81, 82}
)

_NIL, _FALSE, _TRUE, _INT, _FLT, _SHRSTR, _LNGSTR = 0x00, 0x01, 0x11, 0x03, 0x13, 0x04, 0x14


class _Bad(Exception):
    pass


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytearray) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise _Bad
        b = self.data[self.pos]
        self.pos += 1
        return b

    def unsigned(self) -> int:
        x = 0
        while True:
            b = self.byte()
            x = (x << 7) | (b & 0x7F)
            if b & 0x80:
                return x

    def skip(self, n: int) -> None:
        if self.pos + n > len(self.data):
            raise _Bad
        self.pos += n

    def string(self) -> bytes | None:
        size = self.unsigned()
        if size == 0:
            return None
        start = self.pos
        self.skip(size - 1)
        return bytes(self.data[start : self.pos])


def _function(r: _Reader) -> int:
    """Read one function prototype, patching its tail calls in place;
    returns how many it patched."""
    r.string()  # source
    r.unsigned()  # linedefined
    r.unsigned()  # lastlinedefined
    r.skip(3)  # numparams, is_vararg, maxstacksize
    ncode = r.unsigned()
    code_at = r.pos
    r.skip(4 * ncode)
    constants: list[bytes | None] = []
    for _ in range(r.unsigned()):
        tag = r.byte()
        if tag in (_SHRSTR, _LNGSTR):
            constants.append(r.string())
        elif tag in (_INT, _FLT):
            r.skip(8)
            constants.append(None)
        elif tag in (_NIL, _FALSE, _TRUE):
            constants.append(None)
        else:
            raise _Bad
    r.skip(3 * r.unsigned())  # upvalues
    patched = sum(_function(r) for _ in range(r.unsigned()))
    # debug information
    r.skip(r.unsigned())  # lineinfo
    for _ in range(r.unsigned()):  # abslineinfo
        r.unsigned()
        r.unsigned()
    for _ in range(r.unsigned()):  # locvars
        r.string()
        r.unsigned()
        r.unsigned()
    for _ in range(r.unsigned()):  # upvalue names
        r.string()
    return patched + _patch_code(r.data, code_at, ncode, constants)


def _patch_code(data: bytearray, at: int, n: int, constants: list[bytes | None]) -> int:
    code = list(struct.unpack_from(f"<{n}I", data, at))
    patched = 0
    for pc, ins in enumerate(code):
        if ins & 0x7F != _OP_TAILCALL:
            continue
        a = (ins >> 7) & 0xFF
        if not _fetches_name(code, pc, a, constants):
            continue
        b = (ins >> 16) & 0xFF
        # CALL A B C=0 (all results), k cleared
        code[pc] = _OP_CALL | (a << 7) | (b << 16)
        patched += 1
    if patched:
        struct.pack_into(f"<{n}I", data, at, *code)
    return patched


def _fetches_name(code: list[int], pc: int, a: int, constants: list[bytes | None]) -> bool:
    """Whether the last instruction before `pc` that wrote R[a] fetched one
    of NAMES (a field, a global, or a method)."""
    for i in range(pc - 1, max(pc - 64, -1), -1):
        ins = code[i]
        op = ins & 0x7F
        if (ins >> 7) & 0xFF != a or op in _NO_WRITE:
            continue
        c = ins >> 24
        if op in (_OP_GETFIELD, _OP_GETTABUP):
            return c < len(constants) and constants[c] in NAMES
        if op == _OP_SELF:
            is_constant = (ins >> 15) & 1
            return bool(is_constant) and c < len(constants) and constants[c] in NAMES
        return False
    return False


def patch(dump: bytes) -> bytes | None:
    """The dump with those tail calls made ordinary calls, or None when
    there is nothing to patch (or the dump is not Lua 5.4's)."""
    if not dump.startswith(_HEADER):
        return None
    data = bytearray(dump)
    r = _Reader(data)
    r.pos = _HEADER_SIZE + 1  # header, then the main closure's upvalue count
    try:
        patched = _function(r)
    except (_Bad, struct.error):
        return None
    if r.pos != len(data) or not patched:
        return None
    return bytes(data)
