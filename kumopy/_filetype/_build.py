"""Build kumopy's file type database from the `file_type` crate's source.

kumod answers `kumo.file_type.*` from the Rust crate `file_type` (0.8.11,
with its default features plus `httpd` and `iana`: KumoMTA's
crates/mod-file-type/Cargo.toml).  The crate's database is generated Rust
source, which kumopy does not ship; an operator who has the crate's source
(a cargo registry checkout such as
`~/.cargo/registry/src/*/file_type-0.8.11/`, or a git checkout of
theseus-rs/file-type at v0.8.11) converts it once with
`kumopy file-type build --crate-src DIR`.

The conversion reads what decides the answers, as rustc would compile it
with kumod's features:

* `src/extensions.rs`, `src/media_types.rs`, `src/signatures.rs`: the
  lookup tables (key -> formats, in the crate's order, duplicates kept),
  leaving out the elements whose `#[cfg(feature = ...)]` is false;
* `src/sources/<source>/*.rs`: the formats those tables name (id, source,
  name, extensions, media types, signatures, related formats);
* `src/sources/default/`: the "Binary" and "Text" formats `from_bytes`
  falls back to.

The result is one JSON Lines file (see `_db.py` for its shape).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from ._match import KIND_NAMES, USIZE_MAX
from ._rustsrc import Call, PathRef, RustSyntaxError, Struct, const_items

__all__ = [
    "CRATE_VERSION",
    "DATA_FORMAT",
    "KUMOD_FEATURES",
    "BuildError",
    "build",
    "enabled_features",
    "find_crate",
]

#: the file_type version kumod locks (KumoMTA's Cargo.lock)
CRATE_VERSION = "0.8.11"
#: the features crates/mod-file-type asks for (default features stay on)
KUMOD_FEATURES = ("httpd", "iana")
#: the data file's format tag
DATA_FORMAT = "kumopy-file-type-db/1"

SOURCE_TYPES = ("Default", "Httpd", "Iana", "Linguist", "Pronom", "Wikidata")
POSITION_TYPES = ("BOF", "EOF", "Variable")
RELATIONSHIP_TYPES = (
    "CanContain",
    "CanBeContainedBy",
    "EquivalentTo",
    "HasPriorityOver",
    "HasLowerPriorityThan",
    "IsPreviousVersionOf",
    "IsSubsequentVersionOf",
    "IsSubtypeOf",
    "IsSupertypeOf",
)
MAPS = ("extensions", "media_types", "signatures")
#: the formats `from_bytes` falls back to (file_types.rs: DEFAULT_1, DEFAULT_2)
BINARY = "default::DEFAULT_1"
TEXT = "default::DEFAULT_2"


class BuildError(Exception):
    """The crate source cannot be converted; the message says why."""


# -- finding the crate --------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # (only `kumopy file-type build` reads TOML: start-up)

    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise BuildError(f"cannot read {path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise BuildError(f"{path} is not valid TOML: {e}") from None


def _package(manifest: Path) -> dict[str, Any] | None:
    if not manifest.is_file():
        return None
    package = _read_toml(manifest).get("package")
    if isinstance(package, dict) and package.get("name") == "file_type":
        return package
    return None


def find_crate(directory: str | os.PathLike[str]) -> tuple[Path, str, dict[str, Any]]:
    """(crate root, version, [features] table) of the `file_type` crate in
    `directory`: the crate itself (a cargo registry checkout), a git
    checkout of its workspace (the crate is `file_type/`), or a directory
    holding `file_type-<version>/`."""
    base = Path(directory).expanduser()
    if not base.is_dir():
        raise BuildError(f"{base} is not a directory")
    candidates = [base, base / "file_type", base / f"file_type-{CRATE_VERSION}"]
    for root in candidates:
        package = _package(root / "Cargo.toml")
        if package is None:
            continue
        version = package.get("version")
        if isinstance(version, dict) and version.get("workspace") is True:
            workspace = _read_toml(root.parent / "Cargo.toml").get("workspace", {})
            version = workspace.get("package", {}).get("version")
        if not isinstance(version, str):
            raise BuildError(f"{root / 'Cargo.toml'} does not say which version it is")
        features = _read_toml(root / "Cargo.toml").get("features", {})
        if not isinstance(features, dict):
            raise BuildError(f"{root / 'Cargo.toml'} has a malformed [features] table")
        if not (root / "src" / "sources").is_dir():
            raise BuildError(f"{root} has no src/sources directory: it is not the crate's source")
        return root, version, features
    raise BuildError(
        f"{base} holds neither the file_type crate (a Cargo.toml naming package "
        f"file_type) nor file_type/ or file_type-{CRATE_VERSION}/"
    )


def enabled_features(table: dict[str, Any], requested: Iterable[str]) -> list[str]:
    """The features cargo enables: the default ones, `requested`, and every
    feature they enable in turn."""
    todo = ["default", *requested]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for item in table.get(name, ()):
            if isinstance(item, str) and "/" not in item and not item.startswith("dep:"):
                todo.append(item)
    seen.discard("default")
    return sorted(seen)


# -- converting ---------------------------------------------------------------


def _items(path: Path, features: Iterable[str]) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise BuildError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise BuildError(f"{path} is not UTF-8: {e}") from None
    try:
        return const_items(text, str(path), features)
    except RustSyntaxError as e:
        raise BuildError(f"{path}:{e.line}: {e.detail}") from None


class _Reader:
    """Turns the parsed constants into the data file's values, naming the
    file when one is not of the expected shape."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, what: str) -> BuildError:
        return BuildError(f"{self.where}: {what}")

    def struct(self, value: Any, name: str) -> dict[str, Any]:
        if not isinstance(value, Struct) or value.path.rsplit("::", 1)[-1] != name:
            raise self.fail(f"expected a {name} value")
        return value.fields

    def field(self, fields: dict[str, Any], name: str) -> Any:
        if name not in fields:
            raise self.fail(f"missing field {name}")
        return fields[name]

    def strings(self, value: Any, what: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            raise self.fail(f"{what} is not a list of strings")
        return list(value)

    def variant(self, value: Any, enum: str, names: tuple[str, ...]) -> str:
        if isinstance(value, PathRef):
            parts = value.path.split("::")
            if len(parts) >= 2 and parts[-2] == enum and parts[-1] in names:
                return parts[-1]
        raise self.fail(f"expected one of {enum}::{{{', '.join(names)}}}")

    def integer(self, value: Any, what: str) -> int:
        if isinstance(value, PathRef) and value.path in ("usize::MAX", "core::usize::MAX"):
            return USIZE_MAX
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.fail(f"{what} is not a non-negative integer")
        return value

    def hexbytes(self, value: Any) -> str:
        if not isinstance(value, list) or not all(
            isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in value
        ):
            raise self.fail("a token's bytes are not a list of u8")
        return bytes(value).hex()

    def tokens(self, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail("a regex's tokens are not a list")
        out: list[Any] = []
        for tok in value:
            path = tok.path if isinstance(tok, Call | PathRef) else ""
            kind = path.rsplit("::", 1)[-1]
            if not path.endswith("Token::" + kind) or kind not in KIND_NAMES:
                raise self.fail(f"unknown regex token {path or repr(tok)}")
            args = tok.args if isinstance(tok, Call) else []
            arity = {"Any": 1, "AnyWildcard": 0, "SingleWildcard": 0, "Literal": 1,
                     "NotLiteral": 1, "Range": 2, "NotRange": 2, "WildcardCount": 1,
                     "WildcardCountRange": 2}[kind]
            if len(args) != arity or (arity == 0 and isinstance(tok, Call)):
                raise self.fail(f"Token::{kind} takes {arity} values")
            if kind == "Any":
                if not isinstance(args[0], list):
                    raise self.fail("Token::Any takes a list of token lists")
                out.append([kind, [self.tokens(alt) for alt in args[0]]])
            elif kind in ("Literal", "NotLiteral", "Range", "NotRange"):
                out.append([kind, *(self.hexbytes(a) for a in args)])
            elif kind == "WildcardCount":
                out.append([kind, self.integer(args[0], "a wildcard count")])
            elif kind == "WildcardCountRange":
                low = self.integer(args[0], "a wildcard count")
                high = self.integer(args[1], "a wildcard count")
                out.append([kind, low, None if high == USIZE_MAX else high])
            else:
                out.append([kind])
        return out

    def offset(self, value: Any) -> int | None:
        if isinstance(value, PathRef) and value.path in ("None", "Option::None"):
            return None
        if isinstance(value, Call) and value.path in ("Some", "Option::Some") and len(
            value.args
        ) == 1:
            return self.integer(value.args[0], "an offset")
        raise self.fail("an offset is neither None nor Some(n)")

    def file_type(self, value: Any) -> list[Any]:
        outer = self.struct(value, "FileType")
        f = self.struct(self.field(outer, "file_format"), "FileFormat")
        signatures = []
        for sig in self.field(f, "signatures"):
            sequences = []
            for seq in self.field(self.struct(sig, "Signature"), "byte_sequences"):
                s = self.struct(seq, "ByteSequence")
                regex = self.struct(self.field(s, "regex"), "Regex")
                sequences.append([
                    self.variant(self.field(s, "position_type"), "PositionType", POSITION_TYPES),
                    self.offset(s.get("offset", PathRef("None"))),
                    self.tokens(self.field(regex, "tokens")),
                ])
            signatures.append(sequences)
        related = []
        for rel in self.field(f, "related_formats"):
            r = self.struct(rel, "RelatedFormat")
            related.append([
                self.variant(self.field(r, "relationship_type"), "RelationshipType",
                             RELATIONSHIP_TYPES),
                self.integer(self.field(r, "id"), "a related format's id"),
            ])
        name = self.field(f, "name")
        if not isinstance(name, str):
            raise self.fail("name is not a string")
        return [
            self.variant(self.field(f, "source_type"), "SourceType", SOURCE_TYPES),
            self.integer(self.field(f, "id"), "id"),
            name,
            self.strings(self.field(f, "extensions"), "extensions"),
            self.strings(self.field(f, "media_types"), "media_types"),
            signatures,
            related,
        ]


def _map_entries(
    items: dict[str, Any], where: str, key_type: type
) -> list[tuple[Any, list[str]]]:
    reader = _Reader(where)
    if "MAP" not in items:
        raise reader.fail("no MAP static")
    fields = reader.struct(items["MAP"], "Map")
    entries = reader.field(fields, "entries")
    if not isinstance(entries, list):
        raise reader.fail("MAP's entries are not a list")
    out = []
    for entry in entries:
        if not (isinstance(entry, tuple) and len(entry) == 2):
            raise reader.fail("a MAP entry is not a (key, formats) pair")
        key, refs = entry
        if not isinstance(key, key_type) or isinstance(key, bool):
            raise reader.fail(f"a MAP key is not a {key_type.__name__}")
        if not isinstance(refs, list) or not all(isinstance(r, PathRef) for r in refs):
            raise reader.fail(f"the formats of MAP key {key!r} are not a list of names")
        out.append((key, [r.path for r in refs]))
    return out


_CONST = re.compile(r"([a-z_]+)::([A-Z0-9_]+)")


def build(
    crate_src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    progress: Callable[[str], None] | None = None,
    requested: tuple[str, ...] = KUMOD_FEATURES,
) -> dict[str, Any]:
    """Convert the crate in `crate_src` to the data file `out` (written
    atomically, parent directories created); returns a summary (version,
    features, counts).  `requested`: the features asked for besides the
    default ones (kumod's; a database built with others is refused when
    loaded, and serves only to compare the matcher with the crate)."""
    say = progress or (lambda _msg: None)
    root, version, feature_table = find_crate(crate_src)
    if version != CRATE_VERSION:
        raise BuildError(
            f"{root} is file_type {version}, but kumod uses file_type {CRATE_VERSION} "
            f"(KumoMTA's Cargo.lock); give the source of file_type {CRATE_VERSION}"
        )
    features = enabled_features(feature_table, requested)
    missing = [f for f in requested if f not in feature_table]
    if missing:
        raise BuildError(f"{root / 'Cargo.toml'} has no feature {', '.join(missing)}")
    src = root / "src"

    maps: dict[str, list[tuple[Any, list[str]]]] = {}
    for name in MAPS:
        say(f"reading src/{name}.rs")
        key_type = int if name == "signatures" else str
        path = src / f"{name}.rs"
        maps[name] = _map_entries(_items(path, features), str(path), key_type)

    # the formats the tables name, read from their modules
    wanted = {BINARY, TEXT}
    for entries in maps.values():
        for _key, refs in entries:
            wanted.update(refs)
    by_module: dict[str, set[str]] = {}
    for ref in wanted:
        m = _CONST.fullmatch(ref)
        if m is None:
            raise BuildError(f"{src}: a table names {ref!r}, which is not module::CONSTANT")
        by_module.setdefault(m.group(1), set()).add(m.group(2))
    records: dict[str, list[Any]] = {}
    for module, consts in sorted(by_module.items()):
        folder = src / "sources" / module
        if not folder.is_dir():
            raise BuildError(f"{folder} is missing (the tables name {module}::...)")
        say(f"reading {len(consts)} formats from src/sources/{module}/")
        pending = set(consts)
        for const in sorted(consts):
            path = folder / f"{const.lower()}.rs"
            if path.is_file():
                found = _items(path, features)
                for name, value in found.items():
                    if name in pending:
                        records[f"{module}::{name}"] = _Reader(str(path)).file_type(value)
                        pending.discard(name)
        if pending:  # not where the generator puts them: look through the folder
            for path in sorted(folder.glob("*.rs")):
                if path.name == "mod.rs":
                    continue
                found = _items(path, features)
                for name in pending & found.keys():
                    records[f"{module}::{name}"] = _Reader(str(path)).file_type(found[name])
                pending -= found.keys()
        if pending:
            raise BuildError(
                f"{folder} defines no {', '.join(sorted(pending)[:3])}"
                + (" ..." if len(pending) > 3 else "")
                + " (named by the crate's tables)"
            )

    order = sorted(records)
    index = {ref: i for i, ref in enumerate(order)}
    header: dict[str, Any] = {
        "format": DATA_FORMAT,
        "crate": "file_type",
        "version": version,
        "features": features,
        "requested_features": list(requested),
        "formats": len(order),
        "binary": index[BINARY],
        "text": index[TEXT],
    }
    for name, entries in maps.items():
        table: dict[str, list[int]] = {}
        for key, refs in entries:
            if refs:
                table[str(key)] = [index[r] for r in refs]
        header[name] = table
    lines = [orjson.dumps(header)] + [orjson.dumps(records[ref]) for ref in order]
    _write(Path(out).expanduser(), b"\n".join(lines) + b"\n")
    return {
        "crate": str(root),
        "version": version,
        "features": features,
        "formats": len(order),
        **{name: len(header[name]) for name in MAPS},
    }


def _write(path: Path, payload: bytes) -> None:
    """Write `payload` to `path` atomically (a new file beside it, then a
    rename), with the permissions the umask gives a new file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(tmp, "xb") as f:
                f.write(payload)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as e:
        raise BuildError(f"cannot write {e.filename or path}: {e.strerror or e}") from None
