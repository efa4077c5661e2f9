"""Response lines longer than kumod's SMTP client ever receives
(docs/rewrite.md, docs/replay.md).

kumod's client reads the socket 4,096 bytes at a time and refuses a line
once it holds more than 4,096 bytes without the line's end ("Response line
is too long", a client error): such a response never reaches
`smtp_client_rewrite_delivery_status`.  A line of 4,095 bytes or less always
gets through, one of 8,191 bytes or more never does, one in between only
when it arrives in large enough pieces.  `kumopy rewrite` skips (and counts)
a response kumod never receives and notes one it may refuse; `kumopy replay`
counts a record with such a response as not offered, with its reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kumopy import Policy
from kumopy._smtp import MAX_LINE_LEN, MalformedResponse, Response, ResponseTooLong, line_received

from ._harness import run_kumopy, write_policy

POLICY = """
local kumo = require 'kumo'
kumo.on('smtp_client_rewrite_delivery_status', function(response)
  return 552
end)
"""


def kumod_reads(line: bytes, reads: list[int]) -> bool:
    """What kumod's SMTP client makes of `line` (CRLF included) arriving in
    reads of the given sizes (each at most its 4,096-byte read buffer):
    True when it returns the line, False when it refuses it as too long.
    Written from the description of `read_line` in rfc5321's client.rs."""
    buffer = b""
    too_long = False
    pending = line
    sizes = iter(reads)
    while True:
        end = buffer.find(b"\r\n")
        if end >= 0:
            return not too_long
        if len(buffer) > MAX_LINE_LEN:
            buffer = b""
            too_long = True
        if not pending:
            # the CR went with the discarded buffer: no line end ever comes
            # (kumod would wait for more data until its timeout)
            return False
        size = min(next(sizes, MAX_LINE_LEN), MAX_LINE_LEN, len(pending))
        buffer, pending = buffer + pending[:size], pending[size:]


@given(
    st.integers(min_value=4, max_value=9000),
    st.lists(st.integers(min_value=1, max_value=MAX_LINE_LEN), max_size=20),
)
@example(4096, [4096, 1])  # the CR is discarded with the too-long buffer
def test_line_received_agrees_with_kumods_reader(size: int, reads: list[int]) -> None:
    verdict = line_received(size)
    got = kumod_reads(b"x" * size + b"\r\n", reads)
    if verdict is not None:
        assert got is verdict
    else:  # (both can happen: whole reads let it through, small ones do not)
        assert kumod_reads(b"x" * size + b"\r\n", [MAX_LINE_LEN] * 3)
        assert not kumod_reads(b"x" * size + b"\r\n", [1] * (MAX_LINE_LEN + 1))


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("452 " + "x" * (4095 - 4), False),
        ("452 " + "x" * (8190 - 4), False),
        ("452 " + "x" * (8191 - 4), True),
        ("452 " + "\u00e9" * 4094, True),  # bytes, not characters: 8,192
        ("452-first\r\n452 " + "x" * 9000, True),
        ("452-" + "x" * 9000 + "\r\n452 last", True),
    ],
)
def test_response_parse(text: str, refused: bool) -> None:
    if not refused:
        assert Response.parse(text).code == 452
        return
    with pytest.raises(ResponseTooLong) as info:
        Response.parse(text)
    assert isinstance(info.value, MalformedResponse)
    assert info.value.kumod_error == "Response line is too long"
    assert len(str(info.value)) < 300


def test_the_api_refuses_it(tmp_path: Path) -> None:
    policy = Policy.load(write_policy(tmp_path, POLICY), capture_output=True)
    with pytest.raises(ResponseTooLong):
        policy.rewrite_delivery_status("452 " + "x" * 9000)
    assert policy.rewrite_delivery_status("452 " + "x" * 5000).code == 552


def test_rewrite_cli(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, POLICY)
    responses = tmp_path / "responses.txt"
    responses.write_text(
        "452 4.2.2 short\n"
        f"452 4.2.2 {'x' * 9000}\n"
        f"452 4.2.2 {'y' * 5000}\n"
        "452 4.2.2 after\n"
    )
    outcome = run_kumopy("rewrite", policy, "--input", responses, "--summary")
    text = outcome.describe()
    assert outcome.returncode == 3, text
    assert "Traceback" not in text, text
    out = outcome.stdout.splitlines()
    assert [ln[:4] for ln in out] == ["552 ", "552 ", "552 "], text
    assert out[0].startswith("552 4.2.2 short") and out[2].startswith("552 4.2.2 after")
    assert f"{responses}:2: not offered (a line of 9,010 bytes: kumod's SMTP client never " \
        "receives a line over 8,190 bytes: Response line is too long), skipped" in outcome.stderr
    assert f"{responses}:3: note: a line of 5,010 bytes" in outcome.stderr
    assert "3 rewritten" in outcome.stderr and "1 not an SMTP response" in outcome.stderr


def _record(i: int, content: str) -> dict[str, Any]:
    return {
        "type": "Bounce", "id": f"id{i}", "recipient": f"u{i}@example.com",
        "queue": "example.com", "delivery_protocol": "ESMTP",
        "response": {"code": 552, "enhanced_code": {"class": 5, "subject": 2, "detail": 2},
                     "content": content, "command": None},
    }


def test_replay_counts_them_as_not_offered(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, POLICY.replace("552", "452"))
    log = tmp_path / "log"
    records = [
        _record(1, "short"),
        _record(2, "x" * 9000),  # never received
        _record(3, "y" * 5000),  # received when it arrived in large pieces
        _record(4, "first\n" + "z" * 8200),  # a continuation line never received
        _record(5, "short again"),
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    outcome = run_kumopy("replay", policy, log, "--json", "-j", "1")
    text = outcome.describe()
    assert outcome.returncode == 0, text
    report = json.loads(outcome.stdout)
    assert report["not_offered"] == {"line too long": 2}, report
    assert report["rewritten"] == 3, report
    human = run_kumopy("replay", policy, log, "-j", "1")
    assert "2 with a response line kumod's SMTP client never receives" in (
        human.stdout + human.stderr), human.describe()
