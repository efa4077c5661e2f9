"""`kumopy validate` and `Policy.validate()`: a policy whose rules cannot
work is not valid.

kumod --validate runs the start-up handlers only; a rules file that is
missing or holds a pattern the Rust regex crate refuses passes it, and then
every delivery attempt fails.  kumopy adds probe calls (documented and
shown, `--no-probe` skips them): one call of each probed event the policy
handles, and a failure there is an error, naming the file and the pattern.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from kumopy import Policy
from kumopy.cli import EXIT_FAILURE, EXIT_OK, cli

REPO = Path(__file__).resolve().parent.parent
DSN = REPO / "policies" / "dsn-rewrite"
RULES_PATH = "/opt/kumomta/etc/policy/dsn_rewrite.json"
PROBE_CALL = (
    "smtp_client_rewrite_delivery_status('451 4.0.0 kumopy validate probe', "
    "'example.com', nil, nil, 'example.com')"
)

POLICY = """\
local kumo = require 'kumo'
local load_rules = kumo.memoize(function()
  local rules = kumo.json_load('/etc/rules.json')
  local map = kumo.regex_set_map.new(rules)
  return map
end, { name = 'rules', ttl = '5 minutes', capacity = 1 })
kumo.on('smtp_client_rewrite_delivery_status', function(response)
  return load_rules()[response]
end)
"""


def invoke(args: list[str]) -> tuple[int, str, str]:
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        runner = CliRunner()
    result = runner.invoke(cli, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "init.lua"
    path.write_text(POLICY)
    return path


def rules(tmp_path: Path, data: dict[str, int]) -> str:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data))
    return f"/etc/rules.json={path}"


# -- the false greens of the issue ----------------------------------------


def test_the_readme_example_without_its_rules_file_is_not_valid() -> None:
    # was: "valid" (exit 0), with an ERROR log line and a handler-failed warning
    code, out, err = invoke(["validate", DSN / "init.lua"])
    assert code == EXIT_FAILURE
    errors = [ln for ln in err.splitlines() if ln.startswith("kumopy: error:")]
    assert len(errors) == 1, err
    assert errors[0].startswith(f"kumopy: error: {DSN / 'init.lua'}:15: reading file {RULES_PATH}: ")
    assert f"during the probe call {PROBE_CALL}" in errors[0]
    assert "ERROR memoized function" not in err  # reported once, as the error
    assert err.splitlines()[-1].endswith(": validation failed (1 event, 0 warnings, 1 error)")
    assert f"{PROBE_CALL} -> failed" in out


def test_a_pattern_rust_refuses_is_an_error_naming_the_pattern_and_the_file(
    policy: Path, tmp_path: Path
) -> None:
    mapping = rules(tmp_path, {"(?<=4\\.2\\.2 )full": 552, "^452 ": 452})
    code, out, err = invoke(["validate", policy, "--map", mapping])
    assert code == EXIT_FAILURE
    [error] = [ln for ln in err.splitlines() if ln.startswith("kumopy: error:")]
    assert error.startswith(f"kumopy: error: {policy}:4: compiling rules: regex parse error: ")
    assert "(?<=4\\.2\\.2 )full" in error and "look-around" in error
    assert f"the rules came from /etc/rules.json (read from {tmp_path / 'rules.json'})" in error


def test_a_handler_result_kumod_cannot_use_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "init.lua"
    path.write_text(
        "local kumo = require 'kumo'\n"
        "kumo.on('smtp_client_rewrite_delivery_status', function() return 'bounce' end)\n"
    )
    code, _, err = invoke(["validate", path])
    assert code == EXIT_FAILURE
    assert "kumopy: error: " in err and "'bounce'" in err and "probe call" in err


# -- what stays valid ---------------------------------------------------------


def test_the_readme_example_with_its_rules_is_valid_and_shows_the_probe() -> None:
    code, out, err = invoke(
        ["validate", DSN / "init.lua", "--map", f"{RULES_PATH}={DSN / 'dsn_rewrite.json'}"]
    )
    assert code == EXIT_OK, err
    assert "kumopy: error" not in err
    assert err.splitlines()[-1].endswith(": valid (1 event, 0 warnings, 0 errors)")
    assert "# probe calls (after init; --no-probe skips them):" in out
    assert f"{PROBE_CALL} -> nil" in out


def test_no_probe_validates_like_kumod(policy: Path) -> None:
    code, out, err = invoke(["validate", policy, "--no-probe"])
    assert code == EXIT_OK, err
    assert "# probe calls" not in out and "probe call" not in err
    assert err.splitlines()[-1].endswith(": valid (1 event, 0 warnings, 0 errors)")


def test_a_policy_without_a_probed_event_makes_no_probe_call(tmp_path: Path) -> None:
    path = tmp_path / "init.lua"
    path.write_text("local kumo = require 'kumo'\nkumo.on('init', function() end)\n")
    code, out, _ = invoke(["validate", path])
    assert code == EXIT_OK and "# probe calls" not in out


def test_errors_come_before_warnings_each_with_its_prefix(tmp_path: Path) -> None:
    path = tmp_path / "init.lua"
    path.write_text(
        "kumo.on('smtp_client_rewrite_delivery_status', function()\n"
        "  error('no rules')\n"
        "end)\n"
        "kumo.on('smtp_server_mesage_received', function() end)\n"
    )
    code, _, err = invoke(["validate", path])
    assert code == EXIT_FAILURE
    lines = err.splitlines()
    kinds = [ln.split(":")[1].strip() for ln in lines[:-1]]
    assert kinds == ["error", "warning", "warning", "warning"], err
    assert "no rules" in lines[0]
    assert "did you mean 'smtp_server_message_received'" in err
    assert lines[-1].endswith("validation failed (2 events, 3 warnings, 1 error)")


def test_json_has_errors_warnings_and_probes_apart(policy: Path, tmp_path: Path) -> None:
    code, out, _ = invoke(["validate", policy, "--json"])
    assert code == EXIT_FAILURE
    report = json.loads(out)
    assert report["ok"] is False
    assert len(report["errors"]) == 1 and "reading file /etc/rules.json" in report["errors"][0]
    assert report["warnings"] == []
    [probe] = report["probes"]
    assert probe["event"] == "smtp_client_rewrite_delivery_status"
    assert probe["args"] == ["451 4.0.0 kumopy validate probe", "example.com", None, None,
                             "example.com"]
    assert probe["ok"] is False and "reading file" in probe["error"]
    code, out, _ = invoke(["validate", policy, "--json", "--map", rules(tmp_path, {"x": 1})])
    assert code == EXIT_OK
    [probe] = json.loads(out)["probes"]
    assert probe == {
        "event": "smtp_client_rewrite_delivery_status",
        "args": ["451 4.0.0 kumopy validate probe", "example.com", None, None, "example.com"],
        "ok": True, "value": None, "error": None,
    }


# -- the Python API -----------------------------------------------------------


def test_policy_validate_probes_by_default(policy: Path, tmp_path: Path) -> None:
    report = Policy.load(policy, validating=True).validate()
    assert not report.ok
    assert report.errors[0].startswith(f"{policy}:3: reading file /etc/rules.json: ")
    [probe] = report.probes
    assert not probe.ok and probe.event == "smtp_client_rewrite_delivery_status"
    assert Policy.load(policy, validating=True).validate(probe=False).ok
    mapped = Policy.load(policy, validating=True,
                         path_map={"/etc/rules.json": str(tmp_path / "rules.json")})
    (tmp_path / "rules.json").write_text(textwrap.dedent('{"^451 ": 551}'))
    report = mapped.validate()
    assert report.ok and report.probes[0].value == 551
