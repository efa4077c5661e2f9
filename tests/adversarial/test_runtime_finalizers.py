"""`__gc` finalizers that loop: Lua runs finalizers with hooks off, so
kumopy runs them itself, under the budget; none can hang a handler,
validation, or the end of the process."""

from __future__ import annotations

from pathlib import Path

from ._harness import BUDGET, HANG_AFTER, assert_clear_failure, run_kumopy, write_policy

LOOP = "setmetatable({}, {__gc = function() while true do end end})"


def test_looping_finalizer_in_a_handler(tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        f"kumo.on('t', function()\n  {LOOP}\n  collectgarbage()\n  return 1\nend)\n",
    )
    out = run_kumopy("call", "--budget", str(BUDGET), policy, "t")
    assert_clear_failure(out, "init.lua:3:", "CPU budget", "in event 't'")


def test_looping_finalizer_at_top_level(tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path, f"local kumo = require 'kumo'\n{LOOP}\ncollectgarbage()\n"
    )
    out = run_kumopy("validate", "--budget", str(BUDGET), policy)
    assert_clear_failure(out, "init.lua:2:", "CPU budget")


def test_looping_finalizer_at_exit(tmp_path: Path) -> None:
    # the object lives until the state is closed at exit: kumod-style Lua
    # would run its finalizer then, with hooks off, and never return
    policy = write_policy(
        tmp_path,
        f"local kumo = require 'kumo'\nKEEP = {LOOP}\nkumo.on('init', function() end)\n",
    )
    out = run_kumopy("validate", "--budget", str(BUDGET), policy)
    assert out.returncode == 0, out.describe()
    assert "valid" in out.stderr
    assert out.elapsed < HANG_AFTER
