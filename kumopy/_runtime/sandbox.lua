-- kumopy's Lua-side runtime support, run once in every new Lua state.
--
-- It turns a stock Lua 5.4 state into one that looks like a kumod Lua state
-- to the policy (no `debug`, no C modules, kumod's package.path order, the
-- `kumo` module in package.loaded) and gives the Python host the few
-- primitives that must live in Lua:
--   * a call trampoline that reports how many values a function returned
--     (Python cannot tell `return` from `return nil`) and captures the
--     Lua traceback of an error;
--   * the stops a policy cannot catch or escape (pcall, xpcall, coroutines,
--     to-be-closed variables, load's reader): the CPU budget (a count hook
--     that also notices Ctrl-C), os.exit, and running out of memory;
--   * finalizers (`__gc`) run by kumopy where the budget applies, never by
--     the collector itself (Lua runs those with hooks off: a loop in one
--     could never be stopped);
--   * (loaders.lua: loaders that accept Lua source only, and the path
--     map; patterns.lua: string patterns that cannot run away.)
--
-- The chunk is called with a single `host` table of Python callables and
-- returns a table of Lua functions used by the host.

local host = ...
local ERR = host.ERR -- first return value of a Python kumo function that failed

local pack, unpack, select, type, error, rawequal, rawget, rawset, tostring, next =
  table.pack, table.unpack, select, type, error, rawequal, rawget, rawset, tostring, next
local setmetatable_lua, getmetatable = setmetatable, getmetatable
local raw_pcall, raw_xpcall = pcall, xpcall
local co_create, co_resume, co_close, raw_wrap =
  coroutine.create, coroutine.resume, coroutine.close, coroutine.wrap
local raw_collectgarbage = collectgarbage
local string_format, string_sub, string_gmatch = string.format, string.sub, string.gmatch
local table_concat, tointeger, tonumber = table.concat, math.tointeger, tonumber
-- The host's poll(): the CPU time of the calling thread (a state runs on one
-- thread at a time, and other threads' work must not count against its
-- budget), or a negative number when another thread asked the running call
-- to stop.  Being Python code, calling it also lets the interpreter deliver
-- a pending KeyboardInterrupt, which then surfaces here as an error.
local poll, stop_kind_of = host.poll, host.stop_kind

-- The debug library is taken away from the policy (kumod creates its states
-- without it); the host keeps the pieces it needs.
local dbg = debug
local sethook, getinfo, traceback = dbg.sethook, dbg.getinfo, dbg.traceback
local getmetatable_raw, setmetatable_raw = dbg.getmetatable, dbg.setmetatable
debug = nil
package.loaded.debug = nil
python = nil
package.loaded.python = nil

-- The chunk name of this file: functions defined here are kumopy's own.
local SELF = getinfo(1, "S").source

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


local function is_fatal(e)
  return stop ~= nil or e == MEMORY
end

-- Re-raise a fatal error caught by one of the wrappers below.
local function refatal(e)
  if stop ~= nil then
    error(STOPS[stop], 0)
  end
  error(e, 0)
end

---------------------------------------------------------------------------
-- Levels.  Some of the functions a policy calls are kumopy's Lua stand-ins
-- for Lua's C functions (pcall, xpcall, print, load, dofile, the pattern
-- and coroutine functions, kumo's own functions), and some of those call C
-- functions in turn (pcall calls the real pcall).  `error(msg, level)` and
-- kumo.traceback count levels as a stock Lua state would: the policy's
-- frames and C functions, each stand-in counting as the one C function it
-- replaces, and nothing of what it calls on its way to the policy's code.
-- Rules (X a frame, Y its caller): X in this chunk is a stand-in unless Y
-- is this chunk's too, or X is one of the HIDDEN entry points the host
-- calls, or X has no caller; a C function X is one of kumopy's internals
-- when Y is in this chunk.
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
    -- coroutine's body called by resume, see "Levels")
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
-- an error at this line, and `kumopy script` exits with the status.
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
  stop_info = { status, info and info.source or "?", info and info.currentline or 0 }
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
-- os.tmpname as in kumod's Lua (LUA_USE_LINUX): the file is created.
---------------------------------------------------------------------------

local host_tmpname = host.tmpname
os.tmpname = function()
  local name = host_tmpname()
  if name == nil then
    error("unable to generate a unique filename", 2)
  end
  return name
end

---------------------------------------------------------------------------
-- io.popen as in kumod's Lua (LUA_USE_LINUX): /bin/sh -c, with a handle
-- whose methods the host implements (kumopy/_runtime/_popen.py).
---------------------------------------------------------------------------

local host_popen, popen_call = host.popen, host.popen_call
io.popen = function(prog, mode)
  if type(prog) ~= "string" then
    error("bad argument #1 to 'popen' (string expected, got " .. type(prog) .. ")", 2)
  end
  local r = pack(host_popen(prog, mode or "r"))
  if not r[1] then
    error(r[2], 2)
  end
  return unpack(r, 2, r.n)
end

local popen_methods = {}

-- the values of a popen_call, or its failure raised at the policy's call
-- (called in tail position, so level 2 is the policy line that called the
-- method or the lines iterator)
local function popen_values(r)
  if not r[1] then
    if r[3] then
      -- the budget ran out while waiting on the command: as fatal as the hook
      raise_stop("budget")
    end
    error(r[2], 2)
  end
  return unpack(r, 2, r.n)
end

for _, name in ipairs({ "read", "write", "close", "flush", "setvbuf", "seek" }) do
  popen_methods[name] = function(f, ...)
    return popen_values(pack(popen_call(f, name, ...)))
  end
end
popen_methods.lines = function(f, ...)
  local formats = pack(...)
  return function()
    return popen_values(pack(popen_call(f, "read", unpack(formats, 1, formats.n))))
  end
end

---------------------------------------------------------------------------
-- print goes through the host (stdout by default, captured in tests).
---------------------------------------------------------------------------

local host_print = host.print
print = function(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    parts[i] = tostring((select(i, ...)))
  end
  local info = getinfo(2, "Sl")
  host_print(table_concat(parts, "\t"), info and info.source or "?", info and info.currentline or 0)
end

---------------------------------------------------------------------------
-- Primitives for the host.
---------------------------------------------------------------------------

local api = {}

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

-- source and line where a function was defined
function api.funcinfo(f)
  local info = getinfo(f, "S")
  return info.source, info.linedefined
end

-- Frames that belong to kumopy itself (this chunk) or to C functions are
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
        end
        out[#out + 1] = info
      end
    end
    k = k + 1
  end
end
api.frames = frames
HIDDEN[frames] = true

-- From now on `error` counts levels as stock Lua (kumopy's own chunks
-- keep Lua's error, whose levels they count themselves).
function api.install_error()
  rawset(_G, "error", error_standin)
end

-- JSON/TOML arrays carry a protected marker metatable, as mlua does.
local ARRAY_MT = { __metatable = false }
api.ARRAY_MT = ARRAY_MT

function api.mark_array(t)
  return setmetatable_raw(t, ARRAY_MT)
end

-- An array with holes (JSON nulls) built the way mlua builds it: a table
-- whose array part is sized for all n slots, so `#t` is n when t[n] is set.
function api.make_array_with_holes(src, n)
  local t = pack(unpack(src, 1, n))
  t.n = nil
  return setmetatable_raw(t, ARRAY_MT)
end

-- rawlen and whether the table carries the array marker
function api.shape(t)
  return rawlen(t), getmetatable_raw(t) == ARRAY_MT
end

-- A Python callable as a real Lua function: a failure reported by the
-- host (first value ERR, second the message) becomes a Lua error at the
-- line of the policy that made the call (a third value 0: the message
-- already carries the position of the Lua code that failed).
local function check(first, ...)
  if rawequal(first, ERR) then
    local message, level = ...
    error(message, level or 2)
  end
  return first, ...
end

local function make_function(f)
  return function(...)
    return check(f(...))
  end
end
api.make_function = make_function

-- A kumo function that looks at the stack (kumo.traceback): its Python side
-- gets `frames` first, as a function lupa calls in the calling coroutine
-- (a Lua function object runs on the thread it came from).
local function make_stack_function(f)
  return function(...)
    return check(f(frames, ...))
  end
end

-- Builds the `kumo` module from an array of {dotted_name, value,
-- is_function} rows and installs it in package.loaded.
function api.build_module(entries)
  local kumo = {}
  for i = 1, #entries do
    local e = entries[i]
    local path, value, is_function, wants_stack = e[1], e[2], e[3], e[4]
    local t = kumo
    local last
    for part in string_gmatch(path, "[^.]+") do
      last = part
    end
    for part in string_gmatch(path, "([^.]+)%.") do
      local sub = t[part]
      if sub == nil then
        sub = {}
        t[part] = sub
      end
      t = sub
    end
    if wants_stack then
      t[last] = make_stack_function(value)
    else
      t[last] = is_function and make_function(value) or value
    end
  end
  package.loaded.kumo = kumo
  return kumo
end

api.tostring = tostring
api.typearg = typearg
api.getinfo = getinfo

-- the Lua function behind a method of an io.popen handle
function api.popen_method(name)
  return popen_methods[name]
end

-- Python objects handed to Lua are userdata sharing lupa's metatable; the
-- host gives them indexing, assignment, `#` and `pairs` through these
-- Python callables, whose failures come back as (ERR, message) and
-- are raised here as string errors at the policy's line.  The metatable is
-- protected as mlua protects kumod's (`getmetatable(obj)` is false), so a
-- policy cannot change how every other object behaves.
local UD_MT = nil

function api.extend_userdata(sample, index_fn, newindex_fn, len_fn, pairs_fn, tostring_fn)
  local mt = getmetatable_raw(sample)
  UD_MT = mt
  -- tostring() as bytes (a message or MIME part need not be UTF-8)
  -- (called by tostring or print, C functions between it and the policy:
  -- a failure is raised at the innermost policy line)
  mt.__tostring = function(o)
    local s, e = tostring_fn(o)
    if rawequal(s, ERR) then
      for info in policy_frames(1) do
        error(info.short_src .. ":" .. info.currentline .. ": " .. e, 0)
      end
      error(e, 0)
    end
    return s
  end
  -- (the hot path of every regex_set_map lookup: check() inlined)
  mt.__index = function(o, k)
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
  mt.__newindex = function(o, k, v)
    return check(newindex_fn(o, k, v))
  end
  mt.__len = function(o)
    return check(len_fn(o))
  end
  mt.__pairs = function(o)
    local keys, values = pairs_fn(o)
    if rawequal(keys, ERR) then
      -- level 3: past __pairs and the pairs() builtin, to the policy line
      error(values, 3)
    end
    local i = 0
    return function()
      i = i + 1
      if keys[i] == nil then
        return nil
      end
      return keys[i], values[i]
    end, o, nil
  end
  mt.__metatable = false
end

-- The userdata metatable, for the host's own additions (operators).
function api.userdata_metatable()
  return UD_MT
end

-- Makes `name` readable as a global without being one (rawget(_G, name)
-- stays nil), telling the host the first time each policy line uses it.
function api.provide_global(name, value, on_use)
  local seen = {}
  local mt = getmetatable(_G) or {}
  mt.__index = function(_, k)
    if k == name then
      local info = getinfo(2, "Sl")
      local src, line = info and info.source or "?", info and info.currentline or 0
      local key = src .. ":" .. line
      if not seen[key] then
        seen[key] = true
        on_use(src, line)
      end
      return value
    end
    return nil
  end
  setmetatable_raw(_G, mt)
end

-- Tells the host about every global variable created from now on (an
-- assignment to a name _G does not have), with the source and line of the
-- assignment.  Used to find handlers that leave globals behind.
function api.watch_new_globals(on_new)
  local mt = getmetatable(_G) or {}
  mt.__newindex = function(t, k, v)
    local info = getinfo(2, "Sl")
    on_new(k, info and info.source or "?", info and info.currentline or 0)
    rawset(t, k, v)
  end
  setmetatable_raw(_G, mt)
end

-- What the loaders (loaders.lua) need of this chunk.
api.internals = {
  typearg = typearg,
  -- (a function the host or kumopy's C callers enter: not a stand-in)
  hide = function(f)
    HIDDEN[f] = true
    return f
  end,
  is_fatal = is_fatal,
  refatal = refatal,
  stopping = function()
    return stop ~= nil
  end,
  getinfo = getinfo,
}

arm_thread(nil)

return api
