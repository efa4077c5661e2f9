"""`kumopy explain`: the lookups a handler made for one response."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kumopy.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, cli

POLICY = """
local kumo = require 'kumo'
local rules = kumo.regex_set_map.new({
  ['^4\\\\d\\\\d 4\\\\.1\\\\.1 '] = 550,
  ['(?i)^450 .*user unknown'] = 551,
  ['quota'] = 552,
})
local domains = kumo.regex_set_map.new({ ['example'] = 1 })
kumo.on('smtp_client_rewrite_delivery_status', function(response, domain, tenant)
  if string.find(response, 'EXPLODE', 1, true) then error('boom') end
  if tenant == 'skip' then return nil end
  local _ = domains[domain]
  return rules[response]
end)
"""


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "init.lua"
    path.write_text(POLICY)
    return path


def _invoke(args: list[str]) -> Any:
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        runner = CliRunner()
    result = runner.invoke(cli, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_every_match_the_choice_and_the_result(policy: Path) -> None:
    r = _invoke(["explain", str(policy), "450 4.1.1 User Unknown"])
    assert r.exit_code == EXIT_OK, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "response: 450 4.1.1 User Unknown"
    assert lines[2] == "lookup 1: map of 1 patterns, 1 matching"
    assert lines[4] == "lookup 2: map of 3 patterns, 2 matching"
    # sorted pattern order: '(' before '^', so the (?i) rule is chosen
    assert lines[5] == "  * '(?i)^450 .*user unknown' -> 551"
    assert lines[6] == "    '^4\\\\d\\\\d 4\\\\.1\\\\.1 ' -> 550"
    assert "kumod may choose any of them" in lines[7]
    assert lines[-1] == ("result:   551 4.1.1 User Unknown (kumomta: status was rewritten "
                         "from 450 -> 551)")


def test_json_output(policy: Path) -> None:
    r = _invoke(["explain", str(policy), "452 4.2.2 over quota", "--json", "-q",
                 "c:t@d.example!r.example"])
    data = json.loads(r.stdout)
    assert data["queue"] == "c:t@d.example!r.example"
    assert [m["pattern"] for m in data["lookups"][1]["matches"]] == ["quota"]
    assert data["lookups"][1]["chosen"] == "quota" and not data["lookups"][1]["ambiguous"]
    assert (data["lookups"][0]["subject"], data["lookups"][0]["chosen"]) == ("d.example",
                                                                            "example")
    assert (data["code"], data["error"]) == (552, None)


def test_no_lookup_and_no_match(policy: Path) -> None:
    r = _invoke(["explain", str(policy), "421 try later", "-q", "skip@example.com"])
    assert "the handler made no regex_set_map lookup" in r.stdout
    assert r.stdout.splitlines()[-1] == "result:   421 try later"
    r = _invoke(["explain", str(policy), "421 try later"])
    assert "lookup 2: map of 3 patterns, 0 matching" in r.stdout


def test_250_is_never_offered(policy: Path) -> None:
    r = _invoke(["explain", str(policy), "250 ok"])
    assert "never offers a 250" in r.stdout and r.exit_code == EXIT_OK


def test_errors(policy: Path, tmp_path: Path) -> None:
    r = _invoke(["explain", str(policy), "451 EXPLODE"])
    assert r.exit_code == EXIT_FAILURE and "handler error:" in r.stdout and "boom" in r.stdout
    assert "Traceback" not in r.stderr
    r = _invoke(["explain", str(policy), "not a response"])
    assert r.exit_code == EXIT_USAGE and "not an SMTP response" in r.stderr
    broken = tmp_path / "broken.lua"
    broken.write_text("syntax error here")
    r = _invoke(["explain", str(broken), "451 x"])
    assert r.exit_code == EXIT_FAILURE and r.stderr.startswith("kumopy: error:")


def test_a_policy_without_the_rewrite_handler_is_an_error(tmp_path: Path) -> None:
    # was: "registers no handler", the response unchanged, exit 0
    path = tmp_path / "init.lua"
    path.write_text(
        "local kumo = require 'kumo'\n"
        "kumo.on('smtp_client_rewrite_delivery_stats', function() return 550 end)\n"
    )
    r = _invoke(["explain", str(path), "450 4.1.1 user unknown"])
    assert r.exit_code == EXIT_FAILURE
    assert r.stdout == ""
    assert (
        f"kumopy: error: {path} registers no smtp_client_rewrite_delivery_status handler "
        "(it registers 'smtp_client_rewrite_delivery_stats': a misspelling?)"
    ) in r.stderr
