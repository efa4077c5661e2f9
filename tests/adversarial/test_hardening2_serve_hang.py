"""`kumopy serve` with a handler stuck in code kumopy cannot interrupt
(docs/security.md, "Lua runtime").

The other commands end the process with one line when a handler is still
running past its budget and the grace in C code (nothing in-process can
stop it).  A server must go on serving instead: that client gets kumod's
421 for a failed handler, the operator one log line, the worker's Lua
state is abandoned and a new worker takes its place.  With one worker,
later clients are only served if that replacement happens.

The stuck handler is a fake network client doing a long PBKDF2 in C (which
releases the GIL and cannot be interrupted), as in test_runtime_watchdog.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ._harness import _limit_address_space, write_policy
from ._serve import Client, Served

POLICY = """
local kumo = require 'kumo'
kumo.on('smtp_server_mail_from', function(sender)
  if sender.user == 'stuck' then
    kumo.http.build_client {}
  end
end)
"""

LAUNCHER = """
import hashlib, sys
import kumopy.cli._common as common

def busy_c(*args):
    return hashlib.pbkdf2_hmac("sha256", b"k", b"s", 20_000_000).hex()

options = common.policy_options
common.policy_options = lambda *a, **k: {**options(*a, **k),
                                         "fakes": {"http.build_client": busy_c}}
from kumopy.cli import main
main(sys.argv[1:])
"""


def _start(tmp_path: Path, *args: str) -> Served:
    policy = write_policy(tmp_path, POLICY)
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER)
    record = tmp_path / "recorded"
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="")
    proc = subprocess.Popen(
        [sys.executable, str(launcher), "serve", str(policy), "--listen", "127.0.0.1:0",
         "--record", str(record), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        preexec_fn=_limit_address_space,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline().decode("utf-8", "replace")
    m = re.search(r"on 127\.0\.0\.1:(\d+)", first)
    if m is None:
        proc.kill()
        raise AssertionError(f"kumopy serve did not start: {first}{proc.stderr.read()!r}")
    served = Served(proc, int(m.group(1)), record)
    served.stderr.append(first)
    return served


@pytest.fixture
def served(tmp_path: Path) -> Served:
    s = _start(tmp_path, "--budget", "0.5", "--workers", "1")
    yield s  # type: ignore[misc]
    s.stop()


def _stuck_client(served: Served) -> Client:
    c = served.client(timeout=60)
    assert c.reply()[0] == 220
    assert c.cmd(b"EHLO stuck.example\r\n")[0] == 250
    return c


def test_a_stuck_handler_gets_421_and_the_server_goes_on(served: Served) -> None:
    c = _stuck_client(served)
    start = time.monotonic()
    code, text = c.cmd(b"MAIL FROM:<stuck@example.com>\r\n")
    assert code == 421, text
    assert text.endswith("technical difficulties"), text
    assert c.closed_by_server(10)
    c.close()
    assert time.monotonic() - start < 45
    # the one worker was replaced: the next clients are served
    served.normal_transaction("after")
    served.normal_transaction("again")
    assert served.proc.poll() is None
    status, stderr = served.stop()
    assert status == 0, stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("kumopy: serve:")]
    assert len(lines) == 1, stderr
    assert "Error in SmtpServerSession: " in lines[0]
    assert "the handler for 'smtp_server_mail_from'" in lines[0]
    assert "abandoned its worker and started another" in lines[0]
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert len(list(served.record.glob("*.eml"))) == 2


def test_two_stuck_handlers_in_a_row(served: Served) -> None:
    for _ in range(2):
        c = _stuck_client(served)
        assert c.cmd(b"MAIL FROM:<stuck@example.com>\r\n")[0] == 421
        c.close()
    served.normal_transaction("after two")
    status, stderr = served.stop()
    assert status == 0, stderr
    assert stderr.count("abandoned its worker") == 2, stderr
