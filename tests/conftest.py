from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kumopy import FakeClock, Policy

REPO = Path(__file__).resolve().parent.parent
POLICIES = REPO / "policies"

PolicyFactory = Callable[..., Policy]


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a (dedented) file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return _write


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def load(write: Callable[[str, str], Path], clock: FakeClock) -> PolicyFactory:
    """Write a policy as init.lua and load it (fake clock, output captured)."""

    def _load(source: str, name: str = "init.lua", **options: Any) -> Policy:
        path = write(name, source)
        options.setdefault("clock", clock)
        options.setdefault("capture_output", True)
        return Policy.load(path, **options)

    return _load
