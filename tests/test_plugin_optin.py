"""The plugin stays in its lane: installed into a shared environment, it
collects Lua tests and case tables only in projects that opt in (an ini
option, or a conftest hook for one directory), and files named on the
command line."""

from __future__ import annotations

import textwrap

import pytest

QUIET = ("-p", "no:hypothesispytest")

POLICY = "local kumo = require 'kumo'\nkumo.on('get_queue_config', function() return 1 end)\n"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "kumopy.testing.plugin", *QUIET, *args)


@pytest.fixture
def unrelated(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with files that merely look like kumopy's: a Lua library's
    own test (which fails if run) and a TOML file named like a case file."""
    pytester.makefile(".lua", **{"vendor/lib/strings_test": "error('not a kumopy test')"})
    pytester.makefile(".kumo.toml", **{"data/test_fixtures": "[[event]]\nevent = 'x'\n"})
    pytester.makefile(".lua", init=POLICY)
    pytester.makepyfile(test_app="def test_app():\n    assert True\n")
    return pytester


def test_a_project_that_does_not_opt_in_is_left_alone(unrelated):
    # was: the vendored Lua test and the TOML file became failing test items
    result = run(unrelated)
    result.assert_outcomes(passed=1)
    assert "strings_test.lua" not in result.stdout.str()


def test_kumo_collect_opts_in(unrelated):
    unrelated.makeini("[pytest]\nkumo_collect = true\n")
    result = run(unrelated)
    result.assert_outcomes(passed=1, failed=2)


def test_a_configured_policy_opts_in(unrelated):
    unrelated.makeini("[pytest]\nkumo_policy = init.lua\n")
    run(unrelated).assert_outcomes(passed=1, failed=2)


def test_kumo_collect_false_wins_over_a_configured_policy(unrelated):
    unrelated.makeini("[pytest]\nkumo_policy = init.lua\nkumo_collect = false\n")
    unrelated.makepyfile(test_policy="def test_p(kumo_policy):\n    assert kumo_policy()\n")
    run(unrelated).assert_outcomes(passed=2)  # the fixture still works


def test_a_conftest_opts_in_one_directory(unrelated):
    unrelated.makefile(".lua", **{"policy_tests/quota_test": "function test_ok() end\n"})
    (unrelated.path / "policy_tests" / "conftest.py").write_text(
        textwrap.dedent(
            """
            def pytest_kumo_collect(file_path, config):
                return True
            """
        )
    )
    result = run(unrelated, "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*policy_tests/quota_test.lua::test_ok PASSED*"])


def test_a_conftest_can_opt_out_below_an_opted_in_project(unrelated):
    unrelated.makeini("[pytest]\nkumo_collect = true\n")
    for folder in ("vendor", "data"):
        (unrelated.path / folder / "conftest.py").write_text(
            "def pytest_kumo_collect(file_path, config):\n    return False\n"
        )
    run(unrelated).assert_outcomes(passed=1)


def test_a_file_named_on_the_command_line_is_collected(unrelated):
    result = run(unrelated, "vendor/lib/strings_test.lua")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*not a kumopy test*"])


def test_a_bad_kumo_collect_value_is_a_usage_error(unrelated):
    unrelated.makeini("[pytest]\nkumo_collect = maybe\n")
    result = run(unrelated)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*kumo_collect: invalid truth value 'maybe'; expected true or false"])


# -- fakes ---------------------------------------------------------------------


def test_an_unknown_name_in_fakes_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".lua", init=POLICY)
    pytester.makeini("[pytest]\nkumo_policy = init.lua\n")
    pytester.makepyfile(
        test_fakes=textwrap.dedent(
            """
            import pytest

            def test_typo(kumo_policy):
                with pytest.raises(ValueError, match="did you mean 'http.build_client'"):
                    kumo_policy(fakes={"http.build_clinet": lambda *a: None})

            def test_not_fakeable(kumo_policy):
                with pytest.raises(ValueError, match="kumo.json_load cannot be faked"):
                    kumo_policy(fakes={"json_load": lambda *a: None})

            def test_kumo_prefix_is_accepted(kumo_policy):
                kumo_policy(fakes={"kumo.http.build_client": lambda *a: None})
            """
        )
    )
    run(pytester).assert_outcomes(passed=3)
