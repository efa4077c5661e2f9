"""Isolation: the leaked-global check and fresh-state-per-event mode, in
Policy itself and through the plugin's options, markers and fixture."""

from __future__ import annotations

import textwrap

import pytest

from kumopy import PolicyError
from kumopy.testing import GlobalLeakError

QUIET = ("-p", "no:hypothesispytest")

LEAKY = """\
local kumo = require 'kumo'
local seen = {}

kumo.on('init', function()
  configured = true
end)

kumo.on('get_queue_config', function(domain)
  seen[domain] = true            -- a local table: fine
  last_domain = domain           -- a new global
  return { domain = domain }
end)

kumo.on('get_egress_pool', function(name)
  return last_domain             -- relies on a global another event set
end)

kumo.on('smtp_client_rewrite_delivery_status', function(response)
  rewritten = response
  return 550
end)

kumo.on('main', function()
  script_global = 1
end)
"""


# -- Policy -------------------------------------------------------------------


def test_policy_reports_the_global_the_event_and_the_line(load):
    policy = load(LEAKY, check_globals=True)
    with pytest.raises(GlobalLeakError) as info:
        policy.call("get_queue_config", "a.example")
    error = info.value
    assert error.names == ("last_domain",)
    assert error.event == "get_queue_config"
    assert error.file.endswith("init.lua") and error.line == 10
    assert error.handler.endswith("init.lua:8")
    assert "created the global variable 'last_domain' while handling the event" in str(error)
    assert isinstance(error, PolicyError)


def test_check_is_off_by_default_and_allows_listed_names(load):
    assert load(LEAKY).call("get_queue_config", "a.example") == {"domain": "a.example"}
    policy = load(LEAKY, check_globals=True, allowed_globals=["last_domain"])
    assert policy.call("get_queue_config", "a.example") == {"domain": "a.example"}


def test_top_level_globals_and_main_are_not_leaks(load):
    policy = load("TOP = 1\n" + LEAKY, check_globals=True)
    policy.run_script()
    assert policy.state.get_global("script_global") == 1


def test_init_is_checked_too(load):
    with pytest.raises(GlobalLeakError, match="'configured'"):
        load(LEAKY, check_globals=True).call("init")


def test_assigning_an_existing_global_is_not_a_leak(load):
    policy = load(
        "counter = 0\nkumo.on('x', function() counter = counter + 1 return counter end)",
        check_globals=True,
    )
    assert policy.call("x") == 1


def test_rewrite_delivery_status_does_not_swallow_the_leak(load):
    policy = load(LEAKY, check_globals=True)
    with pytest.raises(GlobalLeakError, match="'rewritten'"):
        policy.rewrite_delivery_status("451 later")


def test_several_globals_in_one_handler(load):
    policy = load("kumo.on('x', function() a = 1; b = 2; a2 = 3 end)", check_globals=True)
    with pytest.raises(GlobalLeakError) as info:
        policy.call("x")
    assert info.value.names == ("a", "b", "a2")
    assert "variables 'a', 'b', 'a2'" in str(info.value)


def test_setup_state_runs_before_the_policy_on_every_state(load):
    seen = []

    def setup(state):
        seen.append(state)
        state.set_global("INJECTED", "yes")

    policy = load(
        "local v = INJECTED\nkumo.on('x', function() return v end)",
        setup_state=setup,
        fresh_state_per_event=True,
    )
    assert policy.call("x") == "yes"
    assert policy.call("x") == "yes"
    assert len(seen) == 3


def test_last_call_is_the_latest_dispatch(load):
    policy = load("kumo.on('x', function(a) return a * 2 end)")
    assert policy.last_call is None
    policy.call("x", 21)
    assert policy.last_call is not None and policy.last_call.value == 42
    assert repr(policy).startswith("<Policy '") and "init.lua" in repr(policy)


# -- through the plugin ------------------------------------------------------


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "kumopy.testing.plugin", *QUIET, *args)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".lua", init=LEAKY)
    pytester.makeini("[pytest]\nkumo_policy = init.lua\n")
    pytester.makepyfile(
        test_leak=textwrap.dedent(
            """
            import pytest

            def test_queue(kumo_policy):
                result = kumo_policy().call("get_queue_config", "a.example")
                assert result == {"domain": "a.example"}

            @pytest.mark.kumo_allow_globals
            def test_marker_off(kumo_policy):
                kumo_policy().call("get_queue_config", "a.example")

            @pytest.mark.kumo_allow_globals("last_domain")
            def test_marker_names(kumo_policy):
                kumo_policy().call("get_queue_config", "a.example")

            def test_fixture_argument(kumo_policy):
                kumo_policy(check_globals=False).call("get_queue_config", "a.example")
            """
        )
    )
    return pytester


def test_leak_check_is_on_by_default_and_names_global_event_and_line(project):
    result = run(project)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*GlobalLeakError: *init.lua:10: the handler for 'get_queue_config' (defined at "
            "*init.lua:8) created the global variable 'last_domain' while handling the event; "
            "kumod runs events in a pool of Lua states*",
            "E *> 10 |   last_domain = domain           -- a new global",
        ]
    )


def test_leak_check_opt_out_by_ini_and_flag(project):
    run(project, "--kumo-no-check-globals").assert_outcomes(passed=4)
    project.makeini("[pytest]\nkumo_policy = init.lua\nkumo_check_globals = false\n")
    run(project).assert_outcomes(passed=4)
    project.makeini("[pytest]\nkumo_policy = init.lua\nkumo_allowed_globals = last_domain\n")
    run(project).assert_outcomes(passed=4)


def test_leak_check_in_case_files(project):
    project.makefile(
        ".kumo.toml",
        test_cases=textwrap.dedent(
            """
            [[event]]
            event = "get_queue_config"
            args = ["a.example"]
            returns = { domain = "a.example" }
            """
        ),
        test_unchecked=textwrap.dedent(
            """
            check_globals = false

            [[event]]
            event = "get_queue_config"
            args = ["a.example"]
            returns = { domain = "a.example" }
            """
        ),
    )
    result = run(project, "test_cases.kumo.toml", "test_unchecked.kumo.toml")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*init.lua:10: the handler for 'get_queue_config' (defined at *) created the global*"]
    )


FRESH_TESTS = """
import pytest

def test_shared_state(kumo_policy):
    policy = kumo_policy(check_globals=False)
    policy.call("get_queue_config", "a.example")
    assert policy.call("get_egress_pool", "p") == "a.example"
"""


def test_fresh_state_exposes_reliance_on_earlier_events(project):
    project.makepyfile(test_leak=FRESH_TESTS)
    run(project).assert_outcomes(passed=1)
    run(project, "--kumo-fresh-state").assert_outcomes(failed=1)
    project.makeini("[pytest]\nkumo_policy = init.lua\nkumo_fresh_state = true\n")
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert None == 'a.example'*"])


def test_fresh_state_by_marker_and_fixture_argument(project):
    project.makepyfile(
        test_leak=FRESH_TESTS
        + textwrap.dedent(
            """
            @pytest.mark.kumo_fresh_state
            def test_marker(kumo_policy):
                policy = kumo_policy(check_globals=False)
                policy.call("get_queue_config", "a.example")
                assert policy.call("get_egress_pool", "p") is None

            @pytest.mark.kumo_fresh_state(False)
            def test_marker_off(kumo_policy):
                policy = kumo_policy(check_globals=False)
                assert policy.fresh_state_per_event is False

            def test_argument(kumo_policy):
                policy = kumo_policy(check_globals=False, fresh_state_per_event=True)
                policy.call("get_queue_config", "a.example")
                assert policy.call("get_egress_pool", "p") is None
            """
        )
    )
    run(project).assert_outcomes(passed=4)


def test_fresh_state_in_case_files(project):
    project.makefile(
        ".kumo.toml",
        test_cases=textwrap.dedent(
            """
            fresh_state = true
            check_globals = false

            [[event]]
            event = "get_queue_config"
            args = ["a.example"]
            returns = { domain = "a.example" }

            [[event]]
            event = "get_egress_pool"
            args = ["p"]
            returns_nil = true
            """
        ),
    )
    run(project, "test_cases.kumo.toml").assert_outcomes(passed=2)


def test_leaks_from_lua_tests_fire(project):
    project.makefile(
        ".lua",
        leak_test=textwrap.dedent(
            """
            local t = require 'kumopy.testing'
            t.load_policy()
            helper_global = 1   -- a test file's own globals are fine

            function test_fire()
              t.fire('get_queue_config', 'a.example')
            end
            """
        ),
    )
    result = run(project, "leak_test.lua")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            # one position: the assignment; the test's own line is in the traceback
            "init.lua:10: the handler for 'get_queue_config' (defined at "
            "init.lua:8) created the global variable 'last_domain'*",
            "  leak_test.lua:6: in function 'test_fire'",
        ]
    )
