"""A rewrite handler returning a numeral with thousands of digits
(docs/security.md, "kumo functions and data files").

kumod converts the handler's value to a u16 the way mlua does: Lua's own
string-to-number coercion, which reads any number of digits (a decimal
integer past 64 bits becomes a float, infinite past 1e308; a hex integer
wraps).  Python's int() refuses more than 4,300 digits, which used to end
`kumopy rewrite` with an internal error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kumopy import Policy

from ._harness import run_kumopy, write_policy

FAILED = (
    "smtp_client_rewrite_delivery_status event failed: error converting Lua string to u16 "
    "(out of range). Preserving original DSN"
)

POLICY = """\
local kumo = require 'kumo'
kumo.on('smtp_client_rewrite_delivery_status', function(response)
  return {value}
end)
"""

# (the handler's return expression, the code kumod ends with, its error)
CASES = {
    "5,000 nines": ("string.rep('9', 5000)", 452, FAILED),
    "5,000 nines, negative": ("'-' .. string.rep('9', 5000)", 452, FAILED),
    "leading zeros": ("string.rep('0', 5000) .. '421'", 421, None),
    "a long hex numeral": ("'0x' .. string.rep('0', 5000) .. '1c3'", 451, None),
    "a long hex numeral that wraps": ("'0x' .. string.rep('f', 5000)", 452, FAILED),
    "a long fraction": ("'450.' .. string.rep('4', 5000)", 450, None),
    "a long fraction that rounds up": ("'450.' .. string.rep('9', 5000)", 451, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_rewrite_cli(tmp_path: Path, case: str) -> None:
    value, code, error = CASES[case]
    policy = write_policy(tmp_path, POLICY.format(value=value))
    outcome = run_kumopy("rewrite", policy, "--json", "452 4.2.2 Mailbox full")
    text = outcome.describe()
    assert "Traceback" not in text and "internal error" not in text, text
    assert outcome.returncode == (3 if error else 0), text
    row = json.loads(outcome.stdout)
    assert row["code"] == code, text
    assert row["error"] == error, text
    if error:
        assert error in outcome.stderr, text


@pytest.mark.parametrize("case", list(CASES))
def test_rewrite_api(tmp_path: Path, case: str) -> None:
    value, code, error = CASES[case]
    policy = Policy.load(write_policy(tmp_path, POLICY.format(value=value)), capture_output=True)
    result = policy.rewrite_delivery_status("452 4.2.2 Mailbox full")
    assert result.code == code
    if error:
        with pytest.raises(Exception, match=r"error converting Lua string to u16 \(out of range\)"):
            policy.rewrite_delivery_status("452 4.2.2 Mailbox full", raise_errors=True)
