"""Hostile input to kumo functions and data parsers, through the CLI: wrong
arguments, numbers Python cannot hold, documents nested or repeated past
any sense.  Each ends with one clear `kumopy: error:` line naming the
policy line, a non-zero exit status and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from kumopy import Policy, PolicyError

from ._harness import assert_clear_failure, run_kumopy, write_policy


def policy_calling(tmp_path: Path, expression: str, prelude: str = "") -> Path:
    """A script whose main handler evaluates `expression` on line 4 (not as
    a tail call, so that the error names that line)."""
    return write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        f"{prelude}\n"
        "kumo.on('main', function()\n"
        f"  local value = {expression}\n"
        "  print(value)\n"
        "end)\n",
    )


CASES = {
    # wrong types: mlua's bad-argument shape
    "string argument is a table": (
        "kumo.string.replace('abc', {}, 'x')",
        "bad argument #2: error converting Lua table to String",
    ),
    "count argument is negative": (
        "kumo.string.splitn('a,b', -1, ',')",
        "bad argument #2: error converting Lua integer to usize (out of range)",
    ),
    "method argument missing": (
        "kumo.regex.compile('a'):replace('a')",
        "bad argument #3 to `RegexWrap.replace`",
    ),
    # numbers Python's int, float and time cannot hold
    "duration of 1e308 seconds": (
        "kumo.time.parse_duration(1e308)",
        "cannot convert float seconds to Duration: value is either too big or NaN",
    ),
    "duration of NaN seconds": (
        "kumo.time.parse_duration(0/0)",
        "value is either too big or NaN",
    ),
    "sleep of 1e300 seconds": ("kumo.sleep(1e300)", "value is either too big or NaN"),
    "humantime of 5,000 digits": (
        "kumo.time.parse_duration(string.rep('9', 5000) .. 's')",
        "number is too large",
    ),
    "JSON integer of 5,000 digits": (
        "kumo.json_parse(string.rep('9', 5000) .. 'e5')",
        "number out of range",
    ),
    "TOML integer of 5,000 digits": (
        "kumo.toml_parse('a = ' .. string.rep('9', 5000))",
        "as toml:",
    ),
    # nesting
    "JSON nested 100,000 deep": (
        "kumo.json_parse(string.rep('[', 100000))",
        "recursion limit exceeded",
    ),
    "TOML arrays nested 50,000 deep": (
        "kumo.toml_parse('a = ' .. string.rep('[', 50000))",
        "max recursion depth met",
    ),
    "TOML dotted key of 50,000 parts": (
        "kumo.toml_parse(string.rep('a.', 50000) .. 'a = 1')",
        "recursion limit",
    ),
    "TOML inline tables nested 50,000 deep": (
        "kumo.toml_parse('a = ' .. string.rep('{b=', 50000))",
        "as toml:",
    ),
    "YAML nested 100,000 deep": (
        "kumo.serde.yaml_parse(string.rep('[', 100000))",
        "as yaml:",
    ),
    "encoding a table nested 300 deep": (
        "kumo.json_encode(deep)",
        "recursive table",
    ),
}

DEEP = "local deep = {} local c = deep for i = 1, 300 do c[1] = {} c = c[1] end"


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_argument_is_one_clear_line(tmp_path: Path, case: str) -> None:
    expression, expected = CASES[case]
    policy = policy_calling(tmp_path, expression, DEEP)
    out = run_kumopy("script", "--budget", "1", policy)
    assert_clear_failure(out, "init.lua:4:", expected)


def test_surplus_arguments_from_gsub_work_as_in_kumod(tmp_path: Path) -> None:
    policy = policy_calling(tmp_path, "kumo.string.trim(('  padded  '):gsub('x', 'y'))")
    out = run_kumopy("script", "--budget", "1", policy)
    assert out.returncode == 0, out.describe()
    assert out.stdout.strip() == "padded"


def test_policy_stays_usable_after_hostile_input(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        "kumo.on('parse', function(kind, text)\n"
        "  local v = kind == 'toml' and kumo.toml_parse(text) or kumo.serde.yaml_parse(text)\n"
        "  return v\n"
        "end)\n",
    )
    policy = Policy.load(path, capture_output=True, budget_seconds=1.0)
    for kind, text in (("toml", "a = " + "[" * 50000), ("yaml", "[" * 100000)):
        with pytest.raises(PolicyError) as info:
            policy.dispatch("parse", kind, text)
        assert "internal error" not in str(info.value)
    assert policy.call("parse", "toml", "a = 1") == {"a": 1}
    assert policy.call("parse", "yaml", "b: [1, 2]") == {"b": [1, 2]}
