"""A Policy used from several threads (as `kumopy serve`'s workers use it):
each thread runs its own Lua state, loaded from the top of the policy, and
the process-wide services (memoize caches, the config epoch) are shared."""

from __future__ import annotations

import threading
from pathlib import Path

from kumopy import Policy

POLICY = """\
local kumo = require 'kumo'
LOADS = (LOADS or 0) + 1
local calls = 0
local cached = kumo.memoize(function(key)
  calls = calls + 1
  return key .. '!'
end, { name = 'shared', ttl = '1 hour', capacity = 10 })

kumo.on('probe', function(key)
  return tostring(LOADS) .. ':' .. cached(key) .. ':' .. tostring(calls)
end)
kumo.on('bump', function() kumo.bump_config_epoch() end)
"""


def test_each_thread_gets_its_own_state_and_shares_the_process(tmp_path: Path) -> None:
    path = tmp_path / "init.lua"
    path.write_text(POLICY)
    policy = Policy.load(path)
    main_state = policy.state
    assert policy.call("probe", "a") == "1:a!:1"
    seen: dict[str, object] = {}

    def worker() -> None:
        # a new state (the policy ran from the top in it), but the memoize
        # cache filled by the main thread answers without calling the loader
        seen["value"] = policy.call("probe", "a")
        seen["state"] = policy.state
        policy.call("bump")

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen["value"] == "1:a!:0"
    assert seen["state"] is not main_state
    assert policy.state is main_state
    assert policy.config_epoch == 1


def test_many_threads_share_one_memoize_cache_safely(tmp_path: Path) -> None:
    path = tmp_path / "init.lua"
    path.write_text(POLICY)
    policy = Policy.load(path)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(200):
                policy.call("probe", f"k{(i + n) % 25}")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
