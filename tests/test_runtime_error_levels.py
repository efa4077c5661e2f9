"""`error(msg, level)` and `kumo.traceback` see the stack a stock Lua 5.4
state would have (docs/security.md, "Lua runtime": levels).

kumopy replaces some C functions with Lua functions (pcall, xpcall, the
coroutine functions, the pattern functions, load, dofile...).  Each case
below runs the same chunk, under the same chunk name, in a stock lupa Lua 5.4
runtime without kumopy's sandbox and as a kumopy policy, and compares what
the chunk returns: the positions `error` adds must be the same in both.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from lupa import lua54

from kumopy import Policy, PolicyError

# `F` raises at the level it is given; the cases call it in different ways
PRELUDE = (
    "local function F(l) error('m', l) end\n"
    "local function show(...) local n = select('#', ...) local t = {}\n"
    "  for i = 1, n do t[i] = tostring((select(i, ...))) end\n"
    "  return table.concat(t, ' | ') end\n"
)

LEVELED = {
    "pcall": "return show(pcall(F, L))",
    "pcall_closure": "return show(pcall(function() F(L) end))",
    "pcall_nested_helpers": (
        "local function g(l) F(l) end local function h(l) g(l) end\n"
        "return show(pcall(h, L))"
    ),
    "pcall_in_tail_position": "local function t() return pcall(F, L) end\nreturn show(t())",
    "error_in_tail_position": (
        "local function t(l) return error('m', l) end\n"
        "local function u(l) t(l) end\nreturn show(pcall(u, L))"
    ),
    "pcall_of_pcall": "return show(pcall(pcall, F, L))",
    "pcall_of_error": "return show(pcall(error, 'm', L))",
    "xpcall": "return show(xpcall(F, function(m) return 'h:' .. tostring(m) end, L))",
    "xpcall_closure": "return show(xpcall(function() F(L) end, function(m) return m end))",
    "xpcall_runtime_error_then_handler_level": (
        "return show(xpcall(function() local x = nil; return x.y end,\n"
        "  function(m) local ok, e = pcall(F, L) return e end))"
    ),
    "coroutine_wrap": "return show(pcall(coroutine.wrap(F), L))",
    "coroutine_wrap_called_inside": (
        "return show(pcall(function(l) return coroutine.wrap(F)(l) end, L))"
    ),
    "coroutine_wrap_body_helper": (
        "local co = coroutine.wrap(function(l) F(l) end)\nreturn show(pcall(co, L))"
    ),
    "coroutine_resume": "return show(coroutine.resume(coroutine.create(F), L))",
    "coroutine_resume_helper": (
        "local co = coroutine.create(function(l) local ok, e = pcall(F, l) error(e, 0) end)\n"
        "return show(coroutine.resume(co, L))"
    ),
    "coroutine_in_coroutine": (
        "local outer = coroutine.wrap(function(l)\n"
        "  local inner = coroutine.wrap(function() F(l) end)\n"
        "  return select(2, pcall(inner))\nend)\nreturn show(outer(L))"
    ),
    "index_metamethod": (
        "local t = setmetatable({}, {__index = function() F(L) end})\n"
        "return show(pcall(function() local v = t.x return v end))"
    ),
    "gsub_function": "return show(pcall(string.gsub, 'abc', 'b', function() F(L) end))",
    "gsub_method": (
        "return show(pcall(function() local s = ('abc'):gsub('b', function() F(L) end) "
        "return s end))"
    ),
    "sort_comparator": "return show(pcall(table.sort, {3, 2, 1}, function() F(L) end))",
    "tostring_metamethod": (
        "return show(pcall(tostring, setmetatable({}, {__tostring = function() F(L) end})))"
    ),
    "print_metamethod": (
        "return show(pcall(print, setmetatable({}, {__tostring = function() F(L) end})))"
    ),
    "load_reader": "return show(load(function() F(L) end))",
    "loaded_chunk": "return show(pcall(load('error(\"m\", ' .. L .. ')')))",
    "close_handler": (
        "return show(pcall(function()\n"
        "  local x <close> = setmetatable({}, {__close = function() F(L) end})\nend))"
    ),
    # (kumopy's stand-ins live in several chunks of its runtime: these cross
    # them, the levels counting none of their frames)
    "finalizer": (
        "local r\nlocal function make()\n"
        "  setmetatable({}, {__gc = function() r = select(2, pcall(error, 'm', L)) end})\n"
        "end\nmake() collectgarbage() collectgarbage()\nreturn show(r)"
    ),
    "print_metamethod_in_coroutine": (
        "local co = coroutine.wrap(function()\n"
        "  print(setmetatable({}, {__tostring = function() F(L) end}))\nend)\n"
        "return show(pcall(co))"
    ),
}
LEVELS = [0, 1, 2, 3, 4]

OTHER = {
    "table_message": "return show(pcall(error, {1}, 2) and 'x' or type(select(2, pcall(F, 2))))",
    "non_string_message": "return show(pcall(function() error(42, 2) end))",
    "no_message": "return show(pcall(error))",
    "nil_level": "return show(pcall(function() error('m', nil) end))",
    "string_level": "return show(pcall(function() error('m', '1') end))",
    "float_level": "return show(pcall(function() error('m', 1.0) end))",
    "fractional_level": "return show(pcall(function() error('m', 1.5) end))",
    "bad_level": "return show(pcall(function() error('m', {}) end))",
    "bad_level_string": "return show(pcall(function() error('m', 'x') end))",
    "negative_level": "return show(pcall(function() error('m', -1) end))",
    "dump_bad_argument_direct": "return show(pcall(function() string.dump(42) end))",
    "wrap_bad_argument": "return show(pcall(function() coroutine.wrap(42) end))",
    "setmetatable_bad_argument": "return show(pcall(function() setmetatable(1, {}) end))",
    "gsub_bad_argument": "return show(pcall(function() ('x'):gsub('x', true) end))",
    "require_module_error": (
        "package.path = DIR .. '/?.lua;' .. package.path\n"
        "return show(pcall(require, 'levels_module'))"
    ),
    "require_module_error_inside": (
        "package.path = DIR .. '/?.lua;' .. package.path\n"
        "return show(pcall(function() require 'levels_module' end))"
    ),
    "dofile_error": "return show(pcall(dofile, DIR .. '/levels_module.lua'))",
    "dofile_error_inside": (
        "return show(pcall(function() dofile(DIR .. '/levels_module.lua') end))"
    ),
}

UNCAUGHT = {
    "top_level": "F(L)",
    "in_function": "local function g() F(L) end\ng()",
}


def _chunk(body: str, level: int | None, directory: Path) -> str:
    head = PRELUDE + f"local DIR = {str(directory)!r}\n"
    if level is not None:
        head += f"local L = {level}\n"
    return head + body + "\n"


def _module(directory: Path) -> None:
    (directory / "levels_module.lua").write_text("local x = 1\nerror('module', 2)\n")


def _stock(path: Path) -> tuple[object, ...]:
    """Run a chunk in stock Lua 5.4 (no sandbox) under the same chunk name."""
    rt = lua54.LuaRuntime(encoding=None)
    result = rt.execute(path.read_bytes(), name=("@" + str(path)).encode())
    return result if isinstance(result, tuple) else (result,)


def _kumopy(path: Path) -> tuple[object, ...]:
    policy = Policy.load(path, kumod_strict=True)
    state = policy.state
    return tuple(state.to_python(v) for v in state.chunk_values)


def _as_text(values: tuple[object, ...], path: Path | None = None) -> tuple[str, ...]:
    """Values as text, without a traceback appended to a message (lupa's
    message handler adds one to errors in a load reader) and, when `path` is
    given, with Lua's shortened form of the chunk name (`...tail`) and the
    full path both written `P` (kumopy expands the short form in errors)."""
    out = []
    for v in values:
        s = v.decode() if isinstance(v, bytes) else str(v)
        s = s.split("\nstack traceback:")[0]
        if path is not None:
            s = _SHORT.sub("P", s.replace(str(path), "P"))
        out.append(s)
    return tuple(out)


_SHORT = re.compile(r"\.\.\.[^\s:'\"]*init\.lua")


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", sorted(LEVELED))
def test_error_levels_match_stock_lua(tmp_path: Path, name: str, level: int) -> None:
    path = tmp_path / "init.lua"
    path.write_text(_chunk(LEVELED[name], level, tmp_path))
    stock = _as_text(_stock(path))
    assert _as_text(_kumopy(path)) == stock
    assert "[kumopy]" not in "".join(stock)


@pytest.mark.parametrize("name", sorted(OTHER))
def test_error_arguments_and_stand_ins_match_stock_lua(tmp_path: Path, name: str) -> None:
    _module(tmp_path)
    path = tmp_path / "init.lua"
    path.write_text(_chunk(OTHER[name], None, tmp_path))
    assert _as_text(_kumopy(path)) == _as_text(_stock(path))


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", sorted(UNCAUGHT))
def test_uncaught_error_positions_match_stock_lua(tmp_path: Path, name: str, level: int) -> None:
    path = tmp_path / "init.lua"
    path.write_text(_chunk(UNCAUGHT[name], level, tmp_path))
    with pytest.raises(lua54.LuaError) as stock:
        _stock(path)
    with pytest.raises(PolicyError) as ours:
        _kumopy(path)
    assert _as_text((ours.value.message,), path) == _as_text((str(stock.value),), path)


def test_traceback_of_error_hides_kumopy_frames(tmp_path: Path) -> None:
    path = tmp_path / "init.lua"
    path.write_text(
        "local kumo = require 'kumo'\n"
        "local function chk(l) error('boom', l) end\n"
        "kumo.on('t', function() chk(1) end)\n"
    )
    policy = Policy.load(path)
    with pytest.raises(PolicyError) as e:
        policy.call("t")
    assert e.value.message == f"{path}:2: boom"
    assert "[kumopy]" not in e.value.traceback
    assert "raw_error" not in e.value.traceback
    assert "[C]: in function 'error'" in e.value.traceback
    assert f"{path}:2: in " in e.value.traceback


# -- kumo.traceback: the frames kumod's inspect_stack would list ---------------

# kumod's kumo.traceback (crates/kumo-server-common) as a stock Lua function:
# called as a function, its getinfo(n) is inspect_stack(n) of the C function
STOCK_TRACEBACK = """
local kumo = {}
function kumo.traceback(level)
  local frames = {}
  local n = level
  while true do
    local info = debug.getinfo(n + 1, 'nSlt')
    if info == nil then break end
    if n == 0 then -- this function, standing in for kumod's C function
      info.what, info.source, info.short_src = 'C', '=[C]', '[C]'
      info.linedefined, info.lastlinedefined, info.currentline = -1, -1, -1
    end
    frames[#frames + 1] = {
      event = 'Call', name = info.name,
      name_what = info.namewhat ~= '' and info.namewhat or nil,
      source = info.source, short_src = info.short_src,
      line_defined = info.linedefined >= 0 and info.linedefined or nil,
      last_line_defined = info.lastlinedefined >= 0 and info.lastlinedefined or nil,
      what = info.what, curr_line = info.currentline >= 0 and info.currentline or nil,
      is_tail_call = info.istailcall,
    }
    n = n + 1
  end
  return frames
end
package.loaded.kumo = kumo
"""

SHOW_FRAMES = """
local FIELDS = {'event', 'name', 'name_what', 'source', 'short_src', 'line_defined',
  'last_line_defined', 'what', 'curr_line', 'is_tail_call'}
local function frames_text(t)
  local out = {}
  for i, f in ipairs(t) do
    local parts = {}
    for j, k in ipairs(FIELDS) do
      local v = f[k]
      parts[j] = (v == nil or type(v) == 'userdata') and 'nil' or tostring(v)
    end
    out[i] = table.concat(parts, ',')
  end
  return table.concat(out, '\\n')
end
"""

TRACEBACKS = {
    "direct": "local function g() return frames_text(kumo.traceback(1)) end\nreturn g()",
    "level_0": "local t = kumo.traceback(0)\nreturn frames_text(t)",
    "level_2": "local function g() local t = kumo.traceback(2) return t end\n"
    "local function h() local t = g() return t end\nreturn frames_text(h())",
    "through_pcall": "local function g() local t = kumo.traceback(1) return t end\n"
    "local ok, t = pcall(g)\nreturn frames_text(t)",
    "pcall_of_traceback": "local ok, t = pcall(kumo.traceback, 1)\nreturn frames_text(t)",
    "through_xpcall_and_coroutine": (
        "local co = coroutine.wrap(function()\n"
        "  local ok, t = xpcall(function() local t = kumo.traceback(1) return t end, tostring)\n"
        "  return t end)\nreturn frames_text(co())"
    ),
    # (the second use of a pattern: the first one takes kumopy's slower
    # path, where gsub's frame has no name)
    "through_gsub": (
        "local t\nfor i = 1, 2 do ('ab'):gsub('a', function() t = kumo.traceback(1) end) end\n"
        "return frames_text(t)"
    ),
    # a finalizer is named as Lua names it (`__gc`, a metamethod), whoever
    # runs it; collectgarbage runs the due ones
    "finalizer": (
        "local t\nsetmetatable({}, {__gc = function() t = kumo.traceback(1) end})\n"
        "collectgarbage()\nreturn frames_text(t)"
    ),
    # a helper that raises at the first frame outside itself, as
    # policy-extras' typing module does (error level from kumo.traceback)
    "error_at_level_from_traceback": (
        "local function raise(msg)\n"
        "  local trace = kumo.traceback(1)\n"
        "  for level, frame in ipairs(trace) do\n"
        "    if frame.what ~= 'C' and frame.short_src == trace[1].short_src\n"
        "       and frame.curr_line > 200 then\n"
        "      return error(msg, level)\n"
        "    end\n"
        "  end\n"
        "  error(msg, #trace)\nend\n"
        "local function check(v) if type(v) ~= 'number' then raise('not a number') end end\n"
        "local ok, e1 = pcall(check, 'x')\n"
        "local ok, e2 = pcall(function() check('x') end)\n"
        "return e1 .. ' / ' .. e2"
    ),
}


@pytest.mark.parametrize("name", sorted(TRACEBACKS))
def test_kumo_traceback_matches_kumods_inspect_stack(tmp_path: Path, name: str) -> None:
    path = tmp_path / "init.lua"
    body = SHOW_FRAMES + TRACEBACKS[name] + "\n"
    path.write_text("local kumo = require 'kumo'\n" + body)
    stock = tmp_path / "stock.lua"
    # the same lines, under the same chunk name, with a stock kumo.traceback
    stock.write_text("local kumo = require 'kumo'\n" + body)
    rt = lua54.LuaRuntime(encoding=None)
    rt.execute(STOCK_TRACEBACK.encode())
    expected = rt.execute(stock.read_bytes(), name=("@" + str(path)).encode())
    assert _as_text(_kumopy(path)) == _as_text((expected,))


EXTRAS = os.environ.get("KUMOMTA_POLICY_EXTRAS")


@pytest.mark.skipif(not EXTRAS, reason="set KUMOMTA_POLICY_EXTRAS to run KumoMTA's typing module")
def test_policy_extras_typing_errors_match_stock_lua(tmp_path: Path) -> None:
    extras = Path(str(EXTRAS))
    path = tmp_path / "init.lua"
    path.write_text(
        "local typing = require 'policy-extras.typing'\n"
        "local Point = typing.record('Point', { x = typing.number, y = typing.number })\n"
        "local a = select(2, pcall(Point, { x = 123 }))\n"
        "local b = select(2, pcall(function() return Point { x = 1, y = true } end))\n"
        "return a, b\n"
    )
    policy = Policy.load(path, share_dir=extras.parent)
    ours = _as_text(tuple(policy.state.to_python(v) for v in policy.state.chunk_values))
    rt = lua54.LuaRuntime(encoding=None)
    rt.execute(STOCK_TRACEBACK.encode())
    rt.execute(
        f"package.path = {str(extras.parent)!r} .. '/?.lua;' .. package.path".encode()
    )
    stock = rt.execute(path.read_bytes(), name=("@" + str(path)).encode())
    assert "[kumopy]" not in "".join(ours)
    assert ours == _as_text(stock)


def test_the_levels_example_in_security_md(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    section = doc.split("**Levels.**", 1)[1].split("**Values.**", 1)[0]
    match = re.search(r"```lua\n(.*?)```", section, re.S)
    assert match is not None
    path = tmp_path / "init.lua"
    path.write_text(match.group(1))
    direct, inside = _kumopy(path)
    shown = re.findall(r"-- (.*)", match.group(1))
    assert direct == shown[0]
    assert _as_text((inside,), path) == _as_text((shown[1].replace("init.lua", str(path)),), path)
    assert _as_text(_kumopy(path)) == _as_text(_stock(path))
