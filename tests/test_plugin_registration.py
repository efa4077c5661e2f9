"""The plugin loads once, whether through its entry point, `-p`, or both."""

from __future__ import annotations

import os
import textwrap

import pytest

QUIET = ("-p", "no:hypothesispytest")

CASES = """\
[[event]]
event = "x"
returns = 1

[[event]]
event = "get_queue_config"
handled = false
"""


@pytest.fixture
def installed(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project run in a subprocess where a distribution declares the
    plugin's `pytest11` entry point, as `pip install kumopy` does."""
    dist = pytester.mkdir("site") / "kumopy_entry_point-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: kumopy-entry-point\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text("[pytest11]\nkumopy = kumopy.testing.plugin\n")
    paths = [str(pytester.path / "site"), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    pytester.makefile(".lua", init="kumo.on('x', function() return 1 end)")
    pytester.makeini("[pytest]\nkumo_policy = init.lua\n")
    pytester.makefile(".kumo.toml", test_cases=CASES)
    pytester.makepyfile(
        test_fixture=textwrap.dedent(
            """
            def test_fixture(kumo_policy):
                assert kumo_policy().call("x") == 1
            """
        )
    )
    return pytester


def test_entry_point_alone(installed):
    result = installed.runpytest_subprocess(*QUIET)
    result.assert_outcomes(passed=3)


def test_entry_point_and_dash_p_do_not_register_twice(installed):
    result = installed.runpytest_subprocess(*QUIET, "-p", "kumopy.testing.plugin")
    result.assert_outcomes(passed=3)  # the case file is collected once, not twice
    assert "already registered" not in result.stderr.str()


def test_entry_point_name_with_autoload_disabled(installed, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = installed.runpytest_subprocess("-p", "kumopy")
    result.assert_outcomes(passed=3)


def test_entry_point_can_be_disabled(installed):
    result = installed.runpytest_subprocess(*QUIET, "-p", "no:kumopy")
    result.assert_outcomes(errors=1)  # no kumo_policy fixture; the case file is not collected
    result.stdout.fnmatch_lines(["*fixture 'kumo_policy' not found*"])
