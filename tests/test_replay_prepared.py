"""The prepared call path replay uses for every record
(`Policy._rewrite_code`, `LuaState.invoke_event`) decides exactly what the
general path (`Policy._offer_response` with raise_errors) decides: same
codes, same error texts, same state handling, same budget."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from kumopy import BudgetExceeded, PolicyError
from kumopy._smtp import QueueName, Response

EVENT = "smtp_client_rewrite_delivery_status"

# handler bodies (the response line is `r`), each a different outcome
BODIES = {
    "int": "return 552",
    "same": "return 452",
    "nil": "return nil",
    "nothing": "return",
    "no return": "local x = 1",
    "string": "return ' 550 '",
    "hex string": "return '0x226'",
    "float": "return 550.0",
    "fraction": "return 550.7",
    "too big": "return 70000",
    "negative": "return -1",
    "bad string": "return 'soon'",
    "boolean": "return true",
    "table": "return {}",
    "two values": "return 552, 'extra'",
    "error": "error('boom')",
    "error table": "error({code = 1})",
    "kumo error": "return kumo.json_parse('{')",
    "args": ("if domain == 'd.example' and tenant == 't' and campaign == 'c' "
             "and routing == 'r.example' then return 500 end"),
    "event name": "if _KUMO_CURRENT_EVENT == 'smtp_client_rewrite_delivery_status' "
                  "then return 501 end",
}

QUEUES = ["c:t@d.example!r.example", "d.example", "t@d.example"]


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


def _text(e: PolicyError) -> str:
    return re.sub(r"0x[0-9a-f]+", "0x...", str(e))  # table addresses differ


def _general(policy: Any, response: Response, queue: QueueName) -> tuple[Any, Any]:
    try:
        result = policy._offer_response(response, response.to_single_line(), queue, True)
    except PolicyError as e:
        return None, _text(e)
    return (result.code if result is not response else None), None


def _prepared(policy: Any, response: Response, queue: QueueName) -> tuple[Any, Any]:
    args = tuple(None if a is None else a.encode() for a in queue.rewrite_event_args())
    try:
        code = policy._rewrite_code(response.to_single_line().encode(), args)
    except PolicyError as e:
        return None, _text(e)
    return (None if code == response.code else code), None


@pytest.mark.parametrize("name", sorted(BODIES))
@pytest.mark.parametrize("options", [{}, {"fresh_state_per_event": True}],
                         ids=["reused state", "fresh state"])
def test_prepared_path_decides_like_the_general_path(load: Any, name: str,
                                                      options: dict[str, Any]) -> None:
    general = _policy(load, BODIES[name], **options)
    prepared = _policy(load, BODIES[name], **options)
    response = Response.parse("452 4.2.2 Mailbox full")
    for queue_text in QUEUES:
        queue = QueueName.parse(queue_text)
        for _ in range(2):  # the second call runs in the state the first left
            assert _prepared(prepared, response, queue) == _general(general, response, queue)


def test_a_failed_call_drops_the_state_like_dispatch(load: Any) -> None:
    policy = _policy(load, "calls = (calls or 0) + 1 if calls == 2 then error('second') end "
                           "return 500 + calls")
    queue = QueueName.parse("d.example")
    response = Response.parse("451 busy")
    codes = [_prepared(policy, response, queue) for _ in range(4)]
    # calls 1 and 2 in the first state (the second fails and drops it);
    # the new state starts counting again, as kumod's fresh Lua state would
    assert codes == [(501, None), (None, codes[1][1]), (501, None), (None, codes[3][1])]
    assert "second" in codes[1][1] and f"(in event '{EVENT}')" in codes[1][1]


def test_no_handler_keeps_every_response(load: Any) -> None:
    policy = load("local kumo = require 'kumo'")
    assert policy._rewrite_code(b"451 x", (b"d", None, None, b"d")) is None


def test_runaway_handler_is_stopped_on_the_prepared_path(load: Any) -> None:
    policy = _policy(load, "if r:find('loop') then while true do end end return 550",
                     budget_seconds=0.2)
    args = (b"d.example", None, None, b"d.example")
    with pytest.raises(BudgetExceeded) as info:
        policy._rewrite_code(b"451 loop", args)
    assert info.value.event == EVENT and "CPU budget of 0.2 seconds" in str(info.value)
    assert policy._rewrite_code(b"451 fine", args) == 550


def test_prepared_deadline_is_never_earlier_than_the_budget(load: Any) -> None:
    """The deadline reuses a recent reading of the CPU clock; it must never
    give a call less than its budget (only a little more)."""
    seen: list[float] = []
    policy = _policy(load, "return probe()", budget_seconds=2.0,
                     setup_state=lambda st: st.set_global(
                         "probe", lambda: seen.append(st.deadline) or 500))
    args = (b"d.example", None, None, b"d.example")
    for _ in range(300):
        before = time.thread_time()
        assert policy._rewrite_code(b"451 x", args) == 500
        assert seen[-1] >= before + 2.0
        # and not later than the reuse window allows (10 ms by wall clock)
        assert seen[-1] <= time.thread_time() + 2.0 + 0.011
