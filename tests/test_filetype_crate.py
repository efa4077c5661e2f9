"""`kumopy file-type build --crate FILE` and `--download`: the crate as cargo
packages it (a gzip'd tar holding file_type-0.8.11/), checked against a
SHA-256 before anything in it is read, served here from loopback."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from kumopy._filetype import CRATE_VERSION, build
from kumopy._filetype._fetch import CRATE_SHA256, CRATE_URL, unpacked_crate
from kumopy.cli import cli

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "file_type_crate"


def packed(tmp_path: Path, extra: tarfile.TarInfo | None = None) -> tuple[Path, str]:
    """The fixture crate packed as cargo packs one, and its SHA-256."""
    crate = tmp_path / f"file_type-{CRATE_VERSION}.crate"
    with tarfile.open(crate, "w:gz") as archive:
        archive.add(FIXTURE, arcname=f"file_type-{CRATE_VERSION}")
        if extra is not None:
            archive.addfile(extra, io.BytesIO(b"x" * extra.size) if extra.size else None)
    return crate, hashlib.sha256(crate.read_bytes()).hexdigest()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["file-type", "build", "-q", *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_pinned_checksum_is_kumomtas() -> None:
    # the digest KumoMTA's Cargo.lock records for file_type 0.8.11, and cargo's URL
    assert CRATE_SHA256 == "678acf8099d6cd5d8f1c665140918c36b4875c251c05a7f76acd79ab84f1d1ed"
    assert CRATE_URL.endswith(f"/file_type/file_type-{CRATE_VERSION}.crate")


def test_a_crate_file_builds_what_its_source_builds(tmp_path: Path) -> None:
    crate, digest = packed(tmp_path)
    build(FIXTURE, tmp_path / "from-source.jsonl")
    code, out, err = run("--crate", str(crate), "--sha256", digest,
                         "--out", str(tmp_path / "from-crate.jsonl"))
    assert (code, err.count("\n")) == (0, 1), err  # the note about KUMOPY_FILE_TYPE_DB
    assert out.startswith(f"wrote {tmp_path / 'from-crate.jsonl'}: 16 formats from file_type")
    assert ((tmp_path / "from-crate.jsonl").read_bytes()
            == (tmp_path / "from-source.jsonl").read_bytes())


def test_a_crate_with_another_checksum_is_refused_before_it_is_read(tmp_path: Path) -> None:
    crate, digest = packed(tmp_path)
    code, out, err = run("--crate", str(crate), "--out", str(tmp_path / "db.jsonl"))
    assert code == 1 and out == ""
    assert err == (f"kumopy: error: {crate}: SHA-256 {digest} is not the file_type 0.8.11 crate's "
                   f"({CRATE_SHA256}, as KumoMTA's Cargo.lock pins it)\n")
    assert not (tmp_path / "db.jsonl").exists()


@pytest.mark.parametrize("kind", ["escape", "symlink", "too-big"])
def test_hostile_archives_are_refused_and_nothing_escapes(tmp_path: Path, kind: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if kind == "escape":
        member = tarfile.TarInfo("../../escaped.txt")
        member.size = 1
    elif kind == "symlink":
        member = tarfile.TarInfo(f"file_type-{CRATE_VERSION}/link")
        member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
    else:
        monkeypatch.setattr("kumopy._filetype._fetch.MAX_UNPACKED_BYTES", 4096)
        member = tarfile.TarInfo(f"file_type-{CRATE_VERSION}/big.bin")
        member.size = 8192
    crate, digest = packed(tmp_path, member)
    code, out, err = run("--crate", str(crate), "--sha256", digest,
                         "--out", str(tmp_path / "db.jsonl"))
    assert code == 1 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"kumopy: error: {crate}: the archive holds ")
    assert not (tmp_path / "db.jsonl").exists()
    assert not list(tmp_path.parent.glob("escaped.txt"))


def test_a_damaged_archive_says_so(tmp_path: Path) -> None:
    crate = tmp_path / "broken.crate"
    crate.write_bytes(b"\x1f\x8b\x08 not really gzip")
    digest = hashlib.sha256(crate.read_bytes()).hexdigest()
    with pytest.raises(Exception, match=r"broken\.crate: not a readable \.crate archive"):
        with unpacked_crate(crate, sha256=digest):
            pass


def test_download_fetches_checks_and_builds(tmp_path: Path, httpserver: HTTPServer) -> None:
    crate, digest = packed(tmp_path)
    httpserver.expect_request("/crates/file_type/file_type-0.8.11.crate").respond_with_data(
        crate.read_bytes(), content_type="application/gzip")
    url = httpserver.url_for("/crates/file_type/file_type-0.8.11.crate")
    out_path = tmp_path / "db.jsonl"
    code, out, _ = run("--download", "--url", url, "--sha256", digest, "--out", str(out_path))
    assert code == 0 and out.startswith(f"wrote {out_path}: 16 formats")
    header = orjson.loads(out_path.read_bytes().split(b"\n", 1)[0])
    assert header["version"] == CRATE_VERSION
    # the pinned digest guards the real download: the same bytes are refused without --sha256
    code, _, err = run("--download", "--url", url, "--out", str(tmp_path / "other.jsonl"))
    assert code == 1 and "is not the file_type 0.8.11 crate's" in err


def test_download_failures_name_the_url(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/missing.crate").respond_with_data("no", status=404)
    url = httpserver.url_for("/missing.crate")
    code, _, err = run("--download", "--url", url, "--out", str(tmp_path / "db.jsonl"))
    assert (code, err) == (1, f"kumopy: error: cannot download {url}: HTTP 404 NOT FOUND\n")


def test_exactly_one_source(tmp_path: Path) -> None:
    code, _, err = run("--out", str(tmp_path / "db.jsonl"))
    assert code == 1 and "give exactly one of --crate-src DIR, --crate FILE or --download" in err
    code, _, err = run("--download", "--crate-src", str(FIXTURE))
    assert code == 1 and "(got --crate-src and --download)" in err
