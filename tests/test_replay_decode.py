"""The fast paths that read an eligible record (`_decode.decode` with
msgspec, `_records.quick` on a parsed record) never disagree with
`examine` on what they answer, and msgspec accepts no line orjson refuses
(but the documented one: a number beyond a double's range)."""

from __future__ import annotations

import copy
import json
import random
import re
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kumopy._replay._decode import decode
from kumopy._replay._records import OFFERED_INTERNAL, NotEligible, examine, quick

OFFERED = OFFERED_INTERNAL[0]

BASE: dict[str, Any] = {
    "type": "TransientFailure",
    "id": "0123456789abcdef",
    "sender": "news@sender.example.com",
    "recipient": "User@Example.COM",
    "queue": "c:t@example.com!relay.example",
    "site": "unspecified->mx.example.com@smtp_client",
    "size": 1234,
    "response": {
        "code": 452,
        "enhanced_code": {"class": 4, "subject": 2, "detail": 2},
        "content": "Mailbox full",
        "command": "RCPT TO:<user@example.com>\r\n",
    },
    "peer_address": {"name": "mx.example.com.", "addr": "192.0.2.7"},
    "timestamp": 1757675281,
    "delivery_protocol": "ESMTP",
    "meta": {"x": [1, 2.5, None, True]},
    "headers": {},
}

# values a field of the record may take in a broken or unusual log
ODD = [None, True, False, 0, -1, 1.5, 452.0, 70000, 2**70, "", "x", [], ["a@b.example"],
       {}, {"class": 4}, {"class": 4, "subject": 2, "detail": 2},
       {"class": True, "subject": 2, "detail": 2}, {"class": 300, "subject": 2, "detail": 2},
       "Bounce", "Delivery", "ESMTP", "Maildir", "KumoMTA internal: boom",
       "text (kumomta: status was rewritten from 452 -> 552)", "two\r\nlines", "tr\u00e9s",
       250, 452, "ref #1",
       "KumoMTA internal: DATA is 8bit, destination does not support 8BITMIME.",
       "KumoMTA internal: failed to connect (timed out)", "KumoMTA internal: no answer"]

FIELDS = [("type",), ("recipient",), ("queue",), ("delivery_protocol",), ("id",),
          ("response",), ("response", "code"), ("response", "content"),
          ("response", "enhanced_code"), ("response", "command")]


def _examined(record: Any) -> tuple[Any, ...] | str:
    try:
        found = examine(record)
    except NotEligible as e:
        return f"not offered: {e.reason}"
    except (ValueError, TypeError):
        return "malformed"
    if found.was_rewritten:
        return "restored"
    return (found.line, found.queue, found.domain, found.response.code)


def _mutate(rng: random.Random) -> dict[str, Any]:
    record = json.loads(json.dumps(BASE))
    for _ in range(rng.randint(0, 3)):
        path = rng.choice(FIELDS)
        target = record
        if len(path) == 2:
            if not isinstance(target.get("response"), dict):
                continue
            target = target["response"]
        if rng.random() < 0.15:
            target.pop(path[-1], None)
        else:
            # (a copy: the same ODD dict set twice could end up inside itself)
            target[path[-1]] = copy.deepcopy(rng.choice(ODD))
    return record


@settings(max_examples=400, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_fast_paths_agree_with_examine(seed: int) -> None:
    rng = random.Random(seed)
    record = _mutate(rng)
    raw = json.dumps(record, separators=(",", ":"), ensure_ascii=rng.random() < 0.5).encode()
    expected = _examined(record)  # (also fills the queue-name cache the fast paths read)
    for answer in (quick(orjson.loads(raw)), decode(raw)):
        if isinstance(answer, str):  # (decode: a reason it is not offered)
            answer = f"not offered: {answer}"
        if answer is not None:
            assert answer == expected, (raw, answer, expected)


def test_fast_paths_answer_the_common_record() -> None:
    raw = json.dumps(BASE).encode()
    expected = ("452 4.2.2 Mailbox full", examine(BASE).queue, "example.com", 452)
    assert quick(orjson.loads(raw)) == expected
    assert decode(raw) == expected


def test_decode_tells_kumods_own_responses_apart() -> None:
    record = copy.deepcopy(BASE)
    record["response"]["content"] = "KumoMTA internal: failed to resolve"
    assert decode(json.dumps(record).encode()) == "internal"
    # the 8-bit refusals reach the event: examine decides
    record["response"]["content"] = OFFERED
    assert decode(json.dumps(record).encode()) is None
    assert _examined(record)[0] == f"452 4.2.2 {OFFERED}"


# byte-level damage: msgspec must refuse what orjson refuses
def _damaged(rng: random.Random) -> bytes:
    raw = bytearray(json.dumps(BASE, separators=(",", ":")).encode())
    for _ in range(rng.randint(1, 3)):
        roll = rng.random()
        pos = rng.randrange(len(raw))
        if roll < 0.3:
            del raw[pos:pos + rng.randint(1, 4)]
        elif roll < 0.6:
            raw[pos:pos] = bytes([rng.choice(b'{}[]",:\\ 0e-+.tnfu\x00\x1f\x7f\xff\xc3')])
        else:
            raw[pos] = rng.randrange(256)
    return bytes(raw)


_OVERFLOW = re.compile(rb"[0-9][eE][+-]?[0-9]{3}|[0-9]{300}")


@settings(max_examples=600, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_msgspec_refuses_what_orjson_refuses(seed: int) -> None:
    raw = _damaged(random.Random(seed))
    try:
        orjson.loads(raw)
        orjson_ok = True
    except ValueError:
        orjson_ok = False
    if decode(raw) is not None and not orjson_ok:
        # the one documented difference: a number beyond a double's range
        assert _OVERFLOW.search(raw), raw


@pytest.mark.parametrize("raw", [
    b'{"type":"Bounce","response":{"code":452,"content":"x"},"queue":"example.com",'
    b'"recipient":"u@example.com","m":"\xff"}',  # invalid UTF-8 where replay does not look
    b'{"type":"Bounce","response":{"code":452,"content":"x"},"queue":"example.com",'
    b'"recipient":"u@example.com","m":"\xc3\xa9"}',  # valid, but not ASCII: orjson decides
])
def test_lines_that_are_not_ascii_take_the_orjson_path(raw: bytes) -> None:
    examine(orjson.loads(raw.replace(b"\xff", b"")))  # fill the queue cache
    assert decode(raw) is None


def test_deep_nesting_takes_the_orjson_path() -> None:
    # msgspec reports its depth limit as a RecursionError, not a DecodeError
    raw = b'{"type":"Bounce","meta":' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert decode(raw) is None
