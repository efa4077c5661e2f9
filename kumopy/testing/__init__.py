"""Testing KumoMTA policies with pytest.

Installing kumopy installs the pytest plugin (`kumopy.testing.plugin`):
the `kumo_policy`, `kumo_clock`, `kumo_logs`, `kumo_calls`, `kumo_http` and
`kumo_smtp_server` fixtures, `test_*.kumo.toml` case files and `*_test.lua`
Lua tests (collected in projects that opt in), the leaked-global check and
Lua line coverage.  This module
holds what tests import: the assertion helpers, the types of the fixtures,
and the helpers for the fake resolver, fakes and spawned tasks.  See
docs/testing.md and docs/library.md.
"""

from __future__ import annotations

from .._clock import FakeClock
from .._errors import GlobalLeakError
from .._kumo.dns import MailExchanger, resolve_mx
from .._kumo.fakes import FakeObject
from .._kumo.tasks import SpawnedTask, run_spawned_tasks, spawned_tasks
from ._asserts import (
    KumoAssertionError,
    assert_event,
    assert_raises_in_event,
    assert_rewrite,
)
from ._coverage import FileCoverage, LuaCoverage
from ._harness import KumoCall, KumoCalls, KumoLogs, PolicyFactory

__all__ = [
    "FakeClock",
    "FakeObject",
    "FileCoverage",
    "GlobalLeakError",
    "KumoAssertionError",
    "KumoCall",
    "KumoCalls",
    "KumoLogs",
    "LuaCoverage",
    "MailExchanger",
    "PolicyFactory",
    "SpawnedTask",
    "assert_event",
    "assert_raises_in_event",
    "assert_rewrite",
    "resolve_mx",
    "run_spawned_tasks",
    "spawned_tasks",
]
