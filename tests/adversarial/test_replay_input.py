"""Hostile log files and inputs through `kumopy replay` and `kumopy rewrite`:
every case ends under the harness's address-space limit with exit 3, one
`kumopy: error:` line naming the file and line, no traceback, and the
damage counted while every good record around it is still replayed."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
import zstandard

from kumopy._replay._reader import MAX_LINE, MAX_SKIP

from ._harness import Outcome, assert_clear_failure, run_kumopy, write_policy

RULES_PATH = "/opt/kumomta/etc/policy/dsn_rewrite.json"
POLICY = """
local kumo = require 'kumo'
local rules = kumo.regex_set_map.new(kumo.json_load('/opt/kumomta/etc/policy/dsn_rewrite.json'))
kumo.on('smtp_client_rewrite_delivery_status', function(response)
  return rules[response]
end)
"""


def _record(i: int, content: str = "Mailbox full") -> str:
    return json.dumps({
        "type": "TransientFailure", "id": f"id{i}", "recipient": f"u{i}@example.com",
        "queue": "example.com", "delivery_protocol": "ESMTP",
        "response": {"code": 452, "enhanced_code": {"class": 4, "subject": 2, "detail": 2},
                     "content": content, "command": None},
    }, separators=(",", ":"))


GOOD = [_record(i) for i in range(5)]


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    (tmp_path / "rules.json").write_text(json.dumps({"Mailbox full": 552}))
    return write_policy(tmp_path, POLICY)


def _replay(policy: Path, *logs: Path | str) -> tuple[Outcome, dict[str, Any]]:
    outcome = run_kumopy("replay", policy, *logs, "--json", "-j", "1",
                         "--map", f"{RULES_PATH}={policy.parent / 'rules.json'}")
    report = json.loads(outcome.stdout) if outcome.stdout.strip() else {}
    return outcome, report


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(data)


def test_zstd_bomb_is_read_in_bounded_steps(tmp_path: Path, policy: Path) -> None:
    # 1 GiB of zeros (no line end) in a few hundred kilobytes, after good records
    frame = _zstd(b"\0" * (64 << 20))
    bomb = tmp_path / "bomb.zst"
    bomb.write_bytes(_zstd("".join(x + "\n" for x in GOOD).encode()) + frame * 16)
    assert bomb.stat().st_size < 400_000
    outcome, report = _replay(policy, bomb)
    line = assert_clear_failure(outcome, f"{bomb}:6", returncodes=(3,))
    assert "1 malformed line" in line
    assert f"{bomb}:6: malformed line: a line runs on for more than {MAX_SKIP:,} bytes" in (
        outcome.stderr)
    # (like a cut zstd frame, the point where reading stopped is not a line read)
    assert (report["read"], report["rewritten"], report["malformed"]) == (5, 5, 1)


def test_endless_line_in_a_plain_log(tmp_path: Path, policy: Path) -> None:
    log = tmp_path / "long.log"
    with log.open("w") as f:
        f.write(GOOD[0] + "\n")
        f.write('{"type":"TransientFailure","pad":"' + "x" * (MAX_LINE + 10) + '"}\n')
        f.write("\n".join(GOOD[1:]) + "\n")
    outcome, report = _replay(policy, log)
    assert_clear_failure(outcome, f"{log}:2", returncodes=(3,))
    assert f"{log}:2: malformed line: line longer than {MAX_LINE:,} bytes" in outcome.stderr
    assert (report["read"], report["rewritten"], report["malformed"]) == (6, 5, 1)


def test_dev_zero_as_a_log_ends(policy: Path) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    outcome, report = _replay(policy, "/dev/zero")
    assert_clear_failure(outcome, "/dev/zero:1", returncodes=(3,))
    assert (report["read"], report["malformed"]) == (0, 1)


def test_dev_zero_to_rewrite_ends(policy: Path) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    outcome = run_kumopy("rewrite", policy, "--input", "/dev/zero", "--summary",
                         "--map", f"{RULES_PATH}={policy.parent / 'rules.json'}")
    assert_clear_failure(outcome, "/dev/zero:1", "stopped reading", returncodes=(3,))
    assert "1 not an SMTP response" in outcome.stderr


def test_overlong_response_line_to_rewrite_is_skipped(tmp_path: Path, policy: Path) -> None:
    responses = tmp_path / "responses.txt"
    responses.write_bytes(b"452 4.2.2 Mailbox full\n" + b"4" * (1 << 20) + b"\n"
                          + b"452 4.2.2 Mailbox full\n")
    outcome = run_kumopy("rewrite", policy, "--input", responses, "--summary",
                         "--map", f"{RULES_PATH}={policy.parent / 'rules.json'}")
    assert outcome.returncode == 3 and "Traceback" not in outcome.stderr
    assert f"{responses}:2: not an SMTP response (line longer than" in outcome.stderr
    assert outcome.stdout.count("(kumomta: status was rewritten from 452 -> 552)") == 2


def test_truncated_zstd_frames(tmp_path: Path, policy: Path) -> None:
    cobj = zstandard.ZstdCompressor().compressobj()
    data = b""
    for i in range(40):
        data += cobj.compress((_record(i) + "\n").encode() * 50)
        data += cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    log = tmp_path / "open-segment.zst"
    log.write_bytes(data[: len(data) * 2 // 3])
    outcome, report = _replay(policy, log)
    line = assert_clear_failure(outcome, str(log), returncodes=(3,))
    assert "1 malformed line" in line
    assert "zstd data ends in the middle of a frame" in outcome.stderr
    assert report["malformed"] == 1 and report["rewritten"] == report["read"] > 500


@pytest.mark.parametrize("kind", ["plain", "after zstd magic"])
def test_binary_garbage(tmp_path: Path, policy: Path, kind: str) -> None:
    rng = random.Random(5)
    junk = bytes(rng.randrange(256) for _ in range(200_000))
    log = tmp_path / "junk"
    if kind == "plain":
        log.write_bytes("".join(x + "\n" for x in GOOD).encode() + junk)
    else:
        log.write_bytes(_zstd("".join(x + "\n" for x in GOOD).encode())
                        + b"\x28\xb5\x2f\xfd" + junk)
    outcome, report = _replay(policy, log)
    assert_clear_failure(outcome, f"{log}:", returncodes=(3,))
    assert report["rewritten"] == 5 and report["malformed"] >= 1
    if kind != "plain":
        assert "damaged zstd data" in outcome.stderr


def test_huge_json_nesting_in_a_record(tmp_path: Path, policy: Path) -> None:
    deep = '{"type":"Bounce","meta":' + "[" * 200_000 + "]" * 200_000 + "}"
    log = tmp_path / "deep.log"
    log.write_text("\n".join([GOOD[0], deep, *GOOD[1:]]) + "\n")
    outcome, report = _replay(policy, log)
    assert_clear_failure(outcome, f"{log}:2", returncodes=(3,))
    assert f"{log}:2: malformed line: not JSON" in outcome.stderr
    assert (report["read"], report["rewritten"], report["malformed"]) == (6, 5, 1)


def test_invalid_utf8_in_a_record(tmp_path: Path, policy: Path) -> None:
    bad = _record(9).encode().replace(b"Mailbox full", b"Mailbox \xff full")
    log = tmp_path / "bytes.log"
    log.write_bytes(b"\n".join([GOOD[0].encode(), bad, *(x.encode() for x in GOOD[1:])]) + b"\n")
    outcome, report = _replay(policy, log)
    assert_clear_failure(outcome, f"{log}:2", returncodes=(3,))
    assert (report["read"], report["rewritten"], report["malformed"]) == (6, 5, 1)
