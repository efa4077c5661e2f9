"""Worker processes for `kumopy replay --jobs N`.

Each worker is a process with its own `Policy` (Lua states cannot cross
processes), fed through its own pipe: no pool threads in the parent, whose
own share of the work then does not fight them for the GIL.  Workers take
whole files (`files`, many cores and many files) or the pieces the
parent reads (`spread`, see `_engine.SPREAD_JOBS`): their bytes go through shared memory, a few
slots per worker, and only a slot's place through the pipe, so that
handing a piece over never waits for the worker.  Forked workers start
from the parent's policy (maps a memoized loader built are not compiled
again, as in a kumod process that has been running); spawned ones (no
fork on the platform) load it from the spec, and get pieces through the
pipe.

Results come back in task order, so the output never depends on the number
of jobs.  A worker that dies (killed, out of memory) is reported as a
`ReplayError` naming it, never a hang.
"""

from __future__ import annotations

import mmap
import multiprocessing
import pickle
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from .._regex._shared import Answers
from .._regex.setmap import share_answers
from ._report import Part
from ._scan import Piece

if TYPE_CHECKING:
    from ._engine import ReplaySpec, Worker

__all__ = ["ReplayError", "Workers"]


class ReplayError(Exception):
    """The replay itself failed (a worker process died or broke)."""


_INHERITED: Any = None  # the parent's Worker, seen by forked children
_SLOTS: mmap.mmap | None = None  # the shared slots, seen by forked children
_ANSWERS: Answers | None = None  # the shared regex answers, seen by forked children

#: bytes of a slot of shared memory: a piece is a step of reading (1 MiB)
#: and the start of a line carried into it; a larger one goes through the
#: pipe
SLOT = 2 << 20
#: pieces handed to a worker and not yet done (the one it runs, the ones
#: that wait): its slots
DEPTH = 3
#: parts done and waiting for an earlier one (a worker stuck on a slow
#: piece) before this process stops taking more pieces itself
AHEAD = 64


def _serve(conn: Connection, spec: ReplaySpec, index: int) -> None:
    from ._engine import Worker, run_file

    worker = _INHERITED if _INHERITED is not None else Worker(spec)
    slots = _SLOTS
    if _ANSWERS is not None:  # (forked: region 0 is the parent's)
        _ANSWERS.use(index + 1)
        share_answers(_ANSWERS)
    while True:
        try:
            message = conn.recv_bytes()
        except (EOFError, OSError):
            return
        kind, payload = pickle.loads(message)
        if kind == "stop":
            return
        try:
            result: Any
            if kind == "piece":  # (file, begins, slot's offset, size) or (..., bytes)
                file, begins, where, size = payload
                # (slots: only a forked worker is sent a slot's place)
                data = where if size < 0 or slots is None else slots[where:where + size]
                result = worker.run_data(file, data, begins)
            else:
                result = run_file(worker, payload)
            reply = pickle.dumps(("ok", result), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as e:  # reported to the parent, which stops the run
            reply = pickle.dumps(("error", "".join(traceback.format_exception(e))))
        conn.send_bytes(reply)


class Workers:
    """`jobs` worker processes started from `worker` (the parent's)."""

    def __init__(self, worker: Worker, spec: ReplaySpec, jobs: int, *,
                 pieces: bool = False) -> None:
        """With `pieces`, the workers get shared slots for `spread`."""
        global _INHERITED, _SLOTS, _ANSWERS
        methods = multiprocessing.get_all_start_methods()
        forks = "fork" in methods
        ctx = multiprocessing.get_context("fork" if forks else "spawn")
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        self._slots = mmap.mmap(-1, jobs * DEPTH * SLOT) if pieces and forks else None
        # (what one process learns of the policy's regex_set_maps, the
        # others need not learn again)
        self._answers = Answers(jobs + 1) if forks else None
        _INHERITED = worker if forks else None
        _SLOTS = self._slots
        _ANSWERS = self._answers
        try:
            for index in range(jobs):
                mine, theirs = ctx.Pipe()
                proc = ctx.Process(  # type: ignore[attr-defined]
                    target=_serve, args=(theirs, spec, index), daemon=True)
                proc.start()
                theirs.close()
                self._conns.append(mine)
                self._procs.append(proc)
        finally:
            _INHERITED = _SLOTS = _ANSWERS = None
        if self._answers is not None:
            self._answers.use(0)
            share_answers(self._answers)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        self.close(abandon=kind is not None)

    def close(self, abandon: bool = False) -> None:
        """Stop the workers; `abandon`: the run was given up, their work
        is not wanted (one may be stuck sending a part nobody reads)."""
        if abandon:
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
        if self._slots is not None:
            self._slots.close()
        if self._answers is not None:
            share_answers(None)
            self._answers.close()

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

    # -- the pieces this process reads, to whichever worker has room ----------

    def spread(self, items: Iterator[Piece | Part],
               here: Callable[[Piece | Part], Part]) -> Iterator[Part]:
        """The part of every item, in order.  Each piece goes to the worker
        with the fewest pieces in hand, when it has fewer than DEPTH, and
        is otherwise replayed here (`here`, which also takes the parts the
        reader made itself); this process collects what the workers have
        done between its own pieces."""
        workers = len(self._conns)
        held: list[deque[tuple[int, int]]] = [deque() for _ in range(workers)]  # seq, slot
        free = [list(range(DEPTH)) for _ in range(workers)]
        done: dict[int, Part] = {}
        seq = emitted = 0

        def ready() -> Iterator[Part]:  # the parts due next, in order
            nonlocal emitted
            while emitted in done:
                yield done.pop(emitted)
                emitted += 1

        for item in items:
            self._collect(held, free, done, block=len(done) >= AHEAD)
            yield from ready()
            i = min(range(workers), key=lambda w: len(held[w]))
            # (a piece that goes through the pipe goes to a worker that is
            # waiting for one: one sending a large part meanwhile could
            # not read it, and this process, stuck sending, not read the
            # part)
            if isinstance(item, Piece) and len(held[i]) < (
                    DEPTH if self._fits(item) else 1):
                slot = free[i].pop()
                self._give(i, slot, item)
                held[i].append((seq, slot))
            else:
                done[seq] = here(item)
            seq += 1
            yield from ready()
        while emitted < seq:
            self._collect(held, free, done, block=True)
            yield from ready()

    def _fits(self, piece: Piece) -> bool:
        return self._slots is not None and piece.size <= SLOT

    def _give(self, i: int, slot: int, piece: Piece) -> None:
        """Piece to worker i, through its `slot` when it fits."""
        slots = self._slots
        if slots is not None and self._fits(piece):
            at = start = (i * DEPTH + slot) * SLOT
            for chunk in piece.chunks():
                end = at + len(chunk)
                slots[at:end] = chunk
                at = end
            self._send(i, "piece", (piece.file, piece.begins, start, piece.size))
        else:
            self._send(i, "piece", (piece.file, piece.begins, piece.data(), -1))

    def _collect(self, held: list[deque[tuple[int, int]]], free: list[list[int]],
                 done: dict[int, Part], *, block: bool) -> None:
        """The parts the workers have done (waiting for one if `block`)."""
        busy = [self._conns[i] for i in range(len(held)) if held[i]]
        if not busy:
            return
        ready = wait(busy, timeout=None if block else 0)
        for i, conn in enumerate(self._conns):
            if conn not in ready:
                continue
            while True:  # (every part it has sent: a worker may be ahead)
                seq, slot = held[i].popleft()
                done[seq] = self._recv(i)
                free[i].append(slot)
                if not held[i] or not conn.poll():
                    break

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
