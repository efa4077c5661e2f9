"""The file_type crate's signature matcher as kumopy runs it
(kumopy/_filetype/_match.py), and the reader of the crate's Rust source
(kumopy/_filetype/_rustsrc.py).

Each matcher case states what the crate's own code answers (checked by
running the crate's `ByteSequence::is_match` on the same pattern and data);
several differ from what the PRONOM pattern would mean as a regular
expression, and those differences are the point.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from kumopy._filetype._match import ByteSequence, FileTypePanic, compile_tokens, display
from kumopy._filetype._rustsrc import Call, PathRef, RustSyntaxError, Struct, const_items

_PIECE = re.compile(
    r"(?P<lit>(?:[0-9A-F]{2})+)|\?\?|\*|\{(?P<n>\d+)\}|\{(?P<lo>\d+)-(?P<hi>\d+|\*)\}"
    r"|\[(?P<neg>!?)(?P<a>[0-9A-F]+)(?::(?P<b>[0-9A-F]+))?\]|\((?P<alts>[^)]*)\)"
)


def tokens(pattern: str) -> list[Any]:
    """A PRONOM-style pattern as the data file's token lists (test helper)."""
    out: list[Any] = []
    pos = 0
    while pos < len(pattern):
        m = _PIECE.match(pattern, pos)
        assert m is not None, f"bad test pattern at {pattern[pos:]}"
        text = m.group(0)
        if m.group("lit"):
            out.append(["Literal", m.group("lit")])
        elif text == "??":
            out.append(["SingleWildcard"])
        elif text == "*":
            out.append(["AnyWildcard"])
        elif m.group("n"):
            out.append(["WildcardCount", int(m.group("n"))])
        elif m.group("lo"):
            hi = m.group("hi")
            out.append(["WildcardCountRange", int(m.group("lo")), None if hi == "*" else int(hi)])
        elif m.group("a"):
            neg = m.group("neg") == "!"
            if m.group("b"):
                out.append(["NotRange" if neg else "Range", m.group("a"), m.group("b")])
            else:
                out.append(["NotLiteral", m.group("a")])
        else:
            out.append(["Any", [tokens(alt) for alt in m.group("alts").split("|")]])
        pos = m.end()
    return out


def seq(position: str, offset: int | None, pattern: str) -> ByteSequence:
    return ByteSequence(position, offset, compile_tokens(tokens(pattern)))


CASES = [
    # (position, offset, pattern, data as hex, what the crate answers)
    ("BOF", 0, "CAFEBABE", "CAFEBABE0000", True),
    ("BOF", 0, "CAFEBABE", "CAFEBA", False),
    # an alternation commits to its first alternative that matches
    ("BOF", 0, "(01|0102)03", "010203", False),
    ("BOF", 0, "(0102|01)03", "010203", True),
    # {m-n} skips m bytes, then tries the rest at the next n indexes
    ("BOF", 0, "01{2-3}FF", "01AABBFF", True),
    ("BOF", 0, "01{2-3}FF", "01AABBCCDDFF", True),
    ("BOF", 0, "01{2-3}FF", "01AABBCCDDEEFF", False),
    ("BOF", 0, "01{2-3}FF", "01AAFF", False),
    ("BOF", 0, "01{2-*}FF", "01AABBCCDDEEEEEEFF", True),
    # ... and reports (index tried + the rest's end index) as its end
    ("BOF", 0, "({0-2}42)43", "784243", False),
    ("BOF", 0, "({0-2}42)", "7842", True),
    ("BOF", 0, "01*0203", "01FF0202FF0203", True),
    ("BOF", 0, "01*0203", "01FF0202", False),
    ("BOF", 0, "*", "", True),
    ("BOF", 10, "*", "", True),
    ("BOF", 0, "??", "", False),
    ("BOF", 0, "{2}", "01", False),
    ("BOF", 0, "{2}", "0102", True),
    ("BOF", 3, "41", "78787841", True),
    ("BOF", 0, "[30:37]", "35", True),
    ("BOF", 0, "[30:37]", "38", False),
    ("BOF", 0, "[!30:37]", "38", True),
    ("BOF", 0, "[!4142]43", "414243", False),
    ("BOF", 0, "[!4142]43", "414343", True),
    # a two-byte range compares two bytes and advances one
    ("BOF", 0, "[0000:00FF]50", "0050", True),
    # EOF: starts (pattern text length // 2 + offset) from the end
    ("EOF", 0, "4142", "78784142", True),
    ("EOF", 0, "41{2}", "78413132", False),  # "41{2}" is 5 characters: 2 back
    ("EOF", 1, "41{2}", "78413132", True),
    ("EOF", 0, "41424344", "44", False),
    ("EOF", None, "44", "4344", True),
    # Variable: anywhere from the offset on
    ("Variable", 2, "4142", "4142787841427878", True),
    ("Variable", 2, "4142", "41427878", False),
    ("Variable", None, "4142", "78784142", True),
    ("Variable", 0, "(41|42)43", "78424343", True),
]


@pytest.mark.parametrize(("position", "offset", "pattern", "data", "expected"), CASES)
def test_byte_sequences_match_as_the_crate_matches(
    position: str, offset: int | None, pattern: str, data: str, expected: bool
) -> None:
    assert seq(position, offset, pattern).is_match(bytes.fromhex(data)) is expected


def test_a_range_past_the_end_is_where_the_crate_panics() -> None:
    with pytest.raises(FileTypePanic, match="out of range"):
        seq("BOF", 0, "[0000:FFFF]").is_match(b"\x00")


def test_display_is_the_crates_pattern_text() -> None:
    pattern = "(0102|[03:04])*[!05][!06:07]??{3}{1-2}{4-*}AB"
    assert display(compile_tokens(tokens(pattern))) == pattern


def test_literal_search_finds_a_late_match_quickly() -> None:
    # 4 MiB of filler before the trailer: found with bytes.find, not byte by byte
    data = b"MZ" + b"\x00" * (4 << 20) + b"PE\x00\x00"
    assert seq("BOF", 0, "4D5A*50450000").is_match(data)
    assert not seq("BOF", 0, "4D5A*50450001").is_match(data)
    assert seq("Variable", 0, "504500").is_match(data)


# -- the Rust reader ------------------------------------------------------------

SOURCE = r"""
use crate::format::{FileFormat, SourceType};
// a comment with "quotes" and { braces
#[cfg(feature = "wikidata")]
pub(crate) const ON: FileType = FileType {
    file_format: &FileFormat {
        id: 1_000,
        name: "caf\u{e9} \"x\" \x41",
        extensions: &["a", "b"],
        offset: Some(0),
        none: None,
        max: Token::WildcardCountRange(3, usize::MAX),
        bytes: &[0x0A, 0xff, 7],
    },
};
#[cfg(feature = "pronom")]
pub(crate) const OFF: u8 = 1;
#[cfg(any(feature = "pronom", not(feature = "linguist")))]
static EITHER: &[&str] = &[
    #[cfg(feature = "pronom")]
    "pronom only",
    /* block comment */ "always",
    #[cfg(all(feature = "wikidata", feature = "httpd"))]
    "both",
];
mod tests { fn f() { let x = 1; } }
pub(crate) static MAP: phf::Map<u64, &'static [&'static FileType]> = ::phf::Map {
    key: 16287231350648472473,
    entries: &[(66, &[&wikidata::WIKIDATA_1]), (0u64, &[])],
};
"""


def test_const_items_reads_the_crates_subset_of_rust() -> None:
    items = const_items(SOURCE, "x.rs", ["wikidata", "httpd"])
    assert set(items) == {"ON", "EITHER", "MAP"}
    fields = items["ON"].fields["file_format"].fields
    assert items["ON"] == Struct("FileType", {"file_format": Struct("FileFormat", fields)})
    assert fields["id"] == 1000
    assert fields["name"] == 'café "x" A'
    assert fields["extensions"] == ["a", "b"]
    assert fields["offset"] == Call("Some", [0])
    assert fields["none"] == PathRef("None")
    assert fields["max"] == Call("Token::WildcardCountRange", [3, PathRef("usize::MAX")])
    assert fields["bytes"] == [10, 255, 7]
    assert items["EITHER"] == ["always", "both"]
    assert items["MAP"].fields["entries"] == [(66, [PathRef("wikidata::WIKIDATA_1")]), (0, [])]
    assert const_items(SOURCE, "x.rs", ["pronom"])["EITHER"] == ["pronom only", "always"]


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("const A: u8 = 1", 1, "unexpected end of file"),
        ("const A: u8 =\n  [1 2];", 2, "expected ',', found '2'"),
        ('const A: &str = "\\q";', 1, "unknown escape \\q in a string"),
        ("const A: u8 = 1;\nconst B: u8 = `;", 2, "unexpected character '`'"),
        ("const A: S = S { a: 1, a: 2 };", 1, "field a given twice"),
    ],
)
def test_const_items_names_the_line_it_cannot_read(source: str, line: int, message: str) -> None:
    with pytest.raises(RustSyntaxError) as info:
        const_items(source, "bad.rs", [])
    assert (info.value.path, info.value.line, info.value.detail) == ("bad.rs", line, message)
