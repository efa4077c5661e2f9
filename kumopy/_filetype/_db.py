"""kumopy's file type database: where it lives, loading it, and the three
lookups kumod's `kumo.file_type` makes, with the `file_type` crate's
semantics (0.8.11: `file_type.rs`, `file_types.rs`, `format/`).

The data file (written by `kumopy file-type build`, `_build.py`) is JSON
Lines: a header object, then one line per format.  The header:

    {"format": "kumopy-file-type-db/1", "crate": "file_type",
     "version": "0.8.11", "features": [...], "requested_features": [...],
     "formats": N,                                # the number of format lines
     "binary": i, "text": i,                      # from_bytes' fallbacks
     "extensions": {"png": [i, ...]}, "media_types": {...},
     "signatures": {"<u64 key>": [i, ...]}}

where `i` numbers the format lines from 0 and each table keeps the crate's
order (and its duplicates).  A format line:

    [source, id, name, [extension, ...], [media type, ...],
     [[[position, offset, [token, ...]], ...], ...],        # signatures
     [[relationship, id], ...]]                             # related formats

A format line is decoded when a lookup first needs it.

The file is found at `$KUMOPY_FILE_TYPE_DB`, else at
`$XDG_DATA_HOME/kumopy/file_type-0.8.11.jsonl` (`~/.local/share/...` when
XDG_DATA_HOME is unset), read on first use and kept while the file is
unchanged.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .._errors import KumoError
from ._build import CRATE_VERSION, DATA_FORMAT, KUMOD_FEATURES
from ._match import ByteSequence, Signature, compile_tokens

__all__ = [
    "BUILD_COMMAND",
    "ENV_VAR",
    "Database",
    "DatabaseError",
    "FileFormat",
    "database_path",
    "default_path",
    "load",
    "status",
]

ENV_VAR = "KUMOPY_FILE_TYPE_DB"
BUILD_COMMAND = "kumopy file-type build --crate-src DIR"
#: signatures.rs' key for formats with no literal at the start of the file
UNIDENTIFIED_KEY = 0x42
#: format/file_format.rs: SourceType::priority
SOURCE_PRIORITY = {"Default": 0, "Wikidata": 1, "Pronom": 2, "Linguist": 3, "Httpd": 4,
                   "Iana": 5}
#: file_types.rs: is_binary (any control byte but \t \n \r, anywhere); one
#: memchr per byte value beats a regex character class by an order
_CONTROL = tuple(bytes([b]) for b in range(32) if b not in b"\t\n\r")
#: seconds a loaded database is used before the file is looked at again
RECHECK_AFTER = 1.0


class DatabaseError(KumoError):
    """The database is missing, unreadable or built for another file_type."""


def default_path() -> Path:
    return _where(None, os.environ.get("XDG_DATA_HOME"), os.environ.get("HOME"))


def database_path() -> Path:
    """Where kumopy looks for the database now."""
    return _where(os.environ.get(ENV_VAR), os.environ.get("XDG_DATA_HOME"),
                  os.environ.get("HOME"))


@functools.lru_cache(maxsize=16)
def _where(configured: str | None, xdg: str | None, home: str | None) -> Path:
    if configured:
        return Path(configured).expanduser()
    base = xdg or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "kumopy" / f"file_type-{CRATE_VERSION}.jsonl"


def _how_to_build(verb: str = "build it once") -> str:
    return (
        f"{verb} with `{BUILD_COMMAND}`, DIR being the source of the "
        f"file_type {CRATE_VERSION} crate (a cargo registry checkout such as "
        f"~/.cargo/registry/src/*/file_type-{CRATE_VERSION}, or a git checkout of "
        f"theseus-rs/file-type at v{CRATE_VERSION}), or with "
        f"`kumopy file-type build --download`, which fetches it from crates.io"
    )


@dataclass(eq=False)
class FileFormat:
    """One format (the crate's `FileFormat`)."""

    source: str
    id: int
    name: str
    extensions: tuple[str, ...]
    media_types: tuple[str, ...]
    raw_signatures: list[Any]
    related: tuple[tuple[str, int], ...]
    priority: int
    _signatures: tuple[Signature, ...] | None = field(default=None, repr=False)
    _encoded: dict[bytes, Any] | None = field(default=None, repr=False)

    @property
    def signatures(self) -> tuple[Signature, ...]:
        if self._signatures is None:
            self._signatures = tuple(
                Signature([ByteSequence(pos, offset, compile_tokens(tokens))
                           for pos, offset, tokens in sig])
                for sig in self.raw_signatures
            )
        return self._signatures

    def is_match(self, data: bytes) -> bool:
        return any(sig.is_match(data) for sig in self.signatures)

    def as_result(self) -> dict[str, Any]:
        """kumod's result table: `{name=, extensions={...}, media_types={...}}`."""
        return {"name": self.name, "extensions": list(self.extensions),
                "media_types": list(self.media_types)}

    def encoded(self) -> dict[bytes, Any]:
        """`as_result()` with UTF-8 keys and values (made once)."""
        if self._encoded is None:
            self._encoded = {
                b"name": self.name.encode(),
                b"extensions": [e.encode() for e in self.extensions],
                b"media_types": [m.encode() for m in self.media_types],
            }
        return self._encoded


def _compare(a: FileFormat, b: FileFormat) -> int:
    """file_types.rs: cmp_file_types (not a total order)."""
    for relationship, other in a.related:
        if other != b.id:
            continue
        if relationship == "HasLowerPriorityThan":
            return 1
        if relationship == "HasPriorityOver":
            return -1
    for relationship, other in b.related:
        if other != a.id:
            continue
        if relationship == "HasLowerPriorityThan":
            return -1
        if relationship == "HasPriorityOver":
            return 1
    ka, kb = (a.priority, a.id), (b.priority, b.id)
    return (ka > kb) - (ka < kb)


def _insertion_sort(items: list[FileFormat]) -> None:
    """file_types.rs: sort_by (an insertion sort; the order is partial, so
    the algorithm decides the result)."""
    for i in range(1, len(items)):
        j = i
        while j > 0 and _compare(items[j - 1], items[j]) > 0:
            items[j - 1], items[j] = items[j], items[j - 1]
            j -= 1


class Database:
    """The loaded database and its lookups.  Formats are made from their
    records on first use; a damaged record raises DatabaseError then."""

    def __init__(self, data: Any, records: list[bytes], path: Path) -> None:
        self.path = path
        if not isinstance(data, dict) or data.get("format") != DATA_FORMAT:
            raise ValueError(f"its format tag is not {DATA_FORMAT}")
        self.version = data["version"]
        self.features = list(data["features"])
        requested = list(data["requested_features"])
        if self.version != CRATE_VERSION or requested != list(KUMOD_FEATURES):
            raise _Mismatch(
                f"{path} was built from file_type {self.version} with features "
                f"{', '.join(requested) or 'none'} added to the default ones, but kumod uses "
                f"file_type {CRATE_VERSION} with {', '.join(KUMOD_FEATURES)} added: "
                + _how_to_build("rebuild it")
            )
        if data["formats"] != len(records):
            raise ValueError(
                f"it has {len(records)} format lines where its header says {data['formats']}"
            )
        self._records = records
        self._formats: list[FileFormat | None] = [None] * len(records)
        self.extensions = _table(data["extensions"], "extensions")
        self.media_types = _table(data["media_types"], "media_types")
        self.signatures = {int(k): v for k, v in _table(data["signatures"], "signatures").items()}
        self.binary = self.format(data["binary"])
        self.text = self.format(data["text"])

    def __len__(self) -> int:
        return len(self._records)

    def format(self, index: Any) -> FileFormat:
        """The format at `index` of the data file's list."""
        found = self._formats[index] if isinstance(index, int) and 0 <= index < len(
            self._formats) else None
        if found is None:
            found = self._formats[index] = self._make(index)
        return found

    def _make(self, index: Any) -> FileFormat:
        try:
            if not (isinstance(index, int) and 0 <= index < len(self._records)):
                raise ValueError(f"a table names format #{index}, which it does not have")
            source, ident, name, exts, mts, sigs, related = orjson.loads(self._records[index])
            if not (isinstance(name, str) and isinstance(ident, int) and isinstance(sigs, list)
                    and all(isinstance(e, str) for e in (*exts, *mts))):
                raise ValueError(f"format #{index} is malformed")
            if source not in SOURCE_PRIORITY:
                raise ValueError(f"format #{index} has the unknown source {source!r}")
            made = FileFormat(
                source, ident, name, tuple(exts), tuple(mts), sigs,
                tuple((str(r), int(i)) for r, i in related), SOURCE_PRIORITY[source],
            )
            made.signatures  # noqa: B018  (compiled now: a damaged one fails here)
            return made
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as e:
            raise DatabaseError(
                f"kumopy: {self.path} is damaged ({_detail(e)}): "
                + _how_to_build("rebuild it")
            ) from None

    def check(self) -> None:
        """Make every format now (so that a damaged file fails here)."""
        for i in range(len(self._records)):
            self.format(i)

    # -- the three lookups ---------------------------------------------------

    def from_extension(self, extension: str) -> list[FileFormat]:
        """file_type.rs: FileType::from_extension (exact key)."""
        return [self.format(i) for i in self.extensions.get(extension, ())]

    def from_media_type(self, media_type: str) -> list[FileFormat]:
        """file_type.rs: FileType::from_media_type (exact key)."""
        return [self.format(i) for i in self.media_types.get(media_type, ())]

    def from_bytes(self, data: bytes) -> FileFormat:
        """file_types.rs: from_bytes with no extension."""
        key = int.from_bytes(data[:8].ljust(8, b"\0"), "big")
        found = []
        for table_key in (key, UNIDENTIFIED_KEY):
            for i in self.signatures.get(table_key, ()):
                candidate = self.format(i)
                if candidate.is_match(data):
                    found.append(candidate)
        if len(found) > 1:
            _insertion_sort(found)
        if found:
            return found[0]
        if not data or any(c in data for c in _CONTROL):
            return self.binary
        return self.text


def _table(raw: Any, name: str) -> dict[str, list[int]]:
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise ValueError(f"its {name} table is malformed")
    return raw


def _detail(e: BaseException) -> str:
    if isinstance(e, KeyError):
        return f"it has no {e.args[0]!r} entry"
    text = str(e).splitlines()[0] if str(e) else ""
    return text or type(e).__name__


class _Mismatch(ValueError):
    pass


_lock = threading.Lock()
#: path -> (when the file was last looked at, its (mtime, size), the database)
_cache: dict[Path, tuple[float, tuple[int, int], Database]] = {}


def load(path: Path | None = None) -> Database:
    """The database at `path` (default: `database_path()`), read once and
    kept while the file is unchanged (looked at again at most once a
    second); DatabaseError says what is wrong and how to build it."""
    where = path if path is not None else database_path()
    now = time.monotonic()
    cached = _cache.get(where)
    if cached is not None and now - cached[0] < RECHECK_AFTER:
        return cached[2]
    try:
        st = where.stat()
    except OSError:
        named = f"{ENV_VAR} names {where}, which does not exist" if (
            path is None and os.environ.get(ENV_VAR)) else f"there is none at {where}"
        raise DatabaseError(
            f"kumopy: kumo.file_type needs the file_type crate's format database, and "
            f"{named}: {_how_to_build()}"
        ) from None
    stamp = (st.st_mtime_ns, st.st_size)
    with _lock:
        cached = _cache.get(where)
        if cached is not None and cached[1] == stamp:
            _cache[where] = (now, stamp, cached[2])
            return cached[2]
        try:
            lines = where.read_bytes().split(b"\n")
            if lines and not lines[-1]:
                lines.pop()
            db = Database(orjson.loads(lines[0] if lines else b""), lines[1:], where)
        except _Mismatch as e:
            raise DatabaseError(f"kumopy: {e}") from None
        except OSError as e:
            raise DatabaseError(f"kumopy: cannot read {where}: {e.strerror or e}") from None
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as e:
            raise DatabaseError(
                f"kumopy: {where} is not a file_type database kumopy can read "
                f"({_detail(e)}): "
                + _how_to_build("rebuild it")
            ) from None
        _cache[where] = (now, stamp, db)
        return db


def status(path: Path | None = None) -> tuple[Path, Database | None, str]:
    """(where, the database or None, why not) without raising; every
    format of the database is decoded and checked."""
    where = path if path is not None else database_path()
    try:
        db = load(path)
        db.check()
        return where, db, ""
    except DatabaseError as e:
        return where, None, str(e)
