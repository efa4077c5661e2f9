"""Listener limits of `kumopy serve` against clients that open too much:
kumod's max_connections and max_messages_per_connection, and a listener
configuration kumod would refuse."""

from __future__ import annotations

import time
from pathlib import Path

from ._harness import assert_clear_failure, run_kumopy, write_policy
from ._serve import start_serve

POLICY = """\
local kumo = require 'kumo'
kumo.on('init', function()
  kumo.start_esmtp_listener {
    listen = '127.0.0.1:0',
    hostname = 'mx.test',
    max_connections = 2,
    max_messages_per_connection = 3,
  }
end)
"""


def test_connections_over_max_connections_are_turned_away(tmp_path: Path) -> None:
    served = start_serve(tmp_path, write_policy(tmp_path, POLICY))
    try:
        first, second = served.client(), served.client()
        assert first.reply()[0] == 220 and second.reply()[0] == 220
        third = served.client()
        assert third.reply() == (421, ["4.3.2 mx.test too many concurrent sessions. Try later"])
        assert third.closed_by_server()
        assert first.cmd(b"QUIT\r\n")[0] == 221
        assert first.closed_by_server()
        first.close()
        # a slot is free again once a session has ended
        for _ in range(50):
            fourth = served.client()
            code, _lines = fourth.reply()
            fourth.close()
            if code == 220:
                break
            time.sleep(0.1)
        assert code == 220
        second.close()
    finally:
        rc, stderr = served.stop()
    assert rc == 0 and "Traceback" not in stderr, stderr


def test_recipients_per_connection(tmp_path: Path) -> None:
    served = start_serve(tmp_path, write_policy(tmp_path, POLICY))
    try:
        c = served.client()
        c.reply()
        c.cmd(b"EHLO x.example\r\n")
        c.cmd(b"MAIL FROM:<a@good.example>\r\n")
        for n in range(3):
            assert c.cmd(b"RCPT TO:<r%d@dest.example>\r\n" % n)[0] == 250
        assert c.cmd(b"RCPT TO:<r3@dest.example>\r\n") == (
            452, "4.5.3 too many recipients on this connection")
        c.cmd(b"RSET\r\n")
        c.cmd(b"MAIL FROM:<a@good.example>\r\n")
        # with no recipient yet in this transaction kumod ends the session
        assert c.cmd(b"RCPT TO:<r4@dest.example>\r\n") == (
            421, "4.5.3 mx.test too many recipients on this connection")
        assert c.closed_by_server()
    finally:
        rc, stderr = served.stop()
    assert rc == 0 and "Traceback" not in stderr, stderr


def test_a_listener_limit_of_the_wrong_type_is_one_clear_line(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, POLICY.replace("max_connections = 2",
                                                   "max_connections = 'lots'"))
    out = run_kumopy("serve", policy, "--listen", "127.0.0.1:0", timeout=60)
    assert_clear_failure(out, "max_connections")
