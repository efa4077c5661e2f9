-- kumopy's runtime (see sandbox.lua): Lua's functions that the stops
-- (calls.lua) must cross.  pcall, xpcall and the coroutine functions could
-- catch or hide a stop or a memory error, and re-raise them instead;
-- coroutines get the budget's hook (hooks are per coroutine in Lua); os.exit
-- stops the policy instead of ending the process.
--
-- Run once per state after calls.lua, with the host table and `api`.

local _, api = ...
local lib = api.internals

local select, type, error, tointeger, tonumber = select, type, error, math.tointeger, tonumber
local typearg, getinfo, SELF = lib.typearg, lib.getinfo, lib.SELF
local is_fatal, refatal, arm_thread, exit_stop =
  lib.is_fatal, lib.refatal, lib.arm_thread, lib.exit_stop
local raw_pcall, raw_xpcall = lib.raw_pcall, lib.raw_xpcall
local co_create, co_resume, co_close, raw_wrap = lib.co_create, lib.co_resume, lib.co_close,
  lib.raw_wrap

if getinfo(1, "S").source ~= SELF then
  error("kumopy: standins.lua must be loaded under the runtime's chunk name")
end
-- Hooks are per coroutine in Lua, so every coroutine gets one at creation.
coroutine.create = function(f)
  local co = co_create(f)
  arm_thread(co)
  return co
end
-- A coroutine that died of a stop must not hide it from its resumer.
local function resumed(ok, ...)
  if not ok and is_fatal((...)) then
    refatal((...))
  end
  return ok, ...
end
coroutine.resume = function(co, ...)
  return resumed(co_resume(co, ...))
end
-- coroutine.wrap returns Lua's own function (a C function, so a policy
-- calling it in tail position keeps its frame and the position a string
-- error gets, as in kumod); its body first arms the hook of the coroutine
-- it runs in.  A stop (a table) and a memory error cross it unchanged, and
-- the pcall that could catch them re-raises them.
local function pass(f)
  return f
end
local function passed(...)
  return ...
end
coroutine.wrap = function(...)
  local f = ...
  if type(f) ~= "function" then
    error("bad argument #1 to 'wrap' (function expected, got "
      .. typearg(f, select("#", ...) >= 1) .. ")", 2)
  end
  return raw_wrap(function(...)
    arm_thread(nil)
    -- (not a tail call, and f called unnamed: the stack reads as the
    -- coroutine's body called by resume, see "Levels" in sandbox.lua)
    return passed(pass(f)(...))
  end)
end
-- Closing a suspended coroutine runs its pending __close handlers, whose
-- errors coroutine.close returns instead of raising.
coroutine.close = function(co)
  return resumed(co_close(co))
end

local function caught(ok, ...)
  if not ok and is_fatal((...)) then
    refatal((...))
  end
  return ok, ...
end
pcall = function(f, ...)
  return caught(raw_pcall(f, ...))
end

xpcall = function(f, msgh, ...)
  local function guarded(e)
    if is_fatal(e) then
      return e
    end
    return msgh(e)
  end
  return caught(raw_xpcall(f, guarded, ...))
end

-- os.exit would end the whole process (kumod's, or Python with all its
-- unflushed output).  It stops the policy instead; the host reports it as
-- an error at the policy's line, and `kumopy script` exits with the status.
os.exit = function(code, ...)
  local status
  if type(code) == "boolean" then
    status = code and 0 or 1
  elseif code == nil then
    status = 0
  else
    status = tointeger(code)
    if status == nil and type(code) == "string" then
      local n = tonumber(code)
      status = n and tointeger(n)
    end
    if status == nil then
      local why = (type(code) == "number" or tonumber(code) ~= nil)
        and "number has no integer representation"
        or ("number expected, got " .. typearg(code, true))
      error("bad argument #1 to 'exit' (" .. why .. ")", 2)
    end
  end
  -- the policy line that made the call (past pcall and other C callers)
  local level, info = 2, getinfo(2, "Sl")
  while info ~= nil and (info.what == "C" or info.source == SELF) do
    level = level + 1
    info = getinfo(level, "Sl")
  end
  -- (a tail call: calls.lua records the status and position, and stops)
  return exit_stop(status, info and info.source or "?", info and info.currentline or 0)
end
