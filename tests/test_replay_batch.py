"""The batch path of log replay (`Policy._rewrite_batch`,
`LuaState.invoke_event_batch`: many records offered in one crossing into
Lua) decides exactly what the prepared path decides record by record: same
codes, same error texts, a failed call dropping the state, each record its
own budget, each record its own rule observation."""

from __future__ import annotations

import io
import json
import random
import re
import time
from pathlib import Path
from typing import Any

import pytest

from kumopy import BudgetExceeded, PolicyError
from kumopy._replay import ReplaySpec, replay
from kumopy._replay._sample import write_log

# handler bodies (the response line is `r`), each a different outcome
BODIES = {
    "int": "return 552",
    "nil": "return nil",
    "nothing": "return",
    "no return": "local x = 1",
    "zero": "return 0",
    "top": "return 65535",
    "string": "return ' 550 '",
    "float": "return 550.0",
    "fraction": "return 550.7",
    "too big": "return 70000",
    "negative": "return -1",
    "bad string": "return 'soon'",
    "boolean": "return true",
    "table": "return {}",
    "two values": "return 552, 'extra'",
    "nil and more": "return nil, 1",
    "error": "error('boom')",
    "error table": "error({code = 1})",
    "kumo error": "return kumo.json_parse('{')",
    "exit": "os.exit(3)",
    "args": ("if domain == 'd.example' and tenant == 't' and campaign == 'c' "
             "and routing == 'r.example' then return 500 end"),
    "event name": "if _KUMO_CURRENT_EVENT == 'smtp_client_rewrite_delivery_status' "
                  "then return 501 end",
    "event renamed": "_KUMO_CURRENT_EVENT = 'other' return 502",
}

EVENT = "smtp_client_rewrite_delivery_status"
ARGS = (b"d.example", b"t", b"c", b"r.example")


def _policy(load: Any, body: str, **options: Any) -> Any:
    return load(
        f"""
        local kumo = require 'kumo'
        kumo.on('{EVENT}', function(r, domain, tenant, campaign, routing)
          {body}
        end)
        """,
        **options,
    )


def _text(e: BaseException) -> str:
    return re.sub(r"0x[0-9a-f]+", "0x...", str(e))  # table addresses differ


def _one_by_one(policy: Any, lines: list[bytes], args: list[Any]) -> list[Any]:
    out: list[Any] = []
    for line, a in zip(lines, args, strict=True):
        try:
            out.append(policy._rewrite_code(line, a))
        except PolicyError as e:
            out.append(("error", type(e).__name__, _text(e)))
    return out


def _batch(policy: Any, lines: list[bytes], args: list[Any]) -> list[Any]:
    results = policy._rewrite_batch(lines, args)
    assert results is not None
    return [("error", type(r).__name__, _text(r)) if isinstance(r, PolicyError) else r
            for r in results]


def test_every_outcome_in_one_batch_as_record_by_record(load: Any) -> None:
    """All the outcomes of the prepared path's table, interleaved in one
    batch (an error or an unusual value in the middle ends a crossing; the
    records after it still get their own results)."""
    names = sorted(BODIES)
    body = "\n".join(f"if r == '451 {name}' then {BODIES[name]} end" for name in names)
    body += "\nreturn 599"
    rng = random.Random(5)
    order = names * 3
    rng.shuffle(order)
    lines = [f"451 {name}".encode() for name in order] + [b"451 other"] * 3
    args = [rng.choice([ARGS, (b"d.example", None, None, b"d.example")]) for _ in lines]
    expected = _one_by_one(_policy(load, body), lines, args)
    assert _batch(_policy(load, body), lines, args) == expected
    assert any(isinstance(r, tuple) for r in expected) and 599 in expected


def test_every_record_sees_the_event_name(load: Any) -> None:
    """kumod sets _KUMO_CURRENT_EVENT for every event: a handler that
    changes it does not change what the next record sees."""
    policy = _policy(load, "local seen = _KUMO_CURRENT_EVENT _KUMO_CURRENT_EVENT = 'other' "
                           f"if seen == '{EVENT}' then return 501 end return 502")
    assert policy._rewrite_batch([b"451 x"] * 3, [ARGS] * 3) == [501, 501, 501]


def test_a_failed_call_drops_the_state_within_a_batch(load: Any) -> None:
    policy = _policy(load, "calls = (calls or 0) + 1 if calls == 2 then error('second') end "
                           "return 500 + calls")
    results = policy._rewrite_batch([b"451 busy"] * 6, [ARGS] * 6)
    assert results[0] == 501 and results[2] == 501 and results[4] == 501
    for i in (1, 3, 5):
        assert isinstance(results[i], PolicyError)
        assert "second" in str(results[i]) and f"(in event '{EVENT}')" in str(results[i])
        assert "init.lua:" in str(results[i])


def test_batches_of_more_than_one_crossing(load: Any) -> None:
    from kumopy._rewrite_calls import BATCH

    policy = _policy(load, "n = (n or 0) + 1 return 400 + n % 100")
    n = 2 * BATCH + 7
    assert policy._rewrite_batch([b"451 x"] * n, [ARGS] * n) == [
        400 + k % 100 for k in range(1, n + 1)]


def test_a_runaway_record_is_stopped_alone(load: Any) -> None:
    policy = _policy(load, "if r:find('loop') then while true do end end return 550",
                     budget_seconds=0.2)
    lines = [b"451 fine", b"451 loop", b"451 fine", b"451 fine"]
    results = policy._rewrite_batch(lines, [ARGS] * 4)
    assert results[0] == 550 and results[2:] == [550, 550]
    assert isinstance(results[1], BudgetExceeded)
    assert results[1].event == EVENT and "CPU budget of 0.2 seconds" in str(results[1])


def test_each_record_gets_its_whole_budget(load: Any) -> None:
    """Every record of a batch is armed on its own: its deadline is never
    earlier than its start plus the budget (the previous record's end is
    before its start), and no later than the clock reuse window allows."""
    seen: list[tuple[float, float]] = []
    policy = _policy(load, "return probe()", budget_seconds=2.0,
                     setup_state=lambda st: st.set_global(
                         "probe", lambda: seen.append((st.deadline, time.thread_time())) or 500))
    before = time.thread_time()
    assert policy._rewrite_batch([b"451 x"] * 600, [ARGS] * 600) == [500] * 600
    previous = before
    for deadline, now in seen:
        assert deadline >= previous + 2.0
        assert deadline <= now + 2.0 + 0.011
        previous = now
    assert policy.state.deadline is None  # disarmed after the batch


def test_a_state_past_its_memory_limit_as_record_by_record(load: Any) -> None:
    body = ("if r:find('grow') then big = string.rep('x', 3000000) end "
            "if r:find('keep') then kept = (kept or '') .. string.rep('y', 400000) end "
            "return 500")
    lines = [b"451 a", b"451 grow", b"451 b", b"451 c"] + [b"451 keep"] * 8 + [b"451 d"]
    args = [ARGS] * len(lines)
    expected = _one_by_one(_policy(load, body, max_memory=2_500_000), lines, args)
    assert _batch(_policy(load, body, max_memory=2_500_000), lines, args) == expected
    assert expected[0] == 500 and expected[-1] == 500
    assert any(isinstance(r, tuple) and r[1] == "PolicyMemoryError" for r in expected)


def test_long_lines_that_would_not_fit_at_once_run_one_by_one(load: Any) -> None:
    """Arguments the state could not take in one crossing are offered one
    checked call at a time, with the same results (and the same refusal of
    a line that does not fit at all)."""
    body = "seen = (seen or 0) + 1 if #r > 100000 then return 550 end return 400 + seen"
    lines = [b"451 " + bytes([65 + k % 26]) * 150_000 for k in range(12)]
    lines[3] = b"451 short"
    lines[7] = b"451 " + b"x" * 3_000_000
    args = [ARGS] * len(lines)
    expected = _one_by_one(_policy(load, body, max_memory=2_500_000), lines, args)
    assert _batch(_policy(load, body, max_memory=2_500_000), lines, args) == expected
    assert expected[0] == 550 and isinstance(expected[3], int) and expected[3] > 400
    assert isinstance(expected[7], tuple) and expected[7][1] == "PolicyMemoryError"


def test_options_that_need_a_dispatch_per_call_decline_the_batch(load: Any) -> None:
    policy = _policy(load, "return 500", fresh_state_per_event=True)
    assert policy._rewrite_batch([b"451 x"], [ARGS]) is None


def test_no_handler_keeps_every_record(load: Any) -> None:
    policy = load("local kumo = require 'kumo'")
    assert policy._rewrite_batch([b"451 x", b"452 y"], [ARGS] * 2) == [None, None]


RULES_POLICY = """
local kumo = require 'kumo'
local rules = kumo.memoize(function()
  return kumo.regex_set_map.new(kumo.json_load('{rules}'))
end, {{name = 'rules', ttl = '5 minutes', capacity = 1}})
kumo.on('smtp_client_rewrite_delivery_status', function(response)
  if response:find('TWICE', 1, true) then
    local _ = rules()['452 4.2.2 quota']
  end
  if response:find('LOOP', 1, true) then while true do end end
  if response:find('EXPLODE', 1, true) then error('exploded') end
  return rules()[response]
end)
"""


def test_replay_reports_the_same_with_and_without_batches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole replays: the report (rules matched, rewrites, errors) and
    --out are the same whether the records are offered in batches or one
    call at a time."""
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({r"^452 4\.2\.2 .*quota": 552, r"^450 .*unknown": 550,
                                 r"^421 ": 421}))
    policy = tmp_path / "init.lua"
    policy.write_text(RULES_POLICY.format(rules=rules))
    log = tmp_path / "log"
    write_log(str(log), 3000, seed=3)
    text = log.read_text().splitlines()
    extra = []
    for i, word in enumerate(["TWICE", "EXPLODE", "LOOP", "TWICE"] * 5):
        record = json.loads(next(line for line in text[i * 50:] if '"TransientFailure"' in line))
        record["response"] = {"code": 450, "enhanced_code": None,
                              "content": f"user unknown {word}", "command": None}
        extra.append(json.dumps(record))
    log.write_text("\n".join(text[:1000] + extra + text[1000:]) + "\n")
    spec = ReplaySpec(str(policy), budget_seconds=0.05)

    def run() -> tuple[dict[str, Any], list[str], list[Any]]:
        out = io.StringIO()
        problems: list[Any] = []
        report = replay(spec, [str(log)], out=out, on_problem=problems.append)
        data = report.to_json()
        for key in ("seconds", "records_per_second"):
            data.pop(key, None)
        return data, out.getvalue().splitlines(), problems

    batched = run()
    from kumopy import Policy

    monkeypatch.setattr(Policy, "_rewrite_batch", lambda self, lines, args, hits=None: None)
    single = run()
    assert batched == single
    assert batched[2] and any("exploded" in p.message for p in batched[2])
    assert any("CPU budget" in p.message for p in batched[2])
    assert batched[1]
