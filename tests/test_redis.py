"""require 'redis' (kumod: crates/mod-redis) against a real redis-server on
loopback (the `redis_url` fixture in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kumopy import PolicyError


def run(load: Any, body: str, **options: Any) -> Any:
    p = load("local redis = require 'redis'\nkumo.on('t', function(url)\n" + body + "\nend)",
             **options)
    return p, p.dispatch("t", options.get("_url", "")).values


def test_query_converts_replies_as_kumod_does(load: Any, redis_url: str) -> None:
    p = load("""
        local redis = require 'redis'
        kumo.on('t', function(url)
          local conn = redis.open { node = url }
          local set = conn:query('SET', 'kumopy:k1', 'v1')
          local get = conn:query('GET', 'kumopy:k1')
          local missing = conn:query('GET', 'kumopy:none')
          local incr = conn:query('INCRBY', 'kumopy:n', 5)
          conn:query('DEL', 'kumopy:list')
          conn:query('RPUSH', 'kumopy:list', {'a', 'b'}, 'c')
          local list = conn:query('LRANGE', 'kumopy:list', 0, -1)
          local pong = conn:query('PING')
          conn:query('HSET', 'kumopy:h', { f = 'x' })
          local h = conn:query('HGET', 'kumopy:h', 'f')
          local bool = conn:query('SET', 'kumopy:b', true)
          return set, get, missing, incr, list, pong, h, conn:query('GET', 'kumopy:b')
        end)
    """, network=True)
    got = p.dispatch("t", redis_url).values
    set_, get, missing, incr, lst, pong, h, b = got
    assert set_ is True  # +OK is `true`
    assert get == "v1" and missing is None
    assert incr == 5
    assert lst == ["a", "b", "c"]
    assert pong == "PONG"
    assert h == "x" and b == "1"


def test_server_errors_are_lua_errors(load: Any, redis_url: str) -> None:
    p = load("""
        local redis = require 'redis'
        kumo.on('t', function(url)
          local conn = redis.open { node = url }
          local reply = conn:query('NOSUCHCOMMAND', 'x')
          return reply
        end)
    """, network=True)
    with pytest.raises(PolicyError, match=r"init.lua:\d+: .*unknown command"):
        p.dispatch("t", redis_url)


def test_without_network_nothing_is_sent(load: Any, redis_url: str) -> None:
    import redis as pyredis

    p = load("""
        local redis = require 'redis'
        local conn = redis.open { node = 'redis://127.0.0.1:6399' }
        kumo.on('t', function(url)
          return redis.open { node = url }:query('SET', 'kumopy:offline', '1')
        end)
    """)
    with pytest.raises(PolicyError, match="network access is off, so the redis command SET to "
                       "redis://127.0.0.1:[0-9]+ was not sent; allow it with --network"):
        p.dispatch("t", redis_url)
    assert pyredis.Redis.from_url(redis_url).get("kumopy:offline") is None


def test_open_checks_the_configuration(load: Any) -> None:
    with pytest.raises(PolicyError, match="missing field `node`"):
        load("require('redis').open { }")
    with pytest.raises(PolicyError, match="building redis client for http://x"):
        load("require('redis').open { node = 'http://x' }")


def test_redis_throttles_are_shared_through_the_server(load: Any, redis_url: str) -> None:
    import redis as pyredis

    pyredis.Redis.from_url(redis_url).delete("lua-user-throttle-shared:2:2:60")
    source = f"""
        kumo.on('init', function() kumo.configure_redis_throttles {{ node = '{redis_url}' }} end)
        kumo.on('t', function()
          return kumo.make_throttle('shared', '2/min'):throttle().throttled
        end)
    """
    first, second = load(source, network=True), load(source, network=True, name="other.lua")
    first.dispatch("init")
    second.dispatch("init")
    # two processes share one limit: 2 per minute in all
    got = [first.call("t"), second.call("t"), first.call("t")]
    assert got == [False, False, True]
    assert pyredis.Redis.from_url(redis_url).exists("lua-user-throttle-shared:2:2:60") == 1


def test_redis_from_the_cli(tmp_path: Path, redis_url: str) -> None:
    from click.testing import CliRunner

    from kumopy.cli import cli

    policy = tmp_path / "init.lua"
    policy.write_text(
        "local kumo = require 'kumo'\nlocal redis = require 'redis'\n"
        "kumo.on('main', function(url)\n"
        "  local conn = redis.open { node = url }\n"
        "  conn:query('SET', 'kumopy:cli', 'hello')\n"
        "  print(conn:query('GET', 'kumopy:cli'))\nend)\n"
    )
    offline = CliRunner().invoke(cli, ["script", str(policy), redis_url])
    assert offline.exit_code == 1
    assert "network access is off" in offline.output
    online = CliRunner().invoke(cli, ["script", "--network", str(policy), redis_url])
    assert online.exit_code == 0, online.output
    assert "hello" in online.output


@pytest.fixture(scope="module")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A one-node Redis Cluster on 127.0.0.1 (every slot on that node)."""
    import shutil
    import socket
    import subprocess
    import time

    binary, cli_binary = shutil.which("redis-server"), shutil.which("redis-cli")
    if binary is None or cli_binary is None:
        pytest.skip("redis-server/redis-cli are not installed (apt-get install redis-server)")
    ports = []
    for _ in range(2):  # the client port and the cluster bus port (default port+10000)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    port, bus_port = ports
    workdir = tmp_path_factory.mktemp("redis-cluster")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--cluster-port", str(bus_port),
         "--bind", "127.0.0.1", "--cluster-enabled", "yes",
         "--cluster-config-file", str(workdir / "nodes.conf"), "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        assigned = False
        while time.monotonic() < deadline and proc.poll() is None:
            run = subprocess.run
            if not assigned:
                assigned = run([cli_binary, "-p", str(port), "cluster", "addslotsrange", "0",
                                "16383"], capture_output=True, text=True).stdout.strip() == "OK"
            info = run([cli_binary, "-p", str(port), "cluster", "info"],
                       capture_output=True, text=True).stdout
            if "cluster_state:ok" in info:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the redis cluster on 127.0.0.1:{port} did not come up")
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_cluster_configuration(load: Any, redis_cluster_url: str) -> None:
    p = load("""
        local redis = require 'redis'
        kumo.on('t', function(url)
          local conn = redis.open { node = { url } }  -- a list of nodes: a cluster
          local set = conn:query('SET', 'kumopy:{c}:a', 'one')
          local get = conn:query('GET', 'kumopy:{c}:a')
          local pong = conn:query('PING')
          return set, get, pong
        end)
    """, network=True)
    assert p.dispatch("t", redis_cluster_url).values == (True, "one", "PONG")
