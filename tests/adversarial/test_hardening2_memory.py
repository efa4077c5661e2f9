"""Lua running out of memory while kumopy converts a Python value into Lua
values (docs/security.md, "Lua runtime": values).

lupa builds tables and strings with unprotected Lua API calls: when the
state's allocator refuses one, Lua's error jumps over the Python frames in
between.  Outside a handler call that aborted the process ("PANIC:
unprotected error in call to Lua API (not enough memory)"), inside one it
deadlocked.  Each case brings the state near its memory limit (512 MiB, the
CLI's) and then makes kumopy convert a value larger than the room left.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ._harness import assert_clear_failure, run_kumopy, write_policy

# Fill the state to about `room` bytes below the CLI's limit (512 MiB; what
# collectgarbage counts includes the state's base, which the limit does not),
# in pieces: string.rep briefly needs twice the size of its result.
FILL = (
    "local function fill(room)\n"
    "  local keep, n, limit = {}, 0, 512 * 1024 * 1024\n"
    "  local chunk = 1024 * 1024\n"
    "  while chunk >= 64 do\n"
    "    collectgarbage()\n"
    "    while limit - collectgarbage('count') * 1024 - room > 2 * chunk + 4096 do\n"
    "      n = n + 1 keep[n] = string.rep('f', chunk - 32)\n"
    "    end\n"
    "    chunk = chunk // 2\n"
    "  end\n"
    "  return keep\n"
    "end\n"
)

def line_of(source: str, text: str) -> int:
    return next(i for i, ln in enumerate(source.splitlines(), 1) if text in ln)


MESSAGE = "kumo.make_message('a@example.com', 'b@example.com', 'Subject: x\\r\\n\\r\\nhi\\r\\n')"

# (how the value is built while there is room, an expression converting it
# near the limit): the value reaches Lua through msg:get_meta
IN_HANDLER = {
    "a big table": (
        "local v = {} for i = 1, 200000 do v[i] = i end",
        "msg:get_meta('k')",
    ),
    "a deep table": (
        "local v = {} local t = v for d = 1, 100 do local wide = {} "
        "for i = 1, 2000 do wide[i] = i end t.wide = wide t.next = {} t = t.next end",
        "msg:get_meta('k')",
    ),
    "many strings": (
        "local v = {} for i = 1, 50000 do v['key' .. i] = 'value number ' .. i end",
        "msg:get_meta('k')",
    ),
    "a big string": (
        "local v = string.rep('s', 8 * 1024 * 1024)",
        "msg:get_meta('k')",
    ),
}


@pytest.mark.parametrize("case", list(IN_HANDLER))
def test_conversion_near_the_memory_limit_in_a_handler(tmp_path: Path, case: str) -> None:
    build, convert = IN_HANDLER[case]
    source = (
        "local kumo = require 'kumo'\n"
        + FILL
        + "kumo.on('t', function()\n"
        f"  local msg = {MESSAGE}\n"
        f"  do {build} msg:set_meta('k', v) end\n"
        "  local f = fill(64 * 1024)\n"
        f"  local got = {convert}\n"
        "  return #f\n"
        "end)\n"
    )
    policy = write_policy(tmp_path, source)
    out = run_kumopy("call", policy, "t")
    assert_clear_failure(out, f"init.lua:{line_of(source, convert)}:", "not enough memory")


def test_pairs_of_a_big_memoized_table_near_the_limit(tmp_path: Path) -> None:
    source = (
        "local kumo = require 'kumo'\n"
        + FILL
        + "local make = kumo.memoize(function()\n"
        "  local t = {} for i = 1, 100000 do t['k' .. i] = i end return t\n"
        "end, {name = 'big', ttl = '1h', capacity = 1})\n"
        "kumo.on('t', function()\n"
        "  local m = make()\n"
        "  collectgarbage()\n"
        "  local f = fill(64 * 1024)\n"
        "  for k, v in pairs(m) do end\n"
        "  return #f\n"
        "end)\n"
    )
    policy = write_policy(tmp_path, source)
    out = run_kumopy("call", policy, "t")
    assert_clear_failure(out, f"init.lua:{line_of(source, 'pairs(m)')}:", "not enough memory")


ARGUMENTS = {
    "a big array": [1] * 50000,
    "a deep array": json.loads("[" * 120 + ",".join(["1"] * 30000) + "]" * 120),
    "many strings": {f"k{i}": f"v{i}" for i in range(7000)},
}


@pytest.mark.parametrize("case", list(ARGUMENTS))
def test_event_arguments_near_the_limit(tmp_path: Path, case: str) -> None:
    # the policy's top level leaves little room; the argument does not fit
    policy = write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        + FILL
        + "KEEP = fill(16 * 1024)\n"
        "kumo.on('t', function(v) return #KEEP end)\n",
    )
    arg = json.dumps(ARGUMENTS[case], separators=(",", ":"))
    assert len(arg) < 120_000  # one command-line argument
    out = run_kumopy("call", policy, "t", arg)
    assert_clear_failure(out, "'t'", "not enough memory")


def test_a_string_argument_near_the_limit(tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path,
        "local kumo = require 'kumo'\n"
        + FILL
        + "KEEP = fill(16 * 1024)\n"
        "kumo.on('t', function(v) return #KEEP end)\n",
    )
    out = run_kumopy("call", "--strings", policy, "t", "x" * 100_000)
    assert_clear_failure(out, "'t'", "not enough memory")
