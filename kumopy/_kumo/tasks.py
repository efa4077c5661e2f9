"""`kumo.spawn_task` and `kumo.traceback` (kumod: crates/kumo-server-common).

`kumo.spawn_task{event_name=..., args={...}}` is recorded, not run: kumod
runs the task later, on another thread and in another Lua state, and only
logs its errors, so running it inline would change the order of effects a
test observes.  A test looks at `spawned_tasks(policy)` and runs them with
`run_spawned_tasks(policy)`, which dispatches each pending task's event
with one argument, the `args` array (after a JSON round trip, so JSON
nulls arrive as the null sentinel), and raises the handler's error.  While
validating (`Policy(validating=True)`), kumod starts no task and neither
does kumopy (nothing is recorded).

`kumo.traceback(level)` lists the stack frames from `level` (0 = the C
function kumo.traceback itself, 1 = the function calling it) with kumod's
field names and values (mlua's inspect_stack): the frames a stock Lua state
running the policy would have, C functions included, kumopy's Lua stand-ins
for C functions (pcall, print...) shown as those C functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import KumoError
from .._runtime import lua_type, stack_function
from ._args import lua_type_name
from ._lib import usize_arg

if TYPE_CHECKING:
    from .._policy import CallResult, Policy
    from .._runtime import LuaState
    from ._registry import Namespace

__all__ = ["SpawnedTask", "register", "run_spawned_tasks", "spawned_tasks"]


@dataclass
class SpawnedTask:
    """A task a policy started with kumo.spawn_task."""

    event_name: str
    args: list[Any]
    #: "file:line" of the kumo.spawn_task call
    where: str
    done: bool = False


def spawned_tasks(policy: Policy) -> list[SpawnedTask]:
    """Every task the policy spawned so far (run or not)."""
    return policy.service("tasks", list)


def run_spawned_tasks(policy: Policy) -> list[CallResult]:
    """Run the pending spawned tasks in order (and any they spawn); return
    what each dispatch produced.  A handler error raises PolicyError."""
    results = []
    tasks = spawned_tasks(policy)
    i = 0
    while i < len(tasks):
        task = tasks[i]
        i += 1
        if task.done:
            continue
        task.done = True
        results.append(policy.dispatch(task.event_name, json.loads(json.dumps(task.args))))
    return results


def _spawn_task(state: LuaState, params: Any = None) -> None:
    if lua_type(params) != "table":
        raise KumoError(f"invalid type: {lua_type_name(params)}, expected struct TaskParams")
    data = state.to_python(params)
    if not isinstance(data, dict):
        raise KumoError("invalid type: sequence, expected struct TaskParams")
    if "event_name" not in data:
        raise KumoError("missing field `event_name`")
    if "args" not in data:
        raise KumoError("missing field `args`")
    name, args = data["event_name"], data["args"]
    if not isinstance(name, str):
        raise KumoError(f"invalid type: {type(name).__name__}, expected a string")
    if isinstance(args, dict) and not args:
        args = []
    if not isinstance(args, list):
        raise KumoError("invalid type: map, expected a sequence")
    if state.process.validating:
        return
    file, line = state.where()
    spawned_tasks(state.process).append(SpawnedTask(name, args, f"{file}:{line}"))


@stack_function
def _traceback(state: LuaState, level: Any = None) -> Any:
    from .constructors import to_lua_with_null

    start = usize_arg(level)
    frames = []
    for info in state.frames(start):
        frames.append(
            {
                "event": "Call",
                "name": info.get("name"),
                "name_what": info.get("namewhat") or None,
                "source": info.get("source"),
                "short_src": info.get("short_src"),
                "line_defined": _line(info.get("linedefined")),
                "last_line_defined": _line(info.get("lastlinedefined")),
                "what": info.get("what"),
                "curr_line": _line(info.get("currentline")),
                "is_tail_call": bool(info.get("istailcall")),
            }
        )
    return to_lua_with_null(state, frames)


def _line(n: Any) -> int | None:
    """mlua's line numbers: a negative one (a C function) is None."""
    return n if isinstance(n, int) and n >= 0 else None


def register(kumo: Namespace) -> None:
    kumo.function(
        "spawn_task",
        _spawn_task,
        notes="recorded, not run: tests run them with kumopy._kumo.tasks.run_spawned_tasks "
        "(kumopy.testing.run_spawned_tasks); nothing recorded while validating, as kumod",
    )
    kumo.function(
        "traceback",
        _traceback,
        notes="the frames of a stock Lua state, C functions included (kumopy's Lua "
        "stand-ins for C functions shown as those)",
    )
