"""The library logs through `logging` and installs no handler of its own:
without logging configured, a Python program using kumopy writes nothing
to stderr (Python's last-resort handler never fires for kumopy's records);
the CLI is what sends kumopy's records to stderr."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import kumopy

POLICY = """
local kumo = require 'kumo'
local rules = kumo.memoize(function()
  return kumo.json_load('/nonexistent/rules.json')
end, {name = 'rules', ttl = 60, capacity = 1})
kumo.on('smtp_client_rewrite_delivery_status', function(response)
  return rules()[response]
end)
"""


def test_the_kumopy_logger_has_only_a_null_handler() -> None:
    handlers = logging.getLogger("kumopy").handlers
    assert kumopy.__name__ == "kumopy"
    assert handlers and all(isinstance(h, logging.NullHandler) for h in handlers)


def test_the_python_api_writes_nothing_to_stderr(tmp_path: Path) -> None:
    policy = tmp_path / "init.lua"
    policy.write_text(POLICY)
    script = textwrap.dedent(f"""
        from kumopy import Policy
        p = Policy.load({str(policy)!r})
        out = p.rewrite_delivery_status("452 4.2.2 Mailbox full")
        print(out.code)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "452"  # the handler failed, the response was kept
    assert proc.stderr == ""


def test_records_reach_the_programs_own_logging_config(tmp_path: Path) -> None:
    policy = tmp_path / "init.lua"
    policy.write_text(POLICY)
    script = textwrap.dedent(f"""
        import logging
        logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
        from kumopy import Policy
        Policy.load({str(policy)!r}).rewrite_delivery_status("452 4.2.2 Mailbox full")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "kumopy ERROR smtp_client_rewrite_delivery_status event failed" in proc.stderr
    assert "kumopy.memoize ERROR" in proc.stderr
