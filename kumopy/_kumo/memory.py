"""`kumo.set_memory_*` / `kumo.get_memory_*` (kumod: kumo-server-common,
kumo-server-memory): the memory limits kumod works to.

A value set by the policy wins (`set_*(0)` unsets it again).  Otherwise the
limits are the machine's, found as kumod finds them on Linux:

* the RSS rlimit (soft and hard);
* lowered by the process's cgroup (v2 `memory.high` / `memory.max`, v1
  `memory.limit_in_bytes`) when that sets any limit;
* a hard limit still unknown is the physical RAM (`MemTotal`), a soft
  limit still unknown three quarters of the hard limit;
* `KUMOD_MEMORY_HARD_LIMIT` / `KUMOD_MEMORY_SOFT_LIMIT` in the environment
  replace either.

The low-memory threshold defaults to 80% of the soft limit.  kumopy only
reports these numbers; it does not act on them (its own per-state limit is
`max_memory`).
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from ._lib import usize_arg

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["MemoryLimits", "machine_limits", "register"]


@dataclass
class MemoryLimits:
    soft: int | None = None
    hard: int | None = None

    def lowered_by(self, other: MemoryLimits) -> MemoryLimits:
        def low(a: int | None, b: int | None) -> int | None:
            if a is None or b is None:
                return a if b is None else b
            return min(a, b)

        return MemoryLimits(low(self.soft, other.soft), low(self.hard, other.hard))


def _rlimits() -> MemoryLimits:
    soft, hard = resource.getrlimit(resource.RLIMIT_RSS)

    def opt(v: int) -> int | None:
        return None if v == resource.RLIM_INFINITY or v < 0 else v

    return MemoryLimits(opt(soft), opt(hard))


def _read_limit(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text or text == "max":
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= 0 else None


def _cgroup_limits(root: Path) -> MemoryLimits | None:
    """The limits of this process's cgroup (v2, else v1), None if there is
    no cgroup memory controller to read."""
    try:
        lines = (root / "proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    v1_path = None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hier, controllers, rel = parts
        if hier == "0" and controllers == "":
            base = root / "sys/fs/cgroup" / rel.lstrip("/")
            if (base / "memory.max").exists() or (base / "memory.high").exists():
                return MemoryLimits(
                    _read_limit(base / "memory.high"), _read_limit(base / "memory.max")
                )
        if "memory" in controllers.split(","):
            v1_path = rel
    if v1_path is not None:
        base = root / "sys/fs/cgroup/memory" / v1_path.lstrip("/")
        if (base / "memory.limit_in_bytes").exists():
            return MemoryLimits(None, _read_limit(base / "memory.limit_in_bytes"))
    return None


def _physical_memory(root: Path) -> int:
    try:
        text = (root / "proc/meminfo").read_text()
    except OSError as e:
        raise KumoError(f"reading /proc/meminfo: {e.strerror or e}") from None
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            fields = line.split()
            if len(fields) != 3 or fields[2] != "kB":
                raise KumoError(f"unsupported /proc/meminfo line {line!r}")
            return int(fields[1]) * 1024
    raise KumoError("MemTotal not found in /proc/meminfo")


def machine_limits(root: str | os.PathLike[str] = "/") -> MemoryLimits:
    """The limits kumod derives when the policy sets none (`root` lets tests
    supply their own /proc and /sys)."""
    base = Path(root)
    limits = _rlimits()
    cgroup = _cgroup_limits(base)
    if cgroup is not None and (cgroup.soft is not None or cgroup.hard is not None):
        limits = limits.lowered_by(cgroup)
    if limits.hard is None:
        limits.hard = _physical_memory(base)
    if limits.soft is None:
        limits.soft = limits.hard * 3 // 4
    for var, attr in (("KUMOD_MEMORY_HARD_LIMIT", "hard"), ("KUMOD_MEMORY_SOFT_LIMIT", "soft")):
        value = os.environ.get(var)
        if value is not None:
            try:
                setattr(limits, attr, int(value))
            except ValueError:
                raise KumoError(f"failed to parse {var} env var: {value!r}") from None
    return limits


@dataclass
class _UserLimits:
    hard: int = 0
    soft: int = 0
    low: int = 0
    #: the directory holding /proc and /sys (tests point it elsewhere)
    root: str = "/"


def _user(state: LuaState) -> _UserLimits:
    return state.process.service("memory_limits", _UserLimits)


def _setter(attr: str, name: str) -> Any:
    def setter(state: LuaState, value: Any = None, *_: Any) -> None:
        from .config import server_config

        n = usize_arg(value)
        setattr(_user(state), attr, n)
        settings = server_config(state).settings
        if n:
            settings[name] = n
        else:
            settings.pop(name, None)

    return setter


def get_hard_limit(state: LuaState, *_: Any) -> int | None:
    user = _user(state)
    return user.hard or _limits(user).hard


def get_soft_limit(state: LuaState, *_: Any) -> int | None:
    user = _user(state)
    return user.soft or _limits(user).soft


def get_low_thresh(state: LuaState, *_: Any) -> int | None:
    user = _user(state)
    if user.low:
        return user.low
    soft = _limits(user).soft
    return None if soft is None else soft * 8 // 10


def _limits(user: _UserLimits) -> MemoryLimits:
    limits = machine_limits(user.root)
    if user.hard:
        limits.hard = user.hard
    if user.soft:
        limits.soft = user.soft
    return limits


def register(kumo: Namespace) -> None:
    note = "0 unsets; what the get_ functions answer (kumopy does not act on it)"
    kumo.function("set_memory_hard_limit", _setter("hard", "memory_hard_limit"), notes=note)
    kumo.function("set_memory_soft_limit", _setter("soft", "memory_soft_limit"), notes=note)
    kumo.function("set_memory_low_thresh", _setter("low", "memory_low_thresh"), notes=note)
    src = "else the cgroup, RSS rlimit, RAM or KUMOD_MEMORY_* as kumod finds them"
    kumo.function("get_memory_hard_limit", get_hard_limit, notes=f"the value set, {src}")
    kumo.function("get_memory_soft_limit", get_soft_limit,
                  notes=f"the value set, {src} (default 3/4 of hard)")
    kumo.function("get_memory_low_thresh", get_low_thresh,
                  notes="the value set, else 80% of the soft limit")
