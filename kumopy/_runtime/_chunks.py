"""kumopy's own Lua chunks, which binary chunks a Lua state may load, and
reading the policy file.

kumopy's Lua runtime is the chunks `RUNTIME_CHUNKS` (kumopy/_runtime/*.lua),
run in that order in every new state, all under the one chunk name
`RUNTIME_NAME`: the runtime tells its own frames from the policy's by that
name (sandbox.lua, "Levels"), and reports leave out the frames it names
(`[kumopy]:` in a traceback, see _report and testing/_report).

Lua 5.4 does not verify bytecode: loading a binary chunk with one byte
changed can crash the process.  kumopy's loaders therefore accept Lua source
only, plus the one kind of binary chunk that is known to be sound: the
unchanged output of `string.dump` in this process (policies use
`load(string.dump(f))` to copy a function).  `trust` records a digest of every
dump; `is_trusted` answers whether a chunk is one of them.

The policy file itself is read as kumod reads it: as UTF-8 text
(`std::fs::read_to_string`), so a file that is not valid UTF-8 (a binary
chunk among them) fails with kumod's wording before Lua sees it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from importlib import resources

__all__ = [
    "RUNTIME_CHUNKS",
    "RUNTIME_NAME",
    "is_trusted",
    "policy_source_problem",
    "runtime_source",
    "trust",
]

#: sandbox.lua returns the host's `api` table; each chunk after it but the
#: last is called with (host, api); patterns.lua with its own arguments
RUNTIME_CHUNKS = (
    "sandbox.lua",
    "calls.lua",
    "standins.lua",
    "osio.lua",
    "module.lua",
    "loaders.lua",
    "patterns.lua",
)
RUNTIME_NAME = b"=[kumopy]"

#: how many string.dump results are remembered (most recent first)
MAX_TRUSTED = 4096

_lock = threading.Lock()
_trusted: OrderedDict[bytes, None] = OrderedDict()


def runtime_source(name: str) -> bytes:
    """The source of one of the runtime's chunks."""
    return resources.files(__package__).joinpath(name).read_bytes()


def _digest(chunk: bytes) -> bytes:
    return hashlib.blake2b(chunk, digest_size=20).digest()


def trust(chunk: bytes) -> None:
    """Remember `chunk` (a string.dump result) as loadable."""
    key = _digest(chunk)
    with _lock:
        _trusted[key] = None
        _trusted.move_to_end(key)
        while len(_trusted) > MAX_TRUSTED:
            _trusted.popitem(last=False)


def is_trusted(chunk: bytes) -> bool:
    """Whether `chunk` is, byte for byte, a string.dump result seen here."""
    key = _digest(chunk)
    with _lock:
        return key in _trusted


def policy_source_problem(data: bytes) -> str | None:
    """None when `data` is valid UTF-8 (what kumod requires of a policy
    file), else the reason it is not, for the error message."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        what = "a Lua binary chunk is not accepted" if data[:1] == b"\x1b" else (
            f"first invalid byte 0x{data[e.start]:02x} on line {line}"
        )
        return f"stream did not contain valid UTF-8 ({what})"
    return None
