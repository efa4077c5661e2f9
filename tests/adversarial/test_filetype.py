"""kumo.file_type and `kumopy file-type` facing a missing, damaged or
foreign database, a crate source that is not one, and large content: each
ends with one clear `kumopy: error:` line (or the answer), a chosen exit
status and no traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kumopy._filetype import ENV_VAR, build

from ._harness import assert_clear_failure, run_kumopy, write_policy

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "file_type_crate"


@pytest.fixture(scope="module")
def good_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("filetype-adv") / "db.jsonl"
    build(FIXTURE, out)
    return out


def sniffing_policy(tmp_path: Path, expression: str = "kumo.file_type.from_bytes('KUMO')") -> Path:
    return write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        "\n"
        "kumo.on('main', function()\n"
        f"  local found = {expression}\n"
        "  print(found.name)\n"
        "end)\n",
    )


def test_no_database_names_the_file_and_the_command(tmp_path: Path) -> None:
    policy = sniffing_policy(tmp_path)
    missing = tmp_path / "nowhere" / "db.jsonl"
    out = run_kumopy("script", policy, env={ENV_VAR: str(missing)})
    assert_clear_failure(out, "init.lua:4:", f"{ENV_VAR} names {missing}, which does not exist",
                         "kumopy file-type build --crate-src DIR")
    assert "not supported" not in out.stderr


def test_without_the_variable_the_default_place_is_named(tmp_path: Path) -> None:
    policy = sniffing_policy(tmp_path)
    out = run_kumopy("script", policy, env={ENV_VAR: "", "XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert_clear_failure(out, "init.lua:4:",
                         f"there is none at {tmp_path / 'xdg' / 'kumopy' / 'file_type-0.8.11.jsonl'}")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("truncated", "is not a file_type database kumopy can read (it has 2 format lines"),
        ("garbage", "is not a file_type database kumopy can read"),
        ("empty", "is not a file_type database kumopy can read"),
        ("bad record", "is damaged (format #"),
        ("other version", "was built from file_type 0.8.10"),
    ],
)
def test_damaged_database_is_one_clear_line(good_db: Path, tmp_path: Path, damage: str,
                                            expected: str) -> None:
    lines = good_db.read_bytes().split(b"\n")
    db = tmp_path / "db.jsonl"
    if damage == "truncated":
        db.write_bytes(b"\n".join(lines[:3]))
    elif damage == "garbage":
        db.write_bytes(bytes(range(256)) * 40)
    elif damage == "empty":
        db.write_bytes(b"")
    elif damage == "bad record":
        # the line of "Kumo Archive" (line 0 is the header)
        index = next(i for i, line in enumerate(lines) if b'"Kumo Archive"' in line)
        lines[index] = b'["Wikidata", "x", null, [], [], [], []]'
        expected += f"{index - 1} is malformed)"
        db.write_bytes(b"\n".join(lines))
    else:
        db.write_bytes(b"\n".join([lines[0].replace(b'"0.8.11"', b'"0.8.10"'), *lines[1:]]))
    policy = sniffing_policy(tmp_path)
    out = run_kumopy("script", policy, env={ENV_VAR: str(db)})
    line = assert_clear_failure(out, "init.lua:4:", expected, str(db))
    assert "rebuild it with `kumopy file-type build --crate-src DIR`" in line
    status = run_kumopy("file-type", "status", env={ENV_VAR: str(db)})
    assert_clear_failure(status, str(db))


def test_large_content_ends_with_the_answer(good_db: Path, tmp_path: Path) -> None:
    # 32 MiB after an image magic with no IEND: the `*` search runs once, in C
    # (no signature matches, and the magic's \x1a makes the content binary)
    policy = sniffing_policy(
        tmp_path, "kumo.file_type.from_bytes('\\x89KTX\\r\\n\\x1a\\n9' .. string.rep('A', 1 << 25))")
    out = run_kumopy("script", policy, env={ENV_VAR: str(good_db)})
    assert out.returncode == 0, out.describe()
    assert out.stdout.strip() == "Binary"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        ("missing", "is not a directory"),
        ("not a crate", "holds neither the file_type crate"),
        ("other version", "is file_type 0.9.1, but kumod uses file_type 0.8.11"),
        ("broken module", "wikidata_9000007.rs:19: expected ',', found '0x52'"),
        ("bad manifest", "Cargo.toml is not valid TOML"),
        ("missing table", "cannot read "),
    ],
)
def test_build_from_a_wrong_source_is_one_clear_line(tmp_path: Path, make: str,
                                                     expected: str) -> None:
    crate = tmp_path / "crate"
    if make != "missing":
        shutil.copytree(FIXTURE, crate)
    if make == "not a crate":
        (crate / "Cargo.toml").write_text('[package]\nname = "other"\nversion = "0.8.11"\n')
    elif make == "other version":
        manifest = crate / "Cargo.toml"
        manifest.write_text(manifest.read_text().replace('"0.8.11"', '"0.9.1"'))
    elif make == "broken module":
        module = crate / "src" / "sources" / "wikidata" / "wikidata_9000007.rs"
        module.write_text(module.read_text().replace("&[Token::Literal(&[0x52", "&[Token::Literal(&[]"
                                                     "0x52", 1))
    elif make == "bad manifest":
        (crate / "Cargo.toml").write_text("[package\n")
    elif make == "missing table":
        (crate / "src" / "extensions.rs").unlink()
    if make == "missing table":
        expected += f"{crate / 'src' / 'extensions.rs'}: No such file or directory"
    out_file = tmp_path / "out.jsonl"
    out = run_kumopy("file-type", "build", "--crate-src", crate, "--out", out_file)
    assert_clear_failure(out, expected)
    assert not out_file.exists()


def test_build_to_an_unwritable_place_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = run_kumopy("file-type", "build", "-q", "--crate-src", FIXTURE,
                     "--out", blocker / "db.jsonl")
    assert_clear_failure(out, f"cannot write {blocker}")
