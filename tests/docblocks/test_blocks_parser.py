"""The doc-block parser and output comparison themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._blocks import DirectiveError, parse_blocks
from ._session import compare_output


def test_blocks_languages_and_directives(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "# T\n\n```sh\necho hi\n```\n\n```text\nhi\n```\n\n"
        "<!-- doc: file=init.lua -->\n```lua\nprint(1)\n```\n\n"
        "```\nkumopy call POLICY EVENT\n```\n\n"
        "<!-- doc: exit=1 -->\n\n```sh\nfalse\n```\n"
    )
    blocks = parse_blocks(page)
    assert [(b.line, b.lang, b.kind) for b in blocks] == [
        (3, "sh", "run"),
        (7, "text", "output"),
        (12, "lua", "file"),
        (16, "", "none"),
        (22, "sh", "run"),
    ]
    assert blocks[2].directives == {"file": "init.lua"}
    assert blocks[4].directives == {"exit": "1"}


def test_a_text_block_is_output_only_right_after_a_runnable_block(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "```sh\necho a\n```\n\nprints\n\n```text\na\n```\n\n"
        "```text\nan illustration\n```\n\n"
        "```sh\necho b\n```\n\n## Heading\n\n```text\nnot output\n```\n"
    )
    kinds = [b.kind for b in parse_blocks(page)]
    assert kinds == ["run", "output", "none", "run", "none"]


def test_a_directive_separated_by_prose_does_not_apply(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("<!-- doc: exit=1 -->\nsome prose\n\n```sh\ntrue\n```\n")
    assert parse_blocks(page)[0].directives == {}


def test_unknown_directive_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("<!-- doc: exitt=1 -->\n```sh\ntrue\n```\n")
    with pytest.raises(DirectiveError, match="exitt"):
        parse_blocks(page)


def test_unclosed_fence_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("```sh\ntrue\n")
    with pytest.raises(DirectiveError, match="unclosed"):
        parse_blocks(page)


@pytest.mark.parametrize(
    ("shown", "produced", "same"),
    [
        ("a\nb\n", "a\nb\n", True),
        ("a\nb\n", "a\nc\n", False),
        ("a\n...\nz\n", "a\nb\nc\nz\n", True),
        ("a\n...\nz\n", "a\nz\n", True),
        ("a\n...\nz\n", "a\nb\n", False),
        ("a  \n\n", "\na\n", True),
        ("  ...\nz\n", "x\nz\n", True),
        ("took [...] s (1 job)\n", "took 0.18 s (1 job)\n", True),
        ("took [...] s (1 job)\n", "took 0.18 s (2 jobs)\n", False),
    ],
)
def test_compare_output(tmp_path: Path, shown: str, produced: str, same: bool) -> None:
    assert (compare_output(shown, produced, tmp_path) is None) is same


def test_workdir_is_shown_relative(tmp_path: Path) -> None:
    assert compare_output("out.json\n", f"{tmp_path}/out.json\n", tmp_path) is None
