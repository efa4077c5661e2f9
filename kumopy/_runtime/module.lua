-- kumopy's runtime (see sandbox.lua): what the host builds Lua values
-- with: the `kumo` module and its functions, JSON/TOML arrays, the metatable
-- of the Python objects handed to Lua, and its watches on globals.
--
-- Run once per state after osio.lua, with the host table and `api`.

local host, api = ...
local lib = api.internals
local ERR = host.ERR -- first return value of a Python kumo function that failed

local pack, unpack, error, rawequal, rawset, tostring =
  table.pack, table.unpack, error, rawequal, rawset, tostring
local getmetatable, string_gmatch = getmetatable, string.gmatch
local getinfo, getmetatable_raw, setmetatable_raw = lib.getinfo, lib.getmetatable_raw,
  lib.setmetatable_raw
local frames, policy_frames, lookup_index = api.frames, lib.policy_frames, lib.lookup_index

if getinfo(1, "S").source ~= lib.SELF then
  error("kumopy: module.lua must be loaded under the runtime's chunk name")
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
  -- (made by calls.lua, whose remembered lookups it reads first)
  mt.__index = lookup_index(index_fn)
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

-- The hook of the main thread, now that the runtime is in place
-- (coroutines get theirs when they are created).
lib.arm_thread(nil)
