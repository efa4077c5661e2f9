"""Table-driven cases: test_*.kumo.toml / test_*.kumo.yaml files."""

from __future__ import annotations

import textwrap

import pytest

QUIET = ("-p", "no:hypothesispytest")

POLICY = """\
local kumo = require 'kumo'

local get_rules = kumo.memoize(function()
  kumo.log_info('loading rules')
  return kumo.json_load('/opt/kumomta/etc/policy/rules.json')
end, { name = 'rules', ttl = '5 minutes', capacity = 1 })

kumo.on('smtp_client_rewrite_delivery_status', function(response, domain, tenant)
  if tenant == 'broken' then
    error('tenant ' .. tenant .. ' has no rules')
  end
  for prefix, code in pairs(get_rules()) do
    if response:sub(1, #prefix) == prefix then
      return code
    end
  end
end)

kumo.on('get_queue_config', function(domain, tenant)
  if domain == 'broken.example' then
    error('no queue for ' .. domain)
  end
  if domain == 'nil.example' then
    return nil
  end
  return { domain = domain, tenant = tenant, retry = { 60, 120 } }
end)

kumo.on('get_egress_pool', function(name)
  return name, 'second'
end)
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # these projects opt in to collection (test_plugin_optin.py tests the rule)
    return pytester.runpytest("-p", "kumopy.testing.plugin", "-o", "kumo_collect=true", *QUIET,
                              *args)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".lua", **{"policy/init": POLICY})
    pytester.makefile(".json", **{"policy/rules": '{"452 4.2.2": 552, "450 4.1.1": 550}'})
    return pytester


def cases(pytester: pytest.Pytester, text: str, name: str = "test_rules") -> None:
    pytester.makefile(".kumo.toml", **{name: textwrap.dedent(text)})


HEADER = """\
policy = "policy/init.lua"

[path_map]
"/opt/kumomta/etc/policy" = "policy"
"""


def test_every_case_is_an_item_with_a_readable_id(project):
    cases(
        project,
        HEADER
        + textwrap.dedent("""
        [[rewrite]]
        response = "452 4.2.2 Mailbox full"
        code = 552

        [[rewrite]]
        name = "unknown user"
        response = "450 4.1.1 <a@b>: unknown"
        queue = "campaign:tenant@example.com"
        code = 550
        line = "550 4.1.1 <a@b>: unknown (kumomta: status was rewritten from 450 -> 550)"

        [[rewrite]]
        response = "421 4.7.0 try later"
        unchanged = true

        [[event]]
        event = "get_queue_config"
        args = ["a.example", "t"]
        returns = { domain = "a.example", tenant = "t", retry = [60, 120] }

        [[event]]
        event = "get_queue_config"
        args = ["nil.example"]
        returns_nil = true

        [[event]]
        event = "get_egress_pool"
        args = ["p"]
        values = ["p", "second"]

        [[event]]
        event = "get_listener_domain"
        handled = false

        [[event]]
        name = "nil arguments"
        event = "get_queue_config"
        args = ["n.example"]
        nil_args = [2]
        returns = { domain = "n.example", retry = [60, 120] }

        [[event]]
        name = "a broken domain raises"
        event = "get_queue_config"
        args = ["broken.example"]
        raises = "no queue for broken"

        [[rewrite]]
        response = "452 4.2.2 x"
        queue = "broken@example.com"
        raises = "has no rules"
        """),
    )
    result = run(project, "-v")
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines_random(
        [
            "test_rules.kumo.toml::452 4.2.2 Mailbox full PASSED*",
            "test_rules.kumo.toml::unknown user PASSED*",
            "test_rules.kumo.toml::421 4.7.0 try later PASSED*",
            "test_rules.kumo.toml::get_queue_config('a.example', 't') PASSED*",
            "test_rules.kumo.toml::get_listener_domain() PASSED*",
            "test_rules.kumo.toml::a broken domain raises PASSED*",
        ]
    )


def test_a_failing_case_shows_its_location_and_a_precise_diff(project):
    cases(
        project,
        HEADER
        + textwrap.dedent("""
        [[rewrite]]
        response = "452 4.2.2 Mailbox full"
        code = 552

        [[rewrite]]
        name = "wrong suffix"
        response = "452 4.2.2 Mailbox full"
        line = "552 4.2.2 Mailbox full (kumomta: status was rewritten from 452 -> 553)"

        [[event]]
        event = "get_queue_config"
        args = ["a.example"]
        returns = { domain = "b.example", retry = [60, 120] }
        """),
    )
    result = run(project)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ [[][[]rewrite]] wrong suffix _*",
            "test_rules.kumo.toml:10: [[][[]rewrite]] case 'wrong suffix'",
            "rewrite of '452 4.2.2 Mailbox full' gave a different line",
            "  handler:  policy/init.lua:8 returned 552",
            "  diff (- expected, + result):",
            "    - 552 4.2.2 Mailbox full (kumomta: status was rewritten from 452 -> 553)",
            "    ?                                                                     ^",
            "    + 552 4.2.2 Mailbox full (kumomta: status was rewritten from 452 -> 552)",
            "    ?                                                                     ^",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "test_rules.kumo.toml:15: [[][[]event]] case \"get_queue_config('a.example')\"",
            "event 'get_queue_config' returned an unexpected value",
            "  diff (- expected, + returned):",
            "    - {'domain': 'b.example',",
            "    + {'domain': 'a.example',",
            "*last line the handler's file ran: policy/init.lua:26",
        ]
    )


def test_policy_and_map_default_to_the_ini_options(project):
    project.makeini(
        "[pytest]\nkumo_policy = policy/init.lua\n"
        "kumo_path_map = /opt/kumomta/etc/policy=policy\n"
    )
    project.mkdir("cases")
    cases(
        project,
        """
        [[rewrite]]
        response = "452 4.2.2 Mailbox full"
        code = 552
        """,
        name="cases/test_defaults",
    )
    run(project).assert_outcomes(passed=1)


def test_paths_in_the_file_are_relative_to_the_file(project):
    project.mkdir("cases")
    cases(
        project,
        """
        policy = "../policy/init.lua"
        share_dir = "../share"

        [path_map]
        "/opt/kumomta/etc/policy" = "../policy"

        [[rewrite]]
        response = "450 4.1.1 x"
        code = 550
        """,
        name="cases/test_relative",
    )
    run(project).assert_outcomes(passed=1)


def test_cases_share_one_policy_and_clock_and_check_logs(project):
    cases(
        project,
        HEADER
        + textwrap.dedent("""
        [[rewrite]]
        response = "452 4.2.2 first"
        code = 552
        logged = "loading rules"

        [[rewrite]]
        response = "452 4.2.2 cached"
        code = 552
        not_logged = ["loading rules"]

        [[rewrite]]
        response = "452 4.2.2 after the ttl"
        advance = "5 minutes"
        code = 552
        logged = ["loading rules"]

        [[rewrite]]
        name = "expects a log that is not there"
        response = "452 4.2.2 cached again"
        code = 552
        logged = "loading rules"
        """),
    )
    result = run(project)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*expected a log message containing 'loading rules'; the case logged:",
            "  (nothing was logged)",
        ]
    )


def test_skip_xfail_and_duplicate_ids(project):
    cases(
        project,
        HEADER
        + textwrap.dedent("""
        [[rewrite]]
        response = "452 4.2.2 x"
        code = 552

        [[rewrite]]
        response = "452 4.2.2 x"
        code = 552

        [[rewrite]]
        response = "452 4.2.2 y"
        code = 552
        skip = "not today"

        [[rewrite]]
        response = "452 4.2.2 z"
        code = 500
        xfail = "known difference"
        """),
    )
    result = run(project, "-v", "-rs")
    result.assert_outcomes(passed=2, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines_random(
        [
            "test_rules.kumo.toml::452 4.2.2 x PASSED*",
            "test_rules.kumo.toml::452 4.2.2 x #2 PASSED*",
            "SKIPPED [[]1] test_rules.kumo.toml: not today",
        ]
    )


def test_malformed_cases_fail_with_a_message(project):
    cases(
        project,
        HEADER
        + textwrap.dedent("""
        [[rewrite]]
        response = "452 4.2.2 x"
        cdoe = 552

        [[rewrite]]
        response = "452 4.2.2 x"

        [[event]]
        args = ["x"]
        returns = 1

        [[rewrite]]
        response = "abc"
        code = 1
        """),
    )
    result = run(project)
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines_random(
        [
            "unknown key(s) cdoe in a [[][[]rewrite]] case; expected *code*",
            "a [[][[]rewrite]] case needs `code`, `line`, `unchanged` or `raises`",
            "an [[][[]event]] case needs `event`, the event name",
            "response 'abc' is not an SMTP reply: *",
        ]
    )


def test_a_case_naming_a_misspelt_event_fails(project):
    # was: passed (no handler -> nil, which equals returns_nil)
    cases(
        project,
        HEADER
        + textwrap.dedent("""
        [[event]]
        event = "get_queue_confg"
        args = ["nil.example"]
        returns_nil = true

        [[event]]
        event = "get_queue_config"
        args = ["nil.example"]
        returns_nil = true
        """),
    )
    result = run(project)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_rules.kumo.toml:6: [[][[]event]] case *get_queue_confg(*)*",
            "'get_queue_confg' is not an event KumoMTA fires and the policy registers no "
            "handler for it (did you mean 'get_queue_config'?)",
        ]
    )


def test_a_malformed_file_is_a_collection_error(project):
    cases(project, 'polcy = "x"\n', name="test_typo")
    cases(project, "[[rewrite]\n", name="test_syntax")
    result = run(project)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines_random(
        [
            "test_typo.kumo.toml: unknown key(s) polcy; expected *policy*",
            "test_syntax.kumo.toml: cannot parse: *",
        ]
    )


def test_a_policy_that_fails_to_load_fails_every_case(pytester):
    pytester.makefile(".lua", init="error('cannot start')")
    cases(
        pytester,
        """
        policy = "init.lua"

        [[event]]
        event = "x"
        handled = false

        [[event]]
        event = "y"
        handled = false
        """,
    )
    result = run(pytester)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "the policy failed to load:",
            "  *init.lua:1: cannot start",
            "*> 1 | error('cannot start')",
        ]
    )


def test_yaml_files_use_the_same_format(project):
    project.makefile(
        ".kumo.yaml",
        test_rules=textwrap.dedent(
            """
            policy: policy/init.lua
            path_map:
              /opt/kumomta/etc/policy: policy
            rewrite:
              - response: 452 4.2.2 Mailbox full
                code: 552
              - name: wrong
                response: 450 4.1.1 x
                code: 551
            event:
              - event: get_queue_config
                args: [nil.example]
                returns: null
            """
        ),
    )
    result = run(project)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["test_rules.kumo.yaml:7: [[][[]rewrite]] case 'wrong'", "*gave code 550, expected 551"]
    )


def test_case_failures_show_the_policy_log(project):
    cases(
        project,
        HEADER
        + textwrap.dedent("""
        [[rewrite]]
        response = "452 4.2.2 x"
        code = 500
        """),
    )
    result = run(project)
    result.stdout.fnmatch_lines(
        ["*Captured kumo log call*", "INFO policy/init.lua:4: loading rules"]
    )
