"""The replay engine: read log files, offer the eligible records to a
policy in one or more worker processes, and add up what happened.

A log is read in bounded steps (`_reader`) and cut into pieces of whole
lines (`_scan`), each replayed as a batch; the lines that can be
TransientFailure or Bounce records are picked from their bytes without
parsing the others.  A `Worker` (one
`Policy`) decodes each candidate (`_decode`, or orjson and `_records` for
anything unusual) and calls the handler on a prepared path
(`Policy._rewrite_code`).  With several jobs the workers are processes
(`_parallel`), or Dask tasks (`_cluster`); results are taken in input
order (`Numbering` gives their lines the file's numbers), so `--out` is
the same whatever runs them.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

import orjson

from .._defaults import DEFAULT_BUDGET_SECONDS
from .._errors import PolicyError
from .._kumo.regex_set_map import LuaRegexSetMap, observe_lookups
from .._policy import Policy
from .._runtime import encode
from .._smtp import QueueName, Response
from .._text import is_utf8
from ._decode import decode
from ._parallel import Workers
from ._reader import MAX_LINE
from ._records import NotEligible, examine, quick
from ._report import Numbering, Part, Problem, Report
from ._scan import Batch, Piece, candidates, lines_of, may_note, pieces, too_long

__all__ = ["Problem", "Report", "ReplaySpec", "default_jobs", "replay"]

_EVENT = "smtp_client_rewrite_delivery_status"


#: input (bytes as stored) below which one job is the default: a second
#: process costs a fork and, for whole files, building the policy's maps
#: again, more than it saves on a small log
JOB_BYTES = 4 << 20
#: up to this many jobs the main process reads every file and spreads the
#: pieces; beyond, its decompression (about 2.5 GB/s on one core, against
#: about 130 MB/s of log a worker replays) could not keep them all busy,
#: and given as many files as jobs the workers take whole files
SPREAD_JOBS = 8


def cores() -> int:
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_jobs(paths: Sequence[str] = ()) -> int:
    """`--jobs` when not given: every core, but one job per JOB_BYTES of
    input at most (a small log is done before a second process would
    help).  Paths that are not local files count as large."""
    if not paths:
        return cores()
    total = sum(_file_size(p) if "://" not in p else JOB_BYTES for p in paths)
    return max(1, min(cores(), total // JOB_BYTES))


@dataclass(frozen=True)
class ReplaySpec:
    """How to load the policy (in every worker) and how to replay."""

    policy: str
    share_dir: str | None = None  # None: Policy's default (/opt/kumomta/share)
    path_map: tuple[tuple[str, str], ...] = ()
    kumod_strict: bool = False
    budget_seconds: float | None = DEFAULT_BUDGET_SECONDS
    package_dirs: tuple[str, ...] = ()
    #: reuse the result of an earlier identical call (response line and
    #: queue name): only right for handlers that are pure functions of
    #: their arguments
    cache: bool = False
    #: parse every line, not only those that can be eligible records
    check_json: bool = False
    #: the longest line (bytes) taken as a record; longer ones are malformed
    max_line: int = MAX_LINE

    def load(self) -> Policy:
        return Policy.load(
            self.policy,
            share_dir=self.share_dir,
            path_map=dict(self.path_map),
            kumod_strict=self.kumod_strict,
            budget_seconds=self.budget_seconds,
            package_dirs=self.package_dirs,
        )


# ---------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------

_CacheEntry = tuple[int | None, str | None, str | None]  # new code, error, pattern


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class Worker:
    """One process's replay: its Policy and how it processes a batch."""

    def __init__(self, spec: ReplaySpec, policy: Policy | None = None) -> None:
        self.spec = spec
        self.policy = policy if policy is not None else spec.load()
        self.cache: dict[tuple[str, QueueName], _CacheEntry] | None = (
            {} if spec.cache else None
        )
        self._hit: str | None = None
        #: the event's arguments 2-5 as Lua strings, by queue name
        self._args: dict[QueueName, tuple[bytes | None, ...]] = {}

    def _observe(self, m: LuaRegexSetMap, index: int | None, subject: bytes | str) -> None:
        if index is not None:
            self._hit = m.patterns[index]

    def _call(self, line: str, queue: QueueName) -> _CacheEntry:
        """What the handler makes of one response: (new code or None,
        error, deciding pattern)."""
        self._hit = None
        args = self._args.get(queue)
        if args is None:
            args = tuple(None if a is None else encode(a) for a in queue.rewrite_event_args())
            if len(self._args) < 10_000:
                self._args[queue] = args
        try:
            if line.isascii() or is_utf8(line):
                code = self.policy._rewrite_code(line.encode(), args)
            else:  # pragma: no cover - a JSON string is always UTF-8
                resp = Response.parse(line)
                result = self.policy._offer_response(resp, line, queue, True)
                code = result.code if result is not resp else None
        except PolicyError as e:
            return None, str(e), self._hit
        return code, None, self._hit

    def _offer_all(
        self, eligible: list[tuple[int, bytes, object, str, QueueName, str, int]]
    ) -> list[_CacheEntry] | None:
        """What the handler makes of every eligible record, the calls made
        BATCH at a time in one crossing into Lua (`Policy._rewrite_batch`);
        None when that path does not apply (the caller then calls once per
        record)."""
        lines: list[bytes] = []
        args_of: list[tuple[bytes | None, ...]] = []
        known = self._args
        for item in eligible:
            line, queue = item[3], item[4]
            if not line.isascii() and not is_utf8(line):  # pragma: no cover - JSON is UTF-8
                return None
            lines.append(line.encode())
            args = known.get(queue)
            if args is None:
                args = tuple(None if a is None else encode(a) for a in queue.rewrite_event_args())
                if len(known) < 10_000:
                    known[queue] = args
            args_of.append(args)
        hits: list[str | None] = [None] * len(lines)
        policy = self.policy

        def observe(m: LuaRegexSetMap, index: int | None, subject: bytes | str) -> None:
            # (the records run one at a time; those run in batches are
            # told by their hits below, which Lua keeps in order)
            state = policy.batch_state
            if index is not None and state is not None:
                hits[state.batch_at] = m.patterns[index]

        found: list[tuple[Any, int] | None] = [None] * len(lines)
        with observe_lookups(observe):
            results = policy._rewrite_batch(lines, args_of, found)
        if results is None:
            return None
        for at, hit in enumerate(found):
            if hit is not None:
                m, position = hit
                hits[at] = m.patterns[position - 1]
        return [(None, str(r), hits[at]) if isinstance(r, PolicyError) else (r, None, hits[at])
                for at, r in enumerate(results)]

    def run(self, batch: Batch) -> Part:
        part = batch.part
        part.file = batch.file
        loads = orjson.loads  # ~3x json.loads on log records; same errors class
        cache = self.cache
        found_lines = batch.candidates
        if found_lines is None:
            found_lines = candidates(batch, self.spec.check_json)
        call = self._call
        by_domain = part.by_domain
        by_rule = part.by_rule
        problems = part.problems
        fast_decode = None if self.spec.check_json else decode
        # Two passes over the batch: decode every candidate, then offer the
        # eligible ones to the policy one after the other (the handler's Lua
        # state and the rule set's automaton stay in the CPU's caches
        # instead of being pushed out by each record's JSON: ~20% faster).
        eligible: list[tuple[int, bytes, object, str, QueueName, str, int]] = []
        take = eligible.append
        not_offered = part.not_offered
        for number, raw in found_lines:
            fast = fast_decode(raw) if fast_decode is not None else None
            if fast.__class__ is str:  # (not offered, and why)
                not_offered[fast] += 1
                continue
            record = None
            if fast is None:
                try:
                    record = loads(raw)
                except ValueError as e:
                    part.malformed += 1
                    problems.append((number, "malformed", f"not JSON: {_json_error(e)}"))
                    continue
                fast = quick(record)
            if fast is not None:
                take((number, raw, record, *fast))
                continue
            try:
                found = examine(record)
            except NotEligible as e:
                part.not_offered[e.reason] += 1
                continue
            except (ValueError, TypeError) as e:
                part.malformed += 1
                problems.append((number, "malformed", f"not a log record: {e}"))
                continue
            if found.was_rewritten:
                part.restored += 1
            take((number, raw, record, found.line, found.queue, found.domain,
                  found.response.code))
        part.eligible += len(eligible)
        batched = self._offer_all(eligible) if cache is None else None
        with observe_lookups(self._observe):
            for at, (number, raw, record, line, queue, domain, code) in enumerate(eligible):
                if batched is not None:
                    entry = batched[at]
                elif cache is not None:
                    key = (line, queue)
                    cached = cache.get(key)
                    if cached is None:
                        cached = cache[key] = call(line, queue)
                    entry = cached
                else:
                    entry = call(line, queue)
                new, error, pattern = entry
                changed = new is not None and new != code
                row = by_domain.get(domain)
                if row is None:
                    row = by_domain[domain] = [0, 0]
                row[0] += 1
                if pattern is not None:
                    rule = by_rule.get(pattern)
                    if rule is None:
                        rule = by_rule[pattern] = [0, 0]
                    rule[0] += 1
                    if changed:
                        rule[1] += 1
                if error is not None:
                    part.errors += 1
                    part.unchanged += 1
                    problems.append((number, "error", f"{_EVENT} failed: {error}"))
                    continue
                if not changed:
                    part.unchanged += 1
                    continue
                assert new is not None
                part.rewritten += 1
                row[1] += 1
                # the rare case: rebuild the whole record's view for --out
                found = examine(loads(raw) if record is None else record)
                response = found.response
                part.by_code[f"{response.code} -> {new}"] += 1
                part.out.append({
                    "file": batch.file,
                    "line": number,
                    "id": found.id,
                    "domain": found.domain,
                    "queue": found.queue.format(),
                    "original": found.line,
                    "rewritten": response.with_code(new).to_single_line(),
                    "original_code": response.code,
                    "code": new,
                    "pattern": pattern,
                })
        problems.sort(key=lambda p: p[0])  # the reader's and ours, in line order
        return part

    def run_item(self, item: Piece | Part) -> Part:
        """The part of a piece, or the part the reader made itself."""
        return item if isinstance(item, Part) else self.run_piece(item)

    def run_piece(self, piece: Piece) -> Part:
        lines, noted = piece.lines()
        return self.run_lines(piece.file, lines, piece.size, noted, piece.begins)

    def run_data(self, file: str, data: bytes, begins: bool) -> Part:
        """A piece read by another process: its `data()`."""
        return self.run_lines(file, lines_of(data), len(data), may_note(data), begins)

    def run_lines(self, file: str, lines: list[bytes], size: int, noted: bool,
                  begins: bool) -> Part:
        """The part of a piece's lines (numbered from 1), one batch or,
        around lines longer than the maximum, several."""
        max_line = self.spec.max_line
        # (no line of a piece of at most max_line bytes can be longer)
        if size <= max_line or max(map(len, lines)) <= max_line:
            part = self.run(Batch(file, 1, lines, Part(), noted=noted))
        else:
            part = Part()

            def run(start: int, end: int) -> None:  # lines[start:end]
                if end > start:
                    part.merge(self.run(Batch(file, start + 1, lines[start:end], Part(),
                                              noted=noted)))

            start = 0
            for i, line in enumerate(lines):
                if len(line) > max_line:
                    run(start, i)
                    part.read += 1
                    part.malformed += 1
                    part.problems.append((i + 1, "malformed", too_long(len(line), max_line)))
                    start = i + 1
            run(start, len(lines))
            part.problems.sort(key=lambda p: p[0])
        part.file = file
        part.span = len(lines)
        part.begins = begins
        return part


def _json_error(e: ValueError) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"{e.msg} at column {e.colno}"
    return str(e)


def run_file(worker: Worker, path: str) -> list[Part]:
    """A whole log file (read and decompressed here too)."""
    return [worker.run_item(item) for item in pieces(path, max_line=worker.spec.max_line)]


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


def replay(
    spec: ReplaySpec,
    paths: Sequence[str],
    *,
    jobs: int = 1,
    out: IO[str] | None = None,
    on_problem: Callable[[Problem], None] | None = None,
    on_read: Callable[[int], None] | None = None,
    on_records: Callable[[int], None] | None = None,
    policy: Policy | None = None,
    cluster: str | None = None,
) -> Report:
    """Replay the log files `paths` through the policy of `spec`.

    `out` gets one JSON line per rewritten record, in input order;
    `on_problem` each malformed line and failed call, in input order;
    `on_read(n)` the bytes read from the files, `on_records(n)` the records
    processed (progress).  With `jobs` > 1 the records are processed by
    that many worker processes; `policy` (already loaded from `spec`) is
    used when `jobs` is 1.  With `cluster` (a Dask scheduler address)
    every file is a task on that cluster instead (`jobs` is ignored).
    Raises `ReplayError` when a worker or the cluster fails."""
    report = Report(files=len(paths), jobs=jobs, cache=spec.cache, cluster=cluster)
    started = time.perf_counter()

    numbering = Numbering()

    def take(part: Part) -> None:
        numbering.place(part)
        report.add(part)
        if out is not None and part.out:
            out.write("".join(json.dumps(record, ensure_ascii=False) + "\n"
                              for record in part.out))
        if on_problem is not None:
            for line, kind, message in part.problems:
                on_problem(Problem(part.file, line, kind, message))
        if on_records is not None:
            on_records(part.read)

    if cluster is not None:
        from ._cluster import replay_files_on_cluster

        done = (lambda path: on_read(_file_size(path))) if on_read is not None else None
        report.jobs = replay_files_on_cluster(spec, paths, cluster, take, done)
        report.seconds = time.perf_counter() - started
        return report
    worker = Worker(spec, policy)
    here = worker.run_item
    if jobs <= 1:
        for path in paths:
            for item in pieces(path, max_line=spec.max_line, on_read=on_read):
                take(here(item))
    elif len(paths) >= jobs > SPREAD_JOBS:
        # Many cores, several segments (kumod writes many): each process
        # takes whole files, reading and decompressing them itself, so
        # nothing but the results crosses between processes and no one
        # process has to decompress for all; this one is one of the jobs.
        # Its first piece runs before the workers are forked, so that they
        # start from the maps its memoized loaders built.  Results are
        # taken in file order, so the output is the same as with one job.
        def whole(path: str) -> Iterator[Part]:
            return map(here, pieces(path, max_line=spec.max_line))

        done = (lambda path: on_read(_file_size(path))) if on_read is not None else None
        rest = whole(paths[0])
        first_part = next(rest, None)
        with Workers(worker, spec, jobs - 1) as pool:
            chained = itertools.chain([] if first_part is None else [first_part], rest)
            for _, parts in pool.files(list(paths), whole, chained, done):
                for part in parts:
                    take(part)
    else:
        # Up to SPREAD_JOBS jobs, or fewer files than jobs (one large file,
        # say): this process reads and decompresses every file (no
        # process does it again, and no worker waits for the last file
        # of another at the end) and hands each piece, not yet cut into
        # lines, to a worker with room in its queue (through shared
        # memory), replaying it here when none has; results are taken in
        # input order.  Its first piece runs before the workers are
        # forked: they start from its policy, the memoized maps already
        # built (as a kumod process that has been running).
        items = (item for path in paths
                 for item in pieces(path, max_line=spec.max_line, on_read=on_read))
        first = next(items, None)
        if first is not None:
            take(here(first))
            with Workers(worker, spec, jobs - 1, pieces=True) as pool:
                for part in pool.spread(items, here):
                    take(part)
    report.seconds = time.perf_counter() - started
    return report
