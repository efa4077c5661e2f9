"""Lua tests: *_test.lua files collected and run as pytest items."""

from __future__ import annotations

import textwrap

import pytest

QUIET = ("-p", "no:hypothesispytest")

POLICY = """\
local kumo = require 'kumo'
local helpers = require 'helpers'

local get_rules = kumo.memoize(function()
  kumo.log_info('loading rules')
  return kumo.json_load('/opt/kumomta/etc/policy/rules.json')
end, { name = 'rules', ttl = '5 minutes', capacity = 1 })

kumo.on('smtp_client_rewrite_delivery_status', function(response)
  return get_rules()[helpers.prefix(response)]
end)

kumo.on('get_queue_config', function(domain)
  if domain == 'broken.example' then
    error('no queue for ' .. domain)
  end
  return { domain = domain }
end)
"""

HELPERS = """\
local mod = {}

function mod.prefix(response)
  return response:sub(1, 9)
end

function mod:test()
  assert(mod.prefix('452 4.2.2 full') == '452 4.2.2')
end

return mod
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # these projects opt in to collection (test_plugin_optin.py tests the rule)
    return pytester.runpytest("-p", "kumopy.testing.plugin", "-o", "kumo_collect=true", *QUIET,
                              *args)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".lua", **{"policy/init": POLICY, "policy/helpers": HELPERS})
    pytester.makefile(".json", **{"policy/rules": '{"452 4.2.2": 552}'})
    pytester.makeini(
        "[pytest]\nkumo_policy = policy/init.lua\n"
        "kumo_path_map = /opt/kumomta/etc/policy=policy\n"
    )
    return pytester


def lua(pytester: pytest.Pytester, name: str, source: str) -> None:
    pytester.makefile(".lua", **{name: textwrap.dedent(source)})


def test_each_test_function_is_an_item_in_definition_order(project):
    lua(
        project,
        "rules_test",
        """
        local t = require 'kumopy.testing'
        t.load_policy()

        function test_over_quota()
          local code, line = t.rewrite('452 4.2.2 Mailbox full')
          assert(code == 552)
          t.eq(line, '552 4.2.2 Mailbox full (kumomta: status was rewritten from 452 -> 552)')
        end

        function test_a_queue()
          t.eq(t.fire('get_queue_config', 'a.example'), { domain = 'a.example' })
        end

        local function not_a_test() error('never run') end
        helper_value = 1
        """,
    )
    result = run(project, "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["rules_test.lua::test_over_quota PASSED*", "rules_test.lua::test_a_queue PASSED*"]
    )


def test_a_failed_assert_reports_lua_file_line_source_and_traceback(project):
    lua(
        project,
        "rules_test",
        """
        local t = require 'kumopy.testing'
        t.load_policy()

        local function check(code)
          assert(code == 550, 'expected 550, got ' .. tostring(code))
        end

        function test_unknown_user_bounces()
          local code = t.rewrite('452 4.2.2 Mailbox full')
          check(code)
        end
        """,
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_unknown_user_bounces _*",
            "rules_test.lua:5: expected 550, got 552",
            "    4 | local function check(code)",
            "  > 5 |   assert(code == 550, 'expected 550, got ' .. tostring(code))",
            "    6 | end",
            "Lua traceback:",
            "  [[]C]: in function 'assert'",
            "  rules_test.lua:5: in *'check'",
            "  rules_test.lua:10: in function 'test_unknown_user_bounces'",
            "*Captured kumo log call*",
            "INFO policy/init.lua:5: loading rules",
        ]
    )
    result.stdout.fnmatch_lines(
        ["FAILED rules_test.lua::test_unknown_user_bounces - rules_test.lua:5: expected*"]
    )
    assert "Traceback (most recent call last)" not in result.stdout.str()
    assert "_luatests.py" not in result.stdout.str()


def test_error_values_and_helpers_failures(project):
    lua(
        project,
        "helpers_test",
        """
        local t = require 'kumopy.testing'
        t.load_policy()

        function test_eq_diff()
          t.eq({ a = 1, b = { 1, 2 } }, { a = 1, b = { 1, 3 } })
        end

        function test_handler_error()
          t.fire('get_queue_config', 'broken.example')
        end

        function test_plain_error()
          error({ code = 1 })
        end
        """,
    )
    result = run(project)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "helpers_test.lua:5: expected {'a': 1, 'b': [[]1, 3]}, got {'a': 1, 'b': [[]1, 2]}",
            "diff (- expected, + actual):",
            "*  'b': [[]1,",
            "  -        3]}",
            "  +        2]}",
        ]
    )
    result.stdout.fnmatch_lines(
        # one position (the handler's line); the test's line is in the traceback
        ["*policy/init.lua:15: no queue for broken.example*", "*helpers_test.lua:9: in function*"]
    )
    result.stdout.fnmatch_lines(["helpers_test.lua:13: table: 0x*"])


def test_module_test_method_main_handler_and_script(project):
    lua(project, "helpers_test", "return require 'helpers'")
    lua(
        project,
        "script_test",
        """
        local kumo = require 'kumo'
        assert(kumo.json_parse('[1]')[1] == 1)
        """,
    )
    lua(
        project,
        "main_test",
        """
        local kumo = require 'kumo'
        kumo.on('main', function(...)
          assert(select('#', ...) == 0)
          kumo.log_info('main ran')
        end)
        """,
    )
    lua(project, "broken_test", "local x = 1\nassert(x == 2, 'top level failed')\n")
    result = run(project, "-v")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "helpers_test.lua::mod:test PASSED*",
            "script_test.lua::script PASSED*",
            "main_test.lua::main PASSED*",
            "broken_test.lua::script FAILED*",
            "broken_test.lua:2: top level failed",
        ]
    )


def test_clock_logs_map_and_skip_helpers(pytester):
    pytester.makefile(
        ".lua",
        init="""
        local kumo = require 'kumo'
        local f = kumo.memoize(function()
          kumo.log_warn('load')
          return kumo.json_load('/etc/data.json')
        end, { name = 'x', ttl = '1 minute', capacity = 1 })
        kumo.on('get_egress_pool', function() return f().pool end)
        """,
    )
    pytester.makefile(".json", data='{"pool": "p1"}')
    lua(
        pytester,
        "clock_test",
        """
        local t = require 'kumopy.testing'
        t.map('/etc/data.json', 'data.json')
        t.load_policy('init.lua')

        function test_memoize_expires()
          t.fire('get_egress_pool')
          t.fire('get_egress_pool')
          t.eq(#t.logs(), 1)
          t.advance('61s')
          t.eq(t.fire('get_egress_pool'), 'p1')
          local logs = t.logs()
          t.eq(#logs, 2)
          t.eq(logs[2].level, 'WARNING')
          t.eq(logs[2].message, 'load')
        end

        function test_skipped()
          t.skip('needs a DNS fake')
        end
        """,
    )
    result = run(pytester, "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED [[]1] clock_test.lua:17: needs a DNS fake"])


def test_load_policy_without_a_configured_policy(pytester):
    lua(pytester, "x_test", "require('kumopy.testing').load_policy()\nfunction test_x() end\n")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*x_test.lua:1: load_policy(): no path given and no kumo_policy ini option*"]
    )


def test_lua_test_file_patterns_are_configurable(pytester):
    lua(pytester, "checks", "function test_one() end\nfunction test_two() end\n")
    lua(pytester, "not_collected_test", "error('must not run')")
    pytester.makeini("[pytest]\nkumo_lua_tests = checks.lua\n")
    result = run(pytester, "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["checks.lua::test_one PASSED*", "checks.lua::test_two PASSED*"])


def test_each_item_runs_in_a_fresh_process(pytester):
    lua(
        pytester,
        "state_test",
        """
        counter = 0
        function test_first() counter = counter + 1; assert(counter == 1) end
        function test_second() counter = counter + 1; assert(counter == 1) end
        """,
    )
    run(pytester).assert_outcomes(passed=2)


def test_fire_of_a_misspelt_event_fails_the_test(project):
    lua(
        project,
        "typo_test",
        """
        local t = require 'kumopy.testing'
        t.load_policy()

        function test_typo()
          local v = t.fire('get_queue_confg', 'nil.example')
          assert(v == nil)
        end
        """,
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "typo_test.lua:5: 'get_queue_confg' is not an event KumoMTA fires and the policy "
            "registers no handler for it (did you mean 'get_queue_config'?)",
        ]
    )
