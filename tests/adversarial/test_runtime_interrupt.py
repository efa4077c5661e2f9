"""Ctrl-C (SIGINT) while a handler runs: every command stops with one clear
line naming where the handler was, exit status 130, no traceback."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ._harness import (
    ADDRESS_SPACE_LIMIT,
    HANG_AFTER,
    KUMOPY,
    Outcome,
    assert_clear_failure,
    write_policy,
)

SPIN = """
local kumo = require 'kumo'
local function spin()
  io.stderr:write('started\\n')
  local x = 0
  while true do x = x + 1 end
end
kumo.on('main', spin)
kumo.on('init', spin)
kumo.on('spin', spin)
kumo.on('smtp_client_rewrite_delivery_status', spin)
"""


def _child_setup() -> None:
    # a background child of a non-interactive shell ignores SIGINT; a user's
    # Ctrl-C reaches a foreground command with the default disposition
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def interrupt_kumopy(*args: str | os.PathLike[str]) -> Outcome:
    """Run kumopy, wait for the policy to say it started, press Ctrl-C."""
    argv = tuple(str(a) for a in args)
    env = dict(os.environ)
    env.pop("KUMOMTA_POLICY_EXTRAS", None)
    start = time.monotonic()
    proc = subprocess.Popen(
        [*KUMOPY, *argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=env, preexec_fn=_child_setup,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline().decode()
        assert first == "started\n", f"the handler did not start: {first!r}"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=HANG_AFTER)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"kumopy {' '.join(argv)} ignored Ctrl-C (a hang)") from None
    finally:
        if proc.poll() is None:
            proc.kill()
    return Outcome(argv, proc.returncode, out.decode(errors="replace"),
                   err.decode(errors="replace"), time.monotonic() - start)


@pytest.mark.parametrize(
    ("verb", "extra", "event"),
    [
        ("call", ["spin"], "spin"),
        ("validate", [], "init"),
        ("script", [], "main"),
        ("rewrite", ["452 4.2.2 Mailbox full"], "smtp_client_rewrite_delivery_status"),
    ],
)
def test_ctrl_c_stops_a_running_handler(tmp_path: Path, verb: str, extra: list[str],
                                        event: str) -> None:
    policy = write_policy(tmp_path, SPIN)
    out = interrupt_kumopy(verb, "--budget", "600", policy, *extra)
    assert_clear_failure(out, "init.lua:6:", "interrupted (Ctrl-C)", f"in event '{event}'",
                         returncodes=(130,))
