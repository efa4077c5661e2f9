-- kumopy's runtime (see sandbox.lua), what a call from the host arms,
-- checks and resets:
--   * the call trampoline: it reports how many values a function returned
--     (Python cannot tell `return` from `return nil`) and captures the Lua
--     traceback of an error;
--   * the stops a policy cannot catch or escape (pcall, xpcall, coroutines,
--     to-be-closed variables, load's reader; standins.lua re-raises them):
--     the CPU budget (a count hook that also notices Ctrl-C), os.exit, and
--     running out of memory;
--   * finalizers (`__gc`) run by kumopy where the budget applies, never by
--     the collector itself (Lua runs those with hooks off: a loop in one
--     could never be stopped);
--   * the regex_set_map answers remembered while a batch of records runs.
-- They share the state of the running call (the stop under way, the
-- deadline, the finalizers due, the batch's record), which the host's
-- entry points read and reset on every call: it lives in this chunk's
-- locals, which the trampoline, the hook and the userdata's __index read
-- directly (an upvalue costs less than a shared table's field or a call),
-- and the other chunks reach it through the functions they are given in
-- api.internals.
--
-- Run once per state after sandbox.lua, with the host table and `api`.

local host, api = ...
local lib = api.internals
local ERR = host.ERR -- first return value of a Python kumo function that failed

local pack, unpack, select, type, error, rawequal, rawget, rawset, tostring =
  table.pack, table.unpack, select, type, error, rawequal, rawget, rawset, tostring
local string_format, string_sub = string.format, string.sub
local typearg, sethook, getinfo, traceback = lib.typearg, lib.sethook, lib.getinfo, lib.traceback
local getmetatable_raw, setmetatable_raw = lib.getmetatable_raw, lib.setmetatable_raw
local setmetatable_lua, raw_pcall, raw_xpcall, raw_collectgarbage =
  lib.setmetatable_lua, lib.raw_pcall, lib.raw_xpcall, lib.raw_collectgarbage
local HIDDEN = lib.HIDDEN
-- The host's poll(): the CPU time of the calling thread (a state runs on one
-- thread at a time, and other threads' work must not count against its
-- budget), or a negative number when another thread asked the running call
-- to stop.  Being Python code, calling it also lets the interpreter deliver
-- a pending KeyboardInterrupt, which then surfaces here as an error.
local poll, stop_kind_of = host.poll, host.stop_kind

if getinfo(1, "S").source ~= lib.SELF then
  error("kumopy: calls.lua must be loaded under the runtime's chunk name")
end

-- Longest error message (bytes) handed to the host: a policy can raise a
-- string of hundreds of megabytes, and a report needs the start of it.
local MAX_MESSAGE = 16384

---------------------------------------------------------------------------
-- Stops: the budget, Ctrl-C, os.exit.  Once one is raised, `stop` says
-- which, every pcall/xpcall/coroutine boundary re-raises it, and only the
-- host clears it (at the end of the outermost call).
---------------------------------------------------------------------------

local function sentinel(kind, text)
  return setmetatable_lua({}, {
    __tostring = function() return text end,
    __name = "kumopy." .. kind,
    __metatable = false,
  })
end
local STOPS = {
  budget = sentinel("budget", "kumopy: handler exceeded its CPU budget"),
  interrupt = sentinel("interrupt", "kumopy: interrupted"),
  exit = sentinel("exit", "kumopy: os.exit called"),
}
local HOOK_COUNT = 10000
local deadline = nil -- poll() value after which the running code is stopped
local stop = nil -- nil, or the kind of stop under way ("budget", "interrupt", "exit")
local stop_info = nil -- os.exit: {status, source, line}
local stop_tb = nil -- the traceback where the stop happened

-- Stops the running code with a stop of `kind` that no pcall can catch
-- (for the host's services that run out of budget while waiting).
local function raise_stop(kind)
  stop = kind
  stop_tb = traceback("", 3)
  error(STOPS[kind], 0)
end
local line_hook = nil -- optional Python callable (source, line) for coverage

-- (level 2: the function running when the hook fired, or halt's caller)
local function halt(kind)
  stop = kind
  stop_tb = traceback("", 2)
  error(STOPS[kind], 0)
end

local MEMORY = "not enough memory"


local function is_fatal(e)
  return stop ~= nil or e == MEMORY
end

-- Re-raise a fatal error caught by one of the wrappers (standins.lua, the
-- finalizers below, loaders.lua).
local function refatal(e)
  if stop ~= nil then
    error(STOPS[stop], 0)
  end
  error(e, 0)
end

local function hook(event, line)
  if event == "line" then
    if line_hook ~= nil then
      line_hook(getinfo(2, "S").source, line)
    end
    return
  end
  local ok, now = raw_pcall(poll)
  if not ok then
    if type(now) == "string" then
      error(now, 0) -- (out of memory calling the host)
    end
    return halt(stop_kind_of(now))
  end
  if now < 0 then
    if now == -3 then
      error(MEMORY, 0) -- (past the state's memory limit)
    end
    return halt(now == -1 and "interrupt" or "budget")
  end
  if deadline ~= nil and now > deadline then
    return halt("budget")
  end
end

local function arm_thread(co)
  local mask = line_hook ~= nil and "l" or ""
  if co == nil then
    sethook(hook, mask, HOOK_COUNT)
  else
    sethook(co, hook, mask, HOOK_COUNT)
  end
end

-- os.exit (standins.lua) ends here, once it has found the policy's line
-- (a tail call: level 2 of halt's traceback is os.exit's caller).
local function exit_stop(status, source, line)
  stop_info = { status, source, line }
  return halt("exit")
end

---------------------------------------------------------------------------
-- Finalizers.  Lua calls `__gc` metamethods from inside the collector with
-- hooks disabled, so a loop in one can be stopped by nothing.  setmetatable
-- therefore hides the `__gc` field from the collector while it attaches the
-- metatable (the object is not marked for finalization), and gives the
-- object a small sentinel whose own finalizer only queues the object; the
-- queued finalizers run as ordinary Lua code, under the budget, at the end
-- of the outermost call, on collectgarbage(), and when many are due.  The
-- policy sees its metatable unchanged, and the `__gc` value current when
-- the object dies is the one called, as in Lua.
---------------------------------------------------------------------------

local finalizable = setmetatable_lua({}, { __mode = "k" }) -- object -> sentinel
local due = {} -- objects whose finalizer is to run, in Lua's order
local due_n = 0
local in_finalizer = false

local SENTINEL_MT = {
  __gc = function(s)
    due_n = due_n + 1
    due[due_n] = s[1]
  end,
}

local function run_finalizers()
  if in_finalizer then
    return
  end
  in_finalizer = true
  local i = 1
  while i <= due_n do
    local o = due[i]
    due[i] = nil
    i = i + 1
    finalizable[o] = nil -- a later setmetatable marks it again, as in Lua
    local mt = getmetatable_raw(o)
    local gc = mt and rawget(mt, "__gc")
    if gc ~= nil then
      local ok, e = raw_pcall(gc, o)
      -- Lua turns a finalizer's error into a warning (off by default)
      if not ok and is_fatal(e) then
        in_finalizer = false
        due_n = 0
        refatal(e)
      end
    end
  end
  due_n = 0
  in_finalizer = false
end

lib.finalizer_runners[run_finalizers] = true

setmetatable = function(...)
  local t, mt = ...
  local n = select("#", ...)
  if type(t) ~= "table" then
    error("bad argument #1 to 'setmetatable' (table expected, got " .. typearg(t, n >= 1) .. ")", 2)
  end
  if n < 2 or (mt ~= nil and type(mt) ~= "table") then
    error("bad argument #2 to 'setmetatable' (nil or table expected, got "
      .. typearg(mt, n >= 2) .. ")", 2)
  end
  local old = getmetatable_raw(t)
  if old ~= nil and rawget(old, "__metatable") ~= nil then
    error("cannot change a protected metatable", 2)
  end
  local gc = mt and rawget(mt, "__gc")
  if gc == nil then
    return setmetatable_raw(t, mt)
  end
  rawset(mt, "__gc", nil)
  setmetatable_raw(t, mt)
  rawset(mt, "__gc", gc)
  if finalizable[t] == nil then
    finalizable[t] = setmetatable_raw({ t }, SENTINEL_MT)
  end
  if due_n > 64 then
    run_finalizers()
  end
  return t
end

collectgarbage = function(...)
  if in_finalizer then
    return nil -- Lua: "invalid call (inside a finalizer)"
  end
  local r = pack(raw_collectgarbage(...))
  local opt = ...
  if opt == nil or opt == "collect" or opt == "step" then
    run_finalizers()
  end
  return unpack(r, 1, r.n)
end


---------------------------------------------------------------------------
-- Primitives for the host.
---------------------------------------------------------------------------


local function clip(msg)
  if #msg > MAX_MESSAGE then
    -- keep both ends: parsers echo the input first and explain last
    local half = MAX_MESSAGE // 2
    return string_sub(msg, 1, half)
      .. string_format(" ... (%d bytes cut) ... ", #msg - 2 * half)
      .. string_sub(msg, -half)
  end
  return msg
end

-- The message handler of every call from the host: it only records (no
-- __tostring here: running policy code inside a message handler could
-- loop, or fail into "error in error handling").
local function on_error(e)
  return { e = e, tb = traceback("", 2), stop = stop }
end

-- The failure of an xpcall as -1, message, traceback, kind, value.  A
-- non-string error is shown as luaL_tolstring shows it (what kumod's mlua
-- reports), computed here, outside the message handler, under the budget.
local function failure(info)
  if type(info) ~= "table" or rawget(info, "tb") == nil then
    -- memory errors bypass the message handler
    local msg = type(info) == "string" and info or MEMORY
    return -1, clip(msg), "", msg == MEMORY and "memory" or "error"
  end
  local kind = info.stop or stop
  if kind ~= nil then
    local tb = stop_tb or info.tb
    if kind == "exit" and stop_info ~= nil then
      return -1, "os.exit", tb, kind, stop_info[1], stop_info[2], stop_info[3]
    end
    return -1, tostring(STOPS[kind]), tb, kind
  end
  local e = info.e
  if e == MEMORY then
    return -1, MEMORY, info.tb, "memory"
  end
  if type(e) == "string" then
    return -1, clip(e), info.tb, "error"
  end
  local ok, msg = raw_pcall(tostring, e)
  if not ok then
    if stop ~= nil then
      return -1, tostring(STOPS[stop]), stop_tb or info.tb, stop
    end
    if msg == MEMORY then
      return -1, MEMORY, info.tb, "memory"
    end
    msg = "error in error handling"
  end
  return -1, clip(msg), info.tb, "error", e
end

-- Lookups that are pure functions of their key (regex_set_map: the host
-- returns the chosen pattern's position as a third value, 0 for none) are
-- remembered while a batch of records runs (kumopy replay), so a response
-- seen before is answered here without crossing into Python: by userdata,
-- its keys (about LOOKUP_CAP bytes of them, then forgotten together) and
-- its values.
-- Each record's last matching lookup is noted in the batch's hits (record,
-- map, position), whether answered here or by the host.  Nothing is
-- remembered once the state uses more than lookup_room (half its limit).
local LOOKUPS = setmetatable_lua({}, { __mode = "k" })
local LOOKUP_VALUES = setmetatable_lua({}, { __mode = "k" })
local LOOKUP_CAP = 8 * 1024 * 1024
local batch_k = nil -- the record the running batch is at (nil: no batch)
local batch_hits = nil
local lookup_room = nil -- KiB the state may use and still remember (nil: any)

local function batch_hit(o, i)
  local h = batch_hits
  local n = h.n + 3
  h[n - 2] = batch_k
  h[n - 1] = o
  h[n] = i
  h.n = n
end

local function remember(o, k, v, i)
  if i ~= 0 then
    batch_hit(o, i < 0 and -i or i)
  end
  if i < 0 or type(k) ~= "string"
      or (lookup_room and raw_collectgarbage("count") > lookup_room) then
    return
  end
  local keys = LOOKUPS[o]
  if keys == nil or keys[0] >= LOOKUP_CAP then
    keys = { [0] = 0 }
    LOOKUPS[o] = keys
    LOOKUP_VALUES[o] = LOOKUP_VALUES[o] or {}
  end
  keys[k] = i
  keys[0] = keys[0] + #k + 40 -- (about what an entry costs)
  if i > 0 then
    LOOKUP_VALUES[o][i] = v
  end
end

-- xpcall's results as n, values... (n >= 0) or a failure, without building
-- a table: this runs for every event.
local function report(ok, ...)
  if ok then
    return select("#", ...), ...
  end
  return failure((...))
end

-- A nested call (Python code called from Lua calling back into Lua), under
-- the budget that is already running.
function api.invoke(f, ...)
  return report(raw_xpcall(f, on_error, ...))
end

-- Disarms the budget after an outermost call; the first result is the stop
-- that ended it (false if none).  The finalizers that became due during the
-- call run first, still under the budget (f itself must be called directly
-- by xpcall: a Lua frame between them would show up as the position of
-- errors raised through a tail call).
local function disarm(...)
  deadline = nil
  stop = nil
  stop_info = nil
  stop_tb = nil
  return ...
end

local function finish_failed(ok, ...)
  if ok then
    -- finalizers due: run them, still under the budget
    local fok, info = raw_xpcall(run_finalizers, on_error)
    if not fok then
      return disarm(stop or false, failure(info))
    end
    return disarm(stop or false, select("#", ...), ...)
  end
  -- the message is computed while the budget is still armed
  return disarm(stop or false, failure((...)))
end

local function finish(ok, ...)
  if ok and due_n == 0 then
    local was = stop or false
    deadline = nil
    stop = nil
    stop_info = nil
    stop_tb = nil
    return was, select("#", ...), ...
  end
  return finish_failed(ok, ...)
end

-- An outermost call: arms the budget (`limit`: the poll() value past which
-- the call is stopped, nil for none), calls f, disarms, and returns the
-- stop that ended it before the results.
function api.run(limit, f, ...)
  batch_k = nil
  stop = nil
  stop_info = nil
  stop_tb = nil
  deadline = limit
  return finish(raw_xpcall(f, on_error, ...))
end

-- run() for a handler the host prepared for an event (kumopy replay's hot
-- path): sets _KUMO_CURRENT_EVENT and arms the budget with the deadline the
-- host already computed, so one crossing does what a global assignment, a
-- clock read and run() did.
function api.run_event(limit, event, f, ...)
  batch_k = nil
  rawset(_G, "_KUMO_CURRENT_EVENT", event)
  stop = nil
  stop_info = nil
  stop_tb = nil
  deadline = limit
  return finish(raw_xpcall(f, on_error, ...))
end

-- run_event for a batch of records (kumopy replay): f is called once per
-- record, with record k's five arguments at ...[5k-4 .. 5k], each call on
-- its own: `arm()` (the host) starts record k and gives its deadline (false:
-- record k must not run, the host says why).  A call that returns nothing,
-- nil or an integer 0..65535, with no stop and no finalizer due, is done
-- here: -1 (kept) or the code goes in `out`.  Any other ending (an error, a
-- stop, another value) is left as run_event would have returned it, packed
-- in ctl[1], and the batch ends there.  Returns m, the m records' results.
local math_type, table_pack, table_unpack = math.type, table.pack, table.unpack

local function settle(ctl, out, k, ok, ...)
  if ok and due_n == 0 and stop == nil then
    local n = select("#", ...)
    if n == 0 then
      out[k] = -1
      return true
    elseif n == 1 then
      local v = ...
      if v == nil then
        out[k] = -1
        return true
      end
      if math_type(v) == "integer" and v >= 0 and v <= 65535 then
        out[k] = v
        return true
      end
    end
  end
  ctl[1] = table_pack(finish(ok, ...))
  return false
end

-- ctl[3]: whether lookups may be remembered (false while the host
-- observes every lookup), and ctl[4] the room for them (KiB, or false);
-- the batch's hits (record, map, position, ...) are left in ctl[2].
function api.run_batch(arm, event, f, ctl, n, ...)
  local a = table_pack(...)
  local out = {}
  local hits = { n = 0 }
  ctl[2] = hits
  batch_hits = hits
  lookup_room = ctl[4] or nil
  local remembering = ctl[3]
  for k = 1, n do
    rawset(_G, "_KUMO_CURRENT_EVENT", event) -- (a handler may change it)
    local limit = arm()
    if limit == false then
      deadline = nil
      batch_k = nil
      ctl[1] = false
      return k - 1, table_unpack(out, 1, k - 1)
    end
    stop = nil
    stop_info = nil
    stop_tb = nil
    deadline = limit
    local j = 5 * k
    if remembering then
      batch_k = k
    end
    if not settle(ctl, out, k, raw_xpcall(f, on_error, a[j - 4], a[j - 3], a[j - 2], a[j - 1], a[j])) then
      batch_k = nil
      return k - 1, table_unpack(out, 1, k - 1)
    end
  end
  batch_k = nil
  deadline = nil
  return n, table_unpack(out, 1, n)
end

-- (entered from the host, not from a policy's call)
HIDDEN[api.invoke] = true
HIDDEN[api.run] = true
HIDDEN[api.run_event] = true
HIDDEN[api.run_batch] = true

-- _KUMO_CURRENT_EVENT, set in a protected call (lupa's own assignment is
-- not: running out of memory there would abort the process)
function api.set_event(event)
  rawset(_G, "_KUMO_CURRENT_EVENT", event)
end

-- Raise a stop from the host (a Python kumo function saw the budget run
-- out, or Ctrl-C): returned as the error value a Python function reports.
function api.set_stop(kind)
  stop = kind
  stop_tb = traceback("", 2)
  return STOPS[kind]
end

function api.set_line_hook(f)
  line_hook = f
  arm_thread(nil)
end

-- The __index of the userdata metatable (module.lua), around the host's
-- index_fn: made here, where it reads the lookups remembered above.
local function lookup_index(index_fn)
  -- (the hot path of every regex_set_map lookup: check() inlined)
  return function(o, k)
    if batch_k ~= nil then
      local keys = LOOKUPS[o]
      if keys ~= nil then
        local i = keys[k]
        if i ~= nil then
          if i > 0 then
            batch_hit(o, i)
          end
          return LOOKUP_VALUES[o][i]
        end
      end
    end
    local v, e, i = index_fn(o, k)
    if rawequal(v, ERR) then
      error(e, 2)
    end
    if i ~= nil and batch_k ~= nil then
      remember(o, k, v, i)
    end
    return v
  end
end

-- What the other chunks (and loaders.lua) need of this one.
lib.is_fatal = is_fatal
lib.refatal = refatal
lib.stopping = function()
  return stop ~= nil
end
lib.raise_stop = raise_stop
lib.exit_stop = exit_stop
lib.arm_thread = arm_thread
lib.lookup_index = lookup_index
