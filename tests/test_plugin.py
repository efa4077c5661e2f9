"""The pytest plugin's fixtures, options and assertion helpers, exercised
the way a user's project uses them (through pytester)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from kumopy._kumo import catalogue

REPO = Path(__file__).resolve().parent.parent

# A small policy in the spirit of policies/dsn-rewrite, in plain Lua.
POLICY = """\
local kumo = require 'kumo'

local load_rules = kumo.memoize(function()
  return kumo.json_load('/opt/kumomta/etc/policy/rules.json')
end, { name = 'rules', ttl = '5 minutes', capacity = 1 })

kumo.on('smtp_client_rewrite_delivery_status', function(response, domain)
  local rules = load_rules()
  for prefix, code in pairs(rules) do
    if response:sub(1, #prefix) == prefix then
      kumo.log_info('rewrite', prefix, code)
      return code
    end
  end
  return nil
end)

kumo.on('get_queue_config', function(domain, tenant)
  if domain == 'broken.example' then
    error('no queue for ' .. domain)
  end
  print('queue for', domain)
  return { domain = domain, tenant = tenant }
end)
"""

RULES = '{"452 4.2.2": 552, "450 4.1.1": 550}'

INI = """\
[pytest]
kumo_policy = policy/init.lua
kumo_path_map =
    /opt/kumomta/etc/policy = policy
"""


# the hypothesis plugin costs about a second per inner run; none needs it
QUIET = ("-p", "no:hypothesispytest")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "kumopy.testing.plugin", *QUIET, *args)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with a policy in policy/ and the ini options pointing at it."""
    pytester.makefile(".lua", **{"policy/init": POLICY})
    pytester.makefile(".json", **{"policy/rules": RULES})
    pytester.makeini(INI)
    return pytester


def write_test(pytester: pytest.Pytester, source: str, name: str = "test_policy") -> None:
    pytester.makepyfile(**{name: textwrap.dedent(source)})


# -- the ten-line example of docs/testing.md ---------------------------------

TEN_LINES = """\
from kumopy.testing import assert_rewrite


def test_over_quota_bounces(kumo_policy):
    assert_rewrite(kumo_policy(), "452 4.2.2 Mailbox full", code=552)


def test_blocked_ip_bounces(kumo_policy):
    assert_rewrite(kumo_policy(), "421 4.7.0 [TSS04] Messages from 192.0.2.1 deferred", code=550)
"""


def test_ten_line_example_reports_event_inputs_value_and_lua_line(project):
    assert len(TEN_LINES.splitlines()) <= 10
    write_test(project, TEN_LINES)
    result = run(project)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*rewrite of '421 4.7.0 [[]TSS04] Messages from 192.0.2.1 deferred' gave code 421, "
            "expected 550",
            "*call:*smtp_client_rewrite_delivery_status('421 4.7.0 [[]TSS04] Messages from "
            "192.0.2.1 deferred', 'example.com', nil, nil, 'example.com')",
            "*handler:*policy/init.lua:7 returned nil (keep the response)",
            "*result:*421 4.7.0 [[]TSS04] Messages from 192.0.2.1 deferred",
            "*expected: code 550",
            "*last line the handler's file ran: policy/init.lua:15",
            "*> 15 |   return nil",
        ]
    )


def _regex_set_map_supported() -> bool:
    entry = catalogue().get("regex_set_map.new")
    return entry is not None and entry.supported


@pytest.mark.skipif(not _regex_set_map_supported(), reason="kumo.regex_set_map not implemented")
def test_docs_example_on_the_dsn_rewrite_policy(pytester):
    shutil.copytree(REPO / "policies", pytester.path / "policies")
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        kumo_policy = "policies/dsn-rewrite/init.lua"
        kumo_path_map = ["/opt/kumomta/etc/policy = policies/dsn-rewrite"]
        """
    )
    docs = (REPO / "docs" / "testing.md").read_text()
    example = docs.split("```python\n# tests/test_dsn_rewrite.py\n", 1)[1].split("```", 1)[0]
    assert len(example.strip().splitlines()) <= 9
    pytester.makepyfile(test_dsn_rewrite=example)
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*rewrite of '421 4.7.0 [[]TSS04]*' gave code 421, expected 550",
            "*handler:*policies/dsn-rewrite/init.lua:* returned nil (keep the response)",
            "*last line the handler's file ran: policies/dsn-rewrite/init.lua:28",
        ]
    )


# -- kumo_policy: defaults, paths, options -------------------------------------


def test_ini_default_policy_and_path_map(project):
    write_test(
        project,
        """
        def test_default(kumo_policy):
            policy = kumo_policy()
            assert policy.path.name == "init.lua"
            assert policy.call("smtp_client_rewrite_delivery_status", "452 4.2.2 x", "d") == 552
        """,
    )
    run(project).assert_outcomes(passed=1)


def test_ini_paths_are_relative_to_the_ini_file_not_the_current_directory(project):
    write_test(
        project,
        """
        def test_default(kumo_policy):
            assert kumo_policy().call("smtp_client_rewrite_delivery_status", "450 4.1.1 x") == 550
        """,
    )
    sub = project.mkdir("elsewhere")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(sub)
        result = run(project, str(project.path))
    result.assert_outcomes(passed=1)


def test_fixture_path_is_relative_to_the_ini_file(project):
    project.makefile(".lua", **{"other/init": "kumo.on('x', function() return 'other' end)"})
    project.mkdir("tests")
    write_test(
        project,
        """
        def test_other(kumo_policy):
            assert kumo_policy("other/init.lua").call("x") == "other"
        """,
        name="tests/test_other",
    )
    run(project).assert_outcomes(passed=1)


def test_command_line_flags_override_the_ini_options(project):
    project.makefile(".lua", **{"alt/init": POLICY})
    project.makefile(".json", **{"alt/rules": '{"452 4.2.2": 599}'})
    write_test(
        project,
        """
        def test_flags(kumo_policy):
            policy = kumo_policy()
            assert policy.path.parent.name == "alt"
            assert policy.call("smtp_client_rewrite_delivery_status", "452 4.2.2 x") == 599
        """,
    )
    result = run(
        project, "--kumo-policy", "alt/init.lua", "--kumo-map", "/opt/kumomta/etc/policy=alt"
    )
    result.assert_outcomes(passed=1)


def test_share_dir_option_feeds_require(pytester):
    pytester.makefile(".lua", **{"share/helpers": "return { answer = 42 }"})
    pytester.makefile(
        ".lua",
        init="local h = require 'helpers'\nkumo.on('x', function() return h.answer end)",
    )
    pytester.makeini("[pytest]\nkumo_policy = init.lua\nkumo_share_dir = share\n")
    write_test(
        pytester,
        """
        def test_share(kumo_policy):
            assert kumo_policy().call("x") == 42
        """,
    )
    run(pytester).assert_outcomes(passed=1)
    pytester.makeini("[pytest]\nkumo_policy = init.lua\n")
    run(pytester, "--kumo-share-dir", "share").assert_outcomes(passed=1)


def test_no_policy_configured_fails_with_a_hint(pytester):
    write_test(
        pytester,
        """
        def test_nothing(kumo_policy):
            kumo_policy()
        """,
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no policy to load: pass a path to kumo_policy(...)*"])


def test_malformed_path_map_entry_is_a_usage_error(pytester):
    pytester.makeini("[pytest]\nkumo_path_map = /opt/kumomta\n")
    result = run(pytester)
    result.stderr.fnmatch_lines(["*kumo path map entry '/opt/kumomta' is not of the form SRC=DST*"])


def test_fixture_path_map_adds_to_the_ini_map_and_tmp_placeholder(project):
    project.makefile(
        ".lua",
        **{
            "writer": """
            kumo.on('write', function(text)
              local f = assert(io.open('/var/log/kumomta/out.txt', 'w'))
              f:write(text)
              f:close()
              return kumo.json_load('/opt/kumomta/etc/policy/rules.json')['452 4.2.2']
            end)
            """
        },
    )
    write_test(
        project,
        """
        import pytest

        seen = []

        def test_tmp(kumo_policy):
            policy = kumo_policy("writer.lua", path_map={"/var/log/kumomta": "{tmp}/logs"})
            assert policy.call("write", "hello") == 552
            written = kumo_policy.tmp_path / "logs" / "out.txt"
            assert written.read_text() == "hello"
            seen.append(kumo_policy.tmp_path)

        def test_tmp_was_removed():
            assert seen and not seen[0].exists()
        """,
    )
    run(project).assert_outcomes(passed=2)


def test_policy_options_pass_through(project):
    write_test(
        project,
        """
        from kumopy import BudgetExceeded
        import pytest

        def test_options(kumo_policy):
            policy = kumo_policy(validating=True, budget_seconds=0.05)
            assert policy.validating
            assert policy.budget_seconds == 0.05
        """,
    )
    run(project).assert_outcomes(passed=1)


# -- kumo_clock, kumo_logs, kumo_calls ----------------------------------------


def test_clock_expires_memoize_and_calls_spy_sees_it(project):
    write_test(
        project,
        """
        def test_clock(kumo_policy, kumo_clock, kumo_calls):
            policy = kumo_policy()
            for _ in range(3):
                policy.rewrite_delivery_status("452 4.2.2 Mailbox full")
            assert kumo_calls.count("json_load") == 1
            kumo_clock.advance("4 minutes")
            policy.rewrite_delivery_status("452 4.2.2 Mailbox full")
            assert kumo_calls.count("kumo.json_load") == 1
            kumo_clock.advance(61)
            policy.rewrite_delivery_status("452 4.2.2 Mailbox full")
            assert kumo_calls.count("json_load") == 2
            assert kumo_calls.args("json_load")[0] == ("/opt/kumomta/etc/policy/rules.json",)
            call = kumo_calls.last("log_info")
            assert call.file.endswith("policy/init.lua") and call.line == 11
            assert str(call) == "kumo.log_info('rewrite', '452 4.2.2', 552) at policy/init.lua:11"
            assert kumo_calls.last("on").line == 18
            assert kumo_calls.called("memoize") and kumo_calls.called("on")
            assert kumo_calls.count("memoize[rules]") == 5
            assert kumo_calls.names()[:3] == ["memoize", "on", "on"]
            kumo_calls.assert_called("on", times=2)
            kumo_calls.assert_not_called("json_parse")
        """,
    )
    run(project).assert_outcomes(passed=1)


def test_calls_spy_failures_list_the_calls(project):
    write_test(
        project,
        """
        def test_spy(kumo_policy, kumo_calls):
            kumo_policy().rewrite_delivery_status("452 4.2.2 Mailbox full")
            kumo_calls.assert_called("json_load", "/etc/other.json")
        """,
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*kumo.json_load('/etc/other.json') was not called; the calls were:",
            "*kumo.memoize(<Lua function*>, {'capacity': 1, 'name': 'rules', 'ttl': '5 minutes'})"
            " at policy/init.lua:3",
            "*kumo.json_load('/opt/kumomta/etc/policy/rules.json') at policy/init.lua:*",
        ]
    )


def test_logs_fixture_is_assertable_like_caplog(project):
    project.makefile(
        ".lua",
        **{
            "logger": """
            kumo.on('go', function()
              kumo.log_debug('dbg', 1)
              kumo.log_info('info', true)
              kumo.log_warn('careful')
              kumo.log_error('broken', nil)
              print('printed', 2)
            end)
            """
        },
    )
    write_test(
        project,
        """
        import logging

        def test_logs(kumo_policy, kumo_logs):
            kumo_policy("logger.lua").call("go")
            assert kumo_logs.messages == [
                "dbg 1", "info true", "careful", "broken nil", "printed\\t2"]
            assert [r.levelname for r in kumo_logs.records] == [
                "DEBUG", "INFO", "WARNING", "ERROR", "PRINT"]
            assert kumo_logs.records[2].line == 4
            assert kumo_logs.at_level("warn").messages == ["careful", "broken nil"]
            assert kumo_logs.at_level(logging.ERROR).messages == ["broken nil"]
            assert kumo_logs.errors.messages == ["broken nil"]
            assert kumo_logs.warnings.messages == ["careful", "broken nil"]
            assert kumo_logs.prints.messages == ["printed\\t2"]
            assert kumo_logs.filter(level="info").messages == ["info true"]
            assert kumo_logs.filter(contains="ro").messages == ["broken nil"]
            assert kumo_logs.filter(match=r"^c.*l$").messages == ["careful"]
            assert kumo_logs.filter(file="logger.lua", kind="print").messages == ["printed\\t2"]
            assert kumo_logs.at_level("info").filter(contains="e").messages == [
                "info true", "careful", "broken nil"]
            assert "WARNING " in kumo_logs.text and "logger.lua:4: careful" in kumo_logs.text
            assert len(kumo_logs) == 5 and kumo_logs
            kumo_logs.assert_logged("care")
            kumo_logs.assert_logged(r"^broken", level="error")
            kumo_logs.assert_not_logged("careful", level="error")
            kumo_logs.clear()
            assert not kumo_logs

        def test_assert_logged_failure_lists_the_log(kumo_policy, kumo_logs):
            kumo_policy("logger.lua").call("go")
            kumo_logs.assert_logged("missing", level="warn")
        """,
    )
    result = run(project)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*nothing matching 'missing' was logged at level warn or above; the log was:",
            "*DEBUG */logger.lua:2: dbg 1",
            "*PRINT */logger.lua:6: printed*2",
        ]
    )


def test_failed_test_shows_what_the_policy_logged(project):
    write_test(
        project,
        """
        def test_fails(kumo_policy):
            kumo_policy().rewrite_delivery_status("452 4.2.2 Mailbox full")
            assert False
        """,
    )
    result = run(project)
    result.stdout.fnmatch_lines(
        ["*Captured kumo log call*", "INFO policy/init.lua:11: rewrite 452 4.2.2 552"]
    )


# -- assertion helpers -----------------------------------------------------------


def test_assert_event_passes_and_returns_the_result(project):
    write_test(
        project,
        """
        from kumopy.testing import assert_event

        def test_ok(kumo_policy):
            policy = kumo_policy()
            result = assert_event(policy, "get_queue_config", "a.example", "t",
                                  returns={"domain": "a.example", "tenant": "t"})
            assert result.handler.line == 18
            assert_event(policy, "get_queue_config", "b.example", values=[{"domain": "b.example"}])
            assert_event(policy, "get_egress_source", "s", handled=False, returns=None)
            assert_event(policy, "get_queue_config", "c")
        """,
    )
    run(project).assert_outcomes(passed=1)


def test_assert_event_failures(project):
    write_test(
        project,
        """
        from kumopy.testing import assert_event

        def test_value(kumo_policy):
            assert_event(kumo_policy(), "get_queue_config", "a.example",
                         returns={"domain": "b.example"})

        def test_raised(kumo_policy):
            assert_event(kumo_policy(), "get_queue_config", "broken.example", returns=1)

        def test_unhandled(kumo_policy):
            assert_event(kumo_policy(), "get_egress_pool", "pool", handled=True)

        def test_bool_is_not_a_number(kumo_policy):
            assert_event(kumo_policy(), "get_queue_config", "a.example", returns=True)
        """,
    )
    result = run(project)
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "*event 'get_queue_config' returned {'domain': 'a.example'}, "
            "expected {'domain': 'b.example'}",
            "*call:*get_queue_config('a.example')",
            "*handler:*policy/init.lua:18",
            "*diff (- expected, + returned):",
            "*- {'domain': 'b.example'}",
            "*+ {'domain': 'a.example'}",
            "*last line the handler's file ran: policy/init.lua:23",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*event 'get_queue_config' raised a Lua error; expected it to return 1",
            "*call:*get_queue_config('broken.example')",
            "*error:",
            "*policy/init.lua:20: no queue for broken.example (in event 'get_queue_config')",
            "*> 20 |     error('no queue for ' .. domain)",
            "*Lua traceback:",
            "*policy/init.lua:20: in function <policy/init.lua:18>",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*event 'get_egress_pool' was not handled, expected it to be",
            "*handler:*none (no handler is registered for 'get_egress_pool')",
        ]
    )
    result.stdout.fnmatch_lines(["*returned {'domain': 'a.example'}, expected True"])


def test_assert_event_on_a_misspelt_event_fails_whatever_it_expects(project):
    # was: passed (no handler -> nil, which equals the expected nil)
    write_test(
        project,
        """
        from kumopy.testing import assert_event, assert_raises_in_event

        def test_nil_expected(kumo_policy):
            assert_event(kumo_policy(), "get_queue_confg", "a.example", returns=None)

        def test_unhandled_expected(kumo_policy):
            assert_event(kumo_policy(), "no_such_event", handled=False)

        def test_error_expected(kumo_policy):
            assert_raises_in_event(kumo_policy(), "get_queue_confg", "broken.example")
        """,
    )
    result = run(project)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*KumoAssertionError: 'get_queue_confg' is not an event KumoMTA fires and the "
            "policy registers no handler for it (did you mean 'get_queue_config'?)",
        ]
    )
    result.stdout.fnmatch_lines(["*'no_such_event' is not an event KumoMTA fires*"])
    assert "Traceback" not in result.stdout.str()


def test_assert_raises_in_event(project):
    write_test(
        project,
        """
        import pytest
        from kumopy.testing import assert_raises_in_event

        def test_ok(kumo_policy):
            error = assert_raises_in_event(kumo_policy(), "get_queue_config", "broken.example",
                                           match="no queue")
            assert error.line == 20 and error.event == "get_queue_config"

        def test_did_not_raise(kumo_policy):
            assert_raises_in_event(kumo_policy(), "get_queue_config", "fine.example")

        def test_other_error(kumo_policy):
            assert_raises_in_event(kumo_policy(), "get_queue_config", "broken.example",
                                   match="^timeout")
        """,
    )
    result = run(project)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*event 'get_queue_config' did not raise; expected a Lua error",
            "*returned:*{'domain': 'fine.example'}",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*raised a Lua error; expected an error matching '^timeout'", "*no queue for broken*"]
    )


def test_assert_rewrite_variants(project):
    write_test(
        project,
        """
        from kumopy import PolicyError
        from kumopy.testing import assert_rewrite

        def test_ok(kumo_policy):
            policy = kumo_policy()
            out = assert_rewrite(policy, "452 4.2.2 Mailbox full", "camp:ten@example.net", code=552,
                line="552 4.2.2 Mailbox full (kumomta: status was rewritten from 452 -> 552)")
            assert out.rewritten_from == 452
            assert_rewrite(policy, "421 try later", unchanged=True)
            assert_rewrite(policy, "250 ok", unchanged=True)
            assert_rewrite(policy, "450 4.1.1 <x@y>: unknown", unchanged=False, code=550)

        def test_unchanged_expected(kumo_policy):
            assert_rewrite(kumo_policy(), "452 4.2.2 Mailbox full", unchanged=True)

        def test_line(kumo_policy):
            assert_rewrite(kumo_policy(), "452 4.2.2 Mailbox full",
                line="552 4.2.2 Mailbox full (kumomta: status was rewritten from 452 -> 553)")

        def test_250_is_never_offered(kumo_policy):
            assert_rewrite(kumo_policy(), "250 ok", code=550)
        """,
    )
    result = run(project)
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*rewrite of '452 4.2.2 Mailbox full' was rewritten to 552, expected it unchanged",
            "*handler:*policy/init.lua:7 returned 552",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*rewrite of '452 4.2.2 Mailbox full' gave a different line",
            "*diff (- expected, + result):",
            "*- 552 4.2.2 Mailbox full (kumomta: status was rewritten from 452 -> 553)",
            "*?*^",
            "*+ 552 4.2.2 Mailbox full (kumomta: status was rewritten from 452 -> 552)",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*rewrite of '250 ok' gave code 250, expected 550",
            "*not called (kumod never offers a 250)",
        ]
    )


def test_assert_rewrite_reports_a_handler_error(pytester):
    pytester.makefile(
        ".lua",
        init="kumo.on('smtp_client_rewrite_delivery_status', function(r) return r + 1 end)",
    )
    write_test(
        pytester,
        """
        from kumopy.testing import assert_rewrite

        def test_error(kumo_policy):
            assert_rewrite(kumo_policy("init.lua"), "451 later", code=550)

        def test_error_kept_like_kumod(kumo_policy, kumo_logs):
            assert_rewrite(kumo_policy("init.lua"), "451 later", unchanged=True, raise_errors=False)
            assert kumo_logs.errors
        """,
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*event 'smtp_client_rewrite_delivery_status' raised a Lua error; expected code 550",
            "*init.lua:1: attempt to add a 'string' with a 'number'*",
        ]
    )


def test_escaping_policy_error_shows_the_lua_traceback_not_kumopy_frames(project):
    write_test(
        project,
        """
        def test_escape(kumo_policy):
            kumo_policy().call("get_queue_config", "broken.example")
        """,
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    # Lua shortens long paths in messages ("...tail"); the report names the file
    result.stdout.fnmatch_lines(
        [
            "E   *LuaCallError: *init.lua:20: no queue for broken.example "
            "(in event 'get_queue_config')",
            "E *> 20 |     error('no queue for ' .. domain)",
            "E *Lua traceback:",
            "E *policy/init.lua:20: in function <policy/init.lua:18>",
        ]
    )
    assert "kumopy/_policy.py" not in result.stdout.str()
    assert "kumopy/_runtime" not in result.stdout.str()


def test_load_error_escaping_a_test(pytester):
    pytester.makefile(".lua", init="local x = 1\nkumo.on('x', function() end)\nerror('at load')")
    write_test(
        pytester,
        """
        def test_load(kumo_policy):
            kumo_policy("init.lua")
        """,
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E   *LuaCallError: *init.lua:3: at load", "E *> 3 | error('at load')"]
    )
    pytester.makefile(".lua", init="local x = = 1")
    result = run(pytester)
    result.stdout.fnmatch_lines(["E   *PolicyError: *init.lua:1: unexpected symbol near '='"])


def test_plain_assert_shows_the_call_and_callresult_comparisons_explain(project):
    write_test(
        project,
        """
        def test_plain(kumo_policy):
            policy = kumo_policy()
            assert policy.call("smtp_client_rewrite_delivery_status", "452 4.2.2 x") == 550

        def test_callresult(kumo_policy):
            policy = kumo_policy()
            assert policy.dispatch("smtp_client_rewrite_delivery_status", "452 4.2.2 x") == 552
        """,
    )
    result = run(project)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*where 552 = call('smtp_client_rewrite_delivery_status', '452 4.2.2 x')",
            "*where call = <Policy '*/policy/init.lua'>.call",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*CallResult of smtp_client_rewrite_delivery_status('452 4.2.2 x') == 552",
            "*the handler (policy/init.lua:7) returned (552,); a CallResult never equals a plain "
            "value*",
        ]
    )
