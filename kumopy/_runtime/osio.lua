-- kumopy's runtime (see sandbox.lua): os.tmpname, io.popen and print as
-- kumod's Lua has them, with the host doing the work.
--
-- Run once per state after standins.lua, with the host table and `api`.

local host, api = ...
local lib = api.internals

local pack, unpack, select, type, error, tostring =
  table.pack, table.unpack, select, type, error, tostring
local table_concat = table.concat
local getinfo, raise_stop = lib.getinfo, lib.raise_stop

if getinfo(1, "S").source ~= lib.SELF then
  error("kumopy: osio.lua must be loaded under the runtime's chunk name")
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

-- the Lua function behind a method of an io.popen handle
function api.popen_method(name)
  return popen_methods[name]
end
