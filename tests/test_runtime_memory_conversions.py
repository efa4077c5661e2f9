"""Converting a Python value into Lua near the state's memory limit fails
with kumopy's `not enough memory`, and the Policy stays usable
(docs/security.md, "Lua runtime": values).  lupa's conversions are not
protected Lua calls: before kumopy kept its own allocations from failing,
these cases aborted the process (outside a call) or deadlocked it (inside
one), so each runs in a subprocess with a timeout."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

LIMIT = 64 * 1024 * 1024

POLICY = """
local kumo = require 'kumo'
-- fill the state to about `room` bytes below its limit, in pieces
local function fill(room)
  local keep, n, limit = {}, 0, LIMIT
  local chunk = 1024 * 1024
  while chunk >= 64 do
    collectgarbage()
    while limit - collectgarbage('count') * 1024 - room > 2 * chunk + 4096 do
      n = n + 1 keep[n] = string.rep('f', chunk - 32)
    end
    chunk = chunk // 2
  end
  return keep
end
local msg = kumo.make_message('a@example.com', 'b@example.com', 'Subject: x\\r\\n\\r\\nhi\\r\\n')
kumo.on('store', function(kind)
  local v
  if kind == 'big' then v = {} for i = 1, 100000 do v[i] = i end
  elseif kind == 'strings' then v = {} for i = 1, 20000 do v['k' .. i] = 'value ' .. i end
  elseif kind == 'deep' then
    v = {} local t = v
    for d = 1, 100 do local w = {} for i = 1, 1000 do w[i] = i end t.w = w t.n = {} t = t.n end
  else v = string.rep('s', 4 * 1024 * 1024) end
  msg:set_meta('k', v)
end)
kumo.on('near', function()
  local f = fill(32 * 1024)
  local got = msg:get_meta('k')
  return #f
end)
kumo.on('fill', function() FILLED = fill(16 * 1024) end)
kumo.on('arg', function(v) return type(v) end)
kumo.on('grow', function()
  local t = {} for i = 1, 1e9 do t[i] = string.rep('g', 100) .. i end
end)
kumo.on('ok', function() return 'still usable' end)
""".replace("LIMIT", str(LIMIT))

SCRIPT = """
import json, sys
from kumopy import Policy, PolicyError
policy = Policy.load(sys.argv[1], max_memory=int(sys.argv[2]), capture_output=True)
out = []
def attempt(fn):
    try:
        out.append(["ok", repr(fn())])
    except PolicyError as e:
        out.append([type(e).__name__, str(e), e.line])
    out.append(["after", policy.call("ok")])
"""


def run(tmp_path: Path, body: str) -> list[Any]:
    policy = tmp_path / "init.lua"
    policy.write_text(POLICY)
    code = SCRIPT + textwrap.dedent(body) + "\nprint(json.dumps(out))\n"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(policy), str(LIMIT)],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    return json.loads(proc.stdout.decode().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", ["big", "strings", "deep", "string"])
def test_a_handler_converting_a_value_near_the_limit(tmp_path: Path, kind: str) -> None:
    out = run(
        tmp_path,
        f"""
        policy.call("store", "{kind}")
        attempt(lambda: policy.call("near"))
        """,
    )
    (kind_, message, line), after = out
    at = next(i for i, ln in enumerate(POLICY.splitlines(), 1) if "msg:get_meta('k')" in ln)
    assert kind_ == "LuaCallError"
    assert message.endswith(f"init.lua:{at}: not enough memory (in event 'near')"), message
    assert line == at
    assert after == ["after", "still usable"]


@pytest.mark.parametrize(
    "value",
    [
        "list(range(100000))",
        "{f'k{i}': f'v{i}' for i in range(20000)}",
        "[[i] * 100 for i in range(1000)]",
        "'x' * 100000",
    ],
)
def test_event_arguments_that_do_not_fit(tmp_path: Path, value: str) -> None:
    # the state is filled in one event; the next one's argument does not fit
    out = run(
        tmp_path,
        f"""
        policy.state.invoke(policy.handlers("fill")[0].function)
        attempt(lambda: policy.call("arg", {value}))
        """,
    )
    (kind, message, _), after = out
    assert kind == "PolicyMemoryError"
    assert "not enough memory" in message and "'arg'" in message
    assert after == ["after", "still usable"]


def test_a_conversion_outside_any_call(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        """
        state = policy.state
        state.invoke(policy.handlers("fill")[0].function)
        attempt(lambda: state.to_lua(list(range(1_000_000))))
        attempt(lambda: state.table_from(list(range(1_000_000))))
        """,
    )
    assert [entry[0] for entry in out] == ["PolicyMemoryError", "after"] * 2
    assert all(entry[1] == "still usable" for entry in out[1::2])


def test_policy_code_past_the_limit_is_stopped(tmp_path: Path) -> None:
    (kind, message, _), after = run(tmp_path, 'attempt(lambda: policy.call("grow"))')
    assert kind == "PolicyMemoryError"
    assert "not enough memory" in message
    assert after == ["after", "still usable"]


def test_the_room_left_is_measured_not_guessed(tmp_path: Path) -> None:
    # a value that fits is converted even when the state is nearly full
    out = run(
        tmp_path,
        """
        policy.call("store", "big")
        attempt(lambda: policy.call("arg", list(range(100))))
        """,
    )
    assert out[0] == ["ok", repr("table")]


def test_headroom_is_documented() -> None:
    from kumopy._runtime import HEADROOM, SMALL

    doc = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    table = doc.split("## Every limit and its default", 1)[1]
    rows = {ln.split("|")[-2].strip(): ln for ln in table.splitlines() if ln.startswith("|")}
    assert f"| {HEADROOM // (1024 * 1024)} MiB |" in rows["`kumopy._runtime.HEADROOM`"]
    assert f"| {SMALL // 1024} KiB |" in rows["`kumopy._runtime.SMALL`"]
