"""kumo.file_type.* answering from a database built from a crate tree of our
own (tests/fixtures/file_type_crate: invented formats in the shape of the
file_type crate's generated modules), and `kumopy file-type build|status`.

The fixture's formats (its tables list them as the crate's generator does:
under each signature's key, sorted by source and id):

* "Kumo Archive" (9000001): KUMO; "version 2" (9000002): KUMO{4}02, with
  priority over 9000001; "signed" (9000003): KUMO{4}??53 and SIG! at the
  end, with priority over 9000002, yet version 2 comes first: the crate's
  insertion sort over a partial order never compares 9000003 with 9000002;
* no literal at offset 0 (table key 0x42): `{0-16}` then KTB: (9000004),
  ?? and an EOF TRLR{2} at offset 1 (9000005), {2} and @@KUMO@@ anywhere
  from offset 2 (9000006), (Rand|dnaR) (9000007);
* "Kumo Image" (9000009): an 8-byte magic then [30:37], or the magic, *,
  IEND; "Kumo Zero Block" (9000010): ZBLK at the end only (table key 0);
* httpd and iana formats with no signatures, and a pronom one that kumod's
  features leave out.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from kumopy import PolicyError
from kumopy._filetype import (
    CRATE_VERSION,
    ENV_VAR,
    BuildError,
    DatabaseError,
    _db,
    build,
    default_path,
    load,
)
from kumopy.cli import cli
from kumopy.testing import _conformance

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "file_type_crate"


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("filetype") / "db.jsonl"
    build(FIXTURE, out)
    return out


@pytest.fixture
def db_env(fixture_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ENV_VAR, str(fixture_db))
    return fixture_db


def names(formats: list[dict[str, object]] | tuple[object, ...]) -> list[object]:
    return [f["name"] for f in formats]  # type: ignore[index]


# -- the converter ----------------------------------------------------------


def test_build_keeps_kumods_features_and_the_tables_order(fixture_db: Path) -> None:
    header = orjson.loads(fixture_db.read_bytes().split(b"\n", 1)[0])
    assert header["version"] == CRATE_VERSION
    assert header["features"] == ["httpd", "iana", "std", "wikidata"]
    assert header["requested_features"] == ["httpd", "iana"]
    assert "kpro" not in header["extensions"]  # named by pronom alone
    db = load(fixture_db)
    assert [f.name for f in db.from_extension("kar")] == [
        "Kumo Archive", "Kumo Archive, version 2", "kumo archive"]
    assert [f.id for f in db.from_media_type("application/x-kumo-archive")] == [
        9000001, 9000002, 9100001, 9200001]
    # duplicates in a table stay (the crate lists a format once per signature)
    ktx = int.from_bytes(b"\x89KTX\r\n\x1a\n", "big")
    assert [db.format(i).id for i in db.signatures[ktx]] == [9000009, 9000009]


def test_build_accepts_the_three_layouts_of_the_source(tmp_path: Path) -> None:
    # a git checkout: the workspace's Cargo.toml holds the version
    workspace = tmp_path / "git"
    shutil.copytree(FIXTURE, workspace / "file_type")
    manifest = workspace / "file_type" / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace(
        'version = "0.8.11"', "version.workspace = true"))
    (workspace / "Cargo.toml").write_text(
        '[workspace]\nmembers = ["file_type"]\n\n[workspace.package]\nversion = "0.8.11"\n')
    assert build(workspace, tmp_path / "a.jsonl")["formats"] == 16
    # a registry source directory holding file_type-0.8.11/
    registry = tmp_path / "registry"
    shutil.copytree(FIXTURE, registry / f"file_type-{CRATE_VERSION}")
    summary = build(registry, tmp_path / "b.jsonl")
    assert summary["version"] == CRATE_VERSION
    assert (summary["extensions"], summary["media_types"], summary["signatures"]) == (11, 8, 4)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_build_refuses_another_version_and_other_trees(tmp_path: Path) -> None:
    crate = tmp_path / "crate"
    shutil.copytree(FIXTURE, crate)
    manifest = crate / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('"0.8.11"', '"0.9.0"'))
    with pytest.raises(BuildError, match=r"is file_type 0\.9\.0, but kumod uses file_type 0\.8\.11"):
        build(crate, tmp_path / "x.jsonl")
    with pytest.raises(BuildError, match="holds neither the file_type crate"):
        build(tmp_path, tmp_path / "x.jsonl")
    with pytest.raises(BuildError, match="is not a directory"):
        build(tmp_path / "nowhere", tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()


def test_build_names_the_file_and_line_it_cannot_read(tmp_path: Path) -> None:
    crate = tmp_path / "crate"
    shutil.copytree(FIXTURE, crate)
    module = crate / "src" / "sources" / "wikidata" / "wikidata_9000004.rs"
    module.write_text(module.read_text().replace("Token::WildcardCountRange(0, 16)",
                                                 "Token::WildcardCountRange(0 16)"))
    with pytest.raises(BuildError) as info:
        build(crate, tmp_path / "x.jsonl")
    assert str(info.value) == f"{module}:19: expected ',', found '16'"
    module.write_text(module.read_text().replace("Token::WildcardCountRange(0 16)",
                                                 "Token::Repeat(2)"))
    with pytest.raises(BuildError, match=f"{module}: unknown regex token Token::Repeat$"):
        build(crate, tmp_path / "x.jsonl")
    module.unlink()
    with pytest.raises(BuildError, match="defines no WIKIDATA_9000004"):
        build(crate, tmp_path / "x.jsonl")


# -- lookups through Lua -------------------------------------------------------


@pytest.mark.usefixtures("db_env")
def test_results_have_kumods_shape(load) -> None:  # type: ignore[no-untyped-def]
    p = load(
        """
        kumo.on('bytes', function(data) return kumo.file_type.from_bytes(data) end)
        kumo.on('ext', function(ext) return kumo.file_type.from_extension(ext) end)
        """
    )
    assert p.dispatch("bytes", b"KUMO\x00\x00\x00\x00\x01").value == {
        "name": "Kumo Archive", "extensions": ["kar"],
        "media_types": ["application/x-kumo-archive"]}
    assert p.dispatch("ext", "kmd").value == [{
        "name": "Q9000008", "extensions": ["kmd", "kumomd"],
        "media_types": ["text/x-kumo-markdown"]}]
    # empty lists are arrays (the marker mlua gives a serialized Vec), not maps
    assert p.dispatch("ext", "kars").value == [{
        "name": "Kumo Archive, signed", "extensions": ["kars"], "media_types": []}]
    assert p.dispatch("ext", "nothing").value == []


@pytest.mark.usefixtures("db_env")
def test_lookups_by_key_are_exact(load) -> None:  # type: ignore[no-untyped-def]
    p = load(
        """
        kumo.on('ext', function(ext) return kumo.file_type.from_extension(ext) end)
        kumo.on('mt', function(mt) return kumo.file_type.from_media_type(mt) end)
        """
    )
    assert names(p.dispatch("ext", "kimg").value) == ["Kumo Image", "x-kumo-image"]
    assert p.dispatch("ext", "KIMG").value == []
    assert p.dispatch("ext", ".kimg").value == []
    assert p.dispatch("ext", "kpro").value == []  # pronom is not among kumod's features
    assert names(p.dispatch("mt", "application/x-kumo-archive").value) == [
        "Kumo Archive", "Kumo Archive, version 2", "kumo archive", "x-kumo-archive"]
    assert names(p.dispatch("mt", "text/plain").value) == ["Text"]
    assert p.dispatch("mt", "text/plain; charset=utf-8").value == []


K = b"KUMO\0\0\0\0"
KTX = b"\x89KTX\r\n\x1a\n"
#: content -> the name kumod's crate gives (checked against the crate's code
#: compiled over this fixture)
CASES = [
    (b"KUMO", "Kumo Archive"),
    (K, "Kumo Archive"),
    # the table key is the content's first 8 bytes, so a 4-byte magic is only
    # found when zero bytes (or nothing) follow it
    (b"KUMO!", "Text"),
    (b"KUMO\x01", "Binary"),
    (K + b"\x02", "Kumo Archive, version 2"),  # HasPriorityOver 9000001
    (K + b"\x02S and the rest SIG!", "Kumo Archive, version 2"),  # the insertion sort
    (K + b"\x01S and the rest SIG!", "Kumo Archive"),  # 9000003 is not ranked over 9000001
    (K + b"\x01S and the rest SIG", "Kumo Archive"),
    (b"KTB:body", "Kumo Text Bundle"),
    (b" " * 15 + b"KTB:", "Kumo Text Bundle"),  # {0-16}: indexes 0 to 15
    (b" " * 16 + b"KTB:", "Text"),
    (b"hello TRLRab", "Kumo Trailer"),  # EOF: 11 pattern characters // 2 + offset 1
    (b"hello TRLRabc", "Text"),
    (b"TRLRab", "Kumo Trailer"),
    (b"..@@KUMO@@..", "Kumo Marker"),  # Variable, from offset 2
    (b".@@KUMO@@..", "Text"),
    (b"dnaR\x00\x01", "Kumo Random Data"),
    (b"Rand", "Kumo Random Data"),
    (KTX + b"5", "Kumo Image"),
    (KTX + b"9", "Binary"),
    (KTX + b"9 then IEND", "Kumo Image"),  # the second signature
    (KTX, "Binary"),
    (b"\0" * 8 + b"ZBLK", "Kumo Zero Block"),  # an EOF-only signature has table key 0
    (b"\0" * 7 + b"ZBLK", "Binary"),
    (b"", "Binary"),
    (b"hello\r\n\tworld", "Text"),
    (b"hello\x00", "Binary"),
    (b"x" * 9000 + b"\x1b", "Binary"),  # a control byte anywhere, not only in 8 KiB
    (b"\x7f", "Text"),
    (b"caf\xc3\xa9 \xff", "Text"),  # bytes over 0x7f are not control bytes
]


@pytest.mark.usefixtures("db_env")
def test_from_bytes_follows_the_crate(load) -> None:  # type: ignore[no-untyped-def]
    p = load("kumo.on('t', function(data) return kumo.file_type.from_bytes(data).name end)")
    got = [(data, p.dispatch("t", data).value) for data, _ in CASES]
    assert got == CASES


@pytest.mark.usefixtures("db_env")
def test_arguments_convert_as_mlua_converts_them(load) -> None:  # type: ignore[no-untyped-def]
    p = load(
        """
        kumo.on('bytes', function(...) return kumo.file_type.from_bytes(...).name end)
        kumo.on('ext', function(...) return #kumo.file_type.from_extension(...) end)
        """
    )
    assert p.dispatch("bytes", 12).value == "Text"  # numbers coerce to strings
    assert p.dispatch("bytes", b"KUMO", "extra").value == "Kumo Archive"
    with pytest.raises(PolicyError, match=r"bad argument #1: error converting Lua nil to string "
                                          r"\(expected string or number\)"):
        p.dispatch("bytes")
    with pytest.raises(PolicyError, match="bad argument #1: error converting Lua table to String"):
        p.dispatch("ext", {"a": 1})
    with pytest.raises(PolicyError, match="bad argument #1: error converting Lua string to String"):
        p.dispatch("ext", b"\xff")


# -- without a usable database ------------------------------------------------


def test_missing_database_says_what_to_build(load, tmp_path: Path,  # type: ignore[no-untyped-def]
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "none.jsonl"))
    p = load("kumo.on('t', function()\n  local found = kumo.file_type.from_extension('png')\n"
             "  return found\nend)")
    with pytest.raises(PolicyError) as info:
        p.dispatch("t")
    message = info.value.message
    assert (info.value.file, info.value.line) == (str(tmp_path / 'init.lua'), 2)
    assert message.startswith(f"{tmp_path / 'init.lua'}:2: kumopy: kumo.file_type needs the "
                              "file_type crate's "
                              f"format database, and {ENV_VAR} names {tmp_path / 'none.jsonl'}, "
                              "which does not exist: build it once with `kumopy file-type build "
                              "--crate-src DIR`")
    assert "not supported" not in message
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / "kumopy" / "file_type-0.8.11.jsonl"
    with pytest.raises(PolicyError, match=f"there is none at {tmp_path / 'data'}"):
        p.dispatch("t")


def _damaged(fixture_db: Path, tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    lines = fixture_db.read_bytes().split(b"\n")
    path = tmp_path / "damaged.jsonl"
    path.write_bytes(b"\n".join(edit(lines)))
    return path


def test_damaged_or_foreign_databases_are_refused(fixture_db: Path, tmp_path: Path) -> None:
    truncated = _damaged(fixture_db, tmp_path, lambda lines: lines[:5])
    with pytest.raises(DatabaseError, match=r"is not a file_type database kumopy can read \(it has "
                                            r"4 format lines where its header says 16\): rebuild"):
        load(truncated)
    (tmp_path / "junk.jsonl").write_bytes(b"\x00\x01 not json")
    with pytest.raises(DatabaseError, match="junk.jsonl is not a file_type database"):
        load(tmp_path / "junk.jsonl")

    def other_version(lines: list[bytes]) -> list[bytes]:
        header = orjson.loads(lines[0])
        header["version"] = "0.9.0"
        return [orjson.dumps(header), *lines[1:]]

    with pytest.raises(DatabaseError, match=r"was built from file_type 0\.9\.0 with features "
                                            r"httpd, iana added to the default ones, but kumod "
                                            r"uses file_type 0\.8\.11"):
        load(_damaged(fixture_db, tmp_path, other_version))

    def bad_record(lines: list[bytes]) -> list[bytes]:
        return [*lines[:3], b'["Wikidata", 1, "x", [], [], [[["BOF", 0, [["Nope"]]]]], []]',
                *lines[4:]]

    broken = load(_damaged(fixture_db, tmp_path, bad_record))
    with pytest.raises(DatabaseError, match=r"damaged.jsonl is damaged \(unknown regex token 'Nope'\): rebuild it"):
        broken.check()


def test_a_rebuilt_database_is_read_again(fixture_db: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "db.jsonl"
    shutil.copy(fixture_db, copy)
    first = load(copy)
    os.utime(copy, ns=(1, 1))
    assert load(copy) is first  # the file is looked at again only after RECHECK_AFTER
    monkeypatch.setattr(_db, "RECHECK_AFTER", 0.0)
    assert load(copy) is not first
    second = load(copy)
    assert load(copy) is second  # unchanged since


# -- the CLI --------------------------------------------------------------------


def test_cli_build_and_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "ft.jsonl"))
    runner = CliRunner()
    result = runner.invoke(cli, ["file-type", "status"])
    assert result.exit_code == 1
    assert "there is none" not in result.output  # the env var names the file
    assert f"{ENV_VAR} names {tmp_path / 'ft.jsonl'}, which does not exist" in result.output
    result = runner.invoke(cli, ["file-type", "build", "--crate-src", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'ft.jsonl'}: 16 formats from file_type 0.8.11 " in result.output
    assert "reading src/signatures.rs" in result.output  # progress, on stderr
    result = runner.invoke(cli, ["file-type", "status"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{tmp_path / 'ft.jsonl'}: file_type 0.8.11 (features httpd, "
                                    "iana, std, wikidata;")
    result = runner.invoke(cli, ["file-type", "build", "-q", "--crate-src", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith("kumopy: error: ") and "holds neither" in result.output


def test_conformance_expects_test_filetype_to_fail_only_without_a_database(
    fixture_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "crates/mod-file-type/test_filetype.lua"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "absent.jsonl"))
    reason = _conformance.expected_failure(name)
    assert reason is not None and "kumopy file-type build --crate-src DIR" in reason
    monkeypatch.setenv(ENV_VAR, str(fixture_db))
    assert _conformance.expected_failure(name) is None
    assert name not in _conformance.KNOWN_FAILURES


# -- the real crate (KUMOPY_FILE_TYPE_SRC: its source at v0.8.11) ---------------

REAL_SRC = os.environ.get("KUMOPY_FILE_TYPE_SRC")


@pytest.mark.skipif(not REAL_SRC, reason="KUMOPY_FILE_TYPE_SRC is not set")
def test_real_crate_conversion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               load) -> None:  # type: ignore[no-untyped-def]
    assert REAL_SRC is not None
    out = tmp_path / "real.jsonl"
    summary = build(REAL_SRC, out)
    assert summary["features"] == ["httpd", "iana", "std", "wikidata"]
    assert summary["formats"] > 10_000
    monkeypatch.setenv(ENV_VAR, str(out))
    p = load(
        """
        kumo.on('bytes', function(d) return kumo.file_type.from_bytes(d) end)
        kumo.on('ext', function(e) return kumo.file_type.from_extension(e) end)
        kumo.on('mt', function(m) return kumo.file_type.from_media_type(m) end)
        """
    )
    java = p.dispatch("bytes", b"\xca\xfe\xba\xbe").value
    assert java["name"] == "Java class file" and java["extensions"] == ["class"]
    assert "application/java-vm" in java["media_types"]
    markdown = p.dispatch("ext", "markdown").value
    assert len(markdown) == 1 and markdown[0]["media_types"] == ["text/markdown"]
    assert p.dispatch("mt", "image/png").value[0] == {
        "name": "Portable Network Graphics", "media_types": ["image/png"], "extensions": ["png"]}
    assert p.dispatch("bytes", b"").value["name"] == "Binary"
    assert p.dispatch("bytes", b"hello, world\n").value["name"] == "Text"
