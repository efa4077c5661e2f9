"""Keys of the harness state kept in pytest's stashes."""

from __future__ import annotations

import pytest

from ._coverage import LuaCoverage
from ._harness import PolicyFactory
from ._settings import KumoSettings

__all__ = ["COVERAGE_KEY", "FACTORY_KEY", "SETTINGS_KEY"]

SETTINGS_KEY = pytest.StashKey[KumoSettings]()
COVERAGE_KEY = pytest.StashKey[LuaCoverage | None]()
FACTORY_KEY = pytest.StashKey[PolicyFactory]()
