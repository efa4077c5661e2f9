"""`kumopy inject`: one message through the reception path, no network.
Policy: tests/reception/init.lua (settings file mapped per test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kumopy.cli import cli

POLICY = Path(__file__).resolve().parent / "reception" / "init.lua"
CONFIG_PATH = "/opt/kumomta/etc/policy/reception.json"

MESSAGE = """\
From: Alice <alice@good.example>
To: bob@dest.example
Subject: hello
X-Tenant: acme
X-Campaign: spring

Hi Bob
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    config = tmp_path / "reception.json"
    config.write_text(json.dumps({"tenants": ["acme"], "blocked_peers": []}))
    good = tmp_path / "good.eml"
    good.write_text(MESSAGE)  # LF line endings, as a text editor saves them
    bad = tmp_path / "bad.eml"
    bad.write_text(MESSAGE.replace("X-Tenant: acme", "X-Tenant: nope"))
    return {"config": config, "good": good, "bad": bad}


def run(files: dict[str, Path], *args: str) -> Any:
    runner = CliRunner()
    return runner.invoke(
        cli,
        ["inject", str(POLICY), *args, "--hostname", "mx.test",
         "--map", f"{CONFIG_PATH}={files['config']}"],
        catch_exceptions=False,
    )


def test_inject_accepted_text(files: dict[str, Path]) -> None:
    result = run(files, str(files["good"]), "-f", "alice@good.example", "-r", "bob@dest.example")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "server  220 mx.test KumoMTA" in lines
    assert "client  MAIL FROM:<alice@good.example>" in lines
    assert any(line.startswith('event   smtp_server_message_received("<Message ')
               for line in lines)
    message_line = next(line for line in lines if line.startswith("message "))
    assert message_line.endswith(
        "queue=spring:acme@dest.example queued from=<alice@good.example> "
        "to=<bob@dest.example>")
    assert '  meta    tenant = "acme"' in lines
    assert '  meta    campaign = "spring"' in lines
    assert "  header- X-Tenant: acme" in lines
    assert "  header+ X-Screened-By: mx.test" in lines
    assert lines[-1].startswith("reply  250 OK ids=")


def test_inject_rejected_exits_1(files: dict[str, Path]) -> None:
    result = run(files, str(files["bad"]), "-f", "alice@good.example", "-r", "bob@dest.example")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "reply  550 5.7.1 unknown tenant nope"
    assert not any(line.startswith("message ") for line in result.output.splitlines())


def test_inject_json(files: dict[str, Path]) -> None:
    result = run(files, str(files["good"]), "-f", "alice@good.example", "-r",
                 "bob@dest.example", "-r", "nobody@dest.example", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["ok"] is True
    assert out["reply"]["code"] == 250
    [msg] = out["messages"]
    assert msg["queue"] == "spring:acme@dest.example"
    assert msg["recipients"] == ["bob@dest.example"]
    assert msg["changes"]["meta"]["tenant"] == "acme"
    assert {"name": "X-Tenant", "value": "acme"} in msg["changes"]["headers"]["removed"]
    added = [h["name"] for h in msg["changes"]["headers"]["added"]]
    assert added[:2] == ["X-KumoRef", "Received"]
    events = [(e["event"], e["outcome"]) for e in out["events"]]
    assert ("smtp_server_rcpt_to", "rejected") in events
    assert ("smtp_server_message_received", "ok") in events
    rejected = next(e for e in out["events"] if e["outcome"] == "rejected")
    assert rejected["reject"] == {"code": 550, "message": "5.1.1 no such user nobody@dest.example",
                                  "disconnect": "If421"}
    assert "S: 550 5.1.1 no such user nobody@dest.example (see https://example.com/policy)" \
        in out["transcript"]


def test_inject_json_rejected(files: dict[str, Path]) -> None:
    result = run(files, str(files["good"]), "-f", "x@spam.example", "-r", "bob@dest.example",
                 "--json")
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["ok"] is False
    assert out["reply"]["lines"] == ["550 5.7.1 sender x@spam.example rejected"]
    assert out["messages"] == []


def test_inject_relaying_from_another_peer(files: dict[str, Path]) -> None:
    result = run(files, str(files["good"]), "-f", "alice@good.example", "-r",
                 "bob@dest.example", "--peer", "203.0.113.9:1234")
    assert result.exit_code == 1
    assert "relaying not permitted for 203.0.113.9:1234" in result.output.splitlines()[-1]


def test_inject_with_auth(files: dict[str, Path]) -> None:
    result = run(files, str(files["good"]), "-f", "alice@good.example", "-r",
                 "bob@dest.example", "--auth", "alice:secret", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert "S: 235 2.7.0 AUTH OK!" in out["transcript"]
    assert out["messages"][0]["meta"]["authn_id"] == "alice"
    bad = run(files, str(files["good"]), "-f", "alice@good.example", "-r",
              "bob@dest.example", "--auth", "alice:nope")
    assert bad.exit_code == 1
    assert bad.output.splitlines()[-1] == "reply  535 5.7.8 AUTH invalid"


def test_inject_http(files: dict[str, Path]) -> None:
    good = run(files, str(files["good"]), "-f", "alice@good.example", "-r",
               "bob@dest.example", "--http", "--json")
    assert good.exit_code == 0, good.output
    out = json.loads(good.output)
    assert out["response"]["success_count"] == 1
    assert out["messages"][0]["meta"]["reception_protocol"] == "HTTP"
    bad = run(files, str(files["bad"]), "-f", "alice@good.example", "-r",
              "bob@dest.example", "--http")
    assert bad.exit_code == 1
    assert "error  bob@dest.example: 550 5.7.1 unknown tenant nope" in bad.output


def test_inject_raw_keeps_bare_line_feeds(files: dict[str, Path]) -> None:
    result = run(files, str(files["good"]), "-f", "alice@good.example", "-r",
                 "bob@dest.example", "--raw")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "reply  552 5.6.0 message data must use CRLF for line endings")


def test_inject_subprocess_bad_sender_is_one_line(files: dict[str, Path]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kumopy.cli", "inject", str(POLICY), str(files["good"]),
         "-f", "not an address", "-r", "bob@dest.example",
         "--map", f"{CONFIG_PATH}={files['config']}"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert "invalid envelope address 'not an address'" in proc.stderr


def test_inject_deferred_queue_listener(tmp_path: Path) -> None:
    policy = tmp_path / "init.lua"
    policy.write_text("""
local kumo = require 'kumo'
kumo.on('init', function()
  kumo.start_esmtp_listener { listen = '127.0.0.1:25', hostname = 'mx.test',
                              deferred_queue = true }
end)
kumo.on('smtp_server_message_deferred_inject', function(msg, conn_meta)
  msg:set_meta('tenant', msg:get_first_named_header_value('X-Tenant'))
end)
""")
    message = tmp_path / "m.eml"
    message.write_text(MESSAGE)
    result = CliRunner().invoke(cli, ["inject", str(policy), str(message), "-f", "a@good.example",
                                      "-r", "bob@dest.example", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [msg] = json.loads(result.output)["messages"]
    assert msg["queue"] == "deferred_smtp_inject.kumomta.internal"
    assert msg["deferred_inject"]["outcome"] == "queued"
    assert msg["deferred_inject"]["queue"] == "acme@dest.example"
