-- kumopy's Lua-side runtime support, run once in every new Lua state.
--
-- It turns a stock Lua 5.4 state into one that looks like a kumod Lua state
-- to the policy (no `debug`, no C modules, kumod's package.path order, the
-- `kumo` module in package.loaded) and gives the Python host the few
-- primitives that must live in Lua.  It is several chunks, which the host
-- (kumopy/_runtime/__init__.py) runs in this order:
--   * sandbox.lua (this one): the debug library taken away, and the levels
--     `error` and kumo.traceback count (which frames are kumopy's own);
--   * calls.lua: a call trampoline that reports how many values a function
--     returned (Python cannot tell `return` from `return nil`) and captures
--     the Lua traceback of an error; the stops a policy cannot catch or
--     escape: the CPU budget (a count hook that also notices Ctrl-C),
--     os.exit, and running out of memory; finalizers (`__gc`) run by kumopy
--     where the budget applies, never by the collector itself (Lua runs
--     those with hooks off: a loop in one could never be stopped); the
--     regex_set_map answers remembered during kumopy replay's batches;
--   * standins.lua: pcall, xpcall, the coroutine functions and os.exit,
--     which the stops cross;
--   * osio.lua: os.tmpname, io.popen and print, as kumod's Lua has them;
--   * module.lua: the `kumo` module, arrays, the metatable of Python
--     objects, and the host's watches on globals;
--   * loaders.lua: loaders that accept Lua source only, and the path map;
--   * patterns.lua: string patterns that cannot run away.
--
-- Every chunk is loaded under the one chunk name SELF (below): that is how
-- the levels tell kumopy's frames from the policy's.  This chunk is called
-- with a single `host` table of Python callables and returns the table of
-- Lua functions used by the host (`api`); the chunks after it are called
-- with the host table and `api`, add to it, and share their internals
-- through `api.internals`.

local host = ...

local type, error, rawget, rawset, tostring, tointeger, tonumber =
  type, error, rawget, rawset, tostring, math.tointeger, tonumber
local setmetatable_lua = setmetatable

-- The debug library is taken away from the policy (kumod creates its states
-- without it); the host keeps the pieces it needs.
local dbg = debug
local sethook, getinfo, traceback = dbg.sethook, dbg.getinfo, dbg.traceback
local getmetatable_raw, setmetatable_raw = dbg.getmetatable, dbg.setmetatable
debug = nil
package.loaded.debug = nil
python = nil
package.loaded.python = nil

-- The chunk name of kumopy's runtime: functions defined in any of its
-- chunks are kumopy's own.
local SELF = getinfo(1, "S").source

-- How Lua names the type of a bad argument (luaL_typeerror).
local function typearg(v, present)
  if not present then
    return "no value"
  end
  local mt = getmetatable_raw(v)
  local name = mt and rawget(mt, "__name")
  if type(name) == "string" then
    return name
  end
  return type(v)
end

---------------------------------------------------------------------------
-- Levels.  Some of the functions a policy calls are kumopy's Lua stand-ins
-- for Lua's C functions (pcall, xpcall, print, load, dofile, the pattern
-- and coroutine functions, kumo's own functions), and some of those call C
-- functions in turn (pcall calls the real pcall).  `error(msg, level)` and
-- kumo.traceback count levels as a stock Lua state would: the policy's
-- frames and C functions, each stand-in counting as the one C function it
-- replaces, and nothing of what it calls on its way to the policy's code.
-- Rules (X a frame, Y its caller; "kumopy's" meaning in any of the
-- runtime's chunks, all named SELF): X kumopy's is a stand-in unless Y is
-- kumopy's too, or X is one of the HIDDEN entry points the host calls, or
-- X has no caller; a C function X is one of kumopy's internals when Y is
-- kumopy's.
---------------------------------------------------------------------------

local HIDDEN = setmetatable_lua({}, { __mode = "k" })

-- "lua", "c" (a C function or a stand-in), false (kumopy's internals), or
-- nil past the end of the stack, for the frame the caller sees at level k.
local function frame_kind(k)
  local x = getinfo(k + 1, "Sf")
  if x == nil then
    return nil
  end
  if x.source ~= SELF then
    if x.what ~= "C" then
      return "lua"
    end
    local y = getinfo(k + 2, "S")
    return (y == nil or y.source ~= SELF) and "c"
  end
  if HIDDEN[x.func] then
    return false
  end
  local y = getinfo(k + 2, "S")
  return y ~= nil and y.source ~= SELF and "c"
end

-- The level, as the caller of `visible_level` sees it, of the frame a stock
-- Lua state would have at `level` above the frame at `base` (the caller's
-- level, counted as level 0); nil past the end of the stack.
local function visible_level(base, level)
  local n, k = 0, base + 2
  while true do
    local kind = frame_kind(k)
    if kind == nil then
      return nil
    end
    if kind then
      n = n + 1
      if n == level then
        return k - 1, kind
      end
    end
    k = k + 1
  end
end

local raw_error = error

-- error(message [, level]) with stock Lua's levels (see above): the
-- position is added only when the frame at `level` is the policy's Lua code.
local function error_standin(...)
  local msg, level = ...
  if level == nil then
    level = 1
  else
    local l = tointeger(level)
    if l == nil then
      local why = (type(level) == "number" or tonumber(level) ~= nil)
        and "number has no integer representation"
        or ("number expected, got " .. typearg(level, true))
      local at, kind = visible_level(1, 1)
      raw_error("bad argument #2 to 'error' (" .. why .. ")", kind == "lua" and at or 0)
    end
    level = l
  end
  if level > 0 and type(msg) == "string" then
    local at, kind = visible_level(1, level)
    if kind == "lua" then
      raw_error(msg, at)
    end
  end
  raw_error(msg, 0)
end

local api = {}

-- From now on `error` counts levels as stock Lua (kumopy's own chunks
-- keep Lua's error, whose levels they count themselves).
function api.install_error()
  rawset(_G, "error", error_standin)
end

-- source and line where a function was defined
function api.funcinfo(f)
  local info = getinfo(f, "S")
  return info.source, info.linedefined
end

-- Frames that belong to kumopy itself (its chunks) or to C functions are
-- skipped when reporting where policy code called from.

local function policy_frames(first)
  local i = first + 1
  return function()
    while true do
      local info = getinfo(i, "Sl")
      i = i + 1
      if info == nil then
        return nil
      end
      if info.what ~= "C" and info.source ~= SELF then
        return info
      end
    end
  end
end

-- source and current line of the innermost policy frame
function api.where()
  for info in policy_frames(2) do
    return info.source, info.currentline
  end
  return "?", 0
end

-- The policy call stack as an array of "short_src:line" strings,
-- innermost first (what kumo.get_event_registrars reports).
function api.callstack()
  local frames = {}
  for info in policy_frames(2) do
    frames[#frames + 1] = info.short_src .. ":" .. tostring(info.currentline)
  end
  return frames
end

-- kumo.traceback's frames: what kumod's inspect_stack(n) lists for n from
-- `level` (0: the kumo function itself, a C function), the stack as a stock
-- Lua state would have it (see "Levels"), as an array of {what, source,
-- short_src, currentline, linedefined, lastlinedefined, name, namewhat,
-- istailcall} tables; a stand-in reads as the C function it replaces.
-- Finalizers: Lua names a function it calls as a finalizer `__gc`, a
-- metamethod, whoever triggered it; kumopy runs them from calls.lua's
-- runner (registered here) through pcall.
local FINALIZER_RUNNERS = setmetatable_lua({}, { __mode = "k" })
local raw_pcall = pcall

-- (k: the level of the frame for the caller of this function)
local function run_as_finalizer(k)
  local caller = getinfo(k + 2, "f")
  local runner = caller and caller.func == raw_pcall and getinfo(k + 3, "f")
  return runner and FINALIZER_RUNNERS[runner.func] or false
end

local function frames(level)
  local out = {}
  local n, k = -1, 2 -- level 0 is the first visible frame above this one
  while true do
    local kind = frame_kind(k)
    if kind == nil then
      return out
    end
    if kind then
      n = n + 1
      if n >= level then
        local info = getinfo(k, "nSlt")
        if kind == "c" then
          -- (a C function is never a tail call's frame; a stand-in that
          -- handed on to a helper by a tail call has lost its name)
          info.what, info.source, info.short_src = "C", "=[C]", "[C]"
          info.currentline, info.linedefined, info.lastlinedefined = -1, -1, -1
          info.istailcall = false
        elseif info.name == nil and run_as_finalizer(k) then
          info.name, info.namewhat = "__gc", "metamethod"
        end
        out[#out + 1] = info
      end
    end
    k = k + 1
  end
end
api.frames = frames
HIDDEN[frames] = true

api.typearg = typearg
api.getinfo = getinfo

-- What the other chunks need of this one (calls.lua adds the stops).
api.internals = {
  SELF = SELF,
  -- functions the host or kumopy's C callers enter: not stand-ins
  HIDDEN = HIDDEN,
  hide = function(f)
    HIDDEN[f] = true
    return f
  end,
  typearg = typearg,
  getinfo = getinfo,
  sethook = sethook,
  traceback = traceback,
  getmetatable_raw = getmetatable_raw,
  setmetatable_raw = setmetatable_raw,
  policy_frames = policy_frames,
  -- calls.lua's runner of finalizers (see `frames`)
  finalizer_runners = FINALIZER_RUNNERS,
  -- Lua's own functions, before the chunks after this one replace them
  setmetatable_lua = setmetatable_lua,
  raw_pcall = pcall,
  raw_xpcall = xpcall,
  raw_collectgarbage = collectgarbage,
  co_create = coroutine.create,
  co_resume = coroutine.resume,
  co_close = coroutine.close,
  raw_wrap = coroutine.wrap,
}

return api
