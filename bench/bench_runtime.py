"""Lua <-> Python call overhead of kumopy's runtime.

Prints a table of median microseconds per call, measured in one run so the
rows can be compared with each other (absolute numbers depend on the
machine; compare ratios):

* Lua -> Python: a policy calling a `kumo` function implemented in Python,
  next to a bare lupa call of a Python callable (the floor);
* Python -> Lua: `Policy.call` of a trivial handler (full dispatch: state,
  argument conversion, trampoline, result conversion), next to kumopy's
  trampoline alone and a bare lupa call of a Lua function;
* Lua patterns: string.find/match/gsub on a short string, calling Lua's C
  functions directly next to kumopy's routing (the C matcher for calls it
  finishes quickly, see docs/security.md).

Run: `make bench` or `python bench/bench_runtime.py`.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from lupa import lua54

from kumopy import Policy

LOOP = 20_000
REPEATS = 7

POLICY = """
local kumo = require 'kumo'
kumo.on('noop', function() end)
kumo.on('echo', function(a, b) return a end)
kumo.on('patterns', function(n)
  local s = 'Hello World, a typical header value 42'
  for i = 1, n do
    s:find('World', 1, true) s:match('^(%w+)') s:gsub('%s+', ' ') s:find('%d+')
  end
end)
kumo.on('lua_to_python', function(n)
  local f = kumo.log_debug   -- disabled level: returns at once
  local t0 = os.clock()
  for i = 1, n do f('x') end
  return os.clock() - t0
end)
"""


def median_us(fn, per_call_divisor: int) -> float:
    samples = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) / per_call_divisor * 1e6)
    return statistics.median(samples)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "init.lua"
        path.write_text(POLICY)
        policy = Policy.load(path)
        state = policy.state

        # floor: bare lupa, Lua calling a Python callable
        rt = lua54.LuaRuntime(encoding=None)
        bare_loop = rt.eval("function(f, n) for i = 1, n do f('x') end end")
        noop = lambda *a: None  # noqa: E731
        lua_py_bare = median_us(lambda: bare_loop(noop, LOOP), LOOP)

        # kumopy: Lua calling kumo.log_debug (wrapper + arg handling)
        def kumo_loop() -> None:
            policy.call("lua_to_python", LOOP)

        lua_py_kumo = median_us(kumo_loop, LOOP)

        # Python -> Lua
        lua_fn = rt.eval("function(a) return a end")
        py_lua_bare = median_us(lambda: [lua_fn(1) for _ in range(LOOP)], LOOP)
        handler = policy.handlers("echo")[0].function
        py_lua_trampoline = median_us(
            lambda: [state.invoke(handler, 1, 2) for _ in range(LOOP)], LOOP
        )
        py_lua_dispatch = median_us(
            lambda: [policy.call("echo", "a", "b") for _ in range(LOOP)], LOOP
        )
        py_lua_noop = median_us(lambda: [policy.call("noop") for _ in range(LOOP)], LOOP)

        # Lua patterns on a short string: the C functions directly (bare
        # lupa) and through kumopy's routing (patterns.lua), 4 calls a turn
        bare_patterns = rt.eval(
            "function(n) local s = 'Hello World, a typical header value 42' "
            "for i = 1, n do s:find('World', 1, true) s:match('^(%w+)') "
            "s:gsub('%s+', ' ') s:find('%d+') end end"
        )
        patterns_bare = median_us(lambda: bare_patterns(LOOP), LOOP * 4)
        patterns_kumo = median_us(lambda: policy.call("patterns", LOOP), LOOP * 4)

    rows = [
        ("Lua -> Python", "bare lupa: Lua calls a Python callable", lua_py_bare),
        ("Lua -> Python", "kumopy: policy calls kumo.log_debug (disabled)", lua_py_kumo),
        ("Python -> Lua", "bare lupa: Python calls a Lua function", py_lua_bare),
        ("Python -> Lua", "kumopy trampoline: state.invoke(handler, 1, 2)", py_lua_trampoline),
        ("Python -> Lua", "kumopy: Policy.call('noop')", py_lua_noop),
        ("Python -> Lua", "kumopy: Policy.call('echo', 'a', 'b')", py_lua_dispatch),
        ("Lua patterns", "bare lupa: find/match/gsub on a short string", patterns_bare),
        ("Lua patterns", "kumopy: the same calls, routed", patterns_kumo),
    ]
    python = sys.version.split()[0]
    print(f"Call overhead, median of {REPEATS} runs of {LOOP:,} calls (Python {python})")
    print(f"{'direction':<15} {'what':<50} {'us/call':>8}")
    for direction, what, us in rows:
        print(f"{direction:<15} {what:<50} {us:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
