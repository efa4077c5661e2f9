"""Metatable tampering: a policy cannot change how kumo's objects behave."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._harness import BUDGET, assert_clear_failure, run_kumopy, write_policy

ATTEMPTS = {
    "getmetatable": "local mt = getmetatable(map) mt.__index = function() return 'pwned' end",
    "setmetatable": "setmetatable(map, {__index = function() return 'pwned' end})",
    "rawset": "rawset(map, 'a', 'pwned')",
    "call": "map()",
}


@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_userdata_metatable_tampering(tmp_path: Path, attempt: str) -> None:
    policy = write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        "local map = kumo.regex_set_map.new({['a'] = 'ok'})\n"
        "kumo.on('t', function()\n"
        f"  {ATTEMPTS[attempt]}\n"
        "  return map['a']\n"
        "end)\n",
    )
    out = run_kumopy("call", "--budget", str(BUDGET), policy, "t")
    assert "pwned" not in out.stdout
    assert_clear_failure(out, "init.lua:4", "in event 't'")
