"""Verdicts: `validate`, `call` and `explain` never pass a policy that
cannot work, and say why in one line.

Each case runs the real CLI in a subprocess (`_harness.run_kumopy`): the
rules a policy loads are missing, refused by Rust's regex syntax, loop in
the handler the probe calls, or come back as a value kumod cannot use; an
event is misspelt.
"""

from __future__ import annotations

import json
from pathlib import Path

from ._harness import BUDGET, assert_clear_failure, run_kumopy, write_policy

LAZY_RULES = """\
local kumo = require 'kumo'
local load_rules = kumo.memoize(function()
  local rules = kumo.json_load('/etc/kumo/rules.json')
  local map = kumo.regex_set_map.new(rules)
  return map
end, { name = 'rules', ttl = '5 minutes', capacity = 1 })
kumo.on('smtp_client_rewrite_delivery_status', function(response)
  return load_rules()[response]
end)
"""


def _rules(directory: Path, data: dict[str, int]) -> str:
    path = directory / "rules.json"
    path.write_text(json.dumps(data))
    return f"/etc/kumo/rules.json={path}"


def test_validate_with_a_missing_rules_file_fails(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, LAZY_RULES)
    out = run_kumopy("validate", policy)
    assert_clear_failure(out, "init.lua:3:", "/etc/kumo/rules.json", "probe call")
    assert "validation failed" in out.stderr


def test_validate_with_a_look_behind_names_the_pattern_and_the_file(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, LAZY_RULES)
    mapping = _rules(tmp_path, {"(?<=5\\.1\\.1 )unknown": 550, "^452 ": 552})
    out = run_kumopy("validate", policy, "--map", mapping)
    assert_clear_failure(out, "init.lua:4:", "(?<=5\\.1\\.1 )unknown", "look-around",
                         str(tmp_path / "rules.json"))


def test_validate_with_a_back_reference_fails(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, LAZY_RULES)
    out = run_kumopy("validate", policy, "--map", _rules(tmp_path, {"(a)\\1": 550}))
    assert_clear_failure(out, "init.lua:4:", "(a)\\1", "backreferences are not supported")


def test_validate_with_malformed_json_rules_fails(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, LAZY_RULES)
    (tmp_path / "rules.json").write_text('{"^452 ": 552,,}')
    out = run_kumopy("validate", policy, "--map", f"/etc/kumo/rules.json={tmp_path}/rules.json")
    assert_clear_failure(out, "init.lua:3:", "probe call")


def test_validate_when_the_probed_handler_loops_stops_within_the_budget(tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        "kumo.on('smtp_client_rewrite_delivery_status', function()\n"
        "  while true do end\n"
        "end)\n",
    )
    out = run_kumopy("validate", policy, "--budget", str(BUDGET))
    assert_clear_failure(out, "init.lua:", "smtp_client_rewrite_delivery_status", "probe call")


def test_validate_when_the_probed_handler_returns_a_non_code_fails(tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        "kumo.on('smtp_client_rewrite_delivery_status', function() return {550} end)\n",
    )
    out = run_kumopy("validate", policy)
    assert_clear_failure(out, "init.lua:2:", "cannot use", "probe call")


def test_validate_with_no_probe_keeps_kumods_verdict(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, LAZY_RULES)
    out = run_kumopy("validate", policy, "--no-probe")
    assert out.returncode == 0, out.describe()
    assert "valid (1 event, 0 warnings, 0 errors)" in out.stderr


def test_explain_with_a_misspelt_handler_fails(tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        "kumo.on('smtp_client_rewrite_delivery_stat', function() return 550 end)\n",
    )
    out = run_kumopy("explain", policy, "450 4.2.2 full")
    assert_clear_failure(out, "smtp_client_rewrite_delivery_stat'", "a misspelling?")


def test_call_of_a_misspelt_event_is_a_usage_error(tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        "kumo.on('smtp_client_rewrite_delivery_status', function() return 550 end)\n",
    )
    out = run_kumopy("call", policy, "smtp_client_rewrite_delivery_stats", '"450 x"')
    assert out.returncode == 2, out.describe()
    assert out.stdout == ""
    assert "Traceback" not in out.stderr
    assert "did you mean 'smtp_client_rewrite_delivery_status'?" in out.stderr
