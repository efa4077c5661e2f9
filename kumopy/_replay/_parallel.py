"""Worker processes for `kumopy replay --jobs N`.

Each worker is a process with its own `Policy` (Lua states cannot cross
processes), fed through its own pipe: no pool threads in the parent, whose
own share of the work then does not fight them for the GIL.  Workers take
whole files (`files`) or, with fewer files than jobs, every N-th batch of
a stream each process reads itself (`shared`).  Forked workers start from
the parent's policy (maps a memoized loader built are not compiled again,
as in a kumod process that has been running); spawned ones (no fork on
the platform) load it from the spec.

Results come back in task order, so the output never depends on the number
of jobs.  A worker that dies (killed, out of memory) is reported as a
`ReplayError` naming it, never a hang.
"""

from __future__ import annotations

import multiprocessing
import pickle
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from ._report import Part

if TYPE_CHECKING:
    from ._engine import ReplaySpec, Worker

__all__ = ["ReplayError", "Workers"]

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
        if kind == "share":
            _serve_share(conn, worker, *payload)
            continue
        try:
            result: Any = run_file(worker, payload)
            reply = pickle.dumps(("ok", result), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as e:  # reported to the parent, which stops the run
            reply = pickle.dumps(("error", "".join(traceback.format_exception(e))))
        conn.send_bytes(reply)


def _serve_share(conn: Connection, worker: Worker, paths: list[str], index: int, of: int) -> None:
    """Replay this worker's share of the batches of `paths`, sending each
    part as it is done (the pipe's buffer holds the worker back when the
    parent falls behind), then ("end", None)."""
    from ._engine import shared_parts

    try:
        for part in shared_parts(worker, paths, index, of):
            conn.send_bytes(pickle.dumps(("part", part), protocol=pickle.HIGHEST_PROTOCOL))
        reply = pickle.dumps(("end", None))
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
        self._sharing = False
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
        if self._sharing:
            # (a run given up while workers stream their shares: they
            # read no more messages, and their results are not wanted)
            for proc in self._procs:
                proc.kill()
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

    # -- one stream, read by every process, batches shared round-robin ---------

    def shared(self, paths: list[str], mine: Iterator[Part]) -> Iterator[Part]:
        """The parts of every batch of `paths`, in order, this process
        taking batches 0, N, 2N... (`mine`, its share: N is the workers
        plus one) and worker i batches i, N + i, ...: each process reads
        and decompresses the files itself, and only the parts (counts and
        rewritten records) cross the pipes."""
        jobs = len(self._conns) + 1
        for i in range(jobs - 1):
            self._send(i, "share", (paths, i + 1, jobs))
        ended = [False] * (jobs - 1)
        k = 0
        self._sharing = True  # (until every worker has ended: see close)
        while True:
            owner = k % jobs
            part: Part | None
            if owner == 0:
                part = next(mine, None)
            else:
                status, value = self._recv_raw(owner - 1)
                if status == "end":
                    ended[owner - 1] = True
                part = value if status == "part" else None
            if part is None:
                break  # (batch k does not exist: nor does any after it)
            yield part
            k += 1
        for i in range(jobs - 1):  # the others' end
            while not ended[i]:
                status, _ = self._recv_raw(i)
                ended[i] = status == "end"
        self._sharing = False

    def _recv_raw(self, i: int) -> tuple[str, Any]:
        try:
            status, value = pickle.loads(self._conns[i].recv_bytes())
        except (EOFError, OSError):
            raise self._died(i) from None
        if status == "error":
            raise ReplayError(f"replay worker {i + 1} failed:\n{value}")
        return status, value

    # -- whole files, to whichever process is free ------------------------------

    def files(
        self,
        paths: list[str],
        here: Callable[[str], Iterator[Part]],
        started: Iterator[Part] | None = None,
        on_done: Callable[[str], None] | None = None,
    ) -> Iterator[tuple[str, list[Part]]]:
        """(path, parts) of each file, in the order of `paths`.  Workers
        get whole files (they read and decompress them); this process
        takes files too, a batch at a time through `here(path)` (its
        parts, one per batch), between which it collects the workers'
        results.  `started`, when given, is the rest of `here(paths[0])`,
        whose first batch already ran: the first file stays here."""
        workers = len(self._conns)
        total = len(paths)
        done: dict[int, list[Part]] = {}
        busy: dict[int, int] = {}  # worker -> file index
        following = 0  # next file to hand out
        emitted = 0
        mine: tuple[int, Iterator[Part], list[Part]] | None = None
        if started is not None and total:
            mine = (0, started, [])
            following = 1
        ahead = 2 * (workers + 1)  # files handed out beyond the output
        while emitted < total:
            for i in range(workers):  # keep every worker busy
                if i not in busy and following < total and following < emitted + ahead:
                    self._send(i, "file", paths[following])
                    busy[i] = following
                    following += 1
            if mine is None and following < total and following < emitted + ahead:
                mine = (following, here(paths[following]), [])
                following += 1
            if mine is not None:
                index, parts, got = mine
                part = next(parts, None)
                if part is None:
                    done[index] = got
                    mine = None
                else:
                    got.append(part)
                ready = wait([self._conns[i] for i in busy], timeout=0) if busy else []
            else:
                ready = wait([self._conns[i] for i in busy]) if busy else []
            for i in list(busy):
                if self._conns[i] in ready:
                    done[busy.pop(i)] = self._recv(i)
            while emitted in done:
                if on_done is not None:
                    on_done(paths[emitted])
                yield paths[emitted], done.pop(emitted)
                emitted += 1
