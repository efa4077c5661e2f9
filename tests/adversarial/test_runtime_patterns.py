"""Lua pattern blow-ups in string.find, match, gmatch and gsub.

Patterns RE2 can express get Lua's answer in linear time (the C matcher
would take minutes); the others run in kumopy's interruptible matcher and
stop at the budget with one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ._harness import BUDGET, assert_clear_failure, run_kumopy, write_policy

POLICY = """
local kumo = require 'kumo'
kumo.on('t', function(n)
  local s = {subject}
  local r = {expr}
  return r
end)
"""

STOPPED = {
    "find_backref": ("string.rep('a', 20000)", "s:find('(a*)(a*)(a*)%1b')"),
    "match_frontier": (
        "string.rep('a', 20000)", "s:match('%f[%a](a*)(a*)%2c')"
    ),
    "gmatch_backref": (
        "string.rep('a', 20000)",
        "(function() local k = 0 for x in s:gmatch('(a*)%1b') do k = k + 1 end return k end)()",
    ),
    "gsub_backref": ("string.rep('a', 20000)", "s:gsub('(a-)(a-)%2b', 'x')"),
    "balance": ("string.rep('(', 60000)", "s:find('%b()x')"),
    "tiny_but_exponential": (
        "string.rep('a', 30)", "s:match(string.rep('(a?)', 28) .. string.rep('a', 28) .. '%1b')"
    ),
}


@pytest.mark.parametrize("case", sorted(STOPPED))
def test_untranslatable_blowup_is_stopped(tmp_path: Path, case: str) -> None:
    subject, expr = STOPPED[case]
    policy = write_policy(tmp_path, POLICY.format(subject=subject, expr=expr))
    out = run_kumopy("call", "--budget", str(BUDGET), policy, "t", "0")
    assert_clear_failure(out, "init.lua:5:", "CPU budget", "in event 't'")


ANSWERED = {
    # the trim idiom: 37 s in the C matcher on 100k characters
    "trim_match": ("'a' .. string.rep(' ', n) .. 'b'", "#s:match('^%s*(.-)%s*$')", 100002),
    "trim_gsub": ("'a' .. string.rep(' ', n) .. 'b'", "#(s:gsub('^%s*(.-)%s*$', '%1'))", 100002),
    "find_end_anchor": ("string.rep(' ', n) .. 'x'", "s:find('%s*y$')", None),
    "gmatch_words": (
        "string.rep('ab ', n // 3)",
        "(function() local k = 0 for w in s:gmatch('(%a+)%s*') do k = k + 1 end return k end)()",
        33333,
    ),
    "exponential_on_tiny": (
        "string.rep('a', 40)", "#s:match(string.rep('a?', 40) .. string.rep('a', 40))", 40
    ),
}


@pytest.mark.parametrize("case", sorted(ANSWERED))
def test_translatable_blowup_gets_luas_answer(tmp_path: Path, case: str) -> None:
    subject, expr, expected = ANSWERED[case]
    policy = write_policy(tmp_path, POLICY.format(subject=subject, expr=expr))
    out = run_kumopy("call", "--budget", str(BUDGET), policy, "t", "100000")
    assert out.returncode == 0, out.describe()
    assert json.loads(out.stdout) == expected, out.describe()
