"""kumo.set_memory_* / get_memory_*: kumod's defaults and overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from kumopy._kumo import memory
from kumopy._kumo.memory import MemoryLimits, machine_limits


def _root(tmp_path: Path, cgroup: str, files: dict[str, str], mem_kb: int = 1000) -> Path:
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text(cgroup)
    (tmp_path / "proc/meminfo").write_text(f"MemTotal:       {mem_kb} kB\nMemFree: 1 kB\n")
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUMOD_MEMORY_HARD_LIMIT", raising=False)
    monkeypatch.delenv("KUMOD_MEMORY_SOFT_LIMIT", raising=False)
    monkeypatch.setattr(memory, "_rlimits", lambda: MemoryLimits(None, None))


def test_physical_memory_without_any_limit(tmp_path: Path) -> None:
    root = _root(tmp_path, "0::/\n", {"sys/fs/cgroup/memory.max": "max\n"}, mem_kb=1000)
    assert machine_limits(root) == MemoryLimits(soft=768000, hard=1024000)


def test_cgroup_v2_high_and_max(tmp_path: Path) -> None:
    root = _root(tmp_path, "0::/kumo.slice\n", {
        "sys/fs/cgroup/kumo.slice/memory.max": "4000\n",
        "sys/fs/cgroup/kumo.slice/memory.high": "3000\n",
    })
    assert machine_limits(root) == MemoryLimits(soft=3000, hard=4000)


def test_cgroup_v1_limit_and_rlimit_lowers_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _root(tmp_path, "4:memory:/box\n0::/\n", {
        "sys/fs/cgroup/memory/box/memory.limit_in_bytes": "8000\n",
    })
    assert machine_limits(root) == MemoryLimits(soft=6000, hard=8000)
    monkeypatch.setattr(memory, "_rlimits", lambda: MemoryLimits(2000, 5000))
    assert machine_limits(root) == MemoryLimits(soft=2000, hard=5000)


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _root(tmp_path, "0::/\n", {})
    monkeypatch.setenv("KUMOD_MEMORY_SOFT_LIMIT", "12345")
    assert machine_limits(root) == MemoryLimits(soft=12345, hard=1024000)
    monkeypatch.setenv("KUMOD_MEMORY_HARD_LIMIT", "lots")
    with pytest.raises(Exception, match="failed to parse KUMOD_MEMORY_HARD_LIMIT"):
        machine_limits(root)


def test_lua_setters_getters_and_zero_unsets(load, tmp_path: Path) -> None:
    root = _root(tmp_path / "machine", "0::/\n", {}, mem_kb=100)
    p = load(
        """
        kumo.on('t', function(step)
          if step == 1 then
            kumo.set_memory_hard_limit(100000)
            kumo.set_memory_soft_limit(80000)
          elseif step == 2 then
            kumo.set_memory_low_thresh(5)
          elseif step == 3 then
            kumo.set_memory_soft_limit(0)
            kumo.set_memory_low_thresh(0)
          elseif step == 4 then
            kumo.set_memory_hard_limit(0)
          end
          return kumo.get_memory_hard_limit(), kumo.get_memory_soft_limit(),
                 kumo.get_memory_low_thresh()
        end)
        """
    )
    p.service("memory_limits", memory._UserLimits).root = str(root)
    assert p.dispatch("t", 0).values == (102400, 76800, 61440)
    assert p.dispatch("t", 1).values == (100000, 80000, 64000)
    assert p.dispatch("t", 2).values == (100000, 80000, 5)
    # soft falls back to 3/4 of the machine's hard limit, not of the one set
    assert p.dispatch("t", 3).values == (100000, 76800, 61440)
    assert p.dispatch("t", 4).values == (102400, 76800, 61440)
    assert p.server_config.settings.get("memory_hard_limit") is None


def test_bad_argument_names_the_type(load) -> None:
    p = load("kumo.on('t', function() kumo.set_memory_hard_limit('x') end)")
    with pytest.raises(Exception, match="init.lua:1: bad argument #1: error converting Lua string to usize"):
        p.call("t")
