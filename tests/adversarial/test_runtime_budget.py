"""Runaway handlers through the CLI: Lua loops however wrapped, and Python
kumo functions doing too much work, all stop at the budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._harness import BUDGET, assert_clear_failure, run_kumopy, write_policy

RUNAWAYS = {
    "pcall_loop": "while true do pcall(function() while true do end end) end",
    "coroutine_loop": "local co = coroutine.wrap(function() while true do end end) co()",
    "close_handler": (
        "do local x <close> = setmetatable({}, {__close = function() while true do end end}) "
        "error('boom') end"
    ),
    "slow_python_function": (
        "local t = {} for i = 1, 300000 do t[i] = {a = i, b = 'x' .. i} end "
        "while true do kumo.json_encode(t) end"
    ),
    "sort_comparator": (
        "local t = {} for i = 1, 1000 do t[i] = i end "
        "table.sort(t, function(a, b) while true do end end)"
    ),
    "gsub_callback": "string.gsub(string.rep('a', 100), 'a', function() while true do end end)",
}


@pytest.mark.parametrize("case", sorted(RUNAWAYS))
def test_runaway_handler(tmp_path: Path, case: str) -> None:
    policy = write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        f"kumo.on('t', function()\n  {RUNAWAYS[case]}\nend)\n",
    )
    out = run_kumopy("call", "--budget", str(BUDGET), policy, "t")
    assert_clear_failure(out, "init.lua:3:", "CPU budget", "in event 't'")
