"""Hooks the kumopy plugin adds to pytest (registered by `plugin.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.hookspec(firstresult=True)
def pytest_kumo_collect(file_path: Path, config: pytest.Config) -> bool | None:
    """Whether the plugin collects `file_path`, a Lua test file or a case
    table, overriding the `kumo_collect` decision for the directories a
    conftest.py implementing it applies to (True: collect, False: leave the
    file alone, None: no opinion)."""
    return None
