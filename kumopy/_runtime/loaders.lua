-- kumopy's loaders: Lua source only, and the path map.
--
-- Lua does not verify binary chunks, and a modified one crashes the
-- interpreter (kumod's mlua would load it unchecked).  load, loadfile,
-- dofile and require accept Lua source, and a binary chunk only when it is,
-- byte for byte, something string.dump produced in this process.  Chunks
-- compiled from source keep the policy's line in the errors of kumopy's
-- Lua stand-ins for C functions (see _tailcalls.py).  The path map applies
-- to io.open, io.lines, loadfile, dofile and require.
--
-- Run once per state after module.lua (see sandbox.lua), with the host
-- table and `api`; adds api.compile.

local host, api = ...
local lib = api.internals
local typearg, is_fatal, refatal, stopping, getinfo, hide =
  lib.typearg, lib.is_fatal, lib.refatal, lib.stopping, lib.getinfo, lib.hide

local select, type, error, tostring = select, type, error, tostring
local raw_pcall = pcall
local io_open, io_lines, raw_loadfile, raw_load = io.open, io.lines, loadfile, load
local raw_dump = string.dump
local string_format, string_sub, string_byte, string_find, string_gsub, string_gmatch =
  string.format, string.sub, string.byte, string.find, string.gsub, string.gmatch
local table_concat = table.concat

-- The chunk name of kumopy's own code: its functions are not dumped.
local SELF = getinfo(1, "S").source


local trust_dump, is_trusted = host.trust_dump, host.is_trusted_dump
local TEXT_ONLY = "attempt to load a binary chunk (mode is 't')"
local REFUSED = "attempt to load a binary chunk (kumopy loads Lua source only, or the "
  .. "unchanged output of string.dump: a modified binary chunk can crash Lua)"
local ESC = 27

string.dump = function(...)
  local f, strip = ...
  if type(f) ~= "function" then
    error("bad argument #1 to 'dump' (function expected, got "
      .. typearg(f, select("#", ...) >= 1) .. ")", 2)
  end
  -- (kumopy's own functions stand in for C functions, which Lua cannot dump)
  local ok, s = false, nil
  if getinfo(f, "S").source ~= SELF then
    ok, s = raw_pcall(raw_dump, f, strip)
  end
  if not ok then
    if is_fatal(s) then
      refatal(s)
    end
    error("unable to dump given function", 2)
  end
  trust_dump(s)
  return s
end

local function has_char(mode, c)
  return string_find(mode, c, 1, true) ~= nil
end

-- A chunk compiled from source, with `return string.find(...)` and the
-- other calls of kumopy's Lua stand-ins for C functions made ordinary calls
-- so that their errors keep the policy's line (see _tailcalls.py).
local patch_tailcalls = host.patch_tailcalls
local function keep_frames(f, has_env, env)
  if f == nil then
    return f
  end
  local patched = patch_tailcalls(raw_dump(f))
  if patched == nil then
    return f
  end
  local g
  if has_env then
    g = raw_load(patched, "=?", "b", env)
  else
    g = raw_load(patched, "=?", "b")
  end
  return g or f
end

local function compiled(has_env, env, f, ...)
  return keep_frames(f, has_env, env), ...
end

-- load(binary string): refused unless trusted; the rest is Lua's load
local function load_binary(chunk, chunkname, mode, has_env, env)
  if not is_trusted(chunk) then
    if not has_char(mode, "b") then
      return nil, "attempt to load a binary chunk (mode is '" .. mode .. "')"
    end
    return nil, REFUSED
  end
  if has_env then
    return raw_load(chunk, chunkname, mode, env)
  end
  return raw_load(chunk, chunkname, mode)
end

load = function(...)
  local chunk, chunkname, mode, env = ...
  local has_env = select("#", ...) >= 4
  if type(chunk) == "number" then
    chunk = tostring(chunk)
  end
  if mode ~= nil and type(mode) ~= "string" and type(mode) ~= "number" then
    error("bad argument #3 to 'load' (string expected, got " .. typearg(mode, true) .. ")", 2)
  end
  mode = mode ~= nil and tostring(mode) or "bt"
  if chunkname ~= nil and type(chunkname) ~= "string" and type(chunkname) ~= "number" then
    error("bad argument #2 to 'load' (string expected, got " .. typearg(chunkname, true) .. ")", 2)
  end
  if type(chunk) == "string" then
    if string_byte(chunk, 1) == ESC then
      return load_binary(chunk, chunkname or chunk, mode, has_env, env)
    end
    if has_env then
      return compiled(true, env, raw_load(chunk, chunkname, mode, env))
    end
    return compiled(false, nil, raw_load(chunk, chunkname, mode))
  end
  if type(chunk) ~= "function" then
    error("bad argument #1 to 'load' (function expected, got "
      .. typearg(chunk, select("#", ...) >= 1) .. ")", 2)
  end
  -- A reader function: its first piece says whether the chunk is binary.
  local reader = chunk
  local function read()
    local ok, piece = raw_pcall(reader)
    if not ok then
      if is_fatal(piece) then
        refatal(piece)
      end
      return false, piece
    end
    if piece ~= nil and type(piece) ~= "string" and type(piece) ~= "number" then
      return false, "reader function must return a string"
    end
    return true, piece ~= nil and tostring(piece) or nil
  end
  local ok, first = read()
  if not ok then
    return nil, first
  end
  chunkname = chunkname or "=(load)"
  if first ~= nil and string_byte(first, 1) == ESC then
    local parts, n = { first }, 1
    while true do
      local ok2, piece = read()
      if not ok2 then
        return nil, piece
      end
      if piece == nil or piece == "" then
        break
      end
      n = n + 1
      parts[n] = piece
    end
    return load_binary(table_concat(parts, "", 1, n), chunkname, mode, has_env, env)
  end
  local pending = first
  local feed = hide(function()
    if pending ~= nil then
      local p = pending
      pending = nil
      return p
    end
    local ok2, piece = read()
    if not ok2 then
      error(piece, 0)
    end
    return piece
  end)
  local f, err
  if has_env then
    f, err = raw_load(feed, chunkname, mode, env)
  else
    f, err = raw_load(feed, chunkname, mode)
  end
  if stopping() then
    refatal(err)
  end
  return compiled(has_env, env, f, err)
end

local map_path = host.map_path

local function read_binary_file(path)
  local fh, err = io_open(path, "rb")
  if not fh then
    return nil, err
  end
  local data = fh:read("a")
  fh:close()
  if data == nil then
    return nil, "cannot read " .. path
  end
  -- what luaL_loadfile skips: a UTF-8 byte order mark and a first '#' line
  if string_sub(data, 1, 3) == "\239\187\191" then
    data = string_sub(data, 4)
  end
  if string_byte(data, 1) == 35 then -- '#'
    local nl = string_find(data, "\n", 1, true)
    data = nl and string_sub(data, nl + 1) or ""
  end
  return data
end

loadfile = function(...)
  local path, mode, env = ...
  local has_env = select("#", ...) >= 3
  if type(path) == "string" then
    path = map_path(path)
  elseif path ~= nil and type(path) ~= "number" then
    error("bad argument #1 to 'loadfile' (string expected, got " .. typearg(path, true) .. ")", 2)
  end
  if mode ~= nil and type(mode) ~= "string" and type(mode) ~= "number" then
    error("bad argument #2 to 'loadfile' (string expected, got " .. typearg(mode, true) .. ")", 2)
  end
  mode = mode ~= nil and tostring(mode) or "bt"
  if has_char(mode, "t") then
    local f, err
    if has_env then
      f, err = raw_loadfile(path, "t", env)
    else
      f, err = raw_loadfile(path, "t")
    end
    if f ~= nil or err ~= TEXT_ONLY or path == nil then
      return compiled(has_env, env, f, err)
    end
    if not has_char(mode, "b") then
      return nil, "attempt to load a binary chunk (mode is '" .. mode .. "')"
    end
  end
  -- a binary file (or a mode without 't'): read it and decide here
  local data, err = read_binary_file(tostring(path))
  if data == nil then
    return nil, err
  end
  if string_byte(data, 1) == ESC then
    local f, e = load_binary(data, "@" .. path, mode, has_env, env)
    if f == nil and e == REFUSED then
      e = path .. ": " .. REFUSED
    end
    return f, e
  end
  -- text under a mode without 't': Lua's own refusal, safely
  return raw_load(data, "@" .. path, mode)
end

-- (f called in a plain call: a tail call would drop dofile's frame, which
-- stands for Lua's C dofile in the levels `error` counts)
local function passed(...)
  return ...
end
dofile = function(path)
  local f, err = loadfile(path)
  if not f then
    error(err, 0)
  end
  return passed(f())
end

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

-- No C modules, as in kumod.
package.cpath = ""
package.loadlib = nil

local function lua_searcher(name)
  local fname = string_gsub(string_gsub(name, "%.", "/"), "%%", "%%%%")
  local tried = {}
  for template in string_gmatch(package.path, "[^;]+") do
    local candidate = string_gsub(template, "%?", fname)
    local real = map_path(candidate)
    local fh = io_open(real, "r")
    if fh then
      fh:close()
      local chunk, err = loadfile(real)
      if not chunk then
        error(string_format("error loading module '%s' from file '%s':\n\t%s", name, real, err), 3)
      end
      return chunk, real
    end
    tried[#tried + 1] = "\n\tno file '" .. candidate .. "'"
  end
  return table_concat(tried)
end

package.searchers = { package.searchers[1], lua_searcher }

-- Compile the policy file's source (the host checked it is UTF-8 text).
function api.compile(source, chunkname)
  local f, err = raw_load(source, chunkname, "bt")
  return keep_frames(f, false) or false, err
end
