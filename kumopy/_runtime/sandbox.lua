-- kumopy's Lua-side runtime support, run once in every new Lua state.
--
-- It turns a stock Lua 5.4 state into one that looks like a kumod Lua state
-- to the policy (no `debug`, no C modules, kumod's package.path order, the
-- `kumo` module in package.loaded) and gives the Python host the few
-- primitives that must live in Lua:
--   * a call trampoline that reports how many values a function returned
--     (Python cannot tell `return` from `return nil`) and captures the
--     Lua traceback of an error;
--   * the instruction budget (a count hook that the policy cannot remove,
--     catch with pcall/xpcall, or escape through a coroutine);
--   * the path map applied to io.open, io.lines, dofile, loadfile and require.
--
-- The chunk is called with a single `host` table of Python callables and
-- returns a table of Lua functions used by the host.

local host = ...
local ERR = host.ERR -- first return value of a Python kumo function that failed

local pack, unpack, select, type, error, rawequal, tostring, setmetatable, getmetatable =
  table.pack, table.unpack, select, type, error, rawequal, tostring, setmetatable, getmetatable
local raw_pcall, raw_xpcall = pcall, xpcall
local co_create, co_wrap, co_resume, co_status = coroutine.create, coroutine.wrap, coroutine.resume,
  coroutine.status
-- CPU time of the calling thread (the host's time.thread_time): a state
-- runs on one thread at a time, and other threads' work (other states in
-- `kumopy serve`'s workers) must not count against its budget.
local cpu_time = host.cpu_time
local io_open, io_lines, raw_loadfile = io.open, io.lines, loadfile
local string_format = string.format

-- The debug library is taken away from the policy (kumod creates its states
-- without it); the host keeps the pieces it needs.
local dbg = debug
local sethook, getinfo, traceback = dbg.sethook, dbg.getinfo, dbg.traceback
local getmetatable_raw, setmetatable_raw = dbg.getmetatable, dbg.setmetatable
debug = nil
package.loaded.debug = nil
python = nil
package.loaded.python = nil

---------------------------------------------------------------------------
-- Budget: a count hook checks CPU time every HOOK_COUNT instructions.
---------------------------------------------------------------------------

-- Budget and memory failures carry this marker so that the policy cannot
-- swallow them with pcall/xpcall.
local BUDGET = setmetatable({}, {
  __tostring = function() return "kumopy: handler exceeded its CPU budget" end,
  __name = "kumopy.BudgetExceeded",
})
local HOOK_COUNT = 10000
local deadline = nil -- os.clock() value after which the running code is stopped
local tripped = false -- set once the deadline passed; cleared by the host
local line_hook = nil -- optional Python callable (source, line) for coverage

local function is_fatal(e)
  return rawequal(e, BUDGET) or (tripped and true) or e == "not enough memory"
end

local function hook(event, line)
  if event == "line" then
    if line_hook ~= nil then
      line_hook(getinfo(2, "S").source, line)
    end
    return
  end
  if deadline ~= nil and cpu_time() > deadline then
    tripped = true
    error(BUDGET, 0)
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
coroutine.wrap = function(f)
  local co = coroutine.create(f)
  return function(...)
    local r = pack(co_resume(co, ...))
    if not r[1] then
      error(r[2], 0)
    end
    return unpack(r, 2, r.n)
  end
end
-- A coroutine that died of the budget must not hide it from its resumer.
coroutine.resume = function(co, ...)
  local r = pack(co_resume(co, ...))
  if not r[1] and is_fatal(r[2]) then
    error(r[2] == "not enough memory" and r[2] or BUDGET, 0)
  end
  return unpack(r, 1, r.n)
end

pcall = function(f, ...)
  local r = pack(raw_pcall(f, ...))
  if not r[1] and is_fatal(r[2]) then
    error(r[2] == "not enough memory" and r[2] or BUDGET, 0)
  end
  return unpack(r, 1, r.n)
end

xpcall = function(f, msgh, ...)
  local function guarded(e)
    if is_fatal(e) then
      return e
    end
    return msgh(e)
  end
  local r = pack(raw_xpcall(f, guarded, ...))
  if not r[1] and is_fatal(r[2]) then
    error(r[2] == "not enough memory" and r[2] or BUDGET, 0)
  end
  return unpack(r, 1, r.n)
end

---------------------------------------------------------------------------
-- Path map for every loader the policy can reach.
---------------------------------------------------------------------------

local map_path = host.map_path

io.open = function(path, ...)
  if type(path) == "string" then
    path = map_path(path)
  end
  return io_open(path, ...)
end

io.lines = function(path, ...)
  if type(path) == "string" then
    path = map_path(path)
  end
  return io_lines(path, ...)
end

loadfile = function(path, ...)
  if type(path) == "string" then
    path = map_path(path)
  end
  return raw_loadfile(path, ...)
end

dofile = function(path)
  local f, err = loadfile(path)
  if not f then
    error(err, 2)
  end
  return f()
end

-- No C modules, as in kumod.
package.cpath = ""
package.loadlib = nil

local function lua_searcher(name)
  local fname = name:gsub("%.", "/"):gsub("%%", "%%%%")
  local tried = {}
  for template in package.path:gmatch("[^;]+") do
    local candidate = template:gsub("%?", fname)
    local real = map_path(candidate)
    local f = io_open(real, "r")
    if f then
      f:close()
      local chunk, err = raw_loadfile(real)
      if not chunk then
        error(string_format("error loading module '%s' from file '%s':\n\t%s", name, real, err), 3)
      end
      return chunk, real
    end
    tried[#tried + 1] = "\n\tno file '" .. candidate .. "'"
  end
  return table.concat(tried)
end

package.searchers = { package.searchers[1], lua_searcher }

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
  host_print(table.concat(parts, "\t"), info and info.source or "?", info and info.currentline or 0)
end

---------------------------------------------------------------------------
-- Primitives for the host.
---------------------------------------------------------------------------

local api = {}

-- Calls f(...) and returns (n, v1..vn) on success or (-1, message,
-- traceback, kind) on error, kind being "budget", "memory" or "error".
-- The message is tostring(e); a non-string error value is described.
local function on_error(e)
  if rawequal(e, BUDGET) or tripped then
    return { kind = "budget", msg = tostring(BUDGET), tb = traceback("", 2) }
  end
  local msg
  if type(e) == "string" then
    msg = e
  else
    local ok, s = raw_pcall(tostring, e)
    msg = ok and s or ("(error object is a " .. type(e) .. " value)")
  end
  return { kind = "error", msg = msg, tb = traceback("", 2), value = e }
end

-- The failure of an xpcall: its message-handler result (or, for memory
-- errors, which bypass the handler, the raw error) as -1, message,
-- traceback, kind, value.
local function failure(info)
  if type(info) ~= "table" then
    local msg = tostring(info)
    return -1, msg, "", msg == "not enough memory" and "memory" or "error"
  end
  return -1, info.msg, info.tb, info.kind, info.value
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

-- Disarms the budget after an outermost call and reports whether it tripped
-- before the results.
local function finish(ok, ...)
  deadline = nil
  local was = tripped
  tripped = false
  if ok then
    return was, select("#", ...), ...
  end
  return was, failure((...))
end

-- An outermost call: arms the budget for `seconds` (nil: no limit), calls
-- f, disarms, and returns whether the budget tripped before the results.
function api.run(seconds, f, ...)
  tripped = false
  deadline = seconds and (cpu_time() + seconds) or nil
  return finish(raw_xpcall(f, on_error, ...))
end

-- run() for a handler the host prepared for an event (kumopy replay's hot
-- path): sets _KUMO_CURRENT_EVENT and arms the budget with the deadline the
-- host already computed, so one crossing does what a global assignment, a
-- clock read and run() did.
function api.run_event(until_, event, f, ...)
  _KUMO_CURRENT_EVENT = event
  tripped = false
  deadline = until_
  return finish(raw_xpcall(f, on_error, ...))
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
local SELF = getinfo(1, "S").source

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

-- JSON/TOML arrays carry a protected marker metatable, as mlua does.
local ARRAY_MT = { __metatable = false }
api.ARRAY_MT = ARRAY_MT

function api.mark_array(t)
  return setmetatable(t, ARRAY_MT)
end

-- An array with holes (JSON nulls) built the way mlua builds it: a table
-- whose array part is sized for all n slots, so `#t` is n when t[n] is set.
function api.make_array_with_holes(src, n)
  local t = pack(unpack(src, 1, n))
  t.n = nil
  return setmetatable(t, ARRAY_MT)
end

-- rawlen and whether the table carries the array marker
function api.shape(t)
  return rawlen(t), getmetatable_raw(t) == ARRAY_MT
end

-- A Python callable as a real Lua function: a failure reported by the
-- host (first value ERR, second the message) becomes a Lua error at the
-- line of the policy that made the call.
local function check(first, ...)
  if rawequal(first, ERR) then
    error((...), 2)
  end
  return first, ...
end

local function make_function(f)
  return function(...)
    return check(f(...))
  end
end
api.make_function = make_function

-- Builds the `kumo` module from an array of {dotted_name, value,
-- is_function} rows and installs it in package.loaded.
function api.build_module(entries)
  local kumo = {}
  for i = 1, #entries do
    local e = entries[i]
    local path, value, is_function = e[1], e[2], e[3]
    local t = kumo
    local last
    for part in path:gmatch("[^.]+") do
      last = part
    end
    for part in path:gmatch("([^.]+)%.") do
      local sub = t[part]
      if sub == nil then
        sub = {}
        t[part] = sub
      end
      t = sub
    end
    t[last] = is_function and make_function(value) or value
  end
  package.loaded.kumo = kumo
  return kumo
end

api.tostring = tostring

-- Python objects handed to Lua are userdata sharing lupa's metatable; the
-- host gives them indexing, assignment, `#` and `pairs` through these
-- Python callables, whose failures come back as (ERR, message) and are
-- raised here as string errors at the policy's line.
function api.extend_userdata(sample, index_fn, newindex_fn, len_fn, pairs_fn)
  local mt = getmetatable_raw(sample)
  -- (the hot path of every regex_set_map lookup: check() inlined)
  mt.__index = function(o, k)
    local v, e = index_fn(o, k)
    if rawequal(v, ERR) then
      error(e, 2)
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
  setmetatable(_G, mt)
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
  setmetatable(_G, mt)
end


arm_thread(nil)

return api
