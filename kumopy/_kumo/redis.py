"""`require 'redis'` (kumod: crates/mod-redis) on the `redis` Python client,
and the Redis backend of `kumo.configure_redis_throttles`.

`redis.open{node=URL | {URL, ...}, cluster=, username=, password=,
connect_timeout=, response_timeout=, ...}` checks the configuration as
kumod does (kumod's RedisConnKey; the URL must parse) and returns a
connection; nothing is contacted until `conn:query(...)`.  `query` flattens
its arguments as kumod's `build_cmd` does (nil adds nothing, booleans are
`1`/`0`, numbers their decimal text, arrays each item, maps key then value)
and converts the reply as kumod does: nil, integers, bulk strings as Lua
strings, a status reply `OK` as `true` (other status replies as strings),
arrays as Lua arrays; a server error is a Lua error.

A query reaches the server only when the network is allowed (--network,
`Policy.load(network=True)`, `kumo_network = true`); otherwise it fails with
a Lua error saying so.  Without timeouts in the configuration kumopy uses a
5 s connect timeout and a 30 s response timeout, so a dead server cannot
hang a run.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from .._errors import KumoError
from .._runtime import decode, lua_type
from . import _schema as s
from ._lib import LibObject
from .config import REDIS_CONN
from .network import require_network

if TYPE_CHECKING:
    import redis as _redis

    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["RedisConnection", "client_for", "register_module"]

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_RESPONSE_TIMEOUT = 30.0


def register_module(ns: Namespace) -> None:
    ns.function(
        "open",
        _open,
        notes="checks the configuration; `query` reaches the server only with the network "
        "allowed (--network); replies converted as kumod does",
    )


class _Status(bytes):
    """A RESP status reply (`+OK`), told apart from a bulk string."""


# redis-py is imported by the first connection, not with this module (every
# policy load installs `require 'redis'`): the functions below import it.


def _parse_url(url: str) -> Any:
    from redis.connection import parse_url

    parse: Any = parse_url  # (untyped in redis-py)
    return parse(url)


@cache
def _parser_class() -> type:
    from redis._parsers.resp2 import _RESP2Parser
    from redis.utils import SENTINEL

    class _Parser(_RESP2Parser):  # type: ignore[misc,unused-ignore]
        """redis-py's RESP2 parser, keeping status replies distinguishable
        (kumod turns `+OK` into `true` but a bulk "OK" into a string)."""

        def _read_response(self, disable_decoding: bool = False,
                           timeout: Any = SENTINEL) -> Any:
            buffer = self._buffer
            assert buffer is not None
            pos = buffer.get_pos()
            raw = buffer.readline(timeout=timeout)
            if raw[:1] == b"+":
                return _Status(raw[1:])
            buffer.rewind(pos)
            return super()._read_response(disable_decoding=disable_decoding, timeout=timeout)

    return _Parser


def _nodes(config: dict[str, Any]) -> list[str]:
    node = config["node"]
    return [node] if isinstance(node, str) else list(node)


def _describe(config: dict[str, Any]) -> str:
    return ", ".join(_nodes(config))


def _check_url(url: str) -> None:
    try:
        _parse_url(url)
    except ValueError as e:
        raise KumoError(f"building redis client for {url}: {e}") from None


def check_config(state: LuaState, params: Any) -> dict[str, Any]:
    """kumod's RedisConnKey from a Lua value, with every node URL checked."""
    config: dict[str, Any] = s.deserialize(state, REDIS_CONN, params)
    node = config["node"]
    if isinstance(node, tuple):  # the untagged NodeSpec: (variant type, value)
        config["node"] = node[1]
    nodes = _nodes(config)
    if not nodes:
        raise KumoError("building redis client: a cluster needs at least one node")
    for url in nodes:
        _check_url(url)
    return config


def _timeouts(config: dict[str, Any]) -> dict[str, float]:
    connect, response = config.get("connect_timeout"), config.get("response_timeout")
    return {
        "socket_connect_timeout": s.duration_seconds(connect)
        if connect is not None
        else DEFAULT_CONNECT_TIMEOUT,
        "socket_timeout": s.duration_seconds(response)
        if response is not None
        else DEFAULT_RESPONSE_TIMEOUT,
    }


def _is_cluster(config: dict[str, Any]) -> bool:
    cluster = config.get("cluster")
    return bool(cluster) if cluster is not None else not isinstance(config["node"], str)


def client_for(
    state: LuaState, config: dict[str, Any], *, raw: bool = True
) -> _redis.Redis | _redis.RedisCluster:
    """The (cached, per Policy) client for a checked configuration; `raw`
    clients keep replies as the server sent them (no redis-py callbacks)."""
    import redis as _redis

    key = (repr(sorted((k, repr(v)) for k, v in config.items())), raw)
    clients: dict[Any, Any] = state.process.service("redis_clients", dict)
    found = clients.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    options: dict[str, Any] = dict(_timeouts(config), protocol=2)
    if config.get("username") is not None:
        options["username"] = config["username"]
    if config.get("password") is not None:
        options["password"] = config["password"]
    if raw:
        options["parser_class"] = _parser_class()
    client: Any
    if _is_cluster(config):
        cluster_node: Any = _redis.cluster.ClusterNode  # (untyped in redis-py)
        nodes = [
            cluster_node(**_host_port(u)) for u in _nodes(config)
        ]
        if config.get("read_from_replicas"):
            from redis.cluster import LoadBalancingStrategy

            options["load_balancing_strategy"] = LoadBalancingStrategy.ROUND_ROBIN
        client = _redis.RedisCluster(startup_nodes=nodes, **options)
    else:
        pool_size = config.get("pool_size")
        pool = _redis.ConnectionPool.from_url(
            _nodes(config)[0], max_connections=pool_size or 10, **options
        )
        client = _redis.Redis(connection_pool=pool)
    clients[key] = client
    return client  # type: ignore[no-any-return]


def _host_port(url: str) -> dict[str, Any]:
    parsed = _parse_url(url)
    return {"host": parsed.get("host", "localhost"), "port": int(parsed.get("port", 6379))}


def _open(state: LuaState, params: Any = None, *_: Any) -> RedisConnection:
    return RedisConnection(check_config(state, params))


def _args(state: LuaState, values: tuple[Any, ...]) -> list[bytes]:
    out: list[bytes] = []

    def add(value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            out.append(b"1" if value else b"0")
        elif isinstance(value, int):
            out.append(str(value).encode())
        elif isinstance(value, float):
            out.append(_float_text(value).encode())
        elif isinstance(value, bytes):
            out.append(value)
        elif isinstance(value, str):
            out.append(value.encode("utf-8", "surrogateescape"))
        elif isinstance(value, list):
            for item in value:
                add(item)
        elif isinstance(value, dict):
            for k in sorted(value, key=str):  # serde_json's map is sorted
                add(str(k))
                add(value[k])
        else:
            raise KumoError(f"cannot serialize {type(value).__name__} as a redis argument")

    for v in values:
        kind = lua_type(v)
        if kind in ("function", "thread"):
            raise KumoError(f"cannot serialize <{kind}>")
        add(v if isinstance(v, bytes) else state.to_python(v, serialize=True))
    return out


def _float_text(value: float) -> str:
    """serde_json's text of an f64 (ryu: `1.0`, `1.5`, `1e20`)."""
    if value != value or value in (float("inf"), float("-inf")):
        return "null"
    text = repr(value)
    if "e" in text:
        mantissa, exp = text.split("e")
        return f"{mantissa.removesuffix('.0')}e{int(exp)}"
    return text


def _raw_query(client: Any, command: list[bytes]) -> Any:
    """Send one command and read its reply as the server sent it (no
    redis-py reply callbacks, which reshape replies per command)."""
    import redis as _redis

    pool = client.connection_pool
    conn = pool.get_connection()
    try:
        conn.send_command(*command)
        return conn.read_response()
    except _redis.exceptions.ResponseError:
        raise
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(conn)


def reply_to_lua(state: LuaState, value: Any) -> Any:
    """A RESP2 reply as kumod's redis_value_to_lua gives it."""
    if isinstance(value, _Status):
        return True if bytes(value) == b"OK" else bytes(value)
    from redis.exceptions import ResponseError  # (a reply: redis-py is loaded)

    if isinstance(value, ResponseError):
        raise KumoError(str(value))
    if isinstance(value, list):
        table = state.rt.table()
        i = 0
        for item in value:
            converted = reply_to_lua(state, item)
            if converted is not None:  # Lua's table.push of nil does nothing
                i += 1
                table[i] = converted
        return table
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return value


class RedisConnection(LibObject):
    """kumod's RedisConnection userdata."""

    lua_type_name = "RedisConnection"

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def query(self, state: LuaState, *args: Any) -> Any:
        command = _args(state, args)
        shown = decode(command[0]) if command else "(empty command)"
        require_network(state, f"the redis command {shown} to {_describe(self.config)}")
        if not command:
            raise KumoError("redis: empty command")
        client = client_for(state, self.config)
        import redis as _redis

        try:
            if isinstance(client, _redis.RedisCluster):
                client = self._node_client(state, client, command)
            reply = _raw_query(client, command)
        except _redis.exceptions.ResponseError as e:
            raise KumoError(str(e)) from None
        except _redis.exceptions.RedisError as e:
            raise KumoError(f"redis {_describe(self.config)}: {e}") from None
        with state.building():  # (tables built item by item, within the memory limit)
            return reply_to_lua(state, reply)

    def _node_client(self, state: LuaState, cluster: Any, command: list[bytes]) -> Any:
        """The client of the cluster node that serves the command's key slot
        (a keyless command: the default node); MOVED redirects are not
        followed."""
        import redis as _redis

        get_default: Any = cluster.get_default_node
        try:
            slot = cluster.determine_slot(command[0].decode(), *command[1:])
            node = cluster.nodes_manager.get_node_from_slot(slot)
        except (_redis.exceptions.RedisError, _redis.exceptions.RedisClusterException):
            node = get_default()
        single = dict(self.config, node=f"redis://{node.host}:{node.port}", cluster=False)
        return client_for(state, single)

    def to_data(self) -> Any:
        return {"node": self.config["node"]}

    methods: ClassVar[dict[str, Any]] = {"query": query}


def use_for_throttles(state: LuaState, params: Any) -> None:
    """kumo.configure_redis_throttles: with the network allowed, connect and
    PING (as kumod does, even under --validate) and keep make_throttle's
    limits in that server from now on; otherwise only recorded."""
    from .network import network_allowed

    if not network_allowed(state):
        return
    config = check_config(state, params)
    client = client_for(state, config, raw=False)
    import redis as _redis

    try:
        client.ping()
    except _redis.exceptions.RedisError as e:
        raise KumoError(f"redis {_describe(config)}: {e}") from None
    throttle_backend(state)["client"] = client


def throttle_backend(state: LuaState) -> dict[str, Any]:
    """{"client": redis client} once configure_redis_throttles connected."""
    backend: dict[str, Any] = state.process.service("redis_throttles", dict)
    return backend


def gcra_in_redis(client: Any, key: str, now: int, run: Any) -> Any:
    """Run `run(store)` (the in-memory GCRA step on a one-key store) against
    the value kept in Redis under `key`, atomically (WATCH/MULTI, retried
    when another process changed it meanwhile)."""
    import redis as _redis

    with client.pipeline() as pipe:
        for _attempt in range(1000):
            try:
                pipe.watch(key)
                raw = pipe.get(key)
                store: dict[str, int] = {} if raw is None else {key: int(raw)}
                before = dict(store)
                result = run(store)
                pipe.multi()
                if store != before:
                    ttl_ms = max(1, (store[key] - now) // 1_000_000 + 1000)
                    pipe.set(key, store[key], px=ttl_ms)
                pipe.execute()
                return result
            except _redis.exceptions.WatchError:
                continue
            except _redis.exceptions.RedisError as e:
                raise KumoError(f"redis throttle {key}: {e}") from None
    raise KumoError(f"redis throttle {key}: too much contention")
