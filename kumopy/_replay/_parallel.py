"""Worker processes for `kumopy replay --jobs N`.

Each worker is a process with its own `Policy` (Lua states cannot cross
processes), fed through its own pipe: no pool threads in the parent, whose
own work (reading and picking candidates) then does not fight them for the
GIL.  Forked workers start from the parent's policy (maps a memoized loader
built are not compiled again, as in a kumod process that has been running);
spawned ones (no fork on the platform) load it from the spec.

Results come back in task order, so the output never depends on the number
of jobs.  A worker that dies (killed, out of memory) is reported as a
`ReplayError` naming it, never a hang.
"""

from __future__ import annotations

import multiprocessing
import pickle
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from ._report import Part
from ._scan import Batch

if TYPE_CHECKING:
    from ._engine import ReplaySpec, Worker

__all__ = ["ReplayError", "Workers"]

#: tasks in flight per worker (a batch being processed and one waiting)
_AHEAD = 2


class ReplayError(Exception):
    """The replay itself failed (a worker process died or broke)."""


_INHERITED: Any = None  # the parent's Worker, seen by forked children


def _serve(conn: Connection, spec: ReplaySpec) -> None:
    from ._engine import Worker, run_file

    worker = _INHERITED if _INHERITED is not None else Worker(spec)
    while True:
        try:
            message = conn.recv_bytes()
        except (EOFError, OSError):
            return
        kind, payload = pickle.loads(message)
        if kind == "stop":
            return
        try:
            result: Any = worker.run(payload) if kind == "batch" else run_file(worker, payload)
            reply = pickle.dumps(("ok", result), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as e:  # reported to the parent, which stops the run
            reply = pickle.dumps(("error", "".join(traceback.format_exception(e))))
        conn.send_bytes(reply)


class Workers:
    """`jobs` worker processes started from `worker` (the parent's)."""

    def __init__(self, worker: Worker, spec: ReplaySpec, jobs: int) -> None:
        global _INHERITED
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        _INHERITED = worker if "fork" in methods else None
        try:
            for _ in range(jobs):
                mine, theirs = ctx.Pipe()
                proc = ctx.Process(  # type: ignore[attr-defined]
                    target=_serve, args=(theirs, spec), daemon=True)
                proc.start()
                theirs.close()
                self._conns.append(mine)
                self._procs.append(proc)
        finally:
            _INHERITED = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send_bytes(pickle.dumps(("stop", None)))
            except OSError:
                pass
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in self._conns:
            conn.close()

    def _send(self, i: int, kind: str, payload: Any) -> None:
        try:
            self._conns[i].send_bytes(
                pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            raise self._died(i) from None

    def _recv(self, i: int) -> Any:
        try:
            status, value = pickle.loads(self._conns[i].recv_bytes())
        except (EOFError, OSError):
            raise self._died(i) from None
        if status != "ok":
            raise ReplayError(f"replay worker {i + 1} failed:\n{value}")
        return value

    def _died(self, i: int) -> ReplayError:
        proc = self._procs[i]
        proc.join(timeout=1)
        code = proc.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit {code}"
        return ReplayError(f"replay worker {i + 1} died ({how})")

    # -- batches of one stream, round robin ----------------------------------

    def batches(self, stream: Iterable[Batch]) -> Iterator[tuple[str, Part]]:
        """(file, part) of each batch, in stream order."""
        jobs = len(self._conns)
        pending: deque[tuple[int, str]] = deque()  # (worker, file), oldest first
        turn = 0
        for batch in stream:
            if len(pending) >= _AHEAD * jobs:
                i, name = pending.popleft()
                yield name, self._recv(i)
            self._send(turn, "batch", batch)
            pending.append((turn, batch.file))
            turn = (turn + 1) % jobs
        while pending:
            i, name = pending.popleft()
            yield name, self._recv(i)

    # -- whole files, to whichever worker is free -------------------------------

    def files(self, paths: list[str],
              on_done: Callable[[str], None] | None = None) -> Iterator[tuple[str, list[Part]]]:
        """(path, parts) of each file, in the order of `paths`; each worker
        reads and decompresses the files it is given."""
        jobs = len(self._conns)
        done: dict[int, list[Part]] = {}
        busy: dict[int, int] = {}  # worker -> file index
        following = 0  # next file to hand out
        emitted = 0
        while emitted < len(paths):
            # keep every worker busy, but never run far ahead of the output
            for i in range(jobs):
                if i not in busy and following < len(paths) and following < emitted + 2 * jobs:
                    self._send(i, "file", paths[following])
                    busy[i] = following
                    following += 1
            ready = wait([self._conns[i] for i in busy])
            for i in list(busy):
                if self._conns[i] in ready:
                    done[busy.pop(i)] = self._recv(i)
            while emitted in done:
                if on_done is not None:
                    on_done(paths[emitted])
                yield paths[emitted], done.pop(emitted)
                emitted += 1
