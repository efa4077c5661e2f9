"""`kumo.memoize(func, params)` (kumod: crates/mod-memoize, crates/lruttl).

Semantics kept from kumod:

* params `name`, `ttl`, `capacity` are required; `invalidate_with_epoch`,
  `populate_timeout`, `retry_on_populate_timeout`, `allow_stale_reads` are
  optional; unknown keys are rejected with serde's error shape;
* caches are shared by name across every Lua state of one process (one
  `Policy`); memoizing again with identical params keeps the cache, with
  different params replaces it;
* the key is the JSON form of the arguments (none -> null, one -> that
  value, several -> an array), plus the config epoch when
  `invalidate_with_epoch` is set (and `allow_stale_reads` is not);
* an entry lives `ttl` from when it was populated; errors are cached for 60
  seconds whatever the ttl; capacity evicts the least recently used entry;
* several return values are cached and returned as one table, tables come
  back as MemoizedTable userdata (copy on write, `#` = entry count).

kumopy is single threaded, so `populate_timeout` has nothing to wait for;
it is validated and otherwise unused.  kumod evicts by sampling 10 random
entries (exact LRU up to 10 entries, approximate above); kumopy evicts the
exact least recently used entry.

The front (speed: the common `local rules = load_rules()` of every event).
A call without arguments whose entry is the only one in its cache, holds a
value and not a table, is answered by the Lua wrapper itself from a copy it
keeps (`_FRONT`), after one cheap question to the host (`valid`): nothing
was inserted in the cache since (`_Cache.version`), the config epoch of the
key is unchanged, no call observer is attached, and the policy clock is
before the entry's expiry, exactly as the cache itself would decide.  A hit
moves nothing in the LRU order: with one entry there is no order.  The value
is the Lua value the ordinary path gives (lupa hands Lua the same userdata
for the same Python object), so nothing a policy can see changes.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from json.encoder import encode_basestring as _encode_json_string
from typing import TYPE_CHECKING, Any

from cachetools import TLRUCache

from .._errors import BudgetExceeded, KumoError, PolicyError, PolicyMemoryError, split_position
from .._runtime._watchdog import BudgetInterrupt
from .._runtime.userdata import Userdata
from . import _schema as s
from ._args import function_arg
from ._schema import REQUIRED, Field

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

LOGGER = logging.getLogger("kumopy.memoize")

#: kumod caches a failed population for this long, whatever the ttl
ERROR_TTL = 60.0

#: what kumopy takes for an unset populate_timeout (seconds)
DEFAULT_POPULATE_TIMEOUT = 120.0

#: names of kumod's built-in lruttl caches (crates/lruttl's registry): kumo.memoize
#: refuses them, kumo.set_lruttl_cache_capacity accepts only them (config.py)
BUILTIN_CACHES = frozenset(
    {
        "acl_check",
        "acl_definition",
        "dkim_key_cache",
        "dkim_signer_cache",
        "dns_resolver_ip",
        "dns_resolver_ipv4",
        "dns_resolver_ipv6",
        "dns_resolver_mx",
        "egress_source_pools",
        "egress_source_sources",
        "http_server_auth",
        "mod_filesystem_glob_cache",
        "mta_sts_policy",
        "rustls_client_config",
        "smtp_dispatcher_broken_tls",
        "smtp_dispatcher_client_certificate",
        "smtp_server_tls_config",
    }
)


def register(kumo: Namespace) -> None:
    kumo.function(
        "memoize",
        memoize,
        notes="caches per Policy (one process); exact LRU where kumod samples 10 entries; "
        "`populate_timeout` is validated but there is nothing to wait for in a "
        "single-threaded host; time comes from the Policy clock",
    )


@dataclass(frozen=True)
class MemoizeParams:
    name: str
    ttl: float
    capacity: int
    invalidate_with_epoch: bool = False
    populate_timeout: float = DEFAULT_POPULATE_TIMEOUT
    retry_on_populate_timeout: bool = False
    allow_stale_reads: bool = False


@dataclass(frozen=True)
class _Outcome:
    value: Any = None
    error: str | None = None
    #: the error message starts with the position of the Lua line that failed
    positioned: bool = False


class _Cache:
    def __init__(self, params: MemoizeParams, timer: Any) -> None:
        self.params = params
        self.timer = timer
        #: bumped by every insertion (which may also evict or expire
        #: entries): a front filled at another version is not used
        self.version = 0
        #: (key, expiry) of the last entry inserted for a call without
        #: arguments, as the cache computed it
        self.null_expiry: tuple[tuple[int | None, str], float] | None = None

        def ttu(key: tuple[int | None, str], outcome: _Outcome, now: float) -> float:
            expires = now + (ERROR_TTL if outcome.error is not None else params.ttl)
            if key[1] == "null":
                self.null_expiry = (key, expires)
            return expires

        self.entries: TLRUCache[tuple[int | None, str], _Outcome] = TLRUCache(
            maxsize=max(params.capacity, 1), ttu=ttu, timer=timer
        )
        #: cachetools caches are not thread-safe; `kumopy serve` runs
        #: handlers on several worker threads that share this cache
        self.lock = threading.Lock()


class MemoizeStore:
    """The memoize caches of one process, by name."""

    def __init__(self, timer: Any) -> None:
        self._timer = timer
        self.caches: dict[str, _Cache] = {}
        self._lock = threading.Lock()

    def cache_for(self, params: MemoizeParams) -> _Cache:
        cache = self.caches.get(params.name)
        if cache is None or cache.params != params:
            with self._lock:
                cache = self.caches.get(params.name)
                if cache is None or cache.params != params:
                    cache = _Cache(params, self._timer)
                    self.caches[params.name] = cache
        return cache


def _store(state: LuaState) -> MemoizeStore:
    process = state.process
    return process.service("memoize", lambda: MemoizeStore(process.clock.now))


#: kumod's MemoizeParams (deny_unknown_fields)
MEMOIZE_PARAMS = s.Struct(
    "MemoizeParams",
    [
        Field("ttl", s.Duration(), REQUIRED),
        Field("capacity", s.Int("usize"), REQUIRED),
        Field("name", s.Str(), REQUIRED),
        Field("invalidate_with_epoch", s.Bool(), False),
        Field("retry_on_populate_timeout", s.Bool(), False),
        Field("populate_timeout", s.Opt(s.Duration())),
        Field("allow_stale_reads", s.Bool(), False),
    ],
)

def parse_params(state: LuaState, value: Any) -> MemoizeParams:
    """Deserialise the params table as kumod does, then refuse the names of
    kumod's built-in caches."""
    raw = s.deserialize(state, MEMOIZE_PARAMS, value)
    name = raw["name"]
    if name in BUILTIN_CACHES:
        raise KumoError(
            f"memoize cache name '{name}' is the name of one of kumod's built-in caches; "
            f"choose another name, for example 'user.{name}'"
        )
    timeout = raw["populate_timeout"]
    return MemoizeParams(
        name=name,
        ttl=s.duration_seconds(raw["ttl"]),
        capacity=raw["capacity"],
        invalidate_with_epoch=raw["invalidate_with_epoch"],
        populate_timeout=(
            DEFAULT_POPULATE_TIMEOUT if timeout is None else s.duration_seconds(timeout)
        ),
        retry_on_populate_timeout=raw["retry_on_populate_timeout"],
        allow_stale_reads=raw["allow_stale_reads"],
    )


def memoize(state: LuaState, func: Any = None, params: Any = None) -> Any:
    fn = function_arg(func)
    p = parse_params(state, params)
    cache = _store(state).cache_for(p)
    front = _Front(state, cache)

    if not p.retry_on_populate_timeout:

        def call_once(st: LuaState, *args: Any) -> Any:
            return _lookup(st, cache, fn, args, front)

        slow = state.lua_function(f"memoize[{p.name}]", call_once)
    else:

        def call(st: LuaState, *args: Any) -> Any:
            attempts = 3
            for attempt in range(attempts):
                try:
                    return _lookup(st, cache, fn, args, front)
                except KumoError:
                    if attempt + 1 == attempts:
                        raise
            raise AssertionError("unreachable")

        slow = state.lua_function(f"memoize[{p.name}]", call)
    return front.wrap(slow)


#: The Lua wrapper of a memoized function: a call without arguments is
#: answered from front[1] when the host says it is still valid; anything
#: else (and a stop the host reports) takes the ordinary path, `slow`.
#: (Compiled as kumopy's own chunk: its frames are not the policy's.)
_FRONT = b"""
local slow, front, valid, ERR = ...
local select, rawequal, error = select, rawequal, error
return function(...)
  if select("#", ...) == 0 then
    local value = front[1]
    if value ~= nil then
      local ok, stop = valid()
      if ok == true then
        return value
      end
      if rawequal(ok, ERR) then
        error(stop, 0)
      end
    end
  end
  return slow(...)
end
"""

class _Front:
    """The copy of a memoized value that one wrapper (one Lua state) keeps
    for calls without arguments, and what it was filled from."""

    def __init__(self, state: LuaState, cache: _Cache) -> None:
        self.state = state
        self.cache = cache
        self.table = state.rt.table()
        #: (cache version, key, expiry) of the value in table[1], or None
        self.filled: tuple[int, tuple[int | None, str], float] | None = None

    def wrap(self, slow: Any) -> Any:
        from .._runtime import _ERR
        from .._runtime._chunks import RUNTIME_NAME

        # (kumopy's own frames, as the runtime's chunks are)
        return self.state.rt.execute(_FRONT, slow, self.table, self.valid, _ERR,
                                     name=RUNTIME_NAME)

    def valid(self) -> Any:
        """Whether table[1] is what the cache would answer now (called by
        Lua; a stop arriving here is reported as kumo functions report it)."""
        try:
            filled = self.filled
            if filled is None:
                return False
            version, key, expires = filled
            state = self.state
            cache = self.cache
            if cache.version != version or state.process.call_observers:
                return False
            if key[0] is not None and key[0] != state.process.config_epoch:
                return False
            return cache.timer() < expires
        except (KeyboardInterrupt, BudgetInterrupt) as e:
            return self.state._stop_reply(e)

    def fill(self, key: tuple[int | None, str], outcome: _Outcome, lua_value: Any) -> None:
        """After a lookup without arguments: keep its value when it is the
        cache's only entry and the same Lua value can serve every call."""
        cache = self.cache
        expiry = cache.null_expiry
        if (
            outcome.error is None
            and lua_value is not None
            and (outcome.value.__class__ in (str, int, float, bool)
                 or isinstance(outcome.value, Userdata))
            and expiry is not None
            and expiry[0] == key
            and len(cache.entries) == 1
            and key in cache.entries
            and not self.state.process.call_observers
        ):
            self.filled = None
            try:
                self.table[1] = lua_value
            except Exception:  # (the Lua state at its memory limit, say)
                return  # the copy is only a shortcut: the cache still answers
            self.filled = (cache.version, key, expiry[1])
        elif self.filled is not None:
            self.clear()

    def clear(self) -> None:
        """Stop using the copy (valid() answers False from now on)."""
        self.filled = None
        try:
            self.table[1] = None
        except Exception:  # pragma: no cover - cannot fail: no allocation
            pass


def _scalar_json(value: Any) -> str | None:
    """The key text json.dumps gives a string, integer or boolean argument
    (None for anything else, which takes the general path)."""
    if isinstance(value, bytes):
        try:
            return _encode_json_string(value.decode("utf-8"))
        except UnicodeDecodeError:
            return None  # the general path reports it
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    return None


def _key(state: LuaState, params: MemoizeParams, args: tuple[Any, ...]) -> tuple[int | None, str]:
    use_epoch = params.invalidate_with_epoch and not params.allow_stale_reads
    epoch = state.process.config_epoch if use_epoch else None
    # fast path (the common calls: no argument, or a few strings/integers);
    # it gives exactly the text of the general path below
    if not args:
        return (epoch, "null")
    pieces: list[str] = []
    for a in args:
        piece = _scalar_json(a)
        if piece is None:
            break
        pieces.append(piece)
    else:
        return (epoch, pieces[0] if len(pieces) == 1 else "[" + ",".join(pieces) + "]")
    values = [_string_keys(state.to_python(a, serialize=True)) for a in args]
    subject: Any = None if not values else values[0] if len(values) == 1 else values
    try:
        text = json.dumps(
            subject, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as e:
        raise KumoError(
            f"memoize {params.name}: arguments cannot be used as a cache key: {e}"
        ) from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise KumoError(
            f"memoize {params.name}: a string argument is not valid UTF-8 and cannot be "
            "used as a cache key"
        ) from None
    return (epoch, text)


def _string_keys(value: Any) -> Any:
    """JSON object keys are strings (integer table keys render as text)."""
    if isinstance(value, dict):
        return {str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


def _lookup(
    state: LuaState, cache: _Cache, fn: Any, args: tuple[Any, ...], front: _Front | None = None
) -> Any:
    params = cache.params
    key = _key(state, params, args)
    try:
        with cache.lock:
            outcome: _Outcome | None = cache.entries[key]  # one expiry check, not get()'s two
    except KeyError:
        outcome = None
    if outcome is None:
        outcome = _populate(state, fn, args)
        if outcome.error is not None:
            # kumod logs "<name> <cache key> failed"; the key (`null` for no
            # arguments) means nothing to a reader: name the function and
            # the arguments it was called with
            called = f" called with {key[1][1:-1] if len(args) > 1 else key[1]}" if args else ""
            LOGGER.error("memoized function '%s'%s failed: %s", params.name, called, outcome.error)
        if params.capacity > 0:
            with cache.lock:
                cache.version += 1
                cache.entries[key] = outcome
    if outcome.error is not None:
        if front is not None and front.filled is not None:
            front.clear()
        raise KumoError(outcome.error, positioned=outcome.positioned)
    value = state.cache_value_to_lua(outcome.value)
    if front is not None and not args and front.state is state:
        with cache.lock:
            front.fill(key, outcome, value)
    return value


def _populate(state: LuaState, fn: Any, args: tuple[Any, ...]) -> _Outcome:
    try:
        results = state.invoke(fn, *args)
    except (BudgetExceeded, PolicyMemoryError):
        raise  # never cached: the handler is being stopped
    except PolicyError as e:
        return _Outcome(error=e.message, positioned=split_position(e.message)[0] is not None)
    try:
        if not results:
            return _Outcome(None)
        if len(results) == 1:
            return _Outcome(state.to_cache_value(results[0]))
        return _Outcome({i + 1: state.to_cache_value(v) for i, v in enumerate(results)})
    except KumoError as e:
        return _Outcome(error=str(e))
