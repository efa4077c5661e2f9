"""Values the runtime converts or reports: deep nesting, cycles, huge and
non-string error values, errors whose __tostring fails or loops."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._harness import BUDGET, assert_clear_failure, run_kumopy, write_policy

CASES = {
    "deep_result": (
        "local t = {} local c = t for i = 1, 1e5 do c[1] = {} c = c[1] end return t",
        ["in event 't'", "cannot convert"],
    ),
    "cyclic_result": ("local t = {} t.self = t return t", ["in event 't'", "cannot convert"]),
    "deep_recursion": (
        "local function f(n) return 1 + f(n + 1) end return f(1)",
        ["init.lua:3:", "stack overflow"],
    ),
    "huge_error": ("error(string.rep('e', 5e7))", ["init.lua:3:", "bytes cut) ..."]),
    "tostring_errors": (
        "error(setmetatable({}, {__tostring = function() error('x') end}))",
        ["in event 't'", "error in error handling"],
    ),
    "tostring_loops": (
        "error(setmetatable({}, {__tostring = function() while true do end end}))",
        ["init.lua:3:", "CPU budget"],
    ),
    "error_table": ("error({code = 1})", ["in event 't'", "table: 0x"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_values(tmp_path: Path, case: str) -> None:
    body, expected = CASES[case]
    policy = write_policy(
        tmp_path, f"local kumo = require 'kumo'\nkumo.on('t', function()\n  {body}\nend)\n"
    )
    out = run_kumopy("call", "--budget", str(BUDGET), policy, "t")
    assert_clear_failure(out, *expected)


def test_deeply_nested_json_argument(tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path, "local kumo = require 'kumo'\nkumo.on('t', function(x) return 1 end)\n"
    )
    for depth in (300, 50000):
        out = run_kumopy("call", policy, "t", "[" * depth + "]" * depth)
        text = out.describe()
        assert out.returncode in (1, 2), text
        assert "Traceback" not in out.stderr and "internal error" not in out.stderr, text
        assert "nested" in out.stderr, text
