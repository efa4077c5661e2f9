"""`kumo.fs.*`, `kumo.glob`, `kumo.uncached_glob` and `kumo.read_dir`
(kumod: crates/mod-filesystem), through the Policy's path map.

Paths are the paths the policy names: a policy that globs
`/opt/kumomta/etc/dkim/*.key` with `path_map={"/opt/kumomta/etc": tmp}`
walks `tmp/dkim` and gets back `/opt/kumomta/etc/dkim/....key`.

* `glob(pattern [, relative_to [, ttl_seconds]])`: the matching paths,
  sorted; `*`, `?`, `[...]`, `**` and `{a,b}` alternatives; a missing
  directory gives no results; results under `relative_to` (default `.`)
  have that prefix removed.  Results are cached for `ttl_seconds`
  (default 60) on the Policy clock, as kumod caches them.
* `read_dir(path)`: the entries of a directory as `path/name`, sorted
  (kumod: directory order).
* `metadata_for_path(path)`, `symlink_metadata_for_path(path)`: is_file,
  is_dir, is_symlink, len, readonly, dev, ino, mode, nlink, uid, gid,
  rdev, size, atime, mtime, ctime (Time objects), blksize, blocks.
* `fs.open(path [, mode])`: a handle with `read([n])`, `write(s)`,
  `seek([whence] [, offset])`, `flush()`, `close()`; kumod's modes (`w`
  does not truncate, `w+` does).  Buffered as kumod's tokio BufStream:
  writes become visible to other readers only after flush, seek or close.
"""

from __future__ import annotations

import glob as _glob
import os
import stat
from typing import TYPE_CHECKING, Any, ClassVar

from .._errors import KumoError
from ._args import ArgConversionError
from ._lib import LibObject, enable_operators, rust_string

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["register"]

_MAGIC = set("*?[{")


def _os_error(e: OSError) -> KumoError:
    if e.strerror:
        return KumoError(f"{e.strerror} (os error {e.errno})")
    return KumoError(str(e))


def expand_braces(pattern: str) -> list[str]:
    """A glob pattern's `{a,b}` alternatives (nested ones too) spelled out,
    as filenamegen (kumod's glob, here and for the config monitor) reads them."""
    start = pattern.find("{")
    if start == -1:
        return [pattern]
    depth = 0
    for i in range(start, len(pattern)):
        if pattern[i] == "{":
            depth += 1
        elif pattern[i] == "}":
            depth -= 1
            if depth == 0:
                inner = pattern[start + 1 : i]
                parts, level, cur = [], 0, ""
                for c in inner:
                    if c == "," and level == 0:
                        parts.append(cur)
                        cur = ""
                        continue
                    level += c == "{"
                    level -= c == "}"
                    cur += c
                parts.append(cur)
                out = []
                for p in parts:
                    out.extend(expand_braces(pattern[:start] + p + pattern[i + 1 :]))
                return out
    return [pattern]


def glob_paths(state: LuaState, pattern: str, relative_to: str | None) -> list[str]:
    base = relative_to if relative_to is not None else "."
    full = pattern if os.path.isabs(pattern) else os.path.join(base, pattern)
    found: set[str] = set()
    for one in expand_braces(full):
        parts = one.split("/")
        literal: list[str] = []
        for part in parts[:-1]:
            if _MAGIC & set(part):
                break
            literal.append(part)
        prefix = "/".join(literal) or ("/" if one.startswith("/") else ".")
        rest = one[len("/".join(literal)) :].lstrip("/") if literal else one
        real_prefix = state.process.map_path(prefix)
        walker = _Walker(state)
        for hit in walker.glob(_glob.escape(real_prefix), rest):
            rel = os.path.relpath(hit, real_prefix)
            found.add(os.path.normpath(os.path.join(prefix, rel)) if prefix != "." else rel)
    out = []
    strip = base.rstrip("/") + "/"
    for path in sorted(found):
        if base == "." and not path.startswith("/"):
            out.append(path)
        elif path.startswith(strip):
            out.append(path[len(strip) :])
        else:
            out.append(path)
    return out


#: how many directory entries one glob may look at
GLOB_MAX_ENTRIES = 1_000_000


class _Walker:
    """Python's glob, except that `**` does not descend into symbolic links
    to directories (as filenamegen's walk does not: a link back to a parent
    directory made Python's glob run for ever) and that one call looks at
    no more than GLOB_MAX_ENTRIES entries, checking the CPU budget as it
    goes."""

    def __init__(self, state: LuaState) -> None:
        self.state = state
        self.seen = 0

    def _count(self, n: int = 1) -> None:
        self.seen += n
        if self.seen > GLOB_MAX_ENTRIES:
            raise KumoError(
                f"glob: more than {GLOB_MAX_ENTRIES} directory entries to look at; "
                "narrow the pattern"
            )
        if self.seen % 1024 < n:
            self.state.check_deadline()

    def glob(self, root: str, rest: str) -> list[str]:
        """Paths under `root` (already escaped) matching `rest`."""
        parts = rest.split("/")
        if "**" not in parts:
            found = _glob.glob(os.path.join(root, rest))
            self._count(len(found))
            return found
        i = parts.index("**")
        head, tail = "/".join(parts[:i]), parts[i + 1 :]
        bases = [root] if not head else _glob.glob(os.path.join(root, head))
        out: list[str] = []
        for base in bases:
            real_base = base if head else _unescape(base)
            if not os.path.isdir(real_base):
                continue
            for directory in self._tree(real_base):
                if tail:
                    out.extend(self.glob(_glob.escape(directory), "/".join(tail)))
                else:
                    out.append(directory)
                    entries = self._entries(directory)
                    out.extend(
                        os.path.join(directory, e.name)
                        for e in entries
                        if not _hidden(e.name) and not e.is_dir(follow_symlinks=False)
                    )
        return out

    def _entries(self, directory: str) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            return []
        self._count(len(entries) + 1)
        return entries

    def _tree(self, top: str) -> list[str]:
        """`top` and every directory below it, not through symbolic links
        and not into hidden directories (as Python's `**` does)."""
        out = [top]
        stack = [top]
        while stack:
            directory = stack.pop()
            for entry in self._entries(directory):
                if not _hidden(entry.name) and entry.is_dir(follow_symlinks=False):
                    path = os.path.join(directory, entry.name)
                    out.append(path)
                    stack.append(path)
        return out


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _unescape(path: str) -> str:
    """The inverse of glob.escape."""
    return path.replace("[*]", "*").replace("[?]", "?").replace("[[]", "[")


def _glob_impl(cached: bool) -> Any:
    def impl(state: LuaState, pattern: Any = None, path: Any = None, ttl: Any = None) -> Any:
        pat = rust_string(pattern)
        rel = None if path is None else rust_string(path)
        if not cached:
            return state.to_lua(glob_paths(state, pat, rel))
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float)):
            raise ArgConversionError(ttl, "f32")
        cache: dict[tuple[str, str | None], tuple[float, list[str]]] = state.process.service(
            "fs.glob", dict
        )
        now = state.process.clock.now()
        hit = cache.get((pat, rel))
        if hit is not None and hit[0] > now:
            return state.to_lua(hit[1])
        result = glob_paths(state, pat, rel)
        cache[(pat, rel)] = (now + float(60 if ttl is None else ttl), result)
        return state.to_lua(result)

    return impl


def _read_dir(state: LuaState, path: Any = None) -> Any:
    p = rust_string(path)
    real = state.process.map_path(p)
    try:
        names = sorted(os.listdir(real))
    except OSError as e:
        raise _os_error(e) from None
    return state.to_lua([os.path.join(p, n) for n in names])


class Metadata(LibObject):
    lua_type_name = "MetadataWrapper"

    def __init__(self, st: os.stat_result, is_symlink: bool) -> None:
        self.st = st
        self.symlink = is_symlink

    def field(self, state: LuaState, name: str) -> Any:
        st = self.st
        simple = {
            "is_file": stat.S_ISREG(st.st_mode),
            "is_dir": stat.S_ISDIR(st.st_mode),
            "is_symlink": self.symlink,
            "len": st.st_size,
            "size": st.st_size,
            "readonly": not (st.st_mode & 0o222),
            "dev": st.st_dev,
            "ino": st.st_ino,
            "mode": st.st_mode,
            "nlink": st.st_nlink,
            "uid": st.st_uid,
            "gid": st.st_gid,
            "rdev": st.st_rdev,
            "blksize": st.st_blksize,
            "blocks": st.st_blocks,
        }
        if name in simple:
            return simple[name]
        if name in ("atime", "mtime", "ctime"):
            from .time import Time

            enable_operators(state)
            return Time(getattr(st, f"st_{name}_ns"))
        raise AttributeError(name)


def _metadata(follow: bool) -> Any:
    def impl(state: LuaState, path: Any = None) -> Metadata:
        p = rust_string(path)
        real = state.process.map_path(p)
        try:
            st = os.stat(real) if follow else os.lstat(real)
        except OSError as e:
            raise _os_error(e) from None
        return Metadata(st, stat.S_ISLNK(st.st_mode))

    return impl


_MODES = {
    "r": (os.O_RDONLY, "rb"),
    "w": (os.O_WRONLY | os.O_CREAT, "wb"),
    "a": (os.O_WRONLY | os.O_APPEND | os.O_CREAT, "ab"),
    "r+": (os.O_RDWR | os.O_CREAT, "r+b"),
    "w+": (os.O_RDWR | os.O_TRUNC | os.O_CREAT, "r+b"),
    "a+": (os.O_RDWR | os.O_APPEND | os.O_CREAT, "a+b"),
}


_BUF = 8192  # tokio's BufStream: an 8 KiB read buffer over an 8 KiB write buffer


class AsyncFile(LibObject):
    """kumod's file handle (read, write, seek, flush, close): a tokio
    BufStream over the file, modelled buffer for buffer.

    Writes collect in an 8 KiB buffer that reaches the file on flush, seek,
    close, or when it fills (a write of 8 KiB or more goes straight
    through).  Reads are served from an 8 KiB read-ahead buffer, refilled
    from the file's position (pending writes are not flushed first, as in
    tokio); `read(n)` returns at most what one such read gives.  Seeking
    flushes pending writes and drops the read-ahead."""

    lua_type_name = "AsyncFile"

    def __init__(self, f: Any) -> None:
        self.f = f
        self.wbuf = bytearray()
        self.rbuf = b""
        self.rpos = 0

    def _file(self, what: str = "flush") -> Any:
        if self.f is None:
            raise KumoError(f"attempt to {what} a closed file handle")
        return self.f

    def _flush_writes(self) -> None:
        if self.wbuf:
            data = bytes(self.wbuf)
            self.wbuf.clear()
            self.f.write(data)

    def _read_some(self, n: int) -> bytes:
        if self.rpos >= len(self.rbuf) and n >= _BUF:
            return bytes(self.f.read(n))
        if self.rpos >= len(self.rbuf):
            self.rbuf = bytes(self.f.read(_BUF))
            self.rpos = 0
        chunk = self.rbuf[self.rpos : self.rpos + n]
        self.rpos += len(chunk)
        return chunk

    def read(self, state: LuaState, n: Any = None) -> bytes:
        self._file()
        try:
            if n is None:
                out = bytearray(self.rbuf[self.rpos :])
                self.rbuf, self.rpos = b"", 0
                while True:
                    state.check_deadline()
                    chunk = self.f.read(1 << 16)
                    if not chunk:
                        return bytes(out)
                    state.check_alloc(len(out) + len(chunk), "AsyncFile:read")
                    out += chunk
            from ._lib import usize_arg

            count = usize_arg(n)
            state.check_alloc(min(count, _BUF), "AsyncFile:read")
            return self._read_some(count) if count else b""
        except OSError as e:
            raise _os_error(e) from None

    def write(self, state: LuaState, data: Any = None) -> None:
        from ._lib import bytes_arg

        self._file()
        payload = bytes_arg(data)
        try:
            if len(self.wbuf) + len(payload) > _BUF:
                self._flush_writes()
            if len(payload) >= _BUF:
                self.f.write(payload)
            else:
                self.wbuf += payload
        except OSError as e:
            raise _os_error(e) from None

    def seek(self, state: LuaState, *params: Any) -> int:
        offset: int | None = None
        whence: str | None = None
        for p in params:
            if isinstance(p, bytes):
                if whence is not None:
                    raise KumoError("whence already set")
                if p not in (b"set", b"cur", b"end"):
                    raise KumoError("invalid whence/offset parameters to seek")
                whence = p.decode()
            elif isinstance(p, int) and not isinstance(p, bool):
                if offset is not None:
                    raise KumoError("offset already set")
                offset = p
            else:
                raise KumoError("invalid whence/offset parameters to seek")
        off = offset or 0
        how = {"set": os.SEEK_SET, "cur": os.SEEK_CUR, "end": os.SEEK_END}[whence or "cur"]
        if how == os.SEEK_SET and off < 0:
            raise KumoError(f"start-relative offset {off} is out of range")
        f = self._file("seek")
        try:
            if how == os.SEEK_CUR:
                # relative to the position the policy sees, not the read-ahead's
                off -= len(self.rbuf) - self.rpos
            self.rbuf, self.rpos = b"", 0
            self._flush_writes()
            return int(f.seek(off, how))
        except OSError as e:
            raise _os_error(e) from None

    def flush(self, state: LuaState, *_: Any) -> None:
        self._file()
        try:
            self._flush_writes()
        except OSError as e:
            raise _os_error(e) from None

    def close(self, state: LuaState, *_: Any) -> None:
        if self.f is not None:
            f, self.f = self.f, None
            try:
                if self.wbuf:
                    f.write(bytes(self.wbuf))
                    self.wbuf.clear()
            except OSError as e:
                raise _os_error(e) from None
            finally:
                f.close()

    def __del__(self) -> None:
        # a handle the policy never closed: kumod's drop does not flush a
        # BufStream, and neither does this
        f = getattr(self, "f", None)
        if f is not None:
            f.close()

    methods: ClassVar[dict[str, Any]] = {
        "read": read,
        "write": write,
        "seek": seek,
        "flush": flush,
        "close": close,
    }


def _open(state: LuaState, filename: Any = None, mode: Any = None) -> AsyncFile:
    name = rust_string(filename)
    m = "r" if mode is None else rust_string(mode)
    key = m[:-1] if m.endswith("b") and m not in ("b",) else m
    if key not in _MODES:
        raise KumoError(f"unsupported file mode `{m}`")
    flags, fmode = _MODES[key]
    real = state.process.map_path(name)
    try:
        fd = os.open(real, flags, 0o644)
    except OSError as e:
        detail = f"{e.strerror} (os error {e.errno})" if e.strerror else str(e)
        raise KumoError(f"failed to open {name} with mode {m}: {detail}") from None
    return AsyncFile(os.fdopen(fd, fmode, buffering=0))


def register(kumo: Namespace) -> None:
    mapped = "through the Policy path map; "
    for prefix in ("", "fs."):
        kumo.function(
            f"{prefix}glob",
            _glob_impl(True),
            notes=mapped + "sorted; cached for ttl_seconds on the Policy clock",
        )
        kumo.function(f"{prefix}uncached_glob", _glob_impl(False), notes=mapped + "sorted")
        kumo.function(f"{prefix}read_dir", _read_dir, notes=mapped + "entries sorted")
    kumo.function(
        "fs.open",
        _open,
        notes=mapped + "buffered as kumod's 8 KiB BufStream: writes reach the file on "
        "flush, seek or close",
    )
    kumo.function("fs.metadata_for_path", _metadata(True), notes=mapped.rstrip("; "))
    kumo.function("fs.symlink_metadata_for_path", _metadata(False), notes=mapped.rstrip("; "))
