-- string.find, match, gmatch and gsub without a runaway C matcher.
--
-- Lua's C matcher cannot be interrupted (no hook runs inside it) and some
-- patterns take time polynomial or exponential in the subject.  Each pattern
-- is analysed once by the host, which says how long a subject the C matcher
-- is sure to finish quickly (a few milliseconds); calls within that limit go
-- straight to the C functions, the rest to the host's engines (RE2 when the
-- pattern has an RE2 form, else a Python transcription of the matcher that
-- honours the budget).  The results and errors are Lua's in both cases.
--
-- Run once per state after loaders.lua (see sandbox.lua), with the host
-- table and the runtime's typearg(), getinfo and hide(); returns the
-- function that reads the C library's character classes (the host needs
-- them to build the same byte sets).

local host, typearg, getinfo, hide = ...
local ERR = host.ERR
local pattern_limits = host.pattern_limits
local engine_find, engine_plain, engine_next, engine_gsub =
  host.pattern_find, host.pattern_plain_find, host.pattern_next, host.pattern_gsub

local raw_find, raw_match, raw_gmatch, raw_gsub = string.find, string.match, string.gmatch,
  string.gsub
local type, tostring, tonumber, error, rawequal, pack, unpack, select =
  type, tostring, tonumber, error, rawequal, table.pack, table.unpack, select
local math_type, tointeger = math.type, math.tointeger
local sub, char, lower, byte, concat = string.sub, string.char, string.lower, string.byte,
  table.concat

-- pattern -> longest subject the C matcher gets: for find/match/gsub, for
-- gmatch, for a plain find (-1: never); and the highest %n a gsub
-- replacement may use.  The C functions get only calls in which they can
-- raise no error: a C function called from here would report it at this
-- file's line instead of the policy's.
local LIM, GLIM, PLIM, CAPS = {}, {}, {}, {}
local cached = 0

local function limits(p)
  if cached >= 1024 then
    LIM, GLIM, PLIM, CAPS, cached = {}, {}, {}, {}, 0
  end
  local lim, glim, plim, caps = pattern_limits(p)
  LIM[p], GLIM[p], PLIM[p], CAPS[p] = lim, glim, plim, caps
  cached = cached + 1
  return lim, glim, plim
end

-- replacement string -> the highest %n it uses (10: an invalid escape)
local REPL = {}
local repl_cached = 0

local function repl_needs(r)
  local need = REPL[r]
  if need ~= nil then
    return need
  end
  need = 0
  local i = 1
  while true do
    local j = raw_find(r, "%", i, true)
    if not j then
      break
    end
    local c = byte(r, j + 1)
    if c ~= 37 and c ~= 48 then -- %% and %0 are always valid
      if c and c >= 49 and c <= 57 then
        if c - 48 > need then
          need = c - 48
        end
      else
        need = 10
        break
      end
    end
    i = j + 2
  end
  if repl_cached >= 1024 then
    REPL, repl_cached = {}, 0
  end
  REPL[r] = need
  repl_cached = repl_cached + 1
  return need
end

-- A function or table replacement for the C gsub, whose results it checks
-- itself so that a bad one is reported at the policy's line (level 4: past
-- this function, the C gsub and the wrapper that called it).
-- (The function is one of kumopy's internals, not a stand-in: `hide`; it
-- calls repl through `pass` so that repl's frame has no name, as when the
-- C gsub calls it.)
local function pass(f)
  return f
end
local function checked_repl(repl, tr)
  local function check_value(v)
    if v and type(v) ~= "string" and type(v) ~= "number" then
      error("invalid replacement value (a " .. type(v) .. ")", 4)
    end
    return v
  end
  if tr == "table" then
    return hide(function(k)
      return check_value(repl[k])
    end)
  end
  return hide(function(...)
    return check_value((pass(repl)(...)))
  end)
end

-- Argument checks with Lua's messages (luaL_argerror): `how` is the
-- wrapper's getinfo(1, "n") (how the policy called it: a method call does
-- not count `self`; called from C, Lua names the function string.<name>).
-- Raised at the policy's line: level 4 is past this helper, the argument
-- check and the slow path (which the wrapper calls as a tail call).
local function arg_error(how, name, i, msg)
  if how.namewhat == "method" then
    i = i - 1
    if i == 0 then
      error(("calling '%s' on bad self (%s)"):format(how.name, msg), 4)
    end
  end
  error(("bad argument #%d to '%s' (%s)"):format(i, how.name or ("string." .. name), msg), 4)
end

local function arg_string(v, i, how, name, present)
  local t = type(v)
  if t == "string" then
    return v
  elseif t == "number" then
    return tostring(v)
  end
  arg_error(how, name, i, "string expected, got " .. typearg(v, present))
end

local function arg_integer(v, i, how, name, default)
  if v == nil then
    return default
  end
  if math_type(v) == "integer" then
    return v
  end
  local n = tonumber(v)
  if n == nil or (type(v) ~= "number" and type(v) ~= "string") then
    arg_error(how, name, i, "number expected, got " .. typearg(v, true))
  end
  local k = tointeger(n)
  if k == nil then
    arg_error(how, name, i, "number has no integer representation")
  end
  return k
end

-- 1-based start position as str_find_aux computes it
local function posrelat(pos, len)
  if pos > 0 then
    return pos
  elseif pos == 0 then
    return 1
  elseif pos < -len then
    return 1
  end
  return len + pos + 1
end

local function nospecials(p)
  return raw_find(p, "[%^%$%*%+%?%.%(%[%%%-]") == nil
end

-- a host result: an error becomes a Lua error at the policy's line (this is
-- always called as a tail call from a slow path, itself a tail call)
local function checked(first, ...)
  if rawequal(first, ERR) then
    error((...), 2)
  end
  return first, ...
end

local function slow_find(s, p, init, plain, name, how)
  s = arg_string(s, 1, how, name, s ~= nil or p ~= nil or init ~= nil or plain ~= nil)
  p = arg_string(p, 2, how, name, p ~= nil or init ~= nil or plain ~= nil)
  local ls = #s
  local init0 = posrelat(arg_integer(init, 3, how, name, 1), ls) - 1
  if init0 > ls then
    return nil
  end
  local find = name == "find"
  local lim, plim = LIM[p], PLIM[p]
  if lim == nil then
    local _
    lim, _, plim = limits(p)
  end
  local n = ls - init0
  if find and plain then
    if n <= plim then
      return raw_find(s, p, init0 + 1, true)
    end
    return engine_plain(s, p, init0)
  end
  if n <= lim then
    if find then
      return raw_find(s, p, init0 + 1)
    end
    return raw_match(s, p, init0 + 1)
  end
  if find and nospecials(p) then
    return engine_plain(s, p, init0)
  end
  return checked(engine_find(s, p, init0, find))
end

string.find = function(s, p, init, plain)
  local lim
  if plain then
    lim = PLIM[p]
  else
    lim = LIM[p]
  end
  if lim and type(s) == "string" and #s <= lim and (init == nil or math_type(init) == "integer") then
    return raw_find(s, p, init, plain)
  end
  return slow_find(s, p, init, plain, "find", getinfo(1, "n"))
end

string.match = function(s, p, init)
  local lim = LIM[p]
  if lim and type(s) == "string" and #s <= lim and (init == nil or math_type(init) == "integer") then
    return raw_match(s, p, init)
  end
  return slow_find(s, p, init, nil, "match", getinfo(1, "n"))
end

local function slow_gmatch(s, p, init, how)
  s = arg_string(s, 1, how, "gmatch", s ~= nil or p ~= nil or init ~= nil)
  p = arg_string(p, 2, how, "gmatch", p ~= nil or init ~= nil)
  local ls = #s
  local init0 = posrelat(arg_integer(init, 3, how, "gmatch", 1), ls) - 1
  if init0 > ls then
    init0 = ls + 1
  end
  local glim = GLIM[p]
  if glim == nil then
    local _
    _, glim = limits(p)
  end
  if ls - init0 <= glim then
    return raw_gmatch(s, p, init0 + 1)
  end
  local src, lastmatch = init0, -1
  return function()
    if src > ls then
      return
    end
    local r = pack(engine_next(s, p, src, lastmatch, true, false))
    if rawequal(r[1], ERR) then
      error(r[2], 2)
    end
    if r[1] == nil then
      src = ls + 1
      return
    end
    src, lastmatch = r[2], r[2]
    return unpack(r, 3, r.n)
  end
end

string.gmatch = function(s, p, init)
  local lim = GLIM[p]
  if lim and type(s) == "string" and #s <= lim and (init == nil or math_type(init) == "integer") then
    return raw_gmatch(s, p, init)
  end
  return slow_gmatch(s, p, init, getinfo(1, "n"))
end

-- gsub with a function or a table: the loop of str_gsub, the matching done
-- by the host (a tail call from slow_gsub: level 2 is the policy)
local function gsub_calls(s, p, repl, max_n, tr)
  local anchor = sub(p, 1, 1) == "^"
  local parts, np = {}, 0
  local src, lastmatch, n, changed = 0, -1, 0, false
  local first_only = tr == "table"
  while n < max_n do
    local r = pack(engine_next(s, p, src, lastmatch, false, first_only))
    if rawequal(r[1], ERR) then
      error(r[2], 2)
    end
    if r[1] == nil then
      break
    end
    local b, e = r[1], r[2]
    if b > src then
      np = np + 1
      parts[np] = sub(s, src + 1, b)
    end
    n = n + 1
    local v
    if first_only then
      v = repl[r[3]]
    else
      v = pass(repl)(unpack(r, 3, r.n))
    end
    np = np + 1
    if not v then
      parts[np] = sub(s, b + 1, e)
    elseif type(v) == "string" or type(v) == "number" then
      parts[np] = tostring(v)
      changed = true
    else
      error("invalid replacement value (a " .. type(v) .. ")", 2)
    end
    src, lastmatch = e, e
    if anchor then
      break
    end
  end
  if not changed then
    return s, n
  end
  np = np + 1
  parts[np] = sub(s, src + 1)
  return concat(parts, "", 1, np), n
end

local function slow_gsub(s, p, repl, max_n, how)
  local present = s ~= nil or p ~= nil or repl ~= nil or max_n ~= nil
  local given_repl = repl ~= nil or max_n ~= nil
  s = arg_string(s, 1, how, "gsub", present)
  p = arg_string(p, 2, how, "gsub", p ~= nil or given_repl)
  local tr = type(repl)
  max_n = arg_integer(max_n, 4, how, "gsub", #s + 1)
  if not (tr == "number" or tr == "string" or tr == "function" or tr == "table") then
    local function raise()
      arg_error(how, "gsub", 3, "string/function/table expected, got " .. typearg(repl, given_repl))
    end
    raise()
  end
  local lim = LIM[p]
  if lim == nil then
    lim = limits(p)
  end
  if #s <= lim then
    if tr == "function" or tr == "table" then
      return raw_gsub(s, p, checked_repl(repl, tr), max_n)
    end
    if tr == "number" or repl_needs(repl) <= CAPS[p] then
      return raw_gsub(s, p, repl, max_n)
    end
  end
  if tr == "string" or tr == "number" then
    return checked(engine_gsub(s, p, tostring(repl), max_n))
  end
  return gsub_calls(s, p, repl, max_n, tr)
end

string.gsub = function(s, p, repl, max_n)
  local lim = LIM[p]
  if lim and type(s) == "string" and #s <= lim and (max_n == nil or math_type(max_n) == "integer") then
    local tr = type(repl)
    if tr == "string" then
      if repl_needs(repl) <= CAPS[p] then
        return raw_gsub(s, p, repl, max_n)
      end
    elseif tr == "function" or tr == "table" then
      return raw_gsub(s, p, checked_repl(repl, tr), max_n)
    elseif tr == "number" then
      return raw_gsub(s, p, repl, max_n)
    end
  end
  return slow_gsub(s, p, repl, max_n, getinfo(1, "n"))
end

-- The C library's classes: for each class letter, the bytes it matches;
-- and string.lower of every byte.
return function()
  local classes = {}
  for cl in raw_gmatch("acdglpsuwxz", ".") do
    local members = {}
    for c = 0, 255 do
      if raw_find(char(c), "%" .. cl) then
        members[#members + 1] = char(c)
      end
    end
    classes[cl] = concat(members)
  end
  local lowered = {}
  for c = 0, 255 do
    lowered[c + 1] = lower(char(c))
  end
  return classes, concat(lowered)
end
