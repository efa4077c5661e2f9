"""`kumo.available_parallelism` (kumod: kumo-server-runtime): the
`KUMO_AVAILABLE_PARALLELISM` environment variable when set, else the CPUs
this process may run on (Rust's `std::thread::available_parallelism`)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from ._args import bool_arg

if TYPE_CHECKING:
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["available_parallelism", "register"]


def available_parallelism() -> int:
    """The CPUs the scheduler lets this process use (its affinity mask, as
    Rust reads it on Linux), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _available_parallelism(state: LuaState, *_: Any) -> int:
    override = os.environ.get("KUMO_AVAILABLE_PARALLELISM")
    if override is not None:
        try:
            value = int(override)
            if value < 0:
                raise ValueError(override)
        except ValueError:
            raise KumoError(
                "failed to parse KUMO_AVAILABLE_PARALLELISM as a number: invalid digit found "
                "in string"
            ) from None
        return value
    return available_parallelism()


def _enable_memory_callstack_tracking(state: LuaState, enable: Any = None, *_: Any) -> None:
    from .config import server_config

    server_config(state).settings["memory_callstack_tracking"] = bool_arg(enable)


def register(kumo: Namespace) -> None:
    kumo.function(
        "enable_memory_callstack_tracking",
        _enable_memory_callstack_tracking,
        notes="recorded (the `memory_callstack_tracking` setting); kumopy tracks no allocations",
    )
    kumo.function(
        "available_parallelism",
        _available_parallelism,
        notes="KUMO_AVAILABLE_PARALLELISM, else this machine's CPUs (the process's affinity "
        "mask), as kumod computes it",
    )
