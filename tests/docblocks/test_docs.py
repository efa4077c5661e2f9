"""Every code block in README.md and docs/*.md runs, and shows what it prints.

One test per block, in page order; the blocks of a page share a working
directory and a Python namespace, as they would for a reader following the
page. See `_blocks.py` for the directives a page can give its blocks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ._blocks import Block, parse_blocks
from ._session import REPO, PageSession, apply_updates

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _cases() -> list[object]:
    cases: list[object] = []
    for page in PAGES:
        for block in parse_blocks(page):
            if block.kind == "none":
                continue
            name = f"{page.relative_to(REPO)}:{block.line}:{block.lang}"
            cases.append(pytest.param(block, id=name))
    return cases


@pytest.fixture(scope="module")
def sessions() -> Iterator[dict[Path, PageSession]]:
    pages: dict[Path, PageSession] = {}
    yield pages
    for page, session in pages.items():
        if session.updates:
            apply_updates(page, session.updates)


def _session(sessions: dict[Path, PageSession], block: Block, factory: pytest.TempPathFactory) -> PageSession:
    session = sessions.get(block.page)
    if session is None:
        workdir = factory.mktemp(block.page.stem)
        session = sessions[block.page] = PageSession(block.page, workdir)
    return session


@pytest.mark.parametrize("block", _cases())
def test_block(
    block: Block, sessions: dict[Path, PageSession], tmp_path_factory: pytest.TempPathFactory
) -> None:
    if block.kind == "skip":
        pytest.skip(f"{block.where}: {block.directives['skip']}")
    session = _session(sessions, block, tmp_path_factory)
    needed = block.directives.get("requires")
    if needed and not os.environ.get(needed):
        # only this block: a later block that needs it says so itself
        pytest.skip(f"{block.where} needs ${needed}")
    session.run(block)


def test_every_page_is_collected() -> None:
    names = {p.name for p in PAGES}
    assert {"README.md", "index.md", "cli.md", "testing.md"} <= names
