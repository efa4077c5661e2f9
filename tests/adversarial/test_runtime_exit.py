"""os.exit in a policy: a clear error at its line everywhere except
`kumopy script`, which exits with the status as `kumod --script` does."""

from __future__ import annotations

from pathlib import Path

from ._harness import BUDGET, assert_clear_failure, run_kumopy, write_policy

HANDLER = """
local kumo = require 'kumo'
kumo.on('t', function()
  print('before')
  pcall(os.exit, 0)
  return 'after'
end)
kumo.on('init', function()
  os.exit(0)
end)
kumo.on('smtp_client_rewrite_delivery_status', function()
  os.exit(true)
end)
kumo.on('main', function(code)
  print('main ran')
  os.exit(tonumber(code))
end)
"""


def test_os_exit_in_call_is_an_error_not_a_silent_success(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, HANDLER)
    out = run_kumopy("call", "--budget", str(BUDGET), policy, "t")
    assert_clear_failure(out, "init.lua:5:", "os.exit(0)", "in event 't'")
    assert "before" in out.stderr


def test_os_exit_in_validate_fails_validation(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, HANDLER)
    out = run_kumopy("validate", "--budget", str(BUDGET), policy)
    assert_clear_failure(out, "init.lua:9:", "os.exit(0)", "in event 'init'")
    assert "validation failed" in out.stderr


def test_os_exit_at_top_level(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, "local x = 1\nos.exit(0)\n")
    out = run_kumopy("validate", policy)
    assert_clear_failure(out, "init.lua:2:", "os.exit(0)")


def test_os_exit_in_rewrite(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, HANDLER)
    out = run_kumopy("rewrite", "--budget", str(BUDGET), policy, "452 4.2.2 Mailbox full")
    assert_clear_failure(out, "init.lua:12:", "os.exit(0)")


def test_script_passes_the_exit_status_through(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, HANDLER)
    out = run_kumopy("script", policy, "--", "7")
    assert out.returncode == 7, out.describe()
    assert out.stdout == "main ran\n"
    assert "Traceback" not in out.stderr and "kumopy: error" not in out.stderr
    out = run_kumopy("script", policy, "--", "0")
    assert out.returncode == 0 and out.stdout == "main ran\n", out.describe()
