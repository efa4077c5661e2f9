"""The Lua runtime cannot be crashed or wedged by what a policy does, and a
Policy stays usable after each kind of failure (docs/security.md, "Lua
runtime").  The same attacks run through the CLI in
tests/adversarial/test_runtime_*.py."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kumopy import BudgetExceeded, Policy, PolicyError, PolicyExit, PolicyMemoryError

OK_HANDLER = "\nkumo.on('ok', function() return 'still usable' end)\n"


# -- binary chunks ------------------------------------------------------------

DUMP = """
local function f(a) return a + 1 end
local d = string.dump(f)
local bad = d:sub(1, 20) .. string.char((d:byte(21) + 1) % 256) .. d:sub(22)
"""


@pytest.mark.parametrize(
    "loader",
    [
        "return load(bad)",
        "local i = 0 return load(function() i = i + 1 return i == 1 and bad or nil end)",
        "local fh = io.open(PATH, 'wb') fh:write(bad) fh:close() return loadfile(PATH)",
        "local fh = io.open(PATH, 'wb') fh:write('#!/bin/lua\\n' .. bad) fh:close() "
        "return loadfile(PATH)",
    ],
)
def test_a_modified_binary_chunk_is_refused_by_every_loader(load, tmp_path, loader):
    path = tmp_path / "chunk.luac"
    p = load(
        f"local PATH = {str(path)!r}\n" + DUMP
        + f"kumo.on('t', function() {loader} end)" + OK_HANDLER
    )
    values = p.dispatch("t").values
    assert values[0] is None
    assert "attempt to load a binary chunk" in values[1]
    assert "string.dump" in values[1]
    assert p.call("ok") == "still usable"


@pytest.mark.parametrize("call", ["dofile(PATH)", "require 'chunk'"])
def test_dofile_and_require_raise_on_a_binary_chunk(load, tmp_path, call):
    path = tmp_path / "chunk.lua"
    p = load(
        f"local PATH = {str(path)!r}\n" + DUMP
        + "local fh = io.open(PATH, 'wb') fh:write(bad) fh:close()\n"
        + f"package.path = {str(tmp_path)!r} .. '/?.lua;' .. package.path\n"
        + f"kumo.on('t', function() return {call} end)" + OK_HANDLER
    )
    with pytest.raises(PolicyError, match="attempt to load a binary chunk") as info:
        p.call("t")
    assert str(path) in str(info.value)
    assert p.call("ok") == "still usable"


def test_string_dump_output_loads_unchanged(load, tmp_path):
    path = tmp_path / "dumped.luac"
    p = load(
        f"local PATH = {str(path)!r}\n"
        + """
        local function add(a, b) return a + b end
        kumo.on('t', function()
          local d = string.dump(add)
          local from_string = load(d)(2, 3)
          local parts, i = {d:sub(1, 7), d:sub(8)}, 0
          local from_reader = load(function() i = i + 1 return parts[i] end)(4, 5)
          local fh = io.open(PATH, 'wb') fh:write(d) fh:close()
          local from_file = loadfile(PATH)(6, 7)
          local text_only, err = load(d, 'd', 't')
          return from_string, from_reader, from_file, text_only, err
        end)
        """
    )
    assert p.dispatch("t").values == (5, 9, 13, None, "attempt to load a binary chunk (mode is 't')")


def test_string_dump_refuses_kumopys_own_functions_like_c_functions(load):
    p = load("kumo.on('t', function() return pcall(string.dump, print) end)")
    assert p.dispatch("t").values == (False, "unable to dump given function")


def test_a_binary_policy_file_fails_with_kumods_wording(tmp_path):
    from lupa import lua54

    rt = lua54.LuaRuntime(encoding=None)
    chunk = rt.eval("string.dump(function() return 1 end)")
    path = tmp_path / "init.lua"
    path.write_bytes(chunk)
    with pytest.raises(PolicyError) as info:
        Policy.load(path)
    assert f"reading policy file {path}: stream did not contain valid UTF-8" in str(info.value)
    assert "binary chunk" in str(info.value)


def test_a_policy_file_that_is_not_utf8_fails_as_in_kumod(tmp_path):
    path = tmp_path / "init.lua"
    path.write_bytes(b"local kumo = require 'kumo'\n-- caf\xe9\n")
    with pytest.raises(PolicyError, match="stream did not contain valid UTF-8.*line 2"):
        Policy.load(path)


FUZZ = r"""
import random, sys, tempfile, os
from lupa import lua54
sys.path.insert(0, sys.argv[1])
from kumopy import Policy

src = tempfile.mkdtemp()
policy = os.path.join(src, "init.lua")
with open(policy, "w") as f:
    f.write('''
local kumo = require 'kumo'
local function sample(a, b)
  local t = {a, b, "x" .. tostring(a)}
  for i = 1, #t do t[i] = tostring(t[i]):rep(2) end
  return table.concat(t, ","), select('#', a, b)
end
kumo.on('dump', function() return string.dump(sample) end)
kumo.on('try', function(chunk, path)
  local results = {}
  local f, e = load(chunk)
  results[1] = f == nil and e or "loaded"
  local fh = io.open(path, 'wb') fh:write(chunk) fh:close()
  f, e = loadfile(path)
  results[2] = f == nil and e or "loaded"
  local ok, e2 = pcall(dofile, path)
  results[3] = ok and "ran" or tostring(e2)
  return results
end)
''')
p = Policy.load(policy)
dump = p.call("dump").encode("utf-8", "surrogateescape")
rng = random.Random(1234)
path = os.path.join(src, "chunk.luac")
refused = 0
for n in range(int(sys.argv[2])):
    data = bytearray(dump)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        i = rng.randrange(len(data))
        data[i] = (data[i] + rng.randrange(1, 256)) % 256
    results = p.call("try", bytes(data).decode("utf-8", "surrogateescape"), path)
    if all("binary chunk" in r for r in results):
        refused += 1
    elif any(r in ("loaded", "ran") for r in results):
        print("loaded a modified chunk:", bytes(data).hex())
        sys.exit(3)
print("refused", refused)
"""


def test_byte_flip_fuzz_of_bytecode_never_crashes(tmp_path):
    # in a subprocess: a crash must fail this test, not kill the test run
    script = tmp_path / "fuzz.py"
    script.write_text(FUZZ)
    variants = 600
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, str(script), str(repo), str(variants)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # (a variant whose first byte changed is no longer binary: a syntax error)
    refused = int(proc.stdout.split()[-1])
    assert variants - 10 <= refused <= variants


# -- os.exit ----------------------------------------------------------------------


def test_os_exit_in_a_handler_is_an_error_at_its_line(load):
    p = load(
        "kumo.on('t', function()\n  local ok = pcall(os.exit, 7)\n  return 'went on'\nend)"
        + OK_HANDLER
    )
    with pytest.raises(PolicyExit) as info:
        p.call("t")
    err = info.value
    assert err.status == 7 and err.line == 2 and err.event == "t"
    assert "os.exit(7) called" in str(err) and "init.lua:2:" in str(err)
    assert p.call("ok") == "still usable"


@pytest.mark.parametrize(
    ("arg", "status"), [("", 0), ("true", 0), ("false", 1), ("3", 3), ("'4'", 4), ("2.0", 2)]
)
def test_os_exit_status_follows_lua(load, arg, status):
    p = load(f"kumo.on('t', function() os.exit({arg}) end)")
    with pytest.raises(PolicyExit) as info:
        p.call("t")
    assert info.value.status == status


def test_os_exit_cannot_be_caught_inside_a_coroutine(load):
    p = load(
        """
        kumo.on('t', function()
          local co = coroutine.wrap(function() os.exit(5) end)
          local ok = pcall(co)
          return ok
        end)
        """
    )
    with pytest.raises(PolicyExit) as info:
        p.call("t")
    assert info.value.status == 5 and info.value.line == 2


def test_os_exit_at_the_top_level_fails_the_load(load):
    with pytest.raises(PolicyExit) as info:
        load("local x = 1\nos.exit(2)\n")
    assert info.value.status == 2 and info.value.line == 2


def test_os_exit_bad_argument(load):
    p = load("kumo.on('t', function() return pcall(os.exit, {}) end)")
    assert p.dispatch("t").values == (
        False, "init.lua:1: bad argument #1 to 'exit' (number expected, got table)"
    ) or p.dispatch("t").values[1].endswith("bad argument #1 to 'exit' (number expected, got table)")


# -- metatables ---------------------------------------------------------------------


def test_userdata_metatables_are_protected(load):
    p = load(
        """
        local map = kumo.regex_set_map.new({['a'] = 1})
        kumo.on('t', function()
          local mt = getmetatable(map)
          local ok1, e1 = pcall(setmetatable, map, {})
          local ok2, e2 = pcall(rawset, map, 'x', 1)
          local ok3, e3 = pcall(rawget, map, 'x')
          return mt, ok1, e1, ok2, ok3, map['a']
        end)
        """ + OK_HANDLER
    )
    mt, ok1, e1, ok2, ok3, hit = p.dispatch("t").values
    assert mt is False
    assert ok1 is False and "table expected" in e1
    assert ok2 is False and ok3 is False
    assert hit == 1


def test_string_metatable_is_shared_as_in_kumod(load):
    p = load(
        """
        kumo.on('t', function()
          getmetatable('').__index.shout = function(s) return s:upper() .. '!' end
          return ('hi'):shout()
        end)
        """
    )
    assert p.call("t") == "HI!"


def test_protected_table_metatables_keep_luas_error(load):
    p = load(
        """
        kumo.on('t', function()
          local t = setmetatable({}, {__metatable = 'locked'})
          return getmetatable(t), pcall(setmetatable, t, {})
        end)
        """
    )
    mt, ok, err = p.dispatch("t").values
    assert mt == "locked" and ok is False and err.endswith("cannot change a protected metatable")


# -- finalizers ---------------------------------------------------------------------


def test_finalizers_run_with_the_metatable_the_policy_set(load):
    p = load(
        """
        local log = {}
        local function gc(o) log[#log + 1] = o.name end
        kumo.on('t', function()
          local mt = {__gc = gc}
          local a = setmetatable({name = 'a'}, mt)
          local same = rawget(getmetatable(a), '__gc') == gc
          a = nil
          collectgarbage()
          return same, table.concat(log, ',')
        end)
        """
    )
    assert p.dispatch("t").values == (True, "a")


def test_a_finalizer_replaced_after_setmetatable_is_the_one_called(load):
    p = load(
        """
        kumo.on('t', function()
          local log = {}
          local mt = {__gc = function() log[#log + 1] = 'old' end}
          local a = setmetatable({}, mt)
          mt.__gc = function() log[#log + 1] = 'new' end
          local b = setmetatable({}, {})
          getmetatable(b).__gc = function() log[#log + 1] = 'never' end
          a, b = nil, nil
          collectgarbage()
          return table.concat(log, ',')
        end)
        """
    )
    assert p.call("t") == "new"


def test_a_finalizer_error_is_ignored_as_in_lua(load):
    p = load(
        """
        kumo.on('t', function()
          setmetatable({}, {__gc = function() error('in gc') end})
          collectgarbage()
          return 'fine'
        end)
        """
    )
    assert p.call("t") == "fine"


def test_collectgarbage_inside_a_finalizer_fails_as_in_lua(load):
    p = load(
        """
        kumo.on('t', function()
          local got = 'not run'
          setmetatable({}, {__gc = function() got = collectgarbage('count') end})
          collectgarbage()
          return got
        end)
        """
    )
    assert p.call("t") is None


@pytest.mark.parametrize(
    "body",
    [
        "setmetatable({}, {__gc = function() while true do end end}) collectgarbage()",
        # finalizers due at the end of the call run there, under the budget
        "for i = 1, 5 do setmetatable({}, {__gc = function() while true do end end}) end "
        "local junk = {} for i = 1, 2e5 do junk[i % 100] = {} end",
    ],
)
def test_a_looping_finalizer_is_stopped_by_the_budget(load, body):
    p = load(
        "kumo.on('t', function()\n  " + body + "\nend)\n"
        "kumo.on('ok', function() return 'still usable' end)",
        budget_seconds=0.3,
    )
    try:
        p.call("t")
    except BudgetExceeded as e:
        assert e.event == "t" and e.line == 2
    assert p.call("ok") == "still usable"


def test_a_looping_finalizer_at_the_top_level_fails_the_load(load):
    with pytest.raises(BudgetExceeded):
        load(
            "setmetatable({}, {__gc = function() while true do end end})\ncollectgarbage()",
            budget_seconds=0.2,
        )


def test_a_looping_finalizer_never_hangs_process_exit(tmp_path):
    policy = tmp_path / "init.lua"
    policy.write_text(
        "local kumo = require 'kumo'\n"
        "KEEP = setmetatable({}, {__gc = function() while true do end end})\n"
        "kumo.on('ok', function() return 1 end)\n"
    )
    code = textwrap.dedent(
        f"""
        import gc
        from kumopy import Policy
        p = Policy.load({str(policy)!r})
        assert p.call('ok') == 1
        del p
        gc.collect()
        print('closed')
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "closed", proc.stderr


# -- conversions and error values --------------------------------------------------


def test_deeply_nested_results_are_a_clear_error(load):
    p = load(
        """
        kumo.on('deep', function()
          local t = {} local cur = t
          for i = 1, 100000 do cur[1] = {} cur = cur[1] end
          return t
        end)
        kumo.on('cycle', function() local t = {} t[1] = t return t end)
        """ + OK_HANDLER
    )
    for event in ("deep", "cycle"):
        with pytest.raises(PolicyError, match="cannot convert the value returned") as info:
            p.call(event)
        assert "internal error" not in str(info.value)
    assert p.call("ok") == "still usable"


def test_deeply_nested_arguments_are_a_clear_error(load):
    p = load("kumo.on('t', function(x) return 1 end)" + OK_HANDLER)
    deep: list[object] = []
    cur = deep
    for _ in range(5000):
        cur.append([])
        cur = cur[0]  # type: ignore[assignment]
    with pytest.raises(PolicyError, match="nested deeper than"):
        p.call("t", deep)
    assert p.call("ok") == "still usable"


def test_a_huge_result_is_bounded_by_the_memory_limit(load):
    p = load(
        """
        kumo.on('big', function()
          local t = {}
          for i = 1, 400000 do t[i] = i end
          return t
        end)
        """ + OK_HANDLER,
        max_memory=24 * 1024 * 1024,
    )
    with pytest.raises(PolicyMemoryError, match="converting a Lua value"):
        p.call("big")
    assert p.call("ok") == "still usable"


def test_a_huge_error_message_is_clipped(load):
    p = load("kumo.on('t', function() error(string.rep('x', 50000000)) end)" + OK_HANDLER)
    with pytest.raises(PolicyError) as info:
        p.call("t")
    assert len(info.value.message) < 20000
    assert "bytes cut) ..." in info.value.message
    assert p.call("ok") == "still usable"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("setmetatable({}, {__tostring = function() return 'custom' end})", "custom"),
        ("setmetatable({}, {__tostring = function() error('nested') end})",
         "error in error handling"),
        ("setmetatable({}, {__tostring = function() return {} end})", "error in error handling"),
        ("true", "true"),
        ("42", "42"),
    ],
)
def test_non_string_error_values(load, value, shown):
    p = load(f"kumo.on('t', function() error({value}) end)" + OK_HANDLER)
    with pytest.raises(PolicyError) as info:
        p.call("t")
    assert shown in str(info.value)
    assert "internal error" not in str(info.value)
    assert p.call("ok") == "still usable"


def test_an_error_whose_tostring_loops_is_stopped_by_the_budget(load):
    p = load(
        "kumo.on('t', function()\n"
        "  error(setmetatable({}, {__tostring = function() while true do end end}))\n"
        "end)" + OK_HANDLER,
        budget_seconds=0.3,
    )
    with pytest.raises(BudgetExceeded) as info:
        p.call("t")
    assert info.value.line == 2
    assert p.call("ok") == "still usable"


def test_captured_output_is_bounded(load):
    p = load(
        "kumo.on('t', function() for i = 1, 40 do print(string.rep('y', 1024 * 1024)) end end)",
        max_memory=16 * 1024 * 1024,
    )
    p.call("t")
    assert sum(len(e.message) for e in p.output) <= 16 * 1024 * 1024
    assert p.output[-1].message.startswith("kumopy: captured output reached")
    assert "later line(s) dropped" in p.output[-1].message
