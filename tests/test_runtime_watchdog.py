"""What stops a handler when the Lua hook cannot: the watchdog's interrupt of
Python code, abandoning an isolated state stuck in C, and Ctrl-C."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from kumopy import BudgetExceeded, PolicyInterrupted
from kumopy._runtime import _watchdog

POLICY = """
kumo.on('py', function(n)
  local r = kumo.http.build_client({n = n})
  return r
end)
kumo.on('spin', function()
  local x = 0
  while true do x = x + 1 end
end)
kumo.on('ok', function() return 'still usable' end)
"""


def busy_python(*_args: object) -> int:
    """Pure Python work that takes far longer than any budget here."""
    total = 0
    for i in range(10**10):
        total += i
    return total


def busy_c(*_args: object) -> str:
    """Work in C that releases the GIL and cannot be interrupted (several
    CPU seconds)."""
    return hashlib.pbkdf2_hmac("sha256", b"k", b"s", 6_000_000).hex()


def test_python_code_past_the_budget_is_interrupted(load):
    p = load(POLICY, fakes={"http.build_client": busy_python}, budget_seconds=0.3)
    with pytest.raises(BudgetExceeded) as info:
        p.call("py", 1)
    assert info.value.event == "py"
    assert p.call("ok") == "still usable"


def test_python_code_cannot_swallow_the_interrupt(load):
    def stubborn(*_args: object) -> int:
        n = 0
        for _ in range(10**9):
            try:
                n += busy_python()
            except Exception:  # what a careless kumo function might do
                n += 1
        return n

    p = load(POLICY, fakes={"http.build_client": stubborn}, budget_seconds=0.3)
    with pytest.raises(BudgetExceeded):
        p.call("py", 1)
    assert p.call("ok") == "still usable"


def test_c_code_past_budget_and_grace_is_abandoned(load):
    p = load(
        POLICY, fakes={"http.build_client": busy_c}, budget_seconds=0.3, isolate_calls=True
    )
    with pytest.raises(BudgetExceeded, match="could not be stopped") as info:
        p.call("py", 1)
    assert info.value.event == "py"
    assert "abandoned" in str(info.value)
    # a new Lua state serves the next event
    assert p.call("ok") == "still usable"


def test_the_hang_handler_hears_of_c_code_it_cannot_stop(load):
    heard: list[_watchdog.Hang] = []
    previous = _watchdog.set_hang_handler(lambda state, hang: heard.append(hang))
    try:
        p = load(POLICY, fakes={"http.build_client": busy_c}, budget_seconds=0.3)
        with pytest.raises(BudgetExceeded):
            p.call("py", 1)
    finally:
        _watchdog.set_hang_handler(previous)
    assert len(heard) == 1
    hang = heard[0]
    assert hang.kind == "budget" and hang.event == "py"
    assert hang.inside == "kumo.http.build_client (Python code)"
    assert hang.handler is not None and hang.handler.endswith("init.lua:1")
    assert "cannot interrupt" in hang.describe()


def test_interrupt_from_another_thread(load):
    p = load(POLICY, budget_seconds=30)
    state = p.state
    timer = threading.Timer(0.3, state.interrupt)
    timer.start()
    with pytest.raises(PolicyInterrupted) as info:
        p.call("spin")
    timer.join()
    assert info.value.event == "spin" and info.value.line == 7
    assert p.call("ok") == "still usable"


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals reach the main thread only")
@pytest.mark.parametrize("event", ["spin", "py"])
def test_ctrl_c_stops_lua_and_python_code(load, event):
    p = load(POLICY, fakes={"http.build_client": busy_python}, budget_seconds=30)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(PolicyInterrupted) as info:
        p.call(event, 1)
    timer.join()
    assert info.value.event == event
    assert "interrupted (Ctrl-C)" in str(info.value)
    assert p.call("ok") == "still usable"


STUCK_IN_C = """
import hashlib, os, sys
from kumopy import Policy
from kumopy._runtime import _watchdog

def busy_c(*args):
    print("started", flush=True)
    return hashlib.pbkdf2_hmac("sha256", b"k", b"s", 100_000_000).hex()

def on_interrupt(state, hang):
    os.write(2, (hang.describe() + "\\n").encode())
    os._exit(130)

_watchdog.set_interrupt_handler(on_interrupt)
undo = _watchdog.watch_sigint()
p = Policy.load(sys.argv[1], fakes={"http.build_client": busy_c}, budget_seconds=None)
p.call("py", 1)
print("not reached")
"""


def test_ctrl_c_that_cannot_reach_code_stuck_in_c(tmp_path: Path):
    policy = tmp_path / "init.lua"
    policy.write_text("local kumo = require 'kumo'\n" + textwrap.dedent(POLICY))
    script = tmp_path / "stuck.py"
    script.write_text(STUCK_IN_C)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(policy)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
        # (let the child get from the print into the C call)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted (Ctrl-C), but the handler for 'py'" in err
    assert "kumo.http.build_client (Python code)" in err
    assert "not reached" not in out


PYTESTER_LUA = """
local kumo = require 'kumo'
function test_hangs()
  while true do end
end
function test_fails()
  assert(1 == 2, 'one is not two')
end
function test_passes()
  assert(kumo ~= nil)
end
"""

PYTESTER_PY = """
import hashlib
import pytest
from kumopy import BudgetExceeded

def stuck(*args):
    return hashlib.pbkdf2_hmac("sha256", b"k", b"s", 6_000_000).hex()

def test_stuck_in_c(kumo_policy, tmp_path):
    policy = tmp_path / "p.lua"
    policy.write_text("local kumo = require 'kumo'\\n"
                      "kumo.on('t', function() return kumo.http.build_client({}) end)\\n")
    p = kumo_policy(str(policy), fakes={"http.build_client": stuck})
    p.call("t")
"""


def test_pytest_run_with_a_hanging_test_ends_and_reports_it(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\nkumo_collect = true\nkumo_budget_seconds = 0.3\n")
    pytester.makefile(".lua", spin_test=PYTESTER_LUA)
    pytester.makepyfile(test_stuck=PYTESTER_PY)
    result = pytester.runpytest_subprocess("-p", "kumopy.testing.plugin", timeout=300)
    result.assert_outcomes(passed=1, failed=3)
    text = result.stdout.str()
    assert "CPU budget of 0.3 seconds" in text
    assert "one is not two" in text
    assert "could not be stopped" in text


EXIT_LUA = """
local kumo = require 'kumo'
function test_exits()
  os.exit(0)
end
function test_passes()
  assert(true)
end
"""


def test_os_exit_in_a_lua_test_fails_that_test_only(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\nkumo_collect = true\n")
    pytester.makefile(".lua", exit_test=EXIT_LUA)
    result = pytester.runpytest_subprocess("-p", "kumopy.testing.plugin", timeout=300)
    result.assert_outcomes(passed=1, failed=1)
    assert "os.exit(0) called" in result.stdout.str()
    assert "exit_test.lua:3" in result.stdout.str()



def test_a_stop_that_reaches_lua_as_a_python_exception_is_the_stop(load):
    # the watchdog's exception can arrive after a kumo function returned,
    # while lupa converts its result, and reach Lua as a Python exception
    # (seen with kumo.encode.hex_encode of 200 MB under a budget of about a
    # second): it is the budget stop at the policy's line, never the raw
    # "BudgetInterrupt" text; Ctrl-C's KeyboardInterrupt likewise
    p = load(POLICY)
    state = p._state
    traceback = "stack traceback:\n\tinit.lua:3: in function <init.lua:2>"
    with pytest.raises(BudgetExceeded) as stopped:
        state._raise_failure(("BudgetInterrupt", traceback, "error", _watchdog.BudgetInterrupt()))
    assert "BudgetInterrupt" not in str(stopped.value)
    assert (stopped.value.file, stopped.value.line) == ("init.lua", 3)
    with pytest.raises(PolicyInterrupted):
        state._raise_failure(("KeyboardInterrupt", traceback, "error", KeyboardInterrupt()))
    assert p.call("ok") == "still usable"
