"""`kumopy replay --cluster ADDRESS`: the same workers on a Dask cluster.

Each log file is one task.  A task runs in a Dask worker process, which
keeps one `Policy` per replay spec for all the tasks it is given (built on
the first, as a kumod process builds its memoized maps once); tasks in the
same process take turns (a Lua state belongs to one thread at a time, and
the work holds the GIL anyway), so give workers one thread each and as many
processes as cores: `dask worker ADDRESS --nworkers auto --nthreads 1`.
Results are gathered in the order of the files, so the report and `--out`
are those of `--jobs 1`.

Paths are opened where the task runs: local paths must exist on every
worker (a shared file system), and any fsspec URL (`s3://...`) works once
its fsspec package is installed there.  The policy file and the files it
loads (through `--map`) must be at the same paths on every worker too.

Dask is optional: `pip install 'kumopy[cluster]'`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._parallel import ReplayError
from ._report import Part

if TYPE_CHECKING:
    from ._engine import ReplaySpec, Worker

__all__ = ["replay_files_on_cluster"]

#: how long to try to reach the scheduler
CONNECT_TIMEOUT = "30s"

#: per worker process: one Worker (Policy) per spec, and the lock its tasks share
_WORKERS: dict[Any, Worker] = {}
_LOCK = threading.Lock()


def replay_file_task(spec: ReplaySpec, path: str) -> list[Part]:
    """The task: replay one file in this worker process's Policy."""
    from ._engine import Worker, run_file

    with _LOCK:
        worker = _WORKERS.get(spec)
        if worker is None:
            worker = _WORKERS[spec] = Worker(spec)
        return run_file(worker, path)


def _client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise ReplayError(
            "--cluster needs Dask's distributed scheduler: pip install 'kumopy[cluster]'"
        ) from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as e:
        raise ReplayError(f"cannot reach the Dask scheduler at {address}: {e}") from None


def replay_files_on_cluster(
    spec: ReplaySpec,
    paths: Sequence[str],
    address: str,
    take: Callable[[Part], None],
    on_done: Callable[[str], None] | None = None,
) -> int:
    """Replay `paths` as tasks on the cluster at `address`, handing each
    file's parts to `take` in the order of `paths`; returns the number of
    worker processes the cluster had."""
    client = _client(address)
    try:
        workers = len(client.scheduler_info().get("workers", {})) or 1
        futures = client.map(replay_file_task, [spec] * len(paths), list(paths), pure=False)
        for path, future in zip(paths, futures, strict=True):
            try:
                parts = future.result()
            except Exception as e:
                raise ReplayError(
                    f"{path}: the replay task failed on the cluster: {type(e).__name__}: {e}"
                ) from None
            future.release()
            if on_done is not None:
                on_done(path)
            for part in parts:
                take(part)
        return workers
    finally:
        client.close()
