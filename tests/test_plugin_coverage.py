"""Lua line coverage: executable lines, the line hook, reports."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from kumopy import PolicyError
from kumopy.testing import LuaCoverage
from kumopy.testing._bytecode import executable_lines
from kumopy.testing._coverage import format_ranges

QUIET = ("-p", "no:hypothesispytest")

POLICY = """\
local kumo = require 'kumo'

-- a comment
local function classify(response)
  if response:find('quota') then
    return 552
  elseif response:find('unknown') then
    return 550
  else
    return nil
  end
end

local long = [[
not code
]]

kumo.on('smtp_client_rewrite_delivery_status', function(response)
  return classify(response)
end)
"""


# -- executable lines and the hook ---------------------------------------------


def test_executable_lines_skip_comments_strings_and_closers():
    # a function's header line has no instruction (its closure is made at
    # `end`); a long string is loaded on the line that ends it
    assert executable_lines(POLICY.encode()) == {1, 5, 6, 7, 8, 10, 16, 18, 19}


def test_a_file_that_does_not_compile_has_no_executable_lines():
    assert executable_lines(b"local = 1") == frozenset()


def test_format_ranges():
    assert format_ranges([9, 3, 4, 5, 7]) == "3-5, 7, 9"
    assert format_ranges([]) == ""


def test_line_hook_counts_lines_in_coroutines(load, tmp_path):
    coverage = LuaCoverage()
    source = textwrap.dedent(
        """
        kumo.on('x', function()
          local co = coroutine.create(function(a)
            local b = a + 1
            coroutine.yield(b)
            return b * 2
          end)
          local _, first = coroutine.resume(co, 1)
          local _, second = coroutine.resume(co)
          local wrapped = coroutine.wrap(function()
            return 'wrapped'
          end)
          return first + second, wrapped()
        end)
        """
    ).lstrip()
    policy = load(source, setup_state=lambda state: state.set_line_hook(coverage.hit))
    assert policy.dispatch("x").values == (6, "wrapped")
    (report,) = coverage.files()
    assert report.path == (tmp_path / "init.lua").resolve()
    assert report.missing == []
    assert report.hits[3] == 1 and report.hits[5] == 1 and report.hits[10] == 1


def test_line_hook_and_cpu_budget_share_the_hook(load):
    coverage = LuaCoverage()
    policy = load(
        "kumo.on('spin', function() while true do end end)",
        budget_seconds=0.05,
        setup_state=lambda state: state.set_line_hook(coverage.hit),
    )
    with pytest.raises(PolicyError, match="CPU budget"):
        policy.call("spin")
    assert coverage.files()[0].hits[1] > 1


# -- through the plugin ----------------------------------------------------------


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "kumopy.testing.plugin", *QUIET, *args)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".lua", **{"policy/init": POLICY, "policy/unused": "return 1\n"})
    pytester.makeini("[pytest]\nkumo_policy = policy/init.lua\n")
    pytester.makepyfile(
        test_cov=textwrap.dedent(
            """
            def test_quota(kumo_policy):
                policy = kumo_policy()
                assert policy.rewrite_delivery_status("452 over quota").code == 552
            """
        )
    )
    pytester.makefile(
        ".lua",
        cov_test=textwrap.dedent(
            """
            local t = require 'kumopy.testing'
            t.load_policy()
            function test_unknown()
              assert(t.rewrite('450 unknown user') == 550)
            end
            """
        ),
    )
    return pytester


def test_coverage_is_off_by_default(project):
    result = run(project)
    result.assert_outcomes(passed=2)
    assert "kumo Lua coverage" not in result.stdout.str()


def test_terminal_summary_lists_lines_hits_percent_and_missing(project):
    result = run(project, "--kumo-cov")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*- kumo Lua coverage -*",
            "File *Lines *Hit *Cover *Missing",
            "policy/init.lua *9 *8 *89% *10",
            "TOTAL *9 *8 *89%",
        ]
    )
    table = result.stdout.str().split("kumo Lua coverage", 1)[1]
    assert "cov_test.lua" not in table  # test files are not policy code


def test_lcov_and_json_reports(project):
    result = run(
        project, "--kumo-cov-report", "lcov:out/kumo.lcov", "--kumo-cov-report", "json:out/k.json"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*kumo Lua coverage lcov written to *kumo.lcov"])
    lcov = (project.path / "out" / "kumo.lcov").read_text().splitlines()
    source = str((project.path / "policy" / "init.lua").resolve())
    assert lcov[:2] == ["TN:", f"SF:{source}"]
    assert "DA:10,0" in lcov and "DA:6,1" in lcov and "DA:8,1" in lcov
    assert lcov[-3:] == ["LF:9", "LH:8", "end_of_record"]
    data = json.loads((project.path / "out" / "k.json").read_text())
    entry = data["files"][source]
    assert entry["missing_lines"] == [10]
    assert entry["summary"]["num_statements"] == 9
    assert data["totals"]["covered_lines"] == 8


def test_ini_options_and_sources_list_files_that_never_ran(project):
    project.makeini(
        "[pytest]\nkumo_policy = policy/init.lua\nkumo_coverage = true\n"
        "kumo_cov_source = policy\nkumo_cov_report = term lcov:cov.lcov\n"
    )
    result = run(project)
    result.stdout.fnmatch_lines(
        ["policy/init.lua *9 *8 *89% *10", "policy/unused.lua *1 *0 *0% *1", "TOTAL *10 *8 *80%"]
    )
    assert Path(project.path / "cov.lcov").exists()


def test_bad_report_spec_is_a_usage_error(project):
    result = run(project, "--kumo-cov-report", "html")
    result.stderr.fnmatch_lines(
        ["*--kumo-cov-report 'html': expected term, lcov:PATH or json:PATH"]
    )


def test_case_files_count_towards_coverage(project):
    project.makefile(
        ".kumo.toml",
        test_rules='[[rewrite]]\nresponse = "421 try later"\nunchanged = true\n',
    )
    result = run(project, "--kumo-cov")
    result.stdout.fnmatch_lines(["policy/init.lua *9 *9 *100%"])
